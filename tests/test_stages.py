"""Stage code hashes: derived from the imports, so editing a module reruns exactly the stages that run it."""
from __future__ import annotations

import ast
import importlib
import shutil
import sys
import types

import pytest

from cvgr.study import codehash as stages
from cvgr.study.codehash import PACKAGE_DIR, STAGE_ROOTS, code_hash, stage_modules


@pytest.fixture
def package(tmp_path):
    pkg = tmp_path / "cvgr"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def _hashes(pkg):
    return {stage: code_hash(stage, pkg) for stage in STAGE_ROOTS}


def _edit(path):
    """A change of what the module does: one more module-level assignment."""
    path.write_text(path.read_text() + "\nEDITED_BY_TEST = 1\n")


def test_editing_a_step_reruns_its_stage_only(package):
    before = _hashes(package)
    assert len(before["train"]) == 64 and len(set(before.values())) == len(before)
    _edit(package / "steps" / "nes.py")
    after = _hashes(package)
    assert [s for s in STAGE_ROOTS if after[s] != before[s]] == ["nes"]  # training is not redone


def test_editing_a_shared_module_reruns_every_stage_that_imports_it(package):
    before = _hashes(package)
    _edit(package / "train/regularize.py")
    after = _hashes(package)
    changed = {s for s in STAGE_ROOTS if after[s] != before[s]}
    assert changed == {s for s in STAGE_ROOTS if "train/regularize.py" in stage_modules(s)} and "train" in changed
    assert "tables" not in changed


def test_an_absent_root_hashes_as_absent(package):
    (package / "report/figures.py").unlink()
    absent = code_hash("tables", package)
    (package / "report/figures.py").write_text("")
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
    assert "study/codehash.py" in stage_modules("prepare")  # io.py imports it inside a function, and prepare uses io.py


def test_docstrings_comments_and_layout_rerun_nothing(package):
    """Fixing a docstring, a comment or a line's wrapping leaves every code hash as it was."""
    before = _hashes(package)
    vocab = package / "vocab.py"
    source = vocab.read_text()
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=False)
    edited = source.replace(doc, doc + " Fixed a typo.", 1) + "\n# a comment\n"
    edited = edited.replace("\nimport ", "\n\n\nimport ", 1)  # layout only
    assert ast.get_docstring(ast.parse(edited), clean=False) != doc
    vocab.write_text(edited)
    io = package / "results/io.py"
    first_def = next(n for n in ast.parse(io.read_text()).body if isinstance(n, ast.FunctionDef) and ast.get_docstring(n))
    io.write_text(io.read_text().replace(ast.get_docstring(first_def, clean=False), "Reworded.", 1))
    assert _hashes(package) == before
    vocab.write_text(source + "\nX = 2\n")
    using = [s for s in STAGE_ROOTS if "vocab.py" in stage_modules(s, package)]
    assert using and all(_hashes(package)[s] != before[s] for s in using)
