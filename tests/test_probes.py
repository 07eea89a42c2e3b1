"""The probes of issue 28, kept: a store shared by a team, a lock that cannot hang a sweep, a
scorecard that reads only finished notebooks, store paths resolved once, sweeps that declare
what their records hold, and a command line whose every refusal is one `error:` line."""

import ast
import dataclasses
import datetime as dt
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import papermill
import pytest

from modcore import __main__ as cli
from modcore import paths, runner, scorecard, sweeps
from modcore import store as store_module  # its os, patched below; `store` names a ResultStore
from modcore.parameters import POSITIVE, SEED, ChapterParameters, one_of, param
from modcore.store import (CorruptRecordWarning, RecordAccessError, ResultStore, config_key, default_store,
                           result_checksum)

AS_ROOT = os.geteuid() == 0  # permission bits do not stop root: those probes are simulated instead


@dataclasses.dataclass(frozen=True)
class Toy:
    seed: int


class Counting:
    def __init__(self):
        self.calls = []

    def __call__(self, config):
        self.calls.append(config.seed)
        return {"test_mse": 0.5 + config.seed}


def _sweep(run, configs, store, **options):
    return sweeps.run_sweep(run, configs, store, progress=False, required_keys=("test_mse",), **options)


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# --- 1. a store shared by a team ---------------------------------------------------------------

