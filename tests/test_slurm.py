"""profiles/slurm against a real one-node SLURM cluster on localhost.

    python -m pytest -q -s tests/test_slurm.py -m slurm

The cluster (tests/slurm_cluster.py) has no accounting database and no GPU,
so every run adds two things to the repository's profile, nothing else:

* ``CLUSTER_ARGS``: read job states with ``squeue`` (``sacct`` answers
  "accounting storage is disabled"), poll after 1 s instead of 40 s, no
  account (plugin 2.8.0 accepts ``--slurm-no-account`` but ignores it);
* a second profile written by :func:`write_node_overlay` that replaces the
  profile's ``default-resources`` / ``set-resources`` with the same requests
  minus GPUs and site names (partition, account, qos, constraint), memory
  capped at the node's RealMemory. Without it sbatch rejects ``--gpus=1``
  on a node that declares no GPU.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import dry_run_jobs
from slurm_cluster import SlurmCluster, slurm_cluster  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.workflow  # runs Snakemake or the whole pipeline: not in make test-fast

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TEST_CONFIG = REPO / "configs" / "test.yaml"
SLURM_PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "local"
GPU_RULES = {"train", "craft", "transfer", "whitebox", "nes", "audit"}
GPU_KEYS = ("gpu", "gpus", "gpu_model", "gres")
SITE_KEYS = ("slurm_partition", "slurm_account", "qos", "constraint")
CLUSTER_ARGS = ("--slurm-status-command", "squeue", "--slurm-no-account",
                "--slurm-init-seconds-before-status-checks", "1")
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
WORKFLOW_TIMEOUT_S = 3600  # one snakemake call; ~17 min seen on 2 busy cores


def load_profile(profile_dir: Path) -> dict:
    """The profile's config.yaml as a dict."""
    return yaml.safe_load((profile_dir / "config.yaml").read_text())


def fit_to_node(resources: dict, cluster: SlurmCluster) -> dict:
    """``resources`` without GPU and site keys, ``mem_mb`` capped at the node's RealMemory."""
    fitted = {k: v for k, v in resources.items() if k not in GPU_KEYS + SITE_KEYS}
    if isinstance(fitted.get("mem_mb"), int):
        fitted["mem_mb"] = min(fitted["mem_mb"], cluster.real_memory_mb)
    return fitted


def write_node_overlay(profile: dict, cluster: SlurmCluster, dest: Path) -> Path:
    """A profile dir whose resources are ``profile``'s fitted to the test node (given after it, it wins)."""
    overlay = {
        "default-resources": fit_to_node(profile.get("default-resources") or {}, cluster),
        "set-resources": {rule: fit_to_node(res, cluster) for rule, res in (profile.get("set-resources") or {}).items()},
    }
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(overlay, sort_keys=True))
    return dest


