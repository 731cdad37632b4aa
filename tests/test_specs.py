"""One vocabulary, typed specs, and the schema generated from them: held equal to everything that uses them."""
from __future__ import annotations

import re

import jsonschema
import pytest
import yaml

from conftest import REPO
from cvgr import cli, vocab
from cvgr.study import schema
from cvgr.data.augment import AUGMENTATIONS
from cvgr.study.plan import Study
from cvgr.data.prepare import DATASETS as CATALOGUE
from cvgr.errors import CvgrError
from cvgr.study.layers import Layer, select
from cvgr.nn import ARCHITECTURES, MODES
from cvgr.study.settings import SpecError
from cvgr.study.specs import AttackSpec, NesSpec, Runtime, TrainSpec, Training, WhiteboxSpec
from cvgr.vocab import ATTACK_PATTERN, MODEL_PATTERN, AttackId, ModelId

SCHEMA = yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text())


def test_schema_file_is_generated_from_the_specs():
    assert (REPO / "schemas/config.schema.yaml").read_text() == schema.render(), \
        "regenerate it: python -m cvgr.study.schema > schemas/config.schema.yaml"


@pytest.mark.parametrize("path", ["configs/paper.yaml", "configs/paper-fmnist.yaml", "configs/test.yaml"])
def test_jsonschema_accepts_the_shipped_configs(path):
    """The schema describes the config a run reads: config.yaml with the file of overrides on top."""
    jsonschema.Draft202012Validator(SCHEMA).validate(yaml.safe_load((REPO / "config.yaml").read_text()))
    read = select([Layer.load(REPO / "config.yaml"), Layer.load(REPO / path)])
    jsonschema.Draft202012Validator(SCHEMA).validate(read)


@pytest.mark.parametrize("key, value", [
    ("betas", [0, -1]), ("arch", {"real": "Res-Net", "complex": "small_cnn"}), ("download", "yes"),
    ("whitebox.attacks", ["pgd0"]), ("whitebox.attacks", ["fgsm", "fgsm"]), ("nes.models", ["real-x-s0"]),
    ("training.gamma", 0), ("training.milestones", [0]), ("transfer.eps", 1.5), ("nes.chunk", 1),
    ("training.extra", 1), ("whitebox.attacks", ["fgsm", "square"]), ("whitebox.attacks", ["apgd-ce"]),
    ("whitebox.attacks", ["apgd-dlr"]), ("frontier.seeds", [-1]), ("frontier.replicates", 0),
    ("frontier.betas", [0, 0]),
])
def test_specs_and_an_independent_schema_validator_agree(key, value):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    node = cfg["datasets"]["fmnist"]
    *parents, leaf = key.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(cfg)), f"jsonschema accepts {key}={value!r}"
    with pytest.raises(CvgrError, match=re.escape(f"datasets.fmnist.{key}")):
        Study.from_mapping(cfg)


