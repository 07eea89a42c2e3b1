"""Generic statistics for verdicts: numbers in, numbers out.

Bootstrap intervals of a median and bootstrap replicates of a mean with their percentile
interval, least-squares slopes of many rows at once, Holm's step-down correction, one-sided Mann-Whitney tests,
OLS slopes with t-intervals (optionally within groups), and the rule that turns p-values or an
interval into a verdict word. Nothing here knows about networks, tasks or notebooks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

# The three verdict words, in the order tables list them.
VERDICTS = ("supported", "not supported", "inconclusive")


def _finite(values: Sequence[float]) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values)]


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """(mean, standard error of the mean) of ``values``: the s.e. is the sample standard deviation
    over sqrt(n), nan with fewer than two values (no spread to estimate); both nan with none."""
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        return math.nan, math.nan
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan
    return float(values.mean()), se


def least_squares_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The ordinary least-squares slope of ``y`` against ``x`` over the points with a finite ``y``;
    nan with fewer than two such points (no line through one point)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(y)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(x[keep], y[keep], 1)[0])


def bootstrap_median_ci(values: Sequence[float], *, n_bootstrap: int = 2000, level: float = 0.95,
                        seed: int) -> tuple[float, float, float]:
    """(median, low, high): percentile bootstrap interval of the median (``scipy.stats.bootstrap``).

    NaNs are dropped. With fewer than two finite values there is no interval: (median, nan, nan).
    """
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive integer, got {n_bootstrap=}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level=}")
    values = _finite(values)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    median = float(np.median(values))
    if values.size < 2:
        return median, math.nan, math.nan
    if np.ptp(values) == 0:  # every resample has the same median; scipy warns and returns nan
        return median, median, median
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap((values,), np.median, n_resamples=int(n_bootstrap), confidence_level=level,
                                 method="percentile", vectorized=True, axis=-1, rng=np.random.default_rng(seed))
    return median, float(result.confidence_interval.low), float(result.confidence_interval.high)


def bootstrap_mean_replicates(samples: Sequence, *, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_bootstrap`` resamples, with replacement, of the rows of ``samples`` (one row per
    independent draw): an array of shape ``(n_bootstrap, *samples.shape[1:])``. The caller applies
    its statistic to each replicate and takes :func:`percentile_interval` of the results."""
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive integer, got {n_bootstrap=}")
    samples = np.asarray(samples, dtype=float)
    if samples.ndim < 1 or len(samples) < 1:
        raise ValueError(f"samples must hold at least one row, got shape {samples.shape}")
    picks = rng.integers(0, len(samples), (n_bootstrap, len(samples)))
    return samples[picks].mean(axis=1)


def percentile_interval(replicates: Sequence, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): the percentile interval of bootstrap ``replicates`` along their first axis.

    No interpolation between order statistics (``method="inverted_cdf"``), so that replicates
    that are infinite (a target never reached) give an infinite end rather than NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level=}")
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(replicates, dtype=float), [tail, 1 - tail], axis=0, method="inverted_cdf")
    return low, high


def row_slopes(x: Sequence[float], rows: Sequence) -> np.ndarray:
    """Least-squares slope of each row of ``rows`` against ``x`` (vectorised over rows); NaN for a
    row with a non-finite value."""
    x = np.asarray(x, dtype=float)
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    if rows.shape[-1] != x.size or x.size < 2:
        raise ValueError(f"rows must have one value per x (at least two x), got x of {x.size} and rows {rows.shape}")
    finite = np.all(np.isfinite(rows), axis=1)
    centred = x - x.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = (np.where(finite[:, None], rows, 0.0) @ centred) / (centred @ centred)
    return np.where(finite, slopes, np.nan)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values; NaNs are left out of the family and stay NaN.

        sorted p_(1) <= ... <= p_(m):  adjusted_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def one_sided_mann_whitney(sample: Sequence[float], reference: Sequence[float]) -> tuple[float, float]:
    """(p that ``sample`` tends lower than ``reference``, p that it tends higher); exact where scipy can.

    NaNs are dropped; an empty side gives (nan, nan).
    """
    sample, reference = _finite(sample), _finite(reference)
    if sample.size == 0 or reference.size == 0:
        return math.nan, math.nan
    less = stats.mannwhitneyu(sample, reference, alternative="less").pvalue
    greater = stats.mannwhitneyu(sample, reference, alternative="greater").pvalue
    return float(less), float(greater)


