"""The kernel-based modular learning rule (Boopathy et al., ICLR 2025, Section 4.2, Algorithm 1,
Eqs. 15-19): find each module's input projection before training, then train end to end.

One module alone, asked to interpolate the whole target with features phi(X; U), needs weights of
squared norm (Eqs. 16-17)

    L(U) = Tr(Y^T (K(U) + eps I)^(-1) Y),    K(U)_jl = k(U^T x_j, U^T x_l)

on a minibatch of B training points (Y is B x d; d = 1 for the sine task). L is small when U picks
out a subspace in which Y is a simple (smooth) function, typically one true module's projection.
Algorithm 1 takes gradient steps on L for K independent random restarts, one per module, then
initialises the modular network with the K projections found and trains everything on the task
loss. Our reconstruction of the details the paper leaves open (each is an argument):

- kernel ``k`` ("ntk", our default; "hidden"; "rbf"): the empirical neural tangent kernel of the
  module network at initialisation (gradients with respect to the module MLP's weights and biases,
  not U); the Gram matrix of that network's last hidden layer at initialisation; or a Gaussian
  kernel with the median-heuristic bandwidth. The paper's reviewers describe a rule that "relies on
  the initial weights of the module networks", hence the NTK default; the RBF is the ablation.
- K is divided by its mean diagonal before eps is added (our choice), so one ``eps`` is the same
  relative ridge for all three kernels. The RBF diagonal is 1 already; for the network kernels the
  mean diagonal is a batch average over z = U^T x, whose law (standard normal for unit columns
  and Gaussian x) does not depend on U, so the rescaling does not favour any direction.
- solves by Cholesky (batched over restarts), never an explicit inverse; a kernel matrix that is
  not numerically positive definite at ``eps`` raises a ValueError suggesting a larger ``eps``.
- steps: Adam on the entries of U (our choice: scale-free in L, whose size grows with B and
  1/eps), then each column set back to unit norm ("unit") or the columns to an orthonormal set by
  QR ("orthonormal"); the two agree for module_dim = 1. A fresh random minibatch each step.

The NTK and hidden-layer kernels of a fixed network are not invariant to the sign of U's columns
(f(-z; W1) = f(z; -W1): flipping a column equals flipping the first layer's matching row, and the
first layer's init is symmetric, so the invariance holds only in distribution over inits); the
RBF kernel is exactly invariant.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from modcore.models import ACTIVATIONS, MLPSpec, ModularSpec, Params, stack_init
from modcore.runtime import resolve_device, torch_threads
from modcore.seeds import derive_seed
from modcore.train import CPU_SINGLE_THREAD_BELOW

KERNELS = ("ntk", "hidden", "rbf")
NORMALISATIONS = ("unit", "orthonormal")
PRECISIONS = {"float32": torch.float32, "float64": torch.float64}
# Paper's Algorithm-1 values are in an appendix we do not have: these are our choices (see the
# book's choices page). eps is relative to the kernel's mean diagonal (1 after scaling).
DEFAULT_EPS = 1e-3
DEFAULT_BATCH_SIZE = 256
DEFAULT_N_STEPS = 100
DEFAULT_LR = 0.02
# A learned direction "finds" a true module when |cos| >= FOUND_COS (our threshold; the paper
# states its alignment claims in words only, see the book's choices page).
FOUND_COS = 0.9
# a restart's minibatch order is its own random stream; this tag keeps it apart from the streams
# seeded by the same (seed, module) pair elsewhere
_ORDER_STREAM = 7


@dataclasses.dataclass(frozen=True)
class KernelRuleSettings:
    """Everything that fixes one run of the rule besides the data, the network and the seeds."""

    kernel: str = "ntk"
    normalisation: str = "unit"
    n_steps: int = DEFAULT_N_STEPS
    lr: float = DEFAULT_LR
    batch_size: int | None = DEFAULT_BATCH_SIZE  # B; None = all training points every step
    eps: float = DEFAULT_EPS
    precision: str = "float64"

    def __post_init__(self):
        _check_kernel(self.kernel)
        _check_eps(self.eps)
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"unknown normalisation={self.normalisation!r}; choose one of {NORMALISATIONS}")
        if not isinstance(self.n_steps, int) or self.n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got n_steps={self.n_steps!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got lr={self.lr!r}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 2):
            raise ValueError(f"batch_size must be None or an integer >= 2, got batch_size={self.batch_size!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision={self.precision!r}; choose one of {sorted(PRECISIONS)}")


@dataclasses.dataclass(frozen=True)
class InitCost:
    """Cost of the initialisation phase, for compute-matched comparisons with training. Totals over
    all restarts, which belong to ``n_models`` models (1 for :func:`fit_projections`)."""

    wall_time_s: float
    flops: float  # estimate: 3 x forward FLOPs per step (backward ~ 2 x forward), all restarts
    n_restarts: int
    n_steps: int
    batch_size: int
    n_models: int = 1

    @property
    def flops_per_restart(self) -> float:
        return self.flops / self.n_restarts

    def training_steps_equivalent(self, spec: ModularSpec, batch_size: int) -> float:
        """Training steps of one model of ``spec`` at minibatch ``batch_size`` that cost the same
        FLOPs as one model's share of this initialisation (a training step counted as 3 x forward
        FLOPs, like ``flops``): the extra steps a compute-matched random-init baseline gets."""
        return self.flops / self.n_models / (3 * spec.flops_per_example() * batch_size)


@dataclasses.dataclass
class ProjectionFit:
    """Result of :func:`fit_projections`: R restarts."""

    projections: np.ndarray  # (R, m, b), normalised
    objective: np.ndarray  # (R, n_steps): L on each step's minibatch, before that step's update
    cost: InitCost
    settings: KernelRuleSettings
    # {step: (R, m, b)}: the projections after that many steps, for each requested snapshot step
    snapshots: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class KernelRuleInit:
    """Result of :func:`kernel_rule_init`: a spec whose ``init(seed=s)`` starts from the found
    projections, ready for ``modcore.train.train_ensemble(spec, seeds, ...)``."""

    spec: ModularSpec
    seeds: list[int]
    projections: np.ndarray  # (E, K, m, b)
    objective: np.ndarray  # (E, K, n_steps)
    params: Params  # stack_init(spec, seeds): the initial weights train_ensemble will start from
    cost: InitCost
    settings: KernelRuleSettings


def _check_kernel(kernel: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel={kernel!r}; choose one of {KERNELS}")


def _check_eps(eps: float) -> None:
    if not (isinstance(eps, (int, float)) and eps >= 0):
        raise ValueError(f"eps must be a number >= 0, got eps={eps!r}")


def module_network(spec: ModularSpec) -> MLPSpec:
    """The MLP that every module of ``spec`` applies to its projection z_i (b -> width x depth -> 1)."""
    return MLPSpec(spec.module_dim, spec.width, spec.depth, spec.activation)


def _activation_derivative(activation: str, a: torch.Tensor) -> torch.Tensor:
    # written out (not autograd) so the kernel stays an ordinary differentiable function of U
    if activation == "relu":
        return (a > 0).to(a.dtype)
    if activation == "tanh":
        return 1 - torch.tanh(a) ** 2
    if activation == "silu":
        s = torch.sigmoid(a)
        return s * (1 + a * (1 - s))
    if activation == "gelu":  # exact GELU, a * Phi(a)
        return 0.5 * (1 + torch.erf(a / math.sqrt(2))) + a * torch.exp(-0.5 * a ** 2) / math.sqrt(2 * math.pi)
    raise ValueError(f"unknown activation={activation!r}")


def _hidden_and_backward(network: MLPSpec, params: Sequence[torch.Tensor],
                         z: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Layer inputs h_0 = z, ..., h_{L-1} and backward vectors delta_l = df/da_l of each layer's
    pre-activation a_l, for R stacked networks: z (R, B, b) -> lists of (R, B, width_l)."""
    act = ACTIVATIONS[network.activation]
    n_layers = len(params) // 2
    inputs, preactivations = [z], []
    h = z
    for layer in range(n_layers):
        a = torch.baddbmm(params[2 * layer + 1].unsqueeze(1), h, params[2 * layer])  # (R, B, out)
        preactivations.append(a)
        if layer < n_layers - 1:
            h = act(a)
            inputs.append(h)
    delta = torch.ones_like(preactivations[-1])  # (R, B, 1): the output is the last pre-activation
    deltas = [delta]
    for layer in range(n_layers - 2, -1, -1):
        delta = torch.bmm(delta, params[2 * (layer + 1)].transpose(1, 2)) \
            * _activation_derivative(network.activation, preactivations[layer])
        deltas.append(delta)
    return inputs, deltas[::-1]


