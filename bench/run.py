"""cvgr benchmark: training-step throughput and memory, NES query rate, pipeline wall time.

    python bench/run.py                 # training + NES table (a few minutes on 2 CPU cores)
    python bench/run.py --pipeline      # also time `snakemake --cores all` on config.yaml in a fresh folder
    python bench/run.py --device cuda   # on a GPU: eager vs CUDA-graph steps, epoch time, NES (bench/gpu.py)

Prints a Markdown table and writes it into docs/BENCHMARKS.md between the
``<!-- bench:... -->`` markers (``<!-- bench-cuda:... -->`` for ``--device
cuda``), with the machine, torch version and command.

A step is exactly :func:`cvgr.train.loop.train_step` on a batch of 64 Fashion-MNIST
shaped images. Timing is *paired*: one process builds all eight
configurations (real and complex; std, G.R. paper, G.R. exact, PGD-4) and
runs them round-robin, one step each per round, ``--steps`` rounds after
``--warmup``. A step's time is the median over rounds; a ratio ("step / std")
is the median over rounds of that round's ratio, so a slow spell of a shared
machine hits both sides of a ratio alike. Peak memory needs a process per
configuration: the step's extra peak, on CUDA ``max_memory_allocated`` above
the level before the first step, on the CPU the growth of the process's peak
RSS (``ru_maxrss``) over the same level.

NES is paired the same way: each round times one NES run (2 steps, n = 250,
``--nes-images`` images) and plain forward passes over as many rows at batch
sizes 256, 1024 and 4096; the round's inference rate is that of its fastest
batch size, and the table gives the batch size most rounds found fastest.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import (CONFIGS, ROOT, cuda_peak_mb, machine, median_of, paired, ratio_of, repeat, setup, std_index,
                    step_fn, worker_nes, write_doc)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_time(a: argparse.Namespace) -> dict:
    """All CONFIGS round-robin in this process: median step times and median per-round ratios."""
    dev, sync = setup(a)
    steps = [step_fn(field, beta, mode, adv, a.batch, dev) for _, field, beta, mode, adv in CONFIGS]
    rounds = paired(steps, a.steps, sync, warmup=a.warmup)
    std = std_index()
    out = [{"step_ms": 1e3 * median_of(rounds, i), "ratio": ratio_of(rounds, i, std[field])}
           for i, (_, field, *_) in enumerate(CONFIGS)]
    return {"configs": out, "complex_over_real": ratio_of(rounds, std["complex"], std["real"])}


def worker_memory(a: argparse.Namespace) -> dict:
    """Extra peak memory of one configuration's steps (this process runs nothing else)."""
    dev, sync = setup(a)
    steps = repeat(step_fn(a.field, a.beta, a.mode, a.adv_eps, a.batch, dev), a.warmup + 2)
    if dev.type == "cuda":
        return {"peak_mb": cuda_peak_mb(steps)}
    base = _rss_mb()
    steps()
    return {"peak_mb": _rss_mb() - base}


