"""Model specs: exact parameter counts, stacked forward == plain nn.Module, width search."""

import pytest
import torch

from modcore.models import MLPSpec, ModularSpec, stack_init, width_for_n_params

SPECS = [MLPSpec(7, 29), MLPSpec(3, 5, depth=1, activation="tanh"), MLPSpec(9, 16, depth=3, activation="gelu"),
         ModularSpec(7, 4, 16), ModularSpec(6, 3, 8, depth=1, module_dim=2, activation="silu")]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_parameter_count_is_exact(spec):
    module = spec.module(seed=0)
    assert spec.n_params == sum(p.numel() for p in module.parameters())
    assert spec.n_params * 3 == sum(p.numel() for p in stack_init(spec, [0, 1, 2]))


def test_parameter_count_formulas():
    # (m+1)w + (w+1)w + (w+1) for the two-hidden-layer MLP
    assert MLPSpec(7, 29).n_params == 8 * 29 + 30 * 29 + 30
    # K m b + K [(b+1)w + (w+1)w + (w+1)]
    assert ModularSpec(7, 4, 16).n_params == 4 * 7 + 4 * (2 * 16 + 17 * 16 + 17)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_stacked_forward_equals_plain_module_of_each_seed(spec):
    x = torch.randn(3, 11, spec.input_dim)
    params = stack_init(spec, [5, 6, 7])
    stacked = spec.forward(params, x)  # (3, 11)
    for i, seed in enumerate([5, 6, 7]):
        torch.testing.assert_close(stacked[i], spec.module(seed=seed)(x[i]), rtol=1e-5, atol=1e-6)


def test_init_depends_only_on_the_seed():
    spec = MLPSpec(5, 8)
    alone = spec.init(seed=3)
    among_others = [p[1] for p in stack_init(spec, [9, 3, 4])]
    for a, b in zip(alone, among_others):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("target", [100, 1153, 3200, 17000])
def test_width_search_picks_the_closest_count(target):
    spec = MLPSpec.for_n_params(target, 7)
    neighbours = [MLPSpec(7, w).n_params for w in (spec.width - 1, spec.width + 1) if w >= 1]
    assert all(abs(spec.n_params - target) <= abs(n - target) for n in neighbours)
    modular = ModularSpec.for_n_params(target, 7, 3)
    assert abs(modular.n_params - target) <= abs(ModularSpec(7, 3, modular.width + 1).n_params - target)


def test_too_few_parameters_raises_and_names_n_params():
    with pytest.raises(ValueError, match="n_params=10"):
        MLPSpec.for_n_params(10, 7)
    with pytest.raises(ValueError, match="n_params="):
        width_for_n_params(3, lambda w: ModularSpec(5, 2, w))


@pytest.mark.parametrize("make, name", [
    (lambda: MLPSpec(7, 8, activation="softplus"), "activation="),
    (lambda: MLPSpec(7, 0), "width="),
    (lambda: ModularSpec(1, 2, 8, module_dim=2), "input_dim="),
    (lambda: ModularSpec(5, 0, 8), "n_modules="),
])
def test_bad_architecture_raises_and_names_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()
