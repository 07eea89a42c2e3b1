"""Closed forms and Monte Carlo for the linear random-feature model of Boopathy et al. (ICLR 2025).

Setup (the paper's Section 3). The target has P features φ(x) ∈ R^{P×d} with i.i.d. N(0, 1)
entries ("white" features) and is y(x) = φ(x)ᵀθ with θ ~ N(0, Λ), Λ = diag(λ_1, ..., λ_P).
The model uses the first p features, ŷ(x) = φ_{1:p}(x)ᵀθ̂, fitted by minimum-norm least
squares on n samples, i.e. on d·n equations. Λ1 = diag(λ_1..λ_p) holds the features the model
captures, Λ2 = diag(λ_{p+1}..λ_P) the ones it misses (they act like label noise).

Losses: L_train = (1/n) Σ_j ‖y_j − ŷ(x_j)‖² over the training points (labels as trained on),
L_test = E_x ‖y(x) − ŷ(x)‖². Every function returns their expectations over x, the features
and θ.

Public arguments are words; the formulas keep the paper's symbols as locals:

    n_train      n   training samples          n_params     p   features the model uses
    output_dim   d   output dimension          n_features   P   features of the target (may be inf)
    input_dim    m   input dimension           module_dim   b   input dimension of one module
    n_modules    K   number of modules         spectrum_scale, omega   the spectrum's c and Ω
    label_noise  σ   standard deviation of the Gaussian noise on each training label (each output)

A *spectrum* argument is either an explicit 1-D array (λ_1, ..., λ_P) or a :class:`PowerLaw`,
the paper's law λ_i = c[i^(−Ω^−m) − (i+1)^(−Ω^−m)], whose traces have closed forms for any P,
P = inf included, so no array of P entries is ever built for the closed forms.

numpy and scipy only (and threadpoolctl, to pin the Monte Carlo's BLAS threads): no torch, no
files, no plotting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize
from threadpoolctl import threadpool_limits

# The Monte Carlo solves least squares through the Gram matrix (6-10x faster than an SVD;
# benchmarks/theory.py measures it) only when |rows - columns| >= this fraction of max(rows, columns). Then the
# design's condition number is at most (1 + sqrt(0.95)) / (1 - sqrt(0.95)) ~ 78, the Gram's
# ~ 6e3, far from float64 trouble. Closer to the interpolation threshold, where the Gram is
# ill-conditioned and Theorem 1's spike lives, the SVD-based np.linalg.lstsq is used.
GRAM_MIN_RELATIVE_GAP = 0.05

SOLVERS = ("auto", "svd", "gram")

# BLAS threads inside the Monte Carlo. Each draw's matrices are small (up to ~1000 x 1000), where
# a second thread buys little and, on a busy 2-core machine, costs a lot: lstsq of 100 x 200
# took 3 ms with one thread and 199 ms with two while other jobs ran; benchmarks/theory.py
# prints the comparison.
MONTE_CARLO_BLAS_THREADS = 1

# Monte-Carlo checks leave out points closer to an interpolation threshold than this fraction of
# it: there the loss has a heavy tail (its variance is infinite for |dn - p| <= 3), so a standard
# error would mean little. Our choice, shared by the Theorem 1 and Theorem 2 checks.
MC_THRESHOLD_EXCLUSION = 0.2


# --- argument checks ---------------------------------------------------------------------


def _first_bad(values: np.ndarray, bad: np.ndarray):
    """The first offending entry, as a plain number, for an error message."""
    return np.asarray(values)[np.asarray(bad)].ravel()[0].item()


def _positive(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    bad = ~(array > 0)  # also catches nan
    if bad.any():
        raise ValueError(f"{name} must be positive, got {name}={_first_bad(array, bad)!r}")
    return array


def _positive_int(name: str, value) -> np.ndarray:
    array = _positive(name, value)
    bad = array != np.round(array)
    if bad.any():
        raise ValueError(f"{name} must be a positive integer, got {name}={_first_bad(array, bad)!r}")
    return array


def _nonnegative(name: str, value) -> float:
    if not (value >= 0 and math.isfinite(value)):  # also catches nan
        raise ValueError(f"{name} must be finite and >= 0, got {name}={value!r}")
    return float(value)


def _output(value: np.ndarray, *inputs):
    """Scalars in -> float out; any array in -> array out (numpy broadcasting)."""
    if all(np.ndim(x) == 0 for x in inputs):
        return float(value)
    return value


# --- F(n, p) -----------------------------------------------------------------------------


def expected_pinv_norm(n_rows, n_cols):
    """E‖R⁺‖_F² for R (n_rows × n_cols) with i.i.d. N(0, 1) entries: the paper's F(n, p).

        F(n, p) = p / (n − p − 1)   if n ≥ p + 2
                = n / (p − n − 1)   if p ≥ n + 2
                = inf               if |n − p| ≤ 1   (interpolation threshold)

    F is symmetric, F(n, p) = F(p, n), because ‖R⁺‖_F = ‖(Rᵀ)⁺‖_F. The first branch is the
    mean trace of an inverse Wishart matrix. Vectorised over numpy arrays (broadcast);
    scalars in give a float out. Enters Theorem 1 as F(d·n, p).

    Source: Boopathy et al. (ICLR 2025), Appendix D.
    """
    # the paper's symbols, to keep the formula readable
    n, p = np.broadcast_arrays(_positive("n_rows", n_rows), _positive("n_cols", n_cols))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n >= p + 2, p / (n - p - 1),
                         np.where(p >= n + 2, n / (p - n - 1), np.inf))
    return _output(value, n_rows, n_cols)


# --- spectra -----------------------------------------------------------------------------


def _check_power_law(input_dim, spectrum_scale, omega) -> None:
    if not input_dim > 0:
        raise ValueError(f"input_dim must be positive, got input_dim={input_dim!r}")
    if not (spectrum_scale > 0 and math.isfinite(spectrum_scale)):
        raise ValueError(f"spectrum_scale must be positive and finite, got spectrum_scale={spectrum_scale!r}")
    if not (omega > 1 and math.isfinite(omega)):
        raise ValueError(f"omega must be > 1 and finite, got omega={omega!r}")


def _tail_sum(p, alpha, c, P):
    """Σ_{i=p+1}^{P} c[i^−α − (i+1)^−α] = c[(p+1)^−α − (P+1)^−α] (telescoping).

    Written as c·(p+1)^−α·(1 − ((P+1)/(p+1))^−α) with expm1, which keeps full precision when
    α is small (large m) and the two powers nearly cancel. P = inf gives c(p+1)^−α.
    """
    log_head = np.log1p(p)
    head = np.exp(-alpha * log_head)
    if np.isinf(P):
        return c * head
    return c * head * -np.expm1(-alpha * (np.log1p(P) - log_head))


@dataclass(frozen=True)
class PowerLaw:
    """The paper's feature spectrum (Section 3, the law behind Fig. 3):

        λ_i = c · [i^(−α) − (i+1)^(−α)],   α = Ω^(−m),   i = 1 .. P   (P = inf allowed)

    with m = ``input_dim``, c = ``spectrum_scale``, Ω = ``omega``, P = ``n_features``.
    The sums telescope: total variance Tr(Λ) = c[1 − (P+1)^−α] (→ c as P → inf),
    Tr(Λ1) = Σ_{i≤p} λ_i = c[1 − (p+1)^−α], Tr(Λ2) = c[(p+1)^−α − (P+1)^−α].
    As m grows α → 0, the spectrum flattens and more features are needed. For a module,
    pass its input dimension b as ``input_dim`` (the paper's Section 4.1: the same law with b
    in place of m).
    """

    input_dim: float
    spectrum_scale: float
    omega: float
    n_features: float = math.inf

    def __post_init__(self):
        _check_power_law(self.input_dim, self.spectrum_scale, self.omega)
        P = self.n_features
        if not (P >= 1 and (math.isinf(P) or float(P).is_integer())):
            raise ValueError(f"n_features must be a positive integer or inf, got n_features={P!r}")
        object.__setattr__(self, "n_features", float(P))  # one type for comparisons and isinf

    @property
    def alpha(self) -> float:
        """α = Ω^(−m), the spectrum's exponent."""
        return self.omega ** -self.input_dim

    def traces(self, n_params):
        """(Tr(Λ1), Tr(Λ2)) for the first n_params features; vectorised."""
        p = np.asarray(n_params, dtype=float)
        c = self.spectrum_scale
        missed = _tail_sum(p, self.alpha, c, self.n_features)
        captured = c * -np.expm1(-self.alpha * np.log1p(p))  # c[1 − (p+1)^−α]
        return captured, missed


