"""Verdicts on the paper's claims and the paper-vs-measured comparison, from plain measured inputs.

Pure functions: no file I/O. The inputs are

* :class:`ModelRecord`: one trained model (dataset, field, defense, beta,
  seed), its clean test accuracy as ``correct`` of ``n`` images, and its
  zeta (the caller passes the final epoch's or the epoch mean; the claim is
  about either);
* :class:`Cell`: one attacked accuracy, ``correct`` of ``n`` images, keyed
  like a row of :mod:`cvgr.paper` (table ``transfer`` or ``nes``, dataset,
  source field/defense and target for transfer, field and defense of the
  evaluated model) plus a ``seed`` that tells repetitions apart.

Each claim is a statement about a *difference* ``D`` (in percentage points
for accuracies, in zeta units for zeta) that the paper says is positive.
:func:`claims_table` returns one :class:`ClaimRow` per claim and scope with
the estimate of ``D``, a 95 % interval and a verdict:

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
  :func:`cvgr.stats.binomial_ci`, so that each accuracy's interval is the
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
  (:func:`cvgr.stats.mean_ci`); the runs of different seeds are
  independent, so the ``D_s`` are too.

zeta has no binomial interval. With the same >= 2 seeds for both fields the
t interval over seeds is used. Otherwise there is no interval: the verdict is
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

from .errors import CvgrError
from .paper import CLAIMS, ORDERINGS, TABLES, TARGETS, Keyed, PaperResult
from .stats import LEVEL, binomial_ci, mean_ci
from .vocab import DEFENSES, FIELDS

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

    def __post_init__(self) -> None:
        _check_names(f"model {self.field}-{self.defense}-s{self.seed}", field=self.field, defense=self.defense)
        _check_counts(f"model {self.field}-{self.defense}-s{self.seed}", self.correct, self.n)


@dataclass(frozen=True)
class Cell(Keyed):
    """One attacked accuracy ``correct / n``, keyed like a :class:`cvgr.paper.PaperResult`."""

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
    evidence: str
    estimate: float
    low: float | None
    high: float | None
    method: str
    verdict: str


@dataclass(frozen=True)
class Comparison:
    """A paper number beside the measured one (percent); ``low, high``: Clopper-Pearson interval of the measurement."""

    key: tuple[str | None, ...]
    paper: float | None
    measured: float | None
    difference: float | None
    low: float | None
    high: float | None
    correct: int | None
    n: int | None
    runs: int


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


def mover_interval(parts: Sequence[tuple[int, int, int]], level: float = LEVEL) -> tuple[float, float, float]:
    """``(D, L, U)`` for ``D = sum_i c_i k_i / n_i`` over ``parts = [(c_i, k_i, n_i)]`` (fractions).

    MOVER with Clopper-Pearson limits (:func:`cvgr.stats.binomial_ci`); for
    two parts ``(+1, -1)`` this is Newcombe's construction of an interval for
    a difference of independent proportions.
    """
    est, low_sq, high_sq = 0.0, 0.0, 0.0
    for c, k, n in parts:
        p = k / n
        lo, hi = binomial_ci(k, n, level)
        a, b = sorted((c * lo, c * hi))
        est += c * p
        low_sq += (c * p - a) ** 2
        high_sq += (b - c * p) ** 2
    return est, est - math.sqrt(low_sq), est + math.sqrt(high_sq)


def newcombe_phi(a: int, b: int, c: int, d: int) -> float:
    """The continuity-corrected correlation of a paired 2x2 table (Newcombe 1998, method 10).

    ``a``: both correct, ``b``: only the first, ``c``: only the second,
    ``d``: neither; ``n = a + b + c + d`` and ``A = a d - b c``. The
    numerator is ``A - n/2`` if ``A > n/2``, 0 if ``0 <= A <= n/2`` and ``A``
    if ``A < 0``; ``phi = numerator / sqrt((a+b)(c+d)(a+c)(b+d))``, 0 when a
    margin is empty.
    """
    n, cross = a + b + c + d, a * d - b * c
    numerator = cross - n / 2 if cross > n / 2 else 0.0 if cross >= 0 else float(cross)
    denominator = math.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    return numerator / denominator if denominator else 0.0


def paired_interval(better: Sequence[int], worse: Sequence[int],
                    level: float = LEVEL) -> tuple[float, float, float]:
    """``(D, L, U)`` for ``D = p1 - p2`` of two 0/1 outcome lists on the same images (fractions).

    Newcombe's (1998) method 10 for paired proportions, with the
    Clopper-Pearson limits ``(l_i, u_i)`` of :func:`cvgr.stats.binomial_ci`
    (Newcombe uses Wilson's) and the images' continuity-corrected correlation
    ``phi`` of :func:`newcombe_phi`::

        L = D - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
        U = D + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)

    With ``phi = 0`` this is the independent MOVER of :func:`mover_interval`;
    accuracies on the same images are usually positively correlated, and the
    interval is then narrower.
    """
    if len(better) != len(worse) or not better:
        raise CvgrError(f"paired outcomes need the same images: got {len(better)} and {len(worse)}")
    n = len(better)
    a = sum(1 for x, y in zip(better, worse) if x and y)
    b = sum(1 for x, y in zip(better, worse) if x and not y)
    c = sum(1 for x, y in zip(better, worse) if not x and y)
    d = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    (l1, u1), (l2, u2) = binomial_ci(a + b, n, level), binomial_ci(a + c, n, level)
    phi = newcombe_phi(a, b, c, d)
    est = p1 - p2
    low = est - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = est + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return est, low, high


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


def _row(claim: str, scope: str, evidence: str, est: float, lo: float | None, hi: float | None,
         method: str, verdict: str | None = None) -> ClaimRow:
    return ClaimRow(claim, _TEXT[claim], scope, evidence, est, lo, hi, method,
                    _verdict(lo, hi) if verdict is None else verdict)


def _accuracy_row(claim: str, scope: str, groups: Sequence[_Runs], coefs: Sequence[int], level: float,
                  evidence: Callable[[float], str] | None = None) -> ClaimRow:
    est, lo, hi, method = _accuracy_difference(groups, coefs, level)
    text = evidence(est) if evidence else f"{groups[0].text()} vs {groups[1].text()}; difference {est:+.1f} pp"
    return _row(claim, scope, text, est, lo, hi, method)


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


def _clean_accuracy_rows(models: Sequence[ModelRecord], level: float) -> list[ClaimRow]:
    """``D = (acc R-std - acc R-gr) - (acc C-std - acc C-gr)`` per dataset and beta > 0: C's drop is smaller."""
    by = _models_by(models)
    rows = []
    for dataset, beta in sorted({(d, b) for (d, _, defense, b) in by if defense == "gr"}):
        keys = [(dataset, "real", "std", 0.0), (dataset, "real", "gr", beta),
                (dataset, "complex", "std", 0.0), (dataset, "complex", "gr", beta)]
        if not all(k in by for k in keys):
            continue
        groups = [_runs_of(by[k], _label(k[1], k[2]), f"{dataset} {k[1]}-{k[2]} beta {k[3]:g}") for k in keys]

        def evidence(est: float, g=groups) -> str:
            drops = [100 * (g[i].pooled[0] / g[i].pooled[1] - g[i + 1].pooled[0] / g[i + 1].pooled[1])
                     for i in (0, 2)]
            return (f"clean-accuracy drop std -> G.R.: R {drops[0]:.1f} pp ({g[0].text()}, {g[1].text()}), "
                    f"C {drops[1]:.1f} pp ({g[2].text()}, {g[3].text()}); R's drop minus C's {est:+.1f} pp")

        rows.append(_accuracy_row("clean-accuracy", f"{dataset}, beta {beta:g}", groups, (1, -1, -1, 1), level,
                                  evidence))
    return rows


