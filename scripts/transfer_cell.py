"""Snakemake entry: rule transfer_cell -> cvgr.steps.transfer."""
from cvgr.steps import snakemake_entry, transfer

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    p = snakemake.params
    transfer(snakemake.input.adv, snakemake.input.model, snakemake.output[0], device=p.device, threads=p.threads)
