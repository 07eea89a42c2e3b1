"""The kernel-rule chapters: samples needed read off a curve, the verdict rules on synthetic
numbers (including "not testable"), alignment over training iterations, and the figures'
legibility."""

import dataclasses
import math
import tempfile

import matplotlib
import numpy as np
import pandas as pd
import pytest

from modcore import paper_values
from modcore.chapters import choices
from modcore.seeds import derive_seed
from modcore import stats
from modcore.chapters import kernel_rule as kernel_chapter
from modcore.chapters import module_alignment as ma
from modcore.chapters import sample_complexity as sc
from modcore.runs import kernel_rule as kruns
from modcore.runs import sample_complexity as sample_runs
from modcore import kernel_rule as kr
from modcore.models import ModularSpec
from modcore.plots import kernel_rule as kernel_plots
from modcore.store import ResultStore
from modcore.train import TrainSettings, train_ensemble
import torch

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
    assert verdict["ratio"] == pytest.approx(0.5) and verdict["ratio_n"] == 16
    # every pair has the same ratio: the interval collapses onto it
    assert verdict["ratio_low"] == pytest.approx(0.5) and verdict["ratio_high"] == pytest.approx(0.5)


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
    assert kruns.agreement(verdict["word"], "lower", testable=False) == "not testable at these task settings"
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
    assert stats.proportion_verdict(10, 10, alpha=kruns.SIGNIFICANCE)["word"] == "yes"
    assert stats.proportion_verdict(0, 10, alpha=kruns.SIGNIFICANCE)["word"] == "no"
    assert stats.proportion_verdict(5, 10, alpha=kruns.SIGNIFICANCE)["word"] == "undetermined"


def test_sign_test_rejects_nan_and_names_it():
    with pytest.raises(ValueError, match="NaN"):
        stats.sign_test([1.0, math.nan], [1.0, 2.0], alpha=kruns.SIGNIFICANCE)


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
    assert kruns.agreement(ours["word"], "higher") == "agree"
    assert kruns.agreement("no significant difference", "higher") == "inconclusive"


# --- alignment over iterations ------------------------------------------------------------------

def _tiny_alignment(init="random", n_network_modules=3):
    return ma.AlignmentRun(init=init, input_dim=3, n_modules=2, n_network_modules=n_network_modules, n_train=40,
                           seed=5, n_steps_values=(0, 3, 7), width=4, batch_size=16, n_test=50,
                           kernel_settings=kr.KernelRuleSettings(n_steps=3, batch_size=16))


def test_alignment_over_iterations_equals_direct_computation_for_both_inits_trained_together():
    # random and kernel-rule U of one seed train in one ensemble; each must equal its own fresh
    # t-step run (the snapshot) trained alone, from the U it should start from
    runs = [_tiny_alignment("random"), _tiny_alignment("kernel")]
    results = ma.run_alignment_batch(runs, device="cpu")
    run = runs[0]
    task = kruns.draw_task(run.input_dim, run.n_modules, run.seed)
    x, y, _, _ = kruns.draw_data(task, run.n_train, run.n_test, run.seed)
    spec = ModularSpec(run.input_dim, run.n_network_modules, run.width)
    model = kruns.model_seed(run.seed)
    kernel_spec = kr.kernel_rule_init(spec, x, y, seeds=[model], settings=runs[1].kernel_settings).spec
    for result, start_spec in zip(results, (spec, kernel_spec)):
        for i, steps in enumerate(run.n_steps_values):
            trained = train_ensemble(start_spec, [model], x, y, device="cpu",
                                     settings=TrainSettings(n_steps=steps, lr=run.lr, batch_size=run.batch_size))
            u = trained.params[0][0].numpy().T[:, :, None]  # (K, m, 1)
            assert result["best_match_similarity"][i] == pytest.approx(kr.best_match_similarity(u, task.directions),
                                                                       abs=1e-5)
            assert result["matched_similarity"][i] == pytest.approx(kr.matched_similarity(u, task.directions),
                                                                    abs=1e-5)


