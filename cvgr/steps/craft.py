"""Stage craft: adversarial examples crafted on a source model (the transfer table's FGSM sets)."""
from __future__ import annotations

import numpy as np

from ..attacks.evaluate import attack_batched, attack_function
from ..results.io import make_provenance
from ..runtime.rand import generator
from ..results.records import CraftedSet
from ..study.specs import AttackSpec, Runtime
from .common import load_model_and_test_images, start_job


def craft(data: str, model: str, out: str, spec: AttackSpec, *, seed: int = 0, runtime: Runtime = Runtime()) -> None:
    """Examples crafted with ``spec.attack`` at ``spec.eps`` on ``model`` for the first ``spec.images`` test images."""
    dev = start_job(runtime)
    net, info, x, y = load_model_and_test_images(data, model, spec.images, dev)
    x_adv = attack_batched(attack_function(spec.attack), net, x, y, spec.eps, generator=generator(seed, 0, dev))
    CraftedSet(dataset=info.dataset, model=info.model, attack=spec.attack, eps=spec.eps,
                   x_adv=x_adv.cpu().numpy().astype(np.float32), labels=y.cpu().numpy().astype(np.int64),
                   indices=np.arange(len(x), dtype=np.int64)).write(
        out, make_provenance("craft", spec.to_dict(), inputs=[data, model], seed=seed, device=str(dev)))
