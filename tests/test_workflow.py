"""The Snakemake workflow end to end on configs/test.yaml (real Fashion-MNIST, a few hundred images).

Two fresh runs of the same config go side by side, one with ``--cores 2`` and
one with ``--cores 1`` (module fixture ``runs``); the tests then check the
output contract, determinism across runs and core counts, the one-cell
rerun, and which jobs a changed parameter reruns (dry runs). The expected job
lists are derived by hand from the grid rules in cvgr/study/plan.py's docstring.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, write_config
from cvgr.results.io import read_h5
from cvgr.nn.architectures import build_model
from cvgr.study.codehash import code_hash
from cvgr.vocab import ModelId

pytestmark = pytest.mark.workflow  # runs Snakemake or the whole pipeline: not in make test-fast

torch.set_num_threads(1)

CELL = "results/transfer/fmnist/real-gr64-s0/complex-std-s1.h5"
S0 = ["real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0"]
S1 = ["real-std-s1", "real-gr64-s1", "complex-std-s1", "complex-gr64-s1"]
ADV = "real-adv0.2-s0"
TRAINED = S0 + S1 + [ADV]
WHITEBOX_MODELS = S0 + [ADV]
NES_MODELS = ["complex-gr64-s0", ADV]
AUDIT_MODELS = ["real-std-s0", "complex-gr64-s0"]
AUDIT_ATTACKS = ["fgsm", "pgd2", "apgd-ce", "apgd-dlr", "square"]
FRONTIER_MODELS = S0  # betas 0 and 64 at seed 0: models the study trains already, all attacked by the audit
PAGES = ["transfer", "nes", "masking", "claims", "transfer_vs_paper", "nes_vs_paper", "frontier"]  # tables also as HTML pages
TARGET_LABELS = {"R (Std.)": "real-std-s1", "C (Std.)": "complex-std-s1", "R (G.R.)": "real-gr64-s1",
                 "C (G.R.)": "complex-gr64-s1"}
_JOB = re.compile(r"^(?:local)?rule (\w+):$")


# ---------------------------------------------------------------- helpers
def planned_jobs(output: str) -> set[tuple[str, str]]:
    """(rule, first output) of each job a Snakemake run printed ('' for jobs without outputs)."""
    jobs: list[list[str]] = []
    for line in output.splitlines():
        if m := _JOB.match(line):
            jobs.append([m.group(1), ""])
        elif line.startswith("    output: ") and jobs:
            jobs[-1][1] = line[len("    output: "):].split(", ")[0]
    return {(rule, out) for rule, out in jobs}


def job_stats(output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table as {rule: count} (with 'total')."""
    lines = output.splitlines()
    start = lines.index("Job stats:") + 3
    stats = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        stats[parts[0]] = int(parts[1])
    return stats


def assert_up_to_date(root: Path, run_snakemake) -> None:
    """A finished run plans no job (else cvgr's code changed since the run and every check below is moot)."""
    res = run_snakemake(root, "--configfile", str(root / "config.yaml"), "-n")
    assert planned_jobs(res.stdout) == set(), "finished run is not up to date: did cvgr's code change meanwhile?"


def planned_after_change(root: Path, run_snakemake, name: str, **changes) -> set[tuple[str, str]]:
    """Jobs a dry run plans on the finished run ``root`` once ``changes`` are applied to its config."""
    assert_up_to_date(root, run_snakemake)
    config = write_config(root, name, **changes)
    return planned_jobs(run_snakemake(root, "--configfile", str(config), "-n").stdout)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_csv(path: Path) -> list[dict[str, str]]:
    import csv
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------- the two runs
# ---------------------------------------------------------------- the output contract
@pytest.mark.slow
def test_data_file_holds_fashion_mnist(runs):
    data = read_h5(runs[0] / "results/data/fmnist.h5")
    assert data.arrays["train/images"].shape == (60000, 1, 28, 28) and data.arrays["train/images"].dtype == np.uint8
    assert data.arrays["test/images"].shape == (10000, 1, 28, 28)
    assert data.arrays["train/labels"].dtype == np.int64 and set(np.unique(data.arrays["test/labels"])) == set(range(10))
    assert data.attrs["dataset"] == "fmnist" and data.attrs["classes"] == 10
    assert len(data.attrs["raw_files"]) == 4
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in data.attrs["raw_files"].values())


