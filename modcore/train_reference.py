"""The reference trainers that :func:`modcore.train.train_ensemble` is held against.

:func:`train_naive` is the "alone" of the stacked trainer: one ``nn.Module`` and one optimiser
per model, in a loop; a test checks that each stacked model follows its trajectory, and
benchmarks/ensemble.py times it as the baseline.

:func:`fit_linearised` solves the network's first-order Taylor model around its initialisation,
f(x; θ0 + Δ) ≈ f(x; θ0) + J(x) Δ, exactly: Δ is the minimum-norm least-squares solution,
the object Theorem 1 describes (a model linear in p features, at its global optimum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from modcore.models import Spec
from modcore.runtime import resolve_device, torch_threads
from modcore.train import (EVAL_BATCH, EnsembleResult, TrainSettings, batch_indices, check_training_data, choose_plan,
                           device_tensor, host_array)


def train_naive(spec: Spec, seeds: Sequence[int], x_train, y_train, x_test=None, y_test=None, *,
                settings: TrainSettings, device: str = "auto") -> EnsembleResult:
    """The baseline: for each seed, ``spec.module(seed=seed)`` and its own Adam, one after another,
    with the same minibatch order as :func:`train_ensemble`. Shared data, Adam, float32 only."""
    torch_device = resolve_device(device)
    seeds = [int(s) for s in seeds]
    check_training_data(spec, seeds, host_array(x_train), host_array(y_train), settings)
    if settings.loss != "mse":
        raise ValueError(f"train_naive trains on the MSE only, got loss={settings.loss!r}")
    if settings.optimizer != "adam" or settings.precision != "float32":
        raise ValueError(f"train_naive trains with Adam in float32 only, got optimizer={settings.optimizer!r}, "
                         f"precision={settings.precision!r}")
    if np.ndim(x_train) != 2:
        raise ValueError(f"train_naive takes one shared data set, got x_train of shape {np.shape(x_train)}")
    x_tr, y_tr = device_tensor(x_train, torch.float32, torch_device), device_tensor(y_train, torch.float32, torch_device)
    x_te, y_te = device_tensor(x_test, torch.float32, torch_device), device_tensor(y_test, torch.float32, torch_device)
    steps = settings.evaluation_steps()

    train_curves, test_curves = [], []
    batch = x_tr.shape[0] if settings.batch_size is None else min(settings.batch_size, x_tr.shape[0])
    with torch_threads(choose_plan(spec, batch, 1, torch_device.type).threads):
        for seed in seeds:
            train, test = _train_one_naive(spec, seed, x_tr, y_tr, x_te, y_te, settings=settings, steps=steps,
                                           device=torch_device)
            train_curves.append(train)
            test_curves.append(test)
    return EnsembleResult(spec=spec, seeds=seeds, steps=steps, train_mse=np.array(train_curves),
                          test_mse=np.array(test_curves), params=None)


def _train_one_naive(spec, seed, x_tr, y_tr, x_te, y_te, *, settings: TrainSettings, steps, device):
    def mse(module, x, y) -> float:
        if x is None:
            return math.nan
        with torch.no_grad():
            return float(sum(((module(x[i:i + EVAL_BATCH]) - y[i:i + EVAL_BATCH]).double() ** 2).sum()
                             for i in range(0, x.shape[0], EVAL_BATCH)) / x.shape[0])

    module = spec.module(seed=seed).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=settings.lr, fused=settings.fused)
    train, test = [], []
    if 0 in steps:
        train.append(mse(module, x_tr, y_tr))
        test.append(mse(module, x_te, y_te))
    for step, index in enumerate(batch_indices(x_tr.shape[0], settings.batch_size, settings.n_steps, seed=seed),
                                 start=1):
        index = index.to(device)
        loss = ((module(x_tr[index]) - y_tr[index]) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step in steps:
            train.append(mse(module, x_tr, y_tr))
            test.append(mse(module, x_te, y_te))
    return train, test


def fit_linearised(spec: Spec, seed: int, x_train, y_train, x_test, y_test) -> dict[str, float | int]:
    """Train and test MSE of the network's linearisation around ``spec.init(seed=seed)``,
    solved exactly (float64) by minimum-norm least squares:

        f_lin(x) = f(x; θ0) + J(x) Δ,   Δ = J_train⁺ (y_train − f(X_train; θ0))

    J(x) = ∂f(x; θ)/∂θ at θ0 (one row per input, one column per parameter). This is a model
    linear in p = n_params features at its global optimum, as in Theorem 1; it diverges at the
    interpolation threshold like the theory, where n reaches the Jacobian's rank (returned as
    ``jacobian_rank``: the number of independent features, at most min(n, p)). ``lstsq`` (SVD),
    not a Gram solve: the Jacobian is rank-deficient or ill-conditioned near the threshold,
    where the answer matters most.
    """
    params0 = [p.double().unsqueeze(0) for p in spec.init(seed=seed)]
    shapes = [p.shape for p in params0]
    sizes = [p.numel() for p in params0]
    theta0 = torch.cat([p.reshape(-1) for p in params0])

    def f(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = [t.view(s) for t, s in zip(torch.split(theta, sizes), shapes)]
        return spec.forward(params, x.unsqueeze(0))[0]

    # one gradient per input, vectorised over inputs: O(n * P), where jacrev of the batched
    # function would push n cotangents through all n inputs, O(n^2 * P)
    per_input_gradient = torch.func.vmap(torch.func.grad(lambda theta, x: f(theta, x[None])[0]), in_dims=(None, 0))

    def outputs_and_jacobian(x) -> tuple[np.ndarray, np.ndarray]:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        with torch.no_grad():
            values = f(theta0, x).numpy()
        return values, per_input_gradient(theta0, x).numpy()  # (n,), (n, P)

    f_train, j_train = outputs_and_jacobian(x_train)
    delta, _, rank, _ = np.linalg.lstsq(j_train, np.asarray(y_train, dtype=np.float64) - f_train, rcond=None)
    train_mse = float(np.mean((f_train + j_train @ delta - y_train) ** 2))
    test_error = 0.0
    x_test = np.asarray(x_test)
    for start in range(0, x_test.shape[0], 2048):  # the test Jacobian is n_test x P: in chunks
        f_test, j_test = outputs_and_jacobian(x_test[start:start + 2048])
        test_error += float(np.sum((f_test + j_test @ delta - y_test[start:start + 2048]) ** 2))
    return {"train_mse": train_mse, "test_mse": test_error / x_test.shape[0], "jacobian_rank": int(rank)}
