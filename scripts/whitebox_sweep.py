"""Snakemake entry: rule whitebox_sweep -> cvgr.steps.whitebox."""
from cvgr.steps import snakemake_entry, whitebox

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    p = snakemake.params
    whitebox(snakemake.input.data, snakemake.input.model, snakemake.output[0], p.spec,
             device=p.device, threads=p.threads)
