"""The attack registry is the one list of attacks: a toy attack registered in-process appears everywhere.

Names, patterns, labels and order (cvgr.vocab), the config's checks and schema, the command
line's help, the dispatch (cvgr.attacks.evaluate.attack_function) and the audit's columns and worst case
(cvgr.report.audit) all follow the registry; an unknown attack is an error naming the allowed ones.
"""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from conftest import REPO
from cvgr import vocab
from cvgr.attacks import AttackKind, register, unregister
from cvgr.cli import main
from cvgr.errors import CvgrError
from cvgr.attacks.evaluate import attack_function
from cvgr.report.audit import accuracy_columns, columns, masking_row
from cvgr.report.audit_table import accuracy_labels
from cvgr.plugins import load_plugins
from cvgr.study.schema import config_schema
from cvgr.study.plan import Study
from cvgr.study.layers import Layer, study
from cvgr.study.specs import WhiteboxSpec
from cvgr.vocab import AttackId

BUILT_IN = "fgsm, pgd<k> (k >= 1 steps, e.g. pgd10), apgd-ce, apgd-dlr, square"


def _recorder(model, x, y, eps, *, generator=None, **options):
    """A toy attack that returns what it was called with."""
    return {"eps": eps, **options}


@pytest.fixture
def toys():
    """A fixed gradient attack ``toy`` (option ``apgd_steps``) and a query family ``walk<k>``; removed after."""
    register(AttackKind("toy", "Toy", _recorder, gradient=True, options={"apgd_steps": 7}))
    register(AttackKind("walk", "Walk", _recorder, white_box=False, parameter="hops"))
    yield
    unregister("toy")
    unregister("walk")


def test_built_in_attacks_keep_their_names_labels_and_order():
    assert vocab.ATTACK_FORMS == BUILT_IN
    assert vocab.ATTACK_PATTERN == "fgsm|pgd[1-9][0-9]*|apgd-ce|apgd-dlr|square"
    assert vocab.GRADIENT_ATTACK_PATTERN == "fgsm|pgd[1-9][0-9]*"
    names = ["square", "pgd10", "apgd-dlr", "pgd2", "fgsm", "apgd-ce"]
    ordered = sorted((AttackId.parse(n) for n in names), key=AttackId.sort_key)
    assert [a.label for a in ordered] == ["FGSM", "PGD-2", "PGD-10", "APGD-CE", "APGD-DLR", "Square"]
    assert [c for c in columns() if c.startswith("acc_")] == ["acc_clean", "acc_fgsm", "acc_pgd", "acc_apgd_ce",
                                                              "acc_apgd_dlr", "acc_square", "acc_worst"]


def test_a_registered_attack_is_in_names_patterns_labels_and_order(toys):
    assert re.fullmatch(vocab.ATTACK_PATTERN, "toy") and re.fullmatch(vocab.ATTACK_PATTERN, "walk12")
    assert re.fullmatch(vocab.GRADIENT_ATTACK_PATTERN, "toy")
    assert not re.fullmatch(vocab.GRADIENT_ATTACK_PATTERN, "walk3")  # a query attack: audit only
    assert not re.fullmatch(vocab.ATTACK_PATTERN, "walk0") and not re.fullmatch(vocab.ATTACK_PATTERN, "walk")
    assert AttackId.FORM == BUILT_IN + ", toy, walk<k> (k >= 1 hops, e.g. walk10)"
    walk = AttackId.parse("walk12")
    assert (walk.kind, walk.steps, walk.name, walk.label, walk.white_box) == ("walk", 12, "walk12", "Walk-12", False)
    toy = AttackId.parse("toy")
    assert (toy.name, toy.label, toy.gradient, toy.white_box, toy.options) == ("toy", "Toy", True, True,
                                                                                ("apgd_steps",))
    assert sorted([walk, toy, AttackId.parse("square"), AttackId.parse("walk2")], key=AttackId.sort_key) == \
        [AttackId.parse("square"), toy, AttackId.parse("walk2"), walk]


def test_the_dispatch_binds_the_name_integer_and_the_declared_options(toys):
    assert attack_function(AttackId.parse("walk5"), apgd_steps=3)(None, None, None, 0.1) == {"eps": 0.1, "hops": 5}
    assert attack_function(AttackId.parse("toy"))(None, None, None, 0.2) == {"eps": 0.2, "apgd_steps": 7}
    assert attack_function(AttackId.parse("toy"), apgd_steps=3, square_queries=9)(None, None, None, 0.2) == \
        {"eps": 0.2, "apgd_steps": 3}
    with pytest.raises(ValueError, match="momentum.*allowed: random_start, apgd_steps, square_queries"):
        attack_function(AttackId.parse("toy"), momentum=0.9)


