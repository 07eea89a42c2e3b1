"""The Fig. 4a run family behind the ``sample_complexity`` chapter: one network (a monolithic MLP,
or the modular network with random, kernel-rule or true initial U) trained on one sine task at one
n, stopped by the validation rule; the chapter's grid of such runs and the order it runs them in.
The chapter reads the runs (samples needed, verdicts); this module only makes them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from modcore import kernel_rule as kr
from modcore import sweeps
from modcore.models import DEFAULT_DEPTH, MLPSpec, ModularSpec, stack_init
from modcore.runs.kernel_rule import (DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_N_STEPS, batch_data, capped_settings)
from modcore.store import ResultStore
from modcore.tasks.sine import DEFAULT_N_TEST
from modcore.train import TrainSettings, train_ensemble

METHODS = ("monolithic", "random", "kernel", "oracle")
MODULAR_METHODS = ("random", "kernel", "oracle")

# The stopping rule: validation MSE every VALIDATION_EVERY steps; stop when the best is
# DEFAULT_PATIENCE steps old and keep the best weights. The validation part is the last
# VALIDATION_FRACTION of the n labelled points (so n counts every label a method uses, and the
# training parts stay nested in n). A patience of at least the short training length makes every
# network train that long, so the "short" reading comes from the same run.
VALIDATION_FRACTION = 0.2
VALIDATION_EVERY = 50
DEFAULT_PATIENCE = 300
SHORT_STEPS = 300


@dataclasses.dataclass(frozen=True)
class SampleRun:
    """One network trained on n_train labelled points (training and validation parts) of the
    sine task of ``seed``, with ``n_modules`` task modules (k) and ``n_network_modules`` modules
    in the network (K; the monolithic MLP gets the parameter count of that modular network).

    ``width``: the module MLPs' width. ``patience``: the stopping rule (None: ``n_steps`` steps,
    final weights). ``kernel_settings``: Algorithm 1's settings ("kernel" method only; its
    minibatch is capped at the training part's size). The oracle starts from the task's true
    directions as unit vectors, module i from direction i mod k (so K = 2k holds each twice)."""

    method: str
    input_dim: int
    n_modules: int
    n_network_modules: int
    n_train: int
    seed: int
    width: int = 16
    depth: int = DEFAULT_DEPTH
    n_steps: int = DEFAULT_N_STEPS
    patience: int | None = DEFAULT_PATIENCE
    lr: float = DEFAULT_LR
    batch_size: int | None = DEFAULT_BATCH_SIZE
    n_test: int = DEFAULT_N_TEST
    kernel_settings: kr.KernelRuleSettings = kr.KernelRuleSettings()
    short_steps: int = SHORT_STEPS

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got method={self.method!r}")
        if not isinstance(self.n_train, int) or self.n_train < 5:
            raise ValueError(f"n_train must be an integer >= 5 (a training and a validation part), "
                             f"got n_train={self.n_train!r}")
        if not isinstance(self.n_network_modules, int) or self.n_network_modules < 1:
            raise ValueError(f"n_network_modules must be a positive integer, got "
                             f"n_network_modules={self.n_network_modules!r}")
        if self.patience is not None and not (1 <= self.short_steps <= self.patience <= self.n_steps):
            raise ValueError(f"with a stopping rule, 1 <= short_steps <= patience <= n_steps must hold (the short "
                             f"reading comes from the same run), got short_steps={self.short_steps!r}, "
                             f"patience={self.patience!r}, n_steps={self.n_steps!r}")

    @property
    def n_fit(self) -> int:
        """Points of the training part (the rest of n_train is the validation part)."""
        return self.n_train - max(1, int(round(VALIDATION_FRACTION * self.n_train)))

    def modular_spec(self) -> ModularSpec:
        return ModularSpec(self.input_dim, self.n_network_modules, self.width, self.depth)

    def spec(self) -> MLPSpec | ModularSpec:
        modular = self.modular_spec()
        if self.method == "monolithic":
            return MLPSpec.for_n_params(modular.n_params, self.input_dim, self.depth)
        return modular

    def train_settings(self) -> TrainSettings:
        every = self.short_steps if self.patience is not None else None
        return TrainSettings(n_steps=self.n_steps, lr=self.lr, batch_size=self.batch_size, patience=self.patience,
                             validation_every=VALIDATION_EVERY, eval_every=every)

    def ensemble_key(self) -> tuple:
        """Runs with equal keys train together: everything but the seed, and for the modular
        methods also the method and the kernel settings (they differ only in the initial U)."""
        fields = dataclasses.asdict(self)
        fields.pop("seed")
        if self.method in MODULAR_METHODS:
            fields["method"] = "modular"
            fields.pop("kernel_settings")
        return tuple(sorted((k, str(v)) for k, v in fields.items()))


def _split(x: np.ndarray, y: np.ndarray, n_fit: int) -> tuple[np.ndarray, ...]:
    """(E, n, m), (E, n) -> the training part (first n_fit points) and the validation part."""
    return x[:, :n_fit], y[:, :n_fit], x[:, n_fit:], y[:, n_fit:]


def oracle_projections(task_directions: np.ndarray, n_network_modules: int) -> np.ndarray:
    """The true directions (k, m, 1) as unit vectors, module i getting direction i mod k:
    (K, m, 1). Unit length like the kernel rule's and the random projections, so the oracle is
    the best U the rule could return."""
    unit = task_directions / np.linalg.norm(task_directions, axis=1, keepdims=True)
    return np.stack([unit[i % len(unit)] for i in range(n_network_modules)])


def run_sample_batch(runs: Sequence[SampleRun], *, device: str = "auto") -> list[dict]:
    """Train ``runs`` (equal ``ensemble_key()``) as one ensemble; one result per run, in order.

    Each result: ``test_mse`` (at the restored weights of the stopping rule), ``test_mse_short``
    (after ``short_steps`` steps, final weights), ``stop_step``, ``train_mse``, ``initial_train_mse``,
    ``diverged`` (a non-finite loss, or a final training loss above the initial one),
    ``predict_zero_loss`` (mean squared test target: the MSE of predicting 0), ``n_params_actual``,
    ``width_actual``; for modular methods ``start_share`` and ``start_matched`` (recovery of the
    true modules by the initial U, :func:`modcore.kernel_rule.module_recovery`), and for the
    kernel method the initialisation's FLOPs per model (``init_flops``)."""
    runs = list(runs)
    first = runs[0]
    tasks, (x_all, y_all, x_test, y_test), seeds = batch_data(runs, "run_sample_batch")
    x_train, y_train, x_val, y_val = _split(x_all, y_all, first.n_fit)
    spec = first.spec()
    extra: list[dict] = [{} for _ in runs]
    if first.method == "monolithic":
        initial = stack_init(spec, seeds)
    else:
        initial = stack_init(spec, seeds)  # random U; the kernel and oracle rows are replaced below
        kernel_rows = [i for i, run in enumerate(runs) if run.method == "kernel"]
        by_settings: dict = {}
        for i in kernel_rows:  # one Algorithm-1 call per kernel setting, all its models batched
            by_settings.setdefault(runs[i].kernel_settings, []).append(i)
        for settings, rows in by_settings.items():
            fitted = kr.kernel_rule_init(spec, x_train[rows], y_train[rows], seeds=[seeds[i] for i in rows],
                                         settings=capped_settings(settings, first.n_fit), device=device)
            for j, i in enumerate(rows):
                initial[0][i] = fitted.params[0][j]
                extra[i]["init_flops"] = fitted.cost.flops / fitted.cost.n_models
        for i, run in enumerate(runs):
            if run.method == "oracle":
                u = oracle_projections(tasks[i].directions, spec.n_modules)
                initial[0][i] = spec.init(seed=seeds[i], projections=torch.as_tensor(u))[0]
            start = initial[0][i].numpy().T[:, :, None]  # (K, m, 1)
            recovery = kr.module_recovery(start, tasks[i].directions)
            extra[i].update(start_share=recovery["share"], start_matched=recovery["matched"])
    result = train_ensemble(spec, seeds, x_train, y_train, x_test, y_test, settings=first.train_settings(),
                            device=device, x_validation=x_val, y_validation=y_val, initial_params=initial)
    short_column = list(result.steps).index(first.short_steps) if first.short_steps in result.steps else None
    out = []
    for i in range(len(runs)):
        train, test, initial_train = (float(result.final_train_mse[i]), float(result.final_test_mse[i]),
                                      float(result.train_mse[i, 0]))
        # None (not NaN) when not observed: a fixed-length run has no short reading, and is not diverged for that
        short = float(result.test_mse[i, short_column]) if short_column is not None else None
        diverged = not (math.isfinite(train) and math.isfinite(test)) or train > initial_train
        stop = int(result.stop_step[i]) if result.stop_step is not None else first.n_steps
        out.append({"test_mse": test, "test_mse_short": short, "stop_step": stop, "train_mse": train,
                    "initial_train_mse": initial_train, "diverged": diverged,
                    "predict_zero_loss": float(np.mean(y_test[i] ** 2)), "n_params_actual": spec.n_params,
                    "width_actual": spec.width, **extra[i]})
    return out


