"""FGSM / PGD against torchattacks, PGD random start, NES estimator and query budget."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import torchattacks
from cvgr.attacks.fgsm import fgsm
from cvgr.attacks.nes import CHUNK_CPU, NES_SCORES, QueryCounter, default_chunk, nes, nes_gradient, true_class_score
from cvgr.attacks.pgd import pgd
from cvgr.attacks.evaluate import attack_function
from cvgr.nn import build_model
from cvgr.vocab import AttackId

torch.set_num_threads(1)
EPS = 0.1


def _small_cnn(field: str) -> nn.Module:
    torch.manual_seed(0 if field == "real" else 1)
    return build_model("small_cnn", field).eval()


@pytest.fixture(scope="module", params=["real", "complex"])
def model(request) -> nn.Module:
    return _small_cnn(request.param)


@pytest.fixture(scope="module")
def batch() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(2)
    return torch.rand(8, 1, 28, 28, generator=g), torch.randint(0, 10, (8,), generator=g)


def _ce(model: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item()


def _in_ball(x_adv: Tensor, x: Tensor, eps: float) -> bool:
    return bool((x_adv - x).abs().max() <= eps + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1)


def test_fgsm_matches_torchattacks(model, batch):
    x, y = batch
    ours = fgsm(model, x, y, EPS)
    theirs = torchattacks.FGSM(model, eps=EPS)(x, y)
    assert (ours - theirs).abs().max().item() <= 1e-6
    assert (ours - x).abs().max().item() == pytest.approx(EPS, abs=1e-6)
    assert _ce(model, ours, y) > _ce(model, x, y)


def test_pgd_matches_torchattacks(model, batch):
    x, y = batch
    steps = 10
    alpha = 1.85 * EPS / steps
    ours = pgd(model, x, y, EPS, steps=steps)
    theirs = torchattacks.PGD(model, eps=EPS, alpha=alpha, steps=steps, random_start=False)(x, y)
    assert (ours - theirs).abs().max().item() <= 1e-6
    assert _ce(model, ours, y) > _ce(model, fgsm(model, x, y, EPS), y)


def test_fgsm_is_one_step_pgd(model, batch):
    """Equal up to one float32 rounding: PGD recomputes x + clip(x' - x), FGSM keeps x + eps sign(g)."""
    x, y = batch
    one_step = pgd(model, x, y, EPS, steps=1, alpha=EPS)
    assert (one_step - fgsm(model, x, y, EPS)).abs().max().item() <= 1e-6


def test_eps_zero_returns_clean_images(model, batch):
    x, y = batch
    assert torch.equal(fgsm(model, x, y, 0.0), x)
    assert torch.equal(pgd(model, x, y, 0.0, steps=3), x)


@pytest.mark.parametrize("name", ["fgsm", "pgd3", "nes"])
def test_attacks_leave_parameters_alone(model, batch, name):
    x, y = batch
    x = x[:2].clone().requires_grad_(True)
    flags = [p.requires_grad for p in model.parameters()]
    kwargs = {"samples": 4, "steps": 2} if name == "nes" else {}
    attack = nes if name == "nes" else attack_function(AttackId.parse(name))
    out = attack(model, x, y[:2], EPS, generator=torch.Generator().manual_seed(0), **kwargs)
    assert not out.requires_grad and out.grad_fn is None
    assert x.grad is None
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())


def test_attacks_compute_no_weight_gradients(batch, no_weight_gradients):
    """The complex layers' paper-mode backward is never asked for dL/dW by an attack."""
    model = _small_cnn("complex")
    x, y = batch
    pgd(model, x, y, EPS, steps=2)
    fgsm(model, x, y, EPS)
    assert all(p.requires_grad for p in model.parameters())


def test_attacks_work_under_no_grad(batch):
    x, y = batch
    model = _small_cnn("real")
    with torch.no_grad():
        assert torch.equal(fgsm(model, x, y, EPS), fgsm(model, x, y, EPS))
        assert not torch.equal(fgsm(model, x, y, EPS), x)


def test_pgd_random_start_is_in_ball_seeded_and_reproducible(batch):
    x, y = batch
    model = _small_cnn("complex")

    def run(seed: int) -> Tensor:
        return pgd(model, x, y, EPS, steps=2, random_start=True, generator=torch.Generator().manual_seed(seed))

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, pgd(model, x, y, EPS, steps=2))
    for out in (a, c):
        assert _in_ball(out, x, EPS)


def test_attack_names_give_their_attack():
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    y = torch.tensor([1, 2, 3])
    model = _small_cnn("real")
    assert attack_function(AttackId.parse("fgsm")) is fgsm
    pgd7 = attack_function(AttackId.parse("pgd7"))
    assert torch.equal(pgd7(model, x, y, EPS), pgd(model, x, y, EPS, steps=7))
    assert not torch.equal(pgd7(model, x, y, EPS), pgd(model, x, y, EPS, steps=6))
    started = attack_function(AttackId.parse("pgd2"), random_start=True)
    assert torch.equal(started(model, x, y, EPS, generator=torch.Generator().manual_seed(1)),
                       pgd(model, x, y, EPS, steps=2, random_start=True, generator=torch.Generator().manual_seed(1)))
    for bad in ("pgd", "pgd0", "PGD10", "cw", "pgd-3", "nes"):
        with pytest.raises(ValueError, match=r"allowed: fgsm, pgd<k>.*square"):
            AttackId.parse(bad)