def test_weights_after_t_steps_are_those_of_a_fresh_run_of_t_steps():
    # the premise of the snapshots: the weights a long run holds at step t are a t-step run's
    run = _tiny_alignment()
    task = kruns.draw_task(run.input_dim, run.n_modules, run.seed)
    x, y, _, _ = kruns.draw_data(task, run.n_train, run.n_test, run.seed)
    spec = ModularSpec(run.input_dim, run.n_modules, run.width)
    common = dict(lr=run.lr, batch_size=run.batch_size)
    long = train_ensemble(spec, [1, 2], x, y, settings=TrainSettings(n_steps=9, snapshot_steps=(3, 6), **common),
                          device="cpu")
    for t in (3, 6):
        short = train_ensemble(spec, [1, 2], x, y, settings=TrainSettings(n_steps=t, **common), device="cpu")
        for kept, final in zip(long.snapshots[t], short.params):
            torch.testing.assert_close(kept, final, rtol=0, atol=0)


def test_tsne_points_hold_both_signs_of_every_direction_and_repeat_with_the_seed():
    rng = np.random.default_rng(0)
    learned, true = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    points = ma.tsne_points(learned, true, seed=0)
    assert len(points) == 2 * (3 + 2) and set(points.sign) == {1, -1}
    pd.testing.assert_frame_equal(points, ma.tsne_points(learned, true, seed=0))


# --- the objective chapter -----------------------------------------------------------------------

@pytest.mark.parametrize("kernel", kr.KERNELS)
def test_objective_equals_the_ridge_minimum_norm_value(kernel):
    identity = kernel_chapter.objective_as_weight_norm(kernel_chapter.PathRun(
        kernel=kernel, input_dim=4, n_modules=2, batch_size=32, seed=0, eps=1e-2, width=6))
    assert identity["relative_gap"] < 1e-8


def test_path_cosine_is_one_at_the_true_end_whatever_the_true_directions_norm():
    # the calibrated task's true directions have norm about sqrt(m); the old |path . truth| read
    # their norm (2.45 on the page) as a cosine
    run = kernel_chapter.PathRun(kernel="rbf", input_dim=6, n_modules=3, batch_size=16, seed=0, width=4, n_points=5)
    task = kruns.draw_task(run.input_dim, run.n_modules, run.seed)
    assert abs(np.linalg.norm(task.directions[0]) - 1) > 0.1  # the case the bug hid in
    path = kernel_chapter.run_path(run)
    assert path["cos_to_truth"][-1] == pytest.approx(1.0, abs=1e-12)
    assert all(0 <= value <= 1 for value in path["cos_to_truth"])


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


@pytest.mark.parametrize("make, name", [
    (lambda: sample_runs.SampleRun(method="ensemble", input_dim=3, n_modules=2, n_network_modules=4, n_train=100, seed=0),
     "method="),
    (lambda: sample_runs.SampleRun(method="random", input_dim=3, n_modules=2, n_network_modules=4, n_train=1, seed=0),
     "n_train="),
    (lambda: sample_runs.SampleRun(method="random", input_dim=3, n_modules=2, n_network_modules=0, n_train=100, seed=0),
     "n_network_modules="),
    (lambda: sample_runs.SampleRun(method="random", input_dim=3, n_modules=2, n_network_modules=4, n_train=100, seed=0,
                          patience=100, short_steps=200), "short_steps="),
    (lambda: ma.AlignmentRun(init="random", input_dim=3, n_modules=2, n_network_modules=4, n_train=40, seed=0,
                             n_steps_values=(5, 3)), "n_steps_values="),
    (lambda: ma.AlignmentRun(init="oracle", input_dim=3, n_modules=2, n_network_modules=4, n_train=40, seed=0,
                             n_steps_values=(0, 3)), "init="),
    (lambda: ma.AlignmentRun(init="random", input_dim=3, n_modules=2, n_network_modules=0, n_train=40, seed=0,
                             n_steps_values=(0, 3)), "n_network_modules="),
    (lambda: kruns.PilotDesign(kernels=["rbf"], eps_values=[0.1], batch_sizes=[8], n_steps_values=[5],
                            restart_factors=[1], n_seeds=1, seed=3), "seed=3"),
    (lambda: kruns.PilotDesign(kernels=[], eps_values=[0.1], batch_sizes=[8], n_steps_values=[5],
                            restart_factors=[1], n_seeds=1), "kernels="),
    (lambda: kruns.RecoveryRun(kernel="rbf", eps=0.1, batch_size=8, seed=1000, restart_factors=(0, 1)),
     "restart_factors="),
])
def test_bad_run_settings_raise_and_name_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_capped_settings_use_a_small_training_set_whole():
    settings = kr.KernelRuleSettings(batch_size=128)
    assert kruns.capped_settings(settings, 100).batch_size is None
    assert kruns.capped_settings(settings, 1000).batch_size == 128


