"""What every benchmark shares: set-up, the step configurations, paired timing, peak memory, the NES round,
the machine line.

Paired timing (:func:`paired_rounds`): the functions are timed round-robin, one call each per round, so
a slow spell of a shared machine slows every side of a ratio alike; ratios are taken per round.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [  # (label, field, beta, mode, adv_eps)
    ("std", "real", 0.0, "paper", 0.0), ("G.R. paper", "real", 64.0, "paper", 0.0),
    ("G.R. exact", "real", 64.0, "exact", 0.0), ("PGD-4 adv.", "real", 0.0, "paper", 0.2),
    ("std", "complex", 0.0, "paper", 0.0), ("G.R. paper", "complex", 64.0, "paper", 0.0),
    ("G.R. exact", "complex", 64.0, "exact", 0.0), ("PGD-4 adv.", "complex", 0.0, "paper", 0.2),
]


def device_sync(dev) -> Callable[[], None]:
    """A function waiting for ``dev`` (a no-op off a GPU)."""
    import torch
    return torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)


def setup(a: argparse.Namespace):
    """Training's determinism settings with ``a.threads`` threads; ``(device, its sync)`` for ``a.device``."""
    from cvgr.runtime.device import select_device, set_determinism
    set_determinism(a.threads)
    dev = select_device(a.device)
    return dev, device_sync(dev)


def train_step_fn(model, spec, batch: int, dev, *, graphed: bool = False):
    """A zero-argument function running one :func:`cvgr.train.loop.train_step` of ``model`` on a fixed random batch.

    With ``graphed`` on a GPU, the step is replayed from a :class:`cvgr.train.cudagraphs.GraphedStep`.
    """
    import torch
    from cvgr.train.cudagraphs import GraphedStep
    from cvgr.runtime.rand import generator
    from cvgr.train.loop import make_optimizer, train_step
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


def step_fn(field: str, beta: float, mode: str, adv_eps: float, batch: int, dev, *, graphed: bool = False,
            wgrad: bool = False):
    """:func:`train_step_fn` of a fresh small CNN (``torch.manual_seed(0)``) with ``conv_wgrad`` set to ``wgrad``."""
    import torch
    from cvgr.nn import build_model, set_conv_wgrad
    from cvgr.study.specs import TrainSpec
    torch.manual_seed(0)
    model = build_model("small_cnn", field).to(dev)
    set_conv_wgrad(model, wgrad)
    spec = TrainSpec.of(field, beta=beta, adv_eps=adv_eps, mode=mode)
    return train_step_fn(model, spec, batch, dev, graphed=graphed)


def std_index() -> dict[str, int]:
    """The position of each field's std configuration in :data:`CONFIGS`."""
    return {field: i for i, (label, field, *_) in enumerate(CONFIGS) if label == "std"}


def _timed(fn, sync) -> float:
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def paired_rounds(fns, rounds: int, sync=lambda: None) -> list[list[float]]:
    """``rounds`` rounds of timing each of ``fns`` once, in order: ``times[round][i]`` in seconds."""
    return [[_timed(fn, sync) for fn in fns] for _ in range(rounds)]


def repeat(fn: Callable[[], object], reps: int) -> Callable[[], None]:
    """A function calling ``fn`` ``reps`` times."""
    def run() -> None:
        for _ in range(reps):
            fn()
    return run


def paired(fns, rounds: int, sync, *, warmup: int = 0, reps: int = 1) -> list[list[float]]:
    """:func:`paired_rounds` of ``reps`` calls each, after ``warmup`` untimed rounds: seconds per call."""
    runs = [repeat(f, reps) for f in fns]
    for _ in range(warmup):
        for r in runs:
            r()
    return [[t / reps for t in row] for row in paired_rounds(runs, rounds, sync)]


def median_of(rounds: list[list[float]], i: int) -> float:
    """The median over rounds of the ``i``-th time."""
    return statistics.median(r[i] for r in rounds)


def ratio_of(rounds: list[list[float]], i: int, j: int) -> float:
    """The median over rounds of the ``i``-th time over the ``j``-th."""
    return statistics.median(r[i] / r[j] for r in rounds)


def cuda_peak_mb(fn: Callable[[], object]) -> float:
    """Peak GPU memory (MiB) that a call of ``fn`` allocates above what was allocated before it."""
    import torch
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def worker_nes(a: argparse.Namespace) -> dict:
    import torch
    from cvgr.attacks.nes import nes
    from cvgr.runtime.rand import generator
    from cvgr.nn import build_model
    dev, sync = setup(a)
    torch.manual_seed(0)
    model = build_model("small_cnn", a.field).to(dev).eval()
    n_img, steps, samples = a.nes_images, 2, 250
    queries = n_img * steps * 2 * samples
    x, y = torch.rand(n_img, 1, 28, 28, device=dev), torch.randint(0, 10, (n_img,), device=dev)

    def infer(bs: int):
        xb = torch.rand(bs, 1, 28, 28, device=dev)

        def run():
            with torch.inference_mode():
                for _ in range(max(queries // bs, 1)):
                    model(xb)
        return run, max(queries // bs, 1) * bs

    sizes = tuple(getattr(a, "nes_sizes", (256, 1024, 4096)))
    runs = [infer(bs) for bs in sizes]

    def run_nes():
        nes(model, x, y, 0.16, steps=steps, samples=samples, generator=generator(0, 0, dev))

    run_nes()  # warm-up
    for run, _ in runs:
        run()
    inf_rates, nes_rates, ratios, bests = [], [], [], []
    for t_nes, *t_inf in paired_rounds([run_nes] + [run for run, _ in runs], a.nes_rounds, sync):
        qps = queries / t_nes
        rates = [rows / t for (_, rows), t in zip(runs, t_inf)]
        best = max(range(len(sizes)), key=rates.__getitem__)
        bests.append(sizes[best])
        inf_rates.append(rates[best])
        nes_rates.append(qps)
        ratios.append(qps / rates[best])
    best = statistics.mode(bests)
    return {"best_batch": best, "inference_images_per_s": statistics.median(inf_rates),
            "nes_queries_per_s": statistics.median(nes_rates), "ratio": statistics.median(ratios)}


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def write_doc(table: str, path: Path, marker: str = "bench") -> None:
    """Put ``table`` between the ``<!-- {marker}:start -->`` and ``<!-- {marker}:end -->`` lines of ``path``.

    Markers that are missing are appended at the end of the file.
    """
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{start}\n{table}\n{end}{tail}")
