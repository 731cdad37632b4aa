"""cvgr.results.io: HDF5 round trips, atomic writes, corrupt-file errors, checkpoints, provenance."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import cvgr.results.io as cio
from cvgr.study.codehash import code_hash
from cvgr.errors import CorruptFileError, CvgrError
from cvgr.vocab import ModelId

torch.set_num_threads(1)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_simple(path: Path, prov: dict | None = None, **attrs) -> None:
    cio.write_h5(path, {"x": np.arange(6, dtype=np.int64)}, attrs, prov or {"stage": "test"})


# --------------------------------------------------------------------------- HDF5 round trip

ATTRS = {
    "dataset": "fmnist", "epochs": 30, "beta": 64.0, "eps": 0.16, "flag": True, "off": False,
    "nothing": None, "grid": [0.0, 0.02, 0.04], "pair": (1, 2), "empty": [], "np_int": np.int64(7),
    "np_float": np.float32(0.5), "np_bool": np.bool_(True), "np_vec": np.array([1, 2, 3]),
    "nested": {"raw": {"a/b.gz": "ff00"}, "n": [1, {"k": None}]}, "text_like_json": "[1, 2]",
}


def test_arrays_and_attrs_round_trip_as_python_values(tmp_path):
    arrays = {"train/images": np.arange(24, dtype=np.uint8).reshape(2, 1, 3, 4),
              "train/labels": np.array([3, 9], dtype=np.int64),
              "history/zeta": np.linspace(0, 1, 5), "eps": np.float64(0.25),
              "deep/a/b/c": np.ones((2, 2), dtype=np.float32)}
    prov = {"stage": "train", "inputs": [{"path": "p", "sha256": "00", "provenance": None}]}
    path = tmp_path / "sub" / "dir" / "r.h5"  # parents are created
    cio.write_h5(path, arrays, ATTRS, prov)
    data = cio.read_h5(path, required=["train/images", "history/zeta"])

    assert data.path == str(path)
    assert set(data.arrays) == set(arrays)
    for name, value in arrays.items():
        got = data.arrays[name]
        assert got.dtype == np.asarray(value).dtype and np.array_equal(got, value), name
    with h5py.File(path) as fh:  # '/' in a name really makes groups
        assert isinstance(fh["history"], h5py.Group) and isinstance(fh["deep/a/b"], h5py.Group)
        assert fh["train/images"].compression is None

    expected = dict(ATTRS, pair=[1, 2], np_int=7, np_float=0.5, np_bool=True, np_vec=[1, 2, 3])
    assert data.attrs == expected
    for name in ("epochs", "np_int"):
        assert type(data.attrs[name]) is int
    for name in ("beta", "np_float"):
        assert type(data.attrs[name]) is float
    for name in ("flag", "off", "np_bool"):
        assert type(data.attrs[name]) is bool
    assert type(data.attrs["dataset"]) is str and data.attrs["text_like_json"] == "[1, 2]"
    assert data.provenance == prov


def test_keys_selects_arrays_and_writes_are_byte_identical(tmp_path):
    arrays = {"a": np.arange(3), "b/c": np.eye(2)}
    cio.write_h5(tmp_path / "1.h5", arrays, {"k": [1]}, {"stage": "s"})
    cio.write_h5(tmp_path / "2.h5", arrays, {"k": [1]}, {"stage": "s"})
    assert (tmp_path / "1.h5").read_bytes() == (tmp_path / "2.h5").read_bytes()
    assert set(cio.read_h5(tmp_path / "1.h5", keys=["b/c"]).arrays) == {"b/c"}
    assert cio.read_h5(tmp_path / "1.h5", keys=[]).arrays == {}


def test_reserved_attr_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        cio.write_h5(tmp_path / "r.h5", {}, {"provenance": "x"}, {})
    assert not (tmp_path / "r.h5").exists()


# --------------------------------------------------------------------------- atomicity

def test_atomic_output_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="boom"):
        with cio.atomic_output(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".out.h5.") and str(os.getpid()) in tmp.name
            tmp.write_bytes(b"partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "out.h5"
    write_simple(target, answer=42)
    before = target.read_bytes()
    with pytest.raises(TypeError):  # an object array cannot be stored in HDF5
        cio.write_h5(target, {"x": np.array([object(), 1], dtype=object)}, {}, {})
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]
    with cio.atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["out.h5"]


# --------------------------------------------------------------------------- read errors

def test_missing_file_says_how_to_build_it(tmp_path):
    path = tmp_path / "results" / "nope.h5"
    with pytest.raises(CvgrError, match="does not exist: build it with snakemake") as err:
        cio.read_h5(path)
    assert str(path) in str(err.value) and not isinstance(err.value, CorruptFileError)


def test_truncated_hdf5_is_corrupt_and_says_delete_and_rerun(tmp_path):
    path = tmp_path / "t.h5"
    cio.write_h5(path, {"x": np.arange(10_000, dtype=np.float64)}, {"a": 1}, {"stage": "s"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError) as err:
        cio.read_h5(path)
    msg = str(err.value)
    assert str(path) in msg and "delete it and rerun" in msg and "\n" not in msg
    assert err.value.path == str(path)


def test_non_hdf5_and_missing_provenance_are_corrupt(tmp_path):
    text = tmp_path / "x.h5"
    text.write_text("not hdf5 at all")
    with pytest.raises(CorruptFileError, match="not a readable HDF5 file"):
        cio.read_h5(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as fh:
        fh["a"] = np.arange(3)
    with pytest.raises(CorruptFileError, match="provenance"):
        cio.read_h5(foreign)
    assert cio.read_provenance(foreign) is None


def test_missing_required_array_is_corrupt(tmp_path):
    path = tmp_path / "m.h5"
    write_simple(path)
    with pytest.raises(CorruptFileError, match=r"missing array\(s\) history/zeta \(it has: x\)"):
        cio.read_h5(path, required=["x", "history/zeta"])
    with pytest.raises(CorruptFileError, match="missing array"):
        cio.read_h5(path, keys=["y"])


# --------------------------------------------------------------------------- checkpoints

def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "models" / "m.pt"
    obj = {"arch": "small_cnn", "in_shape": [1, 28, 28], "num_classes": 10,
           "state_dict": {"w": torch.randn(3, 4), "z": torch.randn(2, dtype=torch.cfloat)},
           "provenance": {"stage": "train", "seed": 1}}
    cio.save_checkpoint(path, obj)
    back = cio.load_checkpoint(path)
    assert back.keys() == obj.keys() and back["in_shape"] == [1, 28, 28]
    for k, v in obj["state_dict"].items():
        assert torch.equal(back["state_dict"][k], v)
    assert cio.read_provenance(path) == {"stage": "train", "seed": 1}
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]


def test_checkpoint_with_python_objects_still_loads(tmp_path):
    """weights_only=True refuses non-tensor classes; cvgr's own checkpoints fall back to full unpickling."""
    path = tmp_path / "m.pt"
    cio.save_checkpoint(path, {"id": ModelId.parse("complex-gr64-s1"), "w": torch.ones(2)})
    back = cio.load_checkpoint(path)
    assert back["id"] == ModelId.parse("complex-gr64-s1") and torch.equal(back["w"], torch.ones(2))


