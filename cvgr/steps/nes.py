"""Stage NES: the query attack on one model, with the queries it spent."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..attacks import QueryCounter, nes as nes_attack
from ..evaluate import attack_batched, predict
from ..io import make_provenance, write_h5
from ..rand import generator
from .common import model_and_test, setup


def nes(data: str, model: str, out: str, spec: dict[str, Any], *, device: str = "auto", threads: int = 1) -> None:
    """NES query attack (PGD on estimated gradients) on the first ``spec['images']`` test images."""
    dev = setup(device, threads)
    net, meta, x, y = model_and_test(data, model, spec["images"], dev)
    clean = predict(net, x) == y
    counter = QueryCounter(net)
    x_adv = attack_batched(nes_attack, counter, x, y, float(spec["eps"]), steps=int(spec["steps"]),
                           samples=int(spec["samples"]), sigma=float(spec.get("sigma", 0.001)),
                           chunk=spec.get("chunk"), generator=generator(spec.get("seed", 0), 0, dev))
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
