"""The classifier trainer beside :mod:`modcore.train`: one masked classifier
(:class:`modcore.models_masked.Classifier`) trained with Adam(W) on labels that may change during
training (a goal schedule), with a weight penalty and magnitude pruning, then scored, read out and
fine-tuned on a new goal.

:mod:`modcore.train` trains ensembles of stacked networks on one target; this module trains one
network whose layers carry masks, which those ensembles do not have. The two share device
resolution, thread control and seeding (:func:`modcore.runtime.resolve_device`,
:func:`modcore.runtime.single_threaded`, :func:`modcore.runtime.seeded`).

A goal's labels are scored as one of ``LOSS_KINDS``: one binary logit, ten classes, or two
ten-way heads (a pair of digits, right only if both are).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Hashable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modcore.models_masked import (PRUNE_END, PRUNE_EVERY, Classifier, node_distances, prune_by_magnitude_,
                                   prune_sparsity)

LOSS_KINDS = ("binary", "classes", "two_heads")
# Penalties on the weights (never the biases, which are no edges of the network's graph):
# strength * sum |w|, strength * sum w^2, strength * sqrt(sum w^2) over every weight, and
# strength * sum |w_ij| d_ij^2 (wiring length, :func:`modcore.models_masked.node_distances`).
PENALTIES = ("none", "l1", "l2", "l2_norm", "connection_cost")
# Fine-tuning checks its training accuracy every this many steps, on at most this many inputs
# (all of the digit pairs' 10k would cost more than the steps).
FINETUNE_EVAL_EVERY = 10
FINETUNE_EVAL_PAIRS = 1000


@dataclasses.dataclass(frozen=True)
class ClassifierTraining:
    """How one classifier is trained (its own settings; :class:`modcore.train.TrainSettings` is the
    ensembles')."""

    n_steps: int
    lr: float
    batch_size: int              # 0 = full batch
    penalty: str = "none"        # one of PENALTIES
    penalty_strength: float = 0.0
    weight_decay: float = 0.0    # AdamW's decoupled decay, on the weights only
    prune_sparsity: float = 0.0  # final magnitude-pruning sparsity on the schedule of modcore.models_masked; 0: none

    def __post_init__(self):
        if self.penalty not in PENALTIES:
            raise ValueError(f"unknown penalty={self.penalty!r}; choose one of {PENALTIES}")
        if not isinstance(self.n_steps, int) or self.n_steps < 0:
            raise ValueError(f"n_steps must be an integer >= 0, got n_steps={self.n_steps!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 0:
            raise ValueError(f"batch_size must be an integer >= 0 (0: full batch), got batch_size={self.batch_size!r}")
        for name in ("lr", "penalty_strength", "weight_decay"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {name}={value!r}")
        if not 0 <= self.prune_sparsity < 1:
            raise ValueError(f"prune_sparsity must be in [0, 1), got prune_sparsity={self.prune_sparsity!r}")


def loss(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), targets.float())
    if kind == "two_heads":  # two 10-way heads, one per digit
        return F.cross_entropy(logits[:, :10], targets[:, 0]) + F.cross_entropy(logits[:, 10:], targets[:, 1])
    return F.cross_entropy(logits, targets)


def correct(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "binary":
        return (logits.squeeze(-1) > 0).long() == targets
    if kind == "two_heads":  # a pair counts as right only if both digits are
        return (logits[:, :10].argmax(-1) == targets[:, 0]) & (logits[:, 10:].argmax(-1) == targets[:, 1])
    return logits.argmax(-1) == targets


def penalty_term(settings: ClassifierTraining, weights: Sequence[torch.Tensor],
                 distances: Sequence[torch.Tensor]) -> torch.Tensor | float:
    strength = settings.penalty_strength
    if settings.penalty == "l1":
        return strength * sum(w.abs().sum() for w in weights)
    if settings.penalty == "l2":
        return strength * sum(w.pow(2).sum() for w in weights)
    if settings.penalty == "l2_norm":  # one norm over every weight of the network
        return strength * torch.sqrt(sum(w.pow(2).sum() for w in weights))
    if settings.penalty == "connection_cost":
        return strength * sum((w.abs() * d).sum() for w, d in zip(weights, distances))
    return 0.0


def minibatches(n: int, batch_size: int, generator: torch.Generator, device) -> Iterable[torch.Tensor]:
    """Endless minibatch indices: a fresh permutation per epoch (full batch when batch_size is 0)."""
    batch = n if batch_size == 0 else min(batch_size, n)
    if batch == n:  # full batch: every step sees every input, in any order
        everything = torch.arange(n, device=device)
        while True:
            yield everything
    while True:
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n - batch + 1, batch):
            yield order[start:start + batch]


def train(model: Classifier, x: torch.Tensor, settings: ClassifierTraining, *,
          labels_of: Callable[[Hashable], tuple[torch.Tensor, str]], goal_at: Callable[[int], Hashable],
          generator: torch.Generator) -> None:
    """Train in place for ``settings.n_steps`` steps. At each step the goal is ``goal_at(step)``;
    ``labels_of(goal)`` gives the labels of every input in ``x`` (on its device) and their loss
    kind, asked once per goal. Masked weights are zeroed after every step."""
    weight_params = [layer.weight for layer in model.layers]
    bias_params = [layer.bias for layer in model.layers]
    optimiser = torch.optim.AdamW([{"params": weight_params, "weight_decay": settings.weight_decay},
                                   {"params": bias_params, "weight_decay": 0.0}], lr=settings.lr, fused=True)
    sizes = [model.layers[0].in_features] + [layer.out_features for layer in model.layers]
    distances = [d.to(x.device) for d in node_distances(sizes)]
    labels: dict = {}  # goal -> (labels of every training input, kind), computed once per goal
    batches = minibatches(x.shape[0], settings.batch_size, generator, x.device)
    prune = settings.prune_sparsity > 0
    model.train()
    for step in range(settings.n_steps):
        rows = next(batches)
        goal = goal_at(step)
        if goal not in labels:
            labels[goal] = labels_of(goal)
        targets, kind = labels[goal]
        value = loss(model(x[rows]), targets[rows], kind)
        value = value + penalty_term(settings, weight_params, distances)
        optimiser.zero_grad(set_to_none=True)
        value.backward()
        optimiser.step()
        if prune and step % PRUNE_EVERY == 0 and step <= PRUNE_END * settings.n_steps:
            prune_by_magnitude_(model, prune_sparsity(step, settings.n_steps, settings.prune_sparsity))
        for layer in model.layers:
            layer.apply_mask_()
    if prune and settings.n_steps > 0:  # the schedule ends exactly at the final sparsity
        prune_by_magnitude_(model, prune_sparsity(settings.n_steps, settings.n_steps, settings.prune_sparsity))
    model.eval()


@torch.no_grad()
def evaluate(model: Classifier, x: np.ndarray, y: np.ndarray, kind: str) -> tuple[float, float]:
    """(accuracy, mean loss) in eval mode: dropout off, so train accuracy is not biased down."""
    model.eval()
    device = model.layers[0].weight.device
    logits = model(torch.as_tensor(x, device=device))
    targets = torch.as_tensor(y, device=device)
    return float(correct(logits, targets, kind).float().mean()), float(loss(logits, targets, kind))


def chance_loss(y: np.ndarray, kind: str) -> float:
    """Loss of the constant prediction of the training label frequencies: the scale against
    which a run's final loss counts as diverged."""
    y = np.asarray(y)
    if kind == "binary":
        rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        return -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
    columns = [y] if kind == "classes" else [y[:, 0], y[:, 1]]
    total = 0.0
    for column in columns:
        frequency = np.bincount(column) / len(column)
        frequency = frequency[frequency > 0]  # classes never seen add nothing
        total += float(-(frequency * np.log(frequency)).sum())
    return total


# --- a new goal -------------------------------------------------------------------------------

@torch.no_grad()
def hidden_features(model: Classifier, x: np.ndarray) -> np.ndarray:
    """Activations of every hidden unit (eval mode), layers side by side: what a new readout sees.

    All hidden layers, not the last alone: the retina network's last hidden layer has 4 tanh
    units that saturate on G1, and a readout of them alone scored the majority-class rate of G2
    for every arm, so it could not tell any two networks apart.
    """
    model.eval()
    h = torch.as_tensor(x, device=model.layers[0].weight.device)
    features = []
    for layer in model.layers[:-1]:
        h = model.activation(layer(h))
        features.append(h)
    return torch.cat(features, dim=1).cpu().numpy().astype(np.float64)


def readout_accuracy(model: Classifier, x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray,
                     y_test: np.ndarray) -> float:
    """Test accuracy of a logistic-regression readout fitted, on the standardised frozen
    activations of all hidden units, to (``x_fit``, ``y_fit``)."""
    features_fit = hidden_features(model, x_fit)
    features_test = hidden_features(model, x_test)
    if np.unique(y_fit).size < 2:  # one class seen: the readout can only predict it
        return float(np.mean(y_test == y_fit[0]))
    readout = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    readout.fit(features_fit, y_fit)
    return float(readout.score(features_test, y_test))


def finetune_steps(model: Classifier, x: np.ndarray, y: np.ndarray, kind: str, *, lr: float, batch_size: int,
                   n_steps: int, criterion: float, generator: torch.Generator) -> tuple[int, bool]:
    """(steps, reached): full fine-tuning of a copy on (``x``, ``y``) (Adam, no regulariser,
    dropout off, masks kept) until its training accuracy, checked every FINETUNE_EVAL_EVERY
    steps, reaches ``criterion``. Not reached within ``n_steps``: (n_steps + FINETUNE_EVAL_EVERY,
    False), a censored count."""
    model = copy.deepcopy(model)
    model.eval()  # dropout off for the new goal: the question is how far the learnt weights are
    device = model.layers[0].weight.device
    x = torch.as_tensor(x, device=device)
    y = torch.as_tensor(y, device=device)
    check = slice(0, min(len(x), FINETUNE_EVAL_PAIRS))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    batches = minibatches(x.shape[0], batch_size, generator, device)
    for step in range(n_steps + 1):
        if step % FINETUNE_EVAL_EVERY == 0:
            with torch.no_grad():
                accuracy = correct(model(x[check]), y[check], kind).float().mean().item()
            if accuracy >= criterion:
                return step, True
        if step == n_steps:
            break
        rows = next(batches)
        value = loss(model(x[rows]), y[rows], kind)
        optimiser.zero_grad(set_to_none=True)
        value.backward()
        optimiser.step()
        for layer in model.layers:
            layer.apply_mask_()
    return n_steps + FINETUNE_EVAL_EVERY, False
