"""Compositional image classification: k images side by side, the class of every slot predicted.

Boopathy et al. (ICLR 2025), Fig. 4b: "combinations of k CIFAR-10 images are
concatenated together and the model is asked to predict the class of all component images
simultaneously"; the paper's example places the images side by side horizontally, so one
composite is H x (W * k) x C. Its robustness table tests class combinations never seen in
training and noisy inputs; it says neither how combinations are held out nor which noise is
used, so both are our choices, stated below (:func:`split_combinations`, ``input_noise``).

Sources (:func:`load_images`):
- "digits", *Compositional Digits*, the offline default: scikit-learn's bundled handwritten
  digits (1,797 real 8 x 8 grey images, 10 classes; nothing is downloaded), split by a seeded
  stratified split into disjoint train and test source pools, so no test image ever appears
  in a training composite. It stands in for CIFAR-10 until a user has CIFAR-10.
- "cifar10": the official 50,000 / 10,000 split (:mod:`modcore.tasks.cifar10`).

Drawing a composite: its class combination (one class per slot) is uniform over the allowed
combinations (all n_classes^k of them, or the seen / held-out ones of the OOD split), and each
slot's image is uniform among the pool's images of that class. With balanced classes this is
the same as drawing each slot's image uniformly from the pool.

Scaling: inputs are pixel / pixel_max (digits / 16, CIFAR / 255), in [0, 1], not centred
(our choice; a model may standardise). ``input_noise`` is the standard deviation of additive
Gaussian noise in these units, i.e. a fraction of the full pixel range; the noisy inputs are
not clipped, so their deviation from the clean ones has exactly that standard deviation.

Layout of one flattened input: the composite (H, W * k, C) in row-major order; slot j
occupies columns j * W .. (j + 1) * W - 1 (:func:`unflatten_composites`, :func:`split_slots`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from modcore.tasks.cifar10 import ImageSplits, load_cifar10

DATASETS = ("digits", "cifar10")
# Fig. 4b's largest k. A CIFAR composite then has 32 * 256 * 3 = 24,576 inputs.
MAX_N_SLOTS = 8
# The held-out split enumerates all n_classes^k combinations (10^6 at k = 6: a few MB). Beyond
# that a training set of realistic size (n_train << 10^k) leaves almost every test combination
# unseen anyway, so holding out a set explicitly adds nothing.
MAX_HELDOUT_N_SLOTS = 6
# Our choice: a third of the 1,797 digits as the test pool (599 images, about 60 per class).
DEFAULT_DIGITS_TEST_FRACTION = 1 / 3


def load_digit_images(*, test_fraction: float = DEFAULT_DIGITS_TEST_FRACTION, seed: int) -> ImageSplits:
    """scikit-learn's digits as uint8 (N, 8, 8, 1) in [0, 16], stratified-split by ``seed``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction=}")
    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]  # (1797, 8, 8, 1), values 0..16
    labels = digits.target.astype(np.int64)
    train_rows, test_rows = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                             stratify=labels, random_state=seed)
    return ImageSplits(name="digits", x_train=images[train_rows], y_train=labels[train_rows],
                       x_test=images[test_rows], y_test=labels[test_rows],
                       class_names=tuple(str(label) for label in range(10)), pixel_max=16)


def load_images(dataset: str = "digits", *, cifar10_path: str | None = None, seed: int) -> ImageSplits:
    """The source images of the task: "digits" (offline default) or "cifar10" (read from
    ``cifar10_path`` or the MODCORE_CIFAR10 environment variable; never downloaded).
    ``seed`` fixes the digits' train/test split; CIFAR-10's split is the official one."""
    if dataset == "digits":
        return load_digit_images(seed=seed)
    if dataset == "cifar10":
        return load_cifar10(cifar10_path)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset=!r}")


@dataclasses.dataclass(frozen=True)
class Composites:
    """``n`` composites of ``n_slots`` images each, flattened for an MLP."""

    x: np.ndarray               # (n, H * W * n_slots * C) float32
    labels: np.ndarray          # (n, n_slots) int64, the class in each slot
    source_indices: np.ndarray  # (n, n_slots) int64, row of the source pool placed in each slot
    image_shape: tuple[int, int, int]  # (H, W, C) of one source image
    input_noise: float          # std of the Gaussian noise added to x (0 for clean inputs)

    @property
    def n_slots(self) -> int:
        return self.labels.shape[1]


