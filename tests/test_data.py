"""cvgr.data.prepare: raw files in torchvision's on-disk formats -> data HDF5; offline errors; raw-file checks.

The small raw files are written here byte for byte in the formats torchvision
reads (IDX, SVHN .mat, CIFAR-10 pickled batches); the expected arrays are
computed from what the test wrote, independently of torchvision.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import pickle
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import scipy.io
import torch
import torchvision.datasets as tvd

import cvgr.data.prepare as cdata
from cvgr.datasets import DATASETS
from cvgr.errors import CvgrError, DatasetNotFoundError, StaleInputError
from cvgr.results.io import read_h5

torch.set_num_threads(1)
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No CVGR_DATA from the caller, a private cache, and no Debian fallback unless a test restores it."""
    monkeypatch.delenv("CVGR_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    original = DATASETS.get("fmnist")
    fmnist_debian_dir(tmp_path / "no-debian")
    yield
    DATASETS.register("fmnist", original, replace=True)


def fmnist_debian_dir(folder: Path) -> None:
    """Re-register fmnist with its Debian folder at ``folder`` (the fixture restores the original)."""
    DATASETS.register("fmnist", dataclasses.replace(DATASETS.get("fmnist"), debian_dir=folder), replace=True)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX format: magic 0x0000 0x08 (uint8) ndim, big-endian int32 dims, then the bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, rng: np.random.Generator, gz: bool, sizes=(7, 5)) -> dict[str, np.ndarray]:
    """Four IDX files (train 7, test 5 images) in ``folder``; returns the arrays by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in zip(("train", "t10k"), sizes):
        arrays[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{prefix}-labels-idx1-ubyte"] = rng.integers(0, 10, n, dtype=np.uint8)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return arrays


def svhn_reference(x_hwcn: np.ndarray) -> np.ndarray:
    """SVHN preprocessing (docs/METHOD.md section 2.5) on the .mat layout (H, W, C, N): -> (N, 1, 28, 28) uint8."""
    out = []
    for n in range(x_hwcn.shape[3]):
        img = x_hwcn[2:30, 2:30, :, n].astype(np.float64)
        gray = 0.2989 * img[..., 0] + 0.5870 * img[..., 1] + 0.1140 * img[..., 2]
        lo, hi = gray.min(), gray.max()
        unit = (gray - lo) / (hi - lo) if hi > lo else np.zeros_like(gray)
        out.append(np.round(255 * unit).astype(np.uint8))
    return np.stack(out)[:, None]


# --------------------------------------------------------------------------- per-format loaders

def test_mnist_idx_in_torchvision_layout(tmp_path):
    raw = tmp_path / "raw"
    arrays = write_idx_set(raw / "MNIST" / "raw", np.random.default_rng(0), gz=False)
    out = tmp_path / "mnist.h5"
    cdata.prepare_dataset("mnist", out, raw_dir=raw, download=False, cache_dir=tmp_path / "cache")
    data = read_h5(out)

    assert data.arrays["train/images"].shape == (7, 1, 28, 28) and data.arrays["test/images"].shape == (5, 1, 28, 28)
    assert data.arrays["train/images"].dtype == np.uint8 and data.arrays["train/labels"].dtype == np.int64
    assert np.array_equal(data.arrays["train/images"][:, 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(data.arrays["test/labels"], arrays["t10k-labels-idx1-ubyte"])
    assert data.attrs["dataset"] == "mnist" and data.attrs["classes"] == 10
    assert data.attrs["raw_root"] == str(raw.resolve()) and data.attrs["raw_sources"] == {}
    assert data.attrs["raw_files"] == {f"MNIST/raw/{f}": sha(raw / "MNIST" / "raw" / f) for f in IDX_FILES}
    assert data.provenance["stage"] == "prepare" and data.provenance["config"] == {"dataset": "mnist"}
    assert sorted(i["sha256"] for i in data.provenance["inputs"]) == sorted(data.attrs["raw_files"].values())
    assert not (tmp_path / "cache").exists()  # the files were read in place

    x, y = cdata.load_split(out, "test", limit=3)
    assert x.dtype == torch.float32 and x.shape == (3, 1, 28, 28) and y.dtype == torch.int64
    assert torch.equal(x, torch.from_numpy(arrays["t10k-images-idx3-ubyte"][:3, None].astype(np.float32)) / 255)
    assert y.tolist() == arrays["t10k-labels-idx1-ubyte"][:3].tolist()
    assert len(cdata.load_split(out, "train")[0]) == 7
    with pytest.raises(CvgrError, match="unknown split 'val'"):
        cdata.load_split(out, "val")


def test_fmnist_gzipped_flat_folder_from_cvgr_data(tmp_path, monkeypatch):
    """Debian's layout (flat .gz files) found through $CVGR_DATA is decompressed into the cache."""
    raw = tmp_path / "debian-like"
    arrays = write_idx_set(raw, np.random.default_rng(1), gz=True)
    monkeypatch.setenv("CVGR_DATA", str(raw))
    cache = tmp_path / "cache"
    out = tmp_path / "fmnist.h5"
    cdata.prepare_dataset("fmnist", out, download=False, cache_dir=cache)
    data = read_h5(out)

    extracted = cache / "FashionMNIST" / "raw"
    assert data.attrs["raw_root"] == str(cache.resolve())
    for name in IDX_FILES:  # recorded: the extracted file torchvision read, and the .gz it came from
        assert data.attrs["raw_files"][f"FashionMNIST/raw/{name}"] == sha(extracted / name)
        assert sha(extracted / name) == hashlib.sha256(gzip.decompress((raw / f"{name}.gz").read_bytes())).hexdigest()
        assert data.attrs["raw_sources"][str((raw / f"{name}.gz").resolve())] == sha(raw / f"{name}.gz")
    assert np.array_equal(data.arrays["train/images"][:, 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(data.arrays["train/labels"], arrays["train-labels-idx1-ubyte"])
    assert len(data.provenance["inputs"]) == 8


def test_svhn_mat_files_and_preprocessing(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    root = tmp_path / "svhn"
    root.mkdir()
    mats = {}
    for split, n in (("train", 6), ("test", 4)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        x[:, :, :, 0] = 77  # a constant image: min-max gives 0 everywhere
        x[5:9, 20:27, 1, 1] = 255  # an off-centre, non-symmetric patch catches transposed axes
        y = np.array([10, 1, 2, 9, 10, 5][:n], dtype=np.uint8).reshape(n, 1)  # 10 is digit 0 in SVHN
        scipy.io.savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})
        mats[split] = (x, y)
    # torchvision checks each .mat file against a hard-coded md5 of the real SVHN files; point those
    # expected md5s at the files written here (the split_list class attribute holds them).
    patched = {s: [url, name, md5(root / name) if (root / name).exists() else h]
               for s, (url, name, h) in tvd.SVHN.split_list.items()}
    monkeypatch.setattr(tvd.SVHN, "split_list", patched)
    out = tmp_path / "svhn.h5"
    cdata.prepare_dataset("svhn", out, raw_dir=root, download=False)
    data = read_h5(out)

    for split, (x, y) in mats.items():
        images, labels = data.arrays[f"{split}/images"], data.arrays[f"{split}/labels"]
        assert images.dtype == np.uint8 and images.shape == (x.shape[3], 1, 28, 28)
        assert labels.dtype == np.int64 and labels.tolist() == [0 if v == 10 else int(v) for v in y[:, 0]]
        assert np.array_equal(images, svhn_reference(x))
        assert (images[1:].min(axis=(1, 2, 3)) == 0).all() and (images[1:].max(axis=(1, 2, 3)) == 255).all()
    assert (data.arrays["train/images"][0] == 0).all()
    assert data.attrs["raw_files"] == {f"{s}_32x32.mat": sha(root / f"{s}_32x32.mat") for s in ("train", "test")}
    assert "0.2989" in data.attrs["preprocessing"]


def test_svhn_with_wrong_checksum_is_rejected(tmp_path):
    root = tmp_path / "svhn"
    root.mkdir()
    for split in ("train", "test"):
        scipy.io.savemat(root / f"{split}_32x32.mat", {"X": np.zeros((32, 32, 3, 1), np.uint8), "y": [[1]]})
    with pytest.raises(CvgrError, match=r"torchvision rejected the raw files under .*replace them"):
        cdata.prepare_dataset("svhn", tmp_path / "s.h5", raw_dir=root, download=False)
    assert not (tmp_path / "s.h5").exists()


def test_cifar10_pickled_batches(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    root = tmp_path / "cifar"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"batch_label": name, "data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, 2).tolist(), "filenames": ["a.png", "b.png"]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        batches[name] = batch
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"], "num_cases_per_batch": 2, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    # torchvision compares every batch with the md5 of the real CIFAR-10 file (class attributes
    # train_list / test_list / meta); point them at the files written here.
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[f, md5(folder / f)] for f, _ in tvd.CIFAR10.train_list])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [[f, md5(folder / f)] for f, _ in tvd.CIFAR10.test_list])
    monkeypatch.setattr(tvd.CIFAR10, "meta", dict(tvd.CIFAR10.meta, md5=md5(folder / "batches.meta")))
    out = tmp_path / "cifar10.h5"
    cdata.prepare_dataset("cifar10", out, raw_dir=root, download=False)
    data = read_h5(out)

    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    expected = np.concatenate([b["data"] for b in train]).reshape(-1, 3, 32, 32)  # rows are R plane, G, B
    assert data.arrays["train/images"].shape == (10, 3, 32, 32) and data.arrays["train/images"].dtype == np.uint8
    assert np.array_equal(data.arrays["train/images"], expected)
    assert data.arrays["train/labels"].tolist() == sum((b["labels"] for b in train), [])
    assert np.array_equal(data.arrays["test/images"], batches["test_batch"]["data"].reshape(-1, 3, 32, 32))
    assert set(data.attrs["raw_files"]) == {f"cifar-10-batches-py/{f}" for f in batches} | {
        "cifar-10-batches-py/batches.meta"}
    assert all(data.attrs["raw_files"][k] == sha(root / k) for k in data.attrs["raw_files"])


