"""Sweep throughput on a local Dask cluster of 1 and 2 worker processes against in-process.

Three workloads, each swept three ways side by side in this one process (in-process, on a
1-worker and on a 2-worker cluster), each sweep into a fresh results store so every run is
computed; the three modes take turns (``--repeats`` rounds, order rotated) and the fastest sweep
of each mode is shown, the least disturbed by other jobs:

- **empty**: runs that return at once; the time per task above in-process is the cost of the
  scheduler (submit, pickle the task, run it in a worker, write the record, report back);
- **numpy**: runs of fixed cost (single-threaded matrix products), the ideal case for workers;
- **networks**: Fig. 2 style ensembles (:func:`modcore.runs.sine_networks.run_network_batch` on
  CPU), one ensemble of seeds per task, as the ``nn_vs_theory`` chapter sweeps them.

In-process runs use torch's and numpy's own thread settings, as a sweep does today; each
worker gets one thread (Dask sets ``OMP_NUM_THREADS=1`` in its worker processes). The clusters
are started before timing; their start-up time is printed separately.

Run: ``python benchmarks/sweep_scaling.py [--quick] [--repeats 3]`` (1-1.5 minutes on 2 cores). On a shared
machine the workers compete with other jobs for the cores, so only ratios measured in the same
run mean anything, and the 2-worker ratio is bounded by the cores actually free.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from modcore import executors, sweeps
from modcore.runs.sine_networks import NetworkRun, run_network_batch
from modcore.store import ResultStore

MATMUL_SIZE = 160  # numpy workload: one run = MATMUL_REPEATS products of this size, ~0.2 s on one core
MATMUL_REPEATS = 200


def empty_run(config: dict) -> dict:
    return {"value": config["seed"]}


def numpy_run(config: dict) -> dict:
    # One thread, so that a run costs the same in-process and in a worker.
    with threadpool_limits(1):
        matrix = np.random.default_rng(config["seed"]).standard_normal((MATMUL_SIZE, MATMUL_SIZE))
        product = np.eye(MATMUL_SIZE)
        for _ in range(MATMUL_REPEATS):
            product = np.tanh(product @ matrix / MATMUL_SIZE)
    return {"value": float(product.sum())}


def workloads(quick: bool) -> dict[str, tuple]:
    """name: (run, configs, batch_by, unit of a task)."""
    scale = 1 if quick else 2
    network_runs = [NetworkRun(input_dim=5, n_modules=2, n_params=n_params, n_train=500, seed=seed,
                               n_steps=150 * scale, lr=0.01, n_test=500, device="cpu")
                    for n_params in (100, 240, 390, 1200, 3200, 6000) for seed in range(4)]
    return {
        "empty": (empty_run, [{"bench": "empty", "seed": s} for s in range(100 * scale)], None, "1 run"),
        "numpy": (numpy_run, [{"bench": "numpy", "seed": s} for s in range(12 * scale)], None, "1 run"),
        "networks": (run_network_batch, network_runs,
                     NetworkRun.ensemble_key, "4 seeds"),
    }


def warm_up() -> None:
    for run, configs, batch_by, _ in workloads(quick=True).values():
        run(configs[:1]) if batch_by else run(configs[0])


# The result fields each workload's runs hold (every sweep declares them).
REQUIRED_KEYS = {empty_run: ("value",), numpy_run: ("value",), run_network_batch: ("train_mse", "test_mse")}


def timed_sweep(run, configs, batch_by, executor, root: Path) -> float:
    store = ResultStore(root)
    start = time.perf_counter()
    sweeps.run_sweep(run, configs, store, batch_by=batch_by, executor=executor, progress=False,
                     required_keys=REQUIRED_KEYS[run])
    seconds = time.perf_counter() - start
    if len(store.keys()) != len(configs):
        raise RuntimeError(f"{root}: {len(store.keys())} records for {len(configs)} configs")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half the runs")
    parser.add_argument("--repeats", type=int, default=3, help="sweeps per mode; the fastest is shown")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0))
    print(f"sweep throughput, {cores} cores available to this process, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    clusters = {}
    for n_workers in (1, 2):
        start = time.perf_counter()
        cluster = executors.start_local_cluster(n_workers, n_gpus=0)
        executor = executors.DaskExecutor(cluster.scheduler_address)
        executor.client.wait_for_workers(n_workers)
        clusters[n_workers] = (cluster, executor)
        print(f"local cluster of {n_workers} worker(s) started in {time.perf_counter() - start:.1f} s")

    in_process = sweeps.InProcessExecutor()
    # Untimed: imports and torch's first-call set-up, paid once per process in every mode.
    warm_up()
    for _, executor in clusters.values():
        executor.client.run(warm_up)
    print(f"fastest of {args.repeats} sweeps per mode, modes interleaved; ratios are speed-ups over in-process")
    print(f"{'workload':9} {'tasks':>5} {'task':>8} | {'in-process':>10} {'1 worker':>18} {'2 workers':>18}"
          f" | {'2 vs 1 worker':>13}")
    overhead = None
    with tempfile.TemporaryDirectory(prefix="sweep_scaling_") as tmp:
        for name, (run, configs, batch_by, unit) in workloads(args.quick).items():
            n_tasks = len(configs) if batch_by is None else len({batch_by(c) for c in configs})
            modes = {"in-process": in_process, "1": clusters[1][1], "2": clusters[2][1]}
            times: dict[str, list[float]] = {mode: [] for mode in modes}
            for repeat in range(args.repeats):
                # Rotate the order, so that no mode always runs first (or last) in a load swing.
                order = list(modes)[repeat % 3:] + list(modes)[:repeat % 3]
                for mode in order:
                    root = Path(tmp, name, mode, str(repeat))
                    times[mode].append(timed_sweep(run, configs, batch_by, modes[mode], root))
            base, one, two = (min(times[mode]) for mode in modes)
            print(f"{name:9} {n_tasks:5d} {unit:>8} | {base:9.2f}s {one:8.2f}s {base / one:7.2f}x "
                  f"{two:8.2f}s {base / two:7.2f}x | {one / two:12.2f}x")
            if name == "empty":
                overhead = (one - base) / n_tasks
    print(f"scheduler overhead per task (empty runs, 1 worker, beyond in-process): {overhead * 1e3:.1f} ms")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    for cluster, executor in clusters.values():
        executor.close()
        cluster.close()


if __name__ == "__main__":
    main()
