"""What pydantic does not do for the specs of :mod:`cvgr.specs`: the config's value types and one error line.

A spec is a frozen pydantic model deriving from :class:`Spec`; pydantic checks
every field whoever builds it (the config loader, the command line, Python
code), fills the defaults and writes the JSON schema. This module adds:

- the value types a config speaks: strict scalars (:data:`Int`, :data:`Float`
  finite, :data:`Bool`, :data:`Str`: ``"3"`` is no integer, ``true`` no number),
  a name from a vocabulary (:class:`OneOf`), a word parsed from its name
  (:class:`Word`: models, attacks) and lists without duplicates (:data:`UNIQUE`);
- :func:`rule_error`, a cross-field rule's failure naming its key;
- :func:`spec_error`, the one translation of pydantic's errors into a
  :class:`SpecError` that names the key path, the problem and what is allowed::

      datasets.fmnist.nes.eps: 7 is out of range; allowed: a number in [0, 1]

  What is allowed is read from the spec's JSON schema, so the message, the
  schema file and the command line's choices say the same. The config loader
  prefixes the file, the command line renames the key to its flag.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Collection, Mapping

from pydantic import (AllowInfNan, BaseModel, ConfigDict, Strict, TypeAdapter, ValidationError, ValidationInfo,
                      model_validator)
from pydantic_core import PydanticCustomError, core_schema

from .errors import CvgrError

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), AllowInfNan(False)]  #: an integer is accepted and becomes a float
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]

#: ``json_schema_extra`` of a field that a config mapping may leave out (its default applies).
OPTIONAL = {"optional": True}


class SpecError(CvgrError):
    """A setting that breaks its rule: ``key``, ``problem`` and what is ``allowed``."""

    def __init__(self, key: str, problem: str, allowed: str):
        super().__init__(f"{key}: {problem}; allowed: {allowed}")
        self.key, self.problem, self.allowed = key, problem, allowed

    def renamed(self, name: str) -> "SpecError":
        """The same error with its key replaced (a command-line flag for a field)."""
        return SpecError(name, self.problem, self.allowed)


def rule_error(problem: str, allowed: str = "", key: str = "") -> PydanticCustomError:
    """A broken rule as a pydantic error; ``key`` (below the validated model) joins its key path."""
    return PydanticCustomError("cvgr", "{problem}", {"problem": problem, "allowed": allowed, "key": key})


# ----------------------------------------------------------------------------- value types

@dataclass(frozen=True, eq=False)
class OneOf:
    """A string from ``names``, read when a value is checked (so names registered later count)."""

    names: Collection[str]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        return {**handler(schema), "enum": list(self.names)}

    def check(self, value: str) -> str:
        if value not in self.names:
            raise rule_error(f"{value!r} is not allowed", ", ".join(self.names))
        return value


#: Pattern -> the words' form in prose, for messages (filled by :class:`Word`).
_FORMS: dict[str, str] = {}


@dataclass(frozen=True, eq=False)
class Word:
    """A word given by its name (``cls.parse``, written back as ``.name``) matching ``pattern``.

    ``outside`` is the problem of a valid word that ``pattern`` leaves out (an attack in the wrong section).
    """

    cls: type
    pattern: str
    form: str
    outside: str = "is not valid"

    def __post_init__(self) -> None:
        _FORMS[self.pattern] = self.form

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        to_name = core_schema.plain_serializer_function_ser_schema(lambda w: w.name, return_schema=core_schema.str_schema())
        return core_schema.no_info_plain_validator_function(self.parse, serialization=to_name)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        return {"type": "string", "pattern": f"^(?:{self.pattern})$", "description": self.form}

    def parse(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = self.cls.parse(value)
            except ValueError:
                raise rule_error(f"{value!r} is not valid", self.form) from None
        if not isinstance(value, self.cls):
            raise PydanticCustomError("string_type", "Input should be a valid string")
        if not re.fullmatch(self.pattern, value.name):
            raise rule_error(f"{value.name} {self.outside}", self.form)
        return value


class _Unique:
    """A list without duplicate entries (``uniqueItems`` in the schema)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        return {**handler(schema), "uniqueItems": True}

    @staticmethod
    def check(items: tuple) -> tuple:
        if len(set(items)) < len(items):
            raise rule_error("duplicate entries")
        return items


UNIQUE = _Unique()


# ----------------------------------------------------------------------------- the base class

