"""Typed, checked settings: the machinery behind every spec of :mod:`cvgr.specs`.

A spec is a frozen, keyword-only dataclass deriving from :class:`Spec`. Each
field is declared with :func:`setting`, which holds its default, its
documentation and its rule (bounds, allowed values, list length). Building a
spec checks every field, whoever builds it: the config loader, the command
line or Python code. A value that breaks a rule raises :class:`SpecError`,
which names the key, the problem and what is allowed::

    eps: 7 is out of range; allowed: a number in [0, 1]

The config loader prefixes the key path and the file
(``config.yaml: datasets.fmnist.nes.eps: ...``), the command line the flag
(``--eps: ...``).

Supported field types: ``bool``, ``int``, ``float`` (finite; an integer is
accepted), ``str``, a "word" class with ``parse`` and ``name`` (e.g.
:class:`cvgr.vocab.ModelId`), ``X | None``, ``tuple[X, ...]`` (a YAML list), a
nested spec (a YAML mapping) and ``dict[str, Spec]`` (a mapping of named
sections). The module needs only the standard library, so the command line and
the GPU check run where no schema library is installed.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Sequence

from .errors import CvgrError

REQUIRED: Any = dataclasses.MISSING


class SpecError(CvgrError):
    """A setting that breaks its rule: ``key``, ``problem`` and what is ``allowed``."""

    def __init__(self, key: str, problem: str, allowed: str):
        super().__init__(f"{key}: {problem}; allowed: {allowed}")
        self.key, self.problem, self.allowed = key, problem, allowed

    def under(self, prefix: str) -> "SpecError":
        """The same error with its key below ``prefix`` (``datasets.fmnist`` + ``eps``)."""
        if not prefix:
            return self
        joiner = "" if self.key.startswith("[") else "."
        return SpecError(f"{prefix}{joiner}{self.key}", self.problem, self.allowed)

    def renamed(self, name: str) -> "SpecError":
        """The same error with its key replaced (a command-line flag for a field)."""
        return SpecError(name, self.problem, self.allowed)


@dataclass(frozen=True)
class Rule:
    """What a setting allows. Bounds and choices apply to each item of a list."""

    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: Sequence[Any] | None = None  #: read when a value is checked
    min_items: int = 0
    unique: bool = False
    optional: bool = False  #: may be left out of a config mapping (then the default applies)


def setting(default: Any = REQUIRED, *, doc: str, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, choices: Sequence[Any] | None = None, min_items: int = 0,
            unique: bool = False, optional: bool = False) -> Any:
    """A spec field: its default, documentation and :class:`Rule`."""
    if choices is not None and not isinstance(choices, Sequence):
        choices = tuple(choices)  # a Sequence stays as given: a registry's live names (cvgr.registry.Names)
    rule = Rule(doc, lo, hi, lo_open, choices, min_items, unique, optional)
    return dataclasses.field(default=default, metadata={"rule": rule})


def rule_of(field: dataclasses.Field) -> Rule:
    return field.metadata.get("rule", Rule())


# ----------------------------------------------------------------------------- describing what is allowed

_WORDS = {bool: ("true or false", "booleans"), int: ("an integer", "integers"), float: ("a number", "numbers"),
          str: ("a string", "strings")}


def _bounds(rule: Rule) -> str:
    lo, hi = rule.lo, rule.hi
    if lo is not None and hi is not None:
        return f" in {'(' if rule.lo_open else '['}{lo:g}, {hi:g}]"
    if lo is not None:
        return f" {'>' if rule.lo_open else '>='} {lo:g}"
    return f" <= {hi:g}" if hi is not None else ""


def describe(tp: Any, rule: Rule, plural: bool = False) -> str:
    """What a field of type ``tp`` accepts, in words: 'a number in [0, 1]', 'paper, exact', ..."""
    inner, nullable = unwrap_optional(tp)
    text = _describe(inner, rule, plural)
    return f"{text} or null" if nullable else text


def _describe(tp: Any, rule: Rule, plural: bool) -> str:
    if rule.choices is not None and not _is_tuple(tp):
        return ", ".join(str(c) for c in rule.choices)
    if _is_tuple(tp):
        return "a list of " + _describe(typing.get_args(tp)[0], rule, plural=True)
    if _is_spec(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    if _is_dict(tp):
        return "a mapping of " + (", ".join(rule.choices) if rule.choices else "names") + " to sections"
    if tp in _WORDS:
        return _WORDS[tp][plural] + (_bounds(rule) if tp in (int, float) else "")
    return getattr(tp, "FORM", tp.__name__)


# ----------------------------------------------------------------------------- checking one value

def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(tp))
    return tp, False


def _is_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple


def _is_dict(tp: Any) -> bool:
    return typing.get_origin(tp) is dict


def _is_spec(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Spec)


def _type_name(value: Any) -> str:
    names = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string",
             list: "list", tuple: "list", dict: "mapping"}
    return names.get(type(value), type(value).__name__)


def check_value(value: Any, tp: Any, rule: Rule, key: str) -> Any:
    """``value`` converted to ``tp`` (lists to tuples, mappings to specs); SpecError if it breaks ``rule``."""
    inner, nullable = unwrap_optional(tp)
    if value is None:
        if nullable:
            return None
        raise SpecError(key, "missing value (null)", describe(tp, rule))
    if _is_tuple(inner):
        return _check_items(value, inner, rule, key, describe(tp, rule))
    if _is_dict(inner):
        return _check_sections(value, typing.get_args(inner)[1], rule, key)
    if _is_spec(inner):
        return value if isinstance(value, inner) else inner.from_mapping(value, key)
    return _check_scalar(value, inner, rule, key, describe(tp, rule))


def _wrong_type(key: str, value: Any, allowed: str) -> SpecError:
    return SpecError(key, f"wrong type ({_type_name(value)} {value!r})", allowed)


def _check_scalar(value: Any, tp: Any, rule: Rule, key: str, allowed: str) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise _wrong_type(key, value, allowed)
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float) if tp is float else int):
            raise _wrong_type(key, value, allowed)
        value = tp(value)
        if not math.isfinite(value):
            raise SpecError(key, f"{value} is not a finite number", allowed)
        too_low = rule.lo is not None and (value <= rule.lo if rule.lo_open else value < rule.lo)
        if too_low or (rule.hi is not None and value > rule.hi):
            raise SpecError(key, f"{value:g} is out of range", allowed)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _wrong_type(key, value, allowed)
        if rule.choices is not None and value not in rule.choices:
            raise SpecError(key, f"{value!r} is not allowed", allowed)
        return value
    if isinstance(value, tp):
        return value
    if not isinstance(value, str):
        raise _wrong_type(key, value, allowed)
    try:
        return tp.parse(value)
    except ValueError:
        raise SpecError(key, f"{value!r} is not valid", allowed) from None


def _check_items(value: Any, tp: Any, rule: Rule, key: str, allowed: str) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise _wrong_type(key, value, allowed)
    if len(value) < rule.min_items:
        raise SpecError(key, "empty list" if not value else f"{len(value)} items, fewer than {rule.min_items}",
                        allowed)
    item_type, item_rule = typing.get_args(tp)[0], dataclasses.replace(rule, min_items=0, unique=False)
    items = tuple(check_value(v, item_type, item_rule, f"{key}[{i}]") for i, v in enumerate(value))
    if rule.unique and len(set(items)) < len(items):
        raise SpecError(key, "duplicate entries", allowed)
    return items


def _check_sections(value: Any, spec: type["Spec"], rule: Rule, key: str) -> dict[str, "Spec"]:
    allowed = ", ".join(rule.choices) if rule.choices else "names"
    if not isinstance(value, Mapping):
        raise _wrong_type(key, value, f"a mapping of {allowed} to sections")
    if len(value) < max(rule.min_items, 1):
        raise SpecError(key, "empty mapping", allowed)
    out = {}
    for name, section in value.items():
        if rule.choices is not None and name not in rule.choices:
            raise SpecError(f"{key}.{name}", f"unknown key {name!r}", allowed)
        out[name] = section if isinstance(section, spec) else spec.from_mapping(section, f"{key}.{name}")
    return out


# ----------------------------------------------------------------------------- the base class

@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class Spec:
    """Base of the frozen settings dataclasses: fields are checked when the spec is built."""

    #: Cross-field rules: functions of the built spec yielding (key, problem, allowed).
    CHECKS: ClassVar[tuple[Callable[[Any], Any], ...]] = ()

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = check_value(getattr(self, f.name), hints[f.name], rule_of(f), f.name)
            object.__setattr__(self, f.name, value)
        for check in self.CHECKS:
            for key, problem, allowed in check(self) or ():
                raise SpecError(key, problem, allowed)

    @classmethod
    def from_mapping(cls, data: Any, path: str = "") -> Any:
        """Build from a mapping of field names (a YAML section); errors carry ``path``."""
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(data, Mapping):
            raise _wrong_type(path or "(top level)", data, "a mapping with keys " + ", ".join(names))
        extra = [k for k in data if k not in names]
        if extra:
            raise SpecError(_join(path, str(extra[0])), f"unknown key {extra[0]!r}", ", ".join(names))
        hints = _hints(cls)
        for f in dataclasses.fields(cls):
            if f.name not in data and not rule_of(f).optional:
                raise SpecError(_join(path, f.name), "missing key", describe(hints[f.name], rule_of(f)))
        try:
            return cls(**data)  # __post_init__ checks and converts every value
        except SpecError as err:
            raise err.under(path) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (names for words, lists for tuples, dicts for specs): JSON- and repr-stable."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`."""
        return cls.from_mapping(data)

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def plain(value: Any) -> Any:
    """``value`` as plain data: specs as dicts, tuples as lists, words (models, attacks) as their names."""
    if isinstance(value, Spec):
        return value.to_dict()
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "name") and hasattr(type(value), "parse"):
        return value.name
    return value


def fields_of(spec: type[Spec]) -> list[tuple[dataclasses.Field, Any]]:
    """(field, resolved type) of a spec class, in declaration order."""
    hints = _hints(spec)
    return [(f, hints[f.name]) for f in dataclasses.fields(spec)]


def shared_fields(spec: Spec, target: type[Spec]) -> dict[str, Any]:
    """The values of ``spec``'s fields that ``target`` also has (to build a job spec from a section)."""
    names = {f.name for f in dataclasses.fields(target)}
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name in names}
