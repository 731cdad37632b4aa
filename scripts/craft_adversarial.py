"""Snakemake entry: rule craft_adversarial -> cvgr.steps.craft."""
from cvgr.steps import craft, snakemake_entry

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    p = snakemake.params
    craft(snakemake.input.data, snakemake.input.model, snakemake.output[0], p.spec,
          device=p.device, threads=p.threads)
