"""Ensemble trainer vs the naive loop, side by side in one process.

For each (batch, width, E): model-steps per second of
  naive     one nn.Module + one torch.optim.Adam per model, in a loop (modcore.train_reference.train_naive)
  eager     E models stacked, batched matmuls, one fused Adam (modcore.train.train_ensemble), in
            the chunks and on the threads its rule picks (modcore.train.choose_plan)
  compiled  the same with TrainSettings(compile=True); its untimed warm-up (one epoch, so every
            batch shape has compiled) is reported as the compile cost
and the best one's achieved GFLOP/s as a fraction of this machine's float32 matmul peak, measured
in the same run (a training step counted as 3 x forward FLOPs: forward, and a backward of about
twice its cost), with peak memory and the issue's targets, each "met" or "NOT met".
A second table (compile plan) shows, per row, what TrainSettings(compile="auto") does
(train.choose_plan: eager, or compiled from some number of steps on) and checks that it is never
more than 5 % slower than eager: compiled at least 0.95x eager where the plan compiles, and the
compile cost paid back by the plan's threshold length.
On CPU a third table (plan check) times other chunk sizes beside the rule's choice.

Usage: python benchmarks/ensemble.py [--quick] [--device cpu|cuda|auto] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from modcore import train
from modcore.models import MLPSpec
from modcore.runtime import resolve_device
from modcore.tasks.sine import SineTask
from modcore.train_reference import train_naive

INPUT_DIM = 8  # the benchmark model: m = 8 -> w -> w -> 1 (the book's sine-task MLPs have m = 2..9)
N_TRAIN = 1000  # training points; batch N_TRAIN = full batch


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


def _timed(trainer, spec: MLPSpec, n_models: int, data, settings: train.TrainSettings, device: str) -> float:
    _sync(torch.device(device))
    start = time.perf_counter()
    trainer(spec, list(range(n_models)), *data, settings=settings, device=device)
    _sync(torch.device(device))
    return time.perf_counter() - start


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way to train: ``trainer`` on ``n_models`` models with these extra TrainSettings, inside
    ``context`` (None: as is)."""

    trainer: Callable
    n_models: int
    options: dict = dataclasses.field(default_factory=dict)
    context: Callable[[], contextlib.AbstractContextManager] | None = None


def compare(candidates: dict[str, Candidate], spec: MLPSpec, data, batch: int, n_steps: int, device: str,
            repeats: int) -> dict[str, tuple[float, float]]:
    """Per candidate: (best model-steps/s of ``repeats`` timed runs, seconds of its untimed warm-up).

    Each warm-up trains one epoch and a step, so every batch shape (a short last minibatch
    included) has run, and with ``compile=True`` has compiled, before any clock starts; its time
    is the compile cost (plus a few steps). The timed runs take turns (candidate A, B, C, A, B,
    C, ...), so a change in the machine's load between them hits every candidate alike."""
    x, _ = data
    batch_size = None if batch >= len(x) else batch
    warm_up_steps = 2 if batch_size is None else math.ceil(len(x) / batch_size) + 1

    def run(candidate: Candidate, steps: int) -> float:
        settings = train.TrainSettings(n_steps=steps, lr=1e-3, batch_size=batch_size, **candidate.options)
        with candidate.context() if candidate.context else contextlib.nullcontext():
            return _timed(candidate.trainer, spec, candidate.n_models, data, settings, device)

    warm_up = {name: run(candidate, warm_up_steps) for name, candidate in candidates.items()}
    best = {name: math.inf for name in candidates}
    for _ in range(repeats):
        for name, candidate in candidates.items():
            best[name] = min(best[name], run(candidate, n_steps))
    return {name: (candidates[name].n_models * n_steps / best[name], warm_up[name]) for name in candidates}


def _n_steps(spec: MLPSpec, batch: int, n_models: int, target_flops: float) -> int:
    # at least 30 steps: each run also evaluates every model on all n points at step 0 and at the
    # end, which would otherwise weigh as much as the training it brackets
    return int(np.clip(target_flops / (n_models * 3 * spec.flops_per_example() * batch), 30, 300))