def snakemake_logged(args: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    """``python -m snakemake *args`` with output in ``log``; fail with its tail on a non-zero exit."""
    with open(log, "w") as fh:
        res = subprocess.run([sys.executable, "-m", "snakemake", *args], env=env, stdout=fh,
                             stderr=subprocess.STDOUT, text=True, timeout=WORKFLOW_TIMEOUT_S)
    if res.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        pytest.fail(f"snakemake exited {res.returncode} (full log {log}):\n{tail}")
    return res


def run_on_slurm(cluster: SlurmCluster, snakefile: Path, workdir: Path, *extra: str) -> dict[str, Path]:
    """Run ``snakefile`` in ``workdir`` through profiles/slurm on ``cluster``; {slurm job id: its log file}."""
    overlay = write_node_overlay(load_profile(SLURM_PROFILE), cluster, workdir.parent / f"{workdir.name}-node-profile")
    log = workdir.parent / f"{workdir.name}-snakemake.log"
    snakemake_logged(["-s", str(snakefile), "--directory", str(workdir), "--profile", str(SLURM_PROFILE),
                   "--profile", str(overlay), *CLUSTER_ARGS, *extra], cluster.env, log)
    return {job_id: Path(path) for job_id, path in SUBMITTED.findall(log.read_text())}


def planned_gpus(plan: str) -> dict[str, set[int]]:
    """{rule: the gpu counts its jobs ask for} in the printed plan of a dry run."""
    asked: dict[str, set[int]] = {}
    for job in dry_run_jobs(plan):
        rule = job.splitlines()[0].split()[1].rstrip(":")
        found = re.search(r"^resources: .*\bgpu=(\d+)", job, re.M)
        asked.setdefault(rule, set()).add(int(found.group(1)) if found else 0)
    return asked


def gpus_per_rule(tmp_path: Path, device: str) -> dict[str, set[int]]:
    """{rule: the gpu counts its jobs ask for} in a dry run of configs/test.yaml with ``--config device=...``."""
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(tmp_path),
                          "--configfile", str(TEST_CONFIG), "--config", f"device={device}", "-n", "--forceall"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return planned_gpus(res.stdout)


def test_rules_that_compute_ask_for_one_gpu_when_the_device_is_cuda(tmp_path: Path):
    """The workflow's own resources: a GPU per training/attack/transfer/NES job on CUDA, none on CPU or auto."""
    cuda = gpus_per_rule(tmp_path, "cuda")
    assert {r for r, n in cuda.items() if n == {1}} == GPU_RULES
    assert all(n <= {0} for r, n in cuda.items() if r not in GPU_RULES)  # data, tables, figures: no GPU
    assert all(n <= {0} for n in gpus_per_rule(tmp_path, "cpu").values())
    assert all(n <= {0} for n in gpus_per_rule(tmp_path, "auto").values())  # auto: decided in each job
    profile = load_profile(SLURM_PROFILE)
    assert profile["executor"] == "slurm"
    assert not set(GPU_KEYS) & (set(profile["default-resources"])
                                | {k for res in profile["set-resources"].values() for k in res})


@pytest.mark.slurm
def test_readme_cluster_command_asks_slurm_for_a_gpu_per_computing_job(slurm_cluster: SlurmCluster, tmp_path: Path):
    """`snakemake --profile profiles/slurm --configfile configs/paper.yaml -n` on a login node without a GPU."""
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(tmp_path),
                          "--profile", str(SLURM_PROFILE), "--configfile", str(REPO / "configs/paper.yaml"), "-n"],
                         env=slurm_cluster.env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    asked = planned_gpus(res.stdout)
    assert {r for r, n in asked.items() if n == {1}} == GPU_RULES and len(asked["train"]) == 1
    assert all(n == {0} for r, n in asked.items() if r not in GPU_RULES)  # data, tables, figures
    # 45 nets of the paper grid, 12 more of its Fashion-MNIST frontier (betas 0, 16, 64, 256 over seeds 0-2)
    assert sum(job.startswith("rule train:") for job in dry_run_jobs(res.stdout)) == 45 + 12


@pytest.mark.slurm
def test_data_is_prepared_where_snakemake_runs_and_training_is_a_slurm_job(slurm_cluster: SlurmCluster,
                                                                          tmp_path: Path):
    """One model of configs/test.yaml on SLURM: prepare runs locally (compute nodes may be offline)."""
    workdir = tmp_path / "one"
    submitted = run_on_slurm(slurm_cluster, SNAKEFILE, workdir, "results/models/fmnist/real-std-s0.pt",
                             "--configfile", str(TEST_CONFIG))
    log = (tmp_path / "one-snakemake.log").read_text()
    assert re.search(r"^localrule prepare:$", log, re.M) and not re.search(r"^rule prepare:", log, re.M)
    assert re.search(r"^rule train:$", log, re.M) and len(submitted) == 1
    made_by = _provenance_job_ids(workdir / "results")
    assert made_by == {"data/fmnist.h5": None, "models/fmnist/real-std-s0.h5": list(submitted)[0],
                       "models/fmnist/real-std-s0.pt": list(submitted)[0]}


@pytest.mark.parametrize("profile", [SLURM_PROFILE, LOCAL_PROFILE], ids=["slurm", "local"])
def test_profiles_parse_and_name_real_rules(tmp_path: Path, profile: Path):
    """Each profile loads with the installed snakemake/plugin; its set-resources names only rules of the workflow."""
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile",
                          str(TEST_CONFIG), "--directory", str(tmp_path), "--profile", str(profile),
                          "--list-rules"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert set(load_profile(profile).get("set-resources") or {}) <= set(res.stdout.split())


SMOKE_SNAKEFILE = """\
rule all:
    input: "a.txt", "b.txt"

rule job:
    output: "{x}.txt"
    threads: 1
    shell: 'echo "$SLURM_JOB_ID" > {output}'
"""


