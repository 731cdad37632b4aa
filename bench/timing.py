"""What every benchmark shares: the step configurations, paired timing, the NES round, the machine line.

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

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [  # (label, field, beta, mode, adv_eps)
    ("std", "real", 0.0, "paper", 0.0), ("G.R. paper", "real", 64.0, "paper", 0.0),
    ("G.R. exact", "real", 64.0, "exact", 0.0), ("PGD-4 adv.", "real", 0.0, "paper", 0.2),
    ("std", "complex", 0.0, "paper", 0.0), ("G.R. paper", "complex", 64.0, "paper", 0.0),
    ("G.R. exact", "complex", 64.0, "exact", 0.0), ("PGD-4 adv.", "complex", 0.0, "paper", 0.2),
]


def _setup(a: argparse.Namespace):
    import torch
    from cvgr.device import select_device, set_determinism
    set_determinism(a.threads)
    dev = select_device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    return dev, sync


def train_step_fn(model, spec, batch: int, dev):
    """A zero-argument function running one :func:`cvgr.train.train_step` of ``model`` on a fixed random batch."""
    import torch
    from cvgr.rand import generator
    from cvgr.train import make_optimizer, train_step
    opt, _ = make_optimizer(model, spec)
    params = list(model.parameters())
    x, y = torch.rand(batch, 1, 28, 28, device=dev), torch.randint(0, 10, (batch,), device=dev)
    gen = generator(0, 0, dev)
    return lambda: train_step(model, opt, spec, x, y, gen, params)


def _timed(fn, sync) -> float:
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def paired_rounds(fns, rounds: int, sync=lambda: None) -> list[list[float]]:
    """``rounds`` rounds of timing each of ``fns`` once, in order: ``times[round][i]`` in seconds."""
    return [[_timed(fn, sync) for fn in fns] for _ in range(rounds)]


def worker_nes(a: argparse.Namespace) -> dict:
    import torch
    from cvgr.attacks import nes
    from cvgr.rand import generator
    from cvgr.nn import build_model
    dev, sync = _setup(a)
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