# --- every verdict rule can say agree and disagree ------------------------------------------------

def _two_methods(ratio: float, *, n_m: int = 4, n_seeds: int = 3) -> pd.DataFrame:
    """kernel needs ``ratio`` times the samples of random at every (m, seed), both methods doubling in m."""
    values = {}
    for m in range(2, 2 + n_m):
        for seed in range(n_seeds):
            values[("random", m, seed)] = 100.0 * 2 ** m * (1 + 0.1 * seed)
            values[("kernel", m, seed)] = ratio * values[("random", m, seed)]
    return _needed(values)


@pytest.mark.parametrize("ratio, word, verdict", [(0.5, "lower", "agree"), (2.0, "higher", "disagree"),
                                                  (1.0, "no significant difference", "inconclusive")])
def test_lowers_rule_says_agree_disagree_or_inconclusive_against_the_papers_lower(ratio, word, verdict):
    ours = sc.lowers_verdict(_two_methods(ratio), "kernel", "random")
    assert ours["word"] == word
    assert kruns.agreement(ours["word"], "lower") == verdict


def test_growth_rule_agrees_with_a_growing_paper_curve_and_disagrees_with_a_flat_one():
    m = np.repeat(np.arange(2, 8), 3)
    rng = np.random.default_rng(3)
    growing = sc.growth_in_m(m, 50 * 2.0 ** m * np.exp(0.05 * rng.standard_normal(m.size)), n_train_values=[10, 1e6])
    flat = sc.growth_in_m(m, 1000 * np.exp(0.05 * rng.standard_normal(m.size)), n_train_values=[10, 1e6])
    assert kruns.agreement(growing["word"], "grows") == "agree" and kruns.agreement(flat["word"], "grows") == "disagree"
    assert kruns.agreement(flat["word"], sc.THEOREM2_WORDS["growth_oracle"]) == "agree"


def test_the_papers_digitised_fig4a_scored_as_ours_agrees_with_itself_on_every_claim_it_has():
    paper = paper_values.load_csv("fig4a_digitised")
    theirs = sc.paper_needed(paper)
    results = sc.verdicts(theirs, paper, n_train_values=(100, 1e5), testable=True)
    assert results["kernel_vs_random"]["agreement"] == "agree"
    assert results["kernel_vs_monolithic"]["agreement"] == "agree"
    for method in ("kernel", "random", "monolithic"):
        assert results[f"growth_{method}"]["agreement"] == "agree"


def test_the_papers_digitised_fig5_is_higher_at_start_and_end_by_the_same_reading():
    paper = paper_values.load_csv("fig5_digitised")
    assert ma.paper_difference(paper, "start")["word"] == "higher"
    end = ma.paper_difference(paper, "end")
    assert end["word"] == "higher" and end["mean_difference"] == pytest.approx(ma.PAPER_GAP, abs=1e-9)


