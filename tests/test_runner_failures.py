"""A notebook that fails while running: one error line, the previous executed notebook kept,
the failed one beside it. A successful run ends with a generated provenance cell."""

import dataclasses
import shlex
import subprocess
import sys

import nbformat
import pytest

from modcore import __main__ as cli
from modcore import provenance, runner
from modcore.parameters import POSITIVE, SEED, ChapterParameters, at_least, param

NOTEBOOK = '''\
# %% [markdown]
# # A toy notebook that can fail

# %% tags=["parameters"]
seed = 0
n_seeds = 2
rate = 0.5
fail = False

# %%
print("rate", rate)

# %%
if fail:
    raise ValueError(f"rate {rate} was refused\\nsecond line of the message")
print("done")
'''


@dataclasses.dataclass(frozen=True)
class ToyParameters(ChapterParameters):
    seed: int = param(0, SEED)
    n_seeds: int = param(2, at_least(1))
    rate: float = param(0.5, POSITIVE)
    fail: bool = param(False)


@pytest.fixture
def toy(toy_notebook, tmp_path):
    toy_notebook(NOTEBOOK, "ci: {}\ndefault: {}\npaper: {}\n", ToyParameters)
    return tmp_path / "executed"


def _printed(path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


def test_failed_run_keeps_the_previous_notebook_and_names_cell_exception_and_kept_copy(toy, capsys):
    assert cli.main(["run", "toy", "--profile", "ci", "-p", "rate", "0.25", "--output-dir", str(toy), "--quiet"]) == 0
    good = (toy / "toy.ipynb").read_bytes()
    capsys.readouterr()

    assert cli.main(["run", "toy", "--profile", "ci", "-p", "rate", "0.75", "-p", "fail", "true",
                     "--output-dir", str(toy), "--quiet"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    failed = toy / "toy.failed.ipynb"
    # cell 4 in execution order (the parameters, the injected ones, the print, the failing cell),
    # the number shown beside it in the kept notebook
    assert lines == [f"error: toy failed in cell 4: ValueError: rate 0.75 was refused (see {failed})"]
    cell = [c for c in nbformat.read(failed, as_version=4).cells if c.get("execution_count") == 4][0]
    assert "raise ValueError" in cell.source and cell.outputs[-1].output_type == "error"
    assert (toy / "toy.ipynb").read_bytes() == good  # the book still reads the last good run
    assert "rate 0.75" in _printed(failed) and "done" not in _printed(failed)
    assert sorted(p.name for p in toy.iterdir()) == ["toy.failed.ipynb", "toy.ipynb"]  # no temporary left

    # the next good run replaces the notebook and removes the stale failure
    assert cli.main(["run", "toy", "--profile", "ci", "--output-dir", str(toy), "--quiet"]) == 0
    assert sorted(p.name for p in toy.iterdir()) == ["toy.ipynb"]
    assert _printed(toy / "toy.ipynb") == "rate 0.5\ndone\n"


def test_successful_run_ends_with_a_provenance_cell_that_reproduces_it(toy):
    overrides = {"rate": 0.25, "n_seeds": 3}
    output = runner.execute("toy", "ci", overrides, output_dir=toy)
    notebook = nbformat.read(output, as_version=4)
    last = notebook.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Provenance")
    record = notebook.metadata["modcore"]["provenance"]
    assert record["parameters"] == overrides
    assert record["seeds"] == {"seed": 0, "n_seeds": 3}
    assert record["modcore_version"] == __import__("modcore").__version__
    assert record["device"] and record["commit"] and record["wall_seconds"] >= 0
    for text in (record["command"], "rate = 0.25", "seed = 0", record["device"], record["commit"]):
        assert text in last.source

    # the command, parsed by the CLI, asks for the same notebook, profile and parameters
    words = shlex.split(record["command"])
    assert words[:3] == ["python", "-m", "modcore"]
    args = cli.parse_args(words[3:])
    assert (args.name, args.profile) == ("toy", "ci")
    assert {key: runner.parse_cli_value(value) for key, value in args.parameter} == overrides


@pytest.mark.slow
def test_provenance_cell_leaves_nbval_reexecution_passing(toy):
    output = runner.execute("toy", "ci", output_dir=toy)
    check = subprocess.run([sys.executable, "-m", "pytest", "--nbval", output.name, "-q", "-p", "no:cacheprovider",
                            "--nbval-kernel-name", "python3"], cwd=output.parent, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]


def test_commit_is_reported_without_git(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert provenance.git_commit().startswith("unknown")
