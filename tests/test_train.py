"""The ensemble trainer: ensemble == models trained alone; chunking, devices, linearised optimum."""

import numpy as np
import pandas as pd
import pytest
import torch

from modcore.runs import sine_networks as se
from modcore.models import MLPSpec, ModularSpec
from modcore.tasks.sine import SineTask
from modcore import train
from modcore.train import Plan, TrainSettings, batch_indices, choose_plan, stacked_batch_indices, train_ensemble
from modcore.train_reference import fit_linearised, train_naive


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


def test_the_trainers_own_plan_does_not_change_any_model(data, monkeypatch):
    spec = MLPSpec(5, 64)
    seeds = [0, 1, 2, 3, 4]
    # budgets for two models per chunk, whatever the tuned constants are: chunks of 2, 2 and 1,
    # so the planned run has two chunk shapes and differs from both runs it is compared with
    monkeypatch.setattr(train, "CPU_PARAMETER_BUDGET", 2 * spec.n_params)
    settings = dict(n_steps=12, lr=1e-3, batch_size=32)
    planned = train_ensemble(spec, seeds, *data, settings=TrainSettings(**settings), device="cpu")
    assert planned.plan.chunk == 2
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


@pytest.mark.slow
def test_compiled_step_equals_eager_step_within_float32_rounding(data):
    spec = MLPSpec(5, 16)
    settings = dict(n_steps=60, lr=1e-2, batch_size=40, eval_every=20)  # 120 points: 3 equal batches, one shape
    eager = train_ensemble(spec, [0, 1, 2], *data, settings=TrainSettings(**settings, compile=False), device="cpu")
    compiled = train_ensemble(spec, [0, 1, 2], *data, settings=TrainSettings(**settings, compile=True), device="cpu")
    assert compiled.plan.compile and not eager.plan.compile  # the flag reached the plan
    assert train._compiled_loss.cache_info().currsize >= 1  # and the compiled step
    np.testing.assert_allclose(compiled.train_mse, eager.train_mse, rtol=COMPILED_RTOL, atol=0)
    np.testing.assert_allclose(compiled.test_mse, eager.test_mse, rtol=COMPILED_RTOL, atol=0)
    assert eager.train_mse[:, -1].max() < 0.8 * eager.train_mse[:, 0].min()  # the weights moved: a real comparison


@pytest.mark.slow
def test_auto_compile_reaches_the_step_and_keeps_eager_numbers(data, monkeypatch):
    # a full-batch MLP inside the measured region; the threshold lowered so this short run counts
    # as long: "auto" must then compile, and give eager's numbers within float32 rounding
    monkeypatch.setattr(train, "COMPILE_MIN_TRAINING_FLOPS", 0.0)
    spec = MLPSpec(5, train.COMPILE_CPU_WIDTHS[0])
    settings = dict(n_steps=60, lr=1e-2, eval_every=20)
    auto = train_ensemble(spec, [0, 1], *data, settings=TrainSettings(**settings), device="cpu")
    eager = train_ensemble(spec, [0, 1], *data, settings=TrainSettings(**settings, compile=False), device="cpu")
    assert auto.plan.compile and not eager.plan.compile
    np.testing.assert_allclose(auto.train_mse, eager.train_mse, rtol=COMPILED_RTOL, atol=0)
    np.testing.assert_allclose(auto.test_mse, eager.test_mse, rtol=COMPILED_RTOL, atol=0)


# Plans for a grid of shapes: MLPs and modular nets from tiny to wide, minibatch and full batch,
# few and many models. The rule's constants may be retuned; these properties must survive that.
PLAN_SPECS = [MLPSpec(8, w) for w in (4, 32, 128, 512, 2048)] + [ModularSpec(8, k, w) for k, w in ((3, 8), (4, 128))]
PLAN_GRID = [(spec, batch, n_models) for spec in PLAN_SPECS for batch in (1, 64, 1000, 20000)
             for n_models in (1, 5, 16, 64)]


def _hidden(spec) -> int:
    return spec.width * getattr(spec, "n_modules", 1)


