"""cvgr benchmark: training-step throughput and memory, NES query rate, pipeline wall time.

    python bench/run.py                 # training + NES table (a few minutes on 2 CPU cores)
    python bench/run.py --pipeline      # also time `snakemake --cores all` on config.yaml in a fresh folder

Prints a Markdown table and writes it into docs/BENCHMARKS.md between the
``<!-- bench:... -->`` markers, with the machine, torch version and command.
Every configuration runs in its own subprocess (so peak memory is its own):
a step is exactly :func:`cvgr.train.train_step` on a batch of 64 Fashion-MNIST
shaped images; the median of ``--steps`` steps after ``--warmup`` is reported.
Peak memory is the step's extra peak: on CUDA ``max_memory_allocated`` above
the level before the first step, on the CPU the growth of the process's peak
RSS (``ru_maxrss``) over the same level.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [  # (label, field, beta, mode, adv_eps)
    ("std", "real", 0.0, "paper", 0.0), ("G.R. paper", "real", 64.0, "paper", 0.0),
    ("G.R. exact", "real", 64.0, "exact", 0.0), ("PGD-4 adv.", "real", 0.0, "paper", 0.2),
    ("std", "complex", 0.0, "paper", 0.0), ("G.R. paper", "complex", 64.0, "paper", 0.0),
    ("G.R. exact", "complex", 64.0, "exact", 0.0), ("PGD-4 adv.", "complex", 0.0, "paper", 0.2),
]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_train(a: argparse.Namespace) -> dict:
    import torch
    from cvgr.device import select_device, set_determinism
    from cvgr.nn import build_model
    from cvgr.train import TrainSpec, make_optimizer, train_step
    set_determinism(a.threads)
    dev = select_device(a.device)
    torch.manual_seed(0)
    spec = TrainSpec(arch="small_cnn", field=a.field, beta=a.beta, mode=a.mode, adv_eps=a.adv_eps, adv_steps=4)
    model = build_model("small_cnn", a.field).to(dev)
    opt, _ = make_optimizer(model, spec)
    params = list(model.parameters())
    x, y = torch.rand(a.batch, 1, 28, 28, device=dev), torch.randint(0, 10, (a.batch,), device=dev)
    gen = torch.Generator().manual_seed(0)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_mb()
    times = []
    for i in range(a.warmup + a.steps):
        sync()
        t = time.perf_counter()
        train_step(model, opt, spec, x, y, gen, params)
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if dev.type == "cuda" else _rss_mb() - base
    med = statistics.median(times)
    return {"step_ms": 1e3 * med, "images_per_s": a.batch / med, "peak_mb": peak}


def worker_nes(a: argparse.Namespace) -> dict:
    import torch
    from cvgr.attacks import nes
    from cvgr.device import select_device, set_determinism
    from cvgr.nn import build_model
    set_determinism(a.threads)
    dev = select_device(a.device)
    torch.manual_seed(0)
    model = build_model("small_cnn", a.field).to(dev).eval()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    best = 0.0
    for bs in (256, 1024, 4096):
        xb = torch.rand(bs, 1, 28, 28, device=dev)
        with torch.inference_mode():
            model(xb)
            ts = []
            for _ in range(5):
                sync()
                t = time.perf_counter()
                model(xb)
                sync()
                ts.append(time.perf_counter() - t)
        best = max(best, bs / statistics.median(ts))
    n_img, steps, samples = a.nes_images, 2, 250
    x, y = torch.rand(n_img, 1, 28, 28, device=dev), torch.randint(0, 10, (n_img,), device=dev)
    nes(model, x, y, 0.16, steps=1, samples=samples, generator=torch.Generator().manual_seed(0))  # warm-up
    ts = []
    for r in range(3):
        sync()
        t = time.perf_counter()
        nes(model, x, y, 0.16, steps=steps, samples=samples, generator=torch.Generator().manual_seed(r))
        sync()
        ts.append(time.perf_counter() - t)
    qps = n_img * steps * 2 * samples / statistics.median(ts)
    return {"inference_images_per_s": best, "nes_queries_per_s": qps, "ratio": qps / best}


def run_worker(kind: str, a: argparse.Namespace, **kw) -> dict:
    args = [sys.executable, __file__, "--worker", kind, "--threads", str(a.threads), "--device", a.device,
            "--steps", str(a.steps), "--warmup", str(a.warmup), "--batch", str(a.batch),
            "--nes-images", str(a.nes_images)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"


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
    rows, res = [], {}
    for label, field, beta, mode, adv in CONFIGS:
        r = run_worker("train", a, field=field, beta=beta, mode=mode, adv_eps=adv)
        res[(field, label)] = r
        print(f"{field:8s} {label:11s} {r['step_ms']:8.1f} ms  {r['images_per_s']:7.0f} img/s  "
              f"{r['peak_mb']:7.1f} MB", file=sys.stderr)
    for label, field, *_ in CONFIGS:
        r, std = res[(field, label)], res[(field, "std")]
        rows.append(f"| {field} | {label} | {r['step_ms']:.1f} | {r['images_per_s']:.0f} | "
                    f"{r['step_ms'] / std['step_ms']:.2f} | {r['peak_mb']:.1f} | "
                    f"{r['peak_mb'] / max(std['peak_mb'], 1e-9):.2f} |")
    nes_rows = []
    for field in ("real", "complex"):
        r = run_worker("nes", a, field=field)
        nes_rows.append(f"| {field} | {r['inference_images_per_s']:.0f} | {r['nes_queries_per_s']:.0f} | "
                        f"{r['ratio']:.2f} |")
    cr = res[("complex", "std")]["step_ms"] / res[("real", "std")]["step_ms"]
    lines = [
        f"Machine: {machine()}. Threads: {a.threads}. Device: {a.device}.",
        f"Command: `python bench/run.py{' --pipeline' if a.pipeline else ''}` "
        f"(batch {a.batch}, median of {a.steps} steps after {a.warmup} warm-up).", "",
        "| net | training | step (ms) | images/s | step / std | peak MB | peak / std |",
        "|---|---|---|---|---|---|---|", *rows, "",
        f"Complex std step / real std step: {cr:.2f}.", "",
        f"NES at n = 250 on {a.nes_images} images (queries/s) vs plain inference at its best batch size:", "",
        "| net | inference images/s | NES queries/s | ratio |", "|---|---|---|---|", *nes_rows,
    ]
    if a.pipeline:
        lines += ["", f"Default pipeline (`snakemake --cores all`, config.yaml, fresh folder): "
                      f"{time_pipeline() / 60:.1f} min wall."]
    return "\n".join(lines)


def write_doc(table: str, path: Path) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n\n<!-- bench:start -->\n<!-- bench:end -->\n"
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{start}\n{table}\n{end}{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", choices=["train", "nes"], help=argparse.SUPPRESS)
    ap.add_argument("--field", default="real", help=argparse.SUPPRESS)
    ap.add_argument("--beta", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="paper", help=argparse.SUPPRESS)
    ap.add_argument("--adv-eps", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per configuration (default 20)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--nes-images", type=int, default=8)
    ap.add_argument("--pipeline", action="store_true", help="also time the default pipeline end to end")
    ap.add_argument("--out", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker_train(a) if a.worker == "train" else worker_nes(a)))
        return
    table = report(a)
    print(table)
    write_doc(table, Path(a.out))


if __name__ == "__main__":
    main()
