"""Monolithic MLP and modular network, as *specs* that build ensembles of stacked weights.

A spec (:class:`MLPSpec`, :class:`ModularSpec`) is a frozen description of one architecture.
It knows its exact parameter count, draws one model's initial weights from a seed, runs a
forward pass on the weights of E models stacked along a leading axis (batched matmuls), and
builds the equivalent plain ``nn.Module`` (what a user would write; the naive baseline).

    MLP:      x -> [Linear -> act] x depth -> Linear -> R^d
    modular:  x -> z_i = U_i^T x (U_i in R^{m x b}, learned, no bias), i = 1..K
              y = K^(-1/2) * sum_i MLP_i(z_i)           (paper's Eq. 6, Section 4.1)

d = ``output_dim`` (default 1: a scalar output, shape (E, B); d > 1 gives (E, B, d), e.g. the
k * 10 per-slot logits of the compositional image task, where every module emits all d outputs
and they are summed, as in Eq. 6). ``ModularSpec.projection_activation`` turns the linear
projection into a nonlinear one, z_i = act(U_i^T x), with the same parameters (the paper's
Table 2 compares linear with nonlinear module projections).

Weights of one model are a list of tensors; stacked over E models each gets a leading E axis.
Every model's initial weights depend on its own seed only, so an ensemble is a set of
independent models, whatever else is trained beside them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "silu": F.silu,
}
_ACTIVATION_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}

# Paper does not give the architecture of its sine-task networks. Our defaults: two hidden
# layers (the smallest depth at which "width" and "depth" both mean something) and ReLU
# (the most common choice; the target is smooth, so tanh is the obvious ablation).
DEFAULT_DEPTH = 2
DEFAULT_ACTIVATION = "relu"

Params = list[torch.Tensor]


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation={activation!r}; choose one of {sorted(ACTIVATIONS)}")


def _mlp_layer_sizes(input_dim: int, width: int, depth: int, output_dim: int = 1) -> list[tuple[int, int]]:
    sizes = [input_dim] + [width] * depth + [output_dim]
    return list(zip(sizes[:-1], sizes[1:]))


def _uniform_linear(fan_in: int, fan_out: int, generator: torch.Generator, lead: tuple[int, ...] = ()) -> Params:
    """nn.Linear's default init: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); W as (fan_in, fan_out).

    Paper does not give its initialisation; PyTorch's default is what a user gets.
    """
    bound = 1.0 / math.sqrt(fan_in)
    weight = (torch.rand(*lead, fan_in, fan_out, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(*lead, fan_out, generator=generator) * 2 - 1) * bound
    return [weight, bias]


def _stacked_mlp(params: Sequence[torch.Tensor], h: torch.Tensor, activation: str) -> torch.Tensor:
    """MLP on stacked weights: params alternate W (G, in, out), b (G, out); h (G, B, in) -> (G, B)
    for one output, (G, B, out) for several."""
    act = ACTIVATIONS[activation]
    n_layers = len(params) // 2
    for layer in range(n_layers):
        weight, bias = params[2 * layer], params[2 * layer + 1]
        h = torch.baddbmm(bias.unsqueeze(1), h, weight)  # (G, B, out)
        if layer < n_layers - 1:
            h = act(h)
    return h.squeeze(-1) if h.shape[-1] == 1 else h


@dataclasses.dataclass(frozen=True)
class MLPSpec:
    """Fully connected net m -> width x depth -> output_dim."""

    input_dim: int
    width: int
    depth: int = DEFAULT_DEPTH
    activation: str = DEFAULT_ACTIVATION
    output_dim: int = 1

    def __post_init__(self):
        _check_positive("input_dim", self.input_dim)
        _check_positive("width", self.width)
        _check_positive("depth", self.depth)
        _check_positive("output_dim", self.output_dim)
        _check_activation(self.activation)

    def _layer_sizes(self) -> list[tuple[int, int]]:
        return _mlp_layer_sizes(self.input_dim, self.width, self.depth, self.output_dim)

    @property
    def n_params(self) -> int:
        """sum over layers of (fan_in + 1) * fan_out."""
        return sum((fan_in + 1) * fan_out for fan_in, fan_out in self._layer_sizes())

    def flops_per_example(self) -> int:
        """Multiply-adds x 2 of one forward pass for one input."""
        return 2 * sum(fan_in * fan_out for fan_in, fan_out in self._layer_sizes())

    @classmethod
    def for_n_params(cls, n_params: int, input_dim: int, depth: int = DEFAULT_DEPTH,
                     activation: str = DEFAULT_ACTIVATION, output_dim: int = 1) -> MLPSpec:
        """The MLP whose width brings its parameter count closest to ``n_params``."""
        return width_for_n_params(n_params, lambda width: cls(input_dim, width, depth, activation, output_dim))

    def init(self, *, seed: int) -> Params:
        generator = torch.Generator().manual_seed(seed)
        params: Params = []
        for fan_in, fan_out in self._layer_sizes():
            params += _uniform_linear(fan_in, fan_out, generator)
        return params

    def forward(self, params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Outputs of E stacked models: x (E, B, m) -> (E, B), or (E, B, d) for output_dim d > 1."""
        return _stacked_mlp(params, x, self.activation)

    def module(self, *, seed: int) -> nn.Sequential:
        """The same model as a plain ``nn.Sequential`` with the weights of ``init(seed=seed)``."""
        layers: list[nn.Module] = []
        params = self.init(seed=seed)
        for i, (fan_in, fan_out) in enumerate(self._layer_sizes()):
            linear = nn.Linear(fan_in, fan_out)
            with torch.no_grad():
                linear.weight.copy_(params[2 * i].T)
                linear.bias.copy_(params[2 * i + 1])
            layers += [linear, _ACTIVATION_MODULES[self.activation]()]
        return nn.Sequential(*layers[:-1], nn.Flatten(0)) if self.output_dim == 1 else nn.Sequential(*layers[:-1])


