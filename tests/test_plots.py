"""Figures: the PNG opens, has a sane size, and the figure draws the expected lines and data."""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
from matplotlib.image import imread

from cvgr.errors import CorruptFileError, CvgrError
from cvgr.report.figures import plot_whitebox, plot_zeta, whitebox_figure, zeta_figure
from cvgr.results.records import HISTORY_KEYS, TrainingHistory, WhiteboxCurve
from cvgr.study.specs import WhiteboxSpec
from cvgr.vocab import AttackId, ModelId

EPS = np.round(np.arange(0, 0.31, 0.1), 2)


def write_h5(path, attrs: dict, arrays: dict) -> str:
    """A hand-made HDF5 file (for files that are not what a record writes)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            f.create_dataset(name, data=value)
        for name, value in attrs.items():
            f.attrs[name] = value
        f.attrs["provenance"] = "{}"
    return str(path)


def whitebox(tmp_path, dataset, attack, model, acc) -> str:
    """A white-box curve over EPS on 100 images with the given accuracies (whole percents)."""
    path = f"{tmp_path}/whitebox/{dataset}/{attack}/{model}.h5"
    correct = np.stack([(np.arange(100) < a).astype(np.uint8) for a in acc])
    spec = WhiteboxSpec(attack=AttackId.parse(attack), eps=tuple(EPS.tolist()), images=100,
                        random_start=attack != "fgsm")
    WhiteboxCurve(dataset=dataset, model=ModelId.parse(model), spec=spec, correct=correct,
                  labels=np.zeros(100, np.int64)).write(path, {})
    return path


def history(tmp_path, dataset, model, zeta) -> str:
    n = len(zeta)
    hist = {k: np.zeros(n) for k in HISTORY_KEYS}
    hist.update({"epoch": np.arange(1, n + 1, dtype=np.float64), "zeta": np.asarray(zeta, np.float64)})
    path = f"{tmp_path}/models/{dataset}/{model}.h5"
    TrainingHistory(dataset=dataset, model=ModelId.parse(model), arch="small_cnn", mode="paper", epochs=n,
                    train_size=100, eval_images=100, history=hist).write(path, {})
    return path


@pytest.fixture
def whitebox_paths(tmp_path):
    return [whitebox(tmp_path, "fmnist", "fgsm", "real-gr64-s0", [90, 60, 30, 10]),
            whitebox(tmp_path, "fmnist", "fgsm", "complex-gr64-s0", [89, 70, 50, 30]),
            whitebox(tmp_path, "fmnist", "fgsm", "real-std-s0", [91, 10, 2, 0]),
            whitebox(tmp_path, "fmnist", "pgd10", "real-gr64-s0", [90, 50, 20, 5]),
            whitebox(tmp_path, "fmnist", "pgd10", "complex-gr64-s0", [89, 60, 40, 20]),
            whitebox(tmp_path, "mnist", "pgd20", "real-std-s0", [99, 1, 0, 0])]  # other dataset: not drawn


def test_whitebox_figure_panels_and_lines(whitebox_paths):
    fig = whitebox_figure(whitebox_paths, "fmnist")
    fgsm, pgd = fig.axes
    assert [fgsm.get_title(), pgd.get_title()] == ["FGSM", "PGD-10"]
    assert "FMNIST" in fig.get_suptitle()
    assert [ln.get_label() for ln in fgsm.get_lines()] == ["real-std-s0", "real-gr64-s0", "complex-gr64-s0"]
    assert [ln.get_label() for ln in pgd.get_lines()] == ["real-gr64-s0", "complex-gr64-s0"]
    np.testing.assert_array_equal(pgd.get_lines()[1].get_xydata(), np.c_[EPS, [89, 60, 40, 20]])
    assert fgsm.get_xlabel().startswith("eps") and fgsm.get_ylabel() == "accuracy (%)"
    assert [t.get_text() for t in fgsm.get_legend().get_texts()] == ["real-std-s0", "real-gr64-s0",
                                                                      "complex-gr64-s0"]
    real, cplx = pgd.get_lines()
    assert real.get_color() != cplx.get_color()
    std_fgsm, gr_fgsm = fgsm.get_lines()[:2]
    assert real.get_linestyle() == gr_fgsm.get_linestyle() != std_fgsm.get_linestyle()  # same style in both panels


def test_plot_whitebox_writes_deterministic_png(whitebox_paths, tmp_path):
    plot_whitebox(whitebox_paths, tmp_path / "fig" / "a.png", "fmnist")
    plot_whitebox(whitebox_paths[::-1], tmp_path / "fig" / "b.png", "fmnist")
    img = imread(tmp_path / "fig" / "a.png")
    assert img.shape[0] >= 300 and img.shape[1] >= 600 and img.shape[2] in (3, 4)
    assert img.std() > 0.01  # not a blank canvas
    assert (tmp_path / "fig" / "a.png").read_bytes() == (tmp_path / "fig" / "b.png").read_bytes()
    assert b"Software" not in (tmp_path / "fig" / "a.png").read_bytes()
    assert sorted(os.listdir(tmp_path / "fig")) == ["a.png", "b.png"]


def test_whitebox_one_panel_per_attack(tmp_path):
    fig = whitebox_figure([whitebox(tmp_path, "mnist", "fgsm", "real-std-s0", [99, 50, 5, 0])], "mnist")
    assert [ax.get_title() for ax in fig.axes] == ["FGSM"]
    two = [whitebox(tmp_path, "mnist", a, "real-std-s0", [99, 9, 0, 0]) for a in ("pgd20", "pgd4", "fgsm")]
    fig = whitebox_figure(two, "mnist")  # two PGD step counts: a panel each, in step order
    assert [ax.get_title() for ax in fig.axes] == ["FGSM", "PGD-4", "PGD-20"]
    assert all(len(ax.get_lines()) == 1 for ax in fig.axes)


def test_whitebox_errors(whitebox_paths, tmp_path):
    with pytest.raises(CvgrError, match="no whitebox-curve files"):
        plot_whitebox([], tmp_path / "w.png", "fmnist")
    with pytest.raises(CvgrError, match="for dataset 'svhn' \\(found: fmnist, mnist\\)"):
        plot_whitebox(whitebox_paths, tmp_path / "w.png", "svhn")
    bad = write_h5(f"{tmp_path}/bad.h5", dict(dataset="fmnist", model="real-std-s0", record="whitebox-curve"),
                   {"correct": np.zeros((4, 3), np.uint8), "labels": np.zeros(3, np.int64)})
    with pytest.raises(CorruptFileError, match="missing attribute .spec.") as e:
        plot_whitebox([bad], tmp_path / "w.png", "fmnist")
    assert bad in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "w.png").exists()


def test_zeta_figure_one_line_per_gr_model(tmp_path):
    paths = [history(tmp_path, "fmnist", "complex-gr64-s0", [0.9, 0.92, 0.95]),
             history(tmp_path, "fmnist", "real-gr64-s0", [0.5, 0.4, 0.45]),
             history(tmp_path, "fmnist", "real-gr512-s0", [0.2, 0.1, 0.15]),
             history(tmp_path, "fmnist", "real-std-s0", [1.0, 1.0, 1.0])]  # omitted: zeta == 1
    fig = zeta_figure(paths, "fmnist")
    (ax,) = fig.axes
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == ["real-gr64-s0", "real-gr512-s0", "complex-gr64-s0"]
    np.testing.assert_array_equal(lines["complex-gr64-s0"].get_xydata(), [[1, 0.9], [2, 0.92], [3, 0.95]])
    assert lines["real-gr64-s0"].get_color() == lines["real-gr512-s0"].get_color()
    assert lines["real-gr64-s0"].get_color() != lines["complex-gr64-s0"].get_color()
    assert lines["real-gr64-s0"].get_linestyle() == lines["complex-gr64-s0"].get_linestyle()
    assert lines["real-gr64-s0"].get_linestyle() != lines["real-gr512-s0"].get_linestyle()
    assert ax.get_xlabel() == "epoch" and "zeta" in ax.get_ylabel() and "FMNIST" in ax.get_title()

    plot_zeta(paths, tmp_path / "z.png", "fmnist")
    img = imread(tmp_path / "z.png")
    assert img.shape[0] >= 300 and img.shape[1] >= 400


def test_zeta_errors(tmp_path):
    std = history(tmp_path, "mnist", "real-std-s0", [1.0, 1.0])
    with pytest.raises(CvgrError, match="no G.R. model"):
        plot_zeta([std], tmp_path / "z.png", "mnist")
    with pytest.raises(CvgrError, match="no training-history files"):
        plot_zeta([], tmp_path / "z.png", "mnist")
    nozeta = write_h5(f"{tmp_path}/h.h5", dict(dataset="mnist", model="real-gr64-s0", arch="mlp", mode="paper",
                                               epochs=1, train_size=1, eval_images=1, record="training-history"),
                      {"history/epoch": [1]})
    with pytest.raises(CorruptFileError, match="history/zeta") as e:
        plot_zeta([nozeta], tmp_path / "z.png", "mnist")
    assert nozeta in str(e.value)
