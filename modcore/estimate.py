"""What a notebook run will cost, known before it starts: runs, model-steps, FLOPs, peak memory, time.

Each notebook with runs has a workload in :mod:`modcore.workloads`, which takes the notebook's
resolved parameter values and returns its :class:`Work`: groups of runs that share one shape.
The counts and the memory are computed from the parameters alone; here, the time is
``model_steps x seconds per step``, where the
seconds come from a short timed probe of the real step at that shape (a few steps of
:func:`modcore.train.train_ensemble`, of Algorithm 1's :func:`modcore.kernel_rule.fit_projections`,
or one Monte-Carlo trial of :mod:`modcore.theory`), cached per shape in the process. A probe is
never run where its shape would not fit in :data:`PROBE_MAX_BYTES` or one probe step would exceed
:data:`PROBE_MAX_FLOPS`: such a group is timed from its FLOPs at the rate a reference probe
measured, so a count of 1e12 costs arithmetic, never an allocation or a loop of that length.

Approximations, all on the side of more work: early stopping is not modelled (every run takes
its step cap); evaluation passes and plots are inside the per-notebook overhead; runs that a
results store already holds are counted as if they had to run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from modcore import kernel_rule, theory
from modcore.models import MLPSpec, ModularSpec
from modcore.runtime import resolve_device
from modcore.train import TrainSettings, train_ensemble
from modcore.train_reference import fit_linearised

# A probe step must stay cheap: at most this many FLOPs (about 0.1 s on the 2-core machine) and
# this many bytes; beyond either, the group is timed by FLOPs at the reference rate instead.
PROBE_MAX_FLOPS = 5e9
PROBE_MAX_BYTES = 512 * 2 ** 20
# Models stacked in one training probe: the sweeps stack the runs that share a shape, up to the
# trainer's chunk; the probe's seconds per model-step stop falling well before this.
PROBE_MAX_MODELS = 16
# Probes are stopped (the FLOP rate takes over) once they have taken this long in one process, so
# that `run all --profile paper --estimate` stays well under two minutes on 2 cores.
PROBE_BUDGET_S = 45.0
# The pages without runs (and the analytic ones) cost their fixed overhead only.
BYTES_FLOAT32, BYTES_FLOAT64 = 4, 8


@dataclass(frozen=True)
class Work:
    """One group of runs of a notebook that share a shape.

    ``model_steps``: training (or solver) steps summed over the group's runs; ``flops``: their
    FLOPs; ``peak_bytes``: the memory the group holds at once; ``probe``: seconds per model-step
    at this shape, measured (None: no timed work)."""

    what: str
    runs: float
    model_steps: float
    flops: float
    peak_bytes: float
    probe: Callable[[], float] | None = field(default=None, compare=False, repr=False)
    other_seconds: Callable[[], float] | None = field(default=None, compare=False, repr=False)
    # optimiser (or solver) steps the group runs one after another on a GPU, where the runs of
    # one shape train stacked; None: the group runs on the host whatever the device
    gpu_steps: float | None = None

    def seconds(self) -> float:
        other = self.other_seconds() if self.other_seconds is not None else 0.0
        if self.probe is None or self.model_steps == 0:
            return other
        return self.model_steps * self.probe() + other


@dataclass(frozen=True)
class Estimate:
    """A notebook's estimate: its work groups and the fixed overhead of executing it."""

    notebook: str
    works: tuple[Work, ...]
    overhead_s: float
    # False when the notebook's device parameter is "cpu": then no group goes to a GPU
    accelerated: bool = True

    @property
    def runs(self) -> float:
        return sum(w.runs for w in self.works)

    @property
    def model_steps(self) -> float:
        return sum(w.model_steps for w in self.works)

    @property
    def flops(self) -> float:
        return sum(w.flops for w in self.works)

    @property
    def peak_bytes(self) -> float:
        return max((w.peak_bytes for w in self.works), default=0.0)

    @functools.cached_property
    def seconds(self) -> float:
        return self.overhead_s + sum(w.seconds() for w in self.works)


# --- probes ------------------------------------------------------------------------------

_probe_spent = [0.0]


_probe_limit = [PROBE_BUDGET_S]


def _budget_left() -> bool:
    return _probe_spent[0] < _probe_limit[0]


