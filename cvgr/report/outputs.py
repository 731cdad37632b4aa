"""The registry of tables and figures: each one is a function plus one registration.

A registration (:func:`table` or :func:`figure`, used as a decorator on the function that makes the
output) says everything the workflow needs; rules/report.smk derives from it the Snakemake rule (named
after the output, ``localrule``), the report entry (caption, category), the HTML page of a Markdown
table (rule ``{stem}_page``), the run's final targets and each file's lineage sidecar
(``FILE.prov.json``, :mod:`cvgr.results.lineage`). One script, scripts/output.py, runs every registered function.

Paths (the workflow's output contract):

- a table: ``results/tables/{stem}.{csv,md}`` (per dataset: ``{stem}_{dataset}``), and for Markdown the
  page ``results/tables/{stem}.html``;
- a figure: ``results/figures/{stem}_{dataset}.png`` (one for all datasets: ``{stem}.png``).

An output reads result files by :data:`SOURCES` name (``histories``, ``transfer``, ...), all datasets'
(scope ``all``) or one dataset's (scope ``dataset``). It is planned where each source it needs (those
not named ``optional``) has files; one that compares with the paper (``paper="transfer"`` or ``"nes"``)
only for the datasets the paper reports in that table (cvgr/report/reference/paper_results.csv).

cvgr's own outputs are registered in :mod:`cvgr.report.catalogue`; a module outside cvgr registers its
own the same way, imported before the workflow plans (docs/EXTENDING.md).
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import CvgrError
from ..study.codehash import code_hash, file_digest

KINDS = ("table", "figure")
SCOPES = ("all", "dataset")
#: kind -> the formats it may be written in, and its folder under results/.
FORMATS = {"table": ("csv", "md"), "figure": ("png",)}
FOLDERS = {"table": "results/tables", "figure": "results/figures"}


@dataclass(frozen=True)
class Source:
    """Result files an output may read: ``files(plan, dataset)``; ``sections``: the config sections
    of a dataset that decide them (the config slice of the output's lineage)."""

    files: Callable[[Any, str], list[str]]
    sections: tuple[str, ...]


#: source name -> its files per dataset, from the dataset's :class:`cvgr.study.plan.Plan`.
SOURCES: dict[str, Source] = {
    "histories": Source(lambda p, d: [f"results/models/{d}/{m}.h5" for m in p.models],
                        ("betas", "training", "adversarial")),
    "grid_histories": Source(lambda p, d: [f"results/models/{d}/{m}.h5" for m in p.grid_models],
                             ("betas", "training")),
    "transfer": Source(lambda p, d: [f"results/transfer/{d}/{c.source}/{c.target}.h5" for c in p.transfer_cells],
                       ("transfer",)),
    "nes": Source(lambda p, d: [f"results/nes/{d}/{m}.h5" for m in p.nes_models], ("nes",)),
    "whitebox": Source(lambda p, d: [f"results/whitebox/{d}/{a}/{m}.h5" for a, m in p.whitebox_jobs], ("whitebox",)),
    "audit": Source(lambda p, d: [f"results/audit/{d}/{a}/{m}.h5" for a, m in p.audit_jobs], ("audit",)),
    "frontier_histories": Source(lambda p, d: [f"results/models/{d}/{m}.h5" for m in p.frontier_models],
                                 ("frontier", "training")),
    "frontier_audit": Source(lambda p, d: [f"results/audit/{d}/{a}/{m}.h5" for a, m in p.frontier_jobs],
                             ("frontier", "audit")),
    "frontier_nes": Source(lambda p, d: [f"results/nes/{d}/{m}.h5" for m in p.nes_models if m in p.frontier_models],
                           ("nes",)),
}


@dataclass(frozen=True)
class Job:
    """What an output's function gets: its input files by source, its output path by format, for a
    per-dataset output the dataset (else None), and per dataset it covers the config sections of its
    sources as plain values (``settings[dataset][section]``, None for a section the dataset leaves out)."""

    inputs: Mapping[str, list[str]]
    outputs: Mapping[str, str]
    dataset: str | None
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Output:
    """One registered table or figure (see the module docstring)."""

    name: str
    kind: str
    stem: str
    scope: str
    reads: tuple[str, ...]
    optional: tuple[str, ...]
    formats: tuple[str, ...]
    caption: str | None
    caption_file: str | None
    category: str
    paper: str | None
    make: Callable[[Job], None]

    @property
    def module(self) -> str:
        return self.make.__module__

    @property
    def page(self) -> str | None:
        """The name of the rule of its HTML page (a Markdown table has one), or None."""
        return f"{self.stem}_page" if "md" in self.formats else None

    @property
    def sections(self) -> tuple[str, ...]:
        """The config sections of its sources, each once (its lineage's config slice)."""
        return tuple(dict.fromkeys(s for r in self.reads for s in SOURCES[r].sections))

    def files(self, dataset: str = "{dataset}") -> dict[str, str]:
        """format -> path, ``html`` included for a Markdown table; ``dataset`` fills a per-dataset name."""
        name = self.stem if self.scope == "all" else f"{self.stem}_{dataset}"
        out = {f: f"{FOLDERS[self.kind]}/{name}.{f}" for f in self.formats}
        return out | ({"html": f"{FOLDERS[self.kind]}/{name}.html"} if self.page else {})

    def log(self, rule: str) -> str:
        return f"logs/{rule}/{'all' if self.scope == 'all' else '{dataset}'}/{rule}.log"

    def covered(self, datasets: Sequence[str]) -> list[str]:
        """The run datasets it may cover: all, or for a comparison with the paper those the paper reports."""
        return list(datasets) if self.paper is None else [d for d in datasets if d in paper_datasets(self.paper)]

    def inputs(self, study: Any, datasets: Sequence[str]) -> dict[str, list[str]]:
        """source -> the files of ``datasets`` it reads (dataset by dataset, in the study's order)."""
        return {r: [f for d in datasets for f in SOURCES[r].files(study.plan(d), d)] for r in self.reads}

    def settings(self, study: Any, datasets: Sequence[str]) -> dict[str, dict[str, Any]]:
        """dataset -> section -> its plain values: the config its function may read (its rule's params)."""
        def plain(value: Any) -> Any:
            return value.to_dict() if hasattr(value, "to_dict") else list(value) if isinstance(value, tuple) else value
        return {d: {s: plain(getattr(study.plan(d).section, s)) for s in self.sections} for d in datasets}

    def planned(self, study: Any) -> list[str | None]:
        """``[None]`` if a one-file output is planned (else ``[]``); a per-dataset output's datasets."""
        def has_all(datasets: Sequence[str]) -> bool:
            found = self.inputs(study, datasets)
            return bool(datasets) and all(found[r] for r in self.reads if r not in self.optional)

        covered = self.covered(study.datasets)
        if self.scope == "all":
            return [None] if has_all(covered) else []
        return [d for d in covered if has_all([d])]

    def code(self) -> str:
        """The code hash its rule carries: the tables stage's, and for a module outside cvgr also that module's."""
        base = code_hash("tables")
        if self.module.split(".")[0] == "cvgr":
            return base
        path = Path(sys.modules[self.module].__file__ or "")
        return hashlib.sha256(f"{base}\n{self.module}\t{file_digest(path)}\n".encode()).hexdigest()

    def caption_path(self, report_dir: str) -> str:
        """The .rst caption for the report: cvgr's own ``caption_file`` under ``report_dir``, another
        module's relative to that module, or the ``caption`` text written to a file named by its hash."""
        if self.caption_file is not None:
            if self.module.split(".")[0] == "cvgr":
                return f"{report_dir}/{self.caption_file}"
            return str(Path(sys.modules[self.module].__file__ or "").parent / self.caption_file)
        text = (self.caption or "") + "\n"
        path = Path(tempfile.gettempdir()) / "cvgr-captions" / f"{hashlib.sha256(text.encode()).hexdigest()}.rst"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return str(path)


_REGISTRY: dict[str, Output] = {}
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _check(out: Output) -> None:
    """CvgrError naming the field, the value and the allowed values of a bad registration."""
    def need(ok: bool, what: str, value: Any, allowed: str) -> None:
        if not ok:
            raise CvgrError(f"output {out.name!r} ({out.module}): {what} {value!r} is not allowed; use {allowed}")

    need(bool(_NAME.fullmatch(out.name)), "name", out.name, "lower-case letters, digits and _")
    need(bool(_NAME.fullmatch(out.stem)), "stem", out.stem, "lower-case letters, digits and _")
    need(out.scope in SCOPES, "scope", out.scope, " or ".join(SCOPES))
    need(bool(out.reads), "reads", out.reads, "one or more of " + ", ".join(SOURCES))
    for r in out.reads + out.optional:
        need(r in SOURCES, "source", r, ", ".join(SOURCES))
    need(set(out.optional) <= set(out.reads), "optional", out.optional, "sources it reads")
    need(bool(out.formats) and set(out.formats) <= set(FORMATS[out.kind]), "formats", out.formats,
         f"some of {', '.join(FORMATS[out.kind])} for a {out.kind}")
    need((out.caption is None) != (out.caption_file is None), "caption", out.caption,
         "exactly one of caption (text) and caption_file (an .rst file)")
    if out.paper is not None:
        from .paper import TABLES
        need(out.paper in TABLES, "paper", out.paper, " or ".join(TABLES))
    for other in _REGISTRY.values():
        same = other.name == out.name and other.module == out.module
        taken = {other.name, other.page} & {out.name, out.page} - {None} or \
            any(p in other.files().values() for p in out.files().values())
        if taken and not same:
            raise CvgrError(f"output {out.name!r} ({out.module}) clashes with {other.name!r} ({other.module}) "
                            "in a rule name or a file: give it another name or stem")


def register(kind: str, name: str, *, reads: Sequence[str], caption: str | None = None,
             caption_file: str | None = None, stem: str | None = None, scope: str | None = None,
             formats: Sequence[str] | None = None, category: str | None = None, optional: Sequence[str] = (),
             paper: str | None = None) -> Callable[[Callable[[Job], None]], Callable[[Job], None]]:
    """Decorator registering ``fn(job: Job) -> None`` as the output ``name`` (its rule's name).

    Defaults: ``stem`` = name; a table is one file for all datasets (scope ``all``) in csv and md, a
    figure one png per dataset (scope ``dataset``); category ``Tables`` / ``Figures``, or ``This run vs
    the paper`` for a comparison with the paper. Registering the same name from the same module again
    replaces it (a module imported twice); from another module, or a clash of rule or file names, raises.
    """
    if kind not in KINDS:
        raise CvgrError(f"output {name!r}: kind {kind!r} is not allowed; use {' or '.join(KINDS)}")

    def add(fn: Callable[[Job], None]) -> Callable[[Job], None]:
        out = Output(name, kind, stem or name, scope or ("all" if kind == "table" else "dataset"), tuple(reads),
                     tuple(optional), tuple(formats or FORMATS[kind]), caption, caption_file,
                     category or ("This run vs the paper" if paper else f"{kind.capitalize()}s"), paper, fn)
        _check(out)
        _REGISTRY[name] = out
        return fn

    return add


def table(name: str, **options: Any) -> Callable[[Callable[[Job], None]], Callable[[Job], None]]:
    """:func:`register` a table."""
    return register("table", name, **options)


def figure(name: str, **options: Any) -> Callable[[Callable[[Job], None]], Callable[[Job], None]]:
    """:func:`register` a figure."""
    return register("figure", name, **options)


def unregister(name: str) -> None:
    """Withdraw the output registered as ``name`` (:func:`get` says when there is none)."""
    _REGISTRY.pop(get(name).name)


def registered() -> tuple[Output, ...]:
    """Every registered output, in registration order: cvgr's own once :mod:`cvgr.report.catalogue` is
    imported (the workflow imports it first), then those of modules imported after it."""
    return tuple(_REGISTRY.values())


def get(name: str) -> Output:
    """The output registered as ``name``; CvgrError naming the registered ones otherwise."""
    found = {o.name: o for o in registered()}
    if name not in found:
        raise CvgrError(f"no table or figure is registered as {name!r}; registered: {', '.join(found)}")
    return found[name]


@functools.lru_cache(maxsize=None)
def paper_datasets(table_name: str) -> frozenset[str]:
    """The datasets the paper reports in its table ``table_name`` (``transfer`` or ``nes``)."""
    from .paper import load_paper_results

    return frozenset(r.dataset for r in load_paper_results().table(table_name))


def targets(study: Any) -> list[str]:
    """Every planned output's files (pages included) and the lineage sidecar of each."""
    out = [f for o in registered() for d in o.planned(study) for f in o.files(d or "").values()]
    return out + [f"{f}.prov.json" for f in out]


def run(smk: Any) -> None:
    """Body of scripts/output.py: import the output's module, call its function, write the sidecars."""
    from ..results.lineage import record_lineage

    importlib.import_module(smk.params.module)
    out = get(smk.params.output)
    job = Job({r: [str(f) for f in smk.input[r]] for r in out.reads},
              {f: str(smk.output[f]) for f in out.formats}, dict(smk.wildcards.items()).get("dataset"),
              dict(smk.params.settings))
    out.make(job)
    record_lineage(smk, out.sections)
