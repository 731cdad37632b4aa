"""The GPU check: every stage on CUDA, CUDA against the CPU, determinism, graphs, the GPU benchmark.

    make gpu-check GPU_DATA=<folder with the four Fashion-MNIST .gz files>
    python3 tools/gpu_check.py --data <folder> [--out DIR]

From the raw Fashion-MNIST files it runs every stage on CUDA through the
Python API in ``cvgr.steps`` (prepare; train std, G.R. paper, G.R. exact and
PGD adversarial, real and complex, on a few thousand images for one epoch;
attack; transfer; white-box FGSM and PGD with a random start; NES), then
compares CUDA with the CPU on the same weights (forward outputs, G.R.
gradients in both modes, attack outputs with the noise drawn from one CPU
generator; NES with TF32 on and off on the same directions, reported), checks determinism (same seed twice), graphed against eager
training, the NaN guard and the out-of-memory message on the device, runs
``pytest -m cuda`` and a short GPU benchmark (``bench/gpu.py``, the
slow-convolution A/B included). It prints one table (check, value,
tolerance or target, pass/fail), writes ``gpu_check.md`` / ``.json`` and the
benchmark block (``BENCHMARKS.md``, a copy of docs/BENCHMARKS.md with the
``bench-cuda`` section filled in) into ``--out`` (default ``$OUT``), and exits
0 when every check passes, 1 otherwise. Without a GPU, or when ``--data``
lacks one of the four ``*-ubyte.gz`` files, it says so in one line and exits 2.

It needs only what a stock PyTorch GPU image has (torch, torchvision, numpy,
h5py, tqdm, pytest, ...), no network, and imports neither snakemake nor
jsonschema (so not ``cvgr.study.plan``). ``--device cpu`` (hidden) runs the same
logic with the CPU standing in for the GPU and tiny sizes; the test suite
does that so this script cannot rot.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def ensure_pydantic(wheels: Path = ROOT / ".gpu-data" / "wheels", site: Path = Path("/tmp/cvgr-site")) -> None:
    """cvgr's specs need pydantic: where the image lacks it, install the bundle's wheels into ``site``.

    The bundle (``tools/gpu_bundle.sh``) holds pydantic, its compiled core and their two small dependencies;
    ``site`` joins the import path of this process and of the processes it starts (pytest).
    """
    if importlib.util.find_spec("pydantic") is not None:
        return
    found = [str(w) for name in ("pydantic", "annotated_types", "typing_inspection") for w in wheels.glob(f"{name}-*.whl")]
    if not found:
        sys.exit("gpu-check: this Python lacks pydantic and .gpu-data/wheels holds none: run "
                 "`bash tools/gpu_bundle.sh` on a machine with network access and copy .gpu-data here")
    found += [str(w) for w in wheels.glob("pydantic_core-*.whl")]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(site),
                    *found], check=True)
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])


ensure_pydantic()

from cvgr import steps  # noqa: E402
from cvgr.attacks.fgsm import fgsm  # noqa: E402
from cvgr.attacks.nes import nes, nes_gradient, true_class_output  # noqa: E402
from cvgr.attacks.pgd import pgd  # noqa: E402
from cvgr.data.prepare import dataset_info, load_split  # noqa: E402
from cvgr.runtime.device import set_determinism  # noqa: E402
from cvgr.errors import CvgrError, NumericalError  # noqa: E402
from cvgr.results.io import read_h5  # noqa: E402
from cvgr.results.modelfile import load_model  # noqa: E402
from cvgr.nn import set_conv_wgrad  # noqa: E402
from cvgr.runtime.oom import batch_memory_hint  # noqa: E402
from cvgr.runtime.rand import cpu_generator  # noqa: E402
from cvgr.train.regularize import backward_with_zeta, regularized_loss  # noqa: E402
from cvgr.study.specs import AttackSpec, NesSpec, Runtime, TrainSpec, WhiteboxSpec  # noqa: E402
from cvgr.train.loop import train  # noqa: E402
from cvgr.vocab import AttackId  # noqa: E402

TIME_LIMIT_S = 300.0

#: The trained models: file stem -> (field, beta, mode, adv_eps, model name).
MODELS = {
    "real-std": ("real", 0.0, "paper", 0.0, "real-std-s0"),
    "real-gr64-paper": ("real", 64.0, "paper", 0.0, "real-gr64-s0"),
    "real-gr64-exact": ("real", 64.0, "exact", 0.0, "real-gr64-s0"),
    "real-adv": ("real", 0.0, "paper", 0.2, "real-adv0.2-s0"),
    "complex-std": ("complex", 0.0, "paper", 0.0, "complex-std-s0"),
    "complex-gr64-paper": ("complex", 64.0, "paper", 0.0, "complex-gr64-s0"),
    "complex-gr64-exact": ("complex", 64.0, "exact", 0.0, "complex-gr64-s0"),
    "complex-adv": ("complex", 0.0, "paper", 0.2, "complex-adv0.2-s0"),
}


@dataclass(frozen=True)
class Sizes:
    """How much work each part does: a few thousand images on a GPU, a handful on the CPU stand-in."""

    train: int
    eval: int
    images: int
    batch: int
    nes_images: int
    nes_samples: int
    bench: dict = field(default_factory=dict)


GPU_SIZES = Sizes(train=4096, eval=1000, images=256, batch=64, nes_images=32, nes_samples=50,
                  bench=dict(steps=10, warmup=2, reps=5, batch=64, big_batch=1024, epoch_images=60000,
                             nes_images=128, nes_rounds=3))
CPU_SIZES = Sizes(train=96, eval=48, images=16, batch=32, nes_images=2, nes_samples=4,
                  bench=dict(steps=1, warmup=0, reps=1, batch=4, big_batch=8, epoch_images=16,
                             nes_images=1, nes_rounds=1))


@dataclass
class Row:
    check: str
    value: str
    limit: str
    ok: bool | None  #: None: reported, not judged


class Report:
    """The table of checks; a failing part becomes a failed row instead of stopping the check."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, check: str, value: Any, limit: str, ok: bool | None) -> None:
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        self.rows.append(Row(check, text, limit, ok))
        print(f"  {'PASS' if ok else 'FAIL' if ok is False else 'info'}  {check}: {text} ({limit})", flush=True)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        print(f"[gpu-check] {name}", flush=True)
        try:
            yield
        except Exception as err:  # noqa: BLE001 - every failure is a row of the table
            self.add(name, f"{type(err).__name__}: {' '.join(str(err).split())[:200]}", "runs", False)

    @property
    def passed(self) -> bool:
        return all(r.ok is not False for r in self.rows)

    def table(self) -> str:
        lines = ["| check | value | tolerance / target | result |", "|---|---|---|---|"]
        verdict = {True: "pass", False: "FAIL", None: "info"}
        lines += [f"| {r.check} | {r.value} | {r.limit} | {verdict[r.ok]} |" for r in self.rows]
        return "\n".join(lines)


