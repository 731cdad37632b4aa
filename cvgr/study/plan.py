"""The study a config describes: which models, cells and sweeps, and each job's spec.

:class:`Study` reads a config file (YAML) into a :class:`cvgr.study.specs.Config`,
which checks every key (one line on the first problem, naming the file, the
key path and what is allowed)::

    config.yaml: datasets.fmnist.betas[1]: -64 is out of range; allowed: a number >= 0

:meth:`Study.plan` gives one dataset's :class:`Plan` (``s0`` = ``seeds.source``,
``s1`` = ``seeds.target``, ``b*`` = ``transfer.beta``):

- grid models: ``{field}-{std|gr<beta>}-s0`` for each field and each beta of ``betas``;
- adversarial models: ``{field}-adv<eps>-s0`` for each field of ``adversarial.fields``;
- transfer cells: sources are ``{field}-{std|gr<b*>}-s0``; the targets of a source
  are itself ("Self") and the four ``s1`` copies; each cell knows its role;
- NES models: ``nes.models``;
- frontier models: ``{field}-{std|gr<beta>}-s<seed>`` for each field, each beta and seed of
  ``frontier`` (a name another stage uses is the same model, trained once);
- models to train: the union of the above;
- white-box jobs: (attack, model) for each attack and each grid or adversarial model;
- audit jobs: (attack, model) for each audit attack and each model of ``audit.models``
  (default: every model to train);
- frontier jobs: (attack, model) for each audit attack and each frontier model (the same
  files as the audit's); the frontier's models get no white-box, transfer or NES jobs of their own.

Each job's spec (:mod:`cvgr.study.specs`) is built here, once, from the sections.
Everything is pure: the same config gives the same lists in the same order.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..errors import CvgrError
from .settings import SpecError, shared_fields
from ..plugins import load_plugins, plugins_of
from .specs import (AttackSpec, Config, DatasetSection, NesSpec, PgdTraining, TrainSpec, WhiteboxSpec)
from ..vocab import FIELDS, AttackId, ModelId, transfer_role


@dataclass(frozen=True)
class TransferJob:
    """One cell of a transfer table to compute: crafted on ``source``, evaluated on ``target``."""

    source: ModelId
    target: ModelId

    @property
    def role(self) -> str:
        """The target's place in the source's row (:data:`cvgr.vocab.TRANSFER_ROLES` key)."""
        return transfer_role(self.source, self.target)


def read_yaml(path: str | os.PathLike, shown: str | None = None) -> Any:
    """The YAML document in ``path``; CvgrError naming the file (as ``shown``) when absent or not YAML."""
    path, shown = Path(path), shown or str(path)
    if not path.is_file():
        raise CvgrError(f"{shown}: config file not found; pass an existing YAML file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise CvgrError(f"{shown}: not valid YAML{line}; fix the syntax") from None


class Study:
    """A checked config and the plan of each of its datasets."""

    def __init__(self, config: Config, source: str = "config.yaml"):
        self.config, self.source = config, source

    @classmethod
    def from_mapping(cls, data: Any, source: str = "config.yaml") -> "Study":
        """Check a parsed config, its ``plugins`` imported first; CvgrError ``"<source>: <key>: <problem>; allowed: ..."``."""
        load_plugins(plugins_of(data), f"{source}: plugins")
        try:
            return cls(Config.from_mapping(data), source)
        except SpecError as err:
            raise CvgrError(f"{source}: {err}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Study":
        """Read and check a YAML config file."""
        return cls.from_mapping(read_yaml(path), str(path))

    @property
    def datasets(self) -> list[str]:
        """The datasets the study runs, in order (the config's ``run``, else every section)."""
        return self.config.selected

    def plan(self, dataset: str) -> "Plan":
        """The plan of one dataset; CvgrError for a dataset the config does not have."""
        return _plan(self, dataset)


@functools.lru_cache(maxsize=None)
def _plan(study: Study, dataset: str) -> "Plan":
    if dataset not in study.config.datasets:
        raise CvgrError(f"dataset {dataset!r} is not in the config; allowed: {', '.join(study.datasets)}")
    return Plan(dataset, study.config.datasets[dataset], study.config.attack_seed)


def _unique(items: Iterable[ModelId]) -> tuple[ModelId, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class Plan:
    """What the workflow runs for one dataset, and each job's spec."""

    dataset: str
    section: DatasetSection
    attack_seed: int

    # ------------------------------------------------------------------ the models
    @property
    def s0(self) -> int:
        return self.section.seeds.source

    @functools.cached_property
    def grid_models(self) -> tuple[ModelId, ...]:
        """The (field, beta) models at the source seed."""
        return tuple(ModelId.of(f, beta=b, seed=self.s0) for f in FIELDS for b in self.section.betas)

    @functools.cached_property
    def adversarial_models(self) -> tuple[ModelId, ...]:
        """The adversarially trained baselines at the source seed."""
        adv = self.section.adversarial
        if adv is None:
            return ()
        return tuple(ModelId.of(f, adv_eps=adv.eps, seed=self.s0) for f in FIELDS if f in adv.fields)

    @functools.cached_property
    def transfer_cells(self) -> tuple[TransferJob, ...]:
        """The transfer table's cells, sources in row order, targets in column order."""
        tr = self.section.transfer
        if tr is None:
            return ()
        sources = [ModelId.of(f, beta=b, seed=self.s0) for f in FIELDS for b in (0, tr.beta)]
        targets = [s.with_seed(self.section.seeds.target) for s in sources]
        return tuple(TransferJob(s, t) for s in sources for t in [s, *targets])

    @property
    def nes_models(self) -> tuple[ModelId, ...]:
        return self.section.nes.models if self.section.nes else ()

    @functools.cached_property
    def whitebox_jobs(self) -> tuple[tuple[AttackId, ModelId], ...]:
        """(attack, model) of the white-box sweeps: every grid and adversarial model."""
        wb = self.section.whitebox
        if wb is None:
            return ()
        models = _unique(self.grid_models + self.adversarial_models)
        return tuple((a, m) for a in wb.attacks for m in models)

    @functools.cached_property
    def audit_jobs(self) -> tuple[tuple[AttackId, ModelId], ...]:
        """(attack, model) of the gradient-masking audit: every attack on ``audit.models`` (default: all models)."""
        audit = self.section.audit
        if audit is None:
            return ()
        models = audit.models if audit.models is not None else tuple(self.models.values())
        return tuple((a, m) for a in audit.attacks for m in models)

    @functools.cached_property
    def frontier_models(self) -> tuple[ModelId, ...]:
        """The frontier's models ``{field}-{std|gr<beta>}-s<seed>``: each field, beta and seed of ``frontier``."""
        fr = self.section.frontier
        if fr is None:
            return ()
        return tuple(ModelId.of(f, beta=b, seed=s) for f in FIELDS for b in fr.betas for s in fr.seeds)

    @functools.cached_property
    def frontier_jobs(self) -> tuple[tuple[AttackId, ModelId], ...]:
        """(attack, model) giving the frontier's robust accuracy: every audit attack on every frontier model.

        The same jobs (and files) as the audit's: a model both audits share is attacked once.
        """
        if not self.frontier_models:
            return ()
        return tuple((a, m) for a in self._section("audit").attacks for m in self.frontier_models)

    @functools.cached_property
    def models(self) -> dict[str, ModelId]:
        """Every model some stage needs, by name, each once, in a fixed order (the frontier's last)."""
        cells = [m for c in self.transfer_cells for m in (c.source, c.target)]
        audit = self.section.audit
        audited = (audit.models or ()) if audit is not None else ()
        ordered = _unique(self.grid_models + self.adversarial_models + tuple(cells) + self.nes_models
                          + tuple(audited) + self.frontier_models)
        return {m.name: m for m in ordered}

    def model(self, name: str) -> ModelId:
        """The model called ``name``: one of the study's, or any valid name asked for by its file."""
        if name in self.models:
            return self.models[name]
        try:
            return ModelId.parse(name)
        except ValueError as err:
            raise CvgrError(str(err)) from None

    # ------------------------------------------------------------------ job specs
    def train_spec(self, model: ModelId) -> TrainSpec:
        """How ``model`` is trained: the training section, its field's architecture, PGD if adversarial."""
        adv = self.section.adversarial
        if model.defense == "adv" and adv is None:
            raise CvgrError(f"{model}: an adversarially trained model needs datasets.{self.dataset}.adversarial "
                            "in the config; add that section or drop the model")
        pgd = PgdTraining(**shared_fields(adv, PgdTraining)) if model.defense == "adv" else None
        return TrainSpec(**shared_fields(self.section.training, TrainSpec), dataset=self.dataset, model=model,
                         arch=getattr(self.section.arch, model.field), pgd=pgd)

    def training_priority(self, model: ModelId) -> int:
        """Snakemake priority of a training job: its expected cost, so the longest model starts first.

        ``10 x epochs x (1, 2.5 for G.R., 1 + 0.75 k for PGD-k adversarial training)``:
        longest-processing-time order keeps the slowest job off the end of the run.
        """
        spec = self.train_spec(model)
        step = 1.0 + (GR_STEP_COST - 1.0) * (model.beta > 0) + PGD_STEP_COST * (spec.pgd.steps if spec.pgd else 0)
        return round(10 * spec.epochs * step)

    def craft_spec(self) -> AttackSpec:
        """The transfer table's FGSM sets."""
        tr = self._section("transfer")
        return AttackSpec(attack=AttackId("fgsm"), eps=tr.eps, images=tr.images)

    def whitebox_spec(self, attack: AttackId) -> WhiteboxSpec:
        return WhiteboxSpec.for_attack(attack, **shared_fields(self._section("whitebox"), WhiteboxSpec))

    def audit_spec(self, attack: AttackId) -> WhiteboxSpec:
        """One audit attack: the gradient attacks (FGSM, PGD) at 0 (clean), eps and the sweep; the others at eps only."""
        audit = self._section("audit")
        grid = (0.0, audit.eps, *audit.sweep) if attack.gradient else (audit.eps,)
        return WhiteboxSpec.for_attack(attack, **{**shared_fields(audit, WhiteboxSpec),
                                                  "eps": tuple(sorted(set(grid)))})

    def nes_spec(self) -> NesSpec:
        return NesSpec(**shared_fields(self._section("nes"), NesSpec))

    def _section(self, name: str) -> Any:
        sec = getattr(self.section, name)
        if sec is None:
            raise CvgrError(f"datasets.{self.dataset}.{name} is not in the config; add that section to run this stage")
        return sec


#: Cost of one training step relative to a std step of the same net (docs/BENCHMARKS.md: G.R. ~2.4x,
#: PGD-k adversarial training ~1 + 0.75 k).
GR_STEP_COST, PGD_STEP_COST = 2.5, 0.75
