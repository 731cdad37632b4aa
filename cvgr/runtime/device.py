"""Device choice and determinism settings.

``auto`` picks CUDA when available, else the CPU. On every device we call
``torch.use_deterministic_algorithms(True)``; on CUDA we also set
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (required by cuBLAS for reproducible
matmuls) and turn off cuDNN benchmarking. The torch thread count is fixed by
the caller (the config's ``threads``), never by how many cores a scheduler
happens to grant, because CPU reductions can change with the thread count.

torch is imported where it is needed, so that :func:`uses_gpu` with ``cpu``
or ``cuda`` stays cheap. The workflow asks a scheduler for a GPU for ``cuda``
only; ``auto`` is decided inside each job, on the machine it runs on.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ..errors import CvgrError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def uses_gpu(spec: str = "auto") -> bool:
    """Whether ``auto`` | ``cpu`` | ``cuda`` computes on a GPU: ``cuda`` always, ``auto`` where torch sees one here.

    Unlike :func:`select_device`, ``cuda`` is not checked against this machine.
    torch is imported for ``auto`` only.
    """
    if spec not in DEVICES:
        raise CvgrError(f"device {spec!r} is not known; allowed: {', '.join(DEVICES)}")
    return spec == "cuda" or (spec == "auto" and _cuda_available())


def select_device(spec: str = "auto") -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` -> a torch.device; CvgrError if CUDA is asked for but absent."""
    import torch

    gpu = uses_gpu(spec)
    if spec == "cuda" and not torch.cuda.is_available():
        raise CvgrError("device 'cuda' was requested but torch sees no GPU: set device: auto or cpu in the config")
    return torch.device("cuda" if gpu else "cpu")


def set_determinism(threads: int | None = None) -> None:
    """Deterministic kernels everywhere; ``threads`` torch CPU threads when given."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    _deterministic_kernels()
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    if threads is not None:
        if threads < 1:
            raise CvgrError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)


def _deterministic_kernels() -> None:
    """``torch.use_deterministic_algorithms(True)`` without its 2 s import of torch._inductor.

    The public call also configures compiled (inductor) code, importing it to
    do so, which cost about 2 s of every pipeline job's start-up here. cvgr
    compiles nothing, so unless inductor is already loaded only the kernel
    switch itself is set.
    """
    import torch

    if "torch._inductor.config" in sys.modules or not hasattr(torch._C, "_set_deterministic_algorithms"):
        torch.use_deterministic_algorithms(True)
    else:
        torch._C._set_deterministic_algorithms(True)
