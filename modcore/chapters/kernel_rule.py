"""The kernel-rule chapter (notebook ``kernel_rule``): the kernel rule's objective (Boopathy et al.,
ICLR 2025, Section 4.2, Eqs. 16-17) along a path from a random direction to a true module
direction, the pilot of Algorithm 1's open settings, and the chosen setting's module recovery on
held-out seeds. What the three kernel-rule chapters share (task and data from one seed, the
pilot's runs, the verdict words) is in :mod:`modcore.runs.kernel_rule`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from modcore import kernel_rule as kr
from modcore import scorecard, stats, sweeps
from modcore.models import DEFAULT_DEPTH, ModularSpec
from modcore.parameters import (DEVICE, DISTINCT, EXISTING_FOLDER, INCREASING, NONEMPTY, POSITIVE, SEED,
                                ChapterParameters, Relation, at_least, each, one_of, param)
from modcore.plots import kernel_rule as kernel_plots
from modcore.runs.kernel_rule import (FOUND_COS, KERNEL_NAME, PATH_STREAM, PILOT_SEED_START, PILOT_TARGET_SHARE,
                                      SIGNIFICANCE, TRAIN_STREAM, PilotDesign, RecoveryRun, agreement, choose_setting,
                                      draw_task, model_seed, pilot_rows, pilot_summary, pilot_table)
from modcore.seeds import derive_seed
from modcore.store import ResultStore, resolve_store

KERNEL_LABELS = {"ntk": "NTK at init", "hidden": "last hidden layer", "rbf": "RBF (median bandwidth)"}
@dataclasses.dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults (papermill needs literals there);
    tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)                    # first seed of the path section; runs use seed, seed + 1, ...
    n_seeds: int = param(10, at_least(2))         # seeds per kernel on the path; the sign tests over seeds need two
    input_dim: int = param(6, at_least(1))        # m (paper does not say)
    n_modules: int = param(3, at_least(1))        # task modules k
    kernel_values: list[str] = param(["ntk", "hidden", "rbf"], NONEMPTY, DISTINCT, each(KERNEL_NAME))  # on the path
    width: int = param(16, at_least(1))           # module MLP width, the network of "ntk" and "hidden" (our choice)
    n_points: int = param(21, at_least(3))        # directions along each path: its two ends and a point between
    path_batch_size: int = param(256, at_least(2))  # minibatch of the path's objective (kernel matrix B x B)
    pilot_seed: int = param(1000, SEED, at_least(PILOT_SEED_START))  # first pilot seed: no later chapter uses these
    pilot_n_seeds: int = param(5, at_least(2))    # pilot seeds; a standard error needs two
    pilot_n_train: int = param(2000, at_least(2))  # training points of the pilot's tasks
    pilot_kernels: list[str] = param(["ntk", "hidden", "rbf"], NONEMPTY, DISTINCT, each(KERNEL_NAME))  # the grid ...
    pilot_eps_values: list[float] = param([0.001, 0.01, 0.1, 1.0], NONEMPTY, DISTINCT, each(POSITIVE))  # ... ridge eps
    pilot_batch_sizes: list[int] = param([32, 64, 128], NONEMPTY, INCREASING, each(at_least(2)))  # ... minibatch B
    pilot_steps_values: list[int] = param([30, 100, 300], NONEMPTY, INCREASING, each(at_least(1)))  # ... steps
    pilot_restart_factors: list[int] = param([1, 2, 4], NONEMPTY, INCREASING, each(at_least(1)))  # ... K / k
    pilot_rerun: str = param("chosen", one_of("chosen", "all"))  # stored grid: rerun the chosen setting's fits, or all
    network_module_factor: int = param(2, at_least(1))  # network modules K = factor * k (paper's t-SNE: 20 for 10)
    kernel: str = param("rbf", KERNEL_NAME)     # Algorithm 1's settings: the pilot's choice (checked in the chapter)
    kernel_eps: float = param(0.001, POSITIVE)
    kernel_batch_size: int = param(64, at_least(2))
    kernel_n_steps: int = param(300, at_least(1))
    kernel_lr: float = param(0.02, POSITIVE)      # Algorithm 1's Adam learning rate (our choice)
    device: str = param("cpu", *DEVICE)
    results_dir: str | None = param(None, EXISTING_FOLDER)  # None: results/kernel_rule

    def relations(self):
        # the chapter's seeds stay below the pilot's, so no comparison reuses a pilot task
        yield Relation(("seed", "n_seeds", "pilot_seed"), "seed + n_seeds <= pilot_seed",
                       self.seed + self.n_seeds <= self.pilot_seed)
        # the pilot must score the network's K
        yield Relation(("network_module_factor", "pilot_restart_factors"),
                       "network_module_factor in pilot_restart_factors",
                       self.network_module_factor in self.pilot_restart_factors)
        yield Relation(("pilot_batch_sizes", "pilot_n_train"), "max(pilot_batch_sizes) <= pilot_n_train",
                       max(self.pilot_batch_sizes) <= self.pilot_n_train)

    @property
    def n_restarts(self) -> int:
        return self.network_module_factor * self.n_modules

    @property
    def seeds(self) -> range:
        return range(self.seed, self.seed + self.n_seeds)

    def store(self) -> ResultStore:
        return resolve_store(self.results_dir, "kernel_rule")


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
    """``alpha``, ``cos_to_truth`` (|cos| of u(a) with u_1) and ``objective`` along the path. The
    path runs between unit vectors: the task's u_1 is not one (its norm is about sqrt(m) under the
    calibrated "gaussian" direction law), and only its direction matters to the objective."""
    task = draw_task(run.input_dim, run.n_modules, run.seed)
    x, y = task.sample(run.batch_size, seed=derive_seed(run.seed, TRAIN_STREAM))
    truth = task.directions[0, :, 0] / np.linalg.norm(task.directions[0, :, 0])
    random_direction = np.random.default_rng(derive_seed(run.seed, PATH_STREAM)).standard_normal(run.input_dim)
    random_direction /= np.linalg.norm(random_direction)
    alpha = np.linspace(0.0, 1.0, run.n_points)
    path = (1 - alpha)[:, None] * random_direction + alpha[:, None] * truth  # (n_points, m)
    path /= np.linalg.norm(path, axis=1, keepdims=True)
    network = kr.module_network(ModularSpec(run.input_dim, run.n_modules, run.width, run.depth))
    weights = [w.double() for w in network.init(seed=model_seed(run.seed))]
    projections = torch.as_tensor(path[:, :, None], dtype=torch.float64)  # (n_points, m, 1)
    objective = kr.kernel_objective(projections, x, y, kernel=run.kernel, eps=run.eps, network=network,
                                    network_params=weights)
    cos_to_truth = kr.abs_cosines(path, task.directions[0, :, 0])[0]  # (n_points,)
    return {"alpha": alpha.tolist(), "cos_to_truth": cos_to_truth.tolist(), "objective": objective.numpy().tolist()}


def path_design(kernels: Sequence[str], *, input_dim: int, n_modules: int, batch_size: int, seed: int,
                n_seeds: int, eps: float, width: int, n_points: int) -> list[PathRun]:
    """The path section's runs: every kernel on seeds seed .. seed + n_seeds - 1."""
    return [PathRun(kernel=kernel, input_dim=input_dim, n_modules=n_modules, batch_size=batch_size, seed=seed + s,
                    eps=eps, width=width, n_points=n_points) for kernel in kernels for s in range(n_seeds)]


