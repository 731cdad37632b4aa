"""Snakemake entry: rule prepare_data -> cvgr.steps.prepare."""
from cvgr.config import prepare_args
from cvgr.steps import prepare, snakemake_entry

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    dataset = snakemake.wildcards.dataset
    prepare(dataset, snakemake.output[0], **prepare_args(snakemake.config, dataset))
