"""Shared by every rule: the checked study, path helpers, per-job params.

Output contract (users and scripts rely on these paths):
    results/data/{dataset}.h5
    results/models/{dataset}/{model}.pt  and  .h5 (training history)
    results/craft/{dataset}/{attack}/{model}.h5
    results/transfer/{dataset}/{source}/{target}.h5
    results/whitebox/{dataset}/{attack}/{model}.h5
    results/audit/{dataset}/{attack}/{model}.h5
    results/nes/{dataset}/{model}.h5
    results/tables/{transfer,nes,masking,claims,transfer_vs_paper,nes_vs_paper}.{csv,md,html}
    results/tables/{whitebox,training}.csv
    results/figures/{whitebox,zeta,masking}_{dataset}.png, results/figures/transfer_vs_paper.png
    results/tables/*.prov.json, results/figures/*.prov.json (each table's and figure's lineage)
    (the tables and figures as registered in cvgr/report/catalogue.py; paths: cvgr.report.outputs)
    logs/{rule}/{dataset}/....log
Each rule's params hold its job spec (cvgr.study.specs, as plain values), the runtime
it needs and the hash of the code its stage runs (cvgr.study.codehash.code_hash), so a
changed setting or changed code reruns exactly the jobs it changes.
"""
import sys

from cvgr.study.plan import Plan
from cvgr.errors import CvgrError
from cvgr.study.layers import snakemake_layers, study
import cvgr.report.catalogue  # registers cvgr's own tables and figures
from cvgr.report.outputs import registered, targets as output_targets
from cvgr.study.runlock import claim, runs_jobs
from cvgr.study.codehash import code_hash
from cvgr.vocab import AttackId, attack_pattern, model_pattern


# The study: cvgr's config.yaml, the user's files of overrides on top, then --config (cvgr.study.layers).
# One line naming the file, the key and the allowed values, before any job runs.
try:
    STUDY = study(snakemake_layers(workflow.source_path("../config.yaml"), workflow.configfiles,
                                   workflow.overwrite_configfiles, workflow.config_settings.config, config))
except CvgrError as err:
    sys.exit(f"cvgr error: {err}")
# Every job's script imports the study's plugins (cvgr.study.script), as the study did above (cvgr.plugins).
config["plugins"] = list(STUDY.config.plugins)

# One run per working directory: the Snakemake process that runs jobs holds cvgr's run lock; locks
# left by a run that no longer exists are cleared, a live run is never overridden (cvgr.study.runlock).
if workflow.is_main_process and runs_jobs(sys.argv[1:]):
    try:
        RUN_LOCK = claim()
    except CvgrError as err:
        sys.exit(f"cvgr error: {err}")

DATASETS = STUDY.datasets
THREADS = STUDY.config.threads
RUNTIME = STUDY.config.runtime.to_dict()
EVAL_RUNTIME = {k: RUNTIME[k] for k in ("device", "threads")}  # CUDA graphs only change training
SEED = STUDY.config.attack_seed
OUTPUTS = registered()  # every table and figure: cvgr's own and those of modules imported before this line


# Resources of the rules that compute with torch: one GPU each when the config says device: cuda (the
# SLURM executor turns it into --gpus=1; locally, `--resources gpu=N` caps how many such jobs share the
# GPUs). device: auto asks for none, whichever machine plans the run: each job picks its device where it
# runs (docs/CLUSTER.md).
GPU = int(STUDY.config.device == "cuda")


wildcard_constraints:
    dataset="|".join(DATASETS),
    model=model_pattern(),  # after the study: its plugins' defenses and attacks included
    source=model_pattern(),
    target=model_pattern(),
    attack=attack_pattern(),


def plan(wildcards):
    return STUDY.plan(wildcards.dataset)


def sweep_rule(name, folder, spec):
    """Define rule ``name``: one model under one attack -> ``results/{folder}/{dataset}/{attack}/{model}.h5``.

    ``spec`` is the Plan method that gives the job's WhiteboxSpec for an attack. The white-box sweeps
    (rules/craft.smk) and the gradient-masking audit (rules/audit.smk) differ only in these three.
    """

    rule:
        """One model under one attack: per-image correctness at each eps of the job spec's grid."""
        name:
            name
        input:
            data=data_file,
            model=lambda w: model_file(w.dataset, w.model),
        output:
            f"results/{folder}/{{dataset}}/{{attack}}/{{model}}.h5",
        log:
            f"logs/{name}/{{dataset}}/{{attack}}/{{model}}.log",
        params:
            spec=lambda w: spec(plan(w), AttackId.parse(w.attack)).to_dict(),
            seed=SEED,
            runtime=EVAL_RUNTIME,
            code=code_hash("whitebox"),
        resources:
            gpu=GPU,
        threads: THREADS
        script:
            "../scripts/whitebox.py"


def data_file(wildcards):
    return f"results/data/{wildcards.dataset}.h5"


def model_file(dataset, model):
    return f"results/models/{dataset}/{model}.pt"


def final_targets():
    """Every planned table, figure and page (cvgr.report.outputs), with the lineage sidecar of each."""
    return output_targets(STUDY)  # asked for, so a study finished without sidecars gets them
