"""cvgr benchmark on a GPU: what ``python bench/run.py --device cuda`` measures and writes.

(The module is ``gpu``, not ``cuda``: a top-level ``cuda`` would shadow
NVIDIA's cuda-python package, which torch may import.)

Everything runs in one process (CUDA timings do not suffer from the CPU
allocator effects that made the CPU benchmark spawn one process per
configuration). Timing is paired as on the CPU: every round runs each
function once, a function being ``--reps`` consecutive steps between two
device synchronisations; a time is the median over rounds of (elapsed /
reps), a ratio the median of per-round ratios.

* **Steps at batch 64**: each configuration of :data:`timing.CONFIGS` as eager
  :func:`cvgr.train.loop.train_step` and as a replayed CUDA graph
  (:class:`cvgr.train.cudagraphs.GraphedStep`), both with the training default
  ``conv_wgrad`` on; extra peak memory of one eager step.
* **Batch 1024**: std and G.R. (paper) graphed steps of both nets, the G.R.
  step with ``conv_wgrad`` off and on (the slow-convolution A/B).
* **Epoch**: :func:`cvgr.train.loop.train` on ``--epoch-images`` random
  Fashion-MNIST-shaped images (flip + crop augmentation, batch 64, G.R.
  paper, beta 64, eval on 10000 images), two epochs; the second epoch's wall
  time (the first includes the capture).
* **NES**: :func:`timing.worker_nes` with GPU-sized passes.

:func:`targets` compares the results with the GPU targets of docs/GPU.md. Off a GPU
(``--device cpu``, used by ``tools/gpu_check.py --device cpu`` to keep this
code tested) graphs fall back to eager steps and memory is not measured.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable

import torch

from timing import (CONFIGS, cuda_peak_mb, device_sync, machine, median_of, paired, ratio_of, setup, std_index,
                    step_fn, worker_nes)

NES_SIZES_CUDA = (2048, 8192, 32768)


@dataclass
class Target:
    """One GPU target (docs/GPU.md): ``value`` must be <= (or >=) ``limit``."""

    name: str
    value: float
    limit: float
    at_most: bool = True
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def row(self) -> tuple[str, str, str, str]:
        op = "<=" if self.at_most else ">="
        return (self.name, f"{self.value:.3g}{self.unit}", f"{op} {self.limit:g}{self.unit}",
                "yes" if self.met else "NO")


def _paired(fns: list[Callable[[], object]], a: argparse.Namespace, dev: torch.device) -> list[list[float]]:
    """Per-step seconds, ``times[round][i]``, of ``a.reps`` steps a call, after ``a.warmup`` untimed rounds."""
    return paired(fns, a.steps, device_sync(dev), warmup=a.warmup, reps=a.reps)


def _peak_mb(fn: Callable[[], object], dev: torch.device) -> float:
    """Extra peak device memory of one call of ``fn`` (NaN off a GPU)."""
    return cuda_peak_mb(fn) if dev.type == "cuda" else float("nan")


def measure_steps(a: argparse.Namespace, dev: torch.device) -> list[dict]:
    """Eager and graphed step times (ms) at batch ``a.batch`` for every configuration, with ratios and memory."""
    eager = [step_fn(f, b, m, e, a.batch, dev, graphed=False, wgrad=a.wgrad) for _, f, b, m, e in CONFIGS]
    graphed = [step_fn(f, b, m, e, a.batch, dev, graphed=True, wgrad=a.wgrad) for _, f, b, m, e in CONFIGS]
    rounds = _paired(eager + graphed, a, dev)
    n, std = len(CONFIGS), std_index()
    return [{"label": label, "field": field, "eager_ms": 1e3 * median_of(rounds, i),
             "graph_ms": 1e3 * median_of(rounds, n + i), "speedup": ratio_of(rounds, i, n + i),
             "graph_over_std": ratio_of(rounds, n + i, n + std[field]), "peak_mb": _peak_mb(eager[i], dev)}
            for i, (label, field, *_) in enumerate(CONFIGS)]


def measure_big_batch(a: argparse.Namespace, dev: torch.device) -> list[dict]:
    """Graphed std and G.R. steps at batch ``a.big_batch``: G.R./std with conv_wgrad off and on."""
    rows = []
    for field in ("real", "complex"):
        fns = [step_fn(field, 0.0, "paper", 0.0, a.big_batch, dev, graphed=True, wgrad=True),
               step_fn(field, 64.0, "paper", 0.0, a.big_batch, dev, graphed=True, wgrad=False),
               step_fn(field, 64.0, "paper", 0.0, a.big_batch, dev, graphed=True, wgrad=True)]
        rounds = _paired(fns, a, dev)
        rows.append({"field": field, "std_ms": 1e3 * median_of(rounds, 0), "gr_off_ms": 1e3 * median_of(rounds, 1),
                     "gr_on_ms": 1e3 * median_of(rounds, 2), "ratio_off": ratio_of(rounds, 1, 0),
                     "ratio_on": ratio_of(rounds, 2, 0), "wgrad_speedup": ratio_of(rounds, 1, 2)})
        del fns
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def measure_epoch(a: argparse.Namespace, dev: torch.device, field: str) -> dict:
    """Wall seconds of the first and second G.R. epoch of :func:`cvgr.train.loop.train` on ``a.epoch_images`` images."""
    from cvgr.runtime.rand import cpu_generator
    from cvgr.study.specs import TrainSpec
    from cvgr.train.loop import train
    g = cpu_generator(0)
    n_test = min(10000, a.epoch_images)
    x, y = torch.rand(a.epoch_images, 1, 28, 28, generator=g), torch.randint(0, 10, (a.epoch_images,), generator=g)
    tx, ty = x[:n_test].clone(), y[:n_test].clone()
    spec = TrainSpec.of(field, beta=64.0, dataset="fmnist", mode="paper", epochs=2, batch_size=64)
    stamps: list[float] = []
    device_sync(dev)()
    t0 = time.perf_counter()
    train(spec, x, y, tx, ty, device=dev, progress=False, log=lambda m: stamps.append(time.perf_counter()))
    return {"field": field, "first_s": stamps[0] - t0, "second_s": stamps[1] - stamps[0]}


def measure_nes(a: argparse.Namespace, field: str) -> dict:
    """:func:`timing.worker_nes` with GPU-sized inference passes on a GPU."""
    b = argparse.Namespace(**vars(a))
    b.field = field
    if torch.device(a.device).type == "cuda":
        b.nes_sizes = NES_SIZES_CUDA
    return {"field": field} | worker_nes(b)


def measure(a: argparse.Namespace) -> dict:
    """All measurements of this module (see its docstring)."""
    dev, _ = setup(a)
    return {"device": dev.type, "batch": a.batch, "big_batch": a.big_batch, "epoch_images": a.epoch_images,
            "steps": measure_steps(a, dev), "big": measure_big_batch(a, dev),
            "epochs": [measure_epoch(a, dev, f) for f in ("real", "complex")],
            "nes": [measure_nes(a, f) for f in ("real", "complex")]}


def targets(m: dict) -> list[Target]:
    """Issue 10's targets, paired medians: graph-replay G.R. steps, epoch time, NES rate, G.R./std at batch 1024."""
    gr = {r["field"]: r for r in m["steps"] if r["label"] == "G.R. paper"}
    b64 = m["batch"]
    out = [Target(f"complex G.R. step (graph, batch {b64})", gr["complex"]["graph_ms"], 2.5, unit=" ms"),
           Target(f"real G.R. step (graph, batch {b64})", gr["real"]["graph_ms"], 2.0, unit=" ms")]
    out += [Target(f"{e['field']} G.R. epoch, {m['epoch_images']} images", e["second_s"], 4.0, unit=" s")
            for e in m["epochs"]]
    out += [Target(f"{n['field']} NES queries/s / inference images/s", n["ratio"], 0.5, at_most=False)
            for n in m["nes"]]
    out += [Target(f"{b['field']} G.R. step / std step (batch {m['big_batch']})", b["ratio_on"], 3.0)
            for b in m["big"]]
    return out


