"""Out-of-memory on the device as a one-line user error naming the job, its batch sizes and the key to lower.

A stage wraps its work in :func:`batch_memory_hint`; a
``torch.cuda.OutOfMemoryError`` (``torch.OutOfMemoryError``) raised inside
becomes a :class:`cvgr.errors.CvgrError`, which the CLI and the Snakemake
entry point print as one line without a traceback::

    fmnist/complex-gr64-s0 (train) ran out of GPU memory (tried to allocate 2.00 GiB) at batch_size=4096,
    eval batch=1000: lower batch_size in the config and rerun
"""
from __future__ import annotations

import contextlib
import re
from typing import Iterator, Mapping

import torch

from ..errors import CvgrError

_TRIED = re.compile(r"[Tt]ried to allocate ([0-9.]+ ?[KMGT]?i?B)")


def _what(err: BaseException) -> str:
    """'tried to allocate 2.00 GiB' from the allocator's message, else its first line (shortened)."""
    text = str(err)
    found = _TRIED.search(text)
    if found:
        return f"tried to allocate {found.group(1)}"
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return first[:120]


def out_of_memory_message(job: str, batch_sizes: Mapping[str, int], key: str, err: BaseException) -> str:
    """The one line: job, the allocation that failed, the batch sizes in use, the config key to lower."""
    where = "GPU" if "CUDA" in str(err) or "GPU" in str(err) else "device"
    sizes = ", ".join(f"{name}={value}" for name, value in batch_sizes.items())
    return (f"{job} ran out of {where} memory ({_what(err)}) at {sizes}: lower {key} in the config and rerun "
            f"(or run it on a device with more free memory)")


@contextlib.contextmanager
def batch_memory_hint(job: str, batch_sizes: Mapping[str, int], key: str) -> Iterator[None]:
    """Turn ``torch.cuda.OutOfMemoryError`` inside the block into a one-line :class:`CvgrError` (see the module)."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as err:
        raise CvgrError(out_of_memory_message(job, batch_sizes, key, err)) from None
