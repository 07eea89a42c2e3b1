"""The results store checks what it reads, tells the user, never stores a non-finite result
as healthy, checks its folder before any run, and lets two processes share one sweep."""

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

from modcore import paths, sweeps
from modcore import store as store_module  # its locks and constants, patched below; `store` names a ResultStore
from modcore.store import CorruptRecordWarning, ResultStore, config_key, default_store, resolve_store, result_checksum


@dataclasses.dataclass(frozen=True)
class Toy:
    seed: int
    lr: float = 1e-3


class Counting:
    """A run function that records its calls; ``losses`` maps a seed to the loss it returns."""

    def __init__(self, losses=None):
        self.calls = []
        self.losses = losses or {}

    def __call__(self, config):
        self.calls.append(config.seed)
        return {"test_mse": self.losses.get(config.seed, 0.5 + config.seed), "curve": [1.0, 0.5]}


def _record(tmp_path, config):
    path = tmp_path / f"{config_key(config)}.json"
    return path, json.loads(path.read_text())


def test_edited_result_is_detected_by_its_checksum_moved_aside_rerun_and_counted(tmp_path, capsys):
    store = ResultStore(tmp_path)
    configs = [Toy(0), Toy(1)]
    sweeps.run_sweep(Counting(), configs, store, progress=False, required_keys=("test_mse",))
    path, record = _record(tmp_path, Toy(1))
    record["result"]["test_mse"] = 999.0  # a plausible-looking edit: only the checksum catches it
    path.write_text(json.dumps(record))
    capsys.readouterr()

    rerun = Counting()
    with pytest.warns(CorruptRecordWarning, match="checksum"):
        frame = sweeps.run_sweep(rerun, configs, store, progress=False, desc="toy", required_keys=("test_mse",))
    assert rerun.calls == [1]
    assert list(frame["test_mse"]) == [0.5, 1.5]
    assert (tmp_path / f"{path.name}.corrupt").exists()
    out = capsys.readouterr().out
    assert "corrupt (its result does not match its checksum" in out  # on stdout, which the book keeps
    assert out.splitlines()[-1] == f"toy: results store {tmp_path}: 1 read, 1 run, 1 corrupt, 0 diverged"


def test_record_missing_a_required_key_is_corrupt_and_names_the_record_and_key(tmp_path, capsys):
    store = ResultStore(tmp_path)
    store.put(Toy(0), {"curve": [1.0]})  # e.g. written by an older version that had no test_mse
    rerun = Counting()
    with pytest.warns(CorruptRecordWarning, match="lacks test_mse"):
        frame = sweeps.run_sweep(rerun, [Toy(0)], store, required_keys=["test_mse"], progress=False)
    assert rerun.calls == [0] and list(frame["test_mse"]) == [0.5]
    assert config_key(Toy(0)) in capsys.readouterr().out


def test_validator_runs_on_read_and_a_refused_record_is_rerun(tmp_path):
    store = ResultStore(tmp_path)
    sweeps.run_sweep(Counting(), [Toy(0), Toy(1)], store, progress=False, required_keys=("test_mse",))

    def below_one(result):
        if result["test_mse"] >= 1:
            raise ValueError(f"test_mse={result['test_mse']} cannot exceed the target variance")

    rerun = Counting(losses={1: 0.25})
    with pytest.warns(CorruptRecordWarning, match="cannot exceed"):
        frame = sweeps.run_sweep(rerun, [Toy(0), Toy(1)], store, validate=below_one, progress=False,
                                 required_keys=("test_mse",))
    assert rerun.calls == [1] and list(frame["test_mse"]) == [0.5, 0.25]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_result_is_stored_as_diverged_with_null_and_not_rerun(tmp_path, capsys, bad):
    store = ResultStore(tmp_path)
    first = Counting(losses={1: bad})
    frame = sweeps.run_sweep(first, [Toy(0), Toy(1)], store, progress=False, desc="toy", required_keys=("test_mse",))
    assert list(frame["diverged"]) == [False, True]
    assert frame["test_mse"][0] == 0.5 and math.isnan(frame["test_mse"][1])
    _, record = _record(tmp_path, Toy(1))
    assert record["result"] == {"test_mse": None, "curve": [1.0, 0.5], "diverged": True}
    assert capsys.readouterr().out.endswith("0 read, 2 run, 0 corrupt, 1 diverged\n")

    again = Counting()
    frame = sweeps.run_sweep(again, [Toy(0), Toy(1)], store, progress=False, desc="toy", required_keys=("test_mse",))
    assert again.calls == []  # the same config diverges again: read, not redone
    assert list(frame["diverged"]) == [False, True]
    assert capsys.readouterr().out.endswith("2 read, 0 run, 0 corrupt, 1 diverged\n")


