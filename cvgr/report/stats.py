"""Confidence intervals for the accuracies cvgr reports.

* Over test images: an accuracy is ``k`` correct of ``n`` images, a binomial
  proportion. :func:`binomial_ci` is the exact (Clopper-Pearson) interval: the
  ``p`` for which ``k`` is not in either ``alpha / 2`` tail of Binomial(n, p).
  It never undercovers, which matters at the small ``n`` of a CPU run.
* Over seeds: :func:`mean_ci` is Student's t interval of the mean of
  independent runs, ``mean +- t_{1 - alpha/2, m-1} s / sqrt(m)``.

* Differences of accuracies: :func:`mover_interval` (independent models) and
  :func:`paired_interval` (two models on the same images).
* Curves over training: :func:`curve_difference_ci`, the t interval over seeds
  of the mean over epochs of the per-seed difference of two curves.

Accuracies are fractions in [0, 1]; callers multiply by 100 to show percent.
"""
from __future__ import annotations

import math
from typing import Sequence

from scipy import stats as _st

from ..errors import CvgrError

LEVEL = 0.95


def binomial_ci(correct: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Clopper-Pearson interval ``(lo, hi)`` of a proportion ``correct / n``, as fractions."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = _st.binomtest(int(correct), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def mean_ci(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """Student's t interval of the mean of ``values`` (at least two):
    ``mean +- t_{1 - alpha/2, m-1} s / sqrt(m)`` (``scipy.stats.ttest_1samp``); ``(mean, mean)`` when all are equal."""
    m = len(values)
    if m < 2:
        raise ValueError(f"an interval over runs needs at least 2 values, got {m}")
    if max(values) == min(values):
        mean = math.fsum(values) / m
        return mean, mean
    ci = _st.ttest_1samp(values, 0.0).confidence_interval(confidence_level=level)
    return float(ci.low), float(ci.high)


def mover_interval(parts: Sequence[tuple[int, int, int]], level: float = LEVEL) -> tuple[float, float, float]:
    """``(D, L, U)`` for ``D = sum_i c_i k_i / n_i`` over ``parts = [(c_i, k_i, n_i)]`` (fractions).

    MOVER with Clopper-Pearson limits (:func:`cvgr.report.stats.binomial_ci`); for
    two parts ``(+1, -1)`` this is Newcombe's construction of an interval for
    a difference of independent proportions.
    """
    est, low_sq, high_sq = 0.0, 0.0, 0.0
    for c, k, n in parts:
        p = k / n
        lo, hi = binomial_ci(k, n, level)
        a, b = sorted((c * lo, c * hi))
        est += c * p
        low_sq += (c * p - a) ** 2
        high_sq += (b - c * p) ** 2
    return est, est - math.sqrt(low_sq), est + math.sqrt(high_sq)


def newcombe_phi(a: int, b: int, c: int, d: int) -> float:
    """The continuity-corrected correlation of a paired 2x2 table (Newcombe 1998, method 10).

    ``a``: both correct, ``b``: only the first, ``c``: only the second,
    ``d``: neither; ``n = a + b + c + d`` and ``A = a d - b c``. The
    numerator is ``A - n/2`` if ``A > n/2``, 0 if ``0 <= A <= n/2`` and ``A``
    if ``A < 0``; ``phi = numerator / sqrt((a+b)(c+d)(a+c)(b+d))``, 0 when a
    margin is empty.
    """
    n, cross = a + b + c + d, a * d - b * c
    numerator = cross - n / 2 if cross > n / 2 else 0.0 if cross >= 0 else float(cross)
    denominator = math.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    return numerator / denominator if denominator else 0.0


def paired_interval(better: Sequence[int], worse: Sequence[int],
                    level: float = LEVEL) -> tuple[float, float, float]:
    """``(D, L, U)`` for ``D = p1 - p2`` of two 0/1 outcome lists on the same images (fractions).

    Newcombe's (1998) method 10 for paired proportions, with the
    Clopper-Pearson limits ``(l_i, u_i)`` of :func:`cvgr.report.stats.binomial_ci`
    (Newcombe uses Wilson's) and the images' continuity-corrected correlation
    ``phi`` of :func:`newcombe_phi`::

        L = D - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
        U = D + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)

    With ``phi = 0`` this is the independent MOVER of :func:`mover_interval`;
    accuracies on the same images are usually positively correlated, and the
    interval is then narrower.
    """
    if len(better) != len(worse) or not better:
        raise CvgrError(f"paired outcomes need the same images: got {len(better)} and {len(worse)}")
    n = len(better)
    a = sum(1 for x, y in zip(better, worse) if x and y)
    b = sum(1 for x, y in zip(better, worse) if x and not y)
    c = sum(1 for x, y in zip(better, worse) if not x and y)
    d = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    (l1, u1), (l2, u2) = binomial_ci(a + b, n, level), binomial_ci(a + c, n, level)
    phi = newcombe_phi(a, b, c, d)
    est = p1 - p2
    low = est - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = est + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return est, low, high


def curve_difference_ci(first: Sequence[Sequence[float]], second: Sequence[Sequence[float]],
                        level: float = LEVEL) -> tuple[float, float, float, list[float]]:
    """``(D, L, U, d)``: how far curve ``first`` lies above curve ``second`` over a whole run, over seeds.

    ``first[s]`` and ``second[s]`` are the per-epoch values of seed ``s`` (the
    same seeds, in the same order, each with the same ``E >= 1`` epochs). Per
    seed, the mean over epochs of the difference,

        d_s = (1/E) sum_{e=1..E} (first_s(e) - second_s(e)),

    is the signed area between the two curves divided by the length of the
    run: it is positive when ``first`` lies above ``second`` on average over
    the whole of training, not only at its end. The runs of different seeds
    are independent, so the ``d_s`` are too, and ``D = mean_s d_s`` gets
    Student's t interval over the ``m >= 2`` seeds,
    ``D +- t_{1 - alpha/2, m-1} sd(d) / sqrt(m)`` (``scipy.stats.ttest_1samp``).
    All ``d_s`` equal gives the degenerate interval ``(D, D)``.
    """
    if len(first) != len(second) or len(first) < 2:
        raise CvgrError(f"a curve interval over seeds needs the same >= 2 seeds for both curves, got "
                        f"{len(first)} and {len(second)} runs; train every seed of both models")
    lengths = {len(c) for c in (*first, *second)}
    if len(lengths) != 1 or 0 in lengths:
        raise CvgrError(f"curves of different lengths ({', '.join(map(str, sorted(lengths)))} epochs); "
                        "compare runs trained for the same number of epochs")
    d = [math.fsum(a - b for a, b in zip(x, y)) / len(x) for x, y in zip(first, second)]
    return (math.fsum(d) / len(d), *mean_ci(d, level), d)
