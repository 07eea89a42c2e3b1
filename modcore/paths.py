"""Absolute, stable paths, so nothing depends on the kernel's working directory.

papermill runs a notebook's kernel in ``notebooks/``; nbval runs it beside the executed
``.ipynb``; pytest runs from the repository root. Every file a notebook or test reads or
writes is located from here instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = PACKAGE_DIR / "data"  # small data files shipped with the package (digitised figures)
# In a source checkout the notebooks sit beside the package; a wheel carries them inside it
# (setup.py copies them to modcore/notebooks/), read when there is no source tree.
NOTEBOOKS_DIR = REPO_ROOT / "notebooks" if (REPO_ROOT / "notebooks").is_dir() else PACKAGE_DIR / "notebooks"
PROFILES_DIR = NOTEBOOKS_DIR / "profiles"
BOOK_DIR = REPO_ROOT / "book"
EXECUTED_DIR = BOOK_DIR / "_executed"

RESULTS_ENV = "MODCORE_RESULTS"
# Set to 1 (or `python -m modcore run --create-results`) to let modcore create a results
# folder that was named explicitly but does not exist yet.
RESULTS_CREATE_ENV = "MODCORE_RESULTS_CREATE"


class ResultsDirError(ValueError):
    """A results folder that is missing (and may not be created), not a folder, or not writable."""


def results_dir() -> Path:
    """Root of the on-disk results store of the sweeps, as an absolute path.

    ``MODCORE_RESULTS`` overrides it (tests point it at a temporary folder, a cluster user
    at shared storage); the default ``results/`` at the repository root is git-ignored. A
    relative ``MODCORE_RESULTS`` is taken from the working directory: ``python -m modcore run``
    resolves it once, in the folder it was typed in, and passes the absolute path to the
    kernels (which run in ``notebooks/``). An empty one is an error, not the working directory.
    """
    if RESULTS_ENV not in os.environ:
        return (REPO_ROOT / "results").resolve()
    return absolute_path(os.environ[RESULTS_ENV], RESULTS_ENV)


def absolute_path(value: str | os.PathLike[str], name: str) -> Path:
    """``value`` as an absolute path (``~`` expanded, relative to the working directory).

    An empty or blank ``value`` names no folder (``Path("")`` would silently mean the working
    directory): :class:`ResultsDirError` naming ``name``.
    """
    text = os.fspath(value)
    if not text.strip():
        raise ResultsDirError(f"{name} is empty; name a folder (or leave it unset for the default)")
    return Path(text).expanduser().resolve()


def may_create_explicit_results_dir() -> bool:
    """Whether a results folder named explicitly (``MODCORE_RESULTS``, a notebook's
    ``results_dir``) may be created when missing: only when ``MODCORE_RESULTS_CREATE=1``
    asks for it, so that a mistyped path fails instead of silently starting an empty store."""
    return os.environ.get(RESULTS_CREATE_ENV, "0") == "1"


def may_create_results_dir() -> bool:
    """Whether :func:`results_dir` may be created: always for the default ``results/``."""
    return RESULTS_ENV not in os.environ or may_create_explicit_results_dir()


def check_writable_dir(path: str | os.PathLike[str], *, create: bool, probe: bool = True,
                       what: str = "results store") -> Path:
    """``path`` as a folder that exists (created only if ``create``) and, with ``probe``,
    accepts a file; ``what`` names the folder in the one-line :class:`ResultsDirError`.

    Writability is tested by writing and removing a probe file, so a read-only store fails
    here, before any training, rather than when its first result is saved.
    """
    path = Path(path)
    if not path.is_dir():
        if path.exists():
            raise ResultsDirError(f"{what} {path} is not a folder")
        if not create:
            raise ResultsDirError(f"{what} {path} does not exist; create it, or set "
                                  f"{RESULTS_CREATE_ENV}=1 (python -m modcore run --create-results) to let modcore do it")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ResultsDirError(f"{what} {path} cannot be created ({error.strerror or error})") from None
    if not probe:
        return path
    try:
        handle, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ResultsDirError(f"{what} {path} is not writable ({error.strerror or error})") from None
    return path
