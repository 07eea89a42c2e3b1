"""The checked, resumable, lock-sharing results store that :mod:`modcore.sweeps` writes to.

Each finished run is written at once, atomically, as one JSON file named by a stable hash of
its config (:func:`config_key`): a frozen dataclass or a plain dict holding everything that
determines the run's result, seed and defaults included.

The store does not trust what it reads. A record carries a checksum of its result; a sweep
may name the result fields every run must have (``required_keys``) and a ``validate``
function; a record that fails any check is *corrupt*: reported (on stdout, which a notebook
keeps, and as a :class:`CorruptRecordWarning`), moved aside and rerun.

Divergence. A run is *diverged* when it says so (``diverged: True`` in its result) or when a
checked field (the ``required_keys``, or every field if the sweep names none) holds a NaN or
an infinity. A diverged run is stored with ``diverged: true`` and every non-finite number in
its result replaced by null (NaN in the sweep's DataFrame); it is not rerun, since the same
config diverges again. Every row of a sweep's DataFrame has a boolean ``diverged`` column,
so that the chapters can show such runs and leave them out of every verdict. A field that
is legitimately undefined (e.g. held-out accuracy of a task without held-out data) should
be None, not NaN, or be left out of ``required_keys``.

Several processes can work on one store, on one machine or on several sharing a filesystem:
each claims a run before computing it by taking an exclusive OS lock (``fcntl.flock``) on the
run's lock file, and waits for runs that another process holds. The lock belongs to the open
file, not to a PID written in it: the kernel (or, on NFS, the file server) drops it when its
process ends, however it ends, so a crashed run is free again at once and a recycled PID can
never hold a run hostage. A lock held longer than ``LONG_LOCK_SECONDS`` is reported with its
host, PID and how to clear it (a lock of a node that crashed can outlive it on some network
filesystems).

A store can be shared by a team. Records, lock files and folders are created with the
permissions the user's umask allows (a umask of 002 makes them group-writable; ``chmod g+s`` on
the team folder gives them its group). A record that exists but cannot be read for want of
permission is an error that names the file: it is never taken for corrupt, moved or rerun.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import math
import numbers
import os
import secrets
import socket
import stat
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from modcore import paths

Config = Any  # a frozen dataclass instance or a Mapping of JSON-serialisable values
Result = dict[str, Any]

RECORD_FORMAT = 2  # bump when the record layout changes; old records are then rerun (2: checksum, diverged)
# A run's lock held longer than this is reported (not broken): a paper-scale batch of runs takes
# minutes to an hour, so three hours of one lock suggests a process hung or a node lost with its lock.
LONG_LOCK_SECONDS = 3 * 3600.0
NEW_FILE_MODE = 0o666  # records and locks: the umask decides who else may read (and write) them


class CorruptRecordWarning(UserWarning):
    """A record on disk could not be read back; it is moved aside and its run is redone."""


class RecordAccessError(PermissionError):
    """A record (or lock) of the store exists but this user may not read it: left in place."""


def _access_error(path: Path, what: str) -> RecordAccessError:
    """One line naming ``path``, its owner and mode, and what to do about it."""
    try:
        info = path.stat()
        owner = f"owned by uid {info.st_uid}, mode {stat.filemode(info.st_mode)}"
        try:
            import pwd

            owner = f"owned by {pwd.getpwuid(info.st_uid).pw_name}, mode {stat.filemode(info.st_mode)}"
        except (ImportError, KeyError):
            pass
    except OSError:
        owner = "owner unknown"
    store = path if what == "folder" else path.parent
    return RecordAccessError(
        f"results {what} {path} cannot be read: permission denied ({owner}); it is left in place and not "
        f"rerun. Ask its owner to make the store group-readable (chmod -R g+rX {store}) and to run "
        f"with umask 002, or use a store of your own")


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


def result_checksum(result: Mapping[str, Any]) -> str:
    """SHA-256 of the result's canonical JSON: an edited value no longer matches it."""
    return hashlib.sha256(_canonical_json(result).encode()).hexdigest()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _has_non_finite(value: Any) -> bool:
    if _is_number(value):
        return not math.isfinite(float(value))
    if isinstance(value, Mapping):
        return any(_has_non_finite(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(item) for item in value)
    return False


def _nulled(value: Any) -> Any:
    """``value`` with every non-finite number replaced by None (JSON null)."""
    if _is_number(value):
        return value if math.isfinite(float(value)) else None
    if isinstance(value, Mapping):
        return {key: _nulled(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nulled(item) for item in value]
    return value


@dataclasses.dataclass(frozen=True)
class ResultCheck:
    """What every result of one sweep must hold; checked when a run finishes and on every read.

    ``required_keys`` must be present in every result and, unless the run diverged, hold a
    finite value (not None). ``finite_keys`` are the fields whose numbers (in lists and dicts
    too) must be finite: None means every field (None values excepted), a tuple only those
    fields (and the required ones). A non-finite value in a checked field marks a fresh run
    diverged; in a stored record not marked diverged it makes the record corrupt.
    ``validate(result)`` may raise ValueError for anything else a healthy result must satisfy.
    """

    required_keys: tuple[str, ...] = ()
    finite_keys: tuple[str, ...] | None = None
    validate: Callable[[Mapping[str, Any]], Any] | None = None

    def __post_init__(self):
        if isinstance(self.required_keys, str) or not all(isinstance(k, str) for k in self.required_keys):
            raise TypeError(f"required_keys must be a tuple of field names, got {self.required_keys!r}")
        if self.finite_keys is not None and (isinstance(self.finite_keys, str)
                                             or not all(isinstance(k, str) for k in self.finite_keys)):
            raise TypeError(f"finite_keys must be None or a tuple of field names, got {self.finite_keys!r}")

    def checked_fields(self, result: Mapping[str, Any]) -> list[str]:
        """The fields of ``result`` whose numbers must be finite."""
        if self.finite_keys is None:
            return list(result)
        wanted = set(self.finite_keys) | set(self.required_keys)
        return [key for key in result if key in wanted]

    def non_finite_fields(self, result: Mapping[str, Any]) -> list[str]:
        return [key for key in self.checked_fields(result) if _has_non_finite(result[key])]

    def problem(self, result: Any) -> str | None:
        """Why a stored result cannot be used, or None."""
        if not isinstance(result, Mapping):
            return f"its result is a {type(result).__name__}, not a mapping"
        missing = [key for key in self.required_keys if key not in result]
        if missing:
            return f"its result lacks {', '.join(missing)}"
        if result.get("diverged") is True:
            return None  # its non-finite values were stored as null on purpose
        unusable = [key for key in self.required_keys if result[key] is None]
        unusable += [key for key in self.non_finite_fields(result) if key not in unusable]
        if unusable:
            return f"its result has non-finite or missing values in {', '.join(unusable)} but is not marked diverged"
        if self.validate is not None:
            try:
                self.validate(result)
            except ValueError as error:
                return f"its result fails the sweep's validation ({error})"
        return None


NO_CHECK = ResultCheck(required_keys=(), finite_keys=())  # reads any well-formed record


def shown_path(path: Path) -> str:
    """``path`` as a user would type it: under ``$MODCORE_RESULTS`` or the repository when it
    is, so that a notebook's printed output does not depend on where its store lives."""
    if paths.RESULTS_ENV in os.environ:
        try:
            return f"${paths.RESULTS_ENV}/{path.resolve().relative_to(paths.results_dir())}"
        except ValueError:
            pass
    try:
        return str(path.resolve().relative_to(paths.REPO_ROOT))
    except ValueError:
        return str(path)


def _report(message: str, *, stacklevel: int = 3) -> None:
    # stdout as well as a warning: a notebook keeps stdout in the book, while warnings go to
    # the kernel's stderr, which `--quiet` hides and the book removes.
    print(f"warning: {message}", flush=True)
    warnings.warn(message, CorruptRecordWarning, stacklevel=stacklevel + 1)


# Lock files this process holds, by path: the open file is the lock (fcntl.flock), so it lives
# here, not in a ResultStore, which is pickled to other processes.
_HELD_LOCKS: dict[str, int] = {}


def _open_lock(lock: Path) -> tuple[int, bool]:
    """An open handle of ``lock`` (created if missing) and whether it is open for writing.

    flock needs only a handle that reads: a lock file another user left (and we may not
    write) can still be locked.
    """
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT, NEW_FILE_MODE), True
    except PermissionError:
        pass
    try:
        return os.open(lock, os.O_RDONLY), False
    except FileNotFoundError:  # it could not be created
        raise paths.ResultsDirError(f"results store {lock.parent} is not writable "
                                    f"(cannot create {lock.name})") from None
    except PermissionError:
        raise _access_error(lock, "lock") from None


def _is_current(lock: Path, handle: int) -> bool:
    """Whether ``handle`` is the file at ``lock`` now (not one removed since it was opened)."""
    try:
        here = os.stat(lock)
    except FileNotFoundError:
        return False
    mine = os.fstat(handle)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


class ResultStore:
    """A folder holding one ``<key>.json`` record per finished run.

    A record is ``{"format", "key", "config", "result", "checksum"}``. A record that cannot
    be parsed, whose stored config does not hash to its file name, whose result does not
    match its checksum (a half-written or edited file) or that fails the sweep's
    :class:`ResultCheck`, is reported, renamed to ``<key>.json.corrupt`` and treated as
    missing, so its run is redone rather than silently read.

    The folder is checked by :meth:`check` (which :func:`run_sweep` calls before any run):
    it must exist, or be created when ``create`` is true, and accept a probe file. With
    ``base``, ``base`` is the folder that must exist (or be created when ``create``) and
    ``root`` below it is always created.
    """

    def __init__(self, root: str | os.PathLike[str], *, create: bool = False,
                 base: str | os.PathLike[str] | None = None):
        self.root = Path(root)
        self.create = create
        self.base = None if base is None else Path(base)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    def check(self, *, writable: bool = True) -> None:
        """Raise :class:`modcore.paths.ResultsDirError` unless the folder exists (or may be
        created) and, if ``writable``, accepts a probe file."""
        if self.base is not None:
            paths.check_writable_dir(self.base, create=self.create, probe=False)
        paths.check_writable_dir(self.root, create=self.create or self.base is not None, probe=writable)

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def _read(self, path: Path, check: ResultCheck = NO_CHECK) -> dict[str, Any] | None:
        """The record at ``path``, or None (reported, moved aside) if it is corrupt or outdated.

        A record this user may not read is not corrupt: :class:`RecordAccessError`, naming it.
        """
        problem = None
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except PermissionError:
            raise _access_error(path, "record") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problem = f"unreadable ({error.__class__.__name__}: {error})"
        else:
            if not isinstance(record, dict) or not {"key", "config", "result"} <= set(record):
                problem = "missing fields"
            elif record.get("format") != RECORD_FORMAT:
                problem = f"record format {record.get('format')!r}, expected {RECORD_FORMAT}"
            elif config_key(record["config"]) != path.stem or record["key"] != path.stem:
                problem = "its config does not hash to its file name"
            elif record.get("checksum") != result_checksum(record["result"]):
                problem = "its result does not match its checksum (edited or damaged)"
            else:
                problem = check.problem(record["result"])
        if problem is None:
            return record
        _report(f"results record {path} is corrupt ({problem}); moved aside, the run will be redone")
        path.replace(path.with_name(path.name + ".corrupt"))
        return None

    def load(self, key: str, check: ResultCheck = NO_CHECK) -> tuple[str, Result | None]:
        """``("ok", result)``, ``("missing", None)`` or ``("corrupt", None)`` for run ``key``."""
        path = self._path(key)
        if not self.has(key):
            return "missing", None
        record = self._read(path, check)
        return ("corrupt", None) if record is None else ("ok", record["result"])

    def has(self, key: str) -> bool:
        """Whether a record of run ``key`` exists (it is not read, so not checked)."""
        try:
            return self._path(key).exists()
        except PermissionError:  # a folder of another user that we may not search
            raise _access_error(self.root, "folder") from None

    def get(self, config: Config, check: ResultCheck = NO_CHECK) -> Result | None:
        """The stored result of ``config``, or None if that run has not finished."""
        return self.load(config_key(config), check)[1]

    def put(self, config: Config, result: Mapping[str, Any], check: ResultCheck = NO_CHECK) -> Result:
        """Write one finished run atomically (a temporary file in the same folder, then a
        rename) and return the result as stored: a diverged run (see the module docstring)
        gets ``diverged: True`` and null in place of its non-finite numbers.

        A result that ``check`` would refuse on reading (a required key missing, or None in a
        run that did not diverge, a failed validation) is a ValueError, and nothing is written:
        stored, it would be found corrupt and rerun at every read. The file's permissions are
        those the umask allows, so a group-writable umask shares the store with the group.
        """
        if not isinstance(result, Mapping):
            raise TypeError(f"run must return a dict per config, got {type(result).__name__}")
        key = config_key(config)
        if result.get("diverged") or check.non_finite_fields(result):
            stored = {**_nulled(dict(result)), "diverged": True}
        else:
            stored = dict(result)
        problem = check.problem(stored)
        if problem is not None:
            raise ValueError(f"run of config {config_fields(config)} returned a result its sweep refuses: "
                             f"{problem.removeprefix('its result ')}")
        record = {"format": RECORD_FORMAT, "key": key, "config": config_fields(config), "result": stored}
        try:
            record["checksum"] = result_checksum(stored)
            text = _canonical_json(record)
        except TypeError as error:
            raise TypeError(f"results must be JSON-serialisable: {error}") from None
        # os.open with 0o666, not tempfile.mkstemp (always 0o600): the umask, not modcore,
        # decides whether the group may read the record
        tmp = self.root / f".{key}.{secrets.token_hex(6)}.tmp"
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
        try:
            with os.fdopen(handle, "w") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self._path(key))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return stored

    # --- claims: several processes on one store ----------------------------------------

    def _lock(self, key: str) -> Path:
        return self.root / f"{key}.lock"

    def claim(self, key: str) -> bool:
        """Take run ``key`` for this process: True if it now holds the run's lock.

        The lock is ``fcntl.flock`` on ``<key>.lock``, held until :meth:`release` or until this
        process ends. False if another process holds it. The file's text (host and PID of the
        holder) only serves reports (:meth:`lock_owner`); a file that names a process but is not
        locked, left by a process that was killed, is free.
        """
        lock = self._lock(key)
        if str(lock) in _HELD_LOCKS:  # taken by this process before (e.g. an interrupted sweep): still ours
            return True
        for _ in range(10):
            handle, writable = _open_lock(lock)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                return False
            except OSError as error:
                os.close(handle)
                raise paths.ResultsDirError(
                    f"results store {self.root} does not support file locks ({error.strerror}); processes "
                    f"sharing it could not split the work. Use a local folder, or mount it with locking on") from None
            if not _is_current(lock, handle):
                # the holder released (and removed) the file between our open and our lock: a
                # lock on that orphan file would guard nothing; try the file there now
                os.close(handle)
                continue
            if not writable:
                # a lock file of another user that was left behind: replace it by one of ours
                try:
                    lock.unlink()
                except OSError:
                    pass  # (a sticky folder): hold the lock on that file as it is
                else:
                    os.close(handle)
                    continue
            else:
                os.ftruncate(handle, 0)
                os.pwrite(handle, f"{socket.gethostname()} {os.getpid()}\n".encode(), 0)
            _HELD_LOCKS[str(lock)] = handle
            return True
        return False

    def release(self, key: str) -> None:
        """Give run ``key`` back: remove its lock file, then drop the lock (in that order, so a
        process that opened the file meanwhile sees it is no longer current)."""
        lock = self._lock(key)
        handle = _HELD_LOCKS.pop(str(lock), None)
        if handle is None:
            return  # not ours: another process's lock is never removed here
        try:
            lock.unlink(missing_ok=True)
        except OSError:
            pass  # the lock still goes with the close below; the file is then free to take
        finally:
            os.close(handle)

    def lock_owner(self, key: str) -> str | None:
        """``host PID`` written in run ``key``'s lock file, if there is one.

        Only for locks of other processes: on NFS, flock is emulated by POSIX locks, which
        closing any descriptor of the file drops, so a holder must never open its own lock file.
        """
        try:
            return self._lock(key).read_text().strip() or None
        except (FileNotFoundError, PermissionError):
            return None

    def lock_age(self, key: str) -> float | None:
        """Seconds since run ``key``'s lock file was written, if there is one."""
        try:
            return time.time() - self._lock(key).stat().st_mtime
        except FileNotFoundError:
            return None

    def keys(self) -> list[str]:
        return sorted(path.stem for path in self.root.glob("*.json"))

    def records(self, check: ResultCheck = NO_CHECK) -> Iterator[dict[str, Any]]:
        for path in sorted(self.root.glob("*.json")):
            record = self._read(path, check)
            if record is not None:
                yield record

    def frame(self, configs: Iterable[Config] | None = None, check: ResultCheck = NO_CHECK) -> pd.DataFrame:
        """One row per run: config fields, then result fields, ``diverged``, then ``key``.

        With ``configs``, only those runs, in that order (a missing one raises KeyError);
        without, every readable record in the store.
        """
        if configs is None:
            rows = [frame_row(record["config"], record["result"], record["key"]) for record in self.records(check)]
        else:
            rows = []
            for config in configs:
                result = self.get(config, check)
                if result is None:
                    raise KeyError(f"no finished run in {self} for config {config_fields(config)}")
                rows.append(frame_row(config_fields(config), result, config_key(config)))
        return pd.DataFrame(rows)


