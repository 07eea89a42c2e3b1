"""Each notebook's workload: what its runs are, from its resolved parameter values alone.

A workload function, registered by notebook name (:func:`workload`), takes the notebook's
resolved parameter values (cell defaults, profile, ``-p`` overrides) as a plain mapping and
returns its :class:`~modcore.estimate.Work`: groups of runs that share one shape. How long a
group takes, and what a whole notebook costs, is :mod:`modcore.estimate`'s (timed probes); this
module only counts. :func:`estimate` puts the two together for one notebook.

Workloads read the parameters by name and import only the generic layers, never the chapters: a
chapter that changes its protocol must update its workload here (the ci estimate/measured test
in tests/test_estimate.py notices a workload that drifts by more than a factor 2).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from modcore.estimate import (BYTES_FLOAT32, BYTES_FLOAT64, Estimate, Work, device_of, kernel_rule_work,
                              linearised_work, monte_carlo_work, overhead_seconds, projected_work, statistics_work,
                              train_work)
from modcore.models import MLPSpec, ModularSpec
from modcore.tasks import sine

Workload = Callable[[Mapping[str, Any]], list[Work]]
WORKLOADS: dict[str, Workload] = {}


def workload(*names: str):
    def register(function: Workload) -> Workload:
        for name in names:
            WORKLOADS[name] = function
        return function
    return register


def _fig2_settings(v: Mapping[str, Any], panels: Sequence[str], n_train_values: Sequence[int]) -> set[tuple]:
    """The distinct (k, m, p, n) of the Fig. 2 sweeps (the grids of each panel, by parameter name)."""
    k_avg, n = v["average_n_modules_values"], [v["n_train"]]
    grids = {
        "n_modules": lambda: (v["n_modules_values"], v["average_input_dim_values"], v["line_n_params_values"], n),
        "input_dim": lambda: (k_avg, v["input_dim_values"], v["line_n_params_values"], n),
        "n_params": lambda: (k_avg, v["line_input_dim_values"], v["n_params_values"], n),
        "n_train": lambda: (k_avg, v["line_input_dim_values"], [v["n_params"]], n_train_values),
    }
    settings = set()
    for panel in panels:
        k_values, m_values, p_values, n_values = grids[panel]()
        settings |= {(k, m, p, nn) for k in k_values for m in m_values for p in p_values for nn in n_values}
    return settings


def _fig2_works(v: Mapping[str, Any], panels: Sequence[str], n_train_values: Sequence[int], label: str) -> list[Work]:
    n_steps = v["n_steps"] or sine.CALIBRATED_N_STEPS
    depth = sine.CALIBRATED_DEPTH
    shapes: dict[tuple[int, int, int], int] = {}  # (m, p, n) -> runs; k changes the task, not the net
    for _, m, p, n in _fig2_settings(v, panels, n_train_values):
        shapes[(m, p, n)] = shapes.get((m, p, n), 0) + v["n_seeds"]
    device = device_of(v)
    return [train_work(f"{label} m={m} p={p} n={n}", MLPSpec.for_n_params(p, m, depth), runs=runs, n_steps=n_steps,
                       batch=n, n_train=n, device=device, n_test=v["n_test"])
            for (m, p, n), runs in sorted(shapes.items())]


@workload("nn_vs_theory")
def nn_vs_theory(v: Mapping[str, Any]) -> list[Work]:
    return _fig2_works(v, ("n_modules", "input_dim", "n_params", "n_train"), v["n_train_values"], "Fig. 2")


@workload("calibration")
def calibration_chapter(v: Mapping[str, Any]) -> list[Work]:
    # rerun_search repeats the stored search (its grid is in the calibration file); not modelled
    # beyond the held-out panels, which every run trains
    return _fig2_works(v, ("n_modules", "input_dim", "n_params"), [v["n_train"]], "held-out panels")


@workload("optimisation_gap")
def optimisation_gap(v: Mapping[str, Any]) -> list[Work]:
    depth, device = sine.CALIBRATED_DEPTH, device_of(v)
    n_steps = v["n_steps"] or sine.CALIBRATED_N_STEPS
    works = []
    for m in v["input_dim_values"]:
        spec = MLPSpec.for_n_params(v["n_params"], m, depth)
        for n in v["n_train_values"]:
            runs = v["n_seeds"]
            works += [
                train_work(f"Adam m={m} n={n}", spec, runs=runs, n_steps=n_steps, batch=n, n_train=n, device=device,
                           n_test=v["n_test"]),
                train_work(f"Adam long m={m} n={n}", spec, runs=runs, n_steps=v["n_steps_long"], batch=n, n_train=n,
                           device=device),
                train_work(f"L-BFGS m={m} n={n}", spec, runs=runs, n_steps=v["n_steps_lbfgs"], batch=n, n_train=n,
                           device=device, optimizer="lbfgs", precision="float64", stacked=1),
                linearised_work(f"linearised m={m} n={n}", spec, runs=runs, n_train=n, n_test=v["n_test"]),
                # each run's task: k sine modules evaluated on its train and test points
                statistics_work(f"tasks m={m} n={n}", flops=10.0 * runs * 4 * (n + v["n_test"]) * v["n_modules"] * m,
                                peak_bytes=BYTES_FLOAT64 * (n + v["n_test"]) * v["n_modules"] * (m + 1)),
            ]
    return works


def _alignment_like(v: Mapping[str, Any], *, label: str, input_dim: int, n_train: int, n_steps: int,
                    factors_kernels: Sequence[tuple[int, str]], seeds_of: Callable[[int, str], int],
                    monolithic: bool = False) -> list[Work]:
    """Modular nets at K = factor * n_modules from random and kernel-rule U (the second with
    Algorithm 1 first), for the (factor, kernel) pairs given; ``monolithic`` adds an MLP of the
    same size and an oracle-U modular net per seed."""
    device = device_of(v)
    works = []
    for factor, kernel in factors_kernels:
        seeds = seeds_of(factor, kernel)
        spec = ModularSpec(input_dim, factor * v["n_modules"], v["width"])
        works.append(train_work(f"{label} K={spec.n_modules} {kernel} U", spec, runs=seeds, n_steps=n_steps,
                                batch=v["batch_size"], n_train=n_train, device=device, n_test=v["n_test"]))
        works.append(kernel_rule_work(f"{label} Algorithm 1 K={spec.n_modules} {kernel}", spec, fits=seeds,
                                      restarts=spec.n_modules, n_steps=v["kernel_n_steps"],
                                      batch=v["kernel_batch_size"], n_train=n_train, kernel=kernel, device=device))
    factor, kernel = factors_kernels[0]
    spec = ModularSpec(input_dim, factor * v["n_modules"], v["width"])
    seeds = seeds_of(factor, kernel)
    # the random-U partner of the main setting (and, with ``monolithic``, the oracle and the MLP)
    extra = 2 if monolithic else 0
    works.append(train_work(f"{label} random U / other arms", spec, runs=seeds * (1 + extra), n_steps=n_steps,
                            batch=v["batch_size"], n_train=n_train, device=device, n_test=v["n_test"]))
    return works


@workload("module_alignment")
def module_alignment(v: Mapping[str, Any]) -> list[Work]:
    main = (v["network_module_factor"], v["kernel"])
    pairs = [main] + [(f, k) for f in v["sensitivity_network_factors"] for k in v["sensitivity_kernels"]
                      if (f, k) != main]
    sensitivity_seeds = min(v["sensitivity_n_seeds"], v["n_seeds"])
    return _alignment_like(v, label="alignment", input_dim=v["input_dim"], n_train=v["n_train"],
                           n_steps=max(v["n_steps_values"]), factors_kernels=pairs,
                           seeds_of=lambda f, k: v["n_seeds"] if (f, k) == main else sensitivity_seeds)


@workload("sample_complexity")
def sample_complexity(v: Mapping[str, Any]) -> list[Work]:
    main = (v["network_module_factor"], v["kernel"])
    works = []
    for m in v["input_dim_values"]:
        for n in v["n_train_values"]:
            works += _alignment_like(v, label=f"m={m} n={n}", input_dim=m, n_train=n, n_steps=v["n_steps"],
                                     factors_kernels=[main], seeds_of=lambda f, k: v["n_seeds"], monolithic=True)
    sensitivity = [(f, k) for f in v["sensitivity_network_factors"] for k in v["sensitivity_kernels"] if (f, k) != main]
    for n in v["n_train_values"]:
        for pair in sensitivity:
            works += _alignment_like(v, label=f"sensitivity n={n}", input_dim=v["sensitivity_input_dim"], n_train=n,
                                     n_steps=v["short_steps"], factors_kernels=[pair],
                                     seeds_of=lambda f, k: v["n_seeds"])[:2]
    return works


@workload("kernel_rule")
def kernel_rule_chapter(v: Mapping[str, Any]) -> list[Work]:
    device = "cpu" if v["device"] == "cpu" else device_of(v)
    n_restarts = v["network_module_factor"] * v["n_modules"]
    works = []
    pilot_spec = ModularSpec(v["input_dim"], v["n_modules"], v["width"])
    # the pilot grid: every (kernel, eps, batch, steps, restart factor) for pilot_n_seeds seeds; with
    # pilot_rerun "chosen" only the chosen setting's fits are rerun
    grid = (len(v["pilot_kernels"]) * len(v["pilot_eps_values"]) * len(v["pilot_batch_sizes"])
            * len(v["pilot_restart_factors"]))
    settings = grid if v["pilot_rerun"] == "all" else 1
    for batch in v["pilot_batch_sizes"]:
        for factor in v["pilot_restart_factors"]:
            works.append(kernel_rule_work(
                f"pilot B={batch} R={factor * v['n_modules']}", pilot_spec,
                fits=v["pilot_n_seeds"] * settings / (len(v["pilot_batch_sizes"]) * len(v["pilot_restart_factors"])),
                restarts=factor * v["n_modules"], n_steps=max(v["pilot_steps_values"]), batch=batch,
                n_train=v["pilot_n_train"], kernel=v["kernel"], device=device))
    works.append(kernel_rule_work("held-out recovery", pilot_spec, fits=v["n_seeds"], restarts=n_restarts,
                                  n_steps=v["kernel_n_steps"], batch=v["kernel_batch_size"],
                                  n_train=v["pilot_n_train"], kernel=v["kernel"], device=device))
    # the objective along paths between projections: one kernel matrix per point, for every
    # kernel on every seed (kernel_rule.path_design)
    works.append(kernel_rule_work("objective paths", pilot_spec, fits=len(v["kernel_values"]) * v["n_seeds"], restarts=1,
                                  n_steps=v["n_points"], batch=v["path_batch_size"], n_train=v["path_batch_size"],
                                  kernel=v["kernel"], device=device))
    return works


# The essay's own training loop (modcore.runs.essay: one model at a time, with its regulariser,
# masks and modularity bookkeeping) costs about this many times the ensemble trainer's step that
# the probe times at the same shape: fitted to the executed notebooks' wall times (default: 498 s
# measured against 87 s of probed work; ci: 44 s against 15 s, on the 2-core machine).
ESSAY_LOOP_FACTOR = 4.0
ESSAY_NETWORKS = {  # input size, hidden widths (as MLPSpec width x depth), full batch = 0
    "retina": dict(input_dim=8, width=16, depth=3, n_train=256, batch=256),
    "digits": dict(input_dim=128, width=64, depth=2, batch=128),
}
ESSAY_VALUES = {  # arm -> the parameter holding its strengths (per task where the name has the prefix)
    "l1": "l1_values", "l2": "l2_values", "l2_norm": "l2_norm_values", "connection_cost": "connection_cost_values",
    "weight_decay": "weight_decay_values", "dropout": "dropout_values", "prune": "prune_sparsity_values",
    "mvg": "mvg_period_values", "rmvg": "rmvg_period_values",
}


def _essay_loop(work: Work) -> Work:
    """``work`` timed as the essay's loop: ESSAY_LOOP_FACTOR times the probed step, its counts
    unchanged. One tiny net at a time is bound by the host's Python whatever the device, so a
    GPU is modelled to run it as this machine does (no ``gpu_steps``: host work)."""
    probe = work.probe
    return dataclasses.replace(work, probe=lambda: ESSAY_LOOP_FACTOR * probe(), gpu_steps=None)


@workload("essay_modularity")
def essay_modularity(v: Mapping[str, Any]) -> list[Work]:
    device, works = device_of(v), []
    for task in v["tasks"]:
        net = ESSAY_NETWORKS[task]
        spec = MLPSpec(net["input_dim"], net["width"], net["depth"])
        n_train = net.get("n_train") or v["digits_n_train"]
        n_steps, finetune = v[f"{task}_n_steps"], v[f"{task}_n_finetune_steps"]
        sweep_runs = 0
        arms = v[f"{task}_arms"]
        for arm in arms:
            name = ESSAY_VALUES.get(arm)
            if name is not None:
                values = v.get(f"{task}_{name}", v.get(name, []))
                sweep_runs += len(values) * v["n_sweep_seeds"]
        main_seeds = v["retina_regulariser_n_seeds"] if task == "retina" else v["n_seeds"]
        main_runs = len(arms) * max(main_seeds, v["n_seeds"]) * (2 if v["two_head_control"] else 1)
        works.append(_essay_loop(train_work(f"{task} strength sweeps", spec, runs=sweep_runs, n_steps=n_steps,
                                            batch=net["batch"], n_train=n_train, device=device, stacked=1)))
        works.append(_essay_loop(train_work(f"{task} arms", spec, runs=main_runs, n_steps=n_steps + finetune,
                                            batch=net["batch"], n_train=n_train, device=device, stacked=1)))
        # every trained net's modularity against n_shuffles (+ Louvain) null graphs, then the
        # bootstrap of the arms' means; a null graph costs about a pass over its weights
        edges = spec.n_params
        works.append(statistics_work(f"{task} null models and bootstrap",
                                     flops=main_runs * (v["n_shuffles"] + 20 * v["n_louvain_shuffles"]) * edges * 200
                                     + len(arms) * v["n_bootstrap"] * main_runs * 50,
                                     peak_bytes=BYTES_FLOAT64 * (v["n_bootstrap"] * main_runs
                                                                 + v["n_shuffles"] * edges)))
    return works


COMPOSITIONAL_PIXELS = {"digits": 8 * 8 * 1, "cifar10": 32 * 32 * 3}
N_CLASSES = 10


def _compositional_works(v: Mapping[str, Any], slots: Sequence[int], label: str, arms: int) -> list[Work]:
    device, works = device_of(v), []
    steps = v["n_epochs"] * math.ceil(v["n_train"] / v["batch_size"])
    for k in slots:
        input_dim = COMPOSITIONAL_PIXELS[v["dataset"]] * k
        modular = ModularSpec(input_dim, k * v["modules_per_slot"], v["module_width"], module_dim=v["module_dim"],
                              output_dim=N_CLASSES)
        monolithic = MLPSpec.for_n_params(modular.n_params, input_dim, output_dim=N_CLASSES * k)
        runs = v["n_seeds"] * arms
        works.append(train_work(f"{label} k={k} monolithic", monolithic, runs=runs, n_steps=steps,
                                batch=v["batch_size"], n_train=v["n_train"], device=device, n_test=v["n_test"]))
        works.append(train_work(f"{label} k={k} modular (random and kernel-rule U)", modular, runs=2 * runs,
                                n_steps=steps, batch=v["batch_size"], n_train=v["n_train"], device=device,
                                n_test=v["n_test"]))
        works.append(kernel_rule_work(f"{label} k={k} Algorithm 1", modular, fits=runs, restarts=modular.n_modules,
                                      n_steps=v["kernel_n_steps"], batch=v["kernel_batch_size"],
                                      n_train=v["n_train"], kernel="ntk", device=device))
    return works


@workload("compositional_images")
def compositional_images(v: Mapping[str, Any]) -> list[Work]:
    works = _compositional_works(v, v["n_slots_values"], "sweep", 1)
    provisioning = len(v["sensitivity_provisioning"])
    return works + _compositional_works(v, [v["sensitivity_n_slots"]], "provisioning", provisioning)


@workload("projections", "robustness")
def compositional_variant(v: Mapping[str, Any]) -> list[Work]:
    # trained on the held-out split and evaluated under projections or noise: one design per slot count
    works = _compositional_works(v, [v["n_slots"]], "held-out", 1)
    if "n_penalty_draws" in v:  # each draw re-evaluates every trained net on the test set
        draws = v["n_penalty_draws"] * v["n_seeds"] * 3
        width = v["module_width"] * v["n_slots"] * v["modules_per_slot"]
        works.append(statistics_work("penalty draws", flops=2.0 * draws * v["n_test"] * width * width,
                                     peak_bytes=BYTES_FLOAT32 * v["n_test"] * width * 2))
    return works


@workload("theorem1")
def theorem1(v: Mapping[str, Any]) -> list[Work]:
    # two sweeps of n_mc_points grid points, plus the check table's and the shoulders' few
    # settings; the n-sweep is linear from 5 to n_train_max, so its typical n is the middle
    trials = (2 * v["n_mc_points"] + 8) * v["n_trials"]
    n = max((5 + v["n_train_max"]) // 2, v["n_train"]) * v["output_dim"]
    return [monte_carlo_work("Monte Carlo", trials=trials, n_train=n, n_params=max(v["n_params"], v["n_params_max"] // 2),
                             n_features=v["mc_n_features"], input_dim=v["input_dim"])]


@workload("theorem2")
def theorem2(v: Mapping[str, Any]) -> list[Work]:
    # the projected Monte Carlo: per model and m, n_trials trials over the n grid (geometric from
    # just above K * p to mc_n_train_max, as in the chapter)
    total = v["n_modules"] * v["n_params"]
    n_values = sorted({int(round(n)) for n in np.geomspace(total + 2, max(v["mc_n_train_max"], total + 3),
                                                          v["n_mc_points"])})
    works = []
    for m in v["mc_input_dim_values"]:
        for model, (module_dim, k, p, features) in {
                "modular": (v["module_dim"], v["n_modules"], v["n_params"], v["mc_n_features"]),
                "monolithic": (None, 1, total, v["n_modules"] * v["mc_n_features"])}.items():
            works.append(projected_work(f"projected MC m={m} {model}", trials=v["n_trials"], input_dim=m,
                                        module_dim=module_dim, n_modules=k, n_train_values=n_values, n_params=p,
                                        n_features=features, n_test=v["n_test"]))
    # the check of K independent modules: every b, n_mc_points n (linear to mc_n_train_max)
    for b in v["mc_module_dim_values"]:
        works.append(monte_carlo_work(f"independent modules b={b}", trials=v["n_mc_points"] * v["n_trials"],
                                      n_train=max(5, v["mc_n_train_max"] // 2), n_params=total,
                                      n_features=v["n_modules"] * v["mc_n_features"], input_dim=b))
    return works


# --- the whole notebook ------------------------------------------------------------------

def _figure_count(name: str) -> int:
    from modcore import paths

    return (paths.NOTEBOOKS_DIR / f"{name}.py").read_text().count('"figure":')


def estimate(name: str, values: Mapping[str, Any]) -> Estimate:
    """The estimate of notebook ``name`` at its resolved parameter ``values`` (every parameter).
    A notebook without a workload (the scorecard, the choices page, the analytic chapters) costs
    its fixed overhead only."""
    function = WORKLOADS.get(name)
    works = tuple(function(values)) if function is not None else ()
    return Estimate(name, works, overhead_seconds(_figure_count(name), has_work=bool(works)),
                    accelerated=values.get("device", "auto") != "cpu")



@workload("sine_task")
def sine_task(v: Mapping[str, Any]) -> list[Work]:
    """The task's instance (n_samples points of k sine modules) and its variance over n_tasks
    draws per k: array work, no training."""
    k_max = max(v["n_modules_values"] + [v["n_modules"]])
    per_point = v["input_dim"] * k_max
    return [statistics_work("instance", flops=20.0 * v["n_samples"] * per_point,
                            peak_bytes=BYTES_FLOAT64 * v["n_samples"] * per_point * 2),
            statistics_work("variance by k", flops=20.0 * v["n_tasks"] * len(v["n_modules_values"])
                            * v["variance_n_samples"] * per_point,
                            peak_bytes=BYTES_FLOAT64 * v["variance_n_samples"] * per_point * 2)]


@workload("dimension_scaling")
def dimension_scaling(v: Mapping[str, Any]) -> list[Work]:
    """Closed forms over m up to input_dim_max at each p: sums over the power-law spectrum,
    whose multiplicities grow with m, for d outputs."""
    size = v["input_dim_max"] * max(v["n_params_values"]) * v["output_dim"]
    return [statistics_work("closed forms", flops=100.0 * size * len(v["n_params_values"]),
                            peak_bytes=BYTES_FLOAT64 * 4 * size)]
