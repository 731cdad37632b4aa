"""Final tables of the study, in the layout of the paper's tables (docs/METHOD.md, "Reported results").

Inputs are result records (:mod:`cvgr.results.records`: transfer cells, NES results,
white-box curves, training histories); outputs are CSV (machine-readable) and
Markdown (to read beside the paper).

Determinism: rows come in a fixed order (the vocabulary's order of datasets,
fields, defenses, attacks; then strength and seed), numbers have a fixed
format (accuracies ``'%.4f'`` and attack/defense strengths ``'%.6g'`` in CSV,
accuracies with one decimal in Markdown) and nothing time-dependent is
written, so the same inputs give byte-identical files. Every file is written
atomically, so a reader never sees half a table.

Black-box transfer (docs/METHOD.md, "Transfer"). A cell is the accuracy (%) of
a target on FGSM examples crafted on a source. Each cell file records its
role in its source's row (:data:`cvgr.vocab.TRANSFER_ROLES`: "Self" or the
other seed's copy of one model type); the table places std and G.R. sources'
cells by that role and leaves out the rest (adversarially trained models).
"""
from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from tabulate import tabulate

from ..errors import CvgrError
from ..results.io import atomic_output
from ..results.records import NesResult, Record, TransferCell, WhiteboxCurve
from ..vocab import (DATASET_PROSE, DEFENSE_LABELS, FIELD_PROSE, FIELDS, NES_SCORE_PROSE, PLAIN_DEFENSE, TRANSFER_ROLES,
                    ModelId, dataset_key, dataset_label, fmt_number)

MISSING = "\u2014"  # em dash: a transfer cell that was not run
NOT_RUN = "(not run)"
ACC_FMT = "%.4f"
PARAM_FMT = "%.6g"

R = TypeVar("R", bound=Record)


# ----------------------------------------------------------------------------- reading

def read_records(paths: Iterable[str | os.PathLike], record: type[R]) -> list[R]:
    """Read every file as ``record``; CvgrError if the list is empty (file errors name the file)."""
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise CvgrError(f"no {record.KIND} files were given; run the workflow steps that produce them first")
    return [record.read(p) for p in paths]


def _mixed_key(v: Any) -> tuple[bool, Any]:
    """Sort key for values of any type: numbers first by value, then the rest (e.g. AttackId) by ``str``."""
    number = isinstance(v, (int, float))
    return (not number, v if number else str(v))


def _unique(values: Iterable[Any], what: str, attr: str) -> Any:
    """The one value shared by all; CvgrError naming the values otherwise (numbers by value, the rest by text)."""
    found = sorted(set(values), key=_mixed_key)
    if len(found) != 1:
        raise CvgrError(f"{what} mix {attr} = {', '.join(map(str, found))}; a table is for one setting, "
                        f"pass only files that share one {attr}")
    return found[0]


def _check_unique_keys(keyed: Iterable[tuple[str, str]], what: str) -> None:
    """CvgrError naming both files if two results claim the same table position ``key``."""
    seen: dict[str, str] = {}
    for key, path in keyed:
        if key in seen:
            raise CvgrError(f"{seen[key]} and {path} are both the {what} {key}; pass only one of them")
        seen[key] = path


# ----------------------------------------------------------------------------- formatting, writing

