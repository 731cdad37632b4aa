"""Figures: white-box robustness curves and the gradient agreement zeta during training.

Figures are built on a bare :class:`matplotlib.figure.Figure` (rendered by the Agg backend,
no pyplot state, no display needed) and saved as PNG without the 'Software' metadata key;
matplotlib writes no timestamp into PNGs, so the same inputs give byte-identical files. Files
are written atomically (temporary file in the same directory, then os.replace).

Styling: color encodes the field (real = blue, complex = red); line style encodes the
defense and its strength (e.g. beta 64 solid, beta 512 dashed); the marker encodes the seed.

- White-box (``whitebox_figure``): accuracy (%) vs eps, one line per model, two panels:
  FGSM and PGD-k (the one PGD step count present in the inputs). A panel without results says
  "(not run)".
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
from .io import H5Data
from .naming import ModelId, fmt_number
from .tables import attack_label, dataset_label, model_key, model_of, read_results, write_atomic

FIELD_COLORS = {"real": "tab:blue", "complex": "tab:red"}
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
    for m in sorted(models, key=model_key):
        if m.defense_tag not in tags:
            tags.append(m.defense_tag)
    return {t: i for i, t in enumerate(tags)}


def _line_kwargs(m: ModelId, styles: dict[str, int]) -> dict:
    """Color by field, line style by defense tag, marker by seed."""
    return {"color": FIELD_COLORS[m.field], "linestyle": LINE_STYLES[styles[m.defense_tag] % len(LINE_STYLES)],
            "marker": SEED_MARKERS[m.seed % len(SEED_MARKERS)], "markersize": 4, "label": str(m)}


def _for_dataset(results: Sequence[H5Data], dataset: str, what: str) -> list[H5Data]:
    """The results whose 'dataset' attribute is ``dataset``; CvgrError if there are none."""
    kept = [r for r in results if r.attrs["dataset"] == dataset]
    if not kept:
        found = ", ".join(sorted({str(r.attrs["dataset"]) for r in results}))
        raise CvgrError(f"none of the {len(results)} {what} files is for dataset {dataset!r} (found: {found}); "
                        "pass that dataset's files")
    return kept


def _pgd_attack(results: Sequence[H5Data], dataset: str) -> str | None:
    """The one 'pgd<k>' attack among the results (None if absent); CvgrError if several k."""
    pgd = sorted({str(r.attrs["attack"]) for r in results if str(r.attrs["attack"]).startswith("pgd")})
    if len(pgd) > 1:
        raise CvgrError(f"white-box results for {dataset} have several PGD attacks ({', '.join(pgd)}); "
                        "the figure has one PGD panel, pass one step count's files")
    return pgd[0] if pgd else None


def _whitebox_panel(ax: Axes, results: Sequence[H5Data], attack: str | None, title: str,
                    styles: dict[str, int]) -> None:
    """Accuracy vs eps, one line per model (model order), or '(not run)'."""
    ax.set_title(title)
    ax.set_xlabel("eps (L-infinity)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(True, alpha=0.3)
    chosen = sorted(((model_of(r), r) for r in results if r.attrs["attack"] == attack), key=lambda p: model_key(p[0]))
    if not chosen:
        ax.text(0.5, 0.5, "(not run)", ha="center", va="center", transform=ax.transAxes)
        return
    for m, r in chosen:
        eps, acc = r.arrays["eps"].ravel(), r.arrays["accuracy"].ravel()
        order = np.argsort(eps, kind="stable")
        ax.plot(eps[order], acc[order], **_line_kwargs(m, styles))
    ax.legend(fontsize=7)


def whitebox_figure(paths: list[str], dataset: str) -> Figure:
    """Two panels (FGSM, PGD-k) of accuracy (%) vs eps for ``dataset``, one line per model."""
    results = _for_dataset(read_results(paths, "white-box result", ("dataset", "model", "attack", "n_images"),
                                     ("eps", "accuracy")), dataset, "white-box result")
    pgd = _pgd_attack(results, dataset)
    n = sorted({int(r.attrs["n_images"]) for r in results})
    fig = Figure(figsize=(10, 4.2))
    ax_fgsm, ax_pgd = fig.subplots(1, 2, sharey=True)
    styles = _style_index([model_of(r) for r in results])  # same style for a defense in both panels
    _whitebox_panel(ax_fgsm, results, "fgsm", "FGSM", styles)
    _whitebox_panel(ax_pgd, results, pgd, attack_label(pgd) if pgd else "PGD", styles)
    fig.suptitle(f"{dataset_label(dataset)}: white-box accuracy ({'/'.join(map(str, n))} test images)")
    fig.tight_layout()
    return fig


def plot_whitebox(paths: list[str], png_out: str, dataset: str) -> None:
    """Write :func:`whitebox_figure` as a PNG."""
    save_png(whitebox_figure(paths, dataset), png_out)


def zeta_figure(history_paths: list[str], dataset: str) -> Figure:
    """zeta per epoch for the G.R. models (beta > 0) of ``dataset``: color = field, style = beta."""
    results = _for_dataset(read_results(history_paths, "training-history", ("dataset", "model"),
                                     ("history/epoch", "history/zeta")), dataset, "training-history")
    chosen = sorted(((model_of(r), r) for r in results), key=lambda p: model_key(p[0]))
    chosen = [(m, r) for m, r in chosen if m.beta > 0]
    if not chosen:
        raise CvgrError(f"no G.R. model (beta > 0) among the {len(results)} training histories for {dataset}; "
                        "zeta is 1 without G.R., train a gr<beta> model to plot it")
    styles = _style_index([m for m, _ in chosen])
    fig = Figure(figsize=(6, 4.2))
    ax = fig.subplots()
    for m, r in chosen:
        ax.plot(r.arrays["history/epoch"].ravel(), r.arrays["history/zeta"].ravel(), **_line_kwargs(m, styles))
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