@pytest.mark.slow
def test_models_and_histories(runs):
    root = runs[0]
    found = sorted(p.stem for p in (root / "results/models/fmnist").glob("*.pt"))
    assert found == sorted(TRAINED)
    data_sha = sha256(root / "results/data/fmnist.h5")
    for name in TRAINED:
        field, defense, seed = name.split("-")
        ckpt = torch.load(root / f"results/models/fmnist/{name}.pt", weights_only=False)
        assert (ckpt["arch"], ckpt["field"], ckpt["in_shape"], ckpt["num_classes"]) == ("small_cnn", field, [1, 28, 28], 10)
        assert (ckpt["dataset"], ckpt["model"]) == ("fmnist", name)
        build_model("small_cnn", field).load_state_dict(ckpt["state_dict"])  # strict: same architecture
        hist = read_h5(root / f"results/models/fmnist/{name}.h5")
        for key in ("epoch", "train_loss", "train_penalty", "train_acc", "test_loss", "test_acc", "zeta", "lr"):
            assert hist.arrays[f"history/{key}"].shape == (1,), key  # 1 epoch
        a = hist.attrs
        assert (a["record"], a["model"], a["mode"], a["epochs"], a["train_size"], a["eval_images"]) == \
            ("training-history", name, "paper", 1, 256, 50)
        spec = hist.provenance["config"]
        assert (spec["model"], spec["arch"], spec["lr"]) == (name, "small_cnn", 0.005)
        assert (spec["pgd"] is not None) == (defense == "adv0.2")
        assert a["clean_acc"] == hist.arrays["history/test_acc"][-1]
        assert a["final_zeta"] == hist.arrays["history/zeta"][-1]
        # lineage: the model records the exact data file it was trained on
        assert [(i["path"], i["sha256"]) for i in hist.provenance["inputs"]] == [("results/data/fmnist.h5", data_sha)]
        assert hist.provenance["config"]["model"] == name


@pytest.mark.slow
def test_fgsm_sets_are_eps_perturbations_of_the_test_images(runs):
    root = runs[0]
    data = read_h5(root / "results/data/fmnist.h5")
    x = data.arrays["test/images"][:50].astype(np.float32) / 255
    assert sorted(p.stem for p in (root / "results/craft/fmnist/fgsm").glob("*.h5")) == sorted(S0)
    for source in S0:
        adv = read_h5(root / f"results/craft/fmnist/fgsm/{source}.h5")
        xa = adv.arrays["x_adv"]
        assert xa.shape == (50, 1, 28, 28) and xa.dtype == np.float32
        assert xa.min() >= 0 and xa.max() <= 1
        assert np.abs(xa - x).max() <= 0.16 + 1e-6
        assert np.abs(xa - x).max() > 0.1  # FGSM moved pixels
        np.testing.assert_array_equal(adv.arrays["labels"], data.arrays["test/labels"][:50])
        np.testing.assert_array_equal(adv.arrays["indices"], np.arange(50))
        assert (adv.attrs["model"], adv.attrs["attack"], adv.attrs["eps"], adv.attrs["n_images"]) == \
            (source, "fgsm", 0.16, 50)


@pytest.mark.slow
def test_transfer_cells(runs):
    root = runs[0]
    cells = sorted(str(p.relative_to(root)) for p in (root / "results/transfer").rglob("*.h5"))
    expected = sorted(f"results/transfer/fmnist/{s}/{t}.h5" for s in S0
                      for t in [s] + [m for m in S1])
    assert cells == expected  # 4 sources x (Self + 4 second-seed targets)
    for cell in cells:
        r = read_h5(root / cell)
        _, _, _, source, target = Path(cell).with_suffix("").parts
        assert (r.attrs["source"], r.attrs["target"], r.attrs["n_images"], r.attrs["eps"]) == (source, target, 50, 0.16)
        field, defense, _ = target.split("-")
        kind = f"{field}-{'gr' if defense.startswith('gr') else defense}"
        assert r.attrs["role"] == ("self" if target == source else kind)  # its place in the source's row
        assert r.arrays["correct"].shape == (50,) and set(np.unique(r.arrays["correct"])) <= {0, 1}
        assert r.attrs["accuracy"] == pytest.approx(100 * r.arrays["correct"].mean())
    # one cell recomputed independently: the target's predictions on the stored adversarial images
    ckpt = torch.load(root / "results/models/fmnist/complex-std-s1.pt", weights_only=False)
    net = build_model("small_cnn", "complex")
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    adv = read_h5(root / "results/craft/fmnist/fgsm/real-gr64-s0.h5")
    with torch.no_grad():
        pred = net(torch.from_numpy(adv.arrays["x_adv"])).argmax(1).numpy()
    np.testing.assert_array_equal(read_h5(root / CELL).arrays["correct"], pred == adv.arrays["labels"])


