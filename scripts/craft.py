"""Snakemake script of rule craft: cvgr.steps.craft."""
from cvgr.study.script import snakemake_script
from cvgr.study.specs import AttackSpec, Runtime
from cvgr.steps import craft

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    p = smk.params
    craft(smk.input.data, smk.input.model, smk.output[0], AttackSpec.from_dict(p.spec), seed=p.seed,
          runtime=Runtime.from_dict(p.runtime))
