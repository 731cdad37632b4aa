"""The registries are the only place: a plugin outside cvgr adds an attack, a dataset and a table.

One module, written to a temporary folder and put on PYTHONPATH, registers
through cvgr's public API only:

* ``toyfgsm``: FGSM written out by hand, so its per-image results must equal
  cvgr's FGSM on the same model and images (the plugin's code ran in the job);
* ``toy``: a dataset of 28x28 images read from one ``.npz`` file by a loader
  function (not a dataset the paper reports, so no paper comparison is planned);
* ``toy_models``: a per-model table (one row per trained model).

The config names the module in ``plugins:`` and runs only the toy dataset, with
the toy attack in the white-box sweeps and in the audit. A dry run plans all of
it; a tiny run makes the data file, the sweeps, the audit's table and the toy
table with its HTML page.
"""
from __future__ import annotations

import csv
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, TEST_CONFIG
from cvgr.results.io import read_h5

PLUGIN = textwrap.dedent('''
    """A cvgr plugin: an attack, a dataset and a table, through cvgr's public API."""
    from pathlib import Path

    import numpy as np

    from cvgr.attacks import AttackKind, register
    from cvgr.datasets import register_dataset
    from cvgr.report.outputs import Job, table


    def toyfgsm(model, x, y, eps, *, generator=None):
        import torch
        import torch.nn.functional as F
        xg = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y), xg)
        return (x.detach() + eps * g.sign()).clamp(0.0, 1.0).detach()


    def load(root, split):
        data = np.load(Path(root) / "toy.npz")
        return data[f"{split}_x"], data[f"{split}_y"]


    @table("toy_models", reads=["histories"], caption="One row per trained model: its clean accuracy (%).")
    def toy_models(job: Job) -> None:
        from cvgr.results.records import TrainingHistory
        rows = sorted((str(h.model), h.clean_acc) for h in map(TrainingHistory.read, job.inputs["histories"]))
        with open(job.outputs["csv"], "w") as fh:
            fh.write("model,clean_acc\\n")
            fh.writelines(f"{m},{a:.4f}\\n" for m, a in rows)
        with open(job.outputs["md"], "w") as fh:
            fh.write("| model | clean acc. |\\n|---|---|\\n")
            fh.writelines(f"| {m} | {a:.1f} |\\n" for m, a in rows)


    register(AttackKind("toyfgsm", "Toy-FGSM", toyfgsm, gradient=True))
    register_dataset("toy", loader=load, raw_files=["toy.npz"], shape=(1, 28, 28), classes=["a", "b", "c"],
                     label="Toy", prose="the toy set")
''')
MODELS = ["real-std-s0", "real-std-s1", "real-gr64-s0", "real-gr64-s1", "real-adv0.2-s0",
          "complex-std-s0", "complex-std-s1", "complex-gr64-s0", "complex-gr64-s1"]


def _merged(base: dict, over: dict) -> dict:
    return {k: _merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
            for k, v in {**base, **over}.items()}


def _raw(folder: Path) -> None:
    """90 train and 60 test images: class c is the images whose mean brightness is in the c-th third."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 90), ("test", 60)):
        labels = np.arange(n) % 3
        x = rng.integers(0, 86, (n, 1, 28, 28)) + 85 * labels[:, None, None, None]
        arrays[f"{split}_x"], arrays[f"{split}_y"] = x.astype(np.uint8), labels.astype(np.int64)
    np.savez(folder / "toy.npz", **arrays)


def _config(root: Path, raw: Path) -> Path:
    """Only the toy dataset: config.yaml's fmnist section with configs/test.yaml's sizes, toyfgsm in both sweeps."""
    section = _merged(yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]["fmnist"],
                      yaml.safe_load(TEST_CONFIG.read_text())["datasets"]["fmnist"])
    section.pop("frontier", None)
    section.update(raw_dir=str(raw), download=False)
    section["training"].update(train_size=None, eval_images=30)
    section["whitebox"]["attacks"] = ["fgsm", "toyfgsm"]
    section["audit"]["attacks"] = ["fgsm", "pgd2", "toyfgsm"]
    cfg = {"device": "cpu", "plugins": ["toyplugin"], "run": ["toy"], "datasets": {"toy": section}}
    path = root / "toy.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def toy(tmp_path, monkeypatch) -> Path:
    """The plugin on the PYTHONPATH of every process the test starts, the raw file, and the config."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "toyplugin.py").write_text(PLUGIN)
    (tmp_path / "raw").mkdir()
    _raw(tmp_path / "raw")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "plugins"), os.environ.get("PYTHONPATH", "")]))
    return _config(tmp_path, tmp_path / "raw")


def test_a_plugin_attack_dataset_and_table_are_planned(tmp_path, toy, run_snakemake):
    plan = run_snakemake(tmp_path, "--configfile", str(toy), "-n").stdout
    for path in ("results/data/toy.h5", "results/whitebox/toy/toyfgsm/complex-gr64-s0.h5",
                 "results/audit/toy/toyfgsm/real-std-s0.h5", "results/tables/toy_models.csv",
                 "results/tables/toy_models.html", "results/tables/masking.csv"):
        assert path in plan, path
    assert "rule toy_models:" in plan and "rule toy_models_page:" in plan
    for paper in ("transfer_vs_paper", "nes_vs_paper", "paper_figure"):  # the paper reports no toy numbers
        assert f"rule {paper}:" not in plan
    assert "fmnist" not in plan


@pytest.mark.slow
def test_a_plugin_attack_dataset_and_table_run(tmp_path, toy, run_snakemake):
    wanted = ["results/tables/toy_models.html", "results/tables/masking.csv", "results/tables/whitebox.csv",
              "results/whitebox/toy/fgsm/complex-gr64-s0.h5"]
    run_snakemake(tmp_path, "--configfile", str(toy), "--cores", "2", *wanted, timeout=1500)

    data = read_h5(tmp_path / "results/data/toy.h5")
    raw = np.load(tmp_path / "raw" / "toy.npz")
    np.testing.assert_array_equal(data.arrays["test/images"], raw["test_x"])
    np.testing.assert_array_equal(data.arrays["train/labels"], raw["train_y"])

    toy_wb = read_h5(tmp_path / "results/whitebox/toy/toyfgsm/complex-gr64-s0.h5")
    fgsm_wb = read_h5(tmp_path / "results/whitebox/toy/fgsm/complex-gr64-s0.h5")
    assert toy_wb.arrays["correct"].shape == (3, 20)  # eps grid x images
    np.testing.assert_array_equal(toy_wb.arrays["correct"], fgsm_wb.arrays["correct"])

    with open(tmp_path / "results/tables/masking.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["model"] for r in rows] == ["real-std-s0", "complex-gr64-s0"]
    assert all(r["acc_toyfgsm"] != "" and r["acc_toyfgsm"] == r["acc_fgsm"] for r in rows)

    rows = (tmp_path / "results/tables/toy_models.csv").read_text().splitlines()
    assert rows[0] == "model,clean_acc" and sorted(r.split(",")[0] for r in rows[1:]) == sorted(MODELS)
    from cvgr.results.records import TrainingHistory
    first = TrainingHistory.read(tmp_path / f"results/models/toy/{rows[1].split(',')[0]}.h5")
    assert float(rows[1].split(",")[1]) == pytest.approx(first.clean_acc, abs=1e-4)
    assert "<table>" in (tmp_path / "results/tables/toy_models.html").read_text()
