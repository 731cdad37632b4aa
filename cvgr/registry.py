"""Named registries: each dataset, architecture and defense of cvgr is declared once, in one.

A :class:`Registry` maps names to entries, ordered by each entry's ``order``
(then its name). Its :attr:`~Registry.names` is a live, read-only sequence of
the names: the config's choices, the command line's choices, the schema's
enums and the workflow's wildcard patterns read it when they check a value,
so an entry registered later (by a plugin module) is a valid name everywhere.
Looking up an unregistered name raises :class:`UnknownNameError`, which names
the registered ones.

The module imports only the standard library, so the vocabulary that reads
it stays light.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

from .errors import CvgrError

T = TypeVar("T")
#: Registered names appear in file paths and wildcard patterns: lower-case letters, digits, '_'.
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


class UnknownNameError(CvgrError, ValueError):
    """A name that no registry entry has; the message lists the registered names."""


class Names(Sequence[str]):
    """The names of a registry in order, read afresh on every use (a live view).

    With ``where``, only the names whose entry satisfies it.
    """

    def __init__(self, registry: "Registry[Any]", where: Callable[[Any], bool] | None = None):
        self._registry = registry
        self._where = where

    def _names(self) -> tuple[str, ...]:
        names = self._registry.ordered_names()
        return names if self._where is None else tuple(n for n in names if self._where(self._registry.get(n)))

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...

    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._registry and (self._where is None or self._where(self._registry.get(name)))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence (tuple, list, view) holding the same names in the same order."""
        if isinstance(other, (Sequence, Names)) and not isinstance(other, str):
            return self._names() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # the names change as entries are registered

    def __repr__(self) -> str:
        return repr(self._names())


class Attribute(Mapping[str, Any]):
    """A live read-only mapping: registered name -> ``getattr(entry, attr)``."""

    def __init__(self, registry: "Registry[Any]", attr: str):
        self._registry, self._attr = registry, attr

    def __getitem__(self, name: str) -> Any:
        if name not in self._registry:
            raise KeyError(name)
        return getattr(self._registry.get(name), self._attr)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.ordered_names())

    def __len__(self) -> int:
        return len(self._registry.ordered_names())

    def __repr__(self) -> str:
        return repr(dict(self))


def resolve(ref: Any, what: str) -> Any:
    """``'package.module:attribute'`` -> that attribute (imported now); any other object as it is."""
    if not isinstance(ref, str):
        return ref
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise CvgrError(f"{what}: {ref!r} is not a reference: write 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CvgrError(f"{what}: cannot import {ref!r} ({exc}): fix the reference or put its module on "
                        "PYTHONPATH") from exc
    return obj


class Registry(Generic[T]):
    """Entries by name; ``what`` ('dataset', 'architecture', ...) names the kind in messages."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, T] = {}
        self._order: dict[str, float] = {}
        self.names = Names(self)

    def register(self, name: str, entry: T, order: float | None = None, replace: bool = False) -> T:
        """Add ``entry`` under ``name``; ``order`` places it (default: after every entry so far).

        Registering the same entry again is a no-op (a plugin imported twice);
        another entry under a taken name raises unless ``replace`` (then it
        takes the old entry's place unless ``order`` is given).
        """
        if not NAME_RE.fullmatch(name):
            raise CvgrError(f"{self.what} name {name!r} is not allowed: use lower-case letters, digits and '_', "
                            "starting with a letter")
        if name in self._entries and not replace:
            if self._entries[name] == entry:
                return entry
            raise CvgrError(f"{self.what} {name!r} is registered twice: give the second one another name")
        if order is None:
            order = self._order[name] if name in self._entries else max(self._order.values(), default=-1.0) + 1
        self._entries[name] = entry
        self._order[name] = float(order)
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (UnknownNameError if it is not registered)."""
        self.get(name)
        del self._entries[name], self._order[name]

    def get(self, name: str) -> T:
        """The entry of ``name``; :class:`UnknownNameError` naming the registered ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(f"unknown {self.what} {name!r}: use one of {', '.join(self.names)}") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.ordered_names())

    def __len__(self) -> int:
        return len(self._entries)

    def ordered_names(self) -> tuple[str, ...]:
        """The names by (order, name)."""
        return tuple(sorted(self._entries, key=lambda n: (self._order[n], n)))

    def position(self, name: str) -> float:
        """The sort position of a registered name (its ``order``)."""
        self.get(name)
        return self._order[name]

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs in order."""
        return [(n, self._entries[n]) for n in self.ordered_names()]

    def attribute(self, attr: str) -> Attribute:
        """A live mapping name -> ``entry.attr`` (e.g. the datasets' labels)."""
        return Attribute(self, attr)