def section(a: argparse.Namespace, m: dict) -> str:
    """The Markdown block written between the ``bench-cuda`` markers."""
    lines = [f"Machine: {machine()}. Device: {m['device']}.",
             f"Command: `python bench/run.py --device cuda` ({a.steps} paired rounds of {a.reps} steps after "
             f"{a.warmup} warm-up rounds; medians; conv_wgrad {'on' if a.wgrad else 'off'} unless stated).", "",
             f"Training steps at batch {a.batch}, eager and replayed from one CUDA graph:", "",
             "| net | training | eager (ms) | graph (ms) | graph speed-up | graph step / graph std | "
             "eager peak MB |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['field']} | {r['label']} | {r['eager_ms']:.2f} | {r['graph_ms']:.2f} | {r['speedup']:.1f}x | "
              f"{r['graph_over_std']:.2f} | {r['peak_mb']:.0f} |" for r in m["steps"]]
    lines += ["", f"Batch {m['big_batch']}, graphed, G.R. paper mode with conv_wgrad off (PyTorch's double backward) "
                  "and on (cvgr.nn.conv):", "",
              "| net | std (ms) | G.R. wgrad off (ms) | G.R. wgrad on (ms) | G.R./std off | G.R./std on | "
              "speed-up of wgrad |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {b['field']} | {b['std_ms']:.2f} | {b['gr_off_ms']:.2f} | {b['gr_on_ms']:.2f} | "
              f"{b['ratio_off']:.2f} | {b['ratio_on']:.2f} | {b['wgrad_speedup']:.2f}x |" for b in m["big"]]
    lines += ["", f"G.R. training epochs (`cvgr.train.loop.train`, {a.epoch_images} random 28x28 images, batch 64, "
                  f"flip + crop, eval on {min(10000, a.epoch_images)}): " +
              "; ".join(f"{e['field']} first {e['first_s']:.2f} s (with capture), second {e['second_s']:.2f} s"
                        for e in m["epochs"]) + ".", "",
              f"NES at n = 250 on {a.nes_images} images vs plain inference at its best batch size "
              f"({a.nes_rounds} paired rounds):", "",
              "| net | best batch | inference images/s | NES queries/s | ratio |", "|---|---|---|---|---|"]
    lines += [f"| {n['field']} | {n['best_batch']} | {n['inference_images_per_s']:.0f} | "
              f"{n['nes_queries_per_s']:.0f} | {n['ratio']:.2f} |" for n in m["nes"]]
    lines += ["", "Targets (docs/GPU.md):", "", "| target | measured | target | met |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(t.row()) + " |" for t in targets(m)]
    return "\n".join(lines)