@pytest.mark.slow
def test_whitebox_and_nes_results(runs):
    root = runs[0]
    data = read_h5(root / "results/data/fmnist.h5")
    for attack, steps in (("fgsm", 1), ("pgd2", 2)):
        assert sorted(p.stem for p in (root / f"results/whitebox/fmnist/{attack}").glob("*.h5")) == sorted(WHITEBOX_MODELS)
        for model in WHITEBOX_MODELS:
            r = read_h5(root / f"results/whitebox/fmnist/{attack}/{model}.h5")
            np.testing.assert_array_equal(r.arrays["eps"], [0.0, 0.1, 0.2])
            assert r.arrays["correct"].shape == (3, 20)
            np.testing.assert_allclose(r.arrays["accuracy"], 100 * r.arrays["correct"].mean(1))
            assert (r.attrs["attack"], r.provenance["config"]["attack"], r.attrs["n_images"], r.attrs["model"]) == \
                (attack, f"pgd{steps}" if steps > 1 else "fgsm", 20, model)
    # eps = 0 is the clean accuracy of the first 20 test images, computed here independently
    ckpt = torch.load(root / "results/models/fmnist/real-std-s0.pt", weights_only=False)
    net = build_model("small_cnn", "real")
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(data.arrays["test/images"][:20].astype(np.float32) / 255)).argmax(1).numpy()
    clean = 100 * np.mean(pred == data.arrays["test/labels"][:20])
    assert read_h5(root / "results/whitebox/fmnist/fgsm/real-std-s0.h5").arrays["accuracy"][0] == pytest.approx(clean)
    assert sorted(p.stem for p in (root / "results/nes/fmnist").glob("*.h5")) == sorted(NES_MODELS)
    for model in NES_MODELS:
        r = read_h5(root / f"results/nes/fmnist/{model}.h5")
        assert r.arrays["correct"].shape == (2,)
        assert (r.attrs["model"], r.attrs["spec"]["steps"], r.attrs["spec"]["queries"], r.attrs["n_images"]) == \
            (model, 2, 8, 2)
        assert r.attrs["queries_per_image"] == 8  # counted: steps x 2 x samples, as configured
        assert r.attrs["accuracy"] == pytest.approx(100 * r.arrays["correct"].mean())


