"""Every setting of cvgr, once: one frozen pydantic model per config section and per stage's job.

The config file is a :class:`Config`: runtime settings and one
:class:`DatasetSection` per dataset, whose sections (``training``,
``adversarial``, ``transfer``, ``whitebox``, ``nes``, ``audit``, ``frontier``) are
the classes below. :mod:`cvgr.study.plan` turns them into the job specs each stage receives
(:class:`TrainSpec`, :class:`AttackSpec`, :class:`WhiteboxSpec`,
:class:`NesSpec`); :mod:`cvgr.cli` builds the same job specs from command-line
arguments, so a value gets the same checks and the same defaults from either
side. Pydantic checks the types and bounds (``Field``), the validators below
the rules that tie keys together; :mod:`cvgr.study.settings` holds the value types
and turns any failure into one line. The config's JSON schema
(``schemas/config.schema.yaml``) is generated from these classes
(:mod:`cvgr.study.schema`).

A job spec holds what decides a job's result and nothing that selects which
jobs run (the list of NES models, the white-box attacks), so a changed
setting reruns exactly the jobs it changes.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from .settings import (OPTIONAL, UNIQUE, Bool, Float, Int, OneOf, Spec, SpecError, Str, Word, check, check_grid,
                       rule_error, shared_fields)
from ..vocab import (ARCHITECTURES, DATASETS, DEVICES, FIELDS, MODES, NES_SCORES, model_form, model_pattern,
                    REAL_BIASES, AttackId, ModelId, attack_forms, attack_option_defaults, attack_option_users,
                    attack_pattern)

#: The white-box grid of the 28x28 tasks: 0 to 0.3 in steps of 0.02.
GRID_28 = tuple(round(0.02 * i, 2) for i in range(16))
_EPS = "an L-infinity radius on pixels in [0, 1]"
_IMAGES = "the first N test images"

Eps = Annotated[Float, Field(ge=0, le=1)]
PositiveEps = Annotated[Float, Field(gt=0, le=1)]
Count = Annotated[Int, Field(ge=1)]
Seed = Annotated[Int, Field(ge=0)]
Beta = Annotated[Float, Field(ge=0)]
Model = Annotated[ModelId, Word(ModelId, model_pattern, model_form)]  # a plugin's defenses included
#: Attack names, read from the attack registry when checked (a plugin's attacks included).
Attack = Annotated[AttackId, Word(AttackId, attack_pattern, attack_forms)]
#: The white-box sweeps run the gradient attacks only; the others belong to the audit section.
GradientAttack = Annotated[AttackId, Word(AttackId, lambda: attack_pattern(gradient_only=True),
                                          lambda: attack_forms(gradient_only=True),
                                          "belongs to the audit section (it has its settings there)")]
Arch = Annotated[Str, OneOf(ARCHITECTURES)]
DatasetName = Annotated[Str, OneOf(DATASETS)]


# ----------------------------------------------------------------------------- runtime

class Runtime(Spec):
    """Where and how jobs compute; results do not depend on Snakemake's --cores."""

    device: Annotated[Str, OneOf(DEVICES)] = Field(
        "auto", description="where jobs compute (auto: each job takes cuda where it runs if torch sees a GPU there; "
                            "only cuda asks a scheduler for GPUs)")
    threads: Count = Field(1, description="torch CPU threads per job (results depend on it, not on --cores)")
    cuda_graphs: Bool = Field(True, description="on CUDA, run each training step as one captured CUDA graph",
                              json_schema_extra=OPTIONAL)


# ----------------------------------------------------------------------------- training

