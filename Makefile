# The two commands of the README. Both set up a fresh Debian machine first (tools/setup.sh).
.PHONY: setup run test bench

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

bench: setup
	.venv/bin/python bench/run.py
