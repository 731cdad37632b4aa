"""This run against the paper: paper-vs-measured tables and the claims table (docs/METHOD.md section 7).

Reads result records (transfer cells, NES results, training histories) and
the paper's numbers (:mod:`cvgr.report.paper`), turns them into the plain inputs of
:mod:`cvgr.report.verdicts` and writes:

- ``{transfer,nes}_vs_paper.csv`` / ``.md``: per cell of the paper's table
  the paper's number, the measured one, the difference (percentage points)
  and the exact binomial 95% interval of the measured accuracy over its test
  images; cells the paper reports but this run did not measure say so;
- ``claims.csv`` / ``.md``: each claim of the paper and each ordering its
  tables show, with the measured evidence, a 95% interval (over test images,
  or over seeds where every model type has the same two or more seeds) and
  the verdict ``holds``, ``contradicted`` or ``not resolved at this sample
  size``.
  With a frontier, its row "at equal clean accuracy, complex G.R. is more
  robust than real G.R." (:mod:`cvgr.report.frontier_table`; a bootstrap interval)
  comes last.

Only the std and G.R. models of a transfer table (roles Self and the other
seed's copies) and the NES models enter; what the paper did not measure
(e.g. complex adversarial training) is listed as measured only.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .verdicts import Cell, ClaimRow, ModelRecord, _cells_by, ordering_rows, robustness_rows
from .training_verdicts import clean_accuracy_rows, zeta_rows
from .frontier_table import CLAIM as FRONTIER_CLAIM, frontier_claims
from .paper import KEY_COLUMNS, PaperResult, load_paper_results
from ..results.records import NesResult, TrainingHistory, TransferCell
from .stats import LEVEL, binomial_ci
from .tables import ACC_FMT, markdown_table, read_records, transfer_table_cells, write_atomic, write_csv
from ..vocab import DATASET_LABELS, FIELD_LETTERS

CLAIM_COLUMNS = ("claim", "scope", "reading", "verdict", "estimate", "low", "high", "method", "tests", "evidence",
                 "statement")


# ----------------------------------------------------------------------------- records -> plain inputs

def transfer_cells(records: Iterable[TransferCell]) -> list[Cell]:
    """The transfer table's cells (:func:`cvgr.report.tables.transfer_table_cells`, with its checks) as
    :class:`cvgr.report.verdicts.Cell`, datasets in paper order."""
    return [Cell("transfer", r.dataset, r.target.field, r.target.defense, int(r.correct.sum()), r.n_images,
                 r.source.field, r.source.defense, "self" if r.role == "self" else "second", r.source.seed,
                 outcomes=r.correct.tolist())
            for _, kept in transfer_table_cells(list(records)).values() for r in kept]


def nes_cells(records: Iterable[NesResult]) -> list[Cell]:
    """NES results as :class:`cvgr.report.verdicts.Cell` (one per model; the seed tells repetitions apart)."""
    return [Cell("nes", r.dataset, r.model.field, r.model.defense, int(r.correct.sum()), r.n_images,
                 seed=r.model.seed, outcomes=r.correct.tolist()) for r in records]


def model_records(histories: Iterable[TrainingHistory]) -> list[ModelRecord]:
    """Trained models' clean accuracy (counts over the evaluation images), final zeta and per-epoch zeta."""
    return [ModelRecord(h.dataset, h.model.field, h.model.defense, h.model.beta, h.model.seed, h.clean_correct,
                        h.eval_images, h.final_zeta, tuple(float(z) for z in h.history["zeta"]))
            for h in histories]


# ----------------------------------------------------------------------------- paper vs measured

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


def _cell_label(key: tuple) -> dict[str, str]:
    row = dict(zip(KEY_COLUMNS, key))
    if row["table"] == "transfer":
        target = "Self" if row["target"] == "self" else \
            f"{FIELD_LETTERS[row['field']]} ({'G.R.' if row['defense'] == 'gr' else 'Std.'})"
        return {"dataset": row["dataset"], "source": f"{row['source_field']} {row['source_defense']}",
                "target": target}
    return {"dataset": row["dataset"], "network": row["field"], "defense": row["defense"]}


