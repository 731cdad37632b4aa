"""Phase-to-magnitude complex layers (METHOD section 1).

A layer reads its real input ``x`` as phases and returns real magnitudes::

    u = exp(i x) = cos x + i sin x
    z = W u + b                 W = W_R + i W_I,  b = b_R + i b_I
    f(x) = |z|

With real tensors only, ``z`` is one real affine map of the stacked phasor
``[cos x, sin x]`` by the block weight ``[[W_R, -W_I], [W_I, W_R]]``; a
complex convolution is therefore one real convolution with twice the input and
output channels, and its cost scales like a convolution (no per-sample
Jacobians are ever formed).

Double-backprop modes
---------------------
``exact``: plain autograd through ``|W exp(ix) + b|``.

``paper`` (the paper's "derivative constraint"): the layer returns::

    f(x0; W) + J(W; p, c, s) (x - x0),     x0 = stopgrad(x)

where ``c = cos x0``, ``s = sin x0`` and ``p = z/|z|`` are held constant. Its
value is ``f(x)``; its gradients with respect to ``x`` and ``W`` are exact;
but when autograd differentiates the input gradient ``J^T g`` again, only the
explicit ``W`` in ``J`` (and the upstream gradient ``g``) is differentiated.
``J delta`` is computed as the same block map applied to
``[-s * delta, c * delta]`` (the derivative of ``u`` along ``delta`` is
``i u delta``), followed by ``Re(conj(p) dz)``. Element-wise, this is
``J[k, j] = W_R[k, j] A[k, j] - W_I[k, j] B[k, j]`` with
``B = Re(p) c^T + Im(p) s^T`` and ``A = Im(p) c^T - Re(p) s^T``.

Choices where METHOD is silent (documented in docs/METHOD_NOTES.md):

* ``|z|`` is ``sqrt(z_R^2 + z_I^2 + 1e-12)`` so that gradients stay finite at
  ``z = 0``; ``p`` uses the same magnitude.
* Convolution padding pads the phasor ``u`` with complex zeros (the standard
  complex convolution), not the phase ``x``.
* The paper-mode term is only added when the input requires a gradient and
  autograd is recording; otherwise both modes are the same plain forward.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODES = ("paper", "exact")
_DELTA = 1e-12


def magnitude(zr: Tensor, zi: Tensor) -> Tensor:
    """|z| = sqrt(z_R^2 + z_I^2 + 1e-12)."""
    return torch.sqrt(zr * zr + zi * zi + _DELTA)


def _init_polar_(re: Tensor, im: Tensor, fan_in: int) -> None:
    """W = (1/sqrt(fan_in)) exp(i theta), theta ~ U(0, 2 pi)."""
    with torch.no_grad():
        theta = torch.rand_like(re) * (2 * math.pi)
        scale = 1.0 / math.sqrt(fan_in)
        re.copy_(scale * torch.cos(theta))
        im.copy_(scale * torch.sin(theta))


class _PhaseToMagnitude(nn.Module):
    """Shared forward for complex linear and conv layers.

    Subclasses define ``_block(inp)``: the real map of the stacked phasor
    ``[Re u, Im u]`` (channels or features first half real, second half
    imaginary) by the block weight, without bias; output stacked likewise.
    """

    weight_re: Tensor
    weight_im: Tensor
    bias_re: Tensor | None
    bias_im: Tensor | None

    def __init__(self) -> None:
        super().__init__()
        self.dbp_mode = "exact"

    def _block_weight(self) -> Tensor:
        wr, wi = self.weight_re, self.weight_im
        top = torch.cat([wr, -wi], dim=1)
        bottom = torch.cat([wi, wr], dim=1)
        return torch.cat([top, bottom], dim=0)

    def _block(self, inp: Tensor, weight: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _bias_shape(self, out: Tensor) -> tuple[int, ...]:
        return (1, -1) + (1,) * (out.dim() - 2)

    def _add_bias(self, zr: Tensor, zi: Tensor) -> tuple[Tensor, Tensor]:
        if self.bias_re is None:
            return zr, zi
        shape = self._bias_shape(zr)
        return zr + self.bias_re.view(shape), zi + self.bias_im.view(shape)

    def forward(self, x: Tensor) -> Tensor:
        weight = self._block_weight()
        paper = self.dbp_mode == "paper" and torch.is_grad_enabled() and x.requires_grad
        if not paper:
            zr, zi = self._block(torch.cat([torch.cos(x), torch.sin(x)], 1), weight).chunk(2, 1)
            zr, zi = self._add_bias(zr, zi)
            return magnitude(zr, zi)
        x0 = x.detach()
        c, s = torch.cos(x0), torch.sin(x0)
        delta = x - x0
        # One call of the block map for both the value and the linear term.
        both = self._block(torch.cat([torch.cat([c, s], 1), torch.cat([-s * delta, c * delta], 1)], 0), weight)
        value, tangent = both.chunk(2, 0)
        zr, zi = self._add_bias(*value.chunk(2, 1))
        f = magnitude(zr, zi)
        pr, pi = (zr / f).detach(), (zi / f).detach()
        dzr, dzi = tangent.chunk(2, 1)
        return f + pr * dzr + pi * dzi


class ComplexLinear(_PhaseToMagnitude):
    """``f(x) = |W exp(i x) + b|`` for x of shape (B, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight_re = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_im = nn.Parameter(torch.empty(out_features, in_features))
        _init_polar_(self.weight_re, self.weight_im, in_features)
        if bias:
            self.bias_re = nn.Parameter(torch.empty(out_features))
            self.bias_im = nn.Parameter(torch.empty(out_features))
            _init_polar_(self.bias_re, self.bias_im, in_features)
        else:
            self.register_parameter("bias_re", None)
            self.register_parameter("bias_im", None)

    def _block(self, inp: Tensor, weight: Tensor) -> Tensor:
        return F.linear(inp, weight)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias_re is not None}"


