"""Models whose optimal L-infinity attack is known, for the audit's tests.

:class:`MarginModel` has logits ``(m/2, -m/2, -50)`` with ``m = w . q(x) + b``:
class 0 when ``m > 0``, class 1 when ``m < 0``, class 2 never (it gives DLR
its third logit). CE, DLR and the margin are all decreasing functions of
the true class's signed margin ``s = (1 - 2y) m``, so every attack's best
move is the same. Without quantization (``q(x) = x``), the smallest ``s`` over
the eps-ball is ``s - eps ||w||_1``, at ``x - eps (1 - 2y) sign(w)``, when
clipping to [0, 1] cannot interfere; an image is robust iff ``s > eps ||w||_1``.

With ``levels = 1 / eps``, ``q(x) = round(x * levels) / levels`` has a zero
gradient everywhere (a gradient-masked model), while on pixels ``k / levels``
the vertices of the eps-ball map to the neighbouring levels, so its robust
images are exactly the linear model's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

SIDE = 5  # images 1 x 5 x 5; the last row and column carry no weight (see linear_case)


class MarginModel(nn.Module):
    """Logits ``(m/2, -m/2, -50)``, ``m = w . q(x) + b``; ``q`` rounds to ``levels`` when given."""

    def __init__(self, w: Tensor, b: float, levels: int | None = None):
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = b
        self.levels = levels

    def margin(self, x: Tensor) -> Tensor:
        v = x.flatten(1)
        if self.levels is not None:
            v = torch.round(v * self.levels) / self.levels
        return v @ self.w + self.b

    def forward(self, x: Tensor) -> Tensor:
        m = self.margin(x)
        return torch.stack([m / 2, -m / 2, torch.full_like(m, -50.0)], 1)


@dataclass
class LinearCase:
    """Images, labels, the linear model and which images are robust at ``eps`` (closed form)."""

    x: Tensor
    y: Tensor
    model: MarginModel
    eps: float
    robust: Tensor       # bool (n,): s > eps ||w||_1
    clean: Tensor        # bool (n,): s > 0

    def masked(self) -> MarginModel:
        """The same model behind a quantizing input (zero gradient), with the same robust images."""
        return MarginModel(self.model.w.detach(), self.model.b, levels=round(1 / self.eps))


def linear_case(n: int = 40, eps: float = 0.05, seed: int = 0, gap: float = 0.05) -> LinearCase:
    """``n`` images on the grid ``k eps`` (k = 1 .. 1/eps - 1), so every pixel is in ``[eps, 1 - eps]``.

    Weights ``+-U(0.5, 1.5)`` except on the last row and column, which are 0:
    torchattacks' Square never places a square smaller than the image on the
    last row or column (``random_int(0, h - s)`` excludes ``h - s``), so
    those pixels keep Square's first guess. Every 8th image gets the wrong
    label. Images whose margin lies within ``gap`` of 0 or of ``eps ||w||_1``
    are redrawn, so float rounding cannot decide a case.
    """
    g = torch.Generator().manual_seed(seed)
    levels = round(1 / eps)
    d = SIDE * SIDE
    w = torch.where(torch.rand(d, generator=g) < 0.5, -1.0, 1.0) * (0.5 + torch.rand(d, generator=g))
    w.view(SIDE, SIDE)[-1, :] = 0
    w.view(SIDE, SIDE)[:, -1] = 0
    model = MarginModel(w, float(-0.5 * w.sum())).eval()
    budget = eps * float(w.abs().sum())
    xs: list[Tensor] = []
    while len(xs) < n:
        x = torch.randint(1, levels, (1, 1, SIDE, SIDE), generator=g).float() / levels
        m = float(model.margin(x).detach())
        if abs(m) > gap and abs(abs(m) - budget) > gap:
            xs.append(x)
    x = torch.cat(xs)
    with torch.no_grad():
        m = model.margin(x)
    y = (m < 0).long()
    y[::8] = 1 - y[::8]
    s = (1 - 2 * y) * m
    return LinearCase(x, y, model, eps, robust=s > budget, clean=s > 0)


class PerImageCounter(nn.Module):
    """Counts the rows forwarded per image: a row belongs to the clean image within ``eps`` of it.

    Needs images more than ``2 eps`` apart (L-infinity), so the owner is unique.
    """

    def __init__(self, model: nn.Module, x: Tensor, eps: float):
        super().__init__()
        self.model, self.x, self.eps = model, x.flatten(1), eps
        self.counts = torch.zeros(len(x), dtype=torch.int64)

    def forward(self, rows: Tensor) -> Tensor:
        dist = (rows.flatten(1)[:, None, :] - self.x[None]).abs().amax(2)
        owner = dist <= self.eps + 1e-6
        assert (owner.sum(1) == 1).all(), "a query is not within eps of exactly one image"
        self.counts += owner.sum(0)
        return self.model(rows)
