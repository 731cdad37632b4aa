"""Final tables of the study, laid out like docs/SEED_RESULTS.md (the paper's tables).

Inputs are result files of the shared HDF5 contract (transfer cells, NES results,
white-box curves, training histories); outputs are CSV (machine-readable) and
Markdown (to read beside the paper).

Determinism: rows come in a fixed order (datasets mnist, svhn, fmnist, cifar10; fields
real, complex; defenses std, gr, adv by strength, then seed), numbers have a fixed format
(accuracies ``'%.4f'`` and attack/defense strengths ``'%.6g'`` in CSV, accuracies with one
decimal in Markdown) and nothing time-dependent is written, so the same inputs give
byte-identical files. Every file is written atomically (a temporary file in the same
directory, then :func:`os.replace`), so a reader never sees half a table.

Black-box transfer (METHOD section 4). A cell ``(dataset, source, target)`` is the accuracy
(%) of ``target`` on FGSM examples crafted on ``source``. Sources are the source-seed copies
(normally seed 0) ``{field}-std-s0`` ("Std.") and ``{field}-gr{beta}-s0`` ("G.R."); all std/G.R.
sources of a dataset must share one seed. Targets are the source itself
("Self", white-box) and the copies of another seed of ``real-std`` / ``complex-std`` /
``real-gr{beta}`` / ``complex-gr{beta}``, where beta is the G.R. source's beta. Other cells
(adversarially trained models, other betas, source-seed targets other than the source) are not
part of this table and are ignored.
"""
from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from .errors import CorruptFileError, CvgrError
from .io import H5Data, atomic_output, read_h5
from .naming import ModelId, fmt_number, parse

