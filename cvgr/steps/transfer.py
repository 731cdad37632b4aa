"""Stage transfer: one cell, a target model's accuracy on a source's adversarial examples."""
from __future__ import annotations

import torch

from ..errors import CvgrError
from ..attacks.evaluate import correct
from ..results.io import make_provenance
from ..results.modelfile import check_fits, load_model
from ..results.records import CraftedSet, TransferCell
from ..study.specs import Runtime
from ..vocab import transfer_role
from .common import start_job


def transfer(adv: str, model: str, out: str, *, runtime: Runtime = Runtime()) -> None:
    """One transfer cell: accuracy of ``model`` (target) on examples crafted on another model (source)."""
    dev = start_job(runtime)
    crafted = CraftedSet.read(adv)
    net, info = load_model(model, dev)
    if crafted.dataset != info.dataset:
        raise CvgrError(f"{adv} holds {crafted.dataset} images but {model} was trained on {info.dataset}: "
                        "pair files of the same dataset")
    x = torch.from_numpy(crafted.x_adv).to(dev)
    check_fits(net, tuple(x.shape[1:]), model, adv)
    right = correct(net, x, torch.from_numpy(crafted.labels).to(dev))
    TransferCell(dataset=info.dataset, source=crafted.model, target=info.model,
                 role=transfer_role(crafted.model, info.model), attack=crafted.attack, eps=crafted.eps,
                 correct=right.cpu().numpy()).write(
        out, make_provenance("transfer", {"source": crafted.model.name, "target": info.model.name},
                             inputs=[adv, model], device=str(dev)))
