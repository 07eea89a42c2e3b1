"""The essay chapter's runs: settings, arms, networks, training, one run end to end.

The essay *Regularization Causes Modularity Causes Generalization* (dkirmani, LessWrong 2022)
claims that regularisers (dropout, pruning, L1/L2, a connection cost, modularly varying goals)
make networks modular, and that modularity makes them generalise, where generalisation means
doing well on a *related goal* the network never trained on. This module runs the experiment
behind ``notebooks/essay_modularity.py``; :mod:`modcore.experiments.essay_report` turns the runs
into tables, verdicts and figure panels.

One run (:func:`run_essay`) trains a small classifier on goal G1 of a task, then measures

* accuracy on G1 (train in eval mode, test; digit pairs also held-out class combinations);
* generalisation to the related goal G2 (retina: L-OR-R after L-AND-R; digit pairs: difference
  after sum mod 10), which the network never saw: (a) the hidden layers frozen and only a
  logistic-regression readout of all hidden units fitted on ``n_transfer`` G2-labelled
  training inputs, scored on the test inputs; (b) full fine-tuning on G2 (all training inputs, Adam, the run's learning
  rate, no regulariser, masks kept), counted in steps until G2 training accuracy reaches
  ``finetune_criterion``;
* modularity of the weights: the graph keeps the weights of at least ``prune_threshold`` x
  its layer's largest |w| (:func:`modcore.modularity.threshold_weights`); its n-cut at the
  task's k is compared with the degree-preserving null (each unit keeps its number of
  connections, :mod:`modcore.modularity`). The primary score is the ratio n-cut / null mean
  (below 1 = more modular than chance; comparable across arms, unlike z whose denominator is
  the null's spread). Beside it: the percentile, z, raw n-cut, Louvain Q against the same null,
  whether the clustering separates the two input halves, and, for comparison with Filan et
  al.'s published z-scores, z against their all-weight shuffle of the unthresholded weights.

Arms and the meaning of their ``strength``:

    init              untrained network (0 steps); strength unused (0)
    none              plain training (the control); strength unused (0)
    l1                loss + strength * sum |w|
    l2                loss + strength * sum w^2                    (the usual squared penalty)
    l2_norm           loss + strength * sqrt(sum w^2)              (the essay's L2: "square the
                      parameters first, and take the square root at the end")
    weight_decay      AdamW, decoupled weight decay = strength
    dropout           dropout rate = strength after every hidden layer
    prune             magnitude pruning to final sparsity = strength (polynomial schedule)
    connection_cost   loss + strength * sum |w_ij| * dist(i, j)^2 / mean dist^2 (Clune et al.)
    mvg               modularly varying goals (Kashtan & Alon): G1 and its alternate goal swap
                      every `strength` steps, ending on G1. The alternate is G2 itself, so
                      this arm is left out of every claim about G2.
    rmvg              random modularly varying goals: every `strength` steps a goal drawn at
                      random from the combinations of the two halves' sub-labels (never G2 or
                      an equivalent of it), ending on G1
    clusterable_init  Filan et al.'s clusterable initialisation: units get `strength` random
                      module labels, within-module weights are scaled by 1 + (1 - 0.6)(m - 1)
                      and between-module weights by 0.6; then plain training
    block_mask        hard-wired modules: `strength` blocks (= the task's input halves), equal
                      parameter count
    random_mask       the block mask's control: the same blocks over a random partition of the
                      inputs (never the task's own), so exactly as many connections

Penalties act on weights only, not biases (biases are not edges of the graph).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from modcore import modularity, sweeps
from modcore.tasks import digit_pairs, retina
from modcore.train import resolve_device

ARMS = ("init", "none", "l1", "l2", "l2_norm", "weight_decay", "dropout", "prune", "connection_cost", "mvg",
        "rmvg", "clusterable_init", "block_mask", "random_mask")
# The essay's regularisers (claim 1: they cause modularity).
REGULARISER_ARMS = ("l1", "l2", "l2_norm", "weight_decay", "dropout", "prune", "connection_cost", "mvg", "rmvg")
# Arms that set modularity directly (claim 2 by intervention), and the mask's control.
INTERVENTION_ARMS = ("block_mask", "random_mask", "clusterable_init")
# The strength sweep's seeds start this far above the chapter's first seed, so that no comparison
# run shares a seed (and so data and initialisation) with a run that chose its strength.
SWEEP_SEED_OFFSET = 10_000
# Arms whose strength is chosen by the sweep (the strongest that keeps training accuracy).
SWEPT_ARMS = ("l1", "l2", "l2_norm", "weight_decay", "dropout", "prune", "connection_cost", "mvg", "rmvg")
# Swept arms whose strength is a period: the shorter, the stronger.
PERIOD_ARMS = ("mvg", "rmvg")
# Arms that trained on the related goal G2 itself: never part of a claim about G2.
SAW_RELATED_GOAL = ("mvg",)
TASKS = ("retina", "digits")
PRIMARY_GOAL = {"retina": "and", "digits": "sum"}
# G2, the related goal never trained on: shares both sub-goals (the halves) with G1.
RELATED_GOAL = {"retina": "or", "digits": "diff"}
# MVG swaps G1 with this goal (Kashtan & Alon's AND/OR pair; sum/difference for digits).
ALTERNATE_GOAL = {"and": "or", "or": "and", "sum": "diff", "diff": "sum"}
# Goals as functions of the two halves' sub-labels (retina: truth tables; digits: (a, b) of
# (a * left + b * right) mod 10). "both" (two heads) is the digit task's trivially modular control.
GOAL_DEFINITIONS = {"and": retina.TRUTH_TABLES["and"], "or": retina.TRUTH_TABLES["or"], "sum": (1, 1), "diff": (1, 9)}
# Filan et al.'s clusterable init: between-module weights scaled by this factor.
CLUSTERABLE_BETWEEN_SCALE = 0.6

# Network sizes and training: our choices for gradient descent on the tasks of Kashtan & Alon
# (retina) and Filan et al. (digit pairs, after their halves-diff task); see the choices page.
TASK_DEFAULTS: dict[str, dict] = {
    # 8-16-8-4-1 tanh, Adam 3e-3, full batch, 128/128 split; k = 2 (the left/right split).
    "retina": dict(goal="and", hidden=(16, 8, 4), activation="tanh", n_steps=3000, lr=3e-3, batch_size=0,
                   n_train=128, n_test=128, n_heldout=0, n_clusters=2, n_transfer=32, n_finetune_steps=500,
                   finetune_criterion=0.95),
    # input-64-64-10 ReLU, Adam 1e-3, batch 128, 10k pairs; k = 4.
    "digits": dict(goal="sum", hidden=(64, 64), activation="relu", n_steps=1200, lr=1e-3, batch_size=128,
                   n_train=10_000, n_test=5_000, n_heldout=2_000, n_clusters=4, n_transfer=1000,
                   n_finetune_steps=300, finetune_criterion=0.5),
}

# Pruning schedule (our choices, after Filan et al.'s polynomial decay): the mask is recomputed
# every PRUNE_EVERY steps between PRUNE_START and PRUNE_END (fractions of training), sparsity
# s(t) = s_final * (1 - (1 - progress)^3); the rest of training fine-tunes.
PRUNE_START, PRUNE_END, PRUNE_EVERY = 0.5, 0.75, 10
# Fine-tuning on G2 checks its training accuracy every this many steps.
FINETUNE_EVAL_EVERY = 10
# Digit pairs: G2 fine-tuning accuracy is checked on this many training pairs (all of them cost more).
FINETUNE_EVAL_PAIRS = 1000


@dataclasses.dataclass(frozen=True)
class EssayRun:
    """Everything that determines one run's result (the results store's key)."""

    task: str
    arm: str
    strength: float
    seed: int
    goal: str
    hidden: tuple[int, ...]
    activation: str
    n_steps: int
    lr: float
    batch_size: int          # 0 = full batch
    n_train: int
    n_test: int
    n_heldout: int           # held-out-combination test pairs (digits only; retina: 0)
    n_clusters: int
    n_shuffles: int
    n_louvain_shuffles: int
    prune_threshold: float   # graph: weights below this fraction of their layer's largest |w| are absent
    n_transfer: int          # G2-labelled training inputs for the frozen-feature readout
    n_finetune_steps: int    # most steps of full fine-tuning on G2
    finetune_criterion: float  # G2 training accuracy that ends fine-tuning
    measure: bool = True     # False: train and score G1 only (the strength sweep needs no more)
    device: str = "cpu"

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task={self.task!r}; choose one of {TASKS}")
        if self.arm not in ARMS:
            raise ValueError(f"unknown arm={self.arm!r}; choose one of {ARMS}")
        goals = retina.GOALS if self.task == "retina" else digit_pairs.GOALS
        if self.goal not in goals:
            raise ValueError(f"unknown goal={self.goal!r} for task {self.task!r}; choose one of {goals}")
        if self.arm in ("mvg", "rmvg") and (self.goal not in ALTERNATE_GOAL or self.strength < 1
                                            or self.strength != int(self.strength)):
            raise ValueError(f"{self.arm} needs a goal with an alternate and a switching period in steps >= 1, "
                             f"got goal={self.goal!r}, strength={self.strength!r}")
        if self.arm in ("dropout", "prune") and not 0 <= self.strength < 1:
            raise ValueError(f"{self.arm} strength is a fraction in [0, 1), got strength={self.strength!r}")
        if self.arm in ("l1", "l2", "l2_norm", "weight_decay", "connection_cost") and not (
                math.isfinite(self.strength) and self.strength >= 0):
            raise ValueError(f"{self.arm} strength must be finite and >= 0, got strength={self.strength!r}")
        if self.arm == "clusterable_init" and (self.strength < 2 or self.strength != int(self.strength)):
            raise ValueError(f"clusterable_init strength is a number of modules >= 2, got strength={self.strength!r}")
        if self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda[:i]' (resolve 'auto' with "
                             f"modcore.train.resolve_device), got device={self.device!r}")
        if self.task == "retina" and self.n_test != retina.N_PATTERNS - self.n_train:
            raise ValueError(f"retina tests on the other patterns: n_test must be {retina.N_PATTERNS - self.n_train}, "
                             f"got n_test={self.n_test}")
        for name in ("n_steps", "n_train", "n_test", "n_shuffles", "n_transfer", "n_finetune_steps", "n_clusters"):
            value = getattr(self, name)
            smallest = 0 if name in ("n_steps", "n_finetune_steps") else 2 if name == "n_clusters" else 1
            if not isinstance(value, int) or value < smallest:
                raise ValueError(f"{name} must be an integer >= {smallest}, got {name}={value!r}")
        if self.n_transfer > self.n_train:
            raise ValueError(f"n_transfer must be at most n_train={self.n_train}, got n_transfer={self.n_transfer}")
        if not 0 <= self.prune_threshold < 1:
            raise ValueError(f"prune_threshold must be in [0, 1), got prune_threshold={self.prune_threshold!r}")
        if not 0 < self.finetune_criterion <= 1:
            raise ValueError(f"finetune_criterion must be in (0, 1], got finetune_criterion={self.finetune_criterion!r}")

    @property
    def condition(self) -> str:
        """Arm and strength as one label (:func:`condition_label`)."""
        return condition_label(self.arm, self.strength, self.goal, self.task)


ARM_NAMES = {"init": "untrained", "none": "control", "l1": "L1", "l2": "L2 squared", "l2_norm": "L2 norm",
             "weight_decay": "weight decay", "dropout": "dropout", "prune": "pruned", "connection_cost": "conn. cost",
             "mvg": "MVG", "rmvg": "RMVG", "clusterable_init": "clusterable init", "block_mask": "block mask",
             "random_mask": "random mask"}


def condition_label(arm: str, strength: float, goal: str, task: str) -> str:
    """A reader's label of an arm at a strength, e.g. ``'L1 0.001'``, ``'pruned to 80%'``,
    ``'block mask, 2 modules'``; a goal other than the task's primary one is appended."""
    if arm in ("init", "none"):
        label = ARM_NAMES[arm]
    elif arm == "prune":
        label = f"pruned to {strength:.0%}"
    elif arm in ("mvg", "rmvg"):
        label = f"{ARM_NAMES[arm]}, every {strength:g} steps"
    elif arm in ("block_mask", "random_mask", "clusterable_init"):
        label = f"{ARM_NAMES[arm]}, {strength:g} modules"
    else:
        label = f"{ARM_NAMES[arm]} {strength:g}"
    return label if goal == PRIMARY_GOAL[task] else f"{label} ({'two-head' if goal == 'both' else goal})"


