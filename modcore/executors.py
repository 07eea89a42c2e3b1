"""Where a sweep's runs execute: in this process, or on a Dask cluster (local, remote or SLURM).

:func:`modcore.sweeps.run_sweep` hands its executor one :class:`SweepTask` per batch of
configs. A task is a plain picklable object, so it can travel to another process or machine;
it reads the results store first and writes each finished run itself, atomically, wherever it
runs. Hence a shared filesystem collects every finished run even if the parent process dies,
a task that the scheduler reruns after its worker died skips the runs it had already written,
and a rerun of the whole sweep skips everything on disk.

Which executor a sweep uses is chosen by the environment (:func:`executor_from_environment`),
which ``python -m modcore run`` sets and the notebook kernels inherit:

``MODCORE_EXECUTOR``
    ``inprocess`` (the default) or ``dask``.
``MODCORE_SCHEDULER``
    address of a running Dask scheduler (``tcp://host:port``); unset, ``dask`` starts a
    local cluster of worker processes (:func:`start_local_cluster`) from this process.
``MODCORE_WORKERS``
    number of local workers (default: one per CUDA GPU if there is one, else one per core).

Dask is imported only when a Dask executor first runs, so the in-process path does not need it.

The layers: :mod:`modcore.store` holds the store and :mod:`modcore.sweeps` the task and the
executor interface; neither imports this module. This module implements Dask behind that
interface and, when imported, registers :func:`executor_from_environment` as the sweeps'
default (``modcore.chapters`` imports it, so every notebook kernel honours the variables).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from tqdm import tqdm

from modcore import sweeps
from modcore.store import config_key
from modcore.sweeps import ENV_EXECUTOR, Executor, InProcessExecutor, SweepTask

ENV_SCHEDULER = "MODCORE_SCHEDULER"
ENV_WORKERS = "MODCORE_WORKERS"
EXECUTOR_NAMES = ("inprocess", "dask")

GPU_RESOURCE = "GPU"  # the Dask worker resource that stands for one CUDA device


@dataclasses.dataclass(frozen=True)
class TaskFailure:
    """A task that raised: its configs and the formatted traceback from where it ran."""

    configs: tuple[Any, ...]
    traceback: str

    def describe(self) -> str:
        what = (f"config {self.configs[0]!r}" if len(self.configs) == 1
                else f"batch of {len(self.configs)} configs {list(self.configs)!r}")
        return f"{what} raised:\n{self.traceback.rstrip()}"


class SweepFailed(RuntimeError):
    """Some tasks of a sweep raised; every other task finished and is in the store."""

    def __init__(self, failures: Sequence[TaskFailure], n_tasks: int):
        self.failures = list(failures)
        n_configs = sum(len(failure.configs) for failure in self.failures)
        header = (f"{len(self.failures)} of {n_tasks} sweep tasks failed ({n_configs} configs); the other "
                  f"runs are in the results store and a rerun retries only the failed ones")
        super().__init__("\n\n".join([header, *(failure.describe() for failure in self.failures)]))


def cuda_device_count() -> int:
    """CUDA devices visible to this process; 0 without torch or CUDA."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def local_worker_specs(n_workers: int, n_gpus: int) -> dict[str, dict[str, Any]]:
    """Options of each local worker: one thread each; with GPUs, worker i sees only GPU i mod n_gpus.

    One thread per worker: a run's torch already uses the core it is given, and two runs in
    one process would contend for the GIL and for the GPU. The device is pinned through
    ``CUDA_VISIBLE_DEVICES``, set by the nanny before the worker process starts, so a run's
    ``device="auto"`` finds exactly one GPU; the ``GPU`` resource keeps one task per device.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers=}")
    if n_gpus < 0:
        raise ValueError(f"n_gpus must be >= 0, got {n_gpus=}")
    specs = {}
    for i in range(n_workers):
        # Worker logs only from WARNING up: INFO lines (start, connect, close) would fill a notebook.
        options: dict[str, Any] = {"nthreads": 1, "silence_logs": logging.WARNING}
        if n_gpus:
            options |= {"resources": {GPU_RESOURCE: 1}, "env": {"CUDA_VISIBLE_DEVICES": str(i % n_gpus)}}
        specs[f"worker-{i}"] = options
    return specs


def start_local_cluster(n_workers: int | None = None, *, n_gpus: int | None = None):
    """A :class:`distributed.SpecCluster` of worker processes on this machine, no dashboard.

    ``n_gpus`` defaults to the CUDA devices visible here; ``n_workers`` to one per GPU, or,
    without GPUs, one per core available to this process.
    """
    import dask
    from distributed import Nanny, Scheduler, SpecCluster

    n_gpus = cuda_device_count() if n_gpus is None else n_gpus
    if n_workers is None:
        n_workers = n_gpus or len(os.sched_getaffinity(0))
    # Random ports, no dashboard: several sweeps (or users) on one machine never collide on a port.
    scheduler = {"cls": Scheduler,
                 "options": {"host": "127.0.0.1", "port": 0, "dashboard": False, "dashboard_address": ":0"}}
    workers = {name: {"cls": Nanny, "options": options} for name, options in local_worker_specs(n_workers, n_gpus).items()}
    # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers so that freed memory returns to the OS at
    # once; that also stops glibc from raising its mmap threshold, so every array above 128 kB
    # is mapped and unmapped afresh: the numpy run of benchmarks/sweep_scaling.py took about 2x
    # longer with it. A run's memory is small next to a node's, so we keep glibc's default.
    # The nannies read this setting once, when created, and keep it for every worker restart.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=30, name="modcore")


@contextlib.contextmanager
def serve_local_cluster(n_workers: int | None = None) -> Iterator[str]:
    """Run :func:`start_local_cluster` for the duration of the block; yields its scheduler address.

    For ``python -m modcore run ... --executor dask`` without ``--scheduler``: the command
    starts one cluster and exports its address as ``MODCORE_SCHEDULER``, so that every
    notebook kernel it runs shares those workers instead of starting its own.
    """
    cluster = start_local_cluster(n_workers)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


class DaskExecutor:
    """Runs each task on a Dask cluster and yields ``(index, results)`` as tasks finish.

    With ``address``, connects to that scheduler (a cluster started elsewhere, e.g. SLURM);
    without, starts :func:`start_local_cluster` on first use and keeps it for later sweeps
    until :meth:`close`. A task that raises is reported at once (its configs and the remote
    traceback) and the others go on; once all have finished, :class:`SweepFailed` lists every
    failure. A worker that dies is replaced by its nanny and the scheduler reruns its tasks;
    a rerun task skips the runs its first attempt already wrote (see :class:`SweepTask`).
    """

    def __init__(self, address: str | None = None, *, n_workers: int | None = None):
        if address is not None and n_workers is not None:
            raise ValueError(f"n_workers sizes a local cluster; with a scheduler address it must be None, "
                             f"got {address=} and {n_workers=}")
        if n_workers is not None and n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {n_workers=}")
        self.address = address
        self.n_workers = n_workers
        self._cluster = None
        self._client = None

    def __repr__(self) -> str:
        where = self.address or (self._cluster.scheduler_address if self._cluster else "local, not started")
        return f"DaskExecutor({where})"

    @property
    def client(self):
        """The :class:`distributed.Client`, connecting (or starting the local cluster) on first use."""
        if self._client is None:
            from distributed import Client

            if self.address is None:
                self._cluster = start_local_cluster(self.n_workers)
                self._client = Client(self._cluster, set_as_default=False)
            else:
                self._client = Client(self.address, set_as_default=False)
        return self._client

    def _task_resources(self) -> dict[str, int] | None:
        # Only a cluster we started is known to declare the GPU resource; a task asking a
        # remote cluster for one it lacks would wait forever.
        if self._cluster is None:
            return None
        has_gpus = any(GPU_RESOURCE in spec["options"].get("resources", {})
                       for spec in self._cluster.worker_spec.values())
        return {GPU_RESOURCE: 1} if has_gpus else None

    def map(self, tasks: Sequence[Callable[[], list[dict[str, Any]]]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        if not tasks:
            return
        client = self.client
        resources = self._task_resources()
        sweep_id = uuid.uuid4().hex[:8]
        # pure=False: every task runs, even if two look alike; the keys only name them in logs.
        futures = {client.submit(task, key=f"modcore-sweep-{sweep_id}-{index}", pure=False,
                                 resources=resources): index
                   for index, task in enumerate(tasks)}
        from distributed import as_completed

        failures = []
        try:
            for future in as_completed(list(futures), loop=client.loop):
                index = futures.pop(future)
                if future.status == "error":
                    error = future.exception()
                    failure = TaskFailure(
                        tuple(getattr(tasks[index], "configs", ())) or (f"task {index}",),
                        "".join(traceback.format_exception(type(error), error, future.traceback())))
                    failures.append(failure)
                    tqdm.write(failure.describe(), file=sys.stderr)
                    future.release()
                    continue
                results = future.result()
                # Release at once: a finished result that only lives on a worker would be
                # recomputed if that worker died later, for nothing.
                future.release()
                _make_visible_here(tasks[index], results)
                yield index, results
        finally:
            if futures:  # the caller stopped early (an error in the parent): stop the rest
                client.cancel(list(futures))
        if failures:
            raise SweepFailed(failures, len(tasks))

    def close(self) -> None:
        """Disconnect, and shut down the local cluster if this executor started it."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _make_visible_here(task: Any, finished: Sequence[tuple[Any, Mapping[str, Any]]]) -> None:
    """Write again, from this process, any record of ``task`` that this process cannot see yet.

    On a network filesystem a file created on another node can stay invisible here for
    a while (cached directory listings), and the sweep reads its records back right after.
    The record is the same either way, and the rename keeps the write atomic.
    """
    if not isinstance(task, SweepTask):
        return
    for config, result in finished:
        if not task.store.has(config_key(config)):
            task.store.put(config, result)


