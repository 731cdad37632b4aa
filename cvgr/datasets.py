"""The registered datasets: each one declared once, by :func:`register_dataset`.

An entry says everything cvgr needs to know about a dataset: how its raw
files are read (``loader``), the stored image shape, the class names, the
training augmentation, its column heading and prose name, whether the paper
reports it, and its place in the tables' order. The vocabulary
(:data:`cvgr.vocab.DATASETS` and friends), the config's and the command
line's choices, the schema, the workflow's wildcards, the preparation stage
(:mod:`cvgr.data.prepare`) and the training augmentation (:mod:`cvgr.data.augment`) all
read it from here.

``loader`` is one of

* the name of a torchvision dataset class (``"FashionMNIST"``), imported
  from ``torchvision.datasets`` when the data are prepared;
* a ``"module:attribute"`` reference or the object itself: a class with
  torchvision's constructor (``Cls(root, train=..., download=...)``,
  attributes ``data`` and ``targets``), or a function
  ``load(root: Path, split: str) -> (images, labels)`` returning uint8
  images (N, C, H, W) and integer labels of split ``'train'`` or ``'test'``.

Classes outside torchvision's MNIST, CIFAR-10 and SVHN families and loader
functions list the files they read in ``raw_files`` (paths relative to the
raw folder; they are hashed into the data file's provenance). A plugin module
registers its own datasets the same way (docs/EXTENDING.md).

This module imports only the standard library.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .registry import Names, Registry


@dataclass(frozen=True)
class Augmentation:
    """Random horizontal flip (p = 1/2) when ``flip``; random crop of the original size after an edge pad of ``pad``."""

    flip: bool
    pad: int


@dataclass(frozen=True)
class Dataset:
    """One registered dataset (module docstring)."""

    name: str
    loader: str | Callable[..., Any]
    shape: tuple[int, int, int]          #: stored (C, H, W)
    classes: tuple[str, ...]             #: class names; label k is classes[k]
    label: str                           #: column heading, e.g. 'FMNIST'
    prose: str                           #: name in sentences, e.g. 'Fashion-MNIST'
    augmentation: Augmentation | None = None
    paper: bool = False                  #: the paper reports results on it
    preprocessing: str = "none"          #: one line recorded in the data file
    convert: str | Callable[[Any], Any] | None = None  #: loaded dataset object -> uint8 (N, C, H, W)
    raw_files: tuple[str, ...] = ()      #: files a loader reads, relative to the raw folder
    debian_dir: Path | None = None       #: where a Debian package installs the raw files

    @property
    def num_classes(self) -> int:
        return len(self.classes)


#: Every registered dataset, in the tables' order.
DATASETS: Registry[Dataset] = Registry("dataset")
#: The registered datasets the paper reports, in order.
PAPER_DATASETS: Names = Names(DATASETS, lambda d: d.paper)


def register_dataset(name: str, *, loader: str | Callable[..., Any], shape: tuple[int, int, int],
                     classes: tuple[str, ...] | list[str], label: str | None = None, prose: str | None = None,
                     augmentation: Augmentation | None = None, paper: bool = False, preprocessing: str = "none",
                     convert: str | Callable[[Any], Any] | None = None, raw_files: tuple[str, ...] | list[str] = (),
                     debian_dir: str | Path | None = None, order: float | None = None,
                     replace: bool = False) -> Dataset:
    """Declare dataset ``name`` (module docstring); ``label`` defaults to ``name.upper()``, ``prose`` to ``label``.

    ``order`` places it in the tables (default: after every dataset so far);
    ``replace`` swaps out an entry of the same name, keeping its place.
    """
    label = label or name.upper()
    entry = Dataset(name, loader, tuple(shape), tuple(classes), label, prose or label, augmentation, paper,
                    preprocessing, convert, tuple(raw_files), Path(debian_dir) if debian_dir else None)
    return DATASETS.register(name, entry, order=order, replace=replace)


def get_dataset(name: str) -> Dataset:
    """The entry of ``name``; :class:`~cvgr.registry.UnknownNameError` naming the registered datasets."""
    return DATASETS.get(name)


_DIGITS = tuple(str(d) for d in range(10))

register_dataset("mnist", loader="MNIST", shape=(1, 28, 28), classes=_DIGITS, paper=True)
register_dataset("svhn", loader="SVHN", shape=(1, 28, 28), classes=_DIGITS, paper=True,
                 convert="cvgr.data.prepare:svhn_images",
                 preprocessing="center crop 28; gray = 0.2989 R + 0.5870 G + 0.1140 B; per-image min-max "
                               "to [0, 1]; uint8 = rint(255 v); label 10 -> 0")
register_dataset("fmnist", loader="FashionMNIST", shape=(1, 28, 28), label="FMNIST", prose="Fashion-MNIST",
                 classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                          "Bag", "Ankle boot"),
                 augmentation=Augmentation(flip=True, pad=1), paper=True,
                 debian_dir="/usr/share/datasets/fashion-mnist")
register_dataset("cifar10", loader="CIFAR10", shape=(3, 32, 32), label="CIFAR-10",
                 classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                          "truck"),
                 augmentation=Augmentation(flip=True, pad=4), paper=True)
