"""Convolutions whose derivatives run on the forward, data-gradient and weight-gradient kernels (cvgr.nn.conv).

The claim: gradients of every order equal PyTorch's (float64, 1e-12), for the
G.R. training gradient of every net and mode, and the slow "batch as
channels" forward convolution no longer appears in a G.R. step.
"""
import pytest
import torch
import torch.nn.functional as F

from cvgr.nn import Conv2d, build_model, set_conv_wgrad
from cvgr.nn.conv import conv2d, conv2d_input, conv2d_weight
from cvgr.train.regularize import backward_with_zeta, regularized_loss

torch.set_num_threads(1)
F64 = torch.float64


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (2, 0)])
def test_three_maps_and_their_derivatives_pass_gradcheck(stride, padding):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 6, dtype=F64, generator=g, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, dtype=F64, generator=g, requires_grad=True)
    b = torch.randn(4, dtype=F64, generator=g, requires_grad=True)
    out_shape = F.conv2d(x, w, b, stride, padding).shape
    u = torch.randn(out_shape, dtype=F64, generator=g, requires_grad=True)
    torch.testing.assert_close(conv2d(x, w, b, stride, padding), F.conv2d(x, w, b, stride, padding))
    assert torch.autograd.gradgradcheck(lambda *t: conv2d(*t, stride, padding), (x, w, b))
    assert torch.autograd.gradgradcheck(lambda gg, ww: conv2d_input(x.shape, ww, gg, stride, padding), (u, w))
    assert torch.autograd.gradgradcheck(lambda xx, gg: conv2d_weight(xx, w.shape, gg, stride, padding), (x, u))


def test_double_backward_equals_torch_rule():
    """d/dW and d/dx of ||dL/dx||^2 (the G.R. pattern) through conv2d equal autograd through F.conv2d."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 2, 9, 9, dtype=F64, generator=g, requires_grad=True)
    w = torch.randn(5, 2, 3, 3, dtype=F64, generator=g, requires_grad=True)
    target = torch.randn(3, 5, 9, 9, dtype=F64, generator=g)

    def second_order(conv):
        loss = (conv(x, w, None, 1, 1).tanh() * target).sum()
        (gx,) = torch.autograd.grad(loss, x, create_graph=True)
        return torch.autograd.grad(gx.square().sum(), [x, w])

    for ours, ref in zip(second_order(conv2d), second_order(F.conv2d)):
        assert _rel(ours, ref) < 1e-12


@pytest.mark.parametrize("field,mode", [("real", "paper"), ("real", "exact"), ("complex", "paper"),
                                        ("complex", "exact")])
def test_gr_training_gradients_unchanged_by_the_switch(field, mode):
    """The G.R. gradient, penalty and zeta of a step are today's values (float64, 1e-12), paper mode included."""
    torch.manual_seed(0)
    net = build_model("small_cnn", field).double()
    x, y = torch.rand(6, 1, 28, 28, dtype=F64), torch.randint(0, 10, (6,))
    params = list(net.parameters())

    def step(enabled: bool):
        restore = set_conv_wgrad(net, enabled)
        try:
            obj = regularized_loss(net, x, y, 64.0, mode, params=params)
            zeta = backward_with_zeta(obj, params)
            return [p.grad.clone() for p in params], obj.penalty.detach(), zeta
        finally:
            restore()

    (g_off, r_off, z_off), (g_on, r_on, z_on) = step(False), step(True)
    assert _rel(r_on, r_off) < 1e-12 and abs(float(z_on - z_off)) < 1e-12
    for a, b in zip(g_on, g_off):
        assert _rel(a, b) < 1e-12


def test_switch_is_off_by_default_and_restorable():
    net = build_model("small_cnn", "real")
    convs = [m for m in net.modules() if isinstance(m, Conv2d)]
    assert len(convs) == 2 and not any(m.wgrad for m in convs)
    restore = set_conv_wgrad(net, True)
    assert all(m.wgrad for m in net.modules() if hasattr(m, "wgrad"))
    restore()
    assert not any(m.wgrad for m in net.modules() if hasattr(m, "wgrad"))
    with pytest.raises(ValueError, match="dilation 1 and groups 1"):
        Conv2d(4, 4, 3, groups=2)


def test_gr_step_has_no_batch_as_channels_convolution():
    """The profiler's record of a G.R. step: no convolution whose input has the batch as its channels."""
    from torch.profiler import ProfilerActivity, profile
    torch.manual_seed(0)
    batch = 24  # differs from every layer's channel count
    net = build_model("small_cnn", "real")
    x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    params = list(net.parameters())

    def batch_channel_convs(enabled: bool) -> int:
        restore = set_conv_wgrad(net, enabled)
        try:
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                backward_with_zeta(regularized_loss(net, x, y, 64.0, "paper", params=params), params)
        finally:
            restore()
        shapes = [e.input_shapes for e in prof.events() if e.name == "aten::convolution"]
        return sum(1 for s in shapes if s and len(s[0]) == 4 and s[0][1] == batch)

    assert batch_channel_convs(False) == 2  # PyTorch's rule: one per conv layer
    assert batch_channel_convs(True) == 0
