"""Chapters: exactly one module per notebook, with the notebook's name.

Each chapter module is the notebook's code; the notebook narrates and calls it. The contract:

- ``Parameters``: a frozen dataclass derived from :class:`modcore.parameters.ChapterParameters`,
  the only home of each parameter's type, default and rule (the why in a comment). The runner
  checks a profile and ``-p`` overrides by building it, before any kernel starts; the notebook's
  parameters cell repeats the defaults as literals for papermill, and
  ``tests/test_parameters.py`` keeps the two equal.
- Functions that compute the chapter's results from ``p`` (and a results store where runs are
  stored), one figure or table per function, and a function that returns every word and number
  the prose quotes, keyed by glue name, plus ``claims(...)``: the chapter's scorecard records.
- Notebooks import ``from modcore.chapters import NAME`` (no alias), build
  ``p = NAME.Parameters.from_cell(globals())`` after the parameters cell, and hand the glued values
  and claims to :func:`publish`. They hold no loops and no decisions.

Chapters import the generic layers (theory, tasks, models, train, sweeps, stats, verdicts, plots,
``modcore.runs``) and never each other.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from modcore import executors, paths  # noqa: F401 (registers the executor MODCORE_EXECUTOR names)

CLAIM_PREFIX = "claim:"  # the scorecard reads glued claim records under this prefix


def names() -> list[str]:
    """The chapters that have a module here (every notebook, once the house is complete)."""
    return sorted(path.stem for path in paths.PACKAGE_DIR.joinpath("chapters").glob("*.py") if path.stem != "__init__")


def load(name: str) -> ModuleType:
    """The chapter module of notebook ``name``."""
    if name not in names():
        raise ValueError(f"no chapter module for notebook {name!r}; chapters: {', '.join(names())}")
    return importlib.import_module(f"modcore.chapters.{name}")


def publish(glued: Mapping[str, Any], claims: Mapping[str, Any] | None = None) -> None:
    """Glue every value the prose quotes, and each claim record under ``claim:ID`` for the
    scorecard, without displaying them (the prose shows them)."""
    from myst_nb import glue  # the notebook's dependency, not the library's

    for name, value in glued.items():
        glue(name, value, display=False)
    for claim_id, record in (claims or {}).items():
        glue(f"{CLAIM_PREFIX}{claim_id}", record, display=False)
