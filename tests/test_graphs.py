"""CUDA graphs of the training step (cvgr.train.cudagraphs): replay equals eager execution, no host syncs. Needs a GPU."""
import os

import pytest
import torch

from conftest import quadrant_images
from cvgr.attacks.nes import nes_gradient
from cvgr.runtime.device import set_determinism
from cvgr.nn import build_model
from cvgr.runtime.rand import generator
from cvgr.study.specs import TrainSpec
from cvgr.train.loop import _Steps, make_optimizer, train

pytestmark = pytest.mark.cuda
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before cuBLAS starts, as the pipeline's jobs do


@pytest.fixture(autouse=True)
def _deterministic():
    """The pipeline's settings (cvgr.runtime.device.set_determinism) during each test, the previous ones after it."""
    old = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
           torch.backends.cudnn.benchmark)
    set_determinism()
    yield
    torch.use_deterministic_algorithms(old[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old[1:]


def _toy(n: int, seed: int = 0):
    return quadrant_images(n, seed)


def _spec(field: str = "complex", **kw) -> TrainSpec:
    """Fashion-MNIST's augmentation (flip and crop), 2 epochs with an lr milestone after the first."""
    base = dict(dataset="fmnist", epochs=2, batch_size=32, lr=0.05, milestones=(1,), gamma=0.2, seed=7)
    return TrainSpec.of(field, **(base | kw))


CASES = {
    "complex G.R. paper": dict(beta=8.0, mode="paper"),
    "complex G.R. exact": dict(beta=8.0, mode="exact"),
    "real G.R.": dict(field="real", beta=8.0),
    "real PGD random start": dict(field="real", adv_eps=0.2, adv_steps=2),
    "complex PGD random start": dict(adv_eps=0.2, adv_steps=2),
}


@pytest.mark.parametrize("case", CASES)
def test_graphed_training_equals_eager_training(case):
    """2 epochs of 3 full batches and a partial one; the lr milestone after epoch 1 forces a re-capture."""
    x, y = _toy(104)
    spec = _spec(**CASES[case])
    runs = [train(spec, x, y, x[:32], y[:32], num_classes=4, device="cuda", progress=False, log=lambda m: None,
                  cuda_graphs=g)
            for g in (False, True)]
    (eager, h_eager), (graphed, h_graphed) = runs
    for (k, a), b in zip(eager.state_dict().items(), graphed.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=k)
    for k in h_eager:
        assert h_graphed[k] == pytest.approx(h_eager[k], rel=1e-5, abs=1e-6), k


def test_same_seed_twice_gives_identical_weights():
    x, y = _toy(96)
    spec = _spec(beta=8.0, adv_eps=0.1, adv_steps=1)
    a, ha = train(spec, x, y, x[:32], y[:32], num_classes=4, device="cuda", progress=False, log=lambda m: None)
    b, hb = train(spec, x, y, x[:32], y[:32], num_classes=4, device="cuda", progress=False, log=lambda m: None)
    assert ha == hb
    assert all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


def test_replayed_steps_do_not_wait_for_the_device_and_recapture_on_a_new_lr():
    torch.manual_seed(0)
    spec = _spec(field="real", beta=8.0, adv_eps=0.1, adv_steps=1)
    model = build_model("small_cnn", "real", num_classes=4).cuda()
    opt, _ = make_optimizer(model, spec)
    steps = _Steps(model, opt, spec, torch.device("cuda"), graphed=True)
    steps.start_epoch(0, torch.Generator())
    x, y = _toy(40)
    x, y = x.cuda(), y.cuda()
    steps(x[:32], y[:32])  # captures
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            steps(x[:32], y[:32])
        steps(x[32:], y[32:])  # the eager, partial batch
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert steps.graph.captures == 1
    opt.param_groups[0]["lr"] *= 0.2
    steps(x[:32], y[:32])
    assert steps.graph.captures == 2


def test_nes_gradient_does_not_wait_for_the_device():
    torch.manual_seed(0)
    model = build_model("small_cnn", "complex").cuda().eval()
    x, y = torch.rand(6, 1, 28, 28, device="cuda"), torch.randint(0, 10, (6,), device="cuda")
    gen = generator(0, 0, "cuda")
    nes_gradient(model, x, y, samples=10, chunk=16, generator=gen)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        nes_gradient(model, x, y, samples=10, chunk=16, generator=gen)
    finally:
        torch.cuda.set_sync_debug_mode("default")
