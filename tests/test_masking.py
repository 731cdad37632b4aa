"""Masking audit analysis: worst case, McNemar flags, the eps ceiling, and rows from real attack runs."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from audit_cases import linear_case
from cvgr.attacks.evaluate import attack_function
from cvgr.report.audit import (COLUMNS, Flag, beats, falls_to_chance, masking_row, mcnemar_greater, worst_case)
from cvgr.report.stats import binomial_ci
from cvgr.vocab import AttackId

torch.set_num_threads(1)
T, F_ = True, False


def test_worst_case_is_correct_under_every_attack():
    clean = np.array([1, 1, 1, 1, 0], dtype=bool)
    pgd = np.array([1, 0, 1, 1, 1], dtype=bool)
    square = np.array([1, 1, 0, 1, 1], dtype=np.uint8)
    assert worst_case({"clean": clean, "pgd10": pgd, "square": square}).tolist() == [T, F_, F_, T, F_]
    assert worst_case({"clean": clean}).tolist() == clean.tolist()


@pytest.mark.parametrize("arrays, message", [
    ({}, "at least one"),
    ({"clean": [1, 0], "pgd10": [1, 0, 1]}, "pgd10: 3 images, but the others have 2"),
    ({"clean": [[1, 0]]}, "1-d array"),
    ({"clean": [0.5, 1.0]}, "1-d array"),
    ({"clean": [0, 2]}, "must be 0 or 1"),
])
def test_worst_case_refuses_bad_arrays(arrays, message):
    with pytest.raises(ValueError, match=message):
        worst_case(arrays)


def _exact_tail(b: int, m: int) -> float:
    """``sum_{k=b}^{m} C(m, k) / 2^m`` in exact rational arithmetic, rounded once to a float."""
    return float(Fraction(sum(math.comb(m, k) for k in range(b, m + 1)), 2 ** m))


def test_mcnemar_matches_closed_forms():
    assert mcnemar_greater(0, 0) == 1.0
    assert mcnemar_greater(5, 0) == 1 / 32
    assert mcnemar_greater(0, 7) == 1.0
    assert mcnemar_greater(3, 3) == pytest.approx(42 / 64, rel=1e-12)
    for b in range(0, 30, 3):
        for c in range(0, 30, 4):
            if b + c:
                assert mcnemar_greater(b, c) == pytest.approx(_exact_tail(b, b + c), rel=1e-12)
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_greater(-1, 2)


@pytest.mark.parametrize("b", [0, 940, 1000, 1040, 1100, 2000])
def test_mcnemar_on_thousands_of_discordant_images(b):
    """m = 2000 discordant images: C(2000, k) overflows a float, the p-value must not."""
    m = 2000
    assert mcnemar_greater(b, m - b) == pytest.approx(_exact_tail(b, m), rel=1e-9, abs=1e-300)


def _pair(only_other: int, only_pgd: int, both: int = 10, neither: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Correctness arrays with the given discordant counts (True = correct)."""
    other = [F_] * only_other + [T] * only_pgd + [F_] * both + [T] * neither
    pgd = [T] * only_other + [F_] * only_pgd + [F_] * both + [T] * neither
    return np.array(other), np.array(pgd)


def test_beats_fires_from_five_one_sided_discordant_images():
    """p = 2^-b with c = 0: b = 5 gives 0.031 < 0.05, b = 4 gives 0.0625."""
    fired = beats(*_pair(5, 0), name="square", baseline="pgd10")
    assert fired.raised is True
    assert fired.evidence == ("square 57.1% (20/35) vs pgd10 71.4% (25/35): 5 images fooled only by square, "
                              "0 only by pgd10; exact one-sided McNemar p = 0.0312 < 0.05")
    assert beats(*_pair(4, 0), name="square").raised is False
    assert beats(*_pair(12, 6), name="square").raised is False   # p = 0.119: more, but not beyond chance
    assert beats(*_pair(15, 3), name="square").raised is True    # p = 0.0038
    assert beats(*_pair(0, 9), name="fgsm").raised is False      # PGD the stronger one


