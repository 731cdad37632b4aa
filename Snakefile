"""cvgr workflow: raw dataset -> trained real/complex nets -> attacks -> the paper's tables and figures.

    snakemake --cores all                                   # default config.yaml (Fashion-MNIST, CPU scale)
    snakemake --cores all --configfile configs/paper.yaml   # the paper's full study (GPU)
    snakemake --report results/report.html                  # tables and figures with captions

The study is config.yaml with the user's --configfile files and --config merged on top
(cvgr.study.layers; docs/CONFIG.md): a file of overrides holds only the keys it changes.

Stages (one rules/*.smk each): data -> train -> attack (FGSM sets, white-box sweeps)
-> transfer (cells) -> nes (attacks) -> audit (gradient-masking sweeps, also of the frontier's
models) -> report (every table and figure registered in cvgr/report/catalogue.py, among them the
robustness-accuracy frontier, the paper's numbers and claims beside the measured ones, and the
tables' HTML pages).
Output paths are a contract; see rules/common.smk.
"""
from snakemake.utils import min_version

min_version("9.0")

report: "report/workflow.rst"


# Data preparation (it may download), tables and figures run where Snakemake runs, never as cluster
# jobs: each of those rules says `localrule: True` itself, so the choice holds when cvgr is a module.
include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/train.smk"
include: "rules/craft.smk"
include: "rules/whitebox.smk"
include: "rules/transfer.smk"
include: "rules/nes.smk"
include: "rules/audit.smk"
include: "rules/report.smk"


rule all:
    input:
        final_targets(),
    default_target: True
    localrule: True
