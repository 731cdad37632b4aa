"""Versions of ``results/``: record, restore and look up snapshots, with DVC and git.

A *snapshot* is a git commit that holds, beside the code and the config that
made the results, two small files:

- ``results.dvc``: DVC's pointer to the content of ``results/`` (``dvc add``):
  the md5 of a listing whose entries are the md5 of every file;
- ``results.snapshot.yaml``: the config file that made the results, its
  sha256, and the code hash of every stage (:func:`cvgr.study.codehash.code_hash`).

The files live in DVC's content-addressed cache (``.dvc/cache``) and on the
DVC remote (by default the folder ``~/.cache/cvgr/dvc-remote``), so a file
that two snapshots share is stored once. Snakemake stays the workflow engine:
DVC only stores and moves files. After a restore, ``snakemake --touch`` with
the snapshot's config marks the restored files up to date in the order of the
DAG (and rewrites Snakemake's metadata for the jobs it touches), so
``snakemake -n`` plans no job.

Every DVC error passes through :func:`dvc_errors`, which turns it into one
:class:`~cvgr.errors.CvgrError` line naming the problem and the fix.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml

from ..errors import CvgrError

RESULTS = "results"
POINTER = "results.dvc"
RECORD = "results.snapshot.yaml"
DOCS = "docs/VERSIONS.md"


# ----------------------------------------------------------------------------- git

def git_result(root: str | os.PathLike, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    """``git -C root *args`` with stdout and stderr captured (text, or bytes when ``binary``); the exit status
    is the caller's to read. Every git command of the version commands runs through here."""
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=not binary)


