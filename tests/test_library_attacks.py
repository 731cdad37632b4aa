"""APGD-CE, APGD-DLR and Square (torchattacks) behind cvgr's signature: optimum, budget, seeds, isolation."""
from __future__ import annotations

import sys

import pytest
import torch
from torch import Tensor, nn

from audit_cases import PerImageCounter, linear_case
from cvgr.attacks.apgd import apgd, apgd_ce, apgd_dlr
from cvgr.attacks.core import QueryCounter
from cvgr.attacks.fgsm import fgsm
from cvgr.attacks.library import SQUARE_OVERHEAD, library_seed, torchattacks
from cvgr.attacks.pgd import pgd
from cvgr.attacks.square import square
from cvgr.errors import CvgrError
from cvgr.attacks.evaluate import attack_batched, attack_function, predict
from cvgr.nn import build_model
from cvgr.vocab import AttackId

torch.set_num_threads(1)
EPS = 0.1
#: Cheap settings for the small CNNs: (name, options).
CHEAP = [("apgd-ce", {"apgd_steps": 4}), ("apgd-dlr", {"apgd_steps": 4}), ("square", {"square_queries": 12})]


def _small_cnn(field: str) -> nn.Module:
    torch.manual_seed(0 if field == "real" else 1)
    return build_model("small_cnn", field).eval()


@pytest.fixture(scope="module")
def batch() -> tuple[Tensor, Tensor]:
    """Six random images labelled with the complex net's own predictions (all correct clean)."""
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    return x, predict(_small_cnn("complex"), x)


def _in_ball(x_adv: Tensor, x: Tensor, eps: float) -> bool:
    return bool((x_adv - x).abs().max() <= eps + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1)