def _zeta_rows(models: Sequence[ModelRecord], level: float, margin: float | None) -> list[ClaimRow]:
    """``D = zeta C-gr - zeta R-gr`` per dataset and beta > 0."""
    by = _models_by(models)
    rows = []
    for dataset, beta in sorted({(d, b) for (d, _, defense, b) in by if defense == "gr"}):
        real, cplx = by.get((dataset, "real", "gr", beta)), by.get((dataset, "complex", "gr", beta))
        if not real or not cplx:
            continue
        zr, zc = {m.seed: m.zeta for m in real}, {m.seed: m.zeta for m in cplx}
        est = math.fsum(zc.values()) / len(zc) - math.fsum(zr.values()) / len(zr)
        evidence = (f"zeta C-G.R. {_values(zc)}, R-G.R. {_values(zr)}; difference of means {est:+.3f}")
        scope = f"{dataset}, beta {beta:g}"
        if set(zr) == set(zc) and len(zr) >= 2:
            diffs = [zc[s] - zr[s] for s in sorted(zr)]
            lo, hi = mean_ci(diffs, level)
            rows.append(_row("zeta", scope, evidence, est, lo, hi, f"t over {len(diffs)} seeds"))
        elif margin is not None and abs(est) > margin:
            rows.append(_row("zeta", scope, evidence, est, None, None, f"no interval; |difference| > margin {margin:g}",
                             HOLDS if est > 0 else CONTRADICTED))
        else:
            reason = "no interval: needs the same >= 2 seeds for both fields"
            rows.append(_row("zeta", scope, evidence, est, None, None, reason, UNRESOLVED))
    return rows


def _values(by_seed: dict[int, float]) -> str:
    return "[" + ", ".join(f"s{s}: {v:.3f}" for s, v in sorted(by_seed.items())) + "]"


