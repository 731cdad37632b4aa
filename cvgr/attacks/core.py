"""What cvgr's own attacks share: the input gradient, the projection, sign ascent, checks.

The loss is the batch-mean cross-entropy ``CE``. Attacks differentiate with
``torch.autograd.grad`` with respect to the input only, with the parameters'
``requires_grad`` switched off for the pass and restored after it
(:func:`frozen`): a custom autograd function (the complex layers' ``paper``
mode) cannot tell which of its inputs' gradients a pass asks for, and would
compute weight gradients nobody reads. No ``.grad`` is written into the
parameters. The model's mode (eval) is the caller's business. Noise is drawn
on the generator's device and moved to ``x``'s (:func:`cvgr.runtime.rand.noise`), so a
CPU generator gives the same noise whatever device ``x`` is on; ``None`` uses
torch's global RNG.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The step size of PGD and NES is ``ALPHA_FACTOR * eps / steps`` unless given.
ALPHA_FACTOR = 1.85


class Attack(Protocol):
    """The common signature of every attack (:mod:`cvgr.attacks.registry`) and of NES."""

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor, eps: float, *,
                 generator: torch.Generator | None = None, **kwargs) -> Tensor: ...


def check_eps(eps: float) -> None:
    """ValueError for ``eps < 0``."""
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")


def check_steps(steps: int) -> None:
    """ValueError for fewer than one step."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Parameters of ``model`` that require grad stop requiring it inside the block, and start again after."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def input_gradient(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """``grad_x CE(f(x), y)`` of the batch-mean cross-entropy, detached; works under ``no_grad``."""
    with torch.enable_grad(), frozen(model):
        xg = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(xg), y)
        (grad,) = torch.autograd.grad(loss, xg)
    return grad


def project(x_adv: Tensor, x: Tensor, eps: float) -> Tensor:
    """``clip_[0,1](x + clip_[-eps,eps](x_adv - x))``: onto the eps-ball around ``x``, then into [0, 1]."""
    delta = torch.clamp(x_adv - x, min=-eps, max=eps)
    return torch.clamp(x + delta, min=0.0, max=1.0)


def sign_ascent(x: Tensor, start: Tensor, eps: float, steps: int, alpha: float,
                gradient: Callable[[Tensor], Tensor]) -> Tensor:
    """``steps`` projected sign-gradient steps ``x' <- P(x' + alpha sign(gradient(x')))`` from ``start``."""
    x_adv = start
    for _ in range(steps):
        x_adv = project(x_adv + alpha * gradient(x_adv).sign(), x, eps)
    return x_adv.detach()


class QueryCounter(nn.Module):
    """Wraps a model and counts the rows it forwards in ``.queries`` (NES's and Square's query budgets)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.queries = 0

    def forward(self, x: Tensor) -> Tensor:
        self.queries += x.shape[0]
        return self.model(x)
