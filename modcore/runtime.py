"""Where and how torch runs: the device a run asks for, the threads it may use, and seeded
generators that leave the caller's draws alone. Shared by the ensemble trainer
(:mod:`modcore.train`), the classifier trainer (:mod:`modcore.train_classifier`), Algorithm 1
(:mod:`modcore.kernel_rule`) and the runs that call them.
"""

from __future__ import annotations

import contextlib

import torch
from threadpoolctl import threadpool_limits


def resolve_device(device: str) -> torch.device:
    """"auto" -> CUDA if available, else CPU. "cuda" without CUDA is an error, not a fallback."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not device.split(":")[0] in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device=!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available on this machine")
    return torch.device(device)


@contextlib.contextmanager
def torch_threads(n_threads: int | None):
    """Run the block with torch's intra-op thread count set to ``n_threads`` (None: unchanged)."""
    previous = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def single_threaded():
    """torch and the thread pools beside it (the BLAS and OpenMP behind numpy, scipy and
    scikit-learn) on one thread. For networks of a few thousand weights a second thread only adds
    synchronisation; on a shared 2-core machine it made every step several times slower, and the
    libraries' default pools wait on each other on a loaded machine (benchmarks/essay_threads.py)."""
    with torch_threads(1), threadpool_limits(limits=1):
        yield


@contextlib.contextmanager
def seeded(seed: int):
    """torch's global generators seeded with ``seed`` inside the block (initialisation, dropout)
    and restored after it, the caller's draws untouched. ``torch.manual_seed`` also reseeds every
    CUDA generator, so where CUDA is available each device's generator is forked too, not only
    the CPU's: dropout on a GPU draws from its device's generator."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
