"""G.R. loss against its definition, paper vs exact double backprop, the paper-mode closed form, zeta."""
import pytest
import torch
import torch.nn.functional as F

from cvgr.nn import ComplexLinear, build_model
from cvgr.train.regularize import backward_with_zeta, regularized_loss

torch.set_num_threads(1)


def _param_grads(net, x, y, beta, mode):
    net.zero_grad()
    obj = regularized_loss(net, x, y, beta, mode)
    return torch.autograd.grad(obj.total, list(net.parameters()))


def test_penalty_matches_per_sample_definition():
    torch.manual_seed(0)
    net = build_model("small_cnn", "complex").double()
    x, y = torch.rand(5, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (5,))
    beta = 64.0
    obj = regularized_loss(net, x, y, beta, "exact")
    norms = []
    for i in range(5):  # dL/dx_i of the batch-mean loss = grad of CE_i / B (samples are independent)
        xi = x[i:i + 1].clone().requires_grad_()
        (gi,) = torch.autograd.grad(F.cross_entropy(net(xi), y[i:i + 1]) / 5, xi)
        norms.append(gi.abs().sum() ** 2)
    torch.testing.assert_close(obj.penalty, beta * torch.stack(norms).mean(), rtol=1e-10, atol=0)


def test_modes_differ_on_complex_nets():
    torch.manual_seed(1)
    x, y = torch.rand(6, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (6,))
    cnet = build_model("small_cnn", "complex").double()
    gp, ge = _param_grads(cnet, x, y, 64.0, "paper"), _param_grads(cnet, x, y, 64.0, "exact")
    rel = max(float((a - b).norm() / b.norm()) for a, b in zip(gp, ge))
    assert rel > 1e-3, "paper and exact double backprop should differ on a complex net"


def _directional_fd(net, x, y, beta, direction, h=1e-6):
    """Central finite difference of L + R along ``direction`` (one tensor per parameter)."""
    params = list(net.parameters())
    base = [p.detach().clone() for p in params]
    values = []
    for sign in (1, -1):
        with torch.no_grad():
            for p, b, d in zip(params, base, direction):
                p.copy_(b + sign * h * d)
        values.append(regularized_loss(net, x, y, beta, "exact").total.item())
    with torch.no_grad():
        for p, b in zip(params, base):
            p.copy_(b)
    return (values[0] - values[1]) / (2 * h)


@pytest.mark.parametrize("field, mode", [("real", "paper"), ("real", "exact"), ("complex", "exact")])
def test_exact_gradients_match_finite_differences(field, mode):
    """Real nets are differentiated exactly in both modes, complex nets in exact mode: d(L + R) by finite differences."""
    torch.manual_seed(4)
    net = build_model("mlp", field, in_shape=(1, 4, 4)).double()
    x, y = torch.rand(5, 1, 4, 4, dtype=torch.float64), torch.randint(0, 10, (5,))
    g = torch.Generator().manual_seed(5)
    direction = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in net.parameters()]
    analytic = sum(float((a * d).sum()) for a, d in zip(_param_grads(net, x, y, 8.0, mode), direction))
    assert analytic == pytest.approx(_directional_fd(net, x, y, 8.0, direction), rel=1e-5)


