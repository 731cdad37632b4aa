"""examples/module: cvgr as a Snakemake module, run from a directory outside the repository.

The example's Snakefile (`module cvgr: snakefile: ...; config: config` and `use rule * from cvgr`)
and its config of overrides are copied to a temporary directory, pointed at this checkout's
Snakefile, and run end to end with real Snakemake.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SNAKEFILE
from cvgr.study.layers import Layer, study

EXAMPLE = REPO / "examples" / "module"


def rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_the_module_example_runs_its_study_from_its_own_directory(tmp_path, fmnist_raw):
    mine = tmp_path / "my-study"
    mine.mkdir()
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(EXAMPLE / name, mine / name)
    snakefile = (mine / "Snakefile").read_text()
    pointed = re.sub(r'^CVGR = ".*"$', f'CVGR = "{SNAKEFILE}"', snakefile, count=1, flags=re.M)
    assert pointed != snakefile, "the example names cvgr's Snakefile in a line CVGR = \"...\""
    (mine / "Snakefile").write_text(pointed)
    assert len((mine / "config.yaml").read_text().splitlines()) <= 12  # a short file of overrides

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=mine, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:]

    plan = study([Layer.load(REPO / "config.yaml"), Layer.load(mine / "config.yaml")]).plan("fmnist")
    tables = mine / "results" / "tables"
    assert sorted(r["model"] for r in rows(tables / "training.csv")) == sorted(plan.models)
    assert {r["epochs"] for r in rows(tables / "training.csv")} == {"1"}  # the override, not the default's 4
    transfer = rows(tables / "transfer.csv")
    assert [(r["source"], r["target"]) for r in transfer][:5] == [
        ("real", "Self"), ("real", "R (Std.)"), ("real", "C (Std.)"), ("real", "R (G.R.)"), ("real", "C (G.R.)")]
    assert len(transfer) == len(plan.transfer_cells) // 2  # a row per target, std and G.R. columns
    whitebox = rows(tables / "whitebox.csv")
    assert {(r["attack"], r["model"]) for r in whitebox} == {(a.name, m.name) for a, m in plan.whitebox_jobs}
    assert {r["eps"] for r in whitebox} == {"0", "0.1"}
    assert not (tables / "nes.csv").exists() and not (tables / "masking.csv").exists()  # null dropped them
