"""cvgr.config: validation messages, the grid expansion, the per-job specs; the Snakefile's config check."""
from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from cvgr import config as grid
from cvgr.errors import CvgrError

DEFAULT = grid.load_config(REPO / "config.yaml")


def mutated(change) -> dict:
    cfg = copy.deepcopy(DEFAULT)
    change(cfg)
    return cfg


def fm(cfg: dict) -> dict:
    return cfg["datasets"]["fmnist"]


def error_of(cfg) -> str:
    with pytest.raises(CvgrError) as info:
        grid.validate_config(cfg)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("path", ["config.yaml", "configs/paper.yaml", "configs/test.yaml"])
def test_shipped_configs_are_valid(path):
    cfg = grid.load_config(REPO / path)
    assert "fmnist" in grid.datasets(cfg)


@pytest.mark.parametrize("change, expected", [
    (lambda c: c["datasets"].__setitem__("imagenet", {}),
     "config.yaml: datasets.imagenet: unknown key 'imagenet'; allowed: mnist, fmnist, svhn, cifar10"),
    (lambda c: fm(c)["arch"].__setitem__("real", "resnet"),
     "config.yaml: datasets.fmnist.arch.real: 'resnet' is not allowed; allowed: small_cnn, mlp, cifar_cnn"),
    (lambda c: fm(c)["adversarial"].__setitem__("fields", ["quaternion"]),
     "config.yaml: datasets.fmnist.adversarial.fields[0]: 'quaternion' is not allowed; allowed: real, complex"),
    (lambda c: fm(c).__setitem__("betas", [0, -64]),
     "config.yaml: datasets.fmnist.betas[1]: -64 is out of range; allowed: a number >= 0"),
    (lambda c: fm(c)["whitebox"].__setitem__("eps", [0.0, 1.5]),
     "config.yaml: datasets.fmnist.whitebox.eps[1]: 1.5 is out of range; allowed: a number in [0, 1]"),
    (lambda c: fm(c)["transfer"].__setitem__("eps", -0.1),
     "config.yaml: datasets.fmnist.transfer.eps: -0.1 is out of range; allowed: a number in [0, 1]"),
    (lambda c: fm(c)["nes"].__setitem__("images", 0),
     "config.yaml: datasets.fmnist.nes.images: 0 is out of range; allowed: an integer >= 1"),
    (lambda c: fm(c)["training"].pop("epochs"),
     "config.yaml: datasets.fmnist.training.epochs: missing key; allowed: an integer >= 1"),
    (lambda c: c.pop("device"),
     "config.yaml: device: missing key; allowed: auto, cpu, cuda"),
    (lambda c: fm(c)["training"].__setitem__("epochs", "two"),
     "config.yaml: datasets.fmnist.training.epochs: wrong type (string 'two'); allowed: an integer >= 1"),
    (lambda c: fm(c)["training"].__setitem__("train_size", "all"),
     "config.yaml: datasets.fmnist.training.train_size: wrong type (string 'all'); allowed: an integer >= 1 or null"),
    (lambda c: fm(c)["nes"]["models"].append("real-foo-s0"),
     f"config.yaml: datasets.fmnist.nes.models[{len(fm(DEFAULT)['nes']['models'])}]: 'real-foo-s0' is not valid; allowed: model names "
     "{real|complex}-{std|gr<beta>|adv<eps>}-s<seed>, e.g. complex-gr64-s0"),
    (lambda c: fm(c)["whitebox"].__setitem__("attacks", ["cw"]),
     "config.yaml: datasets.fmnist.whitebox.attacks[0]: 'cw' is not valid; allowed: fgsm or pgd<k> (k PGD steps), "
     "e.g. pgd10"),
    (lambda c: c.__setitem__("device", "tpu"),
     "config.yaml: device: 'tpu' is not allowed; allowed: auto, cpu, cuda"),
    (lambda c: fm(c)["training"].__setitem__("mode", "approx"),
     "config.yaml: datasets.fmnist.training.mode: 'approx' is not allowed; allowed: paper, exact"),
    (lambda c: c.__setitem__("datasets", {}),
     "config.yaml: datasets: empty mapping; allowed: mnist, fmnist, svhn, cifar10"),
    (lambda c: c.__setitem__("thread", 1),
     "config.yaml: thread: unknown key 'thread'; allowed: threads, device, attack_seed, datasets"),
    (lambda c: fm(c)["nes"].__setitem__("queries", 801),
     "config.yaml: datasets.fmnist.nes.queries: 801 is not a multiple of 2 * steps = 16; allowed: multiples of 16"),
    (lambda c: fm(c)["seeds"].__setitem__("target", 0),
     "config.yaml: datasets.fmnist.seeds.target: equals seeds.source (0); allowed: a seed other than seeds.source"),
])
def test_bad_config_names_key_and_allowed_values(change, expected):
    assert error_of(mutated(change)) == expected