def test_paper_mode_weight_gradient_equals_closed_form():
    """One complex linear layer as the whole net: docs/METHOD.md section 2.2's closed form plus the exact g-path."""
    torch.manual_seed(2)
    n, m, B, beta = 6, 4, 5, 3.0
    layer = ComplexLinear(n, m).double()
    x, y = torch.rand(B, n, dtype=torch.float64) * 3, torch.randint(0, m, (B,))
    grads = _param_grads(layer, x, y, beta, "paper")
    got = dict(zip([k for k, _ in layer.named_parameters()], grads))

    wr, wi = layer.weight_re.detach(), layer.weight_im.detach()
    br, bi = layer.bias_re.detach(), layer.bias_im.detach()
    c, s = torch.cos(x), torch.sin(x)
    zr, zi = c @ wr.T - s @ wi.T + br, c @ wi.T + s @ wr.T + bi
    f = torch.sqrt(zr ** 2 + zi ** 2 + 1e-12)
    pr, pi = zr / f, zi / f
    g = (torch.softmax(f, 1) - F.one_hot(y, m)) / B                    # dL/df, (B, m)
    Bm = pr[:, :, None] * c[:, None, :] + pi[:, :, None] * s[:, None, :]  # (B, m, n)
    Am = pi[:, :, None] * c[:, None, :] - pr[:, :, None] * s[:, None, :]
    J = wr * Am - wi * Bm                                             # input Jacobian per sample
    gx = torch.einsum("bkj,bk->bj", J, g)                             # dL/dx_i
    l1 = gx.abs().sum(1)
    v = beta / B * 2 * l1[:, None] * torch.sign(gx)                   # dR/d(gx)
    gv = g[:, :, None] * v[:, None, :]                                # g v^T per sample
    explicit_r, explicit_i = (gv * Am).sum(0), -(gv * Bm).sum(0)
    # The path through g (exact): dR/dg = J v, pulled back through g(W) = (softmax(|Wu+b|) - y) / B.
    dr_dg = torch.einsum("bkj,bj->bk", J, v)
    ps = [p.detach().clone().requires_grad_() for p in (wr, wi, br, bi)]
    zr2 = c @ ps[0].T - s @ ps[1].T + ps[2]
    zi2 = c @ ps[1].T + s @ ps[0].T + ps[3]
    g2 = (torch.softmax(torch.sqrt(zr2 ** 2 + zi2 ** 2 + 1e-12), 1) - F.one_hot(y, m)) / B
    via_g = torch.autograd.grad(g2, ps, grad_outputs=dr_dg, retain_graph=True)
    # Plus the first-order gradient of L itself.
    loss = F.cross_entropy(torch.sqrt(zr2 ** 2 + zi2 ** 2 + 1e-12), y)
    first = torch.autograd.grad(loss, ps)
    torch.testing.assert_close(got["weight_re"], explicit_r + via_g[0] + first[0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got["weight_im"], explicit_i + via_g[1] + first[1], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got["bias_re"], via_g[2] + first[2], rtol=1e-9, atol=1e-12)
    # the derivative constraint (docs/METHOD.md section 2.2) A^2 + B^2 = 1 (up to the 1e-12 smoothing of |z|).
    torch.testing.assert_close(Am ** 2 + Bm ** 2, torch.ones_like(Am), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("field", ["real", "complex"])
def test_zeta_is_the_cosine_of_two_separately_computed_gradients(field):
    torch.manual_seed(3)
    net = build_model("small_cnn", field).double()
    x, y = torch.rand(8, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (8,))
    params = list(net.parameters())
    g_loss = torch.cat([g.flatten() for g in torch.autograd.grad(regularized_loss(net, x, y, 64.0).loss, params)])
    expected = torch.autograd.grad(regularized_loss(net, x, y, 64.0).total, params)
    g_total = torch.cat([g.flatten() for g in expected])
    reference = float(g_loss @ g_total / (g_loss.norm() * g_total.norm()))
    assert reference < 1 - 1e-6
    z64 = float(backward_with_zeta(regularized_loss(net, x, y, 64.0), params))
    assert z64 == pytest.approx(reference, abs=1e-12)
    # backward_with_zeta leaves grad(L + R) in .grad, and grad L taken in the input-gradient pass is the same.
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.grad, e, rtol=1e-9, atol=1e-12)
    z_fused = float(backward_with_zeta(regularized_loss(net, x, y, 64.0, params=params), params))
    assert z_fused == pytest.approx(reference, abs=1e-12)
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.grad, e, rtol=1e-9, atol=1e-12)


def test_bad_arguments_are_rejected():
    net = build_model("mlp", "real")
    x, y = torch.rand(2, 1, 28, 28), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        regularized_loss(net, x, y, -1.0)
    with pytest.raises(ValueError, match="choose one of paper, exact"):
        regularized_loss(net, x, y, 1.0, "approx")


