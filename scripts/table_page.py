"""Snakemake script of rules *_page: cvgr.pages.markdown_page."""
from cvgr.lineage import record_lineage
from cvgr.pages import markdown_page
from cvgr.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    markdown_page(smk.input[0], smk.output[0])
    record_lineage(smk)
