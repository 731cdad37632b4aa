"""Snakemake script of rule nes: cvgr.steps.nes."""
from cvgr.study.script import snakemake_script
from cvgr.study.specs import NesSpec, Runtime
from cvgr.steps import nes

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    p = smk.params
    nes(smk.input.data, smk.input.model, smk.output[0], NesSpec.from_dict(p.spec), seed=p.seed,
        runtime=Runtime.from_dict(p.runtime))