def power_law_spectrum(input_dim, spectrum_scale, omega, n_features) -> np.ndarray:
    """(λ_1, ..., λ_P) with λ_i = c[i^(−Ω^−m) − (i+1)^(−Ω^−m)], as in :class:`PowerLaw`.

    Each term is computed as c·i^−α·(1 − (1 + 1/i)^−α) (expm1/log1p), so the tiny differences
    at large i and small α keep full precision. ``n_features`` must be finite here; the closed
    forms take ``PowerLaw(..., n_features=math.inf)`` instead.
    """
    _check_power_law(input_dim, spectrum_scale, omega)
    P = n_features
    if not (P >= 1 and not math.isinf(P) and float(P).is_integer()):
        raise ValueError(f"n_features must be a finite positive integer, got n_features={P!r}")
    alpha = omega ** -input_dim
    i = np.arange(1, int(P) + 1, dtype=float)
    return spectrum_scale * np.exp(-alpha * np.log(i)) * -np.expm1(-alpha * np.log1p(1 / i))


def _check_array_spectrum(spectrum) -> np.ndarray:
    eigenvalues = np.asarray(spectrum, dtype=float)
    if eigenvalues.ndim != 1 or eigenvalues.size == 0:
        raise ValueError(f"spectrum must be a non-empty 1-D array or a PowerLaw, got shape {eigenvalues.shape}")
    if not (np.all(np.isfinite(eigenvalues)) and np.all(eigenvalues >= 0)):
        raise ValueError("spectrum must hold finite, non-negative eigenvalues")
    return eigenvalues


def spectrum_size(spectrum) -> float:
    """P: the number of target features of a spectrum (inf for an infinite power law)."""
    if isinstance(spectrum, PowerLaw):
        return spectrum.n_features
    return float(_check_array_spectrum(spectrum).size)


def spectrum_traces(spectrum, n_params):
    """(Tr(Λ1), Tr(Λ2)): the variance of the first n_params features and of the rest.

    ``spectrum`` is an array (λ_1..λ_P) or a :class:`PowerLaw` (closed form, any P). For an
    array, n_params must be an integer ≤ P; the tail Tr(Λ2) is summed from the end so a small
    tail is not lost to cancellation. Vectorised over n_params.
    """
    p = _positive("n_params", n_params)
    P = spectrum_size(spectrum)
    if np.any(p > P):
        raise ValueError(f"n_params must be <= n_features={P:g} (the target's features), "
                         f"got n_params={_first_bad(p, p > P)!r}")
    if isinstance(spectrum, PowerLaw):
        captured, missed = spectrum.traces(p)
    else:
        index = _positive_int("n_params", n_params).astype(int)
        eigenvalues = _check_array_spectrum(spectrum)
        heads = np.concatenate([[0.0], np.cumsum(eigenvalues)])
        tails = np.concatenate([np.cumsum(eigenvalues[::-1])[::-1], [0.0]])
        captured, missed = heads[index], tails[index]
    return _output(captured, n_params), _output(missed, n_params)


