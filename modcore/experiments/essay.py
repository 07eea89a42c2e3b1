"""The essay chapter's runs: settings, arms, networks, training, one run end to end.

The essay *Regularization Causes Modularity Causes Generalization* (dkirmani, LessWrong 2022)
claims that regularisers (dropout, pruning, L1/L2, a connection cost, modularly varying goals)
make networks modular, that modularity makes them generalise, and that trained networks are
more modular than at initialisation. This module runs the experiment behind
``notebooks/essay_modularity.py``; :mod:`modcore.experiments.essay_report` turns its runs into
tables, verdicts and figure panels.

* :class:`EssayRun`, the frozen settings of one run (task, arm, strength, seed, sizes, ...);
* a small classifier MLP whose layers carry a fixed 0/1 weight mask (block-diagonal wiring,
  or the mask grown by magnitude pruning) and optional dropout;
* :func:`run_essay`, the per-run function for :func:`modcore.sweeps.run_sweep`: build the
  task, train with the arm's penalty / pruning / goal switching, evaluate, measure the
  modularity of the weights against the shuffle null (:mod:`modcore.modularity`).

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
import torch
import torch.nn.functional as F
from torch import nn

from modcore import modularity, sweeps
from modcore.tasks import digit_pairs, retina
from modcore.train import resolve_device

ARMS = ("init", "none", "l1", "l2", "weight_decay", "dropout", "prune", "connection_cost", "mvg", "block_mask")
REGULARISER_ARMS = ("l1", "l2", "weight_decay", "dropout", "prune", "connection_cost", "mvg")
TASKS = ("retina", "digits")
PRIMARY_GOAL = {"retina": "and", "digits": "sum"}
# MVG switches to the other goal of the pair; both goals share the task's two sub-problems.
ALTERNATE_GOAL = {"and": "or", "or": "and", "sum": "diff", "diff": "sum"}

# Network sizes and training: our choices for gradient descent on the tasks of Kashtan & Alon
# (retina) and Filan et al. (digit pairs, after their halves-diff task); see the choices page.
TASK_DEFAULTS: dict[str, dict] = {
    # 8-16-8-4-1 tanh, Adam 3e-3, full batch, 3,000 steps, 128/128 split; k = 2 (the
    # left/right split) and 4.
    "retina": dict(goal="and", hidden=(16, 8, 4), activation="tanh", n_steps=3000, lr=3e-3, batch_size=0,
                   n_train=128, n_test=128, n_heldout=0, n_clusters=(2, 4)),
    # input-64-64-10 ReLU, Adam 1e-3, batch 128, 10k pairs x ~15 epochs = 1,200 steps; k = 4 and 12.
    "digits": dict(goal="sum", hidden=(64, 64), activation="relu", n_steps=1200, lr=1e-3, batch_size=128,
                   n_train=10_000, n_test=5_000, n_heldout=2_000, n_clusters=(4, 12)),
}
# One strength per arm unless the caller gives a grid. Our choices (see the choices page): the penalties are sums over weights, so the digit network (~40x more weights) gets
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
    n_steps: int
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
        if self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda[:i]' (resolve 'auto' with modcore.train.resolve_device), "
                             f"got device={self.device!r}")
        if self.task == "retina" and self.n_test != retina.N_PATTERNS - self.n_train:
            raise ValueError(f"retina tests on the other patterns: n_test must be {retina.N_PATTERNS - self.n_train}, "
                             f"got n_test={self.n_test}")
        for name in ("n_steps", "n_train", "n_test", "n_shuffles"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "n_steps" else 1):
                raise ValueError(f"{name} must be a {'non-negative' if name == 'n_steps' else 'positive'} "
                                 f"integer, got {name}={value!r}")

    @property
    def condition(self) -> str:
        """Arm and strength as one label (:func:`condition_label`)."""
        return condition_label(self.arm, self.strength, self.goal, self.task)


ARM_NAMES = {"init": "untrained", "none": "control", "l1": "L1", "l2": "L2", "weight_decay": "weight decay",
             "dropout": "dropout", "prune": "pruned", "connection_cost": "connection cost", "mvg": "MVG",
             "block_mask": "block mask"}


def condition_label(arm: str, strength: float, goal: str, task: str) -> str:
    """A reader's label of an arm at a strength, e.g. ``'L1 0.001'``, ``'pruned to 80%'``,
    ``'block mask, 2 modules'``; a goal other than the task's primary one is appended."""
    if arm in ("init", "none"):
        label = ARM_NAMES[arm]
    elif arm == "prune":
        label = f"pruned to {strength:.0%}"
    elif arm == "mvg":
        label = f"MVG, switch every {strength:g} steps"
    elif arm == "block_mask":
        label = f"block mask, {strength:g} modules"
    else:
        label = f"{ARM_NAMES[arm]} {strength:g}"
    return label if goal == PRIMARY_GOAL[task] else f"{label} ({'two-head' if goal == 'both' else goal})"


