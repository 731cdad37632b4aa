"""Snakemake script of rule whitebox_figure: cvgr.plots.plot_whitebox."""
from cvgr.lineage import record_lineage
from cvgr.plots import plot_whitebox
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    plot_whitebox(list(smk.input), smk.output[0], smk.wildcards.dataset)
    record_lineage(smk, ("whitebox",))
