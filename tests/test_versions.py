"""Versions of results/ (cvgr snapshot / restore / diff) with real git, real DVC and a real local-folder remote.

One module-wide project (a git repository made from this checkout's files) starts from a copy of the
session's finished run of the tiny config (configs/test.yaml, conftest's ``runs``), marked up to date
there with ``snakemake --touch`` (Snakemake's record of a rule's code depends on where its Snakefile
is), and takes snapshot A; then a second config that changes only the NES images reruns
the NES jobs and the tables on top of it, and takes snapshot B. HOME points into the test's folder, so
the embedded default remote (~/.cache/cvgr/dvc-remote) is used with no set-up, as on a new machine.
Fresh clones restore from that remote; the bad-input cases use their own clones.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TEST_CONFIG, copy_run

CONFIG_A = "configs/test.yaml"
CONFIG_B = "configs/test-nes3.yaml"  # configs/test.yaml with nes.images 3 instead of 2
CELL = "results/transfer/fmnist/real-gr64-s0/complex-std-s1.h5"


# ---------------------------------------------------------------- helpers
def _env(home: Path, repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "XDG_"))}
    env.update(HOME=str(home), PYTHONPATH=str(repo), GIT_AUTHOR_NAME="cvgr test", GIT_AUTHOR_EMAIL="test@cvgr",
               GIT_COMMITTER_NAME="cvgr test", GIT_COMMITTER_EMAIL="test@cvgr")
    return env


def run(repo: Path, home: Path, *cmd: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    """``cmd`` in ``repo`` with HOME=home; stdout and stderr apart."""
    return subprocess.run(list(cmd), cwd=repo, env=_env(home, repo), capture_output=True, text=True, timeout=timeout)


def cvgr(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return run(repo, home, sys.executable, "-m", "cvgr", *args)


def dvc(repo: Path, home: Path, *args: str) -> None:
    res = run(repo, home, sys.executable, "-m", "dvc", *args)
    assert res.returncode == 0, res.stderr


def snakemake(repo: Path, home: Path, config: str, *args: str) -> str:
    res = run(repo, home, sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(repo),
              "--configfile", config, *args)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return res.stdout + res.stderr


def plans_nothing(repo: Path, home: Path, config: str) -> bool:
    return "Nothing to be done" in snakemake(repo, home, config, "-n")


def git(repo: Path, home: Path, *args: str) -> str:
    res = run(repo, home, "git", *args)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def error_line(res: subprocess.CompletedProcess) -> str:
    """The one ``cvgr error:`` line of a refused command (and nothing else on stderr)."""
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cvgr error: "), res.stderr
    return lines[0]


def digests(repo: Path) -> dict[str, str]:
    """sha256 of every file under results/ (relative paths)."""
    base = repo / "results"
    return {p.relative_to(repo).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*")) if p.is_file()}


def tables(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repo / "results" / "tables").glob("*.csv"))}


def remote_dir(home: Path) -> Path:
    return home / ".cache" / "cvgr" / "dvc-remote"


def object_path(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def make_project(dest: Path, home: Path) -> Path:
    """A git repository holding this checkout's files (tracked, and untracked but not ignored)."""
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    git(dest, home, "init", "-q")
    git(dest, home, "add", "-A")
    git(dest, home, "commit", "-q", "-m", "the project")
    return dest


def clone(project: dict, name: str, rev: str | None = None) -> Path:
    dest = project["tmp"] / name
    subprocess.run(["git", "clone", "-q", str(project["repo"]), str(dest)], check=True)
    if rev:
        git(dest, project["home"], "checkout", "-q", rev)
    return dest


# ---------------------------------------------------------------- the project: two snapshots
@pytest.fixture(scope="module")
def project(tmp_path_factory, runs) -> dict:
    tmp = tmp_path_factory.mktemp("versions")
    home = tmp / "home"
    home.mkdir()
    repo = make_project(tmp / "origin", home)
    copy_run(runs[0], repo)  # the finished tiny study, instead of running it again
    snakemake(repo, home, CONFIG_A, "--touch", "--forceall", "--cores", "1")
    assert plans_nothing(repo, home, CONFIG_A), "the copied run is not up to date in the project"
    first = git(repo, home, "rev-parse", "HEAD")
    out_a = ok(cvgr(repo, home, "snapshot", "--configfile", CONFIG_A))
    snap_a = git(repo, home, "rev-parse", "HEAD")
    state_a = {"digests": digests(repo), "tables": tables(repo), "remote": remote_files(home)}

    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["datasets"]["fmnist"]["nes"]["images"] = 3
    (repo / CONFIG_B).write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(repo, home, CONFIG_B, "--cores", "2")
    ok(cvgr(repo, home, "snapshot", "--configfile", CONFIG_B))
    snap_b = git(repo, home, "rev-parse", "HEAD")
    state_b = {"digests": digests(repo), "tables": tables(repo), "remote": remote_files(home)}
    return {"tmp": tmp, "home": home, "repo": repo, "first": first, "A": snap_a, "B": snap_b,
            "state": {snap_a: state_a, snap_b: state_b}, "snapshot_out": out_a}


