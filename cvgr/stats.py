"""Confidence intervals for the accuracies cvgr reports.

* Over test images: an accuracy is ``k`` correct of ``n`` images, a binomial
  proportion. :func:`binomial_ci` is the exact (Clopper-Pearson) interval: the
  ``p`` for which ``k`` is not in either ``alpha / 2`` tail of Binomial(n, p).
  It never undercovers, which matters at the small ``n`` of a CPU run.
* Over seeds: :func:`mean_ci` is Student's t interval of the mean of
  independent runs, ``mean +- t_{1 - alpha/2, m-1} s / sqrt(m)``.

Both return percentages when given percentages' counts, i.e. everything here
works on fractions in [0, 1]; callers multiply by 100 to show percent.
"""
from __future__ import annotations

import math
from typing import Sequence

from scipy import stats as _st

LEVEL = 0.95


def binomial_ci(correct: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Clopper-Pearson interval ``(lo, hi)`` of a proportion ``correct / n``, as fractions."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = _st.binomtest(int(correct), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def mean_ci(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """Student's t interval of the mean of ``values`` (at least two)."""
    m = len(values)
    if m < 2:
        raise ValueError(f"an interval over runs needs at least 2 values, got {m}")
    mean = math.fsum(values) / m
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (m - 1))
    half = float(_st.t.ppf(0.5 + level / 2, m - 1)) * sd / math.sqrt(m)
    return mean - half, mean + half