def _eigenvalues(spectrum) -> np.ndarray:
    """The explicit eigenvalues, which the Monte Carlo needs (P finite)."""
    if isinstance(spectrum, PowerLaw):
        if math.isinf(spectrum.n_features):
            raise ValueError("the Monte Carlo needs a finite number of features; got a PowerLaw with n_features=inf")
        return power_law_spectrum(spectrum.input_dim, spectrum.spectrum_scale, spectrum.omega, spectrum.n_features)
    return _check_array_spectrum(spectrum)


# --- Theorems 1 and 2 ----------------------------------------------------------------------


def _losses_from_traces(captured, missed, n_train, q, output_dim, label_noise, noisy_test):
    """Theorem 1 from the traces; q is the model's parameter count, p (monolithic) or K·p (modular)."""
    _positive("n_train", n_train)
    d = _positive_int("output_dim", output_dim)
    sigma2 = _nonnegative("label_noise", label_noise) ** 2
    dn = d * np.asarray(n_train, dtype=float)
    unexplained = missed + sigma2  # the missed features act exactly like label noise
    train = d * unexplained * np.maximum(0.0, 1 - q / dn)
    with np.errstate(invalid="ignore"):
        # 0 * inf at the threshold: with nothing unexplained the labels are fitted exactly
        variance = np.where(unexplained > 0, unexplained * expected_pinv_norm(dn, q), 0.0)
    bias = captured * np.maximum(0.0, 1 - dn / q)
    test = d * (missed + variance + bias) + (d * sigma2 if noisy_test else 0.0)
    return train, test


def monolithic_losses(spectrum, n_train, n_params, output_dim=1, label_noise=0.0, *, noisy_test=False):
    """Theorem 1: expected (train, test) loss of min-norm least squares on the first p features.

    With n = ``n_train``, p = ``n_params``, d = ``output_dim``, σ = ``label_noise``:

        E[L_train] = d · (Tr(Λ2) + σ²) · max(0, 1 − p/(dn))
        E[L_test]  = d · [ Tr(Λ2) + (Tr(Λ2) + σ²) · F(dn, p) + Tr(Λ1) · max(0, 1 − dn/p) ]
                     (+ d·σ² if ``noisy_test``)

    With σ = 0 this is the paper's Theorem 1 (Section 3, Fig. 1): the train loss is 0 for
    p ≥ dn and tends to d·Tr(Λ2) as n → inf; the test loss diverges at |dn − p| ≤ 1 (double
    descent in n and in p) and tends to d·Tr(Λ2); for p > dn it holds the bias
    d·Tr(Λ1)(1 − dn/p).

    Label noise (our extension; the choices page of the book): the training labels carry
    i.i.d. N(0, σ²) noise on each output; the train loss is measured against those noisy
    labels. By default the test loss is against the clean target y(x); ``noisy_test=True``
    measures it against noisy test labels, which adds d·σ².

    The formula is exact for any P (Theorem 1 is stated for P → inf: pass
    ``PowerLaw(..., n_features=math.inf)``). n_train and n_params may be arrays (broadcast);
    scalars give floats. Source: Boopathy et al. (ICLR 2025), Theorem 1; the Theorem 1
    chapter of the book derives it and checks it by Monte Carlo.
    """
    _positive("n_params", n_params)
    captured, missed = spectrum_traces(spectrum, n_params)
    train, test = _losses_from_traces(captured, missed, n_train, np.asarray(n_params, dtype=float), output_dim,
                                      label_noise, noisy_test)
    return _output(train, n_train, n_params), _output(test, n_train, n_params)


def modular_losses(spectrum, n_train, n_params, n_modules, output_dim=1, label_noise=0.0, *, noisy_test=False):
    """Theorem 2: expected (train, test) loss of K modules with p features each (Kp in all).

    K = ``n_modules``, p = ``n_params`` (features per module), other symbols as in
    :func:`monolithic_losses`. The target is y(x) = K^(−1/2) Σ_k φ_k(x)ᵀθ_k with module
    features φ_k white and independent across modules, θ_k ~ N(0, Λ^(b)); ``spectrum`` is
    the module spectrum Λ^(b) (e.g. ``PowerLaw(module_dim, spectrum_scale, omega)``), and
    Λ1^(b), Λ2^(b) split it at p. The model is the sum of the K modules' first p features,
    fitted jointly by min-norm least squares:

        E[L_train] = d · (Tr(Λ2^(b)) + σ²) · max(0, 1 − Kp/(dn))
        E[L_test]  = d · [ Tr(Λ2^(b)) + (Tr(Λ2^(b)) + σ²) · F(dn, Kp)
                           + Tr(Λ1^(b)) · max(0, 1 − dn/(Kp)) ]   (+ d·σ² if ``noisy_test``)

    The K^(−1/2) cancels: min-norm predictions do not change when all features are scaled
    alike, and the K modules' variances add up to one module's. This is Theorem 1 with Kp
    parameters and the module traces; m does not enter. K = 1 is Theorem 1. When the modules
    read the same x their features are correlated through the projections (which depend on
    m); that leaves the underparameterised loss unchanged but not the overparameterised bias,
    and is not modelled here (:func:`simulate_projected` simulates it). Source: Boopathy et al.
    (ICLR 2025), Theorem 2 (Section 4.1); the Theorem 2 chapter of the book derives this form.
    """
    _positive("n_params", n_params)
    K = _positive_int("n_modules", n_modules)
    captured, missed = spectrum_traces(spectrum, n_params)
    q = K * np.asarray(n_params, dtype=float)
    train, test = _losses_from_traces(captured, missed, n_train, q, output_dim, label_noise, noisy_test)
    return _output(train, n_train, n_params, n_modules), _output(test, n_train, n_params, n_modules)


