"""A whole training step captured as one CUDA graph and replayed for every batch.

A training step of cvgr (:func:`cvgr.train.loop.train_step`) launches hundreds of
small kernels: forward, the input-gradient pass with ``create_graph``, the
penalty's backward, zeta and SGD. At batch 64 the GPU finishes them faster
than Python can launch them. :class:`GraphedStep` records the step once with
``torch.cuda.graph`` and then replays the recording, one launch per step.

What capture requires, and how it is met here
---------------------------------------------
* **Static inputs.** A replay reads the addresses it was recorded with. The
  batch is copied into buffers owned by the step (``copy_``) before each
  replay; the step's outputs (the metrics tensor, each ``p.grad``) are the
  tensors allocated during capture and are overwritten by each replay.
* **Gradients.** ``backward_with_zeta`` assigns ``p.grad = g`` with new
  tensors. Because ``zero_grad(set_to_none=True)`` runs before capture, those
  tensors are allocated from the graph's private memory pool during capture
  and the captured ``optimizer.step()`` reads them there, as in PyTorch's
  whole-network capture example (torch.cuda graphs notes). An eager step in
  between (the last, partial batch) assigns other tensors to ``p.grad``; that
  does not matter, because the graph reads and writes its own.
* **Warm-up on a side stream.** Three eager steps run on the stream that is
  then used for capture, so cuBLAS/cuDNN handles, workspaces and the autograd
  streams exist before recording (``make_graphed_callables`` does the same;
  torch 2.12 moved its warm-up onto the capture stream for this reason).
  The warm-up changes weights, BatchNorm statistics and momentum, so the
  model's state dict and the optimizer's state are copied before it and
  restored after it, and the warm-up draws its noise from a scratch generator.
* **Optimizer state exists before capture.** SGD allocates its momentum
  buffers lazily at the first step (``clone(g)``); the warm-up creates them.
  A buffer that did not exist before the warm-up is restored as zeros, so the
  first replay computes ``0 * momentum + g = g``, exactly eager's first step.
* **Hyper-parameters are Python floats.** ``torch.optim.SGD`` passes ``lr`` to
  ``_foreach_add_(params, grads, alpha=-lr)``; the number is baked into the
  recorded kernel. A tensor ``lr`` does not help: SGD's foreach path turns it
  back into a Python scalar (``alpha=-lr``, a device-to-host copy, which is
  illegal during capture). So the step is re-captured whenever an optimizer
  hyper-parameter changes (the learning-rate milestones).
* **Random numbers.** A replay draws PGD's random start from the generator
  registered with the graph: it reads the generator's seed and offset when
  launched and advances the offset by what the capture consumed, so reseeding
  the generator between replays (one stream per epoch) works and the numbers
  equal eager execution's. torch <= 2.13 requires
  ``CUDAGraph.register_generator_state`` before capture (an unregistered
  generator fails with "Attempt to increase offset for a CUDA generator not
  in capture mode"); torch 2.14 registers lazily and deprecates the call,
  which is made with its warning silenced.
* **Deterministic algorithms.** ``torch.use_deterministic_algorithms(True)``
  only selects kernels; the step's kernels (convolutions with
  ``cudnn.deterministic``, cuBLAS with ``CUBLAS_WORKSPACE_CONFIG``) are the
  same inside and outside capture. The step has no host synchronisation
  (no ``.item()``), which capture forbids.
* **One shape per graph.** A graph replays one batch shape; the caller runs
  other shapes (the last, partial batch of an epoch) eagerly.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch import Tensor, nn

from ..runtime import rand

#: Eager steps run before each capture.
WARMUP_STEPS = 3

StepFn = Callable[[Tensor, Tensor, torch.Generator], Tensor]


def _hyper_parameters(opt: torch.optim.Optimizer) -> tuple:
    """Every Python number of the optimizer's parameter groups (baked into a capture), NaN equal to NaN.

    Checked before every replay, so unsorted: in the groups' own key order (a changed order costs a capture only).
    """
    return tuple(tuple((k, v.hex() if isinstance(v, float) else v) for k, v in g.items()
                       if isinstance(v, (int, float, bool)))
                 for g in opt.param_groups)


def _snapshot(model: nn.Module, opt: torch.optim.Optimizer) -> tuple[list[Tensor], dict]:
    """Copies of the model's state dict and of the optimizer's tensor state."""
    model_state = [t.detach().clone() for t in model.state_dict().values()]
    opt_state = {id(p): {k: v.detach().clone() for k, v in opt.state[p].items() if isinstance(v, Tensor)}
                 for g in opt.param_groups for p in g["params"] if p in opt.state}
    return model_state, opt_state


def _restore(saved: tuple[list[Tensor], dict], model: nn.Module, opt: torch.optim.Optimizer) -> None:
    """Undo the warm-up in place; optimizer state the warm-up created becomes zeros (see module docstring)."""
    model_state, opt_state = saved
    with torch.no_grad():
        for t, old in zip(model.state_dict().values(), model_state):
            t.copy_(old)
        for g in opt.param_groups:
            for p in g["params"]:
                if p not in opt.state:
                    continue
                before = opt_state.get(id(p), {})
                for k, v in opt.state[p].items():
                    if isinstance(v, Tensor) and k in before:
                        v.copy_(before[k])
                    elif isinstance(v, Tensor):
                        v.zero_()


def register_generator(graph: torch.cuda.CUDAGraph, generator: torch.Generator) -> None:
    """Register ``generator`` with ``graph`` before capture (required up to torch 2.13, a no-op in 2.14)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph.register_generator_state(generator)


