"""The sine-wave task: deterministic, k-independent target variance, draws any n, bad input named."""

import numpy as np
import pytest

from modcore.tasks.sine import SineTask, expected_target_variance

# the illustration's task, whatever the calibrated defaults are
PLAIN = dict(amplitude_scale=1.0, direction_norm="unit", label_noise=0.0)


def test_same_seed_gives_identical_task_and_data():
    first, second = SineTask(6, 3, seed=4), SineTask(6, 3, seed=4)
    np.testing.assert_array_equal(first.directions, second.directions)
    np.testing.assert_array_equal(first.sample(50, seed=1)[1], second.sample(50, seed=1)[1])
    assert not np.array_equal(first.directions, SineTask(6, 3, seed=5).directions)


def test_larger_draw_extends_smaller_one_without_changing_the_task():
    task = SineTask(5, 2, label_noise=0.1, seed=0)
    x_small, y_small = task.sample(20, seed=3)
    x_large, y_large = task.sample(200, seed=3)
    np.testing.assert_array_equal(x_large[:20], x_small)
    np.testing.assert_array_equal(y_large[:20], y_small)


def test_directions_are_unit_vectors_and_target_matches_formula():
    task = SineTask(7, 4, **PLAIN, seed=1)
    np.testing.assert_allclose(np.linalg.norm(task.directions, axis=1), 1.0, atol=1e-12)
    x = np.random.default_rng(0).standard_normal((30, 7))
    z = x @ task.directions[:, :, 0].T  # (n, k)
    g = sum(a * np.sin(w * z + task.phases[:, j]) for j, (a, w) in enumerate(zip((1.0, 0.5, 0.2), (1.0, 3.0, 5.0))))
    np.testing.assert_allclose(task.target(x), g.sum(axis=1) / 2.0, atol=1e-12)


def test_module_dim_above_one_gives_orthonormal_projections():
    task = SineTask(6, 3, module_dim=2, **PLAIN, seed=0)
    gram = np.einsum("kmb,kmc->kbc", task.directions, task.directions)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(2), gram.shape), atol=1e-12)
    assert task.sample(10, seed=0)[1].shape == (10,)


def test_target_variance_averaged_over_tasks_does_not_depend_on_k():
    # Var(y) averaged over task draws: sum_j a_j^2 (1 - exp(-w_j^2)) / 2 = 0.461 for every k
    # (cross-module covariances average to zero over random phases). Compare each k's mean to
    # the formula within 4 standard errors of the mean over tasks.
    expected = sum(a ** 2 * (1 - np.exp(-w ** 2)) / 2 for a, w in zip((1.0, 0.5, 0.2), (1.0, 3.0, 5.0)))
    for k in (1, 3, 9):
        variances = [SineTask(6, k, **PLAIN, seed=1000 * k + s).sample(3000, seed=s)[1].var() for s in range(60)]
        standard_error = np.std(variances, ddof=1) / np.sqrt(len(variances))
        # the finite-sample variance estimate is biased by at most ~1/3000 relative: negligible
        assert abs(np.mean(variances) - expected) < 4 * standard_error, (k, np.mean(variances), standard_error)


def test_label_noise_adds_its_variance():
    task_clean = SineTask(4, 2, **PLAIN, seed=0)
    task_noisy = SineTask(4, 2, **{**PLAIN, "label_noise": 0.5}, seed=0)
    x, y_clean = task_clean.sample(20000, seed=1)
    _, y_noisy = task_noisy.sample(20000, seed=1)
    residual = y_noisy - y_clean
    # s.e. of a sample variance of n normals: sigma^2 sqrt(2/n) = 0.25 * 0.01
    assert abs(residual.var() - 0.25) < 4 * 0.25 * np.sqrt(2 / 20000)


@pytest.mark.parametrize("kwargs, name", [
    (dict(input_dim=5, n_modules=0), "n_modules="),
    (dict(input_dim=1, n_modules=2, module_dim=2), "input_dim="),
    (dict(input_dim=5, n_modules=2, label_noise=-1.0), "label_noise="),
    (dict(input_dim=5, n_modules=2, direction_norm="sphere"), "direction_norm="),
    (dict(input_dim=5, n_modules=2, amplitude_scale=0.0), "amplitude_scale="),
    (dict(input_dim=5, n_modules=2, label_noise=float("inf")), "label_noise="),
])
def test_bad_task_arguments_raise_and_name_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SineTask(**kwargs, seed=0)


def test_nonpositive_n_raises_and_names_it():
    with pytest.raises(ValueError, match="n="):
        SineTask(5, 2, seed=0).sample(0, seed=0)


@pytest.mark.parametrize("direction_norm, input_dim", [("unit", 6), ("gaussian", 2), ("gaussian", 8)])
def test_expected_target_variance_matches_the_mean_over_task_draws(direction_norm, input_dim):
    expected = expected_target_variance(input_dim, amplitude_scale=2.0, direction_norm=direction_norm)
    variances = [SineTask(input_dim, 3, amplitude_scale=2.0, direction_norm=direction_norm, label_noise=0.0,
                          seed=s).sample(3000, seed=s)[1].var() for s in range(80)]
    standard_error = np.std(variances, ddof=1) / np.sqrt(len(variances))
    assert abs(np.mean(variances) - expected) < 4 * standard_error


def test_amplitude_scale_scales_the_target():
    plain = SineTask(5, 2, **PLAIN, seed=3)
    scaled = SineTask(5, 2, **{**PLAIN, "amplitude_scale": 3.0}, seed=3)
    x = np.random.default_rng(0).standard_normal((20, 5))
    np.testing.assert_allclose(scaled.target(x), 3.0 * plain.target(x), rtol=1e-12)
