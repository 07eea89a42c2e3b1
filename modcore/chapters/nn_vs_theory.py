"""The Fig. 2 chapter (notebook ``nn_vs_theory``): monolithic networks against Theorem 1 on the
sine-wave task, swept over k, m, p and n as the paper's Fig. 2 caption describes
(:class:`modcore.runs.sine_fig2.Fig2Design`), and the authors' sentences about it judged by rules
fixed before the numbers. Diverged runs are left out of lines, means and verdicts, and counted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from modcore import paper_values, scorecard, stats, verdicts
from modcore.parameters import (DEVICE, NONEMPTY, POSITIVE, SEED, ChapterParameters, at_least, each, param)
from modcore.plots import sine as sine_plots
from modcore.runs.sine_fig2 import (PANELS, SPIKE_MIN_RATIO, SPIKE_WINDOW, THRESHOLD_PANELS, Fig2Design, all_runs,
                                    fig2_lines, fig2_means, figure_panels, heldout_errors, run_fig2, spike)
from modcore.runs.sine_fig2 import run_table  # noqa: F401 (the notebook calls it as nn_vs_theory.run_table)
from modcore.runs.sine_networks import (DEFAULT_N_STEPS, DIVERGED_VARIANCE_FACTOR, FIT_MAX_P_OVER_N, TheoryFit,
                                        healthy, log_error)
from modcore.runs.sine_networks import calibrated_theory  # noqa: F401 (the notebook's one Theorem-1 fit)
from modcore.store import resolve_store

POSITIVE_INTEGERS = (NONEMPTY, each(at_least(1)))


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults; tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)                 # first seed; runs use seed, seed + 1, ...
    n_seeds: int = param(1, at_least(1))       # seeds (task, data and init) per setting
    n_modules_values: list[int] = param([2, 3, 5, 7, 9], *POSITIVE_INTEGERS)  # k panel (paper: 2..9)
    input_dim_values: list[int] = param([2, 3, 5, 7, 9], *POSITIVE_INTEGERS)  # m panel (paper: 2..9)
    n_params_values: list[int] = param([100, 240, 400, 600, 900, 1200, 1600, 2200, 3200, 10000],
                                       *POSITIVE_INTEGERS)  # p panel; 6 in [n/3, 3n]
    n_train_values: list[int] = param([100, 200, 400, 600, 900, 1200, 1600, 2400, 3400, 10000],
                                      *POSITIVE_INTEGERS)   # n panel; 7 in [p/3, 3p]
    line_n_params_values: list[int] = param([300, 3000], *POSITIVE_INTEGERS)  # light lines of the k and m panels
    line_input_dim_values: list[int] = param([5, 7, 9], *POSITIVE_INTEGERS)   # m of the p and n panels' lines
    average_n_modules_values: list[int] = param([3, 6], *POSITIVE_INTEGERS)   # k of the m, p and n panels' lines
    average_input_dim_values: list[int] = param([5, 9], *POSITIVE_INTEGERS)   # m of the k panel's lines
    n_train: int = param(1000, at_least(1))    # n outside the n panel (paper: 1000 in the p panel)
    n_params: int = param(1153, at_least(1))   # p of the n panel (paper: 1153)
    n_steps: int = param(0, at_least(0))       # full-batch Adam steps; 0: the calibrated budget
    lr: float = param(0.003, POSITIVE)         # Adam learning rate (the paper does not say)
    n_test: int = param(4000, at_least(1))     # test points per run
    device: str = param("auto", *DEVICE)
    results_dir: str | None = param(None)      # None: results/nn_vs_theory

    def design(self) -> Fig2Design:
        return Fig2Design(n_modules_values=self.n_modules_values, input_dim_values=self.input_dim_values,
                          n_params_values=self.n_params_values, n_train_values=self.n_train_values,
                          line_n_params_values=self.line_n_params_values,
                          line_input_dim_values=self.line_input_dim_values,
                          average_n_modules_values=self.average_n_modules_values,
                          average_input_dim_values=self.average_input_dim_values, n_train=self.n_train,
                          n_params=self.n_params, n_seeds=self.n_seeds, seed=self.seed)


def cost_estimate(p: Parameters) -> str:
    """How many runs the sweeps train and roughly how long they take on 2 cores."""
    design = p.design()
    seconds = design.estimated_seconds(p.n_steps or DEFAULT_N_STEPS)
    return (f"{sum(map(len, design.runs().values()))} runs; estimated {seconds / 60:.1f} min ({seconds:.0f} s) "
            "of training on 2 cores")


def run_sweeps(p: Parameters) -> dict[str, pd.DataFrame]:
    """Train (or read back from the results store) the four panels: ``{panel: runs}``."""
    store = resolve_store(p.results_dir, "nn_vs_theory")
    return run_fig2(p.design(), store, device=p.device, n_steps=p.n_steps or None, lr=p.lr, n_test=p.n_test)


def paper_fig2() -> pd.DataFrame:
    """The paper's digitised Fig. 2 (``modcore/data/fig2_digitised.csv``)."""
    return paper_values.load_csv("fig2_digitised")


