"""Graph modularity of layered networks: known answers on hand-built graphs, the shuffle null,
and clear errors."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from torch import nn

from modcore import modularity


def _cliques(sizes, bridges=()):
    """Adjacency of disjoint unit-weight cliques, plus unit-weight bridge edges (i, j)."""
    n = sum(sizes)
    adjacency = np.zeros((n, n))
    start = 0
    for size in sizes:
        adjacency[start:start + size, start:start + size] = 1
        start += size
    np.fill_diagonal(adjacency, 0)
    for i, j in bridges:
        adjacency[i, j] = adjacency[j, i] = 1
    return sp.csr_array(adjacency)


def _block_network(rng, noise=0.0):
    """8-8-8-2 network wired as two independent halves (plus optional small cross weights)."""
    weights = []
    for fan_in, fan_out in [(8, 8), (8, 8), (8, 2)]:
        w = noise * rng.normal(size=(fan_out, fan_in))
        w[: fan_out // 2, : fan_in // 2] = rng.normal(size=(fan_out // 2, fan_in // 2))
        w[fan_out // 2:, fan_in // 2:] = rng.normal(size=(fan_out - fan_out // 2, fan_in - fan_in // 2))
        weights.append(w)
    return weights


def test_two_disconnected_cliques_have_zero_ncut_and_q_one_half():
    adjacency = _cliques([4, 4])
    labels = modularity.spectral_partition(adjacency, 2, seed=0)
    assert modularity.ncut(adjacency, labels) == pytest.approx(0.0, abs=1e-9)
    # Q = sum_c [L_c / 2m - (vol_c / 2m)^2] = 2 * (1/2 - 1/4) for two equal components.
    assert modularity.modularity_q(adjacency, labels) == pytest.approx(0.5)
    assert modularity.modularity_q(adjacency, modularity.louvain_partition(adjacency, seed=0)) == pytest.approx(0.5)


def test_two_triangles_joined_by_one_edge_have_the_textbook_ncut_and_q():
    adjacency = _cliques([3, 3], bridges=[(2, 3)])
    labels = np.array([0, 0, 0, 1, 1, 1])
    # each side: cut 1, volume 2 + 2 + 3 = 7; 2m = 14, L_c = 6
    assert modularity.ncut(adjacency, labels) == pytest.approx(2 / 7, rel=1e-6)
    assert modularity.modularity_q(adjacency, labels) == pytest.approx(2 * (6 / 14 - 0.25))
    assert set(map(tuple, [np.flatnonzero(modularity.spectral_partition(adjacency, 2, seed=0) == c)
                           for c in range(2)])) == {(0, 1, 2), (3, 4, 5)}


def test_q_equals_networkx_weighted_modularity():
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(12, 6)), rng.normal(size=(5, 12))]
    adjacency = modularity.weights_to_adjacency(weights)
    labels = rng.integers(0, 3, size=adjacency.shape[0])
    graph = nx.from_scipy_sparse_array(adjacency)
    communities = [set(np.flatnonzero(labels == c).tolist()) for c in range(3)]
    expected = nx.community.modularity(graph, communities, weight="weight")
    assert modularity.modularity_q(adjacency, labels) == pytest.approx(expected, rel=1e-10)


def test_adjacency_is_symmetric_with_one_node_per_unit_and_abs_weight_edges():
    weights = [np.array([[1.0, -2.0, 0.0]]), np.array([[3.0], [-4.0]])]  # 3 -> 1 -> 2
    adjacency = modularity.weights_to_adjacency(weights).toarray()
    assert modularity.layer_sizes(weights) == [3, 1, 2]
    assert adjacency.shape == (6, 6)
    np.testing.assert_array_equal(adjacency, adjacency.T)
    np.testing.assert_array_equal(adjacency[:3, 3], [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(adjacency[3, 4:], [3.0, 4.0])
    assert adjacency[:3, 4:].sum() == 0  # no edges skip a layer


@pytest.mark.parametrize("shuffle", ["all", "nonzero", "degree"])
def test_shuffle_keeps_each_layers_weight_multiset(shuffle):
    rng = np.random.default_rng(2)
    weights = [rng.normal(size=(6, 4)) * (rng.random((6, 4)) < 0.5), rng.normal(size=(3, 6))]
    shuffled = modularity.shuffle_weights(weights, shuffle=shuffle, seed=0)
    for original, new in zip(weights, shuffled):
        assert new.shape == original.shape
        np.testing.assert_array_equal(np.sort(new, axis=None), np.sort(original, axis=None))
    assert not all(np.array_equal(a, b) for a, b in zip(weights, shuffled))
    if shuffle == "nonzero":
        for original, new in zip(weights, shuffled):
            np.testing.assert_array_equal(new == 0, original == 0)


def _sparse(rng, shape, density):
    return rng.normal(size=shape) * (rng.random(shape) < density)


def test_sparsity_keeping_shuffles_keep_each_layers_zero_count_and_nonzero_multiset():
    rng = np.random.default_rng(8)
    weights = [_sparse(rng, (20, 12), 0.3), _sparse(rng, (6, 20), 0.5)]
    for shuffle in ("nonzero", "degree"):
        shuffled = modularity.shuffle_weights(weights, shuffle=shuffle, seed=1)
        for original, new in zip(weights, shuffled):
            np.testing.assert_array_equal(np.sort(new[new != 0]), np.sort(original[original != 0]))
            if shuffle == "nonzero":  # the zero pattern itself is kept
                np.testing.assert_array_equal(new != 0, original != 0)
            else:  # every unit keeps its number of connections, but the pattern moves
                np.testing.assert_array_equal((new != 0).sum(axis=0), (original != 0).sum(axis=0))
                np.testing.assert_array_equal((new != 0).sum(axis=1), (original != 0).sum(axis=1))
                assert ((new != 0) != (original != 0)).any()


def test_threshold_sets_weights_below_a_fraction_of_each_layers_largest_to_zero():
    weights = [np.array([[10.0, -0.05, 0.2]]), np.array([[1.0], [-0.009]])]
    thresholded = modularity.threshold_weights(weights, 0.01)
    np.testing.assert_array_equal(thresholded[0], [[10.0, 0.0, 0.2]])
    np.testing.assert_array_equal(thresholded[1], [[1.0], [0.0]])
    np.testing.assert_array_equal(modularity.threshold_weights(weights, 0.0)[0], weights[0])
    with pytest.raises(ValueError, match="fraction=1.0"):
        modularity.threshold_weights(weights, 1.0)


def _sparse_modular_network(rng, density):
    """24-24-24-4 network of two halves, each layer sparse (density of the within-half blocks)
    with no connection between the halves."""
    weights = []
    for fan_in, fan_out in [(24, 24), (24, 24), (24, 4)]:
        w = np.zeros((fan_out, fan_in))
        w[: fan_out // 2, : fan_in // 2] = _sparse(rng, (fan_out // 2, fan_in // 2), density)
        w[fan_out // 2:, fan_in // 2:] = _sparse(rng, (fan_out - fan_out // 2, fan_in - fan_in // 2), density)
        weights.append(w)
    return weights


def test_sparse_modular_net_beats_its_degree_preserving_null_and_a_sparse_random_net_does_not():
    rng = np.random.default_rng(9)
    modular = _sparse_modular_network(rng, density=0.6)
    density = [float((w != 0).mean()) for w in modular]
    random = [_sparse(rng, w.shape, d) for w, d in zip(modular, density)]  # same sparsity, no halves
    options = dict(n_clusters=(2,), n_shuffles=19, n_louvain_shuffles=0, shuffle="degree", seed=0)
    modular_ncut = modularity.measure_modularity(modular, **options).ncut[2]
    random_ncut = modularity.measure_modularity(random, **options).ncut[2]
    assert modular_ncut.p_value == pytest.approx(1 / 20) and modular_ncut.ratio < 0.5
    assert random_ncut.p_value > 0.05 and random_ncut.ratio > 0.8
    # the zero-pattern-keeping null keeps the halves apart too, so it cannot see this modularity
    kept = modularity.measure_modularity(modular, **{**options, "shuffle": "nonzero"}).ncut[2]
    assert kept.p_value > 0.05


def test_planted_two_module_network_is_more_modular_than_every_shuffle():
    weights = _block_network(np.random.default_rng(3), noise=0.01)
    report = modularity.measure_modularity(weights, n_clusters=(2,), n_shuffles=20, n_louvain_shuffles=5, seed=0)
    ncut = report.ncut[2]
    assert ncut.z < 0 and ncut.ratio < 1
    assert ncut.p_value == pytest.approx(1 / 21)  # the smallest possible: no shuffle is as modular
    assert report.q_louvain.p_value == pytest.approx(1 / 6)
    labels = report.labels[2]
    assert len(set(labels[:4])) == 1 and len(set(labels[4:8])) == 1 and labels[0] != labels[4]


def test_null_comparison_counts_shuffles_at_least_as_modular():
    comparison = modularity.NullComparison.of(2.0, [1.0, 2.0, 3.0, 4.0], lower_is_modular=True)
    assert comparison.p_value == pytest.approx((2 + 1) / (4 + 1))
    assert comparison.z == pytest.approx((2.0 - 2.5) / np.std([1, 2, 3, 4], ddof=1))
    assert comparison.ratio == pytest.approx(0.8)
    higher = modularity.NullComparison.of(2.0, [1.0, 2.0, 3.0, 4.0], lower_is_modular=False)
    assert higher.p_value == pytest.approx((3 + 1) / (4 + 1))


def test_near_isolated_input_is_removed_before_clustering():
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=(6, 5)), rng.normal(size=(2, 6))]
    weights[0][:, 0] = 1e-30  # a dead input, as weight decay leaves it
    adjacency, kept = modularity.remove_isolated(modularity.weights_to_adjacency(weights))
    assert 0 not in kept and kept.size == 12
    report = modularity.measure_modularity(weights, n_clusters=(2,), n_shuffles=5, n_louvain_shuffles=0, seed=0)
    assert report.labels[2][0] == -1
    assert report.ncut[2].score > 1e-3  # no singleton cluster with cut / vol ~ 0


def test_same_seed_gives_identical_scores():
    weights = _block_network(np.random.default_rng(5), noise=0.3)
    first = modularity.measure_modularity(weights, n_clusters=(2, 3), n_shuffles=8, n_louvain_shuffles=3, seed=7)
    second = modularity.measure_modularity(weights, n_clusters=(2, 3), n_shuffles=8, n_louvain_shuffles=3, seed=7)
    assert first.as_dict() == second.as_dict()


def test_weights_from_module_reads_linear_layers_in_order():
    module = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3), nn.Tanh(), nn.Linear(3, 1))
    weights = modularity.weights_from_module(module)
    assert [w.shape for w in weights] == [(7, 5), (3, 7), (1, 3)]
    assert modularity.layer_sizes(weights) == [5, 7, 3, 1]
    np.testing.assert_array_equal(weights[1], module[2].weight.detach().numpy())


def test_bad_inputs_raise_and_name_the_argument():
    weights = _block_network(np.random.default_rng(6))
    with pytest.raises(ValueError, match=r"weights=\[\]"):
        modularity.measure_modularity([], seed=0)
    with pytest.raises(ValueError, match="all zero"):
        modularity.measure_modularity([np.zeros((3, 2)), np.zeros((1, 3))], seed=0)
    with pytest.raises(ValueError, match="k=1"):
        modularity.measure_modularity(weights, n_clusters=(1,), seed=0)
    with pytest.raises(ValueError, match="k=99"):
        modularity.measure_modularity(weights, n_clusters=(99,), seed=0)
    with pytest.raises(ValueError, match="n_shuffles=0"):
        modularity.measure_modularity(weights, n_shuffles=0, seed=0)
    with pytest.raises(ValueError, match="shuffle='rows'"):
        modularity.shuffle_weights(weights, shuffle="rows", seed=0)
    with pytest.raises(ValueError, match="fan_in"):
        modularity.weights_to_adjacency([np.ones((3, 2)), np.ones((1, 4))])
    with pytest.raises(ValueError, match="n_clusters=1"):
        modularity.spectral_partition(modularity.weights_to_adjacency(weights), 1, seed=0)
    with pytest.raises(ValueError, match="no nn.Linear"):
        modularity.weights_from_module(nn.ReLU())