class Training(Spec):
    """How one model is trained (SGD with momentum, lr x gamma at each milestone)."""

    mode: Annotated[Str, OneOf(MODES)] = Field("paper", description="double-backprop mode of G.R. through complex "
                                                                      "layers")
    epochs: Count = Field(30, description="passes over the training images")
    batch_size: Count = Field(64, description="images per SGD step")
    lr: Float = Field(0.005, gt=0, description="SGD learning rate")
    momentum: Float = Field(0.875, ge=0, le=1, description="SGD momentum")
    weight_decay: Float = Field(1e-4, ge=0, description="SGD weight decay")
    milestones: tuple[Count, ...] = Field((20,), description="epochs after which the learning rate is multiplied "
                                                             "by gamma")
    gamma: Float = Field(0.2, gt=0, le=1, description="learning-rate factor at each milestone")
    augment: Bool = Field(True, description="apply the dataset's augmentation (docs/METHOD.md)")
    train_size: Count | None = Field(None, description="first N training images, or null for all")
    eval_images: Count = Field(10000, description="test images for the per-epoch metrics and the clean accuracy")
    real_bias: Annotated[Str, OneOf(REAL_BIASES)] = Field(
        "cvgr", json_schema_extra=OPTIONAL,
        description="biases of the real nets: cvgr = zero at init, each added once; authors = the authors' code: "
                    "convolution bias added twice (so its gradient doubles), linear bias ~ U(+-1/sqrt(2 fan_in)) "
                    "(complex nets are unaffected)")


class PgdTraining(Spec):
    """PGD adversarial training: each batch replaced by PGD examples (the model's eps is in its name)."""

    steps: Count = Field(4, description="PGD steps per batch")
    random_start: Bool = Field(True, description="uniform random start in the eps-ball")


class AdversarialSection(PgdTraining):
    """datasets.<d>.adversarial: the adversarially trained baselines."""

    eps: PositiveEps = Field(0.2, description=_EPS)
    fields: Annotated[tuple[Annotated[Str, OneOf(FIELDS)], ...], UNIQUE] = Field(
        ("real",), description="fields that get an adversarially trained model (seed = seeds.source)")


class TrainSpec(Training):
    """Job spec of stage train: one model of the study."""

    dataset: Str = Field(description="the dataset's name (recorded in the model file)")
    model: Model = Field(description="the model: field, defense and strength, seed")
    arch: Arch = Field("small_cnn", description="the architecture")
    pgd: PgdTraining | None = Field(None, description="PGD settings of an adversarially trained model")

    @model_validator(mode="after")
    def _pgd_matches_model(self) -> "TrainSpec":
        if (self.model.defense == "adv") != (self.pgd is not None):
            raise rule_error(f"{self.model} {'needs' if self.pgd is None else 'takes no'} PGD settings",
                             "PGD settings exactly for adversarially trained models", "pgd")
        return self

    @classmethod
    def of(cls, field: str, *, beta: float = 0.0, adv_eps: float = 0.0, seed: int = 0, adv_steps: int = 4,
           adv_random_start: bool = True, dataset: str = "custom", **settings: object) -> "TrainSpec":
        """The spec of one model given as field, beta or adversarial eps and seed (other settings by name)."""
        model = ModelId.of(field, beta=beta, adv_eps=adv_eps, seed=seed)
        pgd = PgdTraining(steps=adv_steps, random_start=adv_random_start) if adv_eps else None
        return cls(dataset=dataset, model=model, pgd=pgd, **settings)

    @property
    def name(self) -> str:
        """``dataset/model``, for messages."""
        return f"{self.dataset}/{self.model}"

    @property
    def field(self) -> str:
        return self.model.field

    @property
    def beta(self) -> float:
        return self.model.beta

    @property
    def adv_eps(self) -> float:
        return self.model.adv_eps

    @property
    def seed(self) -> int:
        return self.model.seed


# ----------------------------------------------------------------------------- attacks

class AttackSpec(Spec):
    """Job spec of stage craft: adversarial examples crafted on one model."""

    attack: Attack = Field(AttackId("fgsm"), description="the attack")
    eps: Eps = Field(description=_EPS)
    images: Count = Field(1000, description=_IMAGES)


