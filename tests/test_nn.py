"""Complex layers against torch's complex arithmetic, gradchecks, and the architectures' shapes."""
import math

import pytest
import torch
import torch.nn.functional as F

from cvgr.errors import ShapeMismatchError
from cvgr.nn import ComplexConv2d, ComplexLinear, GroupSum, build_model, set_mode

torch.set_num_threads(1)


def _complex_weight(layer):
    return torch.complex(layer.weight_re.double(), layer.weight_im.double())


def _complex_bias(layer):
    return torch.complex(layer.bias_re.double(), layer.bias_im.double())


def test_linear_is_magnitude_of_complex_affine_map():
    torch.manual_seed(0)
    layer = ComplexLinear(7, 5).double()
    x = torch.rand(4, 7, dtype=torch.float64) * math.pi
    z = torch.exp(1j * x.to(torch.complex128)) @ _complex_weight(layer).T + _complex_bias(layer)
    torch.testing.assert_close(layer(x), z.abs(), rtol=1e-9, atol=1e-9)


def test_conv_is_magnitude_of_complex_convolution():
    torch.manual_seed(1)
    layer = ComplexConv2d(3, 4, 3, padding=1).double()
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64) * math.pi
    u = torch.exp(1j * x.to(torch.complex128))
    w = _complex_weight(layer)
    # Independent reference: complex cross-correlation by unfolding, zero-padded phasors.
    cols = F.unfold(u.real, 3, padding=1) + 1j * F.unfold(u.imag, 3, padding=1)  # (B, C*9, L)
    z = torch.einsum("ok,bkl->bol", w.reshape(4, -1), cols).reshape(2, 4, 6, 6)
    z = z + _complex_bias(layer).view(1, 4, 1, 1)
    torch.testing.assert_close(layer(x), z.abs(), rtol=1e-9, atol=1e-9)


def test_init_has_unit_modulus_times_fan_in_scale():
    layer = ComplexConv2d(8, 32, 3)
    mod = torch.complex(layer.weight_re, layer.weight_im).abs()
    torch.testing.assert_close(mod, torch.full_like(mod, 1 / math.sqrt(8 * 9)))


def _layer_fn(layer):
    names = [n for n, _ in layer.named_parameters()]
    return lambda inp, *ps: torch.func.functional_call(layer, dict(zip(names, ps)), (inp,))


def _gradcheck_inputs(layer, seed):
    torch.manual_seed(seed)
    shape = (2, 4) if isinstance(layer, ComplexLinear) else (2, 2, 4, 4)
    x = (torch.rand(shape, dtype=torch.float64) * math.pi).requires_grad_()
    return (x, *(p.detach().clone().requires_grad_() for p in layer.parameters()))


LAYERS = [lambda: ComplexLinear(4, 3).double(), lambda: ComplexConv2d(2, 2, 3, padding=1).double()]


@pytest.mark.parametrize("make", LAYERS)
def test_gradcheck_first_and_second_order_exact_mode(make):
    layer = make()
    set_mode(layer, "exact")
    args = _gradcheck_inputs(layer, 2)
    assert torch.autograd.gradcheck(_layer_fn(layer), args)
    assert torch.autograd.gradgradcheck(_layer_fn(layer), args)


@pytest.mark.parametrize("make", LAYERS)
def test_gradcheck_first_order_paper_mode(make):
    layer = make()
    set_mode(layer, "paper")
    assert torch.autograd.gradcheck(_layer_fn(layer), _gradcheck_inputs(layer, 4))


