"""Claims verdicts and intervals from hand-made inputs; intervals against cvgr.report.stats."""
from __future__ import annotations

import math

import pytest

from cvgr.report.verdicts import CONTRADICTED, HOLDS, UNRESOLVED, Cell, ModelRecord, mover_interval
from cvgr.report.vs_paper import claims_table
from cvgr.report.vs_paper import paper_vs_measured
from cvgr.errors import CvgrError
from cvgr.report.paper import load_paper_results
from cvgr.report.stats import binomial_ci, mean_ci


def _nes(field: str, defense: str, correct: int, n: int = 1000, seed: int = 0) -> Cell:
    return Cell("nes", "fmnist", field, defense, correct, n, seed=seed)


def _rows(claim: str, models=(), cells=(), reading: str | None = None, **kw):
    return [r for r in claims_table(list(models), list(cells), **kw)
            if r.claim == claim and reading in (None, r.reading)]


def test_single_part_mover_is_the_clopper_pearson_interval():
    est, lo, hi = mover_interval([(1, 37, 120)])
    assert est == 37 / 120 and (lo, hi) == binomial_ci(37, 120)


def test_difference_interval_is_newcombes_construction_from_the_binomial_intervals():
    k1, n1, k2, n2 = 680, 1000, 601, 1000
    (l1, u1), (l2, u2) = binomial_ci(k1, n1), binomial_ci(k2, n2)
    p1, p2 = k1 / n1, k2 / n2
    expected = (p1 - p2, p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2))
    assert mover_interval([(1, k1, n1), (-1, k2, n2)]) == pytest.approx(expected, abs=1e-15)
    (row,) = _rows("nes-complex-gr", cells=[_nes("complex", "gr", k1), _nes("real", "gr", k2)])
    assert (row.estimate, row.low, row.high) == pytest.approx(tuple(100 * v for v in expected), abs=1e-12)
    assert row.method.startswith("MOVER")


@pytest.mark.parametrize("complex_correct, real_correct, n, verdict", [
    (680, 600, 1000, HOLDS), (600, 680, 1000, CONTRADICTED), (62, 60, 100, UNRESOLVED)])
def test_nes_ordering_verdicts(complex_correct, real_correct, n, verdict):
    cells = [_nes("complex", "gr", complex_correct, n), _nes("real", "gr", real_correct, n)]
    (row,) = _rows("nes-complex-gr", cells=cells)
    assert row.verdict == verdict
    assert f"({complex_correct}/{n})" in row.evidence and f"({real_correct}/{n})" in row.evidence


def _models(accuracies: dict[tuple[str, str], list[int]], zetas: dict[tuple[str, str], list[float]] | None = None,
            n: int = 1000, beta: float = 64) -> list[ModelRecord]:
    out = []
    for (field, defense), counts in accuracies.items():
        for seed, correct in enumerate(counts):
            zeta = (zetas or {}).get((field, defense), [1.0] * len(counts))[seed]
            out.append(ModelRecord("fmnist", field, defense, 0 if defense == "std" else beta, seed, correct, n, zeta))
    return out


@pytest.mark.parametrize("r_gr, c_gr, n, verdict", [
    (800, 880, 1000, HOLDS),        # R drops 10 pp, C drops 2 pp
    (880, 800, 1000, CONTRADICTED),  # R drops 2 pp, C drops 10 pp
    (88, 86, 100, UNRESOLVED)])
