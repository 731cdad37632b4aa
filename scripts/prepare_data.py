"""Snakemake script of rule prepare_data: cvgr.steps.prepare."""
from cvgr.config import Study
from cvgr.script import snakemake_script
from cvgr.steps import prepare

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    section = Study.from_mapping(smk.config).plan(smk.wildcards.dataset).section
    prepare(smk.wildcards.dataset, smk.output[0], raw_dir=section.raw_dir, download=section.download)
