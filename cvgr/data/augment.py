"""Training-time augmentation (docs/METHOD.md section 2.5), vectorised over the batch.

Each registered dataset names its augmentation (:mod:`cvgr.datasets`): Fashion-MNIST random horizontal flip + random crop 28 with pad 1
(edge); CIFAR-10 random flip + random crop 32 with pad 4 (edge); MNIST and
SVHN none. "Random crop with pad p (edge)" = replicate-pad each image by p
pixels and cut a window of the original size at a uniform offset in
[0, 2p] x [0, 2p]. Randomness comes only from the given generator, so a run is
reproducible and a resumed run draws the same numbers. The draws (:func:`draw`,
always on a CPU generator) and their application (:func:`apply`, on the data's
device) are separate, so a GPU run can draw an epoch's numbers exactly as the
CPU run does and apply them to data that stays on the GPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..datasets import DATASETS, Augmentation

#: Each registered dataset's augmentation (None: none), a live view of :data:`cvgr.datasets.DATASETS`.
AUGMENTATIONS = DATASETS.attribute("augmentation")


@dataclass(frozen=True)
class Draws:
    """The random numbers of one augmentation: per image a flip (bool) and crop offsets ``dy``, ``dx`` (int64).

    A field is None when the augmentation does not use it.
    """

    flip: Tensor | None
    dy: Tensor | None
    dx: Tensor | None

    @staticmethod
    def cat(parts: list["Draws"]) -> "Draws":
        """The draws of consecutive batches as one set, in order."""
        return Draws(*(None if getattr(parts[0], k) is None else torch.cat([getattr(d, k) for d in parts])
                       for k in ("flip", "dy", "dx")))


def draw(b: int, aug: Augmentation, generator: torch.Generator) -> Draws:
    """The draws for ``b`` images, from ``generator`` in this order: flips ``rand(b) < 1/2``, then ``dy``, ``dx``."""
    flip = torch.rand(b, generator=generator) < 0.5 if aug.flip else None
    dy = dx = None
    if aug.pad:
        dy = torch.randint(0, 2 * aug.pad + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * aug.pad + 1, (b,), generator=generator)
    return Draws(flip, dy, dx)


def apply(x: Tensor, aug: Augmentation, draws: Draws) -> Tensor:
    """Flip and edge-pad-crop each image of ``x`` (B, C, H, W) as ``draws`` say; pure indexing, exact on any device.

    The draws may live on any device (the CPU, where :func:`draw` makes them): they move to ``x``'s here.
    """
    b, _, h, w = x.shape
    if aug.flip:
        x = torch.where(draws.flip.view(b, 1, 1, 1).to(x.device), x.flip(3), x)
    if aug.pad:
        p = aug.pad
        padded = F.pad(x, (p, p, p, p), mode="replicate")
        dy, dx = draws.dy.to(x.device), draws.dx.to(x.device)
        rows = (dy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1)
        cols = (dx.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w)
        bi = torch.arange(b, device=x.device).view(b, 1, 1, 1)
        ci = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
        x = padded[bi, ci, rows, cols]
    return x


def augment_batch(x: Tensor, aug: Augmentation | None, generator: torch.Generator) -> Tensor:
    """Randomly flip (p = 1/2) and edge-pad-crop each image of ``x`` (B, C, H, W): :func:`draw` then :func:`apply`."""
    if aug is None:
        return x
    return apply(x, aug, draw(x.shape[0], aug, generator))