_shared_executors: dict[tuple[str | None, int | None], DaskExecutor] = {}


def executor_from_environment(environ: Mapping[str, str] | None = None) -> Executor:
    """The executor that ``MODCORE_EXECUTOR``, ``MODCORE_SCHEDULER`` and ``MODCORE_WORKERS`` name.

    One Dask executor is kept per setting, so the many sweeps of one notebook share a single
    local cluster instead of starting one each.
    """
    environ = os.environ if environ is None else environ
    name = environ.get(ENV_EXECUTOR) or "inprocess"
    if name not in EXECUTOR_NAMES:
        raise ValueError(f"{ENV_EXECUTOR} must be one of {', '.join(EXECUTOR_NAMES)}, got {ENV_EXECUTOR}={name!r}")
    address = environ.get(ENV_SCHEDULER) or None
    workers = environ.get(ENV_WORKERS) or None
    if name == "inprocess":
        if address or workers:
            raise ValueError(f"{ENV_SCHEDULER}={address!r} and {ENV_WORKERS}={workers!r} need {ENV_EXECUTOR}=dask, "
                             f"got {ENV_EXECUTOR}={name!r}")
        return InProcessExecutor()
    try:
        n_workers = None if workers is None else int(workers)
    except ValueError:
        raise ValueError(f"{ENV_WORKERS} must be a positive integer, got {ENV_WORKERS}={workers!r}") from None
    if n_workers is not None and n_workers < 1:
        raise ValueError(f"{ENV_WORKERS} must be a positive integer, got {ENV_WORKERS}={workers!r}")
    if address is not None and n_workers is not None:
        raise ValueError(f"{ENV_WORKERS} sizes a local cluster and cannot go with a scheduler address, "
                         f"got {ENV_SCHEDULER}={address!r} and {ENV_WORKERS}={workers!r}")
    settings = (address, n_workers)
    if settings not in _shared_executors:
        _shared_executors[settings] = DaskExecutor(address, n_workers=n_workers)
    return _shared_executors[settings]


sweeps.set_default_executor(executor_from_environment)