def verdicts(batch: int, width: int, n_models: int, worst: float, best: float, fraction_of_peak: float,
             n_train: int, device_type: str = "cpu") -> str:
    """The issues' targets that apply to this row, each "met" or "NOT met": never slower than the
    loop (>= 0.95x) with either setting of ``compile`` (``worst`` ratio); >= 10x (at batch 64,
    width 32-128, E 64; on CUDA at every row) and >= 50% of the peak with the faster setting
    (``best`` ratio and its fraction of the peak)."""
    words = [f">=0.95x {'met' if worst >= 0.95 else 'NOT met'}"]
    if device_type == "cuda" or (batch == 64 and 32 <= width <= 128 and n_models == 64):
        words.append(f">=10x {'met' if best >= 10 else 'NOT met'}")
    if batch >= n_train and width >= 128:  # full batch at width >= 128: compute-bound for the loop already
        words.append(f">=50%pk {'met' if fraction_of_peak >= 0.5 else 'NOT met'}")
    return ", ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rows (a few minutes)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="also write the rows, checks and machine to this JSON file")
    args = parser.parse_args()
    # compile cost as a fresh machine pays it: torch.compile's on-disk cache starts empty (unless
    # the caller points TORCHINDUCTOR_CACHE_DIR somewhere); shapes repeated within the run hit it
    cold_cache = "TORCHINDUCTOR_CACHE_DIR" not in os.environ
    if cold_cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="ensemble_benchmark_inductor_")
    device = resolve_device(args.device)
    dev = device.type

    task = SineTask(INPUT_DIM, 3, seed=0)
    x, y = task.sample(N_TRAIN, seed=1)
    threads = torch.get_num_threads()
    # best of three: other jobs on a shared machine only ever lower a measured peak
    peak = max(matmul_peak(device, None) for _ in range(3))
    peak_one = max(matmul_peak(device, 1) for _ in range(3)) if dev == "cpu" else peak
    machine = torch.cuda.get_device_name(device) if dev == "cuda" else (platform.processor() or platform.machine())
    print(f"ensemble trainer vs naive loop, torch {torch.__version__}, device {dev} ({machine}), {threads} threads, "
          f"MLP {INPUT_DIM} -> w -> w -> 1, Adam (fused), float32, n = {N_TRAIN}")
    print(f"float32 matmul peak: {peak:.0f} GFLOP/s ({threads} threads)"
          + (f", {peak_one:.0f} GFLOP/s (1 thread)" if dev == "cpu" else ""))
    print("eager / compiled: train_ensemble with its own plan (train.choose_plan: chunk x threads), "
          "TrainSettings(compile=False / True); compile s: the untimed warm-up (one epoch) with compile=True, "
          f"{'compile cache empty at the start' if cold_cache else 'compile cache from TORCHINDUCTOR_CACHE_DIR'}; "
          "best: the faster of the two, its ratio and % of the peak of the threads it used; "
          "targets: >=0.95x for both settings, >=10x and >=50%pk for the faster"
          + ("; on CUDA >=10x at every row" if dev == "cuda" else ""))
    print()
    header = (f"{'batch':>5} {'width':>5} {'E':>3} | {'naive m-st/s':>12} {'eager m-st/s':>12} {'compiled':>10} "
              f"{'compile s':>9} | {'eager':>6} {'comp.':>6} {'best':>6} {'best %pk':>8} {'naive %pk':>9} | "
              f"{'plan':>6} {'MB':>5} | targets")
    print(header)
    print("-" * len(header))
    rows = ([(64, w, e) for w in (32, 64, 128, 512) for e in (16, 64)]
            + [(N_TRAIN, w, e) for w in (32, 128, 512) for e in (16, 64)])
    if args.quick:
        rows = [(64, 32, 64), (64, 128, 64), (64, 512, 64), (N_TRAIN, 32, 64), (N_TRAIN, 128, 16), (N_TRAIN, 512, 16)]
    target_flops = (1e10 if args.quick else 3e10) * (20 if dev == "cuda" else 1)
    repeats = 1 if args.quick else 3
    missed, measured, compile_checks = [], [], []

    def write_json() -> None:
        if args.json:
            args.json.write_text(json.dumps(dict(
                device=dev, machine=machine, torch=torch.__version__, threads=threads, quick=args.quick,
                matmul_peak_gflops=peak, matmul_peak_one_thread_gflops=peak_one, compile_cache_cold=cold_cache,
                rows=measured, rows_missing_a_target=[list(row) for row in missed], compile_plan=compile_checks),
                indent=1) + "\n")

    for batch, width, n_models in rows:
        spec = MLPSpec(INPUT_DIM, width)
        flops_per_model_step = 3 * spec.flops_per_example() * batch
        n_steps = _n_steps(spec, batch, n_models, target_flops)
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()
        rates = compare({
            # the loop's rate does not depend on E: time a few models, each for as many steps (and
            # evaluations) as every model of the ensemble
            "naive": Candidate(train_naive, min(n_models, 4)),
            "eager": Candidate(train.train_ensemble, n_models, dict(compile=False)),
            "compiled": Candidate(train.train_ensemble, n_models, dict(compile=True)),
        }, spec, (x, y), batch, n_steps, dev, repeats)
        (naive, _), (eager, _), (compiled, compile_s) = rates["naive"], rates["eager"], rates["compiled"]
        plan = train.choose_plan(spec, batch, n_models, dev)
        naive_plan = train.choose_plan(spec, batch, 1, dev)
        best = max(eager, compiled)
        fraction = best * flops_per_model_step / 1e9 / (peak_one if plan.threads == 1 else peak)
        naive_fraction = naive * flops_per_model_step / 1e9 / (peak_one if naive_plan.threads == 1 else peak)
        verdict = verdicts(batch, width, n_models, min(eager, compiled) / naive, best / naive, fraction, N_TRAIN, dev)
        if "NOT" in verdict:
            missed.append((batch, width, n_models))
        print(f"{batch:>5} {width:>5} {n_models:>3} | {naive:>12,.0f} {eager:>12,.0f} {compiled:>10,.0f} "
              f"{compile_s:>9.1f} | {eager / naive:>5.1f}x {compiled / naive:>5.1f}x {best / naive:>5.1f}x "
              f"{fraction:>8.1%} {naive_fraction:>9.1%} | {plan.chunk:>3}x{plan.threads or threads:<2} "
              f"{peak_memory_mb(device):>5.0f} | {verdict}")
        sys.stdout.flush()
        measured.append(dict(batch=batch, width=width, n_models=n_models, n_steps=n_steps,
                             naive_model_steps_per_s=naive, eager_model_steps_per_s=eager,
                             compiled_model_steps_per_s=compiled, compile_s=compile_s, fraction_of_peak=fraction,
                             plan_chunk=plan.chunk, plan_threads=plan.threads, peak_memory_mb=peak_memory_mb(device),
                             targets=verdict))
        write_json()  # after every row: a run stopped early still leaves the rows it measured
    print(f"\nrows missing a target: {len(missed)} of {len(rows)}" + (f" {missed}" if missed else ""))
    compile_checks.extend(compile_plan_check(measured, dev))
    write_json()
    if dev == "cpu":
        plan_check(x, y, quick=args.quick, target_flops=target_flops, repeats=repeats)


