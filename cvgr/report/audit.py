"""The gradient-masking audit's analysis: per-image worst case, masking flags, one table row per model.

Pure functions over per-image correctness arrays (``True`` = the model
classifies the image correctly after that attack), no file I/O. The audit's
definitions, with their reasons, are in docs/AUDIT.md.

* **Worst case** (:func:`worst_case`): an image is robust only if it is
  classified correctly clean and under every attack run at that eps:
  ``robust_i = AND_a correct_a[i]``.
* **"Attack A beats PGD"** (:func:`beats`): the exact one-sided McNemar
  test on the same images. With ``b`` = images A fooled and PGD did not,
  ``c`` = images PGD fooled and A did not, under the null hypothesis that
  the two attacks are equally strong each discordant image is A's with
  probability 1/2, so ``p = P(Binomial(b + c, 1/2) >= b)``. The flag is
  raised when ``p < alpha`` (0.05).
* **Flags** of one model at the study's eps: Square (black-box) beats PGD;
  FGSM beats PGD; APGD beats PGD, where an image counts as fooled by APGD
  when APGD-CE or APGD-DLR fooled it.
* **No fall towards chance** (:func:`falls_to_chance`): at eps >= 0.5 the
  constant gray image ``0.5`` lies in the eps-ball of every image in
  ``[0, 1]^d``, and the model gives it one label ``c``; every image of
  another label is therefore not robust, so at most ``max_c n_c`` of the
  ``n`` images (the most frequent label's count) can be robust. The flag is
  raised when more images than that survive every attack at the largest
  eps of the sweep: the attacks provably failed on some image. No
  statistics are involved: the bound holds for these very images.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy.stats import binomtest

from ..attacks.registry import kinds
from .stats import binomial_ci
from ..vocab import AttackId

ALPHA = 0.05
#: The eps from which the gray image 0.5 lies in every image's ball (pixels in [0, 1]).
CHANCE_EPS = 0.5
CLEAN = "clean"
FLAGS = ("square_beats_pgd", "fgsm_beats_pgd", "apgd_beats_pgd", "no_fall_to_chance")


def accuracy_columns() -> dict[str, str]:
    """``'clean'`` and every registered attack kind -> its accuracy column, in the registry's order.

    ``'apgd-ce'`` -> ``'acc_apgd_ce'``; a family has one column (``'pgd'`` -> ``'acc_pgd'``, the
    PGD baseline). Every registered attack has its column, run or not (NaN when not run).
    """
    return {CLEAN: "acc_clean", **{k.name: "acc_" + k.name.replace("-", "_") for k in kinds()}}


def columns() -> tuple[str, ...]:
    """The masking table's columns, in order (see :func:`masking_row`)."""
    return ("model", "eps", "images", "pgd_attack", *accuracy_columns().values(), "acc_worst", "worst_ci_lo",
            "worst_ci_hi", *(f"{kind}_{flag}" for flag in FLAGS for kind in ("flag", "evidence")), "any_flag")


def __getattr__(name: str) -> object:
    """``ACCURACY_COLUMNS`` and ``COLUMNS``: :func:`accuracy_columns` and :func:`columns` when read."""
    if name == "ACCURACY_COLUMNS":
        return accuracy_columns()
    if name == "COLUMNS":
        return columns()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Flag:
    """One masking flag: ``raised`` is True, False, or None when it could not be evaluated; ``evidence`` says why."""

    raised: bool | None
    evidence: str


def _as_correct(name: str, values: object, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "bui":
        raise ValueError(f"{name}: need a 1-d array of per-image correctness (bool or 0/1), got "
                         f"shape {arr.shape} dtype {arr.dtype}")
    if arr.dtype.kind != "b" and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name}: per-image correctness must be 0 or 1")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name}: {len(arr)} images, but the others have {n}: use the same images for every attack")
    return arr.astype(bool)