def _correct(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    with torch.no_grad():
        return model(x).argmax(1) == y


@pytest.mark.parametrize("name, options", [("fgsm", {}), ("pgd10", {}), ("apgd-ce", {}), ("apgd-dlr", {}),
                                           ("square", {"square_queries": 1000})])
def test_each_attack_reaches_the_known_robust_accuracy(name, options):
    """Linear model: image i survives an optimal attack iff s_i > eps ||w||_1; every attack must find exactly that."""
    case = linear_case()
    assert case.robust.sum() >= 5 and (case.clean & ~case.robust).sum() >= 5 and (~case.clean).sum() >= 3
    x_adv = attack_function(AttackId.parse(name))(case.model, case.x, case.y, case.eps,
                                   generator=torch.Generator().manual_seed(0), **options)
    assert _in_ball(x_adv, case.x, case.eps)
    assert torch.equal(_correct(case.model, x_adv, case.y), case.robust)


def test_square_spends_at_most_its_budget_per_image():
    """Rows counted per image: a robust image spends the whole budget, a misclassified one 1 row, none more."""
    case = linear_case(n=24)
    dist = (case.x.flatten(1)[:, None] - case.x.flatten(1)[None]).abs().amax(2) + 9 * torch.eye(len(case.x))
    assert dist.min() > 2 * case.eps  # the counter can tell the images' queries apart
    for budget in (SQUARE_OVERHEAD, 40):
        counter = PerImageCounter(case.model, case.x, case.eps)
        x_adv = square(counter, case.x, case.y, case.eps, square_queries=budget, generator=torch.Generator().manual_seed(1))
        counts = counter.counts
        assert (counts <= budget).all(), f"rows per image {counts.tolist()} exceed the budget {budget}"
        assert (counts[case.robust] == budget).all()
        assert (counts[~case.clean] == 1).all()
        fooled = ~_correct(case.model, x_adv, case.y) & case.clean
        assert fooled.any() and (counts[fooled] <= budget).all()
        total = QueryCounter(case.model)
        square(total, case.x, case.y, case.eps, square_queries=budget, generator=torch.Generator().manual_seed(1))
        assert total.queries == int(counts.sum())


def test_apgd_costs_steps_plus_two_rows_per_attacked_image():
    """One clean pass for all images, then start + steps gradient passes for each clean-correct one."""
    case = linear_case(n=16)
    counter = QueryCounter(case.model)
    apgd_ce(counter, case.x, case.y, case.eps, apgd_steps=7, generator=torch.Generator().manual_seed(0))
    assert counter.queries == len(case.x) + int(case.clean.sum()) * (7 + 1)


@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize("name, options", CHEAP)
def test_same_seed_same_result_and_global_rng_untouched(field, name, options, batch):
    x, y = batch
    model = _small_cnn(field)
    state = torch.get_rng_state()
    runs = [attack_function(AttackId.parse(name))(model, x, y, EPS, generator=torch.Generator().manual_seed(0), **options)
            for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(runs[0], runs[1])
    assert _in_ball(runs[0], x, EPS) and not runs[0].requires_grad


def test_other_seed_other_random_choices(batch):
    """Square's first guess is random stripes: an image fooled under two seeds gets two different examples."""
    x, y = batch
    model = _small_cnn("complex")
    a, b = (square(model, x, y, EPS, square_queries=SQUARE_OVERHEAD, generator=torch.Generator().manual_seed(s))
            for s in (0, 1))
    both = ~_correct(model, a, y) & ~_correct(model, b, y)
    assert both.any()
    assert all(not torch.equal(a[i], b[i]) for i in torch.nonzero(both).flatten())


@pytest.mark.parametrize("name, options", CHEAP)
def test_wrappers_equal_the_library_called_directly(name, options, batch):
    """The wrapper only seeds, isolates and keeps books: the library run with the drawn seed gives the same images."""
    x, y = batch
    model = _small_cnn("complex")  # logits are magnitudes
    seed = library_seed(torch.Generator().manual_seed(5), x.device)
    lib = torchattacks()
    if name == "square":
        direct = lib.Square(model, norm="Linf", eps=EPS, n_queries=options["square_queries"] - SQUARE_OVERHEAD,
                            n_restarts=1, p_init=0.8, loss="margin", seed=seed)
    else:
        direct = lib.APGD(model, norm="Linf", eps=EPS, steps=options["apgd_steps"], n_restarts=1, seed=seed,
                          loss=name[5:], eot_iter=1, rho=0.75)
    with torch.random.fork_rng(devices=[]):
        expected = direct(x, y)
    ours = attack_function(AttackId.parse(name))(model, x, y, EPS, generator=torch.Generator().manual_seed(5), **options)
    assert torch.equal(ours, expected)


def test_eps_zero_returns_the_clean_images(batch):
    x, y = batch
    model = _small_cnn("real")
    for name, options in CHEAP:
        assert torch.equal(attack_function(AttackId.parse(name))(model, x, y, 0.0, **options), x)


class _Probe(nn.Module):
    """A net with BatchNorm and Dropout, to see that the attacks leave every mode as it was."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                                  nn.Flatten(), nn.Linear(4 * 26 * 26, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


@pytest.mark.parametrize("name, options", CHEAP)
def test_modes_and_parameters_are_left_alone(name, options, batch):
    x, y = batch
    torch.manual_seed(0)
    model = _Probe().eval()
    model.body[3].train()  # a mixed mode, which model.train()/eval() could not restore
    counter = QueryCounter(model)  # a fresh module is in training mode
    modes = [m.training for m in counter.modules()]
    out = attack_function(AttackId.parse(name))(counter, x.clone().requires_grad_(True), y, EPS,
                                 generator=torch.Generator().manual_seed(0), **options)
    assert [m.training for m in counter.modules()] == modes
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    assert not out.requires_grad and out.grad_fn is None


def test_complex_nets_get_no_weight_gradients(batch, no_weight_gradients):
    """The complex layers' paper-mode backward is never asked for dL/dW by a library attack."""
    model = _small_cnn("complex")
    x, y = batch
    apgd_ce(model, x, y, EPS, apgd_steps=2)
    apgd_dlr(model, x, y, EPS, apgd_steps=2)


def test_batched_runs_are_reproducible(batch):
    x, y = batch
    model = _small_cnn("real")

    def run() -> Tensor:
        return attack_batched(apgd_ce, model, x, y, EPS, batch_size=4, apgd_steps=3,
                              generator=torch.Generator().manual_seed(0))

    a = run()
    assert torch.equal(a, run()) and _in_ball(a, x, EPS)


def test_a_missing_library_is_one_line_naming_the_install(monkeypatch, batch):
    x, y = batch
    monkeypatch.setitem(sys.modules, "torchattacks", None)  # makes `import torchattacks` fail
    with pytest.raises(CvgrError) as err:
        apgd_ce(_small_cnn("real"), x, y, EPS, apgd_steps=1)
    message = str(err.value)
    assert "\n" not in message
    assert "torchattacks" in message and "pip install --no-deps torchattacks==3.5.1" in message


def test_another_library_version_is_refused(monkeypatch, batch):
    x, y = batch
    monkeypatch.setattr(torchattacks(), "__version__", "3.6.0")
    with pytest.raises(CvgrError, match="checked against torchattacks 3.5.1, found 3.6.0: install it with pip"):
        square(_small_cnn("real"), x, y, EPS, square_queries=5)


@pytest.mark.parametrize("call, message", [
    (lambda m, x, y: apgd_ce(m, x, y, EPS, apgd_steps=0), "steps must be >= 1"),
    (lambda m, x, y: apgd(m, x, y, EPS, loss="dlr", restarts=0), "restarts must be >= 1"),
    (lambda m, x, y: apgd(m, x, y, EPS, loss="cw"), "allowed: ce, dlr"),
    (lambda m, x, y: square(m, x, y, EPS, square_queries=2), "queries must be >= 3"),
    (lambda m, x, y: square(m, x, y, EPS, p_init=0.0), r"p_init must be in \(0, 1\]"),
    (lambda m, x, y: square(m, x, y, -0.1), "eps must be >= 0"),
])
def test_bad_options_are_refused(call, message, batch):
    x, y = batch
    with pytest.raises(ValueError, match=message):
        call(_small_cnn("real"), x, y)


def test_attack_names_give_the_library_attacks_with_their_options(batch):
    """attack_function binds each attack's own config option; same seed, same result as the direct call."""
    x, y = batch
    model = _small_cnn("real")

    def seeded() -> torch.Generator:
        return torch.Generator().manual_seed(3)

    for name, direct in (("apgd-ce", lambda: apgd(model, x, y, EPS, loss="ce", steps=3, generator=seeded())),
                         ("apgd-dlr", lambda: apgd(model, x, y, EPS, loss="dlr", steps=3, generator=seeded())),
                         ("square", lambda: square(model, x, y, EPS, square_queries=9, generator=seeded()))):
        bound = attack_function(AttackId.parse(name), apgd_steps=3, square_queries=9, random_start=True)
        assert torch.equal(bound(model, x, y, EPS, generator=seeded()), direct())
    assert attack_function(AttackId.parse("fgsm")) is fgsm
    case = linear_case(n=4)
    assert torch.equal(attack_function(AttackId.parse("pgd3"))(case.model, case.x, case.y, 0.05),
                       pgd(case.model, case.x, case.y, 0.05, steps=3))


@pytest.mark.cuda
@pytest.mark.parametrize("name, options", CHEAP)
def test_on_cuda_results_stay_on_the_gpu_repeat_and_leave_the_gpu_rng_alone(name, options, batch):
    x, y = (t.cuda() for t in batch)
    model = _small_cnn("complex").cuda()
    state = torch.cuda.get_rng_state()
    runs = [attack_function(AttackId.parse(name))(model, x, y, EPS, generator=torch.Generator("cuda").manual_seed(0), **options)
            for _ in range(2)]
    assert torch.equal(torch.cuda.get_rng_state(), state)
    assert runs[0].device.type == "cuda" and torch.equal(runs[0], runs[1]) and _in_ball(runs[0], x, EPS)


@pytest.mark.cuda
def test_on_cuda_the_linear_case_reaches_the_known_robust_accuracy():
    case = linear_case()
    model, x, y = case.model.cuda(), case.x.cuda(), case.y.cuda()
    for name, options in (("apgd-ce", {}), ("apgd-dlr", {}), ("square", {"square_queries": 1000})):
        x_adv = attack_function(AttackId.parse(name))(model, x, y, case.eps, generator=torch.Generator("cuda").manual_seed(0),
                                       **options)
        assert torch.equal(_correct(model, x_adv, y).cpu(), case.robust), name
