"""CIFAR-10 loader and download command on a tiny fixture in the official pickle layout: the real
loader reads it, checksums are enforced, every failure says what is wrong and how to get the data,
and nothing here touches the network."""

import io
import pickle
import struct
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from modcore import data_cli
from modcore.tasks import cifar10
from modcore.tasks.cifar10 import Cifar10Error, Cifar10NotFoundError, load_cifar10

N_PER_BATCH = 4  # 5 train batches + 1 test batch: 24 random images


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a URL")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


class Python2Pickler(pickle._Pickler):
    """Pickles as the official files were made, by Python 2 and numpy 1: every string a Python 2
    byte string (BINSTRING), numpy's array constructor under its numpy 1 module path."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_python2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    def save_global(self, obj, name=None):
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)

    dispatch[str] = dispatch[bytes] = save_python2_string
    dispatch[type] = save_global


def dump_like_python2(content, path):
    with open(path, "wb") as handle:
        Python2Pickler(handle, protocol=2).dump(content)


def batch_content(data, labels):
    return {"batch_label": "fixture", "labels": [int(label) for label in labels], "data": data,
            "filenames": ["x.png"] * len(labels)}


def write_batch(path, data, labels):
    dump_like_python2(batch_content(data, labels), path)


def write_fixture(root, seed=0):
    """A cifar-10-batches-py directory under ``root``; returns (its md5 sums, raw rows and labels
    of the train batches in order, of the test batch)."""
    rng = np.random.default_rng(seed)
    batch_dir = root / cifar10.BATCH_DIR
    batch_dir.mkdir(parents=True)
    raw = {}
    for name in (*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH):
        data = rng.integers(0, 256, size=(N_PER_BATCH, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=N_PER_BATCH)
        write_batch(batch_dir / name, data, labels)
        raw[name] = (data, labels)
    dump_like_python2({"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}, batch_dir / cifar10.META_FILE)
    md5 = {name: cifar10.file_md5(batch_dir / name) for name in cifar10.OFFICIAL_MD5}
    return md5, raw


@pytest.fixture
def fixture_dir(tmp_path):
    md5, raw = write_fixture(tmp_path / "data")
    return tmp_path / "data", md5, raw


def assert_says_how_to_get_data(error):
    message = str(error)
    assert cifar10.ARCHIVE_URL in message
    assert "python -m modcore data cifar10 --download DIR" in message


def test_loader_returns_channels_last_images_equal_to_the_raw_planes(fixture_dir):
    root, md5, raw = fixture_dir
    splits = load_cifar10(root, expected_md5=md5)
    assert splits.x_train.shape == (5 * N_PER_BATCH, 32, 32, 3) and splits.x_train.dtype == np.uint8
    assert splits.x_test.shape == (N_PER_BATCH, 32, 32, 3) and splits.pixel_max == 255
    assert splits.class_names == tuple(f"class{i}" for i in range(10))
    train_rows = np.concatenate([raw[name][0] for name in cifar10.TRAIN_BATCHES])
    train_labels = np.concatenate([raw[name][1] for name in cifar10.TRAIN_BATCHES])
    np.testing.assert_array_equal(splits.y_train, train_labels)
    np.testing.assert_array_equal(splits.y_test, raw[cifar10.TEST_BATCH][1])
    # row layout: 1024 red, then green, then blue values, each plane row-major
    image, row, column = 7, 3, 29
    for channel in range(3):
        assert splits.x_train[image, row, column, channel] == train_rows[image, channel * 1024 + row * 32 + column]
    np.testing.assert_array_equal(splits.x_test[1, :, :, 2], raw[cifar10.TEST_BATCH][0][1, 2048:].reshape(32, 32))


def test_batch_directory_itself_and_environment_variable_are_accepted(fixture_dir, monkeypatch):
    root, md5, _ = fixture_dir
    direct = load_cifar10(root / cifar10.BATCH_DIR, expected_md5=md5)
    monkeypatch.setenv(cifar10.ENV_VAR, str(root))
    from_env = load_cifar10(expected_md5=md5)
    np.testing.assert_array_equal(direct.x_train, from_env.x_train)


def test_a_batch_pickled_by_python3_and_numpy2_loads_too(fixture_dir):
    root, _, raw = fixture_dir
    data, labels = raw["data_batch_5"]
    with open(root / cifar10.BATCH_DIR / "data_batch_5", "wb") as handle:
        pickle.dump({b"data": data, b"labels": [np.int64(label) for label in labels]}, handle)
    md5 = {n: cifar10.file_md5(root / cifar10.BATCH_DIR / n) for n in cifar10.OFFICIAL_MD5}
    splits = load_cifar10(root, expected_md5=md5)
    np.testing.assert_array_equal(splits.y_train[-N_PER_BATCH:], labels)


def test_official_checksums_reject_the_fixture(fixture_dir):
    root, _, _ = fixture_dir
    with pytest.raises(Cifar10Error, match="md5") as caught:
        load_cifar10(root)
    assert_says_how_to_get_data(caught.value)


def test_one_changed_byte_fails_the_checksum_and_names_the_file(fixture_dir):
    root, md5, _ = fixture_dir
    target = root / cifar10.BATCH_DIR / "data_batch_3"
    content = bytearray(target.read_bytes())
    content[-10] ^= 1
    target.write_bytes(bytes(content))
    with pytest.raises(Cifar10Error, match="data_batch_3 has md5"):
        load_cifar10(root, expected_md5=md5)


def test_missing_directory_raises_file_not_found_naming_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="path=") as caught:
        load_cifar10(tmp_path / "nowhere")
    assert isinstance(caught.value, Cifar10NotFoundError) and isinstance(caught.value, ValueError)
    assert_says_how_to_get_data(caught.value)


def test_directory_without_batches_names_the_missing_files(tmp_path):
    with pytest.raises(Cifar10NotFoundError, match="lacks data_batch_1") as caught:
        load_cifar10(tmp_path)
    assert_says_how_to_get_data(caught.value)


def test_one_missing_batch_is_named(fixture_dir):
    root, md5, _ = fixture_dir
    (root / cifar10.BATCH_DIR / "test_batch").unlink()
    with pytest.raises(Cifar10NotFoundError, match="lacks test_batch"):
        load_cifar10(root, expected_md5=md5)


def test_no_path_and_no_environment_variable_says_which_variable(monkeypatch):
    monkeypatch.delenv(cifar10.ENV_VAR, raising=False)
    with pytest.raises(Cifar10NotFoundError, match=cifar10.ENV_VAR) as caught:
        load_cifar10()
    assert_says_how_to_get_data(caught.value)


def rewrite_batch(root, name, data, labels):
    write_batch(root / cifar10.BATCH_DIR / name, data, labels)
    return {n: cifar10.file_md5(root / cifar10.BATCH_DIR / n) for n in cifar10.OFFICIAL_MD5}


def test_wrong_row_length_is_reported_with_the_shape(fixture_dir):
    root, _, _ = fixture_dir
    md5 = rewrite_batch(root, "data_batch_2", np.zeros((3, 3000), dtype=np.uint8), [0, 1, 2])
    with pytest.raises(Cifar10Error, match=r"data_batch_2.*shape \(N, 3072\).*\(3, 3000\)") as caught:
        load_cifar10(root, expected_md5=md5)
    assert_says_how_to_get_data(caught.value)


def test_wrong_dtype_and_label_count_are_reported(fixture_dir):
    root, _, _ = fixture_dir
    md5 = rewrite_batch(root, "data_batch_1", np.zeros((3, 3072), dtype=np.float32), [0, 1, 2])
    with pytest.raises(Cifar10Error, match="uint8"):
        load_cifar10(root, expected_md5=md5)
    md5 = rewrite_batch(root, "data_batch_1", np.zeros((3, 3072), dtype=np.uint8), [0, 1])
    with pytest.raises(Cifar10Error, match="must hold 3 integers"):
        load_cifar10(root, expected_md5=md5)


def test_labels_out_of_range_are_reported(fixture_dir):
    root, _, _ = fixture_dir
    md5 = rewrite_batch(root, "test_batch", np.zeros((2, 3072), dtype=np.uint8), [3, 10])
    with pytest.raises(Cifar10Error, match=r"labels out of range \[0, 10\).*max 10"):
        load_cifar10(root, expected_md5=md5)


def test_a_pickle_that_would_run_code_is_refused_without_running_it(fixture_dir, tmp_path):
    root, _, _ = fixture_dir
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(root / cifar10.BATCH_DIR / "data_batch_4", "wb") as handle:
        pickle.dump({b"data": Exploit(), b"labels": [0]}, handle, protocol=2)
    md5 = {n: cifar10.file_md5(root / cifar10.BATCH_DIR / n) for n in cifar10.OFFICIAL_MD5}
    with pytest.raises(Cifar10Error, match="not a CIFAR-10 python batch"):
        load_cifar10(root, expected_md5=md5)
    assert not marker.exists()


def test_incomplete_checksum_mapping_names_expected_md5(fixture_dir):
    root, md5, _ = fixture_dir
    with pytest.raises(ValueError, match="expected_md5="):
        load_cifar10(root, expected_md5={"data_batch_1": md5["data_batch_1"]})


# ---- python -m modcore data cifar10 --download DIR (the fetch itself replaced) ----

def make_archive(path, source_root, extra=()):
    """A .tar.gz of ``source_root``'s batch directory, plus (name, TarInfo-type, target) extras."""
    with tarfile.open(path, "w:gz") as archive:
        archive.add(source_root / cifar10.BATCH_DIR, arcname=cifar10.BATCH_DIR)
        for name, kind, target in extra:
            info = tarfile.TarInfo(name)
            if kind == tarfile.REGTYPE:
                info.size = 4
                archive.addfile(info, io.BytesIO(b"evil"))
            else:
                info.type, info.linkname = kind, target
                archive.addfile(info)
    return path