class ScoreModel(nn.Module):
    """Two classes whose class-0 log-softmax is exactly ``score(x)`` (needs ``score < 0``).

    Logits ``(s, log(1 - e^s))``: the softmax normaliser is ``e^s + 1 - e^s = 1``.
    """

    def __init__(self, score):
        super().__init__()
        self.score = score

    def forward(self, x: Tensor) -> Tensor:
        s = self.score(x.flatten(1))
        return torch.stack([s, torch.log1p(-torch.exp(s))], 1)


@pytest.mark.parametrize("margin", [0.0, 5.0, 20.0, 40.0, 80.0])
def test_true_class_score_is_log_probability_with_relative_precision(margin):
    """float32 log_softmax gives exactly 0 for margins > ~17; the score keeps ~1e-6 relative error."""
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    y = torch.arange(6) % 10
    logits[torch.arange(6), y] += margin
    wide = logits.double()
    others = torch.arange(10) != y[:, None]
    rest = ((wide - wide[torch.arange(6), y][:, None]).exp() * others).sum(1)  # sum_{k != y} e^(l_k - l_y)
    reference = -torch.log1p(rest)
    score = true_class_score(logits, y)
    assert score.dtype == torch.float32
    assert ((score.double() - reference).abs() <= 1e-5 * reference.abs()).all()


def _cosine(a: Tensor, b: Tensor) -> Tensor:
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1)


def test_nes_gradient_recovers_a_linear_score_direction():
    """s = w.x + c exactly, so grad_x CE = -w; the estimate must point there (cosine > 0.9)."""
    w = torch.randn(64, generator=torch.Generator().manual_seed(0))
    model = ScoreModel(lambda v: v @ w - w.abs().sum() - 1)
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(3, dtype=torch.int64)
    g = nes_gradient(model, x, y, samples=2000, generator=torch.Generator().manual_seed(2))
    assert g.shape == x.shape
    assert (_cosine(g, -w.expand(3, -1)) > 0.9).all()
    # unbiased with the 1/(2 n sigma) scale: the length is right too, not only the direction
    assert g.flatten(1).norm(dim=1).div(w.norm()).sub(1).abs().max() < 0.25
    assert default_chunk(x.device) == CHUNK_CPU
    same = nes_gradient(model, x, y, samples=2000, chunk=CHUNK_CPU, generator=torch.Generator().manual_seed(2))
    assert torch.equal(g, same)


def test_nes_gradient_assigns_queries_to_their_own_image():
    """Per-image gradients -(x_i - a) differ; chunks of 192 directions cut across images (n = 1000)."""
    a = torch.full((64,), 0.5)
    model = ScoreModel(lambda v: -0.5 * (v - a).square().sum(1) - 0.1)
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    y = torch.zeros(5, dtype=torch.int64)
    counter = QueryCounter(model)
    g = nes_gradient(counter, x, y, samples=1000, chunk=384, generator=torch.Generator().manual_seed(4))
    true = x - 0.5  # grad_x CE = -grad_x s
    assert (_cosine(g, true) > 0.9).all()
    assert (_cosine(g[1:], true[:-1]) < 0.5).all()
    assert counter.queries == 5 * 2 * 1000


def test_nes_query_budget_is_steps_times_2n_per_image(batch):
    x, y = batch
    counter = QueryCounter(_small_cnn("complex"))
    out = nes(counter, x[:3], y[:3], EPS, steps=3, samples=20, chunk=50, generator=torch.Generator().manual_seed(0))
    assert counter.queries == 3 * (3 * 2 * 20)
    assert _in_ball(out, x[:3], EPS)


