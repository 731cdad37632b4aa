"""This run against the paper: the comparison tables and the claims table from result records."""
from __future__ import annotations

import numpy as np
import pytest

from cvgr.report.vs_paper import write_claims_table, write_paper_comparison
from cvgr.errors import CvgrError
from cvgr.report.paper import load_paper_results
from cvgr.report.figures import paper_figure
from cvgr.results.records import HISTORY_KEYS, NesResult, TrainingHistory, TransferCell
from cvgr.study.specs import NesSpec
from cvgr.report.stats import binomial_ci
from cvgr.vocab import AttackId, ModelId, transfer_role

N = 200


def ones(k: int, n: int = N) -> np.ndarray:
    return (np.arange(n) < k).astype(np.uint8)


def cell(tmp_path, source: str, target: str, k: int) -> str:
    s, t = ModelId.parse(source), ModelId.parse(target)
    path = f"{tmp_path}/transfer/{source}/{target}.h5"
    TransferCell(dataset="fmnist", source=s, target=t, role=transfer_role(s, t), attack=AttackId("fgsm"), eps=0.16,
                 correct=ones(k)).write(path, {})
    return path


def history(tmp_path, model: str, acc: float, zeta: float) -> str:
    hist = {k: np.zeros(2) for k in HISTORY_KEYS}
    hist["test_acc"], hist["zeta"] = np.array([50.0, acc]), np.array([0.9, zeta])
    path = f"{tmp_path}/models/{model}.h5"
    TrainingHistory(dataset="fmnist", model=ModelId.parse(model), arch="small_cnn", mode="paper", epochs=2,
                    train_size=1000, eval_images=N, history=hist).write(path, {})
    return path


def nes(tmp_path, model: str, k: int) -> str:
    path = f"{tmp_path}/nes/{model}.h5"
    NesResult(dataset="fmnist", model=ModelId.parse(model), spec=NesSpec(images=N), queries_per_image=4000.0,
              correct=ones(k), clean_correct=ones(N)).write(path, {})
    return path


def test_transfer_beside_the_paper(tmp_path):
    paths = [cell(tmp_path, "real-gr64-s0", "real-gr64-s0", 100), cell(tmp_path, "real-std-s0", "complex-gr64-s1", 150),
             cell(tmp_path, "real-std-s0", "real-std-s0", 0)]
    df = write_paper_comparison("transfer", paths, tmp_path / "t.csv", tmp_path / "t.md")
    paper = {r.key: r.accuracy for r in load_paper_results().table("transfer") if r.dataset == "fmnist"}
    assert len(df) == len(paper) == 20  # every fmnist cell of the paper, measured or not
    row = df[(df.source_field == "real") & (df.source_defense == "gr") & (df.target == "self")].iloc[0]
    assert (row.paper, row.measured, row.images) == (53.1, 50.0, N)
    assert row.difference == pytest.approx(50.0 - 53.1)
    lo, hi = binomial_ci(100, N)
    assert (row.ci_low, row.ci_high) == (pytest.approx(100 * lo), pytest.approx(100 * hi))
    assert df.measured.notna().sum() == 3
    md = (tmp_path / "t.md").read_text()
    assert "| fmnist    | real gr     | Self     | 53.1    | 50.0       | -3.1" in md
    assert "FMNIST eps 0.16, beta 64" in md and "MNIST" not in md.replace("FMNIST", "")


def test_transfer_comparison_uses_the_tables_cells_and_checks(tmp_path):
    """A G.R. target of another beta than the sources' is left out, as in the transfer table, not pooled."""
    paths = [cell(tmp_path, "real-gr64-s0", "real-gr64-s0", 100), cell(tmp_path, "real-std-s0", "complex-gr64-s1", 150),
             cell(tmp_path, "real-std-s0", "real-gr64-s1", 60), cell(tmp_path, "real-std-s0", "complex-gr128-s1", 10)]
    df = write_paper_comparison("transfer", paths, tmp_path / "t.csv", tmp_path / "t.md")
    row = df[(df.source_field == "real") & (df.source_defense == "std") & (df.field == "complex")
             & (df.defense == "gr")].iloc[0]
    assert (row.measured, row.correct, row.images) == (75.0, 150, N)
    assert df.measured.notna().sum() == 3 and len(df) == 20
    claims = write_claims_table([history(tmp_path, "real-std-s0", 90.0, 1.0)], paths, [], tmp_path / "c.csv",
                                tmp_path / "c.md")
    (evidence,) = claims[claims.scope == "fmnist, source R-Std."].evidence
    assert evidence.startswith("C-G.R. 75.0% (150/200) vs R-G.R. 30.0% (60/200)")
    other_seed = [*paths, cell(tmp_path, "complex-std-s1", "complex-std-s1", 30)]
    with pytest.raises(CvgrError, match="sources with seeds 0, 1"):
        write_paper_comparison("transfer", other_seed, tmp_path / "t.csv", tmp_path / "t.md")