def test_paper_mode_has_exact_value_and_first_order_gradients():
    torch.manual_seed(3)
    net = build_model("small_cnn", "complex").double()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    grads = {}
    for mode in ("exact", "paper"):
        restore = set_mode(net, mode)
        out = net(x)
        g = torch.autograd.grad(out.square().sum(), [x, *net.parameters()])
        restore()
        grads[mode] = (out.detach(), g)
    torch.testing.assert_close(grads["paper"][0], grads["exact"][0], rtol=1e-12, atol=1e-12)
    for a, b in zip(grads["paper"][1], grads["exact"][1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_group_sum_adds_channel_blocks():
    x = torch.arange(2 * 6 * 2 * 2, dtype=torch.float32).reshape(2, 6, 2, 2)
    torch.testing.assert_close(GroupSum(2)(x), x[:, :3] + x[:, 3:])
    torch.testing.assert_close(GroupSum(3)(x), x[:, :2] + x[:, 2:4] + x[:, 4:])


ARCH_CASES = [
    ("small_cnn", "real", (1, 28, 28), 32 * 9 + 32 + 64 * 32 * 9 + 64 + 3136 * 128 + 128 + 1290),
    ("small_cnn", "complex", (1, 28, 28), 2 * (16 * 9 + 16 + 32 * 8 * 9 + 32 + 784 * 128 + 128 + 1280 + 10)),
    ("mlp", "real", (1, 28, 28), 784 * 256 + 256 + 256 * 256 + 256 + 2570),
    ("mlp", "complex", (1, 28, 28), 2 * (784 * 256 + 256 + 256 * 256 + 256 + 2570)),
    # conv weights and biases, BatchNorm's weight and bias (2 per channel), then the two linear layers
    ("cifar_cnn", "real", (3, 32, 32), (32 * 27 + 32 + 64 * 288 + 64 + 128 * 576 + 128) + 2 * (32 + 64 + 128)
     + 2048 * 256 + 256 + 2570),
    ("cifar_cnn", "complex", (3, 32, 32), 2 * (32 * 27 + 32 + 64 * 288 + 64 + 128 * 576 + 128) + 2 * (32 + 64 + 128)
     + 2 * (2048 * 256 + 256 + 2570)),
    # the warp x - sin(2 pi x) / (2 pi) has no parameters
    ("cifar_cnn_warp", "real", (3, 32, 32), (32 * 27 + 32 + 64 * 288 + 64 + 128 * 576 + 128) + 2 * (32 + 64 + 128)
     + 2048 * 256 + 256 + 2570),
    ("cifar_cnn_warp", "complex", (3, 32, 32), 2 * (32 * 27 + 32 + 64 * 288 + 64 + 128 * 576 + 128)
     + 2 * (32 + 64 + 128) + 2 * (2048 * 256 + 256 + 2570)),
]


@pytest.mark.parametrize("arch,field,shape,params", ARCH_CASES)
def test_architectures_match_method_table(arch, field, shape, params):
    net = build_model(arch, field, shape)
    out = net(torch.rand(2, *shape))
    assert out.shape == (2, 10)
    if field == "complex":
        assert (out >= 0).all()  # logits are magnitudes
    assert sum(p.numel() for p in net.parameters()) == params


def test_every_architecture_has_a_parameter_count_test():
    from cvgr.nn import ARCHITECTURES
    from cvgr.vocab import ARCHITECTURES as NAMES, FIELDS
    counted = {(a, f) for a, f, _, _ in ARCH_CASES}
    assert tuple(ARCHITECTURES) == NAMES
    assert counted == {(a, f) for a in NAMES for f in FIELDS}


def test_real_init_std_and_zero_bias():
    torch.manual_seed(0)
    net = build_model("small_cnn", "real")
    fc = net.body[7]
    assert abs(fc.weight.std().item() - 1 / math.sqrt(2 * 3136)) < 0.02 / math.sqrt(3136)
    assert torch.count_nonzero(fc.bias) == 0


def test_wrong_input_shape_is_a_clear_error():
    net = build_model("small_cnn", "complex")
    with pytest.raises(ShapeMismatchError, match=r"expects inputs of shape \(1, 28, 28\).*got \(3, 32, 32\)"):
        net(torch.rand(1, 3, 32, 32))
    with pytest.raises(ShapeMismatchError, match="divisible by 8"):
        build_model("cifar_cnn", "real", (1, 28, 28))


@pytest.mark.parametrize("shape", [(3, 4, 6, 8), (2, 3, 7, 6)])  # even, and odd (falls back)
def test_avg_pool2_matches_torch_to_second_order(shape):
    from cvgr.nn.pool import avg_pool2
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    ref = F.avg_pool2d(x, 2)
    out = avg_pool2(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-15)
    g = torch.randn_like(ref, requires_grad=True)
    (gx,) = torch.autograd.grad(out, x, g, create_graph=True)
    (gx_ref,) = torch.autograd.grad(ref, x, g, create_graph=True)
    torch.testing.assert_close(gx, gx_ref, rtol=0, atol=1e-15)
    # a nonlinear function of the input gradient, differentiated again (the G.R. double backward)
    w = torch.randn_like(x)
    dd = torch.autograd.grad((gx * w).square().sum(), g)[0]
    dd_ref = torch.autograd.grad((gx_ref * w).square().sum(), g)[0]
    torch.testing.assert_close(dd, dd_ref, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(avg_pool2, (x,))
    assert torch.autograd.gradgradcheck(avg_pool2, (x,))


def test_phase_warp_values_and_derivatives_match_closed_forms():
    """w(x) = x - sin(2 pi x)/(2 pi): fixed points 0, 1/2, 1; w'(x) = 1 - cos(2 pi x); w''(x) = 2 pi sin(2 pi x)."""
    from cvgr.nn import PhaseWarp
    warp = PhaseWarp()
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64, requires_grad=True)
    out = warp(x)
    q = 1 / (2 * math.pi)
    torch.testing.assert_close(out, torch.tensor([0.0, 0.25 - q, 0.5, 0.75 + q, 1.0], dtype=torch.float64),
                               rtol=0, atol=1e-15)
    (d1,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    torch.testing.assert_close(d1, torch.tensor([0.0, 1.0, 2.0, 1.0, 0.0], dtype=torch.float64), rtol=0, atol=1e-15)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    torch.testing.assert_close(d2, torch.tensor([0.0, 2 * math.pi, 0.0, -2 * math.pi, 0.0], dtype=torch.float64),
                               rtol=0, atol=1e-12)
    grid = torch.linspace(0, 1, 1001, dtype=torch.float64)
    w = warp(grid)
    assert w.min() >= 0 and w.max() <= 1 and (w.diff() >= 0).all()  # onto [0, 1], increasing
    torch.testing.assert_close(warp(1 - grid), 1 - w, rtol=0, atol=1e-15)  # point symmetry about (1/2, 1/2)
    assert torch.autograd.gradgradcheck(warp, (grid[1:-1:50].clone().requires_grad_(),))


def test_cifar_cnn_warp_is_cifar_cnn_after_the_warp_for_complex_and_unchanged_for_real():
    from cvgr.nn import PhaseWarp
    x = torch.rand(2, 3, 32, 32)
    for field in ("complex", "real"):
        torch.manual_seed(8)
        plain = build_model("cifar_cnn", field).eval()
        torch.manual_seed(8)
        warped = build_model("cifar_cnn_warp", field).eval()
        expected = plain(PhaseWarp()(x) if field == "complex" else x)
        assert torch.equal(warped(x), expected)
        assert sum(p.numel() for p in warped.parameters()) == sum(p.numel() for p in plain.parameters())
    assert isinstance(build_model("cifar_cnn_warp", "complex").body[0], PhaseWarp)
    with pytest.raises(ShapeMismatchError, match="cifar_cnn_warp needs H and W divisible by 8"):
        build_model("cifar_cnn_warp", "complex", (3, 28, 28))