# --------------------------------------------------------------------------- the stages, one call each

def stage_prepare(raw: Path, work: Path) -> Path:
    out = work / "fmnist.h5"
    steps.prepare("fmnist", str(out), raw_dir=str(raw), download=False)
    return out


def train_spec(stem: str, sizes: Sizes, epochs: int = 1) -> TrainSpec:
    field_, beta, mode, adv_eps, _ = MODELS[stem]
    return TrainSpec.of(field_, beta=beta, adv_eps=adv_eps, dataset="fmnist", mode=mode, epochs=epochs,
                        batch_size=sizes.batch, train_size=sizes.train, eval_images=sizes.eval)


def stage_train(data: Path, out: Path, spec: TrainSpec, dev: str) -> Path:
    steps.train(str(data), str(out), str(out.with_suffix(".h5")), spec, runtime=Runtime(device=dev), progress=False)
    return out


def stage_attack(data: Path, model: Path, out: Path, sizes: Sizes, dev: str) -> Path:
    steps.craft(str(data), str(model), str(out), AttackSpec(eps=0.1, images=sizes.images), runtime=Runtime(device=dev))
    return out


def stage_transfer(adv: Path, model: Path, out: Path, dev: str) -> Path:
    steps.transfer(str(adv), str(model), str(out), runtime=Runtime(device=dev))
    return out


def stage_whitebox(data: Path, model: Path, out: Path, attack: str, sizes: Sizes, dev: str) -> Path:
    spec = WhiteboxSpec(attack=AttackId.parse(attack), eps=(0.0, 0.05, 0.1), images=sizes.images, random_start=True)
    steps.whitebox(str(data), str(model), str(out), spec, runtime=Runtime(device=dev))
    return out


