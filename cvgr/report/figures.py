"""Figures: white-box robustness curves, the gradient agreement zeta during training, the audit, the frontier.

Figures are built on a bare :class:`matplotlib.figure.Figure` (rendered by the Agg backend,
no pyplot state, no display needed) and saved as PNG without the 'Software' metadata key;
matplotlib writes no timestamp into PNGs, so the same inputs give byte-identical files. Files
are written atomically (temporary file in the same directory, then os.replace).

Styling: color encodes the field (real = blue, complex = red); line style encodes the
defense and its strength (e.g. beta 64 solid, beta 512 dashed); the marker encodes the seed.

- White-box (``whitebox_figure``): accuracy (%) vs eps, one line per model, one panel per
  attack present in the inputs (FGSM, then PGD-k by k, then the audit's attacks).
- zeta (``zeta_figure``): history/zeta per epoch, one line per G.R. model (beta > 0). Models
  without G.R. (std, adversarial training) are omitted: their regularizer is 0, so
  zeta = cos(grad L, grad L) = 1 at every epoch and carries no information.
- Frontier (``frontier_figure``): clean vs robust accuracy, one curve per field through its
  Pareto-optimal (field, beta) points, 95% intervals in both directions (docs/METHOD.md 7.1).
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import CvgrError
from ..results.records import Record, TrainingHistory, WhiteboxCurve
from .tables import read_records, write_atomic
from ..vocab import FIELDS, AttackId, ModelId, dataset_key, dataset_label, fmt_number

FIELD_COLORS = dict(zip(FIELDS, ("tab:blue", "tab:red")))
LINE_STYLES = ("-", "--", "-.", ":")
SEED_MARKERS = ("o", "s", "^", "D", "v")


def save_png(fig: Figure, png_out: str | os.PathLike) -> None:
    """Render ``fig`` to PNG (no Software/time metadata) and write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    write_atomic(png_out, buf.getvalue())


def _style_index(models: Sequence[ModelId]) -> dict[str, int]:
    """Line-style slot per defense tag ('std', 'gr64', 'adv0.2'), in model order."""
    tags: list[str] = []
    for m in sorted(models, key=ModelId.sort_key):
        if m.defense_tag not in tags:
            tags.append(m.defense_tag)
    return {t: i for i, t in enumerate(tags)}


def _line_kwargs(m: ModelId, styles: dict[str, int]) -> dict:
    """Color by field, line style by defense tag, marker by seed."""
    return {"color": FIELD_COLORS[m.field], "linestyle": LINE_STYLES[styles[m.defense_tag] % len(LINE_STYLES)],
            "marker": SEED_MARKERS[m.seed % len(SEED_MARKERS)], "markersize": 4, "label": str(m)}


def _for_dataset(results: Sequence[Record], dataset: str, what: str) -> list:
    """The results for ``dataset``; CvgrError if there are none."""
    kept = [r for r in results if r.dataset == dataset]
    if not kept:
        found = ", ".join(sorted({r.dataset for r in results}))
        raise CvgrError(f"none of the {len(results)} {what} files is for dataset {dataset!r} (found: {found}); "
                        "pass that dataset's files")
    return kept


