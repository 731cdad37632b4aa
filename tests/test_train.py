"""Training: learning happens, the schedule, resume bit for bit, NaN handling, augmentation."""
import pytest
import torch

from conftest import quadrant_images
from cvgr.data.augment import Augmentation, augment_batch
from cvgr.errors import NumericalError
from cvgr.study.specs import PgdTraining, TrainSpec
from cvgr.train.loop import HISTORY_KEYS, train
from cvgr.vocab import ModelId

torch.set_num_threads(1)


def _toy_data(n=256, seed=0):
    return quadrant_images(n, seed)


def _spec(field="complex", beta=0.0, adv_eps=0.0, adv_steps=2, dataset="toy", **kw):
    """A toy run; ``dataset="fmnist"`` turns on that dataset's augmentation (unknown names have none)."""
    base = dict(arch="small_cnn", epochs=2, batch_size=32, lr=0.05, milestones=(1,), gamma=0.2)
    base.update(kw)
    model = ModelId.of(field, beta=beta, adv_eps=adv_eps, seed=7)
    pgd = PgdTraining(steps=adv_steps, random_start=True) if adv_eps else None
    return TrainSpec(dataset=dataset, model=model, pgd=pgd, **base)


def _train(spec, *args, **kw):
    return train(spec, *args, num_classes=4, progress=False, **kw)


def test_training_learns_and_records_history():
    x, y = _toy_data()
    model, hist = _train(_spec(epochs=3), x[:192], y[:192], x[192:], y[192:], log=lambda m: None)
    assert set(hist) == set(HISTORY_KEYS)
    assert hist["epoch"] == [1.0, 2.0, 3.0]
    assert hist["lr"] == pytest.approx([0.05, 0.01, 0.01])  # x0.2 after milestone epoch 1
    assert hist["test_acc"][-1] > 60.0  # 4 classes: chance is 25%


def test_regularized_training_has_penalty_and_zeta_below_one():
    x, y = _toy_data(128)
    _, hist = _train(_spec(beta=64.0, epochs=1), x, y, x[:32], y[:32], log=lambda m: None)
    assert hist["train_penalty"][0] > 0
    assert 0 < hist["zeta"][0] < 1


def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path):
    x, y = _toy_data(128)
    spec = _spec(beta=8.0, dataset="fmnist")
    full, full_hist = _train(spec, x, y, x[:32], y[:32], log=lambda m: None)

    ckpt = tmp_path / "m.ckpt"

    def die_in_epoch_2(msg):
        if "epoch 2/" in msg:
            raise KeyboardInterrupt("killed")
    # log() is called after each epoch's evaluation and before its checkpoint is saved:
    # dying there loses epoch 2 and leaves the checkpoint of epoch 1.
    with pytest.raises(KeyboardInterrupt):
        _train(spec, x, y, x[:32], y[:32], checkpoint=ckpt, fingerprint="f", log=die_in_epoch_2)
    assert ckpt.exists()
    messages = []
    resumed, hist = _train(spec, x, y, x[:32], y[:32], checkpoint=ckpt, fingerprint="f",
                          log=messages.append)
    assert any("resuming after epoch 1" in m for m in messages)
    assert hist == full_hist
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), k


def test_stale_checkpoint_is_ignored_with_a_message(tmp_path):
    x, y = _toy_data(64)
    ckpt = tmp_path / "m.ckpt"
    _train(_spec(epochs=1), x, y, x[:16], y[:16], checkpoint=ckpt, fingerprint="old",
          log=lambda m: None)
    messages = []
    _, hist = _train(_spec(epochs=1), x, y, x[:16], y[:16], checkpoint=ckpt, fingerprint="new",
                    log=messages.append)
    assert any("another configuration" in m for m in messages)
    assert len(hist["epoch"]) == 1


def test_nan_loss_stops_with_model_epoch_and_beta():
    x, y = _toy_data(64)
    with pytest.raises(NumericalError, match=r"toy/real-gr\d+-s7: train_(loss|penalty) became (nan|inf) in epoch 1 \(beta=1e\+30"):
        _train(_spec(beta=1e30, lr=1e30, epochs=1, field="real"), x, y, x[:16], y[:16],
              log=lambda m: None)


