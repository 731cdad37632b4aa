"""cvgr benchmark on a GPU: what ``python bench/run.py --device cuda`` measures and writes.

(The module is ``gpu``, not ``cuda``: a top-level ``cuda`` would shadow
NVIDIA's cuda-python package, which torch may import.)

Everything runs in one process (CUDA timings do not suffer from the CPU
allocator effects that made the CPU benchmark spawn one process per
configuration). Timing is paired as on the CPU: every round runs each
function once, a function being ``--reps`` consecutive steps between two
device synchronisations; a time is the median over rounds of (elapsed /
reps), a ratio the median of per-round ratios.

* **Steps at batch 64**: each configuration of :data:`run.CONFIGS` as eager
  :func:`cvgr.train.train_step` and as a replayed CUDA graph
  (:class:`cvgr.graphs.GraphedStep`), both with the training default
  ``conv_wgrad`` on; extra peak memory of one eager step.
* **Batch 1024**: std and G.R. (paper) graphed steps of both nets, the G.R.
  step with ``conv_wgrad`` off and on (the slow-convolution A/B).
* **Epoch**: :func:`cvgr.train.train` on ``--epoch-images`` random
  Fashion-MNIST-shaped images (flip + crop augmentation, batch 64, G.R.
  paper, beta 64, eval on 10000 images), two epochs; the second epoch's wall
  time (the first includes the capture).
* **NES**: :func:`run.worker_nes` with GPU-sized passes.

:func:`targets` compares the results with issue 10's targets. Off a GPU
(``--device cpu``, used by ``tools/gpu_check.py --device cpu`` to keep this
code tested) graphs fall back to eager steps and memory is not measured.
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

from timing import CONFIGS, machine, paired_rounds, worker_nes

NES_SIZES_CUDA = (2048, 8192, 32768)


@dataclass
class Target:
    """One target of issue 10: ``value`` must be <= (or >=) ``limit``."""

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


def step_fn(field: str, beta: float, mode: str, adv_eps: float, batch: int, dev: torch.device, *,
            graphed: bool, wgrad: bool) -> Callable[[], torch.Tensor]:
    """A zero-argument function running one training step of a fresh small CNN on a fixed random batch."""
    from cvgr.graphs import GraphedStep
    from cvgr.nn import build_model, set_conv_wgrad
    from cvgr.rand import generator
    from cvgr.specs import TrainSpec
    from cvgr.train import make_optimizer, train_step
    torch.manual_seed(0)
    model = build_model("small_cnn", field).to(dev)
    set_conv_wgrad(model, wgrad)
    spec = TrainSpec.of(field, beta=beta, adv_eps=adv_eps, mode=mode)
    opt, _ = make_optimizer(model, spec)
    params = list(model.parameters())
    x, y = torch.rand(batch, 1, 28, 28, device=dev), torch.randint(0, 10, (batch,), device=dev)
    gen = generator(0, 0, dev)

    def fn(xb, yb, g):
        return train_step(model, opt, spec, xb, yb, g, params)

    if graphed and dev.type == "cuda":
        step = GraphedStep(fn, model, opt, gen)
        return lambda: step(x, y)
    return lambda: fn(x, y, gen)


def _repeat(fn: Callable[[], object], reps: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(reps):
            fn()
    return run


def _sync(dev: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)


def _paired(fns: list[Callable[[], object]], a: argparse.Namespace, dev: torch.device) -> list[list[float]]:
    """Per-step seconds, ``times[round][i]``, after ``a.warmup`` untimed rounds."""
    runs = [_repeat(f, a.reps) for f in fns]
    for _ in range(a.warmup):
        for r in runs:
            r()
    return [[t / a.reps for t in row] for row in paired_rounds(runs, a.steps, _sync(dev))]


def _median(rounds: list[list[float]], i: int) -> float:
    return statistics.median(r[i] for r in rounds)


def _ratio(rounds: list[list[float]], i: int, j: int) -> float:
    return statistics.median(r[i] / r[j] for r in rounds)


def _peak_mb(fn: Callable[[], object], dev: torch.device) -> float:
    """Extra peak device memory of one call of ``fn`` (NaN off a GPU)."""
    if dev.type != "cuda":
        return float("nan")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def measure_steps(a: argparse.Namespace, dev: torch.device) -> list[dict]:
    """Eager and graphed step times (ms) at batch ``a.batch`` for every configuration, with ratios and memory."""
    eager = [step_fn(f, b, m, e, a.batch, dev, graphed=False, wgrad=a.wgrad) for _, f, b, m, e in CONFIGS]
    graphed = [step_fn(f, b, m, e, a.batch, dev, graphed=True, wgrad=a.wgrad) for _, f, b, m, e in CONFIGS]
    rounds = _paired(eager + graphed, a, dev)
    n = len(CONFIGS)
    std_of = {field: i for i, (label, field, *_) in enumerate(CONFIGS) if label == "std"}
    rows = []
    for i, (label, field, *_) in enumerate(CONFIGS):
        rows.append({"label": label, "field": field, "eager_ms": 1e3 * _median(rounds, i),
                     "graph_ms": 1e3 * _median(rounds, n + i), "speedup": _ratio(rounds, i, n + i),
                     "graph_over_std": _ratio(rounds, n + i, n + std_of[field]),
                     "peak_mb": _peak_mb(eager[i], dev)})
    return rows


def measure_big_batch(a: argparse.Namespace, dev: torch.device) -> list[dict]:
    """Graphed std and G.R. steps at batch ``a.big_batch``: G.R./std with conv_wgrad off and on."""
    rows = []
    for field in ("real", "complex"):
        fns = [step_fn(field, 0.0, "paper", 0.0, a.big_batch, dev, graphed=True, wgrad=True),
               step_fn(field, 64.0, "paper", 0.0, a.big_batch, dev, graphed=True, wgrad=False),
               step_fn(field, 64.0, "paper", 0.0, a.big_batch, dev, graphed=True, wgrad=True)]
        rounds = _paired(fns, a, dev)
        rows.append({"field": field, "std_ms": 1e3 * _median(rounds, 0), "gr_off_ms": 1e3 * _median(rounds, 1),
                     "gr_on_ms": 1e3 * _median(rounds, 2), "ratio_off": _ratio(rounds, 1, 0),
                     "ratio_on": _ratio(rounds, 2, 0), "wgrad_speedup": _ratio(rounds, 1, 2)})
        del fns
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def measure_epoch(a: argparse.Namespace, dev: torch.device, field: str) -> dict:
    """Wall seconds of the first and second G.R. epoch of :func:`cvgr.train.train` on ``a.epoch_images`` images."""
    from cvgr.rand import cpu_generator
    from cvgr.specs import TrainSpec
    from cvgr.train import train
    g = cpu_generator(0)
    n_test = min(10000, a.epoch_images)
    x, y = torch.rand(a.epoch_images, 1, 28, 28, generator=g), torch.randint(0, 10, (a.epoch_images,), generator=g)
    tx, ty = x[:n_test].clone(), y[:n_test].clone()
    spec = TrainSpec.of(field, beta=64.0, dataset="fmnist", mode="paper", epochs=2, batch_size=64)
    stamps: list[float] = []
    _sync(dev)()
    t0 = time.perf_counter()
    train(spec, x, y, tx, ty, device=dev, progress=False, log=lambda m: stamps.append(time.perf_counter()))
    return {"field": field, "first_s": stamps[0] - t0, "second_s": stamps[1] - stamps[0]}


def measure_nes(a: argparse.Namespace, field: str) -> dict:
    """:func:`run.worker_nes` with GPU-sized inference passes on a GPU."""
    b = argparse.Namespace(**vars(a))
    b.field = field
    if torch.device(a.device).type == "cuda":
        b.nes_sizes = NES_SIZES_CUDA
    return {"field": field} | worker_nes(b)


def measure(a: argparse.Namespace) -> dict:
    """All measurements of this module (see its docstring)."""
    from cvgr.device import select_device, set_determinism
    set_determinism(a.threads)
    dev = select_device(a.device)
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
    lines += ["", f"G.R. training epochs (`cvgr.train.train`, {a.epoch_images} random 28x28 images, batch 64, "
                  f"flip + crop, eval on {min(10000, a.epoch_images)}): " +
              "; ".join(f"{e['field']} first {e['first_s']:.2f} s (with capture), second {e['second_s']:.2f} s"
                        for e in m["epochs"]) + ".", "",
              f"NES at n = 250 on {a.nes_images} images vs plain inference at its best batch size "
              f"({a.nes_rounds} paired rounds):", "",
              "| net | best batch | inference images/s | NES queries/s | ratio |", "|---|---|---|---|---|"]
    lines += [f"| {n['field']} | {n['best_batch']} | {n['inference_images_per_s']:.0f} | "
              f"{n['nes_queries_per_s']:.0f} | {n['ratio']:.2f} |" for n in m["nes"]]
    lines += ["", "Targets (issue 10):", "", "| target | measured | target | met |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(t.row()) + " |" for t in targets(m)]
    return "\n".join(lines)