@pytest.fixture
def umask():
    """Sets the process umask for one test, as a user's shell would."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask, file_mode, folder_mode", [(0o002, 0o664, 0o775), (0o022, 0o644, 0o755)])
def test_records_locks_and_folders_get_the_permissions_the_umask_allows(tmp_path, umask, mask, file_mode,
                                                                        folder_mode, monkeypatch):
    umask(mask)
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path))
    store = default_store("fig2")
    modes = {}

    def run(config):  # the run's lock exists while it computes
        modes["lock"] = stat.S_IMODE((store.root / f"{config_key(config)}.lock").stat().st_mode)
        return {"test_mse": 1.0}

    sweeps.run_sweep(run, [Toy(0)], store, progress=False, required_keys=("test_mse",))
    record = store.root / f"{config_key(Toy(0))}.json"
    assert stat.S_IMODE(record.stat().st_mode) == file_mode  # mkstemp alone would give 0600
    assert modes["lock"] == file_mode
    assert stat.S_IMODE(store.root.stat().st_mode) == folder_mode


def test_a_record_unreadable_for_permission_is_an_error_naming_it_not_corrupt_not_moved_not_rerun(tmp_path,
                                                                                              monkeypatch, capsys):
    # Another user's record, mode 0600: simulated, since the tests may run as root.
    store = ResultStore(tmp_path)
    _sweep(Counting(), [Toy(0), Toy(1)], store)
    theirs = tmp_path / f"{config_key(Toy(1))}.json"
    read_text = Path.read_text

    def refuse_theirs(path, *args, **kwargs):
        if path == theirs:
            raise PermissionError(13, "Permission denied", str(path))
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse_theirs)
    capsys.readouterr()
    run = Counting()
    with pytest.raises(RecordAccessError) as raised:
        _sweep(run, [Toy(0), Toy(1)], store)
    message = str(raised.value)
    assert str(theirs) in message and "permission denied" in message and "\n" not in message
    assert "corrupt" not in message and "corrupt" not in capsys.readouterr().out  # no report, no summary
    assert run.calls == [] and theirs.exists() and not list(tmp_path.glob("*.corrupt"))


@pytest.mark.skipif(AS_ROOT, reason="as root, permission bits do not stop reading; the test above simulates it")
def test_a_record_unreadable_for_permission_on_disk_is_an_error_naming_it(tmp_path):
    store = ResultStore(tmp_path)
    _sweep(Counting(), [Toy(0)], store)
    theirs = tmp_path / f"{config_key(Toy(0))}.json"
    theirs.chmod(0)
    try:
        run = Counting()
        with pytest.raises(RecordAccessError, match=str(theirs)):
            _sweep(run, [Toy(0)], store)
        assert run.calls == [] and theirs.exists() and not list(tmp_path.glob("*.corrupt"))
    finally:
        theirs.chmod(0o644)


def test_a_lock_file_left_by_another_user_that_we_may_not_write_is_replaced_by_ours(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    key = config_key(Toy(0))
    lock = tmp_path / f"{key}.lock"
    lock.write_text("theirhost 99\n")  # left by a killed process of another user
    real_open, refused = os.open, []

    def open_as_another_user(path, flags, *args):
        if Path(path) == lock and flags & os.O_RDWR and not refused:
            refused.append(path)
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(store_module.os, "open", open_as_another_user)
    assert store.claim(key)
    assert refused and lock.read_text().split()[1] == str(os.getpid())  # the lock file is ours now
    store.release(key)
    assert not lock.exists()


# --- 2. a lock that cannot hang a sweep ----------------------------------------------------------

SWEEP_SCRIPT = textwrap.dedent('''\
    import dataclasses, sys
    from modcore import sweeps
    from modcore.store import ResultStore

    @dataclasses.dataclass(frozen=True)
    class Toy:
        seed: int

    frame = sweeps.run_sweep(lambda config: {"test_mse": 1.0}, [Toy(0), Toy(1)], ResultStore(sys.argv[1]),
                             progress=False, required_keys=("test_mse",), poll_seconds=0.05)
    print("finished", list(frame["test_mse"]))
''')


def test_a_stale_lock_naming_a_live_unrelated_process_does_not_hang_the_sweep(tmp_path):
    # The probe of issue 28: the PID in a leftover lock file now belongs to a live process
    # that has nothing to do with the store. The sweep must run that config, not wait.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        store = tmp_path / "store"
        store.mkdir()

        @dataclasses.dataclass(frozen=True)
        class Toy:  # the same type name and fields as the script's: the same key
            seed: int

        (store / f"{config_key(Toy(0))}.lock").write_text(f"{socket.gethostname()} {stranger.pid}\n")
        script = tmp_path / "sweep.py"
        script.write_text(SWEEP_SCRIPT)
        env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT), "MODCORE_PROGRESS": "0"}
        done = subprocess.run([sys.executable, str(script), str(store)], env=env, capture_output=True, text=True,
                              timeout=120)  # a hang fails here instead of stalling the suite
        assert done.returncode == 0, done.stderr
        assert "finished [1.0, 1.0]" in done.stdout and "0 read, 2 run" in done.stdout
        assert stranger.poll() is None  # the stranger was left alone
    finally:
        stranger.kill()
        stranger.wait()


# --- 3. the scorecard after a killed run ---------------------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _claim_output(claim_id: str, verdict: str) -> dict:
    """A cell output as `glue("claim:...", scorecard.record(...), display=False)` writes it."""
    record = {"schema": scorecard.SCHEMA, "claim_id": claim_id, "ours": f"ours for {claim_id}", "seeds": [0],
              "verdict": verdict, "rule": "a rule", "paper": None, "commit": COMMIT}
    return nbformat.v4.new_output("display_data", data={scorecard.RECORD_MIME: json.dumps(record)},
                                  metadata={"scrapbook": {"name": scorecard.GLUE_PREFIX + claim_id}})


def _write_notebook(path: Path, claims: dict[str, str], *, age_minutes: float) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = [_claim_output(claim_id, verdict) for claim_id, verdict in claims.items()]
    notebook.cells = [cell]
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=age_minutes)
    notebook.metadata["papermill"] = {"start_time": started.replace(tzinfo=None).isoformat(), "exception": None}
    notebook.metadata["modcore"] = {"profile": "ci", "overrides": {}}
    nbformat.write(notebook, path)
    os.utime(path, (started.timestamp(), started.timestamp()))


FIG2 = ("fig2_flat_in_k", "fig2_sublinear_in_m", "fig2_double_descent_in_p", "fig2_double_descent_in_n")


@pytest.fixture
def sources(tmp_path):
    folder = tmp_path / "sources"
    folder.mkdir()
    return folder  # no source files: no "changed after the run"


def _rows(executed, sources):
    return {row.claim.claim_id: row for row in scorecard.collect(executed, commit=COMMIT, source_dir=sources)}


def test_scorecard_on_a_fresh_clone_after_a_killed_run_shows_no_verdict_from_it(tmp_path, sources, capsys):
    # kill -9 or SIGTERM leaves the hidden running notebook; Ctrl-C leaves NAME.failed.ipynb
    executed = tmp_path / "executed"
    executed.mkdir()
    running = executed / ".nn_vs_theory.running-4242.ipynb"
    _write_notebook(running, dict.fromkeys(FIG2, "agree"), age_minutes=1)
    failed = executed / "sample_complexity.failed.ipynb"
    _write_notebook(failed, {"fig4a_kernel_vs_random": "agree"}, age_minutes=1)
    rows = _rows(executed, sources)
    for claim_id in (*FIG2, "fig4a_kernel_vs_random"):
        assert rows[claim_id].status == scorecard.NOT_RUN and rows[claim_id].chapter is None, claim_id
    notes = _error_lines(capsys.readouterr().out)
    assert len(notes) == 2
    assert any(str(running) in note and "no finished nn_vs_theory.ipynb" in note for note in notes)
    assert any(str(failed) in note and "failed or interrupted" in note for note in notes)
    assert "{doc}`nn_vs_theory" not in scorecard.to_markdown(list(rows.values()))  # no link to a partial page


def test_scorecard_reads_the_finished_notebook_and_names_only_newer_leftovers(tmp_path, sources, capsys):
    executed = tmp_path / "executed"
    executed.mkdir()
    _write_notebook(executed / "nn_vs_theory.ipynb", dict.fromkeys(FIG2, "disagree"), age_minutes=60)
    newer = executed / "nn_vs_theory.failed.ipynb"
    _write_notebook(newer, dict.fromkeys(FIG2, "agree"), age_minutes=5)
    _write_notebook(executed / "theorem1.ipynb", {"theorem1": "agree"}, age_minutes=5)
    older = executed / ".theorem1.running-7.ipynb"
    _write_notebook(older, {"theorem1": "disagree"}, age_minutes=60)
    rows = _rows(executed, sources)
    assert [rows[claim_id].status for claim_id in FIG2] == ["disagree"] * 4  # the finished run's verdicts
    assert rows["theorem1"].status == "agree" and rows["theorem1"].chapter == "theorem1"
    notes = _error_lines(capsys.readouterr().out)
    assert len(notes) == 1 and str(newer) in notes[0] and "nn_vs_theory.ipynb is read instead" in notes[0]


@pytest.mark.parametrize("damage", ["truncated", "not a notebook", "bad record"])
def test_a_damaged_executed_notebook_gives_one_line_naming_it_and_its_claims_not_run(tmp_path, sources, capsys,
                                                                                    damage):
    executed = tmp_path / "executed"
    executed.mkdir()
    _write_notebook(executed / "theorem1.ipynb", {"theorem1": "agree"}, age_minutes=5)
    damaged = executed / "nn_vs_theory.ipynb"
    _write_notebook(damaged, dict.fromkeys(FIG2, "agree"), age_minutes=5)
    text = damaged.read_text()
    damaged.write_text({"truncated": text[: len(text) // 2], "not a notebook": "[1, 2]",
                        "bad record": text.replace('\\"verdict\\"', '\\"verdict')}[damage])
    rows = _rows(executed, sources)  # no traceback
    assert rows["theorem1"].status == "agree"
    for claim_id in FIG2:
        assert rows[claim_id].status == scorecard.NOT_RUN and "is damaged" in rows[claim_id].reason
    lines = _error_lines(capsys.readouterr().out)
    assert len(lines) == 1 and str(damaged) in lines[0] and lines[0].startswith("warning:")


def test_scorecard_page_runs_after_a_killed_run_without_verdicts_from_it(tmp_path, capsys):
    # End to end, as the issue found it: `run scorecard` on a folder holding only leftovers.
    executed = tmp_path / "executed"
    executed.mkdir()
    _write_notebook(executed / ".nn_vs_theory.running-4242.ipynb", dict.fromkeys(FIG2, "agree"), age_minutes=1)
    truncated = executed / "theorem1.ipynb"
    _write_notebook(truncated, {"theorem1": "agree"}, age_minutes=1)
    truncated.write_text(truncated.read_text()[:100])
    assert cli.main(["run", "scorecard", "--profile", "ci", "--output-dir", str(executed), "--quiet"]) == 0
    page = nbformat.read(executed / "scorecard.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in page.cells if c.cell_type == "code" for o in c.outputs)
    assert ".nn_vs_theory.running-4242.ipynb" in printed and "theorem1.ipynb cannot be read" in printed
    glued = scorecard.read_glued(json.loads((executed / "scorecard.ipynb").read_text()))
    assert glued["scorecard_agree"] == "0"


# --- 4. store paths resolved once ----------------------------------------------------------------

@pytest.fixture
def no_kernel(monkeypatch):
    """Records what papermill would have been asked to run, and runs nothing."""
    calls = []

    def record(notebook, output, **kwargs):
        calls.append(kwargs)
        raise KeyboardInterrupt  # stops before anything is written; the CLI exits 130

    monkeypatch.setattr(papermill, "execute_notebook", record)
    return calls


@pytest.mark.parametrize("how", ["environment", "parameter"])
def test_an_empty_store_path_is_refused_in_one_line_naming_the_notebook(how, tmp_path, monkeypatch, capsys,
                                                                        no_kernel):
    monkeypatch.setenv(paths.RESULTS_CREATE_ENV, "0")  # (--create-results sets it; restored after the test)
    before = sorted(paths.NOTEBOOKS_DIR.rglob("*"))
    argv = ["run", "nn_vs_theory", "--profile", "ci", "--output-dir", str(tmp_path / "out"), "--create-results"]
    if how == "environment":
        monkeypatch.setenv(paths.RESULTS_ENV, "")
    else:
        argv += ["-p", "results_dir", ""]
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: notebook 'nn_vs_theory'")
    assert ("MODCORE_RESULTS is empty" if how == "environment" else "results_dir = '' names no path") in lines[0]
    assert no_kernel == [] and list(tmp_path.iterdir()) == []  # nothing created, here or in notebooks/
    assert sorted(paths.NOTEBOOKS_DIR.rglob("*")) == before


@pytest.mark.parametrize("how", ["environment", "parameter"])
def test_a_relative_store_path_is_resolved_once_where_it_was_typed(how, tmp_path, monkeypatch, capsys, no_kernel):
    monkeypatch.setenv(paths.RESULTS_CREATE_ENV, "0")  # (--create-results sets it; restored after the test)
    monkeypatch.chdir(tmp_path)
    argv = ["run", "nn_vs_theory", "--profile", "ci", "--output-dir", "out", "--create-results", "--quiet"]
    if how == "environment":
        monkeypatch.setenv(paths.RESULTS_ENV, "team/store")
    else:
        monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
        argv += ["-p", "results_dir=team/store"]
    assert cli.main(argv) == 130  # (the stand-in for papermill stops the run)
    (call,) = no_kernel
    assert (tmp_path / "team" / "store").is_dir()  # checked and created where the command was typed ...
    if how == "environment":  # ... and handed to the kernel (which runs in notebooks/) as that very folder
        assert os.environ[paths.RESULTS_ENV] == str(tmp_path / "team" / "store")
    else:
        assert call["parameters"]["results_dir"] == str(tmp_path / "team" / "store")
    assert call["cwd"] == str(paths.NOTEBOOKS_DIR)


# --- 5. every sweep declares what its records hold ---------------------------------------------

def sweep_calls(source: str, filename: str) -> dict[str, bool]:
    """``{file:line: whether it names required_keys}`` for each call of ``run_sweep`` in ``source``."""
    calls = {}
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if function == "run_sweep":
                calls[f"{filename}:{node.lineno}"] = any(k.arg == "required_keys" for k in node.keywords)
    return calls


def test_the_walk_finds_a_sweep_that_declares_no_required_keys():
    source = "from modcore import sweeps\nsweeps.run_sweep(run, configs, store, desc='x')\nrun_sweep(f, c, s)\n"
    assert sweep_calls(source, "chapter.py") == {"chapter.py:2": False, "chapter.py:3": False}
    assert sweep_calls("sweeps.run_sweep(f, c, s, required_keys=KEYS)", "ok.py") == {"ok.py:1": True}


def test_every_sweep_in_the_package_declares_its_required_keys():
    calls = {}
    for path in sorted(paths.PACKAGE_DIR.rglob("*.py")):
        calls |= sweep_calls(path.read_text(), str(path.relative_to(paths.REPO_ROOT)))
    # the chapters' sweeps live in their chapter modules and the run configurations they share
    chapters = [where for where in calls
                if where.startswith(("modcore/experiments/", "modcore/chapters/", "modcore/runs/"))]
    assert len(chapters) >= 6, f"the walk found too few sweeps in the chapter modules: {chapters}"
    missing = [where for where, declared in calls.items() if not declared]
    assert missing == [], f"sweeps that declare no required_keys: {missing}"


def test_nn_vs_theory_record_edited_to_drop_test_mse_is_moved_aside_and_rerun(tmp_path, capsys):
    # The probe of issue 28: test_mse deleted and the checksum recomputed. Before, a glued
    # Fig. 2 ratio went from 2.21 to 1.00 without a word.
    from modcore.runs import sine_networks

    run = sine_networks.NetworkRun(input_dim=2, n_modules=1, n_params=40, n_train=20, seed=0, n_steps=5, n_test=20)
    store = ResultStore(tmp_path)
    first = sine_networks.sweep_networks({"k": [run]}, store)["k"]
    path = tmp_path / f"{config_key(run)}.json"
    record = json.loads(path.read_text())
    del record["result"]["test_mse"]
    record["checksum"] = result_checksum(record["result"])
    path.write_text(json.dumps(record))
    capsys.readouterr()
    with pytest.warns(CorruptRecordWarning, match="lacks test_mse"):
        again = sine_networks.sweep_networks({"k": [run]}, store)["k"]
    assert list(again["test_mse"]) == list(first["test_mse"])  # rerun, same seed, same number
    assert (tmp_path / f"{path.name}.corrupt").exists()
    assert capsys.readouterr().out.splitlines()[-1].endswith("0 read, 1 run, 1 corrupt, 0 diverged")


# --- 6. the command line: one line, exit 2, naming the notebook ----------------------------------

TOY = '''\
# %% tags=["parameters"]
seed = 0
lr = 0.5
n_max = 10
mode = "ok"
marker = ""

# %%
print("lr", lr)

# %%
import os, pathlib, signal, time
if marker:
    pathlib.Path(marker).touch()
if mode == "die":
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "sleep":
    time.sleep(120)
print("done")
'''


@dataclasses.dataclass(frozen=True)
class ToyNotebookParameters(ChapterParameters):
    """The toy notebook's chapter Parameters (the Ctrl-C driver below imports it too)."""

    seed: int = param(0, SEED)
    lr: float = param(0.5)
    n_max: int = param(10, POSITIVE)
    mode: str = param("ok", one_of("ok", "die", "sleep"))
    marker: str = param("")


