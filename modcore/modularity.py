"""Graph modularity of a layered network's weights, judged against a weight-shuffle null.

A network with weight matrices W_1..W_L (W_l of shape (fan_out, fan_in), as ``nn.Linear.weight``)
becomes an undirected weighted graph: one node per unit of every layer, inputs and outputs
included; the edge between unit i of layer l-1 and unit j of layer l has weight |W_l[j, i]|;
biases are ignored (as in Filan et al. 2021). Nodes whose degree is
below ``ISOLATED_REL_TOL`` x the median degree are removed before clustering, from the real
graph and from every shuffle alike (see ``ISOLATED_REL_TOL``).

Two scores of the graph:

    n-cut(X_1..X_k) = sum_i cut(X_i, V \\ X_i) / vol(X_i)          (Shi & Malik 2000)
        cut = weight of edges leaving X_i, vol = sum of degrees in X_i; in [0, k], lower = more
        clusterable. The partition is spectral clustering of the graph into k clusters.
    Q(c) = (1 / 2m) sum_ij [A_ij - d_i d_j / 2m] delta(c_i, c_j)  (Newman 2006, resolution 1)
        2m = sum of all degrees; higher = more modular. Reported for the spectral partition and
        maximised over partitions by Louvain (Q_max).

Neither raw score means much alone: both move with sparsity and the weight distribution. Each
is compared with N graphs drawn from a null model (``shuffle``):

    "all"      every entry of each layer permuted, zeros included (Filan et al.'s ``layer``);
    "nonzero"  only the non-zero weights permuted, each layer's zero pattern kept (their
               ``layer_nonzero``);
    "degree"   each layer's connections rewired by degree-preserving edge swaps (every unit keeps
               its number of connections into and out of the layer, as in the randomised
               networks behind Kashtan & Alon's Q_m), then its non-zero weights permuted.

For a sparse network only the last two keep the sparsity; only "degree" can tell a modular
zero *pattern* from a random one. Which weights count as zero is set by
:func:`threshold_weights` (a stated fraction of each layer's largest |w|). Reported: z = (score - mean_null) / sd_null, the ratio score / mean_null,
and the one-sided p = (r + 1) / (N + 1), r = number of shuffles at least as modular (n-cut
lower, Q higher) than the network (Filan et al. 2021, ``utils.compute_pvalue``).

This module reads weights and never trains.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp
from sklearn.cluster import spectral_clustering

# A node whose degree is below this fraction of the median degree counts as isolated. Weights
# of an always-zero input decay to ~1e-37 under weight decay and then form singleton clusters
# with cut/vol ~ 0, which reads as a perfectly modular network.
# Our choice: 1e-6, far below any weight that carries signal in float32 training.
ISOLATED_REL_TOL = 1e-6
# Filan's compute_ncut adds this to each volume so that an empty-volume cluster cannot divide by 0.
NCUT_EPSILON = 1e-8
SHUFFLES = ("all", "nonzero", "degree")
# Degree-preserving rewiring: swap attempts per connection of a layer. Our choice: 10, the
# usual Maslov-Sneppen budget, after which the pattern no longer remembers the original.
SWAPS_PER_EDGE = 10


# --- network -> graph ------------------------------------------------------------------

def _as_matrices(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Check a layered network's weights: non-empty, 2-D, consecutive shapes chain."""
    if len(weights) == 0:
        raise ValueError("weights must hold at least one weight matrix, got an empty list (weights=[])")
    matrices = [np.abs(np.asarray(w, dtype=np.float64)) for w in weights]
    for index, matrix in enumerate(matrices):
        if matrix.ndim != 2 or matrix.size == 0:
            raise ValueError(f"weights[{index}] must be a non-empty 2-D (fan_out, fan_in) matrix, "
                             f"got shape={matrix.shape}")
        if not np.all(np.isfinite(matrix)):
            raise ValueError(f"weights[{index}] holds non-finite values")
    for index in range(1, len(matrices)):
        if matrices[index].shape[1] != matrices[index - 1].shape[0]:
            raise ValueError(f"weights[{index}] has fan_in={matrices[index].shape[1]} but weights[{index - 1}] "
                             f"has fan_out={matrices[index - 1].shape[0]}; layers must chain")
    if not any(matrix.any() for matrix in matrices):
        raise ValueError("weights are all zero: the network has no connections to cluster")
    return matrices


