"""The trainer's stopping rule, explicit initial weights and weight snapshots (modcore.train):
an ensemble still equals its models trained one by one."""

import numpy as np
import pytest
import torch

from modcore.models import ModularSpec, stack_init
from modcore.tasks.sine import SineTask
from modcore.train import TrainSettings, train_ensemble


@pytest.fixture(scope="module")
def data():
    task = SineTask(5, 2, seed=0)
    (x, y), (x_test, y_test), (x_val, y_val) = (task.sample(n, seed=s) for n, s in ((120, 1), (200, 2), (60, 3)))
    return x, y, x_test, y_test, x_val, y_val


SETTINGS = TrainSettings(n_steps=600, lr=1e-2, batch_size=32, patience=60, validation_every=10, precision="float64",
                         eval_every=100)


def test_early_stopped_ensemble_equals_each_model_stopped_alone(data):
    x, y, x_test, y_test, x_val, y_val = data
    spec = ModularSpec(5, 3, 8)
    seeds = [0, 1, 2, 3]
    together = train_ensemble(spec, seeds, x, y, x_test, y_test, x_validation=x_val, y_validation=y_val,
                              settings=SETTINGS, device="cpu")
    assert len(set(together.stop_step.tolist())) > 1  # the models stop at different steps
    for i, seed in enumerate(seeds):
        alone = train_ensemble(spec, [seed], x, y, x_test, y_test, x_validation=x_val, y_validation=y_val,
                               settings=SETTINGS, device="cpu")
        assert alone.stop_step[0] == together.stop_step[i]
        # float64: stacking changes only the summation order of each model's own arithmetic
        for a, b in zip(alone.params, together.params):
            torch.testing.assert_close(a[0], b[i], rtol=0, atol=1e-10)
        assert alone.final_test_mse[0] == pytest.approx(together.final_test_mse[i], rel=1e-10)


def test_restored_weights_are_those_of_the_lowest_validation_loss(data):
    x, y, x_test, y_test, x_val, y_val = data
    spec = ModularSpec(5, 3, 8)
    result = train_ensemble(spec, [5], x, y, x_test, y_test, x_validation=x_val, y_validation=y_val,
                            settings=SETTINGS, device="cpu")
    stop = int(result.stop_step[0])
    fixed = TrainSettings(n_steps=stop, lr=SETTINGS.lr, batch_size=SETTINGS.batch_size, precision="float64")
    plain = train_ensemble(spec, [5], x, y, x_test, y_test, settings=fixed, device="cpu")
    for a, b in zip(result.params, plain.params):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # no validation point checked by the rule is lower than the restored one
    longer = TrainSettings(n_steps=stop + SETTINGS.patience, lr=SETTINGS.lr, batch_size=SETTINGS.batch_size,
                           precision="float64", eval_every=SETTINGS.validation_every)
    curve = train_ensemble(spec, [5], x, y, x_val, y_val, settings=longer, device="cpu").test_mse[0]
    assert result.restored["validation_mse"][0] == pytest.approx(curve.min(), rel=1e-10)


def test_explicit_initial_weights_replace_the_seeds_initialisation(data):
    x, y, x_test, y_test, _, _ = data
    spec = ModularSpec(5, 3, 8)
    settings = TrainSettings(n_steps=20, lr=1e-2, batch_size=32)
    own = stack_init(spec, [7, 8])
    swapped = [torch.stack([p[1], p[0]]) for p in own]  # model 0 starts from seed 8's weights
    result = train_ensemble(spec, [7, 7], x, y, x_test, y_test, settings=settings, device="cpu",
                            initial_params=swapped)
    reference = train_ensemble(spec, [7], x, y, x_test, y_test, settings=settings, device="cpu",
                               initial_params=[p[1:2] for p in own])
    assert result.final_test_mse[0] == pytest.approx(reference.final_test_mse[0], rel=1e-6)
    with pytest.raises(ValueError, match="initial_params"):
        train_ensemble(spec, [7], x, y, settings=settings, device="cpu", initial_params=own)


@pytest.mark.parametrize("kwargs, name", [(dict(patience=0), "patience="), (dict(validation_every=0), "validation_every="),
                                          (dict(patience=5, optimizer="lbfgs"), "optimizer="),
                                          (dict(snapshot_steps=(11,)), "snapshot_steps=")])
def test_bad_stopping_settings_raise_and_name_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TrainSettings(n_steps=10, **kwargs)


def test_early_stopping_without_validation_data_raises(data):
    x, y, *_ = data
    with pytest.raises(ValueError, match="x_validation"):
        train_ensemble(ModularSpec(5, 2, 4), [0], x, y, settings=TrainSettings(n_steps=5, patience=2), device="cpu")
