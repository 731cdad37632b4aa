"""One Snakemake run per working directory, and no stale lock after a kill.

Snakemake's own locks (``.snakemake/locks/``) say which files a run works on, not which process
holds them. After a run dies without cleanup (SIGKILL, power loss) the next run in the directory
stops with "Directory cannot be locked" until ``snakemake --unlock``, which would also override a
run that is still alive. cvgr adds the missing holder: the Snakemake process that will run jobs
takes an exclusive ``flock`` on ``.snakemake/cvgr-run.pid`` (its pid written inside) when it
reads the Snakefile, and keeps it for its whole life; the kernel releases it when the process
ends, however it ends. So, at that moment,

- the lock is free: no cvgr run is alive in the directory, and any Snakemake locks there were
  left by a run that no longer exists: they are removed, and the run goes on;
- another process holds it: :class:`CvgrError` naming that process, and nothing is touched.

Commands that run no job (a dry run, ``--unlock``, ``--report``, ``--list-rules``, summaries,
graphs) take no lock: they never stop a run nor are stopped by one. Nor does ``--nolock``.
"""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import Sequence, TextIO

from ..errors import CvgrError

PID_FILE = Path(".snakemake") / "cvgr-run.pid"
SNAKEMAKE_LOCKS = Path(".snakemake") / "locks"

#: Snakemake options after which it runs no job (long and short forms), and --nolock.
NO_LOCK = frozenset({"--nolock",
    "-n", "--dry-run", "--dryrun", "--unlock", "--report", "--lint", "-l", "--list", "--list-rules",
    "--lt", "--list-target-rules", "-S", "--summary", "-D", "--detailed-summary", "--dag", "--rulegraph",
    "--filegraph", "--d3dag", "--lc", "--list-changes", "--li", "--list-input-changes", "--lp",
    "--list-params-changes", "--list-code-changes", "--lu", "--list-untracked", "--print-compilation",
    "--containerize", "--export-cwl", "--archive", "--cleanup-metadata", "--cleanup-shadow",
    "--delete-all-output", "--delete-temp-output", "--version", "-v", "-h", "--help",
    "--generate-unit-tests", "--conda-create-envs-only", "--create-envs-only",
})

_held: dict[Path, TextIO] = {}  # the open pid file of each directory this process has claimed


def runs_jobs(argv: Sequence[str]) -> bool:
    """Whether a Snakemake command line (without the program) may run jobs under a lock: none of
    :data:`NO_LOCK`, nor a bundle of short flags holding ``n`` (``-np``)."""
    for arg in argv:
        if arg == "--":
            break
        if arg.split("=", 1)[0] in NO_LOCK or re.fullmatch(r"-[A-Za-z]*n[A-Za-z]*", arg):
            return False
    return True


def claim(workdir: str | os.PathLike = ".") -> TextIO:
    """Hold this directory's run lock for the life of the process; clear stale Snakemake locks.

    CvgrError when another live process holds it. Claiming again in the same process returns the
    file already held (Snakemake may read the Snakefile more than once).
    """
    root = Path(workdir).resolve()
    if root in _held:
        return _held[root]
    pid_file = root / PID_FILE
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    handle = open(pid_file, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise CvgrError(f"{root}: another Snakemake run (pid {holder}) is still working in this directory; "
                        f"wait for it to end or stop it (kill {holder}), then run the command again") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    for stale in sorted((root / SNAKEMAKE_LOCKS).glob("*.lock")):
        stale.unlink()
    _held[root] = handle
    return handle
