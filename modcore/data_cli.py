"""``python -m modcore data cifar10 --download DIR``: fetch, check and unpack CIFAR-10 once.

The only place modcore touches the network, and only when a user runs this command. It
downloads the official archive into DIR (reusing one already there if its md5 is right),
checks the archive's md5, unpacks ``cifar-10-batches-py`` into DIR refusing any member that
would land outside it (absolute paths, "..", links, devices), then checks every batch with
:func:`modcore.tasks.cifar10.load_cifar10`. Afterwards point the chapters at DIR (notebook
parameter or the MODCORE_CIFAR10 environment variable).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tarfile
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from modcore.tasks import cifar10

DATASETS = ("cifar10",)


class DownloadError(RuntimeError):
    """The archive could not be fetched, failed its checksum or holds unsafe members."""


def _fetch(url: str, destination: Path) -> None:
    """Stream ``url`` to ``destination`` through a temporary ``.part`` file."""
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as handle:
            shutil.copyfileobj(response, handle, length=1 << 20)
    except OSError as error:  # URLError and socket timeouts are OSErrors
        partial.unlink(missing_ok=True)
        raise DownloadError(f"could not download {url}: {error}") from error
    partial.replace(destination)


def _checked_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Every member, if all are plain files or directories under ``cifar-10-batches-py/``."""
    members = archive.getmembers()
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or path.parts[:1] != (cifar10.BATCH_DIR,):
            raise DownloadError(f"archive member {member.name!r} lies outside {cifar10.BATCH_DIR}/; refusing to unpack")
        if not (member.isfile() or member.isdir()):
            raise DownloadError(f"archive member {member.name!r} is not a plain file or directory; refusing to unpack")
    return members


def extract_archive(archive_path: Path, directory: Path) -> Path:
    """Unpack the CIFAR-10 archive into ``directory``; return the batch directory."""
    with tarfile.open(archive_path, "r:gz") as archive:
        members = _checked_members(archive)
        # our own check above, and the standard library's "data" filter as a second guard
        archive.extractall(directory, members=members, filter="data")
    return directory / cifar10.BATCH_DIR


def download_cifar10(directory: str | os.PathLike, *, fetch: Callable[[str, Path], None] | None = None,
                     archive_md5: str | None = None,
                     expected_md5: Mapping[str, str] | None = None) -> Path:
    """Fetch (unless present), verify and unpack CIFAR-10 into ``directory``; return the batch
    directory, verified. ``fetch``, ``archive_md5`` and ``expected_md5`` default to the real
    download and the official sums; tests replace them to run offline on a fixture."""
    fetch = _fetch if fetch is None else fetch
    archive_md5 = cifar10.ARCHIVE_MD5 if archive_md5 is None else archive_md5
    directory = Path(directory).expanduser()
    if directory.exists() and not directory.is_dir():
        raise DownloadError(f"DIR={str(directory)!r} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    archive_path = directory / cifar10.ARCHIVE_NAME
    if not (archive_path.is_file() and cifar10.file_md5(archive_path) == archive_md5):
        print(f"downloading {cifar10.ARCHIVE_URL} -> {archive_path}", file=sys.stderr, flush=True)
        fetch(cifar10.ARCHIVE_URL, archive_path)
        actual = cifar10.file_md5(archive_path)
        if actual != archive_md5:
            bad = archive_path.with_name(archive_path.name + ".bad")
            archive_path.replace(bad)
            raise DownloadError(f"downloaded archive has md5 {actual}, expected {archive_md5}; "
                                f"kept as {bad} for inspection, nothing unpacked")
    batch_dir = extract_archive(archive_path, directory)
    cifar10.load_cifar10(directory, expected_md5=expected_md5)
    return batch_dir


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modcore data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DATASETS, help="the data set to fetch")
    parser.add_argument("--download", required=True, metavar="DIR",
                        help="directory to download and unpack into (created if missing)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; 0 on success, 2 with a message on stderr on failure."""
    args = _parser().parse_args(argv)
    try:
        batch_dir = download_cifar10(args.download)
    except (DownloadError, cifar10.Cifar10Error, OSError, tarfile.TarError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"CIFAR-10 verified in {batch_dir}; use it with {cifar10.ENV_VAR}={Path(args.download).expanduser()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
