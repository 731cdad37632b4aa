"""tools/gpu_study.sh reports and returns Snakemake's own status: a failed study fails the command."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TEST_CONFIG, snakemake

pytestmark = pytest.mark.workflow  # runs Snakemake: not in make test-fast


def test_a_failing_study_exits_with_snakemakes_status(tmp_path):
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    cfg["datasets"]["fmnist"]["transfer"]["no_such_key"] = 1  # refused by the config check before any job
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    (tmp_path / "direct").mkdir()
    direct = snakemake(tmp_path / "direct", "--configfile", str(bad), "--cores", "1", check=False)
    assert direct.returncode != 0 and "no_such_key" in direct.stdout  # the status the script must pass on
    (tmp_path / "out").mkdir()
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                        "WORK": str(tmp_path / "work"), "OUT": str(tmp_path / "out")}
    res = subprocess.run(["bash", str(REPO / "tools" / "gpu_study.sh"), str(bad)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == direct.returncode, res.stdout[-2000:] + res.stderr[-2000:]
    assert f"finished with status {direct.returncode} in" in res.stdout
    assert "no_such_key" in res.stdout  # the error line passes the filter
    assert f"status {direct.returncode}," in (tmp_path / "out" / "study_time.txt").read_text()
    assert "no_such_key" in (tmp_path / "work" / "snakemake.out").read_text()  # the full log is kept
