"""Stage transfer: one cell, a target model's accuracy on a source's adversarial examples."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import CvgrError
from ..evaluate import predict
from ..io import make_provenance, read_h5, write_h5
from ..modelfile import check_fits, load_model
from .common import setup


def transfer(adv: str, model: str, out: str, *, device: str = "auto", threads: int = 1) -> None:
    """One transfer cell: accuracy of ``model`` (target) on examples crafted on another (source)."""
    dev = setup(device, threads)
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
