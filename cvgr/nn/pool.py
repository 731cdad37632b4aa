"""2x2 average pooling that stays cheap under double backprop.

    y[b, c, i, j] = (x[2i, 2j] + x[2i+1, 2j] + x[2i, 2j+1] + x[2i+1, 2j+1]) / 4

The map is linear, so its backward is its transpose (each gradient value
spread over its 2x2 block, times 1/4) and the backward of that is the pooling
again. :class:`AvgPool2` writes both as autograd functions of each other, so
first-order and double-backprop gradients are the exact ones of
``torch.nn.AvgPool2d(2)``.

Why not ``nn.AvgPool2d(2)``: on the CPU, with one thread and NCHW tensors,
``torch 2.14``'s ``avg_pool2d`` and ``avg_pool2d_backward`` took 4-14 ms per
call on the small CNN's activations (64x32x28x28 per batch, 256-row NES
chunks), 25% of an NES forward pass in a profile; the strided sums here cost
a fraction of that (docs/BENCHMARKS.md). Inputs whose height or width is odd
fall back to ``avg_pool2d`` (which drops the last row or column).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _pool(x: Tensor) -> Tensor:
    rows = x[:, :, 0::2] + x[:, :, 1::2]
    return (rows[..., 0::2] + rows[..., 1::2]) * 0.25


def _spread(g: Tensor) -> Tensor:
    b, c, h, w = g.shape
    return (g * 0.25)[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)


class _Pool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return _pool(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        return _Spread.apply(g)


class _Spread(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g: Tensor) -> Tensor:
        return _spread(g)

    @staticmethod
    def backward(ctx, gg: Tensor) -> Tensor:
        return _Pool.apply(gg)


def avg_pool2(x: Tensor) -> Tensor:
    """2x2 average pooling with stride 2 of a (B, C, H, W) tensor."""
    if x.dim() != 4 or x.shape[2] % 2 or x.shape[3] % 2:
        return F.avg_pool2d(x, 2)
    return _Pool.apply(x)


class AvgPool2(nn.Module):
    """``nn.AvgPool2d(2)`` with the same values and gradients, computed as strided sums."""

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2(x)
