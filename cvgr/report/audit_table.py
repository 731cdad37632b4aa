"""The masking table: the gradient-masking audit of every model, from its audit curves (docs/AUDIT.md).

Input: the audit's :class:`cvgr.results.records.WhiteboxCurve` files, one per (attack,
model), all on the same first test images. Per model, at the audit's eps
(the smallest positive eps every curve of the model has):

- accuracy (%) clean (the eps-0 row of FGSM / PGD) and under each attack;
- the per-image worst case over every attack (an image counts only if it
  survives them all) with its exact 95% interval;
- the flags of :func:`cvgr.report.audit.masking_row`, each with its evidence; the
  falls-towards-chance flag uses the worst case (clean and every attack run
  there) at the audit's eps and each larger eps of the sweep.

Outputs: ``masking.csv`` (one row per model, the columns of
:func:`cvgr.report.audit.columns` after ``dataset``: one accuracy column per registered attack) and ``masking.md`` (per
dataset: the accuracy table, then every flag's evidence).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CvgrError
from ..attacks.registry import get as attack_kind
from .audit import CLEAN, FLAGS, accuracy_columns, columns, masking_row, worst_case
from ..results.records import WhiteboxCurve
from .tables import (ACC_FMT, PARAM_FMT, curves_by_model, fmt_eps, markdown_table, read_records, write_atomic,
                     write_csv)
from ..vocab import DATASET_PROSE, AttackId, ModelId

_FLAG_LABELS = {"square_beats_pgd": "Square beats PGD", "fgsm_beats_pgd": "FGSM beats PGD",
                "apgd_beats_pgd": "APGD beats PGD", "no_fall_to_chance": "no fall towards chance"}


def accuracy_labels() -> dict[str, str]:
    """Accuracy column -> its heading: 'clean', each registered attack's label ('PGD' for PGD), 'worst case'."""
    return {col: "clean" if kind == CLEAN else attack_kind(kind).label for kind, col in accuracy_columns().items()} \
        | {"acc_worst": "worst case"}


def _by_model(curves: Sequence[WhiteboxCurve]) -> dict[tuple[str, ModelId], list[WhiteboxCurve]]:
    """:func:`cvgr.report.tables.curves_by_model`, after checking each model's curves are one per attack on one image set."""
    groups = curves_by_model(curves)
    for (ds, model), group in groups.items():
        names = [c.attack.name for c in group]
        if len(set(names)) < len(names):
            raise CvgrError(f"audit curves for {ds} {model} repeat an attack ({', '.join(sorted(names))}); "
                            "pass one file per attack")
        if len({c.labels.tobytes() for c in group}) > 1:
            raise CvgrError(f"audit curves for {ds} {model} are on different images; run every attack of the audit "
                            "with the same images setting")
    return groups


def _table_eps(ds: str, model: ModelId, group: Sequence[WhiteboxCurve]) -> float:
    common = set.intersection(*({float(e) for e in c.eps if e > 0} for c in group))
    if not common:
        raise CvgrError(f"audit curves for {ds} {model} share no positive eps; run them with one audit section")
    return min(common)


def model_row(ds: str, model: ModelId, group: Sequence[WhiteboxCurve]) -> dict[str, Any]:
    """One row of the masking table (``dataset`` + :func:`cvgr.report.audit.columns`)."""
    eps = _table_eps(ds, model, group)
    with_clean = [c for c in group if np.isclose(c.eps, 0.0).any()]
    if not with_clean:
        raise CvgrError(f"audit curves for {ds} {model} have no eps-0 (clean) row; the audit's FGSM and PGD have one")
    clean = with_clean[0].at(0.0)
    correct = {"clean": clean, **{c.attack.name: c.at(eps) for c in group}}
    sweep = _sweep(group, eps, clean)
    return {"dataset": ds, **masking_row(model.name, eps, group[0].labels, correct, sweep)}


def _sweep(group: Sequence[WhiteboxCurve], eps: float, clean: np.ndarray) -> dict[float, np.ndarray]:
    """Per eps ``e >= eps`` of the curves: ``clean AND_a correct_a(e)`` over the attacks run at ``e``.

    The worst case of :func:`cvgr.report.audit.worst_case`, clean included: an
    image wrong when clean is not robust, whatever the attacks left.
    """
    at_least = sorted({float(e) for c in group for e in c.eps if e >= eps})
    return {e: worst_case({"clean": clean, **{c.attack.name: c.at(e) for c in group if np.isclose(c.eps, e).any()}})
            for e in at_least}


def _fmt_acc(x: float) -> str:
    return "" if x != x else f"{x:.1f}"  # NaN: not run


def _markdown(df: pd.DataFrame, curves: Sequence[WhiteboxCurve]) -> str:
    parts = ["# Gradient-masking audit\n"]
    for ds, rows in df.groupby("dataset", sort=False):
        pgd = sorted(set(rows["pgd_attack"]))
        options = {(c.spec.apgd_steps, c.spec.square_queries) for c in curves if c.dataset == ds}
        apgd = sorted({a for a, _ in options if a}) or ["-"]
        square = sorted({q for _, q in options if q}) or ["-"]
        parts.append(
            f"{'/'.join(map(str, sorted(set(rows['images']))))} {DATASET_PROSE.get(ds, ds)} test images at eps "
            f"{'/'.join(fmt_eps(e) for e in sorted(set(rows['eps'])))}; PGD = {', '.join(AttackId.parse(p).label for p in pgd)}, "
            f"APGD {'/'.join(map(str, apgd))} steps, Square {'/'.join(map(str, square))} queries per image. "
            "Accuracy (%); worst case = images that survive every attack, with its exact 95% interval. "
            "A flag is raised when the exact one-sided McNemar test gives p < 0.05 (or, for the chance check, "
            "when more images survive eps >= 0.5 than can).\n")
        labels = accuracy_labels()
        headers = ["model", *labels.values(), "95% interval", "flags raised"]
        table = []
        for r in rows.to_dict("records"):
            raised = [_FLAG_LABELS[f] for f in FLAGS if r[f"flag_{f}"] is True]
            table.append([r["model"], *(_fmt_acc(r[c]) for c in labels),
                          f"{r['worst_ci_lo']:.1f}-{r['worst_ci_hi']:.1f}", ", ".join(raised) or "none"])
        parts.append(markdown_table(headers, table) + "\n")
        parts.append("Evidence:\n")
        for r in rows.to_dict("records"):
            for f in FLAGS:
                state = {True: "RAISED", False: "quiet", None: "not evaluated"}[r[f"flag_{f}"]]
                parts.append(f"- {r['model']}, {_FLAG_LABELS[f]} ({state}): {r[f'evidence_{f}']}")
        parts.append("")
    return "\n".join(parts) + "\n"


def write_masking_table(paths: list[str], csv_out: str, md_out: str) -> pd.DataFrame:
    """The masking table of every audited model (module docstring); returns the CSV's frame."""
    curves = read_records(paths, WhiteboxCurve)
    rows = [model_row(ds, model, group) for (ds, model), group in _by_model(curves).items()]
    cols = columns()
    df = pd.DataFrame.from_records(rows, columns=["dataset", *cols])
    out = df.copy()
    for f in FLAGS:
        out[f"flag_{f}"] = ["" if v is None else str(bool(v)).lower() for v in out[f"flag_{f}"]]
    out["any_flag"] = [str(bool(v)).lower() for v in out["any_flag"]]
    write_csv(out, csv_out, {"eps": PARAM_FMT, **{c: ACC_FMT for c in cols if c.startswith(("acc_", "worst_"))}})
    write_atomic(md_out, _markdown(df, curves).encode())
    return df
