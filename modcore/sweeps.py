"""Grids of runs and the resumable on-disk results store.

A sweep is a list of *configs*: frozen dataclasses (or plain dicts) holding everything that
determines a run's result, seed and defaults included. Each finished run is written at once,
atomically, as one JSON file named by a stable hash of its config. Rerunning a sweep skips
what is on disk, so an interrupted sweep resumes without redoing or losing finished runs.

The executor is a small interface (``Executor.map``) so that a distributed engine can run
the same sweep later; today's engine runs in-process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from tqdm import tqdm

from modcore import executors, paths

Config = Any  # a frozen dataclass instance or a Mapping of JSON-serialisable values
Result = dict[str, Any]

RECORD_FORMAT = 1  # bump when the record layout changes; old records are then rerun


class CorruptRecordWarning(UserWarning):
    """A record on disk could not be read back; it is moved aside and its run is redone."""


def config_fields(config: Config) -> dict[str, Any]:
    """The config as a plain dict; a dataclass also records its type name under ``kind``.

    The type name is part of the key so that two experiments whose configs happen to share
    field values never collide in one store.
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {"kind": type(config).__name__, **dataclasses.asdict(config)}
    if isinstance(config, Mapping):
        return dict(config)
    raise TypeError(f"config must be a dataclass instance or a mapping, got {type(config).__name__}")


def _canonical_json(value: Any) -> str:
    # sort_keys + fixed separators: the same config gives the same bytes in any process;
    # tuples and lists serialise alike, so a tuple field and its JSON round trip agree.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def config_key(config: Config) -> str:
    """Stable 20-hex-digit hash of the full config (type name, every field, seed included)."""
    fields = config_fields(config)
    try:
        text = _canonical_json(fields)
    except TypeError as error:
        raise TypeError(f"config fields must be JSON-serialisable: {error}") from None
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ResultStore:
    """A folder holding one ``<key>.json`` record per finished run.

    A record is ``{"format", "key", "config", "result"}``. A record that cannot be parsed, or
    whose stored config does not hash to its file name (a half-written or edited file), is
    reported with a :class:`CorruptRecordWarning`, renamed to ``<key>.json.corrupt`` and
    treated as missing, so its run is redone rather than silently read.
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def _read(self, path: Path) -> dict[str, Any] | None:
        """The record at ``path``, or None (with a warning) if it is corrupt or outdated."""
        problem = None
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problem = f"unreadable ({error.__class__.__name__}: {error})"
        else:
            if not isinstance(record, dict) or not {"key", "config", "result"} <= set(record):
                problem = "missing fields"
            elif record.get("format") != RECORD_FORMAT:
                problem = f"record format {record.get('format')!r}, expected {RECORD_FORMAT}"
            elif config_key(record["config"]) != path.stem or record["key"] != path.stem:
                problem = "its config does not hash to its file name"
        if problem is None:
            return record
        warnings.warn(f"results record {path} is corrupt ({problem}); moved aside, the run will be redone",
                      CorruptRecordWarning, stacklevel=3)
        path.replace(path.with_name(path.name + ".corrupt"))
        return None

    def get(self, config: Config) -> Result | None:
        """The stored result of ``config``, or None if that run has not finished."""
        path = self._path(config_key(config))
        if not path.exists():
            return None
        record = self._read(path)
        return None if record is None else record["result"]

    def put(self, config: Config, result: Mapping[str, Any]) -> None:
        """Write one finished run atomically: a temporary file in the same folder, then rename."""
        key = config_key(config)
        record = {"format": RECORD_FORMAT, "key": key, "config": config_fields(config), "result": dict(result)}
        try:
            text = _canonical_json(record)
        except TypeError as error:
            raise TypeError(f"results must be JSON-serialisable: {error}") from None
        handle, tmp_name = tempfile.mkstemp(dir=self.root, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as tmp:
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self._path(key))
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def keys(self) -> list[str]:
        return sorted(path.stem for path in self.root.glob("*.json"))

    def records(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self.root.glob("*.json")):
            record = self._read(path)
            if record is not None:
                yield record

    def frame(self, configs: Iterable[Config] | None = None) -> pd.DataFrame:
        """One row per run: config fields, then result fields, then ``key``.

        With ``configs``, only those runs, in that order (a missing one raises KeyError);
        without, every readable record in the store.
        """
        if configs is None:
            rows = [_row(record["config"], record["result"], record["key"]) for record in self.records()]
        else:
            rows = []
            for config in configs:
                result = self.get(config)
                if result is None:
                    raise KeyError(f"no finished run in {self} for config {config_fields(config)}")
                rows.append(_row(config_fields(config), result, config_key(config)))
        return pd.DataFrame(rows)


def _row(config: Mapping[str, Any], result: Mapping[str, Any], key: str) -> dict[str, Any]:
    clashes = set(config) & set(result)
    if clashes:
        raise ValueError(f"result keys {sorted(clashes)} clash with config fields of the same name")
    return {**config, **result, "key": key}


def default_store(experiment: str) -> ResultStore:
    """The store of one experiment: ``results_dir()/<experiment>`` (see :mod:`modcore.paths`)."""
    if not experiment or "/" in experiment or experiment.startswith("."):
        raise ValueError(f"experiment must be a plain folder name, got {experiment=}")
    return ResultStore(paths.results_dir() / experiment)


def resolve_store(results_dir: str | os.PathLike[str] | None, experiment: str) -> ResultStore:
    """The notebooks' ``results_dir`` parameter: None means :func:`default_store`."""
    return default_store(experiment) if results_dir is None else ResultStore(results_dir)


