"""The provenance of an executed notebook: what made it, recorded so that a reader can repeat it.

:func:`modcore.runner.execute` calls :func:`record` after a notebook ran and :func:`append_cell`
to store it: a closing "Provenance" markdown cell for the reader, and the same record under the
notebook's ``metadata.modcore.provenance`` for :mod:`modcore.execution_stats`. Like the runner,
only ``python -m modcore`` and the tests use this module.
"""

from __future__ import annotations

import datetime
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modcore import paths

# Versions the provenance records: the packages behind the numbers and the pages.
PROVENANCE_PACKAGES = ("torch", "numpy", "scipy", "pandas", "scikit-learn", "networkx", "matplotlib",
                       "papermill", "myst-nb", "jupytext")


def cli_command(name: str, profile: str, overrides: Mapping[str, Any]) -> str:
    """The ``python -m modcore run`` command line that repeats a run."""
    words = ["python", "-m", "modcore", "run", name, "--profile", profile]
    for key, value in overrides.items():
        words += ["-p", key, repr(value)]
    return shlex.join(words)


def record(name: str, profile: str, overrides: Mapping[str, Any], parameters: Mapping[str, Any],
           defaults: Mapping[str, Any], wall_seconds: float) -> dict[str, Any]:
    """What made an executed notebook: command, injected parameters, seeds (read from the
    injected ``parameters`` over the notebook's ``defaults``), device, commit, modcore, package
    and Python versions, and wall time."""
    values = {**defaults, **parameters}
    return {
        "command": cli_command(name, profile, overrides),
        "profile": profile,
        "parameters": dict(parameters),
        "seeds": {key: value for key, value in values.items() if "seed" in key},
        "device": _device(),
        "commit": git_commit(),
        "modcore_version": _modcore_version(),
        "packages": _package_versions(),
        "python": sys.version.split()[0],
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(wall_seconds, 1),
    }


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if torch.cuda.is_available():
        return f"CUDA available: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"CPU only, CUDA not available (torch {torch.__version__})"


def git_commit() -> str:
    """Short hash of HEAD, plus "dirty" if tracked or unignored files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(paths.REPO_ROOT), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout, or git is missing)"
    return f"{commit} (dirty)" if dirty else commit


def _package_versions() -> dict[str, str]:
    """Installed versions of PROVENANCE_PACKAGES (the kernel runs in this interpreter's environment)."""
    from importlib import metadata

    versions = {}
    for package in PROVENANCE_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _modcore_version() -> str:
    import modcore

    return modcore.__version__


def _code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def markdown(record: Mapping[str, Any]) -> str:
    """The "Provenance" cell's text for ``record``."""
    def listing(mapping: Mapping[str, Any]) -> str:
        return ", ".join(_code(f"{key} = {value!r}") for key, value in mapping.items()) or "none"

    return "\n".join([
        "## Provenance",
        "",
        "Written by `python -m modcore run` when this page was executed.",
        "",
        f"- **Command:** {_code(record['command'])}",
        f"- **Parameters injected** (profile {_code(record['profile'])} and overrides): {listing(record['parameters'])}",
        f"- **Seeds:** {listing(record['seeds'])}",
        f"- **Device:** {record['device']}",
        f"- **Commit:** {_code(record['commit'])}",
        f"- **modcore version:** {_code(record['modcore_version'])} (Python {record['python']})",
        f"- **Packages:** {', '.join(f'{name} {version}' for name, version in record.get('packages', {}).items()) or 'not recorded'}",
        f"- **Wall time:** {record['wall_seconds']:.0f} s, finished {record['finished_utc']}",
    ])


def append_cell(path: Path, record: Mapping[str, Any]) -> None:
    """End the executed notebook at ``path`` with the Provenance cell and store ``record`` in its metadata."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell(markdown(record), metadata={"tags": ["provenance"]}))
    notebook.metadata.setdefault("modcore", {})["provenance"] = dict(record)
    nbformat.write(notebook, path)
