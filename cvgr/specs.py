"""Every setting of cvgr, once: one frozen dataclass per config section and per stage's job.

The config file is a :class:`Config`: runtime settings and one
:class:`DatasetSection` per dataset, whose sections (``training``,
``adversarial``, ``transfer``, ``whitebox``, ``nes``, ``audit``, ``frontier``) are the classes below.
:mod:`cvgr.config` turns them into the job specs each stage receives
(:class:`TrainSpec`, :class:`AttackSpec`, :class:`WhiteboxSpec`,
:class:`NesSpec`); :mod:`cvgr.cli` builds the same job specs from command-line
arguments, so a value gets the same checks (:mod:`cvgr.settings`) and the
same defaults from either side. The config's JSON schema
(``schemas/config.schema.yaml``) is generated from these classes
(:mod:`cvgr.schema`).

A job spec holds what decides a job's result and nothing that selects which
jobs run (the list of NES models, the white-box attacks), so a changed
setting reruns exactly the jobs it changes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterator

from .settings import Spec, SpecError, check_value, rule_of, setting, shared_fields
from .vocab import ARCHITECTURES, DATASETS, DEVICES, FIELDS, MODES, NES_SCORES, REAL_BIASES, AttackId, ModelId

#: The white-box grid of the 28x28 tasks: 0 to 0.3 in steps of 0.02.
GRID_28 = tuple(round(0.02 * i, 2) for i in range(16))
_EPS = "an L-infinity radius on pixels in [0, 1]"
_IMAGES = "the first N test images"


def _spec(cls: type) -> type:
    return dataclass(frozen=True, kw_only=True)(cls)


# ----------------------------------------------------------------------------- runtime

@_spec
class Runtime(Spec):
    """Where and how jobs compute; results do not depend on Snakemake's --cores."""

    device: str = setting("auto", choices=DEVICES,
                          doc="where jobs compute (auto: each job takes cuda where it runs if torch sees a GPU "
                              "there; only cuda asks a scheduler for GPUs)")
    threads: int = setting(1, lo=1, doc="torch CPU threads per job (results depend on it, not on --cores)")
    cuda_graphs: bool = setting(True, optional=True,
                                doc="on CUDA, run each training step as one captured CUDA graph")


# ----------------------------------------------------------------------------- training

@_spec
class Training(Spec):
    """How one model is trained (SGD with momentum, lr x gamma at each milestone)."""

    mode: str = setting("paper", choices=MODES, doc="double-backprop mode of G.R. through complex layers")
    epochs: int = setting(30, lo=1, doc="passes over the training images")
    batch_size: int = setting(64, lo=1, doc="images per SGD step")
    lr: float = setting(0.005, lo=0, lo_open=True, doc="SGD learning rate")
    momentum: float = setting(0.875, lo=0, hi=1, doc="SGD momentum")
    weight_decay: float = setting(1e-4, lo=0, doc="SGD weight decay")
    milestones: tuple[int, ...] = setting((20,), lo=1, doc="epochs after which the learning rate is multiplied by gamma")
    gamma: float = setting(0.2, lo=0, hi=1, lo_open=True, doc="learning-rate factor at each milestone")
    augment: bool = setting(True, doc="apply the dataset's augmentation (docs/METHOD.md)")
    train_size: int | None = setting(None, lo=1, doc="first N training images, or null for all")
    eval_images: int = setting(10000, lo=1, doc="test images for the per-epoch metrics and the clean accuracy")
    real_bias: str = setting("cvgr", choices=REAL_BIASES, optional=True,
                             doc="biases of the real nets: cvgr = zero at init, each added once; authors = the "
                                 "authors' code: convolution bias added twice (so its gradient doubles), linear "
                                 "bias ~ U(+-1/sqrt(2 fan_in)) (complex nets are unaffected)")


@_spec
class PgdTraining(Spec):
    """PGD adversarial training: each batch replaced by PGD examples (the model's eps is in its name)."""

    steps: int = setting(4, lo=1, doc="PGD steps per batch")
    random_start: bool = setting(True, doc="uniform random start in the eps-ball")


@_spec
class AdversarialSection(PgdTraining):
    """datasets.<d>.adversarial: the adversarially trained baselines."""

    eps: float = setting(0.2, lo=0, hi=1, lo_open=True, doc=_EPS)
    fields: tuple[str, ...] = setting(("real",), choices=FIELDS, unique=True,
                                      doc="fields that get an adversarially trained model (seed = seeds.source)")