def make_configs(task: str, arm: str, strengths: Iterable[float], seeds: Iterable[int], *,
                 goal: str | None = None, **settings) -> list[EssayRun]:
    """Runs of one task and arm at every strength and seed; ``settings`` override
    :data:`TASK_DEFAULTS` and give the fields it lacks (``n_shuffles``, ``prune_threshold``, ...).
    The untrained arm gets 0 steps."""
    if task not in TASKS:
        raise ValueError(f"unknown task={task!r}; choose one of {TASKS}")
    base = {**TASK_DEFAULTS[task], **settings}
    base["goal"] = goal or base["goal"]
    if task == "retina":
        base["n_test"] = retina.N_PATTERNS - base["n_train"]
    if arm == "init":
        base["n_steps"] = 0
    return [EssayRun(task=task, arm=arm, strength=float(strength), seed=int(seed), **base)
            for strength in strengths for seed in seeds]


# --- data and goals --------------------------------------------------------------------------

def task_data(config: EssayRun) -> retina.RetinaSplit | digit_pairs.DigitPairs:
    """The run's data split (drawn from ``config.seed``, so every arm of a seed shares it)."""
    if config.task == "retina":
        return retina.retina_split(config.n_train, seed=config.seed)
    return digit_pairs.digit_pairs(config.n_train, config.n_test, config.n_heldout, seed=config.seed)


