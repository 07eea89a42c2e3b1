"""The kernel-based modular learning rule: objective, gradients, kernels, fitting, bad input,
alignment measures, and the init-projection option of ModularSpec."""

import re

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, wilcoxon

from modcore import kernel_rule as kr
from modcore.models import MLPSpec, ModularSpec, stack_init
from modcore.tasks.sine import SineTask
from modcore.train import TrainSettings, train_ensemble

ALPHA = 0.01  # significance level of the statistical tests below


def _problem(kernel="ntk", *, input_dim=5, module_dim=2, n_restarts=3, batch=12, output_dim=1, width=6,
             activation="tanh", seed=0):
    """Random float64 projections, data and module networks for an objective evaluation."""
    generator = torch.Generator().manual_seed(seed)
    u = torch.randn(n_restarts, input_dim, module_dim, generator=generator, dtype=torch.float64)
    x = torch.randn(batch, input_dim, generator=generator, dtype=torch.float64)
    y = torch.randn(batch, output_dim, generator=generator, dtype=torch.float64)
    network = MLPSpec(module_dim, width, activation=activation)
    params = [p.double() for p in stack_init(network, range(seed, seed + n_restarts))]
    return u, x, y, dict(kernel=kernel, network=network, network_params=params)


@pytest.mark.parametrize("kernel", kr.KERNELS)
def test_objective_equals_trace_formula_with_a_dense_solve(kernel):
    u, x, y, options = _problem(kernel, output_dim=3)
    eps = 1e-2
    values = kr.kernel_objective(u, x, y, eps=eps, **options)
    gram = kr.kernel_matrix(torch.bmm(x.expand(3, *x.shape), u), **options)
    for r in range(3):
        dense = torch.trace(y.T @ torch.linalg.solve(gram[r] + eps * torch.eye(12, dtype=torch.float64), y))
        torch.testing.assert_close(values[r], dense, rtol=1e-10, atol=0)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "silu"])
