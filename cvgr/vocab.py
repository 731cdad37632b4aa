"""The words of cvgr, in one place: datasets, fields, architectures, defenses, attacks, devices.

Everything that names a thing of the study reads it from here: the config
specs and the generated schema (:mod:`cvgr.study.specs`), the command line's
choices, the workflow's wildcard patterns, the tables' and figures' labels
and their order. The datasets, architectures and defenses are declared in
their registries (:mod:`cvgr.datasets`, :mod:`cvgr.nets`,
:mod:`cvgr.defenses`); their words here are live views of those, so a name a
plugin registers is a word too. The module imports nothing heavy, so table
jobs start fast.

Two grammars live here too:

* **model names** ``{field}-{defense}-s{seed}`` (:class:`ModelId`): ``field``
  is ``real`` or ``complex``; ``defense`` is a registered defense's tag:
  ``std`` (plain training), ``gr{beta}`` (gradient regularization with that
  beta) or ``adv{eps}`` (PGD adversarial training at that epsilon); e.g. ``complex-gr64-s0``,
  ``real-adv0.2-s0``. Numbers are written in their shortest form, so a name
  round-trips.
* **attack names** (:class:`AttackId`): those of the attack registry
  (:mod:`cvgr.attacks.registry`), e.g. ``fgsm``, ``pgd<k>`` (``k >= 1`` PGD
  steps, e.g. ``pgd10``), ``apgd-ce``, ``apgd-dlr`` and ``square``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

# The attacks package registers the built-in attacks (their modules import torch only when an attack
# runs); whatever reads the names depends on their registrations, so its code hash holds them.
from . import attacks as _attacks  # noqa: F401
from .attacks.registry import NES_SCORES, AttackKind, forms as _forms, get as _kind, kinds as _kinds, option_defaults, \
    option_users, parse as _parse, pattern as _pattern

from .datasets import DATASETS as _DATASET_REGISTRY, PAPER_DATASETS as _PAPER_DATASETS
from .defenses import DEFENSES as _DEFENSE_REGISTRY
from .nets import ARCHITECTURES as _ARCH_REGISTRY

#: Datasets (:mod:`cvgr.datasets`, a live view), in the order of the tables' columns: the paper's first.
DATASETS = _DATASET_REGISTRY.names
#: The datasets the paper reports results on.
PAPER_DATASETS = _PAPER_DATASETS
DATASET_LABELS = _DATASET_REGISTRY.attribute("label")
DATASET_PROSE = _DATASET_REGISTRY.attribute("prose")

#: The two kinds of network: ordinary real-valued, and phase-to-magnitude complex-valued.
FIELDS = ("real", "complex")
FIELD_LETTERS = {"real": "R", "complex": "C"}
FIELD_PROSE = {"real": "real-valued", "complex": "complex-valued"}

#: Registered architectures (:mod:`cvgr.nets`, a live view; cvgr.nn.architectures implements the built-in ones).
ARCHITECTURES = _ARCH_REGISTRY.names

#: How complex layers are differentiated a second time (cvgr.nn.complex).
MODES = ("paper", "exact")

#: The biases of real nets (cvgr.nn.architectures): ``cvgr`` zero at initialisation and added once;
#: ``authors`` as the method's published code has them (convolution bias added twice, linear bias
#: initialised U(+-1/sqrt(2 fan_in))).
REAL_BIASES = ("cvgr", "authors")

#: Where jobs compute; ``auto`` = cuda when torch sees a GPU, else cpu.
DEVICES = ("auto", "cpu", "cuda")

#: What NES reads from a query (:data:`cvgr.attacks.registry.NES_SCORES`), in prose.
NES_SCORE_PROSE = {"output": "the true class's raw output (logit or magnitude)",
                   "cross_entropy": "the cross-entropy (the true class's log-softmax)"}

#: Training defenses (:mod:`cvgr.defenses`, a live view): plain, gradient regularization, PGD adversarial training.
DEFENSES = _DEFENSE_REGISTRY.names
DEFENSE_LABELS = _DEFENSE_REGISTRY.attribute("label")
#: The defense of plain training, the one :meth:`ModelId.of` gives without a strength.
PLAIN_DEFENSE = "std"

#: Attacks: the registry (:mod:`cvgr.attacks.registry`) is their one list; the names below are derived
#: from it when read (module ``__getattr__``), so an attack registered later (a plugin) is in them.
_ATTACK_WORDS = {
    "FIXED_ATTACKS": lambda: tuple(k.name for k in _kinds() if k.parameter is None),
    "ATTACK_PATTERN": _pattern,
    "ATTACK_FORMS": _forms,
    #: The gradient attacks, those of the white-box sweeps; the audit also runs the others.
    "GRADIENT_ATTACK_PATTERN": lambda: _pattern(gradient_only=True),
    "GRADIENT_ATTACK_FORMS": lambda: _forms(gradient_only=True),
}


def attack_pattern(*, gradient_only: bool = False) -> str:
    """The regular expression of every registered attack name (of the gradient attacks only)."""
    return _pattern(gradient_only=gradient_only)


def attack_forms(*, gradient_only: bool = False) -> str:
    """The registered attack names as a user writes them (of the gradient attacks only)."""
    return _forms(gradient_only=gradient_only)


def attack_option_defaults() -> dict[str, Any]:
    """Every config setting some attack takes -> its default (``random_start``, ``apgd_steps``, ...)."""
    return option_defaults()


def attack_option_users(option: str) -> tuple[str, ...]:
    """The attack kinds that take the setting ``option``."""
    return option_users(option)


def __getattr__(name: str) -> object:
    """``FIXED_ATTACKS``, ``ATTACK_PATTERN``, ``ATTACK_FORMS`` and the ``GRADIENT_`` ones, from the registry."""
    if name in _ATTACK_WORDS:
        return _ATTACK_WORDS[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The targets of a transfer table row: the source itself, then the other seed's copy of each model type.
TRANSFER_ROLES = {"self": "Self", "real-std": "R (Std.)", "complex-std": "C (Std.)",
                  "real-gr": "R (G.R.)", "complex-gr": "C (G.R.)"}

_NUM = r"(?:\d+(?:\.\d+)?)"


def defense_pattern() -> str:
    """Regex of the registered defense tags: ``std`` alone, the others followed by their strength."""
    tags = (re.escape(d.name) + (_NUM if d.strength else "") for _, d in _DEFENSE_REGISTRY.items())
    return "(?:" + "|".join(tags) + ")"


def model_pattern() -> str:
    """Regex of a model name ``{field}-{defense tag}-s{seed}``."""
    return rf"(?:{'|'.join(FIELDS)})-{defense_pattern()}-s\d+"


def model_form() -> str:
    """The model-name grammar in words, for messages."""
    tags = "|".join(d.name + (f"<{d.symbol}>" if d.strength else "") for _, d in _DEFENSE_REGISTRY.items())
    return f"model names {{{'|'.join(FIELDS)}}}-{{{tags}}}-s<seed>, e.g. complex-gr64-s0"


#: The patterns and the form of the built-in defenses; :meth:`ModelId.parse` reads the registry afresh.
DEFENSE_PATTERN = defense_pattern()
MODEL_PATTERN = model_pattern()
MODEL_FORM = model_form()


def _model_match(name: str) -> tuple[str, str, float, int] | None:
    """``'real-gr64-s0'`` -> ('real', 'gr', 64.0, 0); None if ``name`` is no model name."""
    m = re.fullmatch(rf"({'|'.join(FIELDS)})-({defense_pattern()})-s(\d+)", name)
    if not m:
        return None
    field, tag, seed = m.groups()
    for defense, entry in _DEFENSE_REGISTRY.items():
        if entry.strength is None and tag == defense:
            return field, defense, 0.0, int(seed)
        if entry.strength is not None and (num := re.fullmatch(rf"{re.escape(defense)}({_NUM})", tag)):
            return field, defense, float(num.group(1)), int(seed)
    return None


def fmt_number(x: float) -> str:
    """Shortest decimal form: 64.0 -> '64', 0.2 -> '0.2'."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def dataset_key(dataset: str) -> tuple[int, float, str]:
    """Sort key: the registered datasets in their order, then unregistered names alphabetically."""
    if dataset in _DATASET_REGISTRY:
        return (0, _DATASET_REGISTRY.position(dataset), dataset)
    return (1, 0.0, dataset)


