"""``cvgr diff REV_A REV_B``: what changed between two snapshots of ``results/``.

Three parts:

- the files whose content changed, were added or were deleted (DVC's
  ``diff`` of the two snapshots' listings: md5 by md5, nothing downloaded);
- the models retrained: changed, added or removed ``results/models/*/*.pt``;
- the table cells that changed, for every ``results/tables/*.csv`` in both
  snapshots. Rows are matched by the table's key columns (:data:`ROW_KEYS`;
  by position for a table not listed there or lacking a key column); a row
  that only one version has is one change of column ``(row)``. For a
  changed cell: old and new value as written, ``difference = new - old``
  where both are numbers, and where the table gives the cell a 95% interval
  (:data:`INTERVALS`) whether the new value lies outside the old version's
  interval ``[low, high]``.

Tables are read through DVC (from the local cache, or streamed from the remote).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from pathlib import PurePosixPath

from tabulate import tabulate

from .store import RESULTS, Snapshot, dvc_repo, read_snapshot, repo_root

_VS_PAPER = ("table", "dataset", "source_field", "source_defense", "target", "field", "defense")

#: table (file stem) -> the columns that name a row; the other columns are its values.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "transfer": ("source", "target"),
    "nes": ("dataset", "model"),
    "whitebox": ("dataset", "attack", "model", "eps"),
    "training": ("dataset", "model"),
    "masking": ("dataset", "model"),
    "claims": ("claim", "scope"),
    "transfer_vs_paper": _VS_PAPER,
    "nes_vs_paper": _VS_PAPER,
    "frontier": ("dataset", "field", "beta"),
}

#: table -> {value column: (column of its 95% interval's low end, of its high end)}.
INTERVALS: dict[str, dict[str, tuple[str, str]]] = {
    "claims": {"estimate": ("low", "high")},
    "masking": {"acc_worst": ("worst_ci_lo", "worst_ci_hi")},
    "transfer_vs_paper": {"measured": ("ci_low", "ci_high")},
    "nes_vs_paper": {"measured": ("ci_low", "ci_high")},
    "frontier": {"clean": ("clean_low", "clean_high"), "robust": ("robust_low", "robust_high"),
                 "gap": ("gap_low", "gap_high")},
}

TABLES = f"{RESULTS}/tables/"
ROW = "(row)"  #: the column of a change that adds or removes a whole row
MODELS = f"{RESULTS}/models/"


@dataclasses.dataclass(frozen=True)
class CellChange:
    """One changed cell: ``new`` replaces ``old`` (column ``(row)``: 'present' / '' for a row added or removed)."""

    table: str
    row: str
    column: str
    old: str
    new: str
    difference: float | None  #: new - old where both are numbers
    beyond: bool | None  #: new outside the old 95% interval, where the table has one for the cell


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _rows(table: str, text: str) -> dict[str, dict[str, str]]:
    """``{row label: row}``; the label joins the key columns' non-empty values (``#k`` on repeats)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    keys = ROW_KEYS.get(table, ())
    if not rows or any(k not in rows[0] for k in keys) or not keys:
        return {f"row {i + 1}": r for i, r in enumerate(rows)}
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        label = ", ".join(f"{k}={r[k]}" for k in keys if r[k] != "")
        n, unique = 1, label
        while unique in out:
            n += 1
            unique = f"{label} #{n}"
        out[unique] = r
    return out


def _beyond(table: str, column: str, old_row: dict[str, str], new: str) -> bool | None:
    """Whether ``new`` lies outside the old row's 95% interval of ``column`` (None: no interval)."""
    ends = INTERVALS.get(table, {}).get(column)
    if ends is None:
        return None
    lo, hi, value = _number(old_row.get(ends[0], "")), _number(old_row.get(ends[1], "")), _number(new)
    if lo is None or hi is None or value is None:
        return None
    return value < lo or value > hi


