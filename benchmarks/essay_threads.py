"""One essay run (train, measure modularity, read out and fine-tune on the related goal) with the
numeric libraries' thread pools limited to one thread, as ``modcore.runs.essay`` does (``modcore.runtime.single_threaded``),
against the same run with their default pools (torch is on one thread in both). Side by side in one
process, in turns (best of 3), on the same configs; the results must be identical, so the speed is
not bought with different numbers. Run: ``python benchmarks/essay_threads.py`` (about a minute on
2 cores; a loaded machine shows the larger ratio, since contended BLAS threads wait on each other).
"""

from __future__ import annotations

import contextlib
import time

from modcore import runtime
from modcore.runs import essay

SETTINGS = dict(n_clusters=4, n_shuffles=20, n_louvain_shuffles=0, prune_threshold=0.01, n_transfer=1000,
                n_finetune_steps=300, finetune_criterion=0.5, n_steps=800)
RETINA = dict(n_clusters=2, n_shuffles=20, n_louvain_shuffles=0, prune_threshold=0.01, n_transfer=32,
              n_finetune_steps=500, finetune_criterion=0.95, n_steps=1000)


def config(task: str, seed: int) -> essay.EssayRun:
    base = {**essay.TASK_DEFAULTS[task], **(SETTINGS if task == "digits" else RETINA)}
    return essay.make_configs(task, "none", [0.0], [seed], **base)[0]


def timed(run, config_):
    start = time.perf_counter()
    result = run(config_)
    return time.perf_counter() - start, result


def default_pools(config_):
    limited = runtime.threadpool_limits
    runtime.threadpool_limits = lambda limits: contextlib.nullcontext()  # the libraries' own thread counts
    try:
        return essay.run_essay(config_)
    finally:
        runtime.threadpool_limits = limited


def main() -> None:
    print("one essay run (train, modularity with 20 null graphs x 2 nulls, readout, fine-tuning), best of 3")
    for task in ("retina", "digits"):
        cfg = config(task, seed=3)
        essay.run_essay(cfg)  # warm-up: imports, caches
        times = {"default pools": [], "one thread": []}
        results = {}
        for _ in range(3):
            for name, run in (("default pools", default_pools), ("one thread", essay.run_essay)):
                seconds, results[name] = timed(run, cfg)
                times[name].append(seconds)
        same = results["default pools"] == results["one thread"]
        base, candidate = min(times["default pools"]), min(times["one thread"])
        print(f"{task:7s} default pools {base:6.2f} s   one thread {candidate:6.2f} s   "
              f"{base / candidate:5.1f}x faster   identical results: {same}")


if __name__ == "__main__":
    main()