def layer_sizes(weights: Sequence[np.ndarray]) -> list[int]:
    """Units per layer, inputs first: [fan_in of W_1, fan_out of W_1, ..., fan_out of W_L]."""
    matrices = _as_matrices(weights)
    return [matrices[0].shape[1]] + [m.shape[0] for m in matrices]


def weights_to_adjacency(weights: Sequence[np.ndarray]) -> sp.csr_array:
    """Symmetric adjacency (n_nodes, n_nodes) with blocks |W_l|^T above the diagonal.

    Node order: inputs, then each layer's outputs in turn (the order of :func:`layer_sizes`).
    Built as one sparse block matrix, not weight by weight.
    """
    matrices = _as_matrices(weights)
    n_layers = len(matrices) + 1
    blocks: list[list[sp.csr_array | None]] = [[None] * n_layers for _ in range(n_layers)]
    for layer, matrix in enumerate(matrices):
        blocks[layer][layer + 1] = sp.csr_array(matrix.T)  # (fan_in, fan_out): row = lower layer
        blocks[layer + 1][layer] = sp.csr_array(matrix)
    sizes = [matrices[0].shape[1]] + [m.shape[0] for m in matrices]
    for layer, size in enumerate(sizes):  # diagonal blocks fix each block row's height
        blocks[layer][layer] = sp.csr_array((size, size))
    adjacency = sp.block_array(blocks, format="csr")
    adjacency.eliminate_zeros()
    return adjacency


def weights_from_module(module) -> list[np.ndarray]:
    """The ``weight`` of every ``torch.nn.Linear`` in ``module``, in registration order.

    For a plain MLP (``nn.Sequential`` of Linear layers and activations) this is the list
    :func:`weights_to_adjacency` expects. Stacked ensembles: pass one model's matrices instead.
    """
    from torch import nn  # imported here: the graph measures themselves need no torch

    weights = [layer.weight.detach().cpu().numpy().copy() for layer in module.modules() if isinstance(layer, nn.Linear)]
    if not weights:
        raise ValueError(f"module {type(module).__name__} has no nn.Linear layers, so no weights to measure")
    return weights


def remove_isolated(adjacency: sp.csr_array, *, rel_tol: float = ISOLATED_REL_TOL) -> tuple[sp.csr_array, np.ndarray]:
    """Drop nodes with degree <= rel_tol x median degree; returns (sub-adjacency, kept node indices)."""
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    positive = degree[degree > 0]
    if positive.size == 0:
        raise ValueError("the graph has no edges: every node is isolated")
    kept = np.flatnonzero(degree > rel_tol * np.median(positive))
    return adjacency[kept][:, kept].tocsr(), kept


# --- scores of one partition -----------------------------------------------------------

def ncut(adjacency: sp.csr_array | np.ndarray, labels: np.ndarray, *, epsilon: float = NCUT_EPSILON) -> float:
    """Normalised cut sum_i cut(X_i, rest) / (vol(X_i) + epsilon) of the partition ``labels``."""
    adjacency = sp.csr_array(adjacency)
    labels = _check_labels(adjacency, labels)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    n_clusters = labels.max() + 1
    volume = np.bincount(labels, weights=degree, minlength=n_clusters)
    coo = adjacency.tocoo()
    inside = labels[coo.row] == labels[coo.col]
    internal = np.bincount(labels[coo.row[inside]], weights=coo.data[inside], minlength=n_clusters)
    cut = volume - internal  # edges leaving the cluster = its degree minus its internal stubs
    return float(np.sum(cut / (volume + epsilon)))


