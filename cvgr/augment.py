"""Training-time augmentation (docs/METHOD.md section 2.5), vectorised over the batch.

Per dataset: Fashion-MNIST random horizontal flip + random crop 28 with pad 1
(edge); CIFAR-10 random flip + random crop 32 with pad 4 (edge); MNIST and
SVHN none. "Random crop with pad p (edge)" = replicate-pad each image by p
pixels and cut a window of the original size at a uniform offset in
[0, 2p] x [0, 2p]. Randomness comes only from the given generator, so a run is
reproducible and a resumed run draws the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Augmentation:
    flip: bool
    pad: int


AUGMENTATIONS: dict[str, Augmentation | None] = {
    "fmnist": Augmentation(flip=True, pad=1),
    "cifar10": Augmentation(flip=True, pad=4),
    "mnist": None,
    "svhn": None,
}


def augment_batch(x: Tensor, aug: Augmentation | None, generator: torch.Generator) -> Tensor:
    """Randomly flip (p = 1/2) and edge-pad-crop each image of ``x`` (B, C, H, W)."""
    if aug is None:
        return x
    b, _, h, w = x.shape
    if aug.flip:
        flip = torch.rand(b, generator=generator) < 0.5
        x = torch.where(flip.view(b, 1, 1, 1).to(x.device), x.flip(3), x)
    if aug.pad:
        p = aug.pad
        padded = F.pad(x, (p, p, p, p), mode="replicate")
        dy = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(x.device)
        rows = (dy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1)
        cols = (dx.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w)
        bi = torch.arange(b, device=x.device).view(b, 1, 1, 1)
        ci = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
        x = padded[bi, ci, rows, cols]
    return x
