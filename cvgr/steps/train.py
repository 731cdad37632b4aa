"""Stage train: one model of the study, its weights and its per-epoch history."""
from __future__ import annotations

import hashlib
import os
import sys
from typing import Any

import numpy as np

from .. import data as datamod
from ..augment import AUGMENTATIONS
from ..io import canonical_json, make_provenance, read_h5, sha256_file, write_h5
from ..modelfile import save_model
from ..naming import parse
from ..train import TrainSpec, train as train_model
from .common import setup


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
    dev = setup(device, threads)
    datamod.verify_raw(data)
    train_x, train_y = datamod.load_split(data, "train", limit=spec.get("train_size"))
    test_x, test_y = datamod.load_split(data, "test", limit=spec.get("eval_images"))
    classes = int(read_h5(data, keys=[]).attrs.get("classes", 10))
    ts = train_spec(spec, classes)
    fingerprint = hashlib.sha256(canonical_json({"spec": spec, "data": sha256_file(data)}).encode()).hexdigest()
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