@pytest.mark.slow
def test_tables_hold_the_results(runs):
    root = runs[0]
    transfer = read_csv(root / "results/tables/transfer.csv")
    assert [(r["source"], r["target"]) for r in transfer] == \
        [(f, t) for f in ("real", "complex") for t in ("Self", "R (Std.)", "C (Std.)", "R (G.R.)", "C (G.R.)")]
    for row in transfer:
        for col, defense in (("fmnist_std", "std"), ("fmnist_gr", "gr64")):
            source = f"{row['source']}-{defense}-s0"
            target = source if row["target"] == "Self" else TARGET_LABELS[row["target"]]
            cell = read_h5(root / f"results/transfer/fmnist/{source}/{target}.h5")
            assert float(row[col]) == pytest.approx(cell.attrs["accuracy"], abs=1e-4)
    md = (root / "results/tables/transfer.md").read_text()
    assert "| real" in md and "| complex" in md and "FMNIST" in md
    nes = read_csv(root / "results/tables/nes.csv")
    assert sorted(r["model"] for r in nes) == sorted(NES_MODELS)
    for row in nes:
        r = read_h5(root / f"results/nes/fmnist/{row['model']}.h5")
        assert float(row["accuracy"]) == pytest.approx(r.attrs["accuracy"], abs=1e-4)
    assert "NES" in (root / "results/tables/nes.md").read_text()
    whitebox = read_csv(root / "results/tables/whitebox.csv")
    assert len(whitebox) == 3 * len(WHITEBOX_MODELS) * 3  # (fgsm, pgd2, worst case) x models x eps
    masking = read_csv(root / "results/tables/masking.csv")
    assert [r["model"] for r in masking] == AUDIT_MODELS
    for row in masking:  # each accuracy is the audit file's at eps 0.16, recomputed here from its per-image data
        for attack, col in (("pgd2", "acc_pgd"), ("square", "acc_square"), ("apgd-dlr", "acc_apgd_dlr")):
            r = read_h5(root / f"results/audit/fmnist/{attack}/{row['model']}.h5")
            i = list(r.arrays["eps"]).index(0.16)
            assert float(row[col]) == pytest.approx(100 * r.arrays["correct"][i].mean(), abs=1e-4)
        assert float(row["acc_worst"]) <= min(float(row[c]) for c in ("acc_fgsm", "acc_pgd", "acc_square"))
    claims = read_csv(root / "results/tables/claims.csv")
    assert {r["claim"] for r in claims} >= {"clean-accuracy", "zeta", "transfer-gr-target", "matched-robustness"}
    assert {r["verdict"] for r in claims} <= {"holds", "contradicted", "not resolved at this sample size"}
    vs = read_csv(root / "results/tables/transfer_vs_paper.csv")
    assert len([r for r in vs if r["measured"]]) == 20 and all(r["paper"] for r in vs)
    frontier = read_csv(root / "results/tables/frontier.csv")
    assert [(r["field"], r["beta"]) for r in frontier] == [(f, b) for f in ("complex", "real") for b in ("0.0", "64.0")]
    for row in frontier:  # one seed: clean is the model's, robust its worst case over the audit's attacks at 0.16
        name = ModelId.of(row["field"], beta=float(row["beta"]), seed=0).name
        assert float(row["clean"]) == pytest.approx(read_h5(root / f"results/models/fmnist/{name}.h5").attrs["clean_acc"])
        worst = np.ones(8, dtype=bool)
        for attack in AUDIT_ATTACKS:
            r = read_h5(root / f"results/audit/fmnist/{attack}/{name}.h5")
            worst &= r.arrays["correct"][list(r.arrays["eps"]).index(0.16)].astype(bool)
        assert float(row["robust"]) == pytest.approx(100 * worst.mean(), abs=1e-4)
        assert (row["seeds"], row["eps"], row["images"], row["attacks"]) == ("0", "0.16", "8", " ".join(AUDIT_ATTACKS))
        assert row["verdict"] in {"holds", "contradicted", "not resolved at this sample size"}
    nes_beside = {(r["field"], r["beta"]): r["nes"] for r in frontier if r["nes"]}
    assert list(nes_beside) == [("complex", "64.0")]  # the one frontier model NES attacks
    assert "Robustness-accuracy frontier" in (root / "results/tables/frontier.md").read_text()
    training = read_csv(root / "results/tables/training.csv")
    assert sorted(r["model"] for r in training) == sorted(TRAINED)
    for row in training:
        hist = read_h5(root / f"results/models/fmnist/{row['model']}.h5", keys=[])
        assert float(row["clean_acc"]) == pytest.approx(hist.attrs["clean_acc"], abs=1e-4)
        assert {"final_zeta", "epochs", "beta", "mode"} <= set(row)


@pytest.mark.slow
def test_figures_and_logs(runs):
    root = runs[0]
    for fig in ("whitebox_fmnist.png", "zeta_fmnist.png", "masking_fmnist.png", "transfer_vs_paper.png",
                "frontier_fmnist.png"):
        png = (root / "results/figures" / fig).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    logs = {str(p.relative_to(root / "logs")) for p in (root / "logs").rglob("*.log")}
    expected = ({"prepare/fmnist/prepare.log"}
                | {f"train/fmnist/{m}.log" for m in TRAINED}
                | {f"craft/fmnist/fgsm/{m}.log" for m in S0}
                | {f"transfer/fmnist/{s}/{t}.log" for s in S0 for t in [s] + S1}
                | {f"whitebox/fmnist/{a}/{m}.log" for a in ("fgsm", "pgd2") for m in WHITEBOX_MODELS}
                | {f"nes/fmnist/{m}.log" for m in NES_MODELS}
                | {f"audit/fmnist/{a}/{m}.log" for a in AUDIT_ATTACKS for m in AUDIT_MODELS + FRONTIER_MODELS}
                | {f"{t}_table/all/{t}_table.log" for t in ("transfer", "nes", "whitebox", "training", "masking",
                                                            "claims", "frontier")}
                | {f"{t}_vs_paper/all/{t}_vs_paper.log" for t in ("transfer", "nes")}
                | {f"{t}_page/all/{t}_page.log" for t in PAGES}
                | {"whitebox_figure/fmnist/whitebox_figure.log", "zeta_figure/fmnist/zeta_figure.log",
                   "masking_figure/fmnist/masking_figure.log", "paper_figure/all/paper_figure.log",
                   "frontier_figure/fmnist/frontier_figure.log"})
    assert logs == expected