@pytest.mark.parametrize("spec, batch, n_models", PLAN_GRID)
def test_cpu_plan_is_valid_and_respects_its_memory_and_thread_bounds(spec, batch, n_models):
    plan = choose_plan(spec, batch, n_models, "cpu")
    assert 1 <= plan.chunk <= n_models
    n_chunks = -(-n_models // plan.chunk)
    last = n_models - (n_chunks - 1) * plan.chunk
    assert plan.chunk - last < n_chunks  # equal chunks: the last is short by less than one model per chunk

    def within(chunk: int) -> bool:
        return (chunk * batch * _hidden(spec) <= train.CPU_ACTIVATION_BUDGET
                and chunk * spec.n_params <= train.CPU_PARAMETER_BUDGET)

    assert plan.chunk == 1 or within(plan.chunk)  # memory: one model is always allowed
    # the fewest chunks the budgets allow: no chunk size within them needs fewer
    assert n_chunks == min(-(-n_models // c) for c in range(1, n_models + 1) if c == 1 or within(c))
    activations = plan.chunk * batch * _hidden(spec)
    assert plan.threads == (1 if activations <= train.CPU_SINGLE_THREAD_BELOW else None)
    assert not plan.compile  # no settings: a plan for chunks and threads only


@pytest.mark.parametrize("spec, batch, n_models", PLAN_GRID)
def test_plan_stacks_all_models_on_cuda_and_keeps_torchs_threads(spec, batch, n_models):
    assert choose_plan(spec, batch, n_models, "cuda") == Plan(chunk=n_models, threads=None)


@pytest.mark.parametrize("spec", PLAN_SPECS)
def test_more_examples_per_step_never_stack_more_models_on_cpu(spec):
    chunks = [choose_plan(spec, batch, 64, "cpu").chunk for batch in (1, 16, 64, 256, 1000, 4000, 20000)]
    assert chunks == sorted(chunks, reverse=True)


@pytest.mark.parametrize("limit", [1, 2, 7, 64])
def test_max_models_per_chunk_replaces_the_chunk_and_keeps_the_thread_rule(limit):
    plan = choose_plan(MLPSpec(8, 512), 64, 16, "cpu", max_models_per_chunk=limit)
    assert plan.chunk == min(limit, 16)
    assert plan.threads == (1 if plan.chunk * 64 * 512 <= train.CPU_SINGLE_THREAD_BELOW else None)


def _steps_at(flops: float, spec, batch: int, n_models: int) -> int:
    return int(np.ceil(flops / train.training_flops(spec, batch, n_models, 1)))


@pytest.mark.parametrize("width", [32, 64, 128])
def test_auto_compiles_a_full_batch_mlp_in_the_measured_region_only_past_the_payback_length(width):
    spec, batch, n_models = MLPSpec(8, width), 1000, 16
    threshold = _steps_at(train.COMPILE_MIN_TRAINING_FLOPS, spec, batch, n_models)

    def plan(n_steps: int, **settings) -> Plan:
        return choose_plan(spec, batch, n_models, "cpu", n_train=batch,
                           settings=TrainSettings(n_steps=n_steps, **settings))

    assert plan(threshold).compile and plan(10 * threshold).compile
    assert not plan(threshold - 1).compile  # too short to pay the compile back
    # a setting given explicitly wins over the rule, both ways
    assert not plan(10 * threshold, compile=False).compile and plan(1, compile=True).compile


@pytest.mark.parametrize("spec, batch, settings, device_type", [
    (MLPSpec(8, 64), 64, {}, "cpu"),                             # minibatch: no reliable gain measured
    (MLPSpec(8, 16), 1000, {}, "cpu"),                           # narrower than the measured region
    (MLPSpec(8, 512), 1000, {}, "cpu"),                          # wider: 1.00-1.06x, no gain
    (ModularSpec(8, 4, 32), 1000, {}, "cpu"),                    # the modular net: not measured
    (MLPSpec(8, 64), 1000, dict(precision="float64"), "cpu"),    # float64: not measured
    (MLPSpec(8, 64), 1000, dict(optimizer="lbfgs"), "cpu"),      # L-BFGS: not measured
    (MLPSpec(8, 64), 1000, dict(loss="cross_entropy"), "cpu"),   # cross-entropy: not measured
    (MLPSpec(8, 64), 1000, {}, "cuda"),                          # CUDA: not measured yet
])
def test_auto_stays_eager_outside_the_measured_region_however_long_the_run(spec, batch, settings, device_type):
    plan = choose_plan(spec, batch, 16, device_type, n_train=1000, settings=TrainSettings(n_steps=10**9, **settings))
    assert not plan.compile


def test_a_default_profile_sized_run_stays_eager():
    # the largest full-batch ensemble of the default profile's Fig. 2 chapter inside the region
    # (p = 10,000 at m = 2: width 98; n = 1000; the calibrated 1500 Adam steps; 5 values of k):
    # too short to pay a compile back
    spec = MLPSpec.for_n_params(10_000, 2)
    assert train.COMPILE_CPU_WIDTHS[0] <= spec.width <= train.COMPILE_CPU_WIDTHS[1]  # in the region: a real check
    settings = TrainSettings(n_steps=1500, lr=3e-3)
    assert not choose_plan(spec, 1000, 5, "cpu", n_train=1000, settings=settings).compile


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
    from modcore.store import config_key
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


@pytest.mark.slow
def test_theory_fit_recovers_omega_and_computes_c_from_the_task():
    runs = exact_theory_runs(TRUTH, [(m, n, p) for m in (3, 6, 9) for n in (1000, 4000) for p in (50, 200, 400)])
    refit = se.fit_theory(runs)
    assert refit.omega == pytest.approx(1.4, rel=1e-4)
    assert refit.omega_low <= refit.omega <= refit.omega_high
    assert refit.spectrum_scale(6) == pytest.approx(2.0 ** 2 * SINE_VARIANCE)  # c = Var(y), not fitted


@pytest.mark.slow
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