def test_adversarial_nes_model_needs_adversarial_section():
    msg = error_of(mutated(lambda c: fm(c).pop("adversarial")))
    i = fm(DEFAULT)["nes"]["models"].index("real-adv0.2-s0")
    assert msg.startswith(f"config.yaml: datasets.fmnist.nes.models[{i}]: 'real-adv0.2-s0' is adversarially trained")


def test_load_config_names_the_file(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text(yaml.safe_dump(mutated(lambda c: fm(c).__setitem__("betas", [-1]))))
    with pytest.raises(CvgrError, match=r"^.*mine\.yaml: datasets\.fmnist\.betas\[0\]: -1 is out of range"):
        grid.load_config(bad)
    (tmp_path / "broken.yaml").write_text("threads: [1\n")
    with pytest.raises(CvgrError, match=r"broken\.yaml: not valid YAML at line 2; fix the syntax"):
        grid.load_config(tmp_path / "broken.yaml")
    with pytest.raises(CvgrError, match="config file not found"):
        grid.load_config(tmp_path / "absent.yaml")


# ---------------------------------------------------------------- the grid of the default config
def test_models_to_train_is_grid_plus_transfer_copies_plus_adversarial():
    assert grid.models_to_train(DEFAULT, "fmnist") == [
        "real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0",  # grid (field x beta) at s0
        "real-adv0.2-s0",                                                       # adversarial.fields
        "real-std-s1", "real-gr64-s1", "complex-std-s1", "complex-gr64-s1",  # transfer targets at s1
    ]


def test_transfer_beta_outside_the_grid_adds_its_models():
    cfg = mutated(lambda c: fm(c)["transfer"].__setitem__("beta", 32))
    models = grid.models_to_train(cfg, "fmnist")
    assert {"real-gr32-s0", "real-gr32-s1", "complex-gr32-s0", "complex-gr32-s1", "real-gr64-s0"} <= set(models)
    assert "real-gr64-s1" not in models
    assert grid.whitebox_models(cfg, "fmnist") == [
        "real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0", "real-adv0.2-s0"]


def test_transfer_cells_are_self_plus_four_second_seed_targets():
    cells = grid.transfer_cells(DEFAULT, "fmnist")
    assert len(cells) == 20 and len(set(cells)) == 20
    assert grid.transfer_targets(DEFAULT, "fmnist", "complex-gr64-s0") == [
        "complex-gr64-s0", "real-std-s1", "real-gr64-s1", "complex-std-s1", "complex-gr64-s1"]
    assert {s for s, _ in cells} == {"real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0"}


def test_whitebox_jobs_and_sections_are_optional():
    jobs = grid.whitebox_jobs(DEFAULT, "fmnist")
    assert len(jobs) == 2 * 5 and ("pgd10", "real-adv0.2-s0") in jobs
    bare = mutated(lambda c: [fm(c).pop(k) for k in ("whitebox", "transfer", "nes")])
    assert grid.whitebox_jobs(bare, "fmnist") == [] and grid.transfer_cells(bare, "fmnist") == []
    assert grid.nes_models(bare, "fmnist") == []
    assert grid.models_to_train(bare, "fmnist") == [
        "real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0", "real-adv0.2-s0"]
    with pytest.raises(CvgrError, match=r"datasets\.fmnist\.nes is not in the config"):
        grid.nes_spec(bare, "fmnist")


def test_training_spec_comes_from_the_name_and_the_dataset_section():
    spec = grid.training_spec(DEFAULT, "fmnist", "real-adv0.2-s0")
    tr = fm(DEFAULT)["training"]
    adv = fm(DEFAULT)["adversarial"]
    assert spec == {  # name -> field, beta, adv_eps, seed; arch[field]; adversarial -> PGD; training -> the rest
        "dataset": "fmnist", "model": "real-adv0.2-s0", "arch": "small_cnn", "field": "real", "beta": 0.0,
        "adv_eps": 0.2, "adv_steps": adv["steps"], "adv_random_start": adv["random_start"], "seed": 0,
        **{k: tr[k] for k in ("mode", "epochs", "batch_size", "lr", "momentum", "weight_decay", "milestones",
                              "gamma", "augment", "train_size", "eval_images")}}
    gr = grid.training_spec(DEFAULT, "fmnist", "complex-gr64-s1")
    assert (gr["field"], gr["beta"], gr["adv_eps"], gr["adv_steps"], gr["seed"]) == ("complex", 64.0, 0.0, 0, 1)


def test_longest_training_gets_the_highest_priority():
    epochs, k = fm(DEFAULT)["training"]["epochs"], fm(DEFAULT)["adversarial"]["steps"]
    prio = {m: grid.training_priority(DEFAULT, "fmnist", m) for m in grid.models_to_train(DEFAULT, "fmnist")}
    assert prio["real-std-s0"] == prio["complex-std-s1"] == 10 * epochs
    assert prio["real-gr64-s0"] == round(10 * epochs * 2.5)
    assert prio["real-adv0.2-s0"] == round(10 * epochs * (1 + 0.75 * k))
    assert max(prio, key=prio.get) == "real-adv0.2-s0"


def test_a_nes_setting_changes_no_training_spec():
    """Only the NES slice changes, so Snakemake's params trigger reruns NES jobs alone."""
    other = mutated(lambda c: fm(c)["nes"].__setitem__("steps", 4))
    for model in grid.models_to_train(DEFAULT, "fmnist"):
        assert grid.training_spec(other, "fmnist", model) == grid.training_spec(DEFAULT, "fmnist", model)
    assert grid.craft_spec(other, "fmnist") == grid.craft_spec(DEFAULT, "fmnist")
    assert grid.nes_spec(other, "fmnist") != grid.nes_spec(DEFAULT, "fmnist")


def test_attack_specs():
    nes = fm(DEFAULT)["nes"]
    assert grid.nes_spec(DEFAULT, "fmnist") == {
        "eps": 0.16, "steps": nes["steps"], "samples": nes["queries"] // (2 * nes["steps"]), "sigma": 0.001,
        "images": nes["images"], "chunk": nes["chunk"], "seed": 0}
    assert grid.craft_spec(DEFAULT, "fmnist") == {
        "attack": "fgsm", "eps": 0.16, "images": fm(DEFAULT)["transfer"]["images"], "seed": 0}
    wb = grid.whitebox_spec(DEFAULT, "fmnist", "pgd10")
    assert wb["eps"][-1] == pytest.approx(0.3) and len(wb["eps"]) == 16 and wb["attack"] == "pgd10"


def test_paper_config_matches_method():
    paper = grid.load_config(REPO / "configs/paper.yaml")
    assert grid.datasets(paper) == ["mnist", "svhn", "fmnist", "cifar10"]
    transfer = {d: (paper["datasets"][d]["transfer"]["eps"], paper["datasets"][d]["transfer"]["beta"])
                for d in ("mnist", "svhn", "fmnist")}
    assert transfer == {"mnist": (0.16, 64), "svhn": (0.1, 32), "fmnist": (0.16, 64)}
    assert "transfer" not in paper["datasets"]["cifar10"]
    nes = grid.nes_spec(paper, "fmnist")
    assert (nes["images"], nes["steps"] * 2 * nes["samples"], nes["eps"]) == (1000, 4000, 0.16)
    cifar = paper["datasets"]["cifar10"]
    assert cifar["whitebox"]["eps"] == pytest.approx([k / 255 for k in range(9)])
    assert (cifar["training"]["epochs"], cifar["training"]["lr"], cifar["training"]["milestones"]) == (80, 0.01, [40, 60, 72])
    assert paper["datasets"]["mnist"]["training"]["epochs"] == 30


# ---------------------------------------------------------------- the Snakefile refuses bad configs
def test_snakefile_rejects_bad_config_before_any_job(tmp_path, run_snakemake):
    cfg = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    cfg["datasets"]["fmnist"]["whitebox"]["eps"] = [0.0, 2.0]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = run_snakemake(tmp_path, "--configfile", "bad.yaml", "--cores", "1", check=False)
    assert res.returncode == 1
    assert ("cvgr error: bad.yaml: datasets.fmnist.whitebox.eps[1]: 2.0 is out of range; "
            "allowed: a number in [0, 1]") in res.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
