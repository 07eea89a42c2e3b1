"""Train ensembles of independent networks of one shape at once.

:func:`train_ensemble` stacks E models' weights (see :mod:`modcore.models`) and trains them with
batched matmuls and one optimiser over the stacked tensors. The loss is the *sum* over models of
each model's mean squared error, so each model's gradient is exactly its own; Adam acts
elementwise, so each model follows the same trajectory as when trained alone with the same seed
(up to float rounding, which a test bounds against :func:`modcore.train_reference.train_naive`,
that "alone", the baseline of the benchmark).
How many models are stacked at once, on how many threads, and whether the stacked step goes
through ``torch.compile``, is a rule measured by that benchmark (:func:`choose_plan`; see
``TrainSettings.compile``). Data, initial weights and minibatch orders are drawn on the CPU and
then moved to the device, so one seed gives the same numbers on CPU and CUDA up to float rounding
(tests/test_cuda.py bounds it).

Device resolution and thread control are :mod:`modcore.runtime`'s; the exact optimum of the
linearised network is :mod:`modcore.train_reference`'s, beside the naive loop.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from modcore.models import MLPSpec, Params, Spec, stack_init
from modcore.runtime import resolve_device, torch_threads
from modcore.seeds import derive_seed

OPTIMIZERS = ("adam", "lbfgs")
# "cross_entropy": integer labels (n, k), one class per slot; logits (n, k * n_classes) read as k
# slots of n_classes logits each; the loss is the mean over points and slots of each slot's
# cross-entropy (the compositional image task, Fig. 4b).
LOSSES = ("mse", "cross_entropy")
# On CPU, stacking pays only while the stacked activations stay small. We cap
# E_chunk * batch * (hidden units per example) at this many floats; on CUDA we do not chunk.
# Measured on the stacked step (forward, loss, backward, fused Adam) against the naive loop's
# step, MLP 8 -> w -> w -> 1, 2-core machine under load, 1 thread, full batch n = 1000, best of 5:
# width 128: E_chunk 2-8: 1.7-2.0x, 16: 1.0x; width 32: E_chunk 16: 1.8x, 64: 1.4x; width 512:
# E_chunk 1: 1.0x, 2: 0.9x, 3: 0.7x. The best chunks hold 0.25-1 M activation floats; 2**19
# picks 4, 16 and 1 model(s) there.
CPU_ACTIVATION_BUDGET = 2**19
# Below this many activation floats per step (E_chunk * batch * hidden units), a CPU chunk trains
# on one thread. Measured on the 2-core machine while other jobs ran: a second OpenMP thread made
# such steps 10-30x *slower* (E = 16, n = 1000, width 29-50: 0.75 s vs 22 s per 100 steps), while
# unloaded it gains at most 2x. It exceeds CPU_ACTIVATION_BUDGET, so every chunk of several models
# is single-threaded; only one model of over 2**21 activation floats keeps torch's setting.
CPU_SINGLE_THREAD_BELOW = 2**21
# Stacking also loses when the chunk's parameters are many: each step streams them, their
# gradients and Adam's two moments (16 bytes per parameter) through memory, while the naive loop
# keeps one model's weights in cache. Measured as above, at batch 64: width 512 (267k parameters):
# E_chunk 4: 1.3-1.8x, 8: 1.3-1.5x, 16: 1.0-1.2x, 32-64: 0.8x; width 256 (68k): 8: 2.4x, 16: 2.3x,
# 64: 1.8x; width 128 (17.7k): 16-32: 3.5x, 64: 3.2x. Best at E_chunk * n_params of 0.3-1.1 M:
# we cap it at this many parameters. benchmarks/ensemble.py's plan check times the rule's chunk
# beside others, in the trainer itself, so a reader can check both budgets.
CPU_PARAMETER_BUDGET = 2**20
EVAL_BATCH = 4096  # test points per evaluation pass, bounding memory at large E * width

# TrainSettings(compile="auto"): where torch.compile of the stacked step pays. Measured by
# benchmarks/ensemble.py (eager and compiled side by side, in turns; 2-core machine under load,
# MLP 8 -> w -> w -> 1, ReLU, Adam, float32, MSE, n = 1000, the plan's chunks, one thread):
# compiled / eager model-steps/s at full batch 1.24x and 1.20x at width 32 (E 16, 64), 1.13x and
# 1.13x at width 128, 1.00x and 1.06x at width 512; at minibatch 64, 0.96x to 1.16x with no
# pattern. The gain is the elementwise work (bias, ReLU, error, Adam's inputs) fused around the
# matmuls, a large share of a full-batch step only at moderate widths. So "auto" compiles only
# inside that measured region: CPU, Adam, float32, MSE, an MLP (not the modular net, not
# measured) at full batch with COMPILE_CPU_WIDTHS[0]..[1] hidden units per layer. On CUDA it
# stays eager until benchmarks/ensemble.py --device cuda has measured a gain (not yet: no GPU).
COMPILE_CPU_WIDTHS = (32, 128)
# ...and only for runs long enough to pay the compile back. Compiling cost 13 s for the first
# shape in a fresh process (cold cache), 2-4 s per further shape. At the smallest gain measured
# in the region (1.13x: 11.5 % of the eager time saved) a 15 s compile pays back after 130 s of
# eager training; eager ran at 40 GFLOP/s (width 32) to 88 GFLOP/s (width 128) there, so 130 s
# is at most 1.2e13 FLOPs of training (a step = 3 x forward FLOPs, all models). We ask for twice
# that, for faster CPUs and a gain at the low end: a shorter run (every ci and default run of
# the book) stays eager and pays nothing.
COMPILE_MIN_TRAINING_FLOPS = 2.4e13


@dataclasses.dataclass(frozen=True)
class Plan:
    """How :func:`train_ensemble` runs E models: ``chunk`` models stacked at a time, each chunk on
    ``threads`` intra-op threads (None: torch's current setting), the stacked step through
    ``torch.compile`` if ``compile``."""

    chunk: int
    threads: int | None
    compile: bool = False


def training_flops(spec: Spec, batch: int, n_models: int, n_steps: int) -> float:
    """FLOPs of ``n_steps`` training steps of ``n_models`` models at ``batch`` examples per step,
    a step counted as 3 x the forward FLOPs (forward, and a backward of about twice its cost)."""
    return 3.0 * spec.flops_per_example() * batch * n_models * n_steps


def compile_pays(spec: Spec, batch: int, n_models: int, device_type: str, settings: TrainSettings, *,
                 full_batch: bool) -> bool:
    """``compile="auto"``'s rule: inside the region where benchmarks/ensemble.py measured compiled
    faster than eager on this device type (see COMPILE_CPU_WIDTHS), and long enough to pay back
    the compile (COMPILE_MIN_TRAINING_FLOPS)."""
    if device_type != "cpu":  # CUDA: no measured gain yet
        return False
    measured = (type(spec) is MLPSpec and settings.optimizer == "adam" and settings.precision == "float32"
                and settings.loss == "mse" and full_batch
                and COMPILE_CPU_WIDTHS[0] <= spec.width <= COMPILE_CPU_WIDTHS[1])
    return measured and training_flops(spec, batch, n_models, settings.n_steps) >= COMPILE_MIN_TRAINING_FLOPS


def choose_plan(spec: Spec, batch: int, n_models: int, device_type: str, *,
                max_models_per_chunk: int | None = None, settings: TrainSettings | None = None,
                n_train: int | None = None) -> Plan:
    """The plan the trainer uses for ``n_models`` models of ``spec`` at ``batch`` examples per step.

    On CUDA: all models at once. On CPU: the largest chunk whose stacked activations
    (E_chunk * batch * hidden units) fit ``CPU_ACTIVATION_BUDGET`` and whose stacked parameters
    (E_chunk * n_params) fit ``CPU_PARAMETER_BUDGET``, at least one model; one thread when the
    chunk's activations fit ``CPU_SINGLE_THREAD_BELOW``. ``max_models_per_chunk`` replaces the
    chunk size (the thread rule still applies). ``compile``: ``settings.compile`` if it is True
    or False; for "auto", :func:`compile_pays` (full batch when ``batch`` >= ``n_train``; None:
    ``batch`` is the whole training set); without ``settings``, False. A pure function of its
    arguments: the constants it reads come from benchmarks/ensemble.py, which prints this plan
    beside the alternatives.
    """
    if device_type not in ("cpu", "cuda"):
        raise ValueError(f"device_type must be 'cpu' or 'cuda', got {device_type=!r}")
    if settings is None:
        compile_step = False
    elif settings.compile == "auto":
        compile_step = compile_pays(spec, batch, n_models, device_type, settings,
                                    full_batch=n_train is None or batch >= n_train)
    else:
        compile_step = settings.compile
    hidden = spec.width * getattr(spec, "n_modules", 1)
    if max_models_per_chunk is not None:
        chunk = min(n_models, max_models_per_chunk)
    elif device_type == "cuda":
        chunk = n_models
    else:
        largest = max(1, min(n_models, CPU_ACTIVATION_BUDGET // max(1, batch * hidden),
                             CPU_PARAMETER_BUDGET // spec.n_params))
        # equal chunks, not full ones and a remainder: a small last chunk wastes the stacking,
        # and with ``compile`` each distinct chunk size is one more compilation
        chunk = math.ceil(n_models / math.ceil(n_models / largest))
    single = device_type == "cpu" and chunk * batch * hidden <= CPU_SINGLE_THREAD_BELOW
    return Plan(chunk=chunk, threads=1 if single else None, compile=compile_step)


def batch_indices(n_train: int, batch_size: int | None, n_steps: int, *, seed: int) -> Iterator[torch.Tensor]:
    """Indices of each step's minibatch: a fresh random permutation per epoch, cut into
    consecutive batches (the last one of an epoch may be smaller). Full batch: all indices."""
    for rows in stacked_batch_indices(n_train, batch_size, n_steps, seeds=[seed]):
        yield rows[0]


def stacked_batch_indices(n_train: int, batch_size: int | None, n_steps: int, *,
                          seeds: Sequence[int], device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """:func:`batch_indices` of every seed, stacked: (len(seeds), batch) per step. Row i is exactly
    model i's order alone; drawing a whole epoch per model at once keeps the per-step cost of
    E orders to one slice. The orders are drawn on the CPU (so a seed gives the same order on
    every device) and moved to ``device`` once per epoch, not once per step."""
    if batch_size is None or batch_size >= n_train:
        everything = torch.arange(n_train, device=device).expand(len(seeds), n_train)
        for _ in range(n_steps):
            yield everything
        return
    generators = [torch.Generator().manual_seed(derive_seed(seed, 1)) for seed in seeds]
    step = 0
    while True:
        permutations = torch.stack([torch.randperm(n_train, generator=g) for g in generators]).to(device)  # (E, n)
        for start in range(0, n_train, batch_size):
            if step == n_steps:
                return
            yield permutations[:, start:start + batch_size]
            step += 1


@dataclasses.dataclass
class EnsembleResult:
    """Curves of E models, evaluated at ``steps`` (0 = at initialisation, last = n_steps)."""

    spec: Spec
    seeds: list[int]
    steps: np.ndarray  # (T,)
    train_mse: np.ndarray  # (E, T)
    test_mse: np.ndarray  # (E, T), NaN without a test set (and for loss="cross_entropy")
    params: Params | None  # final weights, stacked (E, ...), on CPU; None from train_naive
    # loss="cross_entropy" only (else None): curves (E, T) of "train_cross_entropy",
    # "test_cross_entropy", "train_accuracy", "test_accuracy" (mean over slots of the fraction
    # classified correctly) and "train_all_slots_accuracy", "test_all_slots_accuracy"
    classification: dict[str, np.ndarray] | None = None
    plan: Plan | None = None  # how train_ensemble ran them (chunks, threads, compile); None from train_naive
    # early stopping only (TrainSettings.patience; else None): per model the step whose weights
    # were restored (its lowest validation MSE), and its train, test and validation MSE there.
    # The curves above hold NaN after the step at which every model of a chunk had stopped.
    stop_step: np.ndarray | None = None  # (E,)
    restored: dict[str, np.ndarray] | None = None  # "train_mse", "test_mse", "validation_mse": (E,) each
    # TrainSettings.snapshot_steps only: {step: the stacked weights after that many steps}
    snapshots: dict[int, Params] | None = None

    @property
    def final_train_mse(self) -> np.ndarray:
        """Each model's training MSE at its final weights (with early stopping: the restored ones)."""
        return self.restored["train_mse"] if self.restored is not None else self.train_mse[:, -1]

    @property
    def final_test_mse(self) -> np.ndarray:
        return self.restored["test_mse"] if self.restored is not None else self.test_mse[:, -1]


PRECISIONS = {"float32": torch.float32, "float64": torch.float64}


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """How an ensemble is trained; everything but the data, the seeds and the device.

    ``optimizer`` "adam" (minibatches of ``batch_size`` in a per-model random order seeded by
    the model's seed; None = full batch) or "lbfgs" (full batch, strong-Wolfe line search; a
    "step" is one L-BFGS iteration). Full train and test MSE are evaluated at step 0, every
    ``eval_every`` steps (None: only at the end) and after the last step. ``precision``:
    "float32" or "float64". ``fused``: Adam's fused kernel. ``max_models_per_chunk``: the models
    trained at once (None: :func:`choose_plan`'s rule); it never changes a number. ``compile``:
    True runs the stacked step's forward and loss (and so its backward) through
    ``torch.compile``; it costs a few seconds per new spec and shape (about 15 s for the first in
    a fresh process) and changes numbers by float rounding only (fused kernels sum in another
    order; a test bounds it). "auto" (the default) lets :func:`choose_plan` compile only where
    benchmarks/ensemble.py measured a gain and the run is long enough to pay the compile back
    (:func:`compile_pays`); False never compiles.
    ``loss``: "mse" or "cross_entropy" (see ``LOSSES``; integer labels, classification curves).
    ``patience``: early stopping (Adam, MSE; needs validation data): the validation MSE is
    measured at step 0 and every ``validation_every`` steps; a model whose lowest validation MSE is
    ``patience`` or more steps old stops, and ends with the weights of that lowest point
    (``n_steps`` is the cap). A stopped model's weights never depend on the models beside it, so
    an ensemble still equals its models trained one by one. None: no early stopping.
    ``snapshot_steps``: step counts after which every model's weights are also kept
    (``EnsembleResult.snapshots``; the weights a run of that many steps ends with).
    """

    n_steps: int
    lr: float = 1e-3
    batch_size: int | None = None
    optimizer: str = "adam"
    eval_every: int | None = None
    precision: str = "float32"
    fused: bool = True
    max_models_per_chunk: int | None = None
    loss: str = "mse"
    compile: bool | str = "auto"
    patience: int | None = None
    validation_every: int = 50
    snapshot_steps: tuple[int, ...] = ()

    def __post_init__(self):
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 1):
            raise ValueError(f"patience must be None or a positive integer, got patience={self.patience!r}")
        if not isinstance(self.validation_every, int) or self.validation_every < 1:
            raise ValueError(f"validation_every must be a positive integer, got "
                             f"validation_every={self.validation_every!r}")
        if self.patience is not None and (self.optimizer != "adam" or self.loss != "mse"):
            raise ValueError(f"early stopping (patience={self.patience}) needs optimizer='adam' and loss='mse', got "
                             f"optimizer={self.optimizer!r}, loss={self.loss!r}")
        if any(not isinstance(t, int) or not 0 <= t <= self.n_steps for t in self.snapshot_steps) or \
                (self.snapshot_steps and (self.patience is not None or self.optimizer != "adam")):
            raise ValueError(f"snapshot_steps must be steps in [0, n_steps] of an Adam run without early stopping, "
                             f"got snapshot_steps={self.snapshot_steps!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got loss={self.loss!r}")
        if not isinstance(self.n_steps, int) or self.n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got n_steps={self.n_steps!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive and finite, got lr={self.lr!r}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size must be None (full batch) or a positive integer, got "
                             f"batch_size={self.batch_size!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer={self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.eval_every is not None and (not isinstance(self.eval_every, int) or self.eval_every < 1):
            raise ValueError(f"eval_every must be None or a positive integer, got eval_every={self.eval_every!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got precision={self.precision!r}")
        if self.max_models_per_chunk is not None and (not isinstance(self.max_models_per_chunk, int)
                                                      or self.max_models_per_chunk < 1):
            raise ValueError(f"max_models_per_chunk must be None or a positive integer, got "
                             f"max_models_per_chunk={self.max_models_per_chunk!r}")
        if not (isinstance(self.compile, bool) or self.compile == "auto"):
            raise ValueError(f"compile must be True, False or 'auto', got compile={self.compile!r}")

    @property
    def dtype(self) -> torch.dtype:
        return PRECISIONS[self.precision]

    def evaluation_steps(self) -> np.ndarray:
        """Steps after which the losses are evaluated: 0, every ``eval_every``, and the last."""
        every = self.eval_every or max(self.n_steps, 1)
        return np.array(sorted(set(range(0, self.n_steps, every)) | {self.n_steps}))


def check_training_data(spec: Spec, seeds: Sequence[int], x_train, y_train, settings: TrainSettings) -> None:
    if not isinstance(settings, TrainSettings):
        raise ValueError(f"settings must be a TrainSettings, got settings={settings!r}")
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed, got seeds=[]")
    if settings.optimizer == "lbfgs" and settings.batch_size is not None and settings.batch_size < x_train.shape[-2]:
        raise ValueError(f"optimizer='lbfgs' is full-batch only; got batch_size={settings.batch_size} < n_train")
    if x_train.shape[-1] != spec.input_dim:
        raise ValueError(f"x_train has {x_train.shape[-1]} features but spec.input_dim={spec.input_dim}")
    label_shape = y_train.shape[:-1] if settings.loss == "cross_entropy" else y_train.shape
    if x_train.shape[:-1] != label_shape or x_train.shape[-2] == 0:
        raise ValueError(f"x_train {tuple(x_train.shape)} and y_train {tuple(y_train.shape)} do not match")
    if settings.loss == "cross_entropy":
        output_dim = getattr(spec, "output_dim", 1)
        n_slots = y_train.shape[-1]
        if not np.issubdtype(y_train.dtype, np.integer) or output_dim % n_slots:
            raise ValueError(f"loss='cross_entropy' needs integer labels (n, n_slots) with spec.output_dim "
                             f"divisible by n_slots, got y_train {y_train.dtype} {tuple(y_train.shape)} and "
                             f"output_dim={output_dim}")
        n_classes = output_dim // n_slots
        if y_train.size and (y_train.min() < 0 or y_train.max() >= n_classes):
            raise ValueError(f"y_train labels out of range [0, {n_classes}): min {y_train.min()}, max {y_train.max()}")
    if x_train.ndim == 3 and x_train.shape[0] != len(seeds):
        raise ValueError(f"per-model x_train holds {x_train.shape[0]} data sets for {len(seeds)} seeds")


def host_array(array) -> np.ndarray:
    """A numpy view (a copy for a tensor on another device) of data given as numpy or torch, for
    the argument checks."""
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)


