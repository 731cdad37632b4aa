"""The dataset, architecture and defense registries, used as a plugin outside cvgr uses them.

A plugin module written here (on sys.path, not in cvgr) registers a toy
dataset read from a local ``.npz`` file, a toy architecture and a toy defense
through the public register functions. The dataset then goes through the
preparation stage to a data file, the net and the defense through one
training step of the training stage, and their names are valid wherever
cvgr checks a name.
"""
from __future__ import annotations

import hashlib
import importlib
import re
import sys
import textwrap

import jsonschema
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO

from cvgr import steps, vocab
from cvgr.datasets import DATASETS, get_dataset, register_dataset
from cvgr.defenses import DEFENSES
from cvgr.errors import CvgrError
from cvgr.results.io import read_h5
from cvgr.nets import ARCHITECTURES
from cvgr.nn import build_model
from cvgr.results.records import TrainingHistory
from cvgr.registry import UnknownNameError
from cvgr.study.plan import Study
from cvgr.study.schema import render
from cvgr.study.specs import TrainSpec
from cvgr.report.tables import defense_label
from cvgr.vocab import ModelId

torch.set_num_threads(1)

PLUGIN = '''
"""A cvgr plugin: a toy dataset, a toy net and a toy defense."""
from pathlib import Path

import numpy as np
from torch import nn

from cvgr.datasets import Augmentation, register_dataset
from cvgr.defenses import register_defense
from cvgr.nets import register_architecture

CALLS = []


def load(root: Path, split: str):
    data = np.load(Path(root) / "toy.npz")
    return data[f"{split}_x"], data[f"{split}_y"]


def tiny_layers(field, in_shape, classes):
    c, h, w = in_shape
    return [nn.Flatten(), nn.Linear(c * h * w, classes)]


def noisy_batch(model, xb, yb, spec, generator):
    CALLS.append((spec.model.strength, tuple(xb.shape)))
    return (xb + spec.model.strength).clamp(0, 1)


register_dataset("toy", loader=load, raw_files=["toy.npz"], shape=(1, 4, 4), classes=["no", "yes", "maybe"],
                 label="Toy", prose="the toy set", augmentation=Augmentation(flip=True, pad=1))
register_architecture("tiny", tiny_layers, design_shape=(1, 4, 4))
register_defense("noise", label="Noise", strength="sigma", meaning="sigma, added to every pixel",
                 batch=noisy_batch)
'''


@pytest.fixture()
def plugin(tmp_path, monkeypatch):
    """The plugin module imported from a folder on sys.path; its entries removed afterwards."""
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "toyplugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path / "plug"))
    module = importlib.import_module("toyplugin")
    yield module
    sys.modules.pop("toyplugin", None)
    for registry, name in ((DATASETS, "toy"), (ARCHITECTURES, "tiny"), (DEFENSES, "noise")):
        registry.unregister(name)


def write_toy_raw(folder, rng):
    """The toy set's one raw file: 12 train and 6 test 4x4 uint8 images with labels 0..2."""
    folder.mkdir()
    arrays = {"train_x": rng.integers(0, 256, (12, 1, 4, 4), dtype=np.uint8), "train_y": rng.integers(0, 3, 12),
              "test_x": rng.integers(0, 256, (6, 1, 4, 4), dtype=np.uint8), "test_y": rng.integers(0, 3, 6)}
    np.savez(folder / "toy.npz", **arrays)
    return arrays


def test_plugin_dataset_is_prepared_to_a_data_file(plugin, tmp_path):
    arrays = write_toy_raw(tmp_path / "raw", np.random.default_rng(0))
    out = tmp_path / "results" / "data" / "toy.h5"
    steps.prepare("toy", str(out), raw_dir=str(tmp_path / "raw"), download=False)
    data = read_h5(out)
    for split in ("train", "test"):
        np.testing.assert_array_equal(data.arrays[f"{split}/images"], arrays[f"{split}_x"])
        np.testing.assert_array_equal(data.arrays[f"{split}/labels"], arrays[f"{split}_y"])
    assert data.attrs["dataset"] == "toy" and data.attrs["classes"] == 3
    assert list(data.attrs["class_names"]) == ["no", "yes", "maybe"]
    digest = hashlib.sha256((tmp_path / "raw" / "toy.npz").read_bytes()).hexdigest()
    assert data.attrs["raw_files"] == {"toy.npz": digest}


def test_plugin_dataset_missing_raw_file_names_the_file_and_the_fix(plugin, tmp_path):
    with pytest.raises(CvgrError) as err:
        steps.prepare("toy", str(tmp_path / "toy.h5"), raw_dir=str(tmp_path / "empty"), download=True)
    assert "toy.npz" in str(err.value) and "raw_dir" in str(err.value) and "does not download" in str(err.value)


def test_plugin_names_are_words_choices_and_schema_enums(plugin):
    assert vocab.DATASETS[-1] == "toy" and "toy" not in vocab.PAPER_DATASETS
    assert vocab.dataset_label("toy") == "Toy" and vocab.DATASET_PROSE["toy"] == "the toy set"
    assert sorted(["toy", "zeta", "fmnist", "mnist"], key=vocab.dataset_key) == ["mnist", "fmnist", "toy", "zeta"]
    assert "tiny" in vocab.ARCHITECTURES and "noise" in vocab.DEFENSES
    schema = yaml.safe_load(render())  # a plugin's names are valid in the schema, and in the specs
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["run"] = ["toy"]
    config["datasets"] = {"toy": {**config["datasets"]["fmnist"], "arch": {"real": "tiny", "complex": "tiny"}}}
    assert not list(jsonschema.Draft202012Validator(schema).iter_errors(config))
    assert Study.from_mapping(config).datasets == ["toy"]
    spec = TrainSpec(dataset="toy", model=ModelId.parse("real-noise0.5-s1"), arch="tiny")
    assert spec.arch == "tiny" and spec.model.strength == 0.5


