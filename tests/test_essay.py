"""The essay experiment: tasks, arms (masks, pruning, goal switching), one run end to end,
and the statistics behind the verdicts."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from modcore.experiments import essay
from modcore.tasks import digit_pairs, retina


def _config(task="retina", arm="none", **changes):
    config = essay.make_configs([task], [arm], [0], n_shuffles=4, n_louvain_shuffles=2, two_head_control=False)[0]
    return dataclasses.replace(config, **changes)


def _train(config):
    data = essay.task_data(config)
    torch.manual_seed(config.seed)
    model = essay.build_model(config, data.x_train.shape[1], data.input_groups)
    targets = {goal: torch.as_tensor(y) for goal, y in data.y_train.items()}
    essay.train_classifier(model, torch.as_tensor(data.x_train), targets, config,
                           generator=torch.Generator().manual_seed(0))
    return model


# --- tasks -------------------------------------------------------------------------------

def test_retina_objects_cover_half_of_each_side_and_goals_have_rates_one_quarter_and_three_quarters():
    left, right = retina.objects()
    assert left.mean() == right.mean() == 0.5
    assert retina.retina_labels("and").mean() == 0.25
    assert retina.retina_labels("or").mean() == 0.75
    # the left object depends on pixels 0-3 only
    x = retina.retina_inputs()
    flipped_right = (np.arange(256) ^ 0xF0)
    np.testing.assert_array_equal(left, left[flipped_right])
    assert set(np.unique(x)) == {-1.0, 1.0}


def test_retina_split_partitions_the_256_patterns():
    split = retina.retina_split(100, seed=3)
    rows = {tuple(r) for r in np.concatenate([split.x_train, split.x_test])}
    assert len(split.x_train) == 100 and len(rows) == 256


def test_digit_pairs_hold_out_class_combinations_and_label_them_consistently():
    pairs = digit_pairs.digit_pairs(2000, 500, 300, seed=1)
    heldout = set(pairs.heldout_combinations)
    assert len(heldout) == digit_pairs.N_HELDOUT_COMBINATIONS
    seen = {tuple(p) for p in pairs.y_train["both"]} | {tuple(p) for p in pairs.y_test["both"]}
    assert not seen & heldout
    assert {tuple(p) for p in pairs.y_heldout["both"]} <= heldout
    both = pairs.y_train["both"]
    np.testing.assert_array_equal(pairs.y_train["sum"], (both[:, 0] + both[:, 1]) % 10)
    np.testing.assert_array_equal(pairs.y_train["diff"], (both[:, 0] - both[:, 1]) % 10)
    left, right = pairs.input_groups
    assert len(left) == len(right) and len(left) + len(right) == pairs.x_train.shape[1]


# --- arms --------------------------------------------------------------------------------

def test_block_mask_keeps_its_zeros_through_training():
    config = _config(arm="block_mask", n_steps=200, lr=3e-2)
    model = _train(config)
    first = model.layers[0]
    assert torch.equal(first.weight[first.mask == 0], torch.zeros(int((first.mask == 0).sum())))
    # left pixels reach only the first half of the first hidden layer
    half = first.out_features // 2
    assert first.weight[half:, :4].abs().sum() == 0 and first.weight[:half, 4:].abs().sum() == 0
    assert first.weight[:half, :4].abs().sum() > 0
    masked = [layer for layer in model.layers if not layer.dense]
    assert len(masked) == len(config.hidden) - 1  # modules meet in the last hidden layer


def test_pruned_weights_stay_zero_and_reach_the_target_sparsity():
    config = _config(arm="prune", strength=0.8, n_steps=200)
    model = _train(config)
    for layer in model.layers[:-1]:
        assert (layer.mask == 0).float().mean().item() == pytest.approx(0.8, abs=1 / layer.weight.numel())
        assert torch.all(layer.weight[layer.mask == 0] == 0)


def test_block_mask_has_the_dense_networks_parameter_count_within_rounding():
    for task in ("retina", "digits"):
        config = _config(task=task, arm="block_mask")
        data = essay.task_data(dataclasses.replace(config, n_train=200 if task == "digits" else 128))
        dense = essay.build_model(dataclasses.replace(config, arm="none"), data.x_train.shape[1], data.input_groups)
        block = essay.build_model(config, data.x_train.shape[1], data.input_groups)
        assert abs(block.n_active_params() - dense.n_active_params()) <= 0.06 * dense.n_active_params()


def test_mvg_alternates_goals_every_period_and_ends_on_the_primary_goal():
    config = _config(arm="mvg", strength=100, n_steps=450)
    goals = [essay.goal_at(step, config) for step in range(config.n_steps)]
    assert goals[-1] == "and" and goals[-100] == "and" and goals[-101] == "or"
    switches = sum(a != b for a, b in zip(goals, goals[1:]))
    assert switches == 4


def test_connection_distances_favour_short_wires_and_average_one():
    distances = essay.node_distances([8, 16, 8, 4, 1])
    assert np.mean(np.concatenate([d.numpy().ravel() for d in distances])) == pytest.approx(1.0)
    first = distances[0]
    assert first[0, 0] < first[0, 7] and first[-1, 7] < first[-1, 0]  # left unit near left pixel


def test_unknown_arm_task_and_goal_raise_and_name_them():
    with pytest.raises(ValueError, match="arm='magic'"):
        essay.make_configs(["retina"], ["magic"], [0])
    with pytest.raises(ValueError, match="arm='magic'"):
        _config(arm="magic")
    with pytest.raises(ValueError, match="task='mnist'"):
        essay.make_configs(["mnist"], ["none"], [0])
    with pytest.raises(ValueError, match="goal='xor'"):
        _config(goal="xor")
    with pytest.raises(ValueError, match="strength=1.5"):
        _config(arm="dropout", strength=1.5)


# --- one run -----------------------------------------------------------------------------

def test_run_is_deterministic_and_reports_accuracies_and_both_nulls():
    config = _config(arm="prune", strength=0.5, n_steps=60)
    first, second = essay.run_essay(config), essay.run_essay(config)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)  # NaN-safe equality
    assert 0 <= first["test_accuracy"] <= 1 and first["gap"] == first["train_accuracy"] - first["test_accuracy"]
    assert first["sparsity"] > 0.3
    assert first["ncut_k2_n_shuffles"] == 4 and first["q_louvain_n_shuffles"] == 2
    assert first["nz_ncut_k2_z"] != first["ncut_k2_z"]  # a pruned net gets its own mask-keeping null


def test_untrained_arm_is_measured_at_init():
    config = _config(arm="init")
    assert config.n_steps == 0
    result = essay.run_essay(config)
    assert result["nz_ncut_k2_z"] == result["ncut_k2_z"]  # no zeros: both nulls are the same permutations