def _pair_row(claim: str, scope: str, cells: dict[tuple, list[Cell]], better: tuple, worse: tuple,
              level: float, extra: Callable[[], str] | None = None) -> ClaimRow | None:
    """``D = acc(better) - acc(worse)`` for two cell keys, or ``None`` if either was not measured."""
    if better not in cells or worse not in cells:
        return None
    groups = [_runs_of(cells[k], _label(k[5], k[6]), f"cell {k}") for k in (better, worse)]
    pair = [cells[better], cells[worse]]
    if all(len(p) == 1 and p[0].outcomes is not None for p in pair) and \
            len(pair[0][0].outcomes) == len(pair[1][0].outcomes):
        est, lo, hi = paired_interval(pair[0][0].outcomes, pair[1][0].outcomes, level)
        text = f"{groups[0].text()} vs {groups[1].text()} on the same images; difference {100 * est:+.1f} pp"
        row = _row(claim, scope, text, 100 * est, 100 * lo, 100 * hi,
                   "paired (Newcombe 10), Clopper-Pearson over test images")
    else:
        row = _accuracy_row(claim, scope, groups, (1, -1), level)
    if extra is not None:
        row = replace(row, evidence=f"{row.evidence}; {extra()}")
    return row


def _transfer_key(dataset: str, source: tuple[str, str], target: tuple[str, str]) -> tuple:
    return ("transfer", dataset, *source, "second", *target)


def _robustness_rows(cells: dict[tuple, list[Cell]], level: float) -> list[ClaimRow]:
    """White-box FGSM (the transfer table's Self cells of G.R. sources) and NES: ``acc C-gr - acc R-gr``."""
    rows = []
    datasets = sorted({k[1] for k in cells})
    for dataset in datasets:
        own = [("transfer", dataset, f, "gr", "self", f, "gr") for f in ("complex", "real")]
        row = _pair_row("robustness", f"{dataset}, white-box FGSM (transfer table, Self)", cells, *own, level)
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

        row = _pair_row("robustness", f"{dataset}, NES", cells, *nes, level, gap)
        rows += [row] if row else []
    return rows


def _ordering_rows(cells: dict[tuple, list[Cell]], level: float) -> list[ClaimRow]:
    """The orderings of the paper's transfer and NES tables, one row per source (and target field)."""
    rows: list[ClaimRow | None] = []
    for dataset in sorted({k[1] for k in cells}):
        for source in [(f, d) for f in FIELDS for d in ("std", "gr")]:
            name = f"{dataset}, source {_label(*source)}"
            rows.append(_pair_row("transfer-complex-gr-target", name, cells,
                                  _transfer_key(dataset, source, ("complex", "gr")),
                                  _transfer_key(dataset, source, ("real", "gr")), level))
            for field in FIELDS:
                rows.append(_pair_row("transfer-gr-target", f"{name}, {field} targets", cells,
                                      _transfer_key(dataset, source, (field, "gr")),
                                      _transfer_key(dataset, source, (field, "std")), level))
        nes = lambda f, d: ("nes", dataset, None, None, None, f, d)  # noqa: E731
        rows.append(_pair_row("nes-complex-gr", f"{dataset}, NES", cells, nes("complex", "gr"), nes("real", "gr"),
                              level))
        for field in FIELDS:
            rows.append(_pair_row("nes-gr-defends", f"{dataset}, NES, {field}", cells, nes(field, "gr"),
                                  nes(field, "std"), level))
    return [r for r in rows if r is not None]


def claims_table(models: Sequence[ModelRecord], cells: Sequence[Cell], *, level: float = LEVEL,
                 zeta_margin: float | None = None) -> list[ClaimRow]:
    """Every claim that the inputs can speak to, in the order of :data:`cvgr.paper.CLAIMS` then ``ORDERINGS``.

    A claim whose models or cells were not measured gives no row.
    """
    grouped = _cells_by(cells)
    return (_clean_accuracy_rows(models, level) + _zeta_rows(models, level, zeta_margin)
            + _robustness_rows(grouped, level) + _ordering_rows(grouped, level))


# ---------------------------------------------------------------- paper vs measured


def paper_vs_measured(paper: Iterable[PaperResult], cells: Iterable[Cell], *,
                      level: float = LEVEL) -> list[Comparison]:
    """One :class:`Comparison` per paper row (file order), then one per measured key the paper lacks.

    ``measured = 100 k / n`` with the counts of all runs of the key added
    (``runs`` says how many); ``difference = measured - paper`` (percentage
    points); ``low, high``: the Clopper-Pearson interval of the measurement.
    """
    grouped = _cells_by(list(cells))
    out, seen = [], set()
    for row in paper:
        seen.add(row.key)
        out.append(_comparison(row.key, row.accuracy, grouped.get(row.key, []), level))
    for key, measured in grouped.items():
        if key not in seen:
            out.append(_comparison(key, None, measured, level))
    return out


def _comparison(key: tuple, paper: float | None, measured: Sequence[Cell], level: float) -> Comparison:
    if not measured:
        return Comparison(key, paper, None, None, None, None, None, None, 0)
    k, n = sum(c.correct for c in measured), sum(c.n for c in measured)
    lo, hi = binomial_ci(k, n, level)
    value = 100 * k / n
    diff = None if paper is None else value - paper
    return Comparison(key, paper, value, diff, 100 * lo, 100 * hi, k, n, len(measured))