def test_config_checks_schema_and_command_line_know_a_registered_attack(toys, capsys):
    def config(*attacks: str) -> Study:
        layer = Layer("mine.yaml", {"datasets": {"fmnist": {"whitebox": {"attacks": list(attacks)}}}})
        return study([Layer.load(REPO / "config.yaml"), layer])

    assert config("fgsm", "toy").plan("fmnist").whitebox_jobs[-1][0] == AttackId("toy")
    with pytest.raises(CvgrError) as err:
        config("walk3")
    assert str(err.value).startswith("mine.yaml: datasets.fmnist.whitebox.attacks[0]: walk3 ")
    assert str(err.value).endswith("allowed: fgsm, pgd<k> (k >= 1 steps, e.g. pgd10), toy")
    spec = WhiteboxSpec.for_attack("toy", eps=(0.1,))
    assert (spec.apgd_steps, spec.square_queries) == (7, None)  # its option, the registry's default
    attack = config_schema()["$defs"]["WhiteboxSection"]["properties"]["attacks"]["items"]
    assert re.fullmatch(attack["pattern"], "toy") and not re.fullmatch(attack["pattern"], "walk3")
    with pytest.raises(SystemExit):
        main(["whitebox", "--help"])
    assert "walk<k> (k >= 1 hops" in " ".join(capsys.readouterr().out.split())


def test_a_registered_attack_has_a_masking_column_and_counts_in_the_worst_case(toys):
    assert list(accuracy_columns())[-2:] == ["toy", "walk"]
    assert accuracy_labels()["acc_toy"] == "Toy" and accuracy_labels()["acc_walk"] == "Walk"
    t, f = True, False
    correct = {"clean": [t, t, t, f], "pgd10": [t, t, f, f], "toy": [t, f, t, f]}
    row = masking_row("m", 0.1, [0, 1, 2, 3], correct)
    assert tuple(row) == columns()
    assert (row["acc_toy"], row["acc_pgd"], row["acc_worst"]) == (50.0, 50.0, 25.0)  # only image 0 survives both
    assert np.isnan(row["acc_walk"]) and np.isnan(row["acc_fgsm"])  # registered, not run


def test_unknown_attacks_are_errors_naming_the_allowed_ones():
    for bad in ("toy", "pgd0", "nes", "PGD10"):
        with pytest.raises(ValueError, match=re.escape(f"unknown attack {bad!r}; allowed: {BUILT_IN}")):
            AttackId.parse(bad)
    with pytest.raises(ValueError, match="allowed: fgsm"):
        AttackId("cw")  # no kind without a registration: nothing falls through to another attack
    with pytest.raises(ValueError, match="allowed: fgsm, pgd<k>"):
        masking_row("m", 0.1, [0, 1], {"clean": [1, 0], "pgd10": [1, 0], "cw": [0, 0]})


def test_a_name_that_collides_is_refused():
    for name, parameter in (("fgsm", None), ("pgd3", None), ("square", "steps")):
        with pytest.raises(ValueError, match="collides"):
            register(AttackKind(name, "X", _recorder, parameter=parameter))
            unregister(name)  # reached only when the registry failed to refuse it
    with pytest.raises(ValueError, match="ending in a letter"):
        AttackKind("bim2", "BIM", _recorder, parameter="steps")
    assert vocab.ATTACK_FORMS == BUILT_IN


def test_plugins_that_cannot_be_imported_or_fail_name_the_module_and_the_fix(tmp_path, monkeypatch):
    with pytest.raises(CvgrError) as err:
        load_plugins(["no_such_cvgr_plugin"], "my.yaml: plugins")
    assert str(err.value).startswith("my.yaml: plugins: 'no_such_cvgr_plugin'")
    assert "PYTHONPATH" in str(err.value) and "pip install" in str(err.value)
    (tmp_path / "clashing_plugin.py").write_text(
        "from cvgr.attacks import AttackKind, register\n"
        "register(AttackKind('fgsm', 'Mine', print))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CvgrError) as err:
        load_plugins(["clashing_plugin"])
    sys.modules.pop("clashing_plugin", None)
    assert "'clashing_plugin'" in str(err.value) and "collides" in str(err.value) and "fix the plugin" in str(err.value)
    assert "\n" not in str(err.value)


def test_the_command_line_imports_plugins_first(tmp_path, monkeypatch, capsys):
    (tmp_path / "walker_plugin.py").write_text(
        "from cvgr.attacks import AttackKind, register\n"
        "register(AttackKind('walker', 'Walker', print, white_box=False))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(SystemExit):
            main(["--plugin", "walker_plugin", "whitebox", "--help"])
        assert "square, walker" in " ".join(capsys.readouterr().out.split())
    finally:
        unregister("walker")
        sys.modules.pop("walker_plugin", None)
    assert main(["--plugin", "no_such_cvgr_plugin", "show", "x.h5"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cvgr error: --plugin: 'no_such_cvgr_plugin' cannot be imported") and "PYTHONPATH" in err
