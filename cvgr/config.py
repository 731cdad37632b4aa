"""The workflow configuration: loading, validation and the experiment grid.

The config (``config.yaml``, ``configs/*.yaml``) is checked against the JSON
schema ``schemas/config.schema.yaml`` of the source tree (the same file the
Snakefile hands to ``snakemake.utils.validate``; the schema is not copied into
the package because the workflow that reads a config lives in that same tree).
A violation raises :class:`~cvgr.errors.CvgrError` with one line::

    config.yaml: datasets.fmnist.betas[1]: -64 is out of range; allowed: a number >= 0

The grid of one dataset (``s0`` = ``seeds.source``, ``s1`` = ``seeds.target``,
``b*`` = ``transfer.beta``):

- grid models: ``{field}-{std|gr<beta>}-s0`` for each field and each beta of ``betas``;
- adversarial models: ``{field}-adv<eps>-s0`` for each field of ``adversarial.fields``;
- transfer models: ``{field}-{std|gr<b*>}-{s0,s1}``; sources are the four s0 models,
  the targets of a source are itself ("Self") and the four s1 models (20 cells);
- NES models: the names listed in ``nes.models``;
- models to train: the union of the above;
- white-box jobs: (attack, model) for each attack and each grid or adversarial model.

Every function here is pure: same config in, same lists (in a fixed order) out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml

from .errors import CvgrError
from .naming import FIELDS, ModelId, model_id, parse

#: The schema, located in the source tree next to the package.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"

Config = dict[str, Any]


# ---------------------------------------------------------------- loading and validation
def load_schema(path: str | Path | None = None) -> dict:
    """The JSON schema as a dict (default :data:`SCHEMA_PATH`)."""
    path = Path(path) if path is not None else SCHEMA_PATH
    if not path.is_file():
        raise CvgrError(f"{path}: config schema not found; run cvgr from its source tree (pip install -e .)")
    with open(path) as fh:
        return yaml.safe_load(fh)


def load_config(path: str | Path) -> Config:
    """Read a YAML config and validate it (:func:`validate_config`, errors name ``path``)."""
    path = Path(path)
    if not path.is_file():
        raise CvgrError(f"{path}: config file not found; pass an existing YAML file")
    try:
        with open(path) as fh:
            cfg = yaml.safe_load(fh)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise CvgrError(f"{path}: not valid YAML{line}; fix the syntax") from None
    validate_config(cfg, source=str(path))
    return cfg


def validate_config(cfg: Any, source: str = "config.yaml", schema: dict | None = None) -> None:
    """Raise CvgrError ``"<source>: <key path>: <problem>; allowed: <values>"`` on the first violation.

    Checks the JSON schema, then the rules a schema cannot state (distinct
    seeds, NES queries a multiple of 2 * steps, adversarial NES models need an
    ``adversarial`` section).
    """
    schema = schema if schema is not None else load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.path), _key_path(e.path)))
    if errors:
        key, problem, allowed = _describe(errors[0], schema)
        raise CvgrError(f"{source}: {key}: {problem}; allowed: {allowed}")
    problem = next(iter(_semantic_problems(cfg)), None)
    if problem is not None:
        key, what, allowed = problem
        raise CvgrError(f"{source}: {key}: {what}; allowed: {allowed}")


def _key_path(path: Iterable[Any]) -> str:
    """('datasets', 'fmnist', 'betas', 1) -> 'datasets.fmnist.betas[1]'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _resolve(sub: dict, root: dict) -> dict:
    """Follow local ``$ref`` pointers (``#/$defs/...``), merging sibling keywords."""
    while isinstance(sub, dict) and "$ref" in sub:
        target: Any = root
        for part in sub["$ref"].lstrip("#/").split("/"):
            target = target[part]
        sub = {**target, **{k: v for k, v in sub.items() if k != "$ref"}}
    return sub


