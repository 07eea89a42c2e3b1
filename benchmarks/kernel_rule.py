"""Cost of the kernel rule's initialisation (Algorithm 1), measured side by side in one process.

1. Per module vs the kernel batch B: seconds per step of one restart (NTK kernel) and of its
   Cholesky factorisation alone, with the exponent of a log-log fit (the solve is O(B^3); at small B
   the O(B^2) kernel and the per-step overhead dominate, so the exponent is fitted on the largest B).
2. The whole initialisation (K restarts, the default settings) vs end-to-end training of the same
   modular net for a typical budget: wall-time ratio and FLOP ratio.
3. K restarts batched (one batched Cholesky per step) vs the same restarts in a Python loop.
4. The objective's gradient: autograd through the Cholesky factor and solve (the baseline) vs the
   library's fixed-alpha form (same value and gradient, the factorisation not differentiated).

Usage: python benchmarks/kernel_rule.py [--quick] [--device cpu|cuda|auto]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from modcore import kernel_rule as kr
from modcore.models import ModularSpec
from modcore.runtime import resolve_device
from modcore.tasks.sine import SineTask
from modcore.train import TrainSettings, train_ensemble

INPUT_DIM = 8
N_MODULES = 3
N_PARAMS = 1153  # the Fig. 2 n-panel's parameter count: a typical modular net of the sine chapters
N_TRAIN = 1000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _seconds(work, device: torch.device, repeats: int = 3) -> float:
    """Best of ``repeats`` wall times (the machine is shared: the minimum is the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        work()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def _exponent(sizes, seconds) -> float:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def cost_vs_batch(spec, x, y, batch_sizes, n_steps, device) -> None:
    print(f"\n1. one restart (one module), NTK kernel, {n_steps} steps, m = {INPUT_DIM}, module width {spec.width}")
    print("    B | s/step  | Cholesky s | Cholesky share | GFLOP/step (est.)")
    per_step, cholesky = [], []
    for batch in batch_sizes:
        settings = kr.KernelRuleSettings(n_steps=n_steps, batch_size=batch)
        fit = [None]

        def run():
            fit[0] = kr.fit_projections(spec, x, y, seed=0, n_restarts=1, settings=settings, device=str(device))

        per_step.append(_seconds(run, device) / n_steps)
        matrix = torch.randn(batch, batch, dtype=torch.float64, device=device)
        matrix = matrix @ matrix.T / batch + torch.eye(batch, dtype=torch.float64, device=device)
        calls = 20  # one factorisation is too short to time alone at small B
        cholesky.append(_seconds(lambda: [torch.linalg.cholesky(matrix) for _ in range(calls)], device) / calls)
        print(f"{batch:5d} | {per_step[-1]:.5f} | {cholesky[-1]:.6f}   | {cholesky[-1] / per_step[-1]:13.0%}  | "
              f"{fit[0].cost.flops / n_steps / 1e9:.4f}")
    top = slice(-3, None)
    print(f"fitted exponent, time per step ~ B^a: a = {_exponent(batch_sizes, per_step):.2f} (all B), "
          f"{_exponent(batch_sizes[top], per_step[top]):.2f} (largest 3 B); Cholesky alone: "
          f"{_exponent(batch_sizes[top], cholesky[top]):.2f} (largest 3 B; O(B^3) predicts 3)")


def init_vs_training(spec, x, y, n_train_steps, device) -> None:
    settings = kr.KernelRuleSettings()
    print(f"\n2. initialisation ({spec.n_modules} restarts, {settings.n_steps} steps, B = {settings.batch_size}, "
          f"kernel {settings.kernel}) vs training the modular net ({spec.n_params} parameters, width {spec.width}), "
          f"{n_train_steps} full-batch Adam steps on n = {N_TRAIN}, one seed")
    init = [None]

    def run_init():
        init[0] = kr.kernel_rule_init(spec, x, y, seeds=[0], settings=settings, device=str(device))

    init_s = _seconds(run_init, device, repeats=2)
    train_s = _seconds(lambda: train_ensemble(init[0].spec, [0], x, y, settings=TrainSettings(n_steps=n_train_steps, lr=0.01),
                                              device=str(device)), device, repeats=2)
    train_flops = 3 * spec.flops_per_example() * N_TRAIN * n_train_steps
    print(f"initialisation   {init_s:8.3f} s   {init[0].cost.flops / 1e9:8.3f} GFLOP (est.)")
    print(f"training         {train_s:8.3f} s   {train_flops / 1e9:8.3f} GFLOP (est.)")
    print(f"ratio init/train {init_s / train_s:8.2f}x wall    {init[0].cost.flops / train_flops:8.2f}x FLOPs   "
          f"(init = {init[0].cost.training_steps_equivalent(spec, N_TRAIN):.0f} full-batch training steps of FLOPs)")


def batched_vs_loop(spec, x, y, n_restarts, n_steps, device) -> None:
    settings = kr.KernelRuleSettings(n_steps=n_steps, batch_size=128)
    print(f"\n3. {n_restarts} restarts, {n_steps} steps, B = {settings.batch_size}: batched vs a Python loop")
    fits = {}
    times = {}
    for vectorise in (False, True):
        def run():
            fits[vectorise] = kr.fit_projections(spec, x, y, seed=0, n_restarts=n_restarts, settings=settings,
                                                 vectorise=vectorise, device=str(device))
        times[vectorise] = _seconds(run, device, repeats=2)
    gap = np.abs(fits[True].projections - fits[False].projections).max()
    print(f"loop     {times[False]:7.3f} s")
    print(f"batched  {times[True]:7.3f} s    {times[False] / times[True]:.1f}x faster, max |difference| of "
          f"the projections {gap:.1e}")


def _objective_through_cholesky(u, x, y, *, kernel, eps, network, network_params):
    """The baseline: Tr(Y^T (K + eps I)^-1 Y) with autograd through cholesky and cholesky_solve."""
    z = torch.bmm(x.expand(u.shape[0], *x.shape), u)
    gram = kr.kernel_matrix(z, kernel=kernel, network=network, network_params=network_params)
    ridged = gram + eps * torch.eye(gram.shape[-1], dtype=gram.dtype)
    y = y.expand(u.shape[0], *y.shape).unsqueeze(-1)
    return (y * torch.cholesky_solve(y, torch.linalg.cholesky(ridged))).sum(dim=(1, 2))


def gradient_forms(spec, x, y, n_restarts, batch, n_steps, device) -> None:
    print(f"\n4. objective and gradient, {n_restarts} restarts, B = {batch}, {n_steps} evaluations: autograd through "
          "the Cholesky vs the fixed-alpha form")
    network = kr.module_network(spec)
    params = [torch.stack(t).double().to(device) for t in zip(*(network.init(seed=r) for r in range(n_restarts)))]
    generator = torch.Generator().manual_seed(0)
    u0 = torch.randn(n_restarts, spec.input_dim, 1, generator=generator, dtype=torch.float64).to(device)
    xb = torch.as_tensor(x[:batch], dtype=torch.float64, device=device)
    yb = torch.as_tensor(y[:batch], dtype=torch.float64, device=device)
    for kernel in ("rbf", "ntk"):
        options = dict(kernel=kernel, eps=1e-3, network=network, network_params=params)
        grads, times = {}, {}
        for name, objective in (("through Cholesky", _objective_through_cholesky), ("fixed alpha", kr.kernel_objective)):
            def run():
                for _ in range(n_steps):
                    u = u0.clone().requires_grad_()
                    objective(u, xb, yb, **options).sum().backward()
                grads[name] = u.grad
            times[name] = _seconds(run, device)
        gap = float((grads["fixed alpha"] - grads["through Cholesky"]).abs().max() / grads["through Cholesky"].abs().max())
        print(f"{kernel:4s} through Cholesky {times['through Cholesky']:7.3f} s   fixed alpha {times['fixed alpha']:7.3f} s   "
              f"{times['through Cholesky'] / times['fixed alpha']:.1f}x faster, largest gradient difference {gap:.1e} "
              "(relative)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and steps (about a minute)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type == "cpu":
        # one thread for every timing, baseline and candidate alike: the machine is shared, and the
        # rule's steps are cache-sized (it runs them on one thread itself)
        torch.set_num_threads(1)
    spec = ModularSpec.for_n_params(N_PARAMS, INPUT_DIM, N_MODULES)
    task = SineTask(INPUT_DIM, N_MODULES, seed=0)
    x, y = task.sample(4096 if not args.quick else 1024, seed=1)
    print(f"kernel rule cost on {device}, {torch.get_num_threads()} thread(s), float64")
    batch_sizes = [64, 128, 256, 512, 1024] if not args.quick else [64, 128, 256, 512]
    cost_vs_batch(spec, x, y, batch_sizes, n_steps=5 if args.quick else 10, device=device)
    init_vs_training(spec, x[:N_TRAIN], y[:N_TRAIN], n_train_steps=500 if args.quick else 2000, device=device)
    batched_vs_loop(spec, x, y, n_restarts=8 if args.quick else 16, n_steps=10 if args.quick else 20, device=device)
    gradient_forms(spec, x, y, n_restarts=30, batch=64, n_steps=20 if args.quick else 100, device=device)


if __name__ == "__main__":
    main()
