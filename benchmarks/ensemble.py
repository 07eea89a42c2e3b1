"""Ensemble trainer vs the naive loop, side by side in one process.

For each (batch, width, E): model-steps per second of
  naive     one nn.Module + one torch.optim.Adam per model, in a loop (modcore.train.train_naive)
  ensemble  E models stacked, batched matmuls, one fused Adam (modcore.train.train_ensemble)
and the ensemble's achieved GFLOP/s as a fraction of this machine's float32 matmul peak, measured
in the same run (a training step counted as 3 x forward FLOPs: forward, and a backward of about
twice its cost), with peak memory.

Usage: python benchmarks/ensemble.py [--quick] [--device cpu|cuda|auto]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import torch

from modcore import train
from modcore.models import MLPSpec
from modcore.tasks.sine import SineTask

INPUT_DIM = 8  # the benchmark model: m = 8 -> w -> w -> 1 (the book's sine-task MLPs have m = 2..9)


def matmul_peak(device: torch.device, threads: int | None) -> float:
    """Best GFLOP/s of a few float32 square matmuls (the ceiling we compare against)."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    best = 0.0
    try:
        for size in (512, 1024, 2048) + ((4096, 8192) if device.type == "cuda" else ()):
            a = torch.randn(size, size, device=device)
            b = torch.randn(size, size, device=device)
            for _ in range(2):
                a @ b
            repeats = 5
            _sync(device)
            start = time.perf_counter()
            for _ in range(repeats):
                a @ b
            _sync(device)
            best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9)
    finally:
        torch.set_num_threads(previous)
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; process-wide maximum so far


def model_steps_per_second(trainer, spec: MLPSpec, n_models: int, data, batch: int, n_steps: int, device: str) -> float:
    x, y = data
    batch_size = None if batch >= len(x) else batch
    warm_up = train.TrainSettings(n_steps=2, lr=1e-3, batch_size=batch_size)
    settings = train.TrainSettings(n_steps=n_steps, lr=1e-3, batch_size=batch_size)
    trainer(spec, list(range(n_models)), x, y, settings=warm_up, device=device)  # allocations, kernels
    if device != "cpu":
        torch.cuda.synchronize()
    start = time.perf_counter()
    trainer(spec, list(range(n_models)), x, y, settings=settings, device=device)
    if device != "cpu":
        torch.cuda.synchronize()
    return n_models * n_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rows (about a minute)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = train.resolve_device(args.device)
    dev = device.type

    task = SineTask(INPUT_DIM, 3, seed=0)
    x, y = task.sample(1000, seed=1)
    threads = torch.get_num_threads()
    peak = matmul_peak(device, None)
    peak_one = matmul_peak(device, 1) if dev == "cpu" else peak
    print(f"ensemble trainer vs naive loop, torch {torch.__version__}, device {dev}, {threads} threads, "
          f"MLP {INPUT_DIM} -> w -> w -> 1, Adam (fused), float32")
    print(f"float32 matmul peak: {peak:.0f} GFLOP/s ({threads} threads)"
          + (f", {peak_one:.0f} GFLOP/s (1 thread)" if dev == "cpu" else ""))
    if dev == "cpu":
        print(f"note: the trainer runs chunks of <= {train.CPU_SINGLE_THREAD_BELOW:,} activation floats on one "
              "thread (see modcore.train); % of peak is against the peak of the threads it used")
    print()
    header = (f"{'batch':>5} {'width':>5} {'E':>3} | {'naive m-steps/s':>15} {'ensemble m-steps/s':>18} "
              f"{'ratio':>6} | {'naive %pk':>9} {'ens. %pk':>8} {'ens. GFLOP/s':>12} | {'threads':>7} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    rows = [(64, w, e) for w in (32, 128, 512) for e in (16, 64)] + [(1000, w, e) for w in (32, 128, 512) for e in (16, 64)]
    if args.quick:
        rows = [(64, 32, 64), (64, 128, 16), (64, 128, 64), (1000, 128, 16), (1000, 128, 64), (1000, 512, 16)]
    target_flops = (2e10 if args.quick else 6e10) * (20 if dev == "cuda" else 1)
    results = {}
    for batch, width, n_models in rows:
        spec = MLPSpec(INPUT_DIM, width)
        flops_per_model_step = 3 * spec.flops_per_example() * batch
        n_steps = int(np.clip(target_flops / (n_models * flops_per_model_step), 10, 300))
        naive_models = min(n_models, 4)  # the loop's rate does not depend on E; time a few models
        naive = model_steps_per_second(train.train_naive, spec, naive_models, (x, y), batch,
                                       max(10, n_steps * n_models // (4 * naive_models)), dev)
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()
        ensemble = model_steps_per_second(train.train_ensemble, spec, n_models, (x, y), batch, n_steps, dev)
        chunk = train._chunk_size(spec, batch, device, n_models)
        single = dev == "cpu" and chunk * batch * width <= train.CPU_SINGLE_THREAD_BELOW
        naive_single = dev == "cpu" and batch * width <= train.CPU_SINGLE_THREAD_BELOW
        used_peak = peak_one if single else peak
        gflops = ensemble * flops_per_model_step / 1e9
        naive_pct = naive * flops_per_model_step / 1e9 / (peak_one if naive_single else peak)
        results[(batch, width, n_models)] = ensemble / naive
        print(f"{batch:>5} {width:>5} {n_models:>3} | {naive:>15,.0f} {ensemble:>18,.0f} {ensemble / naive:>5.1f}x | "
              f"{naive_pct:>9.1%} {gflops / used_peak:>8.1%} {gflops:>12.1f} | {1 if single else threads:>7} "
              f"{peak_memory_mb(device):>8.0f}")
        sys.stdout.flush()
    print()
    key = (64, 128, 64)
    if key in results:
        verdict = "met" if results[key] >= 10 else "NOT met"
        print(f"target >= 10x naive at E = 64, width 128, minibatch 64: {results[key]:.1f}x ({verdict})")
    print("target >= 30% of matmul peak at width >= 128: see the 'ens. %pk' column (full batch n = 1000 "
          "is compute-bound already for the naive loop)")


if __name__ == "__main__":
    main()
