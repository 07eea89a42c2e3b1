"""The ``sample_complexity`` chapter (Boopathy et al., ICLR 2025, Fig. 4a): the number
of training samples a network needs to reach a target test MSE, against the input dimension m,
for a monolithic MLP and for the modular network (Eq. 6) with random, kernel-rule (Algorithm 1)
and true ("oracle", Theorem 2's premise realised) initial projections.

A run (:class:`modcore.runs.sample_complexity.SampleRun`) trains one network on one sine task at
one n. Training stops by a stated rule (``DEFAULT_PATIENCE`` there): the n labelled points are split
into a training part and a held-out validation part (``VALIDATION_FRACTION``), and a network stops
when its validation MSE has not improved for ``patience`` steps, keeping its best weights
(``n_steps`` is the cap). The test MSE after the first ``short_steps`` steps (default
``SHORT_STEPS``), with no stopping, is kept beside it: the "short" training of the sensitivity table.

For one seed, every method sees the same task, training, validation and test points, and the
modular methods the same module MLPs at initialisation and the same minibatch order: they differ
only in their initial U, a paired comparison. The three modular methods of one (m, n) train as
one ensemble (``batch_by=SampleRun.ensemble_key``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from modcore import paper_values, scorecard, stats
from modcore.models import ModularSpec
from modcore.parameters import (DEVICE, DISTINCT, EXISTING_FOLDER, INCREASING, NONEMPTY, POSITIVE, SEED,
                                ChapterParameters, Relation, at_least, each, param)
from modcore.plots import kernel_rule as kernel_plots
from modcore.runs.kernel_rule import (KERNEL_NAME, PILOT_SEED_START, SIGNIFICANCE, agreement, combined_agreement,
                                      sensitivity_words)
from modcore.runs.sample_complexity import (DEFAULT_PATIENCE, VALIDATION_EVERY, SampleRun, chapter_design,
                                            chapter_protocol, main_runs, run_chapter)
from modcore.store import ResultStore, resolve_store

METHOD_LABELS = {"monolithic": "monolithic MLP", "random": "modular, random U", "kernel": "modular, kernel-rule U",
                 "oracle": "modular, true U (oracle)"}
# Our threshold for "stays flat in m" (Theorem 2 says constant; the paper gives no tolerance):
# the upper end of the interval on the growth factor over the m range below FLAT_MAX_GROWTH.
FLAT_MAX_GROWTH = 2.0
# ... and "grows" when the interval's lower end lies above this factor (1: the same n at every m).
GROWS_MIN_GROWTH = 1.0
# SIGNIFICANCE as the prose and the rules quote it: tests one-sided at this level, intervals at 1 - it.
SIGNIFICANCE_PERCENT = SIGNIFICANCE * 100
CONFIDENCE_PERCENT = (1 - SIGNIFICANCE) * 100
# ... and no growth verdict when more than this fraction of the points lie outside the n grid.
MAX_CENSORED = 0.5

@dataclasses.dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults (papermill needs literals there);
    tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)                     # first seed; runs use seed, seed + 1, ... (below the pilot's)
    n_seeds: int = param(5, at_least(1))           # seeds (task, data, initialisation) per point (paper: up to five)
    input_dim_values: list[int] = param([2, 4, 6], NONEMPTY, INCREASING, each(at_least(1)))  # m (paper: 2..9)
    # n grid (paper does not give it); at least 5: a training and a validation part
    n_train_values: list[int] = param([25, 50, 100, 200, 400, 800, 1600, 3200], NONEMPTY, INCREASING,
                                      each(at_least(5)))
    n_modules: int = param(3, at_least(1))         # task modules k
    network_module_factor: int = param(2, at_least(1))  # network modules K = factor * k (K >= 1 per task module)
    width: int = param(16, at_least(1))            # module MLP width; the MLP is parameter-matched (our choice)
    n_steps: int = param(3000, at_least(1))        # cap on Adam steps; the stopping rule ends most runs earlier
    patience: int = param(300, at_least(1))        # stop when the validation MSE's best is this many steps old
    short_steps: int = param(300, at_least(1))     # "short" training of the sensitivity table (same runs)
    lr: float = param(0.01, POSITIVE)              # Adam learning rate (paper does not say)
    batch_size: int = param(128, at_least(1))      # training minibatch (paper does not say)
    n_test: int = param(2000, at_least(1))         # test points per run
    target_loss: float = param(1.5, POSITIVE)      # the paper's threshold (Fig. 4a's file name)
    kernel: str = param("rbf", KERNEL_NAME)      # Algorithm 1's settings: the kernel_rule chapter's pilot choice
    kernel_eps: float = param(0.001, POSITIVE)
    kernel_batch_size: int = param(64, at_least(2))  # capped at n where n is smaller
    kernel_n_steps: int = param(300, at_least(0))
    kernel_lr: float = param(0.02, POSITIVE)
    sensitivity_input_dim: int = param(4, at_least(1))  # the sensitivity table's m (one of input_dim_values)
    sensitivity_kernels: list[str] = param(["ntk", "rbf"], NONEMPTY, DISTINCT, each(KERNEL_NAME))  # its kernels
    sensitivity_network_factors: list[int] = param([1, 2], NONEMPTY, INCREASING, each(at_least(1)))  # its K / k
    device: str = param("auto", *DEVICE)
    results_dir: str | None = param(None, EXISTING_FOLDER)  # None: results/sample_complexity

    def relations(self):
        # below the kernel-rule pilot's seeds, so no comparison reuses a task the settings were chosen on
        yield Relation(("seed", "n_seeds"), f"seed + n_seeds <= {PILOT_SEED_START}",
                       self.seed + self.n_seeds <= PILOT_SEED_START)
        # every run trains short_steps steps (the short reading); patience is capped by n_steps
        yield Relation(("patience", "short_steps"), "patience >= short_steps", self.patience >= self.short_steps)
        yield Relation(("patience", "n_steps"), "patience <= n_steps", self.patience <= self.n_steps)
        yield Relation(("sensitivity_input_dim", "input_dim_values"), "sensitivity_input_dim in input_dim_values",
                       self.sensitivity_input_dim in self.input_dim_values)
        yield Relation(("kernel", "sensitivity_kernels"), "kernel in sensitivity_kernels",
                       self.kernel in self.sensitivity_kernels)
        yield Relation(("network_module_factor", "sensitivity_network_factors"),
                       "network_module_factor in sensitivity_network_factors",
                       self.network_module_factor in self.sensitivity_network_factors)

    @property
    def seeds(self) -> range:
        return range(self.seed, self.seed + self.n_seeds)

    def store(self) -> ResultStore:
        return resolve_store(self.results_dir, "sample_complexity")


# --- samples needed ------------------------------------------------------------------------------

STATUSES = ("crossed", "below_grid", "not_reached")


def samples_needed(n_train_values, test_mse, target_loss: float) -> tuple[float, str]:
    """The smallest n at which the test MSE reaches ``target_loss``, from a curve on a grid.

    Rule (stated for noisy, non-monotone curves): the FIRST grid point at or below the target
    counts, whatever the curve does later (a later rise above the target, e.g. a double-descent
    bump, is ignored); n is interpolated linearly in (log n, log MSE) between that point and the
    grid point before it. Returns ``(n, status)``: "crossed"; "below_grid" when the smallest n
    already reaches the target (n = the smallest n, an upper bound); "not_reached" within the
    grid (n = inf).
    """
    n = np.asarray(n_train_values, dtype=float)
    loss = np.asarray(test_mse, dtype=float)
    if n.ndim != 1 or n.shape != loss.shape or n.size == 0:
        raise ValueError(f"n_train_values and test_mse must be 1-d of equal, non-zero length, got "
                         f"{n.shape} and {loss.shape}")
    if np.any(np.diff(n) <= 0) or n[0] <= 0:
        raise ValueError(f"n_train_values must be positive and increasing, got {n_train_values!r}")
    if not np.all(np.isfinite(loss)) or np.any(loss < 0):
        raise ValueError(f"test_mse must be finite and >= 0 (drop diverged runs first), got {test_mse!r}")
    if not target_loss > 0:
        raise ValueError(f"target_loss must be positive, got {target_loss=}")
    reached = np.flatnonzero(loss <= target_loss)
    if reached.size == 0:
        return math.inf, "not_reached"
    i = int(reached[0])
    if i == 0:
        return float(n[0]), "below_grid"
    # the point before is above the target, so the log-loss drop is positive; a loss of exactly
    # 0 is floored at the smallest positive double
    high, low = math.log(loss[i - 1]), math.log(max(loss[i], np.finfo(float).tiny))
    fraction = (high - math.log(target_loss)) / (high - low)
    return float(math.exp(math.log(n[i - 1]) + fraction * (math.log(n[i]) - math.log(n[i - 1])))), "crossed"


def needed_table(runs: pd.DataFrame, target_loss: float, *, column: str = "test_mse",
                 by: Sequence[str] = ("method",)) -> pd.DataFrame:
    """One row per (``by``..., input_dim, seed): ``n_needed`` and ``status`` (:func:`samples_needed`
    on ``column``), or status "diverged" (n_needed NaN) when any run of that curve diverged or
    holds no finite ``column`` value: a diverged run never feeds a verdict."""
    keys = [*by, "input_dim", "seed"]
    rows = []
    for values, curve in runs.groupby(keys, sort=False):
        curve = curve.sort_values("n_train")
        if curve.diverged.any() or not np.all(np.isfinite(curve[column].to_numpy(float))):
            value, status = math.nan, "diverged"
        else:
            value, status = samples_needed(curve.n_train.to_numpy(), curve[column].to_numpy(), target_loss)
        rows.append({**dict(zip(keys, values)), "n_needed": value, "status": status})
    return pd.DataFrame(rows)


def needed_means(needed: pd.DataFrame) -> pd.DataFrame:
    """Per (method, input_dim): the mean of log10 n_needed over non-diverged seeds, as n
    (``mean``), with a t interval (``low``, ``high``; level 1 - SIGNIFICANCE), and ``n_censored``
    (seeds that did not reach the target within the grid). If any seed did not reach it,
    ``status`` is "not_reached" and the mean is inf; a below-grid seed enters at the grid's
    smallest n (an upper bound)."""
    rows = []
    for (method, m), group in needed.groupby(["method", "input_dim"], sort=False):
        usable = group[group.status != "diverged"]
        censored = int((usable.status == "not_reached").sum())
        row = {"method": method, "input_dim": m, "n_seeds": len(usable), "n_diverged": len(group) - len(usable),
               "n_censored": censored}
        if len(usable) == 0:
            rows.append({**row, "mean": math.nan, "low": math.nan, "high": math.nan, "status": "diverged"})
        elif censored:
            rows.append({**row, "mean": math.inf, "low": math.nan, "high": math.nan, "status": "not_reached"})
        else:
            mean, half = stats.mean_t_interval(np.log10(usable.n_needed.to_numpy(float)), level=1 - SIGNIFICANCE)
            rows.append({**row, "mean": 10 ** mean, "low": 10 ** (mean - half), "high": 10 ** (mean + half),
                         "status": "crossed"})
    return pd.DataFrame(rows)


def paired_needed(needed: pd.DataFrame, method: str, baseline: str) -> tuple[np.ndarray, np.ndarray]:
    """n_needed of ``method`` and ``baseline`` on the (input_dim, seed) pairs where neither diverged."""
    a, b = needed[needed.method == method], needed[needed.method == baseline]
    both = a.merge(b, on=["input_dim", "seed"], suffixes=("_a", "_b"), how="inner")
    both = both[(both.status_a != "diverged") & (both.status_b != "diverged")]
    return both.n_needed_a.to_numpy(float), both.n_needed_b.to_numpy(float)


def lowers_verdict(needed: pd.DataFrame, method: str, baseline: str, *, testable: bool = True) -> dict:
    """Does ``method`` need fewer samples than ``baseline``? The verdict rule: the paired sign
    test over (m, seed) (:func:`modcore.stats.sign_test`; not reached
    counts as more than any finite n, two not-reached tie), one-sided at SIGNIFICANCE; the word
    "lower", "higher", "no significant difference" or "not testable at these task settings".
    Beside it, the geometric-mean ratio of samples needed with its (1 - SIGNIFICANCE) interval on the
    pairs where both reached the target (:func:`modcore.stats.paired_ratio_interval`; ``ratio_n``
    pairs, ``ratio_left_out`` censored)."""
    values, base = paired_needed(needed, method, baseline)
    test = stats.sign_test(values, base, alpha=SIGNIFICANCE) if len(values) else {
        "n_pairs": 0, "n_lower": 0, "n_higher": 0, "n_ties": 0, "p_lower": 1.0, "p_higher": 1.0,
        "word": "no significant difference"}
    ratio = stats.paired_ratio_interval(values, base, level=1 - SIGNIFICANCE) if len(values) else {
        "ratio": math.nan, "low": math.nan, "high": math.nan, "n": 0, "n_left_out": 0}
    word = test["word"] if testable else "not testable at these task settings"
    return {**test, "ratio": ratio["ratio"], "ratio_low": ratio["low"], "ratio_high": ratio["high"],
            "ratio_n": ratio["n"], "ratio_left_out": ratio["n_left_out"], "word": word}


def growth_in_m(input_dim, n_needed, *, n_train_values) -> dict[str, float | str]:
    """Growth of n_needed over the m range: OLS of log10 n on m (all seeds' points), the factor
    10^(slope * (m_max - m_min)) with its t interval, and the word "flat" (interval's upper end
    below FLAT_MAX_GROWTH), "grows" (lower end above GROWS_MIN_GROWTH) or "undetermined". Points
    not reached within the grid enter at the grid's largest n, below-grid ones at its smallest (bounds, so
    censoring at large m makes the growth a lower bound); NaN (diverged) points are dropped. With
    more than MAX_CENSORED of the points at the grid's ends, the word is "undetermined" and the
    factor NaN (``censored`` says why)."""
    m = np.asarray(input_dim, dtype=float)
    n = np.asarray(n_needed, dtype=float)
    keep = ~np.isnan(n)
    low_n, high_n = min(n_train_values), max(n_train_values)
    m, n = m[keep], np.clip(n[keep], low_n, high_n)
    censored = float(np.mean((n <= low_n) | (n >= high_n))) if len(n) else 1.0
    if len(np.unique(m)) < 2 or censored > MAX_CENSORED:
        return {"factor": math.nan, "low": math.nan, "high": math.nan, "word": "undetermined", "censored": censored}
    fit = stats.slope_with_ci(m, np.log10(n), level=1 - SIGNIFICANCE)
    span = m.max() - m.min()
    if math.isfinite(fit["slope"]):
        slope, low, high = fit["slope"], 10 ** (fit["low"] * span), 10 ** (fit["high"] * span)
    else:  # two points: the line through them, with no interval
        slope = float(np.diff(np.log10(n))[0] / np.diff(m)[0])
        low, high = 0.0, math.inf
    word = "flat" if high < FLAT_MAX_GROWTH else "grows" if low > GROWS_MIN_GROWTH else "undetermined"
    return {"factor": 10 ** (slope * span), "low": low, "high": high, "word": word, "censored": censored}


def growth_table(needed: pd.DataFrame, n_train_values, *, testable: bool = True) -> pd.DataFrame:
    """:func:`growth_in_m` per method; every word "not testable at these task settings" when the
    target is not testable."""
    rows = {}
    for method, group in needed.groupby("method", sort=False):
        growth = growth_in_m(group.input_dim, group.n_needed, n_train_values=n_train_values)
        rows[method] = {**growth, "word": growth["word"] if testable else "not testable at these task settings"}
    return pd.DataFrame(rows).T


# --- the paper's Fig. 4a and the verdicts -----------------------------------------------------------

PAPER_METHODS = {"ours": "kernel", "baseline_monolithic": "monolithic", "baseline_modular": "random"}
# What the paper says (or, for the oracle, what Theorem 2 and the paper's motivation say) for
# each comparison and each method's curve in m; the paper's own words come from its digitised
# means by the same rules where it has a curve.
COMPARISONS = {"kernel_vs_random": ("kernel", "random"), "kernel_vs_monolithic": ("kernel", "monolithic"),
               "oracle_vs_random": ("oracle", "random")}
THEOREM2_WORDS = {"oracle_vs_random": "lower", "growth_oracle": "flat"}


def paper_needed(paper: pd.DataFrame) -> pd.DataFrame:
    """The digitised Fig. 4a (columns method, input_dim, n_needed; the paper's method names) as a
    :func:`needed_table` with our method names, one "seed" (the paper's means)."""
    frame = paper.assign(method=paper.method.map(PAPER_METHODS), seed=0, status="crossed")
    if frame.method.isna().any():
        raise ValueError(f"unknown methods in the digitised Fig. 4a: {sorted(set(paper.method) - set(PAPER_METHODS))}")
    return frame[["method", "input_dim", "seed", "n_needed", "status"]]


def verdicts(needed: pd.DataFrame, paper: pd.DataFrame, *, n_train_values, testable: bool,
             input_dim_values: Sequence[int] | None = None) -> dict[str, dict]:
    """Ours and the paper's for (i) kernel vs random U, (ii) kernel vs monolithic, (iii) oracle
    vs random (the paper's word: "lower", its premise; there is no paper curve) and (iv) each
    method's curve in m. The paper's words come from its digitised means by the same rules, pairs
    over m, over ``input_dim_values`` (None: all of the paper's m, 2 to 9; three m values could
    never make the paper's own sign test significant). Each with its agreement word."""
    theirs = paper_needed(paper)
    if input_dim_values is not None:
        theirs = theirs[theirs.input_dim.isin(list(input_dim_values))]
    paper_range = (float(theirs.n_needed.min()), float(theirs.n_needed.max()))
    out = {}
    for name, (method, baseline) in COMPARISONS.items():
        ours = lowers_verdict(needed, method, baseline, testable=testable)
        if name in THEOREM2_WORDS:
            reference = {"word": THEOREM2_WORDS[name]}
        else:
            reference = lowers_verdict(theirs, method, baseline)
        out[name] = {"ours": ours, "paper": reference,
                     "agreement": agreement(ours["word"], reference["word"], testable=testable)}
    ours_growth = growth_table(needed, n_train_values, testable=testable)
    paper_growth = growth_table(theirs, paper_range)
    for method in ours_growth.index:
        name = f"growth_{method}"
        if name in THEOREM2_WORDS:
            reference = {"word": THEOREM2_WORDS[name]}
        else:
            reference = paper_growth.loc[method].to_dict() if method in paper_growth.index else None
        out[name] = {"ours": ours_growth.loc[method].to_dict(), "paper": reference,
                     "agreement": agreement(ours_growth.loc[method, "word"], reference["word"], testable=testable)
                     if reference else "no paper value"}
    return out


def parameter_counts(runs: pd.DataFrame) -> dict[str, int]:
    """Parameters of each method's network (the same at every n; the largest m's, where they differ)."""
    largest = runs[runs.input_dim == runs.input_dim.max()]
    return {method: int(group.n_params_actual.iloc[0]) for method, group in largest.groupby("method", sort=False)}


def mean_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Test MSE vs n, mean over non-diverged seeds, per (method, input_dim)."""
    usable = runs[~runs.diverged.astype(bool)]
    return usable.groupby(["method", "input_dim", "n_train"], as_index=False, sort=False).test_mse.mean()


def testability(runs: pd.DataFrame, target_loss: float) -> dict[str, float | bool]:
    """Is ``target_loss`` below the predict-zero loss (the mean squared test target, averaged
    over the runs' tasks)? If not, a network that outputs 0 already reaches it, and samples
    needed measure nothing."""
    loss = float(runs.drop_duplicates(["input_dim", "seed"]).predict_zero_loss.mean())
    return {"predict_zero_loss": loss, "testable": bool(target_loss < loss)}


def censored_counts(needed: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per method: (curves that never reach the target within the grid, non-diverged curves)."""
    usable = needed[needed.status != "diverged"]
    return {method: (int((group.status == "not_reached").sum()), len(group))
            for method, group in usable.groupby("method", sort=False)}


def training_summary(runs: pd.DataFrame, n_steps: int) -> dict[str, float | int]:
    """How the stopping rule ended the runs: the median and largest restored step, and how many
    runs reached the cap ``n_steps`` still improving (restored step within VALIDATION_EVERY of
    the cap), with the run count."""
    usable = runs[~runs.diverged.astype(bool)]
    at_cap = int((usable.stop_step >= n_steps - VALIDATION_EVERY).sum())
    return {"median_stop": float(usable.stop_step.median()), "max_stop": int(usable.stop_step.max()),
            "n_at_cap": at_cap, "n_runs": len(usable)}


def kernel_cost_share(runs: pd.DataFrame, batch_size: int | None) -> float:
    """The kernel phase's FLOPs as a fraction of the kernel-rule networks' training FLOPs
    (3 x forward per example and step, steps up to the restored step plus the patience),
    summed over the kernel runs."""
    kernel = runs[(runs.method == "kernel") & ~runs.diverged.astype(bool)]
    if kernel.empty:
        return math.nan
    training = 0.0
    for row in kernel.itertuples():
        spec = ModularSpec(int(row.input_dim), int(row.n_network_modules), int(row.width), int(row.depth))
        n_fit = SampleRun("kernel", int(row.input_dim), int(row.n_modules), int(row.n_network_modules),
                          int(row.n_train), 0).n_fit
        batch = n_fit if batch_size is None else min(batch_size, n_fit)
        steps = min(int(row.stop_step) + DEFAULT_PATIENCE, int(row.n_steps))
        training += 3 * spec.flops_per_example() * batch * max(steps, int(row.short_steps))
    return float(kernel.init_flops.sum() / training)


def run_words(runs: pd.DataFrame, target_loss: float, *, n_steps: int, batch_size: int | None) -> dict[str, object]:
    """The glued values of the runs section: testability, the stopping rule's summary, parameter
    counts, diverged runs, the kernel phase's cost share and the initial U's module recovery on
    the chapter's seeds at the largest m (averaged over n)."""
    check = testability(runs, target_loss)
    stopping = training_summary(runs, n_steps)
    largest = runs[runs.input_dim == runs.input_dim.max()]
    words: dict[str, object] = {
        "sc_predict_zero_loss": check["predict_zero_loss"], "sc_target_loss": target_loss,
        "sc_testable": "is" if check["testable"] else "is not", "sc_median_stop": int(stopping["median_stop"]),
        "sc_max_stop": stopping["max_stop"], "sc_n_at_cap": stopping["n_at_cap"], "sc_n_runs": stopping["n_runs"],
        "sc_n_steps_cap": n_steps, "sc_n_diverged": int(runs.diverged.sum()), "sc_n_runs_all": len(runs),
        "sc_kernel_cost_share": kernel_cost_share(runs, batch_size), "sc_recovery_m": int(runs.input_dim.max()),
        "sc_kernel_start_share": float(largest[largest.method == "kernel"].start_share.mean()),
        "sc_random_start_share": float(largest[largest.method == "random"].start_share.mean()),
        "sc_short_steps": int(runs.short_steps.iloc[0])}
    words.update({f"sc_params_{method}": count for method, count in parameter_counts(runs).items()})
    return words


def _interval_text(result: dict) -> str:
    if not math.isfinite(result["ratio"]):
        return "no pair where both reached it"
    if not math.isfinite(result["ratio_low"]):
        return f"{result['ratio']:.2f} (one pair)"
    return f"{result['ratio']:.2f} ({result['ratio_low']:.2f} to {result['ratio_high']:.2f}; {result['ratio_n']} pairs)"


def verdict_words(results: Mapping[str, dict], needed: pd.DataFrame) -> dict[str, object]:
    """The glued words of :func:`verdicts`: ours, the paper's, the agreement, pair counts and the
    ratio's interval for each comparison; for each growth its factor (a word, "not estimated",
    where the curve is censored); per method the curves that never reached the target."""
    words: dict[str, object] = {f"sc_censored_{method}": f"{count} of {total}"
                                for method, (count, total) in censored_counts(needed).items()}
    for name, result in results.items():
        words[f"sc_{name}_ours"] = result["ours"]["word"]
        words[f"sc_{name}_agreement"] = result["agreement"]
        words[f"sc_{name}_paper"] = result["paper"]["word"] if result["paper"] else "no paper value"
        if name.startswith("growth_"):
            ours = result["ours"]
            words[f"sc_{name}_factor"] = (f"x{ours['factor']:.1f} ({ours['low']:.1f} to {ours['high']:.1f})"
                                          if math.isfinite(ours["factor"]) else
                                          f"not estimated ({ours['censored']:.0%} of the points outside the grid)")
        else:
            words[f"sc_{name}_lower"] = f"{result['ours']['n_lower']} of {result['ours']['n_pairs']}"
            words[f"sc_{name}_ratio"] = _interval_text(result["ours"])
    words["sc_n_pairs"] = results["kernel_vs_random"]["ours"]["n_pairs"]
    return words


def reading(results: Mapping[str, dict], recovery_share: float) -> str:
    """One sentence that puts verdicts (i) and (iii) together: what the comparison says about the
    rule and about the architecture."""
    rule, oracle = results["kernel_vs_random"]["ours"]["word"], results["oracle_vs_random"]["ours"]["word"]
    if rule == "lower":
        return "the kernel rule's U lowers the samples needed against random U, as the oracle's does"
    if oracle == "lower":
        return (f"the oracle needs fewer samples than random U, the kernel rule's U not significantly so: the "
                f"architecture pays off when U is right, and the rule's U, which recovered {recovery_share:.0%} of "
                "the true modules on these seeds, is not right enough to show it at this power")
    return "neither the oracle nor the kernel rule's U needs significantly fewer samples than random U here"


# --- sensitivity: do the verdicts survive the paper's unknowns? ------------------------------------

def sensitivity_table(runs: pd.DataFrame, target_loss: float, *, input_dim: int, n_modules: int,
                      n_network_values: Sequence[int], kernels: Sequence[str]) -> pd.DataFrame:
    """Verdicts (i) kernel vs random U and (ii) kernel vs monolithic recomputed at one m
    (``input_dim``) for every kernel x K (``n_network_values``) x training length ("short": the
    test MSE after ``short_steps`` steps; "converged": the stopping rule's). Each row: the factors,
    both words and their pair counts. ``runs`` must hold every combination (column ``kernel``
    names the kernel of the kernel runs)."""
    at = runs[runs.input_dim == input_dim]
    rows = []
    for kernel, n_network, training in itertools.product(kernels, n_network_values, ("short", "converged")):
        chosen = at[(at.n_network_modules == n_network) & ((at.method != "kernel") | (at.kernel == kernel))]
        needed = needed_table(chosen, target_loss, column="test_mse" if training == "converged" else "test_mse_short")
        factor = "K = k" if n_network == n_modules else f"K = {n_network // n_modules}k"
        row = {"m": input_dim, "kernel": kernel, "network modules": factor, "training": training}
        for name, baseline in (("vs random", "random"), ("vs monolithic", "monolithic")):
            result = lowers_verdict(needed, "kernel", baseline)
            row[f"{name}"] = result["word"]
            row[f"{name} pairs"] = f"{result['n_lower']} of {result['n_pairs']} lower"
            row["pairs"] = result["n_pairs"]
        rows.append(row)
    return pd.DataFrame(rows)


def sensitivity_glue(table: pd.DataFrame) -> dict[str, str]:
    """The glued "holds across all" / "depends on X" of verdicts (i) and (ii), and the table's m."""
    pairs = int(table.pairs.min())
    return {"sc_sensitivity_vs_random": sensitivity_words(table, "vs random"),
            "sc_sensitivity_vs_monolithic": sensitivity_words(table, "vs monolithic"),
            "sc_sensitivity_m": int(table.m.iloc[0]), "sc_sensitivity_pairs": pairs,
            "sc_sensitivity_needed": _sign_test_needs(pairs)}


def _sign_test_needs(pairs: int) -> str:
    """How many of ``pairs`` untied pairs the one-sided sign test needs lower to say "lower"."""
    needed = stats.sign_test_min_count(pairs, alpha=SIGNIFICANCE)
    return "never, with so few" if needed is None else f"only with {needed} or more of them lower"


# --- the scorecard --------------------------------------------------------------------------------

def _ratio_text(result: dict) -> str:
    ours = result["ours"]
    if not math.isfinite(ours["ratio"]):
        return f"{ours['n_lower']} of {ours['n_pairs']} pairs lower; no pair where both reached the target"
    interval = (f"{ours['ratio_low']:.2f} to {ours['ratio_high']:.2f}" if math.isfinite(ours["ratio_low"])
                else "no interval")
    return (f"{ours['n_lower']} of {ours['n_pairs']} pairs lower (sign test p = {ours['p_lower']:.3f}); samples-needed "
            f"ratio {ours['ratio']:.2f} ({CONFIDENCE_PERCENT:g} % interval {interval}, {ours['ratio_n']} pairs where "
            "both reached it)")


def claims(results: dict, *, target_loss: float, seeds, recovery_share: float, dataset: str,
           sensitivity: Mapping[str, str]) -> dict[str, scorecard.Record]:
    """The four scorecard records of Fig. 4a, (i) to (iv), from :func:`verdicts` at the paper's
    threshold. ``recovery_share``: the share of true modules the kernel rule's initial U recovers
    on the chapter's seeds (a rule that finds none is said to be tested as such); ``dataset``
    names the task; ``sensitivity``: "holds across all" / "depends on X" of (i) and (ii)."""
    found = (f"the kernel rule's initial U recovered {recovery_share:.0%} of the true modules on these seeds at the "
             "largest m" if math.isfinite(recovery_share) else "the rule's module recovery was not measured")
    common = f"{dataset}; test MSE {target_loss:g}; {found}"
    sign_rule = (f"paired sign test over (m, seed), one-sided at {SIGNIFICANCE_PERCENT:g} %; a target never reached "
                 "counts as more samples; the paper's digitised means are scored by the same test paired over m; "
                 "agree if both say lower")
    records = {}
    across = "; across kernel, K and training length: "
    for claim_id, name, extra in (
            ("fig4a_kernel_vs_random", "kernel_vs_random",
             across + sensitivity.get("sc_sensitivity_vs_random", "not computed")),
            ("fig4a_kernel_vs_monolithic", "kernel_vs_monolithic",
             across + sensitivity.get("sc_sensitivity_vs_monolithic", "not computed")),
            ("fig4a_oracle_vs_random", "oracle_vs_random",
             "; Theorem 2's premise realised (true U given), not evidence for the rule")):
        result = results[name]
        rule = sign_rule if name != "oracle_vs_random" else (
            f"paired sign test over (m, seed), one-sided at {SIGNIFICANCE_PERCENT:g} %; agree if the oracle needs "
            "fewer samples, as the paper's premise says")
        records[claim_id] = scorecard.record(
            claim_id, ours=f"{result['ours']['word']}: {_ratio_text(result)} ({common}{extra})", seeds=seeds,
            verdict=combined_agreement([result["agreement"]]), rule=rule)
    growth = {name: result for name, result in results.items() if name.startswith("growth_")}
    ours = "; ".join(f"{name.removeprefix('growth_')} {result['ours']['word']}"
                     + (f" (x{result['ours']['factor']:.1f})" if math.isfinite(result["ours"]["factor"]) else "")
                     for name, result in growth.items())
    records["fig4a_flat_in_m"] = scorecard.record(
        "fig4a_flat_in_m", ours=f"{ours} ({common})", seeds=seeds,
        verdict=combined_agreement(result["agreement"] for result in growth.values() if result["paper"]),
        rule=(f"OLS of log n on m, {CONFIDENCE_PERCENT:g} % interval of the growth over the m range: "
              f"flat below x{FLAT_MAX_GROWTH:g}, grows above x{GROWS_MIN_GROWTH:g}; the paper's digitised curves "
              "scored the same way, the oracle against Theorem 2's flat"))
    return records


# --- what the notebook calls, one figure or table per function -------------------------------------

def chapter_runs(p: Parameters, store: ResultStore) -> pd.DataFrame:
    """Every run of the chapter, the sensitivity table's included (:func:`run_chapter`)."""
    design = chapter_design(input_dim_values=p.input_dim_values, n_train_values=p.n_train_values,
                            n_modules=p.n_modules, network_module_factor=p.network_module_factor, n_seeds=p.n_seeds,
                            seed=p.seed, sensitivity_input_dim=p.sensitivity_input_dim,
                            sensitivity_kernels=p.sensitivity_kernels,
                            sensitivity_network_factors=p.sensitivity_network_factors, default_kernel=p.kernel)
    protocol = chapter_protocol(width=p.width, n_steps=p.n_steps, patience=p.patience, short_steps=p.short_steps,
                                lr=p.lr, batch_size=p.batch_size, n_test=p.n_test, kernel=p.kernel,
                                kernel_eps=p.kernel_eps, kernel_batch_size=p.kernel_batch_size,
                                kernel_n_steps=p.kernel_n_steps, kernel_lr=p.kernel_lr)
    return run_chapter(design, protocol, store, target_loss=p.target_loss, device=p.device)


def figure_runs(p: Parameters, all_runs: pd.DataFrame) -> pd.DataFrame:
    """The Fig. 4a runs: the default kernel at K = factor * k (:func:`main_runs`)."""
    return main_runs(all_runs, kernel=p.kernel, n_network_modules=p.network_module_factor * p.n_modules)


def runs_summary(p: Parameters, runs: pd.DataFrame) -> dict[str, object]:
    """Testability, stopping, parameter counts and module recovery of the runs (:func:`run_words`)."""
    return run_words(runs, p.target_loss, n_steps=p.n_steps, batch_size=p.batch_size)


def curves_figure(p: Parameters, runs: pd.DataFrame, summary: dict) -> Figure:
    """Test MSE against n per method, one panel per m (Fig. fig-sample-complexity-curves)."""
    return kernel_plots.loss_curves(mean_curves(runs), input_dim_values=p.input_dim_values,
                                    target_loss=p.target_loss, predict_zero_loss=summary["sc_predict_zero_loss"],
                                    method_labels=METHOD_LABELS)


def paper_fig4a() -> pd.DataFrame:
    """The digitised Fig. 4a."""
    return paper_values.load_csv("fig4a_digitised")


def needed_figure(p: Parameters, needed: pd.DataFrame) -> Figure:
    """Samples needed against m, ours and the paper's (Fig. fig-sample-complexity)."""
    return kernel_plots.samples_needed(needed, needed_means(needed), paper_needed(paper_fig4a()),
                                       n_train_range=(min(p.n_train_values), max(p.n_train_values)),
                                       method_labels=METHOD_LABELS)


def chapter_verdicts(p: Parameters, needed: pd.DataFrame, summary: dict) -> dict[str, dict]:
    """Ours and the paper's words for (i) to (iv) (:func:`verdicts`), testable as the runs say."""
    return verdicts(needed, paper_fig4a(), n_train_values=p.n_train_values,
                    testable=summary["sc_testable"] == "is")


def verdict_overview(results: Mapping[str, dict]) -> pd.DataFrame:
    """Ours, the paper's and the agreement word per comparison (the table the chapter prints)."""
    return pd.DataFrame({name: {"ours": result["ours"]["word"],
                                "paper": result["paper"]["word"] if result["paper"] else None,
                                "agreement": result["agreement"]} for name, result in results.items()}).T


def sensitivity(p: Parameters, all_runs: pd.DataFrame) -> pd.DataFrame:
    """Verdicts (i) and (ii) at one m across kernel, K and training length (:func:`sensitivity_table`)."""
    return sensitivity_table(all_runs, p.target_loss, input_dim=p.sensitivity_input_dim, n_modules=p.n_modules,
                             n_network_values=[f * p.n_modules for f in p.sensitivity_network_factors],
                             kernels=p.sensitivity_kernels)


def glued(summary: dict, results: Mapping[str, dict], needed: pd.DataFrame,
          sensitivity_rows: pd.DataFrame) -> dict[str, object]:
    """Every word and number the prose quotes, keyed by glue name."""
    return {**summary, **verdict_words(results, needed),
            "sc_reading": reading(results, summary["sc_kernel_start_share"]),
            **sensitivity_glue(sensitivity_rows), **rule_words()}


def rule_words() -> dict[str, float]:
    """The rules' levels and thresholds as the prose quotes them, from the constants the verdicts
    use: the tests' level, the intervals' level and the "flat" / "grows" bounds of the growth rule."""
    return {"sc_significance_percent": SIGNIFICANCE_PERCENT, "sc_confidence_percent": CONFIDENCE_PERCENT,
            "sc_flat_max_growth": FLAT_MAX_GROWTH, "sc_grows_min_growth": GROWS_MIN_GROWTH}


def chapter_claims(p: Parameters, results: dict, words: Mapping[str, object]) -> dict[str, scorecard.Record]:
    """The scorecard records (:func:`claims`) of the chapter's runs."""
    return claims(results, target_loss=p.target_loss, seeds=p.seeds, recovery_share=words["sc_kernel_start_share"],
                  dataset="sine-wave task", sensitivity=words)