# --- sample complexity ---------------------------------------------------------------------


def _samples_needed_real(loss_target, missed, q, d, sigma2, noisy_test):
    """The real n at which the underparameterised test loss equals loss_target (inf if never).

    For dn ≥ q + 2 (q the parameter count) there is no bias term and, with S = Tr(Λ2) + σ²
    and floor = d·Tr(Λ2) (+ d·σ² if noisy_test), E[L_test] = floor + d·S·q/(dn − q − 1), which
    decreases in n. Solving for equality: n = (q + 1 + d·S·q/(loss_target − floor)) / d,
    and at least (q + 2)/d, the branch's first point.
    """
    floor = d * (missed + (sigma2 if noisy_test else 0.0))
    unexplained = missed + sigma2
    with np.errstate(divide="ignore", invalid="ignore"):
        n_real = (q + 1 + d * unexplained * q / (loss_target - floor)) / d
    n_real = np.where(loss_target > floor, np.maximum(n_real, (q + 2) / d), np.inf)
    return np.where(unexplained > 0, n_real, (q + 2) / d)


def samples_needed(loss_target, spectrum, n_params, output_dim=1, label_noise=0.0, *, n_modules=1,
                   noisy_test=False):
    """Smallest integer n with d·n ≥ q + 2 and expected test loss ≤ loss_target (q = K·p).

    The test loss is not monotone in n (double descent: it spikes at d·n ≈ q), so this is
    defined, as for the paper's Fig. 3 ("min n > p + 1" with the loss below the target), on
    the underparameterised branch d·n ≥ q + 2, where the loss decreases in n. There

        E[L_test](n) = d·Tr(Λ2) + d·(Tr(Λ2) + σ²)·q/(dn − q − 1)   (+ d·σ² if noisy_test),

    so n* = ceil((q + 1 + d(Tr(Λ2) + σ²)q / (loss_target − d·Tr(Λ2) − [d·σ²])) / d), exact
    (checked against the loss itself for rounding). It is inf when loss_target ≤ d·Tr(Λ2)
    (+ d·σ²), the loss's limit as n → inf: the target is unreachable. A smaller n on the
    overparameterised branch (d·n < q) may also reach the target; it is not considered.

    n_modules = 1 is the monolithic model of Theorem 1 (``n_params`` features, ``spectrum`` of
    the input); n_modules > 1 is Theorem 2's modular model (n_modules modules of ``n_params``
    features, ``spectrum`` of one module). Returns an integer-valued float (inf when
    unreachable); arrays for array n_params.
    """
    target = _positive("loss_target", loss_target)
    _positive("n_params", n_params)
    K = _positive_int("n_modules", n_modules)
    d = _positive_int("output_dim", output_dim)
    sigma2 = _nonnegative("label_noise", label_noise) ** 2
    _, missed = spectrum_traces(spectrum, n_params)
    q = K * np.asarray(n_params, dtype=float)
    n_real = _samples_needed_real(target, missed, q, d, sigma2, noisy_test)
    finite = np.isfinite(n_real)
    n_star = np.where(finite, np.ceil(np.where(finite, n_real, 0.0)), np.inf)
    # ceil of a float can land one off an exact integer: check the neighbours on the loss itself
    first = np.ceil((q + 2) / d)

    def reaches(n):
        return modular_losses(spectrum, np.maximum(n, 1.0), n_params, n_modules, output_dim, label_noise,
                              noisy_test=noisy_test)[1] <= target

    with np.errstate(invalid="ignore"):
        n_star = np.where(finite & (n_star - 1 >= first) & reaches(n_star - 1), n_star - 1, n_star)
        n_star = np.where(finite & ~reaches(np.where(finite, n_star, 1.0)), n_star + 1, n_star)
    return _output(n_star, loss_target, n_params, n_modules)


def samples_needed_vs_dimension(loss_target, input_dim_values, module_dim, n_modules, n_params, spectrum_scale,
                                omega, output_dim=1, label_noise=0.0):
    """Theorem 2's closed-form comparison: samples needed vs input dimension, monolithic vs modular.

    Both models have K·p parameters (K = ``n_modules``, p = ``n_params`` per module) and
    P = inf. The monolithic model uses the first K·p features of the spectrum
    PowerLaw(m, c, Ω); the modular one has K modules of p features, each with the module
    spectrum PowerLaw(b, c, Ω), b = ``module_dim``. Returns ``(n_monolithic, n_modular)``,
    each :func:`samples_needed` at every m (arrays shaped like ``input_dim_values``). The
    modular closed form has no m in it, so its value is the same at every m: this is the
    theorem's statement, not a test of it (:func:`simulate_projected` tests it). The
    monolithic one grows like Ω^m as the spectrum flattens. module_dim > input_dim is an
    error: a module cannot read more input dimensions than there are.
    """
    m = _positive("input_dim_values", input_dim_values)
    if np.any(module_dim > m):
        raise ValueError(f"module_dim must be <= every input_dim, got module_dim={module_dim!r} and "
                         f"input_dim={_first_bad(m, module_dim > m)!r}")
    monolithic = np.array([samples_needed(loss_target, PowerLaw(float(mi), spectrum_scale, omega),
                                          n_modules * n_params, output_dim, label_noise)
                           for mi in m.ravel()]).reshape(m.shape)
    modular = samples_needed(loss_target, PowerLaw(module_dim, spectrum_scale, omega), n_params, output_dim,
                             label_noise, n_modules=n_modules)
    return monolithic, np.full(m.shape, modular)


# --- fitting the spectrum constants to Fig. 3 -------------------------------------------------


