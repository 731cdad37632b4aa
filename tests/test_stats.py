"""Confidence intervals against closed forms."""
import math

import pytest

from cvgr.report.stats import binomial_ci, mean_ci


def test_clopper_pearson_closed_forms():
    # k = 0: upper bound 1 - (alpha/2)^(1/n); k = n: lower bound (alpha/2)^(1/n)
    lo, hi = binomial_ci(0, 20)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 20), rel=1e-9)
    lo, hi = binomial_ci(20, 20)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 20), rel=1e-9)


def test_clopper_pearson_tails_are_alpha_over_two():
    from scipy.stats import binom
    k, n = 37, 120
    lo, hi = binomial_ci(k, n)
    assert binom.sf(k - 1, n, lo) == pytest.approx(0.025, rel=1e-6)   # P(X >= k | lo)
    assert binom.cdf(k, n, hi) == pytest.approx(0.025, rel=1e-6)      # P(X <= k | hi)


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="0 <= correct <= n"):
        binomial_ci(5, 4)
    with pytest.raises(ValueError, match="n >= 1"):
        binomial_ci(0, 0)


def test_t_interval_of_two_values():
    lo, hi = mean_ci([1.0, 3.0])  # mean 2, s = sqrt(2), t_{0.975,1} = 12.7062...
    half = 12.706204736174707 * math.sqrt(2) / math.sqrt(2)
    assert (lo, hi) == (pytest.approx(2 - half), pytest.approx(2 + half))
    with pytest.raises(ValueError, match="at least 2"):
        mean_ci([1.0])


def test_t_interval_of_three_values_and_of_equal_values():
    lo, hi = mean_ci([1.0, 2.0, 6.0])  # mean 3, s^2 = (4 + 1 + 9) / 2 = 7
    t = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # t_{p,2} = (2p - 1) / sqrt(2 p (1 - p)) in closed form
    half = t * math.sqrt(7) / math.sqrt(3)
    assert (lo, hi) == (pytest.approx(3 - half, rel=1e-12), pytest.approx(3 + half, rel=1e-12))
    assert mean_ci([0.25, 0.25, 0.25]) == (0.25, 0.25)  # no spread: a point