@pytest.fixture
def toy(toy_notebook):
    return toy_notebook(TOY, "ci: {}\ndefault: {}\npaper: {}\n", ToyNotebookParameters)


@pytest.mark.parametrize("words", [["-p", "lr=-1e-3"], ["-p", "lr", "-1e-3"], ["-plr=-1e-3"],
                                   ["--parameter=lr=-1e-3"], ["--parameter", "lr", "-0.001"]])
def test_both_forms_of_p_take_negative_numbers(words):
    args = cli.parse_args(["run", "toy", *words, "--quiet"])
    assert [(name, runner.parse_cli_value(text)) for name, text in args.parameter] == [("lr", -1e-3)]
    assert args.quiet


def test_a_negative_value_reaches_the_rule_and_is_refused_in_one_line(monkeypatch, capsys, no_kernel):
    for words in (["-p", "lr", "-1e-3"], ["-p", "lr=-1e-3"]):
        assert cli.main(["run", "nn_vs_theory", "--profile", "ci", *words]) == 2
        lines = _error_lines(capsys.readouterr().err)
        # the rule lives in modcore/chapters/nn_vs_theory.py (its Parameters), no longer in the profile
        assert lines == ["error: notebook 'nn_vs_theory': parameter lr = -0.001 breaks the rule '> 0'"]
    assert no_kernel == []


