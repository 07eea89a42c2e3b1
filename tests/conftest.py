"""Session fixtures shared by the notebook and browser tests: the notebooks executed once at
the ``ci`` profile, and the book built once from them."""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from modcore import paths, runner



def readers() -> list[str]:
    """The pages that read the other executed notebooks (the scorecard, the execution
    statistics): those with an ``executed_dir`` parameter, in the order `run all` runs them."""
    return [name for name in runner.notebook_names() if "executed_dir" in runner.default_parameters(name)]


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Folder of the notebooks executed at the ci profile in this session."""
    return tmp_path_factory.mktemp("executed")


@dataclass(frozen=True)
class BuiltBook:
    html: Path          # the built site's _build/html
    returncode: int     # jupyter-book's exit status (-W -n --keep-going)
    log: str


def _execute(name: str, executed: Path, results: Path, overrides: dict | None = None) -> None:
    with pytest.MonkeyPatch.context() as patch:
        # No progress bars (they hold timings), a private results store, and no Agg backend
        # in the kernel (it would silently drop every figure).
        patch.setenv("MODCORE_PROGRESS", "0")
        patch.setenv("MODCORE_RESULTS", str(results))
        patch.delenv("MPLBACKEND", raising=False)
        runner.execute(name, "ci", overrides, output_dir=executed)


@pytest.fixture(scope="session")
def built_book(executed, tmp_path_factory) -> BuiltBook:
    """The book rendered from this session's ci notebooks with warnings as errors.

    Notebooks the session has not executed yet (e.g. when only the browser test runs) are
    executed here; the pages that read the others (:func:`readers`) are always executed
    again, last, reading this folder.
    """
    results = tmp_path_factory.mktemp("results")
    last = readers()
    for name in runner.notebook_names():
        if name not in last and not (executed / f"{name}.ipynb").exists():
            _execute(name, executed, results)
    for name in last:
        _execute(name, executed, results, {"executed_dir": str(executed)})

    root = tmp_path_factory.mktemp("site")
    for item in ("_config.yml", "_toc.yml"):
        shutil.copy(paths.REPO_ROOT / item, root / item)
    shutil.copytree(paths.BOOK_DIR, root / "book", ignore=shutil.ignore_patterns("_executed", "__pycache__"))
    shutil.copytree(executed, root / "book" / "_executed")
    build = subprocess.run([Path(sys.executable).parent / "jupyter-book", "build", str(root), "-W", "-n", "--keep-going"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(paths.REPO_ROOT)})
    return BuiltBook(root / "_build" / "html", build.returncode, build.stdout[-6000:] + build.stderr[-3000:])


@pytest.fixture
def toy_notebook(tmp_path, monkeypatch):
    """``install(source, profiles, parameters)``: a notebook ``toy`` outside the repository, for
    tests of the runner that must not depend on a real chapter. It writes ``notebooks/toy.py`` and
    ``notebooks/profiles/toy.yml`` under ``tmp_path``, points the runner there, and makes
    ``parameters`` (a ChapterParameters class, or None for a notebook without a chapter module)
    the toy's chapter Parameters, through the runner's one lookup ``runner.parameters_class``.
    Returns the notebooks folder."""
    def install(source: str, profiles: str, parameters) -> Path:
        notebooks = tmp_path / "notebooks"
        (notebooks / "profiles").mkdir(parents=True, exist_ok=True)
        (notebooks / "toy.py").write_text(source)
        (notebooks / "profiles" / "toy.yml").write_text(profiles)
        monkeypatch.setattr(paths, "NOTEBOOKS_DIR", notebooks)
        monkeypatch.setattr(paths, "PROFILES_DIR", notebooks / "profiles")
        if parameters is not None:
            chapter_parameters = runner.parameters_class
            monkeypatch.setattr(runner, "parameters_class",
                                lambda name: parameters if name == "toy" else chapter_parameters(name))
        return notebooks

    return install


@pytest.fixture(autouse=True)
def _results_store_in_a_temporary_folder(tmp_path_factory, monkeypatch):
    """No test writes a results store into the repository: unless a test sets MODCORE_RESULTS
    itself (or removes it, to test the default), it points at a fresh temporary folder. (A
    command-line test that resolves ``results_dir = None`` would otherwise create
    ``results/`` at the repository root.)"""
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path_factory.mktemp("results")))


# Paths that running the tests may leave in the checkout: caches of Python and pytest, the
# editable install's metadata. Anything else a test session creates there fails the session.
EXPECTED_LEFTOVERS = ("__pycache__", ".pytest_cache", ".egg-info")
NOT_WALKED = (".git", ".venv", "venv", "_build")  # large, and never written by the tests


def _checkout_paths() -> set[str]:
    """Every file and folder of the checkout (empty folders included, which git does not
    list), relative to its root, outside NOT_WALKED."""
    found = set()
    for folder, folders, files in os.walk(paths.REPO_ROOT):
        folders[:] = [name for name in folders if name not in NOT_WALKED]
        relative = Path(folder).relative_to(paths.REPO_ROOT)
        found.update(str(relative / name) for name in folders + files)
    return found


def pytest_sessionstart(session):
    session.config.stash[_BEFORE] = _checkout_paths()


def pytest_sessionfinish(session, exitstatus):
    """Tests write only into temporary folders: a file or folder that appeared in the checkout
    during the session fails it, by name."""
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    after = _checkout_paths()
    new = sorted(path for path in after - before if not any(part in path for part in EXPECTED_LEFTOVERS))
    if new:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"error: the tests left files in the repository (they must write only into "
                                f"temporary folders): {', '.join(new)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[set]()


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="record the glued values of the ci notebooks as the expected ones (tests/golden/)")


def pytest_collection_modifyitems(config, items):
    # The browser test reads the book built from the notebooks the notebook tests executed:
    # run it after them, so the session executes each notebook once.
    items.sort(key=lambda item: item.path.name == "test_browser.py")
