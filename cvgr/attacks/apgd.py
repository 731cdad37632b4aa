"""APGD (Croce & Hein, ICML 2020) from torchattacks, on the cross-entropy (APGD-CE) or the DLR loss (APGD-DLR).

``steps`` sign-gradient steps of an adaptive size (starting at ``2 eps``, halved
when the loss stalls) with momentum 0.75, from a random start in the eps-ball, on
the loss ``CE`` or ``DLR = -(z_y - max_{k != y} z_k) / (z_pi1 - z_pi3)``
(``z_pi1 >= z_pi2 >= z_pi3`` the largest logits; DLR needs >= 3 classes). Only
images the model classifies correctly are attacked; an image is replaced by the
first iterate that the model misclassifies, and is returned unchanged otherwise.
How the library is called (seeds, mode, device): :mod:`cvgr.attacks.library`.
Torch and the library are imported when the attack runs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import AttackKind, register

if TYPE_CHECKING:
    from types import ModuleType

    import torch
    from torch import Tensor, nn

LOSSES = ("ce", "dlr")


def apgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, loss: str = "ce", steps: int = 100,
         restarts: int = 1, generator: torch.Generator | None = None) -> Tensor:
    """APGD with ``loss`` ``'ce'`` or ``'dlr'``: ``torchattacks.APGD(norm='Linf', rho=0.75, eot_iter=1)``.

    ``steps`` iterations per restart, ``restarts`` random restarts (each on
    the images not yet misclassified); ``steps + 1`` gradient evaluations per
    restart and image, plus one clean forward pass.
    """
    from .library import check, run_library_attack
    check(eps, steps=(steps, 1), restarts=(restarts, 1))
    if loss not in LOSSES:
        raise ValueError(f"unknown APGD loss {loss!r}; allowed: {', '.join(LOSSES)}")

    def make(lib: ModuleType, view: nn.Module, seed: int) -> object:
        return lib.APGD(view, norm="Linf", eps=eps, steps=steps, n_restarts=restarts, seed=seed, loss=loss,
                        eot_iter=1, rho=0.75, verbose=False)

    return run_library_attack(make, model, x, y, generator)


def apgd_ce(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, apgd_steps: int = 100,
            generator: torch.Generator | None = None) -> Tensor:
    """APGD on the cross-entropy (AutoAttack's APGD-CE): :func:`apgd` with ``loss='ce'``, one restart."""
    return apgd(model, x, y, eps, loss="ce", steps=apgd_steps, generator=generator)


def apgd_dlr(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, apgd_steps: int = 100,
             generator: torch.Generator | None = None) -> Tensor:
    """APGD on the difference-of-logits ratio (untargeted APGD-DLR): :func:`apgd` with ``loss='dlr'``."""
    return apgd(model, x, y, eps, loss="dlr", steps=apgd_steps, generator=generator)


register(AttackKind("apgd-ce", "APGD-CE", apgd_ce, options={"apgd_steps": 100}))
register(AttackKind("apgd-dlr", "APGD-DLR", apgd_dlr, options={"apgd_steps": 100}))
