"""The real-bias option ``authors`` against the published code's formulas, written out independently here.

The authors' real convolution is ``F.conv2d(x, w, b) + b`` with ``dL/db = 2 sum u``
(``RealConv2d_Func``), their real linear layer ``x w^T + b`` with ``b ~ U(+-1/sqrt(2 fan_in))``
(``RealFC.reset_parameters``).
"""
import math

import pytest
import scipy.stats
import torch
import torch.nn.functional as F

from cvgr.errors import CvgrError
from cvgr.results.modelfile import load_model, save_model
from cvgr.nn import build_model
from cvgr.train.regularize import regularized_loss
from cvgr.study.specs import TrainSpec
from cvgr.vocab import ModelId

torch.set_num_threads(1)


def _fixed_weights(seed: int = 7) -> dict[str, torch.Tensor]:
    """small_cnn's real parameters (float64) with non-zero biases everywhere, so both bias terms matter."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"body.0.weight": (32, 1, 3, 3), "body.0.bias": (32,), "body.3.weight": (64, 32, 3, 3),
              "body.3.bias": (64,), "body.7.weight": (128, 3136), "body.7.bias": (128,),
              "body.9.weight": (10, 128), "body.9.bias": (10,)}
    return {k: (torch.randn(s, generator=g, dtype=torch.float64) * 0.1) for k, s in shapes.items()}


def _authors_forward(x: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """small_cnn as the published code computes it: each conv adds its bias twice."""
    h = F.conv2d(x, p["body.0.weight"], p["body.0.bias"], padding=1) + p["body.0.bias"].view(1, -1, 1, 1)
    h = F.avg_pool2d(F.relu(h), 2)
    h = F.conv2d(h, p["body.3.weight"], p["body.3.bias"], padding=1) + p["body.3.bias"].view(1, -1, 1, 1)
    h = F.avg_pool2d(F.relu(h), 2).flatten(1)
    h = F.relu(h @ p["body.7.weight"].T + p["body.7.bias"])
    return h @ p["body.9.weight"].T + p["body.9.bias"]


def _net(real_bias: str, params: dict[str, torch.Tensor]):
    net = build_model("small_cnn", "real", real_bias=real_bias).double()
    net.load_state_dict(params)
    return net


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.rand(6, 1, 28, 28, generator=g, dtype=torch.float64), torch.randint(0, 10, (6,), generator=g)


def test_authors_forward_and_gradients_match_the_published_formula():
    p = _fixed_weights()
    net = _net("authors", p)
    x, y = _batch()
    torch.testing.assert_close(net(x), _authors_forward(x, p), rtol=1e-12, atol=1e-12)
    # First-order gradients of the loss, for every parameter and the input.
    ref = {k: v.clone().requires_grad_() for k, v in p.items()}
    xr = x.clone().requires_grad_()
    F.cross_entropy(_authors_forward(xr, ref), y).backward()
    xn = x.clone().requires_grad_()
    F.cross_entropy(net(xn), y).backward()
    for name, param in net.named_parameters():
        torch.testing.assert_close(param.grad, ref[name].grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(xn.grad, xr.grad, rtol=1e-10, atol=1e-12)


def test_conv_bias_gradient_doubles_and_input_gradient_is_unchanged():
    """Against cvgr's biases with the conv biases doubled (the same function): db doubles, dx is equal."""
    p = _fixed_weights()
    doubled = {k: (2 * v if k in ("body.0.bias", "body.3.bias") else v) for k, v in p.items()}
    a, c = _net("authors", p), _net("cvgr", doubled)
    x, y = _batch()
    xa, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    F.cross_entropy(a(xa), y).backward()
    F.cross_entropy(c(xc), y).backward()
    torch.testing.assert_close(xa.grad, xc.grad, rtol=1e-10, atol=1e-12)
    pa, pc = dict(a.named_parameters()), dict(c.named_parameters())
    for name in ("body.0.bias", "body.3.bias"):
        torch.testing.assert_close(pa[name].grad, 2 * pc[name].grad, rtol=1e-10, atol=1e-12)
        assert pa[name].grad.abs().max() > 1e-6