def _allowed(sub: dict, root: dict, plural: bool = False) -> str:
    """A short human description of what a schema node accepts ("a number in [0, 1]", "real, complex")."""
    sub = _resolve(sub, root)
    if "enum" in sub:
        return ", ".join(str(v) for v in sub["enum"])
    if "pattern" in sub:
        return sub.get("description", f"strings matching {sub['pattern']}")
    types = sub.get("type", "value")
    types = [types] if isinstance(types, str) else list(types)
    if "object" in types and "properties" in sub:
        return "a mapping with keys " + ", ".join(sub["properties"])
    if "array" in types:
        return "a list of " + _allowed(sub.get("items", {}), root, plural=True)
    words = _PLURAL if plural else _SINGULAR
    text = " or ".join(words.get(t, t) for t in types if t != "null") + _bounds(sub)
    return text + (" or null" if "null" in types else "")


_SINGULAR = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
             "object": "a mapping", "array": "a list"}
_PLURAL = {"integer": "integers", "number": "numbers", "string": "strings", "boolean": "booleans",
           "object": "mappings", "array": "lists"}


def _bounds(sub: dict) -> str:
    lo, hi = sub.get("minimum"), sub.get("maximum")
    xlo = sub.get("exclusiveMinimum")
    if xlo is not None and hi is not None:
        return f" in ({xlo}, {hi}]"
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    if xlo is not None:
        return f" > {xlo}"
    if lo is not None:
        return f" >= {lo}"
    return ""


def _json_type(value: Any) -> str:
    """The YAML/JSON name of a Python value's type."""
    names = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string",
             list: "list", dict: "mapping"}
    return names.get(type(value), type(value).__name__)


def _describe(err: jsonschema.ValidationError, root: dict) -> tuple[str, str, str]:
    """(key path, problem, allowed) of one schema violation."""
    path, kind, sub = list(err.path), err.validator, _resolve(err.schema, root)
    if kind == "required":
        missing = next(k for k in err.validator_value if k not in err.instance)
        return _key_path(path + [missing]), "missing key", _allowed(sub["properties"][missing], root)
    if kind == "additionalProperties":
        extra = next(k for k in err.instance if k not in sub.get("properties", {}))
        return _key_path(path + [str(extra)]), f"unknown key {extra!r}", ", ".join(sub.get("properties", {}))
    problems = {
        "type": f"wrong type ({_json_type(err.instance)} {err.instance!r})",
        "enum": f"{err.instance!r} is not allowed",
        "pattern": f"{err.instance!r} is not valid",
        "minItems": "empty list",
        "minProperties": "empty mapping",
        "uniqueItems": "duplicate entries",
    }
    problem = problems.get(kind, f"{err.instance!r} is out of range")
    if kind == "minProperties":
        return _key_path(path), problem, ", ".join(sub.get("properties", {}))
    return _key_path(path), problem, _allowed(sub, root)


def _semantic_problems(cfg: Config) -> Iterable[tuple[str, str, str]]:
    """Rules a JSON schema cannot state; yields (key path, problem, allowed)."""
    for name, ds in cfg["datasets"].items():
        key = f"datasets.{name}"
        seeds = ds["seeds"]
        if seeds["source"] == seeds["target"]:
            yield f"{key}.seeds.target", f"equals seeds.source ({seeds['source']})", "a seed other than seeds.source"
        nes = ds.get("nes")
        if nes is None:
            continue
        if nes["queries"] % (2 * nes["steps"]):
            yield (f"{key}.nes.queries", f"{nes['queries']} is not a multiple of 2 * steps = {2 * nes['steps']}",
                   f"multiples of {2 * nes['steps']}")
        for i, model in enumerate(nes["models"]):
            if parse(model).defense == "adv" and "adversarial" not in ds:
                yield (f"{key}.nes.models[{i}]", f"{model!r} is adversarially trained but {key} has no "
                       "adversarial section", "std or gr models, or add an adversarial section")


# ---------------------------------------------------------------- the grid
def datasets(cfg: Config) -> list[str]:
    """The datasets of the config, in config order."""
    return list(cfg["datasets"])


