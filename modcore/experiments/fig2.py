"""The Fig. 2 chapter (``notebooks/nn_vs_theory.py``): monolithic networks against Theorem 1
on the sine-wave task, swept over k, m, p and n; the four claims of the paper's Fig. 2
measured the same way on our curves and on the paper's digitised ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from modcore import sweeps
from modcore.experiments.sine_networks import NetworkRun, TheoryFit, fit_theory, sweep_networks
from modcore.models import MLPSpec

FIG2_PANELS = ("n_modules", "input_dim", "n_params", "n_train")  # the x-axis of each panel


@dataclasses.dataclass(frozen=True)
class Fig2Design:
    """The grid of Fig. 2 (the paper's Fig. 2 and its caption).

    Panels k and m: one thin line per architecture (``line_n_params_values``) at m = ``input_dim``
    (k panel) and k = ``n_modules`` (m panel), n = ``n_train``. Panels p and n: one thin line per
    m in ``line_input_dim_values`` (the paper: 5 to 9), k = ``n_modules``; the p-sweep at
    n = ``n_train`` (paper: 1000), the n-sweep at p = ``n_params`` (paper: 1153). Every point is
    trained for each of ``n_seeds`` seeds.
    """

    n_modules_values: Sequence[int]
    input_dim_values: Sequence[int]
    n_params_values: Sequence[int]
    n_train_values: Sequence[int]
    line_n_params_values: Sequence[int]
    line_input_dim_values: Sequence[int]
    n_modules: int
    input_dim: int
    n_train: int
    n_params: int
    n_seeds: int
    seed: int = 0

    def runs(self, **protocol) -> dict[str, list[NetworkRun]]:
        """{panel: runs}; ``protocol`` (n_steps, lr, n_test, ...) goes to every NetworkRun."""
        seeds = [self.seed + i for i in range(self.n_seeds)]
        k, m, n, p = self.n_modules, self.input_dim, self.n_train, self.n_params
        grids = {
            "n_modules": [(kv, m, pv, n) for kv in self.n_modules_values for pv in self.line_n_params_values],
            "input_dim": [(k, mv, pv, n) for mv in self.input_dim_values for pv in self.line_n_params_values],
            "n_params": [(k, mv, pv, n) for pv in self.n_params_values for mv in self.line_input_dim_values],
            "n_train": [(k, mv, p, nv) for nv in self.n_train_values for mv in self.line_input_dim_values],
        }
        return {panel: [NetworkRun(input_dim=mi, n_modules=ki, n_params=pi, n_train=ni, seed=s, **protocol)
                        for ki, mi, pi, ni in grid for s in seeds] for panel, grid in grids.items()}

    def estimated_model_steps(self, n_steps: int) -> float:
        """Training cost in width-128-model-steps on n = 1000 points (about 1000-1500 per second
        on 2 cores, measured by benchmarks/ensemble.py), counting each run's multiply-adds n * p."""
        reference = MLPSpec(8, 128).n_params * 1000
        return sum(run.n_train * run.spec().n_params * n_steps / reference
                   for runs in self.runs().values() for run in runs)


def run_fig2(design: Fig2Design, store: sweeps.ResultStore, *, device: str = "auto", desc: str = "fig2",
             **protocol) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, TheoryFit]:
    """Train (or read back from ``store``) every run of ``design``; ``protocol`` goes to each
    NetworkRun. Returns ``({panel: runs}, all distinct runs, Theorem 1 fitted to them)``."""
    frames = sweep_networks(design.runs(**protocol), store, device=device, desc=desc)
    all_runs = pd.concat(frames.values(), ignore_index=True).drop_duplicates("key")
    return frames, all_runs, fit_theory(all_runs)


