"""One network run on the sine-wave task, and Theorem 1 fitted to runs.

A run's settings are a frozen :class:`NetworkRun` (everything that determines its numbers,
seed and device included); :func:`run_network_batch` trains many runs that share a network shape
as one ensemble, for :func:`modcore.sweeps.run_sweep` with ``batch_by=NetworkRun.ensemble_key``
(:func:`sweep_networks` does this for labelled groups of runs). A run whose final loss is not
finite, or above DIVERGED_VARIANCE_FACTOR times its target's variance, is recorded as
``diverged`` and left out of every mean and verdict (:func:`healthy`); for the exact linearised
solution, which has no optimiser to blow up, only a non-finite loss counts.

:class:`TheoryFit` is Theorem 1 for the sine task: its spectrum scale c is the task's variance,
computed from the task (never fitted), the label noise enters as the theory's noise, and only
Omega is fitted (:func:`fit_theory`, with a bootstrap interval). The calibration chapter fitted it
once; its values are literals in :mod:`modcore.tasks.sine` and every sine chapter uses that one
object (:func:`calibrated_theory`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.optimize

from modcore import stats, sweeps, theory
from modcore.models import DEFAULT_ACTIVATION, MLPSpec
from modcore.runtime import resolve_device
from modcore.seeds import derive_seed
from modcore.store import ResultStore
from modcore.tasks.sine import (CALIBRATED_DEPTH, CALIBRATED_N_STEPS, CALIBRATED_THEORY, DEFAULT_AMPLITUDE_SCALE,
                                DEFAULT_DIRECTION_NORM, DEFAULT_LABEL_NOISE, DEFAULT_N_TEST, SineTask,
                                expected_target_variance)
from modcore.train import PRECISIONS, TrainSettings, train_ensemble
from modcore.train_reference import fit_linearised

# The paper does not give its training protocol or its networks' depth (Section 5 and App. E
# leave them open; see the choices page). Ours: full-batch Adam at lr 3e-3 (full batch because
# Theorem 1 describes the exact optimum of the training loss, not a noisy one), two hidden
# layers; the number of steps is one of the unknowns the calibration chapter fitted to the
# paper's Fig. 2 (see modcore.tasks.sine.CALIBRATED_N_STEPS).
DEFAULT_N_STEPS: int = CALIBRATED_N_STEPS
DEFAULT_DEPTH: int = CALIBRATED_DEPTH
DEFAULT_LR = 3e-3
METHODS = ("gradient", "linearised")
# A run is diverged when its final train or test loss is not finite or its test loss exceeds this
# multiple of its test labels' variance (the loss of predicting their mean). Our choice: 10x, far
# above anything an optimiser that did not blow up reaches (the paper's worst Fig. 2 point, the
# test spike of 4.45 at n = 100, is below 2x the variance of our calibrated labels).
DIVERGED_VARIANCE_FACTOR = 10.0


@dataclasses.dataclass(frozen=True)
class NetworkRun:
    """One monolithic MLP (about ``n_params`` parameters) trained on one sine task instance.

    ``seed`` fixes the task (directions, phases), its training and test sets and the network's
    initialisation, each from its own stream; runs that differ only in ``n_params`` share task
    and data. Test labels carry the same label noise as training labels (a test set drawn like
    the training set, as in the paper's description of the data). ``method``: "gradient" (train
    with ``optimizer``) or "linearised" (the linearisation around the initialisation, solved
    exactly; see :func:`modcore.train_reference.fit_linearised`; optimiser fields are then ignored).
    ``device`` ("cpu" or "cuda") is part of the run's identity: CPU and CUDA results differ in
    rounding and never share a record.
    """

    input_dim: int
    n_modules: int
    n_params: int
    n_train: int
    seed: int
    depth: int = DEFAULT_DEPTH
    activation: str = DEFAULT_ACTIVATION
    method: str = "gradient"
    optimizer: str = "adam"
    n_steps: int = DEFAULT_N_STEPS
    lr: float = DEFAULT_LR
    batch_size: int | None = None
    precision: str = "float32"
    n_test: int = DEFAULT_N_TEST
    amplitude_scale: float = DEFAULT_AMPLITUDE_SCALE
    label_noise: float = DEFAULT_LABEL_NOISE
    direction_norm: str = DEFAULT_DIRECTION_NORM
    device: str = "cpu"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got method={self.method!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got precision={self.precision!r}")
        if not isinstance(self.n_train, int) or self.n_train <= 0:
            raise ValueError(f"n_train must be a positive integer, got n_train={self.n_train!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda' (resolve 'auto' with modcore.runtime.resolve_device), "
                             f"got device={self.device!r}")
        self.spec()  # raises for an impossible n_params, depth or activation
        self.task()  # raises for an impossible task

    def spec(self) -> MLPSpec:
        return MLPSpec.for_n_params(self.n_params, self.input_dim, self.depth, self.activation)

    def ensemble_key(self) -> tuple:
        """Runs with equal keys train together as one ensemble (same shape, data size, protocol
        and device; task, data and seed may differ)."""
        fields = dataclasses.asdict(self)
        for per_model in ("n_modules", "seed", "amplitude_scale", "label_noise", "direction_norm"):
            fields.pop(per_model)
        return tuple(sorted(fields.items()))

    def task(self) -> SineTask:
        return SineTask(self.input_dim, self.n_modules, amplitude_scale=self.amplitude_scale,
                        label_noise=self.label_noise, direction_norm=self.direction_norm, seed=derive_seed(self.seed, 0))

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train, y_train, x_test, y_test); both label sets carry the task's label noise."""
        task = self.task()
        x_train, y_train = task.sample(self.n_train, seed=derive_seed(self.seed, 1))
        x_test, y_test = task.sample(self.n_test, seed=derive_seed(self.seed, 2))
        return x_train, y_train, x_test, y_test

    def model_seed(self) -> int:
        return derive_seed(self.seed, 3)

    def train_settings(self) -> TrainSettings:
        return TrainSettings(n_steps=self.n_steps, lr=self.lr, batch_size=self.batch_size, optimizer=self.optimizer,
                             precision=self.precision)


