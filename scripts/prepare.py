"""Snakemake script of rule prepare: cvgr.steps.prepare."""
from pathlib import Path

from cvgr.study.layers import with_default
from cvgr.study.script import snakemake_script
from cvgr.steps import prepare

with snakemake_script(snakemake) as smk:  # noqa: F821 (injected by Snakemake)
    dataset = smk.wildcards.dataset
    # Not a param, so flipping it reruns nothing (rules/prepare.smk); the Snakefile has checked the key.
    download = with_default(smk.config, Path(smk.scriptdir).parent / "config.yaml")["datasets"][dataset]["download"]
    prepare(dataset, smk.output[0], raw_dir=smk.params.raw_dir, download=download)