def test_nes_beside_the_paper(tmp_path):
    paths = [nes(tmp_path, "complex-gr64-s0", 120), nes(tmp_path, "real-std-s0", 10)]
    df = write_paper_comparison("nes", paths, tmp_path / "n.csv", tmp_path / "n.md")
    got = {(r.field, r.defense): (r.paper, r.measured) for r in df.itertuples()}
    assert got[("complex", "gr")] == (68.4, 60.0) and got[("real", "std")] == (0.0, 5.0)
    assert np.isnan(got[("real", "gr")][1])  # the paper's number, not measured here


def test_claims_from_records(tmp_path):
    hist = [history(tmp_path, m, acc, z) for m, acc, z in (
        ("real-std-s0", 90.0, 1.0), ("real-gr64-s0", 70.0, 0.80), ("complex-std-s0", 90.0, 1.0),
        ("complex-gr64-s0", 85.0, 0.90))]
    cells = [cell(tmp_path, "real-std-s0", "complex-gr64-s1", 180), cell(tmp_path, "real-std-s0", "real-gr64-s1", 60)]
    nes_paths = [nes(tmp_path, "complex-gr64-s0", 150), nes(tmp_path, "complex-std-s0", 0)]
    df = write_claims_table(hist, cells, nes_paths, tmp_path / "c.csv", tmp_path / "c.md")
    verdicts = {(r.claim, r.scope, r.reading): r.verdict for r in df.itertuples()}
    beta = "fmnist, beta 64"
    assert verdicts[("clean-accuracy", beta, "drop from std")] == "holds"  # drops 20 vs 5 pp on 200 images each
    assert verdicts[("clean-accuracy", beta, "absolute at equal beta")] == "holds"  # 85% vs 70%
    unresolved = "not resolved at this sample size"  # one seed: no interval
    assert verdicts[("zeta", beta, "last epoch")] == verdicts[("zeta", beta, "per-epoch curve")] == unresolved
    (curve,) = df[df.reading == "per-epoch curve"].evidence
    assert "C-G.R. [s0: 0.900], R-G.R. [s0: 0.850]" in curve  # the histories' epoch means (0.9, 0.9), (0.9, 0.8)
    assert verdicts[("transfer-complex-gr-target", "fmnist, source R-Std.", "transfer targets")] == "holds"
    methods = {(r.claim, r.scope): r.method for r in df.itertuples()}
    assert methods[("transfer-complex-gr-target", "fmnist, source R-Std.")].startswith("paired")  # same images
    assert verdicts[("nes-gr-defends", "fmnist, NES, complex", "NES")] == "holds"
    assert df.tests.str.len().min() > 20 and df.set_index(["claim", "scope", "reading"]).index.is_unique
    md = (tmp_path / "c.md").read_text()
    assert "| clean-accuracy" in md and "absolute at equal beta" in md and "R 20.0 pp" in md
    assert "tests whether C-G.R. is more accurate on clean test images than R-G.R." in md


def test_the_figure_has_one_point_per_reported_cell(tmp_path):
    paths = [cell(tmp_path, "real-gr64-s0", "real-gr64-s0", 100), cell(tmp_path, "real-std-s0", "complex-gr64-s1", 150)]
    fig = paper_figure(paths)
    (ax,) = fig.axes
    assert "2 cells" in ax.get_title()
    measured = sorted(round(c.get_children()[0].get_ydata()[0], 6) for c in ax.containers)
    assert measured == [50.0, 75.0]
    adv = [cell(tmp_path / "a", "real-adv0.2-s0", "real-std-s1", 5)]  # no table cell
    with pytest.raises(CvgrError, match="none of the transfer cells is one the paper reports"):
        paper_figure(adv)