@dataclasses.dataclass(frozen=True)
class SampleDesign:
    """The grid of Fig. 4a: every method at every m and n, for ``n_seeds`` seeds."""

    input_dim_values: Sequence[int]
    n_train_values: Sequence[int]
    n_modules: int
    n_network_modules: int
    n_seeds: int
    methods: Sequence[str] = METHODS
    seed: int = 0

    def __post_init__(self):
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown methods={sorted(unknown)}; choose from {METHODS}")
        if list(self.n_train_values) != sorted(set(self.n_train_values)) or not self.n_train_values:
            raise ValueError(f"n_train_values must be increasing and nonempty, got {self.n_train_values!r}")

    def runs(self, method: str, **protocol) -> list[SampleRun]:
        return [SampleRun(method=method, input_dim=m, n_modules=self.n_modules,
                          n_network_modules=self.n_network_modules, n_train=n, seed=self.seed + s, **protocol)
                for m in self.input_dim_values for n in self.n_train_values for s in range(self.n_seeds)]


def run_design(design: SampleDesign, store: ResultStore, *, device: str = "auto", desc: str = "fig4a",
               **protocol) -> pd.DataFrame:
    """Train (or read back from ``store``) every run of ``design``; ``protocol`` (width, n_steps,
    patience, lr, batch_size, n_test, kernel_settings) goes to every run. Returns all runs."""
    return run_all([run for method in design.methods for run in design.runs(method, **protocol)], store,
                   device=device, desc=desc)


