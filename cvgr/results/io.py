"""Result files: atomic HDF5 / checkpoint writing, reading with clear errors, provenance.

HDF5 layout written by :func:`write_h5`
---------------------------------------
- every array is a dataset at its name; a name with ``/`` lives in groups
  (``"train/images"`` is dataset ``images`` in group ``train``). Datasets are
  contiguous (no compression, no chunking) and carry no timestamps
  (``track_times=False``), so identical inputs give byte-identical files.
- attributes of type ``str``, ``bool``, ``int`` and ``float`` (and numpy
  scalars of those kinds) are stored natively; every other value (``None``,
  lists, tuples, dicts, numpy arrays) is stored as a JSON string and its name
  is listed in the JSON attribute ``_json_attrs``. :func:`read_h5` undoes both,
  so attributes come back as plain Python values (tuples and arrays come back
  as lists).
- the provenance dict is the JSON attribute ``provenance`` (sorted keys).

Provenance (:func:`make_provenance`) records what produced a file and from
what: the package version, the stage and a hash of the stage's source files
(:func:`cvgr.study.codehash.code_hash`), the config slice and its hash, the seed, the device, the
SLURM job id, and for each input file its path, sha256 and (for cvgr ``.h5``
/ ``.pt`` files) the input's own provenance, so the record nests back to the
raw dataset files. It holds no timestamps.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import h5py
import numpy as np

from ..errors import CorruptFileError, CvgrError
from ..study.codehash import code_hash

PathLike = str | os.PathLike

_JSON_ATTRS = "_json_attrs"
_PROVENANCE = "provenance"
_RESERVED_ATTRS = (_JSON_ATTRS, _PROVENANCE)


# --------------------------------------------------------------------------- hashing

def sha256_file(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk_size`` chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(obj: Any) -> Any:
    """JSON fallback for numpy values, paths and sets."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and compact separators: equal data -> equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


# --------------------------------------------------------------------------- provenance

def _missing(path: PathLike) -> CvgrError:
    return CvgrError(f"{os.fspath(path)} does not exist: build it with snakemake "
                     "(or the cvgr command that makes it)")


def make_provenance(stage: str, config: Mapping[str, Any], inputs: Iterable[PathLike] = (), *,
                    seed: int | None = None, device: Any = None) -> dict[str, Any]:
    """The provenance record of one stage's output (no timestamps).

    Keys: ``cvgr_version``, ``stage``, ``code_hash``, ``config`` (the config
    slice made JSON-able), ``config_hash`` (sha256 of its canonical JSON),
    ``seed``, ``device`` (``str(device)`` or None), ``slurm_job_id``
    (``$SLURM_JOB_ID`` or None) and ``inputs``: one ``{path, sha256,
    provenance}`` per input, in the order given, where ``provenance`` is the
    input's own record for a cvgr ``.h5`` / ``.pt`` file and None otherwise.
    """
    from .. import __version__

    config_json = canonical_json(dict(config))
    records = []
    for path in inputs:
        if not os.path.isfile(path):
            raise _missing(path)
        records.append({"path": os.fspath(path), "sha256": sha256_file(path),
                        "provenance": read_provenance(path)})
    return {
        "cvgr_version": __version__,
        "stage": stage,
        "code_hash": code_hash(stage),
        "config": json.loads(config_json),
        "config_hash": hashlib.sha256(config_json.encode()).hexdigest(),
        "seed": None if seed is None else int(seed),
        "device": None if device is None else str(device),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID") or None,
        "inputs": records,
    }


def read_provenance(path: PathLike) -> dict[str, Any] | None:
    """The provenance dict of a cvgr ``.h5`` (attribute) or ``.pt`` (key); None otherwise.

    Also None for a readable ``.h5`` / ``.pt`` without provenance; an unreadable
    one raises :class:`CorruptFileError`.
    """
    suffix = Path(path).suffix
    if suffix == ".h5":
        with _open_h5(path) as fh:
            raw = fh.attrs.get(_PROVENANCE)
            return None if raw is None else _loads(path, _PROVENANCE, raw)
    if suffix == ".pt":
        prov = load_checkpoint(path).get("provenance")
        return prov if isinstance(prov, dict) else None
    return None


