"""The claims about training, from :class:`cvgr.report.verdicts.ModelRecord` s: clean accuracy and zeta.

Each reading of a claim is its own row (:mod:`cvgr.report.verdicts` describes the
table, its intervals and verdicts):

* ``clean-accuracy``, *drop from std*:
  ``D = (acc R-std - acc R-G.R.) - (acc C-std - acc C-G.R.)``, the paper's
  wording ("costs complex nets less clean accuracy");
* ``clean-accuracy``, *absolute at equal beta*: ``D = acc C-G.R. - acc R-G.R.``
  at the same beta. It can disagree with the drop: a complex std net that is
  more accurate can lose more and still end higher, or the reverse;
* ``zeta``, *per-epoch curve*: "zeta stays higher during training" read over
  the whole of training, ``D = mean_s (1/E) sum_e (zeta_C,s(e) - zeta_R,s(e))``
  with Student's t interval over the seeds ``s`` (:func:`cvgr.report.stats.curve_difference_ci`);
* ``zeta``, *last epoch*: ``D = zeta_C(E) - zeta_R(E)``.

Accuracy differences get :func:`cvgr.report.verdicts` 's intervals (t over seeds when
every model has the same >= 2 seeds, else MOVER over test images).
"""
from __future__ import annotations

import math
from typing import Sequence

from .verdicts import (CONTRADICTED, HOLDS, UNRESOLVED, ClaimRow, ModelRecord, _accuracy_row, _models_by, _Reading,
                     _row, _runs_of, _label)
from .stats import curve_difference_ci, mean_ci


_DROP = _Reading("drop from std", "C-G.R. loses less clean accuracy to G.R. than R-G.R.: D = (acc R-Std. - "
                 "acc R-G.R.) - (acc C-Std. - acc C-G.R.), pp")
_ABSOLUTE = _Reading("absolute at equal beta", "C-G.R. is more accurate on clean test images than R-G.R. at "
                     "the same beta: D = acc C-G.R. - acc R-G.R., pp")


def clean_accuracy_rows(models: Sequence[ModelRecord], level: float) -> list[ClaimRow]:
    """Per dataset and beta > 0, two readings: C's drop from std is smaller; C-G.R. is more accurate."""
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

        scope = f"{dataset}, beta {beta:g}"
        rows.append(_accuracy_row("clean-accuracy", scope, _DROP, groups, (1, -1, -1, 1), level, evidence))
        rows.append(_accuracy_row("clean-accuracy", scope, _ABSOLUTE, [groups[3], groups[1]], (1, -1), level))
    return rows


_ZETA_LAST = _Reading("last epoch", "C-G.R.'s zeta is above R-G.R.'s in the last epoch of training: "
                     "D = zeta C-G.R. - zeta R-G.R.")
_ZETA_CURVE = _Reading("per-epoch curve", "C-G.R.'s zeta stays above R-G.R.'s during training: D = mean over "
                       "epochs of zeta C-G.R. - zeta R-G.R., per seed")


def zeta_rows(models: Sequence[ModelRecord], level: float, margin: float | None) -> list[ClaimRow]:
    """Per dataset and beta > 0: ``zeta C-gr - zeta R-gr`` over the whole of training and in the last epoch."""
    by = _models_by(models)
    rows = []
    for dataset, beta in sorted({(d, b) for (d, _, defense, b) in by if defense == "gr"}):
        real, cplx = by.get((dataset, "real", "gr", beta)), by.get((dataset, "complex", "gr", beta))
        if not real or not cplx:
            continue
        scope = f"{dataset}, beta {beta:g}"
        curve = _zeta_curve_row(scope, real, cplx, level)
        rows += ([curve] if curve else []) + [_zeta_last_row(scope, real, cplx, level, margin)]
    return rows


def _zeta_curve_row(scope: str, real: Sequence[ModelRecord], cplx: Sequence[ModelRecord],
                    level: float) -> ClaimRow | None:
    """The curve reading (:func:`cvgr.report.stats.curve_difference_ci`), or None when a curve is unknown."""
    cr, cc = {m.seed: m.zeta_curve for m in real}, {m.seed: m.zeta_curve for m in cplx}
    if not all(cr.values()) or not all(cc.values()):
        return None
    means = {f: {s: math.fsum(c) / len(c) for s, c in curves.items()} for f, curves in (("C", cc), ("R", cr))}
    evidence = f"mean zeta over epochs C-G.R. {_values(means['C'])}, R-G.R. {_values(means['R'])}"
    seeds = sorted(cr)
    lengths = {len(c) for c in (*cr.values(), *cc.values())}
    if set(cr) != set(cc) or len(seeds) < 2 or len(lengths) != 1:
        est = math.fsum(means["C"].values()) / len(cc) - math.fsum(means["R"].values()) / len(cr)
        return _row("zeta", scope, _ZETA_CURVE, f"{evidence}; difference of means {est:+.3f}", est, None, None,
                    "no interval: needs the same >= 2 seeds and epochs for both fields", UNRESOLVED)
    est, lo, hi, d = curve_difference_ci([cc[s] for s in seeds], [cr[s] for s in seeds], level)
    per_seed = ", ".join(f"s{s}: {v:+.3f}" for s, v in zip(seeds, d))
    return _row("zeta", scope, _ZETA_CURVE, f"{evidence}; per-seed mean difference [{per_seed}] over "
                f"{lengths.pop()} epochs", est, lo, hi, f"t over {len(seeds)} seeds of per-seed epoch means")


def _zeta_last_row(scope: str, real: Sequence[ModelRecord], cplx: Sequence[ModelRecord], level: float,
                   margin: float | None) -> ClaimRow:
    zr, zc = {m.seed: m.zeta for m in real}, {m.seed: m.zeta for m in cplx}
    est = math.fsum(zc.values()) / len(zc) - math.fsum(zr.values()) / len(zr)
    evidence = (f"zeta C-G.R. {_values(zc)}, R-G.R. {_values(zr)}; difference of means {est:+.3f}")
    if set(zr) == set(zc) and len(zr) >= 2:
        diffs = [zc[s] - zr[s] for s in sorted(zr)]
        lo, hi = mean_ci(diffs, level)
        return _row("zeta", scope, _ZETA_LAST, evidence, est, lo, hi, f"t over {len(diffs)} seeds")
    if margin is not None and abs(est) > margin:
        return _row("zeta", scope, _ZETA_LAST, evidence, est, None, None,
                    f"no interval; |difference| > margin {margin:g}", HOLDS if est > 0 else CONTRADICTED)
    reason = "no interval: needs the same >= 2 seeds for both fields"
    return _row("zeta", scope, _ZETA_LAST, evidence, est, None, None, reason, UNRESOLVED)


def _values(by_seed: dict[int, float]) -> str:
    return "[" + ", ".join(f"s{s}: {v:.3f}" for s, v in sorted(by_seed.items())) + "]"
