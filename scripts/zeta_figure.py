"""Snakemake entry: rule zeta_figure -> cvgr.plots.plot_zeta."""
from cvgr.plots import plot_zeta
from cvgr.entry import snakemake_entry

with snakemake_entry(snakemake):  # noqa: F821 (injected by Snakemake)
    plot_zeta(list(snakemake.input), snakemake.output[0], snakemake.wildcards.dataset)
