"""Runs behind the sine-task chapters: networks trained on the sine-wave task (Fig. 2 and the
optimisation-gap test), and the fit of Theorem 1's constants to them.

A run's settings are a frozen :class:`NetworkRun` (everything that determines its numbers,
seed included); :func:`run_network_batch` trains many runs that share a network shape as one
ensemble, for :func:`modcore.sweeps.run_sweep` with ``batch_by=NetworkRun.ensemble_key``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.optimize
import torch

from modcore import sweeps, theory
from modcore.models import DEFAULT_ACTIVATION, DEFAULT_DEPTH, MLPSpec
from modcore.tasks.sine import DEFAULT_N_TEST, SineTask
from modcore.train import fit_linearised, train_ensemble

# Paper does not give its training protocol (PAPER.md section 6.3). Ours: full-batch Adam,
# lr 3e-3, 2000 steps: full batch because Theorem 1 describes the exact optimum of the
# training loss, not a noisy one; at these settings the training loss of our width-29
# networks on 1000 points stops falling by more than a few % per 500 steps.
DEFAULT_N_STEPS = 2000
DEFAULT_LR = 3e-3
METHODS = ("gradient", "linearised")
PRECISIONS = {"float32": torch.float32, "float64": torch.float64}


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
                            n_steps=first.n_steps, lr=first.lr, batch_size=first.batch_size,
                            optimizer=first.optimizer, device=device, dtype=PRECISIONS[first.precision])
    return [{**common, "train_mse": float(result.final_train_mse[i]), "test_mse": float(result.final_test_mse[i]),
             "target_variance": float(y_test[i].var())} for i in range(len(runs))]


# --- Theorem 1 fitted to network runs ---------------------------------------------------------

# Paper does not say how it fitted c and Omega, nor how a network's parameter count maps to the
# theory's p (PAPER.md section 4.2). Ours: p_theory = the network's exact parameter count (the
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


# --- Fig. 2: the four sweeps ----------------------------------------------------------------

FIG2_PANELS = ("n_modules", "input_dim", "n_params", "n_train")  # the x-axis of each panel


@dataclasses.dataclass(frozen=True)
class Fig2Design:
    """The grid of Fig. 2 (PAPER.md section 9.1 and addendum).

    Panels k and m: one thin line per architecture (``line_n_params``) at m = ``fixed_input_dim``
    (k panel) and k = ``fixed_n_modules`` (m panel), n = ``fixed_n_train``. Panels p and n: one
    thin line per m in ``line_input_dims`` (the paper: 5 to 9), k = ``fixed_n_modules``; the
    p-sweep at n = ``fixed_n_train`` (paper: 1000), the n-sweep at p = ``fixed_n_params`` (paper:
    1153). Every point is trained for each of ``n_seeds`` seeds.
    """

    k_values: Sequence[int]
    m_values: Sequence[int]
    p_values: Sequence[int]
    n_values: Sequence[int]
    line_n_params: Sequence[int]
    line_input_dims: Sequence[int]
    fixed_n_modules: int
    fixed_input_dim: int
    fixed_n_train: int
    fixed_n_params: int
    n_seeds: int
    seed: int = 0

    def runs(self, **protocol) -> dict[str, list[NetworkRun]]:
        """{panel: runs}; ``protocol`` (n_steps, lr, n_test, ...) goes to every NetworkRun."""
        seeds = [self.seed + i for i in range(self.n_seeds)]
        k, m, n, p = self.fixed_n_modules, self.fixed_input_dim, self.fixed_n_train, self.fixed_n_params
        grids = {
            "n_modules": [(kv, m, pv, n) for kv in self.k_values for pv in self.line_n_params],
            "input_dim": [(k, mv, pv, n) for mv in self.m_values for pv in self.line_n_params],
            "n_params": [(k, mv, pv, n) for pv in self.p_values for mv in self.line_input_dims],
            "n_train": [(k, mv, p, nv) for nv in self.n_values for mv in self.line_input_dims],
        }
        return {panel: [NetworkRun(input_dim=mi, n_modules=ki, n_params=pi, n_train=ni, seed=s, **protocol)
                        for ki, mi, pi, ni in grid for s in seeds] for panel, grid in grids.items()}

    def estimated_model_steps(self, n_steps: int) -> float:
        """Training cost in width-128-model-steps on n = 1000 points (PERF.md's unit: ~1000-1500/s
        on 2 cores), counting each run's multiply-adds n * p."""
        reference = MLPSpec(8, 128).n_params * 1000
        return sum(run.n_train * run.spec().n_params * n_steps / reference
                   for runs in self.runs().values() for run in runs)