# how much slower than eager TrainSettings(compile="auto") may ever make a row
AUTO_SLOWDOWN_BOUND = 1.05


def compile_plan_check(measured: list[dict], device_type: str) -> list[dict]:
    """Per measured row: what compile="auto" does (train.choose_plan), and whether it stays within
    AUTO_SLOWDOWN_BOUND of eager.

    A row where the plan never compiles runs eager's code: within the bound by construction,
    printed as such and not counted. A row where it compiles from some length on is checked
    twice: the compiled step's rate (compile excluded) must be at least 1 / 1.05 of eager's,
    and at the plan's threshold length the compile cost must be paid back, i.e.
    (compile s + W / compiled rate) / (W / eager rate) <= 1.05 for W model-steps. The compile
    cost is the largest one measured in this run (the first compile of a process costs most),
    so the check holds for a run that is the first of its process too."""
    worst_compile_s = max(row["compile_s"] for row in measured)
    print(f"\ncompile plan: what TrainSettings(compile=\"auto\") does per row (train.choose_plan; "
          f"region {train.COMPILE_CPU_WIDTHS[0]}-{train.COMPILE_CPU_WIDTHS[1]} units, full batch, CPU; "
          f"threshold {train.COMPILE_MIN_TRAINING_FLOPS:.1e} training FLOPs); bound: auto at most "
          f"{AUTO_SLOWDOWN_BOUND - 1:.0%} slower than eager; compile cost {worst_compile_s:.1f} s "
          "(the largest measured above)")
    header = (f"{'batch':>5} {'width':>5} {'E':>3} | {'auto':>27} | {'compiled/eager':>14} "
              f"{'auto/eager at threshold':>23} | bound")
    print(header)
    print("-" * len(header))
    checks = []
    for row in measured:
        spec = MLPSpec(INPUT_DIM, row["width"])
        batch, n_models = row["batch"], row["n_models"]
        forever = train.TrainSettings(n_steps=10**12, batch_size=None if batch >= N_TRAIN else batch)
        compiles = train.choose_plan(spec, batch, n_models, device_type, settings=forever, n_train=N_TRAIN).compile
        check = dict(batch=batch, width=row["width"], n_models=n_models, auto_compiles=compiles)
        if not compiles:
            print(f"{batch:>5} {row['width']:>5} {n_models:>3} | {'eager at any length':>27} | {'':>14} {'':>23} | "
                  "eager's own code: within by construction")
            checks.append(check | dict(within_bound=None))
            continue
        threshold = math.ceil(train.COMPILE_MIN_TRAINING_FLOPS / train.training_flops(spec, batch, n_models, 1))
        eager, compiled = row["eager_model_steps_per_s"], row["compiled_model_steps_per_s"]
        work = threshold * n_models  # model-steps at the threshold
        steady = compiled / eager
        at_threshold = (worst_compile_s + work / compiled) / (work / eager)
        within = steady >= 1 / AUTO_SLOWDOWN_BOUND and at_threshold <= AUTO_SLOWDOWN_BOUND
        print(f"{batch:>5} {row['width']:>5} {n_models:>3} | {f'compiled from {threshold:,} steps':>27} | "
              f"{steady:>13.2f}x {at_threshold:>22.2f}x | {'met' if within else 'NOT met'}")
        checks.append(check | dict(threshold_steps=threshold, compiled_over_eager=steady,
                                   auto_over_eager_at_threshold=at_threshold, within_bound=within))
    sys.stdout.flush()
    return checks


