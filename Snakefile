"""cvgr workflow: raw dataset -> trained real/complex nets -> attacks -> the paper's tables and figures.

    snakemake --cores all                                   # default config.yaml (Fashion-MNIST, CPU scale)
    snakemake --cores all --configfile configs/paper.yaml   # the paper's full study (GPU)
    snakemake --report results/report.html                  # tables and figures with captions

Stages (one rules/*.smk each): data -> train -> attack (FGSM sets, white-box sweeps)
-> transfer (cells, table) -> nes (attacks, table) -> audit (gradient-masking sweeps,
table, figure) -> compare (the paper's numbers and claims beside the measured ones)
-> report (white-box and training tables, figures, the tables' HTML pages).
Output paths are a contract; see rules/common.smk.
"""
import os

from snakemake.utils import min_version

min_version("9.0")

# A --configfile replaces config.yaml instead of being merged into it, so keys that
# only the default has (e.g. a dataset's nes section) never leak into another config.
if not workflow.overwrite_configfiles:
    configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/attack.smk"
include: "rules/transfer.smk"
include: "rules/nes.smk"
include: "rules/audit.smk"
include: "rules/compare.smk"
include: "rules/report.smk"


# Tables and figures are cheap: run them where Snakemake runs, not as cluster jobs
# (the tables' HTML pages, generated in rules/report.smk, say so themselves: localrule).
localrules:
    all,
    transfer_table,
    nes_table,
    whitebox_table,
    training_table,
    whitebox_figure,
    zeta_figure,
    masking_table,
    masking_figure,
    transfer_vs_paper,
    nes_vs_paper,
    paper_figure,
    claims_table,


rule all:
    input:
        final_targets(),
    default_target: True
