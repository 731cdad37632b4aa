"""Phase-to-magnitude complex layers (docs/METHOD.md section 1).

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

``paper`` (the paper's "derivative constraint"): a custom autograd function
whose forward is ``|W exp(ix) + b|`` and whose backward is written in
differentiable torch ops of the upstream gradient ``g`` and of ``W``, with
``c = cos x``, ``s = sin x`` and ``p = z/|z|`` saved as constants::

    [t_R; t_I] = W_block^T [Re(p) g; Im(p) g]       (one transposed block map)
    dL/dx      = c * t_I - s * t_R                  (= J^T g)
    dL/dW      = exact first-order weight gradient

Its first-order gradients are exact, but when autograd differentiates the
input gradient ``J^T g`` again (double backprop), only the explicit ``W`` and
the upstream gradient ``g`` are differentiated, as docs/METHOD.md section 2.2
prescribes.
Element-wise, ``J[k, j] = W_R[k, j] A[k, j] - W_I[k, j] B[k, j]`` with
``B = Re(p) c^T + Im(p) s^T`` and ``A = Im(p) c^T - Re(p) s^T``. It is also
the cheaper first-order path (fewer saved intermediates), so ``paper`` is
used for plain training too; ``exact`` is plain autograd throughout.

Choices where the method is silent (documented in docs/METHOD_NOTES.md):

* ``|z|`` is ``sqrt(z_R^2 + z_I^2 + 1e-12)`` so that gradients stay finite at
  ``z = 0``; ``p`` uses the same magnitude.
* Convolution padding pads the phasor ``u`` with complex zeros (the standard
  complex convolution), not the phase ``x``.
* Layers are in ``paper`` mode unless :func:`set_mode` says otherwise; both
  modes give the same values and the same first-order gradients.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..vocab import MODES
from . import conv

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
        self.dbp_mode = "paper"

    def _make_parameters(self, weight_shape: tuple[int, ...], fan_in: int, bias: bool) -> None:
        """W_R, W_I of ``weight_shape`` and (with ``bias``) b_R, b_I of ``weight_shape[0]``, polar-initialised."""
        self.weight_re = nn.Parameter(torch.empty(weight_shape))
        self.weight_im = nn.Parameter(torch.empty(weight_shape))
        _init_polar_(self.weight_re, self.weight_im, fan_in)
        if bias:
            self.bias_re = nn.Parameter(torch.empty(weight_shape[0]))
            self.bias_im = nn.Parameter(torch.empty(weight_shape[0]))
            _init_polar_(self.bias_re, self.bias_im, fan_in)
        else:
            self.register_parameter("bias_re", None)
            self.register_parameter("bias_im", None)

    def _block_weight(self) -> Tensor:
        wr, wi = self.weight_re, self.weight_im
        top = torch.cat([wr, -wi], dim=1)
        bottom = torch.cat([wi, wr], dim=1)
        return torch.cat([top, bottom], dim=0)

    def _block(self, inp: Tensor, weight: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _bias_shape(self, out: Tensor) -> tuple[int, ...]:
        return (1, -1) + (1,) * (out.dim() - 2)

    def _block_input_grad(self, grad: Tensor, weight: Tensor, shape: torch.Size) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _block_weight_grad(self, inp: Tensor, grad: Tensor, shape: torch.Size) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _bias(self) -> Tensor | None:
        return None if self.bias_re is None else torch.cat([self.bias_re, self.bias_im])

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self._block_weight(), self._bias()
        if self.dbp_mode == "paper" and torch.is_grad_enabled():
            return _PaperPhaseToMagnitude.apply(x, weight, bias, self)
        z = self._block(torch.cat([torch.cos(x), torch.sin(x)], 1), weight)
        if bias is not None:
            z = z + bias.view(self._bias_shape(z))
        zr, zi = z.chunk(2, 1)
        return magnitude(zr, zi)


class _PaperPhaseToMagnitude(torch.autograd.Function):
    """``|W_block [cos x; sin x] + b|`` whose backward holds cos x, sin x and z/|z| constant."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, layer: _PhaseToMagnitude) -> Tensor:
        inp = torch.cat([torch.cos(x), torch.sin(x)], 1)
        z = layer._block(inp, weight)
        if bias is not None:
            z = z + bias.view(layer._bias_shape(z))
        zr, zi = z.chunk(2, 1)
        f = magnitude(zr, zi)
        phase = torch.cat([zr / f, zi / f], 1)
        ctx.save_for_backward(inp, weight, phase)
        ctx.layer, ctx.has_bias = layer, bias is not None
        return f

    @staticmethod
    def backward(ctx, g: Tensor):
        inp, weight, phase = ctx.saved_tensors
        layer = ctx.layer
        gz = phase * torch.cat([g, g], 1)  # dL/d[z_R; z_I] = [Re(p) g; Im(p) g]
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            t_r, t_i = layer._block_input_grad(gz, weight, inp.shape).chunk(2, 1)
            c, s = inp.chunk(2, 1)
            grad_x = c * t_i - s * t_r
        if ctx.needs_input_grad[1]:
            grad_w = layer._block_weight_grad(inp, gz, weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = gz.sum(dim=[d for d in range(gz.dim()) if d != 1])
        return grad_x, grad_w, grad_b, None


class ComplexLinear(_PhaseToMagnitude):
    """``f(x) = |W exp(i x) + b|`` for x of shape (B, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._make_parameters((out_features, in_features), in_features, bias)

    def _block(self, inp: Tensor, weight: Tensor) -> Tensor:
        return F.linear(inp, weight)

    def _block_input_grad(self, grad: Tensor, weight: Tensor, shape: torch.Size) -> Tensor:
        return grad @ weight

    def _block_weight_grad(self, inp: Tensor, grad: Tensor, shape: torch.Size) -> Tensor:
        return grad.T @ inp

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias_re is not None}"


class ComplexConv2d(_PhaseToMagnitude):
    """``f(x) = |W * exp(i x) + b|`` for x of shape (B, C_in, H, W), ``*`` = 2-D convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 padding: int = 1, stride: int = 1, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.padding, self.stride = kernel_size, padding, stride
        self.wgrad = False  # with gradients enabled, differentiate through cvgr.nn.conv (see set_conv_wgrad)
        self._make_parameters((out_channels, in_channels, kernel_size, kernel_size),
                              in_channels * kernel_size * kernel_size, bias)

    def _block(self, inp: Tensor, weight: Tensor) -> Tensor:
        return conv.maps(self.wgrad).conv(inp, weight, None, self.stride, self.padding)

    def _block_input_grad(self, grad: Tensor, weight: Tensor, shape: torch.Size) -> Tensor:
        return conv.maps(self.wgrad).input_grad(shape, weight, grad, self.stride, self.padding)

    def _block_weight_grad(self, inp: Tensor, grad: Tensor, shape: torch.Size) -> Tensor:
        return conv.maps(self.wgrad).weight_grad(inp, shape, grad, self.stride, self.padding)

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


class PhaseWarp(nn.Module):
    """``w(x) = x - sin(2 pi x) / (2 pi)``, applied to pixels before :class:`PhaseScale`.

    ``w`` maps [0, 1] onto itself, increasing, with ``w(0) = 0``,
    ``w(1/2) = 1/2``, ``w(1) = 1`` and ``w(1 - x) = 1 - w(x)``. Its
    derivative ``w'(x) = 1 - cos(2 pi x)`` lies in [0, 2]: 0 at black and
    white pixels, 2 at mid-grey, so dark and bright tones are compressed and
    mid-tones stretched. Plain autograd gives exactly this derivative; its
    second derivative ``2 pi sin(2 pi x)`` depends on ``x`` alone, so the
    warp adds nothing to the parameter gradient of the G.R. penalty beyond
    the factor ``w'(x)`` on the input gradient.
    """

    def forward(self, x: Tensor) -> Tensor:
        return x - torch.sin(2 * math.pi * x) / (2 * math.pi)


def set_mode(model: nn.Module, mode: str) -> Callable[[], None]:
    """Set the double-backprop mode of every complex layer; return a function restoring the old ones."""
    if mode not in MODES:
        raise ValueError(f"unknown double-backprop mode {mode!r}; choose one of {', '.join(MODES)}")
    return conv.set_layers([m for m in model.modules() if isinstance(m, _PhaseToMagnitude)], "dbp_mode", mode)