# --- executors -------------------------------------------------------------------------

Task = Callable[[], list[Result]]


class Executor(Protocol):
    """Runs independent tasks and yields ``(index, results)`` as each task finishes.

    Order of completion is free; a distributed engine yields as workers report back.
    """

    def map(self, tasks: Sequence[Task]) -> Iterator[tuple[int, list[Result]]]: ...


class InProcessExecutor:
    """Runs the tasks one after another in this process."""

    def map(self, tasks: Sequence[Task]) -> Iterator[tuple[int, list[Result]]]:
        for index, task in enumerate(tasks):
            yield index, task()


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
) -> pd.DataFrame:
    """Run every config not yet in ``store``, writing each result as soon as it exists.

    Without ``batch_by``, ``run(config) -> dict``. With ``batch_by``, pending configs that
    share ``batch_by(config)`` run together in chunks of at most ``max_batch`` and
    ``run(list_of_configs) -> list_of_dicts`` (same order): this is how an ensemble trainer
    fits many seeds at once. Duplicated configs run once.

    Returns the DataFrame of all requested configs (finished earlier or now), in order.
    """
    configs = list(configs)
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch=}")
    pending: dict[str, Config] = {}
    for config in configs:
        key = config_key(config)
        if key not in pending and store.get(config) is None:
            pending[key] = config

    if batch_by is None:
        chunks = [[config] for config in pending.values()]
    else:
        groups: dict[Hashable, list[Config]] = {}
        for config in pending.values():
            groups.setdefault(batch_by(config), []).append(config)
        chunks = [group[i:i + max_batch] for group in groups.values() for i in range(0, len(group), max_batch)]

    # Each task writes its own results to the store where it runs (see executors.SweepTask).
    tasks = [executors.SweepTask(run, tuple(chunk), store, batched=batch_by is not None) for chunk in chunks]
    executor = executor or executors.executor_from_environment()
    with tqdm(total=len(pending), desc=desc, unit="run", disable=not progress_enabled(progress),
              postfix={"on disk": len(configs) - len(pending)} if pending else None) as bar:
        for index, _ in executor.map(tasks):
            bar.update(len(chunks[index]))
    return store.frame(configs)
