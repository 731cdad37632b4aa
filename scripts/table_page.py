"""Snakemake script of rules *_page: cvgr.report.pages.markdown_page."""
from cvgr.results.lineage import record_lineage
from cvgr.report.pages import markdown_page
from cvgr.study.script import snakemake_script

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    markdown_page(smk.input[0], smk.output[0])
    record_lineage(smk)