@pytest.fixture
def fixture_archive(tmp_path):
    md5, _ = write_fixture(tmp_path / "source")
    archive = make_archive(tmp_path / "fixture.tar.gz", tmp_path / "source")
    return archive, cifar10.file_md5(archive), md5


def copying(archive, calls=None):
    def fetch(url, destination):
        assert url == cifar10.ARCHIVE_URL
        if calls is not None:
            calls.append(url)
        destination.write_bytes(archive.read_bytes())
    return fetch


def test_download_unpacks_and_verifies_the_archive(fixture_archive, tmp_path):
    archive, archive_md5, md5 = fixture_archive
    batch_dir = data_cli.download_cifar10(tmp_path / "out", fetch=copying(archive), archive_md5=archive_md5,
                                          expected_md5=md5)
    assert batch_dir == tmp_path / "out" / cifar10.BATCH_DIR
    assert load_cifar10(tmp_path / "out", expected_md5=md5).x_train.shape == (5 * N_PER_BATCH, 32, 32, 3)


def test_an_archive_already_present_with_the_right_md5_is_not_fetched_again(fixture_archive, tmp_path):
    archive, archive_md5, md5 = fixture_archive
    calls = []
    for _ in range(2):
        data_cli.download_cifar10(tmp_path / "out", fetch=copying(archive, calls), archive_md5=archive_md5,
                                  expected_md5=md5)
    assert len(calls) == 1