def fig2_trend_claims(frames: Mapping[str, pd.DataFrame], fit: TheoryFit, design: Fig2Design) -> dict[str, float]:
    """:func:`fig2_claims` of the thick (mean) lines of a finished :func:`run_fig2`."""
    means = {panel: fig2_means(fig2_lines(panel, frame, fit)) for panel, frame in frames.items()}
    return fig2_claims(means, n_train=design.n_train, n_params=design.n_params)


PANEL_LINE = {"n_modules": "n_params", "input_dim": "n_params", "n_params": "input_dim", "n_train": "input_dim"}


def fig2_lines(panel: str, frame: pd.DataFrame, fit: TheoryFit) -> pd.DataFrame:
    """One row per (thin line, x): seed-averaged network train/test MSE and Theorem 1 at the
    same (m, n, p) (p = the network's exact parameter count)."""
    line = PANEL_LINE[panel]
    frame = frame.assign(x=frame[panel], line=frame[line])
    theory_train, theory_test = fit.losses(frame.input_dim, frame.n_train, frame.n_params_actual)
    frame = frame.assign(theory_train=theory_train, theory_test=theory_test)
    x_column = "n_params_actual" if panel == "n_params" else "x"
    grouped = frame.groupby(["line", "x"], as_index=False).agg(
        x_value=(x_column, "mean"), train_mse=("train_mse", "mean"), test_mse=("test_mse", "mean"),
        theory_train=("theory_train", "mean"), theory_test=("theory_test", "mean"))
    return grouped


def fig2_means(lines: pd.DataFrame) -> pd.DataFrame:
    """Thick lines: the mean over thin lines at each x."""
    return lines.groupby("x", as_index=False)[["x_value", "train_mse", "test_mse", "theory_train",
                                               "theory_test"]].mean()


def theory_curve(fit: TheoryFit, panel: str, lines: pd.DataFrame, frame: pd.DataFrame,
                 n_points: int = 200) -> pd.DataFrame:
    """Theorem 1 on a fine grid of the panel's x (log-spaced for p and n, to show the
    divergence), averaged over the thin lines' settings: columns x_value, theory_train, theory_test."""
    if panel not in ("n_params", "n_train"):
        means = fig2_means(lines)
        return means[["x_value", "theory_train", "theory_test"]]
    low, high = frame[panel].min(), frame[panel].max()
    grid = np.unique(np.round(np.geomspace(low, high, n_points)))
    settings = frame.drop_duplicates(PANEL_LINE[panel])
    curves = []
    for _, row in settings.iterrows():
        n = grid if panel == "n_train" else row.n_train
        p = grid if panel == "n_params" else row.n_params_actual
        curves.append(fit.losses(row.input_dim, n, p))
    train = np.mean([c[0] for c in curves], axis=0)
    test = np.mean([c[1] for c in curves], axis=0)
    return pd.DataFrame({"x_value": grid, "theory_train": train, "theory_test": test})


# --- what Fig. 2 claims, measured the same way on our curves and on the paper's -----------------

# Our thresholds for the verdict words (the paper states its claims in words only):
FLAT_MAX_CHANGE = 0.25  # "flat in k": a linear fit changes by less than 25% of the mean over the k range
RISING_MIN_RATIO = 1.25  # "rising in m": test loss at the largest m >= 1.25 x that at the smallest
PEAK_MIN_RATIO = 1.10  # "double descent": the peak near the threshold is >= 10% above the minima on both sides
PEAK_WINDOW = 2.0  # the peak is looked for within a factor 2 of the interpolation threshold


def relative_change(x, loss) -> float:
    """Change of a least-squares line through (x, loss) over the x range, relative to the mean loss."""
    x, loss = np.asarray(x, float), np.asarray(loss, float)
    slope = np.polyfit(x, loss, 1)[0]
    return float(slope * (x.max() - x.min()) / loss.mean())


