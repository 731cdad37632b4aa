"""2-D convolutions whose derivatives of every order run on the three convolution kernels.

For stride ``s`` and zero padding ``p`` (dilation 1, one group) let

    C(x, W)[b, o, i, j] = sum_{c,k,l} W[o, c, k, l] x[b, c, s i + k - p, s j + l - p]

and let ``CT(g, W)`` and ``CW(x, g)`` be its input gradient (the transposed
convolution) and its weight gradient for an upstream gradient ``g``. All
three come from one trilinear form ``T(x, W, g) = <g, C(x, W)> =
<CT(g, W), x> = <CW(x, g), W>``, so each is linear in each argument and the
derivatives of each are again the other two (``u``, ``v``, ``V`` the
upstream gradients of the respective outputs)::

    C(x, W):   dx = CT(u, W)     dW = CW(x, u)      (db = sum_{b,i,j} u)
    CT(g, W):  dg = C(v, W)      dW = CW(v, g)
    CW(x, g):  dx = CT(g, V)     dg = C(x, V)

:func:`conv2d`, :func:`conv2d_input` and :func:`conv2d_weight` are these
three maps as autograd functions written in terms of each other, so
gradients of any order are computed by cuDNN's (or oneDNN's) forward,
data-gradient and weight-gradient kernels, each on the shapes it is built for.

Why: double backpropagation (G.R. training) differentiates the input
gradient ``CT(g, W)`` of every convolution once more. PyTorch's own rule for
that (ATen ``_convolution_double_backward``) computes ``dW = CW(v, g)`` as a
*forward* convolution of the transposed tensors ``v^T`` (batch as channels:
shape ``(C_in, B, H, W)``) and ``g^T`` (``(C_out, B, H, W)``, an ``H x W``
"kernel"), e.g. ``[1, 1024, 28, 28] * [32, 1024, 28, 28] -> [1, 32, 3, 3]``
for the first layer at batch 1024. A forward-convolution kernel reduces over
``B H W`` = 802816 products for each of only 288 outputs and parallelises
badly: on an H200 this one kernel took about 14 ms per step, 61-77% of a G.R.
step (docs/GPU.md). The weight-gradient kernel is built for exactly this
reduction and already runs on the same shapes in every first-order step.

The values are the same maps, so results agree with ``F.conv2d`` and
autograd up to floating-point summation order (tests: float64, 1e-12). The
CPU path keeps PyTorch's rule by default (:func:`set_conv_wgrad`), so CPU
results stay bit-identical to earlier versions.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_Pair = tuple[int, int]


def _pair(v: int | Sequence[int]) -> _Pair:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


class _Conv(torch.autograd.Function):
    """``C(x, W) + b``."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, stride: _Pair, padding: _Pair) -> Tensor:
        ctx.save_for_backward(x, w)
        ctx.geometry, ctx.has_bias = (stride, padding), b is not None
        return F.conv2d(x, w, b, stride, padding)

    @staticmethod
    def backward(ctx, u: Tensor):
        x, w = ctx.saved_tensors
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _ConvInput.apply(u, w, x.shape, *ctx.geometry)
        if ctx.needs_input_grad[1]:
            gw = _ConvWeight.apply(x, u, w.shape, *ctx.geometry)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = u.sum((0, 2, 3))
        return gx, gw, gb, None, None


class _ConvInput(torch.autograd.Function):
    """``CT(g, W)`` of shape ``x_shape``: the input gradient of ``C`` (a transposed convolution)."""

    @staticmethod
    def forward(ctx, g: Tensor, w: Tensor, x_shape: torch.Size, stride: _Pair, padding: _Pair) -> Tensor:
        ctx.save_for_backward(g, w)
        ctx.geometry = (stride, padding)
        return torch.nn.grad.conv2d_input(x_shape, w, g, stride, padding)

    @staticmethod
    def backward(ctx, v: Tensor):
        g, w = ctx.saved_tensors
        gg = gw = None
        if ctx.needs_input_grad[0]:
            gg = _Conv.apply(v, w, None, *ctx.geometry)
        if ctx.needs_input_grad[1]:
            gw = _ConvWeight.apply(v, g, w.shape, *ctx.geometry)
        return gg, gw, None, None, None


