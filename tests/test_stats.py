"""Generic statistics: Holm, one-sided Mann-Whitney verdicts, slopes with intervals, bootstrap."""

import math

import numpy as np
import pytest

from modcore import stats


def test_holm_matches_the_step_down_rule():
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])


def test_within_group_slope_removes_a_group_confound():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c"], 30)
    offset = {"a": 0.0, "b": 5.0, "c": 10.0}
    x = np.array([offset[g] for g in groups]) + rng.normal(size=90)
    y = -np.array([offset[g] for g in groups]) * 2 + 0.5 * x + rng.normal(scale=0.1, size=90)
    pooled = stats.slope_with_ci(x, y)
    within = stats.slope_with_ci(x, y, groups)
    assert pooled["slope"] < 0  # the confound flips the pooled sign
    assert within["low"] < 0.5 < within["high"]
    assert stats.interval_verdict(within["low"], within["high"], claim="positive") == "supported"
    assert stats.interval_verdict(pooled["low"], pooled["high"], claim="positive") == "not supported"
    assert stats.interval_verdict(pooled["low"], pooled["high"], claim="negative") == "supported"


def test_verdicts_follow_the_declared_rule():
    reference = [0, 1, 2, 3, 4, 5]
    samples = {"good": [-10, -9, -8, -7, -6, -5], "bad": [10, 11, 12, 13, 14, 15], "same": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]}
    table = stats.compare_with_reference(samples, reference, claim="lower", alpha=0.05).set_index("name")
    assert table.loc["good", "verdict"] == "supported"
    assert table.loc["bad", "verdict"] == "not supported"
    assert table.loc["same", "verdict"] == "inconclusive"
    assert table.loc["good", "p_claimed_holm"] == pytest.approx(3 * table.loc["good", "p_claimed"])
    # exact one-sided Mann-Whitney with complete separation of 6 vs 6: 1 / C(12, 6)
    assert table.loc["good", "p_claimed"] == pytest.approx(1 / 924)


def test_bootstrap_interval_holds_the_median_and_narrows_with_more_runs():
    rng = np.random.default_rng(1)
    small = rng.normal(size=10)
    large = rng.normal(size=400)
    median, low, high = stats.bootstrap_median_ci(small, n_bootstrap=500, seed=0)
    assert low <= median <= high and median == np.median(small)
    _, low_large, high_large = stats.bootstrap_median_ci(large, n_bootstrap=500, seed=0)
    assert high_large - low_large < high - low
    assert stats.bootstrap_median_ci(small, n_bootstrap=500, seed=0) == (median, low, high)  # seeded


def test_bootstrap_of_too_few_or_constant_values_is_explicit():
    assert np.isnan(stats.bootstrap_median_ci([np.nan], seed=0)[0])
    median, low, high = stats.bootstrap_median_ci([2.0], seed=0)
    assert median == 2.0 and np.isnan(low) and np.isnan(high)
    assert stats.bootstrap_median_ci([3.0, 3.0, 3.0], seed=0) == (3.0, 3.0, 3.0)


def test_count_verdicts_lists_words_in_a_fixed_order():
    assert stats.count_verdicts(["inconclusive", "supported", "inconclusive"]) == "1 supported, 2 inconclusive (of 3)"


def test_bad_arguments_raise_and_name_them():
    with pytest.raises(ValueError, match="claim='up'"):
        stats.compare_with_reference({"a": [1]}, [2], claim="up", alpha=0.05)
    with pytest.raises(ValueError, match="alpha=2.0"):
        stats.verdict(0.01, 0.5, 2.0)
    with pytest.raises(ValueError, match="n_bootstrap=0"):
        stats.bootstrap_median_ci([1.0, 2.0], n_bootstrap=0, seed=0)
    with pytest.raises(ValueError, match="claim='up'"):
        stats.interval_verdict(0.1, 0.2, claim="up")


def test_five_against_five_runs_pass_holm_over_nine_arms_only_at_complete_separation():
    assert stats.mann_whitney_floor(5, 5) == pytest.approx(1 / 252)
    assert stats.mann_whitney_floor(3, 5) > 0.05 / 9  # three healthy runs can never pass
    assert stats.detectable_effect(3, 5, alpha=0.05, n_tests=9) == math.inf
    assert stats.detectable_effect(11, 11, alpha=0.05, n_tests=9) <= 1.5 < stats.detectable_effect(10, 10, alpha=0.05,
                                                                                                     n_tests=9)


def test_seeds_for_power_is_the_fewest_that_detect_the_effect():
    n = stats.seeds_for_power(1.5, alpha=0.05, n_tests=9)
    assert n == 11
    assert stats.detectable_effect(n - 1, n - 1, alpha=0.05, n_tests=9) > 1.5
    assert stats.seeds_for_power(1.5, alpha=0.05, n_tests=1) < n  # a smaller family needs fewer


def test_shift_interval_is_the_hodges_lehmann_estimate_with_exact_mann_whitney_limits():
    estimate, low, high = stats.shift_interval([5, 6, 7, 8, 9], [0, 1, 2, 3, 4])
    # 25 pairwise differences 1..9; P(U <= 2) = 4/252 <= 0.025 < P(U <= 3): the 3rd smallest and largest
    assert (estimate, low, high) == (5.0, 2.0, 8.0)
    assert stats.shift_interval([1.0, 2.0], [1.5, 3.0])[1:] == (-math.inf, math.inf)  # too few runs for 95 %
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(300):  # the interval covers the true shift at least at its level
        a, b = rng.normal(0.7, 1.0, 8), rng.normal(0.0, 1.0, 8)
        _, low, high = stats.shift_interval(a, b)
        covered += low <= 0.7 <= high
    assert covered / 300 >= 0.93


