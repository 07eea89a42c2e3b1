"""CIFAR-10 from the official python batches, checked against the official md5 sums.

The paper's compositional task (Boopathy et al., ICLR 2025, Fig. 4b) is built
from CIFAR-10. CIFAR-10 is not bundled and is never downloaded implicitly: a user points
:func:`load_cifar10` at a directory holding ``cifar-10-batches-py`` (argument or the
``MODCORE_CIFAR10`` environment variable), or fetches it once, explicitly, with

    python -m modcore data cifar10 --download DIR

Layout of the batches (Krizhevsky 2009, the dataset's page): each of ``data_batch_1`` ..
``data_batch_5`` and ``test_batch`` is a pickled dict whose ``b"data"`` is a uint8 array
(N, 3072), one image per row as three 32 x 32 planes (red, green, blue) in row-major order,
and whose ``b"labels"`` lists N class indices in [0, 10); ``batches.meta`` holds
``b"label_names"``.

Every file is checked against its md5 *before* it is unpickled, and unpickling admits only
the few numpy types a batch is made of, so a corrupt or foreign file fails with a message
instead of running anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np

ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
BATCH_DIR = "cifar-10-batches-py"
ENV_VAR = "MODCORE_CIFAR10"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
# The official md5 of each file of the python version (the same sums torchvision checks).
OFFICIAL_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
IMAGE_SHAPE = (32, 32, 3)
N_CLASSES = 10

HOW_TO_GET = (f"Get CIFAR-10 (python version) with `python -m modcore data cifar10 --download DIR`, "
              f"or download {ARCHIVE_URL} yourself and unpack it; then pass DIR (or DIR/{BATCH_DIR}) "
              f"as the path or set the {ENV_VAR} environment variable to it.")


class Cifar10Error(ValueError):
    """CIFAR-10 is missing, incomplete, corrupt or malformed; the message says how to get it."""


class Cifar10NotFoundError(Cifar10Error, FileNotFoundError):
    """The directory or one of its batch files does not exist."""


@dataclasses.dataclass(frozen=True)
class ImageSplits:
    """Labelled images split into a training and a test source pool (no image in both).

    Images are (N, height, width, channels) uint8 with values in [0, pixel_max]; labels are
    (N,) int64 in [0, len(class_names)).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    pixel_max: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def file_md5(path: str | os.PathLike) -> str:
    """Hex md5 of a file, read in 1 MiB chunks (the archive is 170 MB)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_batch_dir(path: str | os.PathLike | None = None) -> Path:
    """The ``cifar-10-batches-py`` directory for ``path`` (that directory or its parent), or
    for the ``MODCORE_CIFAR10`` environment variable when ``path`` is None."""
    if path is None:
        path = os.environ.get(ENV_VAR)
        if not path:
            raise Cifar10NotFoundError(f"no CIFAR-10 path: path=None and {ENV_VAR} is not set. {HOW_TO_GET}")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise Cifar10NotFoundError(f"CIFAR-10 path={str(path)!r} is not a directory. {HOW_TO_GET}")
    if (root / BATCH_DIR).is_dir():
        return root / BATCH_DIR
    return root


class _BatchUnpickler(pickle.Unpickler):
    """Admits only what a CIFAR batch is made of: numpy arrays, scalars and dtypes (plus the
    codec Python 3 uses for bytes in protocol 2), under numpy 1's and numpy 2's module names."""

    ALLOWED = ({(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
                for name in ("_reconstruct", "scalar")}
               | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")})

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR-10 batch")
        return super().find_class(module, name)


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            # encoding="bytes": the official batches were pickled by Python 2, so keys are bytes
            content = _BatchUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise Cifar10Error(f"{path} is not a CIFAR-10 python batch ({error}). {HOW_TO_GET}") from error
    if not isinstance(content, dict):
        raise Cifar10Error(f"{path} holds a {type(content).__name__}, not a CIFAR-10 batch dict. {HOW_TO_GET}")
    return content


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) int64 of one batch file."""
    content = _read_pickle(path)
    if b"data" not in content or b"labels" not in content:
        raise Cifar10Error(f"{path} lacks the b'data' or b'labels' entry of a CIFAR-10 batch. {HOW_TO_GET}")
    data, labels = content[b"data"], np.asarray(content[b"labels"])
    n_values = int(np.prod(IMAGE_SHAPE))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != n_values:
        shape = getattr(data, "shape", None)
        raise Cifar10Error(f"{path}: b'data' must be uint8 of shape (N, {n_values}), got "
                           f"{getattr(data, 'dtype', type(data).__name__)} {shape}. {HOW_TO_GET}")
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise Cifar10Error(f"{path}: b'labels' must hold {len(data)} integers, got shape {labels.shape} "
                           f"of {labels.dtype}. {HOW_TO_GET}")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise Cifar10Error(f"{path}: labels out of range [0, {N_CLASSES}): min {labels.min()}, "
                           f"max {labels.max()}. {HOW_TO_GET}")
    # rows are three 32 x 32 planes; (N, 3, 32, 32) -> channels last
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def verify_cifar10(path: str | os.PathLike | None = None, *,
                   expected_md5: Mapping[str, str] | None = None) -> Path:
    """Check that every batch file exists and has its expected md5; return the batch directory.

    ``expected_md5`` maps file name to md5 and defaults to the official sums; tests pass the
    sums of a small fixture in the same layout.
    """
    expected = OFFICIAL_MD5 if expected_md5 is None else dict(expected_md5)
    if set(expected) != set(OFFICIAL_MD5):
        raise ValueError(f"expected_md5 must map exactly the files {sorted(OFFICIAL_MD5)}, got {expected_md5=}")
    batch_dir = find_batch_dir(path)
    missing = [name for name in OFFICIAL_MD5 if not (batch_dir / name).is_file()]
    if missing:
        raise Cifar10NotFoundError(f"CIFAR-10 path={str(path)!r}: {batch_dir} lacks {', '.join(missing)}. {HOW_TO_GET}")
    for name in OFFICIAL_MD5:
        actual = file_md5(batch_dir / name)
        if actual != expected[name]:
            raise Cifar10Error(f"CIFAR-10 file {batch_dir / name} has md5 {actual}, expected {expected[name]}: "
                               f"it is corrupt or not the official python version. {HOW_TO_GET}")
    return batch_dir