def modularity_q(adjacency: sp.csr_array | np.ndarray, labels: np.ndarray) -> float:
    """Newman's weighted Q of the partition ``labels`` at resolution 1.

    Q = sum_c [ L_c / 2m - (vol_c / 2m)^2 ],  L_c = sum_{i, j in c} A_ij, vol_c = sum_{i in c} d_i;
    equal to ``networkx.community.modularity(G, communities, weight='weight')`` (tested).
    """
    adjacency = sp.csr_array(adjacency)
    labels = _check_labels(adjacency, labels)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    two_m = degree.sum()
    n_clusters = labels.max() + 1
    volume = np.bincount(labels, weights=degree, minlength=n_clusters)
    coo = adjacency.tocoo()
    inside = labels[coo.row] == labels[coo.col]
    internal = np.bincount(labels[coo.row[inside]], weights=coo.data[inside], minlength=n_clusters)
    return float(np.sum(internal / two_m - (volume / two_m) ** 2))


def _check_labels(adjacency: sp.csr_array, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (adjacency.shape[0],):
        raise ValueError(f"labels must have one entry per node ({adjacency.shape[0]}), got shape={labels.shape}")
    _, labels = np.unique(labels, return_inverse=True)  # relabel 0..k-1
    return labels


# --- partitions ------------------------------------------------------------------------

def spectral_partition(adjacency: sp.csr_array, n_clusters: int, *, seed: int) -> np.ndarray:
    """Spectral clustering (normalised-Laplacian embedding, ``assign_labels='discretize'``).

    'discretize', not k-means with restarts: equal or lower n-cut at ~60x less time on our
    graphs (``benchmarks/modularity.py`` measures it).
    """
    n_nodes = adjacency.shape[0]
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 2 or n_clusters > n_nodes:
        raise ValueError(f"n_clusters must be an integer in [2, number of nodes = {n_nodes}], got {n_clusters=}")
    with warnings.catch_warnings():
        # A pruned or masked network's graph may be disconnected; the embedding still
        # separates its components, which is what the n-cut should see.
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        return spectral_clustering(adjacency, n_clusters=int(n_clusters), assign_labels="discretize",
                                   random_state=seed)


def louvain_partition(adjacency: sp.csr_array, *, seed: int) -> np.ndarray:
    """Louvain communities (networkx, ``weight='weight'``, resolution 1) as node labels."""
    graph = nx.from_scipy_sparse_array(adjacency)
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    labels = np.empty(adjacency.shape[0], dtype=int)
    for label, members in enumerate(communities):
        labels[list(members)] = label
    return labels


# --- null model ------------------------------------------------------------------------

def threshold_weights(weights: Sequence[np.ndarray], fraction: float) -> list[np.ndarray]:
    """The network with every weight below ``fraction`` x its layer's largest |w| set to zero.

    This defines the graph of a network trained with L1 or a connection cost, whose small
    weights shrink towards zero but never reach it: with ``fraction=0`` nothing changes.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction=}")
    out = []
    for matrix in weights:
        matrix = np.array(matrix, dtype=np.float64, copy=True)
        largest = np.abs(matrix).max() if matrix.size else 0.0
        matrix[np.abs(matrix) < fraction * largest] = 0.0
        out.append(matrix)
    return out


def _rewire_keeping_degrees(present: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Degree-preserving swaps of a bipartite (fan_out, fan_in) pattern: edges (r1, c1), (r2, c2)
    become (r1, c2), (r2, c1) when neither exists yet, so every row and column keeps its count.

    Swaps are proposed in rounds: the edges are paired at random, and every proposal whose two
    new edges are absent (and proposed by no other pair of the round) is applied at once.
    SWAPS_PER_EDGE x 2 rounds propose SWAPS_PER_EDGE swaps per edge.
    """
    n_rows, n_cols = present.shape
    rows, cols = np.nonzero(present)
    n_edges = rows.size
    if n_edges < 2 or n_edges == present.size:
        return present.copy()  # nothing to rewire: empty, a single edge, or a dense layer
    occupied = present.reshape(-1).copy()
    for _ in range(2 * SWAPS_PER_EDGE):
        order = rng.permutation(n_edges)
        a, b = order[0:n_edges - 1:2], order[1:n_edges:2]
        new_a, new_b = rows[a] * n_cols + cols[b], rows[b] * n_cols + cols[a]
        ok = (rows[a] != rows[b]) & (cols[a] != cols[b]) & ~occupied[new_a] & ~occupied[new_b]
        proposed = np.concatenate([new_a[ok], new_b[ok]])
        unique, counts = np.unique(proposed, return_counts=True)
        clash = set(unique[counts > 1].tolist())
        if clash:
            ok[ok] = ~(np.isin(new_a[ok], list(clash)) | np.isin(new_b[ok], list(clash)))
        a, b = a[ok], b[ok]
        occupied[rows[a] * n_cols + cols[a]] = False
        occupied[rows[b] * n_cols + cols[b]] = False
        occupied[rows[a] * n_cols + cols[b]] = True
        occupied[rows[b] * n_cols + cols[a]] = True
        cols[a], cols[b] = cols[b], cols[a].copy()
    return occupied.reshape(n_rows, n_cols)


def shuffle_weights(weights: Sequence[np.ndarray], *, shuffle: str = "all", seed: int | np.random.Generator
                    ) -> list[np.ndarray]:
    """The network with each layer's weights permuted among themselves (the null models above).

    ``"all"`` permutes every entry of each matrix (zeros too, so a sparsity pattern is
    randomised); ``"nonzero"`` permutes only the non-zero entries and keeps the zero pattern;
    ``"degree"`` rewires the non-zero pattern keeping every unit's number of connections, then
    permutes the non-zero weights over the new pattern. Each layer always keeps its multiset of
    weights.
    """
    if shuffle not in SHUFFLES:
        raise ValueError(f"unknown shuffle={shuffle!r}; choose one of {SHUFFLES}")
    rng = np.random.default_rng(seed)
    shuffled = []
    for matrix in weights:
        matrix = np.array(matrix, copy=True)
        if shuffle == "all":
            shuffled.append(rng.permutation(matrix.reshape(-1)).reshape(matrix.shape))
            continue
        present = matrix != 0
        values = rng.permutation(matrix[present])
        if shuffle == "degree":
            present = _rewire_keeping_degrees(present, rng)
        out = np.zeros_like(matrix)
        out[present] = values
        shuffled.append(out)
    return shuffled


@dataclasses.dataclass(frozen=True)
class NullComparison:
    """One score of the network beside its distribution over the shuffles."""

    score: float
    null_mean: float
    null_sd: float
    z: float        # (score - null_mean) / null_sd; nan if the null has no spread
    ratio: float    # score / null_mean
    p_value: float  # (r + 1) / (N + 1), r = shuffles at least as modular as the network
    n_shuffles: int

    @classmethod
    def of(cls, score: float, null: Sequence[float], *, lower_is_modular: bool) -> NullComparison:
        null = np.asarray(null, dtype=float)
        mean, sd = float(null.mean()), float(null.std(ddof=1)) if null.size > 1 else math.nan
        z = (score - mean) / sd if sd > 0 else math.nan
        at_least_as_modular = null <= score if lower_is_modular else null >= score
        return cls(score=float(score), null_mean=mean, null_sd=sd, z=float(z),
                   ratio=float(score / mean) if mean != 0 else math.nan,
                   p_value=float((at_least_as_modular.sum() + 1) / (null.size + 1)), n_shuffles=int(null.size))

    def as_dict(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}_{field.name}": getattr(self, field.name) for field in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class ModularityReport:
    """n-cut per k and Q (spectral partition at the first k; Louvain Q_max), each vs the null.

    ``labels`` holds the network's spectral partition per k over all nodes (-1 for the nodes
    removed as isolated); ``kept`` the indices of the nodes that were clustered.
    """

    ncut: dict[int, NullComparison]
    q_spectral: NullComparison
    q_louvain: NullComparison | None
    labels: dict[int, np.ndarray]
    kept: np.ndarray
    n_nodes: int
    shuffle: str

    def as_dict(self) -> dict[str, float]:
        """Flat JSON-ready scores: ``ncut_k{k}_{z,...}``, ``q_spectral_*``, ``q_louvain_*``."""
        out: dict[str, float] = {"n_nodes_kept": int(self.kept.size), "n_nodes": self.n_nodes}
        for k, comparison in self.ncut.items():
            out |= comparison.as_dict(f"ncut_k{k}")
        out |= self.q_spectral.as_dict("q_spectral")
        if self.q_louvain is not None:
            out |= self.q_louvain.as_dict("q_louvain")
        return out


def _clustered(weights: Sequence[np.ndarray], rel_tol: float) -> tuple[sp.csr_array, np.ndarray]:
    return remove_isolated(weights_to_adjacency(weights), rel_tol=rel_tol)


def measure_modularity(weights: Sequence[np.ndarray], *, n_clusters: Sequence[int] = (4,), n_shuffles: int = 50,
                       n_louvain_shuffles: int = 10, shuffle: str = "all", seed: int,
                       rel_tol: float = ISOLATED_REL_TOL) -> ModularityReport:
    """n-cut for each k in ``n_clusters`` and Q, for the network and ``n_shuffles`` shuffles of it.

    Louvain is the slow part (``benchmarks/modularity.py``), so its null uses only the first
    ``n_louvain_shuffles`` shuffles (0: no Louvain at all). The Q of the spectral partition
    (at the first k) reuses the n-cut shuffles' partitions and costs nothing extra.
    Every clustering is seeded with ``seed``; shuffle i draws from ``(seed, i)``.
    """
    n_clusters = tuple(n_clusters)
    if not n_clusters:
        raise ValueError("n_clusters must list at least one number of clusters, got n_clusters=()")
    if not isinstance(n_shuffles, (int, np.integer)) or n_shuffles < 1:
        raise ValueError(f"n_shuffles must be a positive integer, got {n_shuffles=}")
    if not isinstance(n_louvain_shuffles, (int, np.integer)) or not 0 <= n_louvain_shuffles <= n_shuffles:
        raise ValueError(f"n_louvain_shuffles must be an integer in [0, n_shuffles={n_shuffles}], "
                         f"got {n_louvain_shuffles=}")
    if shuffle not in SHUFFLES:
        raise ValueError(f"unknown shuffle={shuffle!r}; choose one of {SHUFFLES}")
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    adjacency, kept = _clustered(weights, rel_tol)
    n_nodes = sum(layer_sizes(weights))
    for k in n_clusters:  # fail before any work if a k cannot be clustered
        if not isinstance(k, (int, np.integer)) or k < 2 or k > kept.size:
            raise ValueError(f"each n_clusters must be an integer in [2, number of kept nodes = {kept.size}], got {k=}")

    def scores(adj: sp.csr_array, with_louvain: bool) -> tuple[dict[int, float], float, float, dict[int, np.ndarray]]:
        labels = {k: spectral_partition(adj, k, seed=seed) if k <= adj.shape[0] else None for k in n_clusters}
        ncuts = {k: ncut(adj, lab) if lab is not None else math.nan for k, lab in labels.items()}
        first = labels[n_clusters[0]]
        q_spec = modularity_q(adj, first) if first is not None else math.nan
        q_louv = modularity_q(adj, louvain_partition(adj, seed=seed)) if with_louvain else math.nan
        return ncuts, q_spec, q_louv, labels

    real_ncut, real_q_spec, real_q_louv, real_labels = scores(adjacency, n_louvain_shuffles > 0)
    null_ncut: dict[int, list[float]] = {k: [] for k in n_clusters}
    null_q_spec, null_q_louv = [], []
    for index in range(n_shuffles):
        shuffled = shuffle_weights(weights, shuffle=shuffle, seed=np.random.default_rng([seed, index]))
        ncuts, q_spec, q_louv, _ = scores(_clustered(shuffled, rel_tol)[0], index < n_louvain_shuffles)
        for k in n_clusters:
            null_ncut[k].append(ncuts[k])
        null_q_spec.append(q_spec)
        if index < n_louvain_shuffles:
            null_q_louv.append(q_louv)

    labels_full = {}
    for k, lab in real_labels.items():
        full = np.full(n_nodes, -1, dtype=int)
        full[kept] = lab
        labels_full[k] = full
    return ModularityReport(
        ncut={k: NullComparison.of(real_ncut[k], null_ncut[k], lower_is_modular=True) for k in n_clusters},
        q_spectral=NullComparison.of(real_q_spec, null_q_spec, lower_is_modular=False),
        q_louvain=(NullComparison.of(real_q_louv, null_q_louv, lower_is_modular=False)
                   if n_louvain_shuffles > 0 else None),
        labels=labels_full, kept=kept, n_nodes=n_nodes, shuffle=shuffle)
