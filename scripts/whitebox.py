"""Snakemake script of rule whitebox: cvgr.steps.whitebox."""
from cvgr.study.script import snakemake_script
from cvgr.study.specs import Runtime, WhiteboxSpec
from cvgr.steps import whitebox

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    p = smk.params
    whitebox(smk.input.data, smk.input.model, smk.output[0], WhiteboxSpec.from_dict(p.spec), seed=p.seed,
             runtime=Runtime.from_dict(p.runtime))
