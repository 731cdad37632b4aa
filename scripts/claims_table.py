"""Snakemake script of rule claims_table: cvgr.comparison.write_claims_table."""
from cvgr.comparison import write_claims_table
from cvgr.lineage import record_lineage
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    write_claims_table(list(smk.input.histories), list(smk.input.transfer), list(smk.input.nes),
                       smk.output.csv, smk.output.md, list(smk.input.frontier_histories),
                       list(smk.input.frontier_audit), smk.params.frontier)
    record_lineage(smk, ("training", "transfer", "nes", "audit", "frontier"))
