"""The attack registry: one frozen :class:`AttackKind` per attack, the only place an attack is described.

Every attack module of this package ends in one line, ``register(AttackKind(...))``; a plugin
(a module named in the config's ``plugins:``, :mod:`cvgr.plugins`) registers its own the same
way. Everything else that knows attacks reads it from here: the name grammar and the workflow's
wildcard pattern (:func:`pattern`), the allowed forms in errors, the schema and the command line
(:func:`forms`), labels and order (:class:`cvgr.vocab.AttackId`), the white-box sweeps' set
(``gradient``), the dispatch (:func:`cvgr.attacks.evaluate.attack_function`) and the audit's columns
(:mod:`cvgr.report.audit`).

Names: a *fixed* kind is one name (``fgsm``); a *family* (``parameter`` set) names
``<name><k>`` for ``k >= 1``, the integer going to the function as the keyword ``parameter``
(``pgd10`` calls ``pgd(..., steps=10)``). Order is registration order (the built-in attacks:
FGSM, PGD, APGD-CE, APGD-DLR, Square), then ``k``.

The one signature (as torchattacks')::

    function(model, x, y, eps, *, generator=None, **options) -> x_adv

with ``x`` in [0, 1] (B, C, H, W), ``y`` int64 labels, the result detached, in [0, 1] and within
``eps`` of ``x`` in the L-infinity norm. ``options`` are the config settings the kind declares
(``options``: name -> default), e.g. ``apgd_steps`` for APGD.

This module imports neither torch nor the rest of cvgr, so the vocabulary (and the table jobs
that read it) can list attacks without starting torch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

#: What NES reads from a query, i.e. the objective whose gradient it estimates:
#: ``"output"`` the true class's raw output ``f_y`` (the logit of a real net, the
#: magnitude of a complex one; estimate of ``-grad_x f_y``), ``"cross_entropy"``
#: its log-softmax ``log p_y`` (estimate of ``grad_x CE``).
NES_SCORES = ("output", "cross_entropy")
_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_KINDS: dict[str, "AttackKind"] = {}


@dataclass(frozen=True, eq=False)
class AttackKind:
    """One attack: its name (or a family's stem), label, kind, options and function."""

    name: str                      #: 'fgsm'; a family's stem ('pgd' names pgd1, pgd2, ...)
    label: str                     #: 'FGSM'; a family's ('PGD'), its members 'PGD-10'
    function: Callable[..., Any]   #: function(model, x, y, eps, *, generator=None, **options) -> x_adv
    gradient: bool = False         #: follows the input gradient: runs in the white-box sweeps
    white_box: bool = True         #: reads the model's gradients (False: queries its outputs only)
    options: Mapping[str, Any] = field(default_factory=dict)  #: config settings it takes -> default
    parameter: str | None = None   #: a family's keyword set by the name's integer ('steps')

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or (self.parameter and self.name[-1].isdigit()):
            raise ValueError(f"attack name {self.name!r} is not lower-case words joined by '-'"
                             f"{' ending in a letter (a family)' if self.parameter else ''}")
        if not callable(self.function):
            raise ValueError(f"attack {self.name!r}: function {self.function!r} is not callable")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def form(self) -> str:
        """How its names are written: 'fgsm', or 'pgd<k> (k >= 1 steps, e.g. pgd10)'."""
        if self.parameter is None:
            return self.name
        return f"{self.name}<k> (k >= 1 {self.parameter}, e.g. {self.name}10)"

    @property
    def pattern(self) -> str:
        """The regular expression of its names: 'fgsm', 'pgd[1-9][0-9]*'."""
        return self.name + ("[1-9][0-9]*" if self.parameter else "")  # names need no escaping (_NAME)


def register(kind: AttackKind) -> AttackKind:
    """Add ``kind`` to the registry and return it; ValueError when a registered attack has its name.

    A family's names must not collide with fixed names either (``pgd`` would take ``pgd10``).
    """
    for other in _KINDS.values():
        if other.name == kind.name or re.fullmatch(other.pattern, kind.name) \
                or re.fullmatch(kind.pattern, other.name):
            raise ValueError(f"attack {kind.name!r} collides with the registered attack {other.form!r}; "
                             f"choose another name")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove the attack ``name`` (for tests and notebooks); KeyError naming the registered ones."""
    if name not in _KINDS:
        raise KeyError(f"no attack {name!r} is registered; registered: {', '.join(_KINDS)}")
    del _KINDS[name]


def kinds() -> tuple[AttackKind, ...]:
    """Every registered attack, in registration order."""
    return tuple(_KINDS.values())


def get(name: str) -> AttackKind:
    """The kind registered as ``name`` (a fixed name or a family's stem); ValueError naming them all."""
    if name not in _KINDS:
        raise ValueError(f"unknown attack kind {name!r}; allowed: {forms()}")
    return _KINDS[name]


def parse(name: str) -> tuple[AttackKind, int | None]:
    """``'pgd10'`` -> (PGD's kind, 10), ``'fgsm'`` -> (FGSM's kind, None); ValueError naming the forms."""
    if name in _KINDS and _KINDS[name].parameter is None:
        return _KINDS[name], None
    for kind in _KINDS.values():
        if kind.parameter and re.fullmatch(kind.pattern, name):
            return kind, int(name[len(kind.name):])
    raise ValueError(f"unknown attack {name!r}; allowed: {forms()}")


def pattern(*, gradient_only: bool = False) -> str:
    """The regular expression of every attack name (only the gradient attacks' with ``gradient_only``)."""
    return "|".join(k.pattern for k in kinds() if k.gradient or not gradient_only)


def forms(*, gradient_only: bool = False) -> str:
    """The attack names as a user reads them: 'fgsm, pgd<k> (k >= 1 steps, e.g. pgd10), apgd-ce, ...'."""
    return ", ".join(k.form for k in kinds() if k.gradient or not gradient_only)


def option_defaults() -> dict[str, Any]:
    """Every option some attack declares -> its default (the first registered declaration's)."""
    out: dict[str, Any] = {}
    for kind in kinds():
        for key, value in kind.options.items():
            out.setdefault(key, value)
    return out


def option_users(option: str) -> tuple[str, ...]:
    """The kinds (names) that declare ``option``."""
    return tuple(k.name for k in kinds() if option in k.options)
