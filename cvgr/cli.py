"""The ``cvgr`` command line: the pipeline's steps one at a time, on explicit files.

    cvgr prepare fmnist --out results/data/fmnist.h5
    cvgr train --data results/data/fmnist.h5 --field complex --beta 64 --epochs 2 --out complex-gr64-s0.pt
    cvgr attack --data results/data/fmnist.h5 --model complex-gr64-s0.pt --attack fgsm --eps 0.16 --out adv.h5
    cvgr transfer --adv adv.h5 --model real-std-s1.pt --out cell.h5
    cvgr whitebox --data ... --model ... --attack pgd10 --eps-max 0.3 --eps-points 16 --out wb.h5
    cvgr nes --data ... --model ... --eps 0.16 --steps 8 --samples 250 --images 100 --out nes.h5
    cvgr show FILE          # what a result file holds
    cvgr provenance FILE    # the chain of inputs back to the raw dataset files

Problems with input (a missing or corrupt file, bad values) print one line
starting with ``cvgr error:`` and exit with status 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__, steps
from .errors import CvgrError
from .naming import model_id


def _runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to compute (default auto)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (fixed for reproducibility; default 1)")


def _eval_args(p: argparse.ArgumentParser, attack: bool = True) -> None:
    p.add_argument("--data", required=True, help="dataset HDF5 from `cvgr prepare`")
    p.add_argument("--model", required=True, help="model .pt from `cvgr train`")
    p.add_argument("--images", type=int, default=1000, help="use the first N test images (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed for random starts / NES directions")
    p.add_argument("--out", required=True, help="output HDF5")
    if attack:
        p.add_argument("--attack", default="fgsm", help="fgsm or pgd<k>, e.g. pgd10 (default fgsm)")
    _runtime(p)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cvgr", description=__doc__.replace("``", ""),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"cvgr {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="raw dataset -> HDF5 (uint8 images, labels, raw-file sha256s)")
    p.add_argument("dataset", choices=["mnist", "fmnist", "svhn", "cifar10"])
    p.add_argument("--out", required=True, help="output HDF5, e.g. results/data/fmnist.h5")
    p.add_argument("--data-dir", help="folder with torchvision's raw files (else $CVGR_DATA, Debian's, download)")
    p.add_argument("--no-download", action="store_true", help="never try to download")

    p = sub.add_parser("train", help="train one real or complex net (std, G.R. or adversarial)")
    p.add_argument("--data", required=True, help="dataset HDF5 from `cvgr prepare`")
    p.add_argument("--arch", default="small_cnn", choices=["small_cnn", "mlp", "cifar_cnn"])
    p.add_argument("--field", default="complex", choices=["real", "complex"])
    p.add_argument("--beta", type=float, default=0.0, help="G.R. strength (0 = no G.R.)")
    p.add_argument("--mode", default="paper", choices=["paper", "exact"], help="double-backprop mode")
    p.add_argument("--adv-eps", type=float, default=0.0, help="PGD adversarial training epsilon (0 = off)")
    p.add_argument("--adv-steps", type=int, default=4, help="PGD steps of adversarial training")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--milestones", type=int, nargs="*", default=[20], help="epochs where lr is multiplied by gamma")
    p.add_argument("--gamma", type=float, default=0.2)
    p.add_argument("--no-augment", action="store_true", help="turn off the dataset's augmentation")
    p.add_argument("--train-size", type=int, help="use the first N training images (default all)")
    p.add_argument("--eval-images", type=int, default=10000, help="test images for per-epoch metrics")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="model file (.pt); the history goes next to it as .h5")
    p.add_argument("--checkpoint", help="per-epoch checkpoint to resume from (default OUT.ckpt)")
    _runtime(p)

    p = sub.add_parser("attack", help="craft adversarial examples (FGSM / PGD) on a model")
    _eval_args(p)
    p.add_argument("--eps", type=float, required=True, help="L-inf budget, pixels in [0, 1]")

    p = sub.add_parser("transfer", help="accuracy of a target model on examples crafted on a source")
    p.add_argument("--adv", required=True, help="adversarial set from `cvgr attack`")
    p.add_argument("--model", required=True, help="target model .pt")
    p.add_argument("--out", required=True)
    _runtime(p)

    p = sub.add_parser("whitebox", help="accuracy under FGSM / PGD over an epsilon grid")
    _eval_args(p)
    p.add_argument("--eps-max", type=float, default=0.30)
    p.add_argument("--eps-points", type=int, default=16, help="grid 0..eps-max with this many points")
    p.add_argument("--random-start", action="store_true", help="PGD random start")

    p = sub.add_parser("nes", help="NES query-based attack (PGD on estimated gradients)")
    _eval_args(p, attack=False)
    p.add_argument("--eps", type=float, default=0.16)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--samples", type=int, default=250, help="n directions per step: 2n queries per step")
    p.add_argument("--sigma", type=float, default=0.001)
    p.add_argument("--chunk", type=int, help="rows per forward pass (default: 256 on CPU, 8192 on CUDA)")

    p = sub.add_parser("show", help="print what a cvgr HDF5 or model file holds")
    p.add_argument("file")
    p = sub.add_parser("provenance", help="print a result's chain of inputs back to the raw dataset files")
    p.add_argument("file")
    return ap


def _train(a: argparse.Namespace) -> None:
    from .io import read_h5
    dataset = read_h5(a.data, keys=[]).attrs.get("dataset", "custom")
    name = str(model_id(a.field, a.beta, a.seed, a.adv_eps))
    spec = {"dataset": dataset, "model": name, "arch": a.arch, "field": a.field, "beta": a.beta, "mode": a.mode,
            "adv_eps": a.adv_eps, "adv_steps": a.adv_steps, "adv_random_start": True, "epochs": a.epochs,
            "batch_size": a.batch_size, "lr": a.lr, "momentum": 0.875, "weight_decay": 1e-4,
            "milestones": a.milestones, "gamma": a.gamma, "augment": not a.no_augment,
            "train_size": a.train_size, "eval_images": a.eval_images, "seed": a.seed}
    out = Path(a.out)
    steps.train(a.data, str(out), str(out.with_suffix(".h5")), spec,
                checkpoint=a.checkpoint or str(out.with_suffix(".ckpt")), device=a.device, threads=a.threads)
    print(f"wrote {out} and {out.with_suffix('.h5')} ({name})")


def _show(path: str) -> None:
    from .io import read_h5
    if path.endswith(".pt"):
        from .modelfile import load_model
        net, meta = load_model(path)
        print(f"{path}: {meta['field']} {meta['arch']} model {meta['model']} for {meta['dataset']}, "
              f"input {tuple(meta['in_shape'])}, {sum(p.numel() for p in net.parameters())} parameters")
        return
    h = read_h5(path)
    print(path)
    for k, v in sorted(h.attrs.items()):
        if k != "provenance":
            print(f"  {k}: {v}")
    for k, v in sorted(h.arrays.items()):
        summary = f"  [{', '.join(f'{x:.4g}' for x in v[:16])}]" if v.ndim == 1 and v.size <= 16 else ""
        print(f"  {k}: {v.dtype} {tuple(v.shape)}{summary}")


def run(argv: Sequence[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    rt = {"device": getattr(a, "device", "auto"), "threads": getattr(a, "threads", 1)}
    if a.command == "prepare":
        steps.prepare(a.dataset, a.out, raw_dir=a.data_dir, download=not a.no_download)
    elif a.command == "train":
        _train(a)
    elif a.command == "attack":
        steps.craft(a.data, a.model, a.out, {"attack": a.attack, "eps": a.eps, "images": a.images, "seed": a.seed},
                    **rt)
    elif a.command == "transfer":
        steps.transfer(a.adv, a.model, a.out, **rt)
    elif a.command == "whitebox":
        grid = [round(float(e), 10) for e in np.linspace(0.0, a.eps_max, a.eps_points)]
        steps.whitebox(a.data, a.model, a.out, {"attack": a.attack, "eps": grid, "images": a.images,
                                                "random_start": a.random_start, "seed": a.seed}, **rt)
    elif a.command == "nes":
        steps.nes(a.data, a.model, a.out, {"eps": a.eps, "steps": a.steps, "samples": a.samples, "sigma": a.sigma,
                                           "images": a.images, "chunk": a.chunk, "seed": a.seed}, **rt)
    elif a.command == "show":
        _show(a.file)
    elif a.command == "provenance":
        from .io import provenance_chain
        print(provenance_chain(a.file))
    if a.command in ("prepare", "attack", "transfer", "whitebox", "nes"):
        print(f"wrote {a.out}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user errors become one ``cvgr error:`` line and exit status 1."""
    try:
        run(argv)
    except CvgrError as err:
        print(f"cvgr error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