def device_name(device: str) -> str:
    """"auto", "cpu", "cuda[:i]" -> the NetworkRun ``device`` field ("cpu" or "cuda")."""
    return resolve_device(device).type


def is_diverged(train_mse: float, test_mse: float, target_variance: float) -> bool:
    """True if a final loss is not finite or the test loss exceeds DIVERGED_VARIANCE_FACTOR x the
    test labels' variance."""
    return not (math.isfinite(train_mse) and math.isfinite(test_mse)) or \
        test_mse > DIVERGED_VARIANCE_FACTOR * target_variance


def _result(common: dict, train_mse: float, test_mse: float, target_variance: float, *, optimised: bool = True,
            **extra) -> dict:
    # the exact linearised solution has no optimiser that could blow up: its huge test loss at the
    # interpolation threshold is the divergence Theorem 1 predicts, so only a non-finite loss counts
    diverged = (is_diverged(train_mse, test_mse, target_variance) if optimised
                else not (math.isfinite(train_mse) and math.isfinite(test_mse)))
    finite = lambda value: value if math.isfinite(value) else None  # noqa: E731 (JSON has no inf)
    return {**common, "train_mse": finite(train_mse), "test_mse": finite(test_mse),
            "target_variance": target_variance, "diverged": diverged, **extra}


def run_network_batch(runs: Sequence[NetworkRun]) -> list[dict]:
    """Train ``runs`` (equal ``ensemble_key()``, so one device) together; one result dict per
    run, in order.

    Each result: ``width``, ``n_params_actual``, final ``train_mse`` and ``test_mse`` (None if not
    finite), ``target_variance`` (variance of the test labels: the MSE of the best constant) and
    ``diverged`` (see :func:`is_diverged`).
    """
    runs = list(runs)
    if len({run.ensemble_key() for run in runs}) != 1:
        raise ValueError("run_network_batch needs runs that share ensemble_key(); group them with batch_by")
    first = runs[0]
    spec = first.spec()
    data = [run.data() for run in runs]
    common = {"width": spec.width, "n_params_actual": spec.n_params}
    if first.method == "linearised":
        fits = [fit_linearised(spec, run.model_seed(), *d) for run, d in zip(runs, data)]
        return [_result(common, fit["train_mse"], fit["test_mse"], float(d[3].var()), optimised=False,
                        jacobian_rank=fit["jacobian_rank"]) for fit, d in zip(fits, data)]
    x_train, y_train, x_test, y_test = (np.stack(column) for column in zip(*data))
    result = train_ensemble(spec, [run.model_seed() for run in runs], x_train, y_train, x_test, y_test,
                            settings=first.train_settings(), device=first.device)
    return [_result(common, float(result.final_train_mse[i]), float(result.final_test_mse[i]), float(y_test[i].var()))
            for i in range(len(runs))]


