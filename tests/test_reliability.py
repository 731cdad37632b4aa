"""What users rely on when things go wrong: corrupt inputs, changed raw data, NaN, wrong models, CLI errors."""
from pathlib import Path

import numpy as np
import pytest
import torch

from cvgr import cli, steps
from cvgr.errors import CorruptFileError, CvgrError, NumericalError, ShapeMismatchError, StaleInputError
from cvgr.results.io import make_provenance, write_h5
from cvgr.study.specs import AttackSpec, Runtime, TrainSpec, WhiteboxSpec
from cvgr.vocab import AttackId, ModelId

CPU = Runtime(device="cpu")

torch.set_num_threads(1)


def _write_data(path: Path, shape=(1, 28, 28), n=96, raw: Path | None = None) -> Path:
    """A tiny dataset file in the pipeline's format (random pixels: a test fixture, not a dataset)."""
    rng = np.random.default_rng(0)
    imgs = lambda k: rng.integers(0, 256, size=(k, *shape), dtype=np.uint8)  # noqa: E731
    labels = lambda k: rng.integers(0, 10, size=k).astype(np.int64)  # noqa: E731
    raw_files = {}
    inputs = []
    if raw is not None:
        import hashlib
        raw_files = {raw.name: hashlib.sha256(raw.read_bytes()).hexdigest()}
        inputs = [raw]
    write_h5(path, {"train/images": imgs(n), "train/labels": labels(n), "test/images": imgs(32),
                    "test/labels": labels(32)},
             {"dataset": "fmnist", "classes": 10, "raw_files": raw_files, "raw_root": str(raw.parent) if raw else ""},
             make_provenance("prepare", {"dataset": "fmnist"}, inputs=inputs))
    return path