def fmt_eps(eps: float) -> str:
    """An epsilon for prose: '0.16'; k/255 when that is exact and no 3-decimal form is ('8/255')."""
    eps = float(eps)
    if abs(round(eps, 3) - eps) < 1e-12:
        return "%g" % round(eps, 3)
    k = round(eps * 255)
    if abs(k / 255 - eps) < 1e-9:
        return f"{k}/255"
    return "%.4g" % eps


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` atomically (cvgr.results.io.atomic_output: temp file beside it, os.replace)."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def _fmt(spec: str) -> Callable[[Any], str]:
    """printf-style formatter that leaves missing values (NaN/None) empty."""
    def f(x: Any) -> str:
        return "" if x is None or (isinstance(x, float) and np.isnan(x)) else spec % x
    return f


def write_csv(df: pd.DataFrame, path: str | os.PathLike, formats: dict[str, str]) -> None:
    """Write ``df`` as CSV (no index, '\\n' line ends), formatting columns by printf spec."""
    out = df.copy()
    for col, spec in formats.items():
        out[col] = [_fmt(spec)(x) for x in out[col]]
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    write_atomic(path, buf.getvalue().encode())


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub pipe table of strings (no number parsing, so cells are kept verbatim)."""
    return tabulate(rows, headers=list(headers), tablefmt="github", disable_numparse=True)


def model_columns(m: ModelId) -> dict[str, Any]:
    """The columns every per-model table shares: model, field, defense, beta, adv_eps."""
    return {"model": m.name, "field": m.field, "defense": m.defense, "beta": m.beta, "adv_eps": m.adv_eps}


_MODEL_FORMATS = {"beta": PARAM_FMT, "adv_eps": PARAM_FMT}


# ----------------------------------------------------------------------------- transfer table

def _dataset_beta(ds: str, group: Sequence[TransferCell]) -> float:
    """The dataset's G.R. beta: its G.R. sources' (one only), else its G.R. targets' (NaN without G.R.)."""
    for role in ("source", "target"):
        betas = sorted({getattr(c, role).beta for c in group if getattr(c, role).defense == "gr"})
        if len(betas) > 1:
            raise CvgrError(f"transfer cells for {ds} mix G.R. betas {', '.join(fmt_number(b) for b in betas)}; "
                            "the table compares one beta, pass only that beta's cells")
        if betas:
            return betas[0]
    return float("nan")


def transfer_table_cells(cells: Sequence[TransferCell]) -> dict[str, tuple[float, list[TransferCell]]]:
    """(beta, cells) per dataset in paper order: std / G.R. sources' cells with a table role and that beta.

    The cells the transfer table (and the comparison with the paper) use: one
    source seed per dataset, one G.R. beta (:func:`_dataset_beta`), G.R.
    targets of another beta left out, one eps; CvgrError otherwise.
    """
    by_dataset: dict[str, list[TransferCell]] = {}
    for c in cells:
        if c.source.defense in ("std", "gr") and c.role in TRANSFER_ROLES:
            by_dataset.setdefault(c.dataset, []).append(c)
    out = {}
    for ds in sorted(by_dataset, key=dataset_key):
        group = by_dataset[ds]
        seeds = sorted({c.source.seed for c in group})
        if len(seeds) > 1:
            raise CvgrError(f"transfer cells for {ds} have std/G.R. sources with seeds {', '.join(map(str, seeds))}; "
                            "the table crafts on one copy per model type, pass only the source seed's cells")
        beta = _dataset_beta(ds, group)
        kept = [c for c in group if c.target.defense != "gr" or c.target.beta == beta]
        _unique((c.eps for c in kept), f"transfer cells for {ds}", "eps")
        out[ds] = (beta, kept)
    return out


def _transfer_frame(by_dataset: dict[str, tuple[float, list[TransferCell]]]) -> pd.DataFrame:
    """Wide numeric frame: one row per (source field, role), columns {ds}_std/_gr/_eps/_beta."""
    acc = {(c.dataset, c.source.field, c.source.defense, c.role): c.accuracy
           for _, group in by_dataset.values() for c in group}
    records = []
    for field in FIELDS:
        for role, label in TRANSFER_ROLES.items():
            row: dict[str, Any] = {"source": field, "target": label}
            for ds, (beta, group) in by_dataset.items():
                row[f"{ds}_std"] = acc.get((ds, field, "std", role), np.nan)
                row[f"{ds}_gr"] = acc.get((ds, field, "gr", role), np.nan)
                row[f"{ds}_eps"] = group[0].eps
                row[f"{ds}_beta"] = beta
            records.append(row)
    return pd.DataFrame.from_records(records)


def _transfer_markdown(df: pd.DataFrame, by_dataset: dict[str, tuple[float, list[TransferCell]]],
                       attack_label: str) -> str:
    """The paper's layout: rows (source field, target), one "std / gr" column per dataset."""
    headers = ["source", "target"]
    for ds in by_dataset:
        beta = df[f"{ds}_beta"].iloc[0]
        extra = "" if np.isnan(beta) else f", beta {fmt_number(beta)}"
        headers.append(f"{dataset_label(ds)} (eps {fmt_eps(df[f'{ds}_eps'].iloc[0])}{extra})")

    def acc(x: float) -> str:
        return MISSING if np.isnan(x) else f"{x:.1f}"

    rows = [[rec["source"], rec["target"]] + [f"{acc(rec[f'{ds}_std'])} / {acc(rec[f'{ds}_gr'])}" for ds in by_dataset]
            for rec in df.to_dict("records")]
    n_images = [f"{dataset_label(ds)} {'/'.join(map(str, sorted({c.n_images for c in group})))}"
                for ds, (_, group) in by_dataset.items()]
    seeds = {dataset_label(ds): group[0].source.seed for ds, (_, group) in by_dataset.items()}
    if len(set(seeds.values())) == 1:
        seed_text = f"seed-{next(iter(seeds.values()))} copies"
    else:
        seed_text = "copies of seed " + ", ".join(f"{k} {v}" for k, v in seeds.items())
    return (
        f"# Black-box transfer ({attack_label})\n\n"
        f"Accuracy (%) of each target on {attack_label} examples crafted on the source; cells are "
        f'"source Std. / source G.R.". Sources are the {seed_text} ("Self" = the source itself, '
        f"white-box); the other targets are independently trained copies with another seed. "
        f"{MISSING} = not run.\n\n"
        f"Test images per cell: {', '.join(n_images)}.\n\n"
        + markdown_table(headers, rows) + "\n"
    )


def write_transfer_table(cell_paths: list[str], csv_out: str, md_out: str) -> pd.DataFrame:
    """Black-box transfer table (the paper's layout) from transfer-cell files.

    Returns (and writes as CSV) one row per (source field, target) in the order real, complex x
    Self, R (Std.), C (Std.), R (G.R.), C (G.R.), with numeric columns ``{ds}_std`` and
    ``{ds}_gr`` (accuracy %, NaN/empty where the cell is missing), ``{ds}_eps`` and
    ``{ds}_beta`` for each dataset present, datasets in the paper's order.
    The Markdown file shows "std / gr" per dataset with one decimal and a dash for a missing cell.
    """
    cells = read_records(cell_paths, TransferCell)
    by_dataset = transfer_table_cells(cells)
    if not by_dataset:
        raise CvgrError(f"none of the {len(cells)} transfer cells has a std or G.R. source with a table target "
                        "(itself or another seed's std/G.R. copy); check the transfer step's source and target models")
    table_cells = [c for _, group in by_dataset.values() for c in group]
    _check_unique_keys(((f"{c.dataset} {c.source} -> {TRANSFER_ROLES[c.role]}", c.path) for c in table_cells),
                       "transfer cell")
    attack = _unique((c.attack for c in table_cells), "transfer cells", "attack")
    df = _transfer_frame(by_dataset)
    formats = {c: ACC_FMT if c.endswith(("_std", "_gr")) else PARAM_FMT for c in df.columns[2:]}
    write_csv(df, csv_out, formats)
    write_atomic(md_out, _transfer_markdown(df, by_dataset, attack.label).encode())
    return df


# ----------------------------------------------------------------------------- NES table

_NES_COLUMNS = ("dataset", "model", "field", "defense", "beta", "adv_eps", "n_images", "queries_per_image",
                "eps", "steps", "accuracy", "clean_accuracy")


def defense_label(m: ModelId) -> str:
    """NES column heading: 'no defense', 'beta 64 G.R.', 'eps 0.2 adversarial training'; else 'Noise 0.1'."""
    if m.defense == "gr":
        return f"beta {fmt_number(m.beta)} G.R."
    if m.defense == "adv":
        return f"eps {fmt_eps(m.adv_eps)} adversarial training"
    if m.defense == PLAIN_DEFENSE:
        return "no defense"
    return f"{DEFENSE_LABELS[m.defense]} {fmt_number(m.strength)}".removesuffix(" 0")


def _nes_wide(results: Sequence[NesResult], value: Callable[[NesResult], float]) -> pd.DataFrame:
    """One dataset: rows real-valued/complex-valued, one column per defense present (NaN if absent)."""
    columns: list[str] = []
    for r in sorted(results, key=lambda r: r.model.sort_key()[1:]):
        if defense_label(r.model) not in columns:
            columns.append(defense_label(r.model))
    df = pd.DataFrame(np.nan, index=pd.Index([FIELD_PROSE[f] for f in FIELDS], name="network"), columns=columns)
    for r in results:
        df.loc[FIELD_PROSE[r.model.field], defense_label(r.model)] = value(r)
    return df


def _nes_section(results: Sequence[NesResult]) -> str:
    """One dataset's Markdown: the setting line, the accuracy table, the clean-accuracy table."""
    first = results[0]
    spec = first.spec

    def table(df: pd.DataFrame) -> str:
        rows = [[name] + [NOT_RUN if np.isnan(x) else f"{x:.1f}%" for x in df.loc[name]] for name in df.index]
        return markdown_table(["network", *df.columns], rows)

    return (
        f"{first.n_images} {DATASET_PROSE.get(first.dataset, first.dataset)} test images, {spec.steps}-step PGD, "
        f"eps {fmt_eps(spec.eps)}, {first.queries_per_image:g} queries per image "
        f"(n = {spec.samples} directions, sigma {spec.sigma:g}); NES estimates the gradient of "
        f"{NES_SCORE_PROSE[spec.score]} (score: {spec.score}).\n\n"
        "Accuracy under the attack:\n\n" + table(_nes_wide(results, lambda r: r.accuracy)) + "\n\n"
        "Clean accuracy on the same images:\n\n" + table(_nes_wide(results, lambda r: r.clean_accuracy)) + "\n"
    )


def _nes_by_dataset(results: Sequence[NesResult]) -> dict[str, list[NesResult]]:
    """Group by dataset (paper order) after checking each dataset has one setting and no duplicates."""
    groups: dict[str, list[NesResult]] = {}
    for r in results:
        groups.setdefault(r.dataset, []).append(r)
    out = {}
    for ds in sorted(groups, key=dataset_key):
        group = groups[ds]
        what = f"NES results for {ds}"
        _unique((r.n_images for r in group), what, "n_images")
        for attr in ("steps", "eps", "samples", "sigma", "score"):
            _unique((getattr(r.spec, attr) for r in group), what, attr)
        _unique((r.queries_per_image for r in group), what, "queries_per_image")
        _check_unique_keys(((f"{ds} {FIELD_PROSE[r.model.field]}, {defense_label(r.model)}", r.path)
                            for r in group), "NES result for")
        out[ds] = sorted(group, key=lambda r: r.model.sort_key())
    return out


def write_nes_table(paths: list[str], csv_out: str, md_out: str) -> pd.DataFrame:
    """NES (query-based attack) table in the paper's layout, one section per dataset.

    Returns the accuracy table with index (dataset, network), network in 'real-valued',
    'complex-valued' (so ``df.loc["fmnist"]`` is the paper's table); one column per defense
    present ('no defense', 'beta {b} G.R.' by beta, 'eps {e} adversarial training' by eps);
    NaN where a model was not run. In Markdown each dataset gets a line stating images, steps,
    eps and queries per image, its accuracy table (cells 'x.y%', '(not run)') and the clean
    accuracy of the same models. The CSV is the long form (columns ``dataset, model, field,
    defense, beta, adv_eps, n_images, queries_per_image, eps, steps, accuracy,
    clean_accuracy``). Within a dataset all files must share n_images, steps, eps, samples,
    sigma and queries_per_image.
    """
    by_dataset = _nes_by_dataset(read_records(paths, NesResult))
    rows = [{"dataset": r.dataset, **model_columns(r.model), "n_images": r.n_images,
             "queries_per_image": r.queries_per_image, "eps": r.spec.eps, "steps": r.spec.steps,
             "accuracy": r.accuracy, "clean_accuracy": r.clean_accuracy}
            for group in by_dataset.values() for r in group]
    write_csv(pd.DataFrame.from_records(rows, columns=list(_NES_COLUMNS)), csv_out,
              {**_MODEL_FORMATS, "eps": PARAM_FMT, "queries_per_image": PARAM_FMT,
               "accuracy": ACC_FMT, "clean_accuracy": ACC_FMT})
    sections = [_nes_section(group) for group in by_dataset.values()]
    write_atomic(md_out, ("# Query-based attack (NES)\n\n" + "\n".join(sections)).encode())
    return pd.concat({ds: _nes_wide(group, lambda r: r.accuracy) for ds, group in by_dataset.items()},
                     names=["dataset", "network"])


def curves_by_model(curves: Sequence[WhiteboxCurve]) -> dict[tuple[str, ModelId], list[WhiteboxCurve]]:
    """The curves per (dataset, model), in paper order of datasets then model order; input order within a group."""
    groups: dict[tuple[str, ModelId], list[WhiteboxCurve]] = {}
    for c in curves:
        groups.setdefault((c.dataset, c.model), []).append(c)
    return dict(sorted(groups.items(), key=lambda kv: (dataset_key(kv[0][0]), kv[0][1].sort_key())))
