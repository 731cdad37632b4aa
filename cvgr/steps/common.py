"""What every step shares: device and threads, input loading."""
from __future__ import annotations

import torch

from .. import data as datamod
from ..device import select_device, set_determinism
from ..modelfile import check_fits, load_model


def setup(device: str, threads: int) -> torch.device:
    """Fix threads and determinism (:func:`cvgr.device.set_determinism`); return the device to use."""
    set_determinism(threads)
    return select_device(device)


def model_and_test(data: str, model: str, images: int | None, dev: torch.device):
    """``(net, meta, x, y)``: a model file and the first ``images`` test images it is checked to fit."""
    net, meta = load_model(model, dev)
    x, y = datamod.load_split(data, "test", limit=images)
    check_fits(net, tuple(x.shape[1:]), model, data)
    return net, meta, x.to(dev), y.to(dev)
