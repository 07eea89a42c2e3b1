"""The essay's chain, tested: regularisation -> modularity -> generalisation.

The essay (dkirmani, LessWrong 2022) claims that regularisers (dropout, pruning, L1/L2, a
connection cost, modularly varying goals) make networks modular, that modularity makes them
generalise, and that trained networks are more modular than at initialisation. This module
holds the experiment behind ``notebooks/essay_modularity.py`` (MODULARITY.md section 6):

* :class:`EssayRun`, the frozen settings of one run (task, arm, strength, seed, sizes, ...);
* a small classifier MLP whose layers carry a fixed 0/1 weight mask (block-diagonal wiring,
  or the mask grown by magnitude pruning) and optional dropout;
* :func:`run_essay`, the per-run function for :func:`modcore.sweeps.run_sweep`: build the
  task, train with the arm's penalty / pruning / goal switching, evaluate, measure the
  modularity of the weights against the shuffle null (:mod:`modcore.modularity`);
* the statistics and the pre-declared verdict rules that turn a sweep into the claims table.

Arms and the meaning of their ``strength``:

    init             untrained network (0 steps); strength unused (0)
    none             plain training (the control); strength unused (0)
    l1               loss + strength * sum |w|
    l2               loss + strength * sum w^2               (explicit penalty)
    weight_decay     AdamW, decoupled weight decay = strength
    dropout          dropout rate = strength after every hidden layer
    prune            magnitude pruning to final sparsity = strength (polynomial schedule)
    connection_cost  loss + strength * sum |w_ij| * dist(i, j)^2 / mean dist^2
    mvg              modularly varying goals: the goal switches every `strength` steps
    block_mask       hard-wired modules: `strength` blocks (= input groups), equal parameter count

Penalties act on weights only, not biases (biases are not edges of the graph).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from modcore import modularity, paper_values
from modcore.tasks import digit_pairs, retina

ARMS = ("init", "none", "l1", "l2", "weight_decay", "dropout", "prune", "connection_cost", "mvg", "block_mask")
REGULARISER_ARMS = ("l1", "l2", "weight_decay", "dropout", "prune", "connection_cost", "mvg")
TASKS = ("retina", "digits")
PRIMARY_GOAL = {"retina": "and", "digits": "sum"}
# MVG switches to the other goal of the pair; both goals share the task's two sub-problems.
ALTERNATE_GOAL = {"and": "or", "or": "and", "sum": "diff", "diff": "sum"}

# Network sizes and training of MODULARITY.md 6.1 (retina) and 6.2 (digit pairs).
TASK_DEFAULTS: dict[str, dict] = {
    # 8-16-8-4-1 tanh, Adam 3e-3, full batch, 3,000 steps, 128/128 split; k = 2 (the
    # left/right split) and 4.
    "retina": dict(goal="and", hidden=(16, 8, 4), activation="tanh", steps=3000, lr=3e-3, batch_size=0,
                   n_train=128, n_test=128, n_heldout=0, n_clusters=(2, 4)),
    # input-64-64-10 ReLU, Adam 1e-3, batch 128, 10k pairs x ~15 epochs = 1,200 steps; k = 4 and 12.
    "digits": dict(goal="sum", hidden=(64, 64), activation="relu", steps=1200, lr=1e-3, batch_size=128,
                   n_train=10_000, n_test=5_000, n_heldout=2_000, n_clusters=(4, 12)),
}
# One strength per arm unless the caller gives a grid. Our choices, inside MODULARITY.md 6.1/6.2's
# grids: the penalties are sums over weights, so the digit network (~40x more weights) gets
# smaller coefficients.
DEFAULT_STRENGTHS: dict[str, dict[str, float]] = {
    "retina": dict(init=0.0, none=0.0, l1=1e-3, l2=1e-3, weight_decay=1e-2, dropout=0.2, prune=0.8,
                   connection_cost=1e-3, mvg=100, block_mask=2),
    "digits": dict(init=0.0, none=0.0, l1=1e-4, l2=1e-4, weight_decay=1e-2, dropout=0.2, prune=0.8,
                   connection_cost=1e-4, mvg=100, block_mask=2),
}

# Pruning schedule (paper-free choices, after Filan et al.'s tfmot polynomial decay): the mask
# is recomputed every PRUNE_EVERY steps between PRUNE_START and PRUNE_END (fractions of
# training), sparsity s(t) = s_final * (1 - (1 - progress)^3); the rest of training fine-tunes.
PRUNE_START, PRUNE_END, PRUNE_EVERY = 0.5, 0.75, 10


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
    steps: int
    lr: float
    batch_size: int        # 0 = full batch
    n_train: int
    n_test: int
    n_heldout: int         # held-out-combination test pairs (digits only; retina: 0)
    n_clusters: tuple[int, ...]
    n_shuffles: int
    n_louvain_shuffles: int
    device: str = "cpu"

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task={self.task!r}; choose one of {TASKS}")
        if self.arm not in ARMS:
            raise ValueError(f"unknown arm={self.arm!r}; choose one of {ARMS}")
        goals = retina.GOALS if self.task == "retina" else digit_pairs.GOALS
        if self.goal not in goals:
            raise ValueError(f"unknown goal={self.goal!r} for task {self.task!r}; choose one of {goals}")
        if self.arm == "mvg" and self.goal not in ALTERNATE_GOAL:
            raise ValueError(f"arm='mvg' needs a goal with an alternate, got goal={self.goal!r}")
        if self.arm == "mvg" and (self.strength < 1 or self.strength != int(self.strength)):
            raise ValueError(f"mvg strength is the switching period in steps, got strength={self.strength!r}")
        if self.arm == "dropout" and not 0 <= self.strength < 1:
            raise ValueError(f"dropout strength is a rate in [0, 1), got strength={self.strength!r}")
        if self.arm == "prune" and not 0 <= self.strength < 1:
            raise ValueError(f"prune strength is a final sparsity in [0, 1), got strength={self.strength!r}")
        if self.arm in ("l1", "l2", "weight_decay", "connection_cost") and self.strength < 0:
            raise ValueError(f"{self.arm} strength must be >= 0, got strength={self.strength!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda' (resolve 'auto' with resolve_device), "
                             f"got device={self.device!r}")
        if self.task == "retina" and self.n_test != retina.N_PATTERNS - self.n_train:
            raise ValueError(f"retina tests on the other patterns: n_test must be {retina.N_PATTERNS - self.n_train}, "
                             f"got n_test={self.n_test}")
        for name in ("steps", "n_train", "n_test", "n_shuffles"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "steps" else 1):
                raise ValueError(f"{name} must be a {'non-negative' if name == 'steps' else 'positive'} "
                                 f"integer, got {name}={value!r}")

    @property
    def condition(self) -> str:
        """Arm and strength as one label, e.g. ``'l1 0.001'``."""
        return condition_label(self.arm, self.strength, self.goal, self.task)


def condition_label(arm: str, strength: float, goal: str, task: str) -> str:
    label = arm if arm in ("init", "none") else f"{arm} {strength:g}"
    return label if goal == PRIMARY_GOAL[task] else f"{label} ({goal})"


def make_configs(tasks: Sequence[str], arms: Sequence[str], seeds: Iterable[int], *,
                 strengths: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
                 steps: Mapping[str, int] | None = None, n_train: Mapping[str, int] | None = None,
                 n_shuffles: int = 50, n_louvain_shuffles: int = 10, two_head_control: bool = True,
                 device: str = "cpu") -> list[EssayRun]:
    """The grid: every task x arm x strength x seed, task sizes from :data:`TASK_DEFAULTS`.

    ``strengths[task][arm]`` lists the strengths of an arm (default: one, from
    :data:`DEFAULT_STRENGTHS`); ``steps`` and ``n_train`` override the task's defaults. With
    ``two_head_control``, the digit task also trains the ``"none"`` arm on the two-head goal.
    """
    device = resolve_device(device)
    seeds = list(seeds)
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"unknown task={task!r}; choose one of {TASKS}")
    for arm in arms:
        if arm not in ARMS:
            raise ValueError(f"unknown arm={arm!r}; choose one of {ARMS}")
    configs = []
    for task in tasks:
        base = dict(TASK_DEFAULTS[task], n_shuffles=n_shuffles, n_louvain_shuffles=n_louvain_shuffles, device=device)
        if steps and task in steps:
            base["steps"] = steps[task]
        if n_train and task in n_train:
            base["n_train"] = n_train[task]
            if task == "retina":
                base["n_test"] = retina.N_PATTERNS - n_train[task]
        goals = [base.pop("goal")]
        for goal in goals + (["both"] if task == "digits" and two_head_control else []):
            for arm in arms if goal in goals else [a for a in ("none",) if a in arms]:
                grid = (strengths or {}).get(task, {}).get(arm) or [DEFAULT_STRENGTHS[task][arm]]
                for strength in grid:
                    for seed in seeds:
                        configs.append(EssayRun(
                            task=task, arm=arm, strength=float(strength), seed=int(seed), goal=goal,
                            **{**base, "steps": 0 if arm == "init" else base["steps"]}))
    return configs


def resolve_device(device: str) -> str:
    """'auto' -> 'cpu': these networks have at most ~13k weights, so a GPU step costs more in
    kernel launches than it saves; 'cuda' is honoured if asked for (results may then differ in
    the last digits, which is why the device is part of the run's key)."""
    if device == "auto":
        return "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got device={device!r}")
    return device