@dataclass(frozen=True)
class SamplesNeededFit:
    """Result of :func:`fit_samples_needed`; arrays are (curves,) or (curves, len(input_dim_values))."""

    spectrum_scale: float
    omega: float
    n_params: np.ndarray   # fitted features per curve
    n_fit: np.ndarray      # fitted samples needed (real-valued relaxation)
    log_ratio: np.ndarray  # log(n_fit / n_needed)

    @property
    def max_factor(self) -> float:
        """Worst point's factor between fit and data: exp(max |log ratio|)."""
        return float(np.exp(np.abs(self.log_ratio).max()))

    @property
    def rms_log_ratio(self) -> float:
        """Root mean square of log(n_fit / n_needed) over all points."""
        return float(np.sqrt(np.mean(self.log_ratio ** 2)))


# Starting points of the fit: a coarse grid, so the optimum does not depend on one guess.
# Our choice; every start that converges lands on the same optimum for the Fig. 3 data.
FIT_START_SPECTRUM_SCALE = (0.8, 1.0, 1.2, 1.5, 2.0)
FIT_START_OMEGA = (1.2, 1.5, 2.0, 3.0)


def fit_samples_needed(input_dim_values, n_needed, loss_target, output_dim=1, *, spectrum_scale=None,
                       omega=None) -> SamplesNeededFit:
    """Fit c and Ω (shared) and p (one per curve) to curves of samples needed vs m.

    Model (our reading of the paper's Fig. 3): each curve k is :func:`samples_needed` at
    P = inf, no noise, with the spectrum PowerLaw(m, c, Ω) and p_k features, in its
    real-valued form (the ceiling removed, which moves n by < 1/n):

        n(m) = (p + 1 + d·T·p / (loss_target − d·T)) / d,   T = c(p + 1)^(−Ω^(−m)).

    Minimises Σ_kj [log n(m_j; c, Ω, p_k) − log n_needed[k, j]]² with
    scipy.optimize.least_squares (Levenberg-Marquardt) from each start of the grid
    FIT_START_SPECTRUM_SCALE × FIT_START_OMEGA (p_k started at n_needed[k, 0] / 3), keeping
    the best. Passing ``spectrum_scale`` (c) or ``omega`` fixes it (only p, and the other
    constant, are fitted). ``n_needed`` is (curves, len(input_dim_values)).
    """
    m = _positive("input_dim_values", input_dim_values)
    data = _positive("n_needed", n_needed)
    target = float(_positive("loss_target", loss_target))
    d = int(_positive_int("output_dim", output_dim))
    if data.ndim != 2 or data.shape[1] != m.size:
        raise ValueError(f"n_needed must be (curves, len(input_dim_values)) = (*, {m.size}), got shape {data.shape}")
    fixed_c, fixed_omega = spectrum_scale, omega
    if fixed_c is not None:
        _check_power_law(1, fixed_c, 2)
    if fixed_omega is not None:
        _check_power_law(1, 1, fixed_omega)

    def unpack(x):
        c = math.exp(x[0]) if fixed_c is None else fixed_c
        omega_ = 1 + math.exp(x[int(fixed_c is None)]) if fixed_omega is None else fixed_omega
        return c, omega_, np.exp(x[(fixed_c is None) + (fixed_omega is None):])

    def predicted(x):
        c, omega_, p = unpack(x)
        alpha = omega_ ** -m                                       # (len(m),)
        missed = _tail_sum(p[:, None], alpha[None, :], c, math.inf)  # (curves, len(m))
        # an unreachable target (d·T ≥ loss_target) becomes a huge finite n, which least
        # squares can move away from; the optimum is far from it
        missed = np.minimum(missed, (1 - 1e-12) * target / d)
        return _samples_needed_real(target, missed, p[:, None], d, 0.0, False)

    def residuals(x):
        with np.errstate(over="ignore", invalid="ignore"):
            return (np.log(predicted(x)) - np.log(data)).ravel()

    best = None
    for c0 in FIT_START_SPECTRUM_SCALE if fixed_c is None else (fixed_c,):
        for omega0 in FIT_START_OMEGA if fixed_omega is None else (fixed_omega,):
            x0 = np.concatenate([[math.log(c0)] if fixed_c is None else [],
                                 [math.log(omega0 - 1)] if fixed_omega is None else [],
                                 np.log(data[:, 0] / 3)])
            if not np.all(np.isfinite(residuals(x0))):
                continue
            result = scipy.optimize.least_squares(residuals, x0, method="lm")
            if np.all(np.isfinite(result.fun)) and (best is None or result.cost < best.cost):
                best = result
    if best is None:
        raise RuntimeError("fit_samples_needed: no starting point gave finite residuals")
    c, omega_, p = unpack(best.x)
    n_fit = predicted(best.x)
    return SamplesNeededFit(spectrum_scale=float(c), omega=float(omega_), n_params=p, n_fit=n_fit,
                            log_ratio=np.log(n_fit) - np.log(data))


# --- Monte Carlo -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonteCarloLosses:
    """Mean and standard error of the mean of the train and test losses over n_trials draws."""

    train_mean: float
    train_se: float
    test_mean: float
    test_se: float
    n_trials: int


def _min_norm_solve(design: np.ndarray, labels: np.ndarray, solver: str) -> np.ndarray:
    rows, cols = design.shape
    if solver == "auto":
        near_threshold = abs(rows - cols) < GRAM_MIN_RELATIVE_GAP * max(rows, cols)
        solver = "svd" if near_threshold else "gram"
    if solver == "svd":
        return np.linalg.lstsq(design, labels, rcond=None)[0]
    # min-norm solution: (AᵀA)⁻¹Aᵀy when A has full column rank, Aᵀ(AAᵀ)⁻¹y when full row rank.
    # numpy's solve, not scipy's: alternating numpy's and scipy's BLAS libraries on these small
    # matrices measured 10x slower on 2 cores.
    if rows >= cols:
        return np.linalg.solve(design.T @ design, design.T @ labels)
    return design.T @ np.linalg.solve(design @ design.T, labels)


