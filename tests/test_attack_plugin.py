"""An attack from a plugin outside cvgr, end to end: config, dry run, a tiny run, its sweep, audit and columns.

The plugin is a module written to a temporary folder and put on PYTHONPATH; it registers
``toyfgsm``, FGSM written out by hand (one signed-gradient step of the batch-mean
cross-entropy), through cvgr's public API only. Since it is FGSM, its per-image results
must equal cvgr's FGSM on the same model and images: the plugin's code really ran, in the
job's own process.
"""
from __future__ import annotations

import csv
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import TEST_CONFIG
from cvgr.results.io import read_h5

PLUGIN = textwrap.dedent('''
    """A toy attack for cvgr: FGSM written out, registered through cvgr's public API."""
    from cvgr.attacks import AttackKind, register


    def toyfgsm(model, x, y, eps, *, generator=None):
        import torch
        import torch.nn.functional as F
        xg = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y), xg)
        return (x.detach() + eps * g.sign()).clamp(0.0, 1.0).detach()


    register(AttackKind("toyfgsm", "Toy-FGSM", toyfgsm, gradient=True))
''')
AUDIT_MODELS = ["real-std-s0", "complex-gr64-s0"]


def _config(root: Path, plugins: list[str]) -> Path:
    """configs/test.yaml with ``plugins`` and toyfgsm in the white-box sweeps and the audit."""
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    cfg["plugins"] = plugins
    fm = cfg["datasets"]["fmnist"]
    fm["whitebox"]["attacks"] = ["fgsm", "toyfgsm"]
    fm["audit"]["attacks"] = ["fgsm", "pgd2", "toyfgsm"]
    path = root / "plugin.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def plugin_path(tmp_path, monkeypatch) -> Path:
    """The folder holding toyattack.py, on the PYTHONPATH of every process the test starts."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "toyattack.py").write_text(PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    return folder


def test_an_unimportable_plugin_is_one_error_line_naming_it_and_the_fix(tmp_path, run_snakemake):
    res = run_snakemake(tmp_path, "--configfile", str(_config(tmp_path, ["toyattack"])), "-n", check=False)
    assert res.returncode != 0
    errors = [line for line in res.stdout.splitlines() if line.startswith("cvgr error:")]
    assert len(errors) == 1, res.stdout
    assert "plugins" in errors[0] and "'toyattack'" in errors[0]
    assert "PYTHONPATH" in errors[0] and "pip install" in errors[0]


@pytest.mark.slow
def test_a_plugin_attack_runs_in_the_sweeps_and_the_audit(tmp_path, plugin_path, run_snakemake, fmnist_raw):
    config = str(_config(tmp_path, ["toyattack"]))
    plan = run_snakemake(tmp_path, "--configfile", config, "-n").stdout
    assert "results/whitebox/fmnist/toyfgsm/complex-gr64-s0.h5" in plan
    assert "results/audit/fmnist/toyfgsm/real-std-s0.h5" in plan

    wanted = ["results/tables/masking.csv", "results/tables/whitebox.csv",
              "results/whitebox/fmnist/toyfgsm/complex-gr64-s0.h5", "results/whitebox/fmnist/fgsm/complex-gr64-s0.h5"]
    run_snakemake(tmp_path, "--configfile", config, "--cores", "2", *wanted, timeout=1500)

    toy = read_h5(tmp_path / "results/whitebox/fmnist/toyfgsm/complex-gr64-s0.h5")
    fgsm = read_h5(tmp_path / "results/whitebox/fmnist/fgsm/complex-gr64-s0.h5")
    assert toy.arrays["correct"].shape == fgsm.arrays["correct"].shape == (3, 20)  # eps grid x images
    np.testing.assert_array_equal(toy.arrays["correct"], fgsm.arrays["correct"])
    for model in AUDIT_MODELS:
        assert (tmp_path / f"results/audit/fmnist/toyfgsm/{model}.h5").is_file()

    with open(tmp_path / "results/tables/masking.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["model"] for r in rows] == AUDIT_MODELS
    for r in rows:  # the plugin's column, and FGSM's equal to it: the same attack on the same images
        assert r["acc_toyfgsm"] != "" and r["acc_toyfgsm"] == r["acc_fgsm"]
    md = (tmp_path / "results/tables/masking.md").read_text()
    assert "Toy-FGSM" in md
    with open(tmp_path / "results/tables/whitebox.csv", newline="") as fh:
        assert "toyfgsm" in {r["attack"] for r in csv.DictReader(fh)}
