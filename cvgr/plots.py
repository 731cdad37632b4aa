"""Figures: white-box robustness curves and the gradient agreement zeta during training.

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
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .errors import CvgrError
from .records import Record, TrainingHistory, WhiteboxCurve
from .tables import read_records, write_atomic
from .vocab import FIELDS, AttackId, ModelId, dataset_label, fmt_number

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
