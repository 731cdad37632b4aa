"""FGSM (Goodfellow et al., 2015): ``x' = clip_[0,1](x + eps * sign(grad_x CE(f(x), y)))``.

FGSM is PGD with one step of size ``eps`` and no random start (equal up to one
float32 rounding of the projection, see the tests). Torch is imported when the
attack runs, so listing the attacks stays light (:mod:`cvgr.attacks.registry`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import AttackKind, register

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn


def fgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, generator: torch.Generator | None = None) -> Tensor:
    """FGSM: ``clip_[0,1](x + eps * sign(grad_x CE(f(x), y)))``. ``generator`` is unused (common signature)."""
    from .core import check_eps, input_gradient
    check_eps(eps)
    x = x.detach()
    return (x + eps * input_gradient(model, x, y).sign()).clamp(0.0, 1.0).detach()


register(AttackKind("fgsm", "FGSM", fgsm, gradient=True))