def dataset_label(dataset: str) -> str:
    """Column heading of a dataset ('fmnist' -> 'FMNIST')."""
    return DATASET_LABELS.get(dataset, dataset.upper())


@dataclass(frozen=True, order=False)
class ModelId:
    """One trained model of the study: its field, defense and strength, and its seed."""

    FORM: ClassVar[str] = MODEL_FORM

    field: str
    defense: str      #: a registered defense: 'std' | 'gr' | 'adv'
    strength: float   #: beta for 'gr', epsilon for 'adv', 0 for 'std' (a defense without strength)
    seed: int

    def __post_init__(self) -> None:
        if self.field not in FIELDS or self.defense not in _DEFENSE_REGISTRY:
            raise ValueError(f"not a model: field {self.field!r}, defense {self.defense!r}")
        plain = _DEFENSE_REGISTRY.get(self.defense).strength is None
        if plain != (self.strength == 0) or self.strength < 0 or self.seed < 0:
            raise ValueError(f"not a model: {self.defense} with strength {self.strength}, seed {self.seed}")

    @classmethod
    def of(cls, field: str, *, seed: int = 0, **strength: float) -> "ModelId":
        """The model trained with one defense's strength, given by its keyword (``beta=64``, ``adv_eps=0.2``).

        No strength (or only zeros): plain training (:data:`PLAIN_DEFENSE`).
        """
        keywords = {d.strength: name for name, d in _DEFENSE_REGISTRY.items() if d.strength}
        if unknown := sorted(set(strength) - set(keywords)):
            raise TypeError(f"ModelId.of: unknown strength {', '.join(unknown)}; use one of {', '.join(keywords)}")
        given = {k: float(v) for k, v in strength.items() if v}
        if len(given) > 1:
            raise ValueError("a model is trained with one defense, not several: "
                             + ", ".join(f"{k}={v:g}" for k, v in given.items()))
        (keyword, value), = given.items() if given else ((None, 0.0),)
        return cls(field, keywords[keyword] if keyword else PLAIN_DEFENSE, value, int(seed))

    @classmethod
    def parse(cls, name: str) -> "ModelId":
        """``real-gr64-s0`` -> ModelId; ValueError naming the expected form."""
        parts = _model_match(name)
        if parts is None:
            raise ValueError(f"{name!r} is not a model name; allowed: {model_form()}")
        field, defense, value, seed = parts
        keyword = _DEFENSE_REGISTRY.get(defense).strength
        return cls.of(field, seed=seed, **({keyword: value} if keyword else {}))  # strength 0: plain training

    def strength_of(self, keyword: str) -> float:
        """The strength if this model's defense sets ``keyword`` ('beta', 'adv_eps'), else 0."""
        return self.strength if _DEFENSE_REGISTRY.get(self.defense).strength == keyword else 0.0

    @property
    def beta(self) -> float:
        """The G.R. strength (0 unless defense == 'gr')."""
        return self.strength_of("beta")

    @property
    def adv_eps(self) -> float:
        """The adversarial-training epsilon (0 unless defense == 'adv')."""
        return self.strength_of("adv_eps")

    @property
    def defense_tag(self) -> str:
        """'std', 'gr64', 'adv0.2', ..."""
        plain = _DEFENSE_REGISTRY.get(self.defense).strength is None
        return self.defense if plain else f"{self.defense}{fmt_number(self.strength)}"

    @property
    def kind(self) -> str:
        """The model type without strength and seed: 'real-std', 'complex-gr', ..."""
        return f"{self.field}-{self.defense}"

    @property
    def name(self) -> str:
        return f"{self.field}-{self.defense_tag}-s{self.seed}"

    def __str__(self) -> str:
        return self.name

    def with_seed(self, seed: int) -> "ModelId":
        return ModelId(self.field, self.defense, self.strength, seed)

    def sort_key(self) -> tuple[int, float, float, int]:
        """Real before complex; the defenses in their order (std, gr, adv); then strength; then seed."""
        return (FIELDS.index(self.field), _DEFENSE_REGISTRY.position(self.defense), self.strength, self.seed)


