"""Batched prediction, correctness and test metrics against hand counts; batched attacks against one-shot attacks."""
from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn


from cvgr.attacks.core import QueryCounter
from cvgr.attacks.fgsm import fgsm
from cvgr.attacks.nes import nes
from cvgr.attacks.pgd import pgd
from cvgr.errors import CvgrError
from cvgr.attacks.evaluate import attack_batched, correct, loss_and_accuracy, loss_and_correct, predict
from cvgr.nn import build_model

torch.set_num_threads(1)


class PixelLogits(nn.Module):
    """Logits = the image's pixels (C=1, H=1, W=3), times a parameter 1 so that it has a device."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * x.flatten(1)


# argmax per row: 0, 2, 1, 1, 0, 2, 2 (row 6 ties between classes 1 and 2: the first index wins)
IMAGES = torch.tensor([[.9, .1, .0], [.2, .3, .5], [.1, .8, .1], [.0, .6, .4],
                       [.7, .2, .1], [.1, .1, .8], [.0, .5, .5]]).view(7, 1, 1, 3)
LABELS = torch.tensor([0, 2, 0, 1, 1, 2, 1])  # right: rows 0, 1, 3, 5, 6 -> 5 of 7


@pytest.mark.parametrize("batch_size", [1, 3, 7, 500])
def test_predict_and_correct_against_a_hand_count(batch_size):
    model = PixelLogits()
    pred = predict(model, IMAGES, batch_size=batch_size)
    assert pred.dtype == torch.int64
    assert pred.tolist() == [0, 2, 1, 1, 0, 2, 1]
    right = correct(model, IMAGES, LABELS, batch_size=batch_size)
    assert right.dtype == torch.uint8 and right.tolist() == [1, 1, 0, 1, 0, 1, 1]
    assert not pred.requires_grad and model.scale.grad is None


@pytest.mark.parametrize("batch_size", [2, 1000])
def test_loss_and_accuracy_against_a_hand_computation(batch_size):
    model = PixelLogits()
    loss, acc = loss_and_accuracy(model, IMAGES, LABELS, batch_size=batch_size)
    logits = IMAGES.flatten(1)
    expected = -(logits.log_softmax(1)[torch.arange(7), LABELS]).mean().item()
    assert loss == pytest.approx(expected, rel=1e-6)
    assert acc == pytest.approx(100 * 5 / 7)


def test_loss_and_correct_of_a_model_without_parameters():
    """nn.Flatten has no parameters or buffers: the sums stay on x's device."""
    sums = loss_and_correct(nn.Flatten(), IMAGES, LABELS, batch_size=3)
    expected = -(IMAGES.flatten(1).log_softmax(1)[torch.arange(7), LABELS]).sum().item()
    assert sums.dtype == torch.float64 and sums.device == IMAGES.device
    assert sums.tolist() == [pytest.approx(expected, rel=1e-6), 5.0]


def test_loss_and_accuracy_errors():
    with pytest.raises(ValueError, match="7 images but y has 6 labels"):
        loss_and_correct(PixelLogits(), IMAGES, LABELS[:6])
    with pytest.raises(CvgrError, match="at least one image"):
        loss_and_accuracy(PixelLogits(), IMAGES[:0], LABELS[:0])


def test_correct_and_predict_errors():
    model = PixelLogits()
    with pytest.raises(ValueError, match="7 images but y has 6 labels"):
        correct(model, IMAGES, LABELS[:6])
    with pytest.raises(ValueError, match="batch_size"):
        predict(model, IMAGES, batch_size=0)


@pytest.fixture(scope="module")
def mlp_and_data() -> tuple[nn.Module, Tensor, Tensor]:
    torch.manual_seed(0)
    model = build_model("mlp", "complex", in_shape=(1, 6, 6)).eval()
    g = torch.Generator().manual_seed(1)
    return model, torch.rand(10, 1, 6, 6, generator=g), torch.randint(0, 10, (10,), generator=g)


def test_attack_batched_equals_one_batch_for_fgsm(mlp_and_data):
    model, x, y = mlp_and_data
    whole = fgsm(model, x, y, 0.1)
    batched = attack_batched(fgsm, model, x, y, 0.1, batch_size=3)
    assert batched.shape == x.shape
    assert (batched - whole).abs().max().item() <= 1e-6
    assert correct(model, batched, y).sum() <= correct(model, x, y).sum()


def test_attack_batched_passes_options_through(mlp_and_data):
    model, x, y = mlp_and_data
    one_step = attack_batched(pgd, model, x, y, 0.1, batch_size=4, steps=1, alpha=0.05)
    assert (one_step - x).abs().max().item() == pytest.approx(0.05, abs=1e-6)
    assert (one_step - pgd(model, x, y, 0.1, steps=1, alpha=0.05)).abs().max().item() <= 1e-6


def test_attack_batched_shares_one_generator_across_batches(mlp_and_data):
    """Two identical halves in two batches get different random starts: the stream continues."""
    model, x, y = mlp_and_data
    xx, yy = torch.cat([x, x]), torch.cat([y, y])

    def run(seed: int) -> Tensor:
        return attack_batched(pgd, model, xx, yy, 0.1, batch_size=10, steps=1, random_start=True,
                              generator=torch.Generator().manual_seed(seed))

    out = run(0)
    assert torch.equal(out, run(0))
    assert not torch.equal(out[:10], out[10:])
    assert not torch.equal(out, run(1))


def test_attack_batched_runs_nes_with_its_budget(mlp_and_data):
    """10 images in batches of 4, 2 steps x 2 x 8 directions: exactly 32 queries per image."""
    model, x, y = mlp_and_data
    counter = QueryCounter(model)
    out = attack_batched(nes, counter, x, y, 0.1, batch_size=4, steps=2, samples=8,
                         generator=torch.Generator().manual_seed(0))
    assert counter.queries == len(x) * 2 * 2 * 8
    assert out.shape == x.shape
    assert (out - x).abs().max().item() <= 0.1 + 1e-6
