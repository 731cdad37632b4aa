"""Lineage of tables and figures: a provenance sidecar beside each one, and the chain through it.

A table or figure (``results/tables/transfer.csv``, ``results/figures/zeta_fmnist.png``, an HTML page)
keeps its bytes as they are; its provenance goes to the sidecar ``FILE.prov.json`` (:data:`SUFFIX`):

``file``
    the file's name; ``sha256`` the sha256 of its bytes when it was written.
``provenance``
    :func:`cvgr.results.io.make_provenance` of the ``tables`` stage: the code hash, the config slice the
    file was built under (``rule``, ``wildcards`` and, per dataset, the config sections that decide
    its content) and its hash, and every input file with its sha256 and the input's own provenance
    (an HDF5 result's attribute, or another table's sidecar), so the record nests down to the raw
    dataset files.

The JSON has sorted keys and no timestamps: the same inputs, config and code give the same sidecar.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import CorruptFileError, CvgrError
from .io import (PathLike, _describe, atomic_output, make_provenance, provenance_chain, read_provenance,
                 sha256_file)
from ..study.layers import with_default

#: The sidecar of FILE is FILE + SUFFIX.
SUFFIX = ".prov.json"
_STAGE = "tables"


def sidecar(path: PathLike) -> Path:
    """The sidecar path of ``path``."""
    return Path(os.fspath(path) + SUFFIX)


def read_sidecar(path: PathLike) -> dict[str, Any] | None:
    """The sidecar of ``path`` as written by :func:`write_sidecars`, or None when it has none.

    An unreadable sidecar, or one without ``sha256`` and ``provenance``, raises :class:`CorruptFileError`.
    """
    side = sidecar(path)
    if not side.is_file():
        return None
    try:
        record = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(os.fspath(side), f"not a readable provenance sidecar ({exc})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("provenance"), dict) or "sha256" not in record:
        raise CorruptFileError(os.fspath(side), "not a provenance sidecar (no 'sha256' and 'provenance')")
    return record


def file_provenance(path: PathLike) -> dict[str, Any] | None:
    """The provenance of any cvgr output: an ``.h5`` / ``.pt`` file's own, else its sidecar's; None if none."""
    if Path(path).suffix in (".h5", ".pt"):
        return read_provenance(path)
    record = read_sidecar(path)
    return None if record is None else record["provenance"]


def config_slice(config: Mapping[str, Any], sections: Sequence[str],
                 datasets: Iterable[str] | None = None) -> dict[str, Any]:
    """``{dataset: {section: config["datasets"][dataset][section]}}`` for the sections a dataset has.

    ``datasets`` limits the slice to those datasets (a per-dataset figure); None takes all.
    """
    chosen = config.get("datasets", {})
    names = list(chosen) if datasets is None else list(datasets)
    out = {}
    for name in names:
        have = chosen.get(name) or {}
        found = {s: have[s] for s in sections if have.get(s) is not None}
        if found:
            out[name] = found
    return out


def write_sidecars(outputs: Sequence[PathLike], inputs: Sequence[PathLike], config: Mapping[str, Any]) -> None:
    """Write ``FILE.prov.json`` for each of ``outputs`` (which must exist): see the module docstring."""
    prov = make_provenance(_STAGE, config, inputs)
    for rec in prov["inputs"]:  # a table read by another (a page's Markdown) nests its sidecar's record
        if rec["provenance"] is None:
            rec["provenance"] = file_provenance(rec["path"])
    for out in outputs:
        record = {"file": Path(out).name, "sha256": sha256_file(out), "provenance": prov}
        with atomic_output(sidecar(out)) as tmp:
            Path(tmp).write_text(json.dumps(record, sort_keys=True, indent=1) + "\n")


def record_lineage(smk: Any, sections: Sequence[str] = ()) -> None:
    """Write the sidecars of a Snakemake job's outputs (``smk``: the ``snakemake`` object of a script).

    The rule declares the sidecar of every output among its outputs (``FILE.prov.json``); the config
    slice holds ``sections`` of each dataset the study runs (of the job's ``dataset`` wildcard only,
    when it has one), as merged: cvgr's config.yaml under the user's overrides (``smk.config``).
    """
    outputs = [str(o) for o in smk.output if not str(o).endswith(SUFFIX)]
    declared = {str(o) for o in smk.output if str(o).endswith(SUFFIX)}
    if declared != {str(sidecar(o)) for o in outputs}:
        raise ValueError(f"rule {smk.rule} must declare exactly one {SUFFIX} output per output; "
                         f"it has {sorted(declared)} for {outputs}")
    wildcards = dict(smk.wildcards.items())
    merged = with_default(smk.config, Path(smk.scriptdir).parent / "config.yaml")
    datasets = [wildcards["dataset"]] if "dataset" in wildcards else merged.get("run")
    config = {"rule": smk.rule, "wildcards": wildcards,
              "datasets": config_slice(merged, sections, datasets)}
    write_sidecars(outputs, [str(i) for i in smk.input], config)


def _status(path: str, recorded: str, now: dict[str, str]) -> str:
    """'ok', 'missing' or 'CHANGED since it was used ...'; each file is hashed once per chain (``now``)."""
    if path not in now:
        now[path] = sha256_file(path) if os.path.isfile(path) else ""
    if not now[path]:
        return "missing"
    if now[path] == recorded:
        return "ok"
    return f"CHANGED since it was used (recorded sha256 {recorded[:12]}, now {now[path][:12]})"


def _tree(prov: Mapping[str, Any], prefix: str, now: dict[str, str], shown: set[tuple[str, str]]) -> list[str]:
    """One line per input, nested; an input already shown with the same sha256 is not expanded again."""
    lines = []
    inputs = prov.get("inputs") or []
    for i, rec in enumerate(inputs):
        last = i == len(inputs) - 1
        line = f"{prefix}{'└── ' if last else '├── '}{rec['path']}  {_status(rec['path'], rec['sha256'], now)}"
        sub = rec.get("provenance")
        key = (rec["path"], rec["sha256"])
        if sub:
            line += f"  {_describe(sub)}" + ("  (inputs as above)" if key in shown else "")
        lines.append(line)
        if sub and key not in shown:
            shown.add(key)
            lines += _tree(sub, prefix + ("    " if last else "│   "), now, shown)
    return lines


def lineage_chain(path: PathLike) -> str:
    """The tree from any cvgr output back to the raw dataset files (:func:`cvgr.results.io.provenance_chain`).

    For a table or figure, the first line also says whether the file still has the sha256 its
    sidecar recorded (``ok`` or ``CHANGED since it was written ...``). Its inputs share their own
    inputs (every transfer cell reads the same data file), so a file is hashed once and its inputs
    are listed where it first appears; later lines say ``(inputs as above)``.
    """
    if Path(path).suffix in (".h5", ".pt"):
        return provenance_chain(path)
    if not os.path.isfile(path):
        raise CvgrError(f"{os.fspath(path)} does not exist: build it with snakemake")
    record = read_sidecar(path)
    if record is None:
        raise CvgrError(f"{os.fspath(path)} carries no cvgr provenance: cvgr's .h5 and .pt files hold it, and "
                        f"its tables and figures have a {sidecar(path).name} beside them (rerun snakemake to "
                        "write it)")
    prov, now = record["provenance"], {}
    own = _status(os.fspath(path), record["sha256"], now).replace("since it was used", "since it was written")
    return "\n".join([f"{os.fspath(path)}  {own}  {_describe(prov)}"] + _tree(prov, "", now, set()))