def identity_check(runs: Sequence[PathRun]) -> dict[str, dict]:
    """:func:`objective_as_weight_norm` for the first run of each kernel."""
    first = {}
    for run in runs:
        first.setdefault(run.kernel, run)
    return {kernel: objective_as_weight_norm(run) for kernel, run in first.items()}


def sweep_paths(runs: Sequence[PathRun], store: ResultStore, *, desc: str = "paths") -> pd.DataFrame:
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
        verdict = stats.proportion_verdict(near, len(at_minimum), alpha=SIGNIFICANCE)
        test = stats.sign_test(truth.to_numpy(), start.to_numpy(), alpha=SIGNIFICANCE)
        rows[kernel] = {"n_seeds": len(at_minimum), "median_cos_at_minimum": float(at_minimum.median()),
                        "near_truth": near, "near_truth_low": verdict["low"], "near_truth_high": verdict["high"],
                        "near_truth_word": verdict["word"], "truth_below_random": test["n_lower"],
                        "truth_below_random_p": test["p_lower"],
                        "median_truth_over_random": float((truth / start).median())}
    return pd.DataFrame(rows).T


def objective_as_weight_norm(run: PathRun) -> dict[str, float]:
    """Eqs. 16-17 checked on one minibatch: with features Phi (B x r) such that Phi Phi^T = K (from
    K's eigendecomposition), the ridge problem min_theta |theta|^2 + |y - Phi theta|^2 / eps has the
    value y^T (K + eps I)^(-1) y, the objective; as eps -> 0 with Phi of full row rank it is the
    squared norm of the minimum-norm interpolating weights. Evaluated at the task's first true
    direction. Returns ``objective``, ``ridge_value``, ``weight_norm2`` (|theta|^2 alone) and
    ``relative_gap`` between the first two."""
    task = draw_task(run.input_dim, run.n_modules, run.seed)
    x, y = task.sample(run.batch_size, seed=derive_seed(run.seed, TRAIN_STREAM))
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



