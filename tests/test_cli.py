"""The command line as a user runs it: every command's normal run, and every bad input refused in one line."""
from __future__ import annotations

import ast
import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO
from cvgr import cli
from cvgr.results.io import read_h5
from cvgr.results.records import CraftedSet, NesResult, TrainingHistory, TransferCell, WhiteboxCurve
from cvgr.study.specs import WhiteboxSpec
from cvgr.vocab import AttackId, ModelId

torch.set_num_threads(1)
TINY = ["--epochs", "1", "--train-size", "128", "--eval-images", "32", "--batch-size", "32", "--device", "cpu"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def made(tmp_path_factory, fmnist_raw) -> Path:
    """prepare, train a complex G.R. and a real adversarially trained model, and craft adversarial examples
    with the first (adv.h5), through the CLI. Tests read these files and write their own into tmp_path."""
    d = tmp_path_factory.mktemp("cli")
    assert cli.main(["prepare", "fmnist", "--out", str(d / "fm.h5"), "--raw-dir", str(fmnist_raw), "--no-download"]) == 0
    assert cli.main(["train", "--data", str(d / "fm.h5"), "--field", "complex", "--beta", "64",
                     "--out", str(d / "c.pt"), *TINY]) == 0
    assert cli.main(["train", "--data", str(d / "fm.h5"), "--field", "real", "--adv-eps", "0.2", "--adv-steps", "2",
                     "--seed", "1", "--out", str(d / "r.pt"), *TINY]) == 0
    assert cli.main(["craft", "--data", str(d / "fm.h5"), "--model", str(d / "c.pt"), "--eps", "0.1",
                     "--images", "16", "--out", str(d / "adv.h5")]) == 0
    return d


def test_prepare_and_train_write_their_files(made):
    data = read_h5(made / "fm.h5", keys=[])
    assert data.attrs["dataset"] == "fmnist" and data.attrs["classes"] == 10
    hist = TrainingHistory.read(made / "c.h5")
    assert (hist.model.name, hist.epochs, hist.train_size, hist.eval_images) == ("complex-gr64-s0", 1, 128, 32)
    assert TrainingHistory.read(made / "r.h5").model.name == "real-adv0.2-s1"
    assert not (made / "c.ckpt").exists()


def test_complex_adversarial_training(made, tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--data", made / "fm.h5", "--field", "complex", "--adv-eps", "0.1",
                       "--adv-steps", "1", "--no-adv-random-start", "--out", tmp_path / "cadv.pt", *TINY)
    assert code == 0 and "complex-adv0.1-s0" in out
    hist = read_h5(tmp_path / "cadv.h5", keys=[])
    assert hist.provenance["config"]["pgd"] == {"steps": 1, "random_start": False}
    assert np.isfinite(hist.attrs["clean_acc"])


def test_attack_transfer_whitebox_nes_show_provenance(made, tmp_path, capsys):
    d, t = made, tmp_path
    assert run(capsys, "craft", "--data", d / "fm.h5", "--model", d / "c.pt", "--eps", "0.1", "--images", "16",
               "--out", t / "adv.h5")[0] == 0
    adv = CraftedSet.read(t / "adv.h5")
    assert adv.x_adv.shape == (16, 1, 28, 28) and adv.model.name == "complex-gr64-s0"

    assert run(capsys, "transfer", "--adv", t / "adv.h5", "--model", d / "r.pt", "--out", t / "cell.h5")[0] == 0
    cell = TransferCell.read(t / "cell.h5")
    assert (cell.source.name, cell.target.name, cell.role, cell.n_images) == \
        ("complex-gr64-s0", "real-adv0.2-s1", "real-adv", 16)

    assert run(capsys, "whitebox", "--data", d / "fm.h5", "--model", d / "c.pt", "--attack", "pgd2",
               "--eps", "0", "0.1", "--images", "8", "--random-start", "--out", t / "wb.h5")[0] == 0
    curve = WhiteboxCurve.read(t / "wb.h5")
    assert curve.correct.shape == (2, 8) and curve.random_start and curve.attack.name == "pgd2"

    assert run(capsys, "whitebox", "--data", d / "fm.h5", "--model", d / "c.pt", "--attack", "square",
               "--eps", "0.1", "--images", "4", "--square-queries", "20", "--out", t / "sq.h5")[0] == 0
    square = WhiteboxCurve.read(t / "sq.h5")
    assert (square.spec.square_queries, square.spec.apgd_steps, square.correct.shape) == (20, None, (1, 4))

    assert run(capsys, "nes", "--data", d / "fm.h5", "--model", d / "c.pt", "--images", "2", "--steps", "2",
               "--queries", "8", "--out", t / "nes.h5")[0] == 0
    res = NesResult.read(t / "nes.h5")
    assert res.queries_per_image == 8 and res.spec.samples == 2

    code, out, _ = run(capsys, "show", t / "cell.h5")
    assert code == 0 and "transfer-cell" in out and "role: real-adv" in out and "accuracy:" in out
    code, out, _ = run(capsys, "show", d / "c.pt")
    assert code == 0 and "complex small_cnn model complex-gr64-s0 for fmnist" in out
    code, out, _ = run(capsys, "provenance", t / "cell.h5")
    assert code == 0 and "[transfer]" in out and "[craft]" in out and "[train]" in out and "[prepare]" in out


@pytest.mark.parametrize("attack", ["fgsm", "pgd4", "apgd-ce", "apgd-dlr", "square"])
def test_whitebox_builds_the_spec_the_config_builds(attack, monkeypatch, capsys):
    """The same audit values on the command line and in the config give the same job spec."""
    from cvgr import steps
    from cvgr.study.plan import Study

    raw = yaml.safe_load((REPO / "config.yaml").read_text())
    audit = raw["datasets"]["fmnist"]["audit"]
    audit.update(random_start=True, apgd_steps=7, square_queries=30)
    expected = Study.from_mapping(raw).plan("fmnist").audit_spec(AttackId.parse(attack))
    built = []
    monkeypatch.setattr(steps, "whitebox", lambda data, model, out, spec, **_: built.append(spec))
    code, _, err = run(capsys, "whitebox", "--data", "d.h5", "--model", "m.pt", "--out", "o.h5", "--attack", attack,
                       "--eps", *expected.eps, "--images", audit["images"], "--random-start",
                       "--apgd-steps", audit["apgd_steps"], "--square-queries", audit["square_queries"])
    assert (code, err) == (0, "") and built == [expected]


def test_show_prints_every_attribute_and_array_the_file_holds(tmp_path, capsys):
    path = tmp_path / "w.h5"
    WhiteboxCurve(dataset="mnist", model=ModelId.parse("complex-gr64-s0"),
                  spec=WhiteboxSpec(attack=AttackId.parse("pgd4"), eps=(0.0, 0.1), images=4),
                  correct=np.array([[1, 1, 1, 0], [1, 0, 0, 0]], np.uint8),
                  labels=np.array([3, 1, 4, 1])).write(path, {})
    code, out, _ = run(capsys, "show", path)
    head, *lines = out.splitlines()
    shown = dict(line.strip().split(": ", 1) for line in lines)
    h5 = read_h5(path)
    assert code == 0 and head == f"{path}: whitebox-curve"
    assert set(shown) == (set(h5.attrs) - {"record"}) | set(h5.arrays)
    for key, value in h5.attrs.items():
        if key != "record":
            with contextlib.suppress(ValueError, SyntaxError):
                shown[key] = ast.literal_eval(shown[key])
            assert shown[key] == value, key
    assert shown["eps"] == "float64 (2,)  [0, 0.1]" and shown["correct"] == "uint8 (2, 4)"


def test_transfer_refuses_examples_of_another_dataset(made, tmp_path, capsys):
    adv = CraftedSet.read(made / "adv.h5")
    other = CraftedSet(dataset="mnist", model=adv.model, attack=adv.attack, eps=adv.eps, x_adv=adv.x_adv,
                           labels=adv.labels, indices=adv.indices)
    other.write(tmp_path / "mnist-adv.h5", {})
    code, _, err = run(capsys, "transfer", "--adv", tmp_path / "mnist-adv.h5", "--model", made / "r.pt",
                       "--out", tmp_path / "cell.h5")
    assert code == 1 and err.strip().splitlines() == [
        f"cvgr error: {tmp_path / 'mnist-adv.h5'} holds mnist images but {made / 'r.pt'} was trained on fmnist: "
        "pair files of the same dataset"]
    assert not (tmp_path / "cell.h5").exists()


#: Bad command-line input: (args, the flag the line names, what else it names: the value, what is allowed).
BAD = [
    (["nes", "--images", "-5"], "--images", ["-5", "an integer >= 1"]),
    (["craft", "--eps", "7"], "--eps", ["7", "[0, 1]"]),
    (["craft", "--eps", "-0.1"], "--eps", ["-0.1", "[0, 1]"]),
    (["whitebox", "--eps"], "--eps", ["empty", "a list of numbers in [0, 1]"]),
    (["whitebox", "--attack", "pgd0"], "--attack", ["'pgd0'", "fgsm, pgd<k>"]),
    (["train", "--epochs", "0"], "--epochs", ["0", "an integer >= 1"]),
    (["train", "--lr", "nan"], "--lr", ["nan", "a number > 0"]),
    (["train", "--beta", "-3"], "--beta", ["-3", "a number >= 0"]),
    (["train", "--beta", "8", "--adv-eps", "0.1"], "--adv-eps", ["--beta 0 or --adv-eps 0"]),
    (["nes", "--queries", "0"], "--queries", ["0", "an integer >= 2"]),
    (["nes", "--queries", "100"], "--queries", ["100", "multiples of 16"]),
    (["nes", "--seed", "-1"], "--seed", ["-1", "an integer >= 0"]),
    (["train", "--epochs", "x"], "argument --epochs", ["'x'"]),
    (["whitebox", "--attack", "square", "--square-queries", "2"], "--square-queries", ["2", "an integer >= 3"]),
    (["whitebox", "--attack", "apgd-ce", "--apgd-steps", "0"], "--apgd-steps", ["0", "an integer >= 1"]),
]


@pytest.mark.parametrize("args, flag, parts", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_line_a_non_zero_exit_and_no_file(made, tmp_path, capsys, args, flag, parts):
    command, *rest = args
    needs = {"train": ["--data", made / "fm.h5"], "transfer": ["--adv", made / "adv.h5", "--model", made / "r.pt"]}
    files = needs.get(command, ["--data", made / "fm.h5", "--model", made / "c.pt"])
    out = tmp_path / ("o.pt" if command == "train" else "o.h5")
    extra = ["--eps", "0.1"] if command == "craft" and "--eps" not in rest else []
    try:
        code = cli.main([command, *map(str, files), "--out", str(out), *extra, *rest])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith(f"cvgr error: {flag}: "), err
    assert all(part in err[0] for part in parts), (parts, err[0])
    assert not out.exists() and not list(tmp_path.iterdir())
