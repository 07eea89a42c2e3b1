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


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="record the glued values of the ci notebooks as the expected ones (tests/golden/)")


def pytest_collection_modifyitems(config, items):
    # The browser test reads the book built from the notebooks the notebook tests executed:
    # run it after them, so the session executes each notebook once.
    items.sort(key=lambda item: item.path.name == "test_browser.py")