class TransferSection(Spec):
    """datasets.<d>.transfer: the black-box FGSM transfer table."""

    beta: Float = Field(gt=0, description="the G.R. strength of the table's G.R. models")
    eps: Eps = Field(description=_EPS)
    images: Count = Field(description=_IMAGES)


class WhiteboxSettings(Spec):
    """What every white-box sweep of a dataset shares."""

    eps: Annotated[tuple[Eps, ...], UNIQUE] = Field(GRID_28, min_length=1, description="the epsilon grid")
    images: Count = Field(1000, description=_IMAGES)
    random_start: Bool = Field(False, description="uniform random start of PGD in the eps-ball")


class WhiteboxSection(WhiteboxSettings):
    """datasets.<d>.whitebox: the paper's accuracy-vs-eps sweeps of every source-seed model."""

    attacks: Annotated[tuple[GradientAttack, ...], UNIQUE] = Field(
        min_length=1, description="the gradient attacks, each a sweep per model")


class WhiteboxSpec(WhiteboxSettings):
    """Job spec of stage whitebox (and of the audit): one model under one attack over the grid."""

    attack: Attack = Field(AttackId("fgsm"), description="the attack")
    apgd_steps: Count | None = Field(None, description="APGD iterations (APGD-CE, APGD-DLR only)")
    square_queries: Annotated[Int, Field(ge=3)] | None = Field(
        None, description="Square's model rows per image, all counted (Square only)")

    @model_validator(mode="after")
    def _options_match_attack(self) -> "WhiteboxSpec":
        """An option that is off (None) for the attacks not declaring it is set exactly for those that do."""
        off = {k for k, f in type(self).model_fields.items() if f.default is None}
        for key in (k for k in attack_option_defaults() if k in off):
            wanted = key in self.attack.options
            if wanted != (getattr(self, key) is not None):
                raise rule_error(f"{'missing' if wanted else 'set'} for {self.attack.name}",
                                 f"a value exactly for {', '.join(attack_option_users(key))}", key)
        return self

    @classmethod
    def for_attack(cls, attack: AttackId | str, **rest: Any) -> "WhiteboxSpec":
        """The spec of ``attack`` with only the options it declares (its registry record); the others are off.

        An option of one attack is then in no other attack's spec, so changing it reruns exactly that
        attack's jobs. The config and the command line build their white-box specs here; the defaults
        are the attack's registry record's (the config's audit section always sets them).
        """
        attack = check(Attack, attack, "attack")
        defaults = {**attack_option_defaults(), **attack.record.options}  # the attack's own first
        given = {k: rest.pop(k, v) for k, v in defaults.items() if k in cls.model_fields}
        options = {k: v if k in attack.options else cls.model_fields[k].default for k, v in given.items()}
        return cls(attack=attack, **options, **rest)


class AuditSection(Spec):
    """datasets.<d>.audit: the gradient-masking audit of every trained model (docs/AUDIT.md)."""

    attacks: Annotated[tuple[Attack, ...], UNIQUE] = Field(
        min_length=1, description="the attacks at eps: one pgd<k> baseline and any others")
    eps: PositiveEps = Field(description="the masking table's eps (the paper's: the transfer eps)")
    sweep: Annotated[tuple[PositiveEps, ...], UNIQUE] = Field(
        description="larger eps (up to 0.5) at which the gradient attacks also run, for the falls-towards-chance "
                    "flag")
    images: Count = Field(description="the first N test images, the same for every attack")
    random_start: Bool = Field(description="uniform random start of PGD in the eps-ball")
    apgd_steps: Count = Field(description="APGD iterations")
    square_queries: Annotated[Int, Field(ge=3)] = Field(description="Square's model rows per image, all counted")
    models: Annotated[tuple[Model, ...], Field(min_length=1), UNIQUE] | None = Field(
        None, json_schema_extra=OPTIONAL, description="the models audited; left out or null: every trained model")

    @model_validator(mode="after")
    def _one_pgd_baseline(self) -> "AuditSection":
        pgd = [a.name for a in self.attacks if a.kind == "pgd"]
        if len(pgd) != 1:
            raise rule_error(f"{len(pgd)} PGD attacks ({', '.join(pgd) or 'none'})",
                             "exactly one pgd<k>: the baseline every flag compares with", "attacks")
        for i, e in enumerate(self.sweep):
            if e <= self.eps:
                raise rule_error(f"{e:g} is not above eps {self.eps:g}", f"eps larger than {self.eps:g} (up to 0.5)",
                                 f"sweep[{i}]")
        return self