def git(root: Path, *args: str, check: bool = True) -> str:
    """``git -C root *args``; its stdout. A failure is a CvgrError quoting git's last line."""
    res = git_result(root, *args)
    if check and res.returncode != 0:
        last = (res.stderr.strip() or res.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise CvgrError(f"git {args[0]} failed: {last[0]}")
    return res.stdout


def repo_root(start: str | os.PathLike = ".") -> Path:
    """The top of the git work tree holding ``start``; it must also be a DVC repository."""
    res = git_result(start, "rev-parse", "--show-toplevel")
    if res.returncode != 0:
        raise CvgrError(f"{os.path.abspath(start)} is not inside a git clone of the project: "
                        "run cvgr's version commands in a clone (git clone URL)")
    root = Path(res.stdout.strip())
    if not (root / ".dvc" / "config").is_file():
        raise CvgrError(f"{root} is not a DVC repository (no .dvc/config): run them in a clone of the project, "
                        "or `dvc init` in your own")
    return root


def resolve(root: Path, rev: str) -> str:
    """The full commit id of ``rev``."""
    res = git_result(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if res.returncode != 0:
        raise CvgrError(f"revision {rev!r} is not a commit of this repository: name one from "
                        "`git log --oneline -- results.dvc` (the snapshots)")
    return res.stdout.strip()


def show(root: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``commit``, or None where the commit has no such file."""
    res = git_result(root, "show", f"{commit}:{path}", binary=True)
    return res.stdout if res.returncode == 0 else None


def snapshot_commits(root: Path, limit: int = 50) -> list[str]:
    """The commits that changed ``results.dvc``, newest first (at most ``limit``)."""
    out = git(root, "log", f"-{limit}", "--format=%H", "--", POINTER, check=False)
    return out.split()


# ----------------------------------------------------------------------------- the record

@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What a snapshot commit records: its listing's md5 and what made the results."""

    commit: str
    listing: str  #: md5 of DVC's directory listing of results/ (``<md5>.dir``)
    configfile: str  #: repository-relative path of the config file
    config_sha256: str
    code_hash: dict[str, str]  #: stage -> cvgr.study.codehash.code_hash at snapshot time

    @property
    def short(self) -> str:
        return self.commit[:10]


def read_snapshot(root: Path, rev: str) -> Snapshot:
    """The snapshot recorded at ``rev``; a CvgrError where that commit holds none."""
    commit = resolve(root, rev)
    pointer, record = show(root, commit, POINTER), show(root, commit, RECORD)
    if pointer is not None:  # the commit that recorded it (rev may be a later commit that kept it)
        commit = git(root, "log", "-1", "--format=%H", commit, "--", POINTER).strip() or commit
    if pointer is None or record is None:
        latest = snapshot_commits(root, 1)
        hint = f" (latest: {latest[0][:10]})" if latest else " (there is none yet: `cvgr snapshot` records one)"
        raise CvgrError(f"revision {rev!r} ({commit[:10]}) holds no snapshot of results/ (no {POINTER} and {RECORD}):"
                        f" restore one of `git log --oneline -- {POINTER}`{hint}")
    outs = yaml.safe_load(pointer)["outs"][0]
    rec = yaml.safe_load(record)
    return Snapshot(commit, outs["md5"], rec["configfile"], rec["config_sha256"], dict(rec["code_hash"]))


def code_hashes(root: Path) -> dict[str, str]:
    """stage -> :func:`cvgr.study.codehash.code_hash` of the repository's own ``cvgr/`` (the code a commit holds)."""
    from ..study.codehash import STAGE_ROOTS, code_hash
    package = root / "cvgr" if (root / "cvgr" / "study/codehash.py").is_file() else None
    return {stage: code_hash(stage, package) for stage in STAGE_ROOTS}


def record_text(root: Path, configfile: str, config_bytes: bytes) -> str:
    """The text of ``results.snapshot.yaml`` for the repository's code and ``configfile``."""
    body = {"configfile": configfile, "config_sha256": hashlib.sha256(config_bytes).hexdigest(),
            "code_hash": code_hashes(root)}
    return ("# Written by `cvgr snapshot`: what made the results/ that results.dvc points to.\n"
            "# `cvgr restore` brings them back; `cvgr diff` compares two snapshots.\n"
            + yaml.safe_dump(body, sort_keys=False))


def stale_stages(root: Path, snap: Snapshot) -> list[str]:
    """The stages whose code differs between the snapshot and the repository's work tree."""
    return [stage for stage, digest in code_hashes(root).items() if snap.code_hash.get(stage) != digest]


# ----------------------------------------------------------------------------- DVC

def _remote_text(repo: Any, name: str | None = None) -> str:
    """``'NAME' (URL)`` of the remote DVC would use."""
    name = name or repo.config["core"].get("remote")
    url = repo.config["remote"].get(name, {}).get("url", "?") if name else "?"
    return f"'{name}' ({url})"


def _translate(err: Exception, repo: Any | None) -> CvgrError:
    """A DVC exception as one line naming the problem and the fix."""
    from dvc.config import NoRemoteError, RemoteNotFoundError
    from dvc.exceptions import CheckoutError, DownloadError, NotDvcRepoError, UploadError
    from dvc.lock import LockError
    msg = " ".join(str(err).split())
    remote = f" {_remote_text(repo)}" if repo is not None else ""
    if isinstance(err, (NoRemoteError, RemoteNotFoundError)):
        return CvgrError(f"no usable DVC remote: {msg}. Set one: `dvc remote add -d NAME URL` ({DOCS})")
    if isinstance(err, UploadError):
        return CvgrError(f"could not push to the DVC remote{remote}: {msg}. Check that the remote is reachable and "
                         f"writable, or point it elsewhere: `dvc remote modify --local default url URL`")
    if isinstance(err, DownloadError):
        return CvgrError(f"could not fetch from the DVC remote{remote}: {msg}. Check that the remote is reachable, "
                         f"or point it elsewhere: `dvc remote modify --local default url URL`")
    if isinstance(err, LockError):
        return CvgrError(f"DVC is busy in this repository ({msg}): wait for the other dvc or cvgr command to end")
    if isinstance(err, CheckoutError):
        return CvgrError(f"DVC could not write results/: {msg}. Run `cvgr restore` again once the cause is fixed")
    if isinstance(err, NotDvcRepoError):
        return CvgrError(f"not a DVC repository ({msg}): run the command in a clone of the project")
    if isinstance(err, OSError):
        return CvgrError(f"DVC storage error: {msg}. Check the DVC remote{remote} and the disk, then rerun")
    return CvgrError(f"DVC: {msg} ({DOCS})")


@contextlib.contextmanager
def dvc_repo(root: Path, rev: str | None = None) -> Iterator[Any]:
    """An open ``dvc.repo.Repo`` at ``root`` (at git ``rev`` when given), its errors translated."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    repo = None
    for name in ("dvc", "dvc_data", "dvc_objects"):  # cvgr reports what DVC only warns about (missing files)
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with Repo(str(root), rev=rev) as repo:
            repo.scm_context.quiet = True  # cvgr commits the pointer itself: no "git add" hint
            yield repo
    except CvgrError:
        raise
    except (DvcException, OSError) as err:
        raise _translate(err, repo) from err


def listing(root: Path, commit: str) -> dict[str, str]:
    """``{path: md5}`` of every file of the snapshot at ``commit`` (the listing comes from cache or remote)."""
    with dvc_repo(root, rev=commit) as repo:
        fs = repo.dvcfs
        return {p: fs.info(p)["md5"] for p in fs.find(RESULTS)}


def workspace_md5(repo: Any) -> dict[str, str]:
    """``{path: md5}`` of the files now under results/ (DVC's hashes; .dvcignore'd files left out)."""
    from dvc_data.hashfile.hash import hash_file
    base = os.path.join(repo.root_dir, RESULTS)
    if not os.path.isdir(base):
        return {}
    out = {}
    for path in repo.dvcignore.find(repo.fs, base):
        _, info = hash_file(path, repo.fs, "md5", repo.state)
        out[os.path.relpath(path, repo.root_dir)] = info.value
    return out


# ----------------------------------------------------------------------------- Snakemake

def snakemake(root: Path, configfile: str, *args: str) -> subprocess.CompletedProcess:
    """This repository's workflow: ``python -m snakemake -s root/Snakefile --directory root --configfile F``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), "--directory", str(root),
           "--configfile", configfile, *args]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True)


def planned_jobs(root: Path, configfile: str) -> int:
    """How many jobs ``snakemake -n`` plans with ``configfile`` (0: results/ is up to date)."""
    res = snakemake(root, configfile, "-n")
    text = res.stdout + res.stderr
    if res.returncode != 0:
        last = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["(no output)"]
        raise CvgrError(f"snakemake -n --configfile {configfile} failed: {last[0].strip()}")
    if "Nothing to be done" in text:
        return 0
    totals = [ln.split()[1] for ln in text.splitlines() if ln.startswith("total ") and len(ln.split()) == 2]
    return int(totals[-1]) if totals and totals[-1].isdigit() else -1


def mark_up_to_date(root: Path, config_bytes: bytes, configfile: str) -> None:
    """``snakemake --touch --forceall`` with the snapshot's config.

    Touches every output in the order of the DAG, so each is newer than its inputs, and records Snakemake's
    metadata (params, code) for every job, so a later change of the config still reruns what it changes.

    Where the config file in the work tree differs from the snapshot's, a temporary copy of the snapshot's
    is used (the config's path only appears in Snakemake's messages).
    """
    path = root / configfile
    tmp = None
    if not path.is_file() or path.read_bytes() != config_bytes:
        fd, tmp = tempfile.mkstemp(suffix=".yaml", prefix="cvgr-snapshot-config-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(config_bytes)
    try:
        res = snakemake(root, tmp or configfile, "--touch", "--forceall", "--cores", "1")
    finally:
        if tmp:
            os.unlink(tmp)
    if res.returncode != 0:
        last = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()][-1:] or ["(no output)"]
        raise CvgrError(f"results/ is restored, but marking it up to date failed: {last[0].strip()}; "
                        f"run `snakemake --touch --cores 1 --configfile {configfile}`")

