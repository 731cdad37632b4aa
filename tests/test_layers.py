"""Configs in layers: config.yaml, then files of overrides (--configfile), then --config, merged.

Real Snakemake dry runs: a file of overrides plans the same jobs as the same study written out in
full; a section of a dataset the study does not run is refused, naming the file and the key.
"""
from __future__ import annotations

import shutil

import pytest
import yaml

from conftest import REPO, dry_run_jobs
from cvgr.errors import CvgrError
from cvgr.study.layers import Layer, merge, study

DEFAULT = Layer.load(REPO / "config.yaml")


def studied(data: dict, source: str = "mine.yaml"):
    return study([DEFAULT, Layer(source, data)])


def test_merge_is_key_by_key_for_mappings_and_replaces_everything_else():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merge(base, {"a": {"c": [3]}, "e": None}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": None}
    assert merge(base, {"a": None}) == {"a": None, "d": 1}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # not modified


def test_an_override_changes_only_its_keys():
    mine = studied({"datasets": {"fmnist": {"training": {"epochs": 30}, "nes": None}}})
    default = study([DEFAULT])
    section, before = mine.config.datasets["fmnist"], default.config.datasets["fmnist"]
    assert section.training.epochs == 30 and before.training.epochs == 4
    assert section.training.replace(epochs=4) == before.training
    assert section.nes is None and mine.plan("fmnist").nes_models == ()  # null drops the default's stage
    assert section.transfer == before.transfer and mine.config.threads == default.config.threads


def test_only_the_datasets_in_run_run_and_in_that_order():
    paper = study([DEFAULT, Layer.load(REPO / "configs/paper.yaml")])
    assert paper.datasets == ["mnist", "svhn", "fmnist", "cifar10"]
    mnist = Layer.load(REPO / "tests/configs/full-paper.yaml").data["datasets"]["mnist"]
    only = studied({"run": ["mnist"], "datasets": {"mnist": mnist}})
    assert only.datasets == ["mnist"] and list(only.config.datasets) == ["mnist"]  # the default's fmnist stays out


@pytest.mark.parametrize("data, expected", [
    ({"datasets": {"mnist": {"betas": [0]}}},
     "mine.yaml: datasets.mnist: mnist is not in run [fmnist], so this section would apply nowhere; "
     "allowed: add mnist to run or remove the section"),
    ({"run": ["svhn"]}, "mine.yaml: run[0]: svhn has no section datasets.svhn"),
    ({"datasets": {"fmnist": {"nes": {"epss": 1}}}}, "mine.yaml: datasets.fmnist.nes.epss: unknown key 'epss'"),
    ({"datasets": {"fmnist": {"nes": {"eps": 7}}}},
     "mine.yaml: datasets.fmnist.nes.eps: 7 is out of range; allowed: a number in [0, 1]"),
    ({"run": ["fmnist", "mnist"], "datasets": {"mnist": {"betas": [0]}}},
     "mine.yaml: datasets.mnist.raw_dir: missing key"),
])
def test_errors_name_the_layer_that_set_the_key(data, expected):
    with pytest.raises(CvgrError) as info:
        studied(data)
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)


def test_an_error_in_the_default_names_the_default():
    with pytest.raises(CvgrError, match=r"^config.yaml: datasets.fmnist.nes.models\[4\]: 'real-adv0.2-s0' is adv"):
        studied({"datasets": {"fmnist": {"adversarial": None}}})  # the default's NES models need it


def dry_run(run_snakemake, workdir, *args) -> list[str]:
    res = run_snakemake(workdir, "-n", "--forceall", *args)
    return dry_run_jobs(res.stdout)


@pytest.mark.parametrize("overrides, full", [("configs/test.yaml", "full-test.yaml"),
                                             ("configs/paper.yaml", "full-paper.yaml")])
def test_a_file_of_overrides_plans_the_same_jobs_as_the_full_file(tmp_path, run_snakemake, overrides, full):
    """The shipped configs hold only what differs from config.yaml; written out in full they plan the same."""
    full = REPO / "tests/configs" / full
    assert "attack_seed" not in Layer.load(REPO / overrides).data  # overrides only: alone it is no config
    short = study([DEFAULT, Layer.load(REPO / overrides)])
    assert short.config == study([DEFAULT, Layer.load(full)]).config
    planned = dry_run(run_snakemake, tmp_path, "--configfile", str(REPO / overrides))
    assert planned == dry_run(run_snakemake, tmp_path, "--configfile", str(full))
    assert len(planned) == {"configs/test.yaml": 88, "configs/paper.yaml": 357}[overrides]


def test_config_on_top_of_a_file(tmp_path, run_snakemake):
    """--config applies after the files: here the device, and with it each computing job's GPU."""
    shutil.copy(REPO / "configs/test.yaml", tmp_path / "over.yaml")
    cpu = dry_run(run_snakemake, tmp_path, "--configfile", "over.yaml")
    cuda = dry_run(run_snakemake, tmp_path, "--configfile", "over.yaml", "--config", "device=cuda")
    assert sum("gpu=1" in j for j in cpu) == 0 and sum("gpu=1" in j for j in cuda) == 65
    assert [j.replace("gpu=1", "gpu=0") for j in cuda] == cpu
    res = run_snakemake(tmp_path, "-n", "--configfile", "over.yaml", "--config", "threads=0", check=False)
    assert res.returncode == 1
    assert "cvgr error: --config: threads: 0 is out of range; allowed: an integer >= 1" in res.stdout


def test_snakemake_refuses_a_leaked_section_naming_file_and_key(tmp_path, run_snakemake):
    (tmp_path / "mine.yaml").write_text("datasets:\n  mnist:\n    betas: [0, 16]\n")
    res = run_snakemake(tmp_path, "-n", "--configfile", "mine.yaml", check=False)
    assert res.returncode == 1
    lines = [line for line in res.stdout.splitlines() if line.startswith("cvgr error:")]
    assert len(lines) == 1 and lines[0].startswith("cvgr error: mine.yaml: datasets.mnist: mnist is not in run")


def test_the_documented_file_of_overrides_is_a_valid_study():
    """docs/CONFIG.md's ten-line example, as a user would copy it."""
    text = (REPO / "docs/CONFIG.md").read_text()
    block = "# my-study.yaml" + text.split("```yaml\n# my-study.yaml", 1)[1].split("```", 1)[0]
    mine = study([DEFAULT, Layer("my-study.yaml", yaml.safe_load(block))])
    assert len(block.splitlines()) <= 10 and mine.plan("fmnist").nes_models == ()
    # 4 betas x 2 fields at seed 0, the 4 std/gr64 copies at seed 1, the adversarial net, and the default's
    # frontier (betas 0, 16, 32, 64 at seeds 0 and 1) adds gr32 at both seeds and gr16 at seed 1 for each field
    assert mine.config.datasets["fmnist"].training.epochs == 30 and len(mine.plan("fmnist").models) == 13 + 6