def _short(digest: str | None) -> str:
    return digest[:8] if digest else "-"


def _describe(prov: Mapping[str, Any]) -> str:
    """``[stage] code 1a2b3c4d config 5e6f7a8b seed 0 device cpu slurm 42`` for one record."""
    text = f"[{prov.get('stage')}] code {_short(prov.get('code_hash'))} config {_short(prov.get('config_hash'))}"
    for key, label in (("seed", "seed"), ("device", "device"), ("slurm_job_id", "slurm job")):
        if prov.get(key) is not None:
            text += f" {label} {prov[key]}"
    return text


def _input_status(path: str, recorded: str) -> str:
    """'ok', 'missing' or 'CHANGED since ...' for an input file versus its recorded sha256."""
    if not os.path.isfile(path):
        return "missing"
    now = sha256_file(path)
    if now == recorded:
        return "ok"
    return f"CHANGED since it was used (recorded sha256 {recorded[:12]}, now {now[:12]})"


def _chain_lines(prov: Mapping[str, Any], prefix: str) -> list[str]:
    lines = []
    inputs = prov.get("inputs") or []
    for i, rec in enumerate(inputs):
        last = i == len(inputs) - 1
        line = f"{prefix}{'└── ' if last else '├── '}{rec['path']}  {_input_status(rec['path'], rec['sha256'])}"
        if rec.get("provenance"):
            line += f"  {_describe(rec['provenance'])}"
        lines.append(line)
        if rec.get("provenance"):
            lines += _chain_lines(rec["provenance"], prefix + ("    " if last else "│   "))
    return lines


def provenance_chain(path: PathLike) -> str:
    """A tree from ``path`` back to the raw dataset files, one line per file.

    Each line: the path, for inputs whether the file now on disk matches the
    sha256 recorded when it was consumed (``ok`` / ``CHANGED since ...`` /
    ``missing``), then for cvgr files the stage, short code and config hashes
    and the seed / device / SLURM job when set. Nested nodes show the
    provenance recorded at the time (what the result was really built from).
    Relative input paths are resolved against the current directory (the
    workflow's working directory).
    """
    if not os.path.isfile(path):
        raise _missing(path)
    prov = read_provenance(path)
    if prov is None:
        raise CvgrError(f"{os.fspath(path)} carries no cvgr provenance: only .h5 and .pt files "
                        "written by cvgr have one")
    return "\n".join([f"{os.fspath(path)}  {_describe(prov)}"] + _chain_lines(prov, ""))


# --------------------------------------------------------------------------- atomic writing

@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; move it onto ``path`` on success.

    The temp name is ``.{name}.{pid}.{random}.tmp`` in the same directory (so
    ``os.replace`` is atomic). Parent directories are created. If the block
    raises, the temp file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- HDF5

@dataclass
class H5Data:
    """What :func:`read_h5` returns."""

    path: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


def _native_attr(value: Any) -> Any | None:
    """The value to store natively in HDF5, or None if it must go through JSON."""
    if isinstance(value, np.generic) and value.ndim == 0 and not isinstance(value, np.void):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return None


def write_h5(path: PathLike, arrays: Mapping[str, Any], attrs: Mapping[str, Any],
             provenance: Mapping[str, Any]) -> None:
    """Write arrays, attributes and provenance to ``path`` atomically (format: module docstring)."""
    clash = [name for name in attrs if name in _RESERVED_ATTRS]
    if clash:
        raise ValueError(f"attribute names {clash} are reserved by cvgr.results.io")
    with atomic_output(path) as tmp:
        with h5py.File(tmp, "w") as fh:
            for name, value in arrays.items():
                fh.create_dataset(name, data=np.asarray(value), track_times=False)
            json_names = []
            for name, value in attrs.items():
                native = _native_attr(value)
                if native is None:
                    json_names.append(name)
                    fh.attrs[name] = canonical_json(value)
                else:
                    fh.attrs[name] = native
            fh.attrs[_JSON_ATTRS] = canonical_json(json_names)
            fh.attrs[_PROVENANCE] = canonical_json(dict(provenance))