def verdict(p_claimed: float, p_opposite: float, alpha: float) -> str:
    """'supported' if the claimed direction is significant (p < alpha), 'not supported' if the
    opposite direction is, otherwise 'inconclusive'."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha=}")
    if np.isfinite(p_claimed) and p_claimed < alpha:
        return "supported"
    if np.isfinite(p_opposite) and p_opposite < alpha:
        return "not supported"
    return "inconclusive"


def compare_with_reference(samples: Mapping[str, Sequence[float]], reference: Sequence[float], *, claim: str,
                           alpha: float) -> pd.DataFrame:
    """Each named sample against one reference sample.

    Columns: ``name``, ``n``, ``median``, ``reference_median``, one-sided Mann-Whitney
    ``p_claimed`` (direction ``claim``: ``'lower'`` or ``'higher'``) and ``p_opposite``, each
    Holm-adjusted across the samples (one family per direction), and the ``verdict``.
    """
    if claim not in ("lower", "higher"):
        raise ValueError(f"claim must be 'lower' or 'higher', got {claim=!r}")
    reference = _finite(reference)
    rows = []
    for name, sample in samples.items():
        sample = _finite(sample)
        less, greater = one_sided_mann_whitney(sample, reference)
        claimed, opposite = (less, greater) if claim == "lower" else (greater, less)
        rows.append(dict(name=name, n=int(sample.size),
                         median=float(np.median(sample)) if sample.size else math.nan,
                         reference_median=float(np.median(reference)) if reference.size else math.nan,
                         p_claimed=claimed, p_opposite=opposite))
    table = pd.DataFrame(rows, columns=["name", "n", "median", "reference_median", "p_claimed", "p_opposite"])
    return with_holm_verdicts(table, alpha)


def with_holm_verdicts(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``table`` (columns ``p_claimed``, ``p_opposite``: one family of tests) with each column
    Holm-adjusted (``p_claimed_holm``, ``p_opposite_holm``) and the :func:`verdict` of each row."""
    table = table.assign(p_claimed_holm=holm(table["p_claimed"]), p_opposite_holm=holm(table["p_opposite"]))
    table["verdict"] = [verdict(a, b, alpha) for a, b in zip(table["p_claimed_holm"], table["p_opposite_holm"])]
    return table


