"""Snakemake entry: rule training_table -> cvgr.tables.write_training_table."""
from cvgr.entry import snakemake_entry
from cvgr.tables import write_training_table

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    write_training_table(list(snakemake.input), snakemake.output[0])
