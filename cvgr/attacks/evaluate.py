"""Batched prediction, per-image correctness, test metrics, and attacks (by name) over a whole image set.

Batches are moved to the model's device (the device of its first parameter
or buffer; left where they are for a model without any) and results come back
on the device of ``x``. Predictions are ``argmax`` of the logits (the first
index on ties).
"""
from __future__ import annotations

import functools
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import attacks  # noqa: F401  (the built-in attacks, registered)
from .core import Attack
from .registry import option_defaults
from ..errors import CvgrError


def _device(model: nn.Module) -> torch.device | None:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return None


def _batches(n: int, batch_size: int) -> Iterator[slice]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return (slice(i, i + batch_size) for i in range(0, n, batch_size))


def _check_pair(x: Tensor, y: Tensor) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} images but y has {y.shape[0]} labels")


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, *, batch_size: int = 500) -> Tensor:
    """``argmax_k f(x)_k`` per image as int64 (N,), computed ``batch_size`` images at a time without grad."""
    device = _device(model)
    out = [model(x[b].to(device) if device is not None else x[b]).argmax(1).to(x.device)
           for b in _batches(x.shape[0], batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64, device=x.device)


def correct(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 500) -> Tensor:
    """``predict(x) == y`` per image, as uint8 (N,) on ``x``'s device: 1 where the model is right."""
    _check_pair(x, y)
    return (predict(model, x, batch_size=batch_size) == y.to(x.device)).to(torch.uint8)


@torch.no_grad()
def loss_and_correct(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> Tensor:
    """``[sum_i CE(f(x_i), y_i), #{i: argmax f(x_i) = y_i}]`` over (x, y) in eval mode, as float64.

    On the model's device (``x``'s for a model without parameters or
    buffers). No host synchronisation: training reads it with the rest of its
    epoch's metrics.
    """
    _check_pair(x, y)
    model.eval()
    device = _device(model)
    device = x.device if device is None else device
    sums = torch.zeros(2, dtype=torch.float64, device=device)
    for b in _batches(len(x), batch_size):
        xb, yb = x[b].to(device), y[b].to(device)
        logits = model(xb)
        sums[0] += F.cross_entropy(logits, yb, reduction="sum").double()
        sums[1] += (logits.argmax(1) == yb).sum()
    return sums


def loss_and_accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """``(sum_i CE_i / n, 100 * #correct / n)`` of ``model`` on (x, y) in eval mode; CvgrError for ``n = 0``."""
    if len(x) == 0:
        raise CvgrError("loss and accuracy need at least one image, got none; pass a non-empty test set")
    loss_sum, right = loss_and_correct(model, x, y, batch_size).tolist()
    return loss_sum / len(x), 100.0 * right / len(x)


def attack_batched(attack: Attack, model: nn.Module, x: Tensor, y: Tensor, eps: float, *,
                   batch_size: int = 250, **kwargs) -> Tensor:
    """``attack(model, x_b, y_b, eps, **kwargs)`` over batches of ``x``, concatenated in order.

    ``kwargs`` go to every call unchanged, so one ``generator`` object is
    shared: its stream continues from batch to batch and the result is
    reproducible for a fixed seed and ``batch_size``.
    """
    _check_pair(x, y)
    device = _device(model)
    out = []
    for b in _batches(x.shape[0], batch_size):
        xb, yb = (x[b].to(device), y[b].to(device)) if device is not None else (x[b], y[b])
        out.append(attack(model, xb, yb, eps, **kwargs).to(x.device))
    return torch.cat(out) if out else x.detach().clone()


def attack_function(attack: Any, **options: Any) -> Attack:
    """The registered function of ``attack`` (a :class:`cvgr.vocab.AttackId`; :mod:`cvgr.attacks.registry`), its
    options bound.

    A family's integer goes to its parameter (``pgd10``: ``steps=10``). Of ``options`` (config
    settings such as ``random_start``, ``apgd_steps``, ``square_queries``) the attack gets those it
    declares, the others are for other attacks; one that no attack declares is a ValueError, as is
    an unregistered kind (there is no fallback attack). Undeclared options take the registry's
    defaults. With nothing to bind, the function itself is returned.
    """
    record = attack.record
    unknown = sorted(set(options) - set(option_defaults()))
    if unknown:
        raise ValueError(f"unknown attack option(s) {', '.join(unknown)}; allowed: {', '.join(option_defaults())}")
    bound = {k: options.get(k, default) for k, default in record.options.items()}
    if record.parameter:
        bound[record.parameter] = attack.steps
    return functools.partial(record.function, **bound) if bound else record.function
