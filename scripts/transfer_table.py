"""Snakemake entry: rule transfer_table -> cvgr.tables.write_transfer_table."""
from cvgr.entry import snakemake_entry
from cvgr.tables import write_transfer_table

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    write_transfer_table(list(snakemake.input), snakemake.output.csv, snakemake.output.md)