@dataclasses.dataclass(frozen=True)
class CompositionalTask:
    """Training composites and the test sets: in distribution, noisy, held-out combinations."""

    train: Composites
    test: Composites                    # test pool; with an OOD split only combinations that occur in ``train``
    test_noisy: Composites | None       # ``test`` plus Gaussian input noise; None if input_noise = 0
    test_heldout: Composites | None     # only held-out combinations; None without an OOD split
    heldout_combinations: np.ndarray | None  # (n_heldout_combinations, n_slots) int64
    n_classes: int
    heldout_fraction: float | None
    input_noise: float

    @property
    def n_slots(self) -> int:
        return self.train.n_slots

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.train.image_shape


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
    return int(value)


def _check_n_slots(n_slots, maximum: int = MAX_N_SLOTS) -> int:
    if isinstance(n_slots, bool) or not isinstance(n_slots, (int, np.integer)) or not 1 <= n_slots <= maximum:
        raise ValueError(f"n_slots must be an integer in [1, {maximum}], got {n_slots=!r}")
    return int(n_slots)


def _check_input_noise(input_noise: float) -> float:
    if not math.isfinite(input_noise) or input_noise < 0:
        raise ValueError(f"input_noise must be finite and >= 0, got {input_noise=}")
    return float(input_noise)


def _check_labels(labels: np.ndarray, n_classes: int, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} out of range [0, {n_classes}): min {labels.min()}, max {labels.max()}")
    return labels.astype(np.int64)


def _decode(indices: np.ndarray, n_classes: int, n_slots: int) -> np.ndarray:
    """Combination index -> (.., n_slots) classes, slot 0 the most significant digit."""
    powers = n_classes ** np.arange(n_slots - 1, -1, -1, dtype=np.int64)
    return (np.asarray(indices, dtype=np.int64)[..., None] // powers) % n_classes


def split_combinations(n_classes: int, n_slots: int, heldout_fraction: float, *,
                       seed: int | np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """A random set of class combinations held out of training: (seen, held_out), each
    (n_combinations, n_slots) int64, together all n_classes^n_slots combinations.

    round(heldout_fraction * n_classes^n_slots) combinations are held out, uniformly at random
    among all but n_classes "cover" combinations (c, pi_1(c), .., pi_{k-1}(c)), c = 0..n_classes-1,
    for random permutations pi_j, which always stay seen: every class is then seen in every slot
    during training, so a held-out combination is new only as a combination (our choice).
    n_slots = 1 is refused: with one slot a "combination" is a class, and holding one out would
    test an unseen class, not an unseen combination.
    """
    _check_count("n_classes", n_classes)
    if isinstance(n_slots, (int, np.integer)) and n_slots == 1:
        raise ValueError("n_slots must be >= 2 for held-out combinations (with n_slots=1 a combination "
                         "is a single class, and holding it out would test an unseen class)")
    n_slots = _check_n_slots(n_slots, MAX_HELDOUT_N_SLOTS)
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction=}")
    n_total = n_classes ** n_slots
    n_heldout = round(heldout_fraction * n_total)
    if not 1 <= n_heldout <= n_total - n_classes:
        raise ValueError(f"heldout_fraction={heldout_fraction} holds out {n_heldout} of the {n_total} combinations "
                         f"of n_slots={n_slots}; it must hold out at least 1 and at most {n_total - n_classes}, "
                         f"so that every class stays seen in every slot")
    rng = np.random.default_rng(seed)
    permutations = rng.permuted(np.tile(np.arange(n_classes), (n_slots - 1, 1)), axis=1)  # (k - 1, n_classes)
    cover = np.concatenate([np.arange(n_classes)[None], permutations]).T  # (n_classes, k)
    cover_indices = cover @ (n_classes ** np.arange(n_slots - 1, -1, -1, dtype=np.int64))
    candidates = np.setdiff1d(np.arange(n_total, dtype=np.int64), cover_indices)
    heldout = np.sort(rng.choice(candidates, size=n_heldout, replace=False))
    seen = np.setdiff1d(np.arange(n_total, dtype=np.int64), heldout)
    return _decode(seen, n_classes, n_slots), _decode(heldout, n_classes, n_slots)


def compose(images: np.ndarray, source_indices: np.ndarray, pixel_max: float) -> np.ndarray:
    """Flattened float32 composites (n, H * W * k * C) in [0, 1]: ``images[source_indices[i, j]]``
    placed in slot j of composite i."""
    n, n_slots = source_indices.shape
    height, width, channels = images.shape[1:]
    x = np.empty((n, height, n_slots, width, channels), dtype=np.float32)
    # one pass moves the slot axis next to the width and casts to float32
    x[...] = images[source_indices].transpose(0, 2, 1, 3, 4)  # (n, k, H, W, C) -> (n, H, k, W, C)
    x *= np.float32(1.0 / pixel_max)
    return x.reshape(n, height * n_slots * width * channels)


def add_input_noise(x: np.ndarray, input_noise: float, *,
                    seed: int | np.random.SeedSequence | np.random.Generator) -> np.ndarray:
    """``x`` plus iid N(0, input_noise^2) noise, float32, not clipped (a new array)."""
    input_noise = _check_input_noise(input_noise)
    noise = np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32)
    noise *= np.float32(input_noise)
    return np.asarray(x, dtype=np.float32) + noise