class _AttackForms:
    """``AttackId.FORM``: the registry's forms when read, so a plugin's attack is among them."""

    def __get__(self, obj: Any, owner: type) -> str:
        return _forms()


@dataclass(frozen=True)
class AttackId:
    """An attack name: a registered ``kind`` (:mod:`cvgr.attacks.registry`) and a family's integer.

    ``steps`` is the family's parameter (PGD's step count, ``pgd10``); 1 for a fixed name.
    """

    FORM: ClassVar[str] = _AttackForms()  # type: ignore[assignment]

    kind: str
    steps: int = 1

    def __post_init__(self) -> None:
        _kind(self.kind)  # ValueError naming the registered attacks

    @classmethod
    def parse(cls, name: str) -> "AttackId":
        """``'pgd10'`` -> AttackId('pgd', 10); ValueError naming the allowed forms."""
        kind, k = _parse(name)
        return cls(kind.name) if k is None else cls(kind.name, k)

    @property
    def record(self) -> AttackKind:
        """The registry's record of the kind: label, function, options, ..."""
        return _kind(self.kind)

    @property
    def name(self) -> str:
        return f"{self.kind}{self.steps}" if self.record.parameter else self.kind

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """'FGSM', 'PGD-10', 'APGD-CE', ...: the kind's label, with a family's integer."""
        record = self.record
        return f"{record.label}-{self.steps}" if record.parameter else record.label

    @property
    def gradient(self) -> bool:
        """True for the gradient attacks, those of the white-box sweeps."""
        return self.record.gradient

    @property
    def white_box(self) -> bool:
        """False for the score-based (query) attacks."""
        return self.record.white_box

    @property
    def options(self) -> tuple[str, ...]:
        """The config settings the attack takes (``random_start`` for PGD, ``apgd_steps`` for APGD, ...)."""
        return tuple(self.record.options)

    def sort_key(self) -> tuple[int, int]:
        """Registration order (fgsm, pgd<k>, apgd-ce, apgd-dlr, square, then plugins), then the integer."""
        return ([k.name for k in _kinds()].index(self.kind), self.steps)


def transfer_role(source: ModelId, target: ModelId) -> str:
    """The role of ``target`` in ``source``'s table row.

    'self' for the source itself; the target's kind ('real-gr', ...) for a copy
    of another seed; 'same-seed' for another model of the source's seed, which
    is no independent copy and has no place in the table.
    """
    if target == source:
        return "self"
    return "same-seed" if target.seed == source.seed else target.kind
