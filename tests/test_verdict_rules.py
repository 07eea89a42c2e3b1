"""Every verdict rule of the theory chapters can come out either way: synthetic data on which it
must say agree, and data on which it must say disagree (the Fig. 2, compositional and essay rules
have theirs beside their chapters' other tests)."""

import math

import numpy as np
import pandas as pd
import pytest

from modcore import theory
from modcore import verdicts
from modcore.chapters import calibration, dimension_scaling, optimisation_gap, theorem1, theorem2

# --- Theorem 1 and Fig. 1 ----------------------------------------------------------------------


def _deviations(formula_shift: int) -> list[float]:
    """Monte Carlo against the closed form with F evaluated ``formula_shift`` rows off (0: Theorem 1)."""
    spectrum = theory.PowerLaw(3, 1.2, 1.5, 400)
    deviations = []
    for n, p in ((100, 30), (60, 40), (40, 120)):
        row = theory.compare_with_monte_carlo(spectrum, n, p, n_trials=400, seed=[0, n, p])
        _, test = theory.monolithic_losses(spectrum, n + formula_shift, p)
        deviations.append(abs(row["test_mc"] - test) / row["test_se"])
    return deviations


def test_theorem1_rule_agrees_with_its_own_monte_carlo_and_rejects_a_wrong_formula():
    assert verdicts.monte_carlo_agreement(_deviations(0)) == "agree"
    assert verdicts.monte_carlo_agreement(_deviations(8)) == "disagree"
    assert verdicts.monte_carlo_agreement([]) == "inconclusive"


def _sweep(column, xs, losses):
    return pd.DataFrame({column: xs, "test_mc": losses})


def _shoulders(values):
    return pd.DataFrame([dict(sweep=sweep, side=side, test_mc=v) for (sweep, side), v in values.items()])


def test_fig1_rule_needs_the_sampled_loss_to_rise_towards_the_threshold_on_both_sides():
    sweep = _sweep("n_train", [10, 40, 160, 400], [1.0, 0.8, 0.6, 0.3])  # threshold at n = 100
    rising = _shoulders({("n_train", "below"): 1.2, ("n_train", "above"): 1.5})
    ratios = theorem1.shoulder_ratios(sweep, rising, "n_train", 100)
    assert ratios == pytest.approx({"below": 1.5, "above": 5.0})
    assert theorem1.double_descent_verdict(list(ratios.values()) * 2) == "agree"
    # a loss that only falls with n (ridge-like, no double descent): the shoulder below is no peak
    falling = _shoulders({("n_train", "below"): 0.7, ("n_train", "above"): 0.55})
    ratios = theorem1.shoulder_ratios(sweep, falling, "n_train", 100)
    assert ratios["below"] == pytest.approx(1.0)
    assert theorem1.double_descent_verdict(list(ratios.values()) * 2) == "disagree"
    assert theorem1.double_descent_verdict([1.5, math.nan, 2.0, 2.0]) == "inconclusive"


def test_theorem1_chapter_measures_a_double_descent_at_the_ci_settings():
    settings = theorem1.Parameters(seed=0, n_train_max=150, n_params=50, n_train=50, n_params_max=150, output_dim=1,
                                 input_dim=3, spectrum_scale=1.2, omega=1.5, mc_n_features=400, label_noise=0.0,
                                 n_mc_points=8, n_trials=80)
    mc = theorem1.monte_carlo(settings)
    summary = theorem1.summary(settings, theorem1.closed_form(settings), mc)
    assert summary["thm1_dd_verdict"] == "agree" and summary["thm1_verdict"] == "agree"
    assert len(mc.shoulders) == 4 and set(mc.shoulders.side) == {"below", "above"}


# --- Fig. 3 ------------------------------------------------------------------------------------


def _dimension_settings(**changes):
    values = dict(loss_target=1.2, input_dim_values=tuple(range(2, 10)), input_dim_max=9,
                  n_params_values=(100, 1000), spectrum_scale=1.2, omega=1.5, output_dim=1, fit_tolerance=1.2)
    return dimension_scaling.Parameters(**{**values, **changes})


