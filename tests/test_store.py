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
    path = tmp_path / f"{sweeps.config_key(config)}.json"
    return path, json.loads(path.read_text())


def test_edited_result_is_detected_by_its_checksum_moved_aside_rerun_and_counted(tmp_path, capsys):
    store = sweeps.ResultStore(tmp_path)
    configs = [Toy(0), Toy(1)]
    sweeps.run_sweep(Counting(), configs, store, progress=False)
    path, record = _record(tmp_path, Toy(1))
    record["result"]["test_mse"] = 999.0  # a plausible-looking edit: only the checksum catches it
    path.write_text(json.dumps(record))
    capsys.readouterr()

    rerun = Counting()
    with pytest.warns(sweeps.CorruptRecordWarning, match="checksum"):
        frame = sweeps.run_sweep(rerun, configs, store, progress=False, desc="toy")
    assert rerun.calls == [1]
    assert list(frame["test_mse"]) == [0.5, 1.5]
    assert (tmp_path / f"{path.name}.corrupt").exists()
    out = capsys.readouterr().out
    assert "corrupt (its result does not match its checksum" in out  # on stdout, which the book keeps
    assert out.splitlines()[-1] == f"toy: results store {tmp_path}: 1 read, 1 run, 1 corrupt, 0 diverged"


def test_record_missing_a_required_key_is_corrupt_and_names_the_record_and_key(tmp_path, capsys):
    store = sweeps.ResultStore(tmp_path)
    store.put(Toy(0), {"curve": [1.0]})  # e.g. written by an older version that had no test_mse
    rerun = Counting()
    with pytest.warns(sweeps.CorruptRecordWarning, match="lacks test_mse"):
        frame = sweeps.run_sweep(rerun, [Toy(0)], store, required_keys=["test_mse"], progress=False)
    assert rerun.calls == [0] and list(frame["test_mse"]) == [0.5]
    assert sweeps.config_key(Toy(0)) in capsys.readouterr().out


def test_validator_runs_on_read_and_a_refused_record_is_rerun(tmp_path):
    store = sweeps.ResultStore(tmp_path)
    sweeps.run_sweep(Counting(), [Toy(0), Toy(1)], store, progress=False)

    def below_one(result):
        if result["test_mse"] >= 1:
            raise ValueError(f"test_mse={result['test_mse']} cannot exceed the target variance")

    rerun = Counting(losses={1: 0.25})
    with pytest.warns(sweeps.CorruptRecordWarning, match="cannot exceed"):
        frame = sweeps.run_sweep(rerun, [Toy(0), Toy(1)], store, validate=below_one, progress=False)
    assert rerun.calls == [1] and list(frame["test_mse"]) == [0.5, 0.25]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_result_is_stored_as_diverged_with_null_and_not_rerun(tmp_path, capsys, bad):
    store = sweeps.ResultStore(tmp_path)
    first = Counting(losses={1: bad})
    frame = sweeps.run_sweep(first, [Toy(0), Toy(1)], store, progress=False, desc="toy")
    assert list(frame["diverged"]) == [False, True]
    assert frame["test_mse"][0] == 0.5 and math.isnan(frame["test_mse"][1])
    _, record = _record(tmp_path, Toy(1))
    assert record["result"] == {"test_mse": None, "curve": [1.0, 0.5], "diverged": True}
    assert capsys.readouterr().out.endswith("0 read, 2 run, 0 corrupt, 1 diverged\n")

    again = Counting()
    frame = sweeps.run_sweep(again, [Toy(0), Toy(1)], store, progress=False, desc="toy")
    assert again.calls == []  # the same config diverges again: read, not redone
    assert list(frame["diverged"]) == [False, True]
    assert capsys.readouterr().out.endswith("2 read, 0 run, 0 corrupt, 1 diverged\n")


def test_non_finite_value_in_a_list_field_counts_too(tmp_path):
    store = sweeps.ResultStore(tmp_path)
    frame = sweeps.run_sweep(lambda c: {"test_mse": 0.1, "curve": [1.0, math.inf]}, [Toy(0)], store, progress=False)
    assert list(frame["diverged"]) == [True]


def test_with_required_keys_only_those_decide_divergence(tmp_path):
    store = sweeps.ResultStore(tmp_path)

    def run(config):  # held-out accuracy is undefined for this task: NaN, not divergence
        return {"test_mse": 0.1, "heldout_accuracy": math.nan}

    frame = sweeps.run_sweep(run, [Toy(0)], store, required_keys=["test_mse"], progress=False)
    assert list(frame["diverged"]) == [False] and math.isnan(frame["heldout_accuracy"][0])
    assert sweeps.run_sweep(run, [Toy(0)], store, required_keys=["test_mse"], progress=False)["diverged"].tolist() == [False]


def test_a_run_that_says_it_diverged_is_kept_as_diverged(tmp_path):
    store = sweeps.ResultStore(tmp_path)
    frame = sweeps.run_sweep(lambda c: {"test_mse": 1e6, "diverged": True}, [Toy(0)], store, progress=False)
    assert list(frame["diverged"]) == [True] and list(frame["test_mse"]) == [1e6]


def test_a_healthy_looking_record_with_non_finite_values_is_corrupt(tmp_path):
    # written by a version that stored NaN losses as finished: not trusted, rerun
    store = sweeps.ResultStore(tmp_path)
    store.put(Toy(0), {"test_mse": math.nan}, sweeps.ResultCheck(required_keys=()))
    rerun = Counting()
    with pytest.warns(sweeps.CorruptRecordWarning, match="not marked diverged"):
        sweeps.run_sweep(rerun, [Toy(0)], store, progress=False)
    assert rerun.calls == [0]


