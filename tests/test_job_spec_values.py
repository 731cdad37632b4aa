"""The plain values of every job spec of configs/test.yaml, pinned against the YAML itself.

The job specs' plain values are Snakemake's params and each result's provenance: a changed key
order, a 0 that becomes 0.0 or a new key reruns jobs and changes the files. The expected values
here are read from the two YAML files directly (merged by hand) and compared as JSON text, so the
types and the order of the keys count.
"""
from __future__ import annotations

import json

import pytest
import yaml

from conftest import REPO
from cvgr.study.layers import Layer, study


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


RAW = merge(yaml.safe_load((REPO / "config.yaml").read_text()),
            yaml.safe_load((REPO / "configs/test.yaml").read_text()))
FM = RAW["datasets"]["fmnist"]
STUDY = study([Layer.load(REPO / "config.yaml"), Layer.load(REPO / "configs/test.yaml")])
PLAN = STUDY.plan("fmnist")
TRAINING = ["mode", "epochs", "batch_size", "lr", "momentum", "weight_decay", "milestones", "gamma", "augment",
            "train_size", "eval_images", "real_bias"]
FLOATS = {"lr", "momentum", "weight_decay", "gamma", "eps", "sigma"}


def typed(key: str, value):
    """A YAML number under a float key is a float in the spec (0 -> 0.0); the rest as written."""
    if key in FLOATS and isinstance(value, list):
        return [float(v) for v in value]
    return float(value) if key in FLOATS else value


def same(spec, expected: dict) -> None:
    assert json.dumps(spec.to_dict()) == json.dumps(expected)


def test_train_specs():
    training = {k: typed(k, FM["training"].get(k, "cvgr" if k == "real_bias" else None)) for k in TRAINING}
    adv = FM["adversarial"]
    for name, model in PLAN.models.items():
        field, defense = name.split("-")[:2]
        pgd = {"steps": adv["steps"], "random_start": adv["random_start"]} if defense.startswith("adv") else None
        same(PLAN.train_spec(model), {**training, "dataset": "fmnist", "model": name, "arch": FM["arch"][field],
                                      "pgd": pgd})


def test_craft_and_nes_specs():
    tr, nes = FM["transfer"], FM["nes"]
    same(PLAN.craft_spec(), {"attack": "fgsm", "eps": float(tr["eps"]), "images": tr["images"]})
    same(PLAN.nes_spec(), {k: typed(k, nes[k]) for k in ("eps", "steps", "queries", "sigma", "images", "chunk",
                                                          "score")})


def test_whitebox_specs_hold_only_their_attacks_options():
    wb = FM["whitebox"]
    for attack in {a for a, _ in PLAN.whitebox_jobs}:
        pgd = attack.name.startswith("pgd")
        same(PLAN.whitebox_spec(attack), {"eps": typed("eps", wb["eps"]), "images": wb["images"],
                                          "random_start": wb["random_start"] and pgd, "attack": attack.name,
                                          "apgd_steps": None, "square_queries": None})


@pytest.mark.parametrize("name", FM["audit"]["attacks"])
def test_audit_specs(name):
    audit = FM["audit"]
    attack = next(a for a, _ in PLAN.audit_jobs if a.name == name)
    grid = sorted({0.0, audit["eps"], *audit["sweep"]}) if name == "fgsm" or name.startswith("pgd") else [audit["eps"]]
    same(PLAN.audit_spec(attack), {
        "eps": [float(e) for e in grid], "images": audit["images"],
        "random_start": audit["random_start"] and name.startswith("pgd"), "attack": name,
        "apgd_steps": audit["apgd_steps"] if name.startswith("apgd") else None,
        "square_queries": audit["square_queries"] if name == "square" else None})


def test_runtime():
    same(STUDY.config.runtime, {"device": RAW["device"], "threads": RAW["threads"], "cuda_graphs": True})