def remote_files(home: Path) -> dict[str, int]:
    """The default remote's objects and their sizes."""
    base = remote_dir(home)
    return {p.relative_to(base).as_posix(): p.stat().st_size for p in base.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- record, share, restore
@pytest.mark.slow
def test_snapshot_commits_pointer_record_and_config(project):
    repo, home, a, b = project["repo"], project["home"], project["A"], project["B"]
    assert git(repo, home, "show", "--name-only", "--format=", a).split() == ["results.dvc", "results.snapshot.yaml"]
    assert sorted(git(repo, home, "show", "--name-only", "--format=", b).split()) == \
        [CONFIG_B, "results.dvc", "results.snapshot.yaml"]
    record = yaml.safe_load(git(repo, home, "show", f"{b}:results.snapshot.yaml"))
    assert record["configfile"] == CONFIG_B
    assert record["config_sha256"] == hashlib.sha256((repo / CONFIG_B).read_bytes()).hexdigest()
    assert git(repo, home, "status", "--porcelain") == ""
    # every file of A is on the default remote, which needed no set-up: one object per distinct content + listing
    state_a = project["state"][a]
    assert len(state_a["remote"]) == len(set(state_a["digests"].values())) + 1
    assert "pushed to DVC remote 'default'" in project["snapshot_out"]


@pytest.mark.slow
def test_second_snapshot_stores_only_changed_files(project):
    """DVC's deduplication: B adds one object per new content (and its listing), nothing for unchanged files."""
    state_a, state_b = project["state"][project["A"]], project["state"][project["B"]]
    added = set(state_b["remote"]) - set(state_a["remote"])
    new_contents = set(state_b["digests"].values()) - set(state_a["digests"].values())
    assert len(added) == len(new_contents) + 1
    assert set(state_a["remote"]) <= set(state_b["remote"])


@pytest.mark.slow
def test_fresh_clone_restores_to_zero_jobs_and_identical_tables(project):
    home, a = project["home"], project["A"]
    repo = clone(project, "clone_a", rev=a)
    assert not (repo / "results").exists()
    out = ok(cvgr(repo, home, "restore"))
    assert a[:10] in out
    assert plans_nothing(repo, home, CONFIG_A)
    assert tables(repo) == project["state"][a]["tables"]
    assert digests(repo) == project["state"][a]["digests"]
    # provenance names the snapshot that holds the file
    assert f"snapshot: {a[:7]}" in ok(cvgr(repo, home, "provenance", CELL))


@pytest.mark.slow
def test_restore_switches_back_to_the_first_snapshot_from_the_cache(project):
    """In the project (at B), restoring A's config brings back A's files without recomputing; then back to B."""
    repo, home, a, b = project["repo"], project["home"], project["A"], project["B"]
    assert a[:10] in ok(cvgr(repo, home, "restore", "--configfile", CONFIG_A))
    assert tables(repo) == project["state"][a]["tables"]
    assert plans_nothing(repo, home, CONFIG_A)
    assert not plans_nothing(repo, home, CONFIG_B)  # Snakemake's metadata follows the restored config
    ok(cvgr(repo, home, "restore", b))
    assert digests(repo) == project["state"][b]["digests"]
    assert plans_nothing(repo, home, CONFIG_B)
    git(repo, home, "checkout", "-q", "results.dvc")
    assert git(repo, home, "status", "--porcelain") == ""


# ---------------------------------------------------------------- compare
def _csv_rows(text: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.decode())))


def _parse_cells(out: str) -> list[tuple[str, str, str, str, str, str]]:
    """(table, row, column, old, new, beyond) of each row of the printed cell table (its header skipped)."""
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in out.splitlines() if ln.startswith("| ")]
    return [(r[0], r[1], r[2], r[3], r[4], r[6]) for r in rows[1:]]