# --- data ----------------------------------------------------------------------------------

def task_data(config: EssayRun) -> retina.RetinaSplit | digit_pairs.DigitPairs:
    """The run's data split (drawn from ``config.seed``, so every arm of a seed shares it)."""
    if config.task == "retina":
        return retina.retina_split(config.n_train, seed=config.seed)
    return digit_pairs.digit_pairs(config.n_train, config.n_test, config.n_heldout, seed=config.seed)


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
    below; the last hidden layer and the output are dense. Our reading of MODULARITY.md 6.1's
    "until the last hidden layer": the modules must meet in a hidden layer, not in the output,
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

def _loss(logits: torch.Tensor, targets: torch.Tensor, goal: str) -> torch.Tensor:
    if goal in ("and", "or"):
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), targets.float())
    if goal == "both":  # two 10-way heads, one per digit
        return F.cross_entropy(logits[:, :10], targets[:, 0]) + F.cross_entropy(logits[:, 10:], targets[:, 1])
    return F.cross_entropy(logits, targets)


def _correct(logits: torch.Tensor, targets: torch.Tensor, goal: str) -> torch.Tensor:
    if goal in ("and", "or"):
        return (logits.squeeze(-1) > 0).long() == targets
    if goal == "both":  # a pair counts as right only if both digits are
        return (logits[:, :10].argmax(-1) == targets[:, 0]) & (logits[:, 10:].argmax(-1) == targets[:, 1])
    return logits.argmax(-1) == targets