class Spec(BaseModel):
    """Base of the frozen settings models: fields are checked when a spec is built; errors are SpecErrors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise spec_error(err, type(self).model_json_schema()) from None

    #: Pydantic's mark of an ``__init__`` that only validates (as its RootModel's): nested specs are then
    #: validated without it, so their errors keep their place in the key path.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @model_validator(mode="before")
    @classmethod
    def _every_key_given(cls, data: Any, info: ValidationInfo) -> Any:
        """A config mapping (``from_mapping``) names every key that is not marked :data:`OPTIONAL`."""
        if info.context and info.context.get("complete") and isinstance(data, Mapping):
            for name, f in cls.model_fields.items():
                if name not in data and f.json_schema_extra != OPTIONAL:
                    raise PydanticCustomError("missing", "missing key", {"key": name})
        return data

    @classmethod
    def from_mapping(cls, data: Any, *, complete: bool = True) -> Any:
        """Build from a mapping (a YAML section) that gives every required key; SpecError otherwise."""
        try:
            return cls.model_validate(data, context={"complete": complete})
        except ValidationError as err:
            raise spec_error(err, cls.model_json_schema()) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (names for words, lists for tuples, dicts for specs): JSON- and repr-stable."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Inverse of :meth:`to_dict` (missing keys take their defaults)."""
        return cls.from_mapping(data, complete=False)

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (checked again)."""
        return type(self)(**{**dict(self), **changes})


def check(tp: Any, value: Any, key: str) -> Any:
    """``value`` as type ``tp`` (a spec's field type); SpecError under ``key`` if it breaks the type's rule."""
    adapter = TypeAdapter(tp)
    try:
        return adapter.validate_python(value)
    except ValidationError as err:
        raise spec_error(err, adapter.json_schema(), key) from None


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


def shared_fields(spec: Spec, target: type[Spec]) -> dict[str, Any]:
    """The values of ``spec``'s fields that ``target`` also has (to build a job spec from a section)."""
    return {name: getattr(spec, name) for name in type(spec).model_fields if name in target.model_fields}


# ----------------------------------------------------------------------------- pydantic's errors in one line

def spec_error(err: ValidationError, schema: Mapping[str, Any], prefix: str = "") -> SpecError:
    """The first of pydantic's errors as one :class:`SpecError`: key path, problem, what ``schema`` allows."""
    e = err.errors(include_url=False)[0]
    ctx, value = e.get("ctx") or {}, e.get("input")
    loc = [part for part in e["loc"] if part != "[key]"] + _parts(ctx.get("key", ""))
    key = _join(prefix, "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip("."))
    where = loc[:-1] if e["type"] == "extra_forbidden" else loc
    node, defs = node_at(schema, where), schema.get("$defs", {})
    keys = ", ".join(_concrete(node, defs).get("properties", ())) if e["type"] == "extra_forbidden" else ""
    allowed = ctx.get("allowed") or keys or describe(node, defs)
    if "[key]" in e["loc"]:
        return SpecError(key, f"unknown key {value!r}", allowed)
    return SpecError(key or "(top level)", ctx.get("problem") or _problem(e, value, loc), allowed)


def _parts(key: str) -> list[str | int]:
    """``models[2]`` -> ``['models', 2]``."""
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", key)]


def _join(prefix: str, key: str) -> str:
    return f"{prefix}{'' if key.startswith('[') else '.'}{key}" if prefix and key else prefix or key


_TYPE_NAMES = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string",
               list: "list", tuple: "list", dict: "mapping"}


def _problem(e: Mapping[str, Any], value: Any, loc: list) -> str:
    kind = e["type"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if kind == "missing":
        return "missing key"
    if kind.endswith("_type"):
        return f"wrong type ({_TYPE_NAMES.get(type(value), type(value).__name__)} {value!r})"
    if kind == "finite_number":
        return f"{value} is not a finite number"
    if kind.startswith(("greater_than", "less_than")):
        return f"{value:g} is out of range"
    if kind == "too_short":
        return "empty mapping" if isinstance(value, Mapping) else "empty list"
    return e["msg"]


def node_at(schema: Mapping[str, Any], loc: list) -> dict[str, Any]:
    """The JSON-schema node of key path ``loc`` (``{}`` where the schema has none)."""
    defs, node = schema.get("$defs", {}), dict(schema)
    for part in loc:
        node = _concrete(node, defs)
        if isinstance(part, int) and "items" in node:
            node = node["items"]
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
    return node


def _concrete(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` resolved and a nullable choice reduced to its non-null branch."""
    if "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    kinds = [n for n in node.get("anyOf", ()) if n.get("type") != "null"]
    return _concrete(kinds[0], defs) if len(kinds) == 1 else dict(node)


_WORDS = {"boolean": ("true or false", "booleans"), "integer": ("an integer", "integers"),
          "number": ("a number", "numbers"), "string": ("a string", "strings")}


def describe(node: Mapping[str, Any], defs: Mapping[str, Any], plural: bool = False) -> str:
    """What a schema node accepts, in words: 'a number in [0, 1]', 'paper, exact', 'an integer >= 1 or null'."""
    nullable = any(n.get("type") == "null" for n in node.get("anyOf", ()))
    node = _concrete(node, defs)
    kind, text = node.get("type"), "any value"
    if "enum" in node:
        text = ", ".join(map(str, node["enum"]))
    elif "pattern" in node:
        text = _FORMS.get(node["pattern"][4:-2], f"strings matching {node['pattern']}")
    elif kind == "array":
        text = "a list of " + describe(node.get("items", {}), defs, plural=True)
    elif kind == "object" and "properties" in node:
        text = "a mapping with keys " + ", ".join(node["properties"])
    elif kind == "object":
        names = node.get("propertyNames", {}).get("enum")
        text = f"a mapping of {', '.join(names) if names else 'names'} to sections"
    elif kind in _WORDS:
        text = _WORDS[kind][plural] + _bounds(node)
    return f"{text} or null" if nullable else text


def _bounds(node: Mapping[str, Any]) -> str:
    lo = node.get("exclusiveMinimum", node.get("minimum"))
    hi, open_ = node.get("maximum"), "exclusiveMinimum" in node
    if lo is not None and hi is not None:
        return f" in {'(' if open_ else '['}{lo:g}, {hi:g}]"
    if lo is not None:
        return f" {'>' if open_ else '>='} {lo:g}"
    return f" <= {hi:g}" if hi is not None else ""


def field_schema(spec: type[Spec], name: str) -> dict[str, Any]:
    """The schema node of one field of ``spec`` (nullable reduced to its value, references resolved)."""
    schema = spec.model_json_schema()
    return _concrete(schema["properties"][name], schema.get("$defs", {}))
