"""Datasets: raw files -> one self-contained HDF5 per dataset.

Each dataset is registered in :mod:`cvgr.datasets`, with its loader:
torchvision's dataset classes read the raw formats (IDX for MNIST and
Fashion-MNIST, ``.mat`` for SVHN, pickled batches for CIFAR-10), a plugin's
loader its own files. This module finds the raw files (:func:`find_raw`),
converts them and writes
``results/data/{dataset}.h5`` (:func:`prepare_dataset`) with arrays

    train/images uint8 (N, C, H, W)   train/labels int64 (N,)
    test/images  uint8 (M, C, H, W)   test/labels  int64 (M,)

and attributes ``dataset``, ``classes`` (their number), ``class_names``, ``raw_root`` (the folder torchvision
read), ``raw_files`` ({path relative to raw_root: sha256} of every file
torchvision read), ``raw_sources`` ({path: sha256} of archives those files
were extracted from, e.g. Debian's ``.gz``; empty if none) and
``preprocessing`` (a one-line description).

Stored images:

- mnist, fmnist: (1, 28, 28), the raw bytes unchanged.
- cifar10: (3, 32, 32), the raw bytes unchanged (HWC -> CHW).
- svhn: (1, 28, 28) after the preprocessing of docs/METHOD.md section 2.5, per image:
  center crop 32 -> 28 (rows and columns 2..29), luminance
  ``g = 0.2989 R + 0.5870 G + 0.1140 B`` (in float64 on the 0..255 values),
  min-max rescaling ``v = (g - min g) / (max g - min g)`` to [0, 1]
  (``v = 0`` for a constant image), stored as ``uint8 = rint(255 v)``
  (numpy's round half to even). SVHN's label 10 (digit 0) becomes 0
  (torchvision does this).

:func:`load_split` returns float32 pixels ``uint8 / 255`` in [0, 1].
"""
from __future__ import annotations

import gzip
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
import torch
from torch import Tensor

from ..datasets import DATASETS as DATASET_REGISTRY, Dataset, get_dataset
from ..errors import CvgrError, DatasetNotFoundError, StaleInputError
from ..results.io import PathLike, atomic_output, make_provenance, read_h5, sha256_file, write_h5
from ..registry import resolve

SPLITS = ("train", "test")
#: seconds a download may wait on the network before it counts as failed
DOWNLOAD_TIMEOUT_S = 20.0
SVHN_CROP = 28
LUMA = (0.2989, 0.5870, 0.1140)  #: R, G, B weights of the SVHN gray conversion
_SVHN_CHUNK = 8192


# --------------------------------------------------------------------------- conversions

def _cifar_images(ds: Any) -> np.ndarray:
    """CIFAR (N, H, W, C) uint8 -> (N, C, H, W)."""
    return np.ascontiguousarray(np.asarray(ds.data).transpose(0, 3, 1, 2))


def _center_crop(images: np.ndarray, size: int) -> np.ndarray:
    """Central ``size`` x ``size`` window of (..., H, W), offsets as torchvision's CenterCrop."""
    h, w = images.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return images[..., top:top + size, left:left + size]


def svhn_gray28(rgb: np.ndarray) -> np.ndarray:
    """SVHN (N, 3, 32, 32) uint8 -> (N, 1, 28, 28) uint8: crop, luminance, per-image min-max."""
    out = np.empty((len(rgb), 1, SVHN_CROP, SVHN_CROP), dtype=np.uint8)
    for start in range(0, len(rgb), _SVHN_CHUNK):  # chunks bound the float64 working memory
        crop = _center_crop(rgb[start:start + _SVHN_CHUNK], SVHN_CROP).astype(np.float64)
        gray = LUMA[0] * crop[:, 0] + LUMA[1] * crop[:, 1] + LUMA[2] * crop[:, 2]
        lo = gray.min(axis=(1, 2), keepdims=True)
        span = gray.max(axis=(1, 2), keepdims=True) - lo
        unit = np.divide(gray - lo, span, out=np.zeros_like(gray), where=span > 0)
        out[start:start + len(crop), 0] = np.rint(255.0 * unit).astype(np.uint8)
    return out


def svhn_images(ds: Any) -> np.ndarray:
    """torchvision's SVHN dataset -> the stored (N, 1, 28, 28) uint8 images (:func:`svhn_gray28`)."""
    return svhn_gray28(np.asarray(ds.data))


