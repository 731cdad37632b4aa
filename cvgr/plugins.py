"""Plugins: the modules a config names in ``plugins:``, imported so that their registrations exist.

A plugin is any importable module outside cvgr that, when imported, registers extensions with
cvgr's registries (an attack: :func:`cvgr.attacks.register`). The config's top-level key
``plugins`` lists them; they are imported before the rest of the config is checked (so its
attack names may be the plugin's), when the workflow loads the study and again in every job's
process before the job runs (:mod:`cvgr.study.script`). Importing is idempotent: Python imports a
module once per process.

A module that cannot be imported is one :class:`cvgr.errors.CvgrError` line naming it and the
fix (its folder on ``PYTHONPATH``, or ``pip install`` of its package); one that fails while
importing names the error and asks to fix the plugin.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import CvgrError


def plugins_of(data: Any) -> tuple[str, ...]:
    """The ``plugins`` of a raw config mapping, as given; () when absent or not a list of strings.

    A malformed value is left to the config's check, which names the key and what it allows.
    """
    names = data.get("plugins") if isinstance(data, Mapping) else None
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        return ()
    return tuple(names)


def load_plugins(names: Iterable[str], where: str = "plugins") -> None:
    """Import each module of ``names``; CvgrError ``"<where>: '<module>' ..."`` naming the module and the fix."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise CvgrError(f"{where}: {name!r} cannot be imported ({err}); put the folder holding it on "
                            f"PYTHONPATH or pip install its package") from None
        except Exception as err:  # noqa: BLE001 (any error of the plugin's own code)
            first = (str(err).splitlines() or [""])[0]
            raise CvgrError(f"{where}: {name!r} failed while importing ({type(err).__name__}: {first}); "
                            f"fix the plugin") from None