def goal_labels(task: str, goal, parts: np.ndarray) -> np.ndarray:
    """Labels of ``goal`` (a name, or a truth table / (a, b) pair) from the sub-labels ``parts`` (n, 2)."""
    if goal == "both":
        return np.asarray(parts, dtype=np.int64)
    definition = GOAL_DEFINITIONS.get(goal, goal) if isinstance(goal, str) else tuple(goal)
    if task == "retina":
        return retina.combined_labels(parts, definition)
    return digit_pairs.combined_labels(parts, definition)


def random_goal_pool(task: str) -> list[tuple[int, ...]]:
    """Goals RMVG draws from: every combination of the two halves that depends on both, except
    the related goal G2 and its equivalents (its complement for the retina; any (a, b) with
    a + b = 0 mod 10, a relabelling of the difference, for digits)."""
    if task == "retina":
        related = retina.TRUTH_TABLES[RELATED_GOAL[task]]
        complement = tuple(1 - v for v in related)
        pool = []
        for table in itertools.product((0, 1), repeat=4):
            depends_on_left = table[0:2] != table[2:4]
            depends_on_right = table[0::2] != table[1::2]
            if depends_on_left and depends_on_right and table not in (related, complement):
                pool.append(table)
        return pool
    return [(a, b) for a in range(1, 10) for b in range(1, 10) if (a + b) % digit_pairs.N_CLASSES != 0]