def _pgd_matches_model(spec: "TrainSpec") -> Iterator[tuple[str, str, str]]:
    if (spec.model.defense == "adv") != (spec.pgd is not None):
        yield "pgd", f"{spec.model} {'needs' if spec.pgd is None else 'takes no'} PGD settings", \
            "PGD settings exactly for adversarially trained models"


@_spec
class TrainSpec(Training):
    """Job spec of stage train: one model of the study."""

    CHECKS = (_pgd_matches_model,)

    dataset: str = setting(doc="the dataset's name (recorded in the model file)")
    model: ModelId = setting(doc="the model: field, defense and strength, seed")
    arch: str = setting("small_cnn", choices=ARCHITECTURES, doc="the architecture")
    pgd: PgdTraining | None = setting(None, doc="PGD settings of an adversarially trained model")

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

@_spec
class AttackSpec(Spec):
    """Job spec of stage attack: adversarial examples crafted on one model."""

    attack: AttackId = setting(AttackId("fgsm"), doc="the attack")
    eps: float = setting(doc=_EPS, lo=0, hi=1)
    images: int = setting(1000, lo=1, doc=_IMAGES)


@_spec
class TransferSection(Spec):
    """datasets.<d>.transfer: the black-box FGSM transfer table."""

    beta: float = setting(lo=0, lo_open=True, doc="the G.R. strength of the table's G.R. models")
    eps: float = setting(lo=0, hi=1, doc=_EPS)
    images: int = setting(lo=1, doc=_IMAGES)


@_spec
class WhiteboxSettings(Spec):
    """What every white-box sweep of a dataset shares."""

    eps: tuple[float, ...] = setting(GRID_28, lo=0, hi=1, min_items=1, unique=True, doc="the epsilon grid")
    images: int = setting(1000, lo=1, doc=_IMAGES)
    random_start: bool = setting(False, doc="uniform random start of PGD in the eps-ball")


def _gradient_attacks_only(spec: "WhiteboxSection") -> Iterator[tuple[str, str, str]]:
    for i, attack in enumerate(spec.attacks):
        if attack.kind not in ("fgsm", "pgd"):
            yield f"attacks[{i}]", f"{attack.name} belongs to the audit section (it has its settings there)", \
                "fgsm, pgd<k>"


@_spec
class WhiteboxSection(WhiteboxSettings):
    """datasets.<d>.whitebox: the paper's accuracy-vs-eps sweeps of every source-seed model."""

    CHECKS = (_gradient_attacks_only,)

    attacks: tuple[AttackId, ...] = setting(min_items=1, unique=True, doc="the attacks (fgsm, pgd<k>), each a "
                                                                            "sweep per model")


#: The attack kinds each option of a white-box spec applies to; for every other attack it is off.
ATTACK_OPTIONS: dict[str, tuple[str, ...]] = {"random_start": ("pgd",), "apgd_steps": ("apgd-ce", "apgd-dlr"),
                                               "square_queries": ("square",)}


def _options_match_attack(spec: "WhiteboxSpec") -> Iterator[tuple[str, str, str]]:
    for key in ("apgd_steps", "square_queries"):
        kinds = ATTACK_OPTIONS[key]
        wanted = spec.attack.kind in kinds
        if wanted != (getattr(spec, key) is not None):
            yield key, f"{'missing' if wanted else 'set'} for {spec.attack.name}", \
                f"a value exactly for {', '.join(kinds)}"