@dataclasses.dataclass(frozen=True)
class ModularSpec:
    """K modules, each a learned projection U_i (m x b, no bias) then an MLP b -> width x depth ->
    output_dim; outputs summed and scaled by K^(-1/2). ``projection_activation`` (None: linear)
    makes the projection z_i = act(U_i^T x)."""

    input_dim: int
    n_modules: int
    width: int
    depth: int = DEFAULT_DEPTH
    module_dim: int = 1
    activation: str = DEFAULT_ACTIVATION
    # Optional initial projections per seed (e.g. found by modcore.kernel_rule), as pairs
    # (seed, flat values of a (n_modules, input_dim, module_dim) array): flat tuples keep the spec
    # frozen, hashable and comparable. Build it with with_init_projections; None = random init.
    init_projections: tuple[tuple[int, tuple[float, ...]], ...] | None = dataclasses.field(default=None, repr=False)
    output_dim: int = 1
    projection_activation: str | None = None

    def __post_init__(self):
        _check_positive("n_modules", self.n_modules)
        _check_positive("output_dim", self.output_dim)
        if self.projection_activation is not None:
            _check_activation(self.projection_activation)
        _check_positive("module_dim", self.module_dim)
        _check_positive("width", self.width)
        _check_positive("depth", self.depth)
        _check_activation(self.activation)
        if not isinstance(self.input_dim, int) or self.input_dim < self.module_dim:
            raise ValueError(f"input_dim must be an integer >= module_dim={self.module_dim}, got "
                             f"input_dim={self.input_dim!r}")
        size = self.n_modules * self.input_dim * self.module_dim
        for seed, values in self.init_projections or ():
            if len(values) != size:
                raise ValueError(f"init_projections for seed={seed} hold {len(values)} values, expected "
                                 f"n_modules * input_dim * module_dim = {size}")

    def with_init_projections(self, projections: Mapping[int, Sequence | torch.Tensor]) -> ModularSpec:
        """This spec, with model ``seed``'s projections initialised to ``projections[seed]``, an array
        of shape (n_modules, input_dim, module_dim) (module i's U_i is ``projections[seed][i]``).
        The module MLPs' initial weights stay those of the random init with the same seed."""
        shape = (self.n_modules, self.input_dim, self.module_dim)
        pairs = []
        for seed, values in sorted(projections.items()):
            values = torch.as_tensor(values, dtype=torch.float64)
            if tuple(values.shape) != shape:
                raise ValueError(f"projections for seed={seed} have shape {tuple(values.shape)}, expected {shape}")
            pairs.append((int(seed), tuple(values.reshape(-1).tolist())))
        return dataclasses.replace(self, init_projections=tuple(pairs))

    @property
    def n_params(self) -> int:
        """K * m * b (projections) + K * (parameters of one module MLP)."""
        module = self.module_network().n_params
        return self.n_modules * (self.input_dim * self.module_dim + module)

    def module_network(self) -> MLPSpec:
        """The MLP each module applies to its projection z_i: b -> width x depth -> output_dim."""
        return MLPSpec(self.module_dim, self.width, self.depth, self.activation, self.output_dim)

    def flops_per_example(self) -> int:
        module = self.module_network().flops_per_example()
        return 2 * self.input_dim * self.n_modules * self.module_dim + self.n_modules * module

    @classmethod
    def for_n_params(cls, n_params: int, input_dim: int, n_modules: int, depth: int = DEFAULT_DEPTH,
                     module_dim: int = 1, activation: str = DEFAULT_ACTIVATION, output_dim: int = 1) -> ModularSpec:
        """The modular net whose module width brings its parameter count closest to ``n_params``."""
        return width_for_n_params(
            n_params, lambda width: cls(input_dim, n_modules, width, depth, module_dim, activation,
                                        output_dim=output_dim))

    def init(self, *, seed: int, projections: Sequence | torch.Tensor | None = None) -> Params:
        """[U (m, K*b), then per module layer W (K, in, out), b (K, out)].

        U's columns are random unit vectors (paper does not give the projections' init;
        unit norm keeps every z_i standard normal, like the task's true projections), unless
        ``projections`` (n_modules, input_dim, module_dim) is given, or the spec holds
        ``init_projections`` for this seed (see :meth:`with_init_projections`); the argument wins.
        """
        generator = torch.Generator().manual_seed(seed)
        projection = torch.randn(self.input_dim, self.n_modules * self.module_dim, generator=generator)
        projection = projection / projection.norm(dim=0, keepdim=True)
        if projections is None and self.init_projections is not None:
            stored = dict(self.init_projections)
            if seed not in stored:
                # a silent random fallback would mix two initialisations in one ensemble
                raise ValueError(f"this spec holds init_projections for seeds {sorted(stored)}, not for {seed=}")
            projections = torch.tensor(stored[seed], dtype=torch.float64).view(
                self.n_modules, self.input_dim, self.module_dim)
        if projections is not None:
            # the random draw above still happens, so the module weights below do not depend on it
            given = torch.as_tensor(projections, dtype=projection.dtype)
            shape = (self.n_modules, self.input_dim, self.module_dim)
            if tuple(given.shape) != shape:
                raise ValueError(f"projections must have shape {shape}, got {tuple(given.shape)}")
            projection = given.permute(1, 0, 2).reshape(self.input_dim, -1).clone()  # (m, K*b), module-major
        params: Params = [projection]
        for fan_in, fan_out in self.module_network()._layer_sizes():
            params += _uniform_linear(fan_in, fan_out, generator, lead=(self.n_modules,))
        return params

    def forward(self, params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Outputs of E stacked models: x (E, B, m) -> (E, B), or (E, B, d) for output_dim d > 1."""
        n_models, batch, _ = x.shape
        K, b = self.n_modules, self.module_dim
        z = torch.bmm(x, params[0])  # (E, B, K*b)
        if self.projection_activation is not None:
            z = ACTIVATIONS[self.projection_activation](z)
        z = z.view(n_models, batch, K, b).transpose(1, 2).reshape(n_models * K, batch, b)  # (E*K, B, b)
        module_params = [p.reshape(n_models * K, *p.shape[2:]) for p in params[1:]]
        out = _stacked_mlp(module_params, z, self.activation)  # (E*K, B) or (E*K, B, d)
        return out.view(n_models, K, batch, *out.shape[2:]).sum(dim=1) / math.sqrt(K)

    def module(self, *, seed: int) -> ModularNet:
        return ModularNet(self, self.init(seed=seed))


class ModularNet(nn.Module):
    """Plain-PyTorch modular net (one model), for reading and for the naive baseline."""

    def __init__(self, spec: ModularSpec, params: Params):
        super().__init__()
        self.spec = spec
        self.projection = nn.Linear(spec.input_dim, spec.n_modules * spec.module_dim, bias=False)
        self.blocks = nn.ModuleList()
        with torch.no_grad():
            self.projection.weight.copy_(params[0].T)
            for i in range(spec.n_modules):
                block = spec.module_network().module(seed=0)
                linears = [layer for layer in block if isinstance(layer, nn.Linear)]
                for j, linear in enumerate(linears):
                    linear.weight.copy_(params[1 + 2 * j][i].T)
                    linear.bias.copy_(params[2 + 2 * j][i])
                self.blocks.append(block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.projection(x)
        if self.spec.projection_activation is not None:
            z = ACTIVATIONS[self.spec.projection_activation](z)
        z = z.view(x.shape[0], self.spec.n_modules, self.spec.module_dim)
        return sum(block(z[:, i]) for i, block in enumerate(self.blocks)) / math.sqrt(self.spec.n_modules)


Spec = MLPSpec | ModularSpec


def stack_init(spec: Spec, seeds: Sequence[int]) -> Params:
    """Initial weights of len(seeds) models, stacked: each tensor gets a leading E axis."""
    per_model = [spec.init(seed=seed) for seed in seeds]
    return [torch.stack(tensors) for tensors in zip(*per_model)]


def width_for_n_params(n_params: int, make_spec: Callable[[int], Spec]) -> Spec:
    """make_spec(width) for the width whose exact parameter count is closest to ``n_params``
    (ties go to the smaller width). Raises if even width 1 has more than ``n_params``."""
    if not isinstance(n_params, int) or isinstance(n_params, bool):
        raise ValueError(f"n_params must be an integer, got {n_params=!r}")
    smallest = make_spec(1)
    if n_params < smallest.n_params:
        raise ValueError(f"n_params={n_params} is too small for any network of this shape: width 1 "
                         f"already has {smallest.n_params} parameters")
    low, high = 1, 2
    while make_spec(high).n_params < n_params:  # the count grows with width: bracket, then bisect
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if make_spec(mid).n_params < n_params else (low, mid)
    below, above = make_spec(low), make_spec(high)
    return below if n_params - below.n_params <= above.n_params - n_params else above