def double_descent(x, loss, threshold: float, window: float = PEAK_WINDOW) -> tuple[float, float]:
    """(rise, fall): the largest loss within [threshold/window, threshold*window] divided by the
    smallest loss at smaller x, and by the smallest loss at larger x. Both > 1: a peak."""
    x, loss = np.asarray(x, float), np.asarray(loss, float)
    inside = (x >= threshold / window) & (x <= threshold * window)
    if not inside.any():
        return math.nan, math.nan
    peak_index = np.flatnonzero(inside)[np.argmax(loss[inside])]
    before, after = loss[x < x[peak_index]], loss[x > x[peak_index]]
    rise = loss[peak_index] / before.min() if before.size else math.nan
    fall = loss[peak_index] / after.min() if after.size else math.nan
    return float(rise), float(fall)


def fig2_claims(curves: Mapping[str, pd.DataFrame], *, n_train: float, n_params: float) -> dict[str, float]:
    """The four Fig. 2 claims as numbers, from test-loss curves ``curves[panel]`` with columns
    x_value, test_mse (our thick lines, or the paper's digitised ones); ``n_train`` and
    ``n_params`` are the values held fixed in the p and n panels (their interpolation thresholds)."""
    k, m, p, n = (curves[panel].sort_values("x_value") for panel in FIG2_PANELS)
    p_rise, p_fall = double_descent(p.x_value, p.test_mse, n_train)
    n_rise, n_fall = double_descent(n.x_value, n.test_mse, n_params)
    return {"k_change": relative_change(k.x_value, k.test_mse),
            "m_ratio": float(m.test_mse.iloc[-1] / m.test_mse.iloc[0]),
            "p_rise": p_rise, "p_fall": p_fall, "n_rise": n_rise, "n_fall": n_fall,
            "mean_test": float(k.test_mse.mean())}


def claim_verdicts(claims: Mapping[str, float]) -> dict[str, str]:
    """Verdict words for the four claims from :func:`fig2_claims` numbers."""
    peak = lambda rise, fall: "yes" if rise >= PEAK_MIN_RATIO and fall >= PEAK_MIN_RATIO else "no"  # noqa: E731
    return {"flat_in_k": "yes" if abs(claims["k_change"]) < FLAT_MAX_CHANGE else "no",
            "rising_in_m": "yes" if claims["m_ratio"] >= RISING_MIN_RATIO else "no",
            "double_descent_p": peak(claims["p_rise"], claims["p_fall"]),
            "double_descent_n": peak(claims["n_rise"], claims["n_fall"])}


def paper_fig2_curves(paper: pd.DataFrame, quantity: str = "test_network") -> dict[str, pd.DataFrame]:
    """The paper's digitised curves (``modcore/data/fig2_digitised.csv``) in the form fig2_claims takes."""
    rows = paper[paper.quantity == quantity]
    return {panel: rows[rows.panel == panel].rename(columns={"x": "x_value", "value": "test_mse"})
            for panel in FIG2_PANELS}


# --- what the chapter reports ------------------------------------------------------------------


def figure_panels(frames: Mapping[str, pd.DataFrame], fit: TheoryFit, paper: pd.DataFrame) -> dict[str, dict]:
    """What :func:`modcore.plots.sine.fig2` draws: per panel, the thin lines, their mean, Theorem 1
    on a fine grid, and the paper's digitised points."""
    panels = {}
    for panel, frame in frames.items():
        lines = fig2_lines(panel, frame, fit)
        panels[panel] = {"lines": lines, "means": fig2_means(lines), "theory": theory_curve(fit, panel, lines, frame),
                         "paper": paper[paper.panel == panel]}
    return panels


def fit_summary(fit: TheoryFit, all_runs: pd.DataFrame) -> dict[str, float]:
    """The fitted constants and how they compare with the target's variance."""
    target_variance = float(all_runs.target_variance.mean())
    return {"c": fit.c, "omega": fit.omega, "n_fitted": fit.n_fitted, "fit_error": fit.rms_log_error,
            "target_variance": target_variance, "c_over_variance": fit.c / target_variance,
            "fit_word": "closely" if fit.rms_log_error < 0.2 else "only roughly"}


