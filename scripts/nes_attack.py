"""Snakemake entry: rule nes_attack -> cvgr.steps.nes."""
from cvgr.steps import nes, snakemake_entry

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    p = snakemake.params
    nes(snakemake.input.data, snakemake.input.model, snakemake.output[0], p.spec, device=p.device, threads=p.threads)
