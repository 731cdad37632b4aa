"""How cvgr calls torchattacks 3.5.1 (APGD-CE, APGD-DLR, Square: :mod:`.apgd`, :mod:`.square`).

The audit's library attacks (docs/AUDIT.md) are the library's own code, called
with the attacks' one signature (:mod:`cvgr.attacks.registry`)::

    attack(model, x, y, eps, *, <attack options>, generator=None) -> x_adv

``x`` in [0, 1], L-infinity, untargeted; the result is detached, in [0, 1]
and within ``eps`` of ``x``, on ``x``'s device.

* APGD (Croce & Hein, ICML 2020): ``steps`` sign-gradient steps of an
  adaptive size (starting at ``2 eps``, halved when the loss stalls) with
  momentum 0.75, from a random start in the eps-ball, on the loss ``CE`` or
  ``DLR = -(z_y - max_{k != y} z_k) / (z_pi1 - z_pi3)`` (``z_pi1 >= z_pi2 >=
  z_pi3`` the largest logits; DLR needs >= 3 classes). Only images the model
  classifies correctly are attacked; an image is replaced by the first
  iterate that the model misclassifies, and is returned unchanged otherwise.
* Square (Andriushchenko et al., ECCV 2020): a random search over vertices
  of the eps-ball that queries only the model's outputs (the margin
  ``z_y - max_{k != y} z_k``) and keeps a proposal when the margin falls.
  ``queries`` is the budget of model rows per image, *everything counted*:
  the library spends :data:`SQUARE_OVERHEAD` = 3 rows on bookkeeping (the
  clean check, the first guess, the final check) and ``queries - 3`` on the
  search, so an image never costs more than ``queries`` rows (an image that
  is misclassified clean costs 1). Wrap the model in
  :class:`cvgr.attacks.core.QueryCounter` to measure what was spent.

Complex nets' logits are magnitudes (non-negative); CE, DLR and the margin
treat them as logits, as cvgr's own CE does.

How the library is held (checked in its source, torchattacks 3.5.1)
------------------------------------------------------------------
* **Randomness.** The library reseeds torch's *global* RNGs
  (``torch.manual_seed`` and the current GPU's) with its ``seed`` argument
  and draws all its noise from the global CPU generator, moving it to the
  model's device. The wrappers draw that seed from ``generator`` (one
  integer; ``None`` uses torch's global RNG of ``x``'s device) and run the
  library inside :func:`torch.random.fork_rng` with the current GPU as the
  data's device, so the global RNG state outside the call is untouched. The
  same seed gives the same result; the random choices do not depend on the
  device the data is on, only on the seed drawn.
* **Model mode.** The library calls ``model.eval()`` (and ``model.train()``
  after, if the model was training). The wrappers hand it a view of the
  model whose ``train``/``eval`` do nothing, so, as with cvgr's attacks, the
  model's mode is the caller's business and is never changed.
* **Parameters** are frozen (:func:`cvgr.attacks.core.frozen`) during the call, so
  the library's ``autograd.grad`` computes no weight gradients (the complex
  layers' paper-mode backward would otherwise compute ones nobody reads).
* **Device** is ``x``'s (the library is told it; it would otherwise take it
  from the first parameter and print a line for a model without any).

Importing this module does not import torchattacks: a missing library stops
the first attack with one :class:`cvgr.errors.CvgrError` line naming the
install command.
"""
from __future__ import annotations

import contextlib
import importlib
import io
from types import ModuleType
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from ..errors import CvgrError
from .core import frozen

#: The version the audit was written and tested against.
TORCHATTACKS_VERSION = "3.5.1"
INSTALL_HINT = f"pip install --no-deps torchattacks=={TORCHATTACKS_VERSION} (tools/setup.sh does this)"
#: Model rows per image that Square spends besides its search: clean check, first guess, final check.
SQUARE_OVERHEAD = 3
_SEED_HIGH = 2 ** 62


def torchattacks() -> ModuleType:
    """The torchattacks module, version 3.5.1, or one :class:`CvgrError` line naming the install command.

    Other versions are refused: Square's query accounting
    (:data:`SQUARE_OVERHEAD`) and the seeding were checked in 3.5.1's source.
    """
    try:
        lib = importlib.import_module("torchattacks")
    except ImportError as err:
        raise CvgrError(f"the audit attacks (APGD, Square) need the torchattacks package, which cannot be "
                        f"imported ({err}): install it with {INSTALL_HINT}") from None
    version = getattr(lib, "__version__", "unknown")
    if version != TORCHATTACKS_VERSION:
        raise CvgrError(f"the audit attacks were checked against torchattacks {TORCHATTACKS_VERSION}, found "
                        f"{version}: install it with {INSTALL_HINT}")
    return lib


class _ModeLocked(nn.Module):
    """``model`` as the library sees it: same outputs, but ``train()``/``eval()`` change nothing."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.training = False  # the library then never calls train() afterwards

    def train(self, mode: bool = True) -> "_ModeLocked":
        return self

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def library_seed(generator: torch.Generator | None, device: torch.device) -> int:
    """One integer in ``[0, 2^62)`` drawn from ``generator`` (``None``: torch's global RNG of ``device``)."""
    where = device if generator is None else generator.device
    return int(torch.randint(_SEED_HIGH, (1,), generator=generator, device=where).item())


@contextlib.contextmanager
def isolated_rng(device: torch.device) -> Iterator[None]:
    """Run a block that reseeds torch's global RNGs; restore them after.

    Forks the CPU generator and, when CUDA is available, the generator of the
    GPU that is current inside the block (``device``'s GPU for CUDA data, else
    the current one): the library seeds "the current GPU", and an unforked
    seed would also be queued for a CUDA context created later. With CUDA
    available, this initializes CUDA even for CPU data.
    """
    if device.type == "cuda":
        with torch.cuda.device(device), torch.random.fork_rng(devices=[torch.cuda.current_device()],
                                                              device_type="cuda"):
            yield
    elif torch.cuda.is_available():
        with torch.random.fork_rng(devices=[torch.cuda.current_device()], device_type="cuda"):
            yield
    else:
        with torch.random.fork_rng(devices=[], device_type="cuda"):
            yield


def check(eps: float, **counts: tuple[int, int]) -> None:
    """Refuse ``eps < 0`` and any count below its least value: ``counts[name] = (value, least)``."""
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    for name, (value, least) in counts.items():
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")


def run_library_attack(make: Callable[[ModuleType, nn.Module, int], object], model: nn.Module, x: Tensor,
                       y: Tensor, generator: torch.Generator | None) -> Tensor:
    """``make(torchattacks, model_view, seed)(x, y)``, seeded from ``generator``, isolated, detached.

    The shared part of every wrapper: the library seed drawn from
    ``generator``, global RNGs forked, the model's mode locked and its
    parameters frozen, the device set to ``x``'s.
    """
    lib = torchattacks()
    x, y = x.detach(), y.detach()
    seed = library_seed(generator, x.device)
    view = _ModeLocked(model)
    with contextlib.redirect_stdout(io.StringIO()):  # the library prints when a model has no parameters
        attack = make(lib, view, seed)
    attack.set_device(x.device)
    with isolated_rng(x.device), frozen(model):
        x_adv = attack(x, y)
    return x_adv.detach()
