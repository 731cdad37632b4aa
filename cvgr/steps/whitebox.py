"""Stage white-box (also the audit's): a model's per-image correctness under one attack at each eps of a grid."""
from __future__ import annotations

import numpy as np
import torch

from ..attacks.evaluate import attack_batched, attack_function, correct
from ..results.io import make_provenance
from ..runtime.rand import generator
from ..results.records import WhiteboxCurve
from ..study.specs import Runtime, WhiteboxSpec
from .common import load_model_and_test_images, start_job


def whitebox(data: str, model: str, out: str, spec: WhiteboxSpec, *, seed: int = 0,
             runtime: Runtime = Runtime()) -> None:
    """Correctness of ``model`` under ``spec.attack`` at each eps of ``spec.eps`` (eps 0: the clean images).

    The attack at the ``i``-th eps draws its noise from stream ``(seed, i)`` (:mod:`cvgr.runtime.rand`).
    """
    dev = start_job(runtime)
    net, info, x, y = load_model_and_test_images(data, model, spec.images, dev)
    attack = attack_function(spec.attack, **{k: getattr(spec, k) for k in spec.attack.options if hasattr(spec, k)})
    rows = []
    for i, eps in enumerate(spec.eps):
        xe = x if eps == 0 else attack_batched(attack, net, x, y, eps, generator=generator(seed, i, dev))
        rows.append(correct(net, xe, y))
    WhiteboxCurve(dataset=info.dataset, model=info.model, spec=spec,
                  correct=torch.stack(rows).cpu().numpy(),
                  labels=y.cpu().numpy().astype(np.int64)).write(
        out, make_provenance("whitebox", spec.to_dict(), inputs=[data, model], seed=seed, device=str(dev)))
