"""The essay chapter's runs: settings, arms, networks, training, one run end to end.

The essay *Regularization Causes Modularity Causes Generalization* (dkirmani, LessWrong 2022)
claims that regularisers (dropout, pruning, L1/L2, a connection cost, modularly varying goals)
make networks modular, and that modularity makes them generalise, where generalisation means
doing well on a *related goal* the network never trained on. This module runs the experiment
behind ``notebooks/essay_modularity.py`` (:mod:`modcore.chapters.essay_modularity`);
:mod:`modcore.runs.essay_report` turns the runs into tables, verdicts and figure panels.

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
import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from modcore import modularity
from modcore.models_masked import (PRUNE_END, PRUNE_EVERY, Classifier, block_mask_sizes, block_masks,
                                   clusterable_init_, node_distances, prune_by_magnitude_, prune_sparsity,
                                   random_partition)
from modcore.tasks import digit_pairs, retina
from modcore.tasks.two_halves import (ALTERNATE_GOAL, PRIMARY_GOAL, RELATED_GOAL, TASKS, goal_kind, goal_labels,
                                      n_outputs, random_goal_pool)

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
        loss = _loss(model(x[rows]), labels[goal][rows], goal_kind(config.task, goal))
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
    kind = goal_kind(config.task, related)
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
    kind = goal_kind(config.task, config.goal)
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


# What every stored run of the chapter holds (run_essay); the modularity scores exist only for measured runs.
ESSAY_KEYS = ("train_accuracy", "test_accuracy", "heldout_accuracy", "gap", "train_loss", "test_loss", "chance_loss",
              "transfer_accuracy", "finetune_steps", "finetune_reached", "layer_sizes", "n_params")