def test_fig3_rule_agrees_with_exponential_curves_and_rejects_curves_flat_in_m(monkeypatch):
    m = np.arange(2, 10)
    p = np.array([80.0, 900.0, 20000.0])
    missed = 1.15 * (p[:, None] + 1) ** -(1.6 ** -m)
    exponential = p[:, None] + 1 + missed * p[:, None] / (1.2 - missed)
    flat = np.tile(exponential[:, :1], (1, m.size)) * (1 + 0.3 * np.sin(m))  # no growth in m, wiggles of 30%
    for table, expected in ((exponential, "agree"), (flat, "disagree")):
        frame = pd.DataFrame(table, index=[f"curve{i + 1}" for i in range(len(p))], columns=m)
        monkeypatch.setattr(dimension_scaling.paper_values, "load_fig3_digitised", lambda frame=frame: frame)
        settings = _dimension_settings()
        summary = dimension_scaling.summary(settings, dimension_scaling.run(settings))
        assert summary["dim_verdict"] == expected


# --- Theorem 2 ---------------------------------------------------------------------------------


def _projected(modular, monolithic):
    """A Projected whose change intervals are the given (low, high) pairs."""
    m = np.array([2, 6])
    return theorem2.Projected(
        input_dim_values=m, n_train_values=np.array([10, 20]), runs=None, closed_losses=None, closed_n_star=None,
        n_star={"modular": np.array([20.0, 20.0]), "monolithic": np.array([20.0, 40.0])}, n_star_low=None,
        n_star_high=None,
        change={"modular": np.mean(modular), "monolithic": np.mean(monolithic)},
        change_low={"modular": modular[0], "monolithic": monolithic[0]},
        change_high={"modular": modular[1], "monolithic": monolithic[1]})


@pytest.mark.parametrize("modular, monolithic, expected", [
    ((0.97, 1.04), (1.5, 2.5), "holds"),               # Theorem 2 as stated
    ((1.4, 2.0), (1.5, 2.5), "does not hold"),         # the modular n* grows with m too
    ((0.97, 1.04), (0.98, 1.05), "does not hold"),     # neither grows: no advantage to show
    ((0.9, 1.3), (1.5, 2.5), "inconclusive"),          # the modular interval straddles the band
])
def test_theorem2_rule_can_hold_and_fail(modular, monolithic, expected, monkeypatch):
    monkeypatch.setattr(theorem2, "censored", lambda projected: [])
    assert theorem2.projected_verdict(_projected(modular, monolithic)) == expected


# --- the authors' optimisation explanation -----------------------------------------------------


def _gaps(baseline, lbfgs):
    """A gap table: rows baseline, long Adam, L-BFGS, linearised, Theorem 1."""
    columns = ["small_n_test_ratio", "spike_rise", "train_below_threshold", "m_ratio"]
    theory_row = [1.0, math.inf, 0.0, 3.0]
    rows = [baseline, baseline, lbfgs, lbfgs, theory_row]
    return pd.DataFrame(rows, columns=columns, index=["Adam", "Adam long", "L-BFGS", "linearised", "Theorem 1"])


def _runs(n_healthy=8, n_diverged=0):
    rows = [dict(diverged=False, n_train=n, n_params_actual=50, method="adam", jacobian_rank=np.nan)
            for n in range(n_healthy)]
    rows += [dict(diverged=True, n_train=1, n_params_actual=50, method="adam", jacobian_rank=np.nan)] * n_diverged
    return pd.DataFrame(rows)


@pytest.mark.parametrize("lbfgs, expected", [
    ([1.2, 3.0, 0.1, 2.8], "supported"),        # every gap moves towards Theorem 1
    ([4.0, 1.0, 0.5, 1.2], "not supported"),    # none does
])
def test_optimisation_gap_rule_can_be_supported_or_not(lbfgs, expected, monkeypatch):
    monkeypatch.setattr(optimisation_gap, "linearised_rank", lambda runs: (1.0, 1.0))
    fit = type("Fit", (), dict(omega=1.3, omega_low=1.2, omega_high=1.4))()
    monkeypatch.setattr(optimisation_gap, "log_error", lambda fit, runs: 0.1)
    words = optimisation_gap.verdict_words(_gaps([3.0, 1.5, 0.4, 1.5], lbfgs), fit, _runs())
    assert words["verdict"] == expected


# --- the calibration's threshold check ---------------------------------------------------------


def test_calibration_threshold_rule_can_say_well_below_and_not_well_below():
    for zero_loss, expected in ((20.0, "well below"), (1.6, "not well below")):
        check = pd.DataFrame({"input_dim": [2, 3], "predict_zero_loss": [zero_loss, zero_loss],
                              **{f"fraction_{t}": [t / zero_loss] * 2 for t in calibration.THRESHOLDS}})
        assert calibration.threshold_words(check)["threshold_verdict"] == expected
