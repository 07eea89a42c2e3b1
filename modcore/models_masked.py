"""Masked multilayer classifiers: fixed 0/1 wiring masks, block and random-block wiring of equal
parameter count, Filan et al.'s clusterable initialisation, wiring lengths for a connection cost,
and magnitude pruning on a schedule.

A network here is an MLP whose linear layers carry a 0/1 mask; a masked weight stays zero through
training. :mod:`modcore.modularity` reads its effective weights (:meth:`Classifier.weight_matrices`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Filan et al.'s clusterable init: between-module weights scaled by this factor.
CLUSTERABLE_BETWEEN_SCALE = 0.6

# Pruning schedule (our choices, after Filan et al.'s polynomial decay): the mask is recomputed
# every PRUNE_EVERY steps between PRUNE_START and PRUNE_END (fractions of training), sparsity
# s(t) = s_final * (1 - (1 - progress)^3); the rest of training fine-tunes.
PRUNE_START, PRUNE_END, PRUNE_EVERY = 0.5, 0.75, 10


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 ``mask`` (buffer, same shape).

    Masked weights are zero at init and after every optimiser step (:meth:`apply_mask_`),
    so they stay zero even where Adam's momentum would move them.
    """

    def __init__(self, fan_in: int, fan_out: int, mask: torch.Tensor | None = None):
        super().__init__(fan_in, fan_out)
        self.register_buffer("mask", torch.ones(fan_out, fan_in) if mask is None else mask.float().clone())
        if self.mask.shape != self.weight.shape:
            raise ValueError(f"mask shape {tuple(self.mask.shape)} does not match weight {tuple(self.weight.shape)}")
        # Init bound 1/sqrt(connected inputs), not 1/sqrt(fan_in): a block-masked unit sees
        # fewer inputs, and this keeps its pre-activation scale equal to a dense unit's.
        effective_fan_in = max(1.0, float(self.mask.sum(dim=1).max()))
        bound = 1.0 / math.sqrt(effective_fan_in)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)
        self.set_mask_(self.mask)

    @torch.no_grad()
    def set_mask_(self, mask: torch.Tensor) -> None:
        self.mask.copy_(mask)
        # An all-ones mask is skipped in the training loop: a third of a tiny net's step time.
        self.dense = bool(self.mask.all())
        self.apply_mask_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight if self.dense else self.weight * self.mask, self.bias)

    @torch.no_grad()
    def apply_mask_(self) -> None:
        if not self.dense:
            self.weight.mul_(self.mask)


class Classifier(nn.Module):
    """MLP input -> hidden... -> outputs with masked linear layers and dropout after each hidden layer."""

    def __init__(self, sizes: Sequence[int], *, activation: str = "relu", dropout: float = 0.0,
                 masks: Sequence[torch.Tensor | None] | None = None):
        super().__init__()
        if activation not in ("relu", "tanh"):
            raise ValueError(f"unknown activation={activation!r}; choose 'relu' or 'tanh'")
        masks = list(masks) if masks is not None else [None] * (len(sizes) - 1)
        self.layers = nn.ModuleList(MaskedLinear(a, b, m) for a, b, m in zip(sizes[:-1], sizes[1:], masks))
        self.activation = torch.tanh if activation == "tanh" else torch.relu
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.dropout(self.activation(layer(x)))
        return self.layers[-1](x)

    def weight_matrices(self) -> list[np.ndarray]:
        """Effective (masked) weights, (fan_out, fan_in) each: the input of :mod:`modcore.modularity`."""
        return [(layer.weight * layer.mask).detach().cpu().numpy().astype(np.float64) for layer in self.layers]

    def n_active_params(self) -> int:
        """Unmasked weights plus biases."""
        return int(sum(layer.mask.sum().item() + layer.bias.numel() for layer in self.layers))


