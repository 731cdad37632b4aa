"""Snakemake script of rule zeta_figure: cvgr.plots.plot_zeta."""
from cvgr.lineage import record_lineage
from cvgr.plots import plot_zeta
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    plot_zeta(list(smk.input), smk.output[0], smk.wildcards.dataset)
    record_lineage(smk, ("betas", "training"))
