"""A throwaway one-node SLURM cluster on localhost, for tests.

``local_slurm_cluster(root)`` is a context manager that

1. makes sure ``munged`` answers (creates ``/etc/munge/munge.key`` with
   ``mungekey`` if absent, ``/run/munge`` owned by ``munge``; starts ``munged``
   as user ``munge`` only when none answers, and stops only the one it started);
2. writes ``root/slurm.conf``: one node (this host, ``CPUs = nproc``,
   ``RealMemory`` = 90 % of MemAvailable), partition ``main`` (default), no
   accounting, ``proctrack/linuxproc``, ``task/none``, ``select/cons_tres`` with
   ``CR_Core_Memory``, free TCP ports, state/spool/log/pid files under ``root``;
3. starts ``slurmctld`` and ``slurmd`` in the foreground (``-D``) with
   ``SLURM_CONF`` pointing at that file and waits (bounded) until ``sinfo``
   reports the node ``idle``;
4. yields a :class:`SlurmCluster` whose ``env`` is ``os.environ`` plus
   ``SLURM_CONF`` and an ``srun`` shim first on PATH (see
   :func:`write_srun_shim`); pass it to every subprocess that talks to the
   cluster;
5. on exit cancels every job, stops both daemons (by pid, SIGTERM then
   SIGKILL), kills left-over job processes (found by ``SLURM_CONF=<ours>`` in
   their environment) and stops ``munged`` if it started it.

The pytest fixture ``slurm_cluster`` (session scope) wraps it and skips, with
the install command, where the binaries are missing or we are not root.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

BINARIES = ("munged", "mungekey", "munge", "unmunge", "slurmctld", "slurmd", "sinfo", "squeue", "sbatch", "srun", "scancel", "scontrol")
INSTALL_HINT = "apt-get install -y slurm-wlm munge"
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN = Path("/run/munge")
MUNGE_PID = MUNGE_RUN / "munged.pid"
READY_TIMEOUT_S = 60.0


class ClusterStartError(RuntimeError):
    """slurmctld/slurmd/munged did not come up; the message carries their log tails."""


@dataclass
class SlurmCluster:
    """A running local cluster: its directory, config file, node and env."""

    root: Path
    conf: Path
    node: str
    cpus: int
    real_memory_mb: int
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM client command (``squeue`` ...) against this cluster."""
        return subprocess.run(args, env=self.env, capture_output=True, text=True, check=check, timeout=30)

    def job_ids(self) -> list[str]:
        """Ids of all jobs slurmctld still remembers (any state, MinJobAge = 300 s)."""
        out = self.run("squeue", "--states=all", "--noheader", "--format=%i").stdout
        return out.split()

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o`` of one job as {key: value} (values holding spaces are cut at the space)."""
        out = self.run("scontrol", "show", "job", "--oneliner", job_id).stdout
        return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


def missing_binaries() -> list[str]:
    """Names from BINARIES not on PATH (nor in /usr/sbin)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin"
    return [b for b in BINARIES if shutil.which(b, path=path) is None]


