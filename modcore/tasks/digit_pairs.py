"""Digit pairs: two 8x8 digits side by side, a label that decomposes into one per digit.

Images come from scikit-learn's bundled ``load_digits`` (1,797 images, 10 classes; shipped
with the package, nothing is downloaded). The analogue of Filan et al.'s "halves-diff"
MNIST task (Filan et al. 2021, two half-size digits side by side):

    input  = [left image, right image], pixels / 16, minus pixels constant in the train pool
    "sum"  : (y_left + y_right) mod 10        (the modularly decomposable label)
    "diff" : (y_left - y_right) mod 10        (the second goal for modularly varying goals)
    "both" : (y_left, y_right), two 10-way heads (the trivially modular control)

The images are split into disjoint train and test *pools* before any pair is drawn, so no
test pair reuses a training image. Also held out: ``N_HELDOUT_COMBINATIONS`` of the 100
(y_left, y_right) class combinations never appear in training; the held-out set draws only
those, from the test pool. A network that reads each digit and combines them generalises to
them; one that memorises class combinations does not.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.datasets import load_digits

N_CLASSES = 10
GOALS = ("sum", "diff", "both")
# Our split of the 1,797 images (see the choices page): 1,200 train pool / 597 test pool.
DEFAULT_N_TRAIN_POOL = 1200
# Our choice: one held-out right digit per left digit, (a, pi(a)) for a random permutation pi:
# every class still appears on each side in training, and 90 of 100 combinations are seen.
N_HELDOUT_COMBINATIONS = 10


@dataclasses.dataclass(frozen=True)
class DigitPairs:
    """Pairs for training, testing (seen combinations) and held-out combinations."""

    x_train: np.ndarray             # (n_train, 2 * n_pixels_kept) float32
    x_test: np.ndarray              # (n_test, 2 * n_pixels_kept)
    y_train: dict[str, np.ndarray]  # goal -> (n_train,) int64, or (n_train, 2) for "both"
    y_test: dict[str, np.ndarray]
    input_groups: tuple[tuple[int, ...], ...]  # input indices of the left and the right image
    x_heldout: np.ndarray | None    # (n_heldout, 2 * n_pixels_kept)
    y_heldout: dict[str, np.ndarray] | None
    heldout_combinations: tuple[tuple[int, int], ...]

    @property
    def parts_train(self) -> np.ndarray:
        """(n_train, 2) digit classes (left, right): every goal is a function of them."""
        return self.y_train["both"]

    @property
    def parts_test(self) -> np.ndarray:
        return self.y_test["both"]


def combined_labels(parts: np.ndarray, coefficients: tuple[int, int]) -> np.ndarray:
    """Labels (n,) int64 of the goal (a * y_left + b * y_right) mod 10 for ``parts`` (n, 2) of
    digit classes and ``coefficients`` (a, b): "sum" is (1, 1), "diff" (1, 9). The random goals
    of modularly varying goals draw other (a, b)."""
    parts = np.asarray(parts, dtype=np.int64)
    if parts.ndim != 2 or parts.shape[1] != 2:
        raise ValueError(f"parts must have shape (n, 2), got shape={parts.shape}")
    a, b = coefficients
    return (a * parts[:, 0] + b * parts[:, 1]) % N_CLASSES


def pair_labels(left: np.ndarray, right: np.ndarray) -> dict[str, np.ndarray]:
    """The label of every goal for class pairs (left, right)."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    return {"sum": (left + right) % N_CLASSES, "diff": (left - right) % N_CLASSES,
            "both": np.stack([left, right], axis=1)}


def _draw_pairs(images: np.ndarray, classes: np.ndarray, allowed: np.ndarray, n_pairs: int,
                rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n_pairs`` pairs whose class combination is uniform over the ``allowed`` (10, 10) mask,
    each image uniform within its class."""
    combos = np.argwhere(allowed)  # (n_allowed, 2)
    chosen = combos[rng.integers(len(combos), size=n_pairs)]
    picks = np.empty((n_pairs, 2), dtype=np.int64)
    for label in range(N_CLASSES):
        members = np.flatnonzero(classes == label)
        for side in range(2):
            rows = np.flatnonzero(chosen[:, side] == label)
            picks[rows, side] = members[rng.integers(len(members), size=rows.size)]
    x = np.concatenate([images[picks[:, 0]], images[picks[:, 1]]], axis=1)
    return x.astype(np.float32), pair_labels(chosen[:, 0], chosen[:, 1])


def digit_pairs(n_train: int = 10_000, n_test: int = 5_000, n_heldout: int = 2_000, *,
                n_train_pool: int = DEFAULT_N_TRAIN_POOL, seed: int) -> DigitPairs:
    """Draw the pools, the held-out combinations and the pairs, all from ``seed``."""
    for name, value in {"n_train": n_train, "n_test": n_test}.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
    if not isinstance(n_heldout, (int, np.integer)) or n_heldout < 0:
        raise ValueError(f"n_heldout must be a non-negative integer, got {n_heldout=}")
    digits = load_digits()
    n_images = len(digits.target)
    if not isinstance(n_train_pool, (int, np.integer)) or not 10 <= n_train_pool <= n_images - 10:
        raise ValueError(f"n_train_pool must be an integer in [10, {n_images - 10}], got {n_train_pool=}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_images)
    train_pool, test_pool = order[:n_train_pool], order[n_train_pool:]
    pixels = digits.data / 16.0
    # Constant pixels carry no signal and would become isolated graph nodes of the modularity graph.
    keep = pixels[train_pool].std(axis=0) > 0
    images = pixels[:, keep]

    permutation = rng.permutation(N_CLASSES)
    heldout = np.zeros((N_CLASSES, N_CLASSES), dtype=bool)
    heldout[np.arange(N_CLASSES), permutation] = True
    x_train, y_train = _draw_pairs(images[train_pool], digits.target[train_pool], ~heldout, n_train, rng)
    x_test, y_test = _draw_pairs(images[test_pool], digits.target[test_pool], ~heldout, n_test, rng)
    if n_heldout > 0:
        x_heldout, y_heldout = _draw_pairs(images[test_pool], digits.target[test_pool], heldout, n_heldout, rng)
    else:
        x_heldout, y_heldout = None, None
    n_kept = int(keep.sum())
    return DigitPairs(x_train=x_train, x_test=x_test, y_train=y_train, y_test=y_test,
                      input_groups=(tuple(range(n_kept)), tuple(range(n_kept, 2 * n_kept))),
                      x_heldout=x_heldout, y_heldout=y_heldout,
                      heldout_combinations=tuple((int(a), int(b)) for a, b in np.argwhere(heldout)))