def block_masks(sizes: Sequence[int], input_groups: Sequence[Sequence[int]]) -> list[torch.Tensor | None]:
    """Block-diagonal wiring up to the last hidden layer, where the modules meet.

    Hidden unit j of a width-h layer belongs to block floor(j * B / h). In every hidden layer
    but the last, block b sees only input group b (first layer) or block b of the layer
    below; the last hidden layer and the output are dense. Our choice (see the choices page):
    the modules must meet in a hidden layer, not in the output,
    because an output that only adds the two modules' logits cannot compute (a + b) mod 10.
    Needs at least two hidden layers.
    """
    n_hidden = len(sizes) - 2
    if n_hidden < 2:
        raise ValueError(f"a block mask needs at least two hidden layers (modules, then where they meet), "
                         f"got sizes={list(sizes)}")
    n_blocks = len(input_groups)
    block_of = [None] + [np.arange(h) * n_blocks // h for h in sizes[1:-1]]
    input_block = np.full(sizes[0], -1)
    for block, group in enumerate(input_groups):
        input_block[list(group)] = block
    masks: list[torch.Tensor | None] = []
    for layer in range(1, len(sizes)):  # layer l maps sizes[l - 1] -> sizes[l]
        if layer >= n_hidden:
            masks.append(None)
            continue
        below = input_block if layer == 1 else block_of[layer - 1]
        masks.append(torch.as_tensor(block_of[layer][:, None] == below[None, :], dtype=torch.float32))
    return masks


def _n_params(sizes: Sequence[int], masks: Sequence[torch.Tensor | None]) -> int:
    return int(sum((a * b if m is None else int(m.sum())) + b for a, b, m in zip(sizes[:-1], sizes[1:], masks)))


def block_mask_sizes(sizes: Sequence[int], input_groups: Sequence[Sequence[int]]) -> list[int]:
    """Layer sizes of the block-masked net whose parameter count is closest to the dense net's.

    Every hidden width is scaled by one factor c (rounded to a multiple of the number of
    blocks); c is scanned on a 0.001 grid in [1, 4] and the closest count wins (smaller c on
    ties). Block wiring drops about half the hidden weights, so c lands near sqrt(2).
    """
    target = _n_params(sizes, [None] * (len(sizes) - 1))
    n_blocks = len(input_groups)
    best: tuple[int, list[int]] | None = None
    for c in np.arange(1.0, 4.0, 0.001):
        hidden = [max(n_blocks, n_blocks * round(c * h / n_blocks)) for h in sizes[1:-1]]
        candidate = [sizes[0], *hidden, sizes[-1]]
        gap = abs(_n_params(candidate, block_masks(candidate, input_groups)) - target)
        if best is None or gap < best[0]:
            best = (gap, candidate)
    return best[1]


def random_partition(input_groups: Sequence[Sequence[int]], *, seed: int) -> tuple[tuple[int, ...], ...]:
    """The inputs split into groups of the sizes of ``input_groups`` at random, never into the
    task's own groups: the random-mask control has the block mask's connections, wired to
    halves that do not match the task."""
    own = {frozenset(group) for group in input_groups}
    inputs = np.sort(np.concatenate([np.asarray(group, dtype=int) for group in input_groups]))
    sizes = np.cumsum([len(group) for group in input_groups])[:-1]
    rng = np.random.default_rng([seed, 3])
    while True:
        groups = tuple(tuple(sorted(g.tolist())) for g in np.split(rng.permutation(inputs), sizes))
        if {frozenset(group) for group in groups} != own:
            return groups


@torch.no_grad()
def clusterable_init_(model: "Classifier", n_modules: int, *, seed: int) -> None:
    """Filan et al.'s clusterable initialisation, in place: every unit (inputs included) gets a
    random module label; a weight between units of one module is scaled by
    1 + (1 - c)(n_modules - 1), a weight between modules by c = CLUSTERABLE_BETWEEN_SCALE."""
    rng = np.random.default_rng([seed, 4])
    sizes = [model.layers[0].in_features] + [layer.out_features for layer in model.layers]
    labels = [rng.integers(n_modules, size=size) for size in sizes]
    within = 1 + (1 - CLUSTERABLE_BETWEEN_SCALE) * (n_modules - 1)
    for index, layer in enumerate(model.layers):
        same = labels[index + 1][:, None] == labels[index][None, :]  # (fan_out, fan_in)
        scale = np.where(same, within, CLUSTERABLE_BETWEEN_SCALE)
        layer.weight.mul_(torch.as_tensor(scale, dtype=layer.weight.dtype))


def node_distances(sizes: Sequence[int]) -> list[torch.Tensor]:
    """Squared wiring length of every possible connection, one (fan_out, fan_in) tensor per layer,
    divided by its mean over all of them (so the connection cost's strength reads like L1's).

    Layout (our generalisation of Clune et al.'s retina coordinates): layer l on the line
    y = l; its units spaced evenly over the input layer's span, x in [-(m-1)/2, (m-1)/2] for
    m inputs, one unit per input step at the input layer. Input order is the pixel order,
    so left pixels sit on the left.
    """
    span = (sizes[0] - 1) / 2
    xs = [np.linspace(-span, span, n) if n > 1 else np.zeros(1) for n in sizes]
    squared = [(xs[l + 1][:, None] - xs[l][None, :]) ** 2 + 1.0 for l in range(len(sizes) - 1)]
    mean = np.concatenate([s.ravel() for s in squared]).mean()
    return [torch.as_tensor(s / mean, dtype=torch.float32) for s in squared]


def prune_sparsity(step: int, n_steps: int, final: float) -> float:
    """Target sparsity at ``step``: 0 before PRUNE_START, cubic ramp to ``final`` at PRUNE_END."""
    start, end = PRUNE_START * n_steps, PRUNE_END * n_steps
    if step < start:
        return 0.0
    progress = min(1.0, (step - start) / max(1.0, end - start))
    return final * (1 - (1 - progress) ** 3)


@torch.no_grad()
def prune_by_magnitude_(model: Classifier, sparsity: float) -> None:
    """Per layer, zero the mask of the smallest-|w| fraction ``sparsity`` of the weights.

    The output layer is left dense: the retina's has 4 weights, and pruning it cuts the
    whole network off (our choice; Filan et al. prune every Dense layer of a 10-way output).
    """
    for layer in model.layers[:-1]:
        n_prune = int(round(sparsity * layer.weight.numel()))
        if n_prune == 0:
            continue
        magnitude = (layer.weight * layer.mask).abs().flatten()
        smallest = torch.argsort(magnitude, stable=True)[:n_prune]
        mask = layer.mask.flatten().clone()
        mask[smallest] = 0.0
        layer.set_mask_(mask.view_as(layer.mask))
