"""Training throughput of the compositional chapters' three networks, side by side in one process.

For each k: one epoch of the ``compositional_images`` defaults (Compositional Digits, batch 32,
E models trained as one ensemble, cross-entropy) for the monolithic MLP, the random-init modular
net and the kernel-rule modular net (training alone, and with Algorithm 1's initialisation
included), in composites/s and images/s (composites x k) over all E models, with ratios to the
MLP. The GPU column is measured when CUDA is present, else it says so. The three nets have
matched parameter counts (printed), so the ratios compare architectures, not sizes.

Usage: python benchmarks/compositional.py [--quick] [--n-models E]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from modcore.runs import compositional as comp
from modcore.train import TrainSettings, train_ensemble

REPEATS = 3


def _seconds(work, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    work()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(run: comp.CompositionalRun, n_models: int, device: torch.device) -> tuple[float, float]:
    """(seconds of training, seconds of Algorithm 1) for ``n_models`` models of ``run``'s method."""
    data = comp.prepare_data(run)
    x = np.repeat(data.x_train[None], n_models, axis=0)
    y = np.repeat(data.y_train[None], n_models, axis=0)
    seeds = list(range(n_models))
    spec = run.spec()
    init_seconds = 0.0
    if run.method == "kernel_rule":
        holder = {}

        def fit():
            holder["spec"] = comp.kernel_rule_spec(spec, x, y, seeds, n_steps=run.kernel_n_steps,
                                                   batch_size=run.kernel_batch_size, device=device.type)
        init_seconds = _seconds(fit, device)
        spec = holder["spec"]
    settings = TrainSettings(n_steps=run.n_steps(), lr=run.lr, batch_size=run.batch_size, loss="cross_entropy")
    # best of REPEATS: the first call pays one-off set-up costs and the machine is shared
    train_seconds = min(_seconds(lambda: train_ensemble(spec, seeds, x, y, settings=settings, device=device.type),
                                 device) for _ in range(REPEATS))
    return train_seconds, init_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="k = 4 only, 1000 composites")
    parser.add_argument("--n-models", type=int, default=5, help="models trained as one ensemble (seeds)")
    args = parser.parse_args()
    n_train = 1000 if args.quick else 4000
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"compositional training throughput: Compositional Digits, one epoch of {n_train} composites, batch 32, "
          f"{args.n_models} models per ensemble, {torch.get_num_threads()} CPU threads")
    print(f"{'k':>2} {'method':<34} {'params':>8} {'CPU img/s':>10} {'vs MLP':>7}   GPU img/s")
    for k in ([4] if args.quick else [1, 4, 8]):
        baseline = {}
        rows = [(m, m, False) for m in comp.METHODS] + [("kernel_rule", "kernel_rule + Algorithm 1", True)]
        cache = {}
        for method, label, with_init in rows:
            run = comp.CompositionalRun(method, k, 0, n_train=n_train)
            cells = []
            for device in devices:
                if (method, device.type) not in cache:
                    cache[(method, device.type)] = measure(run, args.n_models, device)
                train_s, init_s = cache[(method, device.type)]
                seconds = train_s + (init_s if with_init else 0.0)
                cells.append(n_train * k * args.n_models / seconds)
                baseline.setdefault(device.type, cells[-1])
            gpu = f"{cells[1]:>9.0f} ({cells[1] / baseline['cuda']:.2f}x)" if len(cells) > 1 else "unmeasured: no GPU"
            print(f"{k:>2} {label:<34} {run.spec().n_params:>8} {cells[0]:>10.0f} {cells[0] / baseline['cpu']:>6.2f}x   {gpu}")


if __name__ == "__main__":
    main()
