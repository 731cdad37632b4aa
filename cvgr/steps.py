"""The pipeline's steps, file in -> file out. The CLI and the Snakemake scripts both call these.

Each step reads its inputs (failing with one line if an input is missing,
corrupt or does not fit), computes, and writes its outputs atomically with
provenance (:mod:`cvgr.io`). Result formats are documented in docs/FILES.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import data as datamod
from .attacks import QueryCounter, get_attack, nes as nes_attack
from .augment import AUGMENTATIONS
from .device import select_device, set_determinism
from .entry import snakemake_entry  # noqa: F401  (the scripts' entry point, re-exported)
from .errors import CvgrError
from .evaluate import attack_batched, predict
from .io import make_provenance, read_h5, sha256_file, write_h5
from .modelfile import check_fits, load_model, save_model
from .naming import parse
from .train import TrainSpec, train as train_model


def _setup(device: str, threads: int) -> torch.device:
    set_determinism(threads)
    return select_device(device)


def _json_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def prepare(dataset: str, out: str, *, raw_dir: str | None = None, download: bool = True) -> None:
    """Raw dataset files -> ``results/data/{dataset}.h5`` (see :func:`cvgr.data.prepare_dataset`)."""
    datamod.prepare_dataset(dataset, out, raw_dir=raw_dir, download=download)


def train_spec(spec: dict[str, Any], num_classes: int = 10) -> TrainSpec:
    """The :class:`TrainSpec` of a workflow training spec (keys as in :func:`train`)."""
    return TrainSpec(
        arch=spec["arch"], field=spec["field"], beta=float(spec.get("beta", 0.0)), mode=spec.get("mode", "paper"),
        adv_eps=float(spec.get("adv_eps", 0.0)), adv_steps=int(spec.get("adv_steps", 4)),
        adv_random_start=bool(spec.get("adv_random_start", True)), epochs=int(spec["epochs"]),
        batch_size=int(spec.get("batch_size", 64)), lr=float(spec.get("lr", 0.005)),
        momentum=float(spec.get("momentum", 0.875)), weight_decay=float(spec.get("weight_decay", 1e-4)),
        milestones=tuple(int(m) for m in spec.get("milestones", ())), gamma=float(spec.get("gamma", 0.2)),
        augmentation=AUGMENTATIONS.get(spec["dataset"]) if spec.get("augment", True) else None,
        seed=int(spec.get("seed", 0)), name=f"{spec['dataset']}/{spec['model']}", num_classes=num_classes,
    )


def train(data: str, model_out: str, history_out: str, spec: dict[str, Any], *, checkpoint: str | None = None,
          device: str = "auto", threads: int = 1, progress: bool = True) -> None:
    """Train one model of the study and write ``{model}.pt`` and its history ``{model}.h5``.

    ``spec``: dataset, model (name), arch, field, beta, mode, adv_eps, adv_steps, adv_random_start, epochs,
    batch_size, lr, momentum, weight_decay, milestones, gamma, augment, train_size, eval_images, seed.
    ``checkpoint`` (not a Snakemake output) is written after every epoch, resumed from when it matches
    this spec and data, and deleted once both outputs exist.
    """
    dev = _setup(device, threads)
    datamod.verify_raw(data)
    train_x, train_y = datamod.load_split(data, "train", limit=spec.get("train_size"))
    test_x, test_y = datamod.load_split(data, "test", limit=spec.get("eval_images"))
    classes = int(read_h5(data, keys=[]).attrs.get("classes", 10))
    ts = train_spec(spec, classes)
    fingerprint = _json_hash({"spec": spec, "data": sha256_file(data)})
    model, history = train_model(ts, train_x, train_y, test_x, test_y, checkpoint=checkpoint,
                                 fingerprint=fingerprint, device=dev, progress=progress,
                                 log=lambda m: print(m, file=sys.stderr))
    prov = make_provenance("train", spec, inputs=[data], seed=ts.seed, device=str(dev))
    save_model(model_out, model, dataset=spec["dataset"], name=spec["model"], provenance=prov)
    attrs = {"dataset": spec["dataset"], "model": spec["model"], "arch": ts.arch, "field": ts.field,
             "defense": parse(spec["model"]).defense, "beta": ts.beta, "adv_eps": ts.adv_eps, "mode": ts.mode,
             "epochs": ts.epochs, "seed": ts.seed, "train_size": len(train_x),
             "clean_acc": history["test_acc"][-1] if history["test_acc"] else float("nan"),
             "final_zeta": history["zeta"][-1] if history["zeta"] else float("nan")}
    write_h5(history_out, {f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in history.items()},
             attrs, prov)
    if checkpoint and os.path.exists(checkpoint):
        os.remove(checkpoint)


def _model_and_test(data: str, model: str, images: int | None, dev: torch.device):
    net, meta = load_model(model, dev)
    x, y = datamod.load_split(data, "test", limit=images)
    check_fits(net, tuple(x.shape[1:]), model, data)
    return net, meta, x.to(dev), y.to(dev)


def _generator(seed: int, *salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + sum((i + 1) * 7919 * s for i, s in enumerate(salt)))


def craft(data: str, model: str, out: str, spec: dict[str, Any], *, device: str = "auto", threads: int = 1) -> None:
    """Adversarial examples crafted on ``model`` for the first ``spec['images']`` test images."""
    dev = _setup(device, threads)
    net, meta, x, y = _model_and_test(data, model, spec["images"], dev)
    attack = get_attack(spec["attack"])
    x_adv = attack_batched(attack, net, x, y, float(spec["eps"]), generator=_generator(spec.get("seed", 0)))
    write_h5(out, {"x_adv": x_adv.cpu().numpy().astype(np.float32), "labels": y.cpu().numpy().astype(np.int64),
                   "indices": np.arange(len(x), dtype=np.int64)},
             {"dataset": meta["dataset"], "model": meta["model"], "attack": spec["attack"],
              "eps": float(spec["eps"]), "n_images": len(x)},
             make_provenance("craft", spec, inputs=[data, model], seed=spec.get("seed"), device=str(dev)))


def transfer(adv: str, model: str, out: str, *, device: str = "auto", threads: int = 1) -> None:
    """One transfer cell: accuracy of ``model`` (target) on examples crafted on another (source)."""
    dev = _setup(device, threads)
    a = read_h5(adv, required=["x_adv", "labels"])
    net, meta = load_model(model, dev)
    if a.attrs.get("dataset") != meta["dataset"]:
        raise CvgrError(f"{adv} holds {a.attrs.get('dataset')} images but {model} was trained on "
                        f"{meta['dataset']}: pair files of the same dataset")
    x = torch.from_numpy(a.arrays["x_adv"]).to(dev)
    check_fits(net, tuple(x.shape[1:]), model, adv)
    y = torch.from_numpy(a.arrays["labels"]).to(dev)
    correct = (predict(net, x) == y).cpu().numpy()
    write_h5(out, {"correct": correct.astype(np.uint8)},
             {"dataset": meta["dataset"], "source": a.attrs["model"], "target": meta["model"],
              "attack": a.attrs["attack"], "eps": float(a.attrs["eps"]), "n_images": len(correct),
              "accuracy": 100.0 * float(correct.mean()) if len(correct) else float("nan")},
             make_provenance("transfer", {"adv": Path(adv).name, "model": meta["model"]}, inputs=[adv, model],
                             device=str(dev)))


def whitebox(data: str, model: str, out: str, spec: dict[str, Any], *, device: str = "auto",
             threads: int = 1) -> None:
    """Accuracy of ``model`` under a white-box attack at each epsilon of ``spec['eps']``."""
    dev = _setup(device, threads)
    net, meta, x, y = _model_and_test(data, model, spec["images"], dev)
    attack = get_attack(spec["attack"])
    random_start = bool(spec.get("random_start", False))
    kwargs = {"random_start": random_start} if spec["attack"].startswith("pgd") else {}
    accs = []
    for i, eps in enumerate(spec["eps"]):
        xe = x if eps == 0 else attack_batched(attack, net, x, y, float(eps),
                                               generator=_generator(spec.get("seed", 0), i), **kwargs)
        accs.append(100.0 * float((predict(net, xe) == y).double().mean()))
    steps = 1 if spec["attack"] == "fgsm" else int(spec["attack"][3:])
    write_h5(out, {"eps": np.asarray(spec["eps"], dtype=np.float64), "accuracy": np.asarray(accs, dtype=np.float64)},
             {"dataset": meta["dataset"], "model": meta["model"], "attack": spec["attack"], "steps": steps,
              "n_images": len(x), "random_start": random_start},
             make_provenance("whitebox", spec, inputs=[data, model], seed=spec.get("seed"), device=str(dev)))


def nes(data: str, model: str, out: str, spec: dict[str, Any], *, device: str = "auto", threads: int = 1) -> None:
    """NES query attack (PGD on estimated gradients) on the first ``spec['images']`` test images."""
    dev = _setup(device, threads)
    net, meta, x, y = _model_and_test(data, model, spec["images"], dev)
    clean = predict(net, x) == y
    counter = QueryCounter(net)
    x_adv = attack_batched(nes_attack, counter, x, y, float(spec["eps"]), steps=int(spec["steps"]),
                           samples=int(spec["samples"]), sigma=float(spec.get("sigma", 0.001)),
                           chunk=spec.get("chunk"), generator=_generator(spec.get("seed", 0)))
    queries = counter.queries
    correct = (predict(net, x_adv) == y).cpu().numpy()
    n = len(correct)
    write_h5(out, {"correct": correct.astype(np.uint8)},
             {"dataset": meta["dataset"], "model": meta["model"], "eps": float(spec["eps"]),
              "steps": int(spec["steps"]), "samples": int(spec["samples"]), "sigma": float(spec.get("sigma", 0.001)),
              "queries_per_image": queries / n if n else 0.0, "n_images": n,
              "accuracy": 100.0 * float(correct.mean()) if n else float("nan"),
              "clean_accuracy": 100.0 * float(clean.double().mean()) if n else float("nan")},
             make_provenance("nes", spec, inputs=[data, model], seed=spec.get("seed"), device=str(dev)))
