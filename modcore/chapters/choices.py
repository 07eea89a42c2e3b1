"""The page "Choices the sources leave open" (notebook ``choices``).

The choices and their rendering live in :mod:`modcore.choices`, which reads every value from the
code (constants and the chapters' parameter defaults) when the page is built. The page has no
parameters of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from modcore import choices
from modcore.parameters import ChapterParameters


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """No parameters: the page shows the defaults of the other chapters and the code's constants."""


def table() -> str:
    """The page body (Markdown): one table per section, every placeholder resolved."""
    return choices.to_markdown()