def run_all(runs: Sequence[SampleRun], store: ResultStore, *, device: str = "auto",
            desc: str = "fig4a") -> pd.DataFrame:
    """Train (or read back) ``runs``, those of one (m, n, K) and protocol as one ensemble; one row
    per run, with the kernel of each kernel-rule run as column ``kernel`` ("" otherwise)."""
    runs = list(dict.fromkeys(runs))  # a run asked for twice (main grid and sensitivity) runs once
    frame = sweeps.run_sweep(functools.partial(run_sample_batch, device=device), runs, store,
                             batch_by=SampleRun.ensemble_key, desc=desc,
                             required_keys=("test_mse", "stop_step", "train_mse", "initial_train_mse", "diverged",
                                            "predict_zero_loss", "n_params_actual", "width_actual"))
    return frame.assign(kernel=[run.kernel_settings.kernel if run.method == "kernel" else "" for run in runs])


@dataclasses.dataclass(frozen=True)
class ChapterDesign:
    """The chapter's runs: the Fig. 4a grid (every method, m, n and seed at K = factor * k with
    the default kernel), plus at ``sensitivity_input_dim`` the kernel, random-U and MLP runs of
    every sensitivity kernel and K (the oracle is not needed there)."""

    input_dim_values: Sequence[int]
    n_train_values: Sequence[int]
    n_modules: int
    network_module_factor: int
    n_seeds: int
    seed: int
    sensitivity_input_dim: int
    sensitivity_kernels: Sequence[str]
    sensitivity_network_factors: Sequence[int]
    default_kernel: str

    def runs(self, protocol: Mapping) -> list[SampleRun]:
        main = SampleDesign(self.input_dim_values, self.n_train_values, self.n_modules,
                            self.network_module_factor * self.n_modules, self.n_seeds, seed=self.seed)
        runs = [run for method in METHODS for run in main.runs(method, **protocol)]
        settings = protocol["kernel_settings"]
        for factor in self.sensitivity_network_factors:
            extra = SampleDesign([self.sensitivity_input_dim], self.n_train_values, self.n_modules,
                                 factor * self.n_modules, self.n_seeds, seed=self.seed)
            runs += extra.runs("random", **protocol) + extra.runs("monolithic", **protocol)
            for kernel in self.sensitivity_kernels:
                other = {**protocol, "kernel_settings": dataclasses.replace(settings, kernel=kernel)}
                runs += extra.runs("kernel", **other)
        return runs


