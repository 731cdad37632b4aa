"""tools/gpu_check.py: its whole logic runs with the CPU standing in for the GPU, so the script cannot rot."""
import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO

pytestmark = pytest.mark.workflow  # runs Snakemake or the whole pipeline: not in make test-fast

SCRIPT = REPO / "tools" / "gpu_check.py"


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=os.environ | {"PYTHONPATH": str(REPO)})


def test_check_runs_every_part_with_the_cpu_standing_in(tmp_path, fmnist_raw):
    res = _run("--device", "cpu", "--data", str(fmnist_raw), "--out", str(tmp_path), "--threads", "1")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = json.loads((tmp_path / "gpu_check.json").read_text())
    checks = [r["check"] for r in rows]
    assert not [r for r in rows if r["ok"] is False]
    for part in ("stage prepare", "stage train complex-gr64-exact", "stage train real-adv", "attack (fgsm) + transfer",
                 "stage whitebox pgd10", "stage nes", "forward logits", "G.R. gradient complex-gr64-paper",
                 "PGD-10 (shared random start)", "NES gradient", "same seed twice: nes", "stage audit square",
                 "NES query scores, TF32 on vs off, complex-gr64-paper", "NES gradient estimate, TF32 on vs off",
                 "NES final accuracy, TF32 on vs off, real-gr64-paper",
                 "stage audit apgd-dlr", "same seed twice: audit square",
                 "CUDA graphs vs eager", "lr = 1e30 stops training", "pytest -m cuda", "bench: complex G.R. step",
                 "conv_wgrad speed-up", "imports neither snakemake nor jsonschema"):
        assert any(c.startswith(part) or part in c for c in checks), part
    # On the CPU stand-in TF32 does not exist: on and off are the same computation.
    tf32 = {r["check"].split(",")[0]: r["value"] for r in rows if "TF32 on vs off, complex" in r["check"]}
    assert tf32["NES query scores"].startswith("max |change| 0;")
    assert "rel. diff 0, max |diff| 0, signs agree 1.0000" == tf32["NES gradient estimate"]
    assert "(+0.0 pp); adversarial pixels that differ 0" in tf32["NES final accuracy"]
    table = (tmp_path / "gpu_check.md").read_text()
    assert table.count("\n| ") == len(rows) + 1  # header + one line per check
    assert "<!-- bench-cuda:start -->" in (tmp_path / "BENCHMARKS.md").read_text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_says_so_in_one_line_and_fails(tmp_path):
    res = _run("--data", str(tmp_path), timeout=120)
    assert res.returncode == 2
    assert res.stdout.strip().count("\n") == 0 and "sees no CUDA GPU" in res.stdout


def test_a_data_folder_without_the_four_files_fails_fast_in_one_line(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    res = _run("--device", "cpu", "--data", str(tmp_path), timeout=120)
    assert res.returncode == 2
    line = res.stdout.strip()
    assert "\n" not in line and str(tmp_path) in line and "t10k-labels-idx1-ubyte.gz" in line
    assert "tools/gpu_bundle.sh" in line and "--data" in line
    assert "train-images-idx3-ubyte.gz" not in line and "[gpu-check]" not in res.stdout