@contextlib.contextmanager
def probe_budget(seconds: float):
    """Within this block, probes stop after ``seconds`` more of probing (instead of
    PROBE_BUDGET_S in all): a page that estimates every notebook at several profiles stays quick."""
    saved = _probe_limit[0]
    _probe_limit[0] = _probe_spent[0] + seconds
    try:
        yield
    finally:
        _probe_limit[0] = saved


def _timed_difference(run: Callable[[int], None], short: int, long: int) -> float:
    """Seconds per step from runs of ``short`` and ``long`` steps (their difference removes the
    set-up and the evaluations, which belong to the overhead); the faster of two tries each."""
    start = time.perf_counter()
    times = {}
    for n in (short, long):
        best = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            run(n)
            best = min(best, time.perf_counter() - t0)
        times[n] = best
    _probe_spent[0] += time.perf_counter() - start
    return max(times[long] - times[short], 0.0) / (long - short)


def _train_flops(spec, batch: int) -> float:
    return 3.0 * spec.flops_per_example() * batch


def _train_bytes(spec, batch: int, n_models: int, n_train: int, precision_bytes: int = BYTES_FLOAT32) -> float:
    """Parameters, gradients and Adam's two moments, the activations of a step (kept for the
    backward), and the data, for ``n_models`` stacked models."""
    hidden = spec.width * getattr(spec, "n_modules", 1) * spec.depth
    inputs = spec.input_dim
    per_model = 4 * spec.n_params + 3 * batch * (hidden + inputs)
    return float(precision_bytes * (n_models * per_model + n_train * (inputs + 1)))


@functools.cache
def reference_flops_per_second(device: str) -> float:
    """FLOPs per second of a medium training step (width 64 MLP, batch 512, 8 models), the rate
    used for shapes too large to probe."""
    spec, batch, models = MLPSpec(16, 64), 512, 8
    per_step = _probe_train(spec, batch, batch, models, "adam", "float32", device)
    return _train_flops(spec, batch) * models / max(per_step * models, 1e-12)