def _check_n_trials(n_trials) -> int:
    if not (isinstance(n_trials, (int, np.integer)) and n_trials >= 2):
        raise ValueError(f"n_trials must be an integer >= 2 (for a standard error), got n_trials={n_trials!r}")
    return int(n_trials)


def _check_solver(solver) -> None:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got solver={solver!r}")


def _simulate(eigenvalues, n_train, n_params, n_modules, output_dim, label_noise, noisy_test, n_trials, seed,
              solver) -> MonteCarloLosses:
    """Monte Carlo of K modules (K = 1: the monolithic model); see simulate_modular."""
    for name, value in (("n_train", n_train), ("n_params", n_params), ("n_modules", n_modules),
                        ("output_dim", output_dim)):
        _positive_int(name, value)
    n, p, K, d = int(n_train), int(n_params), int(n_modules), int(output_dim)  # the paper's symbols
    sigma = _nonnegative("label_noise", label_noise)
    n_trials = _check_n_trials(n_trials)
    _check_solver(solver)
    P = eigenvalues.size
    if p > P:
        raise ValueError(f"n_params must be <= n_features={P} (the target's features), got n_params={n_params!r}")
    rng = np.random.default_rng(seed)
    rows = d * n  # each sample gives d equations, one per output
    scale = math.sqrt(K)
    train, test = np.empty(n_trials), np.empty(n_trials)
    with threadpool_limits(MONTE_CARLO_BLAS_THREADS, user_api="blas"):
        for trial in range(n_trials):
            features = rng.standard_normal((K, rows, P))                  # (modules, dn, P)
            theta = np.sqrt(eigenvalues) * rng.standard_normal((K, P))   # (modules, P)
            labels = np.einsum("krf,kf->r", features, theta) / scale     # (dn,)
            labels += sigma * rng.standard_normal(rows)
            design = features[:, :, :p].transpose(1, 0, 2).reshape(rows, K * p) / scale  # (dn, Kp)
            coef = _min_norm_solve(design, labels, solver)                # (Kp,)
            residual = labels - design @ coef
            train[trial] = residual @ residual / n
            # White features: E_x ‖φ(x)ᵀe‖² = d‖e‖², so the test loss is exact given the draws.
            error = theta.copy()
            error[:, :p] -= coef.reshape(K, p)
            test[trial] = d * np.sum(error ** 2) / K + (d * sigma ** 2 if noisy_test else 0.0)
    root = math.sqrt(n_trials)
    return MonteCarloLosses(train_mean=float(train.mean()), train_se=float(train.std(ddof=1) / root),
                            test_mean=float(test.mean()), test_se=float(test.std(ddof=1) / root),
                            n_trials=n_trials)


def simulate_monolithic(spectrum, n_train, n_params, output_dim=1, label_noise=0.0, *, noisy_test=False,
                        n_trials=200, seed: int | Sequence[int], solver="auto") -> MonteCarloLosses:
    """Monte Carlo of Theorem 1's model; compare with :func:`monolithic_losses`.

    Each trial draws white features (d·n rows × P columns, i.i.d. N(0, 1), float64),
    θ ~ N(0, Λ) and training-label noise N(0, σ²); fits the min-norm least-squares solution on
    the first p columns; records the train loss (1/n)‖Y − Φ̂θ̂‖² against the noisy labels and
    the test loss d·‖θ − θ̂‖² (θ̂ padded with zeros), which is E_x‖y(x) − ŷ(x)‖² exactly for
    white features (+ d·σ² if ``noisy_test``). ``spectrum`` must have a finite P.

    solver: "svd" (np.linalg.lstsq), "gram" (solve with AᵀA or AAᵀ) or "auto": the Gram
    solve unless |dn − p| < GRAM_MIN_RELATIVE_GAP·max(dn, p). ``seed`` (int or sequence of
    ints) seeds numpy's default generator: the same seed gives identical numbers.
    """
    return _simulate(_eigenvalues(spectrum), n_train, n_params, 1, output_dim, label_noise, noisy_test, n_trials,
                     seed, solver)


def simulate_modular(spectrum, n_train, n_params, n_modules, output_dim=1, label_noise=0.0, *, noisy_test=False,
                     n_trials=200, seed: int | Sequence[int], solver="auto") -> MonteCarloLosses:
    """Monte Carlo of Theorem 2's closed-form model; compare with :func:`modular_losses`.

    What is simulated: K modules, each with its own white features (d·n × P, i.i.d. N(0, 1),
    independent across modules, as in the derivation of :func:`modular_losses`, i.e. the
    projections are known, Û_k = U_k) and its own θ_k ~ N(0, Λ^(b)), where ``spectrum`` is the
    module spectrum with a finite P. Labels are y = K^(−1/2) Σ_k Φ_k θ_k + noise. The model's
    design matrix is the K modules' first p columns side by side, scaled by K^(−1/2)
    (d·n × K·p); it is fitted by min-norm least squares. The train loss is (1/n)‖Y − ŷ‖²; the
    test loss is d·Σ_k ‖θ_k − θ̂_k‖² / K (+ d·σ² if ``noisy_test``), exact for white features.
    Solver and seed as in :func:`simulate_monolithic`; n_modules = 1 is that function. The
    module features here do not depend on an input x at all; :func:`simulate_projected`
    builds them from m-dimensional inputs.
    """
    return _simulate(_eigenvalues(spectrum), n_train, n_params, n_modules, output_dim, label_noise, noisy_test,
                     n_trials, seed, solver)