# --- what the kernel_rule chapter glues -------------------------------------------------------------

def path_words(identity: dict[str, dict], paths: pd.DataFrame, *, default_kernel: str) -> dict[str, object]:
    """The glued values of the chapter's first two sections: the ridge identity's largest gap
    (``kr_identity_gap``) and, per kernel, the path summary (:func:`path_summary`)."""
    words: dict[str, object] = {"kr_identity_gap": max(value["relative_gap"] for value in identity.values()),
                                "kr_found_cos": FOUND_COS}
    table = path_summary(paths)
    for kernel, row in table.iterrows():
        words.update({f"kr_{kernel}_near": f"{row.near_truth} of {row.n_seeds}",
                      f"kr_{kernel}_near_word": row.near_truth_word,
                      f"kr_{kernel}_median_cos": float(row.median_cos_at_minimum),
                      f"kr_{kernel}_below": f"{row.truth_below_random} of {row.n_seeds}",
                      f"kr_{kernel}_below_p": float(row.truth_below_random_p),
                      f"kr_{kernel}_ratio": float(row.median_truth_over_random)})
    words["kr_default_path_agreement"] = agreement(table.loc[default_kernel, "near_truth_word"], "yes")
    return words


def pilot_words(design: PilotDesign, summary: pd.DataFrame, chosen: dict, comparison: dict, *, defaults: dict,
                n_restarts: int) -> dict[str, object]:
    """The glued values of the pilot section: the chosen setting and whether it is the chapters'
    default (``kr_choice_is_default``: "yes" / "no", the defaults being ``defaults`` = kernel,
    eps, batch_size, n_steps), its recovery against random directions at K = k, ``n_restarts``
    and 4k, whether it meets the target share, and the rerun's comparison with the stored table."""
    n_modules = design.n_modules
    seeds = (design.seed, design.seed + design.n_seeds - 1)
    summary_design = {"input_dim": design.input_dim, "n_train": design.n_train}
    picked = {key: chosen[key] for key in ("kernel", "eps", "batch_size", "n_steps")}
    same = (picked["kernel"] == defaults["kernel"] and math.isclose(float(picked["eps"]), float(defaults["eps"]))
            and int(picked["batch_size"]) == int(defaults["batch_size"])
            and int(picked["n_steps"]) == int(defaults["n_steps"]))
    words: dict[str, object] = {
        "kr_choice_kernel": str(picked["kernel"]), "kr_choice_eps": float(picked["eps"]),
        "kr_choice_batch": int(picked["batch_size"]), "kr_choice_steps": int(picked["n_steps"]),
        "kr_choice_is_default": "yes" if same else "no", "kr_choice_tied": int(chosen["n_tied"]),
        "kr_best_share": float(chosen["best_share"]), "kr_n_settings": int((summary.n_restarts == n_restarts).sum()),
        "kr_target_share": PILOT_TARGET_SHARE, "kr_n_restarts": n_restarts, "kr_n_modules": n_modules,
        "kr_target_met": "meets" if chosen["share"] >= PILOT_TARGET_SHARE else "does not meet",
        "kr_pilot_seed_range": f"{seeds[0]}-{seeds[1]}", "kr_input_dim": int(summary_design["input_dim"]),
        "kr_pilot_n_train": int(summary_design["n_train"])}
    setting = summary[(summary.kernel == picked["kernel"]) & np.isclose(summary.eps, float(picked["eps"]))
                      & (summary.batch_size == picked["batch_size"]) & (summary.n_steps == picked["n_steps"])]
    parts = []
    for _, row in setting.sort_values("n_restarts").iterrows():
        label = "k" if row.n_restarts == n_modules else f"{row.n_restarts // n_modules}k"
        parts.append(f"K = {label}: {row.share:.2f} (random starts {row.start_share:.2f})")
        if row.n_restarts == n_restarts:
            words.update({"kr_share": float(row.share), "kr_share_se": float(row.share_se),
                          "kr_random_share": float(row.start_share), "kr_duplicates": float(row.n_duplicates),
                          "kr_matched": float(row.matched)})
    words["kr_restarts_sentence"] = "; ".join(parts)
    if comparison["compared"]:
        verb = "equal" if comparison["matches"] else "DIFFER FROM"
        words["kr_rerun"] = (f"{comparison['compared']} rerun rows {verb} the stored ones (largest difference {comparison['max_difference']:.1e})")
    else:
        words["kr_rerun"] = "this pilot's grid is not the stored one, so every row above was run here and none compared"
    return words


