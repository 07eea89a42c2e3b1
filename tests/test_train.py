"""The ensemble trainer: ensemble == models trained alone; chunking, devices, linearised optimum."""

import numpy as np
import pandas as pd
import pytest
import torch

from modcore.experiments import sine_networks as se
from modcore.models import MLPSpec, ModularSpec
from modcore.tasks.sine import SineTask
from modcore import train
from modcore.train import (Plan, TrainSettings, batch_indices, choose_plan, fit_linearised, stacked_batch_indices,
                           train_ensemble, train_naive)


@pytest.fixture(scope="module")
def data():
    task = SineTask(5, 2, seed=0)
    return (*task.sample(120, seed=1), *task.sample(300, seed=2))


# float32, 150 Adam steps: rounding differences (bmm vs mm, summation order) grow along the
# trajectory, but stay orders of magnitude below the loss's own changes (~1e-1)
TOLERANCE = dict(rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("batch_size", [None, 32])
def test_ensemble_equals_models_trained_one_by_one(data, batch_size):
    spec = MLPSpec(5, 16)
    settings = TrainSettings(n_steps=150, lr=1e-2, batch_size=batch_size, eval_every=50)
    together = train_ensemble(spec, [0, 1, 2, 3], *data, settings=settings, device="cpu")
    naive = train_naive(spec, [0, 1, 2, 3], *data, settings=settings, device="cpu")
    np.testing.assert_allclose(together.train_mse, naive.train_mse, **TOLERANCE)
    np.testing.assert_allclose(together.test_mse, naive.test_mse, **TOLERANCE)
    alone = train_ensemble(spec, [2], *data, settings=settings, device="cpu")
    np.testing.assert_allclose(together.train_mse[2], alone.train_mse[0], **TOLERANCE)
    assert together.train_mse[:, -1].max() < 0.5 * together.train_mse[:, 0].min()  # it did learn


def test_modular_ensemble_equals_models_trained_one_by_one(data):
    spec = ModularSpec(5, 3, 8)
    settings = TrainSettings(n_steps=100, lr=1e-2, batch_size=40)
    together = train_ensemble(spec, [0, 1, 2], *data, settings=settings, device="cpu")
    naive = train_naive(spec, [0, 1, 2], *data, settings=settings, device="cpu")
    np.testing.assert_allclose(together.test_mse, naive.test_mse, **TOLERANCE)


def test_chunking_does_not_change_any_model(data):
    spec = MLPSpec(5, 16)
    settings = dict(n_steps=60, lr=1e-2, batch_size=32)
    whole = train_ensemble(spec, [0, 1, 2, 3, 4], *data, settings=TrainSettings(**settings), device="cpu")
    chunked = train_ensemble(spec, [0, 1, 2, 3, 4], *data, settings=TrainSettings(**settings, max_models_per_chunk=2),
                             device="cpu")
    np.testing.assert_allclose(whole.test_mse, chunked.test_mse, **TOLERANCE)


def test_the_trainers_own_plan_does_not_change_any_model(data):
    spec = MLPSpec(5, 512)  # 266k parameters: the rule stacks fewer than 5 of them (checked below)
    seeds = [0, 1, 2, 3, 4]
    assert choose_plan(spec, 32, len(seeds), "cpu").chunk < len(seeds)
    settings = dict(n_steps=12, lr=1e-3, batch_size=32)
    planned = train_ensemble(spec, seeds, *data, settings=TrainSettings(**settings), device="cpu")
    for chunk in (1, len(seeds)):
        other = train_ensemble(spec, seeds, *data, settings=TrainSettings(**settings, max_models_per_chunk=chunk),
                               device="cpu")
        np.testing.assert_allclose(planned.test_mse, other.test_mse, **TOLERANCE)


def test_stacked_orders_are_each_models_order_alone():
    seeds = [4, 0, 7]
    stacked = list(stacked_batch_indices(50, 16, 10, seeds=seeds))  # 4 batches per epoch, the last of 2
    for row, seed in enumerate(seeds):
        alone = list(batch_indices(50, 16, 10, seed=seed))
        assert len(alone) == len(stacked) == 10
        for mine, together in zip(alone, stacked):
            assert torch.equal(mine, together[row])


# The compiled step fuses the forward and the loss into other kernels, which sum in another
# order: the numbers move by float32 rounding (unit 1.2e-7), amplified along Adam's trajectory.
# Bound: every evaluated loss within 1e-5 relative (about 80 float32 units) after 60 steps;
# measured 2e-8 after 30 steps and 7e-8 after 150, so the bound leaves room for other CPUs' kernels.
COMPILED_RTOL = 1e-5


def test_compiled_step_equals_eager_step_within_float32_rounding(data):
    spec = MLPSpec(5, 16)
    settings = dict(n_steps=60, lr=1e-2, batch_size=40, eval_every=20)  # 120 points: 3 equal batches, one shape
    eager = train_ensemble(spec, [0, 1, 2], *data, settings=TrainSettings(**settings), device="cpu")
    compiled = train_ensemble(spec, [0, 1, 2], *data, settings=TrainSettings(**settings, compile=True), device="cpu")
    assert train._compiled_loss.cache_info().currsize >= 1  # the flag reached the compiled step
    np.testing.assert_allclose(compiled.train_mse, eager.train_mse, rtol=COMPILED_RTOL, atol=0)
    np.testing.assert_allclose(compiled.test_mse, eager.test_mse, rtol=COMPILED_RTOL, atol=0)
    assert eager.train_mse[:, -1].max() < 0.8 * eager.train_mse[:, 0].min()  # the weights moved: a real comparison


def test_plan_stacks_all_models_on_cuda_and_keeps_torchs_threads():
    assert choose_plan(MLPSpec(8, 512), 1000, 64, "cuda") == Plan(chunk=64, threads=None)


@pytest.mark.parametrize("width, batch, n_models", [(32, 64, 64), (128, 64, 64), (512, 64, 64), (32, 1000, 64),
                                                    (128, 1000, 16), (512, 1000, 16), (2048, 1000, 4)])
def test_cpu_plan_follows_its_budgets(width, batch, n_models):
    spec = MLPSpec(8, width)
    plan = choose_plan(spec, batch, n_models, "cpu")
    activations = plan.chunk * batch * width
    n_chunks = -(-n_models // plan.chunk)
    # the largest chunk within both budgets (at least one model), split into equal chunks
    largest = max(1, min(n_models, train.CPU_ACTIVATION_BUDGET // (batch * width),
                         train.CPU_PARAMETER_BUDGET // spec.n_params))
    assert n_chunks == -(-n_models // largest)
    assert plan.chunk - (n_models - (n_chunks - 1) * plan.chunk) < n_chunks  # an equal split: short by < 1 per chunk
    assert plan.chunk == 1 or activations <= train.CPU_ACTIVATION_BUDGET
    assert plan.chunk == 1 or plan.chunk * spec.n_params <= train.CPU_PARAMETER_BUDGET
    assert plan.threads == (1 if activations <= train.CPU_SINGLE_THREAD_BELOW else None)


def test_cpu_plan_stacks_where_stacking_won_and_loops_where_it_lost():
    # the benchmark's cases: small models at minibatch 64 stack whole; width 512 stacks a few at
    # minibatch 64 (64 at once measured 0.6-0.8x of the loop) and one at a time at full batch
    assert choose_plan(MLPSpec(8, 32), 64, 64, "cpu") == Plan(chunk=64, threads=1)
    assert choose_plan(MLPSpec(8, 128), 64, 64, "cpu") == Plan(chunk=32, threads=1)
    assert choose_plan(MLPSpec(8, 512), 64, 64, "cpu").chunk == 3
    assert choose_plan(MLPSpec(8, 512), 1000, 16, "cpu") == Plan(chunk=1, threads=1)
    assert choose_plan(MLPSpec(8, 512), 64, 64, "cpu", max_models_per_chunk=64).chunk == 64
    assert choose_plan(ModularSpec(8, 4, 128), 1000, 16, "cpu").chunk == 1  # hidden units: 4 modules x 128


def test_unknown_device_type_in_plan_raises_and_names_it():
    with pytest.raises(ValueError, match="device_type="):
        choose_plan(MLPSpec(8, 32), 64, 4, "tpu")


def test_per_model_data_sets_train_each_model_on_its_own(data):
    spec = MLPSpec(5, 8)
    other = SineTask(5, 4, seed=9)
    x2, y2 = other.sample(120, seed=1)
    xt2, yt2 = other.sample(300, seed=2)
    stacked = train_ensemble(spec, [0, 1], np.stack([data[0], x2]), np.stack([data[1], y2]),
                             np.stack([data[2], xt2]), np.stack([data[3], yt2]),
                             settings=TrainSettings(n_steps=50, lr=1e-2),
                             device="cpu")
    second = train_ensemble(spec, [1], x2, y2, xt2, yt2, settings=TrainSettings(n_steps=50, lr=1e-2), device="cpu")
    np.testing.assert_allclose(stacked.test_mse[1], second.test_mse[0], **TOLERANCE)


def test_same_seed_gives_identical_numbers(data):
    spec = MLPSpec(5, 8)
    settings = TrainSettings(n_steps=40, batch_size=16)
    first = train_ensemble(spec, [3, 4], *data, settings=settings, device="cpu")
    second = train_ensemble(spec, [3, 4], *data, settings=settings, device="cpu")
    np.testing.assert_array_equal(first.test_mse, second.test_mse)


def test_lbfgs_reaches_lower_training_loss_than_adam_in_the_same_steps(data):
    spec = MLPSpec(5, 8)
    adam = train_ensemble(spec, [0], *data[:2], settings=TrainSettings(n_steps=100, lr=1e-2), device="cpu")
    lbfgs = train_ensemble(spec, [0], *data[:2], settings=TrainSettings(n_steps=100, lr=1.0, optimizer="lbfgs",
                                                                        precision="float64"), device="cpu")
    assert lbfgs.final_train_mse[0] < adam.final_train_mse[0]


def test_linearised_fit_interpolates_above_threshold_and_not_below(data):
    x, y, xt, yt = data
    over = fit_linearised(MLPSpec(5, 16), 0, x, y, xt, yt)  # 385 parameters > 120 points
    assert over["train_mse"] < 1e-12
    under = fit_linearised(MLPSpec(5, 2), 0, x, y, xt, yt)  # 25 parameters < 120 points
    assert under["train_mse"] > 1e-3
    # at the optimum of a model that contains the initial one, the fit beats doing nothing
    init_mse = float(np.mean((MLPSpec(5, 2).forward([p[None] for p in MLPSpec(5, 2).init(seed=0)],
                                                      torch.tensor(x, dtype=torch.float32)[None])[0].numpy() - y) ** 2))
    assert under["train_mse"] < init_mse


def test_network_runs_batch_like_alone():
    runs = [se.NetworkRun(input_dim=4, n_modules=k, n_params=200, n_train=80, seed=s, n_steps=30, n_test=200)
            for k, s in ((2, 0), (3, 1))]
    together = se.run_network_batch(runs)
    alone = se.run_network_batch(runs[1:])
    assert together[1]["test_mse"] == pytest.approx(alone[0]["test_mse"], rel=1e-4)
    assert together[0]["n_params_actual"] == MLPSpec.for_n_params(200, 4).n_params
    assert not together[0]["diverged"]


def test_device_is_part_of_a_runs_identity():
    from modcore.sweeps import config_key
    run = dict(input_dim=4, n_modules=2, n_params=200, n_train=80, seed=0)
    on_cpu, on_cuda = se.NetworkRun(**run, device="cpu"), se.NetworkRun(**run, device="cuda")
    assert config_key(on_cpu) != config_key(on_cuda)
    assert on_cpu.ensemble_key() != on_cuda.ensemble_key()
    with pytest.raises(ValueError, match="device="):
        se.NetworkRun(**run, device="auto")


def test_a_run_that_blows_up_is_recorded_as_diverged():
    # lr 10 on an MSE loss: the loss runs off to inf/NaN or far above the labels' variance
    runs = [se.NetworkRun(input_dim=4, n_modules=2, n_params=200, n_train=80, seed=0, n_steps=50, lr=10.0, n_test=200)]
    result = se.run_network_batch(runs)[0]
    assert result["diverged"]
    assert se.is_diverged(1.0, float("nan"), 1.0) and se.is_diverged(1.0, 11.0, 1.0)
    assert not se.is_diverged(1.0, 9.0, 1.0)


SINE_VARIANCE = sum(a ** 2 * (1 - np.exp(-w ** 2)) / 2 for a, w in zip((1.0, 0.5, 0.2), (1.0, 3.0, 5.0)))


def exact_theory_runs(truth, grid):
    runs = pd.DataFrame(grid, columns=["input_dim", "n_train", "n_params_actual"])
    return runs.assign(test_mse=truth.losses(runs.input_dim, runs.n_train, runs.n_params_actual)[1], diverged=False,
                       amplitude_scale=truth.amplitude_scale, direction_norm=truth.direction_norm,
                       label_noise=truth.label_noise)


TRUTH = se.TheoryFit(omega=1.4, omega_low=1.4, omega_high=1.4, n_fitted=0, rms_log_error=0.0,
                     amplitude_scale=2.0, direction_norm="unit", label_noise=0.5)


def test_theory_fit_recovers_omega_and_computes_c_from_the_task():
    runs = exact_theory_runs(TRUTH, [(m, n, p) for m in (3, 6, 9) for n in (1000, 4000) for p in (50, 200, 400)])
    refit = se.fit_theory(runs)
    assert refit.omega == pytest.approx(1.4, rel=1e-4)
    assert refit.omega_low <= refit.omega <= refit.omega_high
    assert refit.spectrum_scale(6) == pytest.approx(2.0 ** 2 * SINE_VARIANCE)  # c = Var(y), not fitted


def test_theory_fit_leaves_diverged_runs_out():
    runs = exact_theory_runs(TRUTH, [(m, 4000, p) for m in (3, 6, 9) for p in (50, 200, 400)])
    runs.loc[0, ["test_mse", "diverged"]] = [1e6, True]
    assert se.fit_theory(runs).omega == pytest.approx(1.4, rel=1e-4)
    runs.loc[0, "diverged"] = False
    assert se.fit_theory(runs).omega != pytest.approx(1.4, rel=1e-2)


def test_cuda_without_cuda_raises_and_names_device(data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="device="):
        train_ensemble(MLPSpec(5, 4), [0], *data, settings=TrainSettings(n_steps=1), device="cuda")


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_steps=-1), "n_steps="), (dict(n_steps=1, lr=0.0), "lr="), (dict(n_steps=1, lr=float("inf")), "lr="),
    (dict(n_steps=1, optimizer="sgd"), "optimizer="), (dict(n_steps=1, batch_size=0), "batch_size="),
    (dict(n_steps=1, precision="float16"), "precision="), (dict(n_steps=1, eval_every=0), "eval_every="),
    (dict(n_steps=1, compile="yes"), "compile="),
])
def test_bad_training_settings_raise_and_name_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TrainSettings(**kwargs)


def test_lbfgs_with_minibatches_raises_and_names_batch_size(data):
    with pytest.raises(ValueError, match="batch_size="):
        train_ensemble(MLPSpec(5, 4), [0], *data, settings=TrainSettings(n_steps=1, optimizer="lbfgs", batch_size=8),
                       device="cpu")


def test_nonpositive_n_train_raises_and_names_it():
    with pytest.raises(ValueError, match="n_train="):
        se.NetworkRun(input_dim=4, n_modules=2, n_params=200, n_train=0, seed=0)


def test_the_exact_linearised_solution_is_diverged_only_when_not_finite():
    # at the interpolation threshold (n = p) its test loss is huge: that is Theorem 1's divergence,
    # which the chapter must show, not an optimiser that blew up
    n_params = MLPSpec.for_n_params(60, 4).n_params
    run = se.NetworkRun(input_dim=4, n_modules=2, n_params=60, n_train=n_params, seed=0, method="linearised",
                        n_test=200)
    result = se.run_network_batch([run])[0]
    assert result["test_mse"] > se.DIVERGED_VARIANCE_FACTOR * result["target_variance"]
    assert not result["diverged"]
