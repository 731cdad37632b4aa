"""Paired comparison: the small CNN with ``nn.AvgPool2d(2)`` vs cvgr's :class:`AvgPool2`.

    python bench/pool.py [--rounds 20]

Both versions of each net (same weights) run round-robin in one process, one
training step (:func:`cvgr.train.loop.train_step`, batch 64) or one 256-row
inference pass each per round; prints median times and the median per-round
speed-up. The numbers quoted in docs/BENCHMARKS.md come from this command.
"""
from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

from cvgr.runtime.device import set_determinism
from cvgr.nn import build_model
from cvgr.nn.pool import AvgPool2
from cvgr.study.specs import TrainSpec
from timing import paired_rounds, train_step_fn  # the same step and the same paired timing as bench/run.py


def _with_torch_pool(model: nn.Module) -> nn.Module:
    for name, child in model.body.named_children():
        if isinstance(child, AvgPool2):
            model.body._modules[name] = nn.AvgPool2d(2)
    return model


def _job(field: str, beta: float, pool: str, kind: str):
    torch.manual_seed(0)
    model = build_model("small_cnn", field)
    if pool == "torch":
        _with_torch_pool(model)
    if kind == "infer":
        xb = torch.rand(256, 1, 28, 28)

        def infer():
            with torch.inference_mode():
                model(xb)
        return infer
    return train_step_fn(model, TrainSpec.of(field, beta=beta), 64, torch.device("cpu"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    a = ap.parse_args()
    set_determinism(1)
    print("| net | work | nn.AvgPool2d (ms) | AvgPool2 (ms) | speed-up |\n|---|---|---|---|---|")
    for field in ("real", "complex"):
        for label, beta, kind in (("std step", 0.0, "train"), ("G.R. step", 64.0, "train"),
                                  ("inference, 256 rows", 0.0, "infer")):
            jobs = [_job(field, beta, pool, kind) for pool in ("torch", "cvgr")]
            for job in jobs * 2:
                job()
            times = paired_rounds(jobs, a.rounds)
            old, new = (statistics.median(r[i] for r in times) for i in (0, 1))
            gain = statistics.median(r[0] / r[1] for r in times)
            print(f"| {field} | {label} | {1e3 * old:.1f} | {1e3 * new:.1f} | {gain:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
