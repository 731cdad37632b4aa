"""Device-aware randomness: one seeding rule, noise drawn on the generator's device."""
import pytest
import torch

from cvgr.attacks.nes import nes_gradient
from cvgr.attacks.pgd import pgd
from cvgr.runtime.rand import SEED_STRIDE, cpu_generator, generator, noise, seed_value



def test_seed_value_separates_seeds_and_streams():
    assert seed_value(0) == 0
    assert seed_value(2, 5) == 2 * SEED_STRIDE + 5
    assert len({seed_value(s, i) for s in range(3) for i in range(50)}) == 150
    with pytest.raises(ValueError, match="must be >= 0"):
        seed_value(-1)


def test_same_seed_same_stream_other_index_other_stream():
    a = torch.rand(5, generator=generator(3, 1))
    assert torch.equal(a, torch.rand(5, generator=cpu_generator(3, 1)))
    assert not torch.equal(a, torch.rand(5, generator=generator(3, 2)))


def test_noise_matches_torch_draws_on_the_cpu():
    like = torch.zeros(4, 3)
    u = noise("uniform", (4, 3), like, generator(1), scale=0.3)
    assert torch.equal(u, torch.empty(4, 3).uniform_(-0.3, 0.3, generator=generator(1)))
    n = noise("normal", (4, 3), like, generator(1))
    assert torch.equal(n, torch.randn(4, 3, generator=generator(1)))
    with pytest.raises(ValueError, match="allowed: uniform, normal"):
        noise("laplace", (1,), like, None)


@pytest.mark.cuda
def test_cuda_generator_noise_stays_on_cuda_and_repeats():
    like = torch.zeros(3, 2, device="cuda")
    a = noise("normal", (3, 2), like, generator(0, 0, "cuda"))
    assert a.device.type == "cuda"
    assert torch.equal(a, noise("normal", (3, 2), like, generator(0, 0, "cuda")))


@pytest.mark.cuda
def test_a_cpu_generator_gives_cuda_inputs_the_cpu_noise():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x, y = torch.rand(2, 1, 4, 4), torch.tensor([0, 2])
    on_cpu = pgd(model, x, y, 0.1, steps=2, random_start=True, generator=cpu_generator(4))
    on_gpu = pgd(model.cuda(), x.cuda(), y.cuda(), 0.1, steps=2, random_start=True, generator=cpu_generator(4))
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-6, rtol=0)
    g_cpu = nes_gradient(model.cpu(), x, y, samples=8, generator=cpu_generator(5))
    g_gpu = nes_gradient(model.cuda(), x.cuda(), y.cuda(), samples=8, chunk=256, generator=cpu_generator(5))
    torch.testing.assert_close(g_gpu.cpu(), g_cpu, atol=1e-3, rtol=1e-3)