class NesSpec(Spec):
    """Job spec of stage nes: the NES query attack (queries per image = steps x 2 x samples)."""

    eps: Eps = Field(0.16, description=_EPS)
    steps: Count = Field(8, description="PGD steps on the estimated gradient")
    queries: Annotated[Int, Field(ge=2)] = Field(4000, description="queries per image, a multiple of 2 * steps")
    sigma: Float = Field(0.001, gt=0, description="scale of the query directions")
    images: Count = Field(1000, description=_IMAGES)
    chunk: Annotated[Int, Field(ge=2)] | None = Field(
        None, description="query rows per forward pass, or null for the device's default (the random stream, hence "
                          "the result, depends on it)")
    score: Annotated[Str, OneOf(NES_SCORES)] = Field(
        "output", description="the objective NES estimates: output = the true class's raw output (the authors'), "
                              "cross_entropy = the cross-entropy")

    @model_validator(mode="after")
    def _queries_fit_steps(self) -> "NesSpec":
        if self.queries % (2 * self.steps):
            raise rule_error(f"{self.queries} is not a multiple of 2 * steps = {2 * self.steps}",
                             f"multiples of {2 * self.steps}", "queries")
        return self

    @property
    def samples(self) -> int:
        """Directions per step: queries / (2 steps)."""
        return self.queries // (2 * self.steps)


class NesSection(NesSpec):
    """datasets.<d>.nes: the query-based attack and the models it attacks."""

    models: Annotated[tuple[Model, ...], UNIQUE] = Field(min_length=1, description="the models attacked")


class FrontierSection(Spec):
    """datasets.<d>.frontier: G.R. nets over a beta grid for both fields, attacked by the audit (METHOD.md 7.1)."""

    betas: Annotated[tuple[Beta, ...], UNIQUE] = Field(
        min_length=1, description="G.R. strengths of each field's frontier, at least two (0 = the std net)")
    seeds: Annotated[tuple[Seed, ...], UNIQUE] = Field(min_length=1, description="training seeds of every frontier "
                                                                                 "model")
    replicates: Count = Field(2000, json_schema_extra=OPTIONAL,
                              description="bootstrap replicates (over seeds and images) of the 95% intervals")

    @model_validator(mode="after")
    def _a_grid(self) -> "FrontierSection":
        try:
            check_grid(self.betas, "betas")
        except SpecError as err:
            raise rule_error(err.problem, err.allowed, err.key) from None
        return self


# ----------------------------------------------------------------------------- the config

class Archs(Spec):
    """The architecture of each field."""

    real: Arch = Field(description="architecture of the real-valued nets")
    complex: Arch = Field(description="architecture of the complex-valued nets")


class Seeds(Spec):
    """The seeds of the first (source) and second (target) copy of each model."""

    source: Seed = Field(description="seed of the source copies")
    target: Seed = Field(description="seed of the target copies")

    @model_validator(mode="after")
    def _distinct_seeds(self) -> "Seeds":
        if self.source == self.target:
            raise rule_error(f"equals seeds.source ({self.source})", "a seed other than seeds.source", "target")
        return self


