"""Snakemake entry: rule whitebox_table -> cvgr.tables.write_whitebox_table."""
from cvgr.entry import snakemake_entry
from cvgr.tables import write_whitebox_table

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    write_whitebox_table(list(snakemake.input), snakemake.output[0])