def _generic_images(ds: Any) -> np.ndarray:
    """A torchvision-like dataset's ``data``: (N, H, W) -> (N, 1, H, W); (N, C, H, W) as it is."""
    images = np.asarray(ds.data)
    return images[:, None] if images.ndim == 3 else images


def _labels(ds: Any) -> np.ndarray:
    """int64 labels (``targets`` or, for SVHN, ``labels``)."""
    labels = ds.labels if isinstance(ds, _tvd().SVHN) else ds.targets
    return np.asarray(labels, dtype=np.int64).reshape(-1)


# --------------------------------------------------------------------------- the catalogue

def _tvd() -> Any:
    """torchvision.datasets, imported on first use: it costs seconds, and only preparation needs it."""
    from torchvision import datasets
    return datasets


@dataclass(frozen=True)
class DatasetInfo:
    """How one registered dataset (:class:`cvgr.datasets.Dataset`) is read: the torch side of its entry."""

    entry: Dataset

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def classes(self) -> int:
        return self.entry.num_classes

    @property
    def loader(self) -> Any:
        """The class or function that reads the raw files (imports it)."""
        ref = self.entry.loader
        if isinstance(ref, str) and ":" not in ref:
            if not hasattr(_tvd(), ref):
                raise CvgrError(f"dataset {self.name}: torchvision.datasets has no class {ref!r}: "
                                "name one of its classes or give a 'module:attribute' loader")
            return getattr(_tvd(), ref)
        return resolve(ref, f"dataset {self.name}'s loader")

    @property
    def is_class(self) -> bool:
        return isinstance(self.loader, type)

    def _family(self) -> str | None:
        """'svhn', 'cifar', 'idx' for torchvision's families, else None."""
        cls, tvd = self.loader, _tvd()
        for family, base in (("svhn", tvd.SVHN), ("cifar", tvd.CIFAR10), ("idx", tvd.MNIST)):
            if isinstance(cls, type) and issubclass(cls, base):
                return family
        return None

    def open(self, root: PathLike, split: str, download: bool = False) -> Any:
        """The torchvision(-like) dataset object of ``split`` ('train' | 'test') under ``root``."""
        if self._family() == "svhn":
            return self.loader(os.fspath(root), split=split, download=download)
        return self.loader(os.fspath(root), train=split == "train", download=download)

    def read(self, root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images (N, C, H, W) and int64 labels of ``split``, as the loader gives them."""
        if not self.is_class:
            images, labels = self.loader(root, split)
            return np.asarray(images), np.asarray(labels, dtype=np.int64).reshape(-1)
        ds = self.open(root, split)
        convert = resolve(self.entry.convert, f"dataset {self.name}'s convert") if self.entry.convert else None
        convert = convert or (_cifar_images if self._family() == "cifar" else _generic_images)
        return convert(ds), _labels(ds)

    def raw_relpaths(self) -> list[str]:
        """The files the loader reads, relative to the root it is given."""
        if self.entry.raw_files or not self.is_class:
            return list(self.entry.raw_files)
        cls, family = self.loader, self._family()
        if family == "svhn":
            return [cls.split_list[s][1] for s in SPLITS]
        if family == "cifar":
            names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
            return [f"{cls.base_folder}/{f}" for f in names]
        if family == "idx":
            return [f"{cls.__name__}/raw/{os.path.splitext(f)[0]}" for f, _ in cls.resources]
        raise CvgrError(f"dataset {self.name}: its loader {cls.__name__} is not a torchvision MNIST, CIFAR-10 "
                        "or SVHN class: list the files it reads in register_dataset(raw_files=...)")

    @property
    def is_idx(self) -> bool:
        """True for the MNIST-like datasets whose raw files are (gzipped) IDX files."""
        return self._family() == "idx"

    @property
    def can_download(self) -> bool:
        """torchvision classes download their files; loader functions and other classes do not."""
        return self._family() is not None


#: The registered datasets (:data:`cvgr.datasets.DATASETS`).
DATASETS = DATASET_REGISTRY


def dataset_info(name: str) -> DatasetInfo:
    """The registered dataset ``name``; CvgrError naming the registered ones for an unknown name."""
    return DatasetInfo(get_dataset(name))


# --------------------------------------------------------------------------- locating raw files

@dataclass(frozen=True)
class RawLocation:
    """A torchvision root holding the raw files, and archives they were extracted from."""

    root: Path
    sources: tuple[Path, ...] = ()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cvgr`` or ``~/.cache/cvgr``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cvgr"


def _complete(info: DatasetInfo, root: Path) -> bool:
    return all((root / rel).is_file() for rel in info.raw_relpaths())


def _copy_or_gunzip(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` atomically, decompressing when ``src`` ends in ``.gz``."""
    opener = gzip.open if src.suffix == ".gz" else open
    with atomic_output(dst) as tmp, opener(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def _stage_idx(info: DatasetInfo, folder: Path, cache: Path) -> RawLocation | None:
    """Find MNIST-like files in ``folder`` (torchvision layout or flat, plain or ``.gz``).

    Found files are copied / decompressed into the torchvision layout under
    ``cache`` (re-done on every call so the cache always mirrors the source).
    """
    found = {}
    for rel in info.raw_relpaths():
        base = Path(rel).name
        candidates = [folder / f"{rel}.gz", folder / base, folder / f"{base}.gz"]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            return None
        found[rel] = hit
    for rel, src in found.items():
        _copy_or_gunzip(src, cache / rel)
    return RawLocation(cache, tuple(found.values()))


def _from_folder(info: DatasetInfo, folder: Path, cache: Path) -> RawLocation | None:
    if _complete(info, folder):
        return RawLocation(folder)
    if info.is_idx and folder.is_dir():
        return _stage_idx(info, folder, cache)
    return None


def _not_found(info: DatasetInfo, searched: list[Path], cache: Path, failure: str | None) -> DatasetNotFoundError:
    """The one-line error naming every remedy."""
    why = f"the download failed ({failure})" if failure else \
        "downloading is disabled" if info.can_download else "its loader does not download"
    example = info.raw_relpaths()[0]
    msg = (f"{info.name}: raw dataset files not found (looked in {', '.join(map(str, searched))}) and {why}. "
           f"Fix: put {'torchvision' if info.can_download else 'its loader'}'s {info.name} files ({example}, ...) "
           f"under a folder and set datasets.{info.name}.raw_dir in the config or the CVGR_DATA environment variable")
    if info.can_download:
        msg += f", or allow network access so torchvision can download them into {cache}"
    if info.entry.debian_dir is not None:
        msg += ", or run `apt-get install dataset-fashion-mnist`"
    return DatasetNotFoundError(msg + ".")


def _download(info: DatasetInfo, cache: Path) -> None:
    """torchvision download of both splits into ``cache``, failing within DOWNLOAD_TIMEOUT_S per stall."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        for split in SPLITS:
            info.open(cache, split, download=True)
    finally:
        socket.setdefaulttimeout(previous)


def _locate(name: str, raw_dir: PathLike | None, download: bool, cache_dir: PathLike | None) -> RawLocation:
    """Search order: raw_dir or $CVGR_DATA; the Debian folder; the cache; a torchvision download."""
    info = dataset_info(name)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folders = [Path(d) for d in (raw_dir or os.environ.get("CVGR_DATA"), info.entry.debian_dir) if d]
    for folder in folders:
        location = _from_folder(info, folder, cache)
        if location is not None:
            return location
    if _complete(info, cache):
        return RawLocation(cache)
    searched = folders + [cache]
    if not download:
        raise _not_found(info, searched, cache, None)
    if not info.can_download:
        raise _not_found(info, searched, cache, None)
    try:
        _download(info, cache)
    except (URLError, RuntimeError, OSError) as exc:
        raise _not_found(info, searched, cache, " ".join(str(exc).split())[:300]) from exc
    return RawLocation(cache)


def find_raw(name: str, raw_dir: PathLike | None = None, download: bool = True,
             cache_dir: PathLike | None = None) -> Path:
    """A root folder from which torchvision's class for ``name`` can read both splits.

    Search order: (1) ``raw_dir`` (the config's datasets.<name>.raw_dir) or else ``$CVGR_DATA``;
    (2) for fmnist, Debian's ``/usr/share/datasets/fashion-mnist``. In (1) and
    (2) MNIST-like files may also lie flat or gzipped; they are then
    decompressed into the torchvision layout under the cache
    (``cache_dir`` or ``~/.cache/cvgr``). (3) the cache itself, (4) a
    torchvision download into the cache when ``download`` is true. Nothing
    found -> :class:`DatasetNotFoundError` naming the remedies.
    """
    return _locate(name, raw_dir, download, cache_dir).root


# --------------------------------------------------------------------------- preparation

def _read_split(info: DatasetInfo, root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, C, H, W) images and int64 labels of one split, checked against the catalogue."""
    try:
        images, labels = info.read(root, split)
    except RuntimeError as exc:
        raise CvgrError(f"{info.name}: torchvision rejected the raw files under {root} "
                        f"({' '.join(str(exc).split())}): replace them with the original files") from exc
    if images.dtype != np.uint8:
        raise CvgrError(f"{info.name}: the loader gave {images.dtype} images, expected uint8 (0..255): "
                        "convert them in the loader")
    if images.shape[1:] != info.entry.shape or len(images) != len(labels):
        raise CvgrError(f"{info.name}: the raw files under {root} give images {images.shape} and "
                        f"{len(labels)} labels, expected (N, {', '.join(map(str, info.entry.shape))}): "
                        f"they are not {info.name} files")
    if len(labels) and (labels.min() < 0 or labels.max() >= info.classes):
        raise CvgrError(f"{info.name}: labels under {root} span {labels.min()}..{labels.max()}, expected "
                        f"0..{info.classes - 1}: they are not {info.name} files")
    return images, labels


def prepare_dataset(name: str, out: PathLike, *, raw_dir: PathLike | None = None, download: bool = True,
                    cache_dir: PathLike | None = None) -> None:
    """Read ``name``'s raw files through torchvision and write the data HDF5 ``out`` (module docstring)."""
    info = dataset_info(name)
    location = _locate(name, raw_dir, download, cache_dir)
    root = location.root.resolve()
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        arrays[f"{split}/images"], arrays[f"{split}/labels"] = _read_split(info, root, split)
    raw_files = {rel: sha256_file(root / rel) for rel in info.raw_relpaths()}
    sources = [p.resolve() for p in location.sources]
    attrs = {
        "dataset": name,
        "classes": info.classes,
        "class_names": list(info.entry.classes),
        "raw_root": str(root),
        "raw_files": raw_files,
        "raw_sources": {str(p): sha256_file(p) for p in sources},
        "preprocessing": info.entry.preprocessing,
    }
    inputs = [root / rel for rel in raw_files] + sources
    write_h5(out, arrays, attrs, make_provenance("prepare", {"dataset": name}, inputs=inputs))


def load_split(path: PathLike, split: str, limit: int | None = None) -> tuple[Tensor, Tensor]:
    """float32 images ``uint8 / 255`` in [0, 1], shape (N, C, H, W), and int64 labels.

    Only the first ``limit`` examples when ``limit`` is given.
    """
    if split not in SPLITS:
        raise CvgrError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    names = (f"{split}/images", f"{split}/labels")
    data = read_h5(path, required=names, keys=names)
    images, labels = (data.arrays[n][:limit] for n in names)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def verify_raw(path: PathLike) -> None:
    """Raise StaleInputError if a raw file recorded in the data HDF5 ``path`` now differs.

    Re-hashes each recorded raw file (and source archive) that still exists;
    missing ones are fine because the HDF5 is self-contained.
    """
    attrs = read_h5(path, keys=()).attrs
    if "raw_files" not in attrs or "raw_root" not in attrs:
        raise CvgrError(f"{os.fspath(path)} is not a cvgr data file (no raw_files / raw_root attributes): "
                        "pass a results/data/{dataset}.h5 file")
    root = Path(attrs["raw_root"])
    recorded = {root / rel: sha for rel, sha in attrs["raw_files"].items()}
    recorded.update({Path(p): sha for p, sha in attrs.get("raw_sources", {}).items()})
    for file, sha in recorded.items():
        if file.is_file() and (now := sha256_file(file)) != sha:
            raise StaleInputError(
                f"raw file {file} changed since {os.fspath(path)} was prepared (recorded sha256 {sha[:16]}, "
                f"now {now[:16]}): rerun preparation with `snakemake --forcerun prepare` (this rebuilds "
                "everything downstream) or restore the original file")
