"""Model identifiers: ``{field}-{defense}-s{seed}``.

``field`` is ``real`` or ``complex``; ``defense`` is ``std`` (plain training),
``gr{beta}`` (gradient regularization with that beta) or ``adv{eps}`` (PGD
adversarial training at that epsilon). Examples: ``complex-gr64-s0``,
``real-adv0.2-s0``, ``real-std-s1``. Numbers are written in their shortest
form (``64``, not ``64.0``), so a name round-trips through :func:`parse`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FIELDS = ("real", "complex")
_NUM = r"(?:\d+(?:\.\d+)?)"
DEFENSE_PATTERN = rf"(?:std|gr{_NUM}|adv{_NUM})"
MODEL_PATTERN = rf"(?:real|complex)-{DEFENSE_PATTERN}-s\d+"
_MODEL_RE = re.compile(rf"^(real|complex)-(std|gr({_NUM})|adv({_NUM}))-s(\d+)$")


def fmt_number(x: float) -> str:
    """Shortest decimal form: 64.0 -> '64', 0.2 -> '0.2'."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


@dataclass(frozen=True)
class ModelId:
    """One trained model of the study."""

    field: str
    defense: str  # 'std' | 'gr' | 'adv'
    value: float  # beta for 'gr', epsilon for 'adv', 0 for 'std'
    seed: int

    @property
    def beta(self) -> float:
        """The G.R. strength (0 unless defense == 'gr')."""
        return self.value if self.defense == "gr" else 0.0

    @property
    def adv_eps(self) -> float:
        """The adversarial-training epsilon (0 unless defense == 'adv')."""
        return self.value if self.defense == "adv" else 0.0

    @property
    def defense_tag(self) -> str:
        """'std', 'gr64', 'adv0.2', ..."""
        return "std" if self.defense == "std" else f"{self.defense}{fmt_number(self.value)}"

    def __str__(self) -> str:
        return f"{self.field}-{self.defense_tag}-s{self.seed}"

    def with_seed(self, seed: int) -> "ModelId":
        return ModelId(self.field, self.defense, self.value, seed)


def model_id(field: str, beta: float = 0.0, seed: int = 0, adv_eps: float = 0.0) -> ModelId:
    """The id of a model trained with G.R. strength ``beta`` or adversarial epsilon ``adv_eps``."""
    if beta and adv_eps:
        raise ValueError("a model is trained with G.R. or adversarially, not both")
    if adv_eps:
        return ModelId(field, "adv", float(adv_eps), int(seed))
    if beta:
        return ModelId(field, "gr", float(beta), int(seed))
    return ModelId(field, "std", 0.0, int(seed))


def parse(name: str) -> ModelId:
    """Parse ``real-gr64-s0`` into a :class:`ModelId`; ValueError names the expected form."""
    m = _MODEL_RE.match(name)
    if not m:
        raise ValueError(
            f"{name!r} is not a model name; expected {{real|complex}}-{{std|gr<beta>|adv<eps>}}-s<seed>, "
            "e.g. complex-gr64-s0"
        )
    field, tag, beta, eps, seed = m.groups()
    if tag == "std":
        return ModelId(field, "std", 0.0, int(seed))
    if beta is not None:
        return ModelId(field, "gr", float(beta), int(seed))
    return ModelId(field, "adv", float(eps), int(seed))