def worst_case(correct: Mapping[str, object]) -> np.ndarray:
    """``AND_a correct[a]``: per image, correct under every array given (include ``'clean'``)."""
    if not correct:
        raise ValueError("worst_case needs at least one per-image correctness array")
    arrays = list(correct.items())
    n = len(_as_correct(arrays[0][0], arrays[0][1]))
    return np.logical_and.reduce([_as_correct(name, values, n) for name, values in arrays])


def mcnemar_greater(b: int, c: int) -> float:
    """Exact one-sided McNemar p-value ``P(Binomial(m, 1/2) >= b) = sum_{k=b}^{m} C(m, k) / 2^m``, ``m = b + c``.

    scipy's exact binomial test (``scipy.stats.binomtest``, alternative
    "greater"), which stays finite for any number of discordant images; 1 when
    ``m = 0``.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    if b + c == 0:
        return 1.0
    return float(binomtest(b, b + c, 0.5, alternative="greater").pvalue)


def _images(k: int) -> str:
    return f"{k} image{'' if k == 1 else 's'}"


def _percent(k: int, n: int) -> str:
    return f"{100.0 * k / n:.1f}% ({k}/{n})"


def beats(other: object, pgd: object, *, name: str, baseline: str = "pgd", alpha: float = ALPHA) -> Flag:
    """Does the attack ``name`` beat ``baseline`` on the same images? Exact one-sided McNemar test at ``alpha``.

    ``other`` and ``pgd`` are per-image correctness arrays under the two
    attacks. Raised iff ``mcnemar_greater(b, c) < alpha`` with ``b`` the
    images only ``name`` fooled and ``c`` those only ``baseline`` fooled.
    """
    ok_other = _as_correct(name, other)
    ok_pgd = _as_correct(baseline, pgd, len(ok_other))
    n = len(ok_other)
    if n == 0:
        return Flag(None, "not evaluated: no images")
    b = int((~ok_other & ok_pgd).sum())
    c = int((ok_other & ~ok_pgd).sum())
    p = mcnemar_greater(b, c)
    raised = p < alpha
    return Flag(raised, f"{name} {_percent(int(ok_other.sum()), n)} vs {baseline} {_percent(int(ok_pgd.sum()), n)}: "
                        f"{_images(b)} fooled only by {name}, {c} only by {baseline}; exact one-sided McNemar "
                        f"p = {p:.3g} {'<' if raised else '>='} {alpha:g}")


def falls_to_chance(sweep: Mapping[float, object], labels: object) -> Flag:
    """Raised iff more images survive every attack at the sweep's largest eps (>= 0.5) than can be robust.

    ``sweep`` maps eps to per-image worst-case correctness over the attacks
    run at that eps; ``labels`` are the images' labels. At eps >= 0.5 at most
    ``max_c #{i: labels_i = c}`` images can be robust (module docstring).
    Not evaluated (``None``) when the largest eps is below 0.5.
    """
    labels = np.asarray(labels)
    if not sweep:
        return Flag(None, "not evaluated: no eps sweep")
    curve = sorted((float(e), _as_correct(f"eps {e}", v, len(labels))) for e, v in sweep.items())
    shown = ", ".join(f"{e:g}: {100.0 * v.mean():.1f}%" for e, v in curve) if len(labels) else ""
    eps, correct = curve[-1]
    if eps < CHANCE_EPS:
        return Flag(None, f"not evaluated: the largest eps {eps:g} < {CHANCE_EPS:g} (accuracy by eps {shown})")
    if len(labels) == 0:
        return Flag(None, "not evaluated: no images")
    ceiling = int(np.unique(labels, return_counts=True)[1].max())
    k, n = int(correct.sum()), len(labels)
    raised = k > ceiling
    return Flag(raised, f"at eps {eps:g} {_percent(k, n)} survive every attack; at most {_percent(ceiling, n)} "
                        f"(the most frequent label's share) can be robust at eps >= {CHANCE_EPS:g}"
                        f"{', so the attacks failed on some image' if raised else ', so no contradiction'} "
                        f"(accuracy by eps {shown})")


def _by_kind(correct: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Attack kind -> the name of its result in ``correct`` (``'pgd'`` -> ``'pgd10'``).

    ValueError for a name that is no registered attack, and for a family with several results:
    exactly one ``pgd<k>`` (the baseline) and at most one of any other family.
    """
    names: dict[str, list[str]] = {}
    for name in correct:
        if name != CLEAN:
            names.setdefault(AttackId.parse(name).kind, []).append(name)
    if len(names.get("pgd", [])) != 1:
        raise ValueError(f"the masking row needs exactly one PGD result named pgd<k> (e.g. pgd10) as its "
                         f"baseline, got {names.get('pgd') or 'none'} among {sorted(correct)}")
    for kind, found in names.items():
        if len(found) > 1:
            raise ValueError(f"the masking row takes one result per attack kind, got {', '.join(found)} of {kind}")
    return {kind: found[0] for kind, found in names.items()}


