"""Result records: each file's layout read back with h5py alone, and files of the wrong kind refused."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from cvgr.errors import CorruptFileError, CvgrError
from cvgr.results.records import (HISTORY_KEYS, CraftedSet, NesResult, TrainingHistory, TransferCell, WhiteboxCurve,
                          read_any)
from cvgr.study.specs import NesSpec, WhiteboxSpec
from cvgr.vocab import AttackId, ModelId

M = ModelId.parse("complex-gr64-s0")


def raw(path) -> tuple[dict, dict]:
    """(attributes, arrays) of an HDF5 file, read with h5py only."""
    with h5py.File(path, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        arrays = {}
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return attrs, arrays


def test_transfer_cell_layout(tmp_path):
    correct = np.array([1, 0, 1, 1], np.uint8)
    cell = TransferCell(dataset="fmnist", source=M, target=ModelId.parse("real-std-s1"), role="real-std",
                        attack=AttackId("fgsm"), eps=0.16, correct=correct)
    cell.write(tmp_path / "c.h5", {"stage": "transfer"})
    attrs, arrays = raw(tmp_path / "c.h5")
    assert (attrs["record"], attrs["source"], attrs["target"], attrs["role"], attrs["attack"]) == \
        ("transfer-cell", "complex-gr64-s0", "real-std-s1", "real-std", "fgsm")
    assert attrs["n_images"] == 4 and attrs["accuracy"] == 75.0  # summaries for readers of the file
    np.testing.assert_array_equal(arrays["correct"], correct)
    assert json.loads(attrs["provenance"]) == {"stage": "transfer"}
    back = TransferCell.read(tmp_path / "c.h5")
    assert (back.source, back.role, back.accuracy, back.path) == (M, "real-std", 75.0, str(tmp_path / "c.h5"))


def test_whitebox_curve_layout_and_accuracy_per_eps(tmp_path):
    correct = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], np.uint8)
    spec = WhiteboxSpec(attack=AttackId.parse("pgd4"), eps=(0.0, 0.1), images=4)
    WhiteboxCurve(dataset="mnist", model=M, spec=spec, correct=correct,
                  labels=np.array([3, 1, 4, 1])).write(tmp_path / "w.h5", {})
    attrs, arrays = raw(tmp_path / "w.h5")
    assert attrs["attack"] == "pgd4" and attrs["n_images"] == 4 and json.loads(attrs["spec"]) == spec.to_dict()
    np.testing.assert_array_equal(arrays["accuracy"], [75.0, 25.0])
    np.testing.assert_array_equal(arrays["eps"], [0.0, 0.1])
    back = WhiteboxCurve.read(tmp_path / "w.h5")
    np.testing.assert_array_equal(back.accuracy, [75.0, 25.0])
    assert back.attack == AttackId("pgd", 4) and back.spec == spec
    np.testing.assert_array_equal(back.at(0.1), [True, False, False, False])
    with pytest.raises(KeyError, match="eps 0.2 is not in its grid"):
        back.at(0.2)
    with pytest.raises(ValueError, match="one row per eps"):
        WhiteboxCurve(dataset="mnist", model=M, spec=spec, correct=correct[:1], labels=np.zeros(4, np.int64))


def test_nes_result_keeps_its_spec(tmp_path):
    spec = NesSpec(eps=0.1, steps=2, queries=8, images=3)
    NesResult(dataset="fmnist", model=M, spec=spec, queries_per_image=8.0, correct=np.array([0, 1, 0], np.uint8),
              clean_correct=np.array([1, 1, 0], np.uint8)).write(tmp_path / "n.h5", {})
    attrs, _ = raw(tmp_path / "n.h5")
    assert json.loads(attrs["spec"]) == spec.to_dict() and "spec" in json.loads(attrs["_json_attrs"])
    back = NesResult.read(tmp_path / "n.h5")
    assert back.spec == spec and back.spec.samples == 2
    assert back.accuracy == pytest.approx(100 / 3) and back.clean_accuracy == pytest.approx(200 / 3)


def test_training_history_and_adversarial_set(tmp_path):
    hist = {k: np.arange(3, dtype=np.float64) for k in HISTORY_KEYS}
    hist["test_acc"] = np.array([10.0, 20.0, 62.5])
    TrainingHistory(dataset="fmnist", model=M, arch="small_cnn", mode="paper", epochs=3, train_size=100,
                    eval_images=80, history=hist).write(tmp_path / "h.h5", {})
    attrs, arrays = raw(tmp_path / "h.h5")
    assert sorted(k for k in arrays) == sorted(f"history/{k}" for k in HISTORY_KEYS)
    assert attrs["clean_acc"] == 62.5
    back = TrainingHistory.read(tmp_path / "h.h5")
    assert (back.clean_acc, back.clean_correct, back.final_zeta) == (62.5, 50, 2.0)

    x = np.zeros((2, 1, 2, 2), np.float32)
    CraftedSet(dataset="fmnist", model=M, attack=AttackId("fgsm"), eps=0.1, x_adv=x,
                   labels=np.array([3, 4]), indices=np.array([0, 1])).write(tmp_path / "a.h5", {})
    assert raw(tmp_path / "a.h5")[0]["n_images"] == 2
    with pytest.raises(ValueError, match="differ in length"):
        CraftedSet(dataset="fmnist", model=M, attack=AttackId("fgsm"), eps=0.1, x_adv=x,
                       labels=np.array([3]), indices=np.array([0, 1]))


def test_wrong_kind_and_broken_fields_are_named(tmp_path):
    TransferCell(dataset="fmnist", source=M, target=M, role="self", attack=AttackId("fgsm"), eps=0.1,
                 correct=np.ones(2, np.uint8)).write(tmp_path / "c.h5", {})
    with pytest.raises(CvgrError, match=r"c\.h5 is a transfer-cell file, not a nes-result file"):
        NesResult.read(tmp_path / "c.h5")
    assert isinstance(read_any(tmp_path / "c.h5"), TransferCell)
    with h5py.File(tmp_path / "c.h5", "a") as f:
        f.attrs["source"] = "complex-gr-s0"
    with pytest.raises(CorruptFileError, match="attribute 'source': 'complex-gr-s0' is not a model name"):
        TransferCell.read(tmp_path / "c.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.attrs["provenance"] = "{}"
    with pytest.raises(CvgrError, match="not a cvgr result record"):
        TransferCell.read(tmp_path / "plain.h5")
