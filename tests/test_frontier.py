"""The frontier and the matched-accuracy gap against closed forms on synthetic frontiers."""
from __future__ import annotations

import numpy as np
import pytest

from cvgr.errors import CvgrError
from cvgr.report.frontier import ModelPoint, analyse, mean_gap, pareto, worst_case
from cvgr.study.settings import SpecError

N = 1000


def _outcomes(percent: float, seed: int) -> np.ndarray:
    """Exactly ``percent`` % of N images correct, at positions that differ by seed (shuffled)."""
    k = round(percent * N / 100)
    out = (np.arange(N) < k).astype(np.uint8)
    return np.random.default_rng(seed).permutation(out)


def _points(field: str, nodes: list[tuple[float, float, float]], seeds=(0, 1)) -> list[ModelPoint]:
    """``nodes``: (beta, clean %, robust %) of each beta, the same for every seed."""
    return [ModelPoint(field, beta, s, clean, _outcomes(robust, 100 * s + i))
            for i, (beta, clean, robust) in enumerate(nodes) for s in seeds]


# real: r = 100 - a on clean 65..95; complex: r = 155 - 1.5 a on clean 70..90.
REAL = [(0, 95, 5), (8, 85, 15), (32, 75, 25), (64, 65, 35)]
COMPLEX = [(0, 90, 20), (8, 80, 35), (64, 70, 50)]


def test_gap_is_the_mean_distance_over_the_shared_range_closed_form():
    """Shared range [70, 90]; r_C - r_R = 55 - 0.5 a, whose mean over [70, 90] is 55 - 0.5 * 80 = 15."""
    nodes, gap = analyse(_points("complex", COMPLEX) + _points("real", REAL), replicates=400)
    assert gap.estimate == pytest.approx(15.0, abs=1e-12)
    assert (gap.range_low, gap.range_high) == (70.0, 90.0)
    assert gap.low < 15.0 < gap.high and gap.verdict == "holds"
    assert gap.valid_replicates == 400
    again = analyse(_points("complex", COMPLEX) + _points("real", REAL), replicates=400)[1]
    assert (again.low, again.high) == (gap.low, gap.high)  # seeded: deterministic
    real64 = next(n for n in nodes if n.field == "real" and n.beta == 64)
    assert (real64.clean, real64.robust) == (65.0, pytest.approx(35.0)) and real64.on_frontier
    assert real64.clean_low == real64.clean_high == 65.0  # both seeds have the same clean accuracy
    assert real64.robust_low < 35.0 < real64.robust_high  # the image bootstrap


def test_parallel_frontiers_with_a_known_gap_and_the_reverse_order():
    real = [(0, 90, 10), (16, 80, 20), (64, 60, 40)]
    cplx = [(0, 85, 10), (16, 75, 20), (64, 55, 40)]  # r_C = 95 - a, r_R = 100 - a: C is 5 pp less robust
    _, gap = analyse(_points("complex", cplx) + _points("real", real), replicates=300)
    assert gap.estimate == pytest.approx(-5.0, abs=1e-12) and (gap.range_low, gap.range_high) == (60.0, 85.0)
    assert gap.verdict == "contradicted" and gap.high < 0


def test_closed_form_mean_gap_of_two_lines():
    assert mean_gap([(0.0, 1.0), (10.0, 11.0)], [(5.0, 0.0), (15.0, 0.0)]) == pytest.approx(8.5)  # mean of a+1 on [5,10]
    assert mean_gap([(0.0, 1.0), (1.0, 2.0)], [(2.0, 0.0), (3.0, 0.0)]) is None


def test_pareto_drops_dominated_points():
    assert pareto([(90, 10), (80, 5), (70, 30), (70, 20), (60, 25)]) == [(70, 30), (90, 10)]


