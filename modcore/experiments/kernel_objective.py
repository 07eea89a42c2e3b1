"""Runs behind the ``kernel_rule`` chapter: the kernel rule's objective (Boopathy et al., ICLR 2025,
Section 4.2, Eqs. 16-17) along a path from a random direction to a true module direction, and
where the rule's random restarts land; plus what the three kernel-rule chapters share (task and
data drawn from one seed, the sign test and the verdict words).

Every run is a frozen dataclass (everything that fixes its numbers, seed included) computed
through :func:`modcore.sweeps.run_sweep`, so an interrupted sweep resumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from modcore import kernel_rule as kr
from modcore import scorecard, sweeps
from modcore.models import DEFAULT_DEPTH, ModularSpec
from modcore.seeds import derive_seed
from modcore.tasks.sine import SineTask

# Our thresholds for the verdict words (the paper states these claims in words only; see the
# book's choices page): a learned direction "finds" a true module when |cos| >= FOUND_COS; a
# statistical statement is made at level SIGNIFICANCE (one-sided tests, two-sided intervals).
FOUND_COS = 0.9
SIGNIFICANCE = 0.05
# Purposes of the independent random streams drawn from one run seed.
_TASK, _TRAIN, _TEST, _MODEL, _PATH = range(5)


def draw_task(input_dim: int, n_modules: int, seed: int) -> SineTask:
    """The sine task of run ``seed``: every setting but the shape is SineTask's default."""
    return SineTask(input_dim, n_modules, seed=derive_seed(seed, _TASK))


def draw_data(task: SineTask, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) of run ``seed``. Test labels carry the task's label
    noise like the training labels, as in the calibration and Fig. 2 chapters, so that a test
    loss here is measured as the paper's losses were matched there (its thresholds 1.2 and 1.5
    then compare with the same scale). Training sets are nested in ``n_train`` (SineTask.sample's
    first points do not depend on n)."""
    x_train, y_train = task.sample(n_train, seed=derive_seed(seed, _TRAIN))
    x_test, y_test = task.sample(n_test, seed=derive_seed(seed, _TEST))
    return x_train, y_train, x_test, y_test


def model_seed(seed: int) -> int:
    """The seed of run ``seed``'s network initialisation (its module MLPs and random U)."""
    return derive_seed(seed, _MODEL)


def batch_data(runs: Sequence, name: str) -> tuple[list[SineTask], tuple[np.ndarray, ...], list[int]]:
    """For runs that train as one ensemble (equal ``ensemble_key()``): their tasks, their stacked
    (x_train, y_train, x_test, y_test) and their models' seeds; ``name`` is the caller, for the error."""
    if len({run.ensemble_key() for run in runs}) != 1:
        raise ValueError(f"{name} needs runs that share ensemble_key(); group them with batch_by")
    tasks = [draw_task(run.input_dim, run.n_modules, run.seed) for run in runs]
    data = [draw_data(task, run.n_train, run.n_test, run.seed) for task, run in zip(tasks, runs)]
    return tasks, tuple(np.stack(column) for column in zip(*data)), [model_seed(run.seed) for run in runs]


# --- statistics shared by the chapters --------------------------------------------------------


def sign_test(values, baseline) -> dict[str, float | int | str]:
    """Paired sign test of ``values`` against ``baseline`` (equal-length arrays; inf allowed: a
    value not reached within a grid compares as larger than every finite one, two infs tie).

    Returns counts (``n_lower``, ``n_higher``, ``n_ties``), the one-sided p-values of "lower"
    and "higher" (binomial on the untied pairs), and ``word``: "lower" or "higher" when that
    p-value is below SIGNIFICANCE, else "no significant difference".
    """
    a, b = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"values and baseline must be 1-d of equal length, got shapes {a.shape} and {b.shape}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("values and baseline must not hold NaN (drop diverged runs first)")
    lower, higher = int(np.sum(a < b)), int(np.sum(a > b))
    untied = lower + higher
    p_lower = stats.binomtest(lower, untied, 0.5, alternative="greater").pvalue if untied else 1.0
    p_higher = stats.binomtest(higher, untied, 0.5, alternative="greater").pvalue if untied else 1.0
    word = "lower" if p_lower < SIGNIFICANCE else "higher" if p_higher < SIGNIFICANCE else "no significant difference"
    return {"n_pairs": int(a.size), "n_lower": lower, "n_higher": higher, "n_ties": int(a.size - untied),
            "p_lower": float(p_lower), "p_higher": float(p_higher), "word": word}