def test_clean_accuracy_verdicts_with_one_run_each(r_gr, c_gr, n, verdict):
    models = _models({("real", "std"): [9 * n // 10], ("real", "gr"): [r_gr],
                      ("complex", "std"): [9 * n // 10], ("complex", "gr"): [c_gr]}, n=n)
    (row,) = _rows("clean-accuracy", models, reading="drop from std")
    assert row.verdict == verdict and row.scope == "fmnist, beta 64"
    parts = [(1, 9 * n // 10, n), (-1, r_gr, n), (-1, 9 * n // 10, n), (1, c_gr, n)]
    assert (row.estimate, row.low, row.high) == pytest.approx(tuple(100 * v for v in mover_interval(parts)))


def test_clean_accuracy_with_three_seeds_is_the_t_interval_of_per_seed_differences():
    acc = {("real", "std"): [900, 905, 897], ("real", "gr"): [800, 812, 790],
           ("complex", "std"): [880, 884, 879], ("complex", "gr"): [860, 858, 866]}
    (row,) = _rows("clean-accuracy", _models(acc), reading="drop from std")
    per_seed = [(acc[("real", "std")][s] - acc[("real", "gr")][s] - acc[("complex", "std")][s]
                 + acc[("complex", "gr")][s]) / 10 for s in range(3)]
    assert (row.low, row.high) == pytest.approx(mean_ci(per_seed))
    assert row.estimate == pytest.approx(sum(per_seed) / 3)
    assert row.method == "t over 3 seeds" and row.verdict == HOLDS


@pytest.mark.parametrize("zc, zr, margin, verdict, interval", [
    ([0.80, 0.82, 0.79], [0.40, 0.45, 0.38], None, HOLDS, True),
    ([0.40, 0.45, 0.38], [0.80, 0.82, 0.79], None, CONTRADICTED, True),
    ([0.60, 0.20, 0.90], [0.50, 0.70, 0.40], None, UNRESOLVED, True),
    ([0.80], [0.40], None, UNRESOLVED, False),
    ([0.80], [0.40], 0.3, HOLDS, False),
    ([0.80], [0.60], 0.3, UNRESOLVED, False)])
def test_zeta_verdicts(zc, zr, margin, verdict, interval):
    m = len(zc)
    acc = {("real", "gr"): [800] * m, ("complex", "gr"): [850] * m}
    (row,) = _rows("zeta", _models(acc, {("real", "gr"): zr, ("complex", "gr"): zc}), zeta_margin=margin)
    assert row.reading == "last epoch"  # no curves given: the curve reading has no row
    assert row.verdict == verdict
    assert row.estimate == pytest.approx(sum(zc) / m - sum(zr) / m)
    if interval:
        assert (row.low, row.high) == pytest.approx(mean_ci([c - r for c, r in zip(zc, zr)]))
    else:
        assert row.low is None and row.high is None


def _transfer(source: tuple[str, str], target: tuple[str, str], correct: int, n: int = 1000) -> Cell:
    return Cell("transfer", "fmnist", *target, correct, n, source_field=source[0], source_defense=source[1],
                target="second")


@pytest.mark.parametrize("c_gr, r_gr, verdict", [(450, 380, HOLDS), (380, 450, CONTRADICTED), (410, 400, UNRESOLVED)])
def test_transfer_ordering_verdicts_per_source(c_gr, r_gr, verdict):
    source = ("real", "gr")
    cells = [_transfer(source, ("complex", "gr"), c_gr), _transfer(source, ("real", "gr"), r_gr),
             _transfer(source, ("real", "std"), 200)]
    (row,) = _rows("transfer-complex-gr-target", cells=cells)
    assert row.verdict == verdict and row.scope == "fmnist, source R-G.R."
    (gr_over_std,) = _rows("transfer-gr-target", cells=cells)  # complex std target not measured: one row
    assert gr_over_std.scope == "fmnist, source R-G.R., real targets" and gr_over_std.verdict == HOLDS


def test_robustness_rows_use_self_cells_and_nes_and_report_the_gap_to_adversarial_training():
    cells = [Cell("transfer", "fmnist", f, "gr", k, 1000, source_field=f, source_defense="gr", target="self")
             for f, k in (("complex", 530), ("real", 460))]
    cells += [_nes("complex", "gr", 684), _nes("real", "gr", 623), _nes("real", "adv", 763)]
    white, query = _rows("robustness", cells=cells)
    assert "Self" in white.scope and white.estimate == pytest.approx(7.0) and white.verdict == HOLDS
    assert query.scope == "fmnist, NES" and query.estimate == pytest.approx(6.1)
    est, lo, hi = mover_interval([(1, 763, 1000), (-1, 684, 1000)])
    assert f"gap to C-G.R. {100 * est:+.1f} pp [{100 * lo:+.1f}, {100 * hi:+.1f}]" in query.evidence
    assert "; R-adv 76.3%: gap to C-G.R." in query.evidence


def test_paper_vs_measured_rows():
    paper = load_paper_results()
    cells = [_nes("real", "gr", 300, 500, seed=0), _nes("real", "gr", 320, 500, seed=1), _nes("complex", "adv", 700)]
    rows = paper_vs_measured(paper, cells)
    assert len(rows) == len(paper) + 1  # complex adv: measured, not reported by the paper
    real_gr = next(r for r in rows if r.key == ("nes", "fmnist", None, None, None, "real", "gr"))
    assert (real_gr.paper, real_gr.measured, real_gr.runs, real_gr.n) == (62.3, 62.0, 2, 1000)
    assert real_gr.difference == pytest.approx(62.0 - 62.3)
    assert (real_gr.low, real_gr.high) == tuple(100 * v for v in binomial_ci(620, 1000))
    assert rows[-1].paper is None and rows[-1].measured == 70.0 and rows[-1].difference is None
    untouched = rows[0]
    assert untouched.paper == 22.5 and untouched.measured is None and untouched.low is None and untouched.runs == 0


@pytest.mark.parametrize("make, message", [
    (lambda: _nes("real", "gr", 11, 10), "0 <= correct <= n"),
    (lambda: _nes("quaternion", "gr", 1, 10), "field 'quaternion' is unknown"),
    (lambda: Cell("transfer", "fmnist", "real", "gr", 1, 10, source_field="real", source_defense="gr"),
     "target None is unknown"),
    (lambda: ModelRecord("fmnist", "real", "dropout", 0, 0, 1, 10, 1.0), "defense 'dropout' is unknown")])
def test_bad_inputs_are_one_line_errors(make, message):
    with pytest.raises(CvgrError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_two_results_with_one_seed_are_rejected():
    with pytest.raises(CvgrError, match="two results with seed 0"):
        claims_table([], [_nes("real", "gr", 5, 10), _nes("real", "gr", 6, 10), _nes("complex", "gr", 7, 10)])


def _outcomes(a: int, b: int, c: int, d: int) -> tuple[list[int], list[int]]:
    """Paired 0/1 lists with ``a`` both correct, ``b`` only the first, ``c`` only the second, ``d`` neither."""
    return [1] * (a + b) + [0] * (c + d), [1] * a + [0] * b + [1] * c + [0] * d


def _biostatuzh_paired(a: int, b: int, c: int, d: int) -> tuple[float, float, float]:
    """Independent re-implementation of R biostatUZH::confIntPairedProportion (Newcombe 1998, method 10),
    with exact Clopper-Pearson margins from the beta distribution in place of Wilson's."""
    from scipy.stats import beta

    n = a + b + c + d

    def cp(k: int) -> tuple[float, float]:
        return (0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)), (1.0 if k == n else beta.ppf(0.975, k + 1, n - k))

    p1, p2 = (a + b) / n, (a + c) / n
    (l1, u1), (l2, u2) = cp(a + b), cp(a + c)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    big = a * d - b * c
    corrected = 0.0
    if big > n / 2:
        corrected = big - n / 2
    if big < 0:
        corrected = big
    phi = corrected / math.sqrt(margins) if margins else 0.0
    dd = p1 - p2
    low = dd - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    high = dd + math.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    return dd, low, high


def test_newcombe_phi_is_continuity_corrected():
    from cvgr.report.verdicts import newcombe_phi
    # A = 60*32 - 8*0 = 1920 > n/2 = 50: (1920 - 50) / sqrt(68 * 32 * 60 * 40)
    assert newcombe_phi(60, 8, 0, 32) == pytest.approx(1870 / math.sqrt(68 * 32 * 60 * 40), rel=1e-15)
    # 0 < A = 10 <= n/2 = 19.5: 0 (the raw phi would be 10 / 380)
    assert newcombe_phi(10, 9, 10, 10) == 0.0
    # A = n/2 exactly: 0; A < 0: uncorrected
    assert newcombe_phi(2, 0, 2, 0) == 0.0 and newcombe_phi(1, 1, 1, 1) == 0.0
    assert newcombe_phi(5, 30, 25, 40) == pytest.approx(-550 / math.sqrt(35 * 65 * 30 * 70), rel=1e-15)
    assert newcombe_phi(0, 0, 5, 5) == 0.0  # empty margin


def test_paired_interval_with_small_positive_cross_product_is_the_independent_one():
    """0 < ad - bc <= n/2: Newcombe's corrected phi is 0, so the interval is exactly MOVER's."""
    from cvgr.report.verdicts import paired_interval
    est, lo, hi = paired_interval(*_outcomes(10, 9, 10, 10))
    m_est, m_lo, m_hi = mover_interval([(1, 19, 39), (-1, 20, 39)])
    assert (est, lo, hi) == (pytest.approx(m_est, rel=1e-12), pytest.approx(m_lo, rel=1e-12),
                             pytest.approx(m_hi, rel=1e-12))


@pytest.mark.parametrize("table", [(60, 8, 0, 32), (10, 9, 10, 10), (5, 30, 25, 40), (700, 120, 45, 135),
                                   (0, 3, 0, 7), (40, 0, 0, 0)])
def test_paired_interval_matches_an_independent_newcombe_method_10(table):
    from cvgr.report.verdicts import paired_interval
    got = paired_interval(*_outcomes(*table))
    assert got == pytest.approx(_biostatuzh_paired(*table), rel=1e-9, abs=1e-12)


def test_paired_interval_reduces_to_mover_without_correlation_and_narrows_with_it():
    from cvgr.report.verdicts import mover_interval, paired_interval
    # phi = 0: a d = b c (a=10, b=10, c=10, d=10)
    better = [1] * 10 + [1] * 10 + [0] * 10 + [0] * 10
    worse = [1] * 10 + [0] * 10 + [1] * 10 + [0] * 10
    est, lo, hi = paired_interval(better, worse)
    m_est, m_lo, m_hi = mover_interval([(1, 20, 40), (-1, 20, 40)])
    assert (est, lo, hi) == (pytest.approx(m_est), pytest.approx(m_lo), pytest.approx(m_hi))
    # strongly correlated: the same 60 images right under both, 8 only under the first
    better = [1] * 68 + [0] * 32
    worse = [1] * 60 + [0] * 40
    est, lo, hi = paired_interval(better, worse)
    m_est, m_lo, m_hi = mover_interval([(1, 68, 100), (-1, 60, 100)])
    assert est == pytest.approx(0.08) and lo > 0 > m_lo and hi - lo < m_hi - m_lo
    with pytest.raises(CvgrError, match="same images"):
        paired_interval([1, 0], [1])


def test_clean_accuracy_readings_can_disagree_and_each_has_its_row():
    """C std 95%, C G.R. 88% (drop 7 pp); R std 85%, R G.R. 80% (drop 5 pp): C drops more but ends higher."""
    n = 10000
    models = _models({("real", "std"): [8500], ("real", "gr"): [8000], ("complex", "std"): [9500],
                      ("complex", "gr"): [8800]}, n=n)
    drop, absolute = _rows("clean-accuracy", models)
    assert (drop.reading, absolute.reading) == ("drop from std", "absolute at equal beta")
    assert drop.estimate == pytest.approx(-2.0) and drop.verdict == CONTRADICTED
    assert absolute.estimate == pytest.approx(8.0) and absolute.verdict == HOLDS
    est, lo, hi = mover_interval([(1, 8800, n), (-1, 8000, n)])
    assert (absolute.low, absolute.high) == pytest.approx((100 * lo, 100 * hi))
    assert "more accurate on clean test images" in absolute.tests and "loses less" in drop.tests


def _curves(curves: dict[tuple[str, str], list[list[float]]]) -> list[ModelRecord]:
    return [ModelRecord("fmnist", f, d, 64, s, 800, 1000, c[-1], tuple(c))
            for (f, d), runs in curves.items() for s, c in enumerate(runs)]


def test_zeta_curve_reading_is_the_t_interval_of_per_seed_epoch_means():
    """C lies a constant delta_s above R in seed s: D = mean(delta), t interval over the three deltas."""
    base = [[0.9, 0.7, 0.6, 0.5], [0.8, 0.7, 0.5, 0.5], [0.9, 0.6, 0.6, 0.4]]
    deltas = [0.10, 0.14, 0.12]
    models = _curves({("real", "gr"): base, ("complex", "gr"): [[v + d for v in c] for c, d in zip(base, deltas)]})
    (row,) = _rows("zeta", models, reading="per-epoch curve")
    mean, sd = sum(deltas) / 3, math.sqrt(sum((d - 0.12) ** 2 for d in deltas) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t_{0.975, 2}
    assert (row.estimate, row.low, row.high) == pytest.approx((mean, mean - half, mean + half))
    assert row.verdict == HOLDS and row.method == "t over 3 seeds of per-seed epoch means"
    assert "s0: +0.100, s1: +0.140, s2: +0.120" in row.evidence and "over 4 epochs" in row.evidence


def test_zeta_curve_and_last_epoch_disagree_when_the_curves_cross():
    """C starts far below R and ends a little above it: the last epoch holds, the whole of training does not."""
    real = [[0.9, 0.8, 0.6, 0.50], [0.9, 0.8, 0.6, 0.50]]
    cplx = [[0.5, 0.5, 0.5, 0.55], [0.5, 0.4, 0.5, 0.552]]
    models = _curves({("real", "gr"): real, ("complex", "gr"): cplx})
    curve, last = _rows("zeta", models)
    assert (curve.reading, last.reading) == ("per-epoch curve", "last epoch")
    assert curve.estimate == pytest.approx(sum(sum(c) - sum(r) for c, r in zip(cplx, real)) / 8)
    assert curve.verdict == CONTRADICTED and last.verdict == HOLDS


def test_zeta_curve_without_matching_seeds_or_epochs_has_no_interval():
    models = _curves({("real", "gr"): [[0.5, 0.5], [0.5, 0.5]], ("complex", "gr"): [[0.9, 0.9], [0.9, 0.9, 0.9]]})
    (row,) = _rows("zeta", models, reading="per-epoch curve")
    assert row.low is None and row.verdict == UNRESOLVED and "same >= 2 seeds and epochs" in row.method


def test_curve_difference_interval_two_seeds_closed_form():
    from cvgr.report.stats import curve_difference_ci
    d, lo, hi, per_seed = curve_difference_ci([[1.0, 3.0], [2.0, 2.0]], [[0.0, 0.0], [0.0, 1.0]])
    assert per_seed == [2.0, 1.5] and d == pytest.approx(1.75)
    half = 12.706204736174707 * (0.25 * math.sqrt(2)) / math.sqrt(2)  # t_{0.975, 1} sd / sqrt(2), sd = 0.25 sqrt 2
    assert (lo, hi) == pytest.approx((1.75 - half, 1.75 + half))
    with pytest.raises(CvgrError, match="same >= 2 seeds"):
        curve_difference_ci([[1.0]], [[0.0]])
    with pytest.raises(CvgrError, match="different lengths"):
        curve_difference_ci([[1.0], [1.0, 2.0]], [[0.0], [0.0]])
