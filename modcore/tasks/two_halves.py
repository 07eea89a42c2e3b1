"""The two tasks built from two halves (the retina's left and right objects, a pair of digits)
and the goals defined on them: the trained goal G1, the related goal G2 that shares both halves,
the goal MVG alternates with, and the random goals RMVG draws.

A goal is a function of the two halves' sub-labels ``parts`` (n, 2): a truth table on the
retina, (a, b) of (a * left + b * right) mod 10 on digit pairs, or "both" (two heads, one per
digit: the digit task's trivially modular control).
"""

from __future__ import annotations

import itertools

import numpy as np

from modcore.tasks import digit_pairs, retina

TASKS = ("retina", "digits")
PRIMARY_GOAL = {"retina": "and", "digits": "sum"}
# G2, the related goal never trained on: shares both sub-goals (the halves) with G1.
RELATED_GOAL = {"retina": "or", "digits": "diff"}
# MVG swaps G1 with this goal (Kashtan & Alon's AND/OR pair; sum/difference for digits).
ALTERNATE_GOAL = {"and": "or", "or": "and", "sum": "diff", "diff": "sum"}
# Goals as functions of the two halves' sub-labels (retina: truth tables; digits: (a, b) of
# (a * left + b * right) mod 10). "both" (two heads) is the digit task's trivially modular control.
GOAL_DEFINITIONS = {"and": retina.TRUTH_TABLES["and"], "or": retina.TRUTH_TABLES["or"], "sum": (1, 1), "diff": (1, 9)}


def goal_labels(task: str, goal, parts: np.ndarray) -> np.ndarray:
    """Labels of ``goal`` (a name, or a truth table / (a, b) pair) from the sub-labels ``parts`` (n, 2)."""
    if goal == "both":
        return np.asarray(parts, dtype=np.int64)
    definition = GOAL_DEFINITIONS.get(goal, goal) if isinstance(goal, str) else tuple(goal)
    if task == "retina":
        return retina.combined_labels(parts, definition)
    return digit_pairs.combined_labels(parts, definition)


def random_goal_pool(task: str) -> list[tuple[int, ...]]:
    """Goals RMVG draws from: every combination of the two halves that depends on both, except
    the related goal G2 and its equivalents (its complement for the retina; any (a, b) with
    a + b = 0 mod 10, a relabelling of the difference, for digits)."""
    if task == "retina":
        related = retina.TRUTH_TABLES[RELATED_GOAL[task]]
        complement = tuple(1 - v for v in related)
        pool = []
        for table in itertools.product((0, 1), repeat=4):
            depends_on_left = table[0:2] != table[2:4]
            depends_on_right = table[0::2] != table[1::2]
            if depends_on_left and depends_on_right and table not in (related, complement):
                pool.append(table)
        return pool
    return [(a, b) for a in range(1, 10) for b in range(1, 10) if (a + b) % digit_pairs.N_CLASSES != 0]


def n_outputs(goal: str) -> int:
    """Output units: one logit for the binary retina goals, 10 or 2 x 10 for digit pairs."""
    return {"and": 1, "or": 1, "sum": 10, "diff": 10, "both": 20}[goal]


def goal_kind(task: str, goal) -> str:
    """How a goal's labels are scored: one binary logit (retina), ten classes, or two ten-way heads."""
    return "two_heads" if goal == "both" else "binary" if task == "retina" else "classes"