def _sbin(name: str) -> str:
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin") or name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _available_memory_mb() -> int:
    """MemAvailable from /proc/meminfo in MiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    raise ClusterStartError("/proc/meminfo has no MemAvailable line")


def _log_tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return f"{path}: (no log)"
    return f"{path}:\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------- munge


def munge_answers() -> bool:
    """True when ``munge -n | unmunge`` succeeds (a munged serves the default socket)."""
    cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
    if cred.returncode != 0:
        return False
    return subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, timeout=10).returncode == 0


def ensure_munge_key() -> None:
    """Create /etc/munge/munge.key (owned by munge, mode 0600) when absent."""
    if MUNGE_KEY.exists():
        return
    subprocess.run([_sbin("mungekey"), "--create", f"--keyfile={MUNGE_KEY}"], check=True, capture_output=True)
    munge = pwd.getpwnam("munge")
    os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)
    MUNGE_KEY.chmod(0o600)


@contextlib.contextmanager
def munged_running() -> Iterator[None]:
    """Reuse an answering munged, else start one as user munge and stop it on exit."""
    if munge_answers():
        yield
        return
    ensure_munge_key()
    munge = pwd.getpwnam("munge")
    MUNGE_RUN.mkdir(parents=True, exist_ok=True)
    os.chown(MUNGE_RUN, munge.pw_uid, munge.pw_gid)
    MUNGE_PID.unlink(missing_ok=True)
    subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", _sbin("munged")], check=True, capture_output=True)
    deadline = time.monotonic() + 20
    while not munge_answers():
        if time.monotonic() > deadline:
            raise ClusterStartError("munged started but `munge -n | unmunge` still fails after 20 s")
        time.sleep(0.2)
    pid = int(MUNGE_PID.read_text()) if MUNGE_PID.exists() else None
    try:
        yield
    finally:
        if pid is not None:
            _stop_pid(pid)


# ---------------------------------------------------------------- slurm


def write_slurm_conf(root: Path, node: str, cpus: int, real_memory_mb: int) -> Path:
    """Write root/slurm.conf for a one-node cluster on this host; return its path."""
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    lines = [
        "ClusterName=cvgrtest",
        f"SlurmctldHost={node}(127.0.0.1)",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "MpiDefault=none",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "ReturnToService=2",
        # finished jobs stay visible to `squeue --states=all` this long; the
        # executor plugin needs that to read COMPLETED/FAILED without sacct
        "MinJobAge=300",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={real_memory_mb} State=UNKNOWN",
        f"PartitionName=main Nodes={node} Default=YES MaxTime=INFINITE State=UP",
    ]
    conf = root / "slurm.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def write_srun_shim(root: Path, conf: Path) -> Path:
    """Write root/bin/srun, which runs the real srun with SLURM_CONF=<conf>; return root/bin.

    snakemake-executor-plugin-slurm-jobstep (0.6.1) starts each job's ``srun``
    with every SLURM_* variable except the job's identity removed, SLURM_CONF
    included, so inside a job ``srun`` finds only a config at the standard
    places (/etc/slurm/slurm.conf, /run/slurm/conf). A real cluster has one
    there; this throwaway cluster keeps its config in a temp dir and leaves
    system paths alone, hence the shim (first on the jobs' PATH).
    """
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    real = shutil.which("srun", path="/usr/bin:/usr/local/bin") or "/usr/bin/srun"
    shim = bin_dir / "srun"
    shim.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec {real} "$@"\n')
    shim.chmod(0o755)
    return bin_dir


def _wait_idle(cluster: SlurmCluster, daemons: dict[str, subprocess.Popen], timeout_s: float) -> None:
    """Poll ``sinfo`` until the node is idle; raise with log tails on timeout or a dead daemon."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        dead = [name for name, p in daemons.items() if p.poll() is not None]
        if dead:
            raise ClusterStartError(f"{', '.join(dead)} exited early\n" + _logs(cluster))
        res = cluster.run("sinfo", "--noheader", "--Node", "--format=%T", check=False)
        state = res.stdout.strip()
        if res.returncode == 0 and state == "idle":
            return
        time.sleep(0.5)
    raise ClusterStartError(f"node not idle after {timeout_s:.0f} s (sinfo: {state!r})\n" + _logs(cluster))


def _logs(cluster: SlurmCluster) -> str:
    return "\n".join(_log_tail(cluster.root / "log" / f"{d}.log") for d in ("slurmctld", "slurmd"))


def _stop_pid(pid: int, grace_s: float = 10.0) -> None:
    """SIGTERM ``pid``, wait up to ``grace_s``, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _stop_daemon(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Stop a daemon we started with -D (our child): SIGTERM, wait ``grace_s``, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _stop_pid_file(pid_file: Path, known: int) -> None:
    """Stop the process a daemon's pid file names when it is not ``known`` (the daemon forked)."""
    text = pid_file.read_text().strip() if pid_file.exists() else ""
    if text.isdigit() and int(text) != known:
        _stop_pid(int(text), grace_s=5.0)


def _leftover_pids(conf: Path) -> list[int]:
    """Pids whose environment holds SLURM_CONF=<conf>: slurmstepd and job processes of this cluster."""
    marker = f"SLURM_CONF={conf}".encode()
    mine = os.getpid()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == mine:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def _cancel_all(cluster: SlurmCluster, timeout_s: float = 20.0) -> None:
    """scancel every job still pending/running and wait (bounded) until none is."""
    active = "--states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED"
    ids = cluster.run("squeue", active, "--noheader", "--format=%i", check=False).stdout.split()
    if not ids:
        return
    cluster.run("scancel", *ids, check=False)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not cluster.run("squeue", active, "--noheader", "--format=%i", check=False).stdout.split():
            return
        time.sleep(0.5)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM (a CI timeout) into SystemExit so the clean-up below still runs; restore after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def local_slurm_cluster(root: Path, ready_timeout_s: float = READY_TIMEOUT_S) -> Iterator[SlurmCluster]:
    """Start munged (if needed), slurmctld and slurmd for a one-node cluster under ``root``; stop all on exit."""
    root = Path(root).resolve()
    node = socket.gethostname().split(".")[0]
    cpus = len(os.sched_getaffinity(0))
    real_memory_mb = int(_available_memory_mb() * 0.9)
    conf = write_slurm_conf(root, node, cpus, real_memory_mb)
    shim_dir = write_srun_shim(root, conf)
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for var in [v for v in env if v.startswith("SLURM_") and v != "SLURM_CONF"]:
        del env[var]  # a job context of an outer cluster must not leak in
    cluster = SlurmCluster(root, conf, node, cpus, real_memory_mb, env)
    with _sigterm_unwinds(), munged_running():
        daemons: dict[str, subprocess.Popen] = {}
        try:
            for name in ("slurmctld", "slurmd"):
                with open(root / "log" / f"{name}.stderr", "w") as err:
                    daemons[name] = subprocess.Popen([_sbin(name), "-D", "-f", str(conf)], env=env, cwd=root,
                                                     stdout=subprocess.DEVNULL, stderr=err)
                if name == "slurmctld":
                    time.sleep(1.0)  # let slurmctld bind its port before slurmd registers
            _wait_idle(cluster, daemons, ready_timeout_s)
            yield cluster
        finally:
            if "slurmctld" in daemons and daemons["slurmctld"].poll() is None:
                _cancel_all(cluster)
            for name in ("slurmd", "slurmctld"):
                if name in daemons:
                    _stop_daemon(daemons[name])
                    _stop_pid_file(root / f"{name}.pid", known=daemons[name].pid)
            for pid in _leftover_pids(conf):
                _stop_pid(pid, grace_s=2.0)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A running one-node SLURM cluster for the whole session (skips where SLURM is not installed)."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"SLURM/munge not installed (missing {', '.join(missing)}): run `{INSTALL_HINT}`")
    if os.geteuid() != 0:
        pytest.skip("starting munged/slurmd for the local test cluster needs root")
    with local_slurm_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster
