"""Snakemake script of rule masking_table: cvgr.masking_table.write_masking_table."""
from cvgr.lineage import record_lineage
from cvgr.masking_table import write_masking_table
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    write_masking_table(list(smk.input), smk.output.csv, smk.output.md)
    record_lineage(smk, ("audit",))
