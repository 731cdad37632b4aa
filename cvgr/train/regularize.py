"""Gradient regularization (G.R.) and the gradient-agreement metric zeta (docs/METHOD.md section 2).

With ``L = (1/B) sum_i CE(f(x_i), y_i)`` the batch-mean cross-entropy,

    R = beta * (1/B) sum_i || dL/dr_i ||_1^2

where ``r_i`` is the net's input representation of sample ``i`` and
``dL/dr_i`` the gradient of the batch-mean loss with respect to it (so it
carries the 1/B factor the paper's betas are calibrated against). For most
nets ``r = x``, the pixels. A net that standardises its input inside itself,
``r = (x - mean) / std`` (the real CIFAR net), reports ``std`` through
``representation_scale()`` (:meth:`cvgr.nn.Net.representation_scale`), and
``dL/dr = std * dL/dx`` per channel: this is the penalty of the method's
reference implementation, which standardises outside the net. Training
minimises ``L + R`` by double backpropagation. The mode (``paper`` or
``exact``, see :mod:`cvgr.nn.complex`) decides how the complex layers are
differentiated the second time; real layers are exact in both modes.

zeta is the cosine between ``grad_theta L`` and ``grad_theta (L + R)`` over
all parameters concatenated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.complex import MODES, set_mode


@dataclass
class RegularizedLoss:
    """The two terms of the training objective for one batch."""

    loss: Tensor      #: L, the batch-mean cross-entropy
    penalty: Tensor   #: R, zero when beta == 0
    logits: Tensor
    loss_grads: list[Tensor] | None = None  #: grad_theta L (detached), when asked for

    @property
    def total(self) -> Tensor:
        """L + R."""
        return self.loss + self.penalty


def representation_scale(model: nn.Module) -> Tensor | None:
    """``model.representation_scale()`` (``dr/dx`` per channel) when the model has one, else ``None`` (``r = x``)."""
    scale = getattr(model, "representation_scale", None)
    return scale() if callable(scale) else None


def penalty_from_gradient(gx: Tensor, beta: float, scale: Tensor | None = None) -> Tensor:
    """``beta * mean_i ||s * gx_i||_1^2``, ``s = scale`` (broadcast over ``gx``) or 1 when ``None``."""
    if scale is not None:
        gx = gx * scale
    return beta * gx.flatten(1).abs().sum(1).square().mean()


def gradient_penalty(loss: Tensor, x: Tensor, beta: float, scale: Tensor | None = None) -> Tensor:
    """``beta * mean_i ||scale * dL/dx_i||_1^2`` with a graph for double backprop; ``x`` must require grad."""
    (gx,) = torch.autograd.grad(loss, x, create_graph=True)
    return penalty_from_gradient(gx, beta, scale)


def regularized_loss(model: nn.Module, x: Tensor, y: Tensor, beta: float, mode: str = "paper",
                     params: Sequence[Tensor] | None = None) -> RegularizedLoss:
    """L and R for a batch. ``beta = 0`` skips the input gradient entirely.

    R is taken on the gradient with respect to the model's input
    representation: the pixel gradient times :func:`representation_scale`.

    With ``params`` (and beta > 0), ``grad_theta L`` is computed in the same
    backward pass as the input gradient and kept in ``loss_grads``, which
    makes zeta (:func:`backward_with_zeta`) cost almost nothing extra.
    """
    if mode not in MODES:
        raise ValueError(f"unknown double-backprop mode {mode!r}; choose one of {', '.join(MODES)}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if beta == 0:
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        return RegularizedLoss(loss, loss.new_zeros(()), logits)
    x = x.detach().requires_grad_(True)
    restore = set_mode(model, mode)
    try:
        logits = model(x)
    finally:
        restore()
    loss = F.cross_entropy(logits, y)
    scale = representation_scale(model)
    if params is None:
        return RegularizedLoss(loss, gradient_penalty(loss, x, beta, scale), logits)
    params = list(params)
    gx, *g_loss = torch.autograd.grad(loss, [x, *params], create_graph=True, allow_unused=True)
    penalty = penalty_from_gradient(gx, beta, scale)
    g_loss = [torch.zeros_like(p) if g is None else g.detach() for g, p in zip(g_loss, params)]
    return RegularizedLoss(loss, penalty, logits, g_loss)


def _flat(grads: Sequence[Tensor]) -> Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


def gradient_agreement(grads_a: Sequence[Tensor], grads_b: Sequence[Tensor]) -> Tensor:
    """zeta = <a, b> / (||a|| ||b||) over all parameters concatenated (a float64 0-d tensor; NaN if a norm is 0)."""
    a, b = _flat(grads_a).double(), _flat(grads_b).double()
    return torch.dot(a, b) / (a.norm() * b.norm())


def _grads(value: Tensor, params: Sequence[Tensor], retain: bool) -> list[Tensor]:
    gs = torch.autograd.grad(value, params, retain_graph=retain, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(gs, params)]


def backward_with_zeta(objective: RegularizedLoss, params: Sequence[Tensor]) -> Tensor:
    """Write ``grad (L + R)`` into ``p.grad`` for each parameter and return zeta.

    ``grad L`` comes from ``objective.loss_grads`` when
    :func:`regularized_loss` was given the parameters (no extra pass), else
    from one extra first-order backward of L; then ``grad R`` is computed and
    their sum is the training gradient. zeta is returned as a 0-d tensor, so
    no device synchronisation happens here. When R is identically zero
    (beta = 0), ``grad (L + R)`` *is* ``grad L`` and zeta is their cosine.
    """
    params = list(params)
    if objective.loss_grads is not None:
        g_loss = objective.loss_grads
    else:
        g_loss = _grads(objective.loss, params, retain=objective.penalty.requires_grad)
    if objective.penalty.requires_grad:
        g_pen = _grads(objective.penalty, params, retain=False)
        g_total = [a + b for a, b in zip(g_loss, g_pen)]
    else:
        g_total = g_loss
    for p, g in zip(params, g_total):
        p.grad = g
    return gradient_agreement(g_loss, g_total)
