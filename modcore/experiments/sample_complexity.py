"""Runs behind the ``sample_complexity`` chapter (Boopathy et al., ICLR 2025, Fig. 4a): the number
of training samples a network needs to reach a target test MSE, against the input dimension m,
for a monolithic MLP and for the modular network (Eq. 6) with random, kernel-rule (Algorithm 1)
and true ("oracle", Theorem 2's setting) initial projections, plus a compute-matched baseline.

A run (:class:`SampleRun`) trains one network on one sine task at one n; runs that differ only
in their seed train together as one ensemble (``batch_by=SampleRun.ensemble_key``). For one
seed, every method sees the same task, training and test points, and the modular methods the
same module MLPs at initialisation: they differ only in their initial U, a paired comparison.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from modcore import kernel_rule as kr
from modcore import scorecard, sweeps
from modcore.experiments.kernel_objective import (SIGNIFICANCE, agreement, batch_data, capped_settings,
                                                  combined_agreement, sign_test)
from modcore.models import DEFAULT_DEPTH, MLPSpec, ModularSpec
from modcore.tasks.sine import DEFAULT_N_TEST
from modcore.train import TrainSettings, train_ensemble

METHODS = ("monolithic", "random", "kernel", "oracle", "random_compute_matched")
METHOD_LABELS = {"monolithic": "monolithic MLP", "random": "modular, random U", "kernel": "modular, kernel-rule U",
                 "oracle": "modular, true U (oracle)", "random_compute_matched": "modular, random U, compute-matched"}
# Our threshold for "stays flat in m" (Theorem 2 says constant; the paper gives no tolerance):
# the upper end of the interval on the growth factor over the m range below FLAT_MAX_GROWTH.
FLAT_MAX_GROWTH = 2.0
# ... and no growth verdict when more than this fraction of the points lie outside the n grid.
MAX_CENSORED = 0.5
# Paper does not give its training protocol; ours (the book's choices page): minibatch Adam,
# a fixed number of steps whatever n (so cost does not grow with n), lr 3e-3.
DEFAULT_N_STEPS = 1000
DEFAULT_LR = 3e-3
DEFAULT_BATCH_SIZE = 256


@dataclasses.dataclass(frozen=True)
class SampleRun:
    """One network trained on n_train points of the sine task of ``seed``.

    ``width``: the module MLPs' width; the monolithic MLP gets the width whose parameter count is
    closest to the modular net's (parameter-matched). ``extra_steps``: training steps added to
    ``n_steps`` (the compute-matched baseline: the kernel phase's FLOPs as training steps).
    ``kernel_settings``: Algorithm 1's settings ("kernel" method only; its minibatch is capped at
    n_train)."""

    method: str
    input_dim: int
    n_modules: int
    n_train: int
    seed: int
    width: int = 16
    depth: int = DEFAULT_DEPTH
    n_steps: int = DEFAULT_N_STEPS
    lr: float = DEFAULT_LR
    batch_size: int | None = DEFAULT_BATCH_SIZE
    n_test: int = DEFAULT_N_TEST
    extra_steps: int = 0
    kernel_settings: kr.KernelRuleSettings = kr.KernelRuleSettings()

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got method={self.method!r}")
        if not isinstance(self.n_train, int) or self.n_train < 2:
            raise ValueError(f"n_train must be an integer >= 2, got n_train={self.n_train!r}")
        if self.extra_steps < 0:
            raise ValueError(f"extra_steps must be >= 0, got extra_steps={self.extra_steps!r}")

    def modular_spec(self) -> ModularSpec:
        return ModularSpec(self.input_dim, self.n_modules, self.width, self.depth)

    def spec(self) -> MLPSpec | ModularSpec:
        modular = self.modular_spec()
        if self.method == "monolithic":
            return MLPSpec.for_n_params(modular.n_params, self.input_dim, self.depth)
        return modular

    def ensemble_key(self) -> tuple:
        """Runs with equal keys train together (everything but the seed)."""
        fields = dataclasses.asdict(self)
        fields.pop("seed")
        return tuple(sorted((k, str(v)) for k, v in fields.items()))


def run_sample_batch(runs: Sequence[SampleRun], *, device: str = "auto") -> list[dict]:
    """Train ``runs`` (equal ``ensemble_key()``) as one ensemble; one result per run, in order.

    Each result: ``test_mse``, ``train_mse``, ``initial_train_mse``, ``diverged`` (a non-finite
    loss, or a final training loss above the initial one), ``predict_zero_loss`` (mean squared
    test target: the MSE of predicting 0), ``n_params_actual``, ``width_actual``, and for the
    kernel method the initialisation's cost per model (``init_flops``, ``init_wall_time_s``,
    ``init_batch_size``, ``init_n_steps``, ``init_n_restarts``) and ``start_similarity`` (best-match
    |cos| of the initial U with the true directions; also for random and oracle)."""
    runs = list(runs)
    first = runs[0]
    tasks, (x_train, y_train, x_test, y_test), seeds = batch_data(runs, "run_sample_batch")
    spec = first.spec()
    extra: dict[str, list] = {}
    if first.method == "kernel":
        settings = capped_settings(first.kernel_settings, first.n_train)
        fitted = kr.kernel_rule_init(spec, x_train, y_train, seeds=seeds, settings=settings, device=device)
        spec = fitted.spec
        cost = fitted.cost
        per_model = {"init_flops": cost.flops / cost.n_models, "init_wall_time_s": cost.wall_time_s / cost.n_models,
                     "init_batch_size": cost.batch_size, "init_n_steps": cost.n_steps,
                     "init_n_restarts": cost.n_restarts // cost.n_models}
        extra = {key: [value] * len(runs) for key, value in per_model.items()}
    elif first.method == "oracle":
        spec = spec.with_init_projections({seed: task.directions for seed, task in zip(seeds, tasks)})
    if first.method != "monolithic":
        initial = [spec.init(seed=seed)[0].numpy().T[:, :, None] for seed in seeds]  # (K, m, 1) each
        extra["start_similarity"] = [kr.best_match_similarity(u, task.directions) for u, task in zip(initial, tasks)]
    settings = TrainSettings(n_steps=first.n_steps + first.extra_steps, lr=first.lr, batch_size=first.batch_size)
    result = train_ensemble(spec, seeds, x_train, y_train, x_test, y_test, settings=settings, device=device)
    out = []
    for i in range(len(runs)):
        train, test, initial_train = (float(result.final_train_mse[i]), float(result.final_test_mse[i]),
                                      float(result.train_mse[i, 0]))
        diverged = not (math.isfinite(train) and math.isfinite(test)) or train > initial_train
        out.append({"test_mse": test, "train_mse": train, "initial_train_mse": initial_train, "diverged": diverged,
                    "predict_zero_loss": float(np.mean(y_test[i] ** 2)), "n_params_actual": spec.n_params,
                    "width_actual": spec.width, **{key: values[i] for key, values in extra.items()}})
    return out


def compute_matched_steps(kernel_runs: pd.DataFrame, spec: ModularSpec, batch_size: int | None) -> pd.Series:
    """Extra training steps for the compute-matched random-U baseline, per kernel run: that run's
    initialisation FLOPs as training steps of ``spec`` at the run's training minibatch
    (``batch_size`` capped at its n_train; None = full batch), by
    :meth:`modcore.kernel_rule.InitCost.training_steps_equivalent`, rounded up."""
    def steps(row) -> int:
        cost = kr.InitCost(wall_time_s=row.init_wall_time_s, flops=row.init_flops, n_restarts=int(row.init_n_restarts),
                           n_steps=int(row.init_n_steps), batch_size=int(row.init_batch_size))
        batch = int(row.n_train) if batch_size is None else min(batch_size, int(row.n_train))
        return int(math.ceil(cost.training_steps_equivalent(spec, batch)))
    return kernel_runs.apply(steps, axis=1)


@dataclasses.dataclass(frozen=True)
class SampleDesign:
    """The grid of Fig. 4a: every method at every m and n, for ``n_seeds`` seeds."""

    input_dim_values: Sequence[int]
    n_train_values: Sequence[int]
    n_modules: int
    n_seeds: int
    methods: Sequence[str] = METHODS
    seed: int = 0

    def __post_init__(self):
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown methods={sorted(unknown)}; choose from {METHODS}")
        if list(self.n_train_values) != sorted(set(self.n_train_values)):
            raise ValueError(f"n_train_values must be increasing, got {self.n_train_values!r}")

    def runs(self, method: str, **protocol) -> list[SampleRun]:
        return [SampleRun(method=method, input_dim=m, n_modules=self.n_modules, n_train=n, seed=self.seed + s,
                          **protocol)
                for m in self.input_dim_values for n in self.n_train_values for s in range(self.n_seeds)]

    def estimated_model_steps(self, n_steps: int, batch_size: int | None, width: int, depth: int = DEFAULT_DEPTH,
                              extra_steps: float = 0.0) -> float:
        """Training cost in width-128-MLP steps on 1000 points (the unit of the project's speed
        notes), from multiply-adds: batch x FLOPs per example x steps, over all runs."""
        reference = MLPSpec(8, 128).flops_per_example() * 1000
        total = 0.0
        for method in self.methods:
            for run in self.runs(method, width=width, depth=depth):
                batch = run.n_train if batch_size is None else min(batch_size, run.n_train)
                steps = n_steps + (extra_steps if method == "random_compute_matched" else 0)
                total += batch * run.spec().flops_per_example() * steps / reference
        return total


# What every stored run holds (run_sample_batch); a kernel run also holds the cost of its initialisation.
SAMPLE_KEYS = ("test_mse", "train_mse", "initial_train_mse", "diverged", "predict_zero_loss", "n_params_actual",
               "width_actual")
INIT_KEYS = ("init_flops", "init_wall_time_s", "init_batch_size", "init_n_steps", "init_n_restarts")


def run_design(design: SampleDesign, store: sweeps.ResultStore, *, device: str = "auto", desc: str = "fig4a",
               **protocol) -> pd.DataFrame:
    """Train (or read back from ``store``) every run of ``design``; ``protocol`` (width, n_steps,
    lr, batch_size, n_test, kernel_settings) goes to every run. The compute-matched runs are
    set up from the stored kernel runs, so "kernel" runs first. Returns all runs."""
    batch = functools.partial(run_sample_batch, device=device)
    frames = []
    for method in [m for m in METHODS if m in design.methods and m != "random_compute_matched"]:
        frames.append(sweeps.run_sweep(batch, design.runs(method, **protocol), store,
                                       batch_by=SampleRun.ensemble_key, desc=f"{desc} {method}",
                                       required_keys=SAMPLE_KEYS + (INIT_KEYS if method == "kernel" else ())))
    if "random_compute_matched" in design.methods:
        if "kernel" not in design.methods:
            raise ValueError("the compute-matched baseline needs the 'kernel' method in design.methods")
        kernel = next(f for f in frames if (f.method == "kernel").all())
        template = design.runs("random", **protocol)[0]
        extra = compute_matched_steps(kernel, template.modular_spec(), template.batch_size)
        matched = [dataclasses.replace(run, method="random_compute_matched", extra_steps=int(steps))
                   for run, steps in zip(design.runs("kernel", **protocol), extra)]
        # runs with different extra steps cannot share an ensemble; the key holds extra_steps
        frames.append(sweeps.run_sweep(batch, matched, store, batch_by=SampleRun.ensemble_key,
                                       desc=f"{desc} compute-matched", required_keys=SAMPLE_KEYS))
    columns = ["method", "input_dim", "n_train", "seed", "test_mse", "train_mse", "diverged", "predict_zero_loss",
               "n_params_actual", "width_actual", "extra_steps"]
    optional = ["start_similarity", "init_flops", "init_wall_time_s"]
    return pd.concat([f[columns + [c for c in optional if c in f]] for f in frames], ignore_index=True)


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


def needed_table(runs: pd.DataFrame, target_loss: float) -> pd.DataFrame:
    """One row per (method, input_dim, seed): ``n_needed`` and ``status`` (:func:`samples_needed`),
    or status "diverged" (n_needed NaN) when any run of that curve diverged: a diverged run
    never feeds a verdict."""
    rows = []
    for (method, m, seed), curve in runs.groupby(["method", "input_dim", "seed"], sort=False):
        curve = curve.sort_values("n_train")
        if curve.diverged.any():
            value, status = math.nan, "diverged"
        else:
            value, status = samples_needed(curve.n_train.to_numpy(), curve.test_mse.to_numpy(), target_loss)
        rows.append({"method": method, "input_dim": m, "seed": seed, "n_needed": value, "status": status})
    return pd.DataFrame(rows)


def needed_means(needed: pd.DataFrame) -> pd.DataFrame:
    """Per (method, input_dim): the mean of log10 n_needed over non-diverged seeds, as n
    (``mean``), with a t interval (``low``, ``high``; level 1 - SIGNIFICANCE). If any seed did not
    reach the target, ``status`` is "not_reached" and the mean is inf (not reached by every
    seed within the grid); a below-grid seed enters at the grid's smallest n (an upper bound)."""
    rows = []
    for (method, m), group in needed.groupby(["method", "input_dim"], sort=False):
        usable = group[group.status != "diverged"]
        row = {"method": method, "input_dim": m, "n_seeds": len(usable), "n_diverged": len(group) - len(usable)}
        if len(usable) == 0:
            rows.append({**row, "mean": math.nan, "low": math.nan, "high": math.nan, "status": "diverged"})
        elif (usable.status == "not_reached").any():
            rows.append({**row, "mean": math.inf, "low": math.nan, "high": math.nan, "status": "not_reached"})
        else:
            logs = np.log10(usable.n_needed.to_numpy(float))
            half = (stats.t.ppf(1 - SIGNIFICANCE / 2, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
                    if len(logs) > 1 else math.nan)
            rows.append({**row, "mean": 10 ** logs.mean(), "low": 10 ** (logs.mean() - half),
                         "high": 10 ** (logs.mean() + half), "status": "crossed"})
    return pd.DataFrame(rows)


def paired_needed(needed: pd.DataFrame, method: str, baseline: str) -> tuple[np.ndarray, np.ndarray]:
    """n_needed of ``method`` and ``baseline`` on the (input_dim, seed) pairs where neither diverged."""
    a, b = needed[needed.method == method], needed[needed.method == baseline]
    both = a.merge(b, on=["input_dim", "seed"], suffixes=("_a", "_b"), how="inner")
    both = both[(both.status_a != "diverged") & (both.status_b != "diverged")]
    return both.n_needed_a.to_numpy(float), both.n_needed_b.to_numpy(float)


def lowers_verdict(needed: pd.DataFrame, method: str, baseline: str, *, testable: bool = True) -> dict:
    """Does ``method`` need fewer samples than ``baseline``? The paired sign test over (m, seed)
    (:func:`modcore.experiments.kernel_objective.sign_test`; not-reached counts as more than any
    finite n), the median ratio on pairs where both crossed, and the word ("lower", "higher", "no
    significant difference", or "not testable at these task settings")."""
    values, base = paired_needed(needed, method, baseline)
    test = sign_test(values, base) if len(values) else {"n_pairs": 0, "n_lower": 0, "n_higher": 0, "n_ties": 0,
                                                         "p_lower": 1.0, "p_higher": 1.0,
                                                         "word": "no significant difference"}
    finite = np.isfinite(values) & np.isfinite(base)
    ratio = float(np.median(values[finite] / base[finite])) if finite.any() else math.nan
    word = test["word"] if testable else "not testable at these task settings"
    return {**test, "median_ratio": ratio, "word": word}


def growth_in_m(input_dim, n_needed, *, n_train_values) -> dict[str, float | str]:
    """Growth of n_needed over the m range: OLS of log10 n on m (all seeds' points), the factor
    10^(slope * (m_max - m_min)) with its t interval, and the word "flat" (interval's upper end
    below FLAT_MAX_GROWTH), "grows" (lower end above 1) or "undetermined". Points not reached
    within the grid enter at the grid's largest n, below-grid ones at its smallest (bounds, so
    censoring at large m makes the growth a lower bound); NaN (diverged) points are dropped. With
    more than MAX_CENSORED of the points at the grid's ends, the word is "undetermined"."""
    m = np.asarray(input_dim, dtype=float)
    n = np.asarray(n_needed, dtype=float)
    keep = ~np.isnan(n)
    low_n, high_n = min(n_train_values), max(n_train_values)
    m, n = m[keep], np.clip(n[keep], low_n, high_n)
    censored = np.mean((n <= low_n) | (n >= high_n)) if len(n) else 1.0
    if len(np.unique(m)) < 2 or censored > MAX_CENSORED:
        return {"factor": math.nan, "low": math.nan, "high": math.nan, "word": "undetermined"}
    fit = stats.linregress(m, np.log10(n))
    span = m.max() - m.min()
    if len(m) > 2:
        half = stats.t.ppf(1 - SIGNIFICANCE / 2, len(m) - 2) * fit.stderr
    else:
        half = math.inf
    low, high = 10 ** ((fit.slope - half) * span), 10 ** ((fit.slope + half) * span)
    word = "flat" if high < FLAT_MAX_GROWTH else "grows" if low > 1 else "undetermined"
    return {"factor": 10 ** (fit.slope * span), "low": low, "high": high, "word": word}


def growth_table(needed: pd.DataFrame, n_train_values, *, testable: bool = True) -> pd.DataFrame:
    """:func:`growth_in_m` per method; every word "not testable at these task settings" when the
    target is not testable."""
    rows = {}
    for method, group in needed.groupby("method", sort=False):
        growth = growth_in_m(group.input_dim, group.n_needed, n_train_values=n_train_values)
        rows[method] = {**growth, "word": growth["word"] if testable else "not testable at these task settings"}
    return pd.DataFrame(rows).T


# --- the paper's Fig. 4a ------------------------------------------------------------------------

PAPER_METHODS = {"ours": "kernel", "baseline_monolithic": "monolithic", "baseline_modular": "random"}


def paper_needed(paper: pd.DataFrame) -> pd.DataFrame:
    """The digitised Fig. 4a (columns method, input_dim, n_needed; the paper's method names) as a
    :func:`needed_table` with our method names, one "seed" (the paper's means)."""
    frame = paper.assign(method=paper.method.map(PAPER_METHODS), seed=0, status="crossed")
    if frame.method.isna().any():
        raise ValueError(f"unknown methods in the digitised Fig. 4a: {sorted(set(paper.method) - set(PAPER_METHODS))}")
    return frame[["method", "input_dim", "seed", "n_needed", "status"]]


def verdicts(needed: pd.DataFrame, paper: pd.DataFrame, *, n_train_values, testable: bool) -> dict[str, dict]:
    """Ours and the paper's (same functions on the digitised means, pairs over m) for the two
    claims: the kernel rule lowers sample complexity against random U and against the monolithic
    MLP; and which methods stay flat in m. Each with its agreement word."""
    theirs = paper_needed(paper)
    paper_range = (float(theirs.n_needed.min()), float(theirs.n_needed.max()))
    out = {}
    for baseline in ("random", "monolithic"):
        ours = lowers_verdict(needed, "kernel", baseline, testable=testable)
        reference = lowers_verdict(theirs, "kernel", baseline)
        out[f"kernel_vs_{baseline}"] = {"ours": ours, "paper": reference,
                                        "agreement": agreement(ours["word"], reference["word"], testable=testable)}
    ours_growth = growth_table(needed, n_train_values, testable=testable)
    paper_growth = growth_table(theirs, paper_range)
    for method in ours_growth.index:
        reference = paper_growth.loc[method].to_dict() if method in paper_growth.index else None
        out[f"growth_{method}"] = {"ours": ours_growth.loc[method].to_dict(), "paper": reference,
                                   "agreement": agreement(ours_growth.loc[method, "word"], reference["word"],
                                                          testable=testable) if reference else "no paper value"}
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


def summary_words(results: Mapping[str, dict]) -> str:
    """Names of the claims on which ours and the paper's disagree ("none" if none)."""
    names = [name.replace("_", " ") for name, value in results.items() if value["agreement"] == "disagree"]
    return ", ".join(names) or "none"


def not_reached_counts(needed: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per method: (curves that never reach the target within the grid, non-diverged curves)."""
    usable = needed[needed.status != "diverged"]
    return {method: (int((group.status == "not_reached").sum()), len(group))
            for method, group in usable.groupby("method", sort=False)}


def claims(primary: dict, target_loss: float, seeds) -> dict[str, scorecard.Record]:
    """The scorecard record of Fig. 4a from the verdicts at the paper's threshold (:func:`verdicts`)."""
    tested = ("kernel_vs_random", "kernel_vs_monolithic")
    ours = "; ".join(f"{name.replace('_', ' ')} at test MSE {target_loss:g}: {primary[name]['ours']['word']} "
                     f"({primary[name]['ours']['n_lower']} of {primary[name]['ours']['n_pairs']} pairs need fewer "
                     f"samples)" for name in tested)
    rule = ("paired sign test over (m, seed), one-sided at 5%, against each baseline; agree if the kernel rule "
            "needs fewer samples than both, as the paper's means do; not testable if the threshold is above the "
            "predict-zero loss")
    return {"fig4a_sample_complexity": scorecard.record(
        "fig4a_sample_complexity", ours=ours, seeds=seeds,
        verdict=combined_agreement(primary[name]["agreement"] for name in tested), rule=rule)}
