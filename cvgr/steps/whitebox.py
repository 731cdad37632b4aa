"""Stage white-box: a model's accuracy under one attack over an epsilon grid."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..attacks import get_attack
from ..evaluate import attack_batched, predict
from ..io import make_provenance, write_h5
from ..rand import generator
from .common import model_and_test, setup


def whitebox(data: str, model: str, out: str, spec: dict[str, Any], *, device: str = "auto",
             threads: int = 1) -> None:
    """Accuracy of ``model`` under a white-box attack at each epsilon of ``spec['eps']``."""
    dev = setup(device, threads)
    net, meta, x, y = model_and_test(data, model, spec["images"], dev)
    attack = get_attack(spec["attack"])
    random_start = bool(spec.get("random_start", False))
    kwargs = {"random_start": random_start} if spec["attack"].startswith("pgd") else {}
    accs = []
    for i, eps in enumerate(spec["eps"]):
        xe = x if eps == 0 else attack_batched(attack, net, x, y, float(eps),
                                               generator=generator(spec.get("seed", 0), i, dev), **kwargs)
        accs.append(100.0 * float((predict(net, xe) == y).double().mean()))
    steps = 1 if spec["attack"] == "fgsm" else int(spec["attack"][3:])
    write_h5(out, {"eps": np.asarray(spec["eps"], dtype=np.float64), "accuracy": np.asarray(accs, dtype=np.float64)},
             {"dataset": meta["dataset"], "model": meta["model"], "attack": spec["attack"], "steps": steps,
              "n_images": len(x), "random_start": random_start},
             make_provenance("whitebox", spec, inputs=[data, model], seed=spec.get("seed"), device=str(dev)))