def pilot_top(summary: pd.DataFrame, *, n_restarts: int, n_rows: int = 8) -> pd.DataFrame:
    """The ``n_rows`` settings with the highest mean recovery share at ``n_restarts`` restarts,
    cheapest first among equals: the table the chapter shows."""
    at = summary[summary.n_restarts == n_restarts]
    shown = at.sort_values(["share", "flops_per_restart"], ascending=[False, True]).head(n_rows)
    return shown[["kernel", "eps", "batch_size", "n_steps", "share", "share_se", "matched", "n_duplicates",
                  "flops_per_restart", "start_share"]].reset_index(drop=True)


def heldout_recovery(chosen: dict, *, seeds: Sequence[int], input_dim: int, n_modules: int, n_train: int,
                     n_restarts: int, width: int, store: ResultStore, device: str = "cpu") -> dict:
    """The chosen setting's recovery on seeds the pilot did not use (the pilot's best of many
    settings is flattered by its own seeds, a winner's curse): per seed the true modules recovered
    by the ``n_restarts`` fitted restarts and by their random starting directions, the mean
    shares, and the paired sign test of fitted against starting counts (word "higher" when the
    fit recovers more, one-sided at SIGNIFICANCE)."""
    runs = [RecoveryRun(kernel=str(chosen["kernel"]), eps=float(chosen["eps"]), batch_size=int(chosen["batch_size"]),
                        seed=int(seed), input_dim=input_dim, n_modules=n_modules, n_train=n_train,
                        n_steps_values=(int(chosen["n_steps"]),), restart_factors=(n_restarts // n_modules,),
                        width=width) for seed in seeds]
    if n_restarts % n_modules:
        raise ValueError(f"n_restarts={n_restarts} must be a multiple of n_modules={n_modules}")
    rows = pilot_rows(runs, store, device=device, desc="held-out recovery")
    test = stats.sign_test(rows.share.to_numpy(), rows.start_share.to_numpy(), alpha=SIGNIFICANCE)
    return {"share": float(rows.share.mean()), "start_share": float(rows.start_share.mean()),
            "n_duplicates": float(rows.n_duplicates.mean()), "matched": float(rows.matched.mean()),
            "n_seeds": len(rows), "seeds": [int(seed) for seed in seeds], "n_better": test["n_higher"],
            "p_better": test["p_higher"],
            "word": "higher" if test["word"] == "higher" else "not higher"}


def heldout_words(heldout: dict) -> dict[str, object]:
    """The glued values of the held-out check (:func:`heldout_recovery`)."""
    return {"kr_heldout_share": heldout["share"], "kr_heldout_start_share": heldout["start_share"],
            "kr_heldout_better": f"{heldout['n_better']} of {heldout['n_seeds']}", "kr_heldout_p": heldout["p_better"],
            "kr_heldout_duplicates": heldout["n_duplicates"], "kr_heldout_verdict": recovery_verdict(heldout),
            "kr_heldout_seeds": f"{heldout['seeds'][0]}-{heldout['seeds'][-1]}"}


def recovery_verdict(heldout: dict) -> str:
    """The scorecard verdict of "Algorithm 1's restarts find the true modules", on held-out seeds:
    "agree" when the mean share recovered reaches PILOT_TARGET_SHARE and the fitted restarts
    recover more than their random starts (sign test); "disagree" when neither holds; else
    "partly"."""
    reaches, better = heldout["share"] >= PILOT_TARGET_SHARE, heldout["word"] == "higher"
    return "agree" if reaches and better else "disagree" if not (reaches or better) else "partly"


def claims(heldout: dict, pilot_glue: dict, *, seeds: Sequence[int]) -> dict[str, scorecard.Record]:
    """The scorecard record of the kernel rule's module recovery (:func:`recovery_verdict`)."""
    glue = pilot_glue
    ours = (f"kernel {glue['kr_choice_kernel']}, eps {glue['kr_choice_eps']:g}, B {glue['kr_choice_batch']}, "
            f"{glue['kr_choice_steps']} steps, K = {glue['kr_n_restarts']} restarts (the pilot's choice, which "
            f"recovered {glue['kr_share']:.2f} on its own seeds): on held-out seeds {heldout['share']:.2f} of the "
            f"true modules recovered vs {heldout['start_share']:.2f} by the random starts (more in "
            f"{heldout['n_better']} of {heldout['n_seeds']} seeds, sign test p = {heldout['p_better']:.3f}); "
            f"{heldout['n_duplicates']:.1f} duplicated restarts per seed (sine task, m = {glue['kr_input_dim']}, "
            f"k = {glue['kr_n_modules']}, n = {glue['kr_pilot_n_train']})")
    rule = (f"agree if the held-out mean share of true modules at |cos| >= {FOUND_COS:g} reaches "
            f"{PILOT_TARGET_SHARE:g} and the fitted restarts recover more than their random starts (paired sign test, "
            f"one-sided at {SIGNIFICANCE * 100:g} %); disagree if neither; partly otherwise")
    return {"algorithm1_recovery": scorecard.record("algorithm1_recovery", ours=ours, seeds=seeds,
                                                    verdict=recovery_verdict(heldout), rule=rule)}


# --- what the notebook calls, one figure or table per function -------------------------------------

def path_runs(p: Parameters) -> list[PathRun]:
    """The path section's runs of ``p``: every kernel of ``kernel_values`` on the chapter's seeds."""
    return path_design(p.kernel_values, input_dim=p.input_dim, n_modules=p.n_modules, batch_size=p.path_batch_size,
                       seed=p.seed, n_seeds=p.n_seeds, eps=p.kernel_eps, width=p.width, n_points=p.n_points)


def paths_figure(paths: pd.DataFrame) -> Figure:
    """The objective along the paths, one panel per kernel (Fig. fig-kernel-rule-paths)."""
    return kernel_plots.objective_paths(paths, KERNEL_LABELS)


@dataclasses.dataclass(frozen=True)
class Pilot:
    """The pilot as the chapter reads it: its grid, its rows (stored or run here), how the rerun
    rows compared with the stored ones, the per-setting summary and the choice rule's pick."""

    design: PilotDesign
    rows: pd.DataFrame
    comparison: dict
    summary: pd.DataFrame
    chosen: dict


def pilot_design(p: Parameters) -> PilotDesign:
    return PilotDesign(kernels=p.pilot_kernels, eps_values=p.pilot_eps_values, batch_sizes=p.pilot_batch_sizes,
                       n_steps_values=p.pilot_steps_values, restart_factors=p.pilot_restart_factors,
                       n_seeds=p.pilot_n_seeds, seed=p.pilot_seed, input_dim=p.input_dim, n_modules=p.n_modules,
                       n_train=p.pilot_n_train, width=p.width)


def pilot(p: Parameters, store: ResultStore) -> Pilot:
    """The pilot's rows (:func:`modcore.runs.kernel_rule.pilot_table`), summary and chosen setting."""
    design = pilot_design(p)
    rows, comparison = pilot_table(design, store, rerun=p.pilot_rerun, n_restarts=p.n_restarts, device=p.device)
    summary = pilot_summary(rows)
    return Pilot(design, rows, comparison, summary, choose_setting(summary, n_restarts=p.n_restarts))


def pilot_best(p: Parameters, result: Pilot) -> pd.DataFrame:
    """The pilot's best settings at the network's K (the table the chapter shows)."""
    return pilot_top(result.summary, n_restarts=p.n_restarts)


def pilot_figure(p: Parameters, result: Pilot) -> Figure:
    """Recovery share against steps per kernel and minibatch (Fig. fig-kernel-rule-pilot)."""
    return kernel_plots.pilot_recovery(result.summary, n_restarts=p.n_restarts, chosen=result.chosen,
                                       kernel_labels=KERNEL_LABELS)


def heldout(p: Parameters, result: Pilot, store: ResultStore) -> dict:
    """The chosen setting's recovery on the chapter's own seeds (:func:`heldout_recovery`)."""
    return heldout_recovery(result.chosen, seeds=p.seeds, input_dim=p.input_dim, n_modules=p.n_modules,
                            n_train=p.pilot_n_train, n_restarts=p.n_restarts, width=p.width, store=store,
                            device=p.device)


def glued(p: Parameters, identity: dict[str, dict], paths: pd.DataFrame, result: Pilot,
          held_out: dict) -> dict[str, object]:
    """Every word and number the prose quotes, keyed by glue name."""
    defaults = {"kernel": p.kernel, "eps": p.kernel_eps, "batch_size": p.kernel_batch_size,
                "n_steps": p.kernel_n_steps}
    return {**path_words(identity, paths, default_kernel=p.kernel_values[0]),
            **pilot_words(result.design, result.summary, result.chosen, result.comparison, defaults=defaults,
                          n_restarts=p.n_restarts),
            **heldout_words(held_out),
            "kr_confidence_percent": (1 - SIGNIFICANCE) * 100}  # the Clopper-Pearson interval's level