def deviation_in_standard_errors(expected, mean, se, *, atol=0.0):
    """|expected − mean| / se: how many standard errors a Monte-Carlo mean is off.

    Differences up to ``atol`` count as zero (e.g. a train loss of 1e-28 from rounding where
    the closed form says 0), and 0/0 is 0. Vectorised.
    """
    gap = np.maximum(np.abs(np.asarray(expected, dtype=float) - mean) - atol, 0.0)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(gap == 0, 0.0, gap / se)
    return _output(value, expected, mean, se)


# Differences below this count as zero when comparing with Monte Carlo: a train loss that is 0
# in exact arithmetic (p ≥ dn) comes out ~1e-30 in float64, with a standard error ~1e-32.
ROUNDING_ATOL = 1e-12


def compare_with_monte_carlo(spectrum, n_train, n_params, output_dim=1, label_noise=0.0, *, n_modules=1,
                             noisy_test=False, n_trials=200, seed: int | Sequence[int], solver="auto") -> dict:
    """One closed-form-vs-Monte-Carlo check, as a table row.

    Theorem 1 (n_modules = 1, :func:`monolithic_losses` vs :func:`simulate_monolithic`) or
    Theorem 2 (n_modules > 1, :func:`modular_losses` vs :func:`simulate_modular`). Returns a
    dict with the setting (n_train, n_params, n_modules, output_dim, label_noise),
    ``train_closed``, ``test_closed``, the Monte-Carlo ``train_mc``, ``train_se``, ``test_mc``,
    ``test_se``, and ``deviation``: the larger of the train and test gaps in standard errors
    (:func:`deviation_in_standard_errors`).
    """
    train, test = modular_losses(spectrum, n_train, n_params, n_modules, output_dim, label_noise,
                                 noisy_test=noisy_test)
    mc = _simulate(_eigenvalues(spectrum), n_train, n_params, n_modules, output_dim, label_noise, noisy_test,
                   n_trials, seed, solver)
    deviation = max(deviation_in_standard_errors(train, mc.train_mean, mc.train_se, atol=ROUNDING_ATOL),
                    deviation_in_standard_errors(test, mc.test_mean, mc.test_se, atol=ROUNDING_ATOL))
    return dict(n_train=int(n_train), n_params=int(n_params), n_modules=int(n_modules), output_dim=int(output_dim),
                label_noise=float(label_noise), train_closed=train, test_closed=test, train_mc=mc.train_mean,
                train_se=mc.train_se, test_mc=mc.test_mean, test_se=mc.test_se, deviation=float(deviation))


# --- Monte Carlo of modules fed m-dimensional inputs (Theorem 2 tested) -----------------------

# Spacing of the Fourier features' frequencies: feature j of a module has frequency norm
# FREQUENCY_SPACING * j. Two features then differ in frequency by at least the spacing, and
# E[cos(a z) cos(b z)] for z ~ N(0, 1) decays like exp(-(a - b)^2 / 2): with a spacing of 3 the
# 40 features of a 1-D module have a Gram matrix with eigenvalues within 0.97..1.03 (measured
# on 2e5 points), i.e. nearly the white features of the closed forms. Random frequencies
# instead (w ~ N(0, 9)) gave near-collinear features (smallest Gram eigenvalue ~1e-15) and
# least-squares losses of 1e6. Our choice.
FREQUENCY_SPACING = 3.0


@dataclass(frozen=True)
class ProjectedMonteCarlo:
    """Losses of :func:`simulate_projected`, one row per trial and one column per training-set size."""

    n_train_values: np.ndarray  # (n_points,)
    train_losses: np.ndarray    # (n_trials, n_points)
    test_losses: np.ndarray     # (n_trials, n_points)

    @property
    def test_mean(self) -> np.ndarray:
        return self.test_losses.mean(axis=0)

    @property
    def test_se(self) -> np.ndarray:
        return self.test_losses.std(axis=0, ddof=1) / math.sqrt(self.test_losses.shape[0])


def normalised_power_law(input_dim, spectrum_scale, omega, n_features) -> np.ndarray:
    """The power law truncated at P = n_features and rescaled to total variance c (its P → inf total).

    Truncation alone would leave a total variance c[1 − (P+1)^−α] that vanishes as α = Ω^−m → 0
    (large m): the target itself would disappear. Rescaling keeps the target's variance at c for
    every m, so that a loss target means the same at every m.
    """
    eigenvalues = power_law_spectrum(input_dim, spectrum_scale, omega, n_features)
    return eigenvalues * (spectrum_scale / eigenvalues.sum())


