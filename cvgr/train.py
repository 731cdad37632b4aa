"""Training: SGD with the paper's schedule, optional G.R. or PGD adversarial training.

One epoch, for a shuffled pass over the training set in batches of B:

* (optional) augment the batch (:mod:`cvgr.augment`);
* (adversarial training) replace the batch by PGD examples (random start);
* minimise ``L + R`` (:func:`cvgr.regularize.regularized_loss`) with SGD
  (momentum, weight decay), recording zeta for every batch;
* after the epoch: step the learning-rate schedule (x gamma at each
  milestone), evaluate on the test images, append a history row, and save a
  checkpoint.

Reproducibility: the weights are initialised from ``torch.manual_seed(seed)``
and every random draw of epoch ``e`` comes from generators seeded with
``(seed, e)`` (:mod:`cvgr.rand`): shuffle and augmentation from a CPU
generator (the same batches on every device), PGD's random start from the
same generator on the CPU and from one on the GPU there. Nothing depends on global RNG state
carried between epochs, so a run resumed from the checkpoint of epoch ``e`` is
bit-identical to one that never stopped. The checkpoint holds model,
optimizer and schedule state, the history, and a fingerprint of the
configuration and data; a checkpoint with another fingerprint is stale and is
ignored (with a message), never silently reused.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .attacks import pgd
from .augment import AUGMENTATIONS, augment_batch
from .errors import NumericalError
from .evaluate import loss_and_accuracy
from .io import load_checkpoint, save_checkpoint
from .nn import Net, build_model
from .rand import cpu_generator, generator
from .records import HISTORY_KEYS
from .regularize import backward_with_zeta, regularized_loss
from .specs import TrainSpec



def make_optimizer(model: nn.Module, spec: TrainSpec) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.MultiStepLR]:
    """SGD(lr, momentum, weight decay) with lr x gamma at each milestone epoch."""
    opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(spec.milestones), gamma=spec.gamma)
    return opt, sched


def train_step(model: Net, opt: torch.optim.Optimizer, spec: TrainSpec, xb: Tensor, yb: Tensor,
               gen: torch.Generator | None, params: list[Tensor]) -> Tensor:
    """One SGD step on a batch; returns [L, R, batch accuracy (fraction), zeta] as a float64 tensor.

    ``gen`` draws the PGD random start of adversarial training (see :mod:`cvgr.rand`).
    """
    if spec.adv_eps > 0:
        model.eval()
        xb = pgd(model, xb, yb, spec.adv_eps, steps=spec.pgd.steps, random_start=spec.pgd.random_start,
                 generator=gen)
    model.train()
    obj = regularized_loss(model, xb, yb, spec.beta, spec.mode, params=params)
    opt.zero_grad(set_to_none=True)
    zeta = backward_with_zeta(obj, params)
    opt.step()
    return torch.stack([obj.loss.detach().double(), obj.penalty.detach().double(),
                        (obj.logits.argmax(1) == yb).double().mean(), zeta.double()])


def _train_epoch(model: Net, opt: torch.optim.Optimizer, spec: TrainSpec, x: Tensor, y: Tensor,
                 epoch: int, progress: bool) -> dict[str, float]:
    """One pass over (x, y); returns the epoch means of loss, penalty, accuracy and zeta."""
    device = next(model.parameters()).device
    gen = cpu_generator(spec.seed, epoch)  # shuffle and augmentation: the same on every device
    noise_gen = gen if device.type == "cpu" else generator(spec.seed, epoch, device)  # PGD random start
    perm = torch.randperm(len(x), generator=gen)
    params = [p for p in model.parameters() if p.requires_grad]
    augmentation = AUGMENTATIONS.get(spec.dataset) if spec.augment else None
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, penalty, correct, zeta
    n_batches = math.ceil(len(x) / spec.batch_size)
    bar = tqdm(range(n_batches), desc=f"{spec.name} epoch {epoch + 1}/{spec.epochs}", file=sys.stderr,
               disable=not progress, mininterval=1.0 if sys.stderr.isatty() else 30.0, leave=False)
    for b in bar:
        idx = perm[b * spec.batch_size:(b + 1) * spec.batch_size]
        xb = augment_batch(x[idx], augmentation, gen).to(device)
        sums += train_step(model, opt, spec, xb, y[idx].to(device), noise_gen, params)
    means = (sums / n_batches).tolist()
    return dict(zip(("train_loss", "train_penalty", "train_acc", "zeta"), means)) | {
        "train_acc": 100.0 * means[2]}


def _check_finite(row: dict[str, float], spec: TrainSpec, epoch: int) -> None:
    bad = [k for k in ("train_loss", "train_penalty") if not math.isfinite(row[k])]
    if bad:
        raise NumericalError(
            f"{spec.name}: {bad[0]} became {row[bad[0]]} in epoch {epoch + 1} "
            f"(beta={spec.beta:g}, mode={spec.mode}, lr={spec.lr:g}); no model was written. "
            "Lower beta or the learning rate in the config and rerun"
        )


def train(spec: TrainSpec, train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *,
          num_classes: int = 10, checkpoint: str | Path | None = None, fingerprint: str = "",
          device: torch.device | str = "cpu", progress: bool = True,
          log: Callable[[str], None] = print) -> tuple[Net, dict[str, list[float]]]:
    """Train a fresh model (or resume from ``checkpoint``) and return it with its per-epoch history.

    ``fingerprint`` identifies the configuration and data; a checkpoint whose
    fingerprint differs is ignored.
    """
    torch.manual_seed(spec.seed)
    model = build_model(spec.arch, spec.field, tuple(train_x.shape[1:]), num_classes).to(device)
    opt, sched = make_optimizer(model, spec)
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    start = _resume(checkpoint, fingerprint, model, opt, sched, history, log) if checkpoint else 0
    for epoch in range(start, spec.epochs):
        lr = opt.param_groups[0]["lr"]
        row = _train_epoch(model, opt, spec, train_x, train_y, epoch, progress)
        _check_finite(row, spec, epoch)
        sched.step()
        row["test_loss"], row["test_acc"] = loss_and_accuracy(model, test_x, test_y)
        row["epoch"], row["lr"] = epoch + 1, lr
        for k in HISTORY_KEYS:
            history[k].append(float(row[k]))
        log(f"{spec.name} epoch {epoch + 1}/{spec.epochs}: loss {row['train_loss']:.4f} R {row['train_penalty']:.4f} "
            f"train acc {row['train_acc']:.2f}% test acc {row['test_acc']:.2f}% zeta {row['zeta']:.4f}")
        if checkpoint:
            save_checkpoint(checkpoint, {"fingerprint": fingerprint, "epoch": epoch + 1, "model": model.state_dict(),
                                         "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                         "history": history})
    model.eval()
    return model, history


def _resume(path: str | Path, fingerprint: str, model: nn.Module, opt: torch.optim.Optimizer,
            sched: torch.optim.lr_scheduler.LRScheduler, history: dict[str, list[float]],
            log: Callable[[str], None]) -> int:
    """Load a matching checkpoint into model/opt/sched/history; return the epoch to start from."""
    if not Path(path).exists():
        return 0
    state = load_checkpoint(path)
    if state.get("fingerprint") != fingerprint:
        log(f"{path}: checkpoint belongs to another configuration or dataset; ignoring it and training from scratch")
        return 0
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    for k in HISTORY_KEYS:
        history[k] = list(state["history"][k])
    log(f"{path}: resuming after epoch {state['epoch']}")
    return int(state["epoch"])
