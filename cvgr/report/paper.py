"""The paper's reported numbers and claims, as checked data (docs/METHOD.md section 7).

The numbers live in ``cvgr/report/reference/paper_results.csv``, shipped inside the
package: one row per reported accuracy (percent), in long form. A row is
identified by its key columns, so a table writer joins measured cells on them
without parsing labels:

============== ================================================================
column         meaning
============== ================================================================
table          ``transfer`` (black-box FGSM transfer) or ``nes`` (NES query attack)
dataset        ``mnist``, ``fmnist``, ``svhn`` or ``cifar10``
attack         ``fgsm`` (transfer) or ``nes``
eps            L-infinity budget of the attack (pixels in [0, 1])
steps          attack steps (1 for FGSM), or empty
queries        model queries per image (NES), or empty
images         number of test images the accuracy is over, or empty if not stated
source_field   transfer: field of the model the examples were crafted on; nes: empty
source_defense transfer: ``std`` or ``gr`` (the source's training); nes: empty
target         transfer: ``self`` (the source model itself) or ``second`` (the second,
               independently trained copy of the target type); nes: empty
field          field of the evaluated model (``real`` | ``complex``)
defense        training of the evaluated model: ``std``, ``gr`` or ``adv``
gr_beta        beta of the table's G.R. models (given on every row of the table)
adv_eps        PGD eps of the table's adversarially trained models, or empty
accuracy       the reported accuracy, percent
============== ================================================================

The key is (table, dataset, source_field, source_defense, target, field,
defense). For ``target = self`` the evaluated model is the source, so
``field, defense`` repeat ``source_field, source_defense``.

:func:`load_paper_results` checks the whole file: a missing file, a wrong
column set, an unknown name, a value that is not a number or out of range, or
a repeated key raises :class:`~cvgr.errors.CvgrError` with one line naming the
file, the line and the fix.

:data:`CLAIMS` holds the paper's three qualitative claims and
:data:`ORDERINGS` the orderings its tables show, each with a stable id that
:mod:`cvgr.report.verdicts` reports verdicts under.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import CvgrError
from ..vocab import DEFENSES, FIELDS, PAPER_DATASETS

COLUMNS = ("table", "dataset", "attack", "eps", "steps", "queries", "images", "source_field",
           "source_defense", "target", "field", "defense", "gr_beta", "adv_eps", "accuracy")
KEY_COLUMNS = ("table", "dataset", "source_field", "source_defense", "target", "field", "defense")
TABLES = ("transfer", "nes")
SOURCE_DEFENSES = ("std", "gr")
TARGETS = ("self", "second")
#: The attack each table's numbers come from.
TABLE_ATTACK = {"transfer": "fgsm", "nes": "nes"}
#: Where the package keeps the file (inside ``cvgr``).
RESOURCE = "report/reference/paper_results.csv"

_FIX = "correct that row (columns are documented in cvgr/report/paper.py) or restore the file shipped with cvgr"


@dataclass(frozen=True)
class Claim:
    """A statement of the paper that a measurement can support or contradict."""

    id: str
    text: str


#: The paper's qualitative claims (paraphrased).
CLAIMS: tuple[Claim, ...] = (
    Claim("clean-accuracy", "With the same beta, gradient regularization costs complex nets less clean "
                            "accuracy than real nets."),
    Claim("zeta", "During G.R. training the standard and the regularized parameter gradients agree more "
                  "(higher zeta) in complex nets than in real nets."),
    Claim("robustness", "G.R. complex nets withstand attacks better than G.R. real nets of similar size and "
                        "cost, and under query attacks come close to real nets with multi-step "
                        "adversarial training."),
)
#: The orderings the paper's tables show.
ORDERINGS: tuple[Claim, ...] = (
    Claim("transfer-complex-gr-target", "As a transfer target, a G.R. complex net is at least as accurate "
                                        "as a G.R. real net (same source)."),
    Claim("transfer-gr-target", "As a transfer target, a G.R. net is at least as accurate as the standard "
                                "net of its field (same source)."),
    Claim("nes-complex-gr", "Under NES, a G.R. complex net is at least as accurate as a G.R. real net."),
    Claim("nes-gr-defends", "Under NES, a G.R. net is more accurate than the undefended net of its field."),
)


class Keyed:
    """Something placed in a table by :data:`KEY_COLUMNS` (a reported number, or a measured one)."""

    @property
    def key(self) -> tuple[str | None, ...]:
        """(table, dataset, source_field, source_defense, target, field, defense)."""
        return tuple(getattr(self, c) for c in KEY_COLUMNS)


@dataclass(frozen=True)
class PaperResult(Keyed):
    """One reported accuracy (percent) with the setting it was measured in."""

    table: str
    dataset: str
    attack: str
    eps: float
    steps: int | None
    queries: int | None
    images: int | None
    source_field: str | None
    source_defense: str | None
    target: str | None
    field: str
    defense: str
    gr_beta: float | None
    adv_eps: float | None
    accuracy: float


@dataclass(frozen=True)
class PaperResults:
    """All rows of the file, in file order, with a lookup by key."""

    path: str
    rows: tuple[PaperResult, ...]

    def __iter__(self) -> Iterator[PaperResult]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def table(self, name: str) -> tuple[PaperResult, ...]:
        """The rows of table ``name`` (``transfer`` | ``nes``)."""
        return tuple(r for r in self.rows if r.table == name)

    def get(self, table: str, dataset: str, field: str, defense: str, *, source_field: str | None = None,
            source_defense: str | None = None, target: str | None = None) -> PaperResult | None:
        """The row with this key, or ``None`` when the paper reports no such number."""
        key = (table, dataset, source_field, source_defense, target, field, defense)
        return next((r for r in self.rows if r.key == key), None)


def default_path() -> Path:
    """The file shipped inside the package."""
    return Path(str(resources.files("cvgr").joinpath(RESOURCE)))


class _RowError(Exception):
    """A problem with one row; the loader adds the file and line."""


def _text(row: dict[str, str], col: str, allowed: Sequence[str]) -> str:
    value = row[col].strip()
    if value not in allowed:
        shown = "empty" if value == "" else repr(value)
        raise _RowError(f"{col} is {shown}; allowed: {', '.join(allowed)}")
    return value


def _number(row: dict[str, str], col: str, *, integer: bool = False, empty_ok: bool = False,
            low: float = 0.0, high: float = math.inf) -> float | int | None:
    value = row[col].strip()
    if value == "":
        if empty_ok:
            return None
        raise _RowError(f"{col} is empty; it needs a number")
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise _RowError(f"{col} is {value!r}, not {kind}") from None
    if not (low <= number <= high) or (not integer and not math.isfinite(number)):
        raise _RowError(f"{col} is {value}, outside [{low:g}, {high:g}]")
    return number


def _parse_row(row: dict[str, str]) -> PaperResult:
    """One checked :class:`PaperResult` from a CSV row (all columns present)."""
    table = _text(row, "table", TABLES)
    transfer = table == "transfer"
    attack = _text(row, "attack", (TABLE_ATTACK[table],))
    if not transfer:
        filled = [c for c in ("source_field", "source_defense", "target") if row[c].strip()]
        if filled:
            raise _RowError(f"{', '.join(filled)} must be empty in table {table} (a query attack has no source)")
    source_field = _text(row, "source_field", FIELDS) if transfer else None
    source_defense = _text(row, "source_defense", SOURCE_DEFENSES) if transfer else None
    target = _text(row, "target", TARGETS) if transfer else None
    field = _text(row, "field", FIELDS)
    defense = _text(row, "defense", DEFENSES)
    if target == "self" and (field, defense) != (source_field, source_defense):
        raise _RowError(f"target is self but field, defense ({field}, {defense}) differ from the source's "
                        f"({source_field}, {source_defense})")
    return PaperResult(
        table=table, dataset=_text(row, "dataset", PAPER_DATASETS), attack=attack,
        eps=_number(row, "eps", high=1.0), steps=_number(row, "steps", integer=True, empty_ok=True, low=1),
        queries=_number(row, "queries", integer=True, empty_ok=True, low=1),
        images=_number(row, "images", integer=True, empty_ok=True, low=1),
        source_field=source_field, source_defense=source_defense, target=target, field=field, defense=defense,
        gr_beta=_number(row, "gr_beta", empty_ok=True), adv_eps=_number(row, "adv_eps", empty_ok=True, high=1.0),
        accuracy=_number(row, "accuracy", high=100.0))


def _check_header(where: str, header: list[str] | None) -> None:
    if header is None:
        raise CvgrError(f"{where}:1: the file is empty; expected the header {','.join(COLUMNS)}. Fix: {_FIX}")
    got = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in got]
    extra = [c for c in got if c not in COLUMNS]
    if missing or extra or len(got) != len(set(got)):
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unknown {', '.join(extra)}"] if extra else []) + \
                (["repeated columns"] if len(got) != len(set(got)) else [])
        raise CvgrError(f"{where}:1: wrong column set ({'; '.join(parts)}); expected {','.join(COLUMNS)}. "
                        f"Fix: {_FIX}")


def load_paper_results(path: str | Path | None = None) -> PaperResults:
    """Read and check the paper's numbers (the packaged file unless ``path`` is given)."""
    file = default_path() if path is None else Path(path)
    where = str(file)
    if not file.is_file():
        raise CvgrError(f"{where}: no such file; pass the path of a paper-results CSV, or path=None for "
                        f"the one shipped with cvgr (reinstall cvgr if that one is missing)")
    rows: list[PaperResult] = []
    seen: dict[tuple, int] = {}
    with file.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        _check_header(where, header)
        names = [h.strip() for h in header]
        for raw in reader:
            line = reader.line_num
            if not raw or all(not v.strip() for v in raw):
                continue
            if len(raw) != len(names):
                raise CvgrError(f"{where}:{line}: {len(raw)} values for {len(names)} columns. Fix: {_FIX}")
            try:
                result = _parse_row(dict(zip(names, raw)))
            except _RowError as err:
                raise CvgrError(f"{where}:{line}: {err}. Fix: {_FIX}") from None
            if result.key in seen:
                raise CvgrError(f"{where}:{line}: the key {dict(zip(KEY_COLUMNS, result.key))} repeats line "
                                f"{seen[result.key]}. Fix: keep one of the two rows")
            seen[result.key] = line
            rows.append(result)
    return PaperResults(where, tuple(rows))