AUDIT = {"apgd-ce": dict(apgd_steps=20), "apgd-dlr": dict(apgd_steps=20), "square": dict(square_queries=300)}


def stage_audit(data: Path, model: Path, out: Path, attack: str, sizes: Sizes, dev: str) -> Path:
    spec = WhiteboxSpec(attack=AttackId.parse(attack), eps=(0.1,), images=sizes.images, **AUDIT[attack])
    steps.whitebox(str(data), str(model), str(out), spec, runtime=Runtime(device=dev))
    return out


def use_wheels(folder: Path) -> list[str]:
    """Put the pure-Python wheels in ``folder/wheels`` (torchattacks, for the audit) on the import path."""
    wheels = sorted(str(w) for w in (folder / "wheels").glob("*-py3-none-any.whl"))
    sys.path[:0] = wheels
    return wheels


def stage_nes(data: Path, model: Path, out: Path, sizes: Sizes, dev: str) -> Path:
    spec = NesSpec(eps=0.16, steps=2, queries=2 * 2 * sizes.nes_samples, images=sizes.nes_images)
    steps.nes(str(data), str(model), str(out), spec, runtime=Runtime(device=dev))
    return out


# --------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """TF32 for cuDNN convolutions and cuBLAS matmuls on or off inside the block (no-op off a GPU)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| over float64 copies on the CPU."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def gr_gradients(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, mode: str, wgrad: bool) -> torch.Tensor:
    """The G.R. training gradient (beta 64) of one batch, all parameters concatenated."""
    params = list(model.parameters())
    restore = set_conv_wgrad(model, wgrad)
    try:
        model.train()
        backward_with_zeta(regularized_loss(model, x, y, 64.0, mode, params=params), params)
        return torch.cat([p.grad.reshape(-1) for p in params]).detach().clone()
    finally:
        restore()
        model.eval()
        model.zero_grad(set_to_none=True)


