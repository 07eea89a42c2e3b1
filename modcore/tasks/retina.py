"""The retina task of Kashtan & Alon (2005) and Clune, Mouret & Lipson (2013).

An 8-pixel retina, pixels valued +-1; pixel i of pattern s (s = 0..255) is bit i of s. Pixels
0-3 are the left half, 4-7 the right half. Each half shows an "object" for 8 of its 16
patterns:

    left object   iff (s & 0x0F) in {15, 7, 5, 13, 1, 11, 4, 14}
    right object  iff (s & 0xF0) in {240, 224, 160, 176, 128, 208, 32, 112}   (the mirror set)

Goals: "and" = L-AND-R (label 1 iff both objects; positive rate 1/4), "or" = L-OR-R (3/4).
Any Boolean combiner of the two objects is a goal too (:func:`combined_labels`, a truth table
over (left, right)): the random goals of modularly varying goals draw from them.
Source: Clune, Mouret & Lipson (2013), the retina experiment of their public sferes code.

The task is a combination of two independent sub-tasks, so any split of the 256 patterns
into train and test holds out (left, right) combinations: a network that solves each half
separately and combines them generalises to unseen combinations.
"""

from __future__ import annotations

import dataclasses

import numpy as np

N_PIXELS = 8
N_PATTERNS = 2 ** N_PIXELS
LEFT_OBJECTS = frozenset({15, 7, 5, 13, 1, 11, 4, 14})
RIGHT_OBJECTS = frozenset({240, 224, 160, 176, 128, 208, 32, 112})
GOALS = ("and", "or")
# Node groups for the modular wiring and the left/right split check: pixel indices per half.
INPUT_GROUPS = (tuple(range(0, 4)), tuple(range(4, 8)))


def retina_inputs() -> np.ndarray:
    """All 256 patterns, (256, 8) float32 in {-1, +1}; row s is pattern s."""
    bits = (np.arange(N_PATTERNS)[:, None] >> np.arange(N_PIXELS)[None, :]) & 1
    return (2.0 * bits - 1.0).astype(np.float32)


def objects() -> tuple[np.ndarray, np.ndarray]:
    """(left_object, right_object): two boolean (256,) arrays, one per half."""
    patterns = np.arange(N_PATTERNS)
    left = np.isin(patterns & 0x0F, sorted(LEFT_OBJECTS))
    right = np.isin(patterns & 0xF0, sorted(RIGHT_OBJECTS))
    return left, right


# Truth tables over (left, right) = (0, 0), (0, 1), (1, 0), (1, 1).
TRUTH_TABLES = {"and": (0, 0, 0, 1), "or": (0, 1, 1, 1)}


def combined_labels(parts: np.ndarray, truth_table: tuple[int, int, int, int]) -> np.ndarray:
    """Labels (n,) int64 of the goal ``truth_table[2 * left + right]`` for ``parts`` (n, 2) of
    0/1 object flags (left, right)."""
    parts = np.asarray(parts, dtype=np.int64)
    if parts.ndim != 2 or parts.shape[1] != 2:
        raise ValueError(f"parts must have shape (n, 2), got shape={parts.shape}")
    table = np.asarray(truth_table, dtype=np.int64)
    if table.shape != (4,) or not np.isin(table, (0, 1)).all():
        raise ValueError(f"truth_table must hold four 0/1 values, got {truth_table=}")
    return table[2 * parts[:, 0] + parts[:, 1]]


def retina_labels(goal: str) -> np.ndarray:
    """Labels (256,) int64 in {0, 1} of L-AND-R (``goal="and"``) or L-OR-R (``"or"``)."""
    left, right = objects()
    if goal == "and":
        return (left & right).astype(np.int64)
    if goal == "or":
        return (left | right).astype(np.int64)
    raise ValueError(f"unknown goal={goal!r} for the retina task; choose one of {GOALS}")


@dataclasses.dataclass(frozen=True)
class RetinaSplit:
    """A random train/test split of the 256 patterns, with the labels of every goal."""

    x_train: np.ndarray            # (n_train, 8)
    x_test: np.ndarray             # (256 - n_train, 8)
    y_train: dict[str, np.ndarray]  # goal -> (n_train,)
    y_test: dict[str, np.ndarray]   # goal -> (256 - n_train,)
    parts_train: np.ndarray         # (n_train, 2) 0/1: left object, right object
    parts_test: np.ndarray          # (256 - n_train, 2)
    input_groups: tuple[tuple[int, ...], ...] = INPUT_GROUPS
    # The test patterns are themselves unseen (left, right) combinations; there is no
    # separate held-out-combination set.
    x_heldout: np.ndarray | None = None
    y_heldout: dict[str, np.ndarray] | None = None


def retina_split(n_train: int = 128, *, seed: int) -> RetinaSplit:
    """``n_train`` patterns drawn without replacement for training, the rest for testing.

    The chapter uses 128/128 (our choice; see the choices page).
    """
    if not isinstance(n_train, (int, np.integer)) or not 1 <= n_train < N_PATTERNS:
        raise ValueError(f"n_train must be an integer in [1, {N_PATTERNS - 1}], got {n_train=}")
    order = np.random.default_rng(seed).permutation(N_PATTERNS)
    train, test = np.sort(order[:n_train]), np.sort(order[n_train:])
    x = retina_inputs()
    labels = {goal: retina_labels(goal) for goal in GOALS}
    parts = np.stack(objects(), axis=1).astype(np.int64)
    return RetinaSplit(x_train=x[train], x_test=x[test],
                       y_train={g: y[train] for g, y in labels.items()},
                       y_test={g: y[test] for g, y in labels.items()},
                       parts_train=parts[train], parts_test=parts[test])