def goal_at(step: int, config: EssayRun):
    """The goal trained at ``step``. MVG alternates G1 and its alternate every ``strength``
    steps, RMVG draws a goal per period from :func:`random_goal_pool` (seeded by the run's
    seed and the period); both end on the primary goal."""
    if config.arm not in ("mvg", "rmvg"):
        return config.goal
    period = (config.n_steps - 1 - step) // int(config.strength)  # 0 = the last period
    if period == 0:
        return config.goal
    if config.arm == "mvg":
        return config.goal if period % 2 == 0 else ALTERNATE_GOAL[config.goal]
    pool = random_goal_pool(config.task)
    return pool[int(np.random.default_rng([config.seed, 2, period]).integers(len(pool)))]


def n_outputs(goal: str) -> int:
    """Output units: one logit for the binary retina goals, 10 or 2 x 10 for digit pairs."""
    return {"and": 1, "or": 1, "sum": 10, "diff": 10, "both": 20}[goal]


# --- model ---------------------------------------------------------------------------------

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


# --- training ------------------------------------------------------------------------------

def _goal_kind(task: str, goal) -> str:
    return "two_heads" if goal == "both" else "binary" if task == "retina" else "classes"


def _loss(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), targets.float())
    if kind == "two_heads":  # two 10-way heads, one per digit
        return F.cross_entropy(logits[:, :10], targets[:, 0]) + F.cross_entropy(logits[:, 10:], targets[:, 1])
    return F.cross_entropy(logits, targets)