class DatasetSection(Spec):
    """datasets.<d>: one dataset of the study; a stage section left out is a stage not run."""

    raw_dir: Str | None = Field(description="folder with the raw dataset files, or null for cvgr's default location")
    download: Bool = Field(description="fetch the raw files when they are absent")
    arch: Archs = Field(description="the architecture of each field")
    betas: Annotated[tuple[Beta, ...], UNIQUE] = Field(
        min_length=1, description="G.R. strengths to train for each field (0 = standard training)")
    seeds: Seeds = Field(description="seeds of the two copies of each model")
    training: Training = Field(description="how every model of the dataset is trained")
    adversarial: AdversarialSection | None = Field(None, json_schema_extra=OPTIONAL,
                                                   description="PGD adversarial training")
    transfer: TransferSection | None = Field(None, json_schema_extra=OPTIONAL,
                                             description="the black-box FGSM transfer table")
    whitebox: WhiteboxSection | None = Field(None, json_schema_extra=OPTIONAL,
                                             description="white-box accuracy-vs-eps sweeps")
    nes: NesSection | None = Field(None, json_schema_extra=OPTIONAL, description="the query-based NES attack")
    audit: AuditSection | None = Field(None, json_schema_extra=OPTIONAL, description="the gradient-masking audit")
    frontier: FrontierSection | None = Field(None, json_schema_extra=OPTIONAL,
                                             description="the robustness-accuracy frontier over a beta grid")

    @model_validator(mode="after")
    def _adversarial_models_need_their_section(self) -> "DatasetSection":
        listed = [("nes", self.nes.models if self.nes else ()), ("audit", (self.audit and self.audit.models) or ())]
        for section, models in listed:
            for i, model in enumerate(models):
                if model.defense == "adv" and self.adversarial is None:
                    raise rule_error(f"{model.name!r} is adversarially trained but the dataset has no adversarial "
                                     "section", "std or gr models, or add an adversarial section",
                                     f"{section}.models[{i}]")
        return self

    @model_validator(mode="after")
    def _frontier_needs_audit(self) -> "DatasetSection":
        if self.frontier is not None and self.audit is None:
            raise rule_error("needs the audit section (its attacks give each model's robust accuracy)",
                             "a frontier together with an audit section, or no frontier", "frontier")
        return self


class Config(Runtime):
    """The workflow's configuration file."""

    attack_seed: Seed = Field(0, description="seed of the attacks' randomness (PGD random start, NES directions)")
    run: Annotated[tuple[DatasetName, ...], Field(min_length=1), UNIQUE] | None = Field(
        None, json_schema_extra=OPTIONAL,
        description="the datasets the study runs, in table order; only their sections of datasets apply (default: "
                    "every section)")
    plugins: Annotated[tuple[Str, ...], UNIQUE] = Field(
        (), json_schema_extra=OPTIONAL,
        description="modules imported before the rest of the config is read, each registering extensions (e.g. "
                    "attacks); on PYTHONPATH or installed")
    datasets: dict[DatasetName, DatasetSection] = Field(min_length=1,
                                                        description="one section per dataset of the study")

    @model_validator(mode="after")
    def _run_matches_sections(self) -> "Config":
        if self.run is None:
            return self
        for i, name in enumerate(self.run):
            if name not in self.datasets:
                raise rule_error(f"{name} has no section datasets.{name}", f"add that section or drop {name} from run",
                                 f"run[{i}]")
        for name in self.datasets:
            if name not in self.run:
                raise rule_error(f"{name} is not in run [{', '.join(self.run)}], so this section would apply "
                                 "nowhere", f"add {name} to run or remove the section", f"datasets.{name}")
        return self

    @property
    def selected(self) -> list[str]:
        """The datasets the study runs, in order: ``run``, or every section in file order."""
        return list(self.run if self.run is not None else self.datasets)

    @property
    def runtime(self) -> Runtime:
        return Runtime(**shared_fields(self, Runtime))