def sweep_networks(groups: Mapping[str, Sequence[NetworkRun]], store: sweeps.ResultStore, *,
                   device: str = "auto", desc: str = "") -> dict[str, pd.DataFrame]:
    """Train (or read back from ``store``) each labelled group of runs, runs of one network shape
    trained together as an ensemble; returns ``{label: runs}``."""
    run_batch = functools.partial(run_network_batch, device=device)
    return {label: sweeps.run_sweep(run_batch, runs, store, batch_by=NetworkRun.ensemble_key,
                                    desc=f"{desc} {label}".strip())
            for label, runs in groups.items()}


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
    return fig2_claims(means, fixed_n_train=design.fixed_n_train, fixed_n_params=design.fixed_n_params)


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


def fig2_claims(curves: Mapping[str, pd.DataFrame], *, fixed_n_train: float, fixed_n_params: float) -> dict[str, float]:
    """The four Fig. 2 claims as numbers, from test-loss curves ``curves[panel]`` with columns
    x_value, test_mse (our thick lines, or the paper's digitised ones)."""
    k, m, p, n = (curves[panel].sort_values("x_value") for panel in FIG2_PANELS)
    p_rise, p_fall = double_descent(p.x_value, p.test_mse, fixed_n_train)
    n_rise, n_fall = double_descent(n.x_value, n.test_mse, fixed_n_params)
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


# --- the optimisation gap ------------------------------------------------------------------------


def optimisation_methods(n_steps: int, lr: float, long_steps: int, lbfgs_steps: int) -> dict[str, dict]:
    """Ways to get closer to the optimum of the training loss, as NetworkRun overrides, from the
    Fig. 2 protocol to the exact optimum of the linearised network."""
    return {
        f"Adam, {n_steps} steps": dict(n_steps=n_steps, lr=lr),
        f"Adam, {long_steps} steps": dict(n_steps=long_steps, lr=lr),
        f"L-BFGS, {lbfgs_steps} iterations (float64)": dict(optimizer="lbfgs", n_steps=lbfgs_steps, lr=1.0,
                                                             precision="float64"),
        "linearised network, exact least squares": dict(method="linearised"),
    }


def gap_measures(runs: pd.DataFrame, fit: TheoryFit, *, small_n: int, large_n: int,
                 n_params: int) -> pd.DataFrame:
    """Per method (rows, in order of appearance, then "Theorem 1"): the gaps the authors
    attribute to optimisation, from means over seeds and m.

    small_n_test_ratio: test loss / Theorem 1's at n = small_n (the paper's networks: ~3.6);
    spike_rise: the highest test loss within a factor 2 of n = p over the lowest at smaller n
        (:func:`double_descent`; > 1 means a spike; Theorem 1's is infinite);
    train_below_threshold: mean train MSE over runs with n < p (Theorem 1: 0);
    m_ratio: test loss at the largest over the smallest m, at n = large_n.
    """
    theory_train, theory_test = fit.losses(runs.input_dim, runs.n_train, runs.n_params_actual)
    runs = runs.assign(theory_test=theory_test, theory_train=theory_train)
    rows = {}
    for label, frame in runs.groupby("method_label", sort=False):
        curve = frame.groupby("n_train").test_mse.mean()
        by_m = frame[frame.n_train == large_n].groupby("input_dim").test_mse.mean()
        small = frame[frame.n_train == small_n]
        rows[label] = {
            "small_n_test_ratio": small.test_mse.mean() / small.theory_test.mean(),
            "spike_rise": double_descent(curve.index, curve.to_numpy(), n_params)[0],
            "train_below_threshold": frame[frame.n_train < frame.n_params_actual].train_mse.mean(),
            "m_ratio": by_m.iloc[-1] / by_m.iloc[0],
        }
    large = runs[runs.n_train == large_n].groupby("input_dim").theory_test.mean()
    rows["Theorem 1"] = {"small_n_test_ratio": 1.0, "spike_rise": math.inf, "train_below_threshold": 0.0,
                         "m_ratio": large.iloc[-1] / large.iloc[0]}
    return pd.DataFrame(rows).T


def gaps_closed(gaps: pd.DataFrame, method: str, baseline: str) -> dict[str, bool]:
    """Which of the paper's three gaps ``method`` moves towards Theorem 1, relative to ``baseline``:
    the small-n test ratio closer to 1, a higher spike (Theorem 1's is infinite), an m ratio
    closer to Theorem 1's (all in log terms)."""
    theory_m = gaps.loc["Theorem 1", "m_ratio"]
    log_distance = lambda label, column, target: abs(math.log(gaps.loc[label, column] / target))  # noqa: E731
    return {
        "small_n": log_distance(method, "small_n_test_ratio", 1.0) < log_distance(baseline, "small_n_test_ratio", 1.0),
        "spike": bool(gaps.loc[method, "spike_rise"] > max(1.0, gaps.loc[baseline, "spike_rise"])),
        "m_growth": log_distance(method, "m_ratio", theory_m) < log_distance(baseline, "m_ratio", theory_m),
    }
