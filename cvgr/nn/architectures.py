"""The architectures of docs/METHOD.md section 1, real (R) and complex (C), registered in :mod:`cvgr.nets`.

============== ======== ===============================================================
name           field    layers
============== ======== ===============================================================
small_cnn      real     conv3(32) relu pool, conv3(64) relu pool, fc(3136->128) relu, fc(128->10)
small_cnn      complex  conv3(16) gsum(2) pool, conv3(8->32) gsum(2) pool, fc(784->128), fc(128->10)
mlp            either   fc(D->256), fc(256->256), fc(256->10)   (ReLU between real layers)
cifar_cnn      either   [conv3(32) BN act pool] [conv3(64) BN act pool] [conv3(128) BN act pool]
                        fc(2048->256) act, fc(256->10)
cifar_cnn_warp real     cifar_cnn, unchanged
cifar_cnn_warp complex  warp ``x - sin(2 pi x) / (2 pi)``, then cifar_cnn
============== ======== ===============================================================

Complex nets start with ``x -> pi x`` and have no activation (the magnitude is
the nonlinearity); their logits are the last layer's magnitudes. Real nets use
``N(0, 1/(2 fan_in))`` weights; their biases follow ``real_bias``
(:data:`~cvgr.vocab.REAL_BIASES`):

* ``cvgr`` (default): every bias starts at 0 (the method zeroes the
  convolution biases; cvgr zeroes the linear biases too) and is added once.
* ``authors``: as in the method's published code, each convolution adds its
  bias twice, ``conv(x, W, b) + b`` (the effective bias is ``2 b`` and
  ``dL/db`` doubles, so under SGD the effective bias moves 4x as fast), and
  linear biases start at ``U(-a, a)``, ``a = 1 / sqrt(2 fan_in)``, drawn after
  the layer's weights. Convolution biases still start at 0.

Complex nets take raw pixels;
``cifar_cnn_warp`` is the CIFAR net as the method's authors ran it: its
complex form passes the pixels through :class:`~cvgr.nn.complex.PhaseWarp`
before ``x -> pi x`` (docs/METHOD_NOTES.md gives the evidence).

Input representation
--------------------
The real CIFAR net standardises its input inside the model,
``r = (x - mean) / std`` per channel with the constants the method's authors
used (:data:`CIFAR_MEAN`, :data:`CIFAR_STD`), so attacks and data stay in
pixel space. The authors standardise *outside* the model and penalise the
gradient with respect to ``r``; since ``dL/dr = std * dL/dx``, a net states
that factor in :meth:`Net.representation_scale` and the G.R. penalty
(:mod:`cvgr.train.regularize`) multiplies the pixel gradient by it. Nets without
standardisation (every complex net, ``small_cnn``, ``mlp``) return ``None``
and are penalised on the pixel gradient.

Every net is a :class:`Net`, which knows its input shape and rejects data of
another shape before any work is done.
"""
from __future__ import annotations

import math
import torch
from torch import Tensor, nn

from ..errors import ShapeMismatchError
from ..nets import ARCHITECTURES as ARCH_REGISTRY, get_architecture
from ..registry import resolve
from ..vocab import FIELDS, REAL_BIASES
from .complex import ComplexConv2d, ComplexLinear, GroupSum, PhaseScale, PhaseWarp
from .conv import Conv2d
from .pool import AvgPool2

#: Per-channel CIFAR-10 standardisation of the real CIFAR net: the constants of
#: the method's reference implementation (the std differs from the usual
#: (0.2470, 0.2435, 0.2616) of the training set; see docs/METHOD_NOTES.md).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


class Net(nn.Module):
    """A classifier with a fixed input shape (C, H, W) and a name (arch, field)."""

    def __init__(self, arch: str, field: str, in_shape: tuple[int, int, int], body: nn.Sequential,
                 real_bias: str = "cvgr"):
        super().__init__()
        self.arch, self.field, self.in_shape = arch, field, tuple(in_shape)
        self.real_bias = real_bias
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.in_shape:
            raise ShapeMismatchError(
                f"{self.field} {self.arch} expects inputs of shape {self.in_shape} (C, H, W), "
                f"got {tuple(x.shape[1:])}: pick an architecture made for this dataset"
            )
        return self.body(x)

    def representation_scale(self) -> Tensor | None:
        """``std`` of shape (1, C, 1, 1) when the net starts with a :class:`Normalize`, else ``None``.

        The net's input representation is ``r = (x - mean) / std``, so
        ``dL/dr = std * dL/dx``: the factor that turns a pixel gradient into
        the gradient the G.R. penalty is defined on.
        """
        first = self.body[0] if len(self.body) else None
        return first.std if isinstance(first, Normalize) else None


