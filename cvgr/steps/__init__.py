"""The pipeline's steps, file in -> file out. The CLI and the Snakemake scripts both call these.

One module per stage (``prepare``, ``train``, ``craft``, ``transfer``,
``whitebox``, ``nes``) plus ``common``: the code hash of a stage
(:data:`cvgr.io.STAGE_MODULES`) covers its own module, not the others', so
editing the NES step reruns NES jobs only.

Each step reads its inputs (failing with one line if an input is missing,
corrupt or does not fit), computes, and writes its outputs atomically with
provenance (:mod:`cvgr.io`). Result formats are documented in docs/FILES.md.
"""
from ..entry import snakemake_entry
from .craft import craft
from .nes import nes
from .prepare import prepare
from .train import train, train_spec
from .transfer import transfer
from .whitebox import whitebox

__all__ = ["craft", "nes", "prepare", "snakemake_entry", "train", "train_spec", "transfer", "whitebox"]
