"""The runs the three compositional image chapters share (``modcore.chapters.compositional_images``,
``.robustness`` and ``.projections``: the paper's Fig. 4b, its out-of-distribution and noise table,
Fig. 12 and Table 2): one run's configuration, its data, its training and the sweep, and the
paired comparisons between methods that every one of those chapters draws.

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

from modcore import kernel_rule, paper_values, scorecard, stats, sweeps
from modcore.models import MLPSpec, ModularSpec, stack_init
from modcore.runtime import resolve_device
from modcore.seeds import derive_seed
from modcore.store import ResultStore
from modcore.tasks import compositional as comp
from modcore.tasks.cifar10 import HOW_TO_GET, OFFICIAL_MD5, Cifar10NotFoundError, find_batch_dir
from modcore.train import TrainSettings, classification_metrics, train_ensemble

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
# Pixels of one Compositional Digits image (the offline default): the chapters bound module_dim by it.
DIGIT_PIXELS = math.prod(IMAGE_SHAPES["digits"])
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


def sweep(runs: Sequence[CompositionalRun], store: ResultStore, *, cifar10_path: str | None = None,
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
    return [CompositionalRun(method, int(k), run_seed, device=device, **protocol)
            for k in n_slots_values for method in methods for run_seed in design_seeds(seed, n_seeds)]


def design_seeds(seed: int, n_seeds: int) -> list[int]:
    """The seeds of :func:`design`'s runs: seed, seed + 1, ..., one per repetition."""
    return list(range(seed, seed + n_seeds))


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



# --- the comparisons every chapter draws (numbers in, words out) --------------------------------


def accuracy_table(frame: pd.DataFrame, column: str = "accuracy", by: str = "n_slots") -> pd.DataFrame:
    """Mean, standard error and healthy-run count of ``column`` per (``by``, method)."""
    grouped = healthy(frame).groupby([by, "method"])[column]
    table = grouped.agg(mean="mean", se=lambda v: stats.mean_and_se(v)[1], n_runs="count").reset_index()
    return table


def paired_difference(frame: pd.DataFrame, method: str, other: str, column: str = "accuracy",
                      by: str = "n_slots") -> pd.DataFrame:
    """Mean and standard error over seeds of ``method`` minus ``other`` per ``by``, on the seeds
    where both are healthy (same seed: same data, so the difference is paired)."""
    pivot = healthy(frame).pivot_table(index=[by, "seed"], columns="method", values=column)
    rows = []
    for value, block in pivot.groupby(level=0):
        diff = (block.get(method) - block.get(other)).dropna() if method in block and other in block else pd.Series([])
        mean, se = stats.mean_and_se(diff)
        rows.append({by: value, "difference": mean, "se": se, "n_pairs": len(diff)})
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


def points_text(difference: float, se: float) -> str:
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


def pair_text(summary: Mapping, prefix: str, pair: str, conditions=None) -> str:
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


def pair_why(summary: Mapping, prefix: str, pair: str, conditions=None) -> str:
    if conditions is None:
        s, key = summary, f"{prefix}_{pair}"
        return (f"{s[f'{key}_first']:+.1f} points at k = {s['cimg_k_first']}, {s[f'{key}_last']:+.1f} at "
                f"k = {s['cimg_k_last']} (paper {s[f'{key}_paper_first']:+.1f}, {s[f'{key}_paper_last']:+.1f}); "
                f"leads at k = {s[f'{key}_leads_at']}")
    return "; ".join(f"{name} {summary[f'{prefix}_{pair}_{c}']:+.1f} points (paper "
                     f"{summary[f'{prefix}_{pair}_{c}_paper']:+.1f})" for c, name in conditions)


def paper_parts(verdict: str, paper_verdict: str, evidence: str) -> list[dict]:
    """Two parts when the paper's own numbers, scored by the same rule, contradict its words."""
    if paper_verdict != "disagree":
        return []
    return [scorecard.part(scorecard.AGAINST_DATA, scorecard.against_data_verdict(verdict, paper_verdict), evidence),
            scorecard.part(scorecard.AGAINST_WORDS, verdict, evidence)]


def dataset_short(dataset: str) -> str:
    """The data set in a few words, for one-line summaries."""
    return {"digits": "Compositional Digits (stand-in)", "cifar10": "Compositional CIFAR-10"}[dataset]
