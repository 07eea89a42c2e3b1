"""The compositional image chapters (notebooks ``compositional_images``, ``robustness`` and
``projections``): the paper's Fig. 4b, its out-of-distribution and noise table, Table 2 and Fig. 12.

Boopathy et al. (ICLR 2025), Section 5 and Fig. 4b: k images side by side, every slot's class
predicted; three methods compared at (about) equal parameter counts:

- ``monolithic``: an MLP on the whole composite, k * 10 logits (:class:`modcore.models.MLPSpec`);
- ``modular``: K modules, each a learned linear projection U_i of the whole composite to b dims
  then an MLP emitting all k * 10 logits; the per-slot logits are the modules' summed outputs
  (scaled by K^-1/2, :class:`modcore.models.ModularSpec` with ``output_dim = k * 10``); U random;
- ``kernel_rule``: the same modular net with U initialised by Algorithm 1
  (:func:`modcore.kernel_rule.kernel_rule_init`) on the multi-output objective Tr(Y^T K^-1 Y).

Our choices where the paper is silent (listed on the book's choices page):

- K = ``modules_per_slot`` * k modules (one reading of the "5 x k" the paper's appendix is said
  to use; 2 by default to fit a CPU), module input dimension b = ``module_dim``, module MLPs of
  two hidden layers of ``module_width`` ReLU units; the MLP's width is the one whose exact
  parameter count is closest to the modular net's (:data:`PARAMS_TOLERANCE` states the match).
- Inputs standardised with the training set's statistics: each input's mean removed, then one
  overall standard deviation divided out (a per-input one would blow up the always-blank border
  pixels of the digits). Noisy and held-out test sets use the same statistics.
- Training: per-slot 10-way cross-entropy, Adam (lr ``lr``), minibatches of ``batch_size``,
  ``n_epochs`` epochs over the n composites (1: the paper's single epoch).
- Kernel-rule labels Y: the one-hot labels of all k slots side by side (n x 10k), centred (each
  column's mean removed, i.e. one-hot minus 1/10), so that no direction is rewarded for fitting
  the constant. Kernel: the empirical NTK of the module network at initialisation with a scalar
  head (its hidden layers are exactly the multi-output module's; the multi-output NTK's
  off-diagonal output blocks vanish in expectation, so one scalar kernel shared by all outputs is
  the usual reduction). Steps ``kernel_n_steps``, minibatch ``kernel_batch_size``, other
  settings :class:`modcore.kernel_rule.KernelRuleSettings`' defaults.
- Seeds: seed s fixes the digits' train/test split, the composites and the initialisation; the
  three methods with the same seed see the same data and, for the two modular nets, the same
  initial module weights (paired comparisons).

On Compositional Digits (the offline default) absolute accuracies are not comparable with the
paper's CIFAR-10 numbers; every verdict compares orderings and gaps only.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from modcore import kernel_rule, paper_values, scorecard, sweeps
from modcore.models import MLPSpec, ModularSpec, stack_init
from modcore.seeds import derive_seed
from modcore.tasks import compositional as comp
from modcore.tasks.cifar10 import HOW_TO_GET, OFFICIAL_MD5, Cifar10NotFoundError, find_batch_dir
from modcore.train import TrainSettings, classification_metrics, resolve_device, train_ensemble

METHODS = ("monolithic", "modular", "kernel_rule")
METHOD_LABELS = {"monolithic": "monolithic MLP", "modular": "modular, random U",
                 "kernel_rule": "modular, kernel-rule U"}
# The paper's figure labels, as in modcore/data/fig4b_digitised.csv.
PAPER_METHODS = {"monolithic": "baseline monolithic", "modular": "baseline modular", "kernel_rule": "ours"}
N_CLASSES = 10
# Parameter counts of the MLP and the modular net may differ by at most this fraction (the MLP's
# width moves in steps; the closest width is always well inside it for the nets used here).
PARAMS_TOLERANCE = 0.02
# A method leads (trails) another at one setting when their paired mean difference over seeds is
# more than this many standard errors above (below) zero. Our choice, fixed before the numbers.
LEAD_SE = 2.0
# Fig. 12: a module "attends to one image" when at least this share of its projection's squared
# weight falls on one slot (1/k for a module that reads all slots evenly). Our choice.
FOCUS_SHARE = 0.5
# Table 2: nonlinear projections "work as well" when their accuracy is within this many points
# (fraction 0.02) of the linear ones, or within LEAD_SE standard errors. Our choice.
AS_WELL_TOLERANCE = 0.02
# Measured on the 2-core machine (benchmarks/compositional.py): effective training throughput in
# multiply-add FLOPs x 2 per second, and seconds per kernel-rule restart-step at B = 128; used
# only for the cost printed before a sweep.
TRAIN_FLOPS_PER_SECOND = 4e9
KERNEL_SECONDS_PER_RESTART_STEP = 4e-3

# What Algorithm 1 fits on composites (see CompositionalRun.kernel_labels).
KERNEL_LABELS = ("all_slots", "per_slot")
REQUIRED_KEYS = ("accuracy", "all_slots_accuracy", "train_accuracy", "test_cross_entropy")


@dataclasses.dataclass(frozen=True)
class CompositionalRun:
    """One model (one method, one seed) trained on one compositional task; everything that fixes
    its numbers. ``heldout_fraction`` (None: no OOD split) and ``input_noise`` (0: no noisy test
    set) add the robustness test sets; ``projection_activation`` (None: linear) makes the modular
    projections nonlinear (Table 2); ``record_projections`` stores each module's pixel weights;
    ``kernel_labels`` (kernel rule only) is what Algorithm 1 fits: "all_slots" (the algorithm as
    written: every restart fits every slot's labels) or "per_slot" (our variant: the restarts of
    modules_per_slot modules per slot each fit one slot's labels)."""

    method: str
    n_slots: int
    seed: int
    dataset: str = "digits"
    n_train: int = 4000
    n_test: int = 1000
    n_epochs: int = 1
    batch_size: int = 32
    lr: float = 1e-3
    modules_per_slot: int = 2
    module_dim: int = 16
    module_width: int = 32
    depth: int = 2
    kernel_n_steps: int = 50
    kernel_batch_size: int = 128
    heldout_fraction: float | None = None
    input_noise: float = 0.0
    projection_activation: str | None = None
    record_projections: bool = False
    kernel_labels: str = "all_slots"
    device: str = "cpu"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got method={self.method!r}")
        if self.dataset not in comp.DATASETS:
            raise ValueError(f"dataset must be one of {comp.DATASETS}, got dataset={self.dataset!r}")
        comp._check_n_slots(self.n_slots)
        for name in ("n_train", "n_test", "n_epochs", "batch_size", "modules_per_slot", "module_dim",
                     "module_width", "depth", "kernel_batch_size"):
            comp._check_count(name, getattr(self, name))
        if not (isinstance(self.kernel_n_steps, int) and self.kernel_n_steps >= 0):
            raise ValueError(f"kernel_n_steps must be a non-negative integer, got kernel_n_steps={self.kernel_n_steps!r}")
        if self.heldout_fraction is not None and not 0 < self.heldout_fraction < 1:
            raise ValueError(f"heldout_fraction must be in (0, 1), got heldout_fraction={self.heldout_fraction!r}")
        comp._check_input_noise(self.input_noise)
        if self.projection_activation is not None and self.method == "monolithic":
            raise ValueError("projection_activation applies to the modular methods, not method='monolithic'")
        if self.projection_activation is not None and self.method == "kernel_rule":
            # Algorithm 1 fits a linear projection; a nonlinear one would start from a U fitted for another model
            raise ValueError("the kernel rule fits linear projections: projection_activation must be None "
                             "for method='kernel_rule'")
        if self.kernel_labels not in KERNEL_LABELS:
            raise ValueError(f"kernel_labels must be one of {KERNEL_LABELS}, got kernel_labels={self.kernel_labels!r}")
        if self.kernel_labels != "all_slots" and self.method != "kernel_rule":
            raise ValueError(f"kernel_labels applies to method='kernel_rule' only, got method={self.method!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got device={self.device!r}")
        self.spec()  # raises for an impossible network

    @property
    def n_modules(self) -> int:
        return self.modules_per_slot * self.n_slots

    @property
    def input_dim(self) -> int:
        height, width, channels = IMAGE_SHAPES[self.dataset]
        return height * width * channels * self.n_slots

    def modular_spec(self) -> ModularSpec:
        return ModularSpec(self.input_dim, self.n_modules, self.module_width, self.depth, self.module_dim,
                           output_dim=self.n_slots * N_CLASSES, projection_activation=self.projection_activation)

    def spec(self) -> MLPSpec | ModularSpec:
        """The network of this run; the MLP gets the modular net's parameter count."""
        modular = self.modular_spec()
        if self.method != "monolithic":
            return modular
        return MLPSpec.for_n_params(modular.n_params, self.input_dim, self.depth,
                                    output_dim=self.n_slots * N_CLASSES)

    def n_steps(self) -> int:
        return self.n_epochs * math.ceil(self.n_train / self.batch_size)

    def ensemble_key(self) -> tuple:
        """Runs with equal keys train together as one ensemble (they differ in the seed only)."""
        fields = dataclasses.asdict(self)
        fields.pop("seed")
        return tuple(sorted(fields.items()))

    def estimated_seconds(self) -> float:
        """Rough cost on the 2-core machine (see TRAIN_FLOPS_PER_SECOND)."""
        flops = 3 * self.spec().flops_per_example() * self.n_steps() * self.batch_size
        kernel = (KERNEL_SECONDS_PER_RESTART_STEP * self.n_modules * self.kernel_n_steps
                  * (min(self.kernel_batch_size, self.n_train) / 128) ** 2 if self.method == "kernel_rule" else 0.0)
        return flops / TRAIN_FLOPS_PER_SECOND + kernel


IMAGE_SHAPES = {"digits": (8, 8, 1), "cifar10": (32, 32, 3)}
DATASET_NAMES = {"digits": "Compositional Digits (a stand-in for CIFAR-10)", "cifar10": "Compositional CIFAR-10"}


@functools.lru_cache(maxsize=4)
def _source(dataset: str, cifar10_path: str | None, seed: int) -> comp.ImageSplits:
    # the CIFAR-10 md5 check reads 180 MB: once per process
    return comp.load_images(dataset, cifar10_path=cifar10_path, seed=seed)


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """One run's standardised inputs and labels: train, and the test sets (None when absent)."""

    x_train: np.ndarray
    y_train: np.ndarray
    tests: dict  # name -> (x, labels): "test", "noisy", "heldout"
    image_shape: tuple


def prepare_data(run: CompositionalRun, cifar10_path: str | None = None) -> PreparedData:
    """Composites of ``run``, standardised by the training set (see the module docstring)."""
    source = _source(run.dataset, cifar10_path, run.seed)
    task = comp.compositional_task(source, run.n_slots, run.n_train, run.n_test,
                                   heldout_fraction=run.heldout_fraction, input_noise=run.input_noise,
                                   seed=derive_seed(run.seed, 1))
    mean = task.train.x.mean(axis=0, dtype=np.float64)
    scale = float(np.sqrt(((task.train.x - mean) ** 2).mean()))
    standardise = lambda x: ((x - mean) / scale).astype(np.float32)  # noqa: E731
    tests = {"test": task.test, "noisy": task.test_noisy, "heldout": task.test_heldout}
    return PreparedData(standardise(task.train.x), task.train.labels,
                        {name: (standardise(c.x), c.labels) for name, c in tests.items() if c is not None},
                        task.image_shape)


def kernel_rule_labels(labels: np.ndarray) -> np.ndarray:
    """One-hot labels of all slots side by side, centred: (.., n, k) -> (.., n, 10 k)."""
    one_hot = np.eye(N_CLASSES)[labels]  # (.., n, k, 10)
    return (one_hot - 1.0 / N_CLASSES).reshape(*labels.shape[:-1], -1)


def kernel_rule_spec(spec: ModularSpec, x_train: np.ndarray, labels: np.ndarray, seeds: Sequence[int], *,
                     n_steps: int, batch_size: int, device: str = "cpu") -> ModularSpec:
    """``spec`` whose projections start from Algorithm 1's, per seed. The kernel's network is the
    module with a scalar head (see the module docstring); x (E, n, m), labels (E, n, k)."""
    settings = kernel_rule.KernelRuleSettings(n_steps=n_steps, batch_size=min(batch_size, x_train.shape[-2]))
    scalar = dataclasses.replace(spec, output_dim=1, init_projections=None)
    fitted = kernel_rule.kernel_rule_init(scalar, x_train, kernel_rule_labels(labels), seeds=seeds,
                                          settings=settings, device=device)
    return spec.with_init_projections({seed: fitted.projections[e] for e, seed in enumerate(fitted.seeds)})


def per_slot_kernel_rule_spec(spec: ModularSpec, x_train: np.ndarray, labels: np.ndarray, seeds: Sequence[int], *,
                              modules_per_slot: int, n_steps: int, batch_size: int,
                              device: str = "cpu") -> ModularSpec:
    """Our per-slot reading of Algorithm 1: module i (of K = modules_per_slot * k) is fitted to
    the centred one-hot labels of slot i // modules_per_slot only. Each slot's restarts run as one
    call of the rule on a network of modules_per_slot modules, so their random starts and kernel
    networks are draws of their own (seeded from the run's seed and the slot), not the random-init
    net's: a labelled variant, not a paired one."""
    n_slots = labels.shape[-1]
    settings = kernel_rule.KernelRuleSettings(n_steps=n_steps, batch_size=min(batch_size, x_train.shape[-2]))
    per_slot = dataclasses.replace(spec, n_modules=modules_per_slot, output_dim=1, init_projections=None)
    fitted = [kernel_rule.kernel_rule_init(per_slot, x_train, kernel_rule_labels(labels[..., slot:slot + 1]),
                                           seeds=[derive_seed(seed, 5, slot) for seed in seeds], settings=settings,
                                           device=device).projections  # (E, modules_per_slot, m, b)
              for slot in range(n_slots)]
    projections = np.concatenate(fitted, axis=1)  # (E, K, m, b), slot-major like the modules
    return spec.with_init_projections({seed: projections[e] for e, seed in enumerate(seeds)})


def projection_weights(spec: ModularSpec, projection: torch.Tensor | np.ndarray) -> np.ndarray:
    """Each module's squared projection weight per input, summed over its b columns: (K, m)."""
    u = np.asarray(projection, dtype=np.float64).reshape(spec.input_dim, spec.n_modules, spec.module_dim)
    return (u ** 2).sum(axis=2).T


def slot_shares(weights: np.ndarray, image_shape: tuple, n_slots: int) -> np.ndarray:
    """Share of each module's squared weight on each slot: (K, m) -> (K, k), rows sum to 1."""
    per_slot = comp.split_slots(weights, image_shape, n_slots).sum(axis=(-3, -2, -1))  # (K, k)
    return per_slot / per_slot.sum(axis=1, keepdims=True)


def _start_cosines(spec: ModularSpec, seeds: Sequence[int]) -> list[float]:
    """Per model: mean over the K * b projection columns of |cos| between Algorithm 1's output and
    its random start (the random-init net's U with the same seed): how far the rule moved U."""
    start = stack_init(dataclasses.replace(spec, init_projections=None), seeds)[0].double()  # (E, m, K*b)
    fitted = stack_init(spec, seeds)[0].double()
    cosine = (start * fitted).sum(1) / (start.norm(dim=1) * fitted.norm(dim=1))  # (E, K*b)
    return cosine.abs().mean(dim=1).tolist()


def run_batch(runs: Sequence[CompositionalRun], cifar10_path: str | None = None) -> list[dict]:
    """Train ``runs`` (equal ``ensemble_key()``) as one ensemble; one result per run, in order.

    Each result: ``accuracy`` (mean slot accuracy on the in-distribution test set),
    ``all_slots_accuracy``, ``train_accuracy``, ``test_cross_entropy``, ``noisy_accuracy`` and
    ``heldout_accuracy`` (None without that test set), ``n_params_actual``, ``width``,
    ``start_cosine`` (kernel rule only, see :func:`_start_cosines`; else None), and for the
    modular methods ``max_slot_share`` (per module, trained) with, if ``record_projections``,
    ``projection_weights`` (K x m, trained) and ``initial_projection_weights``.
    """
    runs = list(runs)
    if len({run.ensemble_key() for run in runs}) != 1:
        raise ValueError("run_batch needs runs that share ensemble_key(); group them with batch_by")
    first = runs[0]
    spec = first.spec()
    data = [prepare_data(run, cifar10_path) for run in runs]
    x_train, y_train = np.stack([d.x_train for d in data]), np.stack([d.y_train for d in data])
    seeds = [derive_seed(run.seed, 3) for run in runs]
    if first.method == "kernel_rule" and first.kernel_labels == "per_slot":
        spec = per_slot_kernel_rule_spec(spec, x_train, y_train, seeds, modules_per_slot=first.modules_per_slot,
                                         n_steps=first.kernel_n_steps, batch_size=first.kernel_batch_size,
                                         device=first.device)
    elif first.method == "kernel_rule":
        spec = kernel_rule_spec(spec, x_train, y_train, seeds, n_steps=first.kernel_n_steps,
                                batch_size=first.kernel_batch_size, device=first.device)
    start_cosine = [None] * len(runs)
    if first.method == "kernel_rule":
        start_cosine = _start_cosines(spec, seeds)
    settings = TrainSettings(n_steps=first.n_steps(), lr=first.lr, batch_size=first.batch_size, loss="cross_entropy")
    x_test, y_test = (np.stack([d.tests["test"][i] for d in data]) for i in (0, 1))
    result = train_ensemble(spec, seeds, x_train, y_train, x_test, y_test, settings=settings, device=first.device)
    curves = result.classification
    device = resolve_device(first.device)
    params = [p.to(device) for p in result.params]
    extra = {}
    for name in ("noisy", "heldout"):
        if name in data[0].tests:
            x, y = (torch.as_tensor(np.stack([d.tests[name][i] for d in data]), device=device) for i in (0, 1))
            with torch.no_grad():
                extra[name] = classification_metrics(spec, params, x, y)["accuracy"]
    results = []
    for e, run in enumerate(runs):
        row = {"accuracy": float(curves["test_accuracy"][e, -1]),
               "all_slots_accuracy": float(curves["test_all_slots_accuracy"][e, -1]),
               "train_accuracy": float(curves["train_accuracy"][e, -1]),
               "test_cross_entropy": float(curves["test_cross_entropy"][e, -1]),
               "noisy_accuracy": float(extra["noisy"][e]) if "noisy" in extra else None,
               "heldout_accuracy": float(extra["heldout"][e]) if "heldout" in extra else None,
               "n_params_actual": spec.n_params, "width": spec.width, "n_modules": getattr(spec, "n_modules", 1),
               "start_cosine": start_cosine[e]}
        if run.method != "monolithic":
            trained = projection_weights(spec, result.params[0][e])
            row["max_slot_share"] = slot_shares(trained, data[e].image_shape, run.n_slots).max(axis=1).tolist()
            if run.record_projections:
                initial = projection_weights(spec, stack_init(spec, [seeds[e]])[0][0])
                row["projection_weights"] = trained.round(6).tolist()
                row["initial_projection_weights"] = initial.round(6).tolist()
        results.append(row)
    return results


def sweep(runs: Sequence[CompositionalRun], store: sweeps.ResultStore, *, cifar10_path: str | None = None,
          desc: str = "compositional") -> pd.DataFrame:
    """Train (or read back from ``store``) every run; one row per run, diverged runs flagged.

    CIFAR-10 runs check that the batches exist before anything trains, and train one seed at a
    time (a k = 8 composite has 24,576 inputs: one seed's training set alone can take GBs)."""
    runs = list(runs)
    cifar = any(run.dataset == "cifar10" for run in runs)
    if cifar:
        batch_dir = find_batch_dir(cifar10_path)
        missing = [name for name in OFFICIAL_MD5 if not (batch_dir / name).is_file()]
        if missing:
            raise Cifar10NotFoundError(f"CIFAR-10 cifar10_path={cifar10_path!r}: {batch_dir} lacks "
                                       f"{', '.join(missing)}. {HOW_TO_GET}")
    return sweeps.run_sweep(functools.partial(run_batch, cifar10_path=cifar10_path), runs, store,
                            batch_by=CompositionalRun.ensemble_key, max_batch=1 if cifar else 64, desc=desc,
                            required_keys=REQUIRED_KEYS, finite_keys=REQUIRED_KEYS)


def design(methods: Sequence[str], n_slots_values: Sequence[int], *, seed: int, n_seeds: int, device: str = "auto",
           **protocol) -> list[CompositionalRun]:
    """Every (method, k, seed) run; ``protocol`` (dataset, n_train, ...) goes to every run."""
    if not (isinstance(n_seeds, int) and n_seeds >= 1):
        raise ValueError(f"n_seeds must be a positive integer, got n_seeds={n_seeds!r}")
    if len(n_slots_values) == 0:
        raise ValueError("n_slots_values must hold at least one k, got n_slots_values=[]")
    device = resolve_device(device).type
    return [CompositionalRun(method, int(k), seed + s, device=device, **protocol)
            for k in n_slots_values for method in methods for s in range(n_seeds)]


def estimated_minutes(runs: Sequence[CompositionalRun]) -> float:
    return sum(run.estimated_seconds() for run in runs) / 60


def healthy(frame: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not diverge: the only ones any mean or verdict uses."""
    return frame[~frame.diverged.astype(bool)]


def parameter_table(runs: Sequence[CompositionalRun]) -> pd.DataFrame:
    """Parameter count and width of each method at each k, and the MLP's gap to the modular net."""
    rows = []
    for k in sorted({run.n_slots for run in runs}):
        run = next(r for r in runs if r.n_slots == k)
        counts = {m: dataclasses.replace(run, method=m, projection_activation=None).spec() for m in METHODS}
        rows.append(dict(n_slots=k, input_dim=run.input_dim, n_modules=run.n_modules,
                         modular_n_params=counts["modular"].n_params, module_width=counts["modular"].width,
                         monolithic_n_params=counts["monolithic"].n_params, monolithic_width=counts["monolithic"].width,
                         relative_gap=counts["monolithic"].n_params / counts["modular"].n_params - 1))
    return pd.DataFrame(rows)


def max_parameter_gap(runs: Sequence[CompositionalRun]) -> float:
    return float(parameter_table(runs).relative_gap.abs().max())


# --- summaries and verdict rules (numbers in, words out) -------------------------------------


def accuracy_table(frame: pd.DataFrame, column: str = "accuracy", by: str = "n_slots") -> pd.DataFrame:
    """Mean, standard error and healthy-run count of ``column`` per (``by``, method)."""
    grouped = healthy(frame).groupby([by, "method"])[column]
    table = grouped.agg(mean="mean", se=lambda v: v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan,
                        n_runs="count").reset_index()
    return table


def paired_difference(frame: pd.DataFrame, method: str, other: str, column: str = "accuracy",
                      by: str = "n_slots") -> pd.DataFrame:
    """Mean and standard error over seeds of ``method`` minus ``other`` per ``by``, on the seeds
    where both are healthy (same seed: same data, so the difference is paired)."""
    pivot = healthy(frame).pivot_table(index=[by, "seed"], columns="method", values=column)
    rows = []
    for value, block in pivot.groupby(level=0):
        diff = (block.get(method) - block.get(other)).dropna() if method in block and other in block else pd.Series([])
        se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else math.nan
        rows.append({by: value, "difference": diff.mean() if len(diff) else math.nan, "se": se, "n_pairs": len(diff)})
    return pd.DataFrame(rows)


def comparison(difference: float, se: float) -> str:
    """'leads', 'trails' or 'tied' by the LEAD_SE rule (tied when there is no standard error)."""
    if not (math.isfinite(difference) and math.isfinite(se)):
        return "tied"
    if difference - LEAD_SE * se > 0:
        return "leads"
    if difference + LEAD_SE * se < 0:
        return "trails"
    return "tied"


def gap_slope(n_slots_values: Sequence[float], gaps: Sequence[float]) -> float:
    """Least-squares slope of the kernel rule's lead over the best baseline against k."""
    k, g = np.asarray(n_slots_values, dtype=float), np.asarray(gaps, dtype=float)
    keep = np.isfinite(g)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(k[keep], g[keep], 1)[0])


def fig4b_verdict(standing: Sequence[str], slope: float) -> str:
    """The paper's claim "most accurate at every k, and its lead grows with k":
    'agree' if the kernel rule leads at every k and its lead over the best baseline grows
    (positive slope against k); 'disagree' if it trails at some k or leads at none; else 'partly'."""
    standing = list(standing)
    if not standing or "trails" in standing or "leads" not in standing:
        return "disagree"
    if all(word == "leads" for word in standing) and math.isfinite(slope) and slope > 0:
        return "agree"
    return "partly"


def paper_fig4b() -> pd.DataFrame:
    """The paper's Fig. 4b (digitised): n_slots, method, mean."""
    paper = paper_values.load_csv("fig4b_digitised")
    fig = paper[paper.source == "fig4b"].copy()
    names = {label: method for method, label in PAPER_METHODS.items()}
    return pd.DataFrame({"n_slots": fig.n_slots.astype(int), "method": fig.method.map(names),
                         "mean": fig.accuracy.astype(float)})


def paper_robustness() -> pd.DataFrame:
    """The paper's robustness table: method, heldout_accuracy, noisy_accuracy (fractions)."""
    paper = paper_values.load_csv("fig4b_digitised")
    table = paper[paper.source == "robustness_table"]
    names = {label: method for method, label in PAPER_METHODS.items()}
    wide = table.pivot(index="method", columns="quantity", values="accuracy")
    wide.index = wide.index.map(names)
    return wide.rename(columns={"heldout": "heldout_accuracy", "noisy": "noisy_accuracy"}).loc[list(METHODS)]


def ordering(means: Mapping[str, float]) -> str:
    """The methods from most to least accurate, e.g. 'kernel_rule > modular > monolithic'."""
    return " > ".join(sorted(means, key=lambda m: -means[m]))


def robustness_verdict(heldout: str, noisy: str) -> str:
    """The paper's claim "most accurate on unseen combinations and under noise", from the kernel
    rule's standing on each ('leads', 'tied', 'trails'): 'agree' if it leads on both, 'disagree'
    if it trails on either or leads on neither, else 'partly'."""
    words = [heldout, noisy]
    if words == ["leads", "leads"]:
        return "agree"
    if "trails" in words or "leads" not in words:
        return "disagree"
    return "partly"


def focus_fraction(max_shares: Sequence[Sequence[float]]) -> float:
    """Fraction of modules (pooled over runs) whose largest slot share is at least FOCUS_SHARE."""
    shares = np.concatenate([np.asarray(s, dtype=float) for s in max_shares]) if len(max_shares) else np.array([])
    return float((shares >= FOCUS_SHARE).mean()) if shares.size else math.nan


def fig12_verdict(kernel_focus: float, random_focus: float) -> str:
    """The paper's claim "each learned projection attends to one image": 'agree' if at least 3/4
    of the kernel-rule modules attend to one slot (largest slot share >= FOCUS_SHARE), 'partly' if
    at least 1/4 do and more than in the random-init net, else 'disagree'."""
    if not math.isfinite(kernel_focus):
        return "disagree"
    if kernel_focus >= 0.75:
        return "agree"
    if kernel_focus >= 0.25 and kernel_focus > random_focus:
        return "partly"
    return "disagree"


def as_well(difference: float, se: float) -> str:
    """'as well' if |difference| <= AS_WELL_TOLERANCE or the difference is not distinguishable
    from 0 (within LEAD_SE s.e.); else 'better' or 'worse'."""
    if not math.isfinite(difference):
        return "worse"
    if abs(difference) <= AS_WELL_TOLERANCE or comparison(difference, se) == "tied":
        return "as well"
    return "better" if difference > 0 else "worse"


def table2_verdict(in_distribution: str, out_of_distribution: str) -> str:
    """The paper's claim "nonlinear projections work as well as linear ones": 'agree' if they do
    as well or better in and out of distribution, 'disagree' if worse in both, else 'partly'."""
    words = [in_distribution, out_of_distribution]
    if "worse" not in words:
        return "agree"
    if words == ["worse", "worse"]:
        return "disagree"
    return "partly"


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %" if math.isfinite(value) else "n/a"


# --- the two comparisons every claim is split into ---------------------------------------------

# What the method controls: kernel-rule vs random projections in the same modular network (the rule
# alone), and the kernel-rule modular network vs the MLP of the same size (architecture and rule),
# which is the comparison the paper's figure draws. The random-U modular net vs the MLP (the
# architecture alone) is shown beside them.
PAIRS = {"kernel_vs_random": ("kernel_rule", "modular"), "modular_vs_mlp": ("kernel_rule", "monolithic"),
         "architecture": ("modular", "monolithic")}
PAIR_LABELS = {"kernel_vs_random": "kernel-rule U vs random U (same modular net)",
               "modular_vs_mlp": "kernel-rule modular net vs MLP",
               "architecture": "random-U modular net vs MLP (architecture alone)"}
CLAIM_PAIRS = ("kernel_vs_random", "modular_vs_mlp")


def points(value: float) -> float:
    """An accuracy difference (a fraction) in percentage points."""
    return 100 * float(value)


def _points_text(difference: float, se: float) -> str:
    if not math.isfinite(difference):
        return "n/a"
    return f"{points(difference):+.1f} ± {points(se):.1f}" if math.isfinite(se) else f"{points(difference):+.1f}"


def pair_table(frame: pd.DataFrame, pair: str, column: str = "accuracy", by: str = "n_slots") -> pd.DataFrame:
    """Per ``by``: the paired difference of one of :data:`PAIRS` over seeds (mean, s.e., pairs) and
    its word by :func:`comparison` ('leads', 'tied', 'trails')."""
    method, other = PAIRS[pair]
    table = paired_difference(frame, method, other, column, by)
    table["word"] = [comparison(d, se) for d, se in zip(table.difference, table.se)]
    return table


def paper_pair_table(pair: str) -> pd.DataFrame:
    """The paper's Fig. 4b difference of one of :data:`PAIRS` per k, with its word by sign (the
    digitised figure has no per-seed values, so a positive difference 'leads')."""
    method, other = PAIRS[pair]
    wide = paper_fig4b().pivot(index="n_slots", columns="method", values="mean")
    difference = wide[method] - wide[other]
    return pd.DataFrame({"n_slots": wide.index, "difference": difference.to_numpy(),
                         "word": np.where(difference > 0, "leads", np.where(difference < 0, "trails", "tied"))})


def trend_verdict(table: pd.DataFrame) -> str:
    """The Fig. 4b rule on one comparison: :func:`fig4b_verdict` on its words per k and the
    least-squares slope of its difference against k."""
    return fig4b_verdict(table.word, gap_slope(table.n_slots, table.difference))


def _at(table: pd.DataFrame, word: str) -> str:
    return ", ".join(str(int(k)) for k, w in zip(table.n_slots, table.word) if w == word) or "none"


def cifar10_status(dataset: str, cifar10_path: str | None = None) -> str:
    """Whether the chapter ran on CIFAR-10: "run", "not run: data not present", or "not run: data
    present, but this run uses <the stand-in>"."""
    if dataset == "cifar10":
        return "run"
    try:
        batch_dir = find_batch_dir(cifar10_path)
    except (Cifar10NotFoundError, ValueError):
        return "not run: data not present"
    if not all((batch_dir / name).is_file() for name in OFFICIAL_MD5):
        return "not run: data not present"
    return f"not run: data present, but this run uses {DATASET_NAMES[dataset]} (dataset='cifar10' runs it)"


# --- chapter 1: Fig. 4b --------------------------------------------------------------------------


def fig4b_summary(frame: pd.DataFrame) -> dict:
    """The numbers (differences in percentage points) and verdict words of the
    compositional_images chapter, keyed by glue name: per comparison (:data:`PAIRS`) its verdict,
    where it leads and trails, its difference at the first and last k and its slope, and the same
    on the paper's digitised figure."""
    values = {}
    for pair in PAIRS:
        ours, paper = pair_table(frame, pair), paper_pair_table(pair)
        k_first, k_last = int(ours.n_slots.iloc[0]), int(ours.n_slots.iloc[-1])
        at_paper = paper.set_index("n_slots").difference
        key = f"cimg_{pair}"
        values.update({
            f"{key}_verdict": trend_verdict(ours), f"{key}_paper_verdict": trend_verdict(paper),
            f"{key}_leads_at": _at(ours, "leads"), f"{key}_trails_at": _at(ours, "trails"),
            f"{key}_first": points(ours.difference.iloc[0]), f"{key}_last": points(ours.difference.iloc[-1]),
            f"{key}_first_se": points(ours.se.iloc[0]), f"{key}_last_se": points(ours.se.iloc[-1]),
            f"{key}_slope": points(gap_slope(ours.n_slots, ours.difference)),
            f"{key}_paper_first": points(at_paper.get(k_first, math.nan)),
            f"{key}_paper_last": points(at_paper.get(k_last, math.nan)),
            f"{key}_paper_slope": points(gap_slope(paper.n_slots, paper.difference)),
        })
    values.update(cimg_k_first=int(frame.n_slots.min()), cimg_k_last=int(frame.n_slots.max()),
                  cimg_healthy=f"{int((~frame.diverged.astype(bool)).sum())} of {len(frame)}", cimg_lead_se=LEAD_SE)
    return values


FIG4B_RULE = (f"per comparison: agree if it leads (paired difference over seeds > {LEAD_SE:g} s.e.) at every k "
              f"and the difference grows with k (positive least-squares slope); disagree if it trails at some k "
              f"or leads at none; else partly. Orderings and gaps only, not absolute accuracies")


def fig4b_side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """Ours (mean ± s.e. per method) beside the paper's values, per k, in percent."""
    table = accuracy_table(frame)
    paper = paper_fig4b().set_index(["n_slots", "method"])["mean"]
    rows = []
    for k, block in table.groupby("n_slots"):
        row = {"k": int(k)}
        for _, r in block.set_index("method").loc[[m for m in METHODS if m in set(block.method)]].reset_index().iterrows():
            row[f"ours: {METHOD_LABELS[r.method]}"] = f"{100 * r['mean']:.1f} ± {100 * r.se:.1f}" \
                if math.isfinite(r.se) else f"{100 * r['mean']:.1f}"
        for method in METHODS:
            value = paper.get((k, method), math.nan)
            row[f"paper: {PAPER_METHODS[method]}"] = f"{100 * value:.1f}" if math.isfinite(value) else ""
        rows.append(row)
    return pd.DataFrame(rows).set_index("k")


def pairs_side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """Per k: each comparison's paired difference (mean ± s.e. over seeds, percentage points) and
    word, beside the paper's difference."""
    rows = {}
    for pair in PAIRS:
        ours = pair_table(frame, pair).set_index("n_slots")
        paper = paper_pair_table(pair).set_index("n_slots").difference
        for k, r in ours.iterrows():
            row = rows.setdefault(int(k), {})
            row[f"{PAIR_LABELS[pair]}: ours"] = f"{_points_text(r.difference, r.se)} ({r.word})"
            row[f"{PAIR_LABELS[pair]}: paper"] = f"{points(paper[k]):+.1f}" if k in paper.index else ""
    table = pd.DataFrame(rows).T
    table.index.name = "k"
    return table


def all_slots_side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """Our all-slots-correct accuracy (every image of a composite right) per k and method, mean ±
    s.e. in percent; the paper reports only the mean per-slot accuracy."""
    table = accuracy_table(frame, "all_slots_accuracy")
    table["cell"] = [f"{100 * m:.1f} ± {100 * e:.1f}" if math.isfinite(e) else f"{100 * m:.1f}"
                     for m, e in zip(table["mean"], table.se)]
    wide = table.pivot(index="n_slots", columns="method", values="cell")
    wide = wide[[m for m in METHODS if m in wide]].rename(columns=METHOD_LABELS)
    wide.index.name = "k"
    return wide


def provisioning_runs(runs: Sequence[CompositionalRun], provisioning: Sequence[Sequence[int]],
                      n_slots: int) -> list[CompositionalRun]:
    """The sensitivity runs: every method and seed of ``runs`` at k = ``n_slots`` with each
    (modules_per_slot, module_dim) of ``provisioning``, and with the runs' own provisioning."""
    base = [run for run in runs if run.n_slots == n_slots] or [dataclasses.replace(run, n_slots=n_slots)
                                                                 for run in runs if run.n_slots == runs[0].n_slots]
    variants = [(base[0].modules_per_slot, base[0].module_dim)] + [tuple(int(v) for v in pv) for pv in provisioning]
    out = []
    for modules_per_slot, module_dim in dict.fromkeys(variants):
        out += [dataclasses.replace(run, modules_per_slot=modules_per_slot, module_dim=module_dim) for run in base]
    return out


def provisioned(frame: pd.DataFrame, modules_per_slot: int, module_dim: int) -> pd.DataFrame:
    """The rows of ``frame`` with one provisioning (one row per run, duplicates dropped)."""
    rows = frame[(frame.modules_per_slot == modules_per_slot) & (frame.module_dim == module_dim)]
    return rows.drop_duplicates("key").reset_index(drop=True)


def sensitivity_table(frame: pd.DataFrame, n_slots: int) -> pd.DataFrame:
    """Per provisioning (modules per slot, module input dimension b) at k = ``n_slots``: K, the
    modular net's parameter count, and each claim's comparison (paired difference ± s.e. in
    points, with its word)."""
    data = frame[frame.n_slots == n_slots].drop_duplicates("key")
    rows = []
    for (modules_per_slot, module_dim), block in data.groupby(["modules_per_slot", "module_dim"], sort=False):
        row = {"modules per slot": int(modules_per_slot), "b": int(module_dim), "K": int(modules_per_slot) * n_slots,
               "parameters": int(block[block.method == "modular"].n_params_actual.iloc[0])
               if (block.method == "modular").any() else math.nan}
        for pair in CLAIM_PAIRS:
            table = pair_table(block, pair)
            r = table.iloc[0] if len(table) else None
            row[PAIR_LABELS[pair]] = (f"{_points_text(r.difference, r.se)} ({r.word})" if r is not None else "n/a")
        rows.append(row)
    return pd.DataFrame(rows).set_index(["modules per slot", "b"])


def sensitivity_words(frame: pd.DataFrame, n_slots: int) -> dict:
    """Whether each comparison's word at k = ``n_slots`` is the same under every provisioning."""
    data = frame[frame.n_slots == n_slots].drop_duplicates("key")
    words = {}
    for pair in CLAIM_PAIRS:
        found = {comparison(*pair_table(block, pair)[["difference", "se"]].iloc[0])
                 for _, block in data.groupby(["modules_per_slot", "module_dim"])}
        words[f"cimg_sensitivity_{pair}"] = (f"the same under every provisioning ({found.pop()})" if len(found) == 1
                                             else "changes with the provisioning (" + ", ".join(sorted(found)) + ")")
    words["cimg_sensitivity_n_slots"] = n_slots
    return words


# --- chapter 2: robustness -----------------------------------------------------------------------


def robustness_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method: our in-distribution, held-out-combination and noisy accuracy (mean and s.e.)
    beside the paper's two columns, all in percent."""
    paper = paper_robustness()
    rows = []
    for method in METHODS:
        block = healthy(frame)[frame.method == method]
        row = {"method": METHOD_LABELS[method], "healthy runs": len(block)}
        for column, name in (("accuracy", "seen combinations"), ("heldout_accuracy", "unseen combinations"),
                             ("noisy_accuracy", "noisy inputs")):
            values = block[column].astype(float)
            se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else math.nan
            row[f"ours: {name}"] = f"{100 * values.mean():.1f} ± {100 * se:.1f}" if math.isfinite(se) \
                else f"{100 * values.mean():.1f}"
        row["paper: unseen combinations"] = f"{100 * paper.loc[method, 'heldout_accuracy']:.2f}"
        row["paper: noisy inputs"] = f"{100 * paper.loc[method, 'noisy_accuracy']:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


CONDITIONS = {"accuracy": "seen combinations", "heldout_accuracy": "unseen combinations",
              "noisy_accuracy": "noisy inputs"}


def robustness_bars(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ours, paper) for the bar chart: index method, one column per test condition; our cells
    are (mean, s.e.) over healthy seeds, the paper's its value."""
    data = healthy(frame)
    ours = pd.DataFrame({name: {method: _mean_se(data[data.method == method][column]) for method in METHODS}
                         for column, name in CONDITIONS.items()})
    paper = paper_robustness().rename(columns=CONDITIONS)[[CONDITIONS["heldout_accuracy"], CONDITIONS["noisy_accuracy"]]]
    return ours, paper


def _mean_se(values: pd.Series) -> tuple[float, float]:
    values = values.astype(float)
    se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return float(values.mean()), float(se)


def split_gaps(frame: pd.DataFrame) -> dict:
    """Per method: unseen minus seen combinations, paired over seeds (points, mean and s.e.): how
    much the OOD split costs each network."""
    data = healthy(frame)
    values = {}
    for method in METHODS:
        block = data[data.method == method]
        diff = (block.heldout_accuracy.astype(float) - block.accuracy.astype(float)).dropna()
        se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else math.nan
        values[f"rob_split_{method}"] = points(diff.mean()) if len(diff) else math.nan
        values[f"rob_split_{method}_se"] = points(se)
    return values


def robustness_summary(frame: pd.DataFrame) -> dict:
    """Per comparison (:data:`PAIRS`) and test set: the paired difference in points, its word and
    the paper's difference; per claimed comparison the verdict on the paper's table and ours; the
    cost of the OOD split per method."""
    frame = frame.assign(condition="all")
    paper = paper_robustness()
    values = {}
    for pair, (method, other) in PAIRS.items():
        words = {}
        for column, short in (("heldout_accuracy", "ood"), ("noisy_accuracy", "noise"), ("accuracy", "iid")):
            d = pair_table(frame, pair, column, by="condition").iloc[0]
            words[short] = d.word
            values[f"rob_{pair}_{short}"] = points(d.difference)
            values[f"rob_{pair}_{short}_se"] = points(d.se)
            values[f"rob_{pair}_{short}_word"] = d.word
            if short != "iid":
                values[f"rob_{pair}_{short}_paper"] = points(paper.loc[method, column] - paper.loc[other, column])
        values[f"rob_{pair}_verdict"] = robustness_verdict(words["ood"], words["noise"])
        paper_words = ["leads" if values[f"rob_{pair}_{c}_paper"] > 0 else "trails" for c in ("ood", "noise")]
        values[f"rob_{pair}_paper_verdict"] = robustness_verdict(*paper_words)
    for column, short in (("heldout_accuracy", "ood"), ("noisy_accuracy", "noise"), ("accuracy", "iid")):
        values[f"rob_{short}_ordering"] = ordering(healthy(frame).groupby("method")[column].mean().to_dict())
    values.update(split_gaps(frame))
    values["rob_healthy"] = f"{int((~frame.diverged.astype(bool)).sum())} of {len(frame)}"
    values["rob_lead_se"] = LEAD_SE
    return values


ROBUSTNESS_RULE = (f"per comparison: agree if it leads (paired difference over seeds > {LEAD_SE:g} s.e.) on unseen "
                   f"combinations and on noisy inputs; disagree if it trails on either or leads on neither; else "
                   f"partly. Orderings and gaps only")


# --- chapter 3: projections (Fig. 12, Table 2) ---------------------------------------------------

# Readings of Algorithm 1 on composites, as labelled in the Fig. 12 figures and verdict.
READINGS = {"all_slots": "Algorithm 1 as written (every slot's labels)",
            "per_slot": "per-slot reading (our variant: one slot's labels per restart)"}


def _linear(frame: pd.DataFrame, method: str, kernel_labels: str = "all_slots") -> pd.DataFrame:
    data = healthy(frame)
    data = data[(data.method == method) & data.projection_activation.isna()]
    if "kernel_labels" in data:
        data = data[data.kernel_labels.fillna("all_slots") == kernel_labels]
    return data


def projection_maps(frame: pd.DataFrame, method: str, seed: int, image_shape: tuple, n_slots: int,
                    which: str = "projection_weights", kernel_labels: str = "all_slots") -> np.ndarray:
    """One run's per-module weight maps as images: (K, H, W * k) (channels summed)."""
    rows = _linear(frame, method, kernel_labels)
    row = rows[rows.seed == seed].iloc[0]
    weights = np.asarray(row[which], dtype=float)  # (K, m)
    return comp.unflatten_composites(weights, image_shape, n_slots).sum(axis=-1)


def fig12_maps(frame: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Fig. 12's columns for one seed: {title: (K, H, W * k) maps} of the kernel-rule net at
    initialisation and after training, under each reading of Algorithm 1 that was run, and of the
    random-init net after training."""
    first = frame.iloc[0]
    shape, k = IMAGE_SHAPES[first.dataset], int(first.n_slots)
    columns = {}
    for labels, title in (("all_slots", "as written"), ("per_slot", "per slot (ours)")):
        if len(_linear(frame, "kernel_rule", labels)):
            columns[f"kernel rule {title}, initial U"] = projection_maps(frame, "kernel_rule", seed, shape, k,
                                                                         "initial_projection_weights", labels)
            columns[f"kernel rule {title}, trained"] = projection_maps(frame, "kernel_rule", seed, shape, k,
                                                                       kernel_labels=labels)
    columns["random U, trained"] = projection_maps(frame, "modular", seed, shape, k)
    return columns


def largest_slot_shares(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every module's largest slot share after training, pooled over healthy seeds, per linear
    modular variant: {label: shares}."""
    variants = {f"kernel rule, {READINGS[labels]}": _linear(frame, "kernel_rule", labels) for labels in KERNEL_LABELS}
    variants[METHOD_LABELS["modular"]] = _linear(frame, "modular")
    return {label: np.concatenate([np.asarray(s, dtype=float) for s in rows.max_slot_share])
            for label, rows in variants.items() if len(rows)}


def slot_focus_penalty(run: CompositionalRun, *, n_draws: int = 16, cifar10_path: str | None = None) -> pd.DataFrame:
    """Algorithm 1's objective Tr(Y^T (K + eps I)^-1 Y) (NTK of the module network at init, a
    minibatch of ``run.kernel_batch_size`` training composites of ``run``) for random unit
    projections confined to one slot's pixels against projections spread over all pixels, with
    the labels of every slot (the algorithm as written) and with the labels of the focused slot
    only (the per-slot reading). One row per reading: mean and s.e. over ``n_draws`` draws of
    each, and their ratio (focused / spread; above 1: the objective penalises focus)."""
    data = prepare_data(run, cifar10_path)
    spec = dataclasses.replace(run.modular_spec(), output_dim=1, init_projections=None)
    network = kernel_rule.module_network(spec)
    rng = np.random.default_rng(derive_seed(run.seed, 6))
    n_train, input_dim = data.x_train.shape
    batch = min(run.kernel_batch_size, n_train)
    slot_of_input = np.argmax(comp.split_slots(np.eye(input_dim), data.image_shape, run.n_slots)
                              .reshape(input_dim, run.n_slots, -1).sum(axis=2), axis=1)  # (m,)
    values = {(reading, shape): [] for reading in KERNEL_LABELS for shape in ("focused", "spread")}
    for draw in range(n_draws):
        rows = rng.choice(n_train, size=batch, replace=False)
        x, labels = data.x_train[rows], data.y_train[rows]
        slot = int(rng.integers(run.n_slots))
        spread = rng.standard_normal((input_dim, run.module_dim))
        focused = np.where((slot_of_input == slot)[:, None], rng.standard_normal((input_dim, run.module_dim)), 0.0)
        params = network.init(seed=derive_seed(run.seed, 7, draw))
        for reading, y in (("all_slots", kernel_rule_labels(labels)),
                           ("per_slot", kernel_rule_labels(labels[:, slot:slot + 1]))):
            for shape, u in (("focused", focused), ("spread", spread)):
                u = torch.as_tensor(u / np.linalg.norm(u, axis=0, keepdims=True), dtype=torch.float64)
                with torch.no_grad():
                    objective = kernel_rule.kernel_objective(u, x, y, kernel="ntk", network=network,
                                                             network_params=params)
                values[(reading, shape)].append(float(objective))
    rows = []
    for reading in KERNEL_LABELS:
        focused, spread = np.array(values[(reading, "focused")]), np.array(values[(reading, "spread")])
        se = lambda v: float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan  # noqa: E731
        rows.append({"reading": READINGS[reading], "focused": float(focused.mean()), "focused_se": se(focused),
                     "spread": float(spread.mean()), "spread_se": se(spread),
                     "ratio": float(focused.mean() / spread.mean())})
    return pd.DataFrame(rows).set_index("reading")


def fig12_summary(frame: pd.DataFrame, penalty: pd.DataFrame | None = None) -> dict:
    """Fig. 12's numbers and words: per reading of Algorithm 1 the share of modules attending to
    one image and the rule's word, the random-init net's share, and (given ``penalty``, from
    :func:`slot_focus_penalty`) the objective's focus ratio per reading."""
    n_slots = int(frame.n_slots.iloc[0])
    random_rows = _linear(frame, "modular")
    random_focus = focus_fraction(list(random_rows.max_slot_share))
    values = dict(proj_focus_random=random_focus,
                  proj_share_random=float(np.mean(np.concatenate([np.asarray(s) for s in random_rows.max_slot_share]))),
                  proj_even_share=1 / n_slots, proj_focus_share=FOCUS_SHARE, proj_n_slots=n_slots)
    words = []
    for labels, short in (("all_slots", "kernel"), ("per_slot", "per_slot")):
        rows = _linear(frame, "kernel_rule", labels)
        if rows.empty:
            continue
        focus = focus_fraction(list(rows.max_slot_share))
        word = fig12_verdict(focus, random_focus)
        words.append(word)
        values[f"proj_focus_{short}"] = focus
        values[f"proj_share_{short}"] = float(np.mean(np.concatenate([np.asarray(s) for s in rows.max_slot_share])))
        values[f"proj_{short}_word"] = word
        values[f"proj_start_cosine_{short}"] = float(rows.start_cosine.astype(float).mean())
    values["proj_verdict"] = scorecard.combined_verdict(words)
    if penalty is not None:
        for labels, short in (("all_slots", "all"), ("per_slot", "slot")):
            row = penalty.loc[READINGS[labels]]
            values[f"proj_penalty_{short}_focused"] = float(row.focused)
            values[f"proj_penalty_{short}_spread"] = float(row.spread)
            values[f"proj_penalty_{short}_ratio"] = float(row.ratio)
    return values


FIG12_RULE = (f"per reading of Algorithm 1: agree if at least 3/4 of the kernel-rule modules (after training) put at "
              f"least {FOCUS_SHARE:.0%} of their squared projection weight on one image; partly if at least 1/4 do "
              f"and more than in the random-init modular net; else disagree. The row combines the two readings "
              f"(agree if both agree, partly if one does)")


def table2(frame: pd.DataFrame) -> pd.DataFrame:
    """Modular nets with linear vs nonlinear projections (random init) and the kernel rule's
    linear ones: accuracy on seen and on unseen combinations, mean ± s.e. in percent."""
    rows = []
    data = healthy(frame)
    if "kernel_labels" in data:
        data = data[data.kernel_labels.fillna("all_slots") == "all_slots"]
    variants = [("modular", None, "linear U, random init"), ("modular", "nonlinear", "nonlinear act(U^T x), random init"),
                ("kernel_rule", None, "linear U, kernel-rule init")]
    for method, kind, label in variants:
        block = data[(data.method == method) & (data.projection_activation.isna() == (kind is None))]
        row = {"projection": label, "healthy runs": len(block)}
        for column, name in (("accuracy", "seen combinations"), ("heldout_accuracy", "unseen combinations")):
            v = block[column].astype(float)
            se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan
            row[name] = f"{100 * v.mean():.1f} ± {100 * se:.1f}" if math.isfinite(se) else f"{100 * v.mean():.1f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("projection")


def table2_summary(frame: pd.DataFrame) -> dict:
    """Nonlinear minus linear projections (random init), paired over seeds, in points, on seen and
    unseen combinations; our measurement only (Table 2's content is not in our sources)."""
    modular = frame[frame.method == "modular"].assign(
        method=lambda f: np.where(f.projection_activation.isna(), "linear", "nonlinear"), condition="all")
    values = {}
    for column, short in (("accuracy", "iid"), ("heldout_accuracy", "ood")):
        d = paired_difference(modular, "nonlinear", "linear", column, by="condition").iloc[0]
        values[f"tab2_{short}_difference"] = points(d.difference)
        values[f"tab2_{short}_se"] = points(d.se)
        values[f"tab2_{short}_word"] = as_well(d.difference, d.se)
    values["tab2_verdict"] = scorecard.NOT_IN_SOURCES
    return values


TABLE2_RULE = ("none can be applied: Table 2's numbers and its conclusion are not in the sources we have, so the "
               "claim is not testable; we report our own nonlinear-vs-linear measurement beside it")


# --- scorecard records ---------------------------------------------------------------------------


def _pair_text(summary: Mapping, prefix: str, pair: str, conditions=None) -> str:
    if conditions is None:
        s, key = summary, f"{prefix}_{pair}"
        return (f"{PAIR_LABELS[pair]}: leads at k = {s[f'{key}_leads_at']}, trails at {s[f'{key}_trails_at']}; "
                f"{s[f'{key}_first']:+.1f} ± {s[f'{key}_first_se']:.1f} points at k = {s['cimg_k_first']}, "
                f"{s[f'{key}_last']:+.1f} ± {s[f'{key}_last_se']:.1f} at k = {s['cimg_k_last']} (slope "
                f"{s[f'{key}_slope']:+.2f} points per image); paper {s[f'{key}_paper_first']:+.1f} and "
                f"{s[f'{key}_paper_last']:+.1f} (slope {s[f'{key}_paper_slope']:+.2f})")
    parts = [f"{name} {summary[f'{prefix}_{pair}_{c}']:+.1f} ± {summary[f'{prefix}_{pair}_{c}_se']:.1f} points "
             f"({summary[f'{prefix}_{pair}_{c}_word']}; paper {summary[f'{prefix}_{pair}_{c}_paper']:+.1f})"
             for c, name in conditions]
    return f"{PAIR_LABELS[pair]}: " + "; ".join(parts)


def _pair_why(summary: Mapping, prefix: str, pair: str, conditions=None) -> str:
    if conditions is None:
        s, key = summary, f"{prefix}_{pair}"
        return (f"{s[f'{key}_first']:+.1f} points at k = {s['cimg_k_first']}, {s[f'{key}_last']:+.1f} at "
                f"k = {s['cimg_k_last']} (paper {s[f'{key}_paper_first']:+.1f}, {s[f'{key}_paper_last']:+.1f}); "
                f"leads at k = {s[f'{key}_leads_at']}")
    return "; ".join(f"{name} {summary[f'{prefix}_{pair}_{c}']:+.1f} points (paper "
                     f"{summary[f'{prefix}_{pair}_{c}_paper']:+.1f})" for c, name in conditions)


def _paper_parts(verdict: str, paper_verdict: str, evidence: str) -> list[dict]:
    """Two parts when the paper's own numbers, scored by the same rule, contradict its words."""
    if paper_verdict != "disagree":
        return []
    return [scorecard.part(scorecard.AGAINST_DATA, scorecard.against_data_verdict(verdict, paper_verdict), evidence),
            scorecard.part(scorecard.AGAINST_WORDS, verdict, evidence)]


def claims(chapter: str, summary: Mapping, dataset: str, n_slots: int | None, seeds, *,
           cifar10: str | None = None) -> dict[str, scorecard.Record]:
    """Scorecard records of one compositional chapter ("compositional_images", "robustness" or
    "projections") from its summary (for projections: Fig. 12's and Table 2's merged). Every
    record names its data set; ``cifar10`` (:func:`cifar10_status`, compositional_images only)
    decides the CIFAR-10 row."""
    where = DATASET_NAMES[dataset] + ("" if n_slots is None else f", k = {n_slots}")
    seeds = sorted(set(seeds))
    records = {}
    if chapter == "compositional_images":
        for pair in CLAIM_PAIRS:
            claim_id, key = f"fig4b_{pair}", f"cimg_{pair}"
            verdict = summary[f"{key}_verdict"]
            records[claim_id] = scorecard.record(
                claim_id, ours=f"{where}: {_pair_text(summary, 'cimg', pair)}", seeds=seeds, verdict=verdict,
                rule=FIG4B_RULE, why=f"{dataset_short(dataset)}: {_pair_why(summary, 'cimg', pair)}",
                parts=_paper_parts(verdict, summary[f"{key}_paper_verdict"],
                                   f"the paper's figure scored by the same rule: {summary[f'{key}_paper_verdict']}"))
        if cifar10 == "run":
            verdict = scorecard.combined_verdict(summary[f"cimg_{pair}_verdict"] for pair in CLAIM_PAIRS)
            records["fig4b_on_cifar10"] = scorecard.record(
                "fig4b_on_cifar10", ours=f"{where}: see the two Fig. 4b rows", seeds=seeds, verdict=verdict,
                rule="the two Fig. 4b comparisons combined (agree if both agree, partly if one does)",
                why="ran on CIFAR-10: " + ", ".join(f"{PAIR_LABELS[p]} {summary[f'cimg_{p}_verdict']}"
                                                    for p in CLAIM_PAIRS))
        else:
            records["fig4b_on_cifar10"] = scorecard.not_run_record("fig4b_on_cifar10",
                                                                   reason=(cifar10 or "not run").removeprefix("not run: "))
    elif chapter == "robustness":
        conditions = (("ood", "unseen combinations"), ("noise", "noise"))
        for pair in CLAIM_PAIRS:
            claim_id, key = f"robustness_{pair}", f"rob_{pair}"
            verdict = summary[f"{key}_verdict"]
            records[claim_id] = scorecard.record(
                claim_id, ours=f"{where}: {_pair_text(summary, 'rob', pair, conditions)}", seeds=seeds,
                verdict=verdict, rule=ROBUSTNESS_RULE,
                why=f"{dataset_short(dataset)}: {_pair_why(summary, 'rob', pair, conditions)}",
                parts=_paper_parts(verdict, summary[f"{key}_paper_verdict"],
                                   f"the paper's table scored by the same rule: {summary[f'{key}_paper_verdict']}"))
    elif chapter == "projections":
        parts = [scorecard.part(READINGS[labels], summary[f"proj_{short}_word"],
                                f"{summary[f'proj_focus_{short}']:.0%} of the modules attend to one image "
                                f"(random init {summary['proj_focus_random']:.0%})")
                 for labels, short in (("all_slots", "kernel"), ("per_slot", "per_slot"))
                 if f"proj_{short}_word" in summary]
        penalty = (f"; Algorithm 1's objective costs a one-slot U {summary['proj_penalty_all_ratio']:.1f} x a spread one "
                   f"with every slot's labels, {summary['proj_penalty_slot_ratio']:.2f} x with one slot's"
                   if "proj_penalty_all_ratio" in summary else "")
        records["fig12_projections_visualised"] = scorecard.record(
            "fig12_projections_visualised", seeds=seeds, verdict=summary["proj_verdict"], rule=FIG12_RULE, parts=parts,
            ours=f"{where}: " + "; ".join(f"{p['label']}: {p['evidence']}" for p in parts) + penalty,
            why=f"{dataset_short(dataset)}: one image per module in "
                + ", ".join(f"{summary[f'proj_focus_{short}']:.0%} ({name})" for short, name in
                            (("kernel", "as written"), ("per_slot", "per slot")) if f"proj_focus_{short}" in summary)
                + f" vs {summary['proj_focus_random']:.0%} random" + penalty)
        records["table2_nonlinear_projections"] = scorecard.record(
            "table2_nonlinear_projections", seeds=seeds, verdict=summary["tab2_verdict"], rule=TABLE2_RULE,
            ours=f"{where}: our measurement, nonlinear minus linear projections {summary['tab2_iid_difference']:+.1f} ± "
                 f"{summary['tab2_iid_se']:.1f} points on seen combinations, {summary['tab2_ood_difference']:+.1f} ± "
                 f"{summary['tab2_ood_se']:.1f} on unseen ones",
            why=f"Table 2's numbers and conclusion are not in our sources; ours: nonlinear minus linear "
                f"{summary['tab2_iid_difference']:+.1f} points ({dataset_short(dataset)})")
    else:
        raise ValueError(f"unknown compositional chapter {chapter=}")
    return records


def dataset_short(dataset: str) -> str:
    """The data set in a few words, for one-line summaries."""
    return {"digits": "Compositional Digits (stand-in)", "cifar10": "Compositional CIFAR-10"}[dataset]