# --------------------------------------------------------------------------- the real Fashion-MNIST

@pytest.mark.skipif(not DEBIAN.is_dir(), reason=f"{DEBIAN} absent: apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_debian(tmp_path, monkeypatch):
    fmnist_debian_dir(DEBIAN)
    out = tmp_path / "fmnist.h5"
    cdata.prepare_dataset("fmnist", out, download=False, cache_dir=tmp_path / "cache")
    data = read_h5(out)

    for split, prefix, n in (("train", "train", 60000), ("test", "t10k", 10000)):
        images, labels = data.arrays[f"{split}/images"], data.arrays[f"{split}/labels"]
        assert images.shape == (n, 1, 28, 28) and labels.shape == (n,)
        assert np.bincount(labels).tolist() == [n // 10] * 10  # balanced classes 0..9
        # independent decoding of Debian's .gz: 16-byte IDX header, then the pixels
        pixels = np.frombuffer(gzip.decompress((DEBIAN / f"{prefix}-images-idx3-ubyte.gz").read_bytes())[16:],
                               np.uint8)
        assert np.array_equal(images.reshape(-1), pixels)
    for name in IDX_FILES:
        gz = DEBIAN / f"{name}.gz"
        assert data.attrs["raw_sources"][str(gz)] == sha(gz)
        assert data.attrs["raw_files"][f"FashionMNIST/raw/{name}"] == hashlib.sha256(
            gzip.decompress(gz.read_bytes())).hexdigest()
    cdata.verify_raw(out)


# --------------------------------------------------------------------------- offline / not found

def assert_names_remedies(message: str, apt: bool) -> None:
    assert "\n" not in message
    assert "raw_dir in the config" in message and "CVGR_DATA" in message and "allow network access" in message
    assert ("apt-get install dataset-fashion-mnist" in message) == apt


def test_offline_without_files_names_every_remedy(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="downloading is disabled") as err:
        cdata.find_raw("fmnist", raw_dir=tmp_path / "empty", download=False, cache_dir=tmp_path / "cache")
    assert_names_remedies(str(err.value), apt=True)
    assert str(tmp_path / "empty") in str(err.value)
    with pytest.raises(DatasetNotFoundError) as err:
        cdata.prepare_dataset("mnist", tmp_path / "m.h5", download=False, cache_dir=tmp_path / "cache")
    assert_names_remedies(str(err.value), apt=False)


def test_failed_downloads_become_dataset_not_found(tmp_path, monkeypatch):
    calls = []

    def offline(url, *args, **kwargs):
        calls.append(url)
        raise URLError("[Errno -2] Name or service not known")

    # MNIST.download catches URLError per mirror and raises RuntimeError; SVHN lets URLError through.
    monkeypatch.setattr(tvd.mnist, "download_and_extract_archive", offline)
    monkeypatch.setattr(tvd.svhn, "download_url", offline)
    for name in ("mnist", "svhn"):
        with pytest.raises(DatasetNotFoundError, match=r"the download failed \(.*Name or service not known") as err:
            cdata.find_raw(name, download=True, cache_dir=tmp_path / "cache")
        assert_names_remedies(str(err.value), apt=False)
    assert any("mnist" in u for u in calls) and any("housenumbers" in u for u in calls)


def test_unknown_dataset():
    with pytest.raises(CvgrError, match="unknown dataset 'imagenet'") as err:
        cdata.find_raw("imagenet")
    assert all(name in str(err.value) for name in ("mnist", "fmnist", "svhn", "cifar10"))


# --------------------------------------------------------------------------- raw-file checks

def test_verify_raw_detects_changed_raw_files(tmp_path):
    raw = tmp_path / "raw"
    write_idx_set(raw / "MNIST" / "raw", np.random.default_rng(4), gz=False)
    out = tmp_path / "mnist.h5"
    cdata.prepare_dataset("mnist", out, raw_dir=raw, download=False)
    cdata.verify_raw(out)  # unchanged: fine

    labels = raw / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    original = labels.read_bytes()
    labels.write_bytes(original[:-1] + bytes([(original[-1] + 1) % 10]))
    with pytest.raises(StaleInputError) as err:
        cdata.verify_raw(out)
    msg = str(err.value)
    assert str(labels) in msg and str(out) in msg and "snakemake --forcerun prepare" in msg
    assert hashlib.sha256(original).hexdigest()[:16] in msg and "\n" not in msg

    labels.unlink()  # a missing raw file is fine: the HDF5 is self-contained
    cdata.verify_raw(out)