@_spec
class WhiteboxSpec(WhiteboxSettings):
    """Job spec of stage whitebox (and of the audit): one model under one attack over the grid."""

    CHECKS = (_options_match_attack,)

    attack: AttackId = setting(AttackId("fgsm"), doc="the attack")
    apgd_steps: int | None = setting(None, lo=1, doc="APGD iterations (APGD-CE, APGD-DLR only)")
    square_queries: int | None = setting(None, lo=3, doc="Square's model rows per image, all counted "
                                                         "(Square only)")

    @classmethod
    def for_attack(cls, attack: AttackId | str, *, random_start: bool = False, apgd_steps: int = 100,
                   square_queries: int = 5000, **rest: Any) -> "WhiteboxSpec":
        """The spec of ``attack`` with only the options it uses (:data:`ATTACK_OPTIONS`); the others are off.

        An option of one attack is then in no other attack's spec, so changing it reruns exactly that
        attack's jobs. The config and the command line build their white-box specs here; the defaults
        are the command line's (the config's audit section always sets them).
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        attack = check_value(attack, AttackId, rule_of(fields["attack"]), "attack")
        given = {"random_start": random_start, "apgd_steps": apgd_steps, "square_queries": square_queries}
        options = {k: v if attack.kind in ATTACK_OPTIONS[k] else fields[k].default for k, v in given.items()}
        return cls(attack=attack, **options, **rest)


def _one_pgd_baseline(spec: "AuditSection") -> Iterator[tuple[str, str, str]]:
    pgd = [a.name for a in spec.attacks if a.kind == "pgd"]
    if len(pgd) != 1:
        yield "attacks", f"{len(pgd)} PGD attacks ({', '.join(pgd) or 'none'})", \
            "exactly one pgd<k>: the baseline every flag compares with"


def _sweep_above_eps(spec: "AuditSection") -> Iterator[tuple[str, str, str]]:
    for i, e in enumerate(spec.sweep):
        if e <= spec.eps:
            yield f"sweep[{i}]", f"{e:g} is not above eps {spec.eps:g}", f"eps larger than {spec.eps:g} (up to 0.5)"


@_spec
class AuditSection(Spec):
    """datasets.<d>.audit: the gradient-masking audit of every trained model (docs/AUDIT.md)."""

    CHECKS = (_one_pgd_baseline, _sweep_above_eps)

    attacks: tuple[AttackId, ...] = setting(min_items=1, unique=True,
                                            doc="the attacks at eps: one pgd<k> baseline and any of fgsm, "
                                                "apgd-ce, apgd-dlr, square")
    eps: float = setting(lo=0, lo_open=True, hi=1, doc="the masking table's eps (the paper's: the transfer eps)")
    sweep: tuple[float, ...] = setting(lo=0, lo_open=True, hi=1, unique=True,
                                       doc="larger eps (up to 0.5) at which fgsm and pgd also run, for the "
                                           "falls-towards-chance flag")
    images: int = setting(lo=1, doc="the first N test images, the same for every attack")
    random_start: bool = setting(doc="uniform random start of PGD in the eps-ball")
    apgd_steps: int = setting(lo=1, doc="APGD iterations")
    square_queries: int = setting(lo=3, doc="Square's model rows per image, all counted")
    models: tuple[ModelId, ...] | None = setting(None, optional=True, min_items=1, unique=True,
                                                 doc="the models audited; left out or null: every trained model")


def _queries_fit_steps(spec: "NesSpec") -> Iterator[tuple[str, str, str]]:
    if spec.queries % (2 * spec.steps):
        yield "queries", f"{spec.queries} is not a multiple of 2 * steps = {2 * spec.steps}", \
            f"multiples of {2 * spec.steps}"


@_spec
class NesSpec(Spec):
    """Job spec of stage nes: the NES query attack (queries per image = steps x 2 x samples)."""

    CHECKS = (_queries_fit_steps,)

    eps: float = setting(0.16, lo=0, hi=1, doc=_EPS)
    steps: int = setting(8, lo=1, doc="PGD steps on the estimated gradient")
    queries: int = setting(4000, lo=2, doc="queries per image, a multiple of 2 * steps")
    sigma: float = setting(0.001, lo=0, lo_open=True, doc="scale of the query directions")
    images: int = setting(1000, lo=1, doc=_IMAGES)
    chunk: int | None = setting(None, lo=2, doc="query rows per forward pass, or null for the device's default "
                                                "(the random stream, hence the result, depends on it)")
    score: str = setting("output", choices=NES_SCORES,
                         doc="the objective NES estimates: output = the true class's raw output (the authors'), "
                             "cross_entropy = the cross-entropy")

    @property
    def samples(self) -> int:
        """Directions per step: queries / (2 steps)."""
        return self.queries // (2 * self.steps)


@_spec
class NesSection(NesSpec):
    """datasets.<d>.nes: the query-based attack and the models it attacks."""

    models: tuple[ModelId, ...] = setting(min_items=1, unique=True, doc="the models attacked")


def _frontier_grid(spec: "FrontierSection") -> Iterator[tuple[str, str, str]]:
    from .frontier import check_grid  # the frontier's own rule (numpy-backed), loaded only for a frontier
    try:
        check_grid(spec.betas, "betas")
    except SpecError as err:
        yield err.key, err.problem, err.allowed


@_spec
class FrontierSection(Spec):
    """datasets.<d>.frontier: G.R. nets over a beta grid for both fields, attacked by the audit (METHOD.md 7.1)."""

    CHECKS = (_frontier_grid,)

    betas: tuple[float, ...] = setting(lo=0, min_items=1, unique=True,
                                       doc="G.R. strengths of each field's frontier, at least two (0 = the std net)")
    seeds: tuple[int, ...] = setting(lo=0, min_items=1, unique=True, doc="training seeds of every frontier model")
    replicates: int = setting(2000, lo=1, optional=True,
                              doc="bootstrap replicates (over seeds and images) of the 95% intervals")


# ----------------------------------------------------------------------------- the config

@_spec
class Archs(Spec):
    """The architecture of each field."""

    real: str = setting(choices=ARCHITECTURES, doc="architecture of the real-valued nets")
    complex: str = setting(choices=ARCHITECTURES, doc="architecture of the complex-valued nets")


def _distinct_seeds(spec: "Seeds") -> Iterator[tuple[str, str, str]]:
    if spec.source == spec.target:
        yield "target", f"equals seeds.source ({spec.source})", "a seed other than seeds.source"


@_spec
class Seeds(Spec):
    """The seeds of the first (source) and second (target) copy of each model."""

    CHECKS = (_distinct_seeds,)

    source: int = setting(lo=0, doc="seed of the source copies")
    target: int = setting(lo=0, doc="seed of the target copies")


def _adversarial_nes_models(spec: "DatasetSection") -> Iterator[tuple[str, str, str]]:
    listed = [("nes", spec.nes.models if spec.nes else ()), ("audit", (spec.audit and spec.audit.models) or ())]
    for section, models in listed:
        for i, model in enumerate(models):
            if model.defense == "adv" and spec.adversarial is None:
                yield f"{section}.models[{i}]", f"{model.name!r} is adversarially trained but the dataset has no " \
                    "adversarial section", "std or gr models, or add an adversarial section"


def _frontier_needs_audit(spec: "DatasetSection") -> Iterator[tuple[str, str, str]]:
    if spec.frontier is not None and spec.audit is None:
        yield "frontier", "needs the audit section (its attacks give each model's robust accuracy)", \
            "a frontier together with an audit section, or no frontier"


@_spec
class DatasetSection(Spec):
    """datasets.<d>: one dataset of the study; a stage section left out is a stage not run."""

    CHECKS = (_adversarial_nes_models, _frontier_needs_audit)

    raw_dir: str | None = setting(doc="folder with the raw dataset files, or null for cvgr's default location")
    download: bool = setting(doc="fetch the raw files when they are absent")
    arch: Archs = setting(doc="the architecture of each field")
    betas: tuple[float, ...] = setting(lo=0, min_items=1, unique=True,
                                       doc="G.R. strengths to train for each field (0 = standard training)")
    seeds: Seeds = setting(doc="seeds of the two copies of each model")
    training: Training = setting(doc="how every model of the dataset is trained")
    adversarial: AdversarialSection | None = setting(None, optional=True, doc="PGD adversarial training")
    transfer: TransferSection | None = setting(None, optional=True, doc="the black-box FGSM transfer table")
    whitebox: WhiteboxSection | None = setting(None, optional=True, doc="white-box accuracy-vs-eps sweeps")
    nes: NesSection | None = setting(None, optional=True, doc="the query-based NES attack")
    audit: AuditSection | None = setting(None, optional=True, doc="the gradient-masking audit")
    frontier: FrontierSection | None = setting(None, optional=True,
                                               doc="the robustness-accuracy frontier of both fields")


def _run_matches_sections(spec: "Config") -> Iterator[tuple[str, str, str]]:
    if spec.run is None:
        return
    run = ", ".join(spec.run)
    for i, name in enumerate(spec.run):
        if name not in spec.datasets:
            yield f"run[{i}]", f"{name} has no section datasets.{name}", f"add that section or drop {name} from run"
    for name in spec.datasets:
        if name not in spec.run:
            yield f"datasets.{name}", f"{name} is not in run [{run}], so this section would apply nowhere", \
                f"add {name} to run or remove the section"


@_spec
class Config(Runtime):
    """The workflow's configuration file."""

    CHECKS = (_run_matches_sections,)

    attack_seed: int = setting(0, lo=0, doc="seed of the attacks' randomness (PGD random start, NES directions)")
    run: tuple[str, ...] | None = setting(None, optional=True, choices=DATASETS, min_items=1, unique=True,
                                          doc="the datasets the study runs, in table order; only their sections "
                                              "of datasets apply (default: every section)")
    datasets: dict[str, DatasetSection] = setting(choices=DATASETS, doc="one section per dataset of the study")

    @property
    def selected(self) -> list[str]:
        """The datasets the study runs, in order: ``run``, or every section in file order."""
        return list(self.run if self.run is not None else self.datasets)

    @property
    def runtime(self) -> Runtime:
        return Runtime(**shared_fields(self, Runtime))

