"""Cost of one modularity measurement with its shuffle null, against network size, and the
speed-up from modcore's choices (sparse block adjacency; 'discretize' label assignment).

Baseline ("naive"): the graph built weight by weight (networkx ``add_edge``, as toumei does)
and spectral clustering with k-means label assignment (n_init = 10, scikit-learn's default;
Filan et al. use 25). Candidate: ``modcore.modularity`` (one scipy.sparse block matrix,
``assign_labels='discretize'``). Both run side by side on the same random networks, the same
shuffles and the same k; the n-cut each finds is printed too, so speed is not bought with a
worse partition. A third part compares the null models' cost: the degree-preserving null
(rewiring plus permutation) against the plain within-layer shuffle, on networks thresholded to a
given sparsity. Run: ``python benchmarks/modularity.py`` (about 1-2 minutes on 2 cores), or
``python benchmarks/modularity.py nulls`` for the third part alone.
"""

from __future__ import annotations

import sys
import time

import networkx as nx
import numpy as np
import torch
from sklearn.cluster import spectral_clustering

from modcore import modularity

SIZES = {  # name: layer sizes, inputs first
    "retina 8-16-8-4-1": [8, 16, 8, 4, 1],
    "digits 122-64-64-10": [122, 64, 64, 10],
    "wide 256-128-128-10": [256, 128, 128, 10],
    "mnist 784-256-256-10": [784, 256, 256, 10],
}
N_CLUSTERS = 4
N_SIDE_BY_SIDE = 5   # shuffles in the baseline-vs-candidate comparison (the baseline is slow)
N_SHUFFLES = 50      # shuffles of the candidate's full measurement (Filan et al.'s published count)
N_LOUVAIN = 10


def random_network(sizes, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(fan_out, fan_in)) / np.sqrt(fan_in) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]


def adjacency_by_loop(weights):
    """One networkx edge per weight, then a sparse matrix: the per-weight baseline."""
    graph = nx.Graph()
    sizes = modularity.layer_sizes(weights)
    offsets = np.cumsum([0] + sizes)
    graph.add_nodes_from(range(offsets[-1]))
    for layer, matrix in enumerate(weights):
        for j in range(matrix.shape[0]):
            for i in range(matrix.shape[1]):
                if matrix[j, i] != 0:
                    graph.add_edge(int(offsets[layer] + i), int(offsets[layer + 1] + j),
                                   weight=abs(float(matrix[j, i])))
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(offsets[-1]), weight="weight", format="csr")
    # scikit-learn's spectral embedding accepts only 32-bit sparse indices
    adjacency.indices, adjacency.indptr = adjacency.indices.astype(np.int32), adjacency.indptr.astype(np.int32)
    return adjacency


def ncuts_of_null(weights, n_shuffles, build, assign):
    """n-cut of the network and of its shuffles, with one graph builder and label assignment."""
    values = []
    for index in range(n_shuffles + 1):
        w = weights if index == 0 else modularity.shuffle_weights(weights, seed=np.random.default_rng([0, index]))
        adjacency, _ = modularity.remove_isolated(build(w))
        if assign == "discretize":
            labels = modularity.spectral_partition(adjacency, N_CLUSTERS, seed=0)
        else:
            labels = spectral_clustering(adjacency, n_clusters=N_CLUSTERS, assign_labels="kmeans", n_init=10,
                                         random_state=0)
        values.append(modularity.ncut(adjacency, labels))
    return np.array(values)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def compare_nulls():
    """Part 3: one n-cut measurement against each null model, side by side."""
    print(f"\n3) null models: n-cut at k = {N_CLUSTERS} vs {N_SHUFFLES} null graphs, networks at 50% sparsity")
    print(f"{'network':22s} {'all':>8s} {'nonzero':>8s} {'degree':>8s} {'degree / all':>13s}")
    for name, sizes in SIZES.items():
        weights = random_network(sizes, seed=1)
        rng = np.random.default_rng(2)
        weights = [w * (rng.random(w.shape) < 0.5) for w in weights]
        times = {}
        for shuffle in modularity.SHUFFLES:
            times[shuffle], _ = timed(modularity.measure_modularity, weights, n_clusters=(N_CLUSTERS,),
                                      n_shuffles=N_SHUFFLES, n_louvain_shuffles=0, shuffle=shuffle, seed=0)
        print(f"{name:22s} {times['all']:7.2f}s {times['nonzero']:7.2f}s {times['degree']:7.2f}s "
              f"{times['degree'] / times['all']:12.2f}x")


def main():
    torch.set_num_threads(2)
    if sys.argv[1:] == ["nulls"]:
        compare_nulls()
        return
    print(f"modularity measurement: k = {N_CLUSTERS}, threads = 2; times are wall-clock seconds")
    print("\n1) baseline vs candidate, the network plus "
          f"{N_SIDE_BY_SIDE} shuffles (n-cut only), side by side")
    print(f"{'network':22s} {'nodes':>6s} {'edges':>7s} {'naive':>8s} {'modcore':>8s} {'speed-up':>9s}"
          f" {'adj. loop/sparse':>17s} {'mean n-cut naive / modcore':>28s}")
    for name, sizes in SIZES.items():
        weights = random_network(sizes, seed=1)
        n_edges = sum(w.size for w in weights)
        t_naive, naive = timed(ncuts_of_null, weights, N_SIDE_BY_SIDE, adjacency_by_loop, "kmeans")
        t_fast, fast = timed(ncuts_of_null, weights, N_SIDE_BY_SIDE, modularity.weights_to_adjacency, "discretize")
        t_loop, _ = timed(adjacency_by_loop, weights)
        t_sparse, _ = timed(modularity.weights_to_adjacency, weights)
        print(f"{name:22s} {sum(sizes):6d} {n_edges:7d} {t_naive:8.2f} {t_fast:8.2f} {t_naive / t_fast:8.1f}x"
              f" {t_loop / t_sparse:16.1f}x {naive.mean():13.3f} / {fast.mean():.3f}")

    print(f"\n2) modcore's full measurement: n-cut at k = {N_CLUSTERS} vs {N_SHUFFLES} shuffles, Louvain Q_max vs "
          f"{N_LOUVAIN} of them")
    print(f"{'network':22s} {'n-cut null':>11s} {'+ Louvain':>10s} {'Louvain share':>14s}")
    for name, sizes in SIZES.items():
        weights = random_network(sizes, seed=1)
        t_ncut, _ = timed(modularity.measure_modularity, weights, n_clusters=(N_CLUSTERS,), n_shuffles=N_SHUFFLES,
                          n_louvain_shuffles=0, seed=0)
        t_all, _ = timed(modularity.measure_modularity, weights, n_clusters=(N_CLUSTERS,), n_shuffles=N_SHUFFLES,
                         n_louvain_shuffles=N_LOUVAIN, seed=0)
        print(f"{name:22s} {t_ncut:10.2f}s {t_all:9.2f}s {1 - t_ncut / t_all:13.0%}")
    compare_nulls()


if __name__ == "__main__":
    main()
