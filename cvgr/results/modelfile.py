"""Model files: ``{model}.pt`` = a torch.save'd dict with the architecture and weights.

Keys: ``arch``, ``field``, ``in_shape``, ``real_bias``, ``num_classes``,
``dataset``, ``model`` (its name), ``state_dict`` and ``provenance``
(``real_bias`` absent: a file from before that option, read as ``cvgr``). Loading rebuilds the
architecture from these keys and refuses weights that do not fit it, and
:func:`check_fits` refuses data the model was not built for, both before any
work is done.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import CorruptFileError, ShapeMismatchError
from .io import load_checkpoint, save_checkpoint
from ..nn import Net, build_model
from ..vocab import REAL_BIASES, ModelId

_KEYS = ("arch", "field", "in_shape", "num_classes", "dataset", "model", "state_dict")


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says besides the net (whose ``arch``, ``field`` and ``in_shape`` are on the net)."""

    dataset: str
    model: ModelId


def save_model(path: str | Path, net: Net, *, dataset: str, model: ModelId, provenance: dict[str, Any]) -> None:
    """Write ``net`` atomically with what is needed to rebuild it."""
    save_checkpoint(path, {
        "arch": net.arch, "field": net.field, "in_shape": list(net.in_shape), "real_bias": net.real_bias,
        "num_classes": int(net.body[-1].out_features), "dataset": dataset, "model": model.name,
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "provenance": provenance,
    })


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[Net, ModelInfo]:
    """Rebuild the net stored at ``path`` (eval mode on ``device``) and return it with its :class:`ModelInfo`."""
    state = load_checkpoint(path)
    missing = [k for k in _KEYS if k not in state]
    if missing:
        raise CorruptFileError(str(path), f"not a cvgr model file (missing {', '.join(missing)})")
    try:
        model = ModelId.parse(str(state["model"]))
    except ValueError as err:
        raise CorruptFileError(str(path), str(err)) from None
    # Files written before the real-bias option have no key; their nets are the `cvgr` biases.
    real_bias = str(state.get("real_bias", "cvgr"))
    if real_bias not in REAL_BIASES:
        raise CorruptFileError(str(path), f"unknown real_bias {real_bias!r} (known: {', '.join(REAL_BIASES)})")
    net = build_model(state["arch"], state["field"], tuple(state["in_shape"]), int(state["num_classes"]),
                      real_bias=real_bias)
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ShapeMismatchError(
            f"{path}: weights do not fit a {state['field']} {state['arch']} ({first}); "
            "the file was written for another architecture: delete it and rerun"
        ) from None
    return net.to(device).eval(), ModelInfo(str(state["dataset"]), model)


def check_fits(model: Net, image_shape: tuple[int, ...], model_path: str | Path, data_path: str | Path) -> None:
    """ShapeMismatchError unless images of ``image_shape`` (C, H, W) are what ``model`` takes."""
    if tuple(image_shape) != tuple(model.in_shape):
        raise ShapeMismatchError(
            f"{model_path} ({model.field} {model.arch}) takes images of shape {tuple(model.in_shape)} but "
            f"{data_path} holds {tuple(image_shape)}: use a model trained on this dataset"
        )
