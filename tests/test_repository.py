"""What a public research repository owes its readers: licences, a citation file, a lock file
that agrees with the readable pins, and a wheel that runs a notebook without the source tree."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

import modcore
from modcore import paths, runner

ROOT = paths.REPO_ROOT
LOCK_LINE = re.compile(r"^([a-z0-9][a-z0-9-]*)==(\S+) \\\n    --hash=sha256:[0-9a-f]{64}$", re.M)


def _spec(path: str) -> object:
    """Import a module of the repository that is not part of the package (tools/lock.py)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lock() -> dict[str, Version]:
    text = (ROOT / "requirements.lock").read_text()
    entries = [line for line in text.split("\n") if line and not line.startswith(("#", "    "))]
    pins = dict(LOCK_LINE.findall(text))
    assert len(pins) == len(entries), "every entry of requirements.lock is name==version with one sha256 hash"
    return {name: Version(version) for name, version in pins.items()}


def test_the_lock_pins_every_package_of_environment_yml_at_its_version():
    lock_tool = _spec("tools/lock.py")
    pins = lock_tool.pinned_requirements((ROOT / "environment.yml").read_text())
    assert len(pins) >= 15
    locked = _lock()
    for pin in map(Requirement, pins):
        name = lock_tool.normalise(pin.name)
        assert name in locked, f"{pin} (environment.yml) is not in requirements.lock: run `make lock`"
        # torch==2.13.0 admits the local build 2.13.0+cpu, as pip does
        assert pin.specifier.contains(locked[name], prereleases=True), (
            f"environment.yml pins {pin}, requirements.lock has {locked[name]}: run `make lock`")


def test_the_lock_satisfies_the_package_and_its_notebook_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = _lock()
    for text in [*project["dependencies"], *project["optional-dependencies"]["notebooks"]]:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in locked and requirement.specifier.contains(locked[name], prereleases=True), (
            f"pyproject.toml asks for {requirement}, requirements.lock has {locked.get(name)}")


def test_the_environment_yml_reader_of_the_lock_tool_reads_the_pip_list_only():
    lock_tool = _spec("tools/lock.py")
    text = "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - numpy==2.4.6   # why\n      - -e .\nother: 1\n"
    assert lock_tool.pinned_requirements(text) == ["numpy==2.4.6"]


def test_licences_and_citation_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT AND CC-BY-4.0"
    assert all((ROOT / name).is_file() for name in project["license-files"])
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "CC-BY-4.0" in (ROOT / "LICENSE-text").read_text()
    footer = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["extra_footer"]
    assert "MIT" in footer and "CC BY 4.0" in footer

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["version"] == modcore.__version__
    assert set(citation["license"]) == {"MIT", "CC-BY-4.0"}
    paper, essay = citation["references"]
    assert [author["family-names"] for author in paper["authors"]] == ["Boopathy", "Jiang", "Yue", "Hwang", "Iyer",
                                                                      "Fiete"]
    assert paper["year"] == 2025 and any("2409.05780" in item["value"] for item in paper["identifiers"])
    assert essay["title"] == "Regularization Causes Modularity Causes Generalization" and essay["url"].startswith("https://")


# --- the wheel ----------------------------------------------------------------------------

def _source_copy(target: Path) -> Path:
    """The tracked files of the checkout (plus any not yet committed), copied: the wheel is
    built from them in a temporary folder, so the build leaves nothing in the checkout."""
    listing = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout.split()
    for name in listing:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.mark.slow
def test_the_wheel_installed_without_the_source_tree_runs_a_notebook(tmp_path):
    """``pip wheel .``, then a plain install into a fresh virtual environment (no system site
    packages) and ``python -m modcore run dimension_scaling --profile ci`` from a folder that is
    not the checkout, after the source copy the wheel came from is deleted.

    The third-party packages are not installed again (that would download and unpack
    torch, minutes): the fresh environment reads them from this one's site-packages
    through a ``.pth`` line, placed after its own, so modcore itself can only come from the
    wheel (this environment's editable install is a finder that a ``.pth`` line does not
    start). Instead the wheel's declared dependencies, the ``notebooks`` extra's included,
    are checked to be what the notebook needs: every one installed at a version it admits.
    """
    source = _source_copy(tmp_path / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True)
    wheel = next((tmp_path / "dist").glob("modcore-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for name in runner.notebook_names():
        assert f"modcore/notebooks/{name}.py" in names and f"modcore/notebooks/profiles/{name}.yml" in names, name
    assert {"modcore/chapters/__init__.py", "modcore/runs/__init__.py", "modcore/tasks/sine.py", "modcore/plots/__init__.py",
            "modcore/data/fig3_digitised.csv"} <= names
    assert "License-Expression: MIT AND CC-BY-4.0" in metadata
    shutil.rmtree(source)

    venv, run_in = tmp_path / "venv", tmp_path / "elsewhere"  # run_in: not the checkout, so `python -c` cannot import it
    run_in.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    fresh_site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     cwd=run_in, capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(fresh_site), str(wheel)], check=True)
    (fresh_site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    where = subprocess.run([python, "-c", "import modcore.paths as p; print(p.PACKAGE_DIR, p.NOTEBOOKS_DIR)"],
                           cwd=run_in, capture_output=True, text=True, check=True).stdout.split()
    assert where == [str(fresh_site / "modcore"), str(fresh_site / "modcore" / "notebooks")]

    declared = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    check = ("import sys; from importlib.metadata import version; from packaging.requirements import Requirement\n"
             "bad = []\n"
             "for text in sys.argv[1:]:\n"
             "    r = Requirement(text)\n"
             "    if r.marker and not r.marker.evaluate({'extra': 'notebooks'}): continue\n"
             "    try: v = version(r.name)\n"
             "    except Exception: bad.append(f'{r.name} missing'); continue\n"
             "    if not r.specifier.contains(v, prereleases=True): bad.append(f'{r} but {v}')\n"
             "print('; '.join(bad))")
    unmet = subprocess.run([python, "-c", check, *declared], cwd=run_in, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert not unmet, f"the wheel's dependencies are not met: {unmet}"

    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MPLBACKEND")}
    env.update(MODCORE_PROGRESS="0", MODCORE_RESULTS=str(tmp_path / "results"), MODCORE_RESULTS_CREATE="1",
               JUPYTER_PATH=str(venv / "share" / "jupyter"))
    done = subprocess.run([python, "-m", "modcore", "run", "dimension_scaling", "--profile", "ci", "--quiet",
                           "--output-dir", str(tmp_path / "executed")], cwd=run_in, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    notebook = json.loads((tmp_path / "executed" / "dimension_scaling.ipynb").read_text())
    provenance = notebook["metadata"]["modcore"]["provenance"]
    assert provenance["commit"].startswith("unknown")  # the runner saw no checkout
    records = [json.loads("".join(output["data"]["application/papermill.record/text/plain"]))
               for cell in notebook["cells"] if cell["cell_type"] == "code" for output in cell.get("outputs", [])
               if output.get("metadata", {}).get("scrapbook", {}).get("name", "").startswith("claim:")]
    assert records and all(record["commit"] is None for record in records)  # nor did the kernel's modcore
