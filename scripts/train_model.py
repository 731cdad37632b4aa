"""Snakemake entry: rule train_model -> cvgr.steps.train."""
from cvgr.steps import snakemake_entry, train

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    p = snakemake.params
    train(snakemake.input.data, snakemake.output.model, snakemake.output.history, p.spec,
          checkpoint=p.checkpoint, device=p.device, threads=p.threads, progress=False)