@functools.cache
def _probe_train(spec, batch: int, n_train: int, n_models: int, optimizer: str, precision: str,
                 device: str) -> float:
    """Seconds per model-step of ``n_models`` stacked models of ``spec`` at ``batch`` examples a step."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n_train, spec.input_dim, generator=generator).numpy()
    outputs = getattr(spec, "output_dim", 1)
    # several outputs are the compositional nets' logits: cross-entropy on integer labels, as there
    loss = "cross_entropy" if outputs > 1 else "mse"
    y = (torch.randint(0, outputs, (n_train, 1), generator=generator) if outputs > 1
         else torch.randn(n_train, generator=generator)).numpy()
    batch_size = None if batch >= n_train else batch
    lr = 1.0 if optimizer == "lbfgs" else 1e-3

    def run(n_steps: int) -> None:
        settings = TrainSettings(n_steps=n_steps, lr=lr, batch_size=batch_size, optimizer=optimizer,
                                 precision=precision, compile=False, loss=loss)
        train_ensemble(spec, list(range(n_models)), x, y, settings=settings, device=device)

    return _timed_difference(run, 1, 4) / n_models


def train_work(what: str, spec, *, runs: float, n_steps: float, batch: int, n_train: int, device: str,
               optimizer: str = "adam", precision: str = "float32", stacked: float | None = None,
               n_test: int = 0) -> Work:
    """``runs`` trainings of ``spec`` for ``n_steps`` steps at ``batch`` examples; ``stacked``: how
    many of them train together (default: all, up to PROBE_MAX_MODELS); ``n_test`` test points,
    held and evaluated (at the start and the end) beside the training set."""
    batch = int(min(batch, n_train))
    stacked = int(max(1, min(runs if stacked is None else stacked, PROBE_MAX_MODELS)))
    width_bytes = BYTES_FLOAT64 if precision == "float64" else BYTES_FLOAT32
    flops = _train_flops(spec, batch) * runs * n_steps + 2 * spec.flops_per_example() * (n_train + n_test) * 2 * runs
    evaluation = width_bytes * n_test * (spec.input_dim + 1 + stacked * spec.width * getattr(spec, "n_modules", 1))
    peak = _train_bytes(spec, batch, stacked, n_train, width_bytes) + evaluation
    # L-BFGS with a strong-Wolfe line search evaluates the loss about twice per iteration
    factor = 2.0 if optimizer == "lbfgs" else 1.0
    probe_flops = _train_flops(spec, batch) * stacked * factor

    def probe() -> float:
        if probe_flops <= PROBE_MAX_FLOPS and peak <= PROBE_MAX_BYTES and _budget_left():
            return _probe_train(spec, batch, int(n_train), stacked, optimizer, precision, device)
        return factor * _train_flops(spec, batch) / reference_flops_per_second(device)

    ensembles = math.ceil(runs / stacked) if runs else 0
    return Work(what, runs, runs * n_steps, flops * factor, peak, probe, gpu_steps=ensembles * n_steps * factor)


def statistics_work(what: str, *, flops: float, peak_bytes: float) -> Work:
    """Work that is not a training step (task draws, null models, bootstrap resamples, closed
    forms): ``flops`` FLOPs in all, timed at the reference rate, holding ``peak_bytes``."""
    return Work(what, 0, 0, float(flops), float(peak_bytes),
                other_seconds=lambda: flops / reference_flops_per_second("cpu") if flops else 0.0)


@functools.cache
def _probe_kernel_rule(spec: ModularSpec, n_train: int, batch: int, n_restarts: int, kernel: str, device: str) -> float:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n_train, spec.input_dim, generator=generator).numpy()
    outputs = spec.output_dim
    y = torch.randn(n_train, *((outputs,) if outputs > 1 else ()), generator=generator).numpy()

    def run(n_steps: int) -> None:
        settings = kernel_rule.KernelRuleSettings(kernel=kernel, n_steps=n_steps, batch_size=batch, eps=1e-2)
        kernel_rule.fit_projections(spec, x, y, seed=0, n_restarts=n_restarts, settings=settings, device=device)

    return _timed_difference(run, 1, 4) / n_restarts


def kernel_rule_work(what: str, spec: ModularSpec, *, fits: float, restarts: int, n_steps: float, batch: int,
                     n_train: int, kernel: str, device: str) -> Work:
    """``fits`` runs of Algorithm 1, ``restarts`` restarts each, ``n_steps`` steps at ``batch`` points."""
    batch = int(max(2, min(batch, n_train)))
    network = kernel_rule.module_network(spec)
    # a step forms the batch's kernel matrix through the module network and solves with it
    per_restart_step = 3.0 * (batch * network.flops_per_example() * (1 + spec.input_dim) + batch ** 3 / 3 +
                              batch ** 2 * (network.width * network.depth))
    stacked = int(max(1, min(restarts, PROBE_MAX_MODELS)))
    peak = BYTES_FLOAT64 * (stacked * (3 * batch * batch + 4 * batch * network.width * network.depth)
                            + n_train * (spec.input_dim + 1))
    model_steps = fits * restarts * n_steps

    def probe() -> float:
        if per_restart_step * stacked <= PROBE_MAX_FLOPS and peak <= PROBE_MAX_BYTES and _budget_left():
            return _probe_kernel_rule(spec, int(n_train), batch, stacked, kernel, device)
        return per_restart_step / reference_flops_per_second(device)

    # on a GPU the restarts of a fit are one batched step; the fits run one after another
    return Work(what, fits, model_steps, per_restart_step * model_steps, float(peak), probe,
                gpu_steps=fits * n_steps)


def _lstsq_flops(rows: float, cols: float) -> float:
    small, large = min(rows, cols), max(rows, cols)
    return 2.0 * large * small ** 2 + rows * cols


@functools.cache
def _probe_monolithic_trial(input_dim: int, n_train: int, n_params: int, n_features: int) -> float:
    spectrum = theory.PowerLaw(input_dim, 1.2, 1.5, n_features)

    def run(n_trials: int) -> None:
        theory.simulate_monolithic(spectrum, n_train, n_params, n_trials=n_trials, seed=0)

    # the difference of 2 and 8 trials (2 at least, for a standard error) leaves out the set-up,
    # paid once per setting
    return _timed_difference(run, 2, 8)


def monte_carlo_work(what: str, *, trials: float, n_train: int, n_params: int, n_features: int,
                     input_dim: int = 3) -> Work:
    """``trials`` Monte-Carlo trials of Theorem 1's model at n points, p fitted parameters and P
    features (a sweep's typical shape: each trial draws n x P features and solves least squares
    on p of them)."""
    n_params = min(n_params, n_features)
    flops = _lstsq_flops(n_train, n_params) + n_train * n_features * 10
    peak = float(BYTES_FLOAT64 * 3 * n_train * n_features)

    def probe() -> float:
        if flops <= PROBE_MAX_FLOPS and peak <= PROBE_MAX_BYTES and _budget_left():
            return _probe_monolithic_trial(input_dim, int(n_train), int(n_params), int(n_features))
        return flops / reference_flops_per_second("cpu")

    return Work(what, trials, trials, flops * trials, peak, probe)


@functools.cache
def _probe_projected_trial(input_dim: int, module_dim: int | None, n_modules: int, n_train_values: tuple[int, ...],
                           n_params: int, n_features: int, n_test: int) -> float:
    def run(n_trials: int) -> None:
        theory.simulate_projected(list(n_train_values), input_dim, n_params, n_features, 1.2, 1.5,
                                  module_dim=module_dim, n_modules=n_modules, n_test=n_test, n_trials=n_trials, seed=0)

    # the difference of 2 and 8 trials leaves out the set-up, paid once per call
    return _timed_difference(run, 2, 8)


def projected_work(what: str, *, trials: float, input_dim: int, module_dim: int | None, n_modules: int,
                   n_train_values: Sequence[int], n_params: int, n_features: int, n_test: int) -> Work:
    """``trials`` trials of the projected Monte Carlo, each drawing the largest n (and the test
    points) once and fitting p features at every n of ``n_train_values``."""
    columns = n_features * n_modules
    rows = max(n_train_values) + n_test
    flops = sum(_lstsq_flops(n, n_params) for n in n_train_values) + 2.0 * rows * columns * input_dim
    peak = float(BYTES_FLOAT64 * 3 * rows * columns)

    def probe() -> float:
        if flops <= PROBE_MAX_FLOPS and peak <= PROBE_MAX_BYTES and _budget_left():
            return _probe_projected_trial(int(input_dim), module_dim, int(n_modules),
                                          tuple(int(n) for n in n_train_values), int(n_params), int(n_features),
                                          int(n_test))
        return flops / reference_flops_per_second("cpu")

    return Work(what, trials, trials, flops * trials, peak, probe)


@functools.cache
def _probe_linearised(spec, n_train: int, n_test: int) -> float:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n_train, spec.input_dim, generator=generator).numpy()
    y = torch.randn(n_train, generator=generator).numpy()
    xt = torch.randn(n_test, spec.input_dim, generator=generator).numpy()
    yt = torch.randn(n_test, generator=generator).numpy()
    start = time.perf_counter()
    fit_linearised(spec, 0, x, y, xt, yt)
    elapsed = time.perf_counter() - start
    _probe_spent[0] += elapsed
    return elapsed


def linearised_work(what: str, spec, *, runs: float, n_train: int, n_test: int) -> Work:
    """``runs`` exact least-squares fits of the network linearised at its initialisation (the
    Jacobian on train and test points, then an n x p solve)."""
    rows = n_train + n_test
    flops = 3.0 * spec.flops_per_example() * rows * 2 + _lstsq_flops(n_train, spec.n_params)
    peak = float(BYTES_FLOAT64 * 3 * rows * spec.n_params)

    def probe() -> float:
        if flops <= PROBE_MAX_FLOPS and peak <= PROBE_MAX_BYTES and _budget_left():
            return _probe_linearised(spec, int(n_train), int(n_test))
        return flops / reference_flops_per_second("cpu")

    return Work(what, runs, runs, flops * runs, peak, probe)


# --- fixed overhead -----------------------------------------------------------------------

@functools.cache
def startup_seconds() -> float:
    """Measured: a fresh interpreter importing what a notebook's kernel imports (ipykernel,
    the plotting and data stack, modcore). A kernel start, the imports and a notebook's plots and
    tables each cost about this much; see :func:`overhead_seconds`."""
    code = "import ipykernel, matplotlib.pyplot, pandas, scipy, torch, myst_nb, modcore.train"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, timeout=300,
                   env={**os.environ, "MPLBACKEND": "Agg"})
    return time.perf_counter() - start


# A notebook's fixed cost: its kernel start and imports, about one start-up (the measured
# interpreter above), and each figure it draws (read from the notebooks: the cells with a
# "figure" caption) about a tenth of one. A page without runs or figures (the scorecard, the
# choices, the execution statistics) imports neither torch nor the plotting stack: half a start-up.
# Fitted to the ci wall times of the executed notebooks (scorecard 4 s, theorem1 12 s, with a
# start-up of 5-6 s on the 2-core machine), where twice a start-up overestimated the pages 8-17x.
def overhead_seconds(n_figures: int, has_work: bool = True) -> float:
    if not has_work and n_figures == 0:
        return 0.5 * startup_seconds()
    return startup_seconds() * (1.0 + 0.1 * n_figures)


# --- one H100-class GPU, modelled: sized by a model, not measured -------------------------
#
# No GPU was at hand when the gpu profile was sized, so its time on one H100 comes from this
# model, not from a probe (`run --estimate --assume-device h100`; the paper-scale page states
# the total). Assumptions:
# * these networks are small (up to about 10^5 parameters), so a step is launch-bound: one eager
#   optimiser step of a stacked ensemble (forward, backward, Adam: a few dozen kernel launches of
#   5-10 us each, plus Python) takes H100_STEP_SECONDS whatever its shape; Algorithm 1's step
#   (a batched kernel matrix and Cholesky solve) and an L-BFGS evaluation cost the same;
# * the arithmetic adds its FLOPs at H100_FLOPS_PER_SECOND, under a tenth of the card's float32
#   peak (67 TFLOP/s without tensor cores): small matrices use a fraction of its cores;
# * the runs of one shape train as one ensemble of at most PROBE_MAX_MODELS (the seeds of one
#   setting); ensembles and settings run one after another;
# * what runs on the host (the theory chapters' Monte Carlo in numpy, the essay's tiny nets trained
#   one at a time and bound by Python on any device, its graph measures and bootstrap, task draws,
#   the linearised least squares, the kernel start, imports and plots) takes what this module
#   estimates for this machine, unchanged: a GPU host's CPU is assumed no faster.
H100_STEP_SECONDS = 300e-6
H100_FLOPS_PER_SECOND = 5e12
ASSUMED_DEVICES = ("h100",)  # the devices `--assume-device` models
MODEL_LABEL = "sized by a model, not measured"


def h100_seconds(e: Estimate) -> float:
    """Modelled wall time of estimate ``e`` on one H100-class GPU (see the assumptions above)."""
    total = e.overhead_s
    for work in e.works:
        if e.accelerated and work.gpu_steps is not None:
            total += work.gpu_steps * H100_STEP_SECONDS + work.flops / H100_FLOPS_PER_SECOND
        else:
            total += work.seconds()
    return total


def machine_memory_bytes(device: str = "cpu") -> float:
    """The memory a run may use: the GPU's for cuda, else the machine's RAM."""
    if device == "cuda" and torch.cuda.is_available():
        return float(torch.cuda.get_device_properties(0).total_memory)
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def cell_timeout_seconds(estimate_seconds: float) -> int:
    """A cell may run this long: ten times its whole notebook's estimate, at least ten minutes
    (an estimate is an estimate; a limit below it would stop honest runs, while ten times it
    still ends a hung kernel the same day)."""
    return int(max(600.0, 10.0 * estimate_seconds))


def human_count(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def human_bytes(x: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if x < 1024 or unit == "TiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} TiB"


def human_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def table(estimates: Sequence[Estimate], device: str,
          seconds: Callable[[Estimate], float] = lambda e: e.seconds) -> str:
    """One row per notebook and a total, as `run --estimate` prints it; ``seconds`` gives a
    notebook's time (default: its estimate on this machine; :func:`h100_seconds` models a GPU)."""
    rows = [("notebook", "runs", "model-steps", "FLOPs", "peak memory", f"time ({device})")]
    times = [seconds(e) for e in estimates]
    for e, time_s in zip(estimates, times):
        rows.append((e.notebook, human_count(e.runs), human_count(e.model_steps), human_count(e.flops),
                     human_bytes(e.peak_bytes), human_seconds(time_s)))
    rows.append(("total", human_count(sum(e.runs for e in estimates)),
                 human_count(sum(e.model_steps for e in estimates)), human_count(sum(e.flops for e in estimates)),
                 human_bytes(max((e.peak_bytes for e in estimates), default=0)),
                 human_seconds(sum(times))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                     for row in rows) + "\n"


def device_of(values: Mapping[str, Any]) -> str:
    return resolve_device(values.get("device", "auto")).type
