"""Seeded randomness that knows the device: the one place cvgr makes random generators.

Every random draw of cvgr comes from a :class:`torch.Generator` made here,
seeded with ``seed * 1_000_003 + index``: ``index`` tells the streams of one
seed apart (the epoch of a training run, the position of an epsilon in a
white-box grid; 0 where there is one stream).

Where noise is drawn, and why
-----------------------------
* **Index draws** (the epoch's shuffle, flips and crop offsets) always come
  from a CPU generator (:func:`cpu_generator`). They are small, and drawing
  them on the CPU gives a CPU run and a GPU run of the same seed the same
  batches in the same order with the same augmentation.
* **Noise** (PGD's random start, NES's directions) is drawn by
  :func:`noise` on *the generator's device* and then moved to the data's
  device. The pipeline passes a generator on the compute device
  (:func:`generator`), so a GPU draws its own noise at GPU speed: NES needs
  hundreds of millions of Gaussian numbers per second, more than a CPU
  generator can feed. CPU (MT19937) and CUDA (Philox) generators produce
  different streams, so noise differs between a CPU and a GPU run of the same
  seed; on one device the same seed gives the same numbers. Handing an attack
  a CPU generator while the data is on the GPU gives exactly the CPU run's
  noise (slower); the GPU check uses this to compare the devices.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

#: The stride between the streams of consecutive seeds.
SEED_STRIDE = 1_000_003


def seed_value(seed: int, index: int = 0) -> int:
    """``seed * 1_000_003 + index``: the integer a stream's generator is seeded with."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    return int(seed) * SEED_STRIDE + int(index)


def generator(seed: int, index: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with :func:`seed_value` ``(seed, index)``."""
    return torch.Generator(device=torch.device(device)).manual_seed(seed_value(seed, index))


def cpu_generator(seed: int, index: int = 0) -> torch.Generator:
    """:func:`generator` on the CPU: for index draws, which must not depend on the device."""
    return generator(seed, index, "cpu")


def noise(kind: str, shape: Sequence[int], like: Tensor, generator: torch.Generator | None,
          scale: float = 1.0) -> Tensor:
    """Noise of ``shape`` with ``like``'s dtype on ``like``'s device, drawn on ``generator``'s device.

    ``kind`` is ``"uniform"`` (``U(-scale, scale)``) or ``"normal"``
    (``N(0, scale^2)``). Without a generator, torch's global generator of
    ``like``'s device is used.
    """
    where = like.device if generator is None else generator.device
    if kind == "uniform":
        out = torch.empty(tuple(shape), dtype=like.dtype, device=where).uniform_(-scale, scale, generator=generator)
    elif kind == "normal":
        out = torch.randn(tuple(shape), dtype=like.dtype, device=where, generator=generator)
        out = out if scale == 1.0 else out.mul_(scale)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; allowed: uniform, normal")
    return out.to(like.device)
