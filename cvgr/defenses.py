"""The registered training defenses: each one declared once, by :func:`register_defense`.

A model's name carries its defense as a tag (:class:`cvgr.vocab.ModelId`):
the defense's name alone when it has no strength (``std``), else the name
followed by the strength in its shortest decimal form (``gr64``,
``adv0.2``). An entry says

* ``label``: the defense in tables ('G.R.');
* ``strength``: None for a defense without one, else the keyword of
  :meth:`ModelId.of <cvgr.vocab.ModelId.of>` that sets it (``beta``,
  ``adv_eps``) -- the G.R. penalty reads ``ModelId.beta``;
* ``symbol``: the strength's placeholder in the model-name form (``gr<beta>``);
* ``meaning``: what the strength is, in words (for messages and docs);
* ``batch``: None to train on the clean batch, else the function (or a
  ``"module:function"`` reference) ``batch(model, xb, yb, spec, generator)
  -> xb`` that replaces each training batch (adversarial training: PGD
  examples), run before the loss of :func:`cvgr.train.loop.train_step`.

The order of registration is the order of the tables (std, gr, adv). This
module imports only the standard library.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .registry import Registry


@dataclass(frozen=True)
class Defense:
    """One registered defense (module docstring)."""

    name: str
    label: str
    strength: str | None = None       #: ModelId.of keyword of the strength, None if it has none
    symbol: str = ""                  #: placeholder of the strength in the model-name form
    meaning: str = ""                 #: what the strength means
    batch: str | Callable[..., Any] | None = None  #: replaces each training batch; None: the clean batch


#: Every registered defense, in the tables' order.
DEFENSES: Registry[Defense] = Registry("defense")


def register_defense(name: str, *, label: str, strength: str | None = None, symbol: str = "", meaning: str = "",
                     batch: str | Callable[..., Any] | None = None, order: float | None = None,
                     replace: bool = False) -> Defense:
    """Declare defense ``name`` (module docstring); ``symbol`` defaults to ``strength``."""
    if strength is not None and not strength.isidentifier():
        raise ValueError(f"defense {name}: strength {strength!r} must be a keyword name such as 'beta'")
    entry = Defense(name, label, strength, (symbol or strength or "") if strength else "", meaning, batch)
    return DEFENSES.register(name, entry, order=order, replace=replace)


def get_defense(name: str) -> Defense:
    """The entry of ``name``; :class:`~cvgr.registry.UnknownNameError` naming the registered ones."""
    return DEFENSES.get(name)


register_defense("std", label="Std.")
register_defense("gr", label="G.R.", strength="beta",
                 meaning="beta, the weight of the input-gradient penalty (docs/METHOD.md)")
register_defense("adv", label="Adv.", strength="adv_eps", symbol="eps", batch="cvgr.train.loop:adversarial_batch",
                 meaning="epsilon, the L-infinity radius of the PGD examples it trains on")