def test_nes_is_deterministic_given_the_generator(batch):
    x, y = batch
    model = _small_cnn("real")

    def run(seed: int) -> Tensor:
        return nes(model, x[:2], y[:2], EPS, steps=2, samples=10, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def _own_objective_gradient(model: nn.Module, x: Tensor, y: Tensor, score: str) -> Tensor:
    """Autograd's per-image gradient of what NES with ``score`` estimates: ``grad CE_i`` or ``-grad f_y``."""
    xg = x.detach().clone().requires_grad_(True)
    logits = model(xg)
    if score == "cross_entropy":
        objective = F.cross_entropy(logits, y, reduction="sum")
    else:
        objective = -logits.gather(1, y[:, None]).sum()
    (grad,) = torch.autograd.grad(objective, xg)
    return grad


class OrthogonalScores(nn.Module):
    """Two linear logits ``l0 = w.v``, ``l1 = (w + u).v + 12`` with ``u`` orthogonal to ``w``, ``|u| = |w|``.

    For class 0, ``-grad f_0 = -w`` while ``grad CE = p_1 u`` (``p_1`` ~ 1):
    the two NES objectives have orthogonal gradients.
    """

    def __init__(self, dim: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w, u = torch.randn(dim, generator=g), torch.randn(dim, generator=g)
        u = u - (u @ w) / (w @ w) * w
        self.w, self.u = w, u * (w.norm() / u.norm())

    def forward(self, x: Tensor) -> Tensor:
        v = x.flatten(1)
        return torch.stack([v @ self.w, v @ (self.w + self.u) + 12.0], 1)


def test_nes_scores_estimate_their_own_objective_and_not_the_other():
    """Objective gradients orthogonal: each score's estimate has cosine >= 0.95 with its own, < 0.3 with the other's."""
    model = OrthogonalScores(64, seed=0)
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(3, dtype=torch.int64)
    truth = {score: _own_objective_gradient(model, x, y, score) for score in NES_SCORES}
    assert _cosine(truth["output"], truth["cross_entropy"]).abs().max() < 1e-4  # the set-up is what it claims
    for score in NES_SCORES:
        other = next(s for s in NES_SCORES if s != score)
        g = nes_gradient(model, x, y, samples=2000, score=score, generator=torch.Generator().manual_seed(2))
        assert (_cosine(g, truth[score]) >= 0.95).all(), score
        assert (_cosine(g, truth[other]).abs() < 0.3).all(), score


@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize("score", NES_SCORES)
def test_nes_gradient_matches_autograd_of_its_objective_on_a_net(field, score):
    """A (nonlinear) MLP in float64: cosine >= 0.95 with autograd's gradient of the score's own objective."""
    torch.manual_seed(4)
    model = build_model("mlp", field, in_shape=(1, 8, 8)).double().eval()
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.tensor([0, 3, 7, 9])
    g = nes_gradient(model, x, y, samples=3000, score=score, generator=torch.Generator().manual_seed(6))
    assert (_cosine(g, _own_objective_gradient(model, x, y, score)) >= 0.95).all()


def test_nes_output_score_keeps_the_query_budget_and_rejects_unknown_scores(batch):
    x, y = batch
    counter = QueryCounter(_small_cnn("real"))
    out = nes(counter, x[:3], y[:3], EPS, steps=2, samples=15, score="output", chunk=40,
              generator=torch.Generator().manual_seed(0))
    assert counter.queries == 3 * (2 * 2 * 15)
    assert _in_ball(out, x[:3], EPS)
    for call in (lambda: nes_gradient(counter, x[:1], y[:1], samples=2, score="probability"),
                 lambda: nes(counter, x[:1], y[:1], EPS, samples=2, score="logit")):
        with pytest.raises(ValueError, match="choose one of output, cross_entropy"):
            call()


def _synthetic_two_class(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Synthetic test data: uniform [0.3, 0.7] pixels plus +-0.1 times a fixed +-1 pattern (sign = class)."""
    g = torch.Generator().manual_seed(seed)
    pattern = torch.where(torch.arange(64) % 3 == 0, 1.0, -1.0).view(1, 1, 8, 8)
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.3 + 0.4 * torch.rand(n, 1, 8, 8, generator=g) + 0.1 * (1 - 2 * y.view(-1, 1, 1, 1)) * pattern
    return x, y


def test_nes_reduces_accuracy_of_a_trained_model():
    """A confidently trained MLP on synthetic data: NES at eps 0.16 drops accuracy from >= 95 % to <= 20 %."""
    torch.manual_seed(0)
    model = build_model("mlp", "real", in_shape=(1, 8, 8), num_classes=2)
    x, y = _synthetic_two_class(512, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    x_test, y_test = _synthetic_two_class(64, seed=1)
    eps = 0.16
    x_adv = nes(model, x_test, y_test, eps, steps=8, samples=50, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x_test)
        clean = (logits.argmax(1) == y_test).float().mean().item()
        attacked = (model(x_adv).argmax(1) == y_test).float().mean().item()
        flat = (logits.log_softmax(1).gather(1, y_test[:, None]) == 0).float().mean().item()
    assert clean >= 0.95
    assert flat > 0.5  # confident: a plain float32 log_softmax score would give NES no signal here
    assert attacked <= 0.2
    assert _in_ball(x_adv, x_test, eps)


@pytest.mark.parametrize("kwargs, message", [
    ({"samples": 0}, "samples"), ({"sigma": 0.0}, "sigma"), ({"chunk": 1}, "chunk")])
def test_nes_gradient_rejects_bad_options(kwargs, message):
    options = {"samples": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        nes_gradient(_small_cnn("real"), torch.rand(1, 1, 28, 28), torch.tensor([0]), **options)


def test_negative_eps_and_zero_steps_are_rejected(batch):
    x, y = batch
    with pytest.raises(ValueError, match="eps"):
        fgsm(_small_cnn("real"), x, y, -0.1)
    with pytest.raises(ValueError, match="steps"):
        pgd(_small_cnn("real"), x, y, 0.1, steps=0)