def goal_at(step: int, config: EssayRun) -> str:
    """The goal trained at ``step``: MVG alternates every ``strength`` steps, ending on the primary goal."""
    if config.arm != "mvg":
        return config.goal
    periods_before_end = (config.steps - 1 - step) // int(config.strength)
    return config.goal if periods_before_end % 2 == 0 else ALTERNATE_GOAL[config.goal]


def prune_sparsity(step: int, steps: int, final: float) -> float:
    """Target sparsity at ``step``: 0 before PRUNE_START, cubic ramp to ``final`` at PRUNE_END."""
    start, end = PRUNE_START * steps, PRUNE_END * steps
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
    """The run's classifier; the block-mask arm gets wider layers of equal parameter count."""
    sizes = [input_dim, *config.hidden, n_outputs(config.goal)]
    masks = None
    if config.arm == "block_mask":
        if int(config.strength) != len(input_groups):
            raise ValueError(f"block_mask strength is the number of blocks and must equal the task's "
                             f"{len(input_groups)} input groups, got strength={config.strength!r}")
        sizes = block_mask_sizes(sizes, input_groups)
        masks = block_masks(sizes, input_groups)
    dropout = config.strength if config.arm == "dropout" else 0.0
    return Classifier(sizes, activation=config.activation, dropout=dropout, masks=masks)


def train_classifier(model: Classifier, x: torch.Tensor, targets: Mapping[str, torch.Tensor], config: EssayRun,
                     *, generator: torch.Generator) -> None:
    """Train in place for ``config.steps`` steps with the arm's penalty, pruning or goal switching."""
    weight_params = [layer.weight for layer in model.layers]
    bias_params = [layer.bias for layer in model.layers]
    decay = config.strength if config.arm == "weight_decay" else 0.0
    optimiser = torch.optim.AdamW([{"params": weight_params, "weight_decay": decay},
                                   {"params": bias_params, "weight_decay": 0.0}], lr=config.lr, fused=True)
    sizes = [model.layers[0].in_features] + [layer.out_features for layer in model.layers]
    distances = [d.to(x.device) for d in node_distances(sizes)]
    n = x.shape[0]
    batch = n if config.batch_size == 0 else min(config.batch_size, n)
    order = torch.randperm(n, generator=generator).to(x.device)
    cursor = 0
    model.train()
    for step in range(config.steps):
        if cursor + batch > n:
            order, cursor = torch.randperm(n, generator=generator).to(x.device), 0
        rows = order[cursor:cursor + batch]
        cursor += batch
        goal = goal_at(step, config)
        loss = _loss(model(x[rows]), targets[goal][rows], goal)
        if config.arm == "l1":
            loss = loss + config.strength * sum(w.abs().sum() for w in weight_params)
        elif config.arm == "l2":
            loss = loss + config.strength * sum(w.pow(2).sum() for w in weight_params)
        elif config.arm == "connection_cost":
            loss = loss + config.strength * sum((w.abs() * d).sum() for w, d in zip(weight_params, distances))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if config.arm == "prune" and step % PRUNE_EVERY == 0 and step <= PRUNE_END * config.steps:
            prune_by_magnitude_(model, prune_sparsity(step, config.steps, config.strength))
        for layer in model.layers:
            layer.apply_mask_()
    if config.arm == "prune" and config.steps > 0:  # the schedule ends exactly at the final sparsity
        prune_by_magnitude_(model, prune_sparsity(config.steps, config.steps, config.strength))
    model.eval()