def device_tensor(array, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """Numpy or torch data (on any device) as a tensor of ``dtype`` on ``device``."""
    if array is None:
        return None
    if isinstance(array, torch.Tensor):
        return array.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(array), dtype=dtype, device=device)


def classification_metrics(spec: Spec, params: Params, x: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-model mean cross-entropy, mean slot accuracy and all-slots accuracy over all of (x, y),
    in chunks of EVAL_BATCH points: each (E,)."""
    n_models = params[0].shape[0]
    sums = torch.zeros(3, n_models, dtype=torch.float64, device=x.device)
    n_points = x.shape[-2]
    for start in range(0, n_points, EVAL_BATCH):
        xb, yb = x[..., start:start + EVAL_BATCH, :], y[..., start:start + EVAL_BATCH, :]
        if xb.ndim == 2:
            xb = xb.expand(n_models, *xb.shape)
        labels = yb.expand(n_models, *yb.shape[-2:])  # (E, B, k)
        logits = spec.forward(params, xb).reshape(*labels.shape, -1).double()  # (E, B, k, n_classes)
        entropy = -torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (E, B, k)
        correct = (logits.argmax(dim=-1) == labels).double()
        sums += torch.stack([entropy.mean(-1).sum(-1), correct.mean(-1).sum(-1), correct.prod(-1).sum(-1)])
    values = (sums / n_points).cpu().numpy()
    return dict(zip(("cross_entropy", "accuracy", "all_slots_accuracy"), values))


def _mse(spec: Spec, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-model MSE over all of (x, y), in chunks of EVAL_BATCH points: (E,)."""
    n_models = params[0].shape[0]
    total = torch.zeros(n_models, dtype=torch.float64, device=x.device)
    n_points = x.shape[-2]
    for start in range(0, n_points, EVAL_BATCH):
        xb, yb = x[..., start:start + EVAL_BATCH, :], y[..., start:start + EVAL_BATCH]
        if xb.ndim == 2:
            xb = xb.expand(n_models, *xb.shape)
        error = spec.forward(params, xb) - yb
        total += (error.double() ** 2).sum(dim=-1)
    return total / n_points


def _squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Each model's mean squared error over its batch: (E, B), (E, B) or (B,) -> (E,)."""
    return ((outputs - targets) ** 2).mean(dim=-1)


def _slot_cross_entropy(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each model's mean per-slot cross-entropy over its batch: logits (E, B, k * n_classes),
    integer labels (E, B, k) or (B, k) -> (E,)."""
    n_models = outputs.shape[0]
    labels = labels.expand(n_models, *labels.shape[-2:])  # (E, B, k)
    logits = outputs.reshape(-1, outputs.shape[-1] // labels.shape[-1])  # (E * B * k, n_classes)
    return F.cross_entropy(logits, labels.reshape(-1), reduction="none").reshape(n_models, -1).mean(dim=-1)


# Module-level functions: the compiled step is cached on (spec, loss function).
PER_MODEL_LOSSES = {"mse": _squared_error, "cross_entropy": _slot_cross_entropy}


def _stacked_loss(spec: Spec, per_model_loss, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training objective of a chunk: the *sum* over models of each one's loss, so each
    model's gradient is exactly its own. x (E, B, m)."""
    return per_model_loss(spec.forward(params, x), y).sum()


@functools.lru_cache(maxsize=256)
def _compiled_loss(spec: Spec, per_model_loss):
    """``_stacked_loss`` for this spec and per-model loss through ``torch.compile``, with static
    shapes (specialised kernels; a new chunk size or a short last minibatch compiles once more).
    Cached, so a spec is compiled once per process and shape."""
    def loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _stacked_loss(spec, per_model_loss, params, x, y)

    # torch.compile keeps its compiled graphs on the code object it runs and falls back to eager,
    # silently but for a log line, after 8 of them (torch._dynamo.config.recompile_limit). A sweep
    # trains many specs in one process: a fresh code object per spec gives each its own 8 slots.
    code = loss.__code__.replace(co_name="compiled_stacked_loss")
    fresh = types.FunctionType(code, loss.__globals__, code.co_name, loss.__defaults__, loss.__closure__)
    return torch.compile(fresh, dynamic=False)


def train_ensemble(spec: Spec, seeds: Sequence[int], x_train, y_train, x_test=None, y_test=None, *,
                   settings: TrainSettings, device: str = "auto", x_validation=None, y_validation=None,
                   initial_params: Params | None = None) -> EnsembleResult:
    """Train one model per seed (initial weights ``spec.init(seed=seed)``) on the MSE loss, as
    ``settings`` says (see :class:`TrainSettings`).

    Data: ``x_train`` (n, m) and ``y_train`` (n,) shared by all models, or (E, n, m) and (E, n)
    one data set per model (same n); likewise the test set (any size). Numpy, or torch on any device.
    L-BFGS's line search would couple stacked models, so it trains one model per chunk.
    Models are trained in chunks on a number of threads that :func:`choose_plan` picks (all at
    once on CUDA; cache-sized chunks on CPU); the plan never changes a model's numbers.
    With ``settings.loss == "cross_entropy"`` the labels are integers (n, k) (or (E, n, k)), the
    result's MSE curves are NaN and its ``classification`` holds the curves instead.
    ``x_validation``, ``y_validation``: the held-out set of early stopping (shared or per model,
    like the test set). ``initial_params``: the stacked initial weights (E, ...) instead of
    ``stack_init(spec, seeds)`` (the seeds then fix only the minibatch orders), e.g. models of one
    spec that share their module weights but not their projections.
    """
    torch_device = resolve_device(device)
    seeds = [int(s) for s in seeds]
    check_training_data(spec, seeds, host_array(x_train), host_array(y_train), settings)
    if settings.patience is not None and (x_validation is None or y_validation is None):
        raise ValueError(f"early stopping (patience={settings.patience}) needs x_validation and y_validation")
    if initial_params is not None and any(p.shape[0] != len(seeds) for p in initial_params):
        raise ValueError(f"initial_params must stack {len(seeds)} models (one per seed), got leading sizes "
                         f"{[p.shape[0] for p in initial_params]}")
    per_model_train = np.ndim(x_train) == 3
    per_model_test = x_test is not None and np.ndim(x_test) == 3
    n_train = np.shape(x_train)[-2]
    batch = n_train if settings.batch_size is None else min(settings.batch_size, n_train)
    # L-BFGS's line search would couple stacked models: one model per chunk
    plan = choose_plan(spec, batch, len(seeds), torch_device.type,
                       max_models_per_chunk=1 if settings.optimizer == "lbfgs" else settings.max_models_per_chunk,
                       settings=settings, n_train=n_train)
    chunk = plan.chunk
    steps = settings.evaluation_steps()
    dtype = settings.dtype

    label_dtype = torch.long if settings.loss == "cross_entropy" else dtype
    x_tr, y_tr = device_tensor(x_train, dtype, torch_device), device_tensor(y_train, label_dtype, torch_device)
    x_te, y_te = device_tensor(x_test, dtype, torch_device), device_tensor(y_test, label_dtype, torch_device)
    x_va, y_va = device_tensor(x_validation, dtype, torch_device), device_tensor(y_validation, dtype, torch_device)
    per_model_validation = x_validation is not None and np.ndim(x_validation) == 3
    train_curves, test_curves, final_params, stopping, snapshots = [], [], [], [], []
    for start in range(0, len(seeds), chunk):
        rows = slice(start, start + chunk)
        chunk_seeds = seeds[rows]
        data = (x_tr[rows] if per_model_train else x_tr, y_tr[rows] if per_model_train else y_tr,
                None if x_te is None else (x_te[rows] if per_model_test else x_te),
                None if y_te is None else (y_te[rows] if per_model_test else y_te))
        validation = (None if x_va is None else (x_va[rows] if per_model_validation else x_va),
                      None if y_va is None else (y_va[rows] if per_model_validation else y_va))
        initial = stack_init(spec, chunk_seeds) if initial_params is None else [p[rows] for p in initial_params]
        params = [p.detach().to(device=torch_device, dtype=dtype).clone().requires_grad_() for p in initial]
        with torch_threads(plan.threads):
            train_c, test_c, extra = _train_chunk(spec, params, chunk_seeds, *data, validation=validation,
                                                  settings=settings, steps=steps, compile_step=plan.compile)
        train_curves.append(train_c)
        test_curves.append(test_c)
        stopping.append(extra.get("stopping"))
        snapshots.append(extra.get("snapshots", {}))
        final_params.append([p.detach().cpu() for p in params])
    classification = None
    if settings.loss == "cross_entropy":  # the chunks' curves are dicts of (E_chunk, T) arrays
        classification = {f"{split}_{name}": np.concatenate([c[name] for c in curves])
                          for split, curves in (("train", train_curves), ("test", test_curves)) for name in train_curves[0]}
        train_curves = test_curves = [np.full((len(seeds), len(steps)), np.nan)]
    stop_step = restored = None
    if settings.patience is not None:
        stop_step = np.concatenate([part["stop_step"] for part in stopping])
        restored = {key: np.concatenate([part[key] for part in stopping])
                    for key in ("train_mse", "test_mse", "validation_mse")}
    kept = None
    if settings.snapshot_steps:
        kept = {step: [torch.cat(tensors) for tensors in zip(*(part[step] for part in snapshots))]
                for step in settings.snapshot_steps}
    return EnsembleResult(spec=spec, seeds=seeds, steps=steps, train_mse=np.concatenate(train_curves),
                          test_mse=np.concatenate(test_curves),
                          params=[torch.cat(tensors) for tensors in zip(*final_params)], classification=classification,
                          plan=plan, stop_step=stop_step, restored=restored, snapshots=kept)


class _EarlyStopping:
    """Per model of a chunk: the lowest validation MSE so far, its step and a copy of the weights
    there; a model stops once that step is ``patience`` or more steps old."""

    def __init__(self, spec: Spec, params: Params, x_va: torch.Tensor, y_va: torch.Tensor, patience: int):
        self.spec, self.params, self.x_va, self.y_va, self.patience = spec, params, x_va, y_va, patience
        n_models = params[0].shape[0]
        self.best = torch.full((n_models,), math.inf, dtype=torch.float64, device=x_va.device)
        self.best_step = torch.zeros(n_models, dtype=torch.long, device=x_va.device)
        self.stopped = torch.zeros(n_models, dtype=torch.bool, device=x_va.device)
        self.kept = [p.detach().clone() for p in params]

    def update(self, step: int) -> bool:
        """Validate at ``step``; True once every model has stopped."""
        with torch.no_grad():
            loss = _mse(self.spec, self.params, self.x_va, self.y_va)  # (E,); NaN never improves
            better = (loss < self.best) & ~self.stopped
            self.best = torch.where(better, loss, self.best)
            self.best_step = torch.where(better, torch.full_like(self.best_step, step), self.best_step)
            for kept, p in zip(self.kept, self.params):
                kept[better] = p.detach()[better]
            self.stopped |= step - self.best_step >= self.patience
        return bool(self.stopped.all())

    def restore(self) -> None:
        with torch.no_grad():
            for kept, p in zip(self.kept, self.params):
                p.copy_(kept)


def _train_chunk(spec: Spec, params: Params, seeds: list[int], x_tr, y_tr, x_te, y_te, *, validation,
                 settings: TrainSettings, steps: np.ndarray, compile_step: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    n_models = len(seeds)
    shared = x_tr.ndim == 2
    extra: dict = {}

    def evaluate() -> tuple[np.ndarray, np.ndarray]:
        if settings.loss == "cross_entropy":
            with torch.no_grad():
                return (classification_metrics(spec, params, x_tr, y_tr),
                        classification_metrics(spec, params, x_te, y_te) if x_te is not None
                        else dict.fromkeys(("cross_entropy", "accuracy", "all_slots_accuracy"), np.full(n_models, np.nan)))
        with torch.no_grad():
            train = _mse(spec, params, x_tr, y_tr).cpu().numpy()
            test = (_mse(spec, params, x_te, y_te).cpu().numpy() if x_te is not None
                    else np.full(n_models, np.nan))
        return train, test

    # the per-model loss is an argument of the (compiled) step, so another loss plugs in here
    per_model_loss = PER_MODEL_LOSSES[settings.loss]
    loss_of = (_compiled_loss(spec, per_model_loss) if compile_step
               else functools.partial(_stacked_loss, spec, per_model_loss))
    x_full = x_tr.expand(n_models, *x_tr.shape) if shared else x_tr  # (E, n, m), a view

    def full_batch_loss() -> torch.Tensor:
        return loss_of(params, x_full, y_tr)

    curves = []
    if 0 in steps:
        curves.append(evaluate())
    stopping = None
    if settings.patience is not None:
        stopping = _EarlyStopping(spec, params, *validation, settings.patience)
        stopping.update(0)
    snapshot_steps = set(settings.snapshot_steps)
    if snapshot_steps:
        extra["snapshots"] = {0: [p.detach().cpu().clone() for p in params]} if 0 in snapshot_steps else {}
    if settings.optimizer == "lbfgs":
        opt = torch.optim.LBFGS(params, lr=settings.lr, history_size=50, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = full_batch_loss()
            loss.backward()
            return loss

        # one step() call per evaluation interval: step() with max_iter=1 loses its curvature
        # pairs between calls and stalls; a "step" here is one L-BFGS iteration
        for previous, step in zip(steps[:-1], steps[1:]):
            opt.param_groups[0].update(max_iter=int(step - previous), max_eval=int(step - previous) * 5 // 4)
            opt.step(closure)
            curves.append(evaluate())
    else:
        opt = torch.optim.Adam(params, lr=settings.lr, fused=settings.fused)
        batch_size = settings.batch_size
        orders = stacked_batch_indices(x_tr.shape[-2], batch_size, settings.n_steps, seeds=seeds, device=x_tr.device)
        model_axis = torch.arange(n_models, device=x_tr.device)[:, None]
        full = batch_size is None or batch_size >= x_tr.shape[-2]
        evaluated = set(steps.tolist())
        for step in range(1, settings.n_steps + 1):
            if full:
                loss = full_batch_loss()
            else:
                index = next(orders)  # (E, B), on x_tr's device
                xb = x_tr[index] if shared else x_tr[model_axis, index]  # (E, B, m)
                yb = y_tr[index] if shared else y_tr[model_axis, index]  # (E, B)
                loss = loss_of(params, xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step in evaluated:
                curves.append(evaluate())
            if step in snapshot_steps:
                extra["snapshots"][step] = [p.detach().cpu().clone() for p in params]
            if stopping is not None and step % settings.validation_every == 0 and stopping.update(step):
                break  # every model of the chunk has stopped: the later steps change none of them
    if settings.loss == "cross_entropy":  # one dict per evaluation -> a dict of (E, T) curves
        return (*(
            {name: np.stack([c[name] for c in split], axis=1) for name in split[0]} for split in zip(*curves)), extra)
    train, test = (np.stack(c, axis=1) for c in zip(*curves))
    if stopping is not None:
        missing = len(steps) - train.shape[1]  # evaluation steps after the chunk stopped
        train, test = (np.pad(c, ((0, 0), (0, missing)), constant_values=np.nan) for c in (train, test))
        stopping.restore()
        restored_train, restored_test = evaluate()
        extra["stopping"] = {"stop_step": stopping.best_step.cpu().numpy(), "train_mse": restored_train,
                             "test_mse": restored_test, "validation_mse": stopping.best.cpu().numpy()}
    return train, test, extra
