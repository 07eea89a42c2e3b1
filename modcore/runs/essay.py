"""The essay chapter's runs: arms, one run's configuration, its network and goal schedule, the run end to end.

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

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from modcore import modularity, train_classifier
from modcore.models_masked import Classifier, block_mask_sizes, block_masks, clusterable_init_, random_partition
from modcore.runtime import seeded, single_threaded
from modcore.tasks import digit_pairs, retina
from modcore.tasks.two_halves import (ALTERNATE_GOAL, PRIMARY_GOAL, RELATED_GOAL, TASKS, goal_kind, goal_labels,
                                      n_outputs, random_goal_pool)
from modcore.train_classifier import ClassifierTraining

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
                             f"modcore.runtime.resolve_device), got device={self.device!r}")
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


def training(config: EssayRun) -> ClassifierTraining:
    """How the run's network is trained: the arm's penalty, weight decay or pruning at its strength."""
    penalty = config.arm if config.arm in train_classifier.PENALTIES else "none"
    return ClassifierTraining(n_steps=config.n_steps, lr=config.lr, batch_size=config.batch_size, penalty=penalty,
                              penalty_strength=config.strength if penalty != "none" else 0.0,
                              weight_decay=config.strength if config.arm == "weight_decay" else 0.0,
                              prune_sparsity=config.strength if config.arm == "prune" else 0.0)


def train_run(model: Classifier, x: torch.Tensor, parts: torch.Tensor, config: EssayRun, *,
              generator: torch.Generator) -> None:
    """Train in place on the run's goal schedule (:func:`goal_at`) with the arm's regulariser.
    ``parts`` (n, 2) holds the sub-labels every goal is computed from."""
    def labels_of(goal):
        return (torch.as_tensor(goal_labels(config.task, goal, parts.cpu().numpy()), device=x.device),
                goal_kind(config.task, goal))

    train_classifier.train(model, x, training(config), labels_of=labels_of, goal_at=lambda step: goal_at(step, config),
                           generator=generator)


# --- one run ---------------------------------------------------------------------------------

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

    Returns accuracies on G1 (train in eval mode, test, held-out combinations) and their gap,
    the final training loss beside the chance loss (for the divergence check), generalisation
    to G2 (readout accuracy, fine-tuning steps), the network's size and sparsity, and its
    modularity (see the module docstring).
    """
    data = task_data(config)
    kind = goal_kind(config.task, config.goal)
    y_train = goal_labels(config.task, config.goal, data.parts_train)
    y_test = goal_labels(config.task, config.goal, data.parts_test)
    # seeded init and dropout without touching the caller's generators
    with seeded(config.seed), single_threaded():
        model = build_model(config, data.x_train.shape[1], data.input_groups).to(config.device)
        generator = torch.Generator().manual_seed(config.seed)
        train_run(model, torch.as_tensor(data.x_train, device=config.device),
                  torch.as_tensor(data.parts_train, device=config.device), config, generator=generator)
        train_acc, train_loss = train_classifier.evaluate(model, data.x_train, y_train, kind)
        test_acc, test_loss = train_classifier.evaluate(model, data.x_test, y_test, kind)
        heldout_acc = math.nan
        if data.x_heldout is not None:
            heldout_acc, _ = train_classifier.evaluate(model, data.x_heldout, data.y_heldout[config.goal], kind)
        finite = math.isfinite(train_loss) and all(np.isfinite(w).all() for w in model.weight_matrices())
        transfer, steps, reached = math.nan, math.nan, False
        if finite and config.measure:
            # generalisation to the related goal G2: a readout of the frozen hidden units fitted on
            # the first n_transfer training inputs, and full fine-tuning on every training input
            related, fit = RELATED_GOAL[config.task], slice(0, config.n_transfer)
            transfer = train_classifier.readout_accuracy(
                model, data.x_train[fit], goal_labels(config.task, related, data.parts_train[fit]),
                data.x_test, goal_labels(config.task, related, data.parts_test))
            steps, reached = train_classifier.finetune_steps(
                model, data.x_train, goal_labels(config.task, related, data.parts_train),
                goal_kind(config.task, related), lr=config.lr, batch_size=config.batch_size,
                n_steps=config.n_finetune_steps, criterion=config.finetune_criterion, generator=generator)
    result = {
        "train_accuracy": train_acc, "test_accuracy": test_acc, "heldout_accuracy": heldout_acc,
        "gap": train_acc - test_acc, "train_loss": train_loss, "test_loss": test_loss,
        "chance_loss": train_classifier.chance_loss(y_train, kind), "transfer_accuracy": transfer,
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