def proportion_verdict(successes: int, trials: int) -> dict[str, float | str]:
    """"yes" when the Clopper-Pearson interval (level 1 - SIGNIFICANCE) of the success rate lies
    above 1/2, "no" when below, else "undetermined"; with the interval's ends."""
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials=}")
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=1 - SIGNIFICANCE)
    word = "yes" if interval.low > 0.5 else "no" if interval.high < 0.5 else "undetermined"
    return {"rate": successes / trials, "low": float(interval.low), "high": float(interval.high), "word": word}


def agreement(ours: str, paper: str, *, testable: bool = True) -> str:
    """"agree" / "disagree" between two verdict words; "inconclusive" when ours found no
    significant effect; "not testable at these task settings" when the comparison is not."""
    if not testable:
        return "not testable at these task settings"
    if ours in ("no significant difference", "undetermined"):
        return "inconclusive"
    return "agree" if ours == paper else "disagree"



def combined_agreement(agreements) -> str:
    """Several :func:`agreement` words combined into one scorecard verdict
    (:func:`modcore.scorecard.combined_verdict`)."""
    return scorecard.combined_verdict("not testable" if word.startswith("not testable") else word
                                      for word in agreements)

# --- the objective along a path ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PathRun:
    """The objective L(u) on one minibatch of ``batch_size`` points, at ``n_points`` directions
    u(a) = normalise((1 - a) r + a u_1), a in [0, 1], from a random unit direction r to the task's
    first true direction u_1 (module dimension 1, the paper's sine task). The kernel's network (for
    "ntk" and "hidden") is one freshly initialised module MLP of ``width`` x ``depth``."""

    kernel: str
    input_dim: int
    n_modules: int
    batch_size: int
    seed: int
    eps: float = kr.DEFAULT_EPS
    width: int = 16
    depth: int = DEFAULT_DEPTH
    n_points: int = 21

    def __post_init__(self):
        if self.n_points < 2:
            raise ValueError(f"n_points must be >= 2, got n_points={self.n_points!r}")


def run_path(run: PathRun) -> dict:
    """``alpha``, ``cos_to_truth`` (|cos| of u(a) with u_1) and ``objective`` along the path."""
    task = draw_task(run.input_dim, run.n_modules, run.seed)
    x, y = task.sample(run.batch_size, seed=derive_seed(run.seed, _TRAIN))
    truth = task.directions[0, :, 0]
    random_direction = np.random.default_rng(derive_seed(run.seed, _PATH)).standard_normal(run.input_dim)
    random_direction /= np.linalg.norm(random_direction)
    alpha = np.linspace(0.0, 1.0, run.n_points)
    path = (1 - alpha)[:, None] * random_direction + alpha[:, None] * truth  # (n_points, m)
    path /= np.linalg.norm(path, axis=1, keepdims=True)
    network = kr.module_network(ModularSpec(run.input_dim, run.n_modules, run.width, run.depth))
    weights = [w.double() for w in network.init(seed=model_seed(run.seed))]
    projections = torch.as_tensor(path[:, :, None], dtype=torch.float64)  # (n_points, m, 1)
    objective = kr.kernel_objective(projections, x, y, kernel=run.kernel, eps=run.eps, network=network,
                                    network_params=weights)
    return {"alpha": alpha.tolist(), "cos_to_truth": np.abs(path @ truth).tolist(),
            "objective": objective.numpy().tolist()}


def sweep_paths(runs: Sequence[PathRun], store: sweeps.ResultStore, *, desc: str = "paths") -> pd.DataFrame:
    """One row per (run, point on the path): kernel, seed, alpha, cos_to_truth, objective, and
    ``relative_objective`` = objective / objective at the random end (a = 0)."""
    frame = sweeps.run_sweep(run_path, runs, store, desc=desc, required_keys=("alpha", "cos_to_truth", "objective"))
    rows = frame[["kernel", "seed", "alpha", "cos_to_truth", "objective"]].explode(
        ["alpha", "cos_to_truth", "objective"]).astype({"alpha": float, "cos_to_truth": float, "objective": float})
    start = rows.groupby(["kernel", "seed"]).objective.transform("first")
    return rows.assign(relative_objective=rows.objective / start).reset_index(drop=True)