def test_plugin_model_names_round_trip_and_sort_after_the_built_in_defenses(plugin):
    names = ["complex-noise0.25-s0", "real-noise2-s1", "real-adv0.2-s0", "real-std-s0", "real-gr64-s0"]
    models = [ModelId.parse(n) for n in names]
    assert [m.name for m in models] == names
    assert [m.name for m in sorted(models, key=ModelId.sort_key)] == [
        "real-std-s0", "real-gr64-s0", "real-adv0.2-s0", "real-noise2-s1", "complex-noise0.25-s0"]
    assert ModelId.of("real", sigma=0.25, seed=3).name == "real-noise0.25-s3"
    assert re.fullmatch(vocab.model_pattern(), "real-noise0.25-s3")
    assert models[0].beta == models[0].adv_eps == 0.0
    assert [defense_label(m) for m in models[:3]] == ["Noise 0.25", "Noise 2", "eps 0.2 adversarial training"]


def test_plugin_net_and_defense_train_one_step_on_the_prepared_data(plugin, tmp_path):
    write_toy_raw(tmp_path / "raw", np.random.default_rng(1))
    data = tmp_path / "toy.h5"
    steps.prepare("toy", str(data), raw_dir=str(tmp_path / "raw"), download=False)
    spec = TrainSpec(dataset="toy", model=ModelId.parse("real-noise0.5-s0"), arch="tiny", epochs=1, batch_size=12,
                     milestones=(5,), eval_images=6)
    steps.train(str(data), str(tmp_path / "m.pt"), str(tmp_path / "m.h5"), spec, progress=False)
    history = TrainingHistory.read(tmp_path / "m.h5")
    assert history.arch == "tiny" and history.model.name == "real-noise0.5-s0"
    assert plugin.CALLS == [(0.5, (12, 1, 4, 4))]  # one batch of 12, replaced by the defense's batch function
    net = build_model("tiny", "real", (1, 4, 4), 3)
    assert net(torch.zeros(2, 1, 4, 4)).shape == (2, 3)


def test_unknown_names_raise_naming_the_registered_ones():
    with pytest.raises(UnknownNameError, match="unknown dataset 'kmnist'") as err:
        get_dataset("kmnist")
    assert all(n in str(err.value) for n in ("mnist", "svhn", "fmnist", "cifar10"))
    with pytest.raises(ValueError, match="unknown architecture 'resnet'") as err:
        build_model("resnet", "real")
    assert all(n in str(err.value) for n in ("small_cnn", "mlp", "cifar_cnn", "cifar_cnn_warp"))
    with pytest.raises(ValueError, match="'real-mixup1-s0' is not a model name") as err:
        ModelId.parse("real-mixup1-s0")
    assert "gr<beta>" in str(err.value) and "adv<eps>" in str(err.value)
    with pytest.raises(CvgrError, match="arch") as err:
        TrainSpec(dataset="mnist", model=ModelId.parse("real-std-s0"), arch="resnet")
    assert "'resnet'" in str(err.value) and "small_cnn" in str(err.value)


def test_a_taken_or_malformed_name_is_refused():
    with pytest.raises(CvgrError, match="'mnist' is registered twice"):
        register_dataset("mnist", loader="KMNIST", shape=(1, 28, 28), classes=[str(d) for d in range(10)])
    with pytest.raises(CvgrError, match="'K-MNIST' is not allowed"):
        register_dataset("K-MNIST", loader="KMNIST", shape=(1, 28, 28), classes=["0"])
    assert "K-MNIST" not in vocab.DATASETS and vocab.DATASETS == ("mnist", "svhn", "fmnist", "cifar10")


class NpzDataset:
    """A torchvision-like class: ``(root, train=..., download=...)`` with ``data`` (N, H, W) and ``targets``."""

    def __init__(self, root, train=True, download=False):
        arrays = np.load(f"{root}/toy.npz")
        split = "train" if train else "test"
        self.data, self.targets = arrays[f"{split}_x"][:, 0], list(arrays[f"{split}_y"])


def test_a_torchvision_like_class_reads_local_files(tmp_path):
    arrays = write_toy_raw(tmp_path / "raw", np.random.default_rng(2))
    register_dataset("npzset", loader=NpzDataset, raw_files=["toy.npz"], shape=(1, 4, 4), classes=["a", "b", "c"])
    try:
        steps.prepare("npzset", str(tmp_path / "npzset.h5"), raw_dir=str(tmp_path / "raw"), download=False)
        data = read_h5(tmp_path / "npzset.h5")
        np.testing.assert_array_equal(data.arrays["test/images"], arrays["test_x"])  # (N, H, W) -> (N, 1, H, W)
        np.testing.assert_array_equal(data.arrays["train/labels"], arrays["train_y"])
        register_dataset("npzset", loader=NpzDataset, raw_files=["toy.npz"], shape=(3, 4, 4), classes=["a"],
                         replace=True)
        with pytest.raises(CvgrError, match=r"npzset: .*expected \(N, 3, 4, 4\)"):
            steps.prepare("npzset", str(tmp_path / "bad.h5"), raw_dir=str(tmp_path / "raw"), download=False)
    finally:
        DATASETS.unregister("npzset")
    assert not (tmp_path / "bad.h5").exists()
