# The two commands of the README. Both set up a fresh Debian machine first (tools/setup.sh).
.PHONY: setup run test test-fast bench gpu-check gpu-study snapshot pull

setup:
	bash tools/setup.sh

# The default study (config.yaml) end to end: tables in results/tables, figures in results/figures.
run: setup
	.venv/bin/snakemake --cores all
	.venv/bin/snakemake --report results/report.html

# The test suite, including the SLURM test against a real one-node cluster on localhost.
test:
	bash tools/setup.sh --with-slurm
	.venv/bin/python -m pytest -v --durations=15

# The edit loop: every test that runs no Snakemake, no SLURM and no whole pipeline (about 2 minutes on 2 cores).
test-fast: setup
	.venv/bin/python -m pytest -q -m "not slow and not slurm and not workflow"

# Versions of results/ (docs/VERSIONS.md): record the results of CONFIG as a snapshot commit and push them to
# the DVC remote; bring back the snapshot of the checked-out commit (from the DVC cache or the remote).
CONFIG ?= config.yaml
snapshot: setup
	.venv/bin/python -m cvgr snapshot --configfile $(CONFIG)

pull: setup
	.venv/bin/python -m cvgr restore

bench: setup
	.venv/bin/python bench/run.py

# On a machine with a GPU (docs/GPU.md): every stage on CUDA, CUDA vs CPU, determinism, CUDA graphs, the GPU
# benchmark; one table, copies in $$OUT. Needs only a stock PyTorch image (python3 with torch), no network.
# The data: .gpu-data (tools/gpu_bundle.sh) when it is there, else Debian's package.
GPU_DATA ?= $(if $(wildcard .gpu-data/*.gz),.gpu-data,/usr/share/datasets/fashion-mnist)
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
gpu-check:
	PYTHONPATH=$(CURDIR) PYTHONUNBUFFERED=1 $(PYTHON) tools/gpu_check.py --data $(GPU_DATA)

# The paper's Fashion-MNIST study (configs/paper-fmnist.yaml) with Snakemake on a GPU machine that has no
# Snakemake: needs `bash tools/gpu_bundle.sh --wheels` run beforehand on a machine with network access.
gpu-study:
	bash tools/gpu_study.sh configs/paper-fmnist.yaml
