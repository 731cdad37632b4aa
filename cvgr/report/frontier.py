"""The robustness-accuracy frontier of each field and their gap at matched clean accuracy (docs/METHOD.md 7.1).

At one beta, a complex and a real G.R. net sit at different points of their
own trade-off between clean and robust accuracy, so a difference in
robustness at equal beta may be only a move along a curve. Trained over a
grid of betas, each field traces its frontier, and the question becomes: **at
the same clean accuracy, which field is more robust?**

Inputs: one :class:`ModelPoint` per trained model: its field, beta and
seed, its clean accuracy ``a`` (percent) and its per-image robust
correctness (1 = still correct under attack; the caller passes the worst
case over its attacks, :func:`worst_case`) on the same ``N`` test images for
every model.

The frontier of a field
    For each beta, the mean over seeds of the clean accuracy and of the
    robust accuracy ``r`` (percent) is one point. The frontier is the set of
    points no other point of the field beats in both (Pareto-optimal: a point
    is dropped when another has higher-or-equal clean *and* higher robust
    accuracy, or equal robust and higher clean), joined by straight lines in
    order of clean accuracy: ``r_f(a)`` is linear between neighbouring points
    and defined on ``[a_min_f, a_max_f]``.

The gap at matched clean accuracy
    Over the clean-accuracy range both frontiers cover,
    ``[lo, hi] = [max_f a_min_f, min_f a_max_f]`` (it must have positive
    length, else :class:`~cvgr.errors.CvgrError` naming both ranges),

        G = 1/(hi - lo) * integral_lo^hi (r_C(a) - r_R(a)) da,

    the mean vertical distance between the two frontiers. Both are piecewise
    linear, so the difference is linear between the union of their
    breakpoints and the trapezoid rule on those breakpoints is exact.

The interval
    A percentile bootstrap over seeds and images (``B`` replicates, numpy's
    PCG64 seeded with ``seed``, hence deterministic). Each replicate draws,
    per field, ``m`` of its ``m`` seeds with replacement (the same drawn seeds
    for every beta of the field, which keeps a seed's runs together: they
    share their initial weights), and ``N`` of the ``N`` test images with
    replacement (the same images for every model, so models stay paired on
    their images); it recomputes every point, both frontiers, their shared
    range and ``G``. The 95% interval is the 2.5% and 97.5% quantiles of
    ``G`` over the replicates whose frontiers still overlap (their number is
    reported). The clean accuracies are fixed per model (they come from
    other images, the training's evaluation images) and vary only through
    the seed draw. Verdict: ``holds`` if the interval lies above 0,
    ``contradicted`` if below, else ``not resolved at this sample size``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .verdicts import CONTRADICTED, HOLDS, UNRESOLVED
from ..errors import CvgrError
from ..results.records import TrainingHistory, WhiteboxCurve
from ..study.settings import check_grid
from .stats import LEVEL
from ..vocab import FIELDS

REPLICATES = 2000


@dataclass(frozen=True)
class ModelPoint:
    """One trained model: clean accuracy (percent) and per-image robust correctness (0/1, test-image order)."""

    field: str
    beta: float
    seed: int
    clean: float
    robust: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise CvgrError(f"model point {self.field}-beta{self.beta:g}-s{self.seed}: field {self.field!r} is "
                            f"unknown; use one of {', '.join(FIELDS)}")
        robust = np.asarray(self.robust)
        if robust.ndim != 1 or robust.size == 0 or not np.isin(robust, (0, 1)).all():
            raise CvgrError(f"model point {self.field}-beta{self.beta:g}-s{self.seed}: robust must be a non-empty "
                            "list of 0/1 per image")
        if not 0 <= self.clean <= 100:
            raise CvgrError(f"model point {self.field}-beta{self.beta:g}-s{self.seed}: clean accuracy "
                            f"{self.clean} is not a percentage in [0, 100]")
        object.__setattr__(self, "robust", robust.astype(np.float64))


@dataclass(frozen=True)
class FrontierNode:
    """One (field, beta) point: means over seeds (percent) with bootstrap intervals in both directions."""

    field: str
    beta: float
    clean: float
    clean_low: float
    clean_high: float
    robust: float
    robust_low: float
    robust_high: float
    on_frontier: bool


@dataclass(frozen=True)
class MatchedGap:
    """``G`` (percentage points) of ``better`` over ``worse`` at matched clean accuracy, its interval, verdict."""

    better: str
    worse: str
    estimate: float
    low: float
    high: float
    verdict: str
    range_low: float
    range_high: float
    replicates: int
    valid_replicates: int


def worst_case(outcomes: Sequence[Sequence[int]]) -> np.ndarray:
    """Per image, correct under every attack (the minimum over the attacks' 0/1 outcomes on the same images)."""
    arr = np.asarray(outcomes)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise CvgrError("worst_case needs one 0/1 outcome list per attack, all on the same images")
    return arr.min(axis=0)


def points_from_records(histories: Sequence[TrainingHistory], curves: Sequence[WhiteboxCurve],
                        eps: float) -> list[ModelPoint]:
    """One :class:`ModelPoint` per std or G.R. model: clean accuracy from its history, robust correctness the
    :func:`worst_case` of its curves at ``eps`` (every model must have been run under the same attacks)."""
    by_model: dict[str, dict[str, np.ndarray]] = {}
    for c in curves:
        by_model.setdefault(c.model.name, {})[c.attack.name] = c.at(eps).astype(np.uint8)
    attacks = {name: sorted(runs) for name, runs in by_model.items()}
    points = []
    for h in histories:
        if h.model.defense == "adv":
            continue
        name = h.model.name
        if name not in by_model:
            raise CvgrError(f"{name}: no attack results at eps {eps:g}; run the audit's attacks on every "
                            "model of the frontier")
        first = next(iter(attacks.values()))
        if attacks[name] != first:
            raise CvgrError(f"{name} was attacked with {', '.join(attacks[name])}, other models with "
                            f"{', '.join(first)}: the worst case needs the same attacks for every model")
        points.append(ModelPoint(h.model.field, h.model.beta, h.model.seed, h.clean_acc,
                                 worst_case(list(by_model[name].values()))))
    return points


def pareto(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-dominated ``(clean, robust)`` points, in increasing clean accuracy."""
    kept: list[tuple[float, float]] = []
    best = -math.inf
    for a, r in sorted(points, key=lambda p: (-p[0], -p[1])):
        if r > best:
            kept.append((a, r))
            best = r
    return sorted(kept)


def mean_gap(better: Sequence[tuple[float, float]], worse: Sequence[tuple[float, float]]) -> float | None:
    """``G`` between two frontiers (each from :func:`pareto`), or None when their ranges do not overlap."""
    lo, hi = max(better[0][0], worse[0][0]), min(better[-1][0], worse[-1][0])
    if not hi > lo:
        return None
    knots = np.array(sorted({lo, hi, *(a for a, _ in (*better, *worse) if lo < a < hi)}))
    diff = _interp(knots, better) - _interp(knots, worse)
    return float(np.sum((diff[1:] + diff[:-1]) / 2 * np.diff(knots)) / (hi - lo))


def _interp(at: np.ndarray, front: Sequence[tuple[float, float]]) -> np.ndarray:
    xs, ys = zip(*front)
    return np.interp(at, xs, ys)


@dataclass(frozen=True)
class _Grid:
    """The points as arrays: per field, betas (sorted), seeds (sorted), clean[beta, seed], robust[beta, seed, N]."""

    betas: dict[str, list[float]]
    seeds: dict[str, list[int]]
    clean: dict[str, np.ndarray]
    robust: dict[str, np.ndarray]


def _grid(points: Sequence[ModelPoint], fields: Sequence[str], key: str) -> _Grid:
    sizes = {p.robust.size for p in points}
    if len(sizes) != 1:
        raise CvgrError(f"robust outcomes on different numbers of images ({', '.join(map(str, sorted(sizes)))}); "
                        "attack the same first N test images of every model")
    grid = _Grid({}, {}, {}, {})
    for f in fields:
        mine = {(p.beta, p.seed): p for p in points if p.field == f}
        if len(mine) != sum(p.field == f for p in points):
            raise CvgrError(f"{f}: two points with the same beta and seed; pass one point per trained model")
        betas, seeds = sorted({b for b, _ in mine}), sorted({s for _, s in mine})
        check_grid(betas, key, f"{f} nets at ")
        missing = [f"beta {b:g} seed {s}" for b in betas for s in seeds if (b, s) not in mine]
        if missing:
            raise CvgrError(f"{f}: no point for {', '.join(missing)}; train every seed at every beta")
        grid.betas[f], grid.seeds[f] = betas, seeds
        grid.clean[f] = np.array([[mine[b, s].clean for s in seeds] for b in betas])
        grid.robust[f] = np.stack([np.stack([mine[b, s].robust for s in seeds]) for b in betas])
    return grid


def _fronts(clean: dict[str, np.ndarray], robust: dict[str, np.ndarray]) -> dict[str, list[tuple[float, float]]]:
    """Per field: Pareto frontier of the (clean, robust) beta means (arrays: [beta])."""
    return {f: pareto(list(zip(clean[f].tolist(), robust[f].tolist()))) for f in clean}


def _range(front: Sequence[tuple[float, float]]) -> str:
    return f"{front[0][0]:.2f}-{front[-1][0]:.2f}%"


def analyse(points: Sequence[ModelPoint], *, better: str = "complex", worse: str = "real",
            replicates: int = REPLICATES, seed: int = 0, level: float = LEVEL,
            grid_key: str = "betas") -> tuple[list[FrontierNode], MatchedGap]:
    """Both fields' frontier points with intervals, and ``G`` of ``better`` over ``worse`` (module docstring).

    ``grid_key`` names the config key of the beta grid in the error a field with one beta gets.
    Frontiers that share no clean-accuracy range raise :class:`~cvgr.errors.CvgrError` saying so.
    """
    nodes, gap = frontier_and_gap(points, better=better, worse=worse, replicates=replicates, seed=seed,
                                  level=level, grid_key=grid_key)
    if isinstance(gap, str):
        raise CvgrError(gap)
    return nodes, gap


def frontier_and_gap(points: Sequence[ModelPoint], *, better: str = "complex", worse: str = "real",
                     replicates: int = REPLICATES, seed: int = 0, level: float = LEVEL,
                     grid_key: str = "betas") -> tuple[list[FrontierNode], MatchedGap | str]:
    """As :func:`analyse`, but frontiers without a shared clean-accuracy range give, in place of the gap,
    the reason (one sentence naming both ranges and the fix): a run's tables still show its points."""
    fields = (better, worse)
    grid = _grid(points, fields, grid_key)
    clean = {f: grid.clean[f].mean(axis=1) for f in fields}
    robust = {f: 100 * grid.robust[f].mean(axis=(1, 2)) for f in fields}
    fronts = _fronts(clean, robust)
    boot_clean, boot_robust, gaps = _bootstrap(grid, fields, replicates, seed)
    tail = (1 - level) / 2
    nodes = []
    for f in fields:
        on = set(fronts[f])
        for i, beta in enumerate(grid.betas[f]):
            c_lo, c_hi = np.quantile(boot_clean[f][:, i], [tail, 1 - tail])
            r_lo, r_hi = np.quantile(boot_robust[f][:, i], [tail, 1 - tail])
            nodes.append(FrontierNode(f, beta, float(clean[f][i]), float(c_lo), float(c_hi), float(robust[f][i]),
                                      float(r_lo), float(r_hi), (float(clean[f][i]), float(robust[f][i])) in on))
    ranges = f"{better} {_range(fronts[better])}, {worse} {_range(fronts[worse])}"
    estimate = mean_gap(fronts[better], fronts[worse])
    if estimate is None:
        return nodes, (f"the frontiers share no clean-accuracy range: {ranges}; train betas that bring the fields' "
                       "clean accuracies into a common range (smaller betas for the less accurate field, larger "
                       "for the other)")
    valid = gaps[~np.isnan(gaps)]
    if valid.size == 0:
        return nodes, f"no bootstrap replicate of the frontiers overlaps in clean accuracy ({ranges}); train more betas"
    low, high = (float(q) for q in np.quantile(valid, [tail, 1 - tail]))
    verdict = HOLDS if low > 0 else CONTRADICTED if high < 0 else UNRESOLVED
    lo, hi = max(fronts[better][0][0], fronts[worse][0][0]), min(fronts[better][-1][0], fronts[worse][-1][0])
    return nodes, MatchedGap(better, worse, estimate, low, high, verdict, lo, hi, replicates, int(valid.size))


def _bootstrap(grid: _Grid, fields: Sequence[str], replicates: int,
               seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Per replicate: every (field, beta) point (arrays [replicate, beta]) and ``G`` (NaN: no overlap)."""
    if replicates < 1:
        raise CvgrError(f"replicates must be >= 1, got {replicates}")
    rng = np.random.Generator(np.random.PCG64(seed))
    n = next(iter(grid.robust.values())).shape[-1]
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates) / n  # [B, N] image weights, paired
    boot_clean, boot_robust = {}, {}
    for f in fields:
        m = len(grid.seeds[f])
        draw = rng.integers(0, m, size=(replicates, m))  # [B, m] seed indices, shared by the field's betas
        per_model = np.einsum("bn,ksn->bks", weights, grid.robust[f])  # [B, beta, seed] robust fractions
        picked = np.take_along_axis(per_model, draw[:, None, :], axis=2)
        boot_robust[f] = 100 * picked.mean(axis=2)
        boot_clean[f] = grid.clean[f][:, draw].mean(axis=2).T  # clean[beta, B, m] -> [B, beta]
    gaps = np.full(replicates, np.nan)
    for b in range(replicates):
        fronts = _fronts({f: boot_clean[f][b] for f in fields}, {f: boot_robust[f][b] for f in fields})
        g = mean_gap(fronts[fields[0]], fronts[fields[1]])
        gaps[b] = np.nan if g is None else g
    return boot_clean, boot_robust, gaps