def _whitebox_panel(ax: Axes, results: Sequence[WhiteboxCurve], attack: AttackId, title: str,
                    styles: dict[str, int]) -> None:
    """Accuracy vs eps, one line per model (model order), or '(not run)'."""
    ax.set_title(title)
    ax.set_xlabel("eps (L-infinity)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(True, alpha=0.3)
    chosen = sorted((r for r in results if r.attack == attack), key=lambda r: r.model.sort_key())
    if not chosen:
        ax.text(0.5, 0.5, "(not run)", ha="center", va="center", transform=ax.transAxes)
        return
    for r in chosen:
        eps, acc = r.eps.ravel(), r.accuracy
        order = np.argsort(eps, kind="stable")
        ax.plot(eps[order], acc[order], **_line_kwargs(r.model, styles))
    ax.legend(fontsize=7)


def whitebox_figure(paths: list[str], dataset: str) -> Figure:
    """One panel per attack (FGSM, PGD-k, ... in that order) of accuracy (%) vs eps, one line per model."""
    results = _for_dataset(read_records(paths, WhiteboxCurve), dataset, "white-box result")
    attacks = sorted({r.attack for r in results}, key=AttackId.sort_key)
    n = sorted({r.n_images for r in results})
    fig = Figure(figsize=(5 * len(attacks), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(attacks), sharey=True, squeeze=False)[0])
    styles = _style_index([r.model for r in results])  # same style for a defense in every panel
    for ax, attack in zip(axes, attacks):
        _whitebox_panel(ax, results, attack, attack.label, styles)
    fig.suptitle(f"{dataset_label(dataset)}: white-box accuracy ({'/'.join(map(str, n))} test images)")
    fig.tight_layout()
    return fig


def plot_whitebox(paths: list[str], png_out: str, dataset: str) -> None:
    """Write :func:`whitebox_figure` as a PNG."""
    save_png(whitebox_figure(paths, dataset), png_out)


def zeta_figure(history_paths: list[str], dataset: str) -> Figure:
    """zeta per epoch for the G.R. models (beta > 0) of ``dataset``: color = field, style = beta."""
    results = _for_dataset(read_records(history_paths, TrainingHistory), dataset, "training-history")
    chosen = [(r.model, r) for r in sorted(results, key=lambda r: r.model.sort_key()) if r.model.beta > 0]
    if not chosen:
        raise CvgrError(f"no G.R. model (beta > 0) among the {len(results)} training histories for {dataset}; "
                        "zeta is 1 without G.R., train a gr<beta> model to plot it")
    styles = _style_index([m for m, _ in chosen])
    fig = Figure(figsize=(6, 4.2))
    ax = fig.subplots()
    for m, r in chosen:
        ax.plot(r.history["epoch"].ravel(), r.history["zeta"].ravel(), **_line_kwargs(m, styles))
    betas = ", ".join(fmt_number(b) for b in sorted({m.beta for m, _ in chosen}))
    ax.set_title(f"{dataset_label(dataset)}: gradient agreement zeta (beta {betas})")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("zeta = cos(grad L, grad (L + R))")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_zeta(history_paths: list[str], png_out: str, dataset: str) -> None:
    """Write :func:`zeta_figure` as a PNG."""
    save_png(zeta_figure(history_paths, dataset), png_out)


def masking_figure(paths: list[str], dataset: str) -> Figure:
    """The audit of ``dataset``: one group of bars per model (clean, each attack, worst case), flags marked."""
    from .audit_table import _FLAG_LABELS, _by_model, accuracy_labels, model_row

    curves = _for_dataset(read_records(paths, WhiteboxCurve), dataset, "audit curve")
    rows = [model_row(ds, m, group) for (ds, m), group in _by_model(curves).items()]
    labels = accuracy_labels()
    columns = [c for c in labels if any(r[c] == r[c] for r in rows)]  # attacks that ran (not NaN)
    fig = Figure(figsize=(max(6.0, 1.3 * len(rows) + 2), 4.6))
    ax = fig.subplots()
    width = 0.8 / len(columns)
    for j, col in enumerate(columns):
        xs = np.arange(len(rows)) + (j - (len(columns) - 1) / 2) * width
        ax.bar(xs, [r[col] for r in rows], width, label=labels[col],
               color="0.25" if col == "acc_worst" else f"C{j}")
    for i, r in enumerate(rows):
        raised = [_FLAG_LABELS[k[len("flag_"):]] for k, v in r.items() if k.startswith("flag_") and v is True]
        if raised:
            ax.annotate("flag: " + "; ".join(raised), (i, 101), ha="center", va="bottom", fontsize=6, color="tab:red")
    ax.set_xticks(np.arange(len(rows)), [r["model"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 112)
    ax.set_ylabel("accuracy (%)")
    eps = sorted({r["eps"] for r in rows})
    ax.set_title(f"{dataset_label(dataset)}: gradient-masking audit at eps {'/'.join(f'{e:g}' for e in eps)} "
                 f"({rows[0]['images']} test images)")
    ax.legend(fontsize=7, ncol=min(len(columns), 4), loc="upper right")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_masking(paths: list[str], png_out: str, dataset: str) -> None:
    """Write :func:`masking_figure` as a PNG."""
    save_png(masking_figure(paths, dataset), png_out)


def paper_figure(cell_paths: list[str]) -> Figure:
    """Measured against the paper's accuracy, one point per transfer cell the paper reports, with the diagonal.

    Error bars: the exact binomial 95% interval of the measured accuracy. Color: the source's field;
    filled marker: G.R. source, open: Std. source; one marker shape per dataset.
    """
    from .vs_paper import paper_comparisons
    from .paper import KEY_COLUMNS, load_paper_results

    _, comparisons = paper_comparisons("transfer", cell_paths)
    datasets = sorted({dict(zip(KEY_COLUMNS, c.key))["dataset"] for c in comparisons if c.measured is not None},
                      key=dataset_key)
    points = [c for c in comparisons if c.paper is not None and c.measured is not None]
    if not points:
        raise CvgrError("none of the transfer cells is one the paper reports; run the transfer stage for "
                        + ", ".join(sorted({r.dataset for r in load_paper_results().table('transfer')})))
    fig = Figure(figsize=(5.6, 5.2))
    ax = fig.subplots()
    ax.plot([0, 100], [0, 100], color="0.6", linestyle="--", linewidth=1, label="measured = paper")
    shapes = dict(zip(datasets, SEED_MARKERS))
    for p in points:
        key = dict(zip(KEY_COLUMNS, p.key))
        color = FIELD_COLORS[key["source_field"]]
        ax.errorbar(p.paper, p.measured, yerr=[[p.measured - p.low], [p.high - p.measured]], fmt=shapes[key["dataset"]],
                    color=color, mfc=color if key["source_defense"] == "gr" else "none", markersize=6,
                    elinewidth=0.8, capsize=2)
    for ds in datasets:
        ax.plot([], [], shapes[ds], color="0.3", mfc="none", label=dataset_label(ds))
    for field, color in FIELD_COLORS.items():
        ax.plot([], [], "o", color=color, label=f"{field} source (filled: G.R., open: Std.)")
    ax.set_xlim(-2, 102)
    ax.set_ylim(-2, 102)
    ax.set_aspect("equal")
    ax.set_xlabel("paper's accuracy (%)")
    ax.set_ylabel("measured accuracy (%), 95% interval")
    ax.set_title(f"Transfer cells: this run vs the paper ({len(points)} cells)")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def plot_paper(cell_paths: list[str], png_out: str) -> None:
    """Write :func:`paper_figure` as a PNG."""
    save_png(paper_figure(cell_paths), png_out)


def frontier_figure(result) -> Figure:
    """Clean vs robust accuracy of one dataset's frontier (:class:`cvgr.report.frontier_table.FrontierResult`).

    One curve per field through its Pareto-optimal points (in order of clean accuracy); every (field, beta)
    point with its 95% bootstrap intervals in both directions, labelled with its beta; points off the
    frontier hollow; the shared clean-accuracy range over which the gap G is averaged shaded.
    """
    from .frontier_table import gap_sentence, node_arrays

    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.subplots()
    for field in FIELDS:
        a = node_arrays(result.nodes, field)
        if a["clean"].size == 0:
            continue
        color, on = FIELD_COLORS[field], a["on_frontier"].astype(bool)
        xerr = [a["clean"] - a["clean_low"], a["clean_high"] - a["clean"]]
        yerr = [a["robust"] - a["robust_low"], a["robust_high"] - a["robust"]]
        ax.errorbar(a["clean"], a["robust"], xerr=xerr, yerr=yerr, fmt="none", ecolor=color, alpha=0.6, capsize=2)
        ax.plot(a["clean"][on], a["robust"][on], "-o", color=color, label=f"{field} G.R. frontier")
        if (~on).any():
            ax.plot(a["clean"][~on], a["robust"][~on], "o", mfc="none", color=color, label=f"{field}, off the frontier")
        for x, y, b in zip(a["clean"], a["robust"], a["beta"]):
            ax.annotate(f"\u03b2={fmt_number(b)}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7,
                        color=color)
    if not isinstance(result.gap, str):
        ax.axvspan(result.gap.range_low, result.gap.range_high, color="0.85", alpha=0.5, lw=0,
                   label="shared clean-accuracy range")
    ax.set_xlabel("clean accuracy (%)")
    ax.set_ylabel(f"robust accuracy (%), worst of {len(result.attacks)} attacks at eps {result.eps:g}")
    ax.set_title(f"{dataset_label(result.dataset)}: robustness-accuracy frontier ({result.images} test images)",
                 fontsize=10)
    fig.text(0.01, 0.01, gap_sentence(result), fontsize=6, wrap=True)
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, alpha=0.3)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_frontier(history_paths: list[str], audit_paths: list[str], nes_paths: list[str],
                  settings: dict, png_out: str, dataset: str) -> None:
    """Write :func:`frontier_figure` of ``dataset`` (its ``settings``: the audit eps, the replicates) as a PNG."""
    from .frontier_table import frontier_results

    (result,) = frontier_results(history_paths, audit_paths, nes_paths, {dataset: settings[dataset]})
    save_png(frontier_figure(result), png_out)