def slope_with_ci(x: Sequence[float], y: Sequence[float], groups: Sequence[str] | None = None, *,
                  level: float = 0.95) -> dict[str, float]:
    """OLS slope of y on x with its t-interval; with ``groups``, within groups (one intercept each).

        y_i = a_{g(i)} + b x_i + e_i;  se(b) from the residual variance, df = n - (groups + 1)

    Returns ``slope``, ``low``, ``high``, ``n``, ``dof`` and (when defined) ``intercept``; NaN
    slope and interval when there are too few points or x does not vary.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got x.shape={x.shape}, y.shape={y.shape}")
    labels = np.asarray(groups if groups is not None else ["all"] * len(x))
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, labels = x[keep], y[keep], labels[keep]
    levels = np.unique(labels)
    design = np.column_stack([x] + [(labels == g).astype(float) for g in levels])
    dof = len(x) - design.shape[1]
    if dof < 1 or np.ptp(x) == 0:
        return dict(slope=math.nan, low=math.nan, high=math.nan, n=int(len(x)), dof=int(dof))
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    sigma2 = residual @ residual / dof
    covariance = sigma2 * np.linalg.pinv(design.T @ design)
    half = stats.t.ppf(0.5 + level / 2, dof) * math.sqrt(covariance[0, 0])
    return dict(slope=float(coef[0]), low=float(coef[0] - half), high=float(coef[0] + half), n=int(len(x)),
                dof=int(dof), intercept=float(np.mean(y - coef[0] * x)))


def interval_verdict(low: float, high: float, *, claim: str) -> str:
    """The same rule with an interval: 'supported' if it lies entirely on the claimed side of 0
    (``claim='positive'`` or ``'negative'``), 'not supported' if entirely on the other side,
    else 'inconclusive'."""
    if claim not in ("positive", "negative"):
        raise ValueError(f"claim must be 'positive' or 'negative', got {claim=!r}")
    if not (np.isfinite(low) and np.isfinite(high)):
        return "inconclusive"
    above, below = low > 0, high < 0
    if claim == "negative":
        above, below = below, above
    return "supported" if above else "not supported" if below else "inconclusive"


def count_verdicts(verdicts: Sequence[str]) -> str:
    """'2 supported, 1 inconclusive (of 3)': the words in :data:`VERDICTS` order."""
    verdicts = list(verdicts)
    unknown = set(verdicts) - set(VERDICTS)
    if unknown:
        raise ValueError(f"verdicts must be among {VERDICTS}, got {sorted(unknown)}")
    words = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
    return f"{words} (of {len(verdicts)})"


# --- paired comparisons and power ------------------------------------------------------------

def paired_ratio_interval(values: Sequence[float], baseline: Sequence[float], *,
                          level: float = 0.95) -> dict[str, float | int]:
    """Geometric mean of the paired ratios values / baseline with its t-interval, from the mean
    and standard deviation of log(value / baseline) over the pairs where both are finite and
    positive:

        exp(mean(log r) +- t_{(1 + level) / 2, n - 1} sd(log r) / sqrt(n))

    Returns ``ratio``, ``low``, ``high``, ``n`` (pairs used) and ``n_left_out`` (pairs with an
    infinite, zero or NaN side, e.g. a target never reached); NaN interval for fewer than two pairs.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level=}")
    a, b = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"values and baseline must be 1-d of equal length, got shapes {a.shape} and {b.shape}")
    usable = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    logs = np.log(a[usable] / b[usable])
    out = {"n": int(usable.sum()), "n_left_out": int((~usable).sum())}
    if logs.size == 0:
        return {**out, "ratio": math.nan, "low": math.nan, "high": math.nan}
    if logs.size < 2:
        return {**out, "ratio": float(np.exp(logs[0])), "low": math.nan, "high": math.nan}
    half = stats.t.ppf(0.5 + level / 2, logs.size - 1) * logs.std(ddof=1) / math.sqrt(logs.size)
    centre = logs.mean()
    return {**out, "ratio": float(np.exp(centre)), "low": float(np.exp(centre - half)),
            "high": float(np.exp(centre + half))}


def _noncentral_power(n: int, effect: float, sd: float, alpha: float) -> float:
    """Power of the one-sided one-sample (paired) t-test at level ``alpha`` with ``n`` pairs,
    for a true mean difference ``effect`` and a difference standard deviation ``sd``: the
    probability that t = mean / (s / sqrt n) exceeds t_{1 - alpha, n - 1}, from the noncentral
    t distribution with noncentrality effect sqrt(n) / sd."""
    dof = n - 1
    critical = stats.t.ppf(1 - alpha, dof)
    return float(stats.nct.sf(critical, dof, effect * math.sqrt(n) / sd))


def paired_t_seeds(effect: float, sd: float, *, alpha: float = 0.05, power: float = 0.8,
                   max_seeds: int = 10_000) -> int:
    """The fewest pairs (seeds, at least 2) at which the one-sided paired t-test at ``alpha``
    detects a mean difference ``effect`` with probability ``power``, when the differences have
    standard deviation ``sd`` (exact, by the noncentral t; no normal approximation)."""
    if not effect > 0 or not sd > 0:
        raise ValueError(f"effect and sd must be positive, got {effect=}, {sd=}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha=}, {power=}")
    n = 2
    while _noncentral_power(n, effect, sd, alpha) < power:
        n += 1
        if n > max_seeds:
            raise ValueError(f"more than max_seeds={max_seeds} pairs needed for {effect=}, {sd=}")
    return n