@pytest.mark.slow
def test_report_shows_tables_and_figures(runs, run_snakemake):
    root = runs[0]
    run_snakemake(root, "--configfile", str(root / "config.yaml"), "--report", "results/report.html")
    html = (root / "results/report.html").read_text()
    for caption_words in ("Black-box transfer of FGSM examples", "Query-based NES attack", "Gradient agreement zeta",
                          "Gradient-masking audit", "The paper&#39;s claims tested on this run", "This run beside the paper",
                          "Robustness-accuracy frontier"):
        assert caption_words.replace("&#39;", "'") in html or caption_words in html, caption_words
    for name in ("transfer.csv", "nes.csv", "whitebox.csv", "training.csv", "whitebox_fmnist.png", "zeta_fmnist.png",
                 "masking.csv", "claims.csv", "transfer_vs_paper.csv", "nes_vs_paper.csv", "transfer_vs_paper.png",
                 "masking_fmnist.png", "frontier.csv", "frontier_fmnist.png"):
        assert name in html, name
    for table in PAGES:  # each Markdown table is in the report as a page it shows inline
        assert f"{table}.html" in html, table


# ---------------------------------------------------------------- lineage of tables and figures
RAW = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
       "t10k-labels-idx1-ubyte.gz"]


def cvgr_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvgr", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=os.environ | {"PYTHONPATH": str(REPO)})


def recorded_leaves(prov: dict) -> dict[str, str]:
    """{path: recorded sha256} of the inputs at the bottom of a provenance record (files with no provenance)."""
    leaves = {}
    for rec in prov["inputs"]:
        leaves.update(recorded_leaves(rec["provenance"]) if rec["provenance"] else {rec["path"]: rec["sha256"]})
    return leaves


@pytest.mark.slow
def test_every_table_and_figure_records_its_lineage(runs, fmnist_raw):
    root = runs[0]
    made = [p for d in ("tables", "figures") for p in sorted((root / "results" / d).iterdir())
            if not p.name.endswith(".prov.json")]
    for path in made:
        side = json.loads(Path(f"{path}.prov.json").read_text())
        assert side["sha256"] == sha256(path), path.name
        assert side["provenance"]["code_hash"] == code_hash("tables")
        for rec in side["provenance"]["inputs"]:
            assert rec["sha256"] == sha256(root / rec["path"]), (path.name, rec["path"])
    transfer = json.loads((root / "results/tables/transfer.csv.prov.json").read_text())["provenance"]
    # the slice as the run used it: cvgr's config.yaml under the run's overrides (the full tiny config)
    config = yaml.safe_load((REPO / "tests/configs/full-test.yaml").read_text())["datasets"]["fmnist"]
    assert transfer["config"]["datasets"] == {"fmnist": {"transfer": config["transfer"]}}
    assert set(config["transfer"]) == {"beta", "eps", "images"}
    assert sorted(r["path"] for r in transfer["inputs"]) == \
        sorted(f"results/transfer/fmnist/{s}/{t}.h5" for s in S0 for t in [s] + S1)
    # down to Debian's raw files, whose recorded hashes are those of the files on disk
    leaves = recorded_leaves(transfer)
    for name in RAW:
        assert leaves[str(fmnist_raw / name)] == sha256(fmnist_raw / name)