def chapter_design(**fields) -> ChapterDesign:
    """:class:`ChapterDesign` from the notebook's parameters (lists become tuples)."""
    return ChapterDesign(**{key: tuple(value) if isinstance(value, list) else value for key, value in fields.items()})


def chapter_protocol(*, width: int, n_steps: int, patience: int | None, short_steps: int, lr: float,
                     batch_size: int | None, n_test: int, kernel: str, kernel_eps: float, kernel_batch_size: int,
                     kernel_n_steps: int, kernel_lr: float) -> dict:
    """The fields every run of the chapter shares, Algorithm 1's settings as one object."""
    return dict(width=width, n_steps=n_steps, patience=patience, short_steps=short_steps, lr=lr,
                batch_size=batch_size, n_test=n_test,
                kernel_settings=kr.KernelRuleSettings(kernel=kernel, eps=kernel_eps, batch_size=kernel_batch_size,
                                                      n_steps=kernel_n_steps, lr=kernel_lr))


def run_chapter(design: ChapterDesign, protocol: Mapping, store: ResultStore, *, target_loss: float,
                device: str = "auto") -> pd.DataFrame:
    """Every run of the chapter (:meth:`ChapterDesign.runs`), trained or read back, n by n upwards.

    The grid stops for a group of runs that train together (one m, one K, modular or monolithic)
    once every curve of the group (every method, kernel and seed) has reached ``target_loss``, in
    the short reading too at the sensitivity table's m, or diverged: samples needed counts the first
    crossing only (:func:`samples_needed`), so the larger n could change no number any verdict
    uses; they would only extend the loss curves."""
    runs = design.runs(protocol)

    def group(run) -> tuple:
        return run.input_dim, run.n_network_modules, run.method == "monolithic"

    open_groups = {group(run) for run in runs}
    frames = []
    for n in sorted({run.n_train for run in runs}):
        todo = [run for run in runs if run.n_train == n and group(run) in open_groups]
        if not todo:
            break
        frames.append(run_all(todo, store, device=device, desc=f"fig4a n = {n}"))
        done = pd.concat(frames, ignore_index=True)
        for key in list(open_groups):
            m, n_network, monolithic = key
            rows = done[(done.input_dim == m) & (done.n_network_modules == n_network)
                        & ((done.method == "monolithic") == monolithic)]
            if all_reached(rows, target_loss, short=m == design.sensitivity_input_dim):
                open_groups.discard(key)
    return pd.concat(frames, ignore_index=True)


def all_reached(runs: pd.DataFrame, target_loss: float, *, short: bool = True) -> bool:
    """True when every curve of ``runs`` (one per method, K, kernel and seed) has a run at or
    below ``target_loss`` in ``test_mse`` and, with ``short``, in ``test_mse_short`` where it was
    read, or has a diverged run (its curve feeds no verdict whatever the larger n give)."""
    keys = ["method", "n_network_modules", "kernel", "seed"]
    for _, curve in runs.groupby(keys):
        if curve.diverged.astype(bool).any():
            continue
        readings = curve.test_mse_short.to_numpy(float) if short else np.array([np.nan])
        reached = curve.test_mse.min() <= target_loss and (np.isnan(readings).all() or np.nanmin(readings) <= target_loss)
        if not reached:
            return False
    return True


def main_runs(runs: pd.DataFrame, *, kernel: str, n_network_modules: int) -> pd.DataFrame:
    """The Fig. 4a grid's rows: K = ``n_network_modules`` and, of the kernel-rule runs, ``kernel``'s."""
    chosen = runs[(runs.n_network_modules == n_network_modules) & ((runs.method != "kernel") | (runs.kernel == kernel))]
    return chosen.reset_index(drop=True)