def _orthonormal_columns(rng, rows: int, cols: int) -> np.ndarray:
    """A uniformly random m × b matrix with orthonormal columns (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def simulate_projected(n_train_values, input_dim, n_params, n_features, spectrum_scale, omega, *, module_dim=None,
                       n_modules=1, label_noise=0.0, n_test=500, n_trials=100, seed: int | Sequence[int],
                       frequency_spacing=FREQUENCY_SPACING) -> ProjectedMonteCarlo:
    """Monte Carlo of a linear random-feature model whose features are functions of m-dimensional inputs.

    Unlike :func:`simulate_modular`, whose module features are independent by construction, the
    features here are computed from inputs x ~ N(0, I_m) (m = ``input_dim``), so modules that
    read overlapping projections of one x have correlated features, and m can enter.

    Modular (``module_dim`` = b given, K = ``n_modules``): each trial draws K projections
    U_k (m × b, orthonormal columns, independent and uniformly random) and, per module, P =
    ``n_features`` random Fourier features of z_k = U_kᵀx,

        φ_kj(x) = √2 cos(s·j·v_kjᵀ U_kᵀ x + β_kj),   v_kj uniform on the unit sphere of R^b,
                                                       β_kj ~ U(0, 2π),   j = 1..P,

    (s = ``frequency_spacing``, see FREQUENCY_SPACING: the features of one module are then
    close to orthonormal, each with unit mean square) and weights θ_kj ~ N(0, λ_j) with
    λ the paper's power law with b in place of m, truncated at P and rescaled to total c
    (:func:`normalised_power_law`; the paper's Section 4.1). The target is
    y(x) = K^(−1/2) Σ_k Σ_j θ_kj φ_kj(x), so its variance is about c whatever K. The model is
    Theorem 2's: the true projections and each module's first p = ``n_params`` features, K·p
    in all, fitted jointly by min-norm least squares.

    Monolithic (``module_dim`` None): the same construction with one module that reads the
    whole x (U = I_m, b = m): P features of x with the power law in m, the model its first
    ``n_params`` features. For the comparison at equal size, pass K·p as ``n_params`` and K·P
    as ``n_features``.

    Each trial fits the model on the first n samples of one training set, for every n in
    ``n_train_values`` (nested, so a trial's loss curve is smooth in n), with training labels
    carrying N(0, σ²) noise (σ = ``label_noise``); it records the train loss and the test loss
    against the clean target on ``n_test`` fresh points. Scalar outputs (d = 1). ``seed``
    seeds numpy's default generator: the same seed gives identical numbers.
    """
    n_values = _positive_int("n_train_values", n_train_values).astype(int).ravel()
    if n_values.size == 0:
        raise ValueError("n_train_values must be a non-empty list, got n_train_values=[]")
    m = int(_positive_int("input_dim", input_dim))
    q_per_module = int(_positive_int("n_params", n_params))
    P = int(_positive_int("n_features", n_features))
    K = int(_positive_int("n_modules", n_modules))
    b = m if module_dim is None else int(_positive_int("module_dim", module_dim))
    if module_dim is None and K != 1:
        raise ValueError(f"n_modules must be 1 without module_dim (the monolithic model), got n_modules={n_modules!r}")
    if b > m:
        raise ValueError(f"module_dim must be <= input_dim, got module_dim={module_dim!r} and input_dim={input_dim!r}")
    if q_per_module > P:
        raise ValueError(f"n_params must be <= n_features, got n_params={n_params!r} and n_features={n_features!r}")
    sigma = _nonnegative("label_noise", label_noise)
    n_test = int(_positive_int("n_test", n_test))
    n_trials = _check_n_trials(n_trials)
    s = float(_positive("frequency_spacing", frequency_spacing))
    eigenvalues = normalised_power_law(b, spectrum_scale, omega, P)   # (P,)
    n_max = int(n_values.max())
    rng = np.random.default_rng(seed)
    train = np.empty((n_trials, n_values.size))
    test = np.empty((n_trials, n_values.size))
    with threadpool_limits(MONTE_CARLO_BLAS_THREADS, user_api="blas"):
        for trial in range(n_trials):
            x = rng.standard_normal((n_max + n_test, m))                              # (n + n_test, m)
            projections = [np.eye(m) if module_dim is None else _orthonormal_columns(rng, m, b) for _ in range(K)]
            directions = rng.standard_normal((K, b, P))
            directions /= np.linalg.norm(directions, axis=1, keepdims=True)
            frequencies = s * np.arange(1, P + 1) * directions                       # (K, b, P)
            phases = rng.uniform(0, 2 * np.pi, (K, P))
            theta = np.sqrt(eigenvalues) * rng.standard_normal((K, P))              # (K, P)
            features = np.stack([math.sqrt(2) * np.cos(x @ projections[k] @ frequencies[k] + phases[k])
                                 for k in range(K)])                                  # (K, n + n_test, P)
            clean = np.einsum("knf,kf->n", features, theta) / math.sqrt(K)           # (n + n_test,)
            design = features[:, :, :q_per_module].transpose(1, 0, 2).reshape(n_max + n_test, K * q_per_module)
            labels = clean[:n_max] + sigma * rng.standard_normal(n_max)
            test_design, test_target = design[n_max:], clean[n_max:]
            for column, n in enumerate(n_values):
                coef = _min_norm_solve(design[:n], labels[:n], "auto")
                residual = labels[:n] - design[:n] @ coef
                train[trial, column] = residual @ residual / n
                error = test_target - test_design @ coef
                test[trial, column] = error @ error / n_test
    return ProjectedMonteCarlo(n_train_values=n_values, train_losses=train, test_losses=test)


def samples_needed_from_losses(n_train_values, losses, loss_target) -> float:
    """The n at which a sampled loss curve first falls to loss_target, interpolated (inf if never).

    ``losses`` are mean test losses at the increasing ``n_train_values`` (on the
    underparameterised branch, where the expected loss falls with n). Between the last point
    above the target and the first at or below it, log loss is interpolated linearly in log n
    (the excess loss of Theorem 1 falls like a power of n there). If the first point is already
    at or below the target, n* is that point's n (an upper bound).
    """
    n = _positive("n_train_values", n_train_values).ravel()
    loss = np.asarray(losses, dtype=float).ravel()
    target = float(_positive("loss_target", loss_target))
    if loss.shape != n.shape:
        raise ValueError(f"losses must have one value per n_train_values entry, got {loss.shape} and {n.shape}")
    if np.any(np.diff(n) <= 0):
        raise ValueError("n_train_values must be increasing")
    below = np.flatnonzero(loss <= target)
    if below.size == 0:
        return math.inf
    i = int(below[0])
    if i == 0:
        return float(n[0])
    x0, x1 = math.log(n[i - 1]), math.log(n[i])
    y0, y1 = math.log(loss[i - 1]), math.log(max(loss[i], 1e-300))
    return float(math.exp(x0 + (x1 - x0) * (y0 - math.log(target)) / (y0 - y1)))