@pytest.mark.parametrize("argv, fragment", [
    (["run", "toy", "-p", "lr", "1" * 401], "notebook 'toy': parameter lr = <an integer of 401 digits> is too large"),
    (["run", "toy", "-p", "n_max", "3.5"], "notebook 'toy': parameter n_max must be int"),
    (["run", "toy", "-p", "n_max", "[1]"], "notebook 'toy': parameter n_max must be int"),
    (["run", "toy", "-p", "n_max", "0"], "notebook 'toy': parameter n_max = 0 breaks the rule '> 0'"),
    (["run", "toy", "--profile", "fast"], "notebook 'toy': unknown profile 'fast'"),
    (["run", "toy", "-p", "nmax", "3"], "notebook 'toy': unknown parameter(s) 'nmax'"),
    (["run", "toy", "-p", "n_max"], "-p n_max has no value"),
    (["run", "toy", "-p", "n_max", "--quiet"], "-p n_max has no value"),
    (["run", "toy", "-p"], "-p needs NAME=VALUE"),
    (["run"], "the following arguments are required: NAME"),
    (["run", "toy", "--workers", "two"], "argument --workers: invalid int value: 'two'"),
    (["run", "toy", "--bogus"], "unrecognized arguments: --bogus"),
    (["list", "-p", "a=1"], "only 'run' takes it"),
])
def test_every_bad_command_line_is_one_error_line_with_exit_2(toy, argv, fragment, capsys, no_kernel):
    assert cli.main(argv) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "Traceback" not in lines[0] and no_kernel == []


