"""``cvgr snapshot``, ``cvgr restore`` and the snapshot that holds a file (see :mod:`cvgr.versions.store`).

Safety rules:

- a snapshot is taken only of complete, up-to-date results (``snakemake -n``
  plans no job with the config) and committed code, so the commit really
  holds what made them; the push precedes the commit;
- a restore overwrites or deletes a file under ``results/`` only when its
  content is in DVC's cache (some snapshot recorded it) or with ``--force``;
- before anything in ``results/`` is written, every file of the snapshot is
  in the local cache and passes DVC's md5 check (a corrupt cached copy is
  removed and fetched again; a corrupt copy on the remote is never stored).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import CvgrError
from ..results.io import sha256_file
from .store import (POINTER, RECORD, RESULTS, Snapshot, _remote_text, dvc_repo, git, mark_up_to_date,
                       planned_jobs, read_snapshot, record_text, repo_root, resolve, show, snapshot_commits,
                       stale_stages, workspace_md5)


def _listed(paths: list[str], n: int = 5) -> str:
    return ", ".join(paths[:n]) + (f" and {len(paths) - n} more" if len(paths) > n else "")


# ----------------------------------------------------------------------------- snapshot

def _config_path(root: Path, configfile: str) -> str:
    """``configfile`` relative to the repository (it must be inside it, to be committed)."""
    path = Path(configfile).resolve()
    if not path.is_file():
        raise CvgrError(f"--configfile {configfile}: no such file: name the config the results were made with")
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise CvgrError(f"--configfile {configfile} is outside the repository {root}: copy it into the repository "
                        "(e.g. configs/), so that the snapshot's commit can hold it") from None


def _require_committed_code(root: Path, own: set[str]) -> None:
    """Refuse uncommitted changes to tracked files: the snapshot's commit must hold the code that made it."""
    changed = [ln[3:] for ln in git(root, "status", "--porcelain", "--untracked-files=no").splitlines()]
    changed = [p for p in changed if p not in own]
    if changed:
        raise CvgrError(f"uncommitted changes to {_listed(changed)}: commit them first (git commit), so that the "
                        "snapshot's commit holds the code and config that made the results")


def snapshot(start: str | os.PathLike, configfile: str, message: str | None = None, push: bool = True) -> str:
    """Record results/ as a new snapshot commit and push its files to the DVC remote; a summary line.

    Refuses (CvgrError, nothing written) when results/ is missing, when tracked files have uncommitted
    changes, or when ``snakemake -n`` with ``configfile`` plans any job (results/ incomplete or stale).
    The commit holds ``results.dvc``, ``results.snapshot.yaml`` and the config file, nothing else. The
    push runs before the commit, so a snapshot commit has its files on the remote (unless ``push`` is False).
    """
    root = repo_root(start)
    cfg = _config_path(root, configfile)
    if not (root / RESULTS).is_dir() or not any((root / RESULTS).iterdir()):
        raise CvgrError(f"{root / RESULTS} is empty or missing: run the workflow first "
                        f"(snakemake --cores all --configfile {cfg})")
    _require_committed_code(root, {POINTER, RECORD, cfg, ".gitignore"})
    jobs = planned_jobs(root, cfg)
    if jobs:
        raise CvgrError(f"results/ is not up to date with {cfg} and the code: snakemake -n plans {jobs} jobs; "
                        f"finish the run first (snakemake --cores all --configfile {cfg})")
    with dvc_repo(root) as repo:
        repo.add(RESULTS)
        if push:
            repo.push(targets=[POINTER])
        remote = _remote_text(repo)
    (root / RECORD).write_text(record_text(root, cfg, (root / cfg).read_bytes()))
    paths = [POINTER, RECORD, cfg] + ([".gitignore"] if git(root, "status", "--porcelain", ".gitignore") else [])
    git(root, "add", "--", *paths)
    if not git(root, "diff", "--cached", "--name-only", "--", *paths).strip():
        return f"results/ and {cfg} are unchanged since snapshot {resolve(root, 'HEAD')[:10]}: nothing to record"
    nfiles = yaml.safe_load((root / POINTER).read_text())["outs"][0].get("nfiles", "?")
    git(root, "commit", "-q", "-m", message or f"snapshot: results/ of {cfg} ({nfiles} files)", "--", *paths)
    where = f"pushed to DVC remote {remote}" if push else "not pushed (`dvc push` shares it)"
    return f"snapshot {resolve(root, 'HEAD')[:10]}: {nfiles} files of results/ made with {cfg}; {where}"