def _pixel_penalty(net, x, y, beta):
    """The penalty on the pixel gradient, written out: beta * mean_i ||dL/dx_i||_1^2."""
    xg = x.clone().requires_grad_()
    (gx,) = torch.autograd.grad(F.cross_entropy(net(xg), y), xg)
    return beta * gx.flatten(1).abs().sum(1).square().mean()


def test_penalty_of_a_standardising_linear_net_is_the_closed_form_on_the_standardised_input():
    """r = (x - m)/s, logits W r + b: dL/dr_i = W^T (softmax(l_i) - e_{y_i}) / B, and R uses that, not dL/dx."""
    from torch import nn
    from cvgr.nn import Net
    from cvgr.nn.architectures import Normalize
    torch.manual_seed(5)
    mean, std = (0.3, 0.5), (0.2, 0.05)
    lin = nn.Linear(2 * 3 * 3, 4).double()
    net = Net("linear", "real", (2, 3, 3), nn.Sequential(Normalize(mean, std), nn.Flatten(), lin)).double()
    B, beta = 6, 7.0
    x, y = torch.rand(B, 2, 3, 3, dtype=torch.float64), torch.randint(0, 4, (B,))
    m, s = net.body[0].mean, net.body[0].std  # the constants as stored (float32 values, now float64)
    torch.testing.assert_close(s.flatten(), torch.tensor(std, dtype=torch.float64), rtol=1e-7, atol=0)
    w, b = lin.weight.detach(), lin.bias.detach()
    logits = ((x - m) / s).flatten(1) @ w.T + b
    g_r = (torch.softmax(logits, 1) - F.one_hot(y, 4)) @ w / B            # dL/dr_i, (B, 18)
    expected = beta * g_r.abs().sum(1).square().mean()
    torch.testing.assert_close(regularized_loss(net, x, y, beta).penalty, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(net.representation_scale(), s, rtol=0, atol=0)
    # the pixel-gradient penalty is a different number: dL/dx = dL/dr / s
    pixel = beta * (g_r.view(B, 2, 3, 3) / s).flatten(1).abs().sum(1).square().mean()
    torch.testing.assert_close(_pixel_penalty(net, x, y, beta), pixel, rtol=1e-12, atol=0)
    assert float(pixel / expected) > 10


@pytest.mark.parametrize("fused", [False, True])
def test_real_cifar_net_is_regularized_like_a_net_fed_standardised_inputs(fused):
    """The reference procedure: standardise outside, take dL/dr at the standardised input, penalise that."""
    torch.manual_seed(6)
    net = build_model("cifar_cnn", "real").double()
    x, y = torch.rand(3, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (3,))
    beta, params = 5.0, list(net.parameters())
    obj = regularized_loss(net, x, y, beta, params=params if fused else None)
    ours = torch.autograd.grad(obj.total, params)
    r = net.body[0](x).detach().requires_grad_()
    loss = F.cross_entropy(net.body[1:](r), y)
    (g_r,) = torch.autograd.grad(loss, r, create_graph=True)
    penalty = beta * g_r.flatten(1).abs().sum(1).square().mean()
    reference = torch.autograd.grad(loss + penalty, params)
    torch.testing.assert_close(obj.penalty, penalty, rtol=1e-10, atol=0)
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("arch,field,shape", [
    ("small_cnn", "real", (1, 28, 28)), ("small_cnn", "complex", (1, 28, 28)),
    ("mlp", "real", (1, 28, 28)), ("mlp", "complex", (1, 28, 28)), ("cifar_cnn", "complex", (3, 32, 32))])
def test_nets_without_standardisation_keep_the_pixel_gradient_penalty_exactly(arch, field, shape):
    torch.manual_seed(7)
    net = build_model(arch, field, shape)
    x, y = torch.rand(4, *shape), torch.randint(0, 10, (4,))
    assert net.representation_scale() is None
    for params in (None, list(net.parameters())):
        assert torch.equal(regularized_loss(net, x, y, 64.0, params=params).penalty,
                           _pixel_penalty(net, x, y, 64.0))
