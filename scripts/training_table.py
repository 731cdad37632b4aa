"""Snakemake script of rule training_table: cvgr.tables.write_training_table."""
from cvgr.lineage import record_lineage
from cvgr.script import snakemake_script
from cvgr.tables import write_training_table

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    write_training_table(list(smk.input), smk.output[0])
    record_lineage(smk, ("betas", "training", "adversarial"))