@contextlib.contextmanager
def _open_h5(path: PathLike) -> Iterator[h5py.File]:
    """Open an HDF5 file for reading; missing -> CvgrError, unreadable -> CorruptFileError."""
    if not os.path.isfile(path):
        raise _missing(path)
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(os.fspath(path), f"not a readable HDF5 file ({_one_line(exc)})") from exc
    with fh:
        yield fh


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _loads(path: PathLike, name: str, raw: Any) -> Any:
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(os.fspath(path), f"attribute {name!r} is not valid JSON ({exc})") from exc


def _python_value(value: Any) -> Any:
    """numpy scalar -> Python scalar; bytes -> str; anything else unchanged."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    return value


def _dataset_names(fh: h5py.File) -> list[str]:
    names: list[str] = []
    fh.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def read_h5(path: PathLike, required: Sequence[str] = (), keys: Sequence[str] | None = None) -> H5Data:
    """Read a file written by :func:`write_h5`.

    ``keys=None`` loads every array, otherwise only those named. A missing
    file raises CvgrError (build it); an unreadable / truncated file, a
    required or requested array that is absent, or missing provenance raises
    :class:`CorruptFileError`.
    """
    with _open_h5(path) as fh:
        try:
            present = _dataset_names(fh)
            absent = [name for name in list(required) + list(keys or []) if name not in present]
            if absent:
                raise CorruptFileError(os.fspath(path), f"missing array(s) {', '.join(absent)} "
                                       f"(it has: {', '.join(present) or 'none'})")
            arrays = {name: fh[name][()] for name in (present if keys is None else keys)}
            raw_attrs = {name: _python_value(value) for name, value in fh.attrs.items()}
        except (OSError, RuntimeError, KeyError) as exc:
            raise CorruptFileError(os.fspath(path), f"unreadable HDF5 content ({_one_line(exc)})") from exc
    if _PROVENANCE not in raw_attrs:
        raise CorruptFileError(os.fspath(path), "no 'provenance' attribute (not written by cvgr.results.io.write_h5)")
    provenance = _loads(path, _PROVENANCE, raw_attrs.pop(_PROVENANCE))
    json_names = _loads(path, _JSON_ATTRS, raw_attrs.pop(_JSON_ATTRS, "[]"))
    attrs = {name: _loads(path, name, value) if name in json_names else value
             for name, value in raw_attrs.items()}
    return H5Data(os.fspath(path), arrays, attrs, provenance)


# --------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: PathLike, obj: Mapping[str, Any]) -> None:
    """``torch.save(obj)`` to ``path`` atomically, the same bytes for the same ``obj`` whatever the path.

    Saved through an open file: given a path, torch names the archive's root folder after it, here the
    random temporary name, so equal checkpoints would differ in bytes (and in every hash recording them).
    """
    import torch  # imported here so table-only stages do not pay for torch

    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        torch.save(dict(obj), fh)


def _torch_reason(exc: BaseException) -> str:
    """The informative first sentence of a torch.load error (its messages run to paragraphs)."""
    text = _one_line(exc)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    text = text.split(" Check the documentation")[0].split(". ")[0].strip()
    return f"{type(exc).__name__}: {text}"[:200]


def load_checkpoint(path: PathLike) -> dict[str, Any]:
    """``torch.load`` onto the CPU; missing -> CvgrError, unreadable -> CorruptFileError.

    Loads with ``weights_only=True`` (plain containers and tensors only); a
    checkpoint holding other Python objects is retried with the full
    unpickler, which is acceptable because cvgr wrote it.
    """
    import torch

    if not os.path.isfile(path):
        raise _missing(path)
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            if "Unsupported global" not in str(exc):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged zip / pickle
        raise CorruptFileError(os.fspath(path), f"not a readable torch checkpoint ({_torch_reason(exc)})") from exc
    if not isinstance(obj, dict):
        raise CorruptFileError(os.fspath(path), f"holds a {type(obj).__name__}, not a cvgr checkpoint dict")
    return obj
