"""Shared by every rule: the checked study, path helpers, per-job params.

Output contract (users and scripts rely on these paths):
    results/data/{dataset}.h5
    results/models/{dataset}/{model}.pt  and  .h5 (training history)
    results/adv/{dataset}/{attack}/{model}.h5
    results/transfer/{dataset}/{source}/{target}.h5
    results/whitebox/{dataset}/{attack}/{model}.h5
    results/audit/{dataset}/{attack}/{model}.h5
    results/nes/{dataset}/{model}.h5
    results/tables/{transfer,nes,masking,claims,transfer_vs_paper,nes_vs_paper,frontier}.{csv,md,html}
    results/tables/{whitebox,training}.csv
    results/figures/{whitebox,zeta,masking,frontier}_{dataset}.png, results/figures/transfer_vs_paper.png
    results/tables/*.prov.json, results/figures/*.prov.json (each table's and figure's lineage)
    logs/{rule}/{dataset}/....log
Each rule's params hold its job spec (cvgr.specs, as plain values), the runtime
it needs and the hash of the code its stage runs (cvgr.stages.code_hash), so a
changed setting or changed code reruns exactly the jobs it changes.
"""
import sys

from cvgr.config import Plan
from cvgr.errors import CvgrError
from cvgr.layers import snakemake_layers, study
from cvgr.runlock import claim, runs_jobs
from cvgr.stages import code_hash
from cvgr.vocab import ATTACK_PATTERN, MODEL_PATTERN, AttackId


# The study: cvgr's config.yaml, the user's files of overrides on top, then --config (cvgr.layers).
# One line naming the file, the key and the allowed values, before any job runs.
try:
    STUDY = study(snakemake_layers(workflow.source_path("../config.yaml"), workflow.configfiles,
                                   workflow.overwrite_configfiles, workflow.config_settings.config, config))
except CvgrError as err:
    sys.exit(f"cvgr error: {err}")

# One run per working directory: the Snakemake process that runs jobs holds cvgr's run lock; locks
# left by a run that no longer exists are cleared, a live run is never overridden (cvgr.runlock).
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


# Resources of the rules that compute with torch: one GPU each when the config says device: cuda (the
# SLURM executor turns it into --gpus=1; locally, `--resources gpu=N` caps how many such jobs share the
# GPUs). device: auto asks for none, whichever machine plans the run: each job picks its device where it
# runs (docs/CLUSTER.md).
GPU = int(STUDY.config.device == "cuda")


wildcard_constraints:
    dataset="|".join(DATASETS),
    model=MODEL_PATTERN,
    source=MODEL_PATTERN,
    target=MODEL_PATTERN,
    attack=ATTACK_PATTERN,


def plan(wildcards):
    return STUDY.plan(wildcards.dataset)


def sweep_rule(name, folder, spec):
    """Define rule ``name``: one model under one attack -> ``results/{folder}/{dataset}/{attack}/{model}.h5``.

    ``spec`` is the Plan method that gives the job's WhiteboxSpec for an attack. The white-box sweeps
    (rules/attack.smk) and the gradient-masking audit (rules/audit.smk) differ only in these three.
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
            "../scripts/whitebox_sweep.py"


def data_file(wildcards):
    return f"results/data/{wildcards.dataset}.h5"


def model_file(dataset, model):
    return f"results/models/{dataset}/{model}.pt"


def history_file(dataset, model):
    return f"results/models/{dataset}/{model}.h5"


def transfer_files():
    return [f"results/transfer/{d}/{c.source}/{c.target}.h5" for d in DATASETS for c in STUDY.plan(d).transfer_cells]


def nes_files():
    return [f"results/nes/{d}/{m}.h5" for d in DATASETS for m in STUDY.plan(d).nes_models]


def whitebox_files(datasets=DATASETS):
    return [f"results/whitebox/{d}/{a}/{m}.h5" for d in datasets for a, m in STUDY.plan(d).whitebox_jobs]


def audit_files(datasets=DATASETS):
    return [f"results/audit/{d}/{a}/{m}.h5" for d in datasets for a, m in STUDY.plan(d).audit_jobs]


def history_files():
    return [history_file(d, m) for d in DATASETS for m in STUDY.plan(d).models]


def frontier_datasets(datasets=DATASETS):
    return [d for d in datasets if STUDY.plan(d).frontier_models]


def frontier_history_files(datasets=DATASETS):
    return [history_file(d, m) for d in frontier_datasets(datasets) for m in STUDY.plan(d).frontier_models]


def frontier_audit_files(datasets=DATASETS):
    """The frontier's robust accuracy: the audit's files of every frontier model (cvgr.config.Plan.frontier_jobs)."""
    return [f"results/audit/{d}/{a}/{m}.h5" for d in datasets for a, m in STUDY.plan(d).frontier_jobs]


def frontier_nes_files(datasets=DATASETS):
    """NES results of the frontier's models, where the config attacks them with NES (shown beside)."""
    return [f"results/nes/{d}/{m}.h5" for d in datasets for m in STUDY.plan(d).nes_models
            if m in STUDY.plan(d).frontier_models]


def frontier_settings():
    """Per dataset with a frontier: the eps its robust accuracy is read at (the audit's) and its bootstrap size."""
    return {d: {"eps": STUDY.plan(d).section.audit.eps, "replicates": STUDY.plan(d).section.frontier.replicates}
            for d in frontier_datasets()}


def final_targets():
    """Tables for the stages some dataset configures; figures per dataset; the lineage sidecar of each."""
    out = ["results/tables/training.csv"] + [f"results/tables/claims.{x}" for x in ("csv", "md", "html")]
    out += [f"results/figures/zeta_{d}.png" for d in DATASETS]
    if transfer_files():
        out += [f"results/tables/{t}.{x}" for t in ("transfer", "transfer_vs_paper") for x in ("csv", "md", "html")]
        out += ["results/figures/transfer_vs_paper.png"]
    if nes_files():
        out += [f"results/tables/{t}.{x}" for t in ("nes", "nes_vs_paper") for x in ("csv", "md", "html")]
    wb = [d for d in DATASETS if STUDY.plan(d).whitebox_jobs]
    if wb:
        out += ["results/tables/whitebox.csv"] + [f"results/figures/whitebox_{d}.png" for d in wb]
    audited = [d for d in DATASETS if STUDY.plan(d).audit_jobs]
    if audited:
        out += ["results/tables/masking.csv", "results/tables/masking.md", "results/tables/masking.html"]
        out += [f"results/figures/masking_{d}.png" for d in audited]
    if frontier_datasets():
        out += [f"results/tables/frontier.{x}" for x in ("csv", "md", "html")]
        out += [f"results/figures/frontier_{d}.png" for d in frontier_datasets()]
    return out + [f"{f}.prov.json" for f in out]  # asked for, so a study finished without them gets them
