"""The essay experiment: tasks and goals, arms (masks, pruning, goal switching, penalties), one
run end to end, the strength sweep, the settings' checks and the report's verdict rules."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from modcore import models_masked, stats, train_classifier
from modcore.chapters import essay_modularity
from modcore.runs import essay, essay_report
from modcore.tasks import digit_pairs, retina, two_halves

FAST = dict(n_shuffles=4, n_louvain_shuffles=0, prune_threshold=0.01, device="cpu")


def _config(task="retina", arm="none", strength=0.0, seed=0, **changes):
    return essay.make_configs(task, arm, [strength], [seed], **{**FAST, **changes})[0]


def _train(config):
    data = essay.task_data(config)
    torch.manual_seed(config.seed)
    model = essay.build_model(config, data.x_train.shape[1], data.input_groups)
    essay.train_run(model, torch.as_tensor(data.x_train), torch.as_tensor(data.parts_train), config,
                           generator=torch.Generator().manual_seed(0))
    return model


def _settings(**changes):
    values = dict(
        seed=0, n_seeds=2, n_sweep_seeds=1, retina_regulariser_n_seeds=2, target_effect=1.5, power=0.8, tasks=["retina"], retina_arms=["none", "l1"], digits_arms=["none"],
        retina_n_steps=10, digits_n_steps=10, digits_n_train=100, retina_l1_values=[0.001],
        digits_l1_values=[0.001], retina_l2_values=[0.001], digits_l2_values=[0.001], retina_l2_norm_values=[0.01],
        digits_l2_norm_values=[0.01], retina_connection_cost_values=[0.001], digits_connection_cost_values=[0.001],
        weight_decay_values=[0.01], dropout_values=[0.2], prune_sparsity_values=[0.8], mvg_period_values=[100],
        rmvg_period_values=[100], clusterable_init_modules=2, train_accuracy_margin=0.02, prune_threshold=0.01,
        retina_n_transfer=32, digits_n_transfer=50, retina_n_finetune_steps=10, digits_n_finetune_steps=10,
        retina_finetune_criterion=0.95, digits_finetune_criterion=0.5, two_head_control=False, n_shuffles=4,
        n_louvain_shuffles=0, min_healthy_runs=2, alpha=0.05, n_bootstrap=100, device="cpu")
    return essay_modularity.Parameters(**{**values, **changes})


# --- tasks and goals ------------------------------------------------------------------------

def test_retina_objects_cover_half_of_each_side_and_goals_have_rates_one_quarter_and_three_quarters():
    left, right = retina.objects()
    assert left.mean() == right.mean() == 0.5
    assert retina.retina_labels("and").mean() == 0.25
    assert retina.retina_labels("or").mean() == 0.75
    flipped_right = np.arange(256) ^ 0xF0  # the left object depends on pixels 0-3 only
    np.testing.assert_array_equal(left, left[flipped_right])
    assert set(np.unique(retina.retina_inputs())) == {-1.0, 1.0}


def test_retina_split_partitions_the_256_patterns_and_carries_the_sub_labels():
    split = retina.retina_split(100, seed=3)
    rows = {tuple(r) for r in np.concatenate([split.x_train, split.x_test])}
    assert len(split.x_train) == 100 and len(rows) == 256
    np.testing.assert_array_equal(two_halves.goal_labels("retina", "and", split.parts_train), split.y_train["and"])
    np.testing.assert_array_equal(two_halves.goal_labels("retina", "or", split.parts_test), split.y_test["or"])


def test_digit_pairs_hold_out_class_combinations_and_label_every_goal_from_the_two_digits():
    pairs = digit_pairs.digit_pairs(2000, 500, 300, seed=1)
    heldout = set(pairs.heldout_combinations)
    assert len(heldout) == digit_pairs.N_HELDOUT_COMBINATIONS
    seen = {tuple(p) for p in pairs.y_train["both"]} | {tuple(p) for p in pairs.y_test["both"]}
    assert not seen & heldout
    assert {tuple(p) for p in pairs.y_heldout["both"]} <= heldout
    np.testing.assert_array_equal(two_halves.goal_labels("digits", "sum", pairs.parts_train), pairs.y_train["sum"])
    np.testing.assert_array_equal(two_halves.goal_labels("digits", "diff", pairs.parts_train), pairs.y_train["diff"])
    left, right = pairs.input_groups
    assert len(left) == len(right) and len(left) + len(right) == pairs.x_train.shape[1]


def test_rmvg_never_draws_the_related_goal_or_an_equivalent_of_it():
    parts = np.array([[a, b] for a in (0, 1) for b in (0, 1)])
    related = two_halves.goal_labels("retina", "or", parts)
    for table in two_halves.random_goal_pool("retina"):
        labels = two_halves.goal_labels("retina", table, parts)
        assert not np.array_equal(labels, related) and not np.array_equal(labels, 1 - related)
        assert len(set(labels[:2])) + len(set(labels[2:])) > 2 or len(set(labels[::2])) + len(set(labels[1::2])) > 2
    digits = np.array([[a, b] for a in range(10) for b in range(10)])
    diff = two_halves.goal_labels("digits", "diff", digits)
    for goal in two_halves.random_goal_pool("digits"):
        labels = two_halves.goal_labels("digits", goal, digits)
        # a relabelling of the difference would map each of its classes to one class
        assert any(len(set(labels[diff == c])) > 1 for c in range(10))
    config = _config(arm="rmvg", strength=10, n_steps=200)
    goals = [essay.goal_at(step, config) for step in range(config.n_steps)]
    assert goals[-1] == "and" and "or" not in goals and len(set(map(str, goals))) > 3


def test_mvg_alternates_goals_every_period_and_ends_on_the_primary_goal():
    config = _config(arm="mvg", strength=100, n_steps=450)
    goals = [essay.goal_at(step, config) for step in range(config.n_steps)]
    assert goals[-1] == "and" and goals[-100] == "and" and goals[-101] == "or"
    assert sum(a != b for a, b in zip(goals, goals[1:])) == 4


# --- arms --------------------------------------------------------------------------------

def test_block_mask_keeps_its_zeros_through_training():
    config = _config(arm="block_mask", strength=2, n_steps=200, lr=3e-2)
    model = _train(config)
    first = model.layers[0]
    assert torch.equal(first.weight[first.mask == 0], torch.zeros(int((first.mask == 0).sum())))
    half = first.out_features // 2  # left pixels reach only the first half of the first hidden layer
    assert first.weight[half:, :4].abs().sum() == 0 and first.weight[:half, 4:].abs().sum() == 0
    assert first.weight[:half, :4].abs().sum() > 0
    assert len([layer for layer in model.layers if not layer.dense]) == len(config.hidden) - 1


@pytest.mark.parametrize("task", ["retina", "digits"])
def test_random_mask_has_exactly_the_block_masks_connections_but_not_its_partition(task):
    for seed in range(5):
        block, random = (_config(task=task, arm=arm, strength=2, seed=seed, n_train=200 if task == "digits" else 128,
                         n_transfer=32)
                         for arm in ("block_mask", "random_mask"))
        data = essay.task_data(block)
        block_model = essay.build_model(block, data.x_train.shape[1], data.input_groups)
        random_model = essay.build_model(random, data.x_train.shape[1], data.input_groups)
        for a, b in zip(block_model.layers, random_model.layers):
            assert a.mask.shape == b.mask.shape and a.mask.sum() == b.mask.sum()
        assert block_model.n_active_params() == random_model.n_active_params()
        groups = models_masked.random_partition(data.input_groups, seed=seed)
        assert {frozenset(g) for g in groups} != {frozenset(g) for g in data.input_groups}
        assert sorted(i for g in groups for i in g) == sorted(i for g in data.input_groups for i in g)


def test_pruned_weights_stay_zero_and_reach_the_target_sparsity():
    model = _train(_config(arm="prune", strength=0.8, n_steps=200))
    for layer in model.layers[:-1]:
        assert (layer.mask == 0).float().mean().item() == pytest.approx(0.8, abs=1 / layer.weight.numel())
        assert torch.all(layer.weight[layer.mask == 0] == 0)


def test_block_mask_has_the_dense_networks_parameter_count_within_rounding():
    for task in ("retina", "digits"):
        config = _config(task=task, arm="block_mask", strength=2, n_train=200 if task == "digits" else 128,
                         n_transfer=32)
        data = essay.task_data(config)
        dense = essay.build_model(dataclasses.replace(config, arm="none"), data.x_train.shape[1], data.input_groups)
        block = essay.build_model(config, data.x_train.shape[1], data.input_groups)
        assert abs(block.n_active_params() - dense.n_active_params()) <= 0.06 * dense.n_active_params()


def test_l2_norm_penalty_is_lambda_times_the_norm_of_all_weights_and_l2_its_square_sum():
    weights = [torch.tensor([[3.0, 0.0]]), torch.tensor([[4.0]])]
    norm = train_classifier.penalty_term(essay.training(_config(arm="l2_norm", strength=0.5)), weights, [])
    squared = train_classifier.penalty_term(essay.training(_config(arm="l2", strength=0.5)), weights, [])
    assert float(norm) == pytest.approx(0.5 * 5.0) and float(squared) == pytest.approx(0.5 * 25.0)


def test_clusterable_init_scales_within_module_weights_up_and_between_module_weights_down():
    config = _config(arm="clusterable_init", strength=2)
    data = essay.task_data(config)
    torch.manual_seed(0)
    plain = essay.build_model(dataclasses.replace(config, arm="none", strength=0.0), 8, data.input_groups)
    torch.manual_seed(0)
    clustered = essay.build_model(config, 8, data.input_groups)
    ratios = np.concatenate([(c.weight / p.weight).detach().numpy().ravel()
                             for c, p in zip(clustered.layers, plain.layers)])
    within = 1 + (1 - models_masked.CLUSTERABLE_BETWEEN_SCALE) * (2 - 1)
    np.testing.assert_allclose(np.unique(ratios.round(6)), sorted([models_masked.CLUSTERABLE_BETWEEN_SCALE, within]))


def test_connection_distances_favour_short_wires_and_average_one():
    distances = models_masked.node_distances([8, 16, 8, 4, 1])
    assert np.mean(np.concatenate([d.numpy().ravel() for d in distances])) == pytest.approx(1.0)
    first = distances[0]
    assert first[0, 0] < first[0, 7] and first[-1, 7] < first[-1, 0]  # left unit near left pixel


def test_unknown_arm_task_and_goal_and_bad_strengths_raise_and_name_them():
    with pytest.raises(ValueError, match="arm='magic'"):
        _config(arm="magic")
    with pytest.raises(ValueError, match="task='mnist'"):
        essay.make_configs("mnist", "none", [0.0], [0], **FAST)
    with pytest.raises(ValueError, match="goal='xor'"):
        _config(goal="xor")
    with pytest.raises(ValueError, match="strength=1.5"):
        _config(arm="dropout", strength=1.5)
    with pytest.raises(ValueError, match="prune_threshold=1.0"):
        _config(prune_threshold=1.0)


# --- one run -----------------------------------------------------------------------------

def test_run_is_deterministic_and_reports_accuracies_generalisation_and_modularity():
    config = _config(arm="prune", strength=0.5, n_steps=60, n_finetune_steps=20)
    first, second = essay.run_essay(config), essay.run_essay(config)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)  # NaN-safe equality
    assert 0 <= first["test_accuracy"] <= 1 and first["gap"] == first["train_accuracy"] - first["test_accuracy"]
    assert 0 <= first["transfer_accuracy"] <= 1 and first["finetune_steps"] % train_classifier.FINETUNE_EVAL_EVERY == 0
    assert first["sparsity"] > 0.3
    assert 0 < first["ncut_percentile"] <= 1 and first["ncut_ratio"] > 0 and math.isfinite(first["filan_ncut_z"])


def test_sweep_runs_skip_the_measurements():
    result = essay.run_essay(_config(n_steps=20, measure=False))
    assert math.isnan(result["transfer_accuracy"]) and "ncut_ratio" not in result
    assert result["chance_loss"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rel=0.2)


def test_untrained_arm_is_measured_at_init():
    config = _config(arm="init")
    assert config.n_steps == 0
    assert 0 < essay.run_essay(config)["ncut_ratio"]


def test_a_net_wired_to_the_task_transfers_to_the_related_goal_better_than_a_randomly_wired_one():
    # Digit pairs, smaller than the chapter's: 4 seeds per arm, so p < 0.05 needs every block-masked
    # net to beat every randomly masked one (one-sided Mann-Whitney, exact: 1 / 70).
    sizes = dict(task="digits", strength=2, n_steps=400, n_train=3000, n_test=1000, n_heldout=0, n_transfer=500,
                 n_finetune_steps=0, n_shuffles=1)
    accuracy = {arm: [essay.run_essay(_config(arm=arm, seed=seed, **sizes))["transfer_accuracy"] for seed in range(4)]
                for arm in ("block_mask", "random_mask")}
    p_better, _ = stats.one_sided_mann_whitney(accuracy["random_mask"], accuracy["block_mask"])
    assert p_better < 0.05, accuracy


# --- the sweep and the settings --------------------------------------------------------------

def test_strength_choice_takes_the_strongest_within_the_margin_and_flags_an_arm_with_none():
    sweep = pd.DataFrame({"task": "retina", "arm": ["none", "none", "l1", "l1", "l1", "dropout", "dropout"],
                          "strength": [0, 0, 0.001, 0.01, 0.1, 0.2, 0.5],
                          "train_accuracy": [1.0, 0.98, 1.0, 0.975, 0.5, 0.9, 0.8]})
    chosen = essay_modularity.choose_strengths(sweep, margin=0.02).set_index(["arm", "strength"])
    assert chosen.loc[("l1", 0.01), "chosen"] and not chosen.loc[("l1", 0.1), "admissible"]
    assert chosen.loc[("dropout", 0.2), "chosen"] and not chosen.loc[("dropout", 0.2), "admissible"]
    periods = pd.DataFrame({"task": "retina", "arm": ["none", "mvg", "mvg", "mvg"], "strength": [0, 50, 100, 250],
                            "train_accuracy": [1.0, 0.9, 0.99, 1.0]})
    chosen = essay_modularity.choose_strengths(periods, margin=0.02).set_index("strength")
    assert chosen.loc[100.0, "chosen"]  # the shortest period within the margin


@pytest.mark.parametrize("name, value", [("alpha", 2.0), ("alpha", 0.0), ("n_seeds", 0), ("prune_threshold", -0.1),
                                         ("retina_l1_values", []), ("dropout_values", [1.0]),
                                         ("retina_arms", ["l1"]), ("tasks", ["mnist"]), ("n_sweep_seeds", 0),
                                         ("retina_regulariser_n_seeds", 1), ("target_effect", 0.0), ("power", 1.0),
                                         ("retina_finetune_criterion", 1.5), ("train_accuracy_margin", 1.0),
                                         ("mvg_period_values", [0])])
def test_bad_parameters_are_rejected_before_any_run_and_named(name, value):
    with pytest.raises(ValueError, match=f"{name} ="):
        _settings(**{name: value})


def test_the_chapter_reuses_nothing_it_should_not_and_runs_every_arm_on_every_seed(tmp_path):
    chapter = essay_modularity.run_chapter(_settings(results_dir=str(tmp_path)))
    assert set(chapter.runs["arm"]) == {"none", "l1"} and len(chapter.runs) == 4
    assert chapter.selection["chosen"].sum() == 1
    assert chapter.runs["ncut_ratio"].notna().all()


# --- verdicts ----------------------------------------------------------------------------------

def _frame(rows):
    base = dict(task="retina", goal="and", strength=0.0, seed=0, n_clusters=2, train_loss=0.01, chance_loss=0.56,
                filan_ncut_z=0.0, finetune_steps=100.0, inputs_separated=0)
    return pd.DataFrame([{**base, **row} for row in rows])


def test_diverged_and_underfit_runs_never_feed_a_verdict():
    good = [dict(arm="l1", seed=s, train_accuracy=1.0, ncut_ratio=0.5 + 0.01 * s, transfer_accuracy=0.8)
            for s in range(5)]
    control = [dict(arm="none", seed=s, train_accuracy=1.0, ncut_ratio=1.0 + 0.01 * s, transfer_accuracy=0.7)
               for s in range(5)]
    bad = [dict(arm="dropout", seed=s, train_accuracy=0.6, ncut_ratio=0.1, transfer_accuracy=0.9) for s in range(3)]
    bad.append(dict(arm="dropout", seed=3, train_accuracy=1.0, ncut_ratio=0.1, transfer_accuracy=0.9))
    bad.append(dict(arm="dropout", seed=4, train_accuracy=1.0, train_loss=math.inf, ncut_ratio=0.1,
                    transfer_accuracy=0.9))
    frame = _frame(good + control + bad)
    health = essay_report.with_health(frame, margin=0.02).groupby("arm")["health"].agg(lambda h: sorted(set(h)))
    # the dropout arm's median training accuracy (over its runs that did not diverge) is 0.6: all of
    # them underfit, even the one at 1.0; the diverged run is counted as such
    assert health["dropout"] == ["diverged", "underfit"] and health["l1"] == ["healthy"]
    claims = essay_report.claims_table(frame, essay_report.load_literature(), alpha=0.05, margin=0.02,
                                       min_healthy_runs=3).set_index(["family", "arm"])
    assert claims.loc[("regulariser_modularity", "l1"), "verdict"] == "supported"
    assert claims.loc[("regulariser_modularity", "dropout"), "verdict"] == "inconclusive"
    assert "too few healthy runs" in claims.loc[("regulariser_modularity", "dropout"), "evidence"]


def test_mediation_needs_all_three_links():
    assert essay_report.mediation_verdict("supported", "supported", "supported")[0] == "supported"
    assert essay_report.mediation_verdict("inconclusive", "supported", "supported")[0] == "not supported"
    assert essay_report.mediation_verdict("supported", "inconclusive", "supported")[0] == "inconclusive"
    assert essay_report.mediation_verdict("supported", "supported", "not supported")[0] == "not supported"


def test_verdict_summary_is_keyed_by_family_identifier_not_by_text():
    claims = pd.DataFrame({"family": ["init", "init", "mediation"], "task": "retina",
                           "claim": ["anything", "at all", "more modular"],
                           "verdict": ["supported", "inconclusive", "not supported"]})
    summary = essay_report.summarise_verdicts(claims)
    assert summary["init"] == "retina: 1 supported, 1 inconclusive (of 2)"
    assert summary["mediation"] == "retina: 1 not supported (of 1)"
    assert summary["regulariser_modularity"] == "not run at this profile"


def test_underfitting_is_judged_per_arm_so_no_single_run_is_dropped_for_its_training_accuracy():
    control = [dict(arm="none", seed=s, train_accuracy=1.0, ncut_ratio=1.0) for s in range(5)]
    # three runs at the control's level, two a little below the margin: the arm's median is fine
    dropout = [dict(arm="dropout", seed=s, train_accuracy=a, ncut_ratio=0.9)
               for s, a in enumerate((1.0, 0.984, 0.977, 0.953, 0.984))]
    health = essay_report.with_health(_frame(control + dropout), margin=0.02)
    assert (health.loc[health.arm == "dropout", "health"] == "healthy").all()


def test_each_comparison_reports_its_shift_interval_direction_and_detectable_effect():
    control = [dict(arm="none", seed=s, train_accuracy=1.0, ncut_ratio=1.0 + 0.01 * s, transfer_accuracy=0.7)
               for s in range(8)]
    less = [dict(arm="l2", seed=s, train_accuracy=1.0, ncut_ratio=1.3 + 0.01 * s, transfer_accuracy=0.7)
            for s in range(8)]
    more = [dict(arm="l1", seed=s, train_accuracy=1.0, ncut_ratio=0.7 + 0.01 * s, transfer_accuracy=0.7)
            for s in range(8)]
    claims = essay_report.claims_table(_frame(control + less + more), essay_report.load_literature(), alpha=0.05,
                                       margin=0.02, min_healthy_runs=3).set_index(["family", "arm"])
    l2, l1 = claims.loc[("regulariser_modularity", "l2")], claims.loc[("regulariser_modularity", "l1")]
    assert l2.verdict == "not supported" and l2.points == "less modular: against the essay"
    assert l2.effect == pytest.approx(0.3) and l2.effect_low > 0
    assert l1.verdict == "supported" and l1.points == "more modular: for the essay" and l1.effect_high < 0
    assert 0 < l1.detectable_sd < 3 and "detect a shift" in l1.evidence
    records = essay_modularity.scorecard_records(claims.reset_index(), range(8))
    assert "against the essay" in records["essay_l2"]["why"] and records["essay_l2"]["verdict"] == "disagree"


def test_the_strength_sweep_uses_seeds_no_comparison_uses(tmp_path):
    settings = _settings()
    assert not set(settings.sweep_seeds) & set(settings.seeds)
    assert settings.arm_seeds("retina", "l1") == settings.arm_seeds("retina", "none")
    wide = _settings(n_seeds=2, retina_regulariser_n_seeds=4)
    assert len(wide.arm_seeds("retina", "l1")) == 4 and len(wide.arm_seeds("retina", "block_mask")) == 2


def test_the_power_table_says_when_no_effect_can_pass():
    control = [dict(arm="none", seed=s, train_accuracy=1.0, ncut_ratio=1.0 + 0.01 * s, transfer_accuracy=0.7)
               for s in range(3)]
    arms = [dict(arm=a, seed=s, train_accuracy=1.0, ncut_ratio=0.7 + 0.01 * s, transfer_accuracy=0.7)
            for a in ("l1", "l2", "prune") for s in range(3)]
    claims = essay_report.claims_table(_frame(control + arms), essay_report.load_literature(), alpha=0.05,
                                       margin=0.02, min_healthy_runs=3)
    table = essay_report.power_table(claims, alpha=0.05, target_effect=1.5, power=0.8).set_index("comparisons")
    row = table.loc[essay_report.CLAIM_FAMILIES["regulariser_modularity"]]
    # 3 vs 3 runs: the smallest exact one-sided p is 1/20 = 0.05, above 0.05 / 3
    assert row["comparisons that cannot pass"] == 3 and row["seeds needed per side"] > 3


def test_a_swept_arm_is_judged_by_its_sweep_not_by_its_comparison_runs():
    control = [dict(arm="none", seed=s, train_accuracy=1.0, ncut_ratio=1.0, admissible=None) for s in range(5)]
    # admissible in the sweep: kept whole though its comparison runs' median is a little below the margin
    prune = [dict(arm="prune", seed=s, train_accuracy=0.977, ncut_ratio=0.9, admissible=True) for s in range(5)]
    # no strength within the margin in the sweep: underfit whatever its comparison runs do
    mvg = [dict(arm="mvg", seed=s, train_accuracy=1.0, ncut_ratio=0.9, admissible=False) for s in range(5)]
    health = essay_report.with_health(_frame(control + prune + mvg), margin=0.02).groupby("arm")["health"].agg(set)
    assert health["prune"] == {"healthy"} and health["mvg"] == {"underfit"} and health["none"] == {"healthy"}


# --- the classifier trainer and the shared helpers -------------------------------------------------

def test_seeded_block_draws_from_its_seed_and_leaves_the_callers_generator_where_it_was():
    from modcore.runtime import seeded
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        inside = torch.rand(3)
    with seeded(7):
        assert torch.equal(torch.rand(3), inside)
    assert torch.equal(torch.rand(3), expected_next)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_seeded_block_restores_the_callers_cuda_generator_too():
    from modcore.runtime import seeded
    torch.cuda.manual_seed_all(123)
    expected_next = torch.rand(3, device="cuda")
    torch.cuda.manual_seed_all(123)
    with seeded(7):
        torch.rand(3, device="cuda")  # dropout on a GPU draws from here
    assert torch.equal(torch.rand(3, device="cuda"), expected_next)


@pytest.mark.parametrize("changes, words", [(dict(penalty="l3"), "penalty="), (dict(n_steps=-1), "n_steps="),
                                            (dict(lr=math.nan), "lr="), (dict(prune_sparsity=1.0), "prune_sparsity="),
                                            (dict(batch_size=-2), "batch_size=")])
def test_classifier_training_settings_refuse_bad_values_by_name(changes, words):
    with pytest.raises(ValueError, match=words):
        train_classifier.ClassifierTraining(**{**dict(n_steps=10, lr=1e-3, batch_size=0), **changes})


def test_each_arm_trains_with_its_own_regulariser_only():
    assert essay.training(_config(arm="none")) == train_classifier.ClassifierTraining(n_steps=3000, lr=3e-3,
                                                                                      batch_size=0)
    l1 = essay.training(_config(arm="l1", strength=0.01))
    assert (l1.penalty, l1.penalty_strength, l1.weight_decay, l1.prune_sparsity) == ("l1", 0.01, 0.0, 0.0)
    decay = essay.training(_config(arm="weight_decay", strength=0.1))
    assert (decay.penalty, decay.weight_decay) == ("none", 0.1)
    assert essay.training(_config(arm="prune", strength=0.8)).prune_sparsity == 0.8
    assert essay.training(_config(arm="dropout", strength=0.2)).penalty == "none"
