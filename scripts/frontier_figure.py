"""Snakemake script of rule frontier_figure: cvgr.plots.plot_frontier."""
from cvgr.lineage import record_lineage
from cvgr.plots import plot_frontier
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    plot_frontier(list(smk.input.histories), list(smk.input.audit), [], smk.params.settings, smk.output[0],
                  smk.wildcards.dataset)
    record_lineage(smk, ("training", "audit", "frontier"))