def comparison_frame(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """One row per compared cell: its key columns, paper, measured, difference, interval, counts."""
    rows = []
    for c in comparisons:
        rows.append({**dict(zip(KEY_COLUMNS, c.key)), "paper": c.paper, "measured": c.measured,
                     "difference": c.difference, "ci_low": c.low, "ci_high": c.high, "correct": c.correct,
                     "images": c.n})
    return pd.DataFrame.from_records(rows)


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "\u2014" if x is None or x != x else fmt.format(x)


def _comparison_markdown(table: str, comparisons: Sequence[Comparison], paper: Sequence[PaperResult]) -> str:
    name = {"transfer": "Black-box transfer (FGSM)", "nes": "Query-based attack (NES)"}[table]
    settings = sorted({(r.dataset, r.eps, r.gr_beta, r.images, r.queries) for r in paper})
    said = "; ".join(f"{DATASET_LABELS[d]} eps {e:g}, beta {b:g}" + (f", {q} queries, {n} images" if q else "")
                     for d, e, b, n, q in settings)
    head = (f"# {name}: paper vs this run\n\nAccuracy (%) the paper reports (its setting: {said}), the accuracy "
            "measured here, their difference (measured - paper, percentage points) and the exact binomial 95% "
            "interval of the measured accuracy over its test images. \u2014 = not reported / not measured.\n\n")
    labels = ("dataset", "source", "target") if table == "transfer" else ("dataset", "network", "defense")
    rows = [[*_cell_label(c.key).values(), _num(c.paper), _num(c.measured), _num(c.difference, "{:+.1f}"),
             "\u2014" if c.low is None else f"{c.low:.1f}-{c.high:.1f}", _num(c.n, "{:d}")]
            for c in comparisons]
    return head + markdown_table([*labels, "paper", "measured", "difference", "95% interval", "images"], rows) + "\n"


def paper_comparisons(table: str, paths: list[str],
                      paper_path: str | None = None) -> tuple[list[PaperResult], list[Comparison]]:
    """The paper's rows of ``table`` for the datasets measured in ``paths``, and :func:`cvgr.report.verdicts.paper_vs_measured`.

    ``table`` is ``transfer`` (``paths``: transfer cells, :func:`transfer_cells`)
    or ``nes`` (NES results, :func:`nes_cells`).
    """
    paper = load_paper_results(paper_path)
    cells = transfer_cells(read_records(paths, TransferCell)) if table == "transfer" else \
        nes_cells(read_records(paths, NesResult))
    measured_datasets = {c.dataset for c in cells}
    rows = [r for r in paper.table(table) if r.dataset in measured_datasets]
    return rows, paper_vs_measured(rows, cells)


def write_paper_comparison(table: str, paths: list[str], csv_out: str, md_out: str,
                           paper_path: str | None = None) -> pd.DataFrame:
    """``transfer`` (from transfer cells) or ``nes`` (from NES results) beside the paper's numbers."""
    rows, comparisons = paper_comparisons(table, paths, paper_path)
    df = comparison_frame(comparisons)
    write_csv(df, csv_out, {c: ACC_FMT for c in ("paper", "measured", "difference", "ci_low", "ci_high")})
    write_atomic(md_out, _comparison_markdown(table, comparisons, rows).encode())
    return df


# ----------------------------------------------------------------------------- claims

def claims_table(models: Sequence[ModelRecord], cells: Sequence[Cell], *, level: float = LEVEL,
                 zeta_margin: float | None = None) -> list[ClaimRow]:
    """Every claim that the inputs can speak to, in the order of :data:`cvgr.report.paper.CLAIMS` then ``ORDERINGS``.

    A claim whose models or cells were not measured gives no row.
    """
    grouped = _cells_by(cells)
    return (clean_accuracy_rows(models, level) + zeta_rows(models, level, zeta_margin)
            + robustness_rows(grouped, level) + ordering_rows(grouped, level))


def claims_frame(rows: Sequence[ClaimRow]) -> pd.DataFrame:
    return pd.DataFrame.from_records([{c: getattr(r, c) for c in CLAIM_COLUMNS} for r in rows],
                                     columns=list(CLAIM_COLUMNS))


def _claims_markdown(rows: Sequence[ClaimRow]) -> str:
    lines = ["# The paper's claims, tested on this run\n",
             "Each claim is a difference D the paper says is positive (percentage points; zeta in its own units). "
             "The 95% interval is over test images (MOVER from exact binomial intervals; paired by image where both "
             "accuracies are on the same images) or, where every model type was trained with the same two or more "
             "seeds, Student's t over seeds. Verdict: holds (interval "
             "above 0), contradicted (below 0), not resolved at this sample size (contains 0, or no interval).\n"]
    if any(r.claim == FRONTIER_CLAIM for r in rows):
        lines.append(f"The {FRONTIER_CLAIM} row is beyond the paper: D is the mean robust-accuracy gap between the "
                     "two fields' robustness-accuracy frontiers over the clean accuracies both reach, its interval a "
                     "percentile bootstrap over seeds and images (docs/METHOD.md section 7.1; "
                     "results/tables/frontier.md).\n")
    table = [[r.claim, r.scope, r.reading, r.verdict, _num(r.estimate, "{:+.3g}"),
              "\u2014" if r.low is None else f"{r.low:+.3g} to {r.high:+.3g}", r.method] for r in rows]
    lines.append(markdown_table(["claim", "scope", "reading", "verdict", "D", "95% interval", "interval"], table))
    lines.append("\nThe claims:\n")
    lines += [f"- **{cid}**: {text}" for cid, text in dict((r.claim, r.statement) for r in rows).items()]
    lines.append("\nWhat each row tests, and its evidence:\n")
    lines += [f"- {r.claim}, {r.scope}, {r.reading}: tests whether {r.tests}; evidence: {r.evidence}" for r in rows]
    return "\n".join(lines) + "\n"


def write_claims_table(history_paths: list[str], transfer_paths: list[str], nes_paths: list[str],
                       csv_out: str, md_out: str, frontier_histories: Sequence[str] = (),
                       frontier_audit: Sequence[str] = (),
                       frontier_settings: Mapping[str, Mapping[str, float]] | None = None) -> pd.DataFrame:
    """The claims table from the training histories and, when given, the transfer cells and NES results;
    with a frontier (its models' histories and audit curves, ``frontier_settings`` per dataset: the audit
    eps and the bootstrap replicates), the matched-accuracy row of :mod:`cvgr.report.frontier_table` last."""
    models = model_records(read_records(history_paths, TrainingHistory))
    cells = (transfer_cells(read_records(transfer_paths, TransferCell)) if transfer_paths else []) + \
        (nes_cells(read_records(nes_paths, NesResult)) if nes_paths else [])
    rows = claims_table(models, cells) + frontier_claims(frontier_histories, frontier_audit, frontier_settings or {})
    df = claims_frame(rows)
    write_csv(df, csv_out, {"estimate": "%.6g", "low": "%.6g", "high": "%.6g"})
    write_atomic(md_out, _claims_markdown(rows).encode())
    return df