def test_ntk_is_the_inner_product_of_parameter_gradients(activation):
    network = MLPSpec(2, 5, depth=2, activation=activation)
    params = [p.double() for p in network.init(seed=3)]
    z = torch.randn(7, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def f(*theta):
        return network.forward([t.unsqueeze(0) for t in theta], z.unsqueeze(0))[0]  # (7,)

    jacobians = torch.autograd.functional.jacobian(f, tuple(params))
    flat = torch.cat([j.reshape(7, -1) for j in jacobians], dim=1)  # (7, n_params)
    ntk = flat @ flat.T
    ours = kr.kernel_matrix(z.unsqueeze(0), kernel="ntk", network=network,
                            network_params=[p.unsqueeze(0) for p in params])[0]
    torch.testing.assert_close(ours, ntk / ntk.diagonal().mean(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", kr.KERNELS)
@pytest.mark.parametrize("output_dim", [1, 2])
def test_gradient_matches_finite_differences_in_float64(kernel, output_dim):
    u, x, y, options = _problem(kernel, output_dim=output_dim, n_restarts=2)
    u.requires_grad_()
    assert torch.autograd.gradcheck(lambda v: kr.kernel_objective(v, x, y, eps=1e-2, **options), (u,),
                                    eps=1e-6, atol=1e-5, rtol=1e-4)


def test_one_network_is_shared_by_all_projections():
    u, x, y, options = _problem("ntk")
    one = [p[1] for p in options["network_params"]]
    shared = kr.kernel_objective(u, x, y, **dict(options, network_params=one))
    for r in range(3):
        torch.testing.assert_close(shared[r], kr.kernel_objective(u[r], x, y, **dict(options, network_params=one)))


def test_rbf_objective_does_not_depend_on_column_signs():
    u, x, y, options = _problem("rbf")
    flipped = u * torch.tensor([1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(kr.kernel_objective(flipped, x, y, **options),
                               kr.kernel_objective(u, x, y, **options), rtol=1e-12, atol=0)


@pytest.mark.parametrize("kernel", ["ntk", "hidden"])
def test_flipping_a_column_equals_flipping_the_first_layer_row(kernel):
    # the network kernels see U only through f(U^T x; W1): f(-z; W1) = f(z; -W1), so a column's
    # sign is absorbed by the first layer (the objective is sign-invariant over random inits)
    u, x, y, options = _problem(kernel)
    signs = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    params = list(options["network_params"])
    flipped_params = [params[0] * signs[:, None]] + params[1:]  # W1 (R, b, width): row j <-> column j
    flipped = dict(options, network_params=flipped_params)
    torch.testing.assert_close(kr.kernel_objective(u * signs, x, y, **flipped),
                               kr.kernel_objective(u, x, y, **options), rtol=1e-12, atol=0)


# The properties below are stated for a noiseless task with unit-norm module directions, whatever
# the calibrated defaults of SineTask are (those are the chapters' business).
NOISELESS_UNIT = dict(label_noise=0.0, direction_norm="unit", amplitude_scale=1.0)


@pytest.mark.parametrize("kernel", kr.KERNELS)
def test_true_direction_has_lower_objective_than_a_random_one_on_noiseless_sine(kernel):
    # one-sided sign test over independent seeds (task, data, network, random direction):
    # H0 "the true direction is as likely to score higher as lower" rejected at ALPHA
    n_seeds, input_dim = 12, 6
    network = MLPSpec(1, 16)
    wins = 0
    for seed in range(n_seeds):
        task = SineTask(input_dim, 1, seed=seed, **NOISELESS_UNIT)
        x, y = task.sample(96, seed=seed)
        params = [p.double() for p in network.init(seed=seed)]
        random = torch.randn(input_dim, 1, generator=torch.Generator().manual_seed(1000 + seed), dtype=torch.float64)
        options = dict(kernel=kernel, network=network, network_params=params)
        at_truth = kr.kernel_objective(torch.from_numpy(task.directions[0]), x, y, **options)
        at_random = kr.kernel_objective(random / random.norm(), x, y, **options)
        wins += int(at_truth < at_random)
    assert binomtest(wins, n_seeds, 0.5, alternative="greater").pvalue < ALPHA


def _small_fit_inputs(input_dim=4, module_dim=1, n_modules=3):
    task = SineTask(input_dim, 2, seed=0)
    x, y = task.sample(60, seed=1)
    return ModularSpec(input_dim, n_modules, 8, module_dim=module_dim), x, y


@pytest.mark.parametrize("kernel, normalisation", [("ntk", "unit"), ("rbf", "unit"), ("hidden", "orthonormal")])
def test_batched_restarts_equal_restarts_run_one_at_a_time(kernel, normalisation):
    spec, x, y = _small_fit_inputs(module_dim=2)
    settings = kr.KernelRuleSettings(kernel=kernel, normalisation=normalisation, n_steps=15, batch_size=24)
    batched = kr.fit_projections(spec, x, y, seed=4, n_restarts=3, settings=settings)
    looped = kr.fit_projections(spec, x, y, seed=4, n_restarts=3, settings=settings, vectorise=False)
    # Same arithmetic; only the batch size of bmm/Cholesky differs, so results differ by rounding.
    # First step (no optimisation yet): float64 resolution times the ridged kernel's condition bound
    # B / eps (largest eigenvalue <= trace = B, smallest >= eps).
    first_step = torch.finfo(torch.float64).eps * settings.batch_size / settings.eps
    np.testing.assert_allclose(batched.objective[:, 0], looped.objective[:, 0], rtol=first_step)
    # Later steps: Adam divides by the gradient's running size, which amplifies rounding in tiny
    # gradient components; 1e-6 is still far below the O(1) distance between different restarts
    np.testing.assert_allclose(batched.projections, looped.projections, rtol=0, atol=1e-6)
    np.testing.assert_allclose(batched.objective, looped.objective, rtol=1e-6)
    assert np.abs(batched.projections[0] - batched.projections[1]).max() > 1e-2
    # and a restart's result does not depend on how many run beside it
    first = kr.fit_projections(spec, x, y, seed=4, n_restarts=1, settings=settings)
    np.testing.assert_allclose(first.projections[0], batched.projections[0], rtol=0, atol=1e-6)


def test_fitted_projections_obey_the_normalisation_with_several_outputs():
    spec, x, y = _small_fit_inputs(input_dim=5, module_dim=2)
    outputs = np.stack([y, y ** 2 - 1], axis=1)  # (n, 2): Tr(Y^T K^-1 Y) with two columns
    for normalisation in kr.NORMALISATIONS:
        settings = kr.KernelRuleSettings(normalisation=normalisation, n_steps=5, batch_size=20)
        u = kr.fit_projections(spec, x, outputs, seed=0, settings=settings).projections  # (3, 5, 2)
        gram = np.einsum("rmi,rmj->rij", u, u)
        np.testing.assert_allclose(np.diagonal(gram, axis1=1, axis2=2), 1.0, atol=1e-12)
        if normalisation == "orthonormal":
            np.testing.assert_allclose(gram, np.broadcast_to(np.eye(2), gram.shape), atol=1e-12)


@pytest.mark.parametrize("kernel", kr.KERNELS)
def test_fitting_moves_a_random_start_towards_the_true_direction(kernel):
    # k = 1, noiseless: |cos| with the true direction before and after Algorithm 1, paired by seed;
    # one-sided Wilcoxon signed-rank test over independent seeds, H0 "no improvement" rejected at ALPHA
    n_seeds, input_dim = 12, 5
    spec = ModularSpec(input_dim, 1, 16)
    before, after = [], []
    for seed in range(n_seeds):
        task = SineTask(input_dim, 1, seed=seed, **NOISELESS_UNIT)
        x, y = task.sample(300, seed=seed)
        for n_steps, similarity in ((0, before), (60, after)):
            settings = kr.KernelRuleSettings(kernel=kernel, n_steps=n_steps, batch_size=64, lr=0.05)
            fit = kr.fit_projections(spec, x, y, seed=seed, settings=settings)
            similarity.append(kr.best_match_similarity(fit.projections, task.directions))
    assert wilcoxon(after, before, alternative="greater").pvalue < ALPHA


def test_kernel_rule_init_gives_a_spec_train_ensemble_starts_from():
    spec, x, y = _small_fit_inputs()
    seeds = [3, 5]
    result = kr.kernel_rule_init(spec, x, y, seeds=seeds, settings=kr.KernelRuleSettings(n_steps=4, batch_size=20))
    assert result.projections.shape == (2, 3, 4, 1) and result.objective.shape == (2, 3, 4)
    random_params = stack_init(spec, seeds)
    expected_u = torch.from_numpy(result.projections).float().permute(0, 2, 1, 3).reshape(2, 4, 3)  # (E, m, K*b)
    torch.testing.assert_close(result.params[0], expected_u)
    for ours, random in zip(result.params[1:], random_params[1:]):  # module weights: those of the random init
        torch.testing.assert_close(ours, random, rtol=0, atol=0)
    per_model = kr.kernel_rule_init(spec, np.stack([x, x]), np.stack([y, y]), seeds=seeds, settings=result.settings)
    np.testing.assert_allclose(per_model.projections, result.projections, rtol=0, atol=1e-12)
    trained = train_ensemble(result.spec, seeds, x, y, settings=TrainSettings(n_steps=2), device="cpu")
    x32, y32 = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    with torch.no_grad():
        start = ((result.spec.forward(result.params, x32.expand(2, *x32.shape)) - y32) ** 2).mean(dim=1)
    np.testing.assert_allclose(trained.train_mse[:, 0], start.double().numpy(), rtol=1e-5)
    assert result.cost.n_restarts == 6 and result.cost.flops > 0 and result.cost.wall_time_s > 0
    assert result.cost.training_steps_equivalent(spec, batch_size=20) > 0


def test_init_projections_round_trip_and_unknown_seed_raises():
    spec = ModularSpec(4, 2, 5, module_dim=2)
    projections = torch.randn(2, 4, 2, dtype=torch.float64)
    fitted = spec.with_init_projections({7: projections})
    assert fitted == spec.with_init_projections({7: projections.clone()}) and hash(fitted)
    u = fitted.init(seed=7)[0]  # (m, K*b), module-major columns
    torch.testing.assert_close(u.view(4, 2, 2).permute(1, 0, 2), projections.float())
    torch.testing.assert_close(fitted.module(seed=7).projection.weight.T, u)
    with pytest.raises(ValueError, match="seed=8"):
        fitted.init(seed=8)
    with pytest.raises(ValueError, match="shape"):
        spec.init(seed=0, projections=torch.zeros(2, 4, 1))


@pytest.mark.parametrize("call, name", [
    (lambda: kr.kernel_objective(torch.randn(3, 4, dtype=torch.float64), torch.randn(8, 3), torch.randn(8),
                                 kernel="rbf"), "module_dim=4"),
    (lambda: kr.kernel_objective(torch.randn(4, 1), torch.randn(8, 4), torch.randn(8), kernel="rbf", eps=-1e-3),
     "eps=-0.001"),
    (lambda: kr.KernelRuleSettings(eps=-1.0), "eps=-1.0"),
    (lambda: kr.KernelRuleSettings(kernel="laplace"), "kernel='laplace'"),
    (lambda: kr.kernel_objective(torch.randn(4, 1), torch.randn(8, 4), torch.randn(8), kernel="laplace"),
     "kernel='laplace'"),
    (lambda: kr.fit_projections(ModularSpec(4, 2, 5), np.zeros((10, 4)), np.zeros(10), seed=0,
                                settings=kr.KernelRuleSettings(batch_size=11)), "batch_size=11"),
    (lambda: kr.fit_projections(ModularSpec(4, 2, 5), np.zeros((10, 4)), np.zeros(10), seed=0, n_restarts=0),
     "n_restarts=0"),
    (lambda: kr.fit_projections(ModularSpec(4, 2, 5), np.zeros((10, 4)), np.zeros(10), seed=0, n_restarts=-2),
     "n_restarts=-2"),
    (lambda: kr.KernelRuleSettings(normalisation="none"), "normalisation='none'"),
    (lambda: kr.fit_projections(ModularSpec(3, 2, 5, module_dim=4), np.zeros((10, 3)), np.zeros(10), seed=0),
     "module_dim=4"),
])
def test_bad_input_raises_and_names_the_argument(call, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        call()


def test_singular_kernel_at_zero_eps_raises_suggesting_a_larger_eps_that_works():
    # last hidden layer of width 4: a Gram matrix of rank <= 4 on 16 points is singular
    u, x, y, options = _problem("hidden", batch=16, width=4, n_restarts=1)
    with pytest.raises(ValueError, match="larger eps") as raised:
        kr.kernel_objective(u, x, y, eps=0.0, **options)
    suggested = float(re.search(r"e\.g\. eps=([0-9.e+-]+)", str(raised.value)).group(1))
    assert torch.isfinite(kr.kernel_objective(u, x, y, eps=suggested, **options)).all()


def test_alignment_measures_on_known_directions():
    true = np.eye(3)[:2]  # e1, e2
    assert kr.best_match_similarity(-true[::-1], true) == pytest.approx(1.0)  # order and sign do not matter
    assert kr.matched_similarity(-true[::-1], true) == pytest.approx(1.0)
    # one learned direction between e1 and e2, one orthogonal to both: each true direction's best
    # match is the shared one (|cos| = 1/sqrt 2), but a one-to-one matching must use the other
    learned = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert kr.best_match_similarity(learned, true) == pytest.approx(1 / np.sqrt(2))
    assert kr.matched_similarity(learned, true) == pytest.approx(1 / (2 * np.sqrt(2)))
    np.testing.assert_array_equal(kr.nearest_true_direction(learned[:1], true), [0])
    # (K, m, b) projections are read column by column
    projections = np.stack([true.T[:, :1], true.T[:, 1:]])  # (2, 3, 1)
    assert kr.matched_similarity(projections, true) == pytest.approx(1.0)


def test_every_comparison_of_directions_is_on_unit_vectors_whatever_the_inputs_norms():
    # the bug this guards against: |u . v| with a true direction of norm about sqrt(m) read as a cosine
    true = np.array([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0]])  # norms 3 and 0.5
    learned = np.array([[-7.0, 0.0, 0.0], [0.0, 2.0, 2.0]])
    cosines = kr.abs_cosines(learned, true)
    np.testing.assert_allclose(cosines, [[1.0, 0.0], [0.0, 1 / np.sqrt(2)]], atol=1e-15)
    assert kr.best_match_similarity(learned, true) == pytest.approx((1 + 1 / np.sqrt(2)) / 2)
    assert kr.matched_similarity(learned, true) == pytest.approx((1 + 1 / np.sqrt(2)) / 2)
    recovery = kr.module_recovery(learned, true)
    assert recovery["best_cos"] == pytest.approx([1.0, 1 / np.sqrt(2)])
    assert recovery["share"] == 0.5 and recovery["n_found"] == 1


def test_module_recovery_counts_duplicates_and_matches_one_to_one():
    true = np.eye(3)[:2] * 2.5  # two true modules, non-unit
    learned = np.array([[1.0, 0.01, 0], [-1.0, 0.02, 0], [0.3, 0, 1.0], [0.02, 1.0, 0.0]])  # two on module 1
    recovery = kr.module_recovery(learned, true)
    assert recovery["share"] == 1.0 and recovery["n_landed"] == 3 and recovery["n_duplicates"] == 1
    # a one-to-one matching cannot use the duplicate twice
    assert recovery["matched"] == pytest.approx(np.mean([kr.abs_cosines(learned[0], true[0])[0, 0],
                                                        kr.abs_cosines(learned[3], true[1])[0, 0]]))
    assert kr.module_recovery(learned[2:3], true)["share"] == 0.0
    with pytest.raises(ValueError, match="threshold="):
        kr.module_recovery(learned, true, threshold=0.0)


def test_snapshots_are_the_projections_of_shorter_fits():
    spec, x, y = _small_fit_inputs()
    settings = kr.KernelRuleSettings(kernel="rbf", n_steps=8, batch_size=20)
    fit = kr.fit_projections(spec, x, y, seed=2, n_restarts=3, settings=settings, snapshot_steps=(0, 3, 8))
    np.testing.assert_array_equal(fit.snapshots[8], fit.projections)
    short = kr.fit_projections(spec, x, y, seed=2, n_restarts=3, settings=kr.KernelRuleSettings(
        kernel="rbf", n_steps=3, batch_size=20))
    np.testing.assert_array_equal(fit.snapshots[3], short.projections)
    start = kr.fit_projections(spec, x, y, seed=2, n_restarts=3, settings=kr.KernelRuleSettings(
        kernel="rbf", n_steps=0, batch_size=20))
    np.testing.assert_array_equal(fit.snapshots[0], start.projections)
    with pytest.raises(ValueError, match="snapshot_steps"):
        kr.fit_projections(spec, x, y, seed=2, settings=settings, snapshot_steps=(9,))
