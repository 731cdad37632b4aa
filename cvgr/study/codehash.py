"""The pipeline's stages and the code each one runs, read off the imports.

A stage's code is its root module(s) (:data:`STAGE_ROOTS`, which may also
name data files the stage reads, such as the paper's numbers) and every cvgr
module they import, directly or through other cvgr modules, at any depth and
wherever the import statement stands (function-level imports included). The
``__init__.py`` of each subpackage above a module counts too (Python runs it
first), but the modules it imports do not: ``steps/__init__.py`` importing
every step does not tie the stages together.

:func:`code_hash` digests what those files do: a module's syntax tree
without docstrings (comments and layout never reach the tree), a data file's
bytes. It is a Snakemake param of every rule and part of every result's
provenance, so changing a module's code reruns exactly the stages that use
it (editing ``steps/nes.py`` reruns NES, not training), while fixing a
docstring, a comment or the wrapping of a line reruns nothing.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

#: The package directory whose files are read.
PACKAGE_DIR = Path(__file__).resolve().parent.parent

#: stage -> the module(s) where it starts, relative to the package directory.
STAGE_ROOTS: dict[str, tuple[str, ...]] = {
    "prepare": ("steps/prepare.py",),
    "train": ("steps/train.py",),
    "craft": ("steps/craft.py",),
    "transfer": ("steps/transfer.py",),
    "whitebox": ("steps/whitebox.py",),
    "nes": ("steps/nes.py",),
    # the table and figure registry, which imports the module registering cvgr's own tables and figures
    # (and, through their functions, the modules that compute them), the pages, the lineage, the paper's numbers
    "tables": ("report/outputs.py", "report/catalogue.py", "report/pages.py", "results/lineage.py",
               "report/reference/paper_results.csv"),
}


def _module_file(package_dir: Path, parts: list[str]) -> str | None:
    """``['nn', 'complex']`` -> 'nn/complex.py' (or 'nn/__init__.py'), if it exists under the package."""
    base = package_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(package_dir).as_posix()
    return None


def _imports(package_dir: Path, rel: str) -> set[str]:
    """The cvgr modules (relative paths) that the module at ``rel`` imports."""
    found: set[str] = set()
    for parts in _imported_names(rel, (package_dir / rel).read_text()):
        path = _module_file(package_dir, list(parts)) if parts else _module_file(package_dir, ["__init__"])
        if path is not None and path != rel:
            found.add(path)
    return found


@functools.lru_cache(maxsize=None)
def _imported_names(rel: str, source: str) -> tuple[tuple[str, ...], ...]:
    """The package-relative dotted names (as parts) that the source of the module at ``rel`` may import.

    Cached by the source text, so a Snakefile computing every rule's code hash parses each module once,
    while an edited module is parsed again; which names are module files is looked up on every call.
    """
    here = rel.split("/")[:-1]  # the package the module is in
    names: list[tuple[str, ...]] = []
    for node in ast.walk(ast.parse(source, filename=rel)):
        if isinstance(node, ast.Import):
            names += [tuple(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "cvgr"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
            elif (node.module or "").split(".")[0] == "cvgr":
                base = []
            else:
                continue
            mod = (node.module or "").split(".") if node.module else []
            mod = mod[1:] if not node.level else mod
            names += [tuple(base + mod)] + [tuple(base + mod + [a.name]) for a in node.names]
    return tuple(names)


def _packages(package_dir: Path, rel: str) -> set[str]:
    """The ``__init__.py`` of each subpackage above ``rel``: Python runs them before the module itself."""
    parts = rel.split("/")[:-1]
    inits = {"/".join(parts[:i] + ["__init__.py"]) for i in range(1, len(parts) + 1)}
    return {init for init in inits if init != rel and (package_dir / init).is_file()}


def stage_modules(stage: str, package_dir: Path | None = None) -> list[str]:
    """The sorted package-relative paths of every module ``stage`` runs (roots and transitive imports)."""
    if stage not in STAGE_ROOTS:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGE_ROOTS)}")
    package_dir = package_dir or PACKAGE_DIR
    seen: set[str] = set()
    inits: set[str] = set()  # hashed, their imports not followed: a package's face only hands names on
    todo = [r for r in STAGE_ROOTS[stage] if (package_dir / r).is_file()]
    while todo:
        rel = todo.pop()
        if rel not in seen:
            seen.add(rel)
            if rel.endswith(".py"):  # data files (the paper's numbers) are hashed, not read for imports
                todo.extend(_imports(package_dir, rel) - seen)
            inits.update(_packages(package_dir, rel))
    return sorted(seen | inits | set(STAGE_ROOTS[stage]))


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with each module, class and function docstring (a leading string statement) removed."""
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED) and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str):
            node.body = node.body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def _tree_digest(source: str) -> str:
    """sha256 of the module's normalised syntax tree: ``ast.dump`` without positions or docstrings."""
    tree = _without_docstrings(ast.parse(source))
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def file_digest(path: Path) -> str:
    """What a file contributes to a code hash: a module's normalised syntax tree, a data file's bytes."""
    if path.suffix == ".py":
        return _tree_digest(path.read_text())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_hash(stage: str, package_dir: Path | None = None) -> str:
    """sha256 over the lines ``"{path}\\t{digest}\\n"`` of :func:`stage_modules`, sorted.

    The digest is a module's normalised syntax tree or a data file's bytes (:func:`file_digest`); a root
    module that does not exist contributes ``"{path}\\tabsent\\n"``.
    """
    package_dir = package_dir or PACKAGE_DIR
    digest = hashlib.sha256()
    for rel in stage_modules(stage, package_dir):
        file = package_dir / rel
        digest.update(f"{rel}\t{file_digest(file) if file.is_file() else 'absent'}\n".encode())
    return digest.hexdigest()
