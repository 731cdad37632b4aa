"""A training job SIGKILLed mid-run (Snakemake and the job at once), then the same command again.

Checks the promise of README "When something goes wrong": the same command,
with no extra flag, resumes from the last epoch checkpoint and ends with the
weights and history of an uninterrupted run, and the kill leaves no final
output behind that Snakemake could take as complete. The tiny study, with
three models to train again and killed mid-training, ends with the tables of
an uninterrupted run; while a run is alive, a second one in its directory
refuses in one line.
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

from conftest import SNAKEFILE, copy_run, write_config
from cvgr.results.io import read_h5
from cvgr.results.modelfile import load_model
from cvgr.study.runlock import PID_FILE

pytestmark = pytest.mark.workflow  # runs Snakemake or the whole pipeline: not in make test-fast

MODEL = "results/models/fmnist/real-std-s0"
CKPT = "results/checkpoints/fmnist/real-std-s0.ckpt"
LOG = "logs/train/fmnist/real-std-s0.log"
# Long enough per epoch (64 steps) that the kill lands between the first checkpoint and the end (of epoch 2).
CHANGES = {"training.epochs": 2, "training.train_size": 4096, "training.eval_images": 100}


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
def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path, fmnist_raw):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for d in (killed, clean):
        d.mkdir()
        write_config(d, **CHANGES)
    reference = subprocess.Popen(_snakemake_cmd(clean), cwd=clean, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT)  # on the other core meanwhile

    _kill_after_first_checkpoint(killed)
    leftovers = [p.name for p in (killed / "results/models/fmnist").glob("*")]  # no model or history file
    assert not any(name.endswith((".pt", ".h5")) for name in leftovers), leftovers

    # The same command again, no --unlock, no --rerun-incomplete: the killed run's lock is cleared
    # (cvgr.study.runlock) and its half-written training rerun (profiles/default: rerun-incomplete).
    assert list((killed / ".snakemake/locks").glob("*.lock")), "the kill left no Snakemake lock to clear"
    again = subprocess.run(_snakemake_cmd(killed), cwd=killed, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:]
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


def _wait_for(what, condition, proc: subprocess.Popen, out: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"run ended (rc {proc.returncode}) before {what}:\n" + out.read_text()[-3000:])
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


#: Models of configs/test.yaml that only transfer cells read (no crafting, white-box, NES or audit job).
RETRAINED = ("real-std-s1", "complex-std-s1", "real-gr64-s1")


def _delete_retrained_and_tables(results: Path) -> int:
    """Delete the RETRAINED models, every file computed from them (named after them) and every table and
    figure, so that the run must recompute them all; the number of files deleted."""
    doomed = [p for p in results.rglob("*") if p.is_file() and (
        any(m in p.relative_to(results).as_posix() for m in RETRAINED) or p.parts[-2] in ("tables", "figures"))]
    for p in doomed:
        p.unlink()
    return len(doomed)


@pytest.mark.slow
def test_killed_study_resumes_with_the_same_command_and_a_live_run_is_never_overridden(tmp_path, runs):
    """The tiny study (a copy of the workflow tests' finished run with --cores 2) with three models, what was
    computed from them and the tables deleted: its Snakemake SIGKILLed mid-training; the same command
    finishes it with the tables of an uninterrupted run (that finished run: same config and command).
    While that second run is alive, a third refuses in one line."""
    reference, workdir = runs[0], tmp_path / "killed"
    workdir.mkdir()
    copy_run(reference, workdir)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
           "--configfile", str(write_config(workdir)), "--cores", "2"]
    models, locks = workdir / "results/models/fmnist", workdir / ".snakemake/locks"
    assert _delete_retrained_and_tables(workdir / "results") > 2 * len(RETRAINED)
    retrained = lambda: [m for m in RETRAINED if (models / f"{m}.pt").exists()]  # noqa: E731

    first = _start(cmd, tmp_path / "first.out")
    try:
        _wait_for("the first retrained model", retrained, first, tmp_path / "first.out")
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)  # Snakemake and its jobs, mid-training: no cleanup runs
        first.wait(timeout=60)
    assert len(retrained()) < len(RETRAINED) and list(locks.glob("*.lock"))  # stale locks left behind

    again = _start(cmd, tmp_path / "again.out")  # the same command, no extra flag
    try:
        def running() -> bool:
            pid_file = workdir / PID_FILE
            return pid_file.is_file() and pid_file.read_text().split() == [str(again.pid)] \
                and any(locks.glob("*.lock"))

        _wait_for("the rerun to lock the directory", running, again, tmp_path / "again.out")
        third = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        errors = [line for line in third.stdout.splitlines() if "error" in line.lower()]
        assert third.returncode == 1 and len(errors) == 1, third.stdout[-3000:]
        assert errors[0].startswith("cvgr error:") and f"pid {again.pid}" in errors[0], errors
        assert again.poll() is None and list(locks.glob("*.lock"))  # the live run is untouched
        assert again.wait(timeout=1500) == 0, (tmp_path / "again.out").read_text()[-3000:]
    finally:
        if again.poll() is None:
            os.killpg(again.pid, signal.SIGKILL)

    tables = sorted(p.name for p in (reference / "results/tables").iterdir())
    assert tables == sorted(p.name for p in (workdir / "results/tables").iterdir())
    differ = [t for t in tables if (reference / "results/tables" / t).read_bytes()
              != (workdir / "results/tables" / t).read_bytes()]
    assert not differ, f"tables differ from an uninterrupted run: {differ}"


def _start(cmd: list[str], out: Path) -> subprocess.Popen:
    """``cmd`` in its own session (so that SIGKILL reaches its jobs too), output in ``out``."""
    with open(out, "w") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