def run_worker(kind: str, a: argparse.Namespace, **kw) -> dict:
    args = [sys.executable, __file__, "--worker", kind, "--threads", str(a.threads), "--device", a.device,
            "--steps", str(a.steps), "--warmup", str(a.warmup), "--batch", str(a.batch),
            "--nes-images", str(a.nes_images), "--nes-rounds", str(a.nes_rounds)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def time_pipeline() -> float:
    work = Path(tempfile.mkdtemp(prefix="cvgr-pipeline-"))
    try:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", "all", "-s", str(ROOT / "Snakefile"),
                        "--configfile", str(ROOT / "config.yaml"), "--directory", str(work), "--quiet"],
                       check=True, cwd=ROOT)
        return time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(a: argparse.Namespace) -> str:
    timing = run_worker("time", a)
    rows = []
    for (label, field, beta, mode, adv), t in zip(CONFIGS, timing["configs"]):
        mem = run_worker("memory", a, field=field, beta=beta, mode=mode, adv_eps=adv)["peak_mb"]
        rows.append((label, field, t["step_ms"], t["ratio"], mem))
        print(f"{field:8s} {label:11s} {t['step_ms']:8.1f} ms  x{t['ratio']:.2f}  {mem:7.1f} MB", file=sys.stderr)
    std_mem = {field: mem for label, field, _, _, mem in rows if label == "std"}
    table = [f"| {field} | {label} | {ms:.1f} | {a.batch / ms * 1e3:.0f} | {ratio:.2f} | {mem:.1f} | "
             f"{mem / max(std_mem[field], 1e-9):.2f} |" for label, field, ms, ratio, mem in rows]
    nes_rows = []
    for field in ("real", "complex"):
        r = run_worker("nes", a, field=field)
        nes_rows.append(f"| {field} | {r['best_batch']} | {r['inference_images_per_s']:.0f} | "
                        f"{r['nes_queries_per_s']:.0f} | {r['ratio']:.2f} |")
    lines = [
        f"Machine: {machine()}. Threads: {a.threads}. Device: {a.device}.",
        f"Command: `python bench/run.py{' --pipeline' if a.pipeline else ''}` "
        f"(batch {a.batch}; {a.steps} paired rounds after {a.warmup} warm-up; medians).", "",
        "| net | training | step (ms) | images/s | step / std | peak MB | peak / std |",
        "|---|---|---|---|---|---|---|", *table, "",
        f"Complex std step / real std step: {timing['complex_over_real']:.2f}.", "",
        f"NES at n = 250 on {a.nes_images} images (queries/s) vs plain inference at its best batch size "
        f"({a.nes_rounds} paired rounds, medians):", "",
        "| net | best batch | inference images/s | NES queries/s | ratio |", "|---|---|---|---|---|", *nes_rows,
    ]
    if a.pipeline:
        lines += ["", f"Default pipeline (`snakemake --cores all`, config.yaml, fresh folder): "
                      f"{time_pipeline() / 60:.1f} min wall."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", choices=["time", "memory", "nes"], help=argparse.SUPPRESS)
    ap.add_argument("--field", default="real", help=argparse.SUPPRESS)
    ap.add_argument("--beta", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="paper", help=argparse.SUPPRESS)
    ap.add_argument("--adv-eps", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"],
                    help="cuda: the GPU benchmark (bench/gpu.py), written between the bench-cuda markers")
    ap.add_argument("--steps", type=int, default=30, help="timed rounds, one step per configuration each (default 30)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--nes-images", type=int, default=None, help="default 8 on the CPU, 128 on a GPU")
    ap.add_argument("--nes-rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10, help="GPU: steps per timed call (default 10)")
    ap.add_argument("--big-batch", type=int, default=1024, help="GPU: batch of the G.R./std comparison")
    ap.add_argument("--epoch-images", type=int, default=60000, help="GPU: training images of the timed epoch")
    ap.add_argument("--conv-wgrad", choices=["on", "off"], default="on",
                    help="GPU: conv_wgrad of the batch-64 steps (training's default on a GPU is on)")
    ap.add_argument("--pipeline", action="store_true", help="also time the default pipeline end to end")
    ap.add_argument("--out", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    a = ap.parse_args()
    gpu = a.device == "cuda" or (a.device == "auto" and _cuda_available())
    if a.nes_images is None:
        a.nes_images = 128 if gpu else 8
    a.wgrad = a.conv_wgrad == "on"
    if a.worker:
        workers = {"time": worker_time, "memory": worker_memory, "nes": worker_nes}
        print(json.dumps(workers[a.worker](a)))
        return
    if gpu:
        import gpu as bench_gpu  # bench/gpu.py
        a.device = "cuda"
        table = bench_gpu.section(a, bench_gpu.measure(a))
        marker = "bench-cuda"
    else:
        table, marker = report(a), "bench"
    print(table)
    write_doc(table, Path(a.out), marker)


def _cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