class GraphedStep:
    """``fn(x, y, generator)`` (one optimizer step of ``model``) captured as a CUDA graph and replayed.

    ``fn`` must update ``model`` and ``optimizer`` in place and return a
    tensor. Calling the object with a batch copies it into the static inputs
    and replays the graph, capturing it first when the batch shape, dtype or
    an optimizer hyper-parameter differs from the capture's. The returned
    tensor is overwritten by the next call: consume it first (enqueueing an
    operation on it is enough). Random draws inside ``fn`` come from
    ``generator`` (a CUDA generator; reseed it freely between calls).
    """

    def __init__(self, fn: StepFn, model: nn.Module, optimizer: torch.optim.Optimizer,
                 generator: torch.Generator, warmup: int = WARMUP_STEPS):
        self.fn, self.model, self.optimizer, self.generator = fn, model, optimizer, generator
        self.warmup = warmup
        self.captures = 0  #: how many times the step was (re)captured
        self._graph: torch.cuda.CUDAGraph | None = None
        self._key: tuple | None = None
        self._x = self._y = self._out = None
        self._stream: torch.cuda.Stream | None = None

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        key = (tuple(x.shape), x.dtype, tuple(y.shape), y.dtype, _hyper_parameters(self.optimizer))
        if key != self._key:
            self._capture(x, y, key)
        self._x.copy_(x)
        self._y.copy_(y)
        self._graph.replay()
        return self._out

    def release(self) -> None:
        """Drop the graph, its memory and the gradients that live in it."""
        self._graph = self._out = self._x = self._y = self._key = None
        self.optimizer.zero_grad(set_to_none=True)

    def _capture(self, x: Tensor, y: Tensor, key: tuple) -> None:
        self.release()
        if self._stream is None:
            self._stream = torch.cuda.Stream(device=x.device)
        side, main = self._stream, torch.cuda.current_stream(x.device)
        self._x, self._y = x.clone(), y.clone()
        saved = _snapshot(self.model, self.optimizer)
        scratch = rand.generator(0, 0, x.device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                self.fn(self._x, self._y, scratch)
        main.wait_stream(side)
        _restore(saved, self.model, self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        register_generator(graph, self.generator)
        try:
            out = self._record(graph, side)
        except RuntimeError as err:
            raise RuntimeError(f"capturing the training step as a CUDA graph failed ({err}); training without "
                               "graphs (cuda_graphs=False) avoids this: please report it") from err
        self._graph, self._out, self._key = graph, out, key
        self.captures += 1

    def _record(self, graph: torch.cuda.CUDAGraph, stream: torch.cuda.Stream) -> Tensor:
        """Capture one step on the static inputs into ``graph``; return its (static) output."""
        with torch.cuda.graph(graph, stream=stream):
            return self.fn(self._x, self._y, self.generator)