def draw_composites(images: np.ndarray, labels: np.ndarray, n_composites: int, n_slots: int, *,
                    pixel_max: float, combinations: np.ndarray | None = None, n_classes: int = 10,
                    input_noise: float = 0.0, seed: int | np.random.SeedSequence) -> Composites:
    """``n_composites`` composites of ``n_slots`` images of the pool (``images`` (N, H, W, C),
    ``labels`` (N,)), drawn with ``seed`` and built without a loop over images or pixels.

    Each composite's class combination is uniform over ``combinations`` ((m, n_slots) array;
    None: all n_classes^n_slots), each slot's image uniform among the pool's images of its
    class. ``input_noise`` > 0 adds Gaussian noise of that std (pixel range = 1).
    """
    n_composites = _check_count("n_composites", n_composites)
    n_slots = _check_n_slots(n_slots)
    input_noise = _check_input_noise(input_noise)
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, height, width, channels), got shape {images.shape}")
    labels = _check_labels(labels, n_classes)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be ({len(images)},) like images, got shape {labels.shape}")
    if combinations is not None:
        combinations = _check_labels(combinations, n_classes, "combinations")
        if combinations.ndim != 2 or combinations.shape[1] != n_slots or len(combinations) == 0:
            raise ValueError(f"combinations must be a non-empty (m, {n_slots}) array, got shape {combinations.shape}")
    rng = np.random.default_rng(seed)
    if combinations is None:
        classes = rng.integers(n_classes, size=(n_composites, n_slots))
    else:
        classes = combinations[rng.integers(len(combinations), size=n_composites)]  # (n, k)
    counts = np.bincount(labels, minlength=n_classes)
    absent = np.setdiff1d(np.unique(classes), np.flatnonzero(counts))
    if absent.size:
        raise ValueError(f"labels: the pool has no image of class(es) {absent.tolist()} needed by the composites")
    by_class = np.argsort(labels, kind="stable")
    starts = np.cumsum(counts) - counts
    source_indices = by_class[starts[classes] + rng.integers(counts[classes])]  # (n, k)
    x = compose(images, source_indices, pixel_max)
    if input_noise > 0:
        x = add_input_noise(x, input_noise, seed=rng)  # after the draws, so they do not depend on the noise
    return Composites(x=x, labels=classes.astype(np.int64), source_indices=source_indices.astype(np.int64),
                      image_shape=tuple(int(size) for size in images.shape[1:]), input_noise=input_noise)


