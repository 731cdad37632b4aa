"""The config's JSON schema, generated from the specs (:mod:`cvgr.specs`).

``schemas/config.schema.yaml`` is this module's output, committed so that
editors and people can read every key with its rule and description; a test
holds the file equal to a fresh generation. cvgr itself checks configs with
the specs (:meth:`cvgr.config.Study.load`), which also reject what a JSON
schema cannot say (non-finite numbers, cross-key rules). Names of registered
datasets and architectures (:mod:`cvgr.registry`) are described by their
form, not listed: a plugin may register more, and cvgr checks them against
the registry, naming the registered ones.

    python -m cvgr.schema > schemas/config.schema.yaml
"""
from __future__ import annotations

import sys
import typing
from typing import Any

import yaml

from .registry import NAME_RE, Names
from .settings import Rule, Spec, fields_of, rule_of, unwrap_optional
from .specs import Config, DatasetSection, WhiteboxSection
from .vocab import (ATTACK_PATTERN, GRADIENT_ATTACK_FORMS, GRADIENT_ATTACK_PATTERN, MODEL_PATTERN, AttackId,
                    ModelId)

_HEADER = """\
# JSON schema (draft 2020-12) of the cvgr workflow configuration.
# GENERATED from cvgr/specs.py by `python -m cvgr.schema`; edit the specs, not this file.
# Every key is required unless marked optional in its description; a dataset without a
# stage section ({sections}) does not run that stage.
# It describes the config a run reads: config.yaml with the files given with --configfile merged
# on top, each of which holds any part of it (docs/CONFIG.md).
"""

_PATTERNS = {ModelId: (MODEL_PATTERN, ModelId.FORM), AttackId: (ATTACK_PATTERN, AttackId.FORM)}
#: Fields whose spec check allows fewer names than their type: the white-box sweeps run the gradient
#: attacks only (the others belong to the audit section).
_NARROWER = {(WhiteboxSection, "attacks"): (GRADIENT_ATTACK_PATTERN, GRADIENT_ATTACK_FORMS)}
_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
_REGISTERED_NAME = f"^{NAME_RE.pattern}$"


def _scalar(tp: Any, rule: Rule, names: tuple[str, str] | None = None) -> dict[str, Any]:
    if tp in _PATTERNS:
        pattern, form = names or _PATTERNS[tp]
        return {"type": "string", "pattern": f"^(?:{pattern})$", "description": form}
    node: dict[str, Any] = {"type": _TYPES[tp]}
    if isinstance(rule.choices, Names):
        node["pattern"] = _REGISTERED_NAME
    elif rule.choices is not None:
        node["enum"] = list(rule.choices)
    if rule.lo is not None:
        node["exclusiveMinimum" if rule.lo_open else "minimum"] = rule.lo
    if rule.hi is not None:
        node["maximum"] = rule.hi
    return node


def _node(tp: Any, rule: Rule, names: tuple[str, str] | None = None) -> dict[str, Any]:
    """``names``: the (pattern, form) of a model or attack name where the field allows fewer than its type."""
    inner, nullable = unwrap_optional(tp)
    if typing.get_origin(inner) is tuple:
        item_rule = Rule(lo=rule.lo, hi=rule.hi, lo_open=rule.lo_open, choices=rule.choices)
        node = {"type": "array", "items": _node(typing.get_args(inner)[0], item_rule, names)}
        if rule.min_items:
            node["minItems"] = rule.min_items
        if rule.unique:
            node["uniqueItems"] = True
    elif typing.get_origin(inner) is dict:
        ref = {"$ref": f"#/$defs/{typing.get_args(inner)[1].__name__}"}
        if isinstance(rule.choices, Names):
            node = {"type": "object", "minProperties": 1, "propertyNames": {"pattern": _REGISTERED_NAME},
                    "additionalProperties": ref}
        else:
            node = {"type": "object", "minProperties": 1, "additionalProperties": False,
                    "properties": {name: ref for name in rule.choices or ()}}
    elif isinstance(inner, type) and issubclass(inner, Spec):
        node = spec_schema(inner)
    else:
        node = _scalar(inner, rule, names)
    if nullable and node.get("type") != "object":
        node["type"] = [node["type"], "null"]
    return node


def spec_schema(spec: type[Spec]) -> dict[str, Any]:
    """The JSON schema of one spec: an object with its fields as properties."""
    props, required = {}, []
    for f, tp in fields_of(spec):
        rule = rule_of(f)
        prop = _node(tp, rule, _NARROWER.get((spec, f.name)))
        doc = rule.doc + (" (optional)" if rule.optional else "")
        props[f.name] = {"description": doc, **prop} if doc else prop
        if not rule.optional:
            required.append(f.name)
    return {"type": "object", "additionalProperties": False, "required": required, "properties": props}


def config_schema() -> dict[str, Any]:
    """The schema of a whole config file."""
    sections = {typing.get_args(tp)[1] for _, tp in fields_of(Config) if typing.get_origin(tp) is dict}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "cvgr workflow configuration",
            **spec_schema(Config), "$defs": {s.__name__: spec_schema(s) for s in sorted(sections, key=str)}}


class _Dumper(yaml.SafeDumper):
    """Writes repeated nodes out in full (no ``&id001`` anchors)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _stage_sections() -> list[str]:
    """The optional sections of a dataset, each a stage: adversarial, transfer, whitebox, ..."""
    return [f.name for f, tp in fields_of(DatasetSection)
            if rule_of(f).optional and issubclass(unwrap_optional(tp)[0], Spec)]


def render() -> str:
    """The text of ``schemas/config.schema.yaml``."""
    return _HEADER.format(sections=", ".join(_stage_sections())) + yaml.dump(config_schema(), Dumper=_Dumper, sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