def _correct(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "binary":
        return (logits.squeeze(-1) > 0).long() == targets
    if kind == "two_heads":  # a pair counts as right only if both digits are
        return (logits[:, :10].argmax(-1) == targets[:, 0]) & (logits[:, 10:].argmax(-1) == targets[:, 1])
    return logits.argmax(-1) == targets


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


def build_model(config: EssayRun, input_dim: int, input_groups: Sequence[Sequence[int]]) -> Classifier:
    """The run's classifier; the mask arms get wider layers of equal parameter count, the
    clusterable-init arm Filan et al.'s rescaled initial weights."""
    sizes = [input_dim, *config.hidden, n_outputs(config.goal)]
    masks = None
    if config.arm in ("block_mask", "random_mask"):
        if int(config.strength) != len(input_groups):
            raise ValueError(f"{config.arm} strength is the number of blocks and must equal the task's "
                             f"{len(input_groups)} input groups, got strength={config.strength!r}")
        sizes = block_mask_sizes(sizes, input_groups)
        groups = input_groups if config.arm == "block_mask" else random_partition(input_groups, seed=config.seed)
        masks = block_masks(sizes, groups)
    dropout = config.strength if config.arm == "dropout" else 0.0
    model = Classifier(sizes, activation=config.activation, dropout=dropout, masks=masks)
    if config.arm == "clusterable_init":
        clusterable_init_(model, int(config.strength), seed=config.seed)
    return model


def _penalty(config: EssayRun, weights: Sequence[torch.Tensor], distances: Sequence[torch.Tensor]) -> torch.Tensor | float:
    if config.arm == "l1":
        return config.strength * sum(w.abs().sum() for w in weights)
    if config.arm == "l2":
        return config.strength * sum(w.pow(2).sum() for w in weights)
    if config.arm == "l2_norm":  # one norm over every weight of the network, as the essay writes it
        return config.strength * torch.sqrt(sum(w.pow(2).sum() for w in weights))
    if config.arm == "connection_cost":
        return config.strength * sum((w.abs() * d).sum() for w, d in zip(weights, distances))
    return 0.0


def _batches(n: int, batch_size: int, generator: torch.Generator, device) -> Iterable[torch.Tensor]:
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


def train_classifier(model: Classifier, x: torch.Tensor, parts: torch.Tensor, config: EssayRun, *,
                     generator: torch.Generator) -> None:
    """Train in place for ``config.n_steps`` steps with the arm's penalty, pruning or goal switching.

    ``parts`` (n, 2) holds the sub-labels every goal is computed from.
    """
    weight_params = [layer.weight for layer in model.layers]
    bias_params = [layer.bias for layer in model.layers]
    decay = config.strength if config.arm == "weight_decay" else 0.0
    optimiser = torch.optim.AdamW([{"params": weight_params, "weight_decay": decay},
                                   {"params": bias_params, "weight_decay": 0.0}], lr=config.lr, fused=True)
    sizes = [model.layers[0].in_features] + [layer.out_features for layer in model.layers]
    distances = [d.to(x.device) for d in node_distances(sizes)]
    labels: dict = {}  # goal -> labels of every training input, computed once per goal
    batches = _batches(x.shape[0], config.batch_size, generator, x.device)
    model.train()
    for step in range(config.n_steps):
        rows = next(batches)
        goal = goal_at(step, config)
        if goal not in labels:
            labels[goal] = torch.as_tensor(goal_labels(config.task, goal, parts.cpu().numpy()), device=x.device)
        loss = _loss(model(x[rows]), labels[goal][rows], _goal_kind(config.task, goal))
        loss = loss + _penalty(config, weight_params, distances)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if config.arm == "prune" and step % PRUNE_EVERY == 0 and step <= PRUNE_END * config.n_steps:
            prune_by_magnitude_(model, prune_sparsity(step, config.n_steps, config.strength))
        for layer in model.layers:
            layer.apply_mask_()
    if config.arm == "prune" and config.n_steps > 0:  # the schedule ends exactly at the final sparsity
        prune_by_magnitude_(model, prune_sparsity(config.n_steps, config.n_steps, config.strength))
    model.eval()


@torch.no_grad()
def evaluate(model: Classifier, x: np.ndarray, y: np.ndarray, kind: str) -> tuple[float, float]:
    """(accuracy, mean loss) in eval mode: dropout off, so train accuracy is not biased down."""
    model.eval()
    device = model.layers[0].weight.device
    logits = model(torch.as_tensor(x, device=device))
    targets = torch.as_tensor(y, device=device)
    return float(_correct(logits, targets, kind).float().mean()), float(_loss(logits, targets, kind))


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
        frequency = np.bincount(column, minlength=digit_pairs.N_CLASSES) / len(column)
        frequency = frequency[frequency > 0]
        total += float(-(frequency * np.log(frequency)).sum())
    return total


# --- generalisation to the related goal ------------------------------------------------------

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


def readout_transfer_accuracy(model: Classifier, data, config: EssayRun) -> float:
    """Test accuracy on G2 of a logistic-regression readout fitted, on the standardised frozen
    activations of all hidden units, to the first ``n_transfer`` training inputs labelled with G2."""
    related = RELATED_GOAL[config.task]
    y_fit = goal_labels(config.task, related, data.parts_train[:config.n_transfer])
    y_test = goal_labels(config.task, related, data.parts_test)
    features_fit = hidden_features(model, data.x_train[:config.n_transfer])
    features_test = hidden_features(model, data.x_test)
    if np.unique(y_fit).size < 2:  # one class seen: the readout can only predict it
        return float(np.mean(y_test == y_fit[0]))
    readout = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    readout.fit(features_fit, y_fit)
    return float(readout.score(features_test, y_test))


def finetune_steps_to_criterion(model: Classifier, data, config: EssayRun, *, generator: torch.Generator
                                ) -> tuple[int, bool]:
    """(steps, reached): full fine-tuning of a copy on G2 (Adam at the run's learning rate and
    batch size, no regulariser, dropout off, masks kept) until G2 training accuracy, checked
    every FINETUNE_EVAL_EVERY steps, reaches ``finetune_criterion``. Not reached within
    ``n_finetune_steps``: (n_finetune_steps + FINETUNE_EVAL_EVERY, False), a censored count."""
    model = copy.deepcopy(model)
    model.eval()  # dropout off for the new goal: the question is how far the learnt weights are
    device = model.layers[0].weight.device
    related = RELATED_GOAL[config.task]
    kind = _goal_kind(config.task, related)
    x = torch.as_tensor(data.x_train, device=device)
    y = torch.as_tensor(goal_labels(config.task, related, data.parts_train), device=device)
    check = slice(0, min(len(x), FINETUNE_EVAL_PAIRS))
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    batches = _batches(x.shape[0], config.batch_size, generator, device)
    for step in range(config.n_finetune_steps + 1):
        if step % FINETUNE_EVAL_EVERY == 0:
            with torch.no_grad():
                accuracy = _correct(model(x[check]), y[check], kind).float().mean().item()
            if accuracy >= config.finetune_criterion:
                return step, True
        if step == config.n_finetune_steps:
            break
        rows = next(batches)
        loss = _loss(model(x[rows]), y[rows], kind)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        for layer in model.layers:
            layer.apply_mask_()
    return config.n_finetune_steps + FINETUNE_EVAL_EVERY, False


# --- one run ---------------------------------------------------------------------------------

def inputs_separated(labels: np.ndarray, input_groups: Sequence[Sequence[int]]) -> bool:
    """True iff no cluster holds input nodes of two different groups (the left/right split at k = 2)."""
    owner: dict[int, int] = {}
    for group, members in enumerate(input_groups):
        for cluster in set(labels[list(members)].tolist()) - {-1}:
            if owner.setdefault(cluster, group) != group:
                return False
    return True


@contextlib.contextmanager
def _one_thread():
    # These networks have at most ~13k weights: a second CPU thread only adds synchronisation,
    # and on a shared 2-core machine it made every step several times slower. The same holds for
    # the BLAS behind numpy, scipy and scikit-learn (the readout's logistic regression, spectral
    # clustering): their default thread pools wait on each other on a loaded machine
    # (benchmarks/essay_threads.py measures it).
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def run_essay(config: EssayRun) -> dict:
    """Train one network and measure it: the per-run function of the sweep.

    Returns accuracies on G1 (train in eval mode, test, held-out combinations) and their gap,
    the final training loss beside the chance loss (for the divergence check), generalisation
    to G2 (readout accuracy, fine-tuning steps), the network's size and sparsity, and its
    modularity (see the module docstring).
    """
    data = task_data(config)
    kind = _goal_kind(config.task, config.goal)
    y_train = goal_labels(config.task, config.goal, data.parts_train)
    y_test = goal_labels(config.task, config.goal, data.parts_test)
    # seeded init and dropout without touching the caller's RNG
    with torch.random.fork_rng(devices=[]), _one_thread():
        torch.manual_seed(config.seed)
        model = build_model(config, data.x_train.shape[1], data.input_groups).to(config.device)
        generator = torch.Generator().manual_seed(config.seed)
        train_classifier(model, torch.as_tensor(data.x_train, device=config.device),
                         torch.as_tensor(data.parts_train, device=config.device), config, generator=generator)
        train_acc, train_loss = evaluate(model, data.x_train, y_train, kind)
        test_acc, test_loss = evaluate(model, data.x_test, y_test, kind)
        heldout_acc = math.nan
        if data.x_heldout is not None:
            heldout_acc, _ = evaluate(model, data.x_heldout, data.y_heldout[config.goal], kind)
        finite = math.isfinite(train_loss) and all(np.isfinite(w).all() for w in model.weight_matrices())
        transfer, steps, reached = math.nan, math.nan, False
        if finite and config.measure:
            transfer = readout_transfer_accuracy(model, data, config)
            steps, reached = finetune_steps_to_criterion(model, data, config, generator=generator)
    result = {
        "train_accuracy": train_acc, "test_accuracy": test_acc, "heldout_accuracy": heldout_acc,
        "gap": train_acc - test_acc, "train_loss": train_loss, "test_loss": test_loss,
        "chance_loss": chance_loss(y_train, kind), "transfer_accuracy": transfer,
        "finetune_steps": steps, "finetune_reached": int(reached),
        "layer_sizes": [model.layers[0].in_features] + [layer.out_features for layer in model.layers],
        "n_params": model.n_active_params(),
    }
    if not (finite and config.measure):  # a diverged run has no graph to measure; the report excludes it
        return result
    weights = model.weight_matrices()
    graph = modularity.threshold_weights(weights, config.prune_threshold)
    n_weights = sum(w.size for w in weights)
    result["sparsity"] = sum(int((w == 0).sum()) for w in graph) / n_weights
    measure = dict(n_clusters=(config.n_clusters,), n_shuffles=config.n_shuffles, seed=config.seed)
    primary = modularity.measure_modularity(graph, shuffle="degree", n_louvain_shuffles=config.n_louvain_shuffles,
                                            **measure)
    filan = modularity.measure_modularity(weights, shuffle="all", n_louvain_shuffles=0, **measure)
    ncut = primary.ncut[config.n_clusters]
    result |= {"ncut": ncut.score, "ncut_ratio": ncut.ratio, "ncut_percentile": ncut.p_value, "ncut_z": ncut.z,
               "filan_ncut_z": filan.ncut[config.n_clusters].z,
               "inputs_separated": int(inputs_separated(primary.labels[config.n_clusters], data.input_groups))}
    if primary.q_louvain is not None:
        result |= {"q_louvain": primary.q_louvain.score, "q_louvain_z": primary.q_louvain.z}
    else:  # raw Q_max only: Louvain on every shuffle is the slow part of a measurement
        adjacency, _ = modularity.remove_isolated(modularity.weights_to_adjacency(graph))
        result["q_louvain"] = modularity.modularity_q(adjacency, modularity.louvain_partition(adjacency,
                                                                                             seed=config.seed))
    return result


# --- the chapter's sweep ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ChapterSettings:
    """The notebook's parameters, checked before anything runs (each check names the parameter)."""

    seed: int
    n_seeds: int
    n_sweep_seeds: int
    retina_regulariser_n_seeds: int
    target_effect: float
    power: float
    tasks: tuple[str, ...]
    retina_arms: tuple[str, ...]
    digits_arms: tuple[str, ...]
    retina_n_steps: int
    digits_n_steps: int
    digits_n_train: int
    retina_l1_values: tuple[float, ...]
    digits_l1_values: tuple[float, ...]
    retina_l2_values: tuple[float, ...]
    digits_l2_values: tuple[float, ...]
    retina_l2_norm_values: tuple[float, ...]
    digits_l2_norm_values: tuple[float, ...]
    retina_connection_cost_values: tuple[float, ...]
    digits_connection_cost_values: tuple[float, ...]
    weight_decay_values: tuple[float, ...]
    dropout_values: tuple[float, ...]
    prune_sparsity_values: tuple[float, ...]
    mvg_period_values: tuple[int, ...]
    rmvg_period_values: tuple[int, ...]
    clusterable_init_modules: int
    train_accuracy_margin: float
    prune_threshold: float
    retina_n_transfer: int
    digits_n_transfer: int
    retina_n_finetune_steps: int
    digits_n_finetune_steps: int
    retina_finetune_criterion: float
    digits_finetune_criterion: float
    two_head_control: bool
    n_shuffles: int
    n_louvain_shuffles: int
    min_healthy_runs: int
    alpha: float
    n_bootstrap: int
    device: str

    def __post_init__(self):
        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

        def fail(name: str, rule: str) -> None:
            raise ValueError(f"{name} must be {rule}, got {name}={getattr(self, name)!r}")

        def integer(name: str, smallest: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                fail(name, f"an integer >= {smallest}")

        for name, smallest in dict(seed=0, n_seeds=1, n_sweep_seeds=1, retina_regulariser_n_seeds=1,
                                   retina_n_steps=1, digits_n_steps=1,
                                   digits_n_train=10, clusterable_init_modules=2,
                                   retina_n_transfer=2, digits_n_transfer=10, retina_n_finetune_steps=0,
                                   digits_n_finetune_steps=0, n_shuffles=1, n_louvain_shuffles=0,
                                   min_healthy_runs=2, n_bootstrap=1).items():
            integer(name, smallest)
        if self.retina_regulariser_n_seeds < self.n_seeds:
            fail("retina_regulariser_n_seeds", f"at least n_seeds={self.n_seeds}")
        if not (isinstance(self.target_effect, (int, float)) and math.isfinite(self.target_effect)
                and self.target_effect > 0):
            fail("target_effect", "a positive standardised shift")
        if not (isinstance(self.power, (int, float)) and 0 < self.power < 1):
            fail("power", "a probability in (0, 1)")
        if self.n_louvain_shuffles > self.n_shuffles:
            fail("n_louvain_shuffles", f"at most n_shuffles={self.n_shuffles}")
        if self.min_healthy_runs > self.n_seeds:
            fail("min_healthy_runs", f"at most n_seeds={self.n_seeds}")
        if self.retina_n_transfer > 128:
            fail("retina_n_transfer", "at most the 128 training patterns")
        if self.digits_n_transfer > self.digits_n_train:
            fail("digits_n_transfer", f"at most digits_n_train={self.digits_n_train}")
        if not self.tasks or not set(self.tasks) <= set(TASKS) or len(set(self.tasks)) != len(self.tasks):
            fail("tasks", f"a non-empty list of distinct tasks among {TASKS}")
        for name in ("retina_arms", "digits_arms"):
            arms = getattr(self, name)
            if not set(arms) <= set(ARMS) or len(set(arms)) != len(arms):
                fail(name, f"a list of distinct arms among {ARMS}")
            if name.split("_")[0] in self.tasks and "none" not in arms:
                fail(name, "a list that holds the control arm 'none' (every claim compares with it)")
        for name in ("retina_l1_values", "digits_l1_values", "retina_l2_values", "digits_l2_values",
                     "retina_l2_norm_values", "digits_l2_norm_values", "retina_connection_cost_values",
                     "digits_connection_cost_values", "weight_decay_values"):
            values = getattr(self, name)
            if not values or not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values):
                fail(name, "a non-empty list of finite numbers > 0")
        for name in ("mvg_period_values", "rmvg_period_values"):
            values = getattr(self, name)
            if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
                fail(name, "a non-empty list of integers >= 1")
        for name in ("dropout_values", "prune_sparsity_values"):
            values = getattr(self, name)
            if not values or not all(isinstance(v, (int, float)) and 0 < v < 1 for v in values):
                fail(name, "a non-empty list of numbers in (0, 1)")
        for name, low, high in (("train_accuracy_margin", 0, 1), ("prune_threshold", 0, 1), ("alpha", 0, 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value < high or (name == "alpha" and value == 0):
                fail(name, f"a number in {'(' if name == 'alpha' else '['}{low}, {high})")
        for name in ("retina_finetune_criterion", "digits_finetune_criterion"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 1:
                fail(name, "a number in (0, 1]")
        if not isinstance(self.two_head_control, bool):
            fail("two_head_control", "true or false")
        resolve_device(self.device)  # raises for an unknown device or CUDA asked without CUDA

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))

    @property
    def sweep_seeds(self) -> list[int]:
        """The strength sweep's seeds: none of them is a seed of the comparison runs, so the
        strength is chosen on runs no verdict uses."""
        first = self.seed + SWEEP_SEED_OFFSET
        return list(range(first, first + self.n_sweep_seeds))

    def arm_seeds(self, task: str, arm: str) -> list[int]:
        """The seeds of one arm: ``retina_regulariser_n_seeds`` for the retina control and
        regularisers (the largest Holm family, on the cheapest task: where the power calculation's
        seeds are spent), ``n_seeds`` for every other arm."""
        if task == "retina" and arm in ("none",) + REGULARISER_ARMS:
            return list(range(self.seed, self.seed + self.retina_regulariser_n_seeds))
        return self.seeds

    def arms(self, task: str) -> tuple[str, ...]:
        return getattr(self, f"{task}_arms")

    def strength_values(self, task: str, arm: str) -> list[float]:
        """The strengths of ``arm`` on ``task``: the sweep's grid, or the single fixed value."""
        fixed = dict(init=0.0, none=0.0, clusterable_init=self.clusterable_init_modules, block_mask=2, random_mask=2)
        if arm in fixed:
            return [float(fixed[arm])]
        shared = dict(weight_decay=self.weight_decay_values, dropout=self.dropout_values,
                      prune=self.prune_sparsity_values, mvg=self.mvg_period_values, rmvg=self.rmvg_period_values)
        return sorted(float(v) for v in shared.get(arm) or getattr(self, f"{task}_{arm}_values"))

    def run_settings(self, task: str) -> dict:
        """The fields of :class:`EssayRun` that the notebook's parameters set for ``task``."""
        settings = dict(n_steps=getattr(self, f"{task}_n_steps"), n_transfer=getattr(self, f"{task}_n_transfer"),
                        n_finetune_steps=getattr(self, f"{task}_n_finetune_steps"),
                        finetune_criterion=getattr(self, f"{task}_finetune_criterion"),
                        n_shuffles=self.n_shuffles, n_louvain_shuffles=self.n_louvain_shuffles,
                        prune_threshold=self.prune_threshold, device=str(resolve_device(self.device)))
        if task == "digits":
            settings["n_train"] = self.digits_n_train
        return settings


@dataclasses.dataclass(frozen=True)
class ChapterRuns:
    """The chapter's runs at the chosen strengths, and the strength sweep that chose them."""

    runs: pd.DataFrame
    selection: pd.DataFrame


def choose_strengths(sweep: pd.DataFrame, *, margin: float) -> pd.DataFrame:
    """Per task and swept arm, the strongest strength whose median training accuracy (over the
    sweep's seeds) is at least the control's median minus ``margin``: no arm may win by
    underfitting. Stronger means larger, except for a switching period (MVG, RMVG), where it
    means shorter. An arm with no such strength keeps its weakest one, flagged not admissible
    (its runs then count as underfit and enter no verdict)."""
    rows = []
    for task, runs in sweep.groupby("task", sort=False):
        control = float(runs.loc[runs["arm"] == "none", "train_accuracy"].median())
        for arm, group in runs[runs["arm"].isin(SWEPT_ARMS)].groupby("arm", sort=False):
            medians = group.groupby("strength")["train_accuracy"].median().sort_index()
            admissible = medians[medians >= control - margin]
            strongest, weakest = (min, max) if arm in PERIOD_ARMS else (max, min)
            chosen = float(strongest(admissible.index) if len(admissible) else weakest(medians.index))
            for strength, median in medians.items():
                rows.append(dict(task=task, arm=arm, strength=float(strength), train_accuracy=float(median),
                                 control_train_accuracy=control, admissible=bool(median >= control - margin),
                                 chosen=bool(strength == chosen)))
    return pd.DataFrame(rows, columns=["task", "arm", "strength", "train_accuracy", "control_train_accuracy",
                                       "admissible", "chosen"])


# What every stored run of the chapter holds (run_essay); the modularity scores exist only for measured runs.
ESSAY_KEYS = ("train_accuracy", "test_accuracy", "heldout_accuracy", "gap", "train_loss", "test_loss", "chance_loss",
              "transfer_accuracy", "finetune_steps", "finetune_reached", "layer_sizes", "n_params")


def run_chapter(settings: ChapterSettings, *, results_dir: str | None) -> ChapterRuns:
    """Every run of the chapter, read from or added to the results store.

    First the strength sweep (every swept arm at every strength, and the control, on
    ``n_sweep_seeds`` seeds of their own, :attr:`ChapterSettings.sweep_seeds`; trained and scored
    on G1 only), then every arm at its chosen strength on its seeds
    (:meth:`ChapterSettings.arm_seeds`), measured in full.
    """
    store = sweeps.resolve_store(results_dir, "essay_modularity")
    sweep_seeds = settings.sweep_seeds
    sweep_configs = []
    for task in settings.tasks:
        base = settings.run_settings(task)
        for arm in ("none",) + tuple(a for a in settings.arms(task) if a in SWEPT_ARMS):
            sweep_configs += make_configs(task, arm, settings.strength_values(task, arm), sweep_seeds,
                                          **base, measure=False)
    sweep = sweeps.run_sweep(run_essay, sweep_configs, store, desc="essay strength sweep", required_keys=ESSAY_KEYS)
    selection = choose_strengths(sweep, margin=settings.train_accuracy_margin)
    configs = []
    for task in settings.tasks:
        base = settings.run_settings(task)
        chosen = selection[(selection["task"] == task) & selection["chosen"]].set_index("arm")["strength"]
        for arm in settings.arms(task):
            strengths = [chosen[arm]] if arm in SWEPT_ARMS else settings.strength_values(task, arm)
            configs += make_configs(task, arm, strengths, settings.arm_seeds(task, arm), **base)
        if task == "digits" and settings.two_head_control:
            configs += make_configs(task, "none", [0.0], settings.seeds, goal="both", **base)
    runs = sweeps.run_sweep(run_essay, configs, store, desc="essay runs", required_keys=ESSAY_KEYS)
    # the sweep's verdict on each swept arm's strength (None for arms without a sweep): whether any
    # strength kept the median training accuracy within the margin, decided on the sweep's seeds
    verdicts = {(row.task, row.arm): row.admissible for row in selection[selection["chosen"]].itertuples()}
    runs["admissible"] = [verdicts.get((task, arm)) if arm in SWEPT_ARMS else None
                          for task, arm in zip(runs["task"], runs["arm"])]
    return ChapterRuns(runs=runs, selection=selection)
