"""The config's JSON schema: pydantic's schema of :class:`cvgr.study.specs.Config`, as a commented YAML file.

``schemas/config.schema.yaml`` is this module's output, committed so that
editors and people can read every key with its rule and description; a test
holds the file equal to a fresh generation. cvgr itself checks configs with
the specs (:meth:`cvgr.study.plan.Study.load`), which also reject what a JSON
schema cannot say (cross-key rules).

The one change to pydantic's output: a key is ``required`` unless its field is
marked optional (a config names every key; :data:`cvgr.study.settings.OPTIONAL`),
and pydantic's generated titles are left out.

    python -m cvgr.study.schema > schemas/config.schema.yaml
"""
from __future__ import annotations

import sys
from typing import Any

import yaml

from .specs import Config, DatasetSection

_HEADER = """\
# JSON schema (draft 2020-12) of the cvgr workflow configuration.
# GENERATED from cvgr/study/specs.py by `python -m cvgr.study.schema`; edit the specs, not this file.
# Every key is required unless marked optional in its description; a dataset without a
# stage section ({sections}) does not run that stage.
# It describes the config a run reads: config.yaml with the files given with --configfile merged
# on top, each of which holds any part of it (docs/CONFIG.md).
"""


def _config_keys(node: Any) -> Any:
    """``node`` with every object's ``required`` = its keys not marked optional, and no titles."""
    if isinstance(node, list):
        return [_config_keys(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _config_keys(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    props = out.get("properties")
    if isinstance(props, dict) and out.get("type") == "object":
        out["required"] = [k for k, p in props.items() if not p.get("optional")]
        for p in props.values():
            if p.pop("optional", False):
                p["description"] = p.get("description", "") + " (optional)"
    return out


def config_schema() -> dict[str, Any]:
    """The schema of a whole config file."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "cvgr workflow configuration",
            **_config_keys(Config.model_json_schema())}


class _Dumper(yaml.SafeDumper):
    """Writes repeated nodes out in full (no ``&id001`` anchors)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _stage_sections() -> list[str]:
    """The optional sections of a dataset, each a stage: adversarial, transfer, whitebox, ..."""
    props = DatasetSection.model_json_schema()["properties"]
    return [k for k, p in props.items() if p.get("optional") and any("$ref" in n for n in p.get("anyOf", ()))]


def render() -> str:
    """The text of ``schemas/config.schema.yaml``."""
    return _HEADER.format(sections=", ".join(_stage_sections())) + yaml.dump(config_schema(), Dumper=_Dumper,
                                                                            sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