def paired_t_detectable_effect(n: int, sd: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest mean difference that ``n`` pairs detect with probability ``power`` (one-sided
    paired t-test at ``alpha``, differences of standard deviation ``sd``): the inverse of
    :func:`paired_t_seeds` in the effect, found by bisection on the exact power."""
    if n < 2 or not sd > 0:
        raise ValueError(f"need n >= 2 pairs and a positive sd, got {n=}, {sd=}")
    low, high = 0.0, sd
    while _noncentral_power(n, high, sd, alpha) < power:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if _noncentral_power(n, middle, sd, alpha) < power else (low, middle)
    return high


# --- power and effect intervals of two-sample comparisons -----------------------------------------

# Asymptotic relative efficiency of the Mann-Whitney test against the t-test for normal data
# (3 / pi): it needs about 1 / 0.955 times the t-test's samples for the same power.
MANN_WHITNEY_EFFICIENCY = 3 / math.pi


def mann_whitney_floor(n_sample: int, n_reference: int) -> float:
    """The smallest one-sided p-value an exact Mann-Whitney test of n_sample against n_reference
    runs can give (complete separation): 1 / C(n_sample + n_reference, n_sample). A test whose
    level is below this can never pass, whatever the effect."""
    if n_sample < 1 or n_reference < 1:
        return math.nan
    return 1 / math.comb(n_sample + n_reference, n_sample)


def _z_sum(alpha: float, power: float, n_tests: int) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha=}")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power=}")
    if not (isinstance(n_tests, (int, np.integer)) and n_tests >= 1):
        raise ValueError(f"n_tests must be a positive integer, got {n_tests=}")
    return float(stats.norm.ppf(1 - alpha / n_tests) + stats.norm.ppf(power))


def detectable_effect(n_sample: int, n_reference: int, *, alpha: float, n_tests: int = 1,
                      power: float = 0.8) -> float:
    """The standardised shift (in units of the runs' standard deviation) that a one-sided
    Mann-Whitney test of n_sample against n_reference runs detects with probability ``power`` at
    Holm's strictest level alpha / n_tests (normal approximation, efficiency 3/pi):

        d = (z_{1 - alpha/n_tests} + z_power) sqrt(1/n_sample + 1/n_reference) / sqrt(3/pi)

    Infinite when :func:`mann_whitney_floor` is not below alpha / n_tests (no effect can pass)."""
    z = _z_sum(alpha, power, n_tests)
    if n_sample < 2 or n_reference < 2 or mann_whitney_floor(n_sample, n_reference) >= alpha / n_tests:
        return math.inf
    return z * math.sqrt(1 / n_sample + 1 / n_reference) / math.sqrt(MANN_WHITNEY_EFFICIENCY)


def seeds_for_power(effect: float, *, alpha: float, n_tests: int = 1, power: float = 0.8) -> int:
    """The fewest runs per side (equal sides) for which :func:`detectable_effect` is at most
    ``effect`` (a standardised shift): the seeds a power calculation asks for."""
    if not effect > 0:
        raise ValueError(f"effect must be a positive standardised shift, got {effect=}")
    z = _z_sum(alpha, power, n_tests)
    n = max(2, math.ceil(2 * z ** 2 / (MANN_WHITNEY_EFFICIENCY * effect ** 2)))
    while detectable_effect(n, n, alpha=alpha, n_tests=n_tests, power=power) > effect:
        n += 1
    return n


def _mann_whitney_counts(n_sample: int, n_reference: int) -> np.ndarray:
    """How many of the C(n1 + n2, n1) orderings give each U = 0 .. n1 n2 (no ties): the coefficients
    of the Gaussian binomial [n1 + n2 choose n1]_q, built by the recursion over the last element."""
    table = {(0, j): np.ones(1) for j in range(n_reference + 1)}
    table.update({(i, 0): np.ones(1) for i in range(n_sample + 1)})
    for i in range(1, n_sample + 1):
        for j in range(1, n_reference + 1):
            # the largest of all values is from the sample (it beats all j reference values) or not
            with_sample = np.concatenate([np.zeros(j), table[(i - 1, j)]])
            without = table[(i, j - 1)]
            size = max(len(with_sample), len(without))
            table[(i, j)] = np.pad(with_sample, (0, size - len(with_sample))) + np.pad(without, (0, size - len(without)))
    return table[(n_sample, n_reference)]


def shift_interval(sample: Sequence[float], reference: Sequence[float], *, level: float = 0.95
                   ) -> tuple[float, float, float]:
    """(estimate, low, high): the Hodges-Lehmann shift of ``sample`` against ``reference`` (the
    median of all pairwise differences sample_i - reference_j) and its distribution-free
    confidence interval at ``level``, from the exact Mann-Whitney distribution (Hollander & Wolfe):
    the k-th smallest and k-th largest pairwise difference, k the largest count with
    P(U < k) <= (1 - level) / 2. NaNs are dropped; (nan, nan, nan) with an empty side, and the
    estimate with an infinite interval when the runs are too few for ``level``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level=}")
    sample, reference = _finite(sample), _finite(reference)
    if sample.size == 0 or reference.size == 0:
        return math.nan, math.nan, math.nan
    differences = np.sort((sample[:, None] - reference[None, :]).ravel())
    estimate = float(np.median(differences))
    counts = _mann_whitney_counts(sample.size, reference.size)
    cumulative = np.cumsum(counts) / counts.sum()  # P(U <= u)
    k = int(np.searchsorted(cumulative, (1 - level) / 2, side="right"))  # P(U <= k - 1) <= tail
    if k < 1:
        return estimate, -math.inf, math.inf
    return estimate, float(differences[k - 1]), float(differences[-k])


def direction(low: float, high: float, *, positive: str, negative: str) -> str:
    """Which way an interval of a difference points: ``positive`` if it lies above 0, ``negative``
    if below, else 'no clear direction (the interval holds 0)'."""
    if np.isfinite(low) and low > 0:
        return positive
    if np.isfinite(high) and high < 0:
        return negative
    return "no clear direction (the interval holds 0)"


def bootstrap_percentile_intervals(n_items: int, statistics: Callable[[np.ndarray], Mapping[str, float]], *,
                                   n_resamples: int, level: float, seed: int) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of several statistics of one sample of ``n_items`` items.

    Each resample draws ``n_items`` row indices with replacement (one ``integers`` call of a
    ``default_rng(seed)`` stream per resample) and hands them to ``statistics``, which returns
    ``{name: value}``; each name's interval is the central ``level`` quantile range of its values,
    NaN values (a resample where a statistic is undefined) left out.
    """
    if not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ValueError(f"n_items must be a positive integer, got {n_items=}")
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples=}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level=}")
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(n_resamples):
        for name, value in statistics(rng.integers(0, n_items, n_items)).items():
            draws.setdefault(name, []).append(value)
    tail = (1 - level) / 2
    with warnings.catch_warnings():  # a statistic NaN in every resample has no interval: (nan, nan)
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: tuple(float(q) for q in np.nanquantile(values, [tail, 1 - tail]))
                for name, values in draws.items()}


def mean_and_standard_error(groups: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Per group of values: (mean, standard error of the mean with ddof = 1); a group needs two values."""
    if any(len(values) < 2 for values in groups):
        raise ValueError("every group needs at least two values for a standard error")
    means = np.array([np.mean(values) for values in groups])
    standard_errors = np.array([np.std(values, ddof=1) / np.sqrt(len(values)) for values in groups])
    return means, standard_errors


# --- sign tests, proportions and t-intervals ------------------------------------------------------

def sign_test(values: Sequence[float], baseline: Sequence[float], *, alpha: float) -> dict[str, float | int | str]:
    """Paired sign test of ``values`` against ``baseline`` (equal-length arrays; inf allowed: a
    value not reached within a grid compares as larger than every finite one, two infs tie).

    Returns counts (``n_pairs``, ``n_lower``, ``n_higher``, ``n_ties``), the one-sided p-values of
    "lower" and "higher" (binomial on the untied pairs), and ``word``: "lower" or "higher" when that
    p-value is below ``alpha``, else "no significant difference".
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
    word = "lower" if p_lower < alpha else "higher" if p_higher < alpha else "no significant difference"
    return {"n_pairs": int(a.size), "n_lower": lower, "n_higher": higher, "n_ties": int(a.size - untied),
            "p_lower": float(p_lower), "p_higher": float(p_higher), "word": word}


def sign_test_min_count(n_pairs: int, *, alpha: float) -> int | None:
    """The fewest of ``n_pairs`` untied pairs on one side for the one-sided sign test to reject at
    ``alpha``; None when no count does (too few pairs)."""
    for k in range(n_pairs + 1):
        if stats.binomtest(k, n_pairs, 0.5, alternative="greater").pvalue < alpha:
            return k
    return None


def proportion_verdict(successes: int, trials: int, *, alpha: float) -> dict[str, float | str]:
    """"yes" when the Clopper-Pearson interval (level 1 - ``alpha``) of the success rate lies
    above 1/2, "no" when below, else "undetermined"; with the interval's ends."""
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials=}")
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=1 - alpha)
    word = "yes" if interval.low > 0.5 else "no" if interval.high < 0.5 else "undetermined"
    return {"rate": successes / trials, "low": float(interval.low), "high": float(interval.high), "word": word}


