"""Every notebook executes at the `ci` profile, shows a figure, reproduces itself, and the
book renders from the executed notebooks with warnings as errors."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from modcore import paths, runner

NOTEBOOKS = runner.notebook_names()


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Executed notebooks at the ci profile, each from an empty results store."""
    return tmp_path_factory.mktemp("executed")


def _isolated_env(results: Path) -> dict[str, str]:
    # MODCORE_PROGRESS=0: no progress bars (they hold timings); a fresh results store so that
    # the second execution recomputes every number rather than reading the first one's.
    env = {**os.environ, "MODCORE_PROGRESS": "0", "MODCORE_RESULTS": str(results)}
    env.pop("MPLBACKEND", None)  # Agg in the kernel would silently drop every figure
    return env


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_at_ci_profile_shows_a_figure_and_reproduces_itself(name, executed, tmp_path, monkeypatch):
    for key, value in _isolated_env(tmp_path / "first").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    output = runner.execute(name, "ci", output_dir=executed)

    notebook = nbformat.read(output, as_version=4)
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} rendered no image/png output"

    # nbval strict: a second execution (same seed, fresh store) must print the same outputs.
    check = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", output.name, "-q", "-p", "no:cacheprovider",
         "--nbval-kernel-name", "python3"],
        cwd=output.parent, env=_isolated_env(tmp_path / "second"), capture_output=True, text=True)
    assert check.returncode == 0, f"nbval found differences in {name}:\n{check.stdout[-6000:]}"


def test_book_renders_from_the_executed_notebooks_with_warnings_as_errors(executed, tmp_path):
    missing = [name for name in NOTEBOOKS if not (executed / f"{name}.ipynb").exists()]
    if missing:
        pytest.skip(f"notebooks not executed in this session: {missing}")
    root = tmp_path / "site"
    (root / "book").mkdir(parents=True)
    for item in ("_config.yml", "_toc.yml"):
        shutil.copy(paths.REPO_ROOT / item, root / item)
    for page in paths.BOOK_DIR.iterdir():
        if page.is_file():
            shutil.copy(page, root / "book" / page.name)
    shutil.copytree(executed, root / "book" / "_executed")
    build = subprocess.run([Path(sys.executable).parent / "jupyter-book", "build", str(root), "-W", "-n", "--keep-going"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-3000:]
    html = root / "_build" / "html"
    for name in NOTEBOOKS:
        page = (html / "book" / "_executed" / f"{name}.html").read_text()
        assert "<img" in page, f"{name}.html has no figure"


def test_table_of_contents_lists_every_notebook_once():
    import yaml

    toc = yaml.safe_load((paths.REPO_ROOT / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    executed = sorted(f.removeprefix("book/_executed/") for f in files if f.startswith("book/_executed/"))
    assert executed == NOTEBOOKS