def test_direction_of_an_interval():
    words = dict(positive="up", negative="down")
    assert stats.direction(0.1, 0.5, **words) == "up" and stats.direction(-0.5, -0.1, **words) == "down"
    assert stats.direction(-0.1, 0.5, **words).startswith("no clear direction")


def test_mean_and_se_is_the_sample_sd_over_root_n_and_nan_without_spread():
    mean, se = stats.mean_and_se([1.0, 2.0, 3.0, 6.0])
    assert mean == 3.0 and se == pytest.approx(math.sqrt(14 / 3) / 2)  # sample variance (4+1+0+9)/3, n = 4
    assert stats.mean_and_se([0.4])[0] == 0.4 and math.isnan(stats.mean_and_se([0.4])[1])
    assert all(math.isnan(v) for v in stats.mean_and_se([]))


def test_least_squares_slope_skips_missing_points_and_needs_two():
    assert stats.least_squares_slope([1, 2, 3, 4], [0.0, 2.0, math.nan, 6.0]) == pytest.approx(2.0)
    assert math.isnan(stats.least_squares_slope([1, 2], [1.0, math.nan]))


# --- bootstrap replicates of a mean, percentile intervals, slopes of many rows ---------------


def test_bootstrap_mean_replicates_resample_rows_and_are_reproducible():
    samples = np.arange(12.0).reshape(6, 2)  # six draws of a two-point curve
    first = stats.bootstrap_mean_replicates(samples, n_bootstrap=500, rng=np.random.default_rng(1))
    again = stats.bootstrap_mean_replicates(samples, n_bootstrap=500, rng=np.random.default_rng(1))
    assert first.shape == (500, 2) and np.array_equal(first, again)
    # each replicate is a mean of whole rows: the second column is always the first plus one
    assert np.allclose(first[:, 1] - first[:, 0], 1.0)
    assert first.min() >= 0 and first.max() <= 11 and abs(first[:, 0].mean() - samples[:, 0].mean()) < 0.3
    with pytest.raises(ValueError, match="n_bootstrap"):
        stats.bootstrap_mean_replicates(samples, n_bootstrap=0, rng=np.random.default_rng(1))


def test_percentile_interval_covers_the_middle_and_keeps_infinite_ends():
    replicates = np.arange(1.0, 101.0)
    low, high = stats.percentile_interval(replicates, level=0.9)
    assert (low, high) == (5.0, 95.0)
    with_inf = np.concatenate([np.arange(1.0, 91.0), np.full(10, np.inf)])
    assert stats.percentile_interval(with_inf, level=0.9)[1] == np.inf  # no NaN from inf - inf
    with pytest.raises(ValueError, match="level"):
        stats.percentile_interval(replicates, level=1.0)


def test_row_slopes_fit_each_row_and_mark_rows_with_a_non_finite_value():
    x = np.array([1.0, 2.0, 4.0])
    rows = np.array([2 * x + 1, -0.5 * x, [1.0, np.inf, 2.0]])
    slopes = stats.row_slopes(x, rows)
    assert slopes[:2] == pytest.approx([2.0, -0.5]) and np.isnan(slopes[2])
    with pytest.raises(ValueError, match="one value per x"):
        stats.row_slopes(x, [[1.0, 2.0]])


def test_bootstrap_percentile_intervals_cover_the_mean_and_narrow_with_more_items():
    rng = np.random.default_rng(1)
    widths = []
    for n in (20, 2000):
        values = rng.normal(3.0, 1.0, n)
        interval = stats.bootstrap_percentile_intervals(
            n, lambda rows: {"mean": values[rows].mean(), "undefined": math.nan}, n_resamples=300, level=0.9, seed=0)
        low, high = interval["mean"]
        assert low < values.mean() < high
        assert all(math.isnan(v) for v in interval["undefined"])  # NaN in every resample: no interval
        widths.append(high - low)
    assert widths[1] < widths[0] / 3
    with pytest.raises(ValueError, match="level"):
        stats.bootstrap_percentile_intervals(5, lambda rows: {}, n_resamples=10, level=1.0, seed=0)


def test_mean_and_standard_error_per_group():
    means, errors = stats.mean_and_standard_error([[1.0, 3.0], [2.0, 2.0, 2.0]])
    assert means.tolist() == [2.0, 2.0]
    assert errors[0] == pytest.approx(1.0) and errors[1] == 0.0
    with pytest.raises(ValueError, match="two values"):
        stats.mean_and_standard_error([[1.0]])


def test_pooled_sd_averages_the_two_variances_and_skips_a_group_of_one():
    assert stats.pooled_sd([1.0, 3.0], [2.0, 6.0]) == pytest.approx(math.sqrt((2.0 + 8.0) / 2))
    assert stats.pooled_sd([1.0, 3.0], [5.0]) == pytest.approx(math.sqrt(2.0))
    assert math.isnan(stats.pooled_sd([1.0], [2.0]))