def _ds(cfg: Config, dataset: str) -> dict:
    try:
        return cfg["datasets"][dataset]
    except KeyError:
        raise CvgrError(f"dataset {dataset!r} is not in the config; allowed: {', '.join(datasets(cfg))}") from None


def seeds(cfg: Config, dataset: str) -> tuple[int, int]:
    """(source seed s0, target seed s1)."""
    s = _ds(cfg, dataset)["seeds"]
    return int(s["source"]), int(s["target"])


def grid_models(cfg: Config, dataset: str) -> list[str]:
    """The (net, beta) models at the source seed: fields x betas."""
    s0, _ = seeds(cfg, dataset)
    return [str(model_id(f, beta=b, seed=s0)) for f in FIELDS for b in _ds(cfg, dataset)["betas"]]


def adversarial_models(cfg: Config, dataset: str) -> list[str]:
    """The adversarially trained baselines at the source seed."""
    adv = _ds(cfg, dataset).get("adversarial")
    if adv is None:
        return []
    s0, _ = seeds(cfg, dataset)
    return [str(model_id(f, adv_eps=adv["eps"], seed=s0)) for f in FIELDS if f in adv["fields"]]


def transfer_sources(cfg: Config, dataset: str) -> list[str]:
    """real-std, real-gr<b*>, complex-std, complex-gr<b*> at the source seed ([] without a transfer section)."""
    tr = _ds(cfg, dataset).get("transfer")
    if tr is None:
        return []
    s0, _ = seeds(cfg, dataset)
    return [str(model_id(f, beta=b, seed=s0)) for f in FIELDS for b in (0, tr["beta"])]


def transfer_targets(cfg: Config, dataset: str, source: str) -> list[str]:
    """The source itself ("Self"), then the target-seed copies of the four transfer types."""
    _, s1 = seeds(cfg, dataset)
    return [source] + [str(parse(s).with_seed(s1)) for s in transfer_sources(cfg, dataset)]


def transfer_cells(cfg: Config, dataset: str) -> list[tuple[str, str]]:
    """(source, target) pairs of the dataset's transfer table."""
    return [(s, t) for s in transfer_sources(cfg, dataset) for t in transfer_targets(cfg, dataset, s)]


def nes_models(cfg: Config, dataset: str) -> list[str]:
    """The models attacked by NES ([] without a nes section)."""
    nes = _ds(cfg, dataset).get("nes")
    return list(nes["models"]) if nes is not None else []


def whitebox_models(cfg: Config, dataset: str) -> list[str]:
    """Grid and adversarial models ([] without a whitebox section)."""
    if "whitebox" not in _ds(cfg, dataset):
        return []
    return _unique(grid_models(cfg, dataset) + adversarial_models(cfg, dataset))


def whitebox_jobs(cfg: Config, dataset: str) -> list[tuple[str, str]]:
    """(attack, model) pairs of the dataset's white-box sweeps."""
    wb = _ds(cfg, dataset).get("whitebox")
    if wb is None:
        return []
    return [(a, m) for a in wb["attacks"] for m in whitebox_models(cfg, dataset)]


def models_to_train(cfg: Config, dataset: str) -> list[str]:
    """Every model some stage needs, each once, in a fixed order."""
    pairs = [m for cell in transfer_cells(cfg, dataset) for m in cell]
    return _unique(grid_models(cfg, dataset) + adversarial_models(cfg, dataset) + pairs
                   + nes_models(cfg, dataset))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------- per-job specs
def prepare_args(cfg: Config, dataset: str) -> dict:
    """Keyword arguments of cvgr.steps.prepare: raw_dir, download."""
    ds = _ds(cfg, dataset)
    return {"raw_dir": ds["raw_dir"], "download": bool(ds["download"])}


