"""A training job SIGKILLed mid-run (Snakemake and the job at once), then the same command again.

Checks the promise of README "When something goes wrong": the rerun resumes
from the last epoch checkpoint and ends with the weights and history of an
uninterrupted run, and the kill leaves no final output behind that Snakemake
could take as complete.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SNAKEFILE, write_config
from cvgr.io import read_h5
from cvgr.modelfile import load_model

pytestmark = pytest.mark.workflow  # runs Snakemake or the whole pipeline: not in make test-fast

MODEL = "results/models/fmnist/real-std-s0"
CKPT = "results/checkpoints/fmnist/real-std-s0.ckpt"
LOG = "logs/train_model/fmnist/real-std-s0.log"
# Long enough per epoch (64 steps) that the kill lands between the first checkpoint and the end.
CHANGES = {"training.epochs": 3, "training.train_size": 4096, "training.eval_images": 100}


def _snakemake_cmd(workdir: Path) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), "--cores", "1", f"{MODEL}.pt"]


def _kill_after_first_checkpoint(workdir: Path, timeout: float = 600) -> None:
    """Start the run in its own session; SIGKILL the whole session once an epoch checkpoint exists."""
    out = open(workdir / "killed_run.out", "w")
    proc = subprocess.Popen(_snakemake_cmd(workdir), cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not (workdir / CKPT).exists():
            if proc.poll() is not None:
                pytest.fail(f"run ended (rc {proc.returncode}) before its first checkpoint:\n"
                            + (workdir / "killed_run.out").read_text()[-3000:])
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint appeared")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and its job: no cleanup runs
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out.close()


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_model(path)[0].state_dict()


@pytest.mark.slow
def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path, fmnist_raw, run_snakemake):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for d in (killed, clean):
        d.mkdir()
        write_config(d, **CHANGES)
    reference = subprocess.Popen(_snakemake_cmd(clean), cwd=clean, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT)  # on the other core meanwhile

    _kill_after_first_checkpoint(killed)
    leftovers = [p.name for p in (killed / "results/models/fmnist").glob("*")]  # no model or history file
    assert not any(name.endswith((".pt", ".h5")) for name in leftovers), leftovers

    # The same command again: the killed Snakemake left its lock, and says how to remove it.
    config = ("--configfile", str(killed / "config.yaml"))
    locked = run_snakemake(killed, *config, "--cores", "1", f"{MODEL}.pt", check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout, locked.stdout[-2000:]
    run_snakemake(killed, *config, "--unlock")
    run_snakemake(killed, *config, "--cores", "1", f"{MODEL}.pt")
    log = (killed / LOG).read_text()
    assert "resuming after epoch" in log, log
    assert not (killed / CKPT).exists()  # deleted once the outputs exist

    assert reference.wait(timeout=900) == 0
    a, b = _weights(killed / f"{MODEL}.pt"), _weights(clean / f"{MODEL}.pt")
    assert a.keys() == b.keys() and a
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha, hb = read_h5(killed / f"{MODEL}.h5"), read_h5(clean / f"{MODEL}.h5")
    assert ha.arrays.keys() == hb.arrays.keys()
    assert all(np.array_equal(ha.arrays[k], hb.arrays[k], equal_nan=True) for k in ha.arrays)
    assert len(ha.arrays["history/epoch"]) == CHANGES["training.epochs"]
