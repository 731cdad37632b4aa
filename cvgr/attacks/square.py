"""Square (Andriushchenko et al., ECCV 2020) from torchattacks: a black-box random search.

A random search over vertices of the eps-ball that queries only the model's
outputs (the margin ``z_y - max_{k != y} z_k``) and keeps a proposal when the
margin falls. ``square_queries`` is the budget of model rows per image,
*everything counted*: the library spends
:data:`cvgr.attacks.library.SQUARE_OVERHEAD` = 3 rows on bookkeeping (the clean
check, the first guess, the final check) and ``square_queries - 3`` on the
search, so an image never costs more than ``square_queries`` rows (an image
misclassified clean costs 1). How the library is called (seeds, mode, device):
:mod:`cvgr.attacks.library`. Torch and the library are imported when it runs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import AttackKind, register

if TYPE_CHECKING:
    from types import ModuleType

    import torch
    from torch import Tensor, nn


def square(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, square_queries: int = 5000,
           p_init: float = 0.8, generator: torch.Generator | None = None) -> Tensor:
    """Square: ``torchattacks.Square(norm='Linf', loss='margin', n_restarts=1, n_queries=square_queries - 3)``.

    At most ``square_queries`` model rows per image, all counted (see the
    module docstring); ``square_queries >= 3``. ``p_init`` is the first
    square's share of the image's pixels (0.8, the authors' L-infinity value),
    shrunk on the library's schedule rescaled to the budget.
    """
    from .library import SQUARE_OVERHEAD, check, run_library_attack
    check(eps, square_queries=(square_queries, SQUARE_OVERHEAD))
    if not 0 < p_init <= 1:
        raise ValueError(f"p_init must be in (0, 1], got {p_init}")

    def make(lib: ModuleType, view: nn.Module, seed: int) -> object:
        return lib.Square(view, norm="Linf", eps=eps, n_queries=square_queries - SQUARE_OVERHEAD, n_restarts=1,
                          p_init=p_init, loss="margin", resc_schedule=True, seed=seed, verbose=False)

    return run_library_attack(make, model, x, y, generator)


register(AttackKind("square", "Square", square, white_box=False, options={"square_queries": 5000}))
