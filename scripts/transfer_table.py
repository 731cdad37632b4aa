"""Snakemake script of rule transfer_table: cvgr.tables.write_transfer_table."""
from cvgr.lineage import record_lineage
from cvgr.script import snakemake_script
from cvgr.tables import write_transfer_table

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    write_transfer_table(list(smk.input), smk.output.csv, smk.output.md)
    record_lineage(smk, ("transfer",))