def _missing(*names: str) -> Flag:
    return Flag(None, f"not evaluated: {' and '.join(names)} not run")


def masking_row(model: str, eps: float, labels: object, correct: Mapping[str, object],
                sweep: Mapping[float, object] | None = None, *, alpha: float = ALPHA) -> dict[str, object]:
    """One row of the masking table (keys :func:`columns`) for ``model`` at the study's ``eps``.

    ``correct`` maps ``'clean'``, exactly one ``'pgd<k>'`` and any other
    registered attacks (``'fgsm'``, ``'apgd-ce'``, ``'apgd-dlr'``, ``'square'``,
    a plugin's) to per-image correctness on the same images, whose labels are
    ``labels``. Accuracies are percent (one column per registered attack kind,
    NaN for an attack not run);
    ``acc_worst`` is :func:`worst_case` over every array given, with its
    Clopper-Pearson 95% interval. ``sweep`` is for :func:`falls_to_chance`.
    ``any_flag`` is True when a flag is raised.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if n == 0:
        raise ValueError("the masking row needs at least one image")
    if CLEAN not in correct:
        raise ValueError(f"the masking row needs the clean correctness ('clean'), got {sorted(correct)}")
    ok = {name: _as_correct(name, values, n) for name, values in correct.items()}
    by_kind = _by_kind(ok)
    pgd = by_kind["pgd"]
    named = {CLEAN: ok[CLEAN], **{kind: ok[name] for kind, name in by_kind.items()}}
    robust = worst_case(ok)
    lo, hi = binomial_ci(int(robust.sum()), n)
    row: dict[str, object] = {"model": model, "eps": float(eps), "images": n, "pgd_attack": pgd}
    row.update({col: 100.0 * float(named[a].mean()) if a in named else float("nan")
                for a, col in accuracy_columns().items()})
    row.update({"acc_worst": 100.0 * float(robust.mean()), "worst_ci_lo": 100.0 * lo, "worst_ci_hi": 100.0 * hi})
    apgd = [a for a in ("apgd-ce", "apgd-dlr") if a in ok]
    flags = {
        "square_beats_pgd": beats(ok["square"], ok[pgd], name="square", baseline=pgd, alpha=alpha)
        if "square" in ok else _missing("square"),
        "fgsm_beats_pgd": beats(ok["fgsm"], ok[pgd], name="fgsm", baseline=pgd, alpha=alpha)
        if "fgsm" in ok else _missing("fgsm"),
        "apgd_beats_pgd": beats(worst_case({a: ok[a] for a in apgd}), ok[pgd], name=" or ".join(apgd),
                                baseline=pgd, alpha=alpha) if apgd else _missing("apgd-ce", "apgd-dlr"),
        "no_fall_to_chance": falls_to_chance(sweep or {}, labels),
    }
    for flag, result in flags.items():
        row[f"flag_{flag}"], row[f"evidence_{flag}"] = result.raised, result.evidence
    row["any_flag"] = any(result.raised for result in flags.values())
    return {col: row[col] for col in columns()}