def _spec(model="real-std-s0", **kw):
    base = dict(dataset="fmnist", model=ModelId.parse(model), arch="small_cnn", epochs=1, batch_size=32, lr=0.01,
                milestones=(), augment=False, eval_images=16)
    return TrainSpec(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("rel")
    data = _write_data(d / "data.h5")
    ckpt = d / "real-std-s0.ckpt"
    steps.train(str(data), str(d / "real-std-s0.pt"), str(d / "real-std-s0.h5"), _spec(), runtime=CPU,
                progress=False, checkpoint=str(ckpt))
    assert not ckpt.exists()  # written after the epoch, removed once both outputs exist
    return d, data


def test_truncated_input_fails_with_one_line_and_writes_nothing(trained, tmp_path, capsys):
    d, data = trained
    bad = tmp_path / "data.h5"
    raw = data.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    out = tmp_path / "adv.h5"
    code = cli.main(["craft", "--data", str(bad), "--model", str(d / "real-std-s0.pt"), "--eps", "0.1",
                     "--images", "8", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and err.startswith("cvgr error: ")
    assert str(bad) in err and "delete it and rerun" in err
    assert not out.exists()


def test_corrupt_model_file_is_named(trained, tmp_path):
    d, data = trained
    bad = tmp_path / "real-std-s0.pt"
    bad.write_bytes((d / "real-std-s0.pt").read_bytes()[:1000])
    with pytest.raises(CorruptFileError, match=str(bad)):
        steps.craft(str(data), str(bad), str(tmp_path / "adv.h5"), AttackSpec(eps=0.1, images=8), runtime=CPU)
    assert not (tmp_path / "adv.h5").exists()


def test_truncated_resume_checkpoint_stops_training_with_the_fix(trained, tmp_path):
    """A resume checkpoint that cannot be read is neither trusted nor silently dropped."""
    d, data = trained
    ckpt = tmp_path / "real-std-s0.ckpt"
    spec = _spec(epochs=2)
    steps.train(str(data), str(tmp_path / "a.pt"), str(tmp_path / "a.h5"), spec, runtime=CPU, progress=False,
                checkpoint=str(ckpt))
    assert not ckpt.exists()  # removed once the outputs exist
    ckpt.write_bytes((d / "real-std-s0.pt").read_bytes()[:700])  # what a torn write would leave
    with pytest.raises(CorruptFileError) as err:
        steps.train(str(data), str(tmp_path / "m.pt"), str(tmp_path / "m.h5"), spec, runtime=CPU,
                    progress=False, checkpoint=str(ckpt))
    assert str(ckpt) in str(err.value) and "delete it and rerun" in str(err.value)
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "m.h5").exists()


def test_raw_dataset_changed_after_prep_stops_training(tmp_path):
    raw = tmp_path / "train-images-idx3-ubyte"
    raw.write_bytes(b"original raw bytes")
    data = _write_data(tmp_path / "data.h5", raw=raw)
    raw.write_bytes(b"someone replaced the raw file")
    with pytest.raises(StaleInputError, match="train-images-idx3-ubyte.*changed.*forcerun prepare"):
        steps.train(str(data), str(tmp_path / "m.pt"), str(tmp_path / "m.h5"), _spec(), runtime=CPU,
                    progress=False)
    assert not (tmp_path / "m.pt").exists()


def test_nan_stops_training_and_writes_no_model(tmp_path):
    data = _write_data(tmp_path / "data.h5")
    spec = _spec(model="real-gr1e30-s0".replace("1e30", str(10 ** 30)), lr=1e30)
    with pytest.raises(NumericalError, match=r"fmnist/real-gr\d+-s0: .* in epoch 1 \(beta=1e\+30"):
        steps.train(str(data), str(tmp_path / "m.pt"), str(tmp_path / "m.h5"), spec, runtime=CPU,
                    progress=False)
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "m.h5").exists()


def test_cifar_net_on_28x28_data_is_refused_before_work(tmp_path):
    data = _write_data(tmp_path / "data.h5")
    with pytest.raises(ShapeMismatchError, match="divisible by 8"):
        steps.train(str(data), str(tmp_path / "m.pt"), str(tmp_path / "m.h5"), _spec(arch="cifar_cnn"),
                    runtime=CPU, progress=False)


def test_model_for_other_data_shape_is_refused_before_work(trained, tmp_path):
    d, _ = trained
    cifar_like = _write_data(tmp_path / "cifar.h5", shape=(3, 32, 32))
    with pytest.raises(ShapeMismatchError, match=r"takes images of shape \(1, 28, 28\).*holds \(3, 32, 32\)"):
        steps.whitebox(str(cifar_like), str(d / "real-std-s0.pt"), str(tmp_path / "wb.h5"),
                       WhiteboxSpec(attack=AttackId("fgsm"), eps=(0.0, 0.1), images=8), runtime=CPU)
    assert not (tmp_path / "wb.h5").exists()


def test_checkpoint_of_another_architecture_is_refused(trained, tmp_path):
    d, data = trained
    state = torch.load(d / "real-std-s0.pt", weights_only=False)
    state["field"] = "complex"  # real weights claimed to be a complex net
    torch.save(state, tmp_path / "liar.pt")
    with pytest.raises(ShapeMismatchError, match="weights do not fit a complex small_cnn"):
        steps.whitebox(str(data), str(tmp_path / "liar.pt"), str(tmp_path / "wb.h5"),
                       WhiteboxSpec(attack=AttackId("fgsm"), eps=(0.0,), images=8), runtime=CPU)


def test_training_outputs_hold_history_and_provenance(trained):
    from cvgr.results.io import read_h5
    d, data = trained
    h = read_h5(d / "real-std-s0.h5", required=["history/zeta", "history/test_acc"])
    assert h.attrs["model"] == "real-std-s0" and h.attrs["epochs"] == 1 and h.attrs["record"] == "training-history"
    assert h.provenance["stage"] == "train" and h.provenance["inputs"][0]["path"] == str(data)
    assert h.provenance["config"] == _spec().to_dict()


def test_out_of_memory_names_the_job_the_batch_and_the_key(trained, tmp_path, monkeypatch):
    """A device out-of-memory error in training is one line with the model, the batch sizes and the key to lower."""
    d, data = trained

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total)")

    import importlib
    monkeypatch.setattr(importlib.import_module("cvgr.steps.train"), "train_model", oom)
    with pytest.raises(CvgrError) as err:
        steps.train(str(data), str(tmp_path / "m.pt"), str(tmp_path / "m.h5"), _spec(batch_size=4096), runtime=CPU,
                    progress=False)
    assert str(err.value) == ("fmnist/real-std-s0 (train) ran out of GPU memory (tried to allocate 2.00 GiB) at "
                              "batch_size=4096, evaluation batch=1000: lower datasets.fmnist.training.batch_size in "
                              "the config and rerun (or run it on a device with more free memory)")
    assert not (tmp_path / "m.pt").exists()
