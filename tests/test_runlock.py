"""cvgr.study.runlock with real processes: a live holder is never overridden, a killed one's locks are cleared."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import REPO
from cvgr.errors import CvgrError
from cvgr.study.runlock import PID_FILE, SNAKEMAKE_LOCKS, claim, runs_jobs

HOLD = ("import sys, time; from cvgr.study.runlock import claim; claim(sys.argv[1]); print('held', flush=True); "
        "time.sleep(600)")


@pytest.mark.parametrize("argv, runs", [
    (["--cores", "all"], True), (["-s", "Snakefile", "--configfile", "my.yaml", "-c2"], True),
    (["-n"], False), (["-np", "--cores", "1"], False), (["--dry-run"], False), (["--unlock"], False),
    (["--report", "results/report.html"], False), (["--report=r.html"], False), (["--list-rules"], False),
    (["--nolock", "--cores", "1"], False), (["--cores", "1", "--", "-n"], True),
])
def test_only_commands_that_run_jobs_take_the_lock(argv, runs):
    assert runs_jobs(argv) is runs


def test_a_live_holder_is_refused_and_a_killed_ones_locks_are_cleared(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        locks = tmp_path / SNAKEMAKE_LOCKS
        locks.mkdir(parents=True)
        (locks / "0.input.lock").write_text("results/a.h5\n")  # what Snakemake leaves after a kill
        with pytest.raises(CvgrError) as info:
            claim(tmp_path)
        message = str(info.value)
        assert f"pid {holder.pid}" in message and f"kill {holder.pid}" in message and "\n" not in message
        assert (locks / "0.input.lock").exists()  # a live run's locks are never touched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    claim(tmp_path)
    assert not list(locks.glob("*.lock"))
    assert (tmp_path / PID_FILE).read_text().split() == [str(os.getpid())]
    assert claim(tmp_path) is claim(tmp_path)  # the same process reading the Snakefile again