@torch.no_grad()
def evaluate(model: Classifier, x: np.ndarray, y: np.ndarray, goal: str) -> tuple[float, float]:
    """(accuracy, mean loss) in eval mode (dropout off: MODULARITY.md 1.6's caveat)."""
    model.eval()
    device = model.layers[0].weight.device
    logits = model(torch.as_tensor(x, device=device))
    targets = torch.as_tensor(y, device=device)
    return float(_correct(logits, targets, goal).float().mean()), float(_loss(logits, targets, goal))


def inputs_separated(labels: np.ndarray, input_groups: Sequence[Sequence[int]]) -> bool:
    """True iff no cluster holds input nodes of two different groups (the left/right split at k = 2)."""
    owner: dict[int, int] = {}
    for group, members in enumerate(input_groups):
        for cluster in set(labels[list(members)].tolist()) - {-1}:
            if owner.setdefault(cluster, group) != group:
                return False
    return True


def run_essay(config: EssayRun) -> dict:
    """Train one network and measure it: the per-run function of the sweep.

    Returns accuracies (train in eval mode, test, held-out combinations), the gaps, the
    network's size and sparsity, and its modularity scores against the ``"all"`` shuffle
    null (keys of :meth:`modcore.modularity.ModularityReport.as_dict`) and, for networks
    with zero weights, against the ``"nonzero"`` null (same keys prefixed ``nz_``; for a
    network without zeros both nulls are the same permutations, so they are copied).
    """
    data = task_data(config)
    with torch.random.fork_rng(devices=[]):  # seeded init and dropout without touching the caller's RNG
        torch.manual_seed(config.seed)
        model = build_model(config, data.x_train.shape[1], data.input_groups).to(config.device)
        generator = torch.Generator().manual_seed(config.seed)
        targets = {goal: torch.as_tensor(y, device=config.device) for goal, y in data.y_train.items()}
        train_classifier(model, torch.as_tensor(data.x_train, device=config.device), targets, config,
                         generator=generator)
    goal = config.goal
    train_acc, train_loss = evaluate(model, data.x_train, data.y_train[goal], goal)
    test_acc, test_loss = evaluate(model, data.x_test, data.y_test[goal], goal)
    if data.x_heldout is not None:
        heldout_acc, heldout_loss = evaluate(model, data.x_heldout, data.y_heldout[goal], goal)
    else:
        heldout_acc = heldout_loss = math.nan
    weights = model.weight_matrices()
    n_weights = sum(w.size for w in weights)
    sparsity = sum(int((w == 0).sum()) for w in weights) / n_weights
    measure = dict(n_clusters=config.n_clusters, n_shuffles=config.n_shuffles,
                   n_louvain_shuffles=config.n_louvain_shuffles, seed=config.seed)
    report = modularity.measure_modularity(weights, shuffle="all", **measure)
    scores = report.as_dict()
    nonzero = modularity.measure_modularity(weights, shuffle="nonzero", **measure).as_dict() if sparsity > 0 else scores
    return {
        "train_accuracy": train_acc, "test_accuracy": test_acc, "heldout_accuracy": heldout_acc,
        "gap": train_acc - test_acc, "heldout_gap": train_acc - heldout_acc,
        "train_loss": train_loss, "test_loss": test_loss, "heldout_loss": heldout_loss,
        "loss_gap": test_loss - train_loss,
        "layer_sizes": [model.layers[0].in_features] + [layer.out_features for layer in model.layers],
        "n_params": model.n_active_params(), "sparsity": sparsity,
        "inputs_separated": int(inputs_separated(report.labels[config.n_clusters[0]], data.input_groups)),
        **scores, **{f"nz_{key}": value for key, value in nonzero.items()},
    }


# --- statistics and verdicts -----------------------------------------------------------------

VERDICTS = ("supported", "not supported", "inconclusive")


def primary_score(config_or_frame) -> str:
    """Column of the primary modularity score: z of the n-cut at the first k (negative = modular)."""
    if isinstance(config_or_frame, EssayRun):
        n_clusters = config_or_frame.n_clusters
    else:
        n_clusters = config_or_frame["n_clusters"].iloc[0]
    return f"ncut_k{n_clusters[0]}_z"