@pytest.mark.slow
def test_cvgr_provenance_follows_a_table_and_a_figure_to_the_raw_files(runs, fmnist_raw):
    root = runs[0]
    for target, via in (("results/tables/transfer.csv", CELL),
                        ("results/tables/transfer.html", "results/tables/transfer.md"),
                        ("results/figures/whitebox_fmnist.png", "results/whitebox/fmnist/pgd2/real-std-s0.h5")):
        res = cvgr_cli(root, "provenance", target)
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0].startswith(f"{target}  ok  [tables] code {code_hash('tables')[:8]}"), lines[0]
        assert any(f"{via}  ok" in line for line in lines), target
        assert "results/data/fmnist.h5  ok" in res.stdout
        for name in RAW:
            assert f"{fmnist_raw / name}  ok" in res.stdout, (target, name)
        assert "CHANGED" not in res.stdout and "missing" not in res.stdout


@pytest.mark.slow
def test_cvgr_provenance_reports_a_tampered_table(runs, tmp_path):
    root = runs[0]
    for sub in ("transfer", "adv", "models", "data"):  # the run's results, with the table and its sidecar copied
        (tmp_path / "results").mkdir(exist_ok=True)
        (tmp_path / "results" / sub).symlink_to(root / "results" / sub)
    (tmp_path / "results/tables").mkdir()
    table = (root / "results/tables/transfer.csv").read_text()
    (tmp_path / "results/tables/transfer.csv").write_text(table.replace(",", ";", 1))
    side = root / "results/tables/transfer.csv.prov.json"
    (tmp_path / "results/tables/transfer.csv.prov.json").write_bytes(side.read_bytes())
    res = cvgr_cli(tmp_path, "provenance", "results/tables/transfer.csv")
    head = res.stdout.splitlines()[0]
    assert "CHANGED since it was written" in head
    assert json.loads(side.read_text())["sha256"][:12] in head  # recorded, then the tampered file's
    assert sha256(tmp_path / "results/tables/transfer.csv")[:12] in head
    (tmp_path / "results/tables/other.csv").write_text(table)  # a table without a sidecar
    res = cvgr_cli(tmp_path, "provenance", "results/tables/other.csv")
    assert res.returncode == 1
    assert res.stderr.startswith("cvgr error: results/tables/other.csv carries no cvgr provenance")


# ---------------------------------------------------------------- determinism and reruns
@pytest.mark.slow
def test_tables_identical_across_runs_and_cores(runs):
    a, b = runs
    names = sorted(p.name for p in (a / "results/tables").iterdir())
    tables = [f"{t}.{x}" for t in ("claims", "masking", "nes", "nes_vs_paper", "transfer", "transfer_vs_paper",
                                   "frontier") for x in ("csv", "md", "html")] + ["training.csv", "whitebox.csv"]
    assert names == sorted(tables + [f"{t}.prov.json" for t in tables])  # each with its provenance sidecar
    assert names == sorted(p.name for p in (b / "results/tables").iterdir())
    for name in tables:
        assert (a / "results/tables" / name).read_bytes() == (b / "results/tables" / name).read_bytes(), name
    for name in tables:  # the sidecars agree on all but the hashes of inputs made from model files
        side_a, side_b = (json.loads((r / f"results/tables/{name}.prov.json").read_text()) for r in runs)
        assert side_a["sha256"] == side_b["sha256"] == sha256(a / "results/tables" / name)
        for key in ("code_hash", "config", "config_hash"):
            assert side_a["provenance"][key] == side_b["provenance"][key], (name, key)
        paths_a, paths_b = ([i["path"] for i in side["provenance"]["inputs"]] for side in (side_a, side_b))
        assert paths_a == paths_b, name


@pytest.mark.slow
def test_forcing_one_cell_on_a_finished_run_executes_one_job(runs, run_snakemake):
    root = runs[1]
    assert_up_to_date(root, run_snakemake)
    before = sha256(root / CELL)
    res = run_snakemake(root, "--configfile", str(root / "config.yaml"), "--cores", "1", "--force", CELL)
    assert job_stats(res.stdout) == {"transfer": 1, "total": 1}
    assert "1 of 1 steps (100%) done" in res.stdout
    assert sha256(root / CELL) == before  # same inputs, byte-identical file