class _ConvWeight(torch.autograd.Function):
    """``CW(x, g)`` of shape ``w_shape``: the weight gradient of ``C``."""

    @staticmethod
    def forward(ctx, x: Tensor, g: Tensor, w_shape: torch.Size, stride: _Pair, padding: _Pair) -> Tensor:
        ctx.save_for_backward(x, g)
        ctx.geometry = (stride, padding)
        return torch.nn.grad.conv2d_weight(x, w_shape, g, stride, padding)

    @staticmethod
    def backward(ctx, gw: Tensor):
        x, g = ctx.saved_tensors
        gx = gg = None
        if ctx.needs_input_grad[0]:
            gx = _ConvInput.apply(g, gw, x.shape, *ctx.geometry)
        if ctx.needs_input_grad[1]:
            gg = _Conv.apply(x, gw, None, *ctx.geometry)
        return gx, gg, None, None, None


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] = 0) -> Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` whose derivatives of every order are C, CT, CW."""
    return _Conv.apply(x, weight, bias, _pair(stride), _pair(padding))


def conv2d_input(input_shape: Sequence[int], weight: Tensor, grad: Tensor, stride: int | Sequence[int] = 1,
                 padding: int | Sequence[int] = 0) -> Tensor:
    """``torch.nn.grad.conv2d_input`` (the transposed convolution ``CT(grad, weight)``), differentiable as above."""
    return _ConvInput.apply(grad, weight, torch.Size(input_shape), _pair(stride), _pair(padding))


def conv2d_weight(x: Tensor, weight_shape: Sequence[int], grad: Tensor, stride: int | Sequence[int] = 1,
                  padding: int | Sequence[int] = 0) -> Tensor:
    """``torch.nn.grad.conv2d_weight`` (``CW(x, grad)``), differentiable as above."""
    return _ConvWeight.apply(x, grad, torch.Size(weight_shape), _pair(stride), _pair(padding))


class Maps(NamedTuple):
    """The three maps C, CT and CW of one implementation.

    Called as ``conv(x, W, b, stride, padding)``, ``input_grad(x_shape, W, g, stride, padding)`` and
    ``weight_grad(x, W_shape, g, stride, padding)``.
    """

    conv: Callable[..., Tensor]
    input_grad: Callable[..., Tensor]
    weight_grad: Callable[..., Tensor]


#: PyTorch's maps and this module's: the same values, differentiated by PyTorch's rules or by C, CT and CW.
TORCH_MAPS = Maps(F.conv2d, torch.nn.grad.conv2d_input, torch.nn.grad.conv2d_weight)
WGRAD_MAPS = Maps(conv2d, conv2d_input, conv2d_weight)


def uses_wgrad(wgrad: bool) -> bool:
    """Whether a layer with flag ``wgrad`` runs this module's maps now: with gradients enabled only (same values)."""
    return wgrad and torch.is_grad_enabled()


def maps(wgrad: bool) -> Maps:
    """:data:`WGRAD_MAPS` when :func:`uses_wgrad`, else :data:`TORCH_MAPS`."""
    return WGRAD_MAPS if uses_wgrad(wgrad) else TORCH_MAPS


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, state dict and values) that can differentiate through :func:`conv2d`.

    With ``wgrad`` set (see :func:`set_conv_wgrad`) and gradients enabled,
    the forward pass is :func:`conv2d`; otherwise it is ``nn.Conv2d``'s.
    Only zero padding, dilation 1 and one group are supported.

    With ``double_bias`` set the output is ``C(x, W) + 2 b``, computed as
    ``conv(x, W, b) + b`` the way the method's published code computes it, so
    ``dL/db = 2 sum_{b,i,j} u`` (the real-bias option ``authors`` of
    :func:`cvgr.nn.build_model`). It leaves the input gradient unchanged.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if (self.dilation != (1, 1) or self.groups != 1 or self.padding_mode != "zeros"
                or isinstance(self.padding, str)):
            raise ValueError("cvgr Conv2d supports zero padding given as numbers, dilation 1 and groups 1 only")
        self.wgrad = False
        self.double_bias = False

    def forward(self, x: Tensor) -> Tensor:
        if uses_wgrad(self.wgrad):
            out = conv2d(x, self.weight, self.bias, self.stride, self.padding)
        else:
            out = super().forward(x)
        if self.double_bias and self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out


def set_conv_wgrad(model: nn.Module, enabled: bool) -> Callable[[], None]:
    """Switch every convolution of ``model`` that has a ``wgrad`` flag; return a function restoring the old flags.

    On: gradients of every order run on the forward, data-gradient and
    weight-gradient kernels (this module's docstring). Off: PyTorch's own
    derivative rules (bit-identical to cvgr before this switch existed).
    """
    return set_layers([m for m in model.modules() if hasattr(m, "wgrad")], "wgrad", bool(enabled))


def set_layers(layers: list[nn.Module], name: str, value: object) -> Callable[[], None]:
    """Set attribute ``name`` of every layer to ``value``; return a function restoring the old values."""
    old = [getattr(m, name) for m in layers]
    for m in layers:
        setattr(m, name, value)

    def restore() -> None:
        for m, o in zip(layers, old):
            setattr(m, name, o)

    return restore