def bootstrap_median_ci(values: Sequence[float], *, n_bootstrap: int = 2000, level: float = 0.95,
                        seed: int) -> tuple[float, float, float]:
    """(median, low, high): percentile bootstrap CI of the median over runs (NaNs dropped)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(values, size=(n_bootstrap, values.size), replace=True), axis=1)
    tail = (1 - level) / 2
    return float(np.median(values)), float(np.quantile(medians, tail)), float(np.quantile(medians, 1 - tail))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaNs are left out of the family and stay NaN)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def one_sided_mann_whitney(sample: Sequence[float], control: Sequence[float]) -> tuple[float, float]:
    """(p that sample < control, p that sample > control), exact Mann-Whitney U where possible."""
    sample = np.asarray(sample, dtype=float)
    control = np.asarray(control, dtype=float)
    sample, control = sample[np.isfinite(sample)], control[np.isfinite(control)]
    if sample.size == 0 or control.size == 0:
        return math.nan, math.nan
    less = stats.mannwhitneyu(sample, control, alternative="less").pvalue
    greater = stats.mannwhitneyu(sample, control, alternative="greater").pvalue
    return float(less), float(greater)


def verdict(p_claimed: float, p_opposite: float, alpha: float) -> str:
    """The pre-declared rule: 'supported' if the claimed direction is significant (adjusted
    p < alpha), 'not supported' if the opposite direction is, otherwise 'inconclusive'."""
    if np.isfinite(p_claimed) and p_claimed < alpha:
        return "supported"
    if np.isfinite(p_opposite) and p_opposite < alpha:
        return "not supported"
    return "inconclusive"


def compare_with_control(frame: pd.DataFrame, value: str, control: str, conditions: Sequence[str], *,
                         claim: str, alpha: float = 0.05) -> pd.DataFrame:
    """Each condition vs the control on column ``value``: medians, one-sided Mann-Whitney p in
    the claimed direction (``claim='lower'`` or ``'higher'``) and against it, each Holm-adjusted
    across ``conditions`` (one family per direction), and the verdict."""
    if claim not in ("lower", "higher"):
        raise ValueError(f"claim must be 'lower' or 'higher', got {claim=!r}")
    reference = frame.loc[frame["condition"] == control, value]
    rows = []
    for condition in conditions:
        sample = frame.loc[frame["condition"] == condition, value]
        less, greater = one_sided_mann_whitney(sample, reference)
        claimed, opposite = (less, greater) if claim == "lower" else (greater, less)
        rows.append(dict(condition=condition, n=int(np.isfinite(sample).sum()), median=float(np.nanmedian(sample)),
                         control_median=float(np.nanmedian(reference)), p_claimed=claimed, p_opposite=opposite))
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_claimed_holm"] = holm(table["p_claimed"])
    table["p_opposite_holm"] = holm(table["p_opposite"])
    table["verdict"] = [verdict(a, b, alpha) for a, b in zip(table["p_claimed_holm"], table["p_opposite_holm"])]
    return table


def slope_with_ci(x: Sequence[float], y: Sequence[float], groups: Sequence[str] | None = None, *,
                  level: float = 0.95) -> dict[str, float]:
    """OLS slope of y on x with its t-interval; with ``groups``, within-group (one intercept per group).

        y_i = a_{g(i)} + b x_i + e_i;  se(b) from the residual variance, df = n - (groups + 1)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    labels = np.asarray(groups if groups is not None else ["all"] * len(x))
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, labels = x[keep], y[keep], labels[keep]
    levels = np.unique(labels)
    design = np.column_stack([x] + [(labels == g).astype(float) for g in levels])
    dof = len(x) - design.shape[1]
    if dof < 1 or np.ptp(x) == 0:
        return dict(slope=math.nan, low=math.nan, high=math.nan, n=int(len(x)), dof=int(dof))
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    sigma2 = residual @ residual / dof
    covariance = sigma2 * np.linalg.pinv(design.T @ design)
    se = math.sqrt(covariance[0, 0])
    half = stats.t.ppf(0.5 + level / 2, dof) * se
    return dict(slope=float(coef[0]), low=float(coef[0] - half), high=float(coef[0] + half), n=int(len(x)),
                dof=int(dof), intercept=float(np.mean(y - coef[0] * x)))


def slope_verdict(fit: Mapping[str, float], *, claim: str) -> str:
    """'supported' if the CI lies entirely on the claimed side of 0, 'not supported' if entirely
    on the other side, else 'inconclusive' (same rule as :func:`verdict`, with the CI)."""
    low, high = fit["low"], fit["high"]
    if not (np.isfinite(low) and np.isfinite(high)):
        return "inconclusive"
    above, below = low > 0, high < 0
    if claim == "positive":
        return "supported" if above else "not supported" if below else "inconclusive"
    return "supported" if below else "not supported" if above else "inconclusive"


def with_conditions(frame: pd.DataFrame) -> pd.DataFrame:
    """The sweep's frame plus a ``condition`` label per run (arm, strength, non-primary goal)."""
    frame = frame.copy()
    frame["condition"] = [condition_label(a, s, g, t) for a, s, g, t in
                          zip(frame["arm"], frame["strength"], frame["goal"], frame["task"])]
    return frame


