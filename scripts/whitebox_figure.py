"""Snakemake entry: rule whitebox_figure -> cvgr.plots.plot_whitebox."""
from cvgr.plots import plot_whitebox
from cvgr.entry import snakemake_entry

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    plot_whitebox(list(snakemake.input), snakemake.output[0], snakemake.wildcards.dataset)
