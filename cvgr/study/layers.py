"""A study's config in layers: cvgr's default ``config.yaml``, then the user's files, then ``--config``.

Each layer above the default holds only the keys it changes. Layers merge as Snakemake merges
``--configfile`` files: a mapping merges key by key, any other value (a number, a list, null)
replaces the one below. So ``nes: null`` drops a stage section the default has, and a list
(``betas``, ``run``) is replaced whole.

Which datasets run is explicit: ``run`` lists them, in table order (the default runs
``[fmnist]``). Only their sections apply. A dataset section that only a lower layer holds and
``run`` leaves out is ignored (the default's Fashion-MNIST section never joins a study that
does not list it); one that the user's layer sets while ``run`` leaves it out would apply
nowhere and is an error naming the key.

Every error is one line that names the layer (file) that set the offending key::

    configs/my.yaml: datasets.fmnist.nes.eps: 7 is out of range; allowed: a number in [0, 1]
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .plan import Study, read_yaml
from ..errors import CvgrError
from ..plugins import load_plugins, plugins_of
from .settings import SpecError
from .specs import Config
from ..vocab import DATASETS


@dataclass(frozen=True)
class Layer:
    """One config layer: where it comes from (shown in errors) and its keys."""

    source: str
    data: Mapping[str, Any]

    @classmethod
    def load(cls, path: str | os.PathLike, shown: str | None = None) -> "Layer":
        """Read a YAML file; CvgrError naming the file when it is absent, not YAML or not a mapping."""
        shown = shown or _shown(path)
        data = read_yaml(path, shown)
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise CvgrError(f"{shown}: (top level): not a mapping; allowed: a mapping of config keys")
        return cls(shown, data)


def _shown(path: str | os.PathLike) -> str:
    """``path`` relative to the working directory when inside it, else absolute."""
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(Path(path).resolve())


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, other values replace (a deep copy)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merged(layers: Iterable[Layer]) -> dict[str, Any]:
    """Every layer merged, bottom first."""
    out: dict[str, Any] = {}
    for layer in layers:
        out = merge(out, layer.data)
    return out


def with_default(config: Mapping[str, Any], default: str | os.PathLike) -> dict[str, Any]:
    """``config`` (what Snakemake hands a job) on top of cvgr's default config file."""
    return merge(Layer.load(default).data, config)


def select(layers: list[Layer]) -> dict[str, Any]:
    """The merged config with only the sections of the datasets in ``run``.

    Sections that ``run`` leaves out are dropped when only the default holds them; SpecError when a
    layer above the default (the user's) sets one, or when ``run`` names a dataset without a section.
    """
    data = merged(layers)
    run, sections = data.get("run"), data.get("datasets")
    if not isinstance(run, list) or not isinstance(sections, Mapping):
        return data  # the spec check names what is wrong
    user = merged(layers[1:]).get("datasets")
    for name in user if isinstance(user, Mapping) else ():
        if name in DATASETS and name not in run:
            raise SpecError(f"datasets.{name}", f"{name} is not in run [{', '.join(map(str, run))}], so this "
                            "section would apply nowhere", f"add {name} to run or remove the section")
    for i, name in enumerate(run):
        if name in DATASETS and name not in sections:
            raise SpecError(f"run[{i}]", f"{name} has no section datasets.{name}",
                            f"add that section or drop {name} from run")
    data["datasets"] = {k: v for k, v in sections.items() if k in run or k not in DATASETS}
    return data


def study(layers: list[Layer]) -> Study:
    """The checked study of ``layers`` (the default first); CvgrError naming the layer that set the bad key.

    The config's ``plugins`` are imported first (:mod:`cvgr.plugins`), so their names are allowed.
    """
    try:
        data = select(layers)
        load_plugins(plugins_of(data), f"{owner(layers, 'plugins')}: plugins")
        return Study(Config.from_mapping(data), source=layers[-1].source)
    except SpecError as err:
        raise CvgrError(f"{owner(layers, err.key)}: {err}") from None


def _path(key: str) -> list[str]:
    """``datasets.fmnist.betas[1]`` -> ``[datasets, fmnist, betas]``."""
    return [part for part in re.sub(r"\[\d+\]", "", key).split(".") if part]


def _depth(data: Any, path: list[str]) -> int:
    depth = 0
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            break
        data, depth = data[part], depth + 1
    return depth


def owner(layers: list[Layer], key: str) -> str:
    """The source of the layer that set ``key``: the top-most layer reaching deepest along its path."""
    path = _path(key)
    best = max(range(len(layers)), key=lambda i: (_depth(layers[i].data, path), i))
    return layers[best].source


def snakemake_layers(default: str | os.PathLike, configfiles: Iterable[Any], cli_files: Iterable[Any],
                     cli: Mapping[str, Any] | None, config: Mapping[str, Any]) -> list[Layer]:
    """The layers of a Snakemake run: cvgr's default, the config files, ``--config``.

    ``configfiles`` are every file Snakemake loaded (``configfile:`` of the user's own Snakefile
    when cvgr runs as a module, and ``--configfile``), ``cli_files`` the ``--configfile`` ones
    (they apply last), ``config`` the dict Snakemake hands the workflow. When the files and
    ``--config`` do not add up to ``config`` (a module's config built in Python), ``config`` is
    the one user layer.
    """
    cli_paths = [os.path.abspath(f) for f in cli_files]
    files = [f for f in map(os.path.abspath, configfiles) if f not in cli_paths] + cli_paths
    user = [Layer.load(f) for f in dict.fromkeys(files)] + ([Layer("--config", cli)] if cli else [])
    if merged(user) != merged([Layer("config", config)]):
        user = [Layer("the config passed to the workflow", config)]
    return [Layer.load(default, shown="config.yaml" if _same(default, "config.yaml") else None), *user]


def _same(a: str | os.PathLike, b: str) -> bool:
    return os.path.exists(b) and os.path.samefile(a, b)