@pytest.mark.slow
def test_diff_names_exactly_the_changed_cells(project):
    repo, home, a, b = project["repo"], project["home"], project["A"], project["B"]
    old, new = project["state"][a], project["state"][b]
    out = ok(cvgr(repo, home, "diff", a, b))
    # the expected cells, from the two runs' CSVs compared cell by cell (same shape in both)
    expected: Counter = Counter()
    for name in old["tables"]:
        x, y = _csv_rows(old["tables"][name]), _csv_rows(new["tables"][name])
        assert len(x) == len(y) and x[0] == y[0]
        expected.update((Path(name).stem, x[0][j], x[i][j], y[i][j])
                        for i in range(1, len(x)) for j in range(len(x[0])) if x[i][j] != y[i][j])
    cells = _parse_cells(out)
    assert expected and Counter((t, col, o, n) for t, _, col, o, n, _ in cells) == expected
    assert {t for t, *_ in cells} <= {"nes", "nes_vs_paper", "claims"}
    # a measured NES accuracy has a 95% interval: its row says yes or no; columns without one say nothing
    for t, _, col, *_, beyond in cells:
        assert (beyond in ("yes", "no")) == ((t, col) in {("nes_vs_paper", "measured"), ("claims", "estimate")})
    changed = {p for p in old["digests"] if old["digests"][p] != new["digests"].get(p)}
    listed = {ln.split()[1] for ln in out.splitlines() if ln.startswith(("  modified ", "  added ", "  deleted "))}
    assert listed == changed
    assert "models retrained: none" in out


# ---------------------------------------------------------------- bad input: one line, nothing lost
@pytest.mark.slow
def test_revision_without_snapshot(project):
    repo, home = project["repo"], project["home"]
    before = digests(repo)
    line = error_line(cvgr(repo, home, "restore", project["first"]))
    assert "holds no snapshot" in line and project["first"][:10] in line and "git log" in line
    assert "is not a commit" in error_line(cvgr(repo, home, "restore", "no-such-rev"))
    assert "holds no snapshot" in error_line(cvgr(repo, home, "diff", project["first"], project["B"]))
    assert digests(repo) == before


@pytest.mark.slow
def test_missing_remote(project):
    home = project["home"]
    repo = clone(project, "clone_noremote")
    dvc(repo, home, "remote", "modify", "--local", "default", "url", str(project["tmp"] / "nowhere"))
    line = error_line(cvgr(repo, home, "restore"))
    assert "nowhere" in line and "dvc remote modify --local default url" in line
    assert not (repo / "results").exists()


@pytest.mark.slow
def test_corrupt_object_on_remote(project):
    home, b = project["home"], project["B"]
    remote = project["tmp"] / "remote_corrupt"
    shutil.copytree(remote_dir(home), remote)
    md5 = _md5_of(project, "results/tables/transfer.csv")
    target = object_path(remote, md5)
    target.chmod(0o644)
    target.write_text("source,target\nreal,Self\n")
    repo = clone(project, "clone_corrupt_remote")
    dvc(repo, home, "remote", "modify", "--local", "default", "url", str(remote))
    line = error_line(cvgr(repo, home, "restore", b))
    assert "md5 check" in line and "results/tables/transfer.csv" in line
    assert not (repo / "results").exists()


def _md5_of(project: dict, rel: str) -> str:
    return hashlib.md5((project["repo"] / rel).read_bytes()).hexdigest()


@pytest.mark.slow
def test_corrupt_object_in_cache_and_changed_local_results(project):
    home = project["home"]
    repo = clone(project, "clone_cache")
    ok(cvgr(repo, home, "restore"))
    table = repo / "results" / "tables" / "transfer.csv"
    good = table.read_bytes()
    # local results changed since the snapshot: refused, listed, kept; --force discards them
    table.write_bytes(good + b"real,Extra,1,2,3,4\n")
    line = error_line(cvgr(repo, home, "restore"))
    assert "results/tables/transfer.csv" in line and "--force" in line and "cvgr snapshot" in line
    assert table.read_bytes() == good + b"real,Extra,1,2,3,4\n"
    ok(cvgr(repo, home, "restore", "--force"))
    assert table.read_bytes() == good
    # a corrupt copy in the cache fails DVC's md5 check: with the remote gone the restore stops, nothing written
    cached = object_path(repo / ".dvc" / "cache", hashlib.md5(good).hexdigest())
    cached.chmod(0o644)
    cached.write_bytes(b"corrupt\n")
    cached.chmod(0o444)
    table.unlink()
    dvc(repo, home, "remote", "modify", "--local", "default", "url", str(project["tmp"] / "gone"))
    line = error_line(cvgr(repo, home, "restore"))
    assert "results/tables/transfer.csv" in line and "corrupt" in line
    assert not table.exists()
    # with the remote back, the corrupt copy is replaced by a checked one from the remote
    dvc(repo, home, "remote", "modify", "--local", "--unset", "default", "url")
    ok(cvgr(repo, home, "restore"))
    assert table.read_bytes() == good
    assert plans_nothing(repo, home, CONFIG_B)