def table_changes(table: str, old_text: str, new_text: str) -> list[CellChange]:
    """The cells that differ between two versions of one table (rows matched as the module says)."""
    old, new = _rows(table, old_text), _rows(table, new_text)
    changes = []
    for label in list(old) + [k for k in new if k not in old]:
        a, b = old.get(label, {}), new.get(label, {})
        if not a or not b:  # a row only one version has: one line, not one per cell
            changes.append(CellChange(table, label, ROW, "" if not a else "present", "" if not b else "present",
                                      None, None))
            continue
        for column in list(a) + [c for c in b if c not in a]:
            x, y = a.get(column, ""), b.get(column, "")
            if x == y:
                continue
            nx, ny = _number(x), _number(y)
            diff = ny - nx if nx is not None and ny is not None else None
            changes.append(CellChange(table, label, column, x, y, diff, _beyond(table, column, a, y)))
    return changes


@dataclasses.dataclass
class VersionDiff:
    """The difference between two snapshots."""

    old: Snapshot
    new: Snapshot
    files: dict[str, list[str]]  #: 'added' / 'deleted' / 'modified' -> paths
    cells: list[CellChange]
    tables_added: list[str]
    tables_deleted: list[str]

    @property
    def retrained(self) -> list[str]:
        """Models (``dataset/model``) whose ``.pt`` changed, appeared or disappeared."""
        return sorted({PurePosixPath(p[len(MODELS):]).with_suffix("").as_posix()
                       for paths in self.files.values() for p in paths
                       if p.startswith(MODELS) and p.endswith(".pt")})


def _read(root: os.PathLike, commit: str, paths: list[str]) -> dict[str, str]:
    with dvc_repo(root, rev=commit) as repo:
        return {p: repo.dvcfs.read_bytes(p).decode() for p in paths}


def diff(start: str | os.PathLike, rev_a: str, rev_b: str) -> VersionDiff:
    """Compare the snapshots at ``rev_a`` (old) and ``rev_b`` (new); CvgrError where either has none."""
    root = repo_root(start)
    old, new = read_snapshot(root, rev_a), read_snapshot(root, rev_b)
    with dvc_repo(root) as repo:
        raw = repo.diff(old.commit, new.commit, targets=[RESULTS])
    files = {k: sorted(e["path"] for e in raw.get(k, []) if not e["path"].endswith("/"))
             for k in ("added", "deleted", "modified")}
    modified = [p for p in files["modified"] if p.startswith(TABLES) and p.endswith(".csv")]
    before, after = _read(root, old.commit, modified), _read(root, new.commit, modified)
    cells = [c for p in modified for c in table_changes(PurePosixPath(p).stem, before[p], after[p])]
    tables = {k: [p for p in files[k] if p.startswith(TABLES) and p.endswith(".csv")] for k in ("added", "deleted")}
    return VersionDiff(old, new, files, cells, tables["added"], tables["deleted"])


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:+.6g}"


def format_diff(d: VersionDiff) -> str:
    """The report ``cvgr diff`` prints: header, files, models retrained, changed cells (a GitHub table)."""
    n = sum(map(len, d.files.values()))
    lines = [f"cvgr diff {d.old.short} ({d.old.configfile}) -> {d.new.short} ({d.new.configfile})", "",
             f"files changed: {n} ({len(d.files['modified'])} modified, {len(d.files['added'])} added, "
             f"{len(d.files['deleted'])} deleted)"]
    for kind in ("modified", "added", "deleted"):
        lines += [f"  {kind:9s} {p}" for p in d.files[kind]]
    lines += ["", f"models retrained: {', '.join(d.retrained) if d.retrained else 'none'}", ""]
    lines += [f"table added: {p}" for p in d.tables_added] + [f"table deleted: {p}" for p in d.tables_deleted]
    lines.append(f"table cells changed: {len(d.cells)}")
    if d.cells:
        rows = [(c.table, c.row, c.column, c.old, c.new, _fmt(c.difference),
                 "" if c.beyond is None else ("yes" if c.beyond else "no")) for c in d.cells]
        lines.append(tabulate(rows, headers=["table", "row", "column", "old", "new", "difference",
                                             "beyond old 95% interval"], tablefmt="github", disable_numparse=True))
    return "\n".join(lines)
