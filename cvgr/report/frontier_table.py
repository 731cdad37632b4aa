"""The frontier's outputs: ``results/tables/frontier.{csv,md}``, its figure and its claims row.

Reads the frontier models' training histories (clean accuracy), their audit
curves (robust accuracy: the per-image worst case of the audit's attacks at
the audit's eps) and, where the config attacks a frontier model with NES, its
NES result, and hands the points to :func:`cvgr.report.frontier.frontier_and_gap`
(docs/METHOD.md 7.1): one :class:`FrontierResult` per dataset.

Table: one row per dataset, field and beta: clean and robust accuracy (means
over seeds, percent) with their 95% bootstrap intervals, the seeds, whether
the point is on its field's frontier, and the NES accuracy (mean over the
seeds NES attacked; empty where it attacked none); the dataset's gap ``G``
(complex over real at matched clean accuracy), its interval, verdict and the
shared clean-accuracy range repeat on each of its rows (empty, with the
reason in the Markdown, where the frontiers share no range).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .verdicts import UNRESOLVED, ClaimRow
from .frontier import (REPLICATES, FrontierNode, MatchedGap, ModelPoint, frontier_and_gap,
                       points_from_records)
from ..results.records import NesResult, TrainingHistory, WhiteboxCurve
from .tables import markdown_table, read_records, write_atomic, write_csv
from ..vocab import AttackId, dataset_key, dataset_label

PCT = "%.4f"
COLUMNS = ("dataset", "field", "beta", "seeds", "clean", "clean_low", "clean_high", "robust", "robust_low",
           "robust_high", "on_frontier", "nes", "nes_seeds", "eps", "images", "attacks", "gap", "gap_low",
           "gap_high", "verdict", "shared_low", "shared_high")
CLAIM = "matched-robustness"
STATEMENT = "At equal clean accuracy, complex G.R. is more robust than real G.R."


@dataclass(frozen=True)
class FrontierResult:
    """One dataset's frontier: its points, the gap (or why there is none) and what was measured."""

    dataset: str
    eps: float
    images: int
    attacks: tuple[str, ...]
    seeds: dict[str, tuple[int, ...]]
    nodes: list[FrontierNode]
    gap: MatchedGap | str
    nes: dict[tuple[str, float], tuple[float, tuple[int, ...]]]  #: (field, beta) -> (NES accuracy %, seeds)


def frontier_results(history_paths: Sequence[str], audit_paths: Sequence[str], nes_paths: Sequence[str],
                     settings: Mapping[str, Mapping[str, float]]) -> list[FrontierResult]:
    """Per dataset of ``settings`` (``{dataset: {"eps": audit eps, "replicates": B}}``), in table order.

    ``history_paths`` and ``audit_paths`` hold exactly the frontier models' files; ``nes_paths`` any NES
    results (those of models outside the frontier are ignored).
    """
    histories = read_records(history_paths, TrainingHistory)
    curves = read_records(audit_paths, WhiteboxCurve)
    nes = read_records(nes_paths, NesResult) if nes_paths else []
    out = []
    for ds in sorted(settings, key=dataset_key):
        eps, replicates = float(settings[ds]["eps"]), int(settings[ds].get("replicates", REPLICATES))
        mine = [c for c in curves if c.dataset == ds]
        points = points_from_records([h for h in histories if h.dataset == ds], mine, eps)
        nodes, gap = frontier_and_gap(points, replicates=replicates, grid_key=f"datasets.{ds}.frontier.betas")
        seeds = {f: tuple(sorted({p.seed for p in points if p.field == f})) for f in ("complex", "real")}
        attacks = tuple(a.name for a in sorted({c.attack for c in mine}, key=AttackId.sort_key))
        out.append(FrontierResult(ds, eps, points[0].robust.size, attacks,
                                  seeds, nodes, gap, _nes(nes, ds, points)))
    return out


