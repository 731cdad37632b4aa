"""Stage data: raw dataset files -> results/data/{dataset}.h5."""
from __future__ import annotations

from ..data import prepare as datamod


def prepare(dataset: str, out: str, *, raw_dir: str | None = None, download: bool = True) -> None:
    """Raw dataset files -> ``results/data/{dataset}.h5`` (see :func:`cvgr.data.prepare.prepare_dataset`)."""
    datamod.prepare_dataset(dataset, out, raw_dir=raw_dir, download=download)
