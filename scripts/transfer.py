"""Snakemake script of rule transfer: cvgr.steps.transfer."""
from cvgr.study.script import snakemake_script
from cvgr.study.specs import Runtime
from cvgr.steps import transfer

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    transfer(smk.input.adv, smk.input.model, smk.output[0], runtime=Runtime.from_dict(smk.params.runtime))
