"""User-facing errors, and the one translation of a settings library's errors into them.

A :class:`CvgrError` carries one line that names the problem and the fix.
The CLI and the Snakemake entry points print that line (no traceback) and
exit with status 1; every other exception is a bug and keeps its traceback.

A spec (:mod:`cvgr.study.specs`) that pydantic refuses becomes a :class:`SpecError`
here, in :func:`spec_error`, and only here: the key path, the problem (the
bad value) and what is allowed, read from the spec's JSON schema so that the
message, the schema file and the command line's choices say the same::

    datasets.fmnist.nes.eps: 7 is out of range; allowed: a number in [0, 1]

The config loader prefixes the file that set the key, the command line
renames the key to its flag.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pydantic import ValidationError

#: Pattern -> the words' form in prose, for messages (filled by :class:`cvgr.study.settings.Word`).
WORD_FORMS: dict[str, str] = {}

class CvgrError(Exception):
    """An error caused by input the user can fix (config, files, data)."""


class CorruptFileError(CvgrError):
    """An input file is truncated, unreadable or not what its name promises."""

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"{path}: {reason}. The file is corrupt or incomplete: delete it and rerun "
            "(snakemake rebuilds it from its inputs)."
        )
        self.path = path


class StaleInputError(CvgrError):
    """An input no longer matches what a result was computed from."""


class DatasetNotFoundError(CvgrError):
    """Raw dataset files are absent and cannot be downloaded."""


class NumericalError(CvgrError):
    """NaN or inf appeared in a training loss."""


class ShapeMismatchError(CvgrError):
    """A model and the data (or a checkpoint) do not fit together."""


class SpecError(CvgrError):
    """A setting that breaks its rule: ``key``, ``problem`` and what is ``allowed``."""

    def __init__(self, key: str, problem: str, allowed: str):
        super().__init__(f"{key}: {problem}; allowed: {allowed}")
        self.key, self.problem, self.allowed = key, problem, allowed

    def renamed(self, name: str) -> "SpecError":
        """The same error with its key replaced (a command-line flag for a field)."""
        return SpecError(name, self.problem, self.allowed)


# ----------------------------------------------------------------------------- pydantic's errors in one line

def spec_error(err: ValidationError, schema: Mapping[str, Any], prefix: str = "") -> SpecError:
    """The first of pydantic's errors as one :class:`SpecError`: key path, problem, what ``schema`` allows."""
    e = err.errors(include_url=False)[0]
    ctx, value = e.get("ctx") or {}, e.get("input")
    loc = [part for part in e["loc"] if part != "[key]"] + _parts(ctx.get("key", ""))
    key = _join(prefix, "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip("."))
    where = loc[:-1] if e["type"] == "extra_forbidden" else loc
    node, defs = node_at(schema, where), schema.get("$defs", {})
    keys = ", ".join(concrete(node, defs).get("properties", ())) if e["type"] == "extra_forbidden" else ""
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
    if kind.endswith("_type") and value is None:
        return "missing value (null)"
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
        node = concrete(node, defs)
        if isinstance(part, int) and "items" in node:
            node = node["items"]
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
    return node


def concrete(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` resolved and a nullable choice reduced to its non-null branch."""
    if "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    kinds = [n for n in node.get("anyOf", ()) if n.get("type") != "null"]
    return concrete(kinds[0], defs) if len(kinds) == 1 else dict(node)


_WORDS = {"boolean": ("true or false", "booleans"), "integer": ("an integer", "integers"),
          "number": ("a number", "numbers"), "string": ("a string", "strings")}


def describe(node: Mapping[str, Any], defs: Mapping[str, Any], plural: bool = False) -> str:
    """What a schema node accepts, in words: 'a number in [0, 1]', 'paper, exact', 'an integer >= 1 or null'."""
    nullable = any(n.get("type") == "null" for n in node.get("anyOf", ()))
    node = concrete(node, defs)
    kind, text = node.get("type"), "any value"
    if "enum" in node:
        text = ", ".join(map(str, node["enum"]))
    elif "pattern" in node:
        text = WORD_FORMS.get(node["pattern"][4:-2], f"strings matching {node['pattern']}")
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