def compare_claims(frames: Mapping[str, pd.DataFrame], fit: TheoryFit, design: Fig2Design,
                   paper: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(numbers, verdicts): the claims of :func:`fig2_claims` and their verdict words, in columns
    ``ours`` and ``paper`` (the paper's digitised curves, at its n = 1000 and p = 1153)."""
    ours = fig2_trend_claims(frames, fit, design)
    theirs = fig2_claims(paper_fig2_curves(paper), n_train=PAPER_N_TRAIN, n_params=PAPER_N_PARAMS)
    numbers = pd.DataFrame({"ours": ours, "paper": theirs})
    verdicts = pd.DataFrame({"ours": claim_verdicts(ours), "paper": claim_verdicts(theirs)})
    return numbers, verdicts


# the values the paper's Fig. 2 caption holds fixed in its p and n panels
PAPER_N_TRAIN = 1000
PAPER_N_PARAMS = 1153


def claim_words(numbers: pd.DataFrame, verdicts: pd.DataFrame, all_runs: pd.DataFrame,
                fit: TheoryFit) -> dict[str, float | str]:
    """Every number and word the chapter's verdict text quotes, keyed by glue name (without the
    ``fig2_`` prefix): each claim's numbers and verdict for ours and the paper's, how many agree,
    which disagree, and how the networks compare with Theorem 1 beyond the threshold."""
    words: dict[str, float | str] = {}
    for name in numbers.index:
        words[f"ours_{name}"] = float(numbers.loc[name, "ours"])
        words[f"paper_{name}"] = float(numbers.loc[name, "paper"])
    for claim in verdicts.index:
        words[f"ours_{claim}"] = verdicts.loc[claim, "ours"]
        words[f"paper_{claim}"] = verdicts.loc[claim, "paper"]
    words["agreement"] = f"{int((verdicts.ours == verdicts.paper).sum())} of {len(verdicts)}"
    words["disagreements"] = disagreements(verdicts.ours, verdicts.paper)
    words["ratio_to_paper"] = float(numbers.loc["mean_test", "ours"] / numbers.loc["mean_test", "paper"])
    above_threshold = all_runs[all_runs.n_params_actual > 2 * all_runs.n_train]
    threshold_theory = fit.losses(above_threshold.input_dim, above_threshold.n_train,
                                  above_threshold.n_params_actual)[1]
    over_ratio = float((above_threshold.test_mse / threshold_theory).median()) if len(above_threshold) else math.nan
    words["over_ratio"] = over_ratio
    words["over_word"] = "overshoots" if over_ratio < 1 else "undershoots"
    return words


def disagreements(ours: pd.Series, theirs: pd.Series) -> str:
    """The claims where two verdict columns differ, in words ("none" if they agree)."""
    return ", ".join(claim.replace("_", " ") for claim in ours.index[ours != theirs]) or "none"


def sensitivity_words(frames: Mapping[str, pd.DataFrame], all_runs: pd.DataFrame, fit: TheoryFit,
                      design: Fig2Design, paper_verdicts: pd.Series) -> tuple[pd.Series, dict[str, float | str]]:
    """Verdicts of a rerun with another choice (e.g. of the direction law) and the words the
    chapter quotes about it: agreement with the paper, its mean test loss and m ratio."""
    claims = fig2_trend_claims(frames, fit, design)
    verdicts = pd.Series(claim_verdicts(claims))
    words = {"alt_agreement": f"{int((verdicts == paper_verdicts).sum())} of {len(verdicts)}",
             "alt_mean_test": float(claims["mean_test"]),
             "alt_target_variance": float(all_runs.target_variance.mean()),
             "alt_m_ratio": float(claims["m_ratio"]),
             "alt_disagreements": disagreements(verdicts, paper_verdicts)}
    return verdicts, words
