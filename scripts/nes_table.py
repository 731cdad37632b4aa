"""Snakemake entry: rule nes_table -> cvgr.tables.write_nes_table."""
from cvgr.entry import snakemake_entry
from cvgr.tables import write_nes_table

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    write_nes_table(list(snakemake.input), snakemake.output.csv, snakemake.output.md)
