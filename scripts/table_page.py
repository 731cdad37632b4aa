"""Snakemake script of rules *_page: cvgr.pages.markdown_page."""
from cvgr.pages import markdown_page
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    markdown_page(smk.input[0], smk.output[0])