def frame_row(config: Mapping[str, Any], result: Mapping[str, Any], key: str) -> dict[str, Any]:
    clashes = set(config) & set(result)
    if clashes:
        raise ValueError(f"result keys {sorted(clashes)} clash with config fields of the same name")
    diverged = result.get("diverged") is True
    if diverged:  # null marks a non-finite value of a diverged run: NaN in a numeric table
        result = {k: math.nan if v is None else v for k, v in result.items()}
    return {**config, **result, "diverged": diverged, "key": key}


def default_store(experiment: str) -> ResultStore:
    """The store of one experiment: ``results_dir()/<experiment>`` (see :mod:`modcore.paths`).

    The default ``results/`` folder is created when needed; a ``MODCORE_RESULTS`` folder must
    exist unless ``MODCORE_RESULTS_CREATE=1``. The experiment's subfolder is always created.
    """
    if not experiment or "/" in experiment or experiment.startswith("."):
        raise ValueError(f"experiment must be a plain folder name, got {experiment=}")
    root = paths.results_dir()
    return ResultStore(root / experiment, base=root, create=paths.may_create_results_dir())


def resolve_store(results_dir: str | os.PathLike[str] | None, experiment: str) -> ResultStore:
    """The notebooks' ``results_dir`` parameter: None means :func:`default_store`; a folder
    named explicitly (absolute, or relative to the working directory; never empty) must exist
    unless ``MODCORE_RESULTS_CREATE=1``."""
    if results_dir is None:
        return default_store(experiment)
    return ResultStore(paths.absolute_path(results_dir, "results_dir"), create=paths.may_create_explicit_results_dir())


def report_long_locks(store: ResultStore, pending: Iterable[str], reported: set[str], desc: str) -> None:
    """Say once per run when its lock has been held longer than LONG_LOCK_SECONDS, and how to clear it."""
    for key in pending:
        age = store.lock_age(key)
        if key in reported or age is None or age < LONG_LOCK_SECONDS:
            continue
        reported.add(key)
        owner = (store.lock_owner(key) or "an unknown process").split()
        holder = f"process {owner[1]} on host {owner[0]}" if len(owner) == 2 else " ".join(owner)
        print(f"warning: {desc}: run {key} has been locked by {holder} for {age / 3600:.1f} h (more than "
              f"{LONG_LOCK_SECONDS / 3600:g} h). If that process no longer runs (a lost node can leave its lock on "
              f"a network filesystem), delete {store._lock(key)}; this sweep then takes the run over", flush=True)
