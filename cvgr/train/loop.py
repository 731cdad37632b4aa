"""Training: SGD with the paper's schedule, optional G.R. or PGD adversarial training.

One epoch, for a shuffled pass over the training set in batches of B:

* (optional) augment the batch (:mod:`cvgr.data.augment`);
* (adversarial training) replace the batch by PGD examples (random start);
* minimise ``L + R`` (:func:`cvgr.train.regularize.regularized_loss`) with SGD
  (momentum, weight decay), recording zeta for every batch;
* after the epoch: step the learning-rate schedule (x gamma at each
  milestone), evaluate on the test images, append a history row, and save a
  checkpoint.

On a GPU (:func:`train`): the data moves to the device once, each epoch's
shuffle and augmentation are drawn on the CPU exactly as a CPU run draws them
and applied on the device, full batches replay a CUDA graph of the whole
step (:mod:`cvgr.train.cudagraphs`), zeta and the metrics stay on the device, and the
host reads them once per epoch, together with a finiteness flag per weight
tensor: an epoch whose metrics or weights hold a NaN or an infinity stops
training with a :class:`NumericalError` before its checkpoint or model is
written.

Reproducibility: the weights are initialised from ``torch.manual_seed(seed)``
and every random draw of epoch ``e`` comes from generators seeded with
``(seed, e)`` (:mod:`cvgr.runtime.rand`): shuffle and augmentation from a CPU
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
from typing import Callable, Iterator

import torch
from torch import Tensor, nn
from tqdm import tqdm

from ..attacks.pgd import pgd
from ..data.augment import AUGMENTATIONS, Augmentation, Draws, apply, augment_batch, draw
from ..defenses import get_defense
from ..errors import NumericalError
from ..attacks.evaluate import loss_and_correct
from .cudagraphs import GraphedStep
from ..results.io import load_checkpoint, save_checkpoint
from ..nn import Net, build_model, set_conv_wgrad
from ..runtime.rand import cpu_generator, generator, seed_value
from ..results.records import HISTORY_KEYS
from ..registry import resolve
from .regularize import backward_with_zeta, regularized_loss
from ..study.specs import TrainSpec


def make_optimizer(model: nn.Module, spec: TrainSpec) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.MultiStepLR]:
    """SGD(lr, momentum, weight decay) with lr x gamma at each milestone epoch."""
    opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(spec.milestones), gamma=spec.gamma)
    return opt, sched


def augmentation_of(spec: TrainSpec) -> Augmentation | None:
    """The dataset's augmentation (:data:`cvgr.data.augment.AUGMENTATIONS`) when ``spec.augment``, else None."""
    return AUGMENTATIONS.get(spec.dataset) if spec.augment else None


def adversarial_batch(model: Net, xb: Tensor, yb: Tensor, spec: TrainSpec, gen: torch.Generator | None) -> Tensor:
    """PGD adversarial training's batch: PGD examples at the model's eps, with ``spec.pgd``'s steps and start."""
    model.eval()
    return pgd(model, xb, yb, spec.adv_eps, steps=spec.pgd.steps, random_start=spec.pgd.random_start,
               generator=gen)


def train_step(model: Net, opt: torch.optim.Optimizer, spec: TrainSpec, xb: Tensor, yb: Tensor,
               gen: torch.Generator | None, params: list[Tensor]) -> Tensor:
    """One SGD step on a batch; returns [L, R, batch accuracy (fraction), zeta] as a float64 tensor.

    The model's defense may first replace the batch (:attr:`cvgr.defenses.Defense.batch`); the
    loss carries the G.R. penalty at ``spec.beta`` (0 unless the defense is G.R.).

    ``gen`` draws the PGD random start of adversarial training (see :mod:`cvgr.runtime.rand`).
    """
    batch = get_defense(spec.model.defense).batch
    if batch is not None:
        xb = resolve(batch, f"defense {spec.model.defense}'s batch")(model, xb, yb, spec, gen)
    model.train()
    obj = regularized_loss(model, xb, yb, spec.beta, spec.mode, params=params)
    opt.zero_grad(set_to_none=True)
    zeta = backward_with_zeta(obj, params)
    opt.step()
    return torch.stack([obj.loss.detach().double(), obj.penalty.detach().double(),
                        (obj.logits.argmax(1) == yb).double().mean(), zeta.double()])