class Normalize(nn.Module):
    """``r = (x - mean) / std`` per channel (``mean``, ``std`` buffers of shape (1, C, 1, 1))."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def init_real_(module: nn.Module, real_bias: str = "cvgr") -> None:
    """Real affine layers: weight ~ N(0, 1 / (2 fan_in)); biases by ``real_bias`` (module docstring).

    ``cvgr``: every bias 0. ``authors``: convolution biases 0 and added twice
    (:attr:`Conv2d.double_bias`), linear biases ~ U(-a, a) with
    ``a = 1 / sqrt(2 fan_in)``, drawn right after the layer's weights.
    """
    if real_bias not in REAL_BIASES:
        raise ValueError(f"unknown real_bias {real_bias!r}; choose one of {', '.join(REAL_BIASES)}")
    authors = real_bias == "authors"
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            scale = 1.0 / math.sqrt(2 * fan_in)
            with torch.no_grad():
                m.weight.normal_(0.0, scale)
                if m.bias is not None and authors and isinstance(m, nn.Linear):
                    m.bias.uniform_(-scale, scale)
                elif m.bias is not None:
                    m.bias.zero_()
            if isinstance(m, Conv2d):
                m.double_bias = authors


def _conv(field: str, cin: int, cout: int) -> nn.Module:
    return Conv2d(cin, cout, 3, padding=1) if field == "real" else ComplexConv2d(cin, cout, 3, padding=1)


def _fc(field: str, fin: int, fout: int) -> nn.Module:
    return nn.Linear(fin, fout) if field == "real" else ComplexLinear(fin, fout)


def small_cnn(field: str, in_shape: tuple[int, int, int], classes: int) -> list[nn.Module]:
    c, h, w = in_shape
    flat = (h // 4) * (w // 4)
    if field == "real":
        return [Conv2d(c, 32, 3, padding=1), nn.ReLU(), AvgPool2(),
                Conv2d(32, 64, 3, padding=1), nn.ReLU(), AvgPool2(),
                nn.Flatten(), nn.Linear(64 * flat, 128), nn.ReLU(), nn.Linear(128, classes)]
    return [PhaseScale(),
            ComplexConv2d(c, 16, 3, padding=1), GroupSum(2), AvgPool2(),
            ComplexConv2d(8, 32, 3, padding=1), GroupSum(2), AvgPool2(),
            nn.Flatten(), ComplexLinear(16 * flat, 128), ComplexLinear(128, classes)]


def mlp(field: str, in_shape: tuple[int, int, int], classes: int) -> list[nn.Module]:
    d = in_shape[0] * in_shape[1] * in_shape[2]
    act = [nn.ReLU()] if field == "real" else []
    head = [nn.Flatten()] if field == "real" else [PhaseScale(), nn.Flatten()]
    return head + [_fc(field, d, 256), *act, _fc(field, 256, 256), *act, _fc(field, 256, classes)]


def cifar_cnn(field: str, in_shape: tuple[int, int, int], classes: int) -> list[nn.Module]:
    c, h, w = in_shape
    act = (lambda: [nn.ReLU()]) if field == "real" else (lambda: [])
    layers: list[nn.Module] = [Normalize(CIFAR_MEAN, CIFAR_STD)] if field == "real" else [PhaseScale()]
    for cin, cout in ((c, 32), (32, 64), (64, 128)):
        layers += [_conv(field, cin, cout), nn.BatchNorm2d(cout), *act(), AvgPool2()]
    layers += [nn.Flatten(), _fc(field, 128 * (h // 8) * (w // 8), 256), *act(), _fc(field, 256, classes)]
    return layers


def cifar_cnn_warp(field: str, in_shape: tuple[int, int, int], classes: int) -> list[nn.Module]:
    layers = cifar_cnn(field, in_shape, classes)
    return [PhaseWarp(), *layers] if field == "complex" else layers


#: The registered architectures (:data:`cvgr.nets.ARCHITECTURES`, where each is declared).
ARCHITECTURES = ARCH_REGISTRY
#: The input shape each architecture was designed for (docs/METHOD.md section 1).
DESIGN_SHAPES = ARCH_REGISTRY.attribute("design_shape")


def build_model(arch: str, field: str, in_shape: tuple[int, int, int] | None = None,
                num_classes: int = 10, real_bias: str = "cvgr") -> Net:
    """Build the registered architecture ``arch`` (:mod:`cvgr.nets`) as a ``field`` ('real' | 'complex') net.

    ``real_bias`` (``cvgr`` | ``authors``, module docstring) sets a real net's
    biases; complex nets are the same for both. Parameters are initialised
    from torch's global RNG: seed it first (``torch.manual_seed``) for
    reproducible weights.
    """
    if real_bias not in REAL_BIASES:
        raise ValueError(f"unknown real_bias {real_bias!r}; choose one of {', '.join(REAL_BIASES)}")
    entry = get_architecture(arch)
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}; choose one of {', '.join(FIELDS)}")
    shape = tuple(in_shape) if in_shape is not None else entry.design_shape
    k = entry.side_divisor
    if shape[1] % k or shape[2] % k:
        raise ShapeMismatchError(f"{arch} needs H and W divisible by {k}, got {shape}")
    layers = resolve(entry.layers, f"architecture {arch}'s layers")(field, shape, num_classes)
    net = Net(arch, field, shape, nn.Sequential(*layers), real_bias)
    if field == "real":
        init_real_(net, real_bias)
    return net