def sweep_networks(groups: Mapping[str, Sequence[NetworkRun]], store: ResultStore, *,
                   desc: str = "") -> dict[str, pd.DataFrame]:
    """Train (or read back from ``store``) each labelled group of runs, runs of one network shape
    trained together as an ensemble; returns ``{label: runs}`` (diverged runs included, flagged)."""
    return {label: sweeps.run_sweep(run_network_batch, runs, store, batch_by=NetworkRun.ensemble_key,
                                    desc=f"{desc} {label}".strip(),
                                    required_keys=("width", "n_params_actual", "train_mse", "test_mse",
                                                   "target_variance", "diverged"))
            for label, runs in groups.items()}


def healthy(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not diverge: the only ones any mean, fit or verdict uses."""
    return runs[~runs.diverged.astype(bool)]


# --- Theorem 1 for the sine task ------------------------------------------------------------------

# The paper does not say how it fitted c and Omega, nor how a network's parameter count maps to
# the theory's p (Section 3 and Fig. 2 leave both open; see the choices page). Ours:
# p_theory = the network's exact parameter count (the paper's Fig. 2 p panel diverges near
# p ~ n = 1000); c = the task's variance, computed from the task; the label noise is the theory's
# noise, on test labels too; Omega by least squares on log test MSE over underparameterised runs
# (p <= FIT_MAX_P_OVER_N * n), where Theorem 1 is finite and a network can reach its optimum. The
# threshold region and the overparameterised side are then predictions.
FIT_MAX_P_OVER_N = 0.5
BOOTSTRAP_RESAMPLES = 200  # resamples of the fitted runs for Omega's interval
INTERVAL_LEVEL = 0.9


@dataclasses.dataclass(frozen=True)
class TheoryFit:
    """Theorem 1 for one sine-task setting: spectrum scale c(m) = the task's variance
    (:func:`modcore.tasks.sine.expected_target_variance`), noise = label_noise^2 on train and
    test labels, and the fitted ``omega`` with its bootstrap interval."""

    omega: float
    omega_low: float
    omega_high: float
    n_fitted: int  # runs used in the fit
    rms_log_error: float  # root-mean-square of log(theory / network) over the fitted runs
    amplitude_scale: float = DEFAULT_AMPLITUDE_SCALE
    direction_norm: str = DEFAULT_DIRECTION_NORM
    label_noise: float = DEFAULT_LABEL_NOISE

    def spectrum_scale(self, input_dim: float) -> float:
        """c: the variance of the noise-free target at this m (computed, not fitted)."""
        return expected_target_variance(int(input_dim), amplitude_scale=self.amplitude_scale,
                                        direction_norm=self.direction_norm)

    def spectrum(self, input_dim: float) -> theory.PowerLaw:
        return theory.PowerLaw(input_dim, self.spectrum_scale(input_dim), self.omega)

    def losses(self, input_dim, n_train, n_params) -> tuple[np.ndarray, np.ndarray]:
        """Theorem 1's (train, test) at each (m, n, p); arrays broadcast."""
        return _theorem1(self.omega, input_dim, n_train, n_params, self.amplitude_scale, self.direction_norm,
                         self.label_noise)


def _theorem1(omega, input_dim, n_train, n_params, amplitude_scale, direction_norm, label_noise):
    m, n, p = np.broadcast_arrays(np.asarray(input_dim, float), np.asarray(n_train, float),
                                  np.asarray(n_params, float))
    train, test = np.empty(m.shape), np.empty(m.shape)
    for value in np.unique(m):  # one spectrum per m; vectorised over the runs at that m
        at = m == value
        c = expected_target_variance(int(value), amplitude_scale=amplitude_scale, direction_norm=direction_norm)
        spectrum = theory.PowerLaw(float(value), c, omega)
        train[at], test[at] = theory.monolithic_losses(spectrum, n[at], p[at], 1, label_noise, noisy_test=True)
    return train, test


def _single_task_setting(runs: pd.DataFrame) -> dict:
    settings = runs[["amplitude_scale", "direction_norm", "label_noise"]].drop_duplicates()
    if len(settings) != 1:
        raise ValueError(f"fit_theory needs runs of one task setting, got {len(settings)}: "
                         f"{settings.to_dict('records')}")
    return settings.iloc[0].to_dict()


def fit_theory(runs: pd.DataFrame, *, max_p_over_n: float = FIT_MAX_P_OVER_N, seed: int = 0) -> TheoryFit:
    """Fit Omega of Theorem 1 to healthy network runs (columns input_dim, n_train, n_params_actual,
    test_mse, diverged and the task fields) with p <= max_p_over_n * n; c and the noise come from
    the task. Minimises sum (log L_theory - log L_network)^2; the interval is the bootstrap
    percentile interval (INTERVAL_LEVEL) over resampled runs."""
    chosen = healthy(runs)
    chosen = chosen[chosen.n_params_actual <= max_p_over_n * chosen.n_train]
    if len(chosen) < 2:
        raise ValueError(f"fit_theory needs 2+ healthy underparameterised runs (p <= {max_p_over_n} n); "
                         f"got {len(chosen)}")
    task = _single_task_setting(chosen)
    m, n, p = (chosen[column].to_numpy(float) for column in ("input_dim", "n_train", "n_params_actual"))
    log_target = np.log(chosen.test_mse.to_numpy(float))

    def residuals(log_excess: float, rows: np.ndarray) -> np.ndarray:
        omega = 1 + math.exp(log_excess)  # Omega > 1
        test = _theorem1(omega, m[rows], n[rows], p[rows], **task)[1]
        return np.log(test) - log_target[rows]

    def fit(rows: np.ndarray) -> float:
        best = scipy.optimize.minimize_scalar(lambda z: np.sum(residuals(z, rows) ** 2), bounds=(-12.0, 4.0),
                                              method="bounded")
        return best.x

    everything = np.arange(len(chosen))
    log_excess = fit(everything)
    interval = stats.bootstrap_percentile_intervals(len(chosen), lambda rows: {"omega": 1 + math.exp(fit(rows))},
                                                    n_resamples=BOOTSTRAP_RESAMPLES, level=INTERVAL_LEVEL, seed=seed)
    low, high = interval["omega"]
    return TheoryFit(omega=1 + math.exp(log_excess), omega_low=float(low), omega_high=float(high),
                     n_fitted=len(chosen),
                     rms_log_error=float(np.sqrt(np.mean(residuals(log_excess, everything) ** 2))),
                     **task)


def calibrated_theory() -> TheoryFit:
    """The one Theorem-1 fit every sine chapter uses: Omega fitted by the calibration chapter to
    its runs on the calibrated task (:data:`modcore.tasks.sine.CALIBRATED_THEORY`)."""
    return TheoryFit(**CALIBRATED_THEORY)


def log_error(theory_fit: TheoryFit, runs: pd.DataFrame, *, max_p_over_n: float = FIT_MAX_P_OVER_N) -> float:
    """rms of log(theory / network) test loss over healthy underparameterised runs (a check of a
    stored fit on runs it was not fitted to); NaN if there are none."""
    chosen = healthy(runs)
    chosen = chosen[chosen.n_params_actual <= max_p_over_n * chosen.n_train]
    if chosen.empty:
        return math.nan
    test = theory_fit.losses(chosen.input_dim, chosen.n_train, chosen.n_params_actual)[1]
    return float(np.sqrt(np.mean(np.log(test / chosen.test_mse.to_numpy(float)) ** 2)))
