"""Stage code hashes: derived from the imports, so editing a module reruns exactly the stages that run it."""
from __future__ import annotations

import ast
import importlib
import shutil
import sys
import types

import pytest

from cvgr import stages
from cvgr.stages import PACKAGE_DIR, STAGE_ROOTS, code_hash, stage_modules


@pytest.fixture
def package(tmp_path):
    pkg = tmp_path / "cvgr"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def _hashes(pkg):
    return {stage: code_hash(stage, pkg) for stage in STAGE_ROOTS}


def _edit(path):
    path.write_text(path.read_text() + "\n# edited\n")


def test_editing_a_step_reruns_its_stage_only(package):
    before = _hashes(package)
    assert len(before["train"]) == 64 and len(set(before.values())) == len(before)
    _edit(package / "steps" / "nes.py")
    after = _hashes(package)
    assert [s for s in STAGE_ROOTS if after[s] != before[s]] == ["nes"]  # training is not redone


def test_editing_a_shared_module_reruns_every_stage_that_imports_it(package):
    before = _hashes(package)
    _edit(package / "regularize.py")
    after = _hashes(package)
    changed = {s for s in STAGE_ROOTS if after[s] != before[s]}
    assert changed == {s for s in STAGE_ROOTS if "regularize.py" in stage_modules(s)} and "train" in changed
    assert "tables" not in changed


def test_an_absent_root_hashes_as_absent(package):
    (package / "plots.py").unlink()
    absent = code_hash("tables", package)
    (package / "plots.py").write_text("")
    assert code_hash("tables", package) != absent
    with pytest.raises(ValueError, match="unknown stage"):
        code_hash("nope")


def _cvgr_modules_loaded_by(module: str) -> set[str]:
    """The cvgr modules Python really loads when importing ``module`` (in a clean interpreter state).

    ``cvgr.steps`` is stood in for by an empty package, so its ``__init__`` (which imports every
    step) does not run: a stage's code is what its own module imports.
    """
    saved = {k: v for k, v in sys.modules.items() if k == "cvgr" or k.startswith("cvgr.")}
    for k in saved:
        del sys.modules[k]
    try:
        importlib.import_module("cvgr")
        steps = types.ModuleType("cvgr.steps")
        steps.__path__ = [str(PACKAGE_DIR / "steps")]
        sys.modules["cvgr.steps"] = steps
        importlib.import_module(module)
        loaded = {k for k in sys.modules if k == "cvgr" or k.startswith("cvgr.")}
    finally:
        for k in [k for k in sys.modules if k == "cvgr" or k.startswith("cvgr.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return loaded


def _as_path(module: str) -> str:
    parts = module.split(".")[1:]
    file = PACKAGE_DIR.joinpath(*parts)
    return (file / "__init__.py" if file.is_dir() else file.with_suffix(".py")).relative_to(PACKAGE_DIR).as_posix()


@pytest.mark.parametrize("stage", sorted(STAGE_ROOTS))
def test_each_stage_lists_every_module_its_code_imports(stage):
    """What Python loads for the stage's roots (minus package __init__s it does not import) is in its list."""
    listed = set(stage_modules(stage))
    for root in (r for r in STAGE_ROOTS[stage] if r.endswith(".py")):
        module = "cvgr." + root[:-3].replace("/", ".")
        loaded = {_as_path(m) for m in _cvgr_modules_loaded_by(module)} - {"steps/__init__.py"}
        assert loaded <= listed, f"{stage}: {sorted(loaded - listed)} are loaded but not hashed"


def test_function_level_imports_count():
    tree_imports = stages._imports(PACKAGE_DIR, "io.py")
    assert "stages.py" in tree_imports and "__init__.py" in tree_imports  # `from . import __version__`, inside a function
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(ast.parse((PACKAGE_DIR / "io.py").read_text())))


def test_each_module_is_parsed_once_until_it_changes(package):
    code_hash("train", package)
    parsed = stages._imported_names.cache_info().misses
    assert code_hash("train", package) and stages._imported_names.cache_info().misses == parsed
    edited = package / "regularize.py"
    edited.write_text(edited.read_text() + f"\n# edited in {package}\n")  # a source no other test parsed
    code_hash("train", package)
    assert stages._imported_names.cache_info().misses == parsed + 1
