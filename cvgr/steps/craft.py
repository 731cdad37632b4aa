"""Stage attack (FGSM sets): adversarial examples crafted on a source model."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..attacks import get_attack
from ..evaluate import attack_batched
from ..io import make_provenance, write_h5
from ..rand import generator
from .common import model_and_test, setup


def craft(data: str, model: str, out: str, spec: dict[str, Any], *, device: str = "auto", threads: int = 1) -> None:
    """Adversarial examples crafted on ``model`` for the first ``spec['images']`` test images."""
    dev = setup(device, threads)
    net, meta, x, y = model_and_test(data, model, spec["images"], dev)
    attack = get_attack(spec["attack"])
    x_adv = attack_batched(attack, net, x, y, float(spec["eps"]), generator=generator(spec.get("seed", 0), 0, dev))
    write_h5(out, {"x_adv": x_adv.cpu().numpy().astype(np.float32), "labels": y.cpu().numpy().astype(np.int64),
                   "indices": np.arange(len(x), dtype=np.int64)},
             {"dataset": meta["dataset"], "model": meta["model"], "attack": spec["attack"],
              "eps": float(spec["eps"]), "n_images": len(x)},
             make_provenance("craft", spec, inputs=[data, model], seed=spec.get("seed"), device=str(dev)))
