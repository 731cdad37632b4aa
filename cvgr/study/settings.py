"""What pydantic does not do for the specs of :mod:`cvgr.study.specs`: the value types a config speaks.

A spec is a frozen pydantic model deriving from :class:`Spec`; pydantic checks
every field whoever builds it (the config loader, the command line, Python
code), fills the defaults and writes the JSON schema. This module adds:

- strict scalars (:data:`Int`, :data:`Float` finite, :data:`Bool`, :data:`Str`:
  ``"3"`` is no integer, ``true`` no number), a name from a vocabulary
  (:class:`OneOf`), a word parsed from its name (:class:`Word`: models,
  attacks) and lists without duplicates (:data:`UNIQUE`);
- :func:`rule_error`, a cross-field rule's failure naming its key;
- config mappings that name every key not marked :data:`OPTIONAL`.

A failure of any of them is a :class:`cvgr.errors.SpecError`, one line made by
:func:`cvgr.errors.spec_error` (the one place that reads pydantic's errors).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Collection, Mapping, Sequence

from pydantic import (AllowInfNan, BaseModel, ConfigDict, Strict, TypeAdapter, ValidationError, ValidationInfo,
                      model_validator)
from pydantic_core import PydanticCustomError, core_schema

from ..errors import WORD_FORMS, SpecError, concrete, spec_error

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), AllowInfNan(False)]  #: an integer is accepted and becomes a float
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]

#: ``json_schema_extra`` of a field that a config mapping may leave out (its default applies).
OPTIONAL = {"optional": True}


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


@dataclass(frozen=True, eq=False)
class Word:
    """A word given by its name (``cls.parse``, written back as ``.name``) matching ``pattern``.

    ``pattern`` and ``form`` may be functions, read when a value is checked or the schema is made, so
    names registered later (a plugin's attacks) count. ``outside`` is the problem of a valid word that
    ``pattern`` leaves out (an attack in the wrong section).
    """

    cls: type
    pattern_of: str | Callable[[], str]
    form_of: str | Callable[[], str]
    outside: str = "is not valid"

    @property
    def pattern(self) -> str:
        return self.pattern_of() if callable(self.pattern_of) else self.pattern_of

    @property
    def form(self) -> str:
        form = self.form_of() if callable(self.form_of) else self.form_of
        WORD_FORMS[self.pattern] = form  # the error translation names the form of a pattern
        return form

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        name = core_schema.plain_serializer_function_ser_schema(lambda w: w.name,
                                                                return_schema=core_schema.str_schema())
        return core_schema.no_info_plain_validator_function(self.parse, serialization=name)

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
        """Inverse of :meth:`to_dict` (every key not marked optional is needed: a file's spec is complete)."""
        return cls.from_mapping(data)

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


def field_schema(spec: type[Spec], name: str) -> dict[str, Any]:
    """The schema node of one field of ``spec`` (nullable reduced to its value, references resolved)."""
    schema = spec.model_json_schema()
    return concrete(schema["properties"][name], schema.get("$defs", {}))


def check_grid(betas: Sequence[float], key: str, what: str = "") -> None:
    """A frontier needs at least two betas: :class:`SpecError` naming ``key`` (``what``: whose grid) otherwise."""
    distinct = sorted(set(float(b) for b in betas))
    if len(distinct) < 2:
        shown = ", ".join(f"{b:g}" for b in distinct) or "none"
        raise SpecError(key, f"{what}{len(distinct)} beta ({shown}): a frontier needs at least two points",
                        "a list of at least two G.R. strengths (e.g. 0, 8, 32, 64)")
