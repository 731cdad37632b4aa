"""The frontier's table, figure and claims row from result files, against cvgr.report.frontier.analyse on the same points."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from cvgr.report.frontier import ModelPoint, analyse
from cvgr.report.frontier_table import CLAIM, frontier_claims, write_frontier_table
from cvgr.report.figures import plot_frontier
from cvgr.results.records import HISTORY_KEYS, NesResult, TrainingHistory, WhiteboxCurve
from cvgr.study.specs import NesSpec, WhiteboxSpec
from cvgr.vocab import ModelId

N, EPS = 60, 0.16
SETTINGS = {"fmnist": {"eps": EPS, "replicates": 300}}
# (field, beta) -> (clean accuracy per seed, chance that PGD and Square each leave an image correct)
OVERLAP = {("real", 0): ((80.0, 81.0), 0.35), ("real", 16): ((76.0, 75.5), 0.6), ("real", 64): ((72.0, 73.0), 0.75),
           ("complex", 0): ((84.0, 85.0), 0.4), ("complex", 16): ((78.0, 79.0), 0.7),
           ("complex", 64): ((74.0, 74.5), 0.85)}


def name(field: str, beta: float, seed: int) -> str:
    return ModelId.of(field, beta=beta, seed=seed).name


def write_study(tmp_path, grid) -> tuple[list[str], list[str], list[ModelPoint]]:
    """History and audit files (PGD-4 and Square at eps 0.16 and 0.5) of every model of ``grid``, two seeds,
    and the ModelPoints they stand for (worst case computed here, independently of the reader)."""
    rng = np.random.default_rng(7)
    hists, audits, points = [], [], []
    for (field, beta), (accs, p) in grid.items():
        for seed, acc in enumerate(accs):
            m = ModelId.of(field, beta=beta, seed=seed)
            h = {k: np.zeros(1) for k in HISTORY_KEYS}
            h["test_acc"] = np.array([acc])
            path = f"{tmp_path}/models/{m.name}.h5"
            TrainingHistory(dataset="fmnist", model=m, arch="small_cnn", mode="paper", epochs=1, train_size=100,
                            eval_images=2000, history=h).write(path, {})
            hists.append(path)
            rows = {}
            for attack in ("pgd4", "square"):
                at_eps = (rng.random(N) < p).astype(np.uint8)
                rows[attack] = at_eps
                spec = WhiteboxSpec.for_attack(attack, eps=(EPS, 0.5), images=N)
                correct = np.stack([at_eps, np.zeros(N, np.uint8)])
                path = f"{tmp_path}/audit/{attack}/{m.name}.h5"
                WhiteboxCurve(dataset="fmnist", model=m, spec=spec, correct=correct,
                              labels=np.zeros(N, np.int64)).write(path, {})
                audits.append(path)
            points.append(ModelPoint(field, float(beta), seed, acc, np.minimum(rows["pgd4"], rows["square"])))
    return hists, audits, points


def nes_file(tmp_path, model: str, k: int) -> str:
    path = f"{tmp_path}/nes/{model}.h5"
    correct = np.zeros(20, np.uint8)
    correct[:k] = 1
    NesResult(dataset="fmnist", model=ModelId.parse(model), spec=NesSpec(images=20), queries_per_image=4000.0,
              correct=correct, clean_correct=np.ones(20, np.uint8)).write(path, {})
    return path


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_table_numbers_are_those_of_analyse_on_the_same_points(tmp_path):
    hists, audits, points = write_study(tmp_path, OVERLAP)
    nes = [nes_file(tmp_path, "complex-gr64-s0", 13), nes_file(tmp_path, "real-adv0.2-s0", 5)]
    write_frontier_table(hists, audits, nes, SETTINGS, tmp_path / "f.csv", tmp_path / "f.md")
    nodes, gap = analyse(points, replicates=300)
    rows = read_csv(tmp_path / "f.csv")
    assert [(r["field"], float(r["beta"])) for r in rows] == [(n.field, n.beta) for n in nodes]
    for r, n in zip(rows, nodes):
        for col in ("clean", "clean_low", "clean_high", "robust", "robust_low", "robust_high"):
            assert float(r[col]) == pytest.approx(getattr(n, col), abs=1e-4), (r["field"], r["beta"], col)
        assert r["on_frontier"] == str(n.on_frontier)
        assert (r["seeds"], r["eps"], r["images"], r["attacks"]) == ("0 1", "0.16", str(N), "pgd4 square")
        assert float(r["gap"]) == pytest.approx(gap.estimate, abs=1e-4)
        assert (float(r["gap_low"]), float(r["gap_high"])) == pytest.approx((gap.low, gap.high), abs=1e-4)
        assert r["verdict"] == gap.verdict
    # closed form of one point: means over the two seeds of the clean accuracy and of the worst case
    real16 = next(r for r in rows if (r["field"], r["beta"]) == ("real", "16.0"))
    mine = [p for p in points if (p.field, p.beta) == ("real", 16.0)]
    assert float(real16["clean"]) == pytest.approx(75.75, abs=1e-4)
    assert float(real16["robust"]) == pytest.approx(100 * np.mean([p.robust.mean() for p in mine]), abs=1e-4)
    # NES only where it attacked a frontier model: complex beta 64, seed 0 (13 of 20); never the adv. net
    nes_cols = {(r["field"], r["beta"]): (r["nes"], r["nes_seeds"]) for r in rows}
    assert nes_cols.pop(("complex", "64.0")) == ("65.0000", "0")
    assert set(nes_cols.values()) == {("", "")}
    md = (tmp_path / "f.md").read_text()
    assert f"G = {gap.estimate:+.2f} pp" in md and gap.verdict in md and "65.00 (s0)" in md


def test_claims_row_is_the_gap_with_its_verdict(tmp_path):
    hists, audits, points = write_study(tmp_path, OVERLAP)
    _, gap = analyse(points, replicates=300)
    (row,) = frontier_claims(hists, audits, SETTINGS)
    assert (row.claim, row.reading, row.verdict) == (CLAIM, "matched clean accuracy", gap.verdict)
    assert (row.estimate, row.low, row.high) == pytest.approx((gap.estimate, gap.low, gap.high))
    assert "complex G.R. is more robust than real G.R." in row.statement
    assert frontier_claims(hists, audits, {}) == []


def test_frontiers_without_a_shared_range_still_give_the_points_and_say_why(tmp_path):
    apart = {(f, b): (tuple(a + 20 for a in accs) if f == "complex" else accs, p)
             for (f, b), (accs, p) in OVERLAP.items()}  # complex 94-100%: above every real net
    apart = {k: (tuple(min(a, 100.0) for a in accs), p) for k, (accs, p) in apart.items()}
    hists, audits, _ = write_study(tmp_path, apart)
    write_frontier_table(hists, audits, [], SETTINGS, tmp_path / "f.csv", tmp_path / "f.md")
    rows = read_csv(tmp_path / "f.csv")
    assert len(rows) == 6 and all(r["gap"] == "" and r["verdict"] == "not resolved at this sample size" for r in rows)
    assert "share no clean-accuracy range" in (tmp_path / "f.md").read_text()
    (row,) = frontier_claims(hists, audits, SETTINGS)
    assert row.verdict == "not resolved at this sample size" and row.low is None
    assert "share no clean-accuracy range" in row.evidence


def test_figure_is_written(tmp_path):
    hists, audits, _ = write_study(tmp_path, OVERLAP)
    out = tmp_path / "frontier_fmnist.png"
    plot_frontier(hists, audits, [], SETTINGS, str(out), "fmnist")
    png = out.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    plot_frontier(hists, audits, [], SETTINGS, str(tmp_path / "again.png"), "fmnist")
    assert (tmp_path / "again.png").read_bytes() == png  # deterministic


def test_claims_table_ends_with_the_frontier_row(tmp_path):
    from cvgr.report.vs_paper import write_claims_table

    hists, audits, points = write_study(tmp_path, OVERLAP)
    _, gap = analyse(points, replicates=300)
    write_claims_table(hists, [], [], tmp_path / "c.csv", tmp_path / "c.md", hists, audits, SETTINGS)
    rows = read_csv(tmp_path / "c.csv")
    assert rows[-1]["claim"] == CLAIM and rows[-1]["verdict"] == gap.verdict
    assert float(rows[-1]["estimate"]) == pytest.approx(gap.estimate, rel=1e-5)
    assert {r["claim"] for r in rows[:-1]} == {"clean-accuracy", "zeta"}  # the paper's claims come first
    assert "matched-robustness row is beyond the paper" in (tmp_path / "c.md").read_text()
    write_claims_table(hists, [], [], tmp_path / "d.csv", tmp_path / "d.md")  # no frontier: no row
    assert CLAIM not in {r["claim"] for r in read_csv(tmp_path / "d.csv")}
