"""Absolute, stable paths, so nothing depends on the kernel's working directory.

papermill runs a notebook's kernel in ``notebooks/``; nbval runs it beside the executed
``.ipynb``; pytest runs from the repository root. Every file a notebook or test reads or
writes is located from here instead.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = PACKAGE_DIR / "data"  # small data files shipped with the package (digitised figures)
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
PROFILES_DIR = NOTEBOOKS_DIR / "profiles"
BOOK_DIR = REPO_ROOT / "book"
EXECUTED_DIR = BOOK_DIR / "_executed"


def results_dir() -> Path:
    """Root of the on-disk results store of the sweeps.

    ``MODCORE_RESULTS`` overrides it (tests point it at a temporary folder, a cluster user
    at shared storage); the default ``results/`` at the repository root is git-ignored.
    """
    return Path(os.environ.get("MODCORE_RESULTS", REPO_ROOT / "results")).resolve()