def test_adversarial_training_runs_and_differs_from_standard():
    x, y = _toy_data(64)
    std, _ = _train(_spec(epochs=1, field="real"), x, y, x[:16], y[:16], log=lambda m: None)
    adv, hist = _train(_spec(epochs=1, field="real", adv_eps=0.2, adv_steps=2), x, y, x[:16], y[:16],
                       log=lambda m: None)
    assert len(hist["epoch"]) == 1
    assert any(not torch.equal(a, b) for a, b in zip(std.state_dict().values(), adv.state_dict().values()))


def test_augmentation_flips_and_shifts_within_edge_padding():
    """Each image is one of the 18 flips x crops of its edge-padded self, and the draws use most of them."""
    x = torch.rand(64, 1, 28, 28)
    out = augment_batch(x, Augmentation(flip=True, pad=1), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    used = set()
    for i in range(64):
        matches = []
        for flip, img in ((False, x[i]), (True, x[i].flip(2))):  # every crop of the padded image, flipped or not
            padded = torch.nn.functional.pad(img[None], (1, 1, 1, 1), mode="replicate")[0]
            matches += [(flip, r, c) for r in range(3) for c in range(3)
                        if torch.equal(out[i], padded[:, r:r + 28, c:c + 28])]
        assert len(matches) == 1, f"image {i} matches {matches}"
        used.add(matches[0])
    assert len(used) >= 12  # 64 uniform draws of 18 transforms: identity-only would give 1
    assert any(flip for flip, _, _ in used) and any((r, c) != (1, 1) for _, r, c in used)
    again = augment_batch(x, Augmentation(flip=True, pad=1), torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert augment_batch(x, None, torch.Generator()) is x


def test_nan_weights_stop_training_before_a_model_or_checkpoint_is_written(tmp_path, monkeypatch):
    """An update that leaves a weight infinite while the epoch's loss, penalty and accuracy are finite."""
    original = torch.optim.SGD.step

    def blow_up(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        with torch.no_grad():
            self.param_groups[0]["params"][-1].view(-1)[0] = float("inf")  # the last layer's bias
        return out

    monkeypatch.setattr(torch.optim.SGD, "step", blow_up)
    x, y = _toy_data(32)
    ckpt = tmp_path / "m.ckpt"
    with pytest.raises(NumericalError, match=r"^toy/complex-std-s7: weight body\.\S+ became non-finite in epoch 1 "
                                             r"\(beta=0, mode=paper, lr=0\.05\); no model was written\. Lower beta "
                                             r"or the learning rate"):
        _train(_spec(epochs=1, batch_size=32), x, y, x[:8], y[:8], checkpoint=ckpt, fingerprint="f",
               log=lambda m: None)
    assert not ckpt.exists()


def test_device_batches_equal_the_cpu_batches():
    """The GPU path's up-front draws give the CPU path's batches (here both run on the CPU), partial batch included."""
    from cvgr.runtime.rand import cpu_generator
    from cvgr.train.loop import _device_batches, _host_batches
    x, y = _toy_data(70)
    spec = _spec(batch_size=32, dataset="fmnist")  # Fashion-MNIST's flip and crop
    host = list(_host_batches(x, y, spec, cpu_generator(7, 1)))
    dev = list(_device_batches(x, y, spec, cpu_generator(7, 1)))
    assert [len(b[0]) for b in dev] == [32, 32, 6]
    for (hx, hy), (dx, dy) in zip(host, dev, strict=True):
        assert torch.equal(hx, dx) and torch.equal(hy, dy)


def test_conv_wgrad_switch_trains_the_same_model_within_float_tolerance():
    x, y = _toy_data(64)
    runs = [_train(_spec(beta=8.0, epochs=1, field=field), x, y, x[:16], y[:16],
                   log=lambda m: None, conv_wgrad=on)[0] for field in ("real", "complex") for on in (False, True)]
    for off, on in ((runs[0], runs[1]), (runs[2], runs[3])):
        for (k, a), b in zip(off.state_dict().items(), on.state_dict().values()):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=k)
    assert not any(m.wgrad for m in runs[1].modules() if hasattr(m, "wgrad"))  # the switch is restored
