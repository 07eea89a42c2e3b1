"""Optimisation-gap chapter: the verdict rule ("not testable" unless our networks show the
gap's direction) and diverged runs left out."""

import numpy as np
import pandas as pd

from modcore import verdicts
from modcore.chapters import optimisation_gap as gap
from modcore.runs.sine_networks import TheoryFit

THEORY = TheoryFit(omega=1.3, omega_low=1.2, omega_high=1.4, n_fitted=0, rms_log_error=0.0,
                   amplitude_scale=1.5, direction_norm="unit", label_noise=0.9)
METHODS = list(gap.optimisation_methods(100, 0.003, 1000, 100))


def runs(baseline_scale: float, diverged_fraction: float = 0.0) -> pd.DataFrame:
    """Synthetic runs: every method's test loss is Theorem 1's times a factor (the baseline's is
    ``baseline_scale``, the others move towards the theory)."""
    rows = []
    for index, label in enumerate(METHODS):
        scale = baseline_scale ** (1 / (1 + index))
        for m in (5, 9):
            for n in (100, 300, 1000, 3000):
                train, test = THEORY.losses(m, n, 1153)
                rows.append({"method_label": label, "method": "linearised" if index == 3 else "gradient",
                             "input_dim": m, "n_train": n, "n_params_actual": 1153, "jacobian_rank": min(n, 1153),
                             "train_mse": float(train) + 0.01, "test_mse": float(min(test, 50.0)) * scale,
                             "diverged": False, "amplitude_scale": 1.5, "direction_norm": "unit", "label_noise": 0.9})
    frame = pd.DataFrame(rows)
    frame.loc[: int(diverged_fraction * len(frame)) - 1, "diverged"] = True
    return frame


def verdict(frame: pd.DataFrame, key: str = "verdict") -> str:
    gaps = gap.gap_measures(frame, THEORY, small_n=100, large_n=3000, n_params=1153)
    return gap.verdict_words(gaps, THEORY, frame)[key]


def test_networks_below_theory_at_small_n_make_the_explanation_not_testable():
    frame = runs(baseline_scale=0.5)
    assert verdict(frame) == verdict(frame, "scorecard_verdict") == "not testable"


def test_networks_above_theory_at_small_n_get_a_graded_word_and_a_decisive_scorecard_word():
    frame = runs(baseline_scale=3.0)
    assert verdict(frame) in gap.CLOSED_GAPS_WORDS.values()
    assert verdict(frame, "scorecard_verdict") in ("agree", "partly", "disagree")


def test_too_few_healthy_runs_give_inconclusive():
    assert verdict(runs(baseline_scale=3.0, diverged_fraction=0.5)) == "inconclusive"


def test_the_count_of_gaps_closed_maps_to_the_closed_set_all_agree_none_disagree():
    decide = {n: gap.decide(n, 3, testable=True, healthy_fraction=1.0) for n in range(4)}
    assert decide == {0: "disagree", 1: "partly", 2: "partly", 3: "agree"}
    assert [gap.chapter_word(decide[n], n) for n in range(4)] == [gap.CLOSED_GAPS_WORDS[n] for n in range(4)]
    assert gap.decide(3, 3, testable=False, healthy_fraction=1.0) == "not testable"
    assert gap.decide(3, 3, testable=True, healthy_fraction=verdicts.MIN_HEALTHY_FRACTION / 2) == "inconclusive"


def test_diverged_runs_are_left_out_of_the_gaps():
    frame = runs(baseline_scale=3.0)
    clean = gap.gap_measures(frame, THEORY, small_n=100, large_n=3000, n_params=1153)
    frame.loc[0, ["test_mse", "diverged"]] = [1e6, True]
    flagged = gap.gap_measures(frame, THEORY, small_n=100, large_n=3000, n_params=1153)
    assert np.isclose(flagged.iloc[0].small_n_test_ratio, clean.iloc[0].small_n_test_ratio, rtol=0.5)
    frame.loc[0, "diverged"] = False
    unflagged = gap.gap_measures(frame, THEORY, small_n=100, large_n=3000, n_params=1153)
    assert unflagged.iloc[0].small_n_test_ratio > 100 * clean.iloc[0].small_n_test_ratio


def test_a_rise_below_the_fig2_spike_rule_is_no_spike():
    gaps = pd.DataFrame({"small_n_test_ratio": [2.0, 2.0, 2.0, 2.0, 1.0], "spike_rise": [1.003, 1.2, 0.9, 80.0, np.inf],
                         "train_below_threshold": [0.1, 0.05, 0.02, 0.0, 0.0], "m_ratio": [1.8, 1.8, 1.8, 1.2, 1.5]},
                        index=METHODS + ["Theorem 1"])
    words = gap.reading_words(gaps)
    assert words["spike_methods"] == ", ".join([METHODS[1], METHODS[3]])
    assert words["gaps_match"].startswith("match ours in part")  # above the theory at small n, no spike
