"""The registered architectures: each one declared once, by :func:`register_architecture`.

An entry names the function that lists a net's layers, the input shape the
net was designed for, and what its side lengths must divide by. The
vocabulary (:data:`cvgr.vocab.ARCHITECTURES`), the config's and the command
line's choices, the schema and :func:`cvgr.nn.build_model` read it from here.

``layers`` is the function ``layers(field, in_shape, classes) -> list[nn.Module]``
(``field`` 'real' or 'complex', ``in_shape`` (C, H, W)) or a
``"package.module:function"`` reference to it, imported when a net is
built. The built-in nets are registered by reference, so that this module,
and with it the config check and the command line, do not import torch; a
plugin module may pass the function itself (docs/EXTENDING.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .registry import Registry


@dataclass(frozen=True)
class Architecture:
    """One registered architecture (module docstring)."""

    name: str
    layers: str | Callable[..., Any]       #: layers(field, in_shape, classes) -> list of modules
    design_shape: tuple[int, int, int]     #: the (C, H, W) it was designed for; the default input shape
    side_divisor: int = 1                  #: H and W must be multiples of it (2 ** number of 2x2 poolings)


#: Every registered architecture, in registration order.
ARCHITECTURES: Registry[Architecture] = Registry("architecture")


def register_architecture(name: str, layers: str | Callable[..., Any], *, design_shape: tuple[int, int, int],
                          side_divisor: int = 1, order: float | None = None, replace: bool = False) -> Architecture:
    """Declare architecture ``name`` (module docstring); ``replace`` swaps out an entry of that name."""
    if side_divisor < 1:
        raise ValueError(f"architecture {name}: side_divisor must be >= 1, got {side_divisor}")
    entry = Architecture(name, layers, tuple(design_shape), int(side_divisor))
    return ARCHITECTURES.register(name, entry, order=order, replace=replace)


def get_architecture(name: str) -> Architecture:
    """The entry of ``name``; :class:`~cvgr.registry.UnknownNameError` naming the registered ones."""
    return ARCHITECTURES.get(name)


_NN = "cvgr.nn.architectures"
register_architecture("small_cnn", f"{_NN}:small_cnn", design_shape=(1, 28, 28), side_divisor=4)
register_architecture("mlp", f"{_NN}:mlp", design_shape=(1, 28, 28))
register_architecture("cifar_cnn", f"{_NN}:cifar_cnn", design_shape=(3, 32, 32), side_divisor=8)
register_architecture("cifar_cnn_warp", f"{_NN}:cifar_cnn_warp", design_shape=(3, 32, 32), side_divisor=8)
