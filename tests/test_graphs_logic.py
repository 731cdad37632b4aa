"""GraphedStep on the CPU, through its public API, with a stand-in for torch.cuda's capture and replay.

The stand-in replaces only torch.cuda's public graph API (``CUDAGraph``,
``graph``, ``Stream``, ``current_stream``, ``stream``). Like a real capture,
``torch.cuda.graph`` changes nothing: the step run inside it (to allocate its
output) is undone on leaving it (weights, BatchNorm statistics, momentum,
generator). ``replay`` runs the captured call again on the tensors it was
captured with (the step's static inputs) into the captured output. What is
tested is what a caller of GraphedStep relies on: each call equals an eager
step bit for bit (warm-up leaves no trace, momentum starts at zero, the batch
reaches the static inputs, a new learning rate is honoured) and the step is
captured once per shape and learning rate. tests/test_graphs.py checks the
real graphs on a GPU.
"""
import contextlib

import pytest
import torch

from cvgr.train.cudagraphs import GraphedStep
from cvgr.nn import build_model
from cvgr.study.specs import TrainSpec
from cvgr.train.loop import make_optimizer, train_step

torch.set_num_threads(1)


class _Capture:
    """What the stand-in needs to know about the step it captures: its model, optimizer and generator."""
    active = None  # the graph being captured

    def __init__(self, model, opt, gen):
        self.model, self.opt, self.gen = model, opt, gen


class _FakeGraph:
    def __init__(self):
        self.call = self.out = None

    def register_generator_state(self, generator):
        pass

    def replay(self):
        fn, args = self.call
        self.out.copy_(fn(*args))


class _FakeStream:
    def wait_stream(self, other):
        pass


def _stand_in(monkeypatch, capture: _Capture):
    """Patch torch.cuda's graph API; return a wrapper that makes a step function capturable."""

    @contextlib.contextmanager
    def graph(g, stream=None):
        model_state = {k: v.clone() for k, v in capture.model.state_dict().items()}
        opt_state = {p: {k: v.clone() for k, v in s.items() if torch.is_tensor(v)}
                     for p, s in capture.opt.state.items()}
        gen_state = capture.gen.get_state()
        _Capture.active = g
        try:
            yield
        finally:
            _Capture.active = None
            capture.model.load_state_dict(model_state)  # a capture executes nothing
            for p, saved in opt_state.items():
                for k, v in saved.items():
                    capture.opt.state[p][k].copy_(v)
            capture.gen.set_state(gen_state)

    monkeypatch.setattr(torch.cuda, "CUDAGraph", _FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: _FakeStream())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: _FakeStream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())

    def capturable(fn):
        def step(x, y, g):
            out = fn(x, y, g)
            if _Capture.active is not None:  # remember the static inputs and output, as a graph does
                _Capture.active.call, _Capture.active.out = (fn, (x, y, g)), out
            return out
        return step
    return capturable


def _run(arch: str, field: str, spec: TrainSpec, batches, monkeypatch=None):
    """Each batch's metrics and the final model: eager steps, or GraphedStep under the stand-in."""
    torch.manual_seed(0)
    model = build_model(arch, field, num_classes=4 if arch == "small_cnn" else 10)
    opt, _ = make_optimizer(model, spec)
    params = list(model.parameters())
    gen = torch.Generator().manual_seed(5)

    def fn(xb, yb, g):
        return train_step(model, opt, spec, xb, yb, g, params)

    if monkeypatch is None:
        step = lambda xb, yb: fn(xb, yb, gen)  # noqa: E731
    else:
        step = GraphedStep(_stand_in(monkeypatch, _Capture(model, opt, gen))(fn), model, opt, gen)
    outs = []
    for i, (xb, yb) in enumerate(batches):
        if i == 3:
            opt.param_groups[0]["lr"] *= 0.2  # a milestone
        outs.append(step(xb, yb).clone())
    return model, torch.stack(outs), step


def _batches(shape, n=5, classes=4):
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(*shape, generator=g), torch.randint(0, classes, (shape[0],), generator=g)) for _ in range(n)]


CASES = [("small_cnn", "real", dict(beta=8.0)), ("small_cnn", "complex", dict(beta=8.0, mode="exact")),
         ("small_cnn", "real", dict(adv_eps=0.2, adv_steps=2)),
         ("cifar_cnn", "real", dict(arch="cifar_cnn"))]  # BatchNorm statistics change in a warm-up step too


@pytest.mark.parametrize("arch,field,kw", CASES, ids=["real-gr", "complex-gr", "real-pgd", "real-batchnorm"])
def test_graphed_steps_equal_eager_steps_bit_for_bit(monkeypatch, arch, field, kw):
    spec = TrainSpec.of(field, lr=0.05, **kw)
    batches = _batches((8, 3, 32, 32) if arch == "cifar_cnn" else (16, 1, 28, 28),
                       n=4 if arch == "cifar_cnn" else 5, classes=10 if arch == "cifar_cnn" else 4)
    eager, eager_out, _ = _run(arch, field, spec, batches)
    graphed, graphed_out, step = _run(arch, field, spec, batches, monkeypatch)
    assert step.captures == 2  # the first batch and the new learning rate
    assert torch.equal(graphed_out, eager_out)
    for (k, a), b in zip(eager.state_dict().items(), graphed.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_new_batch_shape_is_captured_again_and_equals_eager(monkeypatch):
    spec = TrainSpec.of("real", lr=0.05, beta=8.0)
    batches = _batches((16, 1, 28, 28), n=2) + _batches((8, 1, 28, 28), n=1)
    eager, eager_out, _ = _run("small_cnn", "real", spec, batches)
    graphed, graphed_out, step = _run("small_cnn", "real", spec, batches, monkeypatch)
    assert step.captures == 2 and torch.equal(graphed_out, eager_out)