def _alignment_curves(gap: float, *, n_seeds: int = 10, sd: float = 0.01, step: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for seed in range(n_seeds):
        base = rng.uniform(0.4, 0.6)
        rows += [{"init": "random", "kernel": "", "n_network_modules": 4, "seed": seed, "step": step,
                  "best_match_similarity": base},
                 {"init": "kernel", "kernel": "rbf", "n_network_modules": 4, "seed": seed, "step": step,
                  "best_match_similarity": base + gap + sd * rng.standard_normal()}]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("gap, word, verdict", [(0.05, "higher", "agree"), (-0.05, "lower", "disagree"),
                                                (0.0, "no significant difference", "inconclusive")])
def test_fig5_rule_says_agree_disagree_or_inconclusive_against_the_papers_higher(gap, word, verdict):
    ours = ma.paired_difference(_alignment_curves(gap, sd=0.01 if gap else 0.0), 100)
    assert ours["word"] == word
    assert kruns.agreement(ours["word"], "higher") == verdict


@pytest.mark.parametrize("share, start, verdict", [(0.8, 0.0, "agree"), (0.1, 0.1, "disagree"), (0.4, 0.0, "partly")])
def test_recovery_rule_says_agree_disagree_or_partly(share, start, verdict):
    n_seeds = 8
    better = n_seeds if share > start else 0
    heldout = {"share": share, "start_share": start, "n_seeds": n_seeds, "n_better": better,
               "p_better": 0.5 ** n_seeds if better else 1.0, "word": "higher" if better else "not higher"}
    assert kernel_chapter.recovery_verdict(heldout) == verdict


def test_sensitivity_words_hold_across_all_or_name_the_factor_that_flips_the_word():
    rows = pd.DataFrame([{"kernel": k, "network modules": K, "training": t, "word": "lower"}
                         for k in ("ntk", "rbf") for K in ("K = k", "K = 2k") for t in ("short", "converged")])
    assert kruns.sensitivity_words(rows, "word") == "holds across all"
    flipped = rows.assign(word=np.where(rows.training == "short", "no significant difference", "lower"))
    assert kruns.sensitivity_words(flipped, "word") == "depends on training"
    one = rows.copy()
    one.loc[(one.kernel == "rbf") & (one["network modules"] == "K = k") & (one.training == "short"), "word"] = "higher"
    assert kruns.sensitivity_words(one, "word") == "depends on kernel and network modules and training"


# --- the pilot ------------------------------------------------------------------------------------

def _summary(rows):
    return pd.DataFrame([dict(zip(("kernel", "eps", "batch_size", "n_steps", "n_restarts", "share", "share_se",
                                   "flops_per_restart"), row), n_seeds=5, matched=0.8, n_duplicates=1.0,
                              start_share=0.1) for row in rows])


def test_choice_rule_takes_the_cheapest_setting_within_one_standard_error_of_the_best():
    summary = _summary([("ntk", 0.01, 128, 300, 6, 0.80, 0.10, 9e9),
                        ("rbf", 0.01, 64, 100, 6, 0.72, 0.05, 1e8),   # within 0.10 of 0.80: tied, cheapest
                        ("rbf", 0.1, 64, 30, 6, 0.60, 0.05, 1e7),     # cheaper, but not tied
                        ("rbf", 0.1, 64, 30, 12, 1.00, 0.00, 1e7)])   # other K: not considered
    chosen = kruns.choose_setting(summary, n_restarts=6)
    assert (chosen["kernel"], chosen["eps"], chosen["n_steps"], chosen["n_tied"]) == ("rbf", 0.01, 100, 2)


def test_choice_rule_never_trades_the_target_share_for_cost():
    summary = _summary([("ntk", 0.01, 128, 300, 6, 0.56, 0.10, 9e9),
                        ("rbf", 0.01, 64, 100, 6, 0.47, 0.05, 1e8)])  # within one s.e., but below 1/2
    assert kruns.choose_setting(summary, n_restarts=6)["kernel"] == "ntk"


def test_the_three_chapters_use_the_same_kernel_rule_settings():
    names = ("kernel", "kernel_eps", "kernel_batch_size", "kernel_n_steps", "kernel_lr")
    values = [{name: choices.notebook_defaults(chapter)[name] for name in names}
              for chapter in ("kernel_rule", "sample_complexity", "module_alignment")]
    assert values[0] == values[1] == values[2]


def test_the_choice_rule_on_the_stored_pilot_picks_the_chapters_defaults():
    defaults = choices.notebook_defaults("kernel_rule")
    summary = kruns.pilot_summary(kruns.stored_pilot())
    assert set(summary.n_seeds) == {kruns.FULL_PILOT["n_seeds"]} and len(summary) == (
        len(kruns.FULL_PILOT["kernels"]) * len(kruns.FULL_PILOT["eps_values"]) * len(kruns.FULL_PILOT["batch_sizes"])
        * len(kruns.FULL_PILOT["n_steps_values"]) * len(kruns.FULL_PILOT["restart_factors"]))
    chosen = kruns.choose_setting(summary, n_restarts=defaults["network_module_factor"] * defaults["n_modules"])
    assert (chosen["kernel"], chosen["eps"], chosen["batch_size"], chosen["n_steps"]) == (
        defaults["kernel"], pytest.approx(defaults["kernel_eps"]), defaults["kernel_batch_size"],
        defaults["kernel_n_steps"])


def test_pilot_rows_score_every_steps_and_restart_count_from_one_fit():
    design = kruns.PilotDesign(kernels=["rbf"], eps_values=[0.1], batch_sizes=[16], n_steps_values=[2, 4],
                            restart_factors=[1, 2], n_seeds=1, input_dim=3, n_modules=2, n_train=40, width=4)
    store = ResultStore(tempfile.mkdtemp(), create=True)
    rows = kruns.pilot_rows(design.runs(), store)
    assert sorted(zip(rows.n_steps, rows.n_restarts)) == [(2, 2), (2, 4), (4, 2), (4, 4)]
    # the 2-step, 2-restart row is a 2-step fit of 2 restarts
    run = design.runs()[0]
    task = kruns.draw_task(run.input_dim, run.n_modules, run.seed)
    x, y = task.sample(run.n_train, seed=derive_seed(run.seed, 1))
    fit = kr.fit_projections(ModularSpec(3, 2, 4), x, y, seed=kruns.model_seed(run.seed), n_restarts=2,
                             settings=dataclasses.replace(run.settings(), n_steps=2))
    row = rows[(rows.n_steps == 2) & (rows.n_restarts == 2)].iloc[0]
    assert row.matched == pytest.approx(kr.module_recovery(fit.projections, task.directions)["matched"], abs=1e-12)


# --- the Fig. 4a runs -------------------------------------------------------------------------------

def _sample_runs(method, **fields):
    base = dict(input_dim=3, n_modules=2, n_network_modules=4, n_train=60, width=4, n_steps=60, patience=20,
                short_steps=20, batch_size=16, n_test=40,
                kernel_settings=kr.KernelRuleSettings(kernel="rbf", n_steps=3, batch_size=16))
    return [sample_runs.SampleRun(method=method, seed=seed, **{**base, **fields}) for seed in (0, 1)]


def test_modular_methods_trained_together_equal_each_method_trained_alone():
    together = sample_runs.run_sample_batch(_sample_runs("random") + _sample_runs("kernel") + _sample_runs("oracle"),
                                   device="cpu")
    alone = [result for method in sample_runs.MODULAR_METHODS
             for result in sample_runs.run_sample_batch(_sample_runs(method), device="cpu")]
    for a, b in zip(together, alone):
        assert a["test_mse"] == pytest.approx(b["test_mse"], rel=1e-5)
        assert a["stop_step"] == b["stop_step"] and a["start_share"] == b["start_share"]


def test_oracle_starts_from_the_unit_true_directions_each_held_by_k_over_k_modules():
    task = kruns.draw_task(3, 2, 0)
    u = sample_runs.oracle_projections(task.directions, 4)  # (K, m, 1)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0)
    assert kr.module_recovery(u, task.directions)["share"] == 1.0
    np.testing.assert_allclose(u[0], u[2])
    result = sample_runs.run_sample_batch(_sample_runs("oracle"), device="cpu")
    assert all(r["start_share"] == 1.0 for r in result)


def test_a_run_set_ends_with_the_restored_weights_and_keeps_the_short_reading():
    results = sample_runs.run_sample_batch(_sample_runs("random"), device="cpu")
    for result in results:
        assert 0 <= result["stop_step"] <= 60 and np.isfinite(result["test_mse_short"])
        assert not result["diverged"]


def test_kernel_phase_sees_the_training_part_only():
    run = _sample_runs("kernel")[0]
    assert run.n_fit == 48  # 60 labelled points: the last fifth held out for the stopping rule


# --- legibility of the new figures -----------------------------------------------------------------

def _legend_entries(fig) -> int:
    return sum(len(legend.get_texts()) for legend in fig.legends) + sum(
        len(ax.get_legend().get_texts()) for ax in fig.axes if ax.get_legend() is not None)


def test_no_kernel_rule_figure_has_more_than_six_legend_entries():
    rng = np.random.default_rng(0)
    needed = _needed({(method, m, s): float(rng.uniform(100, 1000)) if (m, s) != (3, 1) else math.inf
                      for method in sample_runs.METHODS for m in (2, 3) for s in (0, 1)})
    paper = sc.paper_needed(paper_values.load_csv("fig4a_digitised"))
    summary = _summary([(k, e, b, t, 6, rng.uniform(), 0.1, 1e8) for k in ("ntk", "rbf") for e in (0.01, 0.1, 1.0)
                        for b in (64, 128) for t in (30, 100)])
    curves = pd.DataFrame([{"method": method, "input_dim": m, "n_train": n, "test_mse": rng.uniform(1, 2)}
                           for method in sample_runs.METHODS for m in (2, 3) for n in (100, 200)])
    figures = [kernel_plots.samples_needed(needed, sc.needed_means(needed), paper, n_train_range=(100, 1000),
                                           method_labels=sc.METHOD_LABELS),
               kernel_plots.pilot_recovery(summary, n_restarts=6, chosen=summary.iloc[0].to_dict(),
                                           kernel_labels={}),
               kernel_plots.loss_curves(curves, input_dim_values=[2, 3], target_loss=1.5, predict_zero_loss=2.0,
                                        method_labels=sc.METHOD_LABELS)]
    for fig in figures:
        assert _legend_entries(fig) <= 6
        assert fig.get_figwidth() <= 7.5 and min(_font_sizes(fig)) >= 9


def _curves_frame(losses: dict) -> pd.DataFrame:
    """Rows of runs: losses[(method, seed)] = test MSE on GRID (short reading = same + 0.1)."""
    return pd.DataFrame([{"method": method, "n_network_modules": 4, "kernel": "", "seed": seed, "input_dim": 3,
                          "n_train": n, "test_mse": loss, "test_mse_short": loss + 0.1, "diverged": False}
                         for (method, seed), curve in losses.items() for n, loss in zip(GRID, curve)])


def test_the_grid_stops_only_where_every_curve_has_reached_the_target_so_no_verdict_changes():
    losses = {("random", 0): [3.0, 2.0, 1.3, 1.8, 1.0, 0.9], ("kernel", 0): [3.0, 2.5, 2.0, 1.6, 1.2, 1.1]}
    frame = _curves_frame(losses)
    reached_at = [sample_runs.all_reached(frame[frame.n_train <= n], 1.5) for n in GRID]
    assert reached_at == [False, False, False, False, True, True]  # kernel's short reading reaches 1.5 at n = 2000
    full = sc.needed_table(frame, 1.5)
    cut = sc.needed_table(frame[frame.n_train <= 2000], 1.5)
    pd.testing.assert_frame_equal(full, cut)
    short_full = sc.needed_table(frame, 1.5, column="test_mse_short")
    short_cut = sc.needed_table(frame[frame.n_train <= 2000], 1.5, column="test_mse_short")
    pd.testing.assert_frame_equal(short_full, short_cut)