def test_no_fall_to_chance_uses_the_largest_eps_and_the_label_ceiling():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 3, 4, 5])  # most frequent label: 3 of 10
    at = {0.1: np.ones(10, bool), 0.5: np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)}
    fired = falls_to_chance(at, labels)
    assert fired.raised is True and "40.0% (4/10) survive" in fired.evidence and "30.0% (3/10)" in fired.evidence
    at[0.5] = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    assert falls_to_chance(at, labels).raised is False
    at[0.6] = np.zeros(10, bool)  # the largest eps decides, in whatever order the keys come
    assert falls_to_chance(dict(reversed(list(at.items()))), labels).raised is False
    low = falls_to_chance({0.1: np.ones(10, bool), 0.3: np.ones(10, bool)}, labels)
    assert low.raised is None and "0.3 < 0.5" in low.evidence
    assert falls_to_chance({}, labels).raised is None


def _arrays(n: int = 40) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    clean = rng.random(n) < 0.9
    pgd = clean & (rng.random(n) < 0.5)
    return labels, {"clean": clean, "pgd10": pgd, "fgsm": clean & (rng.random(n) < 0.7),
                    "apgd-ce": pgd & (rng.random(n) < 0.9), "apgd-dlr": pgd & (rng.random(n) < 0.95),
                    "square": pgd | (clean & (rng.random(n) < 0.3))}


def test_masking_row_accuracies_and_worst_case_by_hand():
    labels, correct = _arrays()
    row = masking_row("complex-gr64-s0", 0.16, labels, correct)
    assert tuple(row) == COLUMNS
    assert row["model"] == "complex-gr64-s0" and row["eps"] == 0.16 and row["images"] == 40
    assert row["pgd_attack"] == "pgd10"
    for key, col in (("clean", "acc_clean"), ("pgd10", "acc_pgd"), ("fgsm", "acc_fgsm"), ("apgd-ce", "acc_apgd_ce"),
                     ("apgd-dlr", "acc_apgd_dlr"), ("square", "acc_square")):
        assert row[col] == pytest.approx(100 * correct[key].sum() / 40)
    robust = np.ones(40, bool)
    for values in correct.values():
        robust &= values
    k = int(robust.sum())
    assert row["acc_worst"] == pytest.approx(100 * k / 40)
    assert (row["worst_ci_lo"], row["worst_ci_hi"]) == pytest.approx(tuple(100 * v for v in binomial_ci(k, 40)))
    assert row["acc_worst"] <= min(row[c] for c in COLUMNS if c.startswith("acc_") and c != "acc_worst")


def test_masking_row_flags_match_their_functions():
    labels, correct = _arrays()
    row = masking_row("m", 0.16, labels, correct, {0.5: correct["pgd10"]})
    apgd = correct["apgd-ce"] & correct["apgd-dlr"]
    for flag, expected in (("square_beats_pgd", beats(correct["square"], correct["pgd10"], name="square",
                                                      baseline="pgd10")),
                           ("fgsm_beats_pgd", beats(correct["fgsm"], correct["pgd10"], name="fgsm", baseline="pgd10")),
                           ("apgd_beats_pgd", beats(apgd, correct["pgd10"], name="apgd-ce or apgd-dlr",
                                                    baseline="pgd10")),
                           ("no_fall_to_chance", falls_to_chance({0.5: correct["pgd10"]}, labels))):
        assert Flag(row[f"flag_{flag}"], row[f"evidence_{flag}"]) == expected
    assert row["any_flag"] == any(row[f"flag_{f}"] for f in ("square_beats_pgd", "fgsm_beats_pgd", "apgd_beats_pgd",
                                                            "no_fall_to_chance"))


def _quiet(n: int = 40) -> tuple[np.ndarray, dict[str, np.ndarray], dict[float, np.ndarray]]:
    """Every attack fools the same images; at eps 0.5 nothing survives: no flag can fire."""
    labels = np.arange(n) % 10  # the most frequent label: 4 of 40
    clean = np.arange(n) >= 2
    pgd = clean & (np.arange(n) < 24)
    correct = {"clean": clean, **{a: pgd.copy() for a in ("pgd10", "fgsm", "apgd-ce", "apgd-dlr", "square")}}
    return labels, correct, {0.16: pgd.copy(), 0.5: np.zeros(n, bool)}