def test_a_key_given_twice_in_a_profile_file_is_refused_naming_file_line_and_key(toy, capsys, no_kernel):
    (toy / "profiles" / "toy.yml").write_text("ci:\n  n_max: 5\n  n_max: 50\ndefault: {}\npaper: {}\n")
    assert cli.main(["run", "toy", "--profile", "ci"]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "toy.yml line 3" in line and "duplicate key 'n_max' (first given on line 2)" in line


def test_an_output_dir_that_is_a_file_or_not_writable_is_one_error_line(toy, tmp_path, capsys, monkeypatch,
                                                                       no_kernel):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for target in (a_file, a_file / "below"):
        assert cli.main(["run", "toy", "--output-dir", str(target)]) == 2
        (line,) = _error_lines(capsys.readouterr().err)
        assert line.startswith(f"error: --output-dir {target}")
    monkeypatch.setattr(paths.tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "no")))
    assert cli.main(["run", "toy", "--output-dir", str(tmp_path / "out")]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: --output-dir {tmp_path / 'out'} is not writable") and no_kernel == []


def test_a_killed_kernel_names_the_cell_it_was_running(toy, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", "toy", "--output-dir", str(out), "--quiet"]) == 0
    good = (out / "toy.ipynb").read_bytes()
    capsys.readouterr()
    assert cli.main(["run", "toy", "--output-dir", str(out), "-p", "mode", "die", "--quiet"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    # cells: the parameters, the injected ones, the print, the one that kills its kernel
    assert errors == [f"error: toy failed in cell 4: DeadKernelError: the kernel died (killed, or out of memory?) "
                      f"(see {out / 'toy.failed.ipynb'}) (kernel log: {out / 'toy.failed.log'})"]
    assert (out / "toy.ipynb").read_bytes() == good


DRIVER = textwrap.dedent('''\
    # `python -m modcore` on the toy notebooks of the test, as a user runs it in a terminal
    import signal, sys
    from pathlib import Path
    from modcore import __main__ as cli, paths, runner
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (a background job starts with SIGINT ignored)
    paths.NOTEBOOKS_DIR = Path(sys.argv[1])
    paths.PROFILES_DIR = paths.NOTEBOOKS_DIR / "profiles"
    sys.path.insert(0, sys.argv[2])  # the tests folder, for the toy notebook's Parameters
    from test_probes import ToyNotebookParameters
    runner.parameters_class = lambda name: ToyNotebookParameters
    sys.exit(cli.main(sys.argv[3:]))
''')


@pytest.mark.slow
def test_ctrl_c_prints_one_line_exits_130_and_keeps_the_previous_notebook(toy, tmp_path):
    out, marker, driver = tmp_path / "out", tmp_path / "cell-started", tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT)}
    command = [sys.executable, str(driver), str(toy), str(Path(__file__).parent), "run", "toy", "--output-dir", str(out),
               "--quiet"]
    assert subprocess.run(command, env=env, capture_output=True, timeout=300).returncode == 0
    good = (out / "toy.ipynb").read_bytes()

    process = subprocess.Popen([*command, "-p", "mode", "sleep", "-p", "marker", str(marker)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: toy interrupted (Ctrl-C) in cell 4; the previous {out / 'toy.ipynb'} is kept, "
                      f"the partial run is {out / 'toy.failed.ipynb'}"]
    assert "Traceback" not in err
    assert (out / "toy.ipynb").read_bytes() == good
