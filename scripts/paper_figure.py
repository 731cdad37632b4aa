"""Snakemake script of rule paper_figure: cvgr.plots.plot_paper."""
from cvgr.lineage import record_lineage
from cvgr.plots import plot_paper
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    plot_paper(list(smk.input), smk.output[0])
    record_lineage(smk, ("transfer",))
