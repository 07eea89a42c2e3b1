"""Paired ratio intervals and the paired t-test's power (modcore.stats), against simulation."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from modcore import stats


def test_ratio_interval_is_the_t_interval_of_the_log_ratios_and_leaves_out_infinite_pairs():
    values = np.array([100.0, 220.0, 400.0, np.inf, 90.0])
    baseline = np.array([200.0, 200.0, 800.0, 300.0, 100.0])
    result = stats.paired_ratio_interval(values, baseline)
    logs = np.log(values[[0, 1, 2, 4]] / baseline[[0, 1, 2, 4]])
    half = scipy_stats.t.ppf(0.975, 3) * logs.std(ddof=1) / 2
    assert result["n"] == 4 and result["n_left_out"] == 1
    assert result["ratio"] == pytest.approx(math.exp(logs.mean()))
    assert (result["low"], result["high"]) == (pytest.approx(math.exp(logs.mean() - half)),
                                               pytest.approx(math.exp(logs.mean() + half)))


def test_ratio_interval_covers_the_true_ratio_at_its_level():
    # 400 simulated experiments of 8 log-normal pairs with a true ratio of 0.6: coverage within
    # three binomial standard errors of 95 %
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(400):
        base = np.exp(rng.normal(6, 1, 8))
        result = stats.paired_ratio_interval(0.6 * base * np.exp(rng.normal(0, 0.3, 8)), base)
        covered += result["low"] <= 0.6 <= result["high"]
    assert abs(covered / 400 - 0.95) < 3 * math.sqrt(0.95 * 0.05 / 400)


def test_seed_count_reaches_the_power_and_one_seed_fewer_does_not():
    n = stats.paired_t_seeds(0.05, 0.076)
    assert stats._noncentral_power(n, 0.05, 0.076, 0.05) >= 0.8 > stats._noncentral_power(n - 1, 0.05, 0.076, 0.05)
    assert stats.paired_t_detectable_effect(n, 0.076) <= 0.05 < stats.paired_t_detectable_effect(n - 1, 0.076)


def test_power_formula_matches_simulated_t_tests():
    rng = np.random.default_rng(1)
    n, effect, sd = 10, 0.04, 0.06
    rejected = sum(scipy_stats.ttest_1samp(rng.normal(effect, sd, n), 0.0, alternative="greater").pvalue < 0.05
                   for _ in range(2000))
    expected = stats._noncentral_power(n, effect, sd, 0.05)
    assert abs(rejected / 2000 - expected) < 3 * math.sqrt(expected * (1 - expected) / 2000)


@pytest.mark.parametrize("call, name", [(lambda: stats.paired_t_seeds(0.0, 0.1), "effect="),
                                        (lambda: stats.paired_t_seeds(0.1, 0.1, power=1.0), "power="),
                                        (lambda: stats.paired_t_detectable_effect(1, 0.1), "n=1"),
                                        (lambda: stats.paired_ratio_interval([1.0], [1.0, 2.0]), "shapes")])
def test_bad_arguments_raise_and_name_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()
