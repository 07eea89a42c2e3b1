"""One network run on the sine-wave task, and Theorem 1 fitted to runs.

A run's settings are a frozen :class:`NetworkRun` (everything that determines its numbers,
seed included); :func:`run_network_batch` trains many runs that share a network shape as one
ensemble, for :func:`modcore.sweeps.run_sweep` with ``batch_by=NetworkRun.ensemble_key``
(:func:`sweep_networks` does this for labelled groups of runs). :func:`fit_theory` fits
Theorem 1's spectrum constants to finished runs. Used by the Fig. 2 and optimisation-gap
chapters.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.optimize

from modcore import sweeps, theory
from modcore.models import DEFAULT_ACTIVATION, DEFAULT_DEPTH, MLPSpec
from modcore.tasks.sine import DEFAULT_N_TEST, SineTask
from modcore.train import PRECISIONS, TrainSettings, fit_linearised, train_ensemble

# The paper does not give its training protocol (Section 5 and App. E leave it open; see the
# choices page). Ours: full-batch Adam, lr 3e-3, 2000 steps: full batch because Theorem 1
# describes the exact optimum of the training loss, not a noisy one; at these settings the
# training loss of our width-29 networks on 1000 points stops falling by more than a few % per
# 500 steps.
DEFAULT_N_STEPS = 2000
DEFAULT_LR = 3e-3
METHODS = ("gradient", "linearised")


@dataclasses.dataclass(frozen=True)
class NetworkRun:
    """One monolithic MLP (about ``n_params`` parameters) trained on one sine task instance.

    ``seed`` fixes the task (directions, phases), its training and test sets and the network's
    initialisation, each from its own stream; runs that differ only in ``n_params`` share task
    and data. ``method``: "gradient" (train with ``optimizer``) or "linearised" (the
    linearisation around the initialisation, solved exactly; see
    :func:`modcore.train.fit_linearised`; optimiser fields are then ignored).
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
    label_noise: float = 0.0
    direction_norm: str = "unit"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got method={self.method!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got precision={self.precision!r}")
        if not isinstance(self.n_train, int) or self.n_train <= 0:
            raise ValueError(f"n_train must be a positive integer, got n_train={self.n_train!r}")
        self.spec()  # raises for an impossible n_params, depth or activation

    def spec(self) -> MLPSpec:
        return MLPSpec.for_n_params(self.n_params, self.input_dim, self.depth, self.activation)

    def ensemble_key(self) -> tuple:
        """Runs with equal keys train together as one ensemble (same shape, data size and
        protocol; task, data and seed may differ)."""
        fields = dataclasses.asdict(self)
        for per_model in ("n_modules", "seed", "label_noise", "direction_norm"):
            fields.pop(per_model)
        return tuple(sorted(fields.items()))

    def task(self) -> SineTask:
        return SineTask(self.input_dim, self.n_modules, label_noise=self.label_noise,
                        direction_norm=self.direction_norm, seed=_stream(self.seed, 0))

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train, y_train, x_test, y_test); the test labels are noise-free."""
        task = self.task()
        x_train, y_train = task.sample(self.n_train, seed=_stream(self.seed, 1))
        x_test = task.sample(self.n_test, seed=_stream(self.seed, 2))[0]
        return x_train, y_train, x_test, task.target(x_test)

    def model_seed(self) -> int:
        return _stream(self.seed, 3)

    def train_settings(self) -> TrainSettings:
        return TrainSettings(n_steps=self.n_steps, lr=self.lr, batch_size=self.batch_size, optimizer=self.optimizer,
                             precision=self.precision)


def _stream(seed: int, purpose: int) -> int:
    """An independent seed per purpose (task, train set, test set, init) from one run seed."""
    return int(np.random.SeedSequence([seed, purpose]).generate_state(1)[0])


def run_network_batch(runs: Sequence[NetworkRun], *, device: str = "auto") -> list[dict]:
    """Train ``runs`` (equal ``ensemble_key()``) together; one result dict per run, in order.

    Each result: ``width``, ``n_params_actual``, final ``train_mse`` and ``test_mse``,
    ``target_variance`` (variance of the test labels: the MSE of the best constant).
    """
    runs = list(runs)
    if len({run.ensemble_key() for run in runs}) != 1:
        raise ValueError("run_network_batch needs runs that share ensemble_key(); group them with batch_by")
    first = runs[0]
    spec = first.spec()
    data = [run.data() for run in runs]
    x_train, y_train, x_test, y_test = (np.stack(column) for column in zip(*data))
    common = {"width": spec.width, "n_params_actual": spec.n_params}
    if first.method == "linearised":
        fits = [fit_linearised(spec, run.model_seed(), *d) for run, d in zip(runs, data)]
        return [{**common, **fit, "target_variance": float(d[3].var())} for fit, d in zip(fits, data)]
    result = train_ensemble(spec, [run.model_seed() for run in runs], x_train, y_train, x_test, y_test,
                            settings=first.train_settings(), device=device)
    return [{**common, "train_mse": float(result.final_train_mse[i]), "test_mse": float(result.final_test_mse[i]),
             "target_variance": float(y_test[i].var())} for i in range(len(runs))]


# --- Theorem 1 fitted to network runs ---------------------------------------------------------

# The paper does not say how it fitted c and Omega, nor how a network's parameter count maps to
# the theory's p (Section 3 and Fig. 2 leave both open; see the choices page). Ours: p_theory = the network's exact parameter count (the
# paper's Fig. 2 addendum puts the divergence at p ~ n = 1000 in the p-sweep); c and Omega by
# least squares on log test MSE, using only underparameterised runs (p <= FIT_MAX_P_OVER_N * n),
# where Theorem 1 is finite and a network can reach its optimum; the threshold region and the
# overparameterised bias term are then predictions, not fitted.
FIT_MAX_P_OVER_N = 0.5


@dataclasses.dataclass(frozen=True)
class TheoryFit:
    c: float
    omega: float
    n_fitted: int  # runs used in the fit
    rms_log_error: float  # root-mean-square of log(theory / network) over the fitted runs

    def spectrum(self, input_dim: float) -> theory.PowerLaw:
        return theory.PowerLaw(input_dim, self.c, self.omega)

    def losses(self, input_dim, n_train, n_params) -> tuple[np.ndarray, np.ndarray]:
        """Theorem 1's (train, test) at each (m, n, p); arrays broadcast."""
        m, n, p = np.broadcast_arrays(np.asarray(input_dim, float), np.asarray(n_train, float),
                                      np.asarray(n_params, float))
        out = [theory.monolithic_losses(self.spectrum(mi), ni, pi) for mi, ni, pi in zip(m.ravel(), n.ravel(), p.ravel())]
        train, test = (np.array(v, dtype=float).reshape(m.shape) for v in zip(*out)) if out else (m, m)
        return train, test


