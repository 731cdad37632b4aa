"""PGD (Madry et al., 2018): ``k`` projected sign-gradient steps on the cross-entropy; names ``pgd<k>``.

Each step is ``x <- P(x + alpha * sign(grad_x CE))`` with ``alpha = 1.85 eps /
k`` by default and ``P`` the projection onto the eps-ball around the clean ``x``
followed by clipping to [0, 1]; optional uniform random start in the eps-ball
(then clipped), drawn from ``generator``. Torch is imported when the attack
runs, so listing the attacks stays light (:mod:`cvgr.attacks.registry`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import AttackKind, register

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn


def pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, steps: int = 10,
        alpha: float | None = None, random_start: bool = False,
        generator: torch.Generator | None = None) -> Tensor:
    """PGD: ``steps`` sign-gradient steps of size ``alpha`` (default ``1.85 eps / steps``).

    Each step is ``x' <- clip_[0,1](x + clip_[-eps,eps](x' + alpha sign(grad_x CE) - x))``.
    With ``random_start`` the first iterate is ``clip_[0,1](x + U(-eps, eps))``,
    the uniform noise drawn from ``generator``.
    """
    from ..runtime.rand import noise
    from .core import ALPHA_FACTOR, check_eps, check_steps, input_gradient, sign_ascent
    check_eps(eps)
    check_steps(steps)
    alpha = ALPHA_FACTOR * eps / steps if alpha is None else alpha
    x = x.detach()
    start = x
    if random_start:
        start = (x + noise("uniform", x.shape, x, generator, eps)).clamp(0.0, 1.0)
    return sign_ascent(x, start, eps, steps, alpha, lambda xa: input_gradient(model, xa, y))


register(AttackKind("pgd", "PGD", pgd, gradient=True, options={"random_start": False}, parameter="steps"))