def load_cifar10(path: str | os.PathLike | None = None, *,
                 expected_md5: Mapping[str, str] | None = None) -> ImageSplits:
    """CIFAR-10's 50,000 training and 10,000 test images, verified, as uint8 (N, 32, 32, 3).

    Arguments:
        path: the directory holding ``cifar-10-batches-py``, or that directory itself; None
            reads the ``MODCORE_CIFAR10`` environment variable.
        expected_md5: file name -> md5; None (the default) means the official sums. Only for
            testing the loader on a fixture in the same layout.

    Raises :class:`Cifar10Error` (a ValueError; :class:`Cifar10NotFoundError`, also a
    FileNotFoundError, when something is missing) saying what is wrong and how to get the data.
    Never downloads.
    """
    batch_dir = verify_cifar10(path, expected_md5=expected_md5)
    train = [_read_batch(batch_dir / name) for name in TRAIN_BATCHES]
    x_test, y_test = _read_batch(batch_dir / TEST_BATCH)
    meta = _read_pickle(batch_dir / META_FILE)
    names = meta.get(b"label_names")
    if not isinstance(names, list) or len(names) != N_CLASSES:
        raise Cifar10Error(f"{batch_dir / META_FILE}: b'label_names' must list {N_CLASSES} names. {HOW_TO_GET}")
    class_names = tuple(name.decode() if isinstance(name, bytes) else str(name) for name in names)
    return ImageSplits(name="cifar10",
                       x_train=np.concatenate([images for images, _ in train]),
                       y_train=np.concatenate([labels for _, labels in train]),
                       x_test=x_test, y_test=y_test, class_names=class_names, pixel_max=255)
