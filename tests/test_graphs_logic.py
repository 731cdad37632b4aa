"""GraphedStep's bookkeeping on the CPU, with a stand-in for CUDA's capture and replay.

The stand-in records nothing on a device: "capture" runs the step once to
allocate its output and then undoes everything it changed (weights,
momentum, generator), as a real capture changes nothing; "replay" runs the
step again on the static inputs into that output. What is tested is
GraphedStep's own logic: warm-up without a trace, momentum buffers that make
the first replay equal eager's first step, static inputs, re-capture when
the learning rate changes. tests/test_graphs.py checks the real graphs on a GPU.
"""
import contextlib

import pytest
import torch

from cvgr.graphs import GraphedStep, _restore, _snapshot
from cvgr.nn import build_model
from cvgr.specs import TrainSpec
from cvgr.train import make_optimizer, train_step

torch.set_num_threads(1)


class _FakeGraph:
    def register_generator_state(self, generator):
        self.generator = generator

    def replay(self):
        self.run()


class _FakeStream:
    def wait_stream(self, other):
        pass


class _StandInStep(GraphedStep):
    def _record(self, graph, stream):
        saved, state = _snapshot(self.model, self.optimizer), self.generator.get_state()
        out = self.fn(self._x, self._y, self.generator)
        _restore(saved, self.model, self.optimizer)  # a capture executes nothing
        self.generator.set_state(state)
        graph.run = lambda: out.copy_(self.fn(self._x, self._y, self.generator))
        return out


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(torch.cuda, "CUDAGraph", _FakeGraph)
    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: _FakeStream())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: _FakeStream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())


def _run(field: str, spec: TrainSpec, graphed: bool, batches):
    torch.manual_seed(0)
    model = build_model("small_cnn", field, num_classes=4)
    opt, _ = make_optimizer(model, spec)
    params = list(model.parameters())
    gen = torch.Generator().manual_seed(5)

    def fn(xb, yb, g):
        return train_step(model, opt, spec, xb, yb, g, params)

    step = _StandInStep(fn, model, opt, gen) if graphed else (lambda xb, yb: fn(xb, yb, gen))
    outs = []
    for i, (xb, yb) in enumerate(batches):
        if i == 3:
            opt.param_groups[0]["lr"] *= 0.2  # a milestone
        outs.append(step(xb, yb).clone())
    return model, torch.stack(outs), step


@pytest.mark.parametrize("field,kw", [("real", dict(beta=8.0)), ("complex", dict(beta=8.0, mode="exact")),
                                      ("real", dict(adv_eps=0.2, adv_steps=2))])
def test_stand_in_replays_equal_eager_steps_bit_for_bit(stand_in, field, kw):
    spec = TrainSpec.of(field, lr=0.05, **kw)
    g = torch.Generator().manual_seed(1)
    batches = [(torch.rand(16, 1, 28, 28, generator=g), torch.randint(0, 4, (16,), generator=g)) for _ in range(6)]
    eager, eager_out, _ = _run(field, spec, False, batches)
    graphed, graphed_out, step = _run(field, spec, True, batches)
    assert step.captures == 2  # the first batch and the new learning rate
    assert torch.equal(graphed_out, eager_out)
    for (k, a), b in zip(eager.state_dict().items(), graphed.state_dict().values()):
        assert torch.equal(a, b), k


def test_warm_up_leaves_no_trace():
    torch.manual_seed(0)
    model = build_model("cifar_cnn", "real")  # BatchNorm statistics change in a step too
    spec = TrainSpec.of("real", arch="cifar_cnn", lr=0.1)
    opt, _ = make_optimizer(model, spec)
    params = list(model.parameters())
    x, y = torch.rand(8, 3, 32, 32), torch.randint(0, 10, (8,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    saved = _snapshot(model, opt)
    for _ in range(3):
        train_step(model, opt, spec, x, y, None, params)
    _restore(saved, model, opt)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(float(opt.state[p]["momentum_buffer"].abs().max()) == 0 for p in params)
