"""Snakemake script of every registered table and figure (rules/report.smk): cvgr.outputs.run."""
from cvgr.outputs import run
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    run(smk)
