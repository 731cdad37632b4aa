"""Verdicts on the paper's claims, from plain measured inputs (the paper-vs-measured rows: :mod:`cvgr.report.vs_paper`).

Pure functions: no file I/O. The inputs are

* :class:`ModelRecord`: one trained model (dataset, field, defense, beta,
  seed), its clean test accuracy as ``correct`` of ``n`` images, its final
  zeta and, when known, its per-epoch zeta curve;
* :class:`Cell`: one attacked accuracy, ``correct`` of ``n`` images, keyed
  like a row of :mod:`cvgr.report.paper` (table ``transfer`` or ``nes``, dataset,
  source field/defense and target for transfer, field and defense of the
  evaluated model) plus a ``seed`` that tells repetitions apart.

Each claim is a statement about a *difference* ``D`` (in percentage points
for accuracies, in zeta units for zeta) that the paper says is positive.
Where a claim can be read in more than one way, each reading is its own row:

* ``clean-accuracy``: *drop from std*, ``D = (R-std - R-G.R.) - (C-std -
  C-G.R.)``, and *absolute at equal beta*, ``D = C-G.R. - R-G.R.``; the two
  can disagree (a complex std net that is more accurate can lose more and
  still end higher).
* ``zeta`` ("stays higher during training"): *per-epoch curve*, the mean over
  epochs of the per-seed difference of the two zeta curves
  (:func:`cvgr.report.stats.curve_difference_ci`), and *last epoch*.

:func:`cvgr.report.vs_paper.claims_table` returns one :class:`ClaimRow` per claim, scope and
reading, with a sentence saying what it tests, the estimate of ``D``, a 95 %
interval and a verdict:

* ``holds``: the interval lies above 0;
* ``contradicted``: the interval lies below 0;
* ``not resolved at this sample size``: the interval contains 0 (or there is
  no interval, see zeta below).

Intervals (docs/METHOD.md section 7)
------------------------------------
An accuracy is a binomial proportion over test images. ``D`` is a linear
combination ``sum_i c_i p_i`` (``c_i = +-1``) of accuracies measured on
different models.

* **One run per model** (or runs whose seeds do not line up): MOVER, the
  "method of variance estimates recovery" (Zou & Donner 2008) that gives
  Newcombe's hybrid score interval for two proportions. With ``(l_i, u_i)``
  the interval of ``p_i`` -- here the exact Clopper-Pearson interval of
  :func:`cvgr.report.stats.binomial_ci`, so that each accuracy's interval is the
  one cvgr reports elsewhere (Newcombe uses Wilson's) --

      L = D - sqrt(sum_i (c_i p_i - min(c_i l_i, c_i u_i))^2)
      U = D + sqrt(sum_i (max(c_i l_i, c_i u_i) - c_i p_i)^2)

  Several runs of one model type are pooled (counts added), which ignores
  the spread between seeds; the row's ``method`` says so. Accuracies of two
  targets attacked with the same source's examples share the images and are
  typically positively correlated; while they are, treating them as
  independent, as MOVER does, makes the interval wider than a paired one
  (which would need per-image outcomes, not counts).
* **Two accuracies on the same images** (cells that carry per-image
  ``outcomes``, one run each: two targets of one source's examples, two
  models under NES on the first test images): Newcombe's paired interval
  (:func:`paired_interval`), MOVER with the images' continuity-corrected
  correlation, narrower than the independent one whenever the two are
  positively correlated.
* **The same >= 2 seeds for every model type**: ``D_s`` is computed per
  seed and the interval is Student's t interval of their mean
  (:func:`cvgr.report.stats.mean_ci`); the runs of different seeds are
  independent, so the ``D_s`` are too.

zeta has no binomial interval. With the same >= 2 seeds for both fields the
t interval over seeds is used (for the curve reading: of each seed's mean
over epochs of the difference). Otherwise there is no interval: the verdict is
``not resolved at this sample size`` unless the caller passes
``zeta_margin`` and ``|D|`` exceeds it, in which case the sign of ``D``
decides. cvgr sets no margin by default: one run says nothing about the
spread of zeta between seeds.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence

from ..errors import CvgrError
from .paper import CLAIMS, ORDERINGS, TABLES, TARGETS, Keyed
from .stats import LEVEL, mean_ci, mover_interval, paired_interval
from .stats import newcombe_phi  # noqa: F401  (re-exported, with mover_interval and paired_interval)
from ..vocab import DEFENSES, FIELDS

HOLDS, CONTRADICTED, UNRESOLVED = "holds", "contradicted", "not resolved at this sample size"
VERDICTS = (HOLDS, CONTRADICTED, UNRESOLVED)
_TEXT = {c.id: c.text for c in CLAIMS + ORDERINGS}
_SHORT = {"real": "R", "complex": "C"}


@dataclass(frozen=True)
class ModelRecord:
    """One trained model: clean accuracy ``correct / n`` and its zeta."""

    dataset: str
    field: str
    defense: str
    beta: float
    seed: int
    correct: int
    n: int
    zeta: float
    #: zeta of each epoch, first to last (empty: not known; the curve reading then has no row).
    zeta_curve: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _check_names(f"model {self.field}-{self.defense}-s{self.seed}", field=self.field, defense=self.defense)
        object.__setattr__(self, "zeta_curve", tuple(float(z) for z in self.zeta_curve))
        _check_counts(f"model {self.field}-{self.defense}-s{self.seed}", self.correct, self.n)


@dataclass(frozen=True)
class Cell(Keyed):
    """One attacked accuracy ``correct / n``, keyed like a :class:`cvgr.report.paper.PaperResult`."""

    table: str
    dataset: str
    field: str
    defense: str
    correct: int
    n: int
    source_field: str | None = None
    source_defense: str | None = None
    target: str | None = None
    seed: int = 0
    #: Optional per-image outcomes (1 = correct), in test-image order: they let two cells on the same images
    #: be compared pairwise (:func:`paired_interval`).
    outcomes: Sequence[int] | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        what = f"{self.table} cell {self.key}"
        if self.table not in TABLES:
            raise CvgrError(f"{what}: table {self.table!r} is unknown; use one of {', '.join(TABLES)}")
        _check_names(what, field=self.field, defense=self.defense)
        if self.table == "transfer":
            _check_names(what, field=self.source_field, defense=self.source_defense)
            if self.target not in TARGETS:
                raise CvgrError(f"{what}: target {self.target!r} is unknown; use one of {', '.join(TARGETS)}")
        _check_counts(what, self.correct, self.n)


@dataclass(frozen=True)
class ClaimRow:
    """The verdict on one claim in one scope. Differences and bounds are in percentage points (zeta: zeta units)."""

    claim: str
    statement: str
    scope: str
    reading: str
    tests: str
    evidence: str
    estimate: float
    low: float | None
    high: float | None
    method: str
    verdict: str


def _check_names(what: str, *, field: str | None, defense: str | None) -> None:
    if field not in FIELDS:
        raise CvgrError(f"{what}: field {field!r} is unknown; use one of {', '.join(FIELDS)}")
    if defense not in DEFENSES:
        raise CvgrError(f"{what}: defense {defense!r} is unknown; use one of {', '.join(DEFENSES)}")


def _check_counts(what: str, correct: int, n: int) -> None:
    if not (n >= 1 and 0 <= correct <= n):
        raise CvgrError(f"{what}: needs 0 <= correct <= n and n >= 1, got correct={correct}, n={n}; "
                        "pass the counts of correctly classified images and of images")


# ---------------------------------------------------------------- intervals


@dataclass(frozen=True)
class _Runs:
    """The runs (seed -> (correct, n)) of one model type, with a label for the evidence string."""

    label: str
    runs: dict[int, tuple[int, int]]

    @property
    def pooled(self) -> tuple[int, int]:
        return sum(c for c, _ in self.runs.values()), sum(n for _, n in self.runs.values())

    def text(self) -> str:
        c, n = self.pooled
        runs = "" if len(self.runs) == 1 else f", {len(self.runs)} runs"
        return f"{self.label} {100 * c / n:.1f}% ({c}/{n}{runs})"


def _accuracy_difference(groups: Sequence[_Runs], coefs: Sequence[int],
                         level: float) -> tuple[float, float, float, str]:
    """Estimate, low, high (percentage points) and method for ``sum_i c_i acc_i``."""
    seeds = {frozenset(g.runs) for g in groups}
    if len(seeds) == 1 and len(next(iter(seeds))) >= 2:
        common = sorted(next(iter(seeds)))
        per_seed = [100 * sum(c * g.runs[s][0] / g.runs[s][1] for c, g in zip(coefs, groups)) for s in common]
        lo, hi = mean_ci(per_seed, level)
        return math.fsum(per_seed) / len(per_seed), lo, hi, f"t over {len(common)} seeds"
    est, lo, hi = mover_interval([(c, *g.pooled) for c, g in zip(coefs, groups)], level)
    pooled = " (runs pooled)" if any(len(g.runs) > 1 for g in groups) else ""
    return 100 * est, 100 * lo, 100 * hi, f"MOVER, Clopper-Pearson over test images{pooled}"


def _verdict(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return UNRESOLVED
    return HOLDS if low > 0 else CONTRADICTED if high < 0 else UNRESOLVED


@dataclass(frozen=True)
class _Reading:
    """Which reading of a claim a row scores (a short name) and, in words, what it tests."""

    name: str
    tests: str


def _row(claim: str, scope: str, reading: _Reading, evidence: str, est: float, lo: float | None,
         hi: float | None, method: str, verdict: str | None = None) -> ClaimRow:
    return ClaimRow(claim, _TEXT[claim], scope, reading.name, reading.tests, evidence, est, lo, hi, method,
                    _verdict(lo, hi) if verdict is None else verdict)


def _accuracy_row(claim: str, scope: str, reading: _Reading, groups: Sequence[_Runs], coefs: Sequence[int],
                  level: float, evidence: Callable[[float], str] | None = None) -> ClaimRow:
    est, lo, hi, method = _accuracy_difference(groups, coefs, level)
    text = evidence(est) if evidence else f"{groups[0].text()} vs {groups[1].text()}; difference {est:+.1f} pp"
    return _row(claim, scope, reading, text, est, lo, hi, method)


# ---------------------------------------------------------------- grouping


def _runs_of(items: Iterable, label: str, what: str) -> _Runs:
    runs: dict[int, tuple[int, int]] = {}
    for item in items:
        if item.seed in runs:
            raise CvgrError(f"{what}: two results with seed {item.seed}; pass one result per seed")
        runs[item.seed] = (item.correct, item.n)
    return _Runs(label, runs)


def _models_by(models: Sequence[ModelRecord]) -> dict[tuple[str, str, str, float], list[ModelRecord]]:
    out: dict[tuple[str, str, str, float], list[ModelRecord]] = defaultdict(list)
    for m in models:
        out[(m.dataset, m.field, m.defense, 0.0 if m.defense == "std" else float(m.beta))].append(m)
    return out


def _cells_by(cells: Sequence[Cell]) -> dict[tuple, list[Cell]]:
    out: dict[tuple, list[Cell]] = defaultdict(list)
    for c in cells:
        out[c.key].append(c)
    return out


def _label(field: str, defense: str) -> str:
    return f"{_SHORT[field]}-{'G.R.' if defense == 'gr' else 'Std.' if defense == 'std' else defense}"


# ---------------------------------------------------------------- the claims


def _pair_row(claim: str, scope: str, reading: _Reading, cells: dict[tuple, list[Cell]], better: tuple,
              worse: tuple, level: float, extra: Callable[[], str] | None = None) -> ClaimRow | None:
    """``D = acc(better) - acc(worse)`` for two cell keys, or ``None`` if either was not measured."""
    if better not in cells or worse not in cells:
        return None
    groups = [_runs_of(cells[k], _label(k[5], k[6]), f"cell {k}") for k in (better, worse)]
    pair = [cells[better], cells[worse]]
    if all(len(p) == 1 and p[0].outcomes is not None for p in pair) and \
            len(pair[0][0].outcomes) == len(pair[1][0].outcomes):
        est, lo, hi = paired_interval(pair[0][0].outcomes, pair[1][0].outcomes, level)
        text = f"{groups[0].text()} vs {groups[1].text()} on the same images; difference {100 * est:+.1f} pp"
        row = _row(claim, scope, reading, text, 100 * est, 100 * lo, 100 * hi,
                   "paired (Newcombe 10), Clopper-Pearson over test images")
    else:
        row = _accuracy_row(claim, scope, reading, groups, (1, -1), level)
    if extra is not None:
        row = replace(row, evidence=f"{row.evidence}; {extra()}")
    return row


def _transfer_key(dataset: str, source: tuple[str, str], target: tuple[str, str]) -> tuple:
    return ("transfer", dataset, *source, "second", *target)


_FGSM_SELF = _Reading("white-box FGSM", "C-G.R. is more accurate than R-G.R. under FGSM on its own gradients "
                     "(the transfer table's Self cells): D = acc C-G.R. - acc R-G.R., pp")
_NES_GR = _Reading("NES", "C-G.R. is more accurate than R-G.R. under the NES query attack: "
                   "D = acc C-G.R. - acc R-G.R., pp")
_TRANSFER_C = _Reading("transfer targets", "on this source's FGSM examples the C-G.R. target is more accurate "
                       "than the R-G.R. target: D = acc C-G.R. - acc R-G.R., pp")
_NES_DEFENDS = {f: _Reading("NES", f"under NES the {f} G.R. net is more accurate than the {f} std net: "
                            f"D = acc {_SHORT[f]}-G.R. - acc {_SHORT[f]}-Std., pp") for f in FIELDS}
_TRANSFER_GR = {f: _Reading("transfer targets", f"on this source's FGSM examples the {f} G.R. target is more "
                            f"accurate than the {f} std target: D = acc {_SHORT[f]}-G.R. - acc {_SHORT[f]}-Std., pp")
                for f in FIELDS}


def robustness_rows(cells: dict[tuple, list[Cell]], level: float) -> list[ClaimRow]:
    """White-box FGSM (the transfer table's Self cells of G.R. sources) and NES: ``acc C-gr - acc R-gr``."""
    rows = []
    datasets = sorted({k[1] for k in cells})
    for dataset in datasets:
        own = [("transfer", dataset, f, "gr", "self", f, "gr") for f in ("complex", "real")]
        row = _pair_row("robustness", f"{dataset}, white-box FGSM (transfer table, Self)", _FGSM_SELF, cells,
                        *own, level)
        rows += [row] if row else []
        nes = [("nes", dataset, None, None, None, f, "gr") for f in ("complex", "real")]
        adv = ("nes", dataset, None, None, None, "real", "adv")

        def gap(a=adv, c=nes[0]) -> str:
            if a not in cells:
                return "no adversarially trained R net measured"
            adv_runs = _runs_of(cells[a], "R-adv", f"cell {a}")
            est, lo, hi, _ = _accuracy_difference([adv_runs, _runs_of(cells[c], "C-G.R.", f"cell {c}")], (1, -1),
                                                  level)
            k, n = adv_runs.pooled
            return f"R-adv {100 * k / n:.1f}%: gap to C-G.R. {est:+.1f} pp [{lo:+.1f}, {hi:+.1f}]"

        row = _pair_row("robustness", f"{dataset}, NES", _NES_GR, cells, *nes, level, gap)
        rows += [row] if row else []
    return rows


def ordering_rows(cells: dict[tuple, list[Cell]], level: float) -> list[ClaimRow]:
    """The orderings of the paper's transfer and NES tables, one row per source (and target field)."""
    rows: list[ClaimRow | None] = []
    for dataset in sorted({k[1] for k in cells}):
        for source in [(f, d) for f in FIELDS for d in ("std", "gr")]:
            name = f"{dataset}, source {_label(*source)}"
            rows.append(_pair_row("transfer-complex-gr-target", name, _TRANSFER_C, cells,
                                  _transfer_key(dataset, source, ("complex", "gr")),
                                  _transfer_key(dataset, source, ("real", "gr")), level))
            for field in FIELDS:
                rows.append(_pair_row("transfer-gr-target", f"{name}, {field} targets", _TRANSFER_GR[field], cells,
                                      _transfer_key(dataset, source, (field, "gr")),
                                      _transfer_key(dataset, source, (field, "std")), level))
        nes = lambda f, d: ("nes", dataset, None, None, None, f, d)  # noqa: E731
        rows.append(_pair_row("nes-complex-gr", f"{dataset}, NES", _NES_GR, cells, nes("complex", "gr"),
                              nes("real", "gr"), level))
        for field in FIELDS:
            rows.append(_pair_row("nes-gr-defends", f"{dataset}, NES, {field}", _NES_DEFENDS[field], cells,
                                  nes(field, "gr"), nes(field, "std"), level))
    return [r for r in rows if r is not None]
