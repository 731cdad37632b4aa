"""Stage train: one model of the study, its weights and its per-epoch history."""
from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

from ..data import prepare as datamod
from ..results.io import canonical_json, make_provenance, read_h5, sha256_file
from ..results.modelfile import save_model
from ..runtime.oom import batch_memory_hint
from ..results.records import TrainingHistory
from ..study.specs import Runtime, TrainSpec
from ..train.loop import train as train_model
from .common import start_job


def train(data: str, model_out: str, history_out: str, spec: TrainSpec, *, runtime: Runtime = Runtime(),
          checkpoint: str | None = None, progress: bool = True) -> None:
    """Train one model and write ``{model}.pt`` and its history ``{model}.h5`` (:class:`TrainingHistory`).

    ``checkpoint`` (not a Snakemake output) is written after every epoch, resumed from when it matches
    this spec and data, and deleted once both outputs exist.
    """
    dev = start_job(runtime)
    datamod.verify_raw(data)
    train_x, train_y = datamod.load_split(data, "train", limit=spec.train_size)
    test_x, test_y = datamod.load_split(data, "test", limit=spec.eval_images)
    classes = int(read_h5(data, keys=[]).attrs.get("classes", 10))
    fingerprint = hashlib.sha256(canonical_json({"spec": spec.to_dict(), "data": sha256_file(data)}).encode()).hexdigest()
    with batch_memory_hint(f"{spec.name} (train)", {"batch_size": spec.batch_size, "evaluation batch": 1000},
                           f"datasets.{spec.dataset}.training.batch_size"):
        net, history = train_model(spec, train_x, train_y, test_x, test_y, num_classes=classes,
                                   checkpoint=checkpoint, fingerprint=fingerprint, device=dev, progress=progress,
                                   log=lambda m: print(m, file=sys.stderr), cuda_graphs=runtime.cuda_graphs)
    prov = make_provenance("train", spec.to_dict(), inputs=[data], seed=spec.seed, device=str(dev))
    save_model(model_out, net, dataset=spec.dataset, model=spec.model, provenance=prov)
    TrainingHistory(dataset=spec.dataset, model=spec.model, arch=spec.arch, mode=spec.mode, epochs=spec.epochs,
                    train_size=len(train_x), eval_images=len(test_x),
                    history={k: np.asarray(v, dtype=np.float64) for k, v in history.items()}).write(history_out, prov)
    if checkpoint and os.path.exists(checkpoint):
        os.remove(checkpoint)
