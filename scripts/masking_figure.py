"""Snakemake script of rule masking_figure: cvgr.plots.plot_masking."""
from cvgr.lineage import record_lineage
from cvgr.plots import plot_masking
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    plot_masking(list(smk.input), smk.output[0], smk.wildcards.dataset)
    record_lineage(smk, ("audit",))