def fit_theory(runs: pd.DataFrame, *, max_p_over_n: float = FIT_MAX_P_OVER_N, c: float | None = None) -> TheoryFit:
    """Fit Theorem 1's (c, Omega) to network runs (columns input_dim, n_train, n_params_actual,
    test_mse), on the runs with p <= max_p_over_n * n; see FIT_MAX_P_OVER_N.

    With ``c`` given, only Omega is fitted (e.g. c = the target's variance, which is Tr(Lambda)
    = c in the theory). Minimises sum (log L_theory - log L_network)^2 with, for p < n,
    L_theory = c (p+1)^(-Omega^-m) (1 + F(n, p)).
    """
    chosen = runs[runs.n_params_actual <= max_p_over_n * runs.n_train]
    if len(chosen) < (1 if c is not None else 2):
        raise ValueError(f"fit_theory needs underparameterised runs (p <= {max_p_over_n} n) at 2+ settings; "
                         f"got {len(chosen)}")
    m = chosen.input_dim.to_numpy(float)
    n = chosen.n_train.to_numpy(float)
    p = chosen.n_params_actual.to_numpy(float)
    log_target = np.log(chosen.test_mse.to_numpy(float))
    variance_factor = 1 + theory.F(n, p)  # p < n: test = Tr(Lambda2) (1 + F(n, p)), Tr = c (p+1)^-alpha

    def residuals(z):
        log_c = z[1] if c is None else math.log(c)
        alpha = (1 + np.exp(z[0])) ** -m  # Omega = 1 + exp(z0) > 1
        return log_c - alpha * np.log1p(p) + np.log(variance_factor) - log_target

    fit = scipy.optimize.least_squares(residuals, x0=[math.log(0.5), 0.0][:1 if c is not None else 2])
    fitted_c = c if c is not None else math.exp(fit.x[1])
    return TheoryFit(c=fitted_c, omega=1 + math.exp(fit.x[0]), n_fitted=len(chosen),
                     rms_log_error=float(np.sqrt(np.mean(fit.fun ** 2))))


def sweep_networks(groups: Mapping[str, Sequence[NetworkRun]], store: sweeps.ResultStore, *,
                   device: str = "auto", desc: str = "") -> dict[str, pd.DataFrame]:
    """Train (or read back from ``store``) each labelled group of runs, runs of one network shape
    trained together as an ensemble; returns ``{label: runs}``."""
    run_batch = functools.partial(run_network_batch, device=device)
    return {label: sweeps.run_sweep(run_batch, runs, store, batch_by=NetworkRun.ensemble_key,
                                    desc=f"{desc} {label}".strip())
            for label, runs in groups.items()}