def make_configs(tasks: Sequence[str], arms: Sequence[str], seeds: Iterable[int], *,
                 strengths: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
                 n_steps: Mapping[str, int] | None = None, n_train: Mapping[str, int] | None = None,
                 n_shuffles: int = 50, n_louvain_shuffles: int = 10, two_head_control: bool = True,
                 device: str = "auto") -> list[EssayRun]:
    """The grid: every task x arm x strength x seed, task sizes from :data:`TASK_DEFAULTS`.

    ``strengths[task][arm]`` lists the strengths of an arm (default: one, from
    :data:`DEFAULT_STRENGTHS`); ``n_steps`` and ``n_train`` override the task's defaults. With
    ``two_head_control``, the digit task also trains the ``"none"`` arm on the two-head goal.
    """
    device = str(resolve_device(device))
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
        if n_steps and task in n_steps:
            base["n_steps"] = n_steps[task]
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
                            **{**base, "n_steps": 0 if arm == "init" else base["n_steps"]}))
    return configs


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
    periods_before_end = (config.n_steps - 1 - step) // int(config.strength)
    return config.goal if periods_before_end % 2 == 0 else ALTERNATE_GOAL[config.goal]


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
    """Train in place for ``config.n_steps`` steps with the arm's penalty, pruning or goal switching."""
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
    for step in range(config.n_steps):
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
        if config.arm == "prune" and step % PRUNE_EVERY == 0 and step <= PRUNE_END * config.n_steps:
            prune_by_magnitude_(model, prune_sparsity(step, config.n_steps, config.strength))
        for layer in model.layers:
            layer.apply_mask_()
    if config.arm == "prune" and config.n_steps > 0:  # the schedule ends exactly at the final sparsity
        prune_by_magnitude_(model, prune_sparsity(config.n_steps, config.n_steps, config.strength))
    model.eval()


@torch.no_grad()
def evaluate(model: Classifier, x: np.ndarray, y: np.ndarray, goal: str) -> tuple[float, float]:
    """(accuracy, mean loss) in eval mode: dropout off, so train accuracy is not biased down."""
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




# --- the chapter's sweep ------------------------------------------------------------------------

def strength_grid(*, retina_l1_values: Sequence[float], digits_l1_values: Sequence[float],
                  retina_l2_values: Sequence[float], digits_l2_values: Sequence[float],
                  retina_connection_cost_values: Sequence[float], digits_connection_cost_values: Sequence[float],
                  weight_decay_values: Sequence[float], dropout_values: Sequence[float],
                  prune_sparsity_values: Sequence[float], mvg_period: int) -> dict[str, dict[str, list[float]]]:
    """The notebook's strength parameters as ``strengths[task][arm]`` for :func:`make_configs`."""
    shared = dict(weight_decay=list(weight_decay_values), dropout=list(dropout_values),
                  prune=list(prune_sparsity_values), mvg=[mvg_period])
    return {"retina": dict(l1=list(retina_l1_values), l2=list(retina_l2_values),
                           connection_cost=list(retina_connection_cost_values), **shared),
            "digits": dict(l1=list(digits_l1_values), l2=list(digits_l2_values),
                           connection_cost=list(digits_connection_cost_values), **shared)}


def run_chapter(*, tasks: Sequence[str], arms: Sequence[str], seed: int, n_seeds: int,
                strengths: Mapping[str, Mapping[str, Sequence[float]]], retina_n_steps: int, digits_n_steps: int,
                digits_n_train: int, n_shuffles: int, n_louvain_shuffles: int, two_head_control: bool,
                device: str, results_dir: str | None):
    """Every run of the chapter (seeds ``seed .. seed + n_seeds - 1``), read from or added to the
    results store; returns the sweep's frame of runs."""
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds=}")
    configs = make_configs(tasks, arms, range(seed, seed + n_seeds), strengths=strengths,
                           n_steps={"retina": retina_n_steps, "digits": digits_n_steps},
                           n_train={"digits": digits_n_train}, n_shuffles=n_shuffles,
                           n_louvain_shuffles=n_louvain_shuffles, two_head_control=two_head_control, device=device)
    return sweeps.run_sweep(run_essay, configs, sweeps.resolve_store(results_dir, "essay_modularity"),
                            desc="essay runs")