def _nes(results: Sequence[NesResult], dataset: str,
         points: Sequence[ModelPoint]) -> dict[tuple[str, float], tuple[float, tuple[int, ...]]]:
    """NES accuracy per (field, beta) of the frontier: the mean over the frontier seeds NES attacked."""
    wanted = {(p.field, float(p.beta), p.seed) for p in points}
    by: dict[tuple[str, float], dict[int, float]] = {}
    for r in results:
        key = (r.model.field, float(r.model.beta), r.model.seed)
        if r.dataset == dataset and r.model.defense != "adv" and key in wanted:
            by.setdefault(key[:2], {})[key[2]] = r.accuracy
    return {k: (math.fsum(v.values()) / len(v), tuple(sorted(v))) for k, v in by.items()}


def frontier_frame(results: Sequence[FrontierResult]) -> pd.DataFrame:
    """The table (module docstring), rows by dataset, field (complex, real) and beta."""
    rows = []
    for res in results:
        gap = res.gap if isinstance(res.gap, MatchedGap) else None
        for n in res.nodes:
            nes, nes_seeds = res.nes.get((n.field, float(n.beta)), (math.nan, ()))
            rows.append({"dataset": res.dataset, "field": n.field, "beta": n.beta,
                         "seeds": " ".join(map(str, res.seeds[n.field])), "clean": n.clean,
                         "clean_low": n.clean_low, "clean_high": n.clean_high, "robust": n.robust,
                         "robust_low": n.robust_low, "robust_high": n.robust_high, "on_frontier": n.on_frontier,
                         "nes": nes, "nes_seeds": " ".join(map(str, nes_seeds)), "eps": res.eps,
                         "images": res.images, "attacks": " ".join(res.attacks),
                         "gap": gap.estimate if gap else math.nan, "gap_low": gap.low if gap else math.nan,
                         "gap_high": gap.high if gap else math.nan, "verdict": gap.verdict if gap else UNRESOLVED,
                         "shared_low": gap.range_low if gap else math.nan,
                         "shared_high": gap.range_high if gap else math.nan})
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


def gap_sentence(res: FrontierResult) -> str:
    """The gap in words: ``G`` with its interval, the shared range and the verdict, or why there is none."""
    if isinstance(res.gap, str):
        return f"No gap at matched clean accuracy: {res.gap}."
    g = res.gap
    return (f"Complex minus real robust accuracy at matched clean accuracy, averaged over the shared clean-accuracy "
            f"range {g.range_low:.2f}-{g.range_high:.2f}%: G = {g.estimate:+.2f} pp, 95% interval "
            f"{g.low:+.2f} to {g.high:+.2f} pp ({g.valid_replicates} of {g.replicates} bootstrap replicates "
            f"overlap): {g.verdict}.")


def _frontier_markdown(results: Sequence[FrontierResult]) -> str:
    lines = ["# Robustness-accuracy frontier: complex vs real G.R.\n",
             "Per field and beta (0 = the std net): clean accuracy (%, the training's evaluation images) and robust "
             "accuracy (%, an image counts when every attack of the audit leaves it correctly classified), each the "
             "mean over the seeds with its 95% bootstrap interval (over seeds and images); `frontier`: the point is "
             "Pareto-optimal in its field; NES: the NES accuracy where this run attacked that model with NES "
             "(mean over the seeds listed). docs/METHOD.md section 7.1.\n"]
    for res in results:
        lines.append(f"## {dataset_label(res.dataset)}\n")
        lines.append(f"Attacks {', '.join(res.attacks)} at eps {res.eps:g} on the first {res.images} test images.\n")
        rows = []
        for n in res.nodes:
            nes, nes_seeds = res.nes.get((n.field, float(n.beta)), (None, ()))
            rows.append([n.field, f"{n.beta:g}", " ".join(map(str, res.seeds[n.field])), f"{n.clean:.2f}",
                         f"{n.clean_low:.2f}-{n.clean_high:.2f}", f"{n.robust:.2f}",
                         f"{n.robust_low:.2f}-{n.robust_high:.2f}", "yes" if n.on_frontier else "no",
                         "\u2014" if nes is None else f"{nes:.2f} (s{', s'.join(map(str, nes_seeds))})"])
        lines.append(markdown_table(["field", "beta", "seeds", "clean", "95% interval", "robust", "95% interval",
                                     "frontier", "NES"], rows))
        lines.append("\n" + gap_sentence(res) + "\n")
    return "\n".join(lines)