def test_one_cell_on_empty_results_builds_only_what_it_needs(tmp_path, run_snakemake):
    res = run_snakemake(tmp_path, "--configfile", str(write_config(tmp_path)), "-n", CELL)
    assert planned_jobs(res.stdout) == {
        ("prepare", "results/data/fmnist.h5"),
        ("train", "results/models/fmnist/real-gr64-s0.pt"),
        ("train", "results/models/fmnist/complex-std-s1.pt"),
        ("craft", "results/craft/fmnist/fgsm/real-gr64-s0.h5"),
        ("transfer", CELL),
    }


@pytest.mark.slow
def test_changed_transfer_beta_reruns_only_dependent_jobs(runs, run_snakemake):
    jobs = planned_after_change(runs[0], run_snakemake, "beta32.yaml", **{"transfer.beta": 32})
    new = ["real-gr32-s0", "complex-gr32-s0"]
    new_s1 = ["real-gr32-s1", "complex-gr32-s1"]
    targets = {s: [s, "real-std-s1", "real-gr32-s1", "complex-std-s1", "complex-gr32-s1"]
               for s in ["real-std-s0", "complex-std-s0"] + new}
    expected = ({("train", f"results/models/fmnist/{m}.pt") for m in new + new_s1}
                | {("craft", f"results/craft/fmnist/fgsm/{m}.h5") for m in new}
                | {("transfer", f"results/transfer/fmnist/{s}/{t}.h5") for s, ts in targets.items() for t in ts
                   if "gr32" in s + t}
                | {("transfer_table", "results/tables/transfer.csv"), ("training_table", "results/tables/training.csv"),
                   ("transfer_vs_paper", "results/tables/transfer_vs_paper.csv"),
                   ("paper_figure", "results/figures/transfer_vs_paper.png"),
                   ("claims_table", "results/tables/claims.csv"), ("all", "")}
                | {(f"{t}_page", f"results/tables/{t}.html") for t in ("transfer", "transfer_vs_paper", "claims")})
    assert jobs == expected  # nothing of prepare, std / gr64 models, white-box, NES, figures


@pytest.mark.slow
def test_changed_nes_setting_reruns_only_nes(runs, run_snakemake):
    jobs = planned_after_change(runs[0], run_snakemake, "nes12.yaml", **{"nes.queries": 12})
    assert jobs == {("nes", f"results/nes/fmnist/{m}.h5") for m in NES_MODELS} | \
        {("nes_table", "results/tables/nes.csv"), ("nes_vs_paper", "results/tables/nes_vs_paper.csv"),
         ("claims_table", "results/tables/claims.csv"), ("all", ""),
         ("frontier_table", "results/tables/frontier.csv")} | \
        {(f"{t}_page", f"results/tables/{t}.html") for t in ("nes", "nes_vs_paper", "claims", "frontier")}
    # the frontier table shows NES beside (complex-gr64-s0 is a frontier net); its figure does not


def test_paper_config_plans_the_full_study(tmp_path, run_snakemake):
    """357 jobs: 4 datasets; betas of 4 per dataset; transfer on mnist/svhn/fmnist; NES, the audit and the
    frontier on fmnist."""
    res = run_snakemake(tmp_path, "--configfile", str(REPO / "configs/paper.yaml"), "-n", "--quiet", "rules")
    stats = job_stats(res.stdout)
    assert stats == {
        "prepare": 4,
        # 2 fields x 4 betas per dataset, 4 second-seed copies x 3, 1 adv, and the fmnist frontier's 2 fields x
        # 4 betas x 3 seeds less the 12 nets above (grid 8 at s0, copies 4 at s1)
        "train": 8 * 4 + 4 * 3 + 1 + 12,
        "craft": 4 * 3,
        "transfer": 20 * 3,
        "whitebox": 2 * (8 * 4 + 1),  # 2 attacks x (grid models + adv)
        "nes": 5,
        "audit": 5 * 25,              # 5 attacks x every fmnist model (8 grid, 4 copies, 1 adv, 12 frontier)
        "transfer_table": 1, "nes_table": 1, "whitebox_table": 1, "training_table": 1, "masking_table": 1,
        "transfer_vs_paper": 1, "nes_vs_paper": 1, "claims_table": 1,
        "whitebox_figure": 4, "zeta_figure": 4, "masking_figure": 1, "paper_figure": 1, "all": 1,
        "frontier_table": 1, "frontier_figure": 1,
        **{f"{t}_page": 1 for t in PAGES}, "total": 357,
    }