def both(path: Path, dev: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same model file loaded on the CPU and on ``dev``."""
    return load_model(path, "cpu")[0], load_model(path, dev)[0]


def state_equal(a: Path, b: Path) -> bool:
    sa, sb = torch.load(a, weights_only=False)["state_dict"], torch.load(b, weights_only=False)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def arrays_equal(a: Path, b: Path) -> bool:
    ha, hb = read_h5(a).arrays, read_h5(b).arrays
    return ha.keys() == hb.keys() and all(np.array_equal(ha[k], hb[k], equal_nan=True) for k in ha)


def max_rel_weight_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(rel_err(v, u) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


# --------------------------------------------------------------------------- the parts of the check

def run_stages(rep: Report, raw: Path, work: Path, sizes: Sizes, dev: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    with rep.part("prepare"):
        t = time.perf_counter()
        files["data"] = stage_prepare(raw, work)
        rep.add("stage prepare (raw .gz -> HDF5)", f"{time.perf_counter() - t:.1f} s", "runs", True)
    for stem in MODELS:
        with rep.part(f"train {stem}"):
            t = time.perf_counter()
            files[stem] = stage_train(files["data"], work / f"{stem}.pt", train_spec(stem, sizes), dev)
            hist = read_h5(files[stem].with_suffix(".h5"))
            acc = float(hist.attrs["clean_acc"])
            rep.add(f"stage train {stem} on {dev}", f"{time.perf_counter() - t:.1f} s, clean acc {acc:.1f}%",
                    "runs, finite", math.isfinite(acc))
    src, tgt = files.get("complex-gr64-paper"), files.get("real-std")
    with rep.part("attack + transfer"):
        files["adv"] = stage_attack(files["data"], src, work / "adv-fgsm.h5", sizes, dev)
        cell = read_h5(stage_transfer(files["adv"], tgt, work / "transfer.h5", dev))
        rep.add(f"stages attack (fgsm) + transfer on {dev}", f"{cell.attrs['accuracy']:.1f}% accuracy",
                "runs", math.isfinite(cell.attrs["accuracy"]))
    for attack in ("fgsm", "pgd10"):
        with rep.part(f"whitebox {attack}"):
            wb = read_h5(stage_whitebox(files["data"], src, work / f"wb-{attack}.h5", attack, sizes, dev))
            acc = wb.arrays["accuracy"]
            rep.add(f"stage whitebox {attack} on {dev}", " / ".join(f"{v:.1f}" for v in acc) + " % at eps 0/.05/.1",
                    "runs, in [0, 100]", bool(np.all((acc >= 0) & (acc <= 100))))
    with rep.part("nes"):
        out = read_h5(stage_nes(files["data"], src, work / "nes.h5", sizes, dev))
        q = out.attrs["queries_per_image"]
        rep.add(f"stage nes on {dev}", f"{out.attrs['accuracy']:.1f}% accuracy, {q:g} queries/image",
                f"= {2 * 2 * sizes.nes_samples} queries/image", q == 2 * 2 * sizes.nes_samples)
    for attack in AUDIT:
        with rep.part(f"audit {attack}"):
            t = time.perf_counter()
            acc = read_h5(stage_audit(files["data"], src, work / f"audit-{attack}.h5", attack, sizes, dev)).arrays
            rep.add(f"stage audit {attack} (torchattacks) on {dev}",
                    f"{acc['accuracy'][0]:.1f}% at eps 0.1, {time.perf_counter() - t:.1f} s", "runs, in [0, 100]",
                    bool(0 <= acc["accuracy"][0] <= 100))
    return files


def compare_devices(rep: Report, files: dict[str, Path], sizes: Sizes, dev: str) -> None:
    """CUDA against the CPU on the same weights, TF32 off (and once on, reported)."""
    x, y = load_split(files["data"], "test", limit=sizes.batch)
    with rep.part("forward outputs"), tf32(False), torch.no_grad():
        worst = max(rel_err(g(x.to(dev)), c(x)) for c, g in (both(files[s], dev) for s in MODELS))
        rep.add(f"forward logits, {dev} vs cpu, 8 models", worst, "rel. err <= 1e-5", worst <= 1e-5)
    for stem in ("real-gr64-paper", "real-gr64-exact", "complex-gr64-paper", "complex-gr64-exact"):
        mode = stem.rsplit("-", 1)[1]
        with rep.part(f"G.R. gradient {stem}"):
            cpu, gpu = both(files[stem], dev)
            ref = gr_gradients(cpu, x, y, mode, wgrad=False)
            with tf32(False):
                errs = [rel_err(gr_gradients(gpu, x.to(dev), y.to(dev), mode, w), ref) for w in (False, True)]
            rep.add(f"G.R. gradient {stem}, {dev} vs cpu (conv_wgrad off / on)",
                    f"{errs[0]:.2g} / {errs[1]:.2g}", "rel. err <= 1e-4", max(errs) <= 1e-4)
            if stem == "complex-gr64-paper":
                with tf32(True):
                    err = rel_err(gr_gradients(gpu, x.to(dev), y.to(dev), mode, True), ref)
                rep.add(f"G.R. gradient {stem}, {dev} with TF32 (reported)", err, "torch's TF32 default", None)
    compare_attacks(rep, files, x, y, dev)
    for stem in ("complex-gr64-paper", "real-gr64-paper"):
        compare_nes_tf32(rep, files[stem], stem, x, y, sizes, dev)


def compare_attacks(rep: Report, files: dict[str, Path], x: torch.Tensor, y: torch.Tensor, dev: str) -> None:
    """FGSM, PGD-10 from a shared random start, NES gradients from shared directions (one CPU generator)."""
    cpu, gpu = both(files["complex-gr64-paper"], dev)
    xd, yd = x.to(dev), y.to(dev)
    with rep.part("attacks cpu vs device"), tf32(False):
        differ = float((fgsm(gpu, xd, yd, 0.1).cpu() - fgsm(cpu, x, y, 0.1)).abs().gt(1e-6).double().mean())
        rep.add(f"FGSM pixels that differ, {dev} vs cpu", differ, "<= 1e-3", differ <= 1e-3)
        a = pgd(gpu, xd, yd, 0.1, steps=10, random_start=True, generator=cpu_generator(0))
        b = pgd(cpu, x, y, 0.1, steps=10, random_start=True, generator=cpu_generator(0))
        differ = float((a.cpu() - b).abs().gt(1e-6).double().mean())
        rep.add(f"PGD-10 (shared random start) pixels that differ, {dev} vs cpu", differ, "<= 1e-2", differ <= 1e-2)
        n = 8
        g_dev = nes_gradient(gpu, xd[:n], yd[:n], samples=50, chunk=256, generator=cpu_generator(1))
        g_cpu = nes_gradient(cpu, x[:n], y[:n], samples=50, chunk=256, generator=cpu_generator(1))
        err = rel_err(g_dev, g_cpu)
        rep.add(f"NES gradient (shared directions), {dev} vs cpu", err, "rel. err <= 1e-2", err <= 1e-2)


def compare_nes_tf32(rep: Report, path: Path, stem: str, x: torch.Tensor, y: torch.Tensor, sizes: Sizes,
                     dev: str) -> None:
    """NES (score ``output``, sigma 0.001) on the device with TF32 off and on, the same directions.

    Every draw comes from a CPU generator of the same seed, so the two runs
    query the same points; what differs is only TF32 in cuDNN convolutions
    and cuBLAS matmuls. Reported (not judged): the largest change of a query's
    score beside the median finite difference ``|f(x + sigma d) - f(x - sigma d)|``
    that NES divides by ``2 sigma`` (the signal TF32's rounding competes with),
    the gradient estimates' relative difference and sign agreement, and the
    final NES accuracy and adversarial pixels. On the CPU stand-in TF32 does
    not exist and every difference is 0.
    """
    model = load_model(path, dev)[0]
    n, sigma = sizes.nes_images, 0.001
    xd, yd = x[:n].to(dev), y[:n].to(dev)
    with rep.part(f"NES TF32 {stem}"), torch.no_grad():
        d = torch.randn(2 * sizes.nes_samples, *x.shape[1:], generator=cpu_generator(2)).to(dev)
        queries = torch.cat([xd[:1] + sigma * d, xd[:1] - sigma * d])
        labels = yd[:1].expand(len(queries))
        scores = {}
        for on in (False, True):
            with tf32(on):
                scores[on] = true_class_output(model(queries), labels).double().cpu()
        signal = (scores[False][:len(d)] - scores[False][len(d):]).abs().median().item()
        shift = (scores[True] - scores[False]).abs().max().item()
        rep.add(f"NES query scores, TF32 on vs off, {stem} on {dev}",
                f"max |change| {shift:.2g}; median |f(x+sd)-f(x-sd)| {signal:.2g}", "reported (sigma 0.001)", None)
        grads, advs = {}, {}
        for on in (False, True):
            with tf32(on):
                grads[on] = nes_gradient(model, xd, yd, samples=sizes.nes_samples, sigma=sigma, score="output",
                                         chunk=256, generator=cpu_generator(1))
                advs[on] = nes(model, xd, yd, 0.16, steps=8, samples=sizes.nes_samples, sigma=sigma,
                               score="output", chunk=256, generator=cpu_generator(3))
        agree = float((grads[True].sign() == grads[False].sign()).double().mean())
        rep.add(f"NES gradient estimate, TF32 on vs off, {stem} on {dev}",
                f"rel. diff {rel_err(grads[True], grads[False]):.2g}, max |diff| "
                f"{(grads[True] - grads[False]).abs().max().item():.2g}, signs agree {agree:.4f}", "reported", None)
        with tf32(False):
            acc = {on: 100 * float((model(advs[on]).argmax(1) == yd).double().mean()) for on in (False, True)}
        differ = float((advs[True] - advs[False]).abs().gt(1e-6).double().mean())
        rep.add(f"NES final accuracy, TF32 on vs off, {stem} on {dev} ({n} images, 8 steps)",
                f"{acc[True]:.1f}% vs {acc[False]:.1f}% ({acc[True] - acc[False]:+.1f} pp); "
                f"adversarial pixels that differ {differ:.3g}", "reported", None)


def check_determinism(rep: Report, files: dict[str, Path], work: Path, sizes: Sizes, dev: str) -> None:
    """Each stage twice with the same seed: byte-identical weights, histories and attack results."""
    for stem in ("complex-gr64-paper", "real-adv"):
        with rep.part(f"determinism train {stem}"):
            again = stage_train(files["data"], work / f"{stem}-again.pt", train_spec(stem, sizes), dev)
            same = state_equal(files[stem], again) and arrays_equal(files[stem].with_suffix(".h5"),
                                                                    again.with_suffix(".h5"))
            rep.add(f"same seed twice: train {stem} on {dev}", "identical" if same else "differs", "identical", same)
    src = files["complex-gr64-paper"]
    with rep.part("determinism attacks"):
        runs = {"attack fgsm": (files["adv"], stage_attack(files["data"], src, work / "adv-again.h5", sizes, dev)),
                "audit square": (work / "audit-square.h5", stage_audit(files["data"], src, work / "square-again.h5",
                                                                       "square", sizes, dev)),
                "whitebox pgd10": (work / "wb-pgd10.h5", stage_whitebox(files["data"], src, work / "wb-again.h5",
                                                                        "pgd10", sizes, dev)),
                "nes": (work / "nes.h5", stage_nes(files["data"], src, work / "nes-again.h5", sizes, dev))}
        for name, (a, b) in runs.items():
            same = arrays_equal(a, b)
            rep.add(f"same seed twice: {name} on {dev}", "identical" if same else "differs", "identical", same)


def check_graphs(rep: Report, files: dict[str, Path], sizes: Sizes, dev: str) -> None:
    """Graphed against eager training (2 epochs, lr milestone after the first, partial last batch), and the guard."""
    x, y = load_split(files["data"], "train", limit=sizes.train + sizes.batch // 2)
    tx, ty = load_split(files["data"], "test", limit=sizes.eval)
    for field_, kw in (("complex", dict(beta=64.0, mode="paper")), ("real", dict(adv_eps=0.2, adv_steps=4))):
        with rep.part(f"graphs {field_}"):
            spec = TrainSpec.of(field_, dataset="fmnist", epochs=2, batch_size=sizes.batch, milestones=(1,), **kw)
            runs = [train(spec, x, y, tx, ty, device=dev, progress=False, log=lambda m: None, cuda_graphs=g)
                    for g in (False, True)]
            diff = max_rel_weight_diff(runs[0][0], runs[1][0])
            rep.add(f"{field_} {'G.R.' if 'beta' in kw else 'PGD adv.'} training, CUDA graphs vs eager "
                    f"(max rel. weight diff)", diff, "<= 1e-5", diff <= 1e-5)
    with rep.part("NaN guard"):  # a finite but absurd learning rate: the weights overflow in the first step
        spec = TrainSpec.of("real", dataset="check", epochs=1, batch_size=sizes.batch, lr=1e30, augment=False)
        try:
            train(spec, x[:sizes.batch], y[:sizes.batch], tx, ty, device=dev, progress=False, log=lambda m: None)
            rep.add(f"lr = 1e30 stops training on {dev}", "a model was returned", "NumericalError", False)
        except NumericalError as err:
            rep.add(f"lr = 1e30 stops training on {dev}", str(err).split(";")[0], "NumericalError, no model",
                    "became" in str(err))


def check_oom(rep: Report, dev: str) -> None:
    """A real allocation failure on the device becomes the one-line CvgrError."""
    if dev != "cuda":
        rep.add("out-of-memory message on a real CUDA OOM", "not run", "cpu stand-in", None)
        return
    with rep.part("oom"):
        try:
            with batch_memory_hint("check (train)", {"batch_size": 1 << 40}, "batch_size"):
                torch.empty(1 << 50, device="cuda")
            rep.add("out-of-memory message on a real CUDA OOM", "no error", "CvgrError", False)
        except CvgrError as err:
            line = str(err)
            rep.add("out-of-memory message on a real CUDA OOM", line[:90], "one line naming batch_size",
                    "\n" not in line and "lower batch_size" in line and "tried to allocate" in line)


def run_cuda_tests(rep: Report) -> None:
    files = sorted(str(p) for p in (ROOT / "tests").glob("test_*.py") if "mark.cuda" in p.read_text())
    with rep.part("pytest -m cuda"):
        res = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", *files],
                             cwd=ROOT, capture_output=True, text=True, timeout=240,
                             env=os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
        last = (res.stdout.strip().splitlines() or ["(no output)"])[-1]
        if res.returncode != 0:
            print(res.stdout[-4000:], res.stderr[-2000:], sep="\n")
        rep.add(f"pytest -m cuda ({len(files)} files)", last, "exit status 0", res.returncode == 0)


def run_bench(rep: Report, sizes: Sizes, dev: str, out: Path | None) -> None:
    import gpu as bench_gpu  # bench/gpu.py
    from timing import write_doc
    a = argparse.Namespace(device=dev, threads=1, wgrad=True, **sizes.bench)
    with rep.part("benchmark"):
        m = bench_gpu.measure(a)
        judged = dev == "cuda"
        for t in bench_gpu.targets(m):
            name, value, limit, _ = t.row()
            rep.add(f"bench: {name}", value, limit, t.met if judged else None)
        for b in m["big"]:
            rep.add(f"bench: conv_wgrad speed-up of the {b['field']} G.R. step at batch {m['big_batch']}",
                    f"{b['wgrad_speedup']:.2f}x ({b['gr_off_ms']:.2f} -> {b['gr_on_ms']:.2f} ms)", ">= 1 (A/B)",
                    b["wgrad_speedup"] >= 1.0 if judged else None)
        if out is not None:
            doc = out / "BENCHMARKS.md"
            shutil.copyfile(ROOT / "docs" / "BENCHMARKS.md", doc)
            write_doc(bench_gpu.section(a, m), doc, "bench-cuda")


# --------------------------------------------------------------------------- main

def no_gpu_line() -> str:
    return (f"gpu-check: torch {torch.__version__} sees no CUDA GPU (torch.cuda.is_available() is False): "
            "run it on a machine with a GPU (docs/GPU.md)")


def missing_data_line(folder: Path) -> str | None:
    """One line naming ``folder`` and the fix when it lacks a Fashion-MNIST ``*-ubyte.gz`` file, else None."""
    names = [Path(p).name + ".gz" for p in dataset_info("fmnist").raw_relpaths()]
    missing = [n for n in names if not (folder / n).is_file()]
    if not missing:
        return None
    return (f"gpu-check: {folder} lacks {', '.join(missing)}: run `bash tools/gpu_bundle.sh` (fills .gpu-data) "
            "or pass --data <folder with the four Fashion-MNIST *-ubyte.gz files>")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with the four Fashion-MNIST .gz files (and, in "
                                                  "wheels/, torchattacks' wheel for the audit: tools/gpu_bundle.sh)")
    ap.add_argument("--out", default=os.environ.get("OUT"), help="folder for the table and the benchmark block "
                                                                 "(default $OUT; none: print only)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=4, help="torch CPU threads for the CPU side (default 4)")
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        print(no_gpu_line())
        return 2
    if line := missing_data_line(Path(a.data)):
        print(line)
        return 2
    start = time.perf_counter()
    wheels = use_wheels(Path(a.data))
    os.environ["PYTHONPATH"] = os.pathsep.join([*wheels, os.environ.get("PYTHONPATH", "")])
    set_determinism(a.threads)
    sizes = GPU_SIZES if a.device == "cuda" else CPU_SIZES
    out = Path(a.out) if a.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    rep = Report()
    device_name = torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu (stand-in for the GPU)"
    print(f"[gpu-check] {device_name}; torch {torch.__version__}; python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="cvgr-gpu-check-") as tmp:
        work = Path(tmp)
        files = run_stages(rep, Path(a.data), work, sizes, a.device)
        if all(s in files for s in MODELS):
            compare_devices(rep, files, sizes, a.device)
            check_determinism(rep, files, work, sizes, a.device)
        if "data" in files:
            check_graphs(rep, files, sizes, a.device)
    check_oom(rep, a.device)
    run_cuda_tests(rep)
    run_bench(rep, sizes, a.device, out)
    clean = not any(m in sys.modules for m in ("snakemake", "jsonschema"))
    rep.add("imports neither snakemake nor jsonschema", "true" if clean else "false", "true", clean)
    took = time.perf_counter() - start
    rep.add("total time", f"{took:.0f} s", f"<= {TIME_LIMIT_S:.0f} s", took <= TIME_LIMIT_S if a.device == "cuda"
            else None)
    table = f"GPU check on {device_name}, torch {torch.__version__}\n\n{rep.table()}\n"
    print("\n" + table)
    if out:
        (out / "gpu_check.md").write_text(table)
        (out / "gpu_check.json").write_text(json.dumps([r.__dict__ for r in rep.rows], indent=1))
    print(f"gpu-check: {'all checks passed' if rep.passed else 'SOME CHECKS FAILED'}")
    return 0 if rep.passed else 1


if __name__ == "__main__":
    sys.exit(main())
