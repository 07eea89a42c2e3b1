"""Grids of runs: which runs a sweep still needs, in batches, on an executor, into the results store.

A sweep is a list of *configs*: frozen dataclasses (or plain dicts) holding everything that
determines a run's result, seed and defaults included. Each finished run is written at once,
atomically, as one JSON file named by a stable hash of its config. Rerunning a sweep skips
what is on disk, so an interrupted sweep resumes without redoing or losing finished runs.

Each finished run lands in a :class:`modcore.store.ResultStore`; that module says how records
are checked, how a diverged run is stored and how several processes share one store.

Where the runs execute is the executor's business (:mod:`modcore.executors`: in this process,
or on a Dask cluster); each task claims, computes and writes its runs wherever it executes.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import pandas as pd
from tqdm import tqdm

from modcore.store import (NO_CHECK, Config, Result, ResultCheck, ResultStore, config_fields, config_key, frame_row,
                           report_long_locks, shown_path)

Task = Callable[[], list[tuple[Config, Result]]]


class Executor(Protocol):
    """Runs independent tasks and yields ``(index, results)`` as each task finishes.

    Order of completion is free; a distributed engine yields as workers report back.
    """

    def map(self, tasks: Sequence[Task]) -> Iterator[tuple[int, list[tuple[Config, Result]]]]: ...


class InProcessExecutor:
    """Runs the tasks one after another in this process."""

    def map(self, tasks: Sequence[Task]) -> Iterator[tuple[int, list[tuple[Config, Result]]]]:
        for index, task in enumerate(tasks):
            yield index, task()


ENV_EXECUTOR = "MODCORE_EXECUTOR"  # "inprocess" (the default) or "dask" (modcore.executors)
_default_executor_factory: Callable[[], Executor] | None = None


def set_default_executor(factory: Callable[[], Executor] | None) -> None:
    """The executor a sweep uses when none is passed. :mod:`modcore.executors` registers its
    environment-driven choice here when imported; this module never imports it."""
    global _default_executor_factory
    _default_executor_factory = factory


def default_executor() -> Executor:
    """The registered default executor, else in-process. Asking for another by
    ``MODCORE_EXECUTOR`` without modcore.executors imported is an error, not a silent fallback."""
    if _default_executor_factory is not None:
        return _default_executor_factory()
    name = os.environ.get(ENV_EXECUTOR) or "inprocess"
    if name != "inprocess":
        raise ValueError(f"{ENV_EXECUTOR}={name!r} needs modcore.executors imported (modcore.chapters does it)")
    return InProcessExecutor()


@dataclasses.dataclass(frozen=True)
class SweepTask:
    """One batch of configs of a sweep: claim, run and store those not yet in ``store``.

    Without ``batched``, ``run(config) -> dict`` is called per config; with it,
    ``run(list_of_configs) -> list_of_dicts`` gets every config of the batch this task claimed
    at once. Each run is claimed in the store (an OS lock on its lock file, held until the
    run is written) just before it is computed, so that processes sharing a store split the
    work, and written with ``store.put`` (checked by ``check``) as soon as it exists,
    wherever the task runs. Returns ``[(config, stored
    result)]`` for the runs this task computed; runs finished or claimed elsewhere are left
    to the caller to read. The task pickles with the standard library when ``run`` does (a
    module-level function, or a :func:`functools.partial` of one); Dask's cloudpickle also
    sends a lambda or a local function, by value, with whatever it closes over.
    """

    run: Callable[[Any], Any]
    configs: tuple[Any, ...]
    store: ResultStore
    batched: bool = False
    check: ResultCheck | None = None

    def __call__(self) -> list[tuple[Any, dict[str, Any]]]:
        check = self.check or NO_CHECK
        mine = []
        for config in self.configs:
            key = config_key(config)
            if self.store.claim(key):
                if self.store.has(key):  # finished by another process (or an earlier attempt) since
                    self.store.release(key)
                else:
                    mine.append(config)
        if not mine:
            return []
        try:
            if self.batched:
                fresh = list(self.run(mine))
                if len(fresh) != len(mine):
                    raise RuntimeError(f"run returned {len(fresh)} results for a chunk of {len(mine)} configs")
                return [(config, self._write(config, result, check)) for config, result in zip(mine, fresh)]
            return [(config, self._write(config, self.run(config), check)) for config in mine]
        finally:
            for config in mine:
                self.store.release(config_key(config))

    def _write(self, config: Any, result: Any, check: ResultCheck) -> dict[str, Any]:
        if not isinstance(result, Mapping):
            raise TypeError(f"run must return a dict per config, got {type(result).__name__}")
        return self.store.put(config, result, check)



def progress_enabled(progress: bool | None) -> bool:
    """None means on, unless the environment sets ``MODCORE_PROGRESS=0``.

    The tests set it so that a notebook's outputs hold no timings and can be compared
    between two executions.
    """
    if progress is None:
        return os.environ.get("MODCORE_PROGRESS", "1") != "0"
    return progress


def run_sweep(
    run: Callable[[Any], Any],
    configs: Iterable[Config],
    store: ResultStore,
    *,
    batch_by: Callable[[Any], Hashable] | None = None,
    max_batch: int = 64,
    executor: Executor | None = None,
    desc: str = "sweep",
    progress: bool | None = None,
    required_keys: Iterable[str],
    finite_keys: Iterable[str] | None = None,
    validate: Callable[[Mapping[str, Any]], Any] | None = None,
    poll_seconds: float = 1.0,
) -> pd.DataFrame:
    """Run every config not yet in ``store``, writing each result as soon as it exists.

    Without ``batch_by``, ``run(config) -> dict``. With ``batch_by``, pending configs that
    share ``batch_by(config)`` run together in chunks of at most ``max_batch`` and
    ``run(list_of_configs) -> list_of_dicts`` (same order): this is how an ensemble trainer
    fits many seeds at once. Duplicated configs run once.

    ``required_keys`` (the fields every result must hold; every sweep names them),
    ``finite_keys`` (None: every field must be finite) and ``validate`` define a healthy
    result (see :class:`ResultCheck`); they are applied to every run that finishes and every
    record read, and decide which runs are diverged (see :mod:`modcore.store`). The store
    folder is checked first: it must exist (or may be created), and be writable when there is
    anything to run. Each run is claimed (an OS lock on its lock file) just before it is
    computed, so processes sharing the store split the work; runs that another process holds
    are waited for (polling every ``poll_seconds``) and read, and a lock held longer than
    :data:`LONG_LOCK_SECONDS` is reported with how to clear it.

    Prints one line to stdout: the store and how many runs were read, run, found corrupt
    (and rerun) and are diverged. Returns the DataFrame of all requested configs (finished
    earlier or now), in order, with a boolean ``diverged`` column.
    """
    configs = list(configs)
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch=}")
    if required_keys is None or isinstance(required_keys, str) or not (required_keys := tuple(required_keys)):
        raise ValueError(f"required_keys must name the result fields every run of sweep {desc!r} must hold, "
                         f"got {required_keys!r}")
    check = ResultCheck(required_keys, None if finite_keys is None else tuple(finite_keys), validate)
    store.check(writable=False)  # a missing store fails here, before anything is read
    counts = dict.fromkeys(("read", "run", "corrupt"), 0)
    results: dict[str, Result] = {}
    pending: dict[str, Config] = {}
    for config in configs:
        key = config_key(config)
        if key in results or key in pending:
            continue
        status, result = store.load(key, check)
        if status == "ok":
            results[key] = result
            counts["read"] += 1
        else:
            counts["corrupt"] += status == "corrupt"
            pending[key] = config

    if pending:
        store.check()  # a read-only store fails here, before anything trains (a finished one may be read)

    executor = executor or default_executor()
    waiting_reported = False
    long_locks_reported: set[str] = set()
    with tqdm(total=len(pending), desc=desc, unit="run", disable=not progress_enabled(progress),
              postfix={"on disk": len(configs) - len(pending)} if pending else None) as bar:
        while pending:
            # Each task claims, runs and writes its own runs where it executes (SweepTask).
            tasks = [SweepTask(run, tuple(chunk), store, batched=batch_by is not None, check=check)
                     for chunk in _chunks(list(pending.values()), batch_by, max_batch)]
            for _, finished in executor.map(tasks):
                for config, result in finished:
                    key = config_key(config)
                    results[key] = result
                    counts["run"] += 1
                    del pending[key]
                    bar.update(1)
            # What is left was claimed by other processes: read what they finished, wait for the rest.
            for key in list(pending):
                status, result = store.load(key, check)
                counts["corrupt"] += status == "corrupt"
                if status == "ok":
                    results[key] = result
                    counts["read"] += 1
                    del pending[key]
                    bar.update(1)
            if pending:
                if not waiting_reported:
                    owners = sorted({owner for key in pending if (owner := store.lock_owner(key))})
                    print(f"{desc}: waiting for {len(pending)} run(s) claimed by other processes "
                          f"({', '.join(owners) or 'released meanwhile'})", flush=True)
                    waiting_reported = True
                report_long_locks(store, pending, long_locks_reported, desc)
                time.sleep(poll_seconds)

    n_diverged = sum(result.get("diverged") is True for result in results.values())
    print(f"{desc}: results store {shown_path(store.root)}: {counts['read']} read, {counts['run']} run, "
          f"{counts['corrupt']} corrupt, {n_diverged} diverged", flush=True)
    return pd.DataFrame([frame_row(config_fields(config), results[config_key(config)], config_key(config))
                         for config in configs])


def _chunks(configs: list[Config], batch_by: Callable[[Any], Hashable] | None, max_batch: int) -> list[list[Config]]:
    if batch_by is None:
        return [[config] for config in configs]
    groups: dict[Hashable, list[Config]] = {}
    for config in configs:
        groups.setdefault(batch_by(config), []).append(config)
    return [group[i:i + max_batch] for group in groups.values() for i in range(0, len(group), max_batch)]