@pytest.mark.parametrize("mode", ["paper", "exact"])
def test_authors_gr_gradient_matches_double_backprop_of_the_formula(mode):
    """G.R. (beta 64) differentiates the input gradient once more: the doubled bias must survive that too."""
    p = _fixed_weights(3)
    net = _net("authors", p)
    x, y = _batch()
    objective = regularized_loss(net, x, y, 64.0, mode=mode)
    got = torch.autograd.grad(objective.total, list(net.parameters()))
    ref = {k: v.clone().requires_grad_() for k, v in p.items()}
    xr = x.clone().requires_grad_()
    loss = F.cross_entropy(_authors_forward(xr, ref), y)
    (gx,) = torch.autograd.grad(loss, xr, create_graph=True)
    total = loss + 64.0 * (gx.flatten(1).abs().sum(1) ** 2).mean()
    expected = torch.autograd.grad(total, [ref[n] for n, _ in net.named_parameters()])
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-12)


def test_linear_bias_init_is_uniform_within_one_over_sqrt_two_fan_in():
    torch.manual_seed(0)
    net = build_model("small_cnn", "real", real_bias="authors")
    for layer in (net.body[7], net.body[9]):
        a = 1 / math.sqrt(2 * layer.in_features)
        b = layer.bias.detach().double()
        assert float(b.abs().max()) <= a
        if len(b) >= 100:  # 128 draws: the U(-a, a) law, and they reach out towards both bounds
            assert scipy.stats.kstest(b.numpy(), scipy.stats.uniform(-a, 2 * a).cdf).pvalue > 0.01
            assert float(b.min()) < -0.9 * a and float(b.max()) > 0.9 * a
    for conv in (net.body[0], net.body[3]):
        assert torch.count_nonzero(conv.bias) == 0
    cvgr = build_model("small_cnn", "real")
    assert all(torch.count_nonzero(m.bias) == 0 for m in (cvgr.body[0], cvgr.body[3], cvgr.body[7], cvgr.body[9]))


def test_complex_nets_are_the_same_under_both_options():
    torch.manual_seed(5)
    a = build_model("small_cnn", "complex", real_bias="authors")
    torch.manual_seed(5)
    c = build_model("small_cnn", "complex")
    for (na, ta), (nc, tc) in zip(a.state_dict().items(), c.state_dict().items()):
        assert na == nc and torch.equal(ta, tc)


def test_model_file_keeps_the_option(tmp_path):
    p = _fixed_weights()
    net = _net("authors", p).float()
    save_model(tmp_path / "m.pt", net, dataset="fmnist", model=ModelId.parse("real-std-s0"), provenance={})
    loaded, _ = load_model(tmp_path / "m.pt")
    x, _ = _batch()
    assert loaded.real_bias == "authors"
    torch.testing.assert_close(loaded(x.float()), net.eval()(x.float()))
    # the same weights under cvgr's biases give other outputs: the option is what the file restores
    plain = build_model("small_cnn", "real").eval()
    plain.load_state_dict(net.state_dict())
    assert not torch.allclose(plain(x.float()), loaded(x.float()), atol=1e-3)


def test_unknown_option_is_refused_naming_the_key():
    with pytest.raises(CvgrError, match="real_bias.*'both'.*cvgr, authors"):
        TrainSpec.of("real", real_bias="both")
    with pytest.raises(ValueError, match="real_bias"):
        build_model("small_cnn", "real", real_bias="both")


def test_training_builds_the_net_the_spec_names():
    from conftest import quadrant_images

    from cvgr.train.loop import train
    x, y = quadrant_images(64)
    spec = TrainSpec.of("real", dataset="check", epochs=1, batch_size=32, real_bias="authors", augment=False)
    model = train(spec, x, y, x[:16], y[:16], device="cpu", progress=False, log=lambda m: None)[0]
    assert model.real_bias == "authors" and model.body[0].double_bias and model.body[3].double_bias
    assert TrainSpec.of("real").real_bias == "cvgr"  # the default