# ----------------------------------------------------------------------------- restore

def _tree(odb: Any, listing: str) -> dict[str, str] | None:
    """``{results/...: md5}`` of the listing ``listing`` (``<md5>.dir``) in the local cache, or None if absent."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree
    if not odb.exists(listing):
        return None
    tree = Tree.load(odb, HashInfo("md5", listing))
    return {"/".join((RESULTS, *key)): hi.value for key, _, hi in tree}


def _drop_corrupt(odb: Any, tree: dict[str, str]) -> list[str]:
    """Check each cached file of ``tree`` against its md5 (DVC's check, which removes a corrupt copy).

    The check runs even on copies DVC has marked read-only, which DVC's own shortcut would trust.
    """
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.errors import ObjectFormatError
    corrupt = []
    for path, md5 in tree.items():
        if odb.exists(md5):
            try:
                HashFileDB.check(odb, md5)
            except ObjectFormatError:
                corrupt.append(path)
    return corrupt


def _absent_folder(repo: Any) -> bool:
    """Whether the default remote is a local folder that does not exist."""
    name = repo.config["core"].get("remote")
    url = repo.config["remote"].get(name, {}).get("url", "") if name else ""
    return bool(url) and "://" not in url and not os.path.isdir(os.path.expanduser(url))


def _fetch(repo: Any, snap: Snapshot) -> dict[str, str]:
    """Bring every file of ``snap`` into the local cache, checked; its ``{path: md5}``.

    Fetches from the remote only what the cache lacks (so a restore from the cache needs no remote). A file
    still missing afterwards is reported: corrupt on the remote (DVC's verified fetch refused it) or absent.
    """
    odb = repo.cache.local
    tree = _tree(odb, snap.listing)
    corrupt = _drop_corrupt(odb, tree) if tree is not None else []
    if tree is None or corrupt or any(not odb.exists(m) for m in tree.values()):
        repo.fetch(targets=[POINTER], revs=[snap.commit], workspace=False)
        tree = _tree(odb, snap.listing)
    remote = _remote_text(repo)
    if tree is None:
        where = "does not exist" if _absent_folder(repo) else "lacks it or is unreachable"
        raise CvgrError(f"the file list of snapshot {snap.short} is not in the local cache and the DVC remote "
                        f"{remote} {where}: point the remote at the folder or URL the snapshot was pushed to "
                        "(`dvc remote modify --local default url URL`). Nothing in results/ was changed")
    missing = sorted(p for p, m in tree.items() if not odb.exists(m))
    healed = f" (DVC's md5 check found the cached copy of {_listed(corrupt)} corrupt and removed it)" if corrupt else ""
    if missing and _absent_folder(repo):
        raise CvgrError(f"{len(missing)} files of snapshot {snap.short} are not in the local cache{healed} and the "
                        f"DVC remote {remote} does not exist: point the remote at the folder or URL the snapshot was "
                        "pushed to (`dvc remote modify --local default url URL`). Nothing in results/ was changed")
    if missing:
        remote_odb = repo.cloud.get_remote_odb()
        bad = [p for p in missing if remote_odb.exists(tree[p])]
        what = (f"fail DVC's md5 check on remote {remote} (corrupt: {_listed(bad)})" if bad else
                f"are missing from remote {remote} ({_listed(missing)})")
        fix = ("push a good copy from a clone that has one (`dvc push`), or rerun the workflow" if bad else
               "check the remote's URL, or push them from the clone that made the snapshot (`dvc push`)")
        raise CvgrError(f"{len(missing)} files of snapshot {snap.short} {what}{healed}: {fix}. "
                        "Nothing in results/ was changed")
    return tree


def latest_for_config(root: Path, configfile: str) -> str:
    """The newest snapshot commit made with this content of ``configfile`` and this checkout's stage code."""
    cfg = _config_path(root, configfile)
    digest = sha256_file(root / cfg)
    for commit in snapshot_commits(root):
        snap = read_snapshot(root, commit)
        if snap.config_sha256 == digest and not stale_stages(root, snap):
            return commit
    raise CvgrError(f"no snapshot holds results of {cfg} as it is now with this code: run the workflow "
                    f"(snakemake --cores all --configfile {cfg}), or restore a revision (git log -- {POINTER})")


def restore(start: str | os.PathLike, rev: str = "HEAD", force: bool = False) -> str:
    """Make results/ the snapshot recorded at ``rev`` and mark it up to date for Snakemake; a summary line.

    Refuses (nothing written) a revision without a snapshot, a snapshot made by other stage code than this
    checkout's, files missing or corrupt in cache and remote, and -- unless ``force`` -- local files under
    results/ that it would overwrite or delete whose content no snapshot recorded. ``results.dvc`` in the
    work tree becomes the snapshot's (``git checkout results.dvc`` puts back HEAD's).
    """
    root = repo_root(start)
    snap = read_snapshot(root, rev)
    stale = stale_stages(root, snap)
    if stale:
        raise CvgrError(f"snapshot {snap.short} was made by other code of the stages {', '.join(stale)}: "
                        f"check out its code first (git checkout {snap.short}), then run `cvgr restore`")
    config = show(root, snap.commit, snap.configfile)
    if config is None:
        raise CvgrError(f"snapshot {snap.short} names {snap.configfile}, which its commit lacks: restore another "
                        f"snapshot (git log -- {POINTER})")
    with dvc_repo(root) as repo:
        tree = _fetch(repo, snap)
        local = workspace_md5(repo)
        odb = repo.cache.local
        unsaved = sorted(p for p, m in local.items() if tree.get(p) != m and not odb.exists(m))
        changed = sum(tree.get(p) != m for p, m in local.items()) + len(tree.keys() - local.keys())
    if unsaved and not force:
        raise CvgrError(f"{len(unsaved)} files under results/ differ from every recorded version and restoring "
                        f"{snap.short} would overwrite or delete them: {_listed(unsaved)}; record them first "
                        "(cvgr snapshot) or pass --force to discard them")
    pointer, before = root / POINTER, (root / POINTER).read_bytes() if (root / POINTER).is_file() else None
    pointer.write_bytes(show(root, snap.commit, POINTER) or b"")
    try:
        with dvc_repo(root) as repo:
            repo.checkout(targets=[POINTER], force=True)
    except CvgrError:
        if before is not None:
            pointer.write_bytes(before)
        raise
    mark_up_to_date(root, config, snap.configfile)
    return (f"restored snapshot {snap.short}: {len(tree)} files of results/ ({changed} changed) made with "
            f"{snap.configfile}; Snakemake sees them as up to date")


# ----------------------------------------------------------------------------- provenance

def holding_snapshot(path: str | os.PathLike) -> str | None:
    """The line naming the newest snapshot that recorded ``path`` with its current content.

    None where ``path`` is not in a DVC clone of the project or not under results/. Looks only at
    snapshots whose file list is in the local cache (no network).
    """
    real = os.path.realpath(path)
    try:
        root = repo_root(os.path.dirname(real))
    except CvgrError:
        return None
    rel = os.path.relpath(real, root.resolve()).replace(os.sep, "/")
    if not rel.startswith(RESULTS + "/"):
        return None
    from dvc_data.hashfile.hash import hash_file
    with dvc_repo(root) as repo:
        md5 = hash_file(real, repo.fs, "md5", repo.state)[1].value
        for commit in snapshot_commits(root):
            pointer = show(root, commit, POINTER)
            tree = _tree(repo.cache.local, yaml.safe_load(pointer)["outs"][0]["md5"]) if pointer else None
            if tree is not None and tree.get(rel) == md5:
                return "snapshot: " + git(root, "log", "-1", "--format=%h %cs %s", commit).strip()
    return "snapshot: none holds this content (`cvgr snapshot` records results/)"