def path_summary(paths: pd.DataFrame) -> pd.DataFrame:
    """Per kernel, over seeds: where the objective is lowest along the path, and whether it is
    lower at the truth than at the random start.

    Columns: ``n_seeds``; ``median_cos_at_minimum`` (|cos| with u_1 of each seed's argmin);
    ``near_truth`` (seeds whose argmin has |cos| >= FOUND_COS) with its rate's interval and
    verdict word (:func:`proportion_verdict`); ``truth_below_random`` (seeds with L(u_1) < L(r))
    with the sign test's one-sided p-value; ``median_truth_over_random`` (L(u_1) / L(r))."""
    rows = {}
    for kernel, frame in paths.groupby("kernel", sort=False):
        per_seed = frame.groupby("seed")
        at_minimum = per_seed.apply(lambda f: f.cos_to_truth.iloc[int(np.argmin(f.objective.to_numpy()))],
                                    include_groups=False)
        truth, start = per_seed.objective.last(), per_seed.objective.first()
        near = int((at_minimum >= FOUND_COS).sum())
        verdict = proportion_verdict(near, len(at_minimum))
        test = sign_test(truth.to_numpy(), start.to_numpy())
        rows[kernel] = {"n_seeds": len(at_minimum), "median_cos_at_minimum": float(at_minimum.median()),
                        "near_truth": near, "near_truth_low": verdict["low"], "near_truth_high": verdict["high"],
                        "near_truth_word": verdict["word"], "truth_below_random": test["n_lower"],
                        "truth_below_random_p": test["p_lower"],
                        "median_truth_over_random": float((truth / start).median())}
    return pd.DataFrame(rows).T


# --- where the restarts land ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RestartRun:
    """Algorithm 1 alone (:func:`modcore.kernel_rule.fit_projections`): ``n_restarts`` restarts on
    ``n_train`` points of one task, module networks of ``width`` x ``depth``."""

    input_dim: int
    n_modules: int
    n_restarts: int
    n_train: int
    seed: int
    settings: kr.KernelRuleSettings = kr.KernelRuleSettings()
    width: int = 16
    depth: int = DEFAULT_DEPTH


def landing(projections, true_directions) -> dict[str, float | int | list]:
    """Where learned directions sit relative to the true ones: each one's nearest true module and
    |cos| with it, how many true modules were found (some learned |cos| >= FOUND_COS), how many
    learned ones duplicate a module already found, and the two similarity scores of Fig. 5."""
    cosines = kr.abs_cosines(projections, true_directions)  # (n_true, n_learned)
    nearest, best = cosines.argmax(axis=0), cosines.max(axis=0)
    landed = nearest[best >= FOUND_COS]
    return {"nearest": nearest.tolist(), "cos_nearest": best.tolist(), "n_found": int(len(set(landed.tolist()))),
            "n_duplicates": int(len(landed) - len(set(landed.tolist()))),
            "best_match_similarity": kr.best_match_similarity(projections, true_directions),
            "matched_similarity": kr.matched_similarity(projections, true_directions)}


def run_restarts(run: RestartRun, *, device: str = "cpu") -> dict:
    """:func:`landing` of the fitted restarts, and (prefixed ``start_``) of their random starting
    points: the same restarts with zero steps, the paired baseline."""
    task = draw_task(run.input_dim, run.n_modules, run.seed)
    x, y = task.sample(run.n_train, seed=derive_seed(run.seed, _TRAIN))
    spec = ModularSpec(run.input_dim, run.n_modules, run.width, run.depth)
    settings = capped_settings(run.settings, run.n_train)
    common = dict(seed=model_seed(run.seed), n_restarts=run.n_restarts, device=device)
    fit = kr.fit_projections(spec, x, y, settings=settings, **common)
    start = kr.fit_projections(spec, x, y, settings=dataclasses.replace(settings, n_steps=0), **common)
    final_objective = fit.objective[:, -1] if fit.objective.shape[1] else np.full(run.n_restarts, np.nan)
    return {**landing(fit.projections, task.directions),
            **{f"start_{k}": v for k, v in landing(start.projections, task.directions).items()},
            "final_objective": final_objective.tolist(), "init_wall_time_s": fit.cost.wall_time_s,
            "init_flops": fit.cost.flops}


def capped_settings(settings: kr.KernelRuleSettings, n_train: int) -> kr.KernelRuleSettings:
    """Algorithm 1's settings for a training set of ``n_train`` points: a set smaller than the
    kernel minibatch is used whole (batch_size None)."""
    if settings.batch_size is None or settings.batch_size >= n_train:
        return dataclasses.replace(settings, batch_size=None)
    return settings


