"""What every step shares: starting a job on its device, and loading a model with its test images."""
from __future__ import annotations

import torch
from torch import Tensor

from ..data import prepare as datamod
from ..runtime.device import select_device, set_determinism
from ..results.modelfile import ModelInfo, check_fits, load_model
from ..nn import Net
from ..study.specs import Runtime


def start_job(runtime: Runtime) -> torch.device:
    """Fix threads and determinism (:func:`cvgr.runtime.device.set_determinism`); return the device to compute on."""
    set_determinism(runtime.threads)
    return select_device(runtime.device)


def load_model_and_test_images(data: str, model: str, images: int | None,
                               dev: torch.device) -> tuple[Net, ModelInfo, Tensor, Tensor]:
    """``(net, info, x, y)``: a model file and the first ``images`` test images, checked to fit it."""
    net, info = load_model(model, dev)
    x, y = datamod.load_split(data, "test", limit=images)
    check_fits(net, tuple(x.shape[1:]), model, data)
    return net, info, x.to(dev), y.to(dev)
