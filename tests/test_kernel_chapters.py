"""The kernel-rule chapters: samples needed read off a curve, the verdict rules on synthetic
numbers (including "not testable"), alignment over training iterations, and the figures'
legibility."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from modcore import paper_values
from modcore.experiments import kernel_objective as ko
from modcore.experiments import module_alignment as ma
from modcore.experiments import sample_complexity as sc
from modcore import kernel_rule as kr
from modcore.models import ModularSpec
from modcore.plots import kernel_rule as kernel_plots
from modcore.train import TrainSettings, train_ensemble

matplotlib.use("Agg")

GRID = [100, 200, 500, 1000, 2000, 5000]


# --- samples needed -----------------------------------------------------------------------------

def test_crossing_of_a_power_law_is_recovered_exactly_by_log_interpolation():
    # L = 30 n^(-1/2) is a straight line in (log n, log L): the interpolation is exact
    loss = [30 * n ** -0.5 for n in GRID]
    n, status = sc.samples_needed(GRID, loss, target_loss=1.0)
    assert status == "crossed"
    assert n == pytest.approx(900.0, rel=1e-12)


def test_crossing_between_two_points_is_their_geometric_mean_at_the_log_midpoint():
    n, status = sc.samples_needed([100, 1000], [2.0, 1.0], target_loss=math.sqrt(2))
    assert (n, status) == (pytest.approx(math.sqrt(100 * 1000)), "crossed")


def test_curve_that_never_reaches_the_target_is_infinite_and_flagged():
    assert sc.samples_needed(GRID, [3, 2.5, 2.2, 2.1, 2.0, 1.9], target_loss=1.5) == (math.inf, "not_reached")


def test_curve_below_the_target_at_the_smallest_n_returns_that_n_as_an_upper_bound():
    assert sc.samples_needed(GRID, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], target_loss=1.5) == (100.0, "below_grid")


def test_noisy_non_monotone_curve_counts_its_first_crossing_and_ignores_a_later_rise():
    # first at or below 1.5 at n = 500; the bump back above it at n = 1000 is ignored
    loss = [3.0, 2.0, 1.0, 2.5, 1.2, 0.4]
    n, status = sc.samples_needed(GRID, loss, target_loss=1.5)
    expected = math.exp(math.log(200) + (math.log(2.0) - math.log(1.5)) / (math.log(2.0) - math.log(1.0))
                        * (math.log(500) - math.log(200)))
    assert status == "crossed" and n == pytest.approx(expected)


def test_samples_needed_rejects_bad_input_and_names_it():
    with pytest.raises(ValueError, match="n_train_values"):
        sc.samples_needed([200, 100], [1.0, 2.0], target_loss=1.5)
    with pytest.raises(ValueError, match="test_mse"):
        sc.samples_needed([100, 200], [1.0, math.nan], target_loss=1.5)
    with pytest.raises(ValueError, match="target_loss"):
        sc.samples_needed([100, 200], [1.0, 2.0], target_loss=0.0)


def _runs(curves: dict, diverged: set = frozenset()) -> pd.DataFrame:
    """Synthetic run table: curves[(method, m, seed)] = test MSE on GRID."""
    rows = [{"method": method, "input_dim": m, "seed": seed, "n_train": n, "test_mse": loss,
             "diverged": (method, m, seed) in diverged, "predict_zero_loss": 2.0, "n_params_actual": 100}
            for (method, m, seed), losses in curves.items() for n, loss in zip(GRID, losses)]
    return pd.DataFrame(rows)


def test_a_curve_with_a_diverged_run_never_feeds_a_verdict():
    curves = {(method, m, seed): [30 * n ** -0.5 * (0.5 if method == "kernel" else 1.0) for n in GRID]
              for method in ("kernel", "random") for m in (2, 3) for seed in (0, 1)}
    needed = sc.needed_table(_runs(curves, diverged={("kernel", 2, 0)}), target_loss=1.0)
    assert needed.set_index(["method", "input_dim", "seed"]).loc[("kernel", 2, 0), "status"] == "diverged"
    verdict = sc.lowers_verdict(needed, "kernel", "random")
    assert verdict["n_pairs"] == 3 and verdict["n_lower"] == 3
    means = sc.needed_means(needed).set_index(["method", "input_dim"])
    assert means.loc[("kernel", 2), "n_seeds"] == 1 and means.loc[("kernel", 2), "n_diverged"] == 1


# --- verdict rules ----------------------------------------------------------------------------

def _needed(values: dict) -> pd.DataFrame:
    """values[(method, m, seed)] = n_needed (inf: not reached)."""
    return pd.DataFrame([{"method": method, "input_dim": m, "seed": seed, "n_needed": n,
                          "status": "not_reached" if math.isinf(n) else "crossed"}
                         for (method, m, seed), n in values.items()])


def test_kernel_needing_half_the_samples_everywhere_is_lower_with_the_binomial_p_value():
    values = {}
    for m in range(2, 10):
        for seed in (0, 1):
            values[("random", m, seed)] = 1000.0 * m
            values[("kernel", m, seed)] = 500.0 * m
    verdict = sc.lowers_verdict(_needed(values), "kernel", "random")
    assert verdict["word"] == "lower" and verdict["n_lower"] == 16
    assert verdict["p_lower"] == pytest.approx(0.5 ** 16)
    assert verdict["median_ratio"] == pytest.approx(0.5)


def test_equal_sample_counts_give_no_significant_difference():
    values = {(method, m, 0): 1000.0 for method in ("kernel", "random") for m in range(2, 10)}
    assert sc.lowers_verdict(_needed(values), "kernel", "random")["word"] == "no significant difference"


def test_not_reached_counts_as_needing_more_than_any_finite_count():
    values = {}
    for m in range(2, 9):
        values[("kernel", m, 0)] = 5000.0
        values[("random", m, 0)] = math.inf
    assert sc.lowers_verdict(_needed(values), "kernel", "random")["word"] == "lower"


def test_untestable_target_gives_not_testable_never_agree_or_disagree():
    values = {}
    for m in range(2, 10):
        values[("random", m, 0)] = 1000.0
        values[("kernel", m, 0)] = 500.0
    verdict = sc.lowers_verdict(_needed(values), "kernel", "random", testable=False)
    assert verdict["word"] == "not testable at these task settings"
    assert ko.agreement(verdict["word"], "lower", testable=False) == "not testable at these task settings"
    paper = paper_values.load_csv("fig4a_digitised")
    both = sc.verdicts(_needed({**values, **{("monolithic", m, 0): 800.0 for m in range(2, 10)}}), paper,
                       n_train_values=[100, 1e5], testable=False)
    assert {result["agreement"] for result in both.values()} <= {"not testable at these task settings",
                                                                 "no paper value"}


def test_target_above_the_predict_zero_loss_is_not_testable():
    runs = pd.DataFrame({"input_dim": [2, 3], "seed": [0, 0], "predict_zero_loss": [0.45, 0.49]})
    assert sc.testability(runs, 1.5) == {"predict_zero_loss": pytest.approx(0.47), "testable": False}
    assert sc.testability(runs, 0.2)["testable"] is True


def test_growth_in_m_calls_doubling_growth_and_constant_flat():
    m = np.repeat(np.arange(2, 10), 3)
    rng = np.random.default_rng(0)
    doubling = 100 * 2.0 ** m * np.exp(0.05 * rng.standard_normal(m.size))
    grows = sc.growth_in_m(m, doubling, n_train_values=[10, 1e6])
    assert grows["word"] == "grows" and grows["low"] < 2 ** 7 < grows["high"]
    constant = 1000 * np.exp(0.05 * rng.standard_normal(m.size))
    assert sc.growth_in_m(m, constant, n_train_values=[10, 1e6])["word"] == "flat"


def test_growth_is_undetermined_when_most_points_lie_outside_the_grid():
    m = np.arange(2, 10)
    assert sc.growth_in_m(m, np.full(8, math.inf), n_train_values=[100, 1000])["word"] == "undetermined"


def test_paper_fig4a_means_say_lower_and_growing_by_our_own_rules():
    theirs = sc.paper_needed(paper_values.load_csv("fig4a_digitised"))
    assert sc.lowers_verdict(theirs, "kernel", "random")["n_lower"] == 8
    assert sc.growth_table(theirs, (300, 81700)).loc["kernel", "word"] == "grows"


def test_proportion_verdict_words():
    assert ko.proportion_verdict(10, 10)["word"] == "yes"
    assert ko.proportion_verdict(0, 10)["word"] == "no"
    assert ko.proportion_verdict(5, 10)["word"] == "undetermined"


def test_sign_test_rejects_nan_and_names_it():
    with pytest.raises(ValueError, match="NaN"):
        ko.sign_test([1.0, math.nan], [1.0, 2.0])


def test_paired_difference_finds_a_consistent_advantage_and_agreement_follows():
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(8):
        base = rng.uniform(0.4, 0.6)
        for init, value in (("random", base), ("kernel", base + 0.1 + 0.01 * rng.standard_normal())):
            rows.append({"init": init, "seed": seed, "step": 100, "best_match_similarity": value})
    ours = ma.paired_difference(pd.DataFrame(rows), 100)
    assert ours["word"] == "higher" and ours["low"] > 0
    paper = paper_values.load_csv("fig5_digitised")
    assert ma.paper_difference(paper, "end")["word"] == "higher"
    assert ko.agreement(ours["word"], "higher") == "agree"
    assert ko.agreement("no significant difference", "higher") == "inconclusive"


# --- alignment over iterations ------------------------------------------------------------------

def _tiny_alignment(init="random"):
    return ma.AlignmentRun(init=init, input_dim=3, n_modules=2, n_train=40, seed=5, n_steps_values=(0, 3, 7),
                           width=4, batch_size=16, n_test=50,
                           kernel_settings=kr.KernelRuleSettings(n_steps=3, batch_size=16))


@pytest.mark.parametrize("init", ma.INITS)
def test_alignment_over_iterations_equals_direct_computation(init):
    run = _tiny_alignment(init)
    result = ma.run_alignment_batch([run], device="cpu")[0]
    task = ko.draw_task(run.input_dim, run.n_modules, run.seed)
    x, y, x_test, y_test = ko.draw_data(task, run.n_train, run.n_test, run.seed)
    spec = ModularSpec(run.input_dim, run.n_modules, run.width)
    if init == "kernel":
        spec = kr.kernel_rule_init(spec, x, y, seeds=[ko.model_seed(run.seed)], settings=run.kernel_settings).spec
    for i, steps in enumerate(run.n_steps_values):
        trained = train_ensemble(spec, [ko.model_seed(run.seed)], x, y, device="cpu",
                                 settings=TrainSettings(n_steps=steps, lr=run.lr, batch_size=run.batch_size))
        u = trained.params[0][0].numpy().T[:, :, None]  # (K, m, 1)
        assert result["best_match_similarity"][i] == pytest.approx(kr.best_match_similarity(u, task.directions))
        assert result["matched_similarity"][i] == pytest.approx(kr.matched_similarity(u, task.directions))


def test_weights_after_t_steps_are_those_of_a_fresh_run_of_t_steps():
    # the premise of the snapshots: the loss a long run records at step t equals a t-step run's final one
    run = _tiny_alignment()
    task = ko.draw_task(run.input_dim, run.n_modules, run.seed)
    x, y, _, _ = ko.draw_data(task, run.n_train, run.n_test, run.seed)
    spec = ModularSpec(run.input_dim, run.n_modules, run.width)
    common = dict(lr=run.lr, batch_size=run.batch_size)
    long = train_ensemble(spec, [1, 2], x, y, settings=TrainSettings(n_steps=9, eval_every=3, **common), device="cpu")
    for t in (3, 6):
        short = train_ensemble(spec, [1, 2], x, y, settings=TrainSettings(n_steps=t, **common), device="cpu")
        np.testing.assert_array_equal(long.train_mse[:, list(long.steps).index(t)], short.final_train_mse)


def test_tsne_points_hold_both_signs_of_every_direction_and_repeat_with_the_seed():
    rng = np.random.default_rng(0)
    learned, true = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    points = ma.tsne_points(learned, true, seed=0)
    assert len(points) == 2 * (3 + 2) and set(points.sign) == {1, -1}
    pd.testing.assert_frame_equal(points, ma.tsne_points(learned, true, seed=0))


# --- the objective chapter -----------------------------------------------------------------------

@pytest.mark.parametrize("kernel", kr.KERNELS)
def test_objective_equals_the_ridge_minimum_norm_value(kernel):
    identity = ko.objective_as_weight_norm(ko.PathRun(kernel=kernel, input_dim=4, n_modules=2, batch_size=32,
                                                      seed=0, eps=1e-2, width=6))
    assert identity["relative_gap"] < 1e-8


def test_landing_counts_found_modules_and_duplicates():
    true = np.eye(3)[:2]  # two true directions in R^3
    learned = np.array([[1.0, 0.01, 0], [-1.0, 0.02, 0], [0, 0, 1.0]])  # two on module 1, one on none
    result = ko.landing(learned, true)
    assert result["nearest"][:2] == [0, 0]
    assert result["n_found"] == 1 and result["n_duplicates"] == 1


# --- figures ----------------------------------------------------------------------------------

def _font_sizes(fig):
    return [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def test_figures_are_at_most_7_5_inches_wide_with_fonts_of_at_least_9_points():
    rng = np.random.default_rng(0)
    needed = _needed({(method, m, s): float(rng.uniform(100, 1000)) for method in ("kernel", "random")
                      for m in (2, 3) for s in (0, 1)})
    means = sc.needed_means(needed)
    figures = [kernel_plots.samples_needed(needed, means, None, n_train_range=(100, 1000),
                                           method_labels=sc.METHOD_LABELS),
               kernel_plots.tsne({"a": ma.tsne_points(rng.standard_normal((3, 4)), rng.standard_normal((2, 4)),
                                                      seed=0)})]
    for fig in figures:
        assert fig.get_figwidth() <= 7.5
        assert min(_font_sizes(fig)) >= 9


def test_bad_run_settings_raise_and_name_the_argument():
    with pytest.raises(ValueError, match="method="):
        sc.SampleRun(method="ensemble", input_dim=3, n_modules=2, n_train=100, seed=0)
    with pytest.raises(ValueError, match="n_train="):
        sc.SampleRun(method="random", input_dim=3, n_modules=2, n_train=1, seed=0)
    with pytest.raises(ValueError, match="n_steps_values="):
        ma.AlignmentRun(init="random", input_dim=3, n_modules=2, n_train=40, seed=0, n_steps_values=(5, 3))
    with pytest.raises(ValueError, match="init="):
        ma.AlignmentRun(init="oracle", input_dim=3, n_modules=2, n_train=40, seed=0, n_steps_values=(0, 3))


def test_capped_settings_use_a_small_training_set_whole():
    settings = kr.KernelRuleSettings(batch_size=128)
    assert ko.capped_settings(settings, 100).batch_size is None
    assert ko.capped_settings(settings, 1000).batch_size == 128
