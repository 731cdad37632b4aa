"""Shared test helpers: the repository paths and a runner for the Snakemake workflow."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
FMNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m snakemake -s <repo>/Snakefile --directory workdir *args``; stdout+stderr in ``.stdout``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir), *args]
    res = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} exited {res.returncode}:\n" + "\n".join(res.stdout.splitlines()[-40:]))
    return res


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