def condition_summary(frame: pd.DataFrame, value: str, *, alpha: float = 0.05, n_bootstrap: int = 2000,
                      seed: int) -> pd.DataFrame:
    """Per task and condition: runs, median of ``value`` with bootstrap CI, and (for a score with a
    ``_p_value`` column) how many runs were significantly more modular than their shuffles."""
    rows = []
    p_column = value.removesuffix("_z") + "_p_value" if value.endswith("_z") else None
    for (task, condition), group in frame.groupby(["task", "condition"], sort=False):
        median, low, high = bootstrap_median_ci(group[value], n_bootstrap=n_bootstrap, seed=seed)
        row = dict(task=task, condition=condition, arm=group["arm"].iloc[0], n=len(group),
                   median=median, low=low, high=high)
        if p_column is not None and p_column in group:
            row["n_significant"] = int((group[p_column] < alpha).sum())
        rows.append(row)
    return pd.DataFrame(rows)


# --- the claims table ------------------------------------------------------------------------

FILAN_CONDITION = {"none": ("control", False), "dropout": ("dropout", False), "l1": ("l1", False),
                   "l2": ("l2", False), "weight_decay": ("l2", False), "prune": ("control", True)}
LITERATURE_NOTES = {
    "connection_cost": "Clune et al. 2013: connection cost gave more modular evolved retina networks "
                       "(no SGD numbers; their Q values are unverified in MODULARITY.md)",
    "mvg": "Kashtan & Alon 2005: MVG gave modular evolved circuits (no SGD result published)",
    "observational": "MODULARITY.md 1.6 re-analysis of Filan et al.'s 140 MLPs: Spearman rho(z, acc gap) = "
                     "-0.17 (p = 0.046); +0.27 (p = 0.014) without halves and clusterable init",
    "intervention": "Boopathy et al. 2025: modular architectures beat dense ones on modular tasks; "
                    "no clusterability numbers",
}


def literature_text(arm: str, literature: pd.DataFrame) -> str:
    """Filan et al.'s MLP z-scores for the condition closest to ``arm`` (or a note)."""
    if arm in FILAN_CONDITION:
        condition, pruned = FILAN_CONDITION[arm]
        rows = literature[(literature["condition"] == condition) & (literature["pruned"] == pruned)]
        parts = [f"{r.dataset} z = {r.z:+.1f} ({r.n_significant:.0f}/{r.n_networks:.0f} sig.)"
                 for r in rows.itertuples()]
        name = "control" if arm == "none" else condition + (" + prune" if pruned else "")
        closest = " (closest: their explicit L2 penalty)" if arm == "weight_decay" else ""
        return f"Filan et al. MLP {name}{closest}: " + "; ".join(parts)
    if arm == "init":
        init = literature[literature["condition"] == "random_init"].iloc[0]
        trained = literature[(literature["condition"] == "control") & ~literature["pruned"]
                             & (literature["dataset"] == "mnist")].iloc[0]
        return (f"Filan et al. MLP, k = 12: n-cut {init.ncut:.2f} at init (n = {init.n_networks:.0f}) vs "
                f"{trained.ncut:.2f} trained (MNIST)")
    return LITERATURE_NOTES.get(arm, "")


