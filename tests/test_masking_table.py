"""The masking table and figure from audit curves: accuracies, the worst case and the flags, per model."""
from __future__ import annotations

import numpy as np
import pytest

from cvgr.errors import CvgrError
from cvgr.report.audit_table import write_masking_table
from cvgr.report.figures import masking_figure
from cvgr.results.records import WhiteboxCurve
from cvgr.study.specs import WhiteboxSpec
from cvgr.vocab import AttackId, ModelId

N = 40
LABELS = np.arange(N) % 10  # 4 images per label: at eps >= 0.5 at most 4 can be robust


def curve(tmp_path, model: str, attack: str, rows: dict[float, list[int]]) -> str:
    """An audit curve whose images in ``rows[eps]`` are the ones the attack fooled at that eps."""
    a = AttackId.parse(attack)
    eps = tuple(sorted(rows))
    correct = np.ones((len(eps), N), np.uint8)
    for i, e in enumerate(eps):
        correct[i, rows[e]] = 0
    spec = WhiteboxSpec(attack=a, eps=eps, images=N, apgd_steps=10 if a.kind.startswith("apgd") else None,
                        square_queries=100 if a.kind == "square" else None)
    path = f"{tmp_path}/audit/{attack}/{model}.h5"
    WhiteboxCurve(dataset="fmnist", model=ModelId.parse(model), spec=spec, correct=correct, labels=LABELS).write(path, {})
    return path


@pytest.fixture
def audit(tmp_path) -> list[str]:
    """Two models. real-std-s0: honest (PGD strongest). complex-gr64-s0: gradients masked, Square fools 20 more."""
    honest = {"fgsm": {0: [0], 0.16: list(range(10)), 0.5: list(range(40))},
              "pgd4": {0: [0], 0.16: list(range(20)), 0.5: list(range(40))},
              "apgd-ce": {0.16: list(range(18))}, "apgd-dlr": {0.16: list(range(19))},
              "square": {0.16: list(range(15))}}
    masked = {"fgsm": {0: [0, 1], 0.16: [0, 1, 2], 0.5: [0, 1, 2, 3]},
              "pgd4": {0: [0, 1], 0.16: [0, 1], 0.5: [0, 1, 2]},
              "apgd-ce": {0.16: [0, 1, 5]}, "apgd-dlr": {0.16: [0, 1]},
              "square": {0.16: list(range(22))}}
    return [curve(tmp_path, m, a, rows) for m, attacks in (("real-std-s0", honest), ("complex-gr64-s0", masked))
            for a, rows in attacks.items()]


def test_rows_accuracies_worst_case_and_flags(audit, tmp_path):
    df = write_masking_table(audit, tmp_path / "m.csv", tmp_path / "m.md")
    honest, masked = df.to_dict("records")
    assert (honest["model"], masked["model"]) == ("real-std-s0", "complex-gr64-s0")
    assert (honest["eps"], honest["images"], honest["pgd_attack"]) == (0.16, N, "pgd4")
    assert (honest["acc_clean"], honest["acc_pgd"], honest["acc_square"], honest["acc_worst"]) == (97.5, 50.0, 62.5, 50.0)
    assert honest["any_flag"] is False
    assert masked["acc_worst"] == 100 * (N - 22) / N  # Square's 22 images contain every other attack's
    assert masked["flag_square_beats_pgd"] is True and masked["flag_apgd_beats_pgd"] is False
    assert masked["flag_no_fall_to_chance"] is True  # 36 of 40 survive eps 0.5; at most 4 can
    assert "exact one-sided McNemar" in masked["evidence_square_beats_pgd"]
    csv = (tmp_path / "m.csv").read_text().splitlines()
    assert csv[0].startswith("dataset,model,eps,images,pgd_attack,acc_clean,acc_fgsm,acc_pgd,")
    assert csv[2].startswith("fmnist,complex-gr64-s0,0.16,40,pgd4,95.0000,")
    md = (tmp_path / "m.md").read_text()
    assert "| complex-gr64-s0 |" in md and "Square beats PGD, no fall towards chance" in md
    assert "complex-gr64-s0, Square beats PGD (RAISED)" in md and "real-std-s0, Square beats PGD (quiet)" in md
    assert "APGD 10 steps, Square 100 queries per image" in md


def test_curves_on_other_images_or_repeated_attacks_are_refused(audit, tmp_path):
    other = curve(tmp_path / "x", "real-std-s0", "square", {0.16: [1]})
    with pytest.raises(CvgrError, match="repeat an attack"):
        write_masking_table(audit + [other], tmp_path / "m.csv", tmp_path / "m.md")
    assert not (tmp_path / "m.csv").exists()


def test_figure_marks_the_flagged_model(audit):
    fig = masking_figure(audit, "fmnist")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["real-std-s0", "complex-gr64-s0"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["clean", "FGSM", "PGD", "APGD-CE", "APGD-DLR",
                                                                   "Square", "worst case"]
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["flag: Square beats PGD; no fall towards chance"]


def test_chance_check_counts_only_images_correct_when_clean(tmp_path):
    """36 images wrong when clean are left correct by both attacks at eps 0.5: none of them is robust."""
    wrong = list(range(36))
    rows = {0: wrong, 0.16: wrong, 0.5: [36, 37, 38, 39]}
    paths = [curve(tmp_path, "real-std-s0", a, rows) for a in ("fgsm", "pgd4")]
    (row,) = write_masking_table(paths, tmp_path / "m.csv", tmp_path / "m.md").to_dict("records")
    assert row["flag_no_fall_to_chance"] is False
    assert "at eps 0.5 0.0% (0/40) survive every attack" in row["evidence_no_fall_to_chance"]


def test_chance_check_runs_at_the_audit_eps_when_it_is_the_largest(tmp_path):
    """Audit eps 0.5 and no larger eps: 10 of 40 survive, at most 4 can (LABELS has 4 per label)."""
    rows = {0: [], 0.5: list(range(30))}
    paths = [curve(tmp_path, "real-std-s0", a, rows) for a in ("fgsm", "pgd4")]
    (row,) = write_masking_table(paths, tmp_path / "m.csv", tmp_path / "m.md").to_dict("records")
    assert row["eps"] == 0.5 and row["flag_no_fall_to_chance"] is True
    assert "at eps 0.5 25.0% (10/40) survive every attack" in row["evidence_no_fall_to_chance"]