@contextlib.contextmanager
def _without_thread_rule():
    """Within the block, the trainer keeps torch's thread setting for every chunk."""
    single_below, train.CPU_SINGLE_THREAD_BELOW = train.CPU_SINGLE_THREAD_BELOW, 0
    try:
        yield
    finally:
        train.CPU_SINGLE_THREAD_BELOW = single_below


def plan_check(x, y, *, quick: bool, target_flops: float, repeats: int) -> None:
    """The chunk size and threads the rule picks beside the alternatives, eager, side by side: the
    measurement behind train.CPU_ACTIVATION_BUDGET, CPU_PARAMETER_BUDGET and CPU_SINGLE_THREAD_BELOW."""
    threads = torch.get_num_threads()
    print(f"\nplan check (eager): model-steps/s by models per chunk on the rule's threads; * = the rule's choice "
          f"(train.choose_plan); 'all threads' = the rule's chunk on {threads} threads; "
          "ratio = rule's choice / best alternative")
    cases = [(64, 128, 64), (64, 512, 64), (N_TRAIN, 128, 64), (N_TRAIN, 512, 16)]
    if quick:
        cases = [(64, 512, 64), (N_TRAIN, 128, 64)]
    for batch, width, n_models in cases:
        spec = MLPSpec(INPUT_DIM, width)
        plan = train.choose_plan(spec, batch, n_models, "cpu")
        n_steps = _n_steps(spec, batch, n_models, target_flops)
        chunks = sorted({1, 4, 16, n_models, plan.chunk} & set(range(1, n_models + 1)))
        candidates = {f"{chunk:>3}{'*' if chunk == plan.chunk else ' '}": Candidate(
            train.train_ensemble, n_models, dict(max_models_per_chunk=chunk, compile=False)) for chunk in chunks}
        if plan.threads == 1 and threads > 1:
            candidates["all threads"] = Candidate(train.train_ensemble, n_models,
                                                  dict(max_models_per_chunk=plan.chunk, compile=False),
                                                  _without_thread_rule)
        rates = {name: r for name, (r, _) in compare(candidates, spec, (x, y), batch, n_steps, "cpu", repeats).items()}
        chosen = rates[f"{plan.chunk:>3}*"]
        best_other = max((r for name, r in rates.items() if not name.endswith("*")), default=math.nan)
        cells = "  ".join(f"{name} {r:>7,.0f}" for name, r in rates.items())
        print(f"batch {batch:>4} width {width:>3} E {n_models:>2} (n_params {spec.n_params:>7,}): {cells}  "
              f"ratio {chosen / best_other:.2f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
