"""Snakemake script of rule train: cvgr.steps.train."""
from cvgr.study.script import snakemake_script
from cvgr.study.specs import Runtime, TrainSpec
from cvgr.steps import train

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    p = smk.params
    train(smk.input.data, smk.output.model, smk.output.history, TrainSpec.from_dict(p.spec),
          runtime=Runtime.from_dict(p.runtime), checkpoint=p.checkpoint, progress=False)