@pytest.mark.parametrize("flag", ["square_beats_pgd", "fgsm_beats_pgd", "apgd_beats_pgd", "no_fall_to_chance"])
def test_each_flag_fires_alone_and_stays_quiet_otherwise(flag):
    labels, correct, sweep = _quiet()
    quiet = masking_row("m", 0.16, labels, correct, sweep)
    assert all(quiet[f"flag_{f}"] is False for f in ("square_beats_pgd", "fgsm_beats_pgd", "apgd_beats_pgd",
                                                    "no_fall_to_chance"))
    assert quiet["any_flag"] is False
    if flag == "no_fall_to_chance":
        sweep[0.5][:5] = True  # 5 of 40 survive, but at most 4 can be robust
    else:
        attack = {"square_beats_pgd": "square", "fgsm_beats_pgd": "fgsm", "apgd_beats_pgd": "apgd-dlr"}[flag]
        correct[attack][2:8] = False  # six images fooled only by this attack: p = 2^-6
    row = masking_row("m", 0.16, labels, correct, sweep)
    raised = [f for f in ("square_beats_pgd", "fgsm_beats_pgd", "apgd_beats_pgd", "no_fall_to_chance")
              if row[f"flag_{f}"]]
    assert raised == [flag] and row["any_flag"] is True


def test_masking_row_without_some_attacks_says_so():
    labels, correct = _arrays()
    row = masking_row("m", 0.16, labels, {"clean": correct["clean"], "pgd10": correct["pgd10"]})
    assert math.isnan(row["acc_square"]) and math.isnan(row["acc_apgd_ce"])
    assert row["flag_square_beats_pgd"] is None and row["evidence_square_beats_pgd"] == "not evaluated: square not run"
    assert row["flag_no_fall_to_chance"] is None and row["any_flag"] is False


@pytest.mark.parametrize("correct, message", [
    ({"pgd10": [1, 0]}, "needs the clean correctness"),
    ({"clean": [1, 0], "fgsm": [1, 0]}, "exactly one PGD result"),
    ({"clean": [1, 0], "pgd10": [1, 0], "pgd20": [1, 1]}, "exactly one PGD result"),
])
def test_masking_row_refuses_ambiguous_input(correct, message):
    with pytest.raises(ValueError, match=message):
        masking_row("m", 0.1, [0, 1], correct)


ATTACKS = (("fgsm", {}), ("pgd10", {}), ("apgd-ce", {}), ("apgd-dlr", {}), ("square", {"square_queries": 1000}))


def _audit(model, case, eps: float) -> dict[str, np.ndarray]:
    """Per-image correctness clean and under every audit attack at ``eps``."""
    out = {}
    with torch.no_grad():
        out["clean"] = (model(case.x).argmax(1) == case.y).numpy()
    for name, options in ATTACKS:
        x_adv = attack_function(AttackId.parse(name))(model, case.x, case.y, eps, generator=torch.Generator().manual_seed(0),
                                       **options)
        with torch.no_grad():
            out[name] = (model(x_adv).argmax(1) == case.y).numpy()
    return out


def _pgd_at_half(model, case) -> np.ndarray:
    """Correct clean and under PGD at eps 0.5, per image."""
    x_adv = attack_function(AttackId.parse("pgd10"))(model, case.x, case.y, 0.5)
    with torch.no_grad():
        return (model(x_adv).argmax(1) == case.y).numpy() & case.clean.numpy()


def test_a_gradient_masked_model_raises_the_square_flag_and_the_linear_one_does_not():
    """Same robust images, but the quantized model's zero gradient leaves FGSM and PGD at the clean accuracy."""
    case = linear_case()
    labels = case.y.numpy()
    rows = {}
    for kind, model in (("linear", case.model), ("masked", case.masked())):
        correct = _audit(model, case, case.eps)
        sweep = {case.eps: worst_case(correct), 0.5: _pgd_at_half(model, case)}
        rows[kind] = masking_row(kind, case.eps, labels, correct, sweep)
        assert correct["square"].tolist() == case.robust.tolist()  # the black box finds the optimum on both
    known = 100.0 * float(case.robust.double().mean())
    linear, masked = rows["linear"], rows["masked"]
    assert linear["acc_pgd"] == linear["acc_square"] == linear["acc_worst"] == known
    assert not any(linear[f"flag_{f}"] for f in ("square_beats_pgd", "fgsm_beats_pgd", "apgd_beats_pgd",
                                                 "no_fall_to_chance"))
    assert masked["acc_pgd"] == masked["acc_fgsm"] == masked["acc_clean"] > known
    assert masked["flag_square_beats_pgd"] is True and masked["acc_worst"] == known
    assert masked["flag_no_fall_to_chance"] is True  # PGD cannot move it even at eps 0.5
    assert masked["any_flag"] is True