def test_bootstrap_spread_comes_from_seeds_and_images():
    """Seeds far apart widen the interval beyond the images-only one."""
    close = _points("complex", COMPLEX) + _points("real", REAL)
    far = [ModelPoint(p.field, p.beta, p.seed, p.clean + (4 if p.seed else -4), p.robust) for p in close]
    narrow, wide = analyse(close, replicates=400)[1], analyse(far, replicates=400)[1]
    assert wide.high - wide.low > narrow.high - narrow.low


def test_no_overlap_is_refused_naming_both_ranges():
    real = [(0, 70, 5), (64, 60, 20)]
    with pytest.raises(CvgrError, match=r"share no clean-accuracy range: complex 70.00-90.00%, real 60.00-70.00%"):
        analyse(_points("complex", COMPLEX) + _points("real", real), replicates=10)


def test_one_beta_grid_is_refused_naming_the_key():
    real = [(64, 75, 25)]
    with pytest.raises(SpecError) as err:
        analyse(_points("complex", COMPLEX) + _points("real", real), grid_key="datasets.fmnist.betas")
    assert err.value.key == "datasets.fmnist.betas" and "real nets at 1 beta (64)" in str(err.value)
    assert "at least two" in err.value.allowed


def test_inputs_are_checked():
    with pytest.raises(CvgrError, match="train every seed at every beta"):
        analyse(_points("complex", COMPLEX) + _points("real", REAL)[:-1])
    with pytest.raises(CvgrError, match="same first N test images"):
        analyse(_points("complex", COMPLEX) + [ModelPoint("real", 0, 0, 90, np.ones(5)),
                                                ModelPoint("real", 8, 0, 80, np.ones(5))])
    with pytest.raises(CvgrError, match="0/1 per image"):
        ModelPoint("real", 0, 0, 90, np.array([0, 2]))


def test_worst_case_is_correct_under_every_attack():
    assert worst_case([[1, 1, 0, 1], [1, 0, 0, 1], [1, 1, 1, 0]]).tolist() == [1, 0, 0, 0]


def test_points_from_records_take_the_worst_case_of_the_attacks_at_eps():
    from cvgr.report.frontier import points_from_records
    from cvgr.results.records import HISTORY_KEYS, TrainingHistory, WhiteboxCurve
    from cvgr.study.specs import WhiteboxSpec
    from cvgr.vocab import ModelId

    def history(name: str, acc: float) -> TrainingHistory:
        hist = {k: np.zeros(1) for k in HISTORY_KEYS}
        hist["test_acc"] = np.array([acc])
        return TrainingHistory(dataset="fmnist", model=ModelId.parse(name), arch="small_cnn", mode="paper",
                               epochs=1, train_size=10, eval_images=10, history=hist)

    def curve(name: str, attack: str, rows: list[list[int]]) -> WhiteboxCurve:
        spec = WhiteboxSpec.for_attack(attack, eps=(0.16, 0.3), images=4)
        return WhiteboxCurve(dataset="fmnist", model=ModelId.parse(name), spec=spec,
                             correct=np.array(rows, dtype=np.uint8), labels=np.zeros(4, dtype=np.int64))

    hists = [history("real-gr64-s0", 74.5), history("real-adv0.2-s0", 68.0)]
    curves = [curve("real-gr64-s0", "pgd4", [[1, 1, 0, 1], [0, 0, 0, 0]]),
              curve("real-gr64-s0", "square", [[1, 0, 1, 1], [0, 0, 0, 0]])]
    (point,) = points_from_records(hists, curves, 0.16)  # the adversarially trained model is no frontier point
    assert (point.field, point.beta, point.seed, point.clean) == ("real", 64.0, 0, 74.5)
    assert point.robust.tolist() == [1, 0, 0, 1]
    with pytest.raises(CvgrError, match="real-std-s0: no attack results at eps 0.16"):
        points_from_records(hists + [history("real-std-s0", 81.0)], curves, 0.16)
    with pytest.raises(CvgrError, match="same attacks for every model"):
        points_from_records(hists + [history("real-std-s0", 81.0)],
                            curves + [curve("real-std-s0", "pgd4", [[1, 1, 1, 1], [0, 0, 0, 0]])], 0.16)
