"""Shared test helpers: the repository paths and a runner for the Snakemake workflow."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
FMNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
TEST_CONFIG = REPO / "configs" / "test.yaml"
RUN_TIMEOUT_S = 1500  # one tiny workflow run


def pytest_collection_modifyitems(config, items):
    """Mark ``workflow`` every test that runs Snakemake (it asks for ``run_snakemake``); skip every test
    marked ``cuda`` on a machine without a CUDA GPU. The one place that decides both."""
    import torch

    skip = None if torch.cuda.is_available() else pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "run_snakemake" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.workflow)
        if skip and "cuda" in item.keywords:
            item.add_marker(skip)


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m snakemake -s <repo>/Snakefile --directory workdir *args``; stdout+stderr in ``.stdout``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir), *args]
    res = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} exited {res.returncode}:\n" + "\n".join(res.stdout.splitlines()[-40:]))
    return res


def quadrant_images(n: int = 256, seed: int = 0):
    """Synthetic 28x28 images whose label is the quadrant holding a bright square (a test fixture, not a dataset)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.2
    y = torch.randint(0, 4, (n,), generator=g)
    for i in range(n):
        r, c = divmod(int(y[i]), 2)
        x[i, 0, r * 14 + 3:r * 14 + 11, c * 14 + 3:c * 14 + 11] = 1.0
    return x, y


@pytest.fixture
def no_weight_gradients(monkeypatch):
    """Complex layers whose paper-mode weight gradient raises: an attack must never ask for one.

    Checked to be live: a training backward through a complex net does ask, and fails.
    """
    import torch
    import torch.nn.functional as F
    from cvgr.nn import ComplexConv2d, ComplexLinear, build_model

    def refuse(*args, **kwargs):
        raise AssertionError("an attack computed a weight gradient")

    for cls in (ComplexConv2d, ComplexLinear):
        monkeypatch.setattr(cls, "_block_weight_grad", refuse)
    net = build_model("mlp", "complex", in_shape=(1, 2, 2))
    with pytest.raises(AssertionError, match="weight gradient"):
        F.cross_entropy(net(torch.rand(2, 1, 2, 2)), torch.tensor([0, 1])).backward()


@pytest.fixture(scope="session")
def run_snakemake() -> Callable[..., subprocess.CompletedProcess]:
    """The :func:`snakemake` runner as a fixture."""
    return snakemake


@pytest.fixture(scope="session")
def fmnist_raw() -> Path:
    """Debian's Fashion-MNIST files (skip when absent: the workflow tests need the real data)."""
    if not (FMNIST_DEBIAN / "train-images-idx3-ubyte.gz").is_file() and not os.environ.get("CVGR_DATA"):
        pytest.skip("Fashion-MNIST not installed: apt-get install dataset-fashion-mnist (or set CVGR_DATA)")
    return FMNIST_DEBIAN


def write_config(workdir: Path, name: str = "config.yaml", **changes) -> Path:
    """configs/test.yaml with ``changes`` ({"transfer.beta": 32}) applied to datasets.fmnist, in workdir."""
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    for dotted, value in changes.items():
        node = cfg["datasets"]["fmnist"]
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


#: The lines of a job in a dry run's plan that say which job it is and what it asks for.
_JOB_KEYS = ("input:", "output:", "log:", "wildcards:", "priority:", "resources:", "threads:")


def dry_run_jobs(plan: str) -> list[str]:
    """The jobs of ``snakemake -n``'s output, sorted: each one's header (``rule X:`` or ``localrule X:``)
    with its input, output, log, wildcards, priority, threads and resources (not job ids, times or reasons)."""
    jobs, job = [], None
    for line in plan.splitlines():
        if line.startswith(("rule ", "localrule ")) and line.endswith(":"):
            job = [line]
            jobs.append(job)
        elif job is not None and line.startswith("    ") and line.strip().startswith(_JOB_KEYS):
            job.append(line.strip())
        elif not line.startswith("    "):
            job = None
    return sorted("\n".join(j) for j in jobs)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, fmnist_raw) -> tuple[Path, Path]:
    """Two fresh runs of configs/test.yaml, side by side: (run with --cores 2, run with --cores 1).

    Session-wide: the workflow tests check them, and the SLURM test compares its tables with the first.
    """
    dirs = [tmp_path_factory.mktemp("run_cores2"), tmp_path_factory.mktemp("run_cores1")]
    procs = []
    for workdir, cores in zip(dirs, ("2", "1")):
        config = write_config(workdir)
        log = open(workdir / "snakemake.out", "w")
        procs.append((subprocess.Popen(
            [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
             "--configfile", str(config), "--cores", cores], stdout=log, stderr=subprocess.STDOUT), log))
    try:
        for (proc, _), workdir in zip(procs, dirs):
            rc = proc.wait(timeout=RUN_TIMEOUT_S)
            if rc != 0:
                tail = "\n".join((workdir / "snakemake.out").read_text().splitlines()[-40:])
                pytest.fail(f"workflow run in {workdir} exited {rc}:\n{tail}")
    finally:
        for proc, log in procs:
            if proc.poll() is None:  # failed or timed out: stop the other run (Snakemake stops its jobs)
                proc.terminate()
                proc.wait(timeout=120)
            log.close()
    return dirs[0], dirs[1]


def copy_run(run: Path, dest: Path) -> Path:
    """A finished workflow run's results/, logs/ and Snakemake metadata copied into ``dest``.

    Modification times are kept and the metadata records paths relative to the run's folder, so Snakemake
    plans nothing there for the same config and code: a test starts from a finished study without running it.
    """
    for name in ("results", "logs", ".snakemake/metadata"):
        if (run / name).is_dir():
            shutil.copytree(run / name, dest / name, symlinks=True, dirs_exist_ok=True)
    return dest