def test_archive_with_the_wrong_md5_is_set_aside_and_nothing_unpacked(fixture_archive, tmp_path):
    archive, _, md5 = fixture_archive
    with pytest.raises(data_cli.DownloadError, match=f"expected {cifar10.ARCHIVE_MD5}"):
        data_cli.download_cifar10(tmp_path / "out", fetch=copying(archive))
    assert not (tmp_path / "out" / cifar10.BATCH_DIR).exists()
    assert (tmp_path / "out" / (cifar10.ARCHIVE_NAME + ".bad")).is_file()


@pytest.mark.parametrize("extra", [
    ("../escaped", tarfile.REGTYPE, None),
    ("cifar-10-batches-py/../../escaped", tarfile.REGTYPE, None),
    ("/tmp/escaped_absolute", tarfile.REGTYPE, None),
    ("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"),
    ("cifar-10-batches-py/hard", tarfile.LNKTYPE, "cifar-10-batches-py/test_batch"),
])
def test_archive_members_outside_the_batch_directory_or_links_are_refused(fixture_archive, tmp_path, extra):
    _, _, md5 = fixture_archive
    archive = make_archive(tmp_path / "evil.tar.gz", tmp_path / "source", extra=[extra])
    out = tmp_path / "deep" / "out"
    with pytest.raises(data_cli.DownloadError, match="refusing to unpack"):
        data_cli.download_cifar10(out, fetch=copying(archive), archive_md5=cifar10.file_md5(archive),
                                  expected_md5=md5)
    assert not (out / cifar10.BATCH_DIR).exists() and not (tmp_path / "deep" / "escaped").exists()


def test_fetch_streams_the_response_to_the_destination(fixture_archive, tmp_path, monkeypatch):
    archive, _, _ = fixture_archive
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(archive.read_bytes()))
    data_cli._fetch(cifar10.ARCHIVE_URL, tmp_path / "got.tar.gz")
    assert (tmp_path / "got.tar.gz").read_bytes() == archive.read_bytes()


def test_failed_fetch_leaves_no_partial_file(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("no route to host")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(data_cli.DownloadError, match="could not download"):
        data_cli._fetch(cifar10.ARCHIVE_URL, tmp_path / "got.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_command_succeeds_end_to_end_and_fails_with_status_2_on_a_bad_archive(fixture_archive, tmp_path,
                                                                               monkeypatch, capsys):
    archive, archive_md5, md5 = fixture_archive
    monkeypatch.setattr(data_cli, "_fetch", copying(archive))
    assert data_cli.main(["cifar10", "--download", str(tmp_path / "bad")]) == 2
    assert "md5" in capsys.readouterr().err
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", archive_md5)
    monkeypatch.setattr(cifar10, "OFFICIAL_MD5", md5)
    assert data_cli.main(["cifar10", "--download", str(tmp_path / "good")]) == 0
    assert "verified" in capsys.readouterr().out


def test_command_requires_a_known_data_set_and_a_directory():
    with pytest.raises(SystemExit):
        data_cli.main(["mnist", "--download", "x"])
    with pytest.raises(SystemExit):
        data_cli.main(["cifar10"])