@pytest.mark.slow
def test_snapshot_refuses_results_that_are_not_up_to_date(project):
    repo, home = project["repo"], project["home"]
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["datasets"]["fmnist"]["nes"]["images"] = 4
    (repo / "configs" / "test-nes4.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    head = git(repo, home, "rev-parse", "HEAD")
    line = error_line(cvgr(repo, home, "snapshot", "--configfile", "configs/test-nes4.yaml"))
    assert "snakemake -n plans" in line and "configs/test-nes4.yaml" in line
    assert git(repo, home, "rev-parse", "HEAD") == head
    (repo / "configs" / "test-nes4.yaml").unlink()


# ---------------------------------------------------------------- the cell comparison alone (no workflow)
@pytest.mark.parametrize("new, beyond", [("50.0000", True), ("44.0000", False), ("29.0000", True)])
def test_cell_change_against_the_old_interval(new, beyond):
    """measured 40 with 95% interval [30, 45]: a new value outside it is flagged; rows are matched by key."""
    from cvgr.versions.diff import table_changes
    head = "table,dataset,source_field,source_defense,target,field,defense,paper,measured,ci_low,ci_high\n"
    old = head + "nes,fmnist,,,,real,std,0.0,10.0000,5.0,15.0\nnes,fmnist,,,,real,gr,62.3,40.0000,30.0,45.0\n"
    rows = "nes,fmnist,,,,real,gr,62.3,{},30.0,45.0\nnes,fmnist,,,,real,std,0.0,10.0000,5.0,15.0\n"  # reordered
    changes = table_changes("nes_vs_paper", old, head + rows.format(new))
    assert len(changes) == 1
    c = changes[0]
    assert (c.row, c.column, c.old, c.new) == ("table=nes, dataset=fmnist, field=real, defense=gr", "measured",
                                               "40.0000", new)
    assert c.difference == pytest.approx(float(new) - 40.0)
    assert c.beyond is beyond


def test_cell_change_without_interval_and_added_row():
    from cvgr.versions.diff import table_changes
    head = "dataset,model,clean_acc\n"
    changes = table_changes("training", head + "fmnist,real-std-s0,8.0000\n",
                            head + "fmnist,real-std-s0,9.5000\nfmnist,real-gr32-s0,7.0000\n")
    got = {(c.row, c.column, c.old, c.new, c.beyond) for c in changes}
    assert got == {("dataset=fmnist, model=real-std-s0", "clean_acc", "8.0000", "9.5000", None),
                   ("dataset=fmnist, model=real-gr32-s0", "(row)", "", "present", None)}


def test_frontier_rows_are_matched_by_field_and_beta_and_checked_against_their_intervals():
    from cvgr.versions.diff import table_changes
    head = "dataset,field,beta,clean,clean_low,clean_high,robust,robust_low,robust_high,gap,gap_low,gap_high\n"
    old = head + "fmnist,real,16.0,78.0,77.0,79.0,20.0,15.0,25.0,3.0,1.0,5.0\n" \
        "fmnist,complex,16.0,81.0,80.0,82.0,28.0,22.0,34.0,3.0,1.0,5.0\n"
    new = head + "fmnist,complex,16.0,81.0,80.0,82.0,36.0,22.0,34.0,3.0,1.0,5.0\n" \
        "fmnist,real,16.0,78.0,77.0,79.0,20.0,15.0,25.0,3.0,1.0,5.0\n"  # reordered; complex robust 28 -> 36
    (c,) = table_changes("frontier", old, new)
    assert (c.row, c.column, c.old, c.new, c.beyond) == ("dataset=fmnist, field=complex, beta=16.0", "robust",
                                                         "28.0", "36.0", True)