def training_spec(cfg: Config, dataset: str, model: str) -> dict:
    """The spec of cvgr.steps.train for one model: a function of (dataset, model name) and the config.

    beta / adv_eps / seed / field come from the name; the architecture from
    ``arch[field]``; PGD steps and random start from ``adversarial`` (defaults
    of 0 steps and no random start when the model is not adversarial).
    """
    ds, mid = _ds(cfg, dataset), _parse(model)
    tr, adv = ds["training"], ds.get("adversarial") or {}
    if mid.defense == "adv" and not adv:
        raise CvgrError(f"{model}: an adversarially trained model needs datasets.{dataset}.adversarial in the "
                        "config; add that section or drop the model")
    return {
        "dataset": dataset, "model": model, "arch": ds["arch"][mid.field], "field": mid.field,
        "beta": mid.beta, "mode": tr["mode"], "adv_eps": mid.adv_eps,
        "adv_steps": int(adv.get("steps", 0)) if mid.defense == "adv" else 0,
        "adv_random_start": bool(adv.get("random_start", False)) if mid.defense == "adv" else False,
        "epochs": tr["epochs"], "batch_size": tr["batch_size"], "lr": tr["lr"], "momentum": tr["momentum"],
        "weight_decay": tr["weight_decay"], "milestones": list(tr["milestones"]), "gamma": tr["gamma"],
        "augment": bool(tr["augment"]), "train_size": tr["train_size"], "eval_images": tr["eval_images"],
        "seed": mid.seed,
    }


#: Cost of one training step relative to a std step of the same net (docs/BENCHMARKS.md: G.R. ~2.4x,
#: PGD-k adversarial training ~1 + 0.75 k).
GR_STEP_COST, PGD_STEP_COST = 2.5, 0.75


def training_priority(cfg: Config, dataset: str, model: str) -> int:
    """Snakemake priority of a training job: its expected cost, so the longest model starts first.

    ``10 x epochs x (1, 2.5 for G.R., 1 + 0.75 k for PGD-k adversarial training)``.
    Starting the longest job first (longest-processing-time order) keeps it off
    the end of the run: on 2 cores the PGD model otherwise started after four
    other trainings and finished last.
    """
    spec = training_spec(cfg, dataset, model)
    step = 1.0 + (GR_STEP_COST - 1.0) * (spec["beta"] > 0) + PGD_STEP_COST * spec["adv_steps"]
    return round(10 * spec["epochs"] * step)


def craft_spec(cfg: Config, dataset: str) -> dict:
    """Spec of cvgr.steps.craft for the transfer FGSM sets: attack, eps, images, seed."""
    tr = _section(cfg, dataset, "transfer")
    return {"attack": "fgsm", "eps": tr["eps"], "images": tr["images"], "seed": cfg["attack_seed"]}


def whitebox_spec(cfg: Config, dataset: str, attack: str) -> dict:
    """Spec of cvgr.steps.whitebox: attack, eps (list), images, random_start, seed."""
    wb = _section(cfg, dataset, "whitebox")
    return {"attack": attack, "eps": list(wb["eps"]), "images": wb["images"],
            "random_start": bool(wb["random_start"]) and attack != "fgsm", "seed": cfg["attack_seed"]}


def nes_spec(cfg: Config, dataset: str) -> dict:
    """Spec of cvgr.steps.nes: eps, steps, samples (= queries / (2 steps)), sigma, images, chunk, seed."""
    nes = _section(cfg, dataset, "nes")
    return {"eps": nes["eps"], "steps": nes["steps"], "samples": nes["queries"] // (2 * nes["steps"]),
            "sigma": nes["sigma"], "images": nes["images"], "chunk": nes["chunk"], "seed": cfg["attack_seed"]}


def _section(cfg: Config, dataset: str, name: str) -> dict:
    sec = _ds(cfg, dataset).get(name)
    if sec is None:
        raise CvgrError(f"datasets.{dataset}.{name} is not in the config; add that section to run this stage")
    return sec


def _parse(model: str) -> ModelId:
    try:
        return parse(model)
    except ValueError as err:
        raise CvgrError(str(err)) from None
