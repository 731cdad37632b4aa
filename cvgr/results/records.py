"""One record type per result file, with its ``write`` and ``read``.

Steps write their results through these records and tables and figures read
them back, so a file's layout is stated once, here (and described for users
in docs/FILES.md). A record is a frozen dataclass; on disk (:mod:`cvgr.results.io`,
HDF5 with provenance) its fields become:

* numpy arrays -> datasets of the same name; a ``dict`` of arrays -> a group
  of datasets (``history/zeta``);
* models and attacks -> their names (``real-gr64-s0``, ``pgd10``);
* specs -> a JSON attribute of their plain values;
* numbers, strings, booleans -> attributes.

Every file also gets the attribute ``record`` (the record's kind, checked on
reading) and, for people and other tools, a few summary attributes or arrays
derived from the fields (``accuracy``, ``n_images``, ...); reading ignores
those and derives them again from the per-image data.
"""
from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from ..errors import CorruptFileError, CvgrError
from .io import PathLike, read_h5, write_h5
from ..study.settings import Spec, plain
from ..study.specs import NesSpec, WhiteboxSpec
from ..vocab import AttackId, ModelId

_KIND = "record"

#: The per-epoch quantities of a training history, in the order training records them.
HISTORY_KEYS = ("epoch", "train_loss", "train_penalty", "train_acc", "test_loss", "test_acc", "zeta", "lr")


def _percent(correct: np.ndarray) -> float:
    """100 * mean of a 0/1 array (NaN when empty)."""
    return 100.0 * float(np.mean(correct)) if correct.size else float("nan")


