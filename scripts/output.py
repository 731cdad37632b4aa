"""Snakemake script of every registered table and figure (rules/report.smk): cvgr.report.outputs.run."""
from cvgr.report.outputs import run
from cvgr.study.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    run(smk)