def panels(frames: Mapping[str, pd.DataFrame], fit: TheoryFit, paper: pd.DataFrame) -> dict[str, dict]:
    """Per panel: light lines, thick line, Theorem 1 and the paper's points
    (:func:`modcore.runs.sine_fig2.figure_panels`)."""
    return figure_panels(frames, fit, paper)


def figure(panels: Mapping[str, dict], loss: str):
    """Fig. 2 with our runs, Theorem 1 and the paper's points; ``loss`` "test" or "train"."""
    return sine_plots.fig2(panels, loss=loss)


def theory_words(p: Parameters, fit: TheoryFit, frames: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Theorem 1's constants as the chapter quotes them (glue names without ``fig2_``), and how well
    the calibrated fit describes this chapter's underparameterised runs."""
    return {"omega": fit.omega, "omega_low": fit.omega_low, "omega_high": fit.omega_high,
            "c_low": fit.spectrum_scale(min(p.input_dim_values)),
            "c_high": fit.spectrum_scale(max(p.input_dim_values)),
            "noise_variance": fit.label_noise ** 2, "check_error": log_error(fit, all_runs(frames))}


def paper_errors(panels: Mapping[str, dict], paper: pd.DataFrame) -> dict[str, float]:
    """Per panel: rms log error of our thick line against the paper's (see
    :func:`modcore.runs.sine_fig2.heldout_errors`)."""
    return heldout_errors({panel: data["means"] for panel, data in panels.items()}, paper)


# --- the authors' sentences, judged by rules fixed before the numbers ------------------------------

# The paper states its Fig. 2 claims in words only (project page: "the loss does not change with
# the number of modules k; it grows sublinearly with m; there is double descent in p and n"). Our rules:
FLAT_MAX_CHANGE = 0.25  # flat in k: a straight line through the thick line changes by < 25% over the k range
RISING_MIN_RATIO = 1.25  # rising in m: test loss at the largest m >= 1.25 x that at the smallest
SUBLINEAR_MAX_EXPONENT = 1.0  # sublinear: log-log slope of test loss against m below 1
# Each statistic gets a bootstrap interval over the light lines (resampled with replacement); a
# rule decides only when the whole interval lies on one side of its bound, else "inconclusive".
VERDICT_RESAMPLES = 500
VERDICT_LEVEL = 0.9
# Too few healthy runs: a panel is judged only if at least verdicts.MIN_HEALTHY_FRACTION of its runs are healthy and
# every x keeps at least MIN_LINES light lines; a panel none of whose runs is healthy is "not testable".
MIN_LINES = 2
CLAIMS = ("flat_in_k", "rising_sublinearly_in_m", "spike_in_p", "spike_in_n")
CLAIM_PANEL = dict(zip(CLAIMS, PANELS))
# "Flat in k" holds by construction: the task divides the sum of its k modules by sqrt(k), so the
# target's variance (the loss of predicting zero) is the same at every k, and Theorem 1 has no k at
# all. The rule below still measures our networks' change over k, but its word is never counted as
# agreement. (A clause "the spike is smaller than Theorem 1's" was dropped for the same reason: the
# theory diverges inside the grid, so any finite spike passes it.)
BY_CONSTRUCTION = {"flat_in_k": "the task normalises its sum of k modules by 1/sqrt(k), so the target's variance "
                                "(the loss of predicting zero) does not depend on k, and Theorem 1 has no k"}
RULES = {
    "flat_in_k": f"agree if the change over the k range is below {FLAT_MAX_CHANGE:.0%} of the mean test loss",
    "rising_sublinearly_in_m": (f"agree if test loss at the largest m is >= {RISING_MIN_RATIO} x that at the smallest "
                                f"and the log-log slope in m is < {SUBLINEAR_MAX_EXPONENT:g}; disagree if the ratio "
                                f"is below {RISING_MIN_RATIO} or the slope at least {SUBLINEAR_MAX_EXPONENT:g}"),
    "spike_in_p": (f"agree if the peak within a factor {SPIKE_WINDOW:g} of p = n is >= {SPIKE_MIN_RATIO} x the lowest "
                   "loss on each side; disagree if below"),
    "spike_in_n": (f"agree if the peak within a factor {SPIKE_WINDOW:g} of n = p is >= {SPIKE_MIN_RATIO} x the lowest "
                   "loss on each side; disagree if below"),
}


def relative_change(x, loss) -> float:
    """Change of a least-squares line through (x, loss) over the x range, relative to the mean
    loss (signed)."""
    x, loss = np.asarray(x, float), np.asarray(loss, float)
    slope = np.polyfit(x, loss, 1)[0]
    return float(slope * (x.max() - x.min()) / loss.mean())


def loglog_slope(x, loss) -> float:
    """Slope of log loss against log x (1: linear growth)."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(loss, float)), 1)[0])


def claim_statistics(claim: str, curve: pd.DataFrame, threshold: float | None = None) -> dict[str, float]:
    """The numbers a claim's rule reads, from one curve (columns x_value, test_mse)."""
    curve = curve.sort_values("x_value")
    return _statistics(claim, curve.x_value.to_numpy(float), curve.test_mse.to_numpy(float), threshold)


def _statistics(claim: str, x: np.ndarray, test: np.ndarray, threshold: float | None) -> dict[str, float]:
    """:func:`claim_statistics` on arrays sorted by x (NaN where fewer than 2 points)."""
    if claim == "flat_in_k":
        return {"change": abs(relative_change(x, test)) if len(x) >= 2 else math.nan}
    if claim == "rising_sublinearly_in_m":
        if len(x) < 2:
            return {"ratio": math.nan, "exponent": math.nan}
        return {"ratio": float(test[-1] / test[0]), "exponent": loglog_slope(x, test)}
    rise, fall = spike(x, test, threshold)
    return {"spike": min(rise, fall), "rise": rise}


def _interval(claim: str, lines: pd.DataFrame, threshold: float | None, seed: int) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals of the claim's statistics, resampling light lines with replacement."""
    test = lines.pivot(index="line", columns="x", values="test_mse")
    x_value = lines.groupby("x").x_value.mean().reindex(test.columns).to_numpy()
    order = np.argsort(x_value)
    x_value, test = x_value[order], test.to_numpy()[:, order]

    def statistics(rows: np.ndarray) -> dict[str, float]:
        with warnings.catch_warnings():  # an x where every drawn line diverged gives NaN: dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            curve_test = np.nanmean(test[rows], axis=0)
        keep = np.isfinite(curve_test)
        return _statistics(claim, x_value[keep], curve_test[keep], threshold)

    return stats.bootstrap_percentile_intervals(len(test), statistics, n_resamples=VERDICT_RESAMPLES,
                                                level=VERDICT_LEVEL, seed=seed)


def decide(claim: str, interval: Mapping[str, tuple[float, float]]) -> str:
    """The rule of ``claim`` applied to the intervals of its statistics (a point value is the
    interval (v, v))."""
    if claim == "flat_in_k":
        low, high = interval["change"]
        return "agree" if high < FLAT_MAX_CHANGE else "disagree" if low >= FLAT_MAX_CHANGE else "inconclusive"
    if claim == "rising_sublinearly_in_m":
        (ratio_low, ratio_high), (exp_low, exp_high) = interval["ratio"], interval["exponent"]
        if ratio_high < RISING_MIN_RATIO or exp_low >= SUBLINEAR_MAX_EXPONENT:
            return "disagree"
        if ratio_low >= RISING_MIN_RATIO and exp_high < SUBLINEAR_MAX_EXPONENT:
            return "agree"
        return "inconclusive"
    (spike_low, spike_high) = interval["spike"]
    if not np.isfinite(spike_low) or not np.isfinite(spike_high):
        return "inconclusive"
    # "neither shows it" is no agreement: the paper claims a spike, so no spike is a disagreement
    if spike_high < SPIKE_MIN_RATIO:
        return "disagree"
    return "agree" if spike_low >= SPIKE_MIN_RATIO else "inconclusive"


def decide_curve(claim: str, curve: pd.DataFrame, threshold: float | None = None) -> str:
    """The rule of ``claim`` on one curve without an interval (the paper's digitised thick line):
    its statistics as points."""
    numbers = claim_statistics(claim, curve, threshold)
    return decide(claim, {key: (value, value) for key, value in numbers.items()})


def judge_claims(frames: Mapping[str, pd.DataFrame], fit: TheoryFit, design: Fig2Design, paper: pd.DataFrame, *,
                 seed: int = 0) -> pd.DataFrame:
    """One row per claim: ``rule_word`` (the rule on our runs: agree / disagree / inconclusive, or
    not testable when every run of the panel diverged), ``verdict`` (the rule's word, or "holds by
    construction" for the claims in BY_CONSTRUCTION), the deciding numbers (ours, with bootstrap
    intervals over light lines), the same numbers and the rule's word on the paper's digitised
    thick line (``paper_word``), whether that line contradicts the paper's own sentence
    (``figure_contradicts_words``) and then ``against_data`` (our word against the paper line's), the
    health of the panel's runs and the rule."""
    paper_curves = paper_fig2_curves(paper)
    rows = {}
    for claim in CLAIMS:
        panel = CLAIM_PANEL[claim]
        threshold = design.threshold(panel) if panel in THRESHOLD_PANELS else None
        frame = frames[panel]
        n_healthy, n_runs = len(healthy(frame)), len(frame)
        healthy_fraction = n_healthy / n_runs if n_runs else 0.0
        lines = fig2_lines(panel, frame, fit).dropna(subset=["test_mse"])
        means = fig2_means(lines)
        enough = healthy_fraction >= verdicts.MIN_HEALTHY_FRACTION and len(means) >= 3 and means.n_lines.min() >= MIN_LINES
        ours = claim_statistics(claim, means, threshold)
        interval = _interval(claim, lines, threshold, seed) if enough else {}
        rule_word = decide(claim, interval) if enough else "not testable" if n_healthy == 0 else "inconclusive"
        paper_threshold = {"n_params": PAPER_N_TRAIN, "n_train": PAPER_N_PARAMS}.get(panel)
        theirs = claim_statistics(claim, paper_curves[panel], paper_threshold)
        paper_word = decide_curve(claim, paper_curves[panel], paper_threshold)
        rows[claim] = {"verdict": scorecard.BY_CONSTRUCTION if claim in BY_CONSTRUCTION else rule_word,
                       "rule_word": rule_word, "paper_word": paper_word,
                       "figure_contradicts_words": paper_word == "disagree",
                       "against_data": scorecard.against_data_verdict(rule_word, paper_word),
                       "ours": ", ".join(f"{k} {v:.2f}" + (f" [{interval[k][0]:.2f}, {interval[k][1]:.2f}]"
                                                            if k in interval else "") for k, v in ours.items()),
                       "paper": ", ".join(f"{k} {v:.2f}" for k, v in theirs.items()),
                       "healthy_runs": f"{healthy_fraction:.0%}", "n_diverged": n_runs - n_healthy, "n_runs": n_runs,
                       "rule": RULES[claim],
                       **{f"ours_{k}": v for k, v in ours.items()}, **{f"paper_{k}": v for k, v in theirs.items()}}
    return pd.DataFrame(rows).T


# the values the paper's Fig. 2 caption holds fixed in its p and n panels
PAPER_N_TRAIN = paper_values.FIG2_N_TRAIN
PAPER_N_PARAMS = paper_values.FIG2_N_PARAMS


def paper_fig2_curves(paper: pd.DataFrame, quantity: str = "test_network") -> dict[str, pd.DataFrame]:
    """The paper's digitised thick lines (``modcore/data/fig2_digitised.csv``) as curves with
    columns x_value, test_mse."""
    rows = paper[paper.quantity == quantity]
    return {panel: rows[rows.panel == panel].rename(columns={"x": "x_value", "value": "test_mse"})
            for panel in PANELS}


def rule_words() -> dict[str, float | int | str]:
    """The rules' texts and thresholds as the prose quotes them (glue names without ``fig2_``), from
    the constants the verdicts use, so that changing a threshold changes the page."""
    return {**{f"{claim}_rule": rule for claim, rule in RULES.items()},
            "verdict_level": VERDICT_LEVEL, "min_healthy_fraction": verdicts.MIN_HEALTHY_FRACTION, "min_lines": MIN_LINES,
            "diverged_variance_factor": DIVERGED_VARIANCE_FACTOR, "fit_max_p_over_n": FIT_MAX_P_OVER_N}


def verdict_words(claims: pd.DataFrame) -> dict[str, str]:
    """Glue-ready words: each claim's verdict, the rule's word on our runs and on the paper's curve,
    the deciding numbers, the runs' health, and the tally of verdicts."""
    words = {}
    for claim, row in claims.iterrows():
        words[f"{claim}_verdict"] = row.verdict
        words[f"{claim}_rule_word"] = row.rule_word
        words[f"{claim}_paper_word"] = row.paper_word
        words[f"{claim}_ours"] = row.ours
        words[f"{claim}_paper"] = row.paper
        words[f"{claim}_healthy"] = f"{row.healthy_runs} ({row.n_diverged} of {row.n_runs} diverged)"
    counts = claims.verdict.value_counts()
    words["tally"] = ", ".join(f"{counts[v]} {v}" for v in scorecard.VERDICTS if v in counts)
    return words


SCORECARD_IDS = {"flat_in_k": "fig2_flat_in_k", "rising_sublinearly_in_m": "fig2_sublinear_in_m",
                 "spike_in_p": "fig2_double_descent_in_p", "spike_in_n": "fig2_double_descent_in_n"}
SYMBOL = {"flat_in_k": "k", "rising_sublinearly_in_m": "m", "spike_in_p": "p", "spike_in_n": "n"}


def claims(judged: pd.DataFrame, design: Fig2Design) -> dict[str, scorecard.Record]:
    """Scorecard records of the four Fig. 2 claims, from :func:`judge_claims`. A claim the
    paper's own curve contradicts (by the same rule) gets two parts: our runs against the paper's
    curve, and against its words."""
    seeds = list(range(design.seed, design.seed + design.n_seeds))
    records = {}
    for claim, row in judged.iterrows():
        claim_id = SCORECARD_IDS[claim]
        health = f"healthy runs {row.healthy_runs}, {row.n_diverged} of {row.n_runs} diverged"
        if row.rule_word == "not testable":
            why = f"every run of the {SYMBOL[claim]} panel diverged ({row.n_diverged} of {row.n_runs})"
        else:
            why = f"ours: {row.ours}; the paper's curve: {row.paper}"
        rule = RULES[claim]
        if claim in BY_CONSTRUCTION:
            rule = f"holds by construction ({BY_CONSTRUCTION[claim]}); measured anyway: {rule} (ours: {row.rule_word})"
        parts = []
        if row.figure_contradicts_words and claim not in BY_CONSTRUCTION:
            parts = [scorecard.part(scorecard.AGAINST_DATA, row.against_data,
                                    f"the same rule gives our runs '{row.rule_word}' and the paper's digitised "
                                    f"curve '{row.paper_word}' ({row.paper})"),
                     scorecard.part(scorecard.AGAINST_WORDS, row.verdict,
                                    f"the paper's sentence claims it; our runs: {row.ours}")]
        records[claim_id] = scorecard.record(claim_id, ours=f"{row.ours} ({health})", why=why, seeds=seeds,
                                             verdict=row.verdict, rule=rule, parts=parts)
    return records


def summary(theory: Mapping[str, float], errors: Mapping[str, float], judged: pd.DataFrame) -> dict:
    """Every number and word the chapter's text quotes, keyed by glue name: Theorem 1's constants
    (:func:`theory_words`), the rms log error per panel (:func:`paper_errors`) and the verdicts
    (:func:`verdict_words`) and the rules they follow (:func:`rule_words`)."""
    return {**{f"fig2_{name}": value for name, value in theory.items()},
            **{f"fig2_error_{panel}": error for panel, error in errors.items()},
            **{f"fig2_{name}": word for name, word in verdict_words(judged).items()},
            **{f"fig2_{name}": value for name, value in rule_words().items()}}