def kernel_matrix(z: torch.Tensor, *, kernel: str = "ntk", network: MLPSpec | None = None,
                  network_params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """The kernel on projected inputs z (R, B, b) -> (R, B, B), scaled to mean diagonal 1.

    "ntk":    sum over layers l of (h_{l-1}(z) . h_{l-1}(z') + 1) (delta_l(z) . delta_l(z')), which is
              grad_theta f(z) . grad_theta f(z') for the MLP's weights and biases theta (exact).
    "hidden": h_{L-1}(z) . h_{L-1}(z'), the last hidden layer's Gram matrix (rank <= width).
    "rbf":    exp(-|z - z'|^2 / (2 sigma^2)), sigma = median distance between distinct points.
    ``network`` (module architecture, input_dim = b) and ``network_params`` (its weights stacked
    along a leading R axis) are needed by "ntk" and "hidden".
    """
    _check_kernel(kernel)
    if kernel == "rbf":
        # differences, not cdist: exact zeros on the diagonal, smooth gradients, and faster here
        squared = ((z[:, :, None, :] - z[:, None, :, :]) ** 2).sum(dim=-1)  # (R, B, B)
        batch = z.shape[1]
        # the distinct pairs i < j: the off-diagonal entries hold each twice, which leaves the (lower)
        # median unchanged, and half as many entries halve the median's cost
        rows, columns = torch.triu_indices(batch, batch, offset=1, device=z.device)
        bandwidth2 = squared[:, rows, columns].median(dim=1).values.clamp_min(torch.finfo(z.dtype).tiny)  # sigma^2
        gram = torch.exp(-squared / (2 * bandwidth2[:, None, None]))
    else:
        if network is None or network_params is None:
            raise ValueError(f"kernel={kernel!r} needs the module network and its network_params")
        inputs, deltas = _hidden_and_backward(network, network_params, z)
        if kernel == "hidden":
            gram = torch.bmm(inputs[-1], inputs[-1].transpose(1, 2))
        else:
            gram = sum((torch.bmm(h, h.transpose(1, 2)) + 1) * torch.bmm(d, d.transpose(1, 2))
                       for h, d in zip(inputs, deltas))
    mean_diagonal = torch.diagonal(gram, dim1=1, dim2=2).mean(dim=1)  # (R,)
    return gram / mean_diagonal[:, None, None]


def _suggest_eps(matrix: torch.Tensor, eps: float) -> float:
    """A power of ten above what makes ``matrix`` (B, B, ridge eps included) safely positive definite."""
    eigenvalues = torch.linalg.eigvalsh(matrix.double())
    floor = matrix.shape[-1] * torch.finfo(matrix.dtype).eps * float(eigenvalues.abs().max())
    needed = eps + max(0.0, -float(eigenvalues.min())) + floor
    return 10.0 ** math.ceil(math.log10(10 * needed))


def kernel_objective(projections, x, y, *, kernel: str = "ntk", eps: float = DEFAULT_EPS,
                     network: MLPSpec | None = None,
                     network_params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """L(U) = Tr(Y^T (K(U^T X) + eps I)^(-1) Y), the paper's Eq. 17, for R projections at once.

    Shapes: ``projections`` (R, m, b) or one (m, b); ``x`` (B, m) shared or (R, B, m);
    ``y`` (B,) / (R, B) for one output or (B, d) / (R, B, d) for d outputs. Returns (R,) (a scalar
    for one projection). Differentiable in ``projections``. Tensors in, tensors out: the dtype and
    device are those of ``projections``. ``network_params``: one network's weights (as from
    ``MLPSpec.init``), shared by all R projections (e.g. points along a path), or weights stacked
    along a leading R axis, one network per projection.
    Raises ValueError on b > m, eps < 0, an unknown kernel, or a kernel matrix that is not
    numerically positive definite at ``eps`` (with a larger eps to try).
    """
    _check_kernel(kernel)
    _check_eps(eps)
    single = projections.ndim == 2
    u = projections.unsqueeze(0) if single else projections  # (R, m, b)
    n_restarts, input_dim, module_dim = u.shape
    if module_dim > input_dim:
        raise ValueError(f"module_dim={module_dim} exceeds input_dim={input_dim} (projections of shape "
                         f"{tuple(projections.shape)})")
    x = torch.as_tensor(x, dtype=u.dtype, device=u.device)
    y = torch.as_tensor(y, dtype=u.dtype, device=u.device)
    if y.ndim == x.ndim - 1:
        y = y.unsqueeze(-1)  # one output
    if x.ndim == 2:
        x, y = x.expand(n_restarts, *x.shape), y.expand(n_restarts, *y.shape)
    if x.shape[-1] != input_dim or x.shape[:2] != y.shape[:2] or x.shape[0] != n_restarts:
        raise ValueError(f"x {tuple(x.shape)}, y {tuple(y.shape)} and projections {tuple(u.shape)} do not match")
    if network_params is not None:
        network_params = [torch.as_tensor(p, dtype=u.dtype, device=u.device) for p in network_params]
        if network_params[0].ndim == 2:  # one network's weights: shared by all R projections
            network_params = [p.expand(n_restarts, *p.shape) for p in network_params]
    z = torch.bmm(x, u)  # (R, B, b)
    gram = kernel_matrix(z, kernel=kernel, network=network, network_params=network_params)
    batch = gram.shape[-1]
    ridged = gram + eps * torch.eye(batch, dtype=gram.dtype, device=gram.device)
    factor, info = torch.linalg.cholesky_ex(ridged.detach())
    # a pivot below the dtype's resolution at this size is not a factorisation but rounding noise
    # (a singular kernel can pass with tiny positive pivots), so it fails like a negative one
    pivots = torch.diagonal(factor, dim1=1, dim2=2) ** 2  # (R, B)
    largest = torch.diagonal(ridged, dim1=1, dim2=2).amax(dim=1)
    bad = (info > 0) | (pivots.amin(dim=1) <= batch * torch.finfo(gram.dtype).eps * largest) \
        | ~torch.isfinite(pivots).all(dim=1)
    if bool(bad.any()):
        restart = int(torch.nonzero(bad)[0])
        suggestion = _suggest_eps(ridged[restart].detach(), eps)
        raise ValueError(f"kernel matrix ({kernel=}, B={batch}) is not positive definite at eps={eps} "
                         f"(restart {restart}); use a larger eps, e.g. eps={suggestion:g}")
    solved = torch.cholesky_solve(y, factor)  # (R, B, d): alpha = (K + eps I)^(-1) Y, not differentiated
    # With alpha held fixed, 2 Tr(alpha^T Y) - Tr(alpha^T (K + eps I) alpha) equals Tr(Y^T (K + eps I)^(-1) Y)
    # and has the same gradient in K, -alpha alpha^T: the exact gradient without backpropagating
    # through the factorisation (most of a step's cost at the kernel sizes used here)
    values = 2 * (y * solved).sum(dim=(1, 2)) - (solved * torch.bmm(ridged, solved)).sum(dim=(1, 2))  # (R,)
    return values[0] if single else values


def normalise(projections: torch.Tensor, normalisation: str = "unit") -> torch.Tensor:
    """Columns of (R, m, b) projections to unit norm ("unit") or to an orthonormal set ("orthonormal",
    QR with R's diagonal made positive, so a projection already orthonormal is left unchanged)."""
    if normalisation == "unit":
        return projections / projections.norm(dim=1, keepdim=True)
    if normalisation == "orthonormal":
        q, r = torch.linalg.qr(projections)
        signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
        return q * torch.where(signs == 0, torch.ones_like(signs), signs).unsqueeze(-2)
    raise ValueError(f"unknown normalisation={normalisation!r}; choose one of {NORMALISATIONS}")


def _step_flops(network: MLPSpec, input_dim: int, batch: int, output_dim: int, kernel: str) -> float:
    """Forward FLOPs of one objective evaluation for one restart (multiply-adds x 2)."""
    b = network.input_dim
    flops = 2 * batch * input_dim * b  # z = X U
    widths = [b] + [network.width] * network.depth + [1]
    if kernel == "rbf":
        flops += 2 * batch ** 2 * b
    else:
        flops += 2 * batch * network.flops_per_example()  # forward, then the backward vectors delta_l
        if kernel == "hidden":
            flops += 2 * batch ** 2 * network.width
        else:  # one Gram of layer inputs and one of deltas per layer
            flops += sum(2 * batch ** 2 * (fan_in + fan_out) for fan_in, fan_out in zip(widths[:-1], widths[1:]))
    flops += batch ** 3 / 3 + 2 * batch ** 2 * output_dim  # Cholesky, then two triangular solves
    return float(flops)


def _cost(wall_time_s: float, network: MLPSpec, input_dim: int, batch: int, output_dim: int,
          settings: KernelRuleSettings, n_restarts: int, n_models: int = 1) -> InitCost:
    # a step = forward + backward, counted as 3 x forward FLOPs like a training step
    per_step = 3 * _step_flops(network, input_dim, batch, output_dim, settings.kernel)
    return InitCost(wall_time_s=wall_time_s, flops=per_step * settings.n_steps * n_restarts, n_restarts=n_restarts,
                    n_steps=settings.n_steps, batch_size=batch, n_models=n_models)


def _fit(x: torch.Tensor, y: torch.Tensor, dataset_of_restart: torch.Tensor, initial: torch.Tensor,
         network: MLPSpec, network_params: Params, order_seeds: Sequence[int],
         settings: KernelRuleSettings, snapshot_steps: Sequence[int] = ()
         ) -> tuple[torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """Algorithm 1 for R restarts at once. x (D, n, m), y (D, n, d): D data sets; restart r reads
    data set dataset_of_restart[r], starts from initial[r] (m, b), and draws its minibatches from
    its own generator seeded by order_seeds[r]. Returns projections (R, m, b), objective (R, n_steps)
    and the projections after each step count in ``snapshot_steps`` (0: the normalised start)."""
    n_train = x.shape[1]
    batch = n_train if settings.batch_size is None else settings.batch_size
    u = normalise(initial, settings.normalisation).clone().requires_grad_()
    optimiser = torch.optim.Adam([u], lr=settings.lr)
    generators = [torch.Generator().manual_seed(int(s)) for s in order_seeds]
    rows = dataset_of_restart[:, None]
    trace = []
    wanted = set(int(step) for step in snapshot_steps)
    snapshots = {0: u.detach().clone()} if 0 in wanted else {}
    for step in range(1, settings.n_steps + 1):
        if batch == n_train:
            index = torch.arange(n_train).expand(len(generators), n_train)
        else:
            index = torch.stack([torch.randperm(n_train, generator=g)[:batch] for g in generators])
        index = index.to(x.device)  # (R, B)
        values = kernel_objective(u, x[rows, index], y[rows, index], kernel=settings.kernel, eps=settings.eps,
                                  network=network, network_params=network_params)  # (R,)
        optimiser.zero_grad(set_to_none=True)
        # the sum's gradient for each restart is that restart's own: restarts never interact
        values.sum().backward()
        optimiser.step()
        with torch.no_grad():
            u.copy_(normalise(u, settings.normalisation))
        trace.append(values.detach())
        if step in wanted:
            snapshots[step] = u.detach().clone()
    objective = torch.stack(trace, dim=1) if trace else torch.zeros(u.shape[0], 0, dtype=u.dtype, device=u.device)
    return u.detach(), objective, snapshots


def _prepare_data(x_train, y_train, input_dim: int, settings: KernelRuleSettings, dtype: torch.dtype,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, m) or (D, n, m) inputs and matching labels -> x (D, n, m), y (D, n, d)."""
    x = torch.as_tensor(np.asarray(x_train), dtype=dtype, device=device)
    y = torch.as_tensor(np.asarray(y_train), dtype=dtype, device=device)
    if x.ndim == 2:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    if y.ndim == x.ndim - 1:
        y = y.unsqueeze(-1)
    if x.ndim != 3 or x.shape[-1] != input_dim or y.shape[:2] != x.shape[:2]:
        raise ValueError(f"x_train {tuple(np.shape(x_train))} and y_train {tuple(np.shape(y_train))} do not "
                         f"match input_dim={input_dim}")
    n_train = x.shape[1]
    if settings.batch_size is not None and settings.batch_size > n_train:
        raise ValueError(f"batch_size={settings.batch_size} exceeds the {n_train} training points (n_train)")
    return x, y


def _timed(device: torch.device, work, size: int):
    """(work(), wall seconds). ``size``: floats per step (restarts x batch x (batch + hidden units)):
    small CPU work runs on one thread, by the trainer's measured policy (a second thread slows
    cache-sized steps down on a loaded machine)."""
    single = device.type == "cpu" and size <= CPU_SINGLE_THREAD_BELOW
    with torch_threads(1 if single else None):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = work()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return result, time.perf_counter() - start


def _step_size(n_restarts: int, batch: int, network: MLPSpec) -> int:
    return n_restarts * batch * (batch + network.width * network.depth)


def fit_projections(spec: ModularSpec, x_train, y_train, *, seed: int, n_restarts: int | None = None,
                    settings: KernelRuleSettings = KernelRuleSettings(), vectorise: bool = True,
                    snapshot_steps: Sequence[int] = (), device: str = "cpu") -> ProjectionFit:
    """Algorithm 1 alone: ``n_restarts`` (default ``spec.n_modules``) independent restarts, each
    with its own module network freshly initialised, its own random start U (normalised Gaussian)
    and its own minibatch order, all drawn from (seed, restart index) only, so a restart's result
    does not depend on how many run beside it (the first K of 4K restarts are a K-restart fit).
    ``vectorise=False`` runs them one at a time (the baseline of the benchmark and of the test
    that batching changes nothing). ``snapshot_steps``: step counts (at most ``settings.n_steps``)
    after which the projections are also kept (the weights a shorter fit would end with).

    Data: ``x_train`` (n, m), ``y_train`` (n,) or (n, d). Returns projections (R, m, b).
    """
    if any(not 0 <= int(step) <= settings.n_steps for step in snapshot_steps):
        raise ValueError(f"snapshot_steps must lie in [0, n_steps={settings.n_steps}], got {list(snapshot_steps)!r}")
    if n_restarts is None:
        n_restarts = spec.n_modules
    if not isinstance(n_restarts, (int, np.integer)) or isinstance(n_restarts, bool) or n_restarts < 1:
        raise ValueError(f"n_restarts must be a positive integer, got n_restarts={n_restarts!r}")
    torch_device = resolve_device(device)
    dtype = PRECISIONS[settings.precision]
    x, y = _prepare_data(x_train, y_train, spec.input_dim, settings, dtype, torch_device)
    if x.shape[0] != 1:
        raise ValueError(f"fit_projections takes one data set, got x_train of shape {tuple(np.shape(x_train))}")
    network = module_network(spec)
    n_restarts = int(n_restarts)
    initial, weights, order_seeds = [], [], []
    for restart in range(n_restarts):
        streams = np.random.SeedSequence([seed, restart]).generate_state(3)
        generator = torch.Generator().manual_seed(int(streams[0]))
        initial.append(torch.randn(spec.input_dim, spec.module_dim, generator=generator, dtype=torch.float64))
        weights.append(network.init(seed=int(streams[1])))
        order_seeds.append(int(streams[2]))
    initial = torch.stack(initial).to(device=torch_device, dtype=dtype)  # (R, m, b)
    stacked = [torch.stack(t).to(device=torch_device, dtype=dtype) for t in zip(*weights)]
    dataset_of_restart = torch.zeros(n_restarts, dtype=torch.long, device=torch_device)

    def work():
        if vectorise:
            return _fit(x, y, dataset_of_restart, initial, network, stacked, order_seeds, settings, snapshot_steps)
        parts = [_fit(x, y, dataset_of_restart[r:r + 1], initial[r:r + 1], network, [p[r:r + 1] for p in stacked],
                      order_seeds[r:r + 1], settings, snapshot_steps) for r in range(n_restarts)]
        return (torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]),
                {step: torch.cat([p[2][step] for p in parts]) for step in parts[0][2]})

    batch = x.shape[1] if settings.batch_size is None else settings.batch_size
    (projections, objective, snapshots), wall = _timed(torch_device, work, _step_size(n_restarts, batch, network))
    cost = _cost(wall, network, spec.input_dim, batch, y.shape[-1], settings, n_restarts)
    return ProjectionFit(projections=projections.cpu().double().numpy(), objective=objective.cpu().double().numpy(),
                         cost=cost, settings=settings,
                         snapshots={step: u.cpu().double().numpy() for step, u in sorted(snapshots.items())})


def kernel_rule_init(spec: ModularSpec, x_train, y_train, *, seeds: Sequence[int],
                     settings: KernelRuleSettings = KernelRuleSettings(), device: str = "cpu") -> KernelRuleInit:
    """Algorithm 1 for every model of an ensemble, then the spec that starts from its result.

    For model ``seed`` and module i, the restart starts from the random projection U_i of
    ``spec.init(seed=seed)`` and uses module i's own initial MLP as the kernel's network, so the
    kernel-rule model and the random-init model with the same seed differ only in their initial
    U: a paired comparison. All E * K restarts run batched. Data: (n, m) shared or (E, n, m) one
    data set per model, as in ``modcore.train.train_ensemble``; call that with the returned
    ``spec`` and the same ``seeds`` to train end to end.
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed, got seeds=[]")
    torch_device = resolve_device(device)
    dtype = PRECISIONS[settings.precision]
    x, y = _prepare_data(x_train, y_train, spec.input_dim, settings, dtype, torch_device)
    if x.shape[0] not in (1, len(seeds)):
        raise ValueError(f"per-model x_train holds {x.shape[0]} data sets for {len(seeds)} seeds")
    n_modules, input_dim, module_dim = spec.n_modules, spec.input_dim, spec.module_dim
    random_init = stack_init(dataclasses.replace(spec, init_projections=None), seeds)
    initial = random_init[0].view(len(seeds), input_dim, n_modules, module_dim).permute(0, 2, 1, 3)  # (E, K, m, b)
    initial = initial.reshape(-1, input_dim, module_dim).to(device=torch_device, dtype=dtype)  # (E*K, m, b)
    weights = [p.reshape(-1, *p.shape[2:]).to(device=torch_device, dtype=dtype) for p in random_init[1:]]
    order_seeds = [derive_seed(seed, module, _ORDER_STREAM)
                   for seed in seeds for module in range(n_modules)]
    dataset_of_restart = (torch.arange(len(seeds)).repeat_interleave(n_modules) if x.shape[0] > 1
                          else torch.zeros(len(seeds) * n_modules, dtype=torch.long)).to(torch_device)
    network = module_network(spec)
    batch = x.shape[1] if settings.batch_size is None else settings.batch_size
    n_restarts = len(seeds) * n_modules
    (projections, objective, _), wall = _timed(
        torch_device, lambda: _fit(x, y, dataset_of_restart, initial, network, weights, order_seeds, settings),
        _step_size(n_restarts, batch, network))
    projections = projections.cpu().double().view(len(seeds), n_modules, input_dim, module_dim)
    fitted = spec.with_init_projections({seed: projections[e] for e, seed in enumerate(seeds)})
    cost = _cost(wall, network, input_dim, batch, y.shape[-1], settings, n_restarts, n_models=len(seeds))
    return KernelRuleInit(spec=fitted, seeds=seeds, projections=projections.numpy(),
                          objective=objective.cpu().double().view(len(seeds), n_modules, -1).numpy(),
                          params=stack_init(fitted, seeds), cost=cost, settings=settings)


# --- comparing learned and true directions ---------------------------------------------------
# Every comparison of a learned direction with a true one in the project goes through
# abs_cosines, which puts both sides on the unit sphere first: the task's true directions are
# not unit vectors (direction_norm "gaussian": norm about sqrt(m)), so a raw |u . v| is not a cosine.

def _directions(array, name: str) -> np.ndarray:
    """(n, m) rows, or (K, m, b) projections whose K*b columns are the directions -> unit rows (n, m)."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim == 3:
        a = a.transpose(0, 2, 1).reshape(-1, a.shape[1])
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be (n, m) directions or (K, m, b) projections, got shape {np.shape(array)}")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise ValueError(f"{name} holds a zero or non-finite vector, which has no direction")
    return a / norms


def abs_cosines(learned, true) -> np.ndarray:
    """|cos| between every true direction and every learned one: (n_true, n_learned), both sides
    normalised to unit length first. Absolute value: a module's projection and its negative give
    the same module. Each side: one (m,) vector, (n, m) rows or (K, m, b) projections."""
    learned_rows, true_rows = _directions(learned, "learned"), _directions(true, "true")
    if learned_rows.shape[1] != true_rows.shape[1]:
        raise ValueError(f"learned directions have dimension {learned_rows.shape[1]}, true ones {true_rows.shape[1]}")
    return np.clip(np.abs(true_rows @ learned_rows.T), 0.0, 1.0)  # clip: rounding may exceed 1 by an ulp


def best_match_similarity(learned, true) -> float:
    """For each true direction the largest |cos| with any learned one, averaged over true directions
    (several true directions may pick the same learned one)."""
    return float(abs_cosines(learned, true).max(axis=1).mean())


def matched_similarity(learned, true) -> float:
    """Mean |cos| over an optimal one-to-one matching of true and learned directions (Hungarian
    algorithm, maximising the total |cos|); min(n_true, n_learned) pairs."""
    cosines = abs_cosines(learned, true)
    rows, columns = linear_sum_assignment(cosines, maximize=True)
    return float(cosines[rows, columns].mean())


def nearest_true_direction(learned, true) -> np.ndarray:
    """Index of the true direction each learned one is closest to (largest |cos|): (n_learned,).
    Counting repeats shows how many restarts found the same module."""
    return abs_cosines(learned, true).argmax(axis=0)


def module_recovery(learned, true, *, threshold: float = FOUND_COS) -> dict[str, float | int | list]:
    """How well learned directions (restarts of Algorithm 1, or a network's U) recover the true
    module directions, on unit vectors (:func:`abs_cosines`):

    ``best_cos``      per true module, the largest |cos| with any learned direction (k values);
    ``share``         the fraction of true modules with ``best_cos`` >= ``threshold`` (recovered);
    ``n_found``       that count;
    ``matched``       mean |cos| of the optimal one-to-one matching (Hungarian), which a learned
                      direction cannot serve twice;
    ``n_landed``      learned directions within ``threshold`` of some true module;
    ``n_duplicates``  of those, the ones that land on a module another learned direction already
                      found (n_landed minus the distinct modules they land on).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold=}")
    cosines = abs_cosines(learned, true)  # (n_true, n_learned)
    best = cosines.max(axis=1)
    nearest, closest = cosines.argmax(axis=0), cosines.max(axis=0)
    landed = nearest[closest >= threshold]
    rows, columns = linear_sum_assignment(cosines, maximize=True)
    found = best >= threshold
    return {"best_cos": best.tolist(), "share": float(np.mean(found)), "n_found": int(np.sum(found)),
            "matched": float(cosines[rows, columns].mean()), "n_landed": int(len(landed)),
            "n_duplicates": int(len(landed) - len(set(landed.tolist())))}
