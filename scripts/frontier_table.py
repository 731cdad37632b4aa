"""Snakemake script of rule frontier_table: cvgr.frontier_table.write_frontier_table."""
from cvgr.frontier_table import write_frontier_table
from cvgr.lineage import record_lineage
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    write_frontier_table(list(smk.input.histories), list(smk.input.audit), list(smk.input.nes), smk.params.settings,
                         smk.output.csv, smk.output.md)
    record_lineage(smk, ("training", "audit", "nes", "frontier"))