def claims_table(frame: pd.DataFrame, literature: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The notebook's closing table: one row per (task, claim), with our numbers, the literature's
    and the verdict from the pre-declared rules.

    Rules (declared before any run):
      * a regulariser causes modularity: its runs' n-cut z (first k, vs 'all' shuffles) is lower
        than the control's; one-sided Mann-Whitney, Holm across the regulariser conditions;
      * trained nets are more modular than at init: the control's z is lower than init's
        (one-sided Mann-Whitney, single test);
      * modularity causes generalisation (observational): within-condition OLS slope of the
        accuracy gap on z has a 95% CI entirely above 0 (more modular = smaller gap);
      * modularity causes generalisation (intervention): block-masked nets have a lower gap
        and a higher held-out accuracy than the control (one-sided Mann-Whitney, Holm across
        the metrics).
    """
    frame = with_conditions(frame)
    rows = []
    for task, runs in frame.groupby("task", sort=False):
        score = primary_score(runs)
        seeds = sorted(runs["seed"].unique().tolist())
        seed_text = f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
        primary = runs[runs["goal"] == PRIMARY_GOAL[task]]
        regulariser = [c for c in primary["condition"].unique() if c.split(" ")[0] in REGULARISER_ARMS]
        has_control = (primary["condition"] == "none").any()

        def add(claim: str, arm: str, evidence: str, verdict_word: str) -> None:
            rows.append(dict(task=task, claim=claim, evidence=evidence + f" [{seed_text}]",
                             literature=literature_text(arm, literature), verdict=verdict_word))

        if has_control and regulariser:
            table = compare_with_control(primary, score, "none", regulariser, claim="lower", alpha=alpha)
            for row in table.itertuples():
                add(f"{row.condition} makes nets more modular", row.condition.split(" ")[0],
                    f"median z {row.median:+.2f} vs control {row.control_median:+.2f}; Holm p = "
                    f"{row.p_claimed_holm:.3f} (n = {row.n})", row.verdict)
        if has_control and (primary["condition"] == "init").any():
            table = compare_with_control(primary, score, "init", ["none"], claim="lower", alpha=alpha).iloc[0]
            raw = score.removesuffix("_z") + "_score"
            init_ncut = primary.loc[primary["condition"] == "init", raw].median()
            none_ncut = primary.loc[primary["condition"] == "none", raw].median()
            add("trained nets are more modular than at init", "init",
                f"median z {table['median']:+.2f} trained vs {table['control_median']:+.2f} init (p = "
                f"{table['p_claimed']:.3f}); raw n-cut {none_ncut:.3f} vs {init_ncut:.3f}", table["verdict"])
        observed = primary[primary["arm"].isin(("none",) + REGULARISER_ARMS)]
        if len(observed) > 2:
            fit = slope_with_ci(observed[score], observed["gap"], observed["condition"])
            add("more modular nets generalise better (across runs)", "observational",
                f"within-condition slope of gap on z {fit['slope']:+.4f} per unit z, 95% CI "
                f"[{fit['low']:+.4f}, {fit['high']:+.4f}], n = {fit['n']}", slope_verdict(fit, claim="positive"))
        if has_control and (primary["arm"] == "block_mask").any():
            block = [c for c in primary["condition"].unique() if c.startswith("block_mask")][0]
            metrics = [("gap", "lower")] + [("test_accuracy", "higher")]
            if primary["heldout_accuracy"].notna().any():
                metrics.append(("heldout_accuracy", "higher"))
            p_claimed, p_opposite, texts = [], [], []
            for metric, claim in metrics:
                row = compare_with_control(primary, metric, "none", [block], claim=claim, alpha=alpha).iloc[0]
                p_claimed.append(row.p_claimed)
                p_opposite.append(row.p_opposite)
                texts.append(f"{metric} {row['median']:.3f} vs {row.control_median:.3f}")
            for (metric, _), text, pc, po in zip(metrics, texts, holm(p_claimed), holm(p_opposite)):
                add(f"hard-wired modules generalise better ({metric})", "intervention",
                    f"block mask vs control: {text}; Holm p = {pc:.3f}", verdict(pc, po, alpha))
    return pd.DataFrame(rows, columns=["task", "claim", "evidence", "literature", "verdict"])


# --- tables and figure panels ------------------------------------------------------------------

def condition_table(frame: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Medians per task and condition: accuracies, gaps, modularity z-scores (n-cut at the first
    k vs 'all' and 'nonzero' shuffles, Louvain Q vs 'all'), runs significantly more modular than
    their shuffles (n-cut p < alpha), and runs whose partition separates the input groups."""
    frame = with_conditions(frame)
    rows = []
    for (task, condition), runs in frame.groupby(["task", "condition"], sort=False):
        score = primary_score(runs)
        rows.append({"task": task, "condition": condition, "runs": len(runs),
                     "train acc": runs["train_accuracy"].median(), "test acc": runs["test_accuracy"].median(),
                     "held-out acc": runs["heldout_accuracy"].median(), "gap": runs["gap"].median(),
                     "n-cut": runs[score.removesuffix("_z") + "_score"].median(),
                     "n-cut z": runs[score].median(), "n-cut z (nonzero null)": runs["nz_" + score].median(),
                     "sig. runs": f"{int((runs[score.removesuffix('_z') + '_p_value'] < alpha).sum())}/{len(runs)}",
                     "Louvain Q": runs["q_louvain_score"].median() if "q_louvain_score" in runs else math.nan,
                     "Q z": runs["q_louvain_z"].median() if "q_louvain_z" in runs else math.nan,
                     "inputs separated": f"{int(runs['inputs_separated'].sum())}/{len(runs)}"})
    return pd.DataFrame(rows)


def modularity_panels(frame: pd.DataFrame, *, score: str | None = None, n_bootstrap: int = 2000,
                      seed: int) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.scores_by_condition`: one per task, every condition
    of the primary goal, ``score`` per run (default: the task's primary n-cut z)."""
    frame = with_conditions(frame)
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        column = score or primary_score(runs)
        runs = runs[runs["goal"] == PRIMARY_GOAL[task]]
        values = {c: runs.loc[runs["condition"] == c, column].to_numpy() for c in runs["condition"].unique()}
        summary = {c: bootstrap_median_ci(v, n_bootstrap=n_bootstrap, seed=seed) for c, v in values.items()}
        name = f"n-cut z at k = {runs['n_clusters'].iloc[0][0]}" if score is None else column
        panels.append(dict(title=f"{task}, goal '{PRIMARY_GOAL[task]}': {name}", runs=values, summary=summary))
    return panels


def gap_panels(frame: pd.DataFrame) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.gap_vs_score`: trained free networks (control and
    regularisers, primary goal), gap against the primary n-cut z, with the within-condition slope."""
    frame = with_conditions(frame)
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        score = primary_score(runs)
        runs = runs[(runs["goal"] == PRIMARY_GOAL[task]) & runs["arm"].isin(("none",) + REGULARISER_ARMS)]
        fit = slope_with_ci(runs[score], runs["gap"], runs["condition"])
        fit |= dict(x_mean=float(np.nanmean(runs[score])), y_mean=float(np.nanmean(runs["gap"])))
        pooled = slope_with_ci(runs[score], runs["gap"])
        points = {c: (g[score].to_numpy(), g["gap"].to_numpy()) for c, g in runs.groupby("condition", sort=False)}
        panels.append(dict(title=f"{task}: {len(runs)} runs", points=points, fit=fit,
                           fit_label=f"within-condition slope {fit['slope']:+.3f} (pooled {pooled['slope']:+.3f})"))
    return panels


def intervention_panels(frame: pd.DataFrame) -> list[dict]:
    """Panels for :func:`modcore.plots.essay.intervention`: control, regularised free nets and
    block-masked nets (primary goal) on gap, test / held-out accuracy and n-cut z (both nulls)."""
    frame = with_conditions(frame)
    panels = []
    for task, runs in frame.groupby("task", sort=False):
        score = primary_score(runs)
        runs = runs[runs["goal"] == PRIMARY_GOAL[task]]
        groups = {"control": runs[runs["arm"] == "none"], "regularised": runs[runs["arm"].isin(REGULARISER_ARMS)],
                  "block mask": runs[runs["arm"] == "block_mask"]}
        columns = {"gap (train - test accuracy)": "gap", "test accuracy": "test_accuracy"}
        if runs["heldout_accuracy"].notna().any():
            columns["held-out combination accuracy"] = "heldout_accuracy"
        columns |= {"n-cut z vs all-weight shuffles": score, "n-cut z vs non-zero shuffles": "nz_" + score}
        metrics = {label: {g: r[column].to_numpy() for g, r in groups.items() if len(r)}
                   for label, column in columns.items()}
        panels.append(dict(title=task, metrics=metrics))
    return panels


def load_literature() -> pd.DataFrame:
    """Filan et al. (2021)'s MLP clusterability numbers (``modcore/data/filan2021_mlp_clusterability.csv``)."""
    return paper_values.load_csv("filan2021_mlp_clusterability")


CLAIM_FAMILIES = {
    "regularisers": "makes nets more modular",
    "init": "more modular than at init",
    "observational": "(across runs)",
    "intervention": "hard-wired modules",
}


def summarise_verdicts(claims: pd.DataFrame) -> dict[str, str]:
    """One sentence per claim family, e.g. ``'retina: 1 supported, 5 inconclusive of 6'``, from
    the verdict column of :func:`claims_table` (for glueing into the notebook's text)."""
    summary = {}
    for family, marker in CLAIM_FAMILIES.items():
        parts = []
        for task, rows in claims[claims["claim"].str.contains(marker, regex=False)].groupby("task", sort=False):
            counts = rows["verdict"].value_counts()
            words = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if v in counts)
            parts.append(f"{task}: {words} (of {len(rows)})")
        summary[family] = "; ".join(parts) if parts else "not run at this profile"
    return summary


def heldout_summary(frame: pd.DataFrame) -> str:
    """Median held-out-combination accuracy of the digit task's control, block-masked and
    two-head networks, as one sentence (or a note when the digit task was not run)."""
    frame = with_conditions(frame)
    digits = frame[frame["task"] == "digits"]
    if digits.empty or digits["heldout_accuracy"].isna().all():
        return "the digit task was not run at this profile"
    parts = []
    for label, rows in [("control", digits[(digits["arm"] == "none") & (digits["goal"] == "sum")]),
                        ("block mask", digits[digits["arm"] == "block_mask"]),
                        ("two-head control", digits[(digits["arm"] == "none") & (digits["goal"] == "both")])]:
        if len(rows):
            parts.append(f"{label} {rows['heldout_accuracy'].median():.3f}")
    return "median held-out-combination accuracy: " + ", ".join(parts) + f" (chance {1 / digit_pairs.N_CLASSES:.1f})"