def test_an_unregistered_name_is_refused_naming_the_registered_ones():
    """The schema lists the names cvgr registers; cvgr's own check reads the registry (a plugin's names too)."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["datasets"]["fmnist"]["arch"]["real"] = "resnet"
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(cfg))
    with pytest.raises(CvgrError, match=r"datasets\.fmnist\.arch\.real") as err:
        Study.from_mapping(cfg)
    assert "resnet" in str(err.value) and "small_cnn" in str(err.value)


def test_schema_header_names_every_stage_section():
    assert "# stage section (adversarial, transfer, whitebox, nes, audit, frontier) does not run" in schema.render()


@pytest.mark.parametrize("name", ["fgsm", "pgd1", "pgd10", "apgd-ce", "apgd-dlr", "square"])
def test_gradient_attack_pattern_is_what_the_whitebox_section_accepts(name):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["datasets"]["fmnist"]["whitebox"]["attacks"] = [name]
    schema_ok = not list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(cfg))
    assert schema_ok == bool(re.fullmatch(vocab.GRADIENT_ATTACK_PATTERN, name))
    try:
        Study.from_mapping(cfg)
        specs_ok = True
    except CvgrError:
        specs_ok = False
    assert specs_ok == schema_ok


def test_registries_implement_exactly_the_vocabulary():
    assert tuple(ARCHITECTURES) == vocab.ARCHITECTURES
    assert MODES == vocab.MODES
    assert set(CATALOGUE) == set(vocab.DATASETS) == set(AUGMENTATIONS)
    assert set(vocab.DATASET_LABELS) == set(vocab.DATASET_PROSE) == set(vocab.DATASETS)


@pytest.mark.parametrize("argv, words", [
    (["prepare", "imagenet", "--out", "x.h5"], vocab.DATASETS),
    (["train", "--data", "d.h5", "--out", "m.pt", "--arch", "resnet"], vocab.ARCHITECTURES),
    (["train", "--data", "d.h5", "--out", "m.pt", "--field", "quaternion"], vocab.FIELDS),
    (["train", "--data", "d.h5", "--out", "m.pt", "--mode", "approx"], vocab.MODES),
    (["nes", "--data", "d.h5", "--model", "m.pt", "--out", "n.h5", "--device", "tpu"], vocab.DEVICES),
    (["nes", "--data", "d.h5", "--model", "m.pt", "--out", "n.h5", "--score", "p"], vocab.NES_SCORES),
])
def test_command_line_refuses_a_word_outside_the_vocabulary_naming_every_allowed_one(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code != 0 and len(err) == 1 and err[0].startswith("cvgr error:"), err
    assert repr(argv[-1]) in err[0] or argv[1] in err[0]
    assert all(w in err[0] for w in words), err[0]


@pytest.mark.parametrize("name", ["fgsm", "pgd1", "pgd10", "apgd-ce", "apgd-dlr", "square"])
def test_attack_grammar_and_wildcard_pattern_agree_on_valid_names(name):
    assert re.fullmatch(ATTACK_PATTERN, name)
    assert AttackId.parse(name).name == name


@pytest.mark.parametrize("name", ["pgd", "pgd0", "pgd01", "PGD10", "nes", "apgd", "cw", "fgsm2"])
def test_attack_grammar_and_wildcard_pattern_agree_on_invalid_names(name):
    assert not re.fullmatch(ATTACK_PATTERN, name)
    with pytest.raises(ValueError, match="allowed: fgsm, pgd<k>"):
        AttackId.parse(name)


@pytest.mark.parametrize("name", ["real-std-s0", "complex-gr64-s1", "real-adv0.2-s0", "complex-gr0.5-s12"])
def test_model_names_round_trip_and_match_the_wildcard(name):
    assert re.fullmatch(MODEL_PATTERN, name) and ModelId.parse(name).name == name


def test_attack_labels_and_order():
    names = ["square", "pgd10", "apgd-dlr", "fgsm", "pgd4", "apgd-ce"]
    ordered = sorted((AttackId.parse(n) for n in names), key=AttackId.sort_key)
    assert [a.label for a in ordered] == ["FGSM", "PGD-4", "PGD-10", "APGD-CE", "APGD-DLR", "Square"]


@pytest.mark.parametrize("spec", [
    TrainSpec(dataset="fmnist", model=ModelId.parse("complex-gr64-s1"), arch="mlp", milestones=(3, 5)),
    AttackSpec(eps=0.1), WhiteboxSpec(attack=AttackId.parse("pgd3"), eps=(0.0, 0.1)),
    NesSpec(queries=800, chunk=256), Runtime(device="cpu", threads=2),
])
def test_job_specs_round_trip_through_plain_values(spec):
    plain = spec.to_dict()
    assert yaml.safe_load(yaml.safe_dump(plain)) == plain  # plain values only
    assert type(spec).from_dict(plain) == spec


def spec_error(build) -> SpecError:
    with pytest.raises(SpecError) as info:
        build()
    return info.value


def test_specs_check_every_field_whoever_builds_them():
    err = spec_error(lambda: Training(lr=float("inf")))
    assert (err.key, "inf" in err.problem, err.allowed) == ("lr", True, "a number > 0")
    err = spec_error(lambda: Training(epochs=True))  # a YAML true is no count
    assert (err.key, "True" in err.problem, err.allowed) == ("epochs", True, "an integer >= 1")
    err = spec_error(lambda: AttackSpec(eps=0.1, images=2.5))
    assert err.key == "images" and "2.5" in err.problem
    assert Training(milestones=[3]).milestones == (3,)  # lists become tuples: specs are hashable values
    err = spec_error(lambda: TrainSpec(dataset="fmnist", model=ModelId.parse("real-adv0.2-s0")))
    assert err.key == "pgd" and "real-adv0.2-s0" in err.problem
    err = spec_error(lambda: WhiteboxSpec(attack=AttackId.parse("square")))
    assert err.key == "square_queries" and "square" in err.problem and "square" in err.allowed
    err = spec_error(lambda: WhiteboxSpec(attack=AttackId.parse("pgd4"), apgd_steps=10))
    assert err.key == "apgd_steps" and "pgd4" in err.problem and "apgd-ce, apgd-dlr" in err.allowed