class ComplexConv2d(_PhaseToMagnitude):
    """``f(x) = |W * exp(i x) + b|`` for x of shape (B, C_in, H, W), ``*`` = 2-D convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 padding: int = 1, stride: int = 1, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.padding, self.stride = kernel_size, padding, stride
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight_re = nn.Parameter(torch.empty(shape))
        self.weight_im = nn.Parameter(torch.empty(shape))
        fan_in = in_channels * kernel_size * kernel_size
        _init_polar_(self.weight_re, self.weight_im, fan_in)
        if bias:
            self.bias_re = nn.Parameter(torch.empty(out_channels))
            self.bias_im = nn.Parameter(torch.empty(out_channels))
            _init_polar_(self.bias_re, self.bias_im, fan_in)
        else:
            self.register_parameter("bias_re", None)
            self.register_parameter("bias_im", None)

    def _block(self, inp: Tensor, weight: Tensor) -> Tensor:
        return F.conv2d(inp, weight, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding}, stride={self.stride}")


class GroupSum(nn.Module):
    """Sum of channel groups: ``y = x[:, 0:k] + x[:, k:2k] + ...``, ``k = C / groups``."""

    def __init__(self, groups: int = 2):
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[:2]
        if c % self.groups:
            raise ValueError(f"GroupSum({self.groups}) needs channels divisible by {self.groups}, got {c}")
        return x.reshape(b, self.groups, c // self.groups, *x.shape[2:]).sum(1)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class PhaseScale(nn.Module):
    """``x -> pi * x``: pixels in [0, 1] become phases in [0, pi]."""

    def forward(self, x: Tensor) -> Tensor:
        return x * math.pi


def set_mode(model: nn.Module, mode: str) -> Callable[[], None]:
    """Set the double-backprop mode of every complex layer; return a function restoring the old ones."""
    if mode not in MODES:
        raise ValueError(f"unknown double-backprop mode {mode!r}; choose one of {', '.join(MODES)}")
    layers = [m for m in model.modules() if isinstance(m, _PhaseToMagnitude)]
    old = [m.dbp_mode for m in layers]
    for m in layers:
        m.dbp_mode = mode

    def restore() -> None:
        for m, o in zip(layers, old):
            m.dbp_mode = o

    return restore
