"""CPU and CUDA give the same numbers from the same seeds, up to float rounding.

Each test runs one computation on the CPU and on the *other* device, from the same seeds (data,
initial weights and minibatch orders are drawn on the CPU and moved), and checks that the two
agree within a tolerance derived from the float format and the number of steps (see
``float32_trajectory_rtol`` and ``cholesky_rtol``). The other device is CUDA; without CUDA the
tests marked ``cuda`` are skipped. ``MODCORE_TEST_DEVICE=cpu`` makes the other device the CPU
again, which runs every comparison on a machine without a GPU (the eager ones are then exact;
the compiled one still differs by rounding), so the comparison code itself is tested here.
The first test (not marked ``cuda``) shows that the tolerance can fail: a run with a 1 % larger
learning rate is rejected, a run that differs only by the summation order of fused kernels is
accepted.

Each comparison records its largest relative difference and its tolerance as junit properties
(``record_property``), which ``benchmarks/gpu_check.py`` collects into its JSON.

Not here: the Monte Carlo of Theorem 2 (modcore.theory.simulate_projected). It is numpy on the
CPU by design (modcore.theory imports no torch; the book's paper-scale page says a GPU does not
help the theory chapters), so it has no CUDA path whose agreement could be tested.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from modcore import kernel_rule as kr
from modcore.models import MLPSpec, ModularSpec
from modcore.tasks.sine import SineTask
from modcore.train import TrainSettings, train_ensemble

REPO = Path(__file__).resolve().parents[1]
OTHER_DEVICE = os.environ.get("MODCORE_TEST_DEVICE", "cuda")
if OTHER_DEVICE not in ("cuda", "cpu"):
    raise pytest.UsageError(f"MODCORE_TEST_DEVICE must be 'cuda' or 'cpu', got MODCORE_TEST_DEVICE={OTHER_DEVICE!r}")

_skip_without_device = pytest.mark.skipif(
    OTHER_DEVICE == "cuda" and not torch.cuda.is_available(),
    reason=f"CUDA is not available (torch {torch.__version__} sees no GPU); "
           "MODCORE_TEST_DEVICE=cpu runs these comparisons CPU against CPU")


def on_device(test):
    """Mark a test ``cuda`` and skip it where the other device is CUDA and there is none."""
    return pytest.mark.cuda(_skip_without_device(test))

# Unit roundoff: half the gap between 1 and the next float.
FLOAT32_UNIT = 2.0 ** -24
FLOAT64_UNIT = 2.0 ** -53


TRAJECTORY_SIGMAS = 4  # the largest of many random-walk differences: a few standard deviations


def float32_trajectory_rtol(n_steps: int, reduction_length: int) -> float:
    """Tolerance for losses (and weights) after ``n_steps`` float32 training steps run on two devices.

    The devices' kernels sum in different orders (blocked matmuls, fused reductions), so each
    sum of k terms differs by about sqrt(k) units of rounding (a random walk of k roundings;
    k units is the worst case). ``reduction_length`` is the longest sum in a step: the batch (a
    weight gradient sums over examples) or the width (a matmul sums over hidden units). Each step
    feeds its difference into the next; in a stable run the differences add up at most linearly
    with the steps (Adam normalises each update, so they are not multiplied), which gives
    n_steps * sqrt(k) * u. That is one standard deviation of the random walk, and a comparison
    takes the largest difference over many entries (models x evaluations x weights), so the
    tolerance is TRAJECTORY_SIGMAS of them: on an AMD EPYC (AVX-512) host the compiled and eager
    CPU trainers differed by 1.9e-4 where one deviation is 9.5e-5. A different answer (another
    seed, order or learning rate) instead moves the losses by the training's own changes, 5e-3
    for a 1 % larger learning rate on that host (the first test shows it).
    """
    return TRAJECTORY_SIGMAS * n_steps * math.sqrt(reduction_length) * FLOAT32_UNIT


def cholesky_rtol(batch: int, eps: float, reduction_length: int, n_steps: int = 1) -> float:
    """Tolerance for the kernel rule's objective (and projections) in float64 on two devices.

    The kernel matrix is scaled to mean diagonal 1, so its largest eigenvalue is at most its trace
    B and, after the ridge eps, its smallest at least eps: cond(K + eps I) <= 1 + B / eps.
    Cholesky is backward stable, so a solve's relative error is at most cond x (B + k) x u, with
    k the longest other sum (kernel entries sum over the module's hidden units). Over n_steps of
    Adam on U the differences add up at most linearly, as above.
    """
    return n_steps * (1 + batch / eps) * (batch + reduction_length) * FLOAT64_UNIT


def relative_difference(reference, other) -> float:
    """max |other - reference| / max |reference| over all entries (NaNs must match)."""
    reference = np.asarray(reference, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    assert reference.shape == other.shape
    assert np.array_equal(np.isnan(reference), np.isnan(other)), "NaNs in different places"
    finite = ~np.isnan(reference)
    scale = np.abs(reference[finite]).max()
    return float(np.abs(other[finite] - reference[finite]).max() / scale) if scale > 0 else 0.0


def assert_trained_far_beyond(train_mse: np.ndarray, rtol: float) -> None:
    """Every model's loss moved by over 100 tolerances: the comparison is not of untouched weights."""
    moved = np.abs(train_mse[:, -1] - train_mse[:, 0]) / np.abs(train_mse[:, 0])
    assert moved.min() > 100 * rtol, f"the losses moved by only {moved.min():.3g} relative"


def agree(name: str, reference, other, rtol: float, record_property) -> None:
    """Assert the two agree within ``rtol`` (relative to the reference's largest entry); record both."""
    gap = relative_difference(reference, other)
    record_property(f"{name}_relative_difference", gap)
    record_property(f"{name}_tolerance", rtol)
    assert gap <= rtol, f"{name}: CPU and {OTHER_DEVICE} differ by {gap:.3g} relative, tolerance {rtol:.3g}"


@pytest.fixture(autouse=True)
def full_float32_matmuls():
    """TF32 (10-bit mantissa) matmuls would differ from the CPU by ~1e-3: the trainer computes in
    float32, torch's default on CUDA; keep it so even if the session changed it."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    yield
    torch.set_float32_matmul_precision(previous)


# The tests train at the chapters' learning rate (3e-3, modcore.runs.sine_networks), where
# rounding differences stay rounding: compiled vs eager on the CPU (another summation order, as on
# another device) differed by 1.4e-8 relative after these 100 steps, while a 1 % larger learning
# rate moved the losses by 2e-3 to 5e-3. At lr 1e-2, full batch, the same two runs differed by
# 8e-8 at step 40, 3e-5 at step 50 and 8e-3 at step 100: there the training amplifies rounding
# exponentially (Adam's near-sign updates of near-zero gradients), two devices follow different
# trajectories, and only statistics over seeds can be compared (which is why a run's device is
# part of its identity in the results store).
N_TRAIN, N_STEPS, LR = 256, 100, 3e-3


@pytest.fixture(scope="module")
def sine_data():
    task = SineTask(8, 3, seed=0)
    return (*task.sample(N_TRAIN, seed=1), *task.sample(512, seed=2))


def _train(spec, data, device, **settings):
    options = dict(n_steps=N_STEPS, lr=LR, eval_every=25, compile=False) | settings
    return train_ensemble(spec, [0, 1, 2, 3], *data, settings=TrainSettings(**options), device=device)


def test_the_tolerance_accepts_rounding_and_rejects_a_one_percent_change(sine_data, record_property):
    spec = MLPSpec(8, 32)
    rtol = float32_trajectory_rtol(N_STEPS, N_TRAIN)
    eager = _train(spec, sine_data, "cpu")
    # compiled: the same arithmetic with the elementwise work fused, summed in another order
    agree("rounding", eager.train_mse, _train(spec, sine_data, "cpu", compile=True).train_mse, rtol, record_property)
    changed = _train(spec, sine_data, "cpu", lr=1.01 * LR)
    assert relative_difference(eager.train_mse, changed.train_mse) > 5 * rtol  # a different answer, far outside


@pytest.mark.parametrize("spec", [MLPSpec(8, 32), ModularSpec(8, 3, 8)], ids=["mlp", "modular"])
@pytest.mark.parametrize("batch_size", [None, 64], ids=["full_batch", "minibatch"])
@on_device
def test_trainer_eager_agrees_on_cpu_and_device(sine_data, spec, batch_size, record_property):
    cpu = _train(spec, sine_data, "cpu", batch_size=batch_size)
    other = _train(spec, sine_data, OTHER_DEVICE, batch_size=batch_size)
    rtol = float32_trajectory_rtol(N_STEPS, max(batch_size or N_TRAIN, spec.width))
    agree("train_mse", cpu.train_mse, other.train_mse, rtol, record_property)
    agree("test_mse", cpu.test_mse, other.test_mse, rtol, record_property)
    for i, (a, b) in enumerate(zip(cpu.params, other.params)):
        assert b.device.type == "cpu"  # results come back on the CPU
        agree(f"weights_{i}", a, b, rtol, record_property)
    assert_trained_far_beyond(cpu.train_mse, rtol)


@on_device
def test_trainer_takes_tensors_already_on_the_device(sine_data):
    spec = MLPSpec(8, 16)
    from_numpy = _train(spec, sine_data, OTHER_DEVICE, n_steps=20)
    tensors = [torch.as_tensor(a, dtype=torch.float32, device=OTHER_DEVICE) for a in sine_data]
    from_tensors = _train(spec, tensors, OTHER_DEVICE, n_steps=20)
    np.testing.assert_array_equal(from_numpy.test_mse, from_tensors.test_mse)  # the same tensors: identical


@pytest.mark.parametrize("batch_size", [None, 64], ids=["full_batch", "minibatch"])
@on_device
def test_trainer_compiled_on_the_device_agrees_with_eager_on_cpu(sine_data, batch_size, record_property):
    spec = MLPSpec(8, 32)
    cpu = _train(spec, sine_data, "cpu", batch_size=batch_size)
    compiled = _train(spec, sine_data, OTHER_DEVICE, batch_size=batch_size, compile=True)
    assert compiled.plan.compile
    rtol = float32_trajectory_rtol(N_STEPS, max(batch_size or N_TRAIN, spec.width))
    agree("train_mse", cpu.train_mse, compiled.train_mse, rtol, record_property)
    agree("test_mse", cpu.test_mse, compiled.test_mse, rtol, record_property)


@on_device
def test_trainer_cross_entropy_agrees_on_cpu_and_device(record_property):
    # the compositional chapters' loss: integer labels, 2 slots of 3 classes
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_TRAIN + 512, 8))
    labels = np.stack([(x[:, 0] > 0) + (x[:, 1] > 0.5), (x[:, 2] > 0) * 2], axis=1).astype(np.int64)
    data = (x[:N_TRAIN], labels[:N_TRAIN], x[N_TRAIN:], labels[N_TRAIN:])
    spec = MLPSpec(8, 32, output_dim=6)
    cpu, other = (_train(spec, data, device, batch_size=64, loss="cross_entropy") for device in ("cpu", OTHER_DEVICE))
    rtol = float32_trajectory_rtol(N_STEPS, max(64, spec.width))
    for split in ("train", "test"):
        agree(f"{split}_cross_entropy", cpu.classification[f"{split}_cross_entropy"],
              other.classification[f"{split}_cross_entropy"], rtol, record_property)
        # an example changes class only if two logits tie within rounding: allow one per curve point
        n_points = N_TRAIN if split == "train" else 512
        np.testing.assert_allclose(other.classification[f"{split}_accuracy"], cpu.classification[f"{split}_accuracy"],
                                   rtol=0, atol=1 / n_points)


def _kernel_problem(kernel: str, device: str):
    """Projections, data and module networks drawn on the CPU (float64), then moved to ``device``."""
    generator = torch.Generator().manual_seed(0)
    batch, input_dim, module_dim, n_restarts = 128, 6, 2, 4
    u = torch.randn(n_restarts, input_dim, module_dim, generator=generator, dtype=torch.float64)
    x = torch.randn(batch, input_dim, generator=generator, dtype=torch.float64)
    y = torch.sin(x[:, :1] * 2) + 0.1 * torch.randn(batch, 1, generator=generator, dtype=torch.float64)
    network = MLPSpec(module_dim, 16)
    params = [torch.stack(t).double() for t in zip(*(network.init(seed=s) for s in range(n_restarts)))]
    u = u.to(device).requires_grad_()
    return u, x.to(device), y.to(device), dict(kernel=kernel, network=network,
                                               network_params=[p.to(device) for p in params])


@pytest.mark.parametrize("kernel", kr.KERNELS)
@on_device
def test_kernel_objective_and_its_gradient_agree_on_cpu_and_device(kernel, record_property):
    eps = kr.DEFAULT_EPS
    results = {}
    for device in ("cpu", OTHER_DEVICE):
        u, x, y, options = _kernel_problem(kernel, device)
        values = kr.kernel_objective(u, x, y, eps=eps, **options)  # batched Cholesky over restarts
        values.sum().backward()
        results[device] = (values.detach().cpu().numpy(), u.grad.cpu().numpy())
    batch, width = 128, 16
    rtol = cholesky_rtol(batch, eps, width)
    (cpu_values, cpu_grad), (other_values, other_grad) = results["cpu"], results[OTHER_DEVICE]
    agree("objective", cpu_values, other_values, rtol, record_property)
    # the gradient is -alpha alpha^T : dK/dU with alpha = (K + eps I)^(-1) y: two solves' errors
    agree("gradient", cpu_grad, other_grad, 2 * rtol, record_property)


@on_device
def test_kernel_rule_fit_agrees_on_cpu_and_device(record_property):
    task = SineTask(6, 2, seed=0)
    x, y = task.sample(400, seed=1)
    spec = ModularSpec(6, 2, 16)
    settings = kr.KernelRuleSettings(n_steps=20, batch_size=64)
    cpu, other = (kr.kernel_rule_init(spec, x, y, seeds=[0, 1], settings=settings, device=device)
                  for device in ("cpu", OTHER_DEVICE))
    rtol = cholesky_rtol(settings.batch_size, settings.eps, spec.width * spec.depth, n_steps=settings.n_steps)
    agree("objective_trace", cpu.objective, other.objective, rtol, record_property)
    agree("projections", cpu.projections, other.projections, rtol, record_property)  # unit columns: entries <= 1
    assert (cpu.objective[..., -5:].mean() < cpu.objective[..., :5].mean())  # the fit moved U: a real comparison


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: gpu_check.py would run")
def test_gpu_check_without_cuda_stops_at_once_with_one_error_line(tmp_path):
    output = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--output", str(output)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "CUDA" in done.stderr
    assert not output.exists()  # nothing half-run, nothing written
