"""Shared by every rule: the validated config, the grid, path helpers, per-job params.

Output contract (users and scripts rely on these paths):
    results/data/{dataset}.h5
    results/models/{dataset}/{model}.pt  and  .h5 (training history)
    results/adv/{dataset}/fgsm/{model}.h5
    results/transfer/{dataset}/{source}/{target}.h5
    results/whitebox/{dataset}/{attack}/{model}.h5
    results/nes/{dataset}/{model}.h5
    results/tables/{transfer,nes}.{csv,md}, results/tables/{whitebox,training}.csv
    results/figures/{whitebox,zeta}_{dataset}.png
    logs/{rule}/{dataset}/....log
Each rule's params hold only the config slice its step reads plus the hash of
its code (cvgr.io.code_hash), so a changed setting or changed code reruns that
stage and what depends on it, nothing else.
"""
import os
import sys

from snakemake.utils import validate

from cvgr import config as grid
from cvgr.errors import CvgrError
from cvgr.io import code_hash
from cvgr.naming import MODEL_PATTERN


def _config_source():
    """The config file as the user named it (relative to the working directory when inside it)."""
    if not workflow.overwrite_configfiles:
        return "config.yaml"
    path = os.path.relpath(workflow.overwrite_configfiles[-1])
    return path if not path.startswith("..") else str(workflow.overwrite_configfiles[-1])


# One line naming the key and the allowed values, before any job; then Snakemake's own check.
try:
    grid.validate_config(config, source=_config_source())
except CvgrError as err:
    sys.exit(f"cvgr error: {err}")
validate(config, "../schemas/config.schema.yaml", set_default=False)

DATASETS = grid.datasets(config)
THREADS = int(config["threads"])
DEVICE = str(config["device"])


wildcard_constraints:
    dataset="|".join(DATASETS),
    model=MODEL_PATTERN,
    source=MODEL_PATTERN,
    target=MODEL_PATTERN,
    attack=r"fgsm|pgd[1-9][0-9]*",


def data_file(wildcards):
    return f"results/data/{wildcards.dataset}.h5"


def model_file(dataset, model):
    return f"results/models/{dataset}/{model}.pt"


def history_file(dataset, model):
    return f"results/models/{dataset}/{model}.h5"


def transfer_files():
    return [f"results/transfer/{d}/{s}/{t}.h5" for d in DATASETS for s, t in grid.transfer_cells(config, d)]


def nes_files():
    return [f"results/nes/{d}/{m}.h5" for d in DATASETS for m in grid.nes_models(config, d)]


def whitebox_files(datasets=DATASETS):
    return [f"results/whitebox/{d}/{a}/{m}.h5" for d in datasets for a, m in grid.whitebox_jobs(config, d)]


def history_files():
    return [history_file(d, m) for d in DATASETS for m in grid.models_to_train(config, d)]


def final_targets():
    """Tables for the stages some dataset configures; figures per dataset."""
    out = ["results/tables/training.csv"] + [f"results/figures/zeta_{d}.png" for d in DATASETS]
    if transfer_files():
        out += ["results/tables/transfer.csv", "results/tables/transfer.md"]
    if nes_files():
        out += ["results/tables/nes.csv", "results/tables/nes.md"]
    wb = [d for d in DATASETS if grid.whitebox_jobs(config, d)]
    if wb:
        out += ["results/tables/whitebox.csv"] + [f"results/figures/whitebox_{d}.png" for d in wb]
    return out
