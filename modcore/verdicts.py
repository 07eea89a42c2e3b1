"""Verdict words and how they combine: the one closed set every chapter and the scorecard use.

A verdict is decided by a rule written before the numbers; its word is one of :data:`VERDICTS`
(a ``Literal`` type, :data:`Verdict`, for type checkers; :func:`check` at run time). Only
"agree" counts as agreement: "holds by construction" (true because of how a task or theory is
built) and "not testable" never do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

import numpy as np

NOT_IN_SOURCES = "not testable (the claim is not in our sources)"
BY_CONSTRUCTION = "holds by construction"
Verdict = Literal["agree", "partly", "disagree", "inconclusive", "not testable",
                  "not testable (the claim is not in our sources)", "holds by construction"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
AGREEMENT = "agree"
NOT_RUN = "not run"  # a scorecard state, not a verdict: no current record

# A closed form and a Monte-Carlo mean further apart than this many standard errors disagree.
# For a correct formula a 4-s.e. gap has probability ~6e-5 per comparison. Our choice, used by
# every chapter that checks a formula against its Monte Carlo (Theorems 1 and 2).
MC_AGREE_WITHIN_SE = 4.0
MC_AGREEMENT_RULE = (f"agree if the Monte Carlo is within {MC_AGREE_WITHIN_SE:g} standard errors of the "
                     f"closed form at every point")

# A network chapter whose healthy (not diverged) runs are fewer than this fraction of its runs
# gives "inconclusive" instead of a verdict: too many runs left out could bias the rest. Our
# choice, shared by every chapter that drops diverged runs before deciding (Fig. 2, optimisation gap).
MIN_HEALTHY_FRACTION = 0.75


def check(verdict: str, name: str = "verdict") -> str:
    """``verdict`` if it is one of :data:`VERDICTS`, else a ValueError naming it."""
    if verdict not in VERDICTS:
        raise ValueError(f"{name} must be one of {VERDICTS}, got {name}={verdict!r}")
    return verdict


def counts_as_agreement(verdict: str) -> bool:
    """Whether a verdict word counts as agreement: only "agree" does (never "holds by
    construction", "not testable" or "partly")."""
    return verdict == AGREEMENT


def combined(verdicts: Iterable[str]) -> str:
    """One verdict for a claim checked several times (per task, per baseline, per step):
    "not testable" if any check is, "agree" or "disagree" when all say so, "partly" when some
    agree, otherwise "inconclusive". A check that holds by construction or is not in our sources
    is left out (it tests nothing); if nothing else is left, that word."""
    verdicts = list(verdicts)
    for verdict in verdicts:
        check(verdict, "each verdict")
    tested = [v for v in verdicts if v not in (BY_CONSTRUCTION, NOT_IN_SOURCES)]
    if verdicts and not tested:
        return NOT_IN_SOURCES if NOT_IN_SOURCES in verdicts else BY_CONSTRUCTION
    if "not testable" in tested:
        return "not testable"
    if tested and all(v == "agree" for v in tested):
        return "agree"
    if tested and all(v == "disagree" for v in tested):
        return "disagree"
    return "partly" if "agree" in tested else "inconclusive"


def against_data(ours: str, papers: str) -> str:
    """Our curve against the paper's curve under one rule: "agree" when both get the same decisive
    word ("agree" or "disagree"), "disagree" when they get opposite ones, else "inconclusive"."""
    decisive = ("agree", "disagree")
    if ours in decisive and papers in decisive:
        return "agree" if ours == papers else "disagree"
    return "inconclusive"


def monte_carlo_agreement(deviations) -> str:
    """"agree" if every Monte-Carlo point is within :data:`MC_AGREE_WITHIN_SE` standard errors of
    the closed form, "disagree" if one is further, "inconclusive" without (finite) points."""
    deviations = np.asarray(deviations, dtype=float)
    if deviations.size == 0 or not np.isfinite(deviations).all():
        return "inconclusive"
    return "agree" if deviations.max() <= MC_AGREE_WITHIN_SE else "disagree"
