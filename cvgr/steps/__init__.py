"""The pipeline's steps, file in -> file out. The command line and the Snakemake scripts both call these.

One module per stage (``prepare``, ``train``, ``craft``, ``transfer``,
``whitebox``, ``nes``) plus ``common``. A stage's code hash
(:func:`cvgr.results.io.code_hash`) covers the cvgr modules its step module imports,
directly or not, so editing the NES step reruns NES jobs only.

Each step takes its inputs' paths, its output paths, its job spec
(:mod:`cvgr.study.specs`) and the runtime; it reads its inputs (one line if one is
missing, corrupt or does not fit), computes, and writes its result record
(:mod:`cvgr.results.records`) atomically with provenance.
"""
from .craft import craft
from .nes import nes
from .prepare import prepare
from .train import train
from .transfer import transfer
from .whitebox import whitebox

__all__ = ["craft", "nes", "prepare", "train", "transfer", "whitebox"]