def test_each_finished_record_is_read_once_per_sweep(tmp_path, monkeypatch):
    store = sweeps.ResultStore(tmp_path)
    configs = [Toy(seed) for seed in range(4)]
    sweeps.run_sweep(Counting(), configs[:2], store, progress=False)
    reads = []
    original = sweeps.ResultStore._read
    monkeypatch.setattr(sweeps.ResultStore, "_read", lambda self, path, *a: reads.append(path.stem) or original(self, path, *a))
    sweeps.run_sweep(Counting(), configs, store, progress=False)
    assert sorted(reads) == sorted(sweeps.config_key(c) for c in configs[:2])


# --- the store's folder ------------------------------------------------------------------

def test_missing_explicit_results_folder_is_an_error_unless_creation_is_asked(tmp_path, monkeypatch):
    missing = tmp_path / "typo"
    monkeypatch.setenv(paths.RESULTS_ENV, str(missing))
    monkeypatch.delenv(paths.RESULTS_CREATE_ENV, raising=False)
    run = Counting()
    with pytest.raises(paths.ResultsDirError, match=f"{missing} does not exist"):
        sweeps.run_sweep(run, [Toy(0)], sweeps.default_store("fig2"), progress=False)
    assert run.calls == [] and not missing.exists()

    monkeypatch.setenv(paths.RESULTS_CREATE_ENV, "1")
    sweeps.run_sweep(run, [Toy(0)], sweeps.default_store("fig2"), progress=False)
    assert run.calls == [0] and (missing / "fig2").is_dir()


def test_explicit_results_dir_parameter_must_exist_too(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.RESULTS_CREATE_ENV, raising=False)
    with pytest.raises(paths.ResultsDirError, match="does not exist"):
        sweeps.run_sweep(Counting(), [Toy(0)], sweeps.resolve_store(tmp_path / "nope", "fig2"), progress=False)


def test_default_results_folder_is_created_when_missing(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    sweeps.run_sweep(Counting(), [Toy(0)], sweeps.default_store("fig2"), progress=False)
    assert (tmp_path / "results" / "fig2").is_dir()


def test_unwritable_store_fails_before_any_run(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # (the tests may run as root, for whom file modes do not forbid writing)
    monkeypatch.setattr(paths.tempfile, "mkstemp", refuse)
    run = Counting()
    with pytest.raises(paths.ResultsDirError, match="not writable"):
        sweeps.run_sweep(run, [Toy(0)], sweeps.ResultStore(tmp_path), progress=False)
    assert run.calls == []


def test_store_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(paths.ResultsDirError, match="not a folder"):
        sweeps.ResultStore(tmp_path / "file").check()


# --- claims ----------------------------------------------------------------------------

def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # that process has exited and been reaped
    store = sweeps.ResultStore(tmp_path)
    lock = tmp_path / f"{sweeps.config_key(Toy(0))}.lock"
    lock.write_text(f"{__import__('socket').gethostname()} {pid}\n")
    run = Counting()
    sweeps.run_sweep(run, [Toy(0)], store, progress=False, poll_seconds=0.01)
    assert run.calls == [0] and not lock.exists()


def test_lock_of_a_live_process_is_respected(tmp_path):
    store = sweeps.ResultStore(tmp_path)
    key = sweeps.config_key(Toy(0))
    (tmp_path / f"{key}.lock").write_text(f"{__import__('socket').gethostname()} {os.getppid()}\n")
    assert not store.claim(key)
    assert store.claim(sweeps.config_key(Toy(1)))


def test_locks_are_released_when_a_run_raises(tmp_path):
    store = sweeps.ResultStore(tmp_path)

    def crash(config):
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        sweeps.run_sweep(crash, [Toy(0)], store, progress=False)
    assert list(tmp_path.glob("*.lock")) == []


WORKER = textwrap.dedent('''\
    import dataclasses, os, sys, time
    from pathlib import Path
    from modcore import sweeps

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
    frame = sweeps.run_sweep(run, [Job(s) for s in range(20)], sweeps.ResultStore(store), progress=False,
                             batch_by=(lambda job: job.seed % 2) if batched else None, max_batch=3, poll_seconds=0.05)
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
    store = sweeps.ResultStore(tmp_path)
    sweeps.run_sweep(Counting(), [Toy(0)], store, progress=False)
    monkeypatch.setattr(paths.tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "no")))
    assert list(sweeps.run_sweep(Counting(), [Toy(0)], store, progress=False)["test_mse"]) == [0.5]
    with pytest.raises(paths.ResultsDirError, match="not writable"):
        sweeps.run_sweep(Counting(), [Toy(0), Toy(1)], store, progress=False)


def test_taking_over_a_stale_lock_never_removes_a_lock_retaken_meanwhile(tmp_path):
    # Another process found the same stale lock first and replaced it with its own: the
    # late process's take-over must leave the new lock in place.
    lock = tmp_path / "k.lock"
    fresh = f"{__import__('socket').gethostname()} {os.getppid()}\n"
    lock.write_text(fresh)
    sweeps.ResultStore._take_over(lock, stale_text="host 12345\n")
    assert lock.read_text() == fresh
    sweeps.ResultStore._take_over(lock, stale_text=fresh)  # the lock it judged stale: removed
    assert not lock.exists() and list(tmp_path.iterdir()) == []
