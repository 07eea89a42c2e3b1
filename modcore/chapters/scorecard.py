"""The scorecard page (notebook ``scorecard``): every claim, our number, the verdict.

The page reads the claim records that the other chapters glued when they were executed; the
reading, counting and rendering are generic (:mod:`modcore.scorecard`). Here: the page's one
parameter and the words and numbers its prose quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modcore import scorecard
from modcore.parameters import NONE_OR_NONEMPTY, ChapterParameters, param


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The page's parameter: the only home of its type, default and rule. The notebook's
    parameters cell repeats the default (papermill needs a literal there)."""

    # folder of the executed notebooks; None: book/_executed. `python -m modcore run` sets it to the
    # folder it writes to, which need not exist before the run
    executed_dir: str | None = param(None, NONE_OR_NONEMPTY)


def rows(p: Parameters) -> list[scorecard.Row]:
    """One row per claim, from the records in the executed notebooks of ``p.executed_dir``."""
    return scorecard.collect(p.executed_dir)


def summary(rows: Sequence[scorecard.Row]) -> dict:
    """The page's glued values: how many claims have each verdict, how many in all, the headline."""
    glued = {f"scorecard_{scorecard.glue_key(status)}": number for status, number in scorecard.count(rows).items()}
    glued.update(scorecard_n_claims=len(rows), scorecard_headline=scorecard.headline(rows))
    return glued


def headline(rows: Sequence[scorecard.Row]) -> str:
    """The headline, one sentence a line (Markdown)."""
    return scorecard.headline_markdown(rows)


def table(rows: Sequence[scorecard.Row]) -> str:
    """The summary table (Markdown): one short line per claim."""
    return scorecard.to_markdown(rows)


def legend() -> str:
    """What each verdict word means (Markdown)."""
    return scorecard.legend()


def details(rows: Sequence[scorecard.Row]) -> str:
    """Every row's evidence in full (Markdown, collapsed dropdowns)."""
    return scorecard.details_markdown(rows)
