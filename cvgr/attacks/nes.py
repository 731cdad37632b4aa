"""NES (Ilyas et al., ICML 2018): PGD on a query-only gradient estimate (docs/METHOD.md section 3).

NES is its own stage (the NES table), not one of the registered attacks of the
white-box sweeps and the audit; it keeps the attacks' signature::

    nes(model, x, y, eps, *, steps, samples, sigma, score, alpha, chunk, generator=None) -> x_adv

It is PGD whose gradient is the estimate of :func:`nes_gradient`; ``steps * 2 *
samples`` model queries per image, exactly. The score NES reads from each query
is one of :data:`NES_SCORES`: the true class's raw output (``"output"``: the
logit of a real net, the magnitude of a complex one) or its log-softmax
(``"cross_entropy"``, so the estimate is that of ``grad_x CE``).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..runtime.rand import noise
from .registry import NES_SCORES
from .core import ALPHA_FACTOR, QueryCounter, check_eps, check_steps, sign_ascent

__all__ = ["NES_SCORES", "CHUNK_CPU", "CHUNK_CUDA", "QueryCounter", "default_chunk", "nes", "nes_gradient",
           "true_class_output", "true_class_score"]

#: Rows per NES forward pass by default. On the CPU, small passes keep the 28x28
#: nets' activations below glibc's largest mmap threshold (32 MiB), so memory is
#: reused instead of being page-faulted in afresh on every pass: with one thread,
#: 256-row passes gave 2.1x (real small CNN) and 2.9x (complex) the queries per
#: CPU-second of 8192-row chunks. A GPU wants large passes.
CHUNK_CPU, CHUNK_CUDA = 256, 8192


def true_class_score(logits: Tensor, y: Tensor) -> Tensor:
    """``s = log softmax(logits)[y]``, the log-probability of the true class, shape (B,).

    Computed as ``-softplus(logsumexp_{k != y}(l_k - l_y))``, which equals
    ``log p_y`` but keeps full relative precision when the model is confident:
    ``log_softmax`` rounds ``log(1 + e^-margin)`` to exactly 0 in float32 once
    the margin exceeds ~17, which would leave NES a zero gradient.
    """
    true = logits.gather(1, y[:, None])
    others = (logits - true).scatter(1, y[:, None], float("-inf"))
    return -F.softplus(torch.logsumexp(others, 1))


def true_class_output(logits: Tensor, y: Tensor) -> Tensor:
    """``s = f_y``, the raw output of the true class (a real net's logit, a complex net's magnitude), shape (B,)."""
    return logits.gather(1, y[:, None]).squeeze(1)


_SCORE_FUNCTIONS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "output": true_class_output,
    "cross_entropy": true_class_score,
}


def _score_function(score: str) -> Callable[[Tensor, Tensor], Tensor]:
    if score not in _SCORE_FUNCTIONS:
        raise ValueError(f"unknown NES score {score!r}; choose one of {', '.join(NES_SCORES)}")
    return _SCORE_FUNCTIONS[score]


def _image_sums(diff: Tensor, d: Tensor, first_row: int, samples: int) -> tuple[int, Tensor]:
    """``sum_r diff_r d_r`` per image over direction rows ``first_row, ..`` (image-major, ``samples`` each).

    Returns ``(first, sums)``: ``sums[i]`` belongs to image ``first + i``. The
    sum is ``W @ d`` with ``W[i, r] = diff_r`` where row ``r`` is image
    ``first + i``'s, else 0: a matmul, deterministic on every device (a
    scatter-add is not on CUDA). ``W`` is built element-wise (``where``), not
    by an indexed assignment: with deterministic algorithms on, CUDA's
    ``index_put_`` takes a sort-based path whose index range checks read
    values back to the host in some torch versions, one wait per chunk.
    """
    m = diff.shape[0]
    first, last = first_row // samples, (first_row + m - 1) // samples
    owner = torch.arange(first_row, first_row + m, device=d.device) // samples - first
    image = torch.arange(last - first + 1, device=d.device)
    weights = torch.where(owner[None, :] == image[:, None], diff[None, :], diff.new_zeros(()))
    return first, weights @ d


def default_chunk(device: torch.device) -> int:
    """Rows per NES forward pass when none is given: :data:`CHUNK_CUDA` on a GPU, else :data:`CHUNK_CPU`."""
    return CHUNK_CUDA if device.type == "cuda" else CHUNK_CPU


@torch.no_grad()
def nes_gradient(model: nn.Module, x: Tensor, y: Tensor, *, samples: int, sigma: float = 0.001,
                 score: str = "cross_entropy", chunk: int | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
    """NES estimate of ``-grad_x s`` from ``2 * samples`` model queries per image, shape of ``x``.

    ``g_i = -(1 / (2 n sigma)) sum_j (s(x_i + sigma d_ij) - s(x_i - sigma d_ij)) d_ij``,
    ``n = samples``, ``d_ij ~ N(0, I)`` drawn from ``generator`` (antithetic
    pairs). Since ``E[(d . v) d] = v`` for ``d ~ N(0, I)`` and
    ``s(x + sigma d) - s(x - sigma d) = 2 sigma d . grad s + O(sigma^3)``,
    ``g`` estimates ``-grad_x s``: the direction that lowers the true class's
    score. ``score`` (one of :data:`NES_SCORES`) picks ``s``:

    * ``"cross_entropy"``: ``s = log p_y``, the log-softmax of the true class
      (:func:`true_class_score`). ``CE = -s``, so ``g`` estimates
      ``grad_x CE``. The log, computed stably, keeps the ``~sigma |grad p|``
      differences that two float32 probabilities near 1 would round away.
    * ``"output"``: ``s = f_y``, the true class's raw output
      (:func:`true_class_output`: the logit of a real net, the magnitude of
      a complex net's last layer), so ``g`` estimates ``-grad_x f_y``. This is
      the objective of the paper's NES experiments.

    Queries are not clipped to [0, 1].

    The ``B * 2n`` queries run as batched forward passes over all images at
    once, ``chunk`` rows at most per pass (``chunk // 2`` directions, the
    ``+`` rows then the ``-`` rows; default :func:`default_chunk`); the
    noise of a pass is one ``randn`` call, so the random stream (and the
    estimate) depends on ``chunk``.
    """
    chunk = default_chunk(x.device) if chunk is None else chunk
    score_of = _score_function(score)
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if chunk < 2:
        raise ValueError(f"chunk must be >= 2 rows (one antithetic pair), got {chunk}")
    batch, shape = x.shape[0], x.shape[1:]
    flat = x.reshape(batch, -1)
    grad = torch.zeros_like(flat)
    total, per = batch * samples, chunk // 2
    for first_row in range(0, total, per):
        m = min(per, total - first_row)
        image = torch.arange(first_row, first_row + m, device=x.device) // samples
        d = noise("normal", (m, flat.shape[1]), flat, generator)
        base = flat.index_select(0, image)
        queries = torch.empty(2 * m, flat.shape[1], device=x.device, dtype=x.dtype)
        torch.add(base, d, alpha=sigma, out=queries[:m])
        torch.sub(base, d, alpha=sigma, out=queries[m:])
        s = score_of(model(queries.view(2 * m, *shape)), y.index_select(0, image).repeat(2))
        first, sums = _image_sums(s[:m] - s[m:], d, first_row, samples)
        grad[first:first + sums.shape[0]] += sums
    return grad.mul_(-1.0 / (2 * samples * sigma)).view_as(x)


def nes(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, steps: int = 8, samples: int = 250,
        sigma: float = 0.001, score: str = "cross_entropy", alpha: float | None = None,
        chunk: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    """NES attack: PGD (no random start, ``alpha`` default ``1.85 eps / steps``) on :func:`nes_gradient`.

    Each step is ``x' <- P(x' + alpha sign(g))`` with ``g`` the estimate of
    ``-grad_x s`` for the chosen ``score`` (:data:`NES_SCORES`). Costs exactly
    ``steps * 2 * samples`` queries per image (paper: 8 steps, eps = 0.16,
    4000 queries, i.e. n = 250, sigma = 0.001, score ``"output"``).
    """
    check_eps(eps)
    check_steps(steps)
    _score_function(score)
    alpha = ALPHA_FACTOR * eps / steps if alpha is None else alpha
    x = x.detach()

    def gradient(xa: Tensor) -> Tensor:
        return nes_gradient(model, xa, y, samples=samples, sigma=sigma, score=score, chunk=chunk,
                            generator=generator)

    return sign_ascent(x, x, eps, steps, alpha, gradient)