def test_non_finite_value_in_a_list_field_counts_too(tmp_path):
    store = ResultStore(tmp_path)
    frame = sweeps.run_sweep(lambda c: {"test_mse": 0.1, "curve": [1.0, math.inf]}, [Toy(0)], store, progress=False,
                             required_keys=("test_mse",))
    assert list(frame["diverged"]) == [True]


def test_with_finite_keys_only_those_and_the_required_keys_decide_divergence(tmp_path):
    store = ResultStore(tmp_path)

    def run(config):  # held-out accuracy is undefined for this task: NaN, not divergence
        return {"test_mse": 0.1, "heldout_accuracy": math.nan}

    options = dict(required_keys=["test_mse"], finite_keys=["test_mse"], progress=False)
    frame = sweeps.run_sweep(run, [Toy(0)], store, **options)
    assert list(frame["diverged"]) == [False] and math.isnan(frame["heldout_accuracy"][0])
    assert sweeps.run_sweep(run, [Toy(0)], store, **options)["diverged"].tolist() == [False]
    # without finite_keys every field must be finite: the same result is a diverged run
    assert sweeps.run_sweep(run, [Toy(1)], store,
                            required_keys=["test_mse"], progress=False)["diverged"].tolist() == [True]


def test_every_sweep_must_name_its_required_keys(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(TypeError, match="required_keys"):
        sweeps.run_sweep(Counting(), [Toy(0)], store, progress=False)
    for empty in ([], (), "", None):
        with pytest.raises((ValueError, TypeError), match="required_keys"):
            sweeps.run_sweep(Counting(), [Toy(0)], store, progress=False, required_keys=empty)
    with pytest.raises(ValueError, match="required_keys"):  # a string is not a list of names
        sweeps.run_sweep(Counting(), [Toy(0)], store, progress=False, required_keys="test_mse")


def test_a_record_edited_to_drop_a_required_key_with_its_checksum_recomputed_is_rerun(tmp_path, capsys):
    # the probe of issue 28: the checksum matches, so only the declared keys catch the edit
    store = ResultStore(tmp_path)
    sweeps.run_sweep(Counting(), [Toy(0), Toy(1)], store, progress=False, required_keys=("test_mse",))
    path, record = _record(tmp_path, Toy(1))
    del record["result"]["test_mse"]
    record["checksum"] = result_checksum(record["result"])
    path.write_text(json.dumps(record))
    rerun = Counting()
    with pytest.warns(CorruptRecordWarning, match="lacks test_mse"):
        frame = sweeps.run_sweep(rerun, [Toy(0), Toy(1)], store, progress=False, required_keys=("test_mse",))
    assert rerun.calls == [1] and list(frame["test_mse"]) == [0.5, 1.5]
    assert (tmp_path / f"{path.name}.corrupt").exists()


def test_a_run_whose_result_its_sweep_would_refuse_is_not_stored(tmp_path):
    # stored, it would be found corrupt and rerun at every read
    store = ResultStore(tmp_path)
    with pytest.raises(ValueError, match="lacks test_mse"):
        sweeps.run_sweep(lambda c: {"curve": [1.0]}, [Toy(0)], store, progress=False, required_keys=("test_mse",))
    with pytest.raises(ValueError, match="missing values in test_mse"):
        sweeps.run_sweep(lambda c: {"test_mse": None}, [Toy(0)], store, progress=False, required_keys=("test_mse",))
    assert list(tmp_path.glob("*.json")) == []


def test_a_run_that_says_it_diverged_is_kept_as_diverged(tmp_path):
    store = ResultStore(tmp_path)
    frame = sweeps.run_sweep(lambda c: {"test_mse": 1e6, "diverged": True}, [Toy(0)], store, progress=False,
                             required_keys=("test_mse",))
    assert list(frame["diverged"]) == [True] and list(frame["test_mse"]) == [1e6]


def test_a_healthy_looking_record_with_non_finite_values_is_corrupt(tmp_path):
    # written by a version that stored NaN losses as finished: not trusted, rerun
    store = ResultStore(tmp_path)
    store.put(Toy(0), {"test_mse": math.nan})  # the default check reads (and writes) any well-formed record
    rerun = Counting()
    with pytest.warns(CorruptRecordWarning, match="not marked diverged"):
        sweeps.run_sweep(rerun, [Toy(0)], store, progress=False, required_keys=("test_mse",))
    assert rerun.calls == [0]


def test_each_finished_record_is_read_once_per_sweep(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    configs = [Toy(seed) for seed in range(4)]
    sweeps.run_sweep(Counting(), configs[:2], store, progress=False, required_keys=("test_mse",))
    reads = []
    original = ResultStore._read
    monkeypatch.setattr(ResultStore, "_read", lambda self, path, *a: reads.append(path.stem) or original(self, path, *a))
    sweeps.run_sweep(Counting(), configs, store, progress=False, required_keys=("test_mse",))
    assert sorted(reads) == sorted(config_key(c) for c in configs[:2])


# --- the store's folder ------------------------------------------------------------------

def test_missing_explicit_results_folder_is_an_error_unless_creation_is_asked(tmp_path, monkeypatch):
    missing = tmp_path / "typo"
    monkeypatch.setenv(paths.RESULTS_ENV, str(missing))
    monkeypatch.delenv(paths.RESULTS_CREATE_ENV, raising=False)
    run = Counting()
    with pytest.raises(paths.ResultsDirError, match=f"{missing} does not exist"):
        sweeps.run_sweep(run, [Toy(0)], default_store("fig2"), progress=False, required_keys=("test_mse",))
    assert run.calls == [] and not missing.exists()

    monkeypatch.setenv(paths.RESULTS_CREATE_ENV, "1")
    sweeps.run_sweep(run, [Toy(0)], default_store("fig2"), progress=False, required_keys=("test_mse",))
    assert run.calls == [0] and (missing / "fig2").is_dir()


def test_explicit_results_dir_parameter_must_exist_too(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.RESULTS_CREATE_ENV, raising=False)
    with pytest.raises(paths.ResultsDirError, match="does not exist"):
        sweeps.run_sweep(Counting(), [Toy(0)], resolve_store(tmp_path / "nope", "fig2"), progress=False,
                         required_keys=("test_mse",))


def test_default_results_folder_is_created_when_missing(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    sweeps.run_sweep(Counting(), [Toy(0)], default_store("fig2"), progress=False, required_keys=("test_mse",))
    assert (tmp_path / "results" / "fig2").is_dir()


def test_unwritable_store_fails_before_any_run(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # (the tests may run as root, for whom file modes do not forbid writing)
    monkeypatch.setattr(paths.tempfile, "mkstemp", refuse)
    run = Counting()
    with pytest.raises(paths.ResultsDirError, match="not writable"):
        sweeps.run_sweep(run, [Toy(0)], ResultStore(tmp_path), progress=False, required_keys=("test_mse",))
    assert run.calls == []


def test_store_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(paths.ResultsDirError, match="not a folder"):
        ResultStore(tmp_path / "file").check()


# --- claims ----------------------------------------------------------------------------

def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # that process has exited and been reaped
    store = ResultStore(tmp_path)
    lock = tmp_path / f"{config_key(Toy(0))}.lock"
    lock.write_text(f"{__import__('socket').gethostname()} {pid}\n")
    run = Counting()
    sweeps.run_sweep(run, [Toy(0)], store, progress=False, poll_seconds=0.01, required_keys=("test_mse",))
    assert run.calls == [0] and not lock.exists()


HOLDER = textwrap.dedent('''\
    # Holds an OS lock on a file, as a sweep holds a run's lock, until killed or told to stop.
    import fcntl, os, sys, time
    from pathlib import Path
    lock, stop = Path(sys.argv[1]), Path(sys.argv[2])
    handle = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(handle, fcntl.LOCK_EX)
    os.write(handle, b"otherhost 4242\\n")
    print("locked", flush=True)
    while not stop.exists():
        time.sleep(0.02)
''')


@pytest.fixture
def hold_lock(tmp_path):
    """Starts a process that holds the OS lock of ``path``; returns (process, stop file)."""
    started = []

    def start(path):
        script, stop = tmp_path / "holder.py", tmp_path / f"stop-{len(started)}"
        script.write_text(HOLDER)
        process = subprocess.Popen([sys.executable, str(script), str(path), str(stop)], stdout=subprocess.PIPE,
                                   text=True)
        assert process.stdout.readline() == "locked\n"
        started.append(process)
        return process, stop

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_lock_held_by_another_process_is_respected(tmp_path, hold_lock):
    store = ResultStore(tmp_path)
    key = config_key(Toy(0))
    hold_lock(tmp_path / f"{key}.lock")
    assert not store.claim(key)
    assert store.lock_owner(key) == "otherhost 4242"
    assert store.claim(config_key(Toy(1)))
    store.release(config_key(Toy(1)))


def test_lock_file_naming_a_live_unrelated_process_is_free(tmp_path):
    # Issue 28: the PID written in a leftover lock file belongs to a live process that has
    # nothing to do with the sweep (here our parent). No OS lock is held: the run goes ahead.
    store = ResultStore(tmp_path)
    lock = tmp_path / f"{config_key(Toy(0))}.lock"
    lock.write_text(f"{__import__('socket').gethostname()} {os.getppid()}\n")
    run = Counting()
    frame = sweeps.run_sweep(run, [Toy(0)], store, progress=False, poll_seconds=0.01, required_keys=("test_mse",))
    assert run.calls == [0] and list(frame["test_mse"]) == [0.5] and not lock.exists()


def test_lock_of_a_process_killed_while_holding_it_is_free_at_once(tmp_path, hold_lock):
    store = ResultStore(tmp_path)
    key = config_key(Toy(0))
    holder, _ = hold_lock(tmp_path / f"{key}.lock")
    assert not store.claim(key)
    holder.kill()  # SIGKILL: no cleanup; the kernel drops the lock with the process
    holder.wait()
    assert (tmp_path / f"{key}.lock").exists() and store.claim(key)
    store.release(key)
    assert not (tmp_path / f"{key}.lock").exists()


def test_a_sweep_waits_for_a_held_run_reports_a_long_lock_and_takes_the_run_when_freed(tmp_path, hold_lock,
                                                                                     monkeypatch, capsys):
    monkeypatch.setattr(store_module, "LONG_LOCK_SECONDS", 0.0)  # every held lock counts as long
    store = ResultStore(tmp_path)
    lock = tmp_path / f"{config_key(Toy(0))}.lock"
    _, stop = hold_lock(lock)
    polls, real_sleep = [], sweeps.time.sleep

    def sleep(seconds):  # the sweep's poll: the holder stops after the sweep has waited twice
        polls.append(seconds)
        if len(polls) == 2:
            stop.touch()
        real_sleep(0.05)

    monkeypatch.setattr(sweeps.time, "sleep", sleep)
    run = Counting()
    sweeps.run_sweep(run, [Toy(0)], store, progress=False, poll_seconds=0.01, required_keys=("test_mse",), desc="toy")
    out = capsys.readouterr().out
    assert run.calls == [0]  # taken over once the holder let go, not before
    assert "toy: waiting for 1 run(s) claimed by other processes (otherhost 4242)" in out
    warnings_ = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings_) == 1  # once, however long it waits
    assert "locked by process 4242 on host otherhost" in warnings_[0] and f"delete {lock}" in warnings_[0]


def test_a_lock_file_removed_between_opening_and_locking_it_is_not_trusted(tmp_path, monkeypatch):
    # A process that opened the lock file just before its holder released (removed) it must
    # not count a lock on that removed file: it locks the file now at the path instead.
    store = ResultStore(tmp_path)
    key = config_key(Toy(0))
    lock = tmp_path / f"{key}.lock"
    real_flock, calls = store_module.fcntl.flock, []

    def flock_after_a_release(handle, operation):
        calls.append(handle)
        if len(calls) == 1:
            lock.unlink()  # the holder releases: its file goes
        return real_flock(handle, operation)

    monkeypatch.setattr(store_module.fcntl, "flock", flock_after_a_release)
    assert store.claim(key)
    assert len(calls) == 2  # the first lock was on the removed file and was dropped
    held = os.fstat(store_module._HELD_LOCKS[str(lock)])
    assert (held.st_dev, held.st_ino) == (lock.stat().st_dev, lock.stat().st_ino)
    store.release(key)


def test_locks_are_released_when_a_run_raises(tmp_path):
    store = ResultStore(tmp_path)

    def crash(config):
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        sweeps.run_sweep(crash, [Toy(0)], store, progress=False, required_keys=("test_mse",))
    assert list(tmp_path.glob("*.lock")) == []


WORKER = textwrap.dedent('''\
    import dataclasses, os, sys, time
    from pathlib import Path
    from modcore import sweeps
    from modcore.store import ResultStore

    @dataclasses.dataclass(frozen=True)
    class Job:
        seed: int

    store, markers, go, batched = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "1"

    def compute(job):
        (markers / f"{job.seed}.{os.getpid()}").touch()  # one marker per computation
        time.sleep(0.05)
        return {"value": 2.0 * job.seed}

    def run(jobs):
        return [compute(job) for job in jobs] if batched else compute(jobs)

    (markers / f"ready.{os.getpid()}").touch()
    while not go.exists():  # start both processes at the same moment
        time.sleep(0.01)
    frame = sweeps.run_sweep(run, [Job(s) for s in range(20)], ResultStore(store), progress=False,
                             batch_by=(lambda job: job.seed % 2) if batched else None, max_batch=3, poll_seconds=0.05,
                             required_keys=("value",))
    assert list(frame["value"]) == [2.0 * s for s in range(20)], frame
''')


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "batched"])
def test_two_processes_on_one_store_compute_every_run_exactly_once(tmp_path, batched):
    store, markers, go = tmp_path / "store", tmp_path / "markers", tmp_path / "go"
    store.mkdir()
    markers.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT), "MODCORE_PROGRESS": "0"}
    workers = [subprocess.Popen([sys.executable, str(script), str(store), str(markers), str(go), str(int(batched))],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    while len(list(markers.glob("ready.*"))) < 2 and all(w.poll() is None for w in workers):
        __import__("time").sleep(0.05)
    go.touch()
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    computed = sorted(int(m.name.split(".")[0]) for m in markers.iterdir() if not m.name.startswith("ready"))
    assert computed == list(range(20))  # every run once: none twice, none missing
    runs = [int(out.split(" run,")[0].split()[-1]) for out, _ in outputs]
    assert sum(runs) == 20  # each process's summary line agrees with the markers
    assert list(store.glob("*.lock")) == []


def test_cli_refuses_a_missing_results_folder_before_any_notebook_runs(tmp_path, monkeypatch, capsys):
    import papermill

    from modcore import __main__ as cli

    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a notebook was executed"))
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path / "typo"))
    monkeypatch.delenv(paths.RESULTS_CREATE_ENV, raising=False)
    assert cli.main(["run", "all", "--profile", "ci", "--output-dir", str(tmp_path / "out"), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"results store {tmp_path / 'typo'} does not exist" in lines[0]
    assert not (tmp_path / "typo").exists() and not (tmp_path / "out").exists()

    monkeypatch.setattr(cli.runner, "execute", lambda name, *a, **k: tmp_path / f"{name}.ipynb")  # no kernels
    assert cli.main(["run", "nn_vs_theory", "--profile", "ci", "--create-results", "--quiet"]) == 0
    assert (tmp_path / "typo").is_dir() and os.environ[paths.RESULTS_CREATE_ENV] == "1"


def test_a_finished_sweep_is_read_from_a_store_that_is_not_writable(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    sweeps.run_sweep(Counting(), [Toy(0)], store, progress=False, required_keys=("test_mse",))
    monkeypatch.setattr(paths.tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "no")))
    assert list(sweeps.run_sweep(Counting(), [Toy(0)], store, progress=False,
                                 required_keys=("test_mse",))["test_mse"]) == [0.5]
    with pytest.raises(paths.ResultsDirError, match="not writable"):
        sweeps.run_sweep(Counting(), [Toy(0), Toy(1)], store, progress=False, required_keys=("test_mse",))