def mean_t_interval(values: Sequence[float], *, level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width) of the two-sided t interval of the mean at ``level``; NaN half-width for
    fewer than two values."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float(values.mean()) if values.size else math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return float(values.mean()), float(half)


def paired_t_test(differences: Sequence[float], *, alpha: float) -> dict[str, float | str]:
    """One-sided paired t-tests of ``differences`` (values minus baseline) in both directions, and
    the (1 - 2 alpha) two-sided interval of the mean difference, which excludes 0 exactly when a
    one-sided test rejects at ``alpha``. Returns ``mean``, ``low``, ``high``, ``sd``, ``p_higher``,
    ``p_lower`` and ``word`` ("higher", "lower" or "no significant difference"); with fewer than two
    differences or none varying, NaN interval and p-values 1."""
    difference = np.asarray(differences, dtype=float)
    n = difference.size
    sd = float(difference.std(ddof=1)) if n > 1 else math.nan
    if n > 1 and sd > 0:
        half = stats.t.ppf(1 - alpha, n - 1) * sd / math.sqrt(n)
        p_higher = float(stats.ttest_1samp(difference, 0.0, alternative="greater").pvalue)
        p_lower = float(stats.ttest_1samp(difference, 0.0, alternative="less").pvalue)
    else:
        half, p_higher, p_lower = math.nan, 1.0, 1.0
    word = "higher" if p_higher < alpha else "lower" if p_lower < alpha else "no significant difference"
    mean = float(difference.mean())
    return {"mean": mean, "low": mean - half, "high": mean + half, "sd": sd, "p_higher": p_higher,
            "p_lower": p_lower, "word": word}


def pooled_sd(sample: Sequence[float], reference: Sequence[float]) -> float:
    """The root of the mean of the two groups' sample variances (a group of one adds none): the
    scale that turns a shift into standard deviations; nan when neither group has two values."""
    variances = [np.var(v, ddof=1) for v in (np.asarray(sample), np.asarray(reference)) if v.size > 1]
    return float(np.sqrt(np.mean(variances))) if variances else math.nan