DATASET_ORDER = ("mnist", "svhn", "fmnist", "cifar10")
DATASET_LABELS = {"mnist": "MNIST", "svhn": "SVHN", "fmnist": "FMNIST", "cifar10": "CIFAR-10"}
DATASET_PROSE = {"mnist": "MNIST", "svhn": "SVHN", "fmnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
FIELD_ORDER = ("real", "complex")
DEFENSE_ORDER = ("std", "gr", "adv")
TRANSFER_TARGETS = ("Self", "R (Std.)", "C (Std.)", "R (G.R.)", "C (G.R.)")
NES_ROWS = {"real": "real-valued", "complex": "complex-valued"}
MISSING = "\u2014"  # em dash: a transfer cell that was not run
NOT_RUN = "(not run)"
ACC_FMT = "%.4f"
PARAM_FMT = "%.6g"


# ----------------------------------------------------------------------------- reading

def read_result(path: str | os.PathLike, attrs: Sequence[str] = (), arrays: Sequence[str] = ()) -> H5Data:
    """Read a result file (cvgr.io.read_h5, only the named arrays) and check its attributes.

    A missing file raises CvgrError; an unreadable one, or one that lacks a named array or
    attribute, raises CorruptFileError naming the file and what is missing.
    """
    result = read_h5(path, required=list(arrays), keys=list(arrays))
    missing = [a for a in attrs if a not in result.attrs]
    if missing:
        raise CorruptFileError(result.path, f"missing attribute(s) {', '.join(missing)} "
                                            f"(it has: {', '.join(sorted(result.attrs)) or 'none'})")
    return result


def read_results(paths: Iterable[str | os.PathLike], what: str, attrs: Sequence[str],
              arrays: Sequence[str] = ()) -> list[H5Data]:
    """Read every file; CvgrError if the list is empty."""
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise CvgrError(f"no {what} files were given; run the workflow steps that produce them first")
    return [read_result(p, attrs, arrays) for p in paths]


def model_of(result: H5Data, attr: str = "model") -> ModelId:
    """Parse the model name stored in ``attr``; CorruptFileError if it is not a model name."""
    try:
        return parse(str(result.attrs[attr]))
    except ValueError as exc:
        raise CorruptFileError(result.path, f"attribute {attr!r}: {exc}") from exc


# ----------------------------------------------------------------------------- ordering, labels

def dataset_key(dataset: str) -> tuple[int, str]:
    """Sort key: the paper's column order mnist, svhn, fmnist, cifar10, then others by name."""
    return (DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else len(DATASET_ORDER), dataset)


def model_key(m: ModelId) -> tuple[int, int, float, int]:
    """Sort key: real before complex; std, gr, adv; then strength; then seed."""
    return (FIELD_ORDER.index(m.field), DEFENSE_ORDER.index(m.defense), m.value, m.seed)


def attack_key(attack: str) -> tuple[int, str]:
    """Sort key: fgsm, then pgd<k> by k, then anything else by name."""
    if attack == "fgsm":
        return (0, "")
    if attack.startswith("pgd") and attack[3:].isdigit():
        return (1, f"{int(attack[3:]):09d}")
    return (2, attack)


def attack_label(attack: str) -> str:
    """'fgsm' -> 'FGSM', 'pgd10' -> 'PGD-10'."""
    if attack.startswith("pgd") and attack[3:].isdigit():
        return f"PGD-{int(attack[3:])}"
    return attack.upper()


def dataset_label(dataset: str) -> str:
    """Column heading name of a dataset ('fmnist' -> 'FMNIST')."""
    return DATASET_LABELS.get(dataset, dataset.upper())


def fmt_eps(eps: float) -> str:
    """An epsilon for prose: '0.16'; k/255 when that is exact and no 3-decimal form is ('8/255')."""
    eps = float(eps)
    if abs(round(eps, 3) - eps) < 1e-12:
        return "%g" % round(eps, 3)
    k = round(eps * 255)
    if abs(k / 255 - eps) < 1e-9:
        return f"{k}/255"
    return "%.4g" % eps


def _value_key(value: Any) -> tuple[bool, Any]:
    """Sort numbers numerically and before anything else, which sorts as text."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (not number, value if number else str(value))


def _unique(results: Sequence[H5Data], attr: str, what: str) -> Any:
    """The one value of ``attr`` shared by all results; CvgrError naming the values otherwise."""
    values = sorted({r.attrs[attr] for r in results}, key=_value_key)
    if len(values) != 1:
        raise CvgrError(
            f"{what} mix {attr} = {', '.join(map(str, values))}; a table is for one setting, "
            f"pass only files that share one {attr}"
        )
    return values[0]


def _check_unique_keys(keyed: Iterable[tuple[str, H5Data]], what: str) -> None:
    """CvgrError naming both files if two results claim the same table position ``key``."""
    seen: dict[str, str] = {}
    for key, r in keyed:
        if key in seen:
            raise CvgrError(f"{seen[key]} and {r.path} are both the {what} {key}; pass only one of them")
        seen[key] = r.path


# ----------------------------------------------------------------------------- writing

def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` atomically (cvgr.io.atomic_output: temp file beside it, os.replace)."""
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


# ----------------------------------------------------------------------------- transfer table

_TRANSFER_ATTRS = ("dataset", "source", "target", "attack", "eps", "n_images", "accuracy")


@dataclass(frozen=True)
class _Cell:
    """One transfer cell classified for the table."""

    dataset: str
    source: ModelId
    label: str  # one of TRANSFER_TARGETS
    result: H5Data


def _dataset_beta(dataset: str, cells: Sequence[tuple[ModelId, ModelId, H5Data]]) -> float | None:
    """The dataset's G.R. beta: from the G.R. sources, else (no G.R. source run) from G.R. targets."""
    for role in (0, 1):
        betas = sorted({pair[role].beta for pair in cells if pair[role].defense == "gr"})
        if len(betas) > 1:
            shown = ", ".join(fmt_number(b) for b in betas)
            raise CvgrError(
                f"transfer cells for {dataset} mix G.R. betas {shown}; the table compares one beta, "
                "pass only that beta's cells"
            )
        if betas:
            return betas[0]
    return None


def _target_label(source: ModelId, target: ModelId, beta: float | None) -> str | None:
    """'Self', 'R (Std.)', ... or None if the cell is not part of the table."""
    if target == source:
        return "Self"
    if target.seed == source.seed or target.defense not in ("std", "gr"):
        return None
    if target.defense == "gr" and target.beta != beta:
        return None
    field = "R" if target.field == "real" else "C"
    return f"{field} ({'Std.' if target.defense == 'std' else 'G.R.'})"


def _source_seed(dataset: str, cells: Sequence[tuple[ModelId, ModelId, H5Data]]) -> int:
    """The one seed of the dataset's std/G.R. sources (the config's source seed, normally 0)."""
    seeds = sorted({pair[0].seed for pair in cells})
    if len(seeds) > 1:
        raise CvgrError(
            f"transfer cells for {dataset} have std/G.R. sources with seeds {', '.join(map(str, seeds))}; "
            "the table crafts on one copy per model type, pass only the source seed's cells"
        )
    return seeds[0]


def _classify_transfer(results: Sequence[H5Data]) -> tuple[list[_Cell], dict[str, float | None]]:
    """Keep the cells of the table (std/G.R. sources) and find each dataset's beta."""
    by_dataset: dict[str, list[tuple[ModelId, ModelId, H5Data]]] = {}
    for r in results:
        source, target = model_of(r, "source"), model_of(r, "target")
        if source.defense in ("std", "gr"):
            by_dataset.setdefault(str(r.attrs["dataset"]), []).append((source, target, r))
    cells, betas = [], {}
    for dataset, group in by_dataset.items():
        _source_seed(dataset, group)
        betas[dataset] = _dataset_beta(dataset, group)
        for source, target, r in group:
            label = _target_label(source, target, betas[dataset])
            if label is not None:
                cells.append(_Cell(dataset, source, label, r))
    return cells, betas


def _transfer_frame(cells: Sequence[_Cell], betas: dict[str, float | None]) -> pd.DataFrame:
    """Wide numeric frame: one row per (source field, target), columns {ds}_std/_gr/_eps/_beta."""
    datasets = sorted({c.dataset for c in cells}, key=dataset_key)
    eps = {ds: float(_unique([c.result for c in cells if c.dataset == ds], "eps", f"transfer cells for {ds}"))
           for ds in datasets}
    acc = {(c.dataset, c.source.field, c.source.defense, c.label): float(c.result.attrs["accuracy"]) for c in cells}
    records = []
    for field in FIELD_ORDER:
        for label in TRANSFER_TARGETS:
            row: dict[str, Any] = {"source": field, "target": label}
            for ds in datasets:
                row[f"{ds}_std"] = acc.get((ds, field, "std", label), np.nan)
                row[f"{ds}_gr"] = acc.get((ds, field, "gr", label), np.nan)
                row[f"{ds}_eps"] = eps[ds]
                row[f"{ds}_beta"] = np.nan if betas[ds] is None else float(betas[ds])
            records.append(row)
    return pd.DataFrame.from_records(records)


def _transfer_markdown(df: pd.DataFrame, cells: Sequence[_Cell], attack: str) -> str:
    """The paper's layout: rows (source field, target), one "std / gr" column per dataset."""
    datasets = [c[: -len("_std")] for c in df.columns if c.endswith("_std")]
    headers = ["source", "target"]
    for ds in datasets:
        beta = df[f"{ds}_beta"].iloc[0]
        extra = "" if np.isnan(beta) else f", beta {fmt_number(beta)}"
        headers.append(f"{dataset_label(ds)} (eps {fmt_eps(df[f'{ds}_eps'].iloc[0])}{extra})")

    def acc(x: float) -> str:
        return MISSING if np.isnan(x) else f"{x:.1f}"

    rows = [[rec["source"], rec["target"]] + [f"{acc(rec[f'{ds}_std'])} / {acc(rec[f'{ds}_gr'])}" for ds in datasets]
            for rec in df.to_dict("records")]
    n_images, seeds = [], {}
    for ds in datasets:
        counts = sorted({int(c.result.attrs["n_images"]) for c in cells if c.dataset == ds})
        n_images.append(f"{dataset_label(ds)} {'/'.join(map(str, counts))}")
        seeds[dataset_label(ds)] = next(c.source.seed for c in cells if c.dataset == ds)
    if len(set(seeds.values())) == 1:
        seed_text = f"seed-{next(iter(seeds.values()))} copies"
    else:
        seed_text = "copies of seed " + ", ".join(f"{k} {v}" for k, v in seeds.items())
    name = attack_label(attack)
    return (
        f"# Black-box transfer ({name})\n\n"
        f"Accuracy (%) of each target on {name} examples crafted on the source; cells are "
        f'"source Std. / source G.R.". Sources are the {seed_text} ("Self" = the source itself, '
        f"white-box); the other targets are independently trained copies with another seed. "
        f"{MISSING} = not run.\n\n"
        f"Test images per cell: {', '.join(n_images)}.\n\n"
        + markdown_table(headers, rows) + "\n"
    )


def write_transfer_table(cell_paths: list[str], csv_out: str, md_out: str) -> pd.DataFrame:
    """Black-box transfer table (SEED_RESULTS.md layout) from transfer-cell files.

    Returns (and writes as CSV) one row per (source field, target) in the order real, complex x
    Self, R (Std.), C (Std.), R (G.R.), C (G.R.), with numeric columns ``{ds}_std`` and
    ``{ds}_gr`` (accuracy %, NaN/empty where the cell is missing), ``{ds}_eps`` and
    ``{ds}_beta`` for each dataset present, datasets in the order mnist, svhn, fmnist, cifar10.
    The Markdown file shows "std / gr" per dataset with one decimal and a dash for a missing cell.
    """
    results = read_results(cell_paths, "transfer-cell", _TRANSFER_ATTRS)
    cells, betas = _classify_transfer(results)
    if not cells:
        raise CvgrError(
            f"none of the {len(results)} transfer cells has a std or G.R. source with a table target "
            "(itself or another seed's std/G.R. copy); check the transfer step's source and target models"
        )
    _check_unique_keys(((f"{c.dataset} {c.source} -> {c.label}", c.result) for c in cells), "transfer cell")
    attack = _unique([c.result for c in cells], "attack", "transfer cells")
    df = _transfer_frame(cells, betas)
    formats = {c: ACC_FMT if c.endswith(("_std", "_gr")) else PARAM_FMT for c in df.columns[2:]}
    write_csv(df, csv_out, formats)
    write_atomic(md_out, _transfer_markdown(df, cells, str(attack)).encode())
    return df


# ----------------------------------------------------------------------------- NES table

_NES_ATTRS = ("dataset", "model", "eps", "steps", "samples", "sigma", "queries_per_image", "n_images",
              "accuracy", "clean_accuracy")
_NES_COLUMNS = ("dataset", "model", "field", "defense", "beta", "adv_eps", "n_images", "queries_per_image",
                "eps", "steps", "accuracy", "clean_accuracy")


def _defense_label(m: ModelId) -> str:
    """NES column heading: 'no defense', 'beta 64 G.R.', 'eps 0.2 adversarial training'."""
    if m.defense == "gr":
        return f"beta {fmt_number(m.beta)} G.R."
    if m.defense == "adv":
        return f"eps {fmt_eps(m.adv_eps)} adversarial training"
    return "no defense"


def _nes_wide(models: Sequence[tuple[ModelId, H5Data]], attr: str) -> pd.DataFrame:
    """One dataset: rows real-valued/complex-valued, one column per defense present (NaN if absent)."""
    columns: list[str] = []
    for m, _ in sorted(models, key=lambda p: (DEFENSE_ORDER.index(p[0].defense), p[0].value)):
        if _defense_label(m) not in columns:
            columns.append(_defense_label(m))
    df = pd.DataFrame(np.nan, index=pd.Index(list(NES_ROWS.values()), name="network"), columns=columns)
    for m, r in models:
        df.loc[NES_ROWS[m.field], _defense_label(m)] = float(r.attrs[attr])
    return df


def _nes_section(models: Sequence[tuple[ModelId, H5Data]]) -> str:
    """One dataset's Markdown: the setting line, the accuracy table, the clean-accuracy table."""
    a = models[0][1].attrs
    ds = str(a["dataset"])

    def table(df: pd.DataFrame) -> str:
        rows = [[name] + [NOT_RUN if np.isnan(x) else f"{x:.1f}%" for x in df.loc[name]] for name in df.index]
        return markdown_table(["network", *df.columns], rows)

    return (
        f"{int(a['n_images'])} {DATASET_PROSE.get(ds, ds)} test images, {int(a['steps'])}-step PGD, "
        f"eps {fmt_eps(a['eps'])}, {float(a['queries_per_image']):g} queries per image "
        f"(n = {int(a['samples'])} directions, sigma {a['sigma']:g}).\n\n"
        "Accuracy under the attack:\n\n" + table(_nes_wide(models, "accuracy")) + "\n\n"
        "Clean accuracy on the same images:\n\n" + table(_nes_wide(models, "clean_accuracy")) + "\n"
    )


def _nes_long(models: Sequence[tuple[ModelId, H5Data]]) -> pd.DataFrame:
    """Long form, one row per model, in dataset then model order."""
    records = []
    for m, r in sorted(models, key=lambda p: (dataset_key(str(p[1].attrs["dataset"])), model_key(p[0]))):
        a = r.attrs
        records.append({
            "dataset": a["dataset"], "model": str(m), "field": m.field, "defense": m.defense,
            "beta": m.beta, "adv_eps": m.adv_eps, "n_images": int(a["n_images"]),
            "queries_per_image": float(a["queries_per_image"]), "eps": float(a["eps"]), "steps": int(a["steps"]),
            "accuracy": float(a["accuracy"]), "clean_accuracy": float(a["clean_accuracy"]),
        })
    return pd.DataFrame.from_records(records, columns=list(_NES_COLUMNS))


def _nes_by_dataset(results: Sequence[H5Data]) -> dict[str, list[tuple[ModelId, H5Data]]]:
    """Group by dataset (paper order) after checking each dataset has one setting and no duplicates."""
    groups: dict[str, list[H5Data]] = {}
    for r in results:
        groups.setdefault(str(r.attrs["dataset"]), []).append(r)
    out = {}
    for ds in sorted(groups, key=dataset_key):
        for attr in ("n_images", "steps", "eps", "samples", "sigma", "queries_per_image"):
            _unique(groups[ds], attr, f"NES results for {ds}")
        models = [(model_of(r), r) for r in groups[ds]]
        _check_unique_keys(((f"{ds} {NES_ROWS[m.field]}, {_defense_label(m)}", r) for m, r in models),
                           "NES result for")
        out[ds] = models
    return out


def write_nes_table(paths: list[str], csv_out: str, md_out: str) -> pd.DataFrame:
    """NES (query-based attack) table in the SEED_RESULTS.md layout, one section per dataset.

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
    by_dataset = _nes_by_dataset(read_results(paths, "NES result", _NES_ATTRS))
    models = [pair for group in by_dataset.values() for pair in group]
    write_csv(_nes_long(models), csv_out, {"beta": PARAM_FMT, "adv_eps": PARAM_FMT, "eps": PARAM_FMT,
                                           "queries_per_image": PARAM_FMT,
                                           "accuracy": ACC_FMT, "clean_accuracy": ACC_FMT})
    sections = [_nes_section(group) for group in by_dataset.values()]
    write_atomic(md_out, ("# Query-based attack (NES)\n\n" + "\n".join(sections)).encode())
    return pd.concat({ds: _nes_wide(group, "accuracy") for ds, group in by_dataset.items()},
                     names=["dataset", "network"])


# ----------------------------------------------------------------------------- white-box table

_WHITEBOX_COLUMNS = ("dataset", "attack", "model", "field", "defense", "beta", "adv_eps", "eps", "accuracy",
                     "n_images")


def write_whitebox_table(paths: list[str], csv_out: str) -> pd.DataFrame:
    """White-box accuracy curves in long form, one row per (dataset, attack, model, eps).

    Columns ``dataset, attack, model, field, defense, beta, adv_eps, eps, accuracy, n_images``;
    sorted by dataset (paper order), attack (fgsm, pgd<k> by k), model (real/complex, std/gr/adv,
    strength, seed) and eps. Accuracy in %, '%.4f' in the CSV.
    """
    results = read_results(paths, "white-box result", ("dataset", "model", "attack", "n_images"), ("eps", "accuracy"))
    keyed = [((str(r.attrs["dataset"]), str(r.attrs["attack"]), model_of(r)), r) for r in results]
    _check_unique_keys(((f"{d} {a} {m}", r) for (d, a, m), r in keyed), "white-box result for")
    records = []
    for (ds, attack, m), r in sorted(keyed, key=lambda p: (dataset_key(p[0][0]), attack_key(p[0][1]),
                                                          model_key(p[0][2]))):
        eps, acc = r.arrays["eps"].ravel(), r.arrays["accuracy"].ravel()
        if eps.shape != acc.shape:
            raise CorruptFileError(r.path, f"arrays 'eps' {eps.shape} and 'accuracy' {acc.shape} differ in length")
        for i in np.argsort(eps, kind="stable"):
            records.append({"dataset": ds, "attack": attack, "model": str(m), "field": m.field,
                            "defense": m.defense, "beta": m.beta, "adv_eps": m.adv_eps, "eps": float(eps[i]),
                            "accuracy": float(acc[i]), "n_images": int(r.attrs["n_images"])})
    df = pd.DataFrame.from_records(records, columns=list(_WHITEBOX_COLUMNS))
    write_csv(df, csv_out, {"beta": PARAM_FMT, "adv_eps": PARAM_FMT, "eps": PARAM_FMT, "accuracy": ACC_FMT})
    return df


# ----------------------------------------------------------------------------- training table

_TRAINING_ATTRS = ("dataset", "model", "mode", "epochs", "train_size", "clean_acc", "final_zeta")
_TRAINING_COLUMNS = ("dataset", "model", "field", "defense", "beta", "adv_eps", "seed", "mode", "epochs",
                     "train_size", "clean_acc", "final_zeta")


def write_training_table(history_paths: list[str], csv_out: str) -> pd.DataFrame:
    """One row per trained model from the training-history files.

    Columns ``dataset, model, field, defense, beta, adv_eps, seed, mode, epochs, train_size,
    clean_acc, final_zeta`` (clean_acc in % on the evaluation test images after the last epoch,
    final_zeta = the last epoch's mean gradient agreement); sorted by dataset then model.
    """
    results = read_results(history_paths, "training-history", _TRAINING_ATTRS)
    keyed = [((str(r.attrs["dataset"]), model_of(r)), r) for r in results]
    _check_unique_keys(((f"{d} {m}", r) for (d, m), r in keyed), "training history of")
    records = []
    for (ds, m), r in sorted(keyed, key=lambda p: (dataset_key(p[0][0]), model_key(p[0][1]))):
        a = r.attrs
        records.append({"dataset": ds, "model": str(m), "field": m.field, "defense": m.defense, "beta": m.beta,
                        "adv_eps": m.adv_eps, "seed": m.seed, "mode": str(a["mode"]), "epochs": int(a["epochs"]),
                        "train_size": int(a["train_size"]), "clean_acc": float(a["clean_acc"]),
                        "final_zeta": float(a["final_zeta"])})
    df = pd.DataFrame.from_records(records, columns=list(_TRAINING_COLUMNS))
    write_csv(df, csv_out, {"beta": PARAM_FMT, "adv_eps": PARAM_FMT, "clean_acc": ACC_FMT,
                            "final_zeta": ACC_FMT})
    return df