def compositional_task(source: ImageSplits, n_slots: int, n_train: int, n_test: int, *,
                       heldout_fraction: float | None = None, input_noise: float = 0.0,
                       seed: int) -> CompositionalTask:
    """Training and test composites of ``n_slots`` images from ``source``'s train and test pools.

    Arguments:
        source: images from :func:`load_images`.
        n_slots: k, images per composite, 1..MAX_N_SLOTS.
        n_train, n_test: composites in the training set and in each test set.
        heldout_fraction: None for no OOD split; else the fraction of class combinations held
            out of training (:func:`split_combinations`; needs 2 <= n_slots <= MAX_HELDOUT_N_SLOTS).
            Train then draws only the seen combinations; the in-distribution ``test`` draws only
            combinations that actually occur in the training composites (with 10^k combinations
            and a few thousand composites most "seen" combinations are never drawn, so a test of
            seen combinations would mostly hold new ones), ``test_heldout`` only held-out ones,
            all test sets from the test pool.
        input_noise: std of the Gaussian noise of ``test_noisy`` (pixel range = 1), which holds
            the same composites as ``test``, so the accuracy drop measures the noise alone;
            0 gives no noisy set.
        seed: fixes the held-out combinations, every draw and the noise.
    """
    n_slots = _check_n_slots(n_slots)
    n_train, n_test = _check_count("n_train", n_train), _check_count("n_test", n_test)
    input_noise = _check_input_noise(input_noise)
    n_classes = source.n_classes
    split_seed, train_seed, test_seed, noise_seed, heldout_seed = np.random.SeedSequence(seed).spawn(5)
    seen, heldout = (None, None)
    if heldout_fraction is not None:
        seen, heldout = split_combinations(n_classes, n_slots, heldout_fraction, seed=split_seed)
    common = dict(n_slots=n_slots, pixel_max=source.pixel_max, n_classes=n_classes)
    train = draw_composites(source.x_train, source.y_train, n_train, combinations=seen, seed=train_seed, **common)
    in_training = None if heldout is None else np.unique(train.labels, axis=0)
    test = draw_composites(source.x_test, source.y_test, n_test, combinations=in_training, seed=test_seed, **common)
    test_noisy = None
    if input_noise > 0:
        test_noisy = dataclasses.replace(test, x=add_input_noise(test.x, input_noise, seed=noise_seed),
                                         input_noise=input_noise)
    test_heldout = None
    if heldout is not None:
        test_heldout = draw_composites(source.x_test, source.y_test, n_test, combinations=heldout,
                                       seed=heldout_seed, **common)
    return CompositionalTask(train=train, test=test, test_noisy=test_noisy, test_heldout=test_heldout,
                             heldout_combinations=heldout, n_classes=n_classes,
                             heldout_fraction=heldout_fraction, input_noise=input_noise)


def unflatten_composites(x: np.ndarray, image_shape: tuple[int, int, int], n_slots: int) -> np.ndarray:
    """(..., H * W * k * C) -> (..., H, W * k, C), the composite as an image (also for any
    vector over the input, e.g. a module's projection weights)."""
    height, width, channels = image_shape
    x = np.asarray(x)
    if x.shape[-1] != height * width * n_slots * channels:
        raise ValueError(f"x's last axis must have H * W * n_slots * C = {height * width * n_slots * channels} "
                         f"entries for {image_shape=} and {n_slots=}, got shape {x.shape}")
    return x.reshape(*x.shape[:-1], height, width * n_slots, channels)


def split_slots(x: np.ndarray, image_shape: tuple[int, int, int], n_slots: int) -> np.ndarray:
    """(..., H * W * k * C) -> (..., k, H, W, C): each slot's image on its own."""
    height, width, channels = image_shape
    composite = unflatten_composites(x, image_shape, n_slots)
    lead = composite.shape[:-3]
    slots = composite.reshape(*lead, height, n_slots, width, channels)
    return np.moveaxis(slots, -3, -4)


def _check_predictions(predicted: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape or predicted.ndim != 2 or predicted.size == 0:
        raise ValueError(f"predicted and labels must both be non-empty (n, n_slots) arrays, got shapes "
                         f"{predicted.shape} and {labels.shape}")
    return predicted, labels


def slot_accuracies(predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy of each slot, (n_slots,), from predicted and true classes (n, n_slots)."""
    predicted, labels = _check_predictions(predicted, labels)
    return (predicted == labels).mean(axis=0)


def mean_slot_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of correctly classified slots over all composites: the paper's accuracy
    (Fig. 4b; its value at k = 1 is per-image accuracy)."""
    return float(slot_accuracies(predicted, labels).mean())


def all_slots_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of composites whose every slot is classified correctly."""
    predicted, labels = _check_predictions(predicted, labels)
    return float((predicted == labels).all(axis=1).mean())