class Record:
    """Base of the result records: fields <-> HDF5 (module docstring)."""

    KIND: ClassVar[str]
    #: The file a record was read from ('' for a record made in memory); for messages.
    path: ClassVar[str] = ""

    # ------------------------------------------------------------------ writing
    def write(self, path: PathLike, provenance: Mapping[str, Any]) -> None:
        """Write the record atomically with ``provenance`` (:func:`cvgr.results.io.write_h5`)."""
        attrs, arrays = self.split()
        extra_attrs, extra_arrays = self.summary()
        write_h5(path, {**arrays, **extra_arrays}, {_KIND: self.KIND, **attrs, **extra_attrs}, provenance)

    def split(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The fields as the file holds them: (attributes as plain values, arrays by dataset name)."""
        attrs: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            elif isinstance(value, dict):
                arrays.update({f"{f.name}/{k}": np.asarray(v) for k, v in value.items()})
            else:
                attrs[f.name] = plain(value)
        return attrs, arrays

    def summary(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Derived attributes and arrays written for readers of the file (never read back)."""
        return {}, {}

    # ------------------------------------------------------------------ reading
    @classmethod
    def read(cls, path: PathLike) -> Any:
        """The record stored at ``path``; CvgrError if the file holds another kind of result."""
        h5 = read_h5(path)
        kind = h5.attrs.get(_KIND)
        if kind != cls.KIND:
            what = f"a {kind} file" if kind else "not a cvgr result record"
            raise CvgrError(f"{h5.path} is {what}, not a {cls.KIND} file: pass {cls.KIND} files here")
        values = {}
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            values[f.name] = _field(h5, f.name, hints[f.name])
        try:
            record = cls(**values)
        except (TypeError, ValueError) as exc:
            raise CorruptFileError(h5.path, f"fields do not make a {cls.KIND} ({exc})") from exc
        object.__setattr__(record, "path", h5.path)
        return record


def _field(h5: Any, name: str, tp: Any) -> Any:
    """One field's value from a read file, converted to its type."""
    if tp is np.ndarray:
        if name not in h5.arrays:
            raise CorruptFileError(h5.path, f"missing array {name!r}")
        return h5.arrays[name]
    if typing.get_origin(tp) is dict:
        prefix = f"{name}/"
        return {k[len(prefix):]: v for k, v in h5.arrays.items() if k.startswith(prefix)}
    if name not in h5.attrs:
        raise CorruptFileError(h5.path, f"missing attribute {name!r}")
    value = h5.attrs[name]
    try:
        if tp in (ModelId, AttackId):
            return tp.parse(str(value))
        if isinstance(tp, type) and issubclass(tp, Spec):
            return tp.from_dict(value)
    except (ValueError, CvgrError) as exc:
        raise CorruptFileError(h5.path, f"attribute {name!r}: {exc}") from exc
    return value


def _record(cls: type) -> type:
    return dataclass(frozen=True, eq=False)(cls)


class _Outcomes(Record):
    """A record whose ``correct`` field holds one 0/1 outcome per image."""

    correct: np.ndarray

    @property
    def n_images(self) -> int:
        return int(self.correct.size)

    @property
    def accuracy(self) -> float:
        """Percent of images classified correctly."""
        return _percent(self.correct)


# ----------------------------------------------------------------------------- the records

@_record
class TrainingHistory(Record):
    """``results/models/{dataset}/{model}.h5``: one trained model's per-epoch history.

    ``history`` holds one float64 array per key of :data:`HISTORY_KEYS`
    (epoch, train_loss, train_penalty, train_acc, test_loss, test_acc, zeta, lr).
    ``eval_images`` is how many test images ``test_acc`` was measured on.
    """

    KIND = "training-history"

    dataset: str
    model: ModelId
    arch: str
    mode: str
    epochs: int
    train_size: int
    eval_images: int
    history: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        missing = [k for k in HISTORY_KEYS if k not in self.history]
        if missing:
            raise ValueError(f"history lacks {', '.join('history/' + k for k in missing)}")
        if len({np.shape(v) for v in self.history.values()}) > 1:
            raise ValueError("history arrays differ in length")

    @property
    def clean_acc(self) -> float:
        """Test accuracy (%) after the last epoch."""
        acc = self.history["test_acc"]
        return float(acc[-1]) if acc.size else float("nan")

    @property
    def clean_correct(self) -> int:
        """Correct test images after the last epoch (``clean_acc`` of ``eval_images``)."""
        return int(round(self.clean_acc * self.eval_images / 100.0))

    @property
    def final_zeta(self) -> float:
        """zeta of the last epoch."""
        zeta = self.history["zeta"]
        return float(zeta[-1]) if zeta.size else float("nan")

    def summary(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"clean_acc": self.clean_acc, "final_zeta": self.final_zeta}, {}


@_record
class CraftedSet(Record):
    """``results/craft/{dataset}/{attack}/{model}.h5``: examples crafted on a source model."""

    KIND = "crafted-set"

    dataset: str
    model: ModelId
    attack: AttackId
    eps: float
    x_adv: np.ndarray    #: float32 (N, C, H, W)
    labels: np.ndarray   #: int64 (N,)
    indices: np.ndarray  #: int64 (N,), positions in the test split

    def __post_init__(self) -> None:
        if not len(self.x_adv) == len(self.labels) == len(self.indices):
            raise ValueError(f"x_adv {self.x_adv.shape}, labels {self.labels.shape} and indices "
                             f"{self.indices.shape} differ in length")

    def summary(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"n_images": int(len(self.labels))}, {}


@_record
class TransferCell(_Outcomes):
    """``results/transfer/{dataset}/{source}/{target}.h5``: a target's accuracy on a source's examples.

    ``role`` is the target's place in the source's table row
    (:data:`cvgr.vocab.TRANSFER_ROLES`: ``self`` or the target's model type).
    """

    KIND = "transfer-cell"

    dataset: str
    source: ModelId
    target: ModelId
    role: str
    attack: AttackId
    eps: float
    correct: np.ndarray  #: uint8 (N,), 1 where the target classifies the example correctly

    def summary(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"n_images": self.n_images, "accuracy": self.accuracy}, {}


@_record
class WhiteboxCurve(Record):
    """``results/{whitebox,audit}/{dataset}/{attack}/{model}.h5``: one attack on one model over an eps grid.

    ``spec`` is the job's :class:`cvgr.study.specs.WhiteboxSpec` (attack, its options, the eps grid,
    images, random start); ``correct`` has one row per eps of ``spec.eps``.
    """

    KIND = "whitebox-curve"

    dataset: str
    model: ModelId
    spec: WhiteboxSpec
    correct: np.ndarray  #: uint8 (E, N), per eps and image
    labels: np.ndarray   #: int64 (N,), the images' labels

    def __post_init__(self) -> None:
        if self.correct.ndim != 2 or self.correct.shape[0] != len(self.spec.eps):
            raise ValueError(f"eps {len(self.spec.eps)} values and correct {self.correct.shape} differ: "
                             "correct needs one row per eps")
        if self.labels.shape != (self.correct.shape[1],):
            raise ValueError(f"labels {self.labels.shape} and correct {self.correct.shape} differ in images")

    @property
    def attack(self) -> AttackId:
        return self.spec.attack

    @property
    def eps(self) -> np.ndarray:
        """The eps grid, float64 (E,)."""
        return np.asarray(self.spec.eps, dtype=np.float64)

    @property
    def random_start(self) -> bool:
        """Whether the attack started at a random point (only attacks with the ``random_start`` option do)."""
        return self.spec.random_start and "random_start" in self.spec.attack.options

    def at(self, eps: float) -> np.ndarray:
        """Per-image correctness (bool) at ``eps``; KeyError if the grid lacks it."""
        hits = np.flatnonzero(np.isclose(self.eps, eps, rtol=0, atol=1e-12))
        if hits.size == 0:
            raise KeyError(f"{self.path or 'curve'}: eps {eps:g} is not in its grid {self.eps.tolist()}")
        return self.correct[hits[0]].astype(bool)

    @property
    def n_images(self) -> int:
        return int(self.correct.shape[1])

    @property
    def accuracy(self) -> np.ndarray:
        """Accuracy (%) per eps."""
        return np.array([_percent(row) for row in self.correct], dtype=np.float64)

    def summary(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"n_images": self.n_images, "attack": self.attack.name, "random_start": self.random_start},
                {"eps": self.eps, "accuracy": self.accuracy})


@_record
class NesResult(_Outcomes):
    """``results/nes/{dataset}/{model}.h5``: the NES attack on one model, with the queries it spent."""

    KIND = "nes-result"

    dataset: str
    model: ModelId
    spec: NesSpec
    queries_per_image: float      #: counted, not assumed
    correct: np.ndarray           #: uint8 (N,) under the attack
    clean_correct: np.ndarray     #: uint8 (N,) on the clean images

    def __post_init__(self) -> None:
        if self.correct.shape != self.clean_correct.shape or self.correct.ndim != 1:
            raise ValueError(f"correct {self.correct.shape} and clean_correct {self.clean_correct.shape} differ")

    @property
    def clean_accuracy(self) -> float:
        return _percent(self.clean_correct)

    def summary(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"n_images": self.n_images, "accuracy": self.accuracy, "clean_accuracy": self.clean_accuracy}, {}


RECORDS: tuple[type[Record], ...] = (TrainingHistory, CraftedSet, TransferCell, WhiteboxCurve, NesResult)


def read_any(path: PathLike) -> Record:
    """The record at ``path`` whatever its kind (for ``cvgr show``)."""
    kind = read_h5(path, keys=[]).attrs.get(_KIND)
    for cls in RECORDS:
        if cls.KIND == kind:
            return cls.read(path)
    raise CvgrError(f"{os.fspath(path)} is not a cvgr result record (kind {kind!r}); "
                    "pass a file written by a cvgr stage")