def write_frontier_table(history_paths: Sequence[str], audit_paths: Sequence[str], nes_paths: Sequence[str],
                         settings: Mapping[str, Mapping[str, float]], csv_out: str, md_out: str) -> pd.DataFrame:
    """``frontier.csv`` and ``frontier.md`` (module docstring) from the frontier's result files."""
    results = frontier_results(history_paths, audit_paths, nes_paths, settings)
    df = frontier_frame(results)
    write_csv(df, csv_out, {c: PCT for c in ("clean", "clean_low", "clean_high", "robust", "robust_low",
                                             "robust_high", "nes", "gap", "gap_low", "gap_high", "shared_low",
                                             "shared_high")})
    write_atomic(md_out, _frontier_markdown(results).encode())
    return df


def frontier_claim_rows(results: Sequence[FrontierResult]) -> list[ClaimRow]:
    """The claims row of each dataset: ``D = G`` (complex over real at matched clean accuracy) and its verdict."""
    rows = []
    for res in results:
        betas = sorted({n.beta for n in res.nodes})
        scope = (f"{res.dataset}, frontier (betas {', '.join(f'{b:g}' for b in betas)}; "
                 f"seeds {', '.join(map(str, res.seeds['complex']))})")
        tests = ("along the two frontiers, at each clean accuracy both reach, C-G.R. is more accurate than R-G.R. "
                 f"under the audit's attacks ({', '.join(res.attacks)}, per-image worst case, eps {res.eps:g}): "
                 "D = mean over the shared clean-accuracy range of robust acc C - robust acc R, pp")
        evidence = "; ".join(f"{n.field} beta {n.beta:g}: clean {n.clean:.1f}%, robust {n.robust:.1f}%"
                             + ("" if n.on_frontier else " (off the frontier)") for n in res.nodes)
        if isinstance(res.gap, str):
            rows.append(ClaimRow(CLAIM, STATEMENT, scope, "matched clean accuracy", tests,
                                 f"{evidence}; {res.gap}", math.nan, None, None, "no interval: no shared range",
                                 UNRESOLVED))
            continue
        g = res.gap
        rows.append(ClaimRow(CLAIM, STATEMENT, scope, "matched clean accuracy", tests,
                             f"{evidence}; shared clean-accuracy range {g.range_low:.2f}-{g.range_high:.2f}%",
                             g.estimate, g.low, g.high,
                             f"percentile bootstrap over seeds and images ({g.valid_replicates} of "
                             f"{g.replicates} replicates overlap)", g.verdict))
    return rows


def frontier_claims(history_paths: Sequence[str], audit_paths: Sequence[str],
                    settings: Mapping[str, Mapping[str, float]]) -> list[ClaimRow]:
    """:func:`frontier_claim_rows` of the frontier's files (empty when no dataset has a frontier)."""
    if not settings:
        return []
    return frontier_claim_rows(frontier_results(history_paths, audit_paths, [], settings))


def node_arrays(nodes: Sequence[FrontierNode], field: str) -> dict[str, np.ndarray]:
    """A field's points as arrays sorted by clean accuracy (for the figure)."""
    mine = sorted((n for n in nodes if n.field == field), key=lambda n: (n.clean, n.robust))
    return {k: np.array([getattr(n, k) for n in mine]) for k in
            ("beta", "clean", "clean_low", "clean_high", "robust", "robust_low", "robust_high", "on_frontier")}