def sweep_restarts(runs: Sequence[RestartRun], store: sweeps.ResultStore, *, device: str = "cpu",
                   desc: str = "restarts") -> pd.DataFrame:
    """One row per run (see :func:`run_restarts`), with the kernel's name as a column."""
    frame = sweeps.run_sweep(lambda run: run_restarts(run, device=device), runs, store, desc=desc,
                             required_keys=("nearest", "cos_nearest", "n_found", "n_duplicates", "best_match_similarity",
                                            "matched_similarity", "start_n_found", "start_best_match_similarity",
                                            "start_matched_similarity", "final_objective", "init_flops"))
    return frame.assign(kernel=[run.settings.kernel for run in runs])


def restart_summary(restarts: pd.DataFrame) -> pd.DataFrame:
    """Per kernel, means over seeds of modules found, duplicates and matched similarity (fitted and
    at the random starts), and the sign test of fitted against starting matched similarity."""
    rows = {}
    for kernel, frame in restarts.groupby("kernel", sort=False):
        test = sign_test(frame.matched_similarity.to_numpy(), frame.start_matched_similarity.to_numpy())
        rows[kernel] = {"n_seeds": len(frame), "n_found": frame.n_found.mean(),
                        "start_n_found": frame.start_n_found.mean(), "n_duplicates": frame.n_duplicates.mean(),
                        "matched_similarity": frame.matched_similarity.mean(),
                        "start_matched_similarity": frame.start_matched_similarity.mean(),
                        "best_match_similarity": frame.best_match_similarity.mean(),
                        "n_better": test["n_higher"], "p_better": test["p_higher"],
                        "word": {"higher": "better than", "lower": "worse than"}.get(test["word"], "no better than"),
                        "init_flops": frame.init_flops.mean()}
    return pd.DataFrame(rows).T


def landing_counts(restarts: pd.DataFrame, n_modules: int) -> pd.DataFrame:
    """Per kernel and true module: how many restarts (over all seeds) landed on it (|cos| >=
    FOUND_COS), plus a column "none" for restarts that found no module."""
    rows = {}
    for kernel, frame in restarts.groupby("kernel", sort=False):
        counts = np.zeros(n_modules + 1, dtype=int)
        for nearest, best in zip(frame.nearest, frame.cos_nearest):
            for module, cosine in zip(nearest, best):
                counts[module if cosine >= FOUND_COS else n_modules] += 1
        rows[kernel] = counts
    return pd.DataFrame(rows, index=[f"module {i + 1}" for i in range(n_modules)] + ["none"]).T


def objective_as_weight_norm(run: PathRun) -> dict[str, float]:
    """Eqs. 16-17 checked on one minibatch: with features Phi (B x r) such that Phi Phi^T = K (from
    K's eigendecomposition), the ridge problem min_theta |theta|^2 + |y - Phi theta|^2 / eps has the
    value y^T (K + eps I)^(-1) y, the objective; as eps -> 0 with Phi of full row rank it is the
    squared norm of the minimum-norm interpolating weights. Evaluated at the task's first true
    direction. Returns ``objective``, ``ridge_value``, ``weight_norm2`` (|theta|^2 alone) and
    ``relative_gap`` between the first two."""
    task = draw_task(run.input_dim, run.n_modules, run.seed)
    x, y = task.sample(run.batch_size, seed=derive_seed(run.seed, _TRAIN))
    u = torch.as_tensor(task.directions[:1], dtype=torch.float64)  # (1, m, 1)
    network = kr.module_network(ModularSpec(run.input_dim, run.n_modules, run.width, run.depth))
    weights = [w.double() for w in network.init(seed=model_seed(run.seed))]
    objective = float(kr.kernel_objective(u, x, y, kernel=run.kernel, eps=run.eps, network=network,
                                          network_params=weights)[0])
    z = torch.bmm(torch.as_tensor(x, dtype=torch.float64)[None], u)
    gram = kr.kernel_matrix(z, kernel=run.kernel, network=network,
                            network_params=[w.unsqueeze(0) for w in weights])[0].numpy()
    eigenvalues, vectors = np.linalg.eigh(gram)
    features = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))  # (B, B): Phi Phi^T = K
    theta = np.linalg.solve(features.T @ features + run.eps * np.eye(len(y)), features.T @ y)
    residual = y - features @ theta
    ridge = float(theta @ theta + residual @ residual / run.eps)
    return {"objective": objective, "ridge_value": ridge, "weight_norm2": float(theta @ theta),
            "relative_gap": abs(ridge - objective) / objective}