@pytest.mark.slurm
def test_two_jobs_run_as_slurm_jobs(slurm_cluster: SlurmCluster, tmp_path: Path):
    """Each job of a 2-job Snakefile runs as its own SLURM job with the profile's default resources."""
    workdir = tmp_path / "smoke"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(SMOKE_SNAKEFILE)
    submitted = run_on_slurm(slurm_cluster, workdir / "Snakefile", workdir)
    seen = {x: (workdir / f"{x}.txt").read_text().strip() for x in "ab"}
    print(f"\nsmoke test: SLURM job ids {sorted(submitted, key=int)}, jobs saw SLURM_JOB_ID {seen}")
    assert set(seen.values()) == set(submitted) and len(submitted) == 2, \
        f"jobs saw SLURM_JOB_ID {seen}, snakemake submitted {sorted(submitted)}"
    defaults = fit_to_node(load_profile(SLURM_PROFILE)["default-resources"], slurm_cluster)
    for x, job_id in seen.items():
        info = slurm_cluster.job_info(job_id)
        assert (info["JobState"], info["Partition"]) == ("COMPLETED", "main"), info
        assert f"cpu=1,mem={defaults['mem_mb']}M" in info["TRES"], info["TRES"]  # threads: 1, profile's mem_mb
        # the profile keeps the logs of successful jobs
        assert submitted[job_id] == workdir / ".snakemake" / "slurm_logs" / "rule_job" / x / f"{job_id}.log"
        assert submitted[job_id].is_file()


def _provenance_job_ids(results: Path) -> dict[str, str | None]:
    """{relative path: provenance slurm_job_id} for every .h5 / .pt under ``results``."""
    from cvgr.results.io import read_provenance

    files = sorted(p for p in results.rglob("*") if p.suffix in (".h5", ".pt"))
    return {str(p.relative_to(results)): read_provenance(p)["slurm_job_id"] for p in files}


@pytest.mark.slurm
@pytest.mark.slow
def test_workflow_on_slurm_matches_local_run(slurm_cluster: SlurmCluster, runs, tmp_path: Path):
    """configs/test.yaml through profiles/slurm: every model and attack result made by a SLURM job, the data
    and the tables where Snakemake runs, tables = a local run's."""
    local, cluster = runs[0], tmp_path / "slurm"  # the local reference: the workflow tests' --cores 2 run
    submitted = run_on_slurm(slurm_cluster, SNAKEFILE, cluster, "--configfile", str(TEST_CONFIG))

    ids = sorted(submitted, key=int)
    print(f"\nworkflow on SLURM: {len(ids)} jobs, SLURM job ids {ids}")
    log = (tmp_path / "slurm-snakemake.log").read_text()
    ran = {m.group(2): bool(m.group(1)) for m in re.finditer(r"^(local)?rule (\w+):$", log, re.M)}
    assert {r for r, local in ran.items() if not local} == GPU_RULES, ran  # data, tables, pages: localrules
    made_by = _provenance_job_ids(cluster / "results")
    assert made_by.pop("data/fmnist.h5") is None  # prepared where Snakemake runs
    assert made_by and all(j in submitted for j in made_by.values()), \
        f"result files not made by a submitted SLURM job {ids}: " \
        f"{ {f: j for f, j in made_by.items() if j not in submitted} }"
    assert set(made_by.values()) == set(submitted), \
        f"SLURM jobs {sorted(set(submitted) - set(made_by.values()), key=int)} left no result file (failed, retried?)"
    assert set(_provenance_job_ids(local / "results").values()) == {None}, "the local run saw a SLURM_JOB_ID"
    missing_logs = [j for j, log in submitted.items() if not log.is_file()]
    assert not missing_logs, f"no .snakemake/slurm_logs file for SLURM jobs {missing_logs}"
    unlogged = [f for f, j in made_by.items() if f"results/{f}" not in submitted[j].read_text()]
    assert not unlogged, f"SLURM job logs do not name these outputs of their jobs: {unlogged}"

    tables = sorted(p.name for p in (local / "results" / "tables").glob("*.csv"))
    assert tables and tables == sorted(p.name for p in (cluster / "results" / "tables").glob("*.csv"))
    differ = [t for t in tables if (local / "results/tables" / t).read_bytes()
              != (cluster / "results/tables" / t).read_bytes()]
    assert not differ, f"tables differ between the local run and SLURM jobs {ids}: {differ}"