def _n_batches(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def _host_batches(x: Tensor, y: Tensor, spec: TrainSpec, gen: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
    """The epoch's batches, drawn lazily from ``gen``: shuffle, then per batch its augmentation.

    Lazily, because on the CPU PGD's random start draws from the same
    generator between the batches (:func:`_train_epoch`).
    """
    perm = torch.randperm(len(x), generator=gen)
    for b in range(_n_batches(len(x), spec.batch_size)):
        idx = perm[b * spec.batch_size:(b + 1) * spec.batch_size]
        yield augment_batch(x[idx], augmentation_of(spec), gen), y[idx]


def _device_batches(x: Tensor, y: Tensor, spec: TrainSpec, gen: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
    """The batches of :func:`_host_batches`, for data that lives on its (GPU) device.

    The shuffle and every batch's augmentation are drawn up front from the CPU
    generator ``gen`` with the same calls in the same order as
    :func:`_host_batches`, so when nothing else draws from ``gen`` the batches
    are identical. The draws move to the device once (in
    :func:`cvgr.data.augment.apply`); the epoch is gathered and augmented there in
    one pass (indexing only, so exact).
    """
    n, bs = len(x), spec.batch_size
    perm = torch.randperm(n, generator=gen)
    aug = augmentation_of(spec)
    draws = [draw(min(bs, n - b * bs), aug, gen) for b in range(_n_batches(n, bs))] if aug else []
    perm = perm.to(x.device)
    xe, ye = x.index_select(0, perm), y.index_select(0, perm)
    if draws:
        xe = apply(xe, aug, Draws.cat(draws))
    for b in range(_n_batches(n, bs)):
        yield xe[b * bs:(b + 1) * bs], ye[b * bs:(b + 1) * bs]


class _Steps:
    """The training steps of one run: :func:`train_step`, replayed from a CUDA graph where possible.

    PGD's random start draws from the epoch's CPU generator on the CPU (which
    also draws the batches) and from a CUDA generator seeded with
    ``(seed, epoch)`` (:mod:`cvgr.runtime.rand`) on a GPU. With ``graphed``, steps on
    full batches replay a :class:`cvgr.train.cudagraphs.GraphedStep`; the last, smaller
    batch of an epoch runs eagerly.
    """

    def __init__(self, model: Net, opt: torch.optim.Optimizer, spec: TrainSpec, device: torch.device,
                 graphed: bool):
        params = [p for p in model.parameters() if p.requires_grad]
        self.spec = spec
        self.fn = lambda xb, yb, gen: train_step(model, opt, spec, xb, yb, gen, params)
        self.noise = None if device.type == "cpu" else generator(spec.seed, 0, device)  # reseeded per epoch
        self.graph = GraphedStep(self.fn, model, opt, self.noise) if graphed else None
        self.gen: torch.Generator | None = None

    def start_epoch(self, epoch: int, cpu_gen: torch.Generator) -> None:
        """Use ``cpu_gen`` (CPU) or the device generator reseeded for ``epoch`` for this epoch's noise."""
        self.gen = cpu_gen if self.noise is None else self.noise.manual_seed(seed_value(self.spec.seed, epoch))

    def __call__(self, xb: Tensor, yb: Tensor) -> Tensor:
        if self.graph is not None and xb.shape[0] == self.spec.batch_size:
            return self.graph(xb, yb)
        return self.fn(xb, yb, self.gen)

    def close(self) -> None:
        if self.graph is not None:
            self.graph.release()


def _train_epoch(spec: TrainSpec, x: Tensor, y: Tensor, epoch: int, progress: bool, steps: _Steps) -> Tensor:
    """One pass over (x, y); returns the sums of loss, penalty, batch accuracy and zeta (float64, on x's device).

    Nothing here waits for the device: the caller reads the sums once.
    """
    gen = cpu_generator(spec.seed, epoch)  # shuffle and augmentation: the same on every device
    steps.start_epoch(epoch, gen)
    batches = _host_batches(x, y, spec, gen) if x.device.type == "cpu" else _device_batches(x, y, spec, gen)
    sums = torch.zeros(4, dtype=torch.float64, device=x.device)  # loss, penalty, correct, zeta
    n_batches = _n_batches(len(x), spec.batch_size)
    bar = tqdm(batches, total=n_batches, desc=f"{spec.name} epoch {epoch + 1}/{spec.epochs}", file=sys.stderr,
               disable=not progress, mininterval=1.0 if sys.stderr.isatty() else 30.0, leave=False)
    for xb, yb in bar:
        sums += steps(xb, yb)
    return sums


def _epoch_row(sums: Tensor, n_batches: int, model: nn.Module, test_x: Tensor, test_y: Tensor) -> dict:
    """The epoch's history values and the first non-finite state tensor's name, read in one host sync."""
    eval_sums = loss_and_correct(model, test_x, test_y)
    state = {k: v for k, v in model.state_dict().items() if v.is_floating_point()}
    finite = torch.stack([torch.isfinite(v).all() for v in state.values()])
    values = torch.cat([sums / n_batches, eval_sums, finite.double()]).tolist()
    means, (loss_sum, correct), ok = values[:4], values[4:6], values[6:]
    n = max(len(test_x), 1)
    row = dict(zip(("train_loss", "train_penalty", "train_acc", "zeta"), means)) | {
        "train_acc": 100.0 * means[2], "test_loss": loss_sum / n, "test_acc": 100.0 * correct / n}
    row["nonfinite"] = next((k for k, good in zip(state, ok) if not good), None)
    return row


#: What :func:`_check_finite` checks, in the order it reports the first bad one ("weight": the state tensors).
_FINITE_ORDER = ("train_loss", "train_penalty", "weight", "train_acc", "zeta", "test_loss", "test_acc")


def _check_finite(row: dict, spec: TrainSpec, epoch: int) -> None:
    """NumericalError (one line: model, epoch, what, the fix) if a metric or a weight is NaN or infinite."""
    weight = row["nonfinite"]
    checks = [(f"weight {weight}", "non-finite", weight is None) if k == "weight"
              else (k, row[k], math.isfinite(row[k])) for k in _FINITE_ORDER]
    bad = next(((what, value) for what, value, ok in checks if not ok), None)
    if bad:
        raise NumericalError(
            f"{spec.name}: {bad[0]} became {bad[1]} in epoch {epoch + 1} "
            f"(beta={spec.beta:g}, mode={spec.mode}, lr={spec.lr:g}); no model was written. "
            "Lower beta or the learning rate in the config and rerun"
        )


def train(spec: TrainSpec, train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *,
          num_classes: int = 10, checkpoint: str | Path | None = None, fingerprint: str = "",
          device: torch.device | str = "cpu", progress: bool = True, log: Callable[[str], None] = print,
          cuda_graphs: bool = True, conv_wgrad: bool | None = None) -> tuple[Net, dict[str, list[float]]]:
    """Train a fresh model (or resume from ``checkpoint``) and return it with its per-epoch history.

    ``fingerprint`` identifies the configuration and data; a checkpoint whose
    fingerprint differs is ignored. On a GPU the data moves to the device
    once, augmentation runs there, full batches replay one CUDA graph per
    step (``cuda_graphs``, :mod:`cvgr.train.cudagraphs`), and the host waits for the
    device once per epoch. ``conv_wgrad`` differentiates convolutions with
    the weight-gradient kernel (:mod:`cvgr.nn.conv`); None means on a GPU
    only. On the CPU, both default to today's behaviour, bit for bit.
    A NaN or infinity in the epoch's metrics or weights stops training
    before anything of that epoch is written (:class:`NumericalError`).
    """
    device = torch.device(device)
    torch.manual_seed(spec.seed)
    model = build_model(spec.arch, spec.field, tuple(train_x.shape[1:]), num_classes,
                        real_bias=spec.real_bias).to(device)
    opt, sched = make_optimizer(model, spec)
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    start = _resume(checkpoint, fingerprint, model, opt, sched, history, log) if checkpoint else 0
    restore_conv = set_conv_wgrad(model, device.type == "cuda" if conv_wgrad is None else conv_wgrad)
    train_x, train_y, test_x, test_y = (t.to(device) for t in (train_x, train_y, test_x, test_y))
    steps = _Steps(model, opt, spec, device, graphed=cuda_graphs and device.type == "cuda")
    try:
        for epoch in range(start, spec.epochs):
            lr = opt.param_groups[0]["lr"]
            sums = _train_epoch(spec, train_x, train_y, epoch, progress, steps)
            sched.step()
            row = _epoch_row(sums, _n_batches(len(train_x), spec.batch_size), model, test_x, test_y)
            _check_finite(row, spec, epoch)
            row["epoch"], row["lr"] = epoch + 1, lr
            for k in HISTORY_KEYS:
                history[k].append(float(row[k]))
            log(f"{spec.name} epoch {epoch + 1}/{spec.epochs}: loss {row['train_loss']:.4f} "
                f"R {row['train_penalty']:.4f} train acc {row['train_acc']:.2f}% test acc {row['test_acc']:.2f}% "
                f"zeta {row['zeta']:.4f}")
            if checkpoint:
                save_checkpoint(checkpoint, {"fingerprint": fingerprint, "epoch": epoch + 1,
                                             "model": model.state_dict(), "optimizer": opt.state_dict(),
                                             "scheduler": sched.state_dict(), "history": history})
    finally:
        steps.close()
        restore_conv()
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
