"""`python -m modcore list/run`: checked parameters, clear errors, papermill output."""

import dataclasses
import textwrap

import nbformat
import pytest

from modcore import __main__ as cli
from modcore import paths, runner
from modcore.parameters import (NONE_OR_NONEMPTY, NONEMPTY, POSITIVE, PROFILES, SEED, ChapterParameters, at_least,
                                each, param)

NOTEBOOK = textwrap.dedent('''\
    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---

    # %% [markdown]
    # # A toy notebook

    # %% tags=["parameters"]
    seed = 0
    n_max = 100          # an int parameter
    rate = 0.5           # a float parameter
    sizes = [1, 2]       # a list of ints
    results_dir = None   # None or a path

    # %%
    print("n_max", n_max, "rate", rate, "sizes", sizes)
    ''')


@dataclasses.dataclass(frozen=True)
class ToyParameters(ChapterParameters):
    seed: int = param(0, SEED)
    n_max: int = param(100, POSITIVE)
    rate: float = param(0.5, POSITIVE)
    sizes: list[int] = param([1, 2], NONEMPTY, each(at_least(1)))
    results_dir: str | None = param(None, NONE_OR_NONEMPTY)


@pytest.fixture
def toy_notebooks(toy_notebook, tmp_path):
    toy_notebook(NOTEBOOK, "ci:\n  n_max: 10\ndefault: {}\npaper:\n  n_max: 100000\n", ToyParameters)
    return tmp_path


def test_run_injects_profile_then_overrides_and_writes_the_executed_notebook(toy_notebooks, capsys):
    out = toy_notebooks / "out"
    assert cli.main(["run", "toy", "--profile", "ci", "-p", "rate", "2", "-p", "sizes", "[3, 4]",
                     "--output-dir", str(out), "--quiet"]) == 0
    notebook = nbformat.read(out / "toy.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert printed == "n_max 10 rate 2.0 sizes [3, 4]\n"
    assert notebook.metadata["modcore"]["profile"] == "ci"


@pytest.mark.parametrize("argv, message", [
    (["run", "nope"], "unknown notebook 'nope'"),
    (["run", "toy", "--profile", "fast"], "unknown profile 'fast'"),
    (["run", "toy", "-p", "nmax", "3"], "unknown parameter(s) 'nmax'"),
    (["run", "toy", "-p", "n_max", "3.5"], "parameter n_max must be int"),
    (["run", "toy", "-p", "n_max", "true"], "parameter n_max must be int"),
    (["run", "toy", "-p", "rate", "fast"], "parameter rate must be float"),
    (["run", "toy", "-p", "sizes", "[1, 'a']"], "parameter sizes must be a list of int, got list [1, 'a']"),
    (["run", "all", "-p", "nmax", "3"], "no notebook has parameter(s) 'nmax'"),
    (["list", "nope"], "unknown notebook 'nope'"),
    (["run", "toy", "--workers", "2"], "--scheduler and --workers need --executor dask"),
    (["run", "toy", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler and --workers need --executor dask"),
    (["run", "toy", "--executor", "dask", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["run", "toy", "--executor", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
     "cannot be combined with --scheduler"),
])
def test_bad_requests_fail_with_one_clear_error_and_nonzero_exit(toy_notebooks, capsys, argv, message):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.count("error:") == 1


def test_list_shows_each_profiles_values(toy_notebooks, capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "toy"
    assert lines[1].split() == ["parameter", *PROFILES]
    assert ["n_max", "10", "100", "100", "100000"] in [line.split() for line in lines]  # gpu: default's values


def test_profile_file_must_name_all_three_profiles(toy_notebooks):
    (paths.PROFILES_DIR / "toy.yml").write_text("ci: {}\n")
    with pytest.raises(runner.RunnerError, match="exactly the profiles"):
        runner.resolve("toy", "ci")


def test_profile_overrides_are_checked_like_command_line_ones(toy_notebooks):
    (paths.PROFILES_DIR / "toy.yml").write_text("ci:\n  n_maxx: 1\ndefault: {}\npaper: {}\n")
    with pytest.raises(runner.RunnerError, match="'n_maxx'"):
        runner.resolve("toy", "ci")


def test_parameters_cell_must_hold_literals_only():
    with pytest.raises(runner.RunnerError, match="not a literal"):
        runner.parse_parameters_cell("n = 2 * 3", "x")
    with pytest.raises(runner.RunnerError, match="not `name = literal`"):
        runner.parse_parameters_cell("import os", "x")


@pytest.mark.parametrize("text, value", [("500", 500), ("1e-3", 1e-3), ("[1, 2]", [1, 2]), ("TRUE", True),
                                         ("null", None), ("adam", "adam"), ("'adam'", "adam")])
def test_command_line_values_parse_as_python_literals_or_strings(text, value):
    assert runner.parse_cli_value(text) == value


def test_every_real_notebook_has_a_valid_parameters_cell_and_profiles():
    for name in runner.notebook_names():
        parameters = runner.default_parameters(name)
        assert "seed" in parameters or name in runner.LAST, name
        for profile in PROFILES:
            runner.resolve(name, profile)


def test_jobs_must_be_a_positive_count(capsys):
    assert cli.main(["run", "all", "--profile", "ci", "--jobs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --jobs must be at least 1, got 0"


def test_jobs_run_the_chapters_longest_first_then_the_pages_that_read_them():
    reader = runner.LAST[0]
    seconds = {"short": 1.0, "long": 9.0, "middle": 5.0, reader: 0.5}
    started = []
    runner.execute_all(["short", "long", reader, "middle"], lambda name, stream: started.append((name, stream)),
                     jobs=1, stream=True, seconds=seconds)
    assert started == [("short", True), ("long", True), (reader, True), ("middle", True)]  # one job: in order
    started.clear()
    runner.execute_all(["short", "long", reader, "middle"], lambda name, stream: started.append((name, stream)),
                     jobs=2, stream=True, seconds=seconds)
    assert started[-1] == (reader, True)  # the reader after every chapter, streamed
    assert {name for name, _ in started[:3]} == {"short", "long", "middle"} and not any(s for _, s in started[:3])


def test_with_jobs_a_failed_notebook_is_reported_and_the_readers_do_not_run():
    reader = runner.LAST[0]
    started = []

    def execute(name, stream):
        started.append(name)
        if name == "bad":
            raise runner.NotebookFailed("error: bad failed in cell 1")

    with pytest.raises(runner.NotebookFailed):
        runner.execute_all(["bad", "good", reader], execute, jobs=2, stream=False,
                         seconds={"bad": 2.0, "good": 1.0, reader: 0.1})
    assert reader not in started