def test_corrupt_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "m.pt"
    cio.save_checkpoint(path, {"state_dict": {"w": torch.zeros(1000)}})
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptFileError, match="not a readable torch checkpoint") as err:
        cio.load_checkpoint(path)
    assert str(path) in str(err.value) and "delete it and rerun" in str(err.value)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(CorruptFileError, match="UnpicklingError: Unsupported operand"):
        cio.load_checkpoint(path)
    torch.save([1, 2], path)
    with pytest.raises(CorruptFileError, match="not a cvgr checkpoint dict"):
        cio.load_checkpoint(path)
    with pytest.raises(CvgrError, match="does not exist"):
        cio.load_checkpoint(tmp_path / "absent.pt")


# --------------------------------------------------------------------------- provenance

def test_make_provenance_records_inputs_and_nested_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\x01\x02raw")
    data = tmp_path / "data.h5"
    data_prov = cio.make_provenance("prepare", {"dataset": "mnist"}, inputs=[raw])
    write_simple(data, data_prov)
    model = tmp_path / "m.pt"
    cio.save_checkpoint(model, {"provenance": {"stage": "train", "seed": 3}})

    config = {"eps": 0.16, "grid": (0.0, 0.1), "attack": "fgsm", "n": np.int64(1000)}
    prov = cio.make_provenance("craft", config, inputs=[data, model, raw], seed=3, device=torch.device("cpu"))

    assert set(prov) == {"cvgr_version", "stage", "code_hash", "config", "config_hash", "seed", "device",
                         "slurm_job_id", "inputs"}
    assert prov["config"] == {"eps": 0.16, "grid": [0.0, 0.1], "attack": "fgsm", "n": 1000}
    canonical = json.dumps(prov["config"], sort_keys=True, separators=(",", ":"))
    assert prov["config_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert (prov["stage"], prov["seed"], prov["device"], prov["slurm_job_id"]) == ("craft", 3, "cpu", "4242")
    assert prov["code_hash"] == code_hash("craft")
    assert [i["path"] for i in prov["inputs"]] == [str(data), str(model), str(raw)]
    assert [i["sha256"] for i in prov["inputs"]] == [sha(data), sha(model), sha(raw)]
    assert prov["inputs"][0]["provenance"] == data_prov
    assert prov["inputs"][0]["provenance"]["inputs"][0]["sha256"] == sha(raw)
    assert prov["inputs"][1]["provenance"] == {"stage": "train", "seed": 3}
    assert prov["inputs"][2]["provenance"] is None
    json.dumps(prov)  # JSON-able as a whole

    monkeypatch.delenv("SLURM_JOB_ID")
    again = cio.make_provenance("craft", dict(reversed(list(config.items()))), inputs=[data, model, raw],
                                seed=3, device="cpu")
    assert again["slurm_job_id"] is None and again["config_hash"] == prov["config_hash"]
    with pytest.raises(CvgrError, match="does not exist"):
        cio.make_provenance("craft", {}, inputs=[tmp_path / "absent.h5"])


def test_provenance_chain_reports_ok_changed_and_missing(tmp_path, monkeypatch):
    raw = tmp_path / "raw.gz"
    raw.write_bytes(b"raw bytes")
    data = tmp_path / "data.h5"
    write_simple(data, cio.make_provenance("prepare", {"dataset": "fmnist"}, inputs=[raw]))
    model = tmp_path / "model.pt"
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    cio.save_checkpoint(model, {"provenance": cio.make_provenance("train", {"beta": 64}, inputs=[data],
                                                                  seed=1, device="cpu")})
    monkeypatch.delenv("SLURM_JOB_ID")
    out = tmp_path / "adv.h5"
    write_simple(out, cio.make_provenance("craft", {"eps": 0.16}, inputs=[model]))

    lines = cio.provenance_chain(out).splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"{out}  [craft] code {code_hash('craft')[:8]}")
    assert str(model) in lines[1] and " ok " in lines[1] and "[train]" in lines[1]
    assert "seed 1" in lines[1] and "device cpu" in lines[1] and "slurm job 77" in lines[1]
    assert str(data) in lines[2] and " ok " in lines[2] and "[prepare]" in lines[2]
    assert str(raw) in lines[3] and lines[3].endswith("ok")
    depth = [lines[i].index(str(p)) for i, p in ((1, model), (2, data), (3, raw))]
    assert depth[0] < depth[1] < depth[2]  # each input is indented under the file that used it

    raw.write_bytes(b"raw bytes, edited")
    changed = cio.provenance_chain(out).splitlines()[3]
    assert "CHANGED since" in changed and hashlib.sha256(b"raw bytes").hexdigest()[:12] in changed
    raw.unlink()
    assert cio.provenance_chain(out).splitlines()[3].endswith("missing")

    plain = tmp_path / "notes.txt"
    plain.write_text("x")
    with pytest.raises(CvgrError, match="no cvgr provenance"):
        cio.provenance_chain(plain)


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(3 * 1024 + 17))
    assert cio.sha256_file(path, chunk_size=1024) == sha(path)


def test_equal_checkpoints_are_equal_bytes_wherever_they_are_saved(tmp_path):
    """Content-addressed versions and the provenance hashes rely on it: no path or temp name inside."""
    obj = {"state": {"w": torch.arange(6.0).reshape(2, 3)}, "spec": {"beta": 64}}
    cio.save_checkpoint(tmp_path / "a.pt", obj)
    cio.save_checkpoint(tmp_path / "sub" / "other-name.pt", obj)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "sub" / "other-name.pt").read_bytes()
    assert torch.equal(cio.load_checkpoint(tmp_path / "sub" / "other-name.pt")["state"]["w"], obj["state"]["w"])
