"""The execution-statistics page (notebook ``execution_stats``): how each chapter was executed.

Reading the provenance of the executed notebooks and rendering it is generic
(:mod:`modcore.execution_stats`). Here: the page's one parameter and its glued words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modcore import execution_stats
from modcore.parameters import NONE_OR_NONEMPTY, ChapterParameters, param

GLUE_PREFIX = "stats_"  # the page's glue names: stats_n_executed, stats_consistency, ...


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The page's parameter: the only home of its type, default and rule. The notebook's
    parameters cell repeats the default (papermill needs a literal there)."""

    # folder of the executed notebooks; None: book/_executed. `python -m modcore run` sets it to the
    # folder it writes to, which need not exist before the run
    executed_dir: str | None = param(None, NONE_OR_NONEMPTY)


def runs(p: Parameters) -> list[execution_stats.ChapterRun]:
    """Every chapter's run, in the book's order, from the provenance in ``p.executed_dir``."""
    return execution_stats.collect(p.executed_dir)


def summary(runs: Sequence[execution_stats.ChapterRun]) -> dict:
    """The page's glued words, keyed by their glue names."""
    return {f"{GLUE_PREFIX}{name}": value for name, value in execution_stats.summary(runs).items()}


def runs_table(runs: Sequence[execution_stats.ChapterRun]) -> str:
    """One row per chapter: profile, wall time, device, commit (Markdown)."""
    return execution_stats.runs_table(runs)


def versions_table(runs: Sequence[execution_stats.ChapterRun]) -> str:
    """The package versions the chapters recorded (Markdown)."""
    return execution_stats.versions_table(runs)
