"""Snakemake script of rules transfer_vs_paper and nes_vs_paper: cvgr.comparison.write_paper_comparison."""
from cvgr.comparison import write_paper_comparison
from cvgr.lineage import record_lineage
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    table = smk.rule.removesuffix("_vs_paper")
    write_paper_comparison(table, list(smk.input), smk.output.csv, smk.output.md)
    record_lineage(smk, (table,))
