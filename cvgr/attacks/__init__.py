"""cvgr's attacks: one module per attack, each ending in its registration (:mod:`.registry`).

The package imports the registry and the built-in attacks (FGSM, PGD, APGD-CE,
APGD-DLR, Square) without importing torch; an attack's module imports torch
when the attack runs. Shared math: :mod:`.core`; how torchattacks is called:
:mod:`.library`; NES (its own stage, not a registered attack): :mod:`.nes`.
A new attack is one module ending in ``register(AttackKind(...))``, here or in
a plugin (docs/EXTENDING.md).
"""
# Each module registers its attack(s) on import; this order is the tables' order.
from . import fgsm, pgd, apgd, square  # noqa: F401, I001
from .registry import AttackKind, register, unregister

__all__ = ["AttackKind", "register", "unregister"]
