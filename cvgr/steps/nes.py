"""Stage NES: the query attack on one model, with the queries it spent."""
from __future__ import annotations

from ..attacks.nes import QueryCounter, default_chunk, nes as nes_attack
from ..attacks.evaluate import attack_batched, correct
from ..results.io import make_provenance
from ..runtime.oom import batch_memory_hint
from ..runtime.rand import generator
from ..results.records import NesResult
from ..study.specs import NesSpec, Runtime
from .common import load_model_and_test_images, start_job


def nes(data: str, model: str, out: str, spec: NesSpec, *, seed: int = 0, runtime: Runtime = Runtime()) -> None:
    """NES query attack (PGD on estimated gradients) on the first ``spec.images`` test images."""
    dev = start_job(runtime)
    net, info, x, y = load_model_and_test_images(data, model, spec.images, dev)
    clean = correct(net, x, y)
    counter = QueryCounter(net)
    chunk = spec.chunk or default_chunk(dev)
    with batch_memory_hint(f"{info.dataset}/{info.model} (nes)", {"chunk": chunk, "images per batch": 250},
                           f"datasets.{info.dataset}.nes.chunk"):
        x_adv = attack_batched(nes_attack, counter, x, y, spec.eps, steps=spec.steps, samples=spec.samples,
                               sigma=spec.sigma, chunk=chunk, score=spec.score, generator=generator(seed, 0, dev))
    n = len(x)
    NesResult(dataset=info.dataset, model=info.model, spec=spec,
              queries_per_image=counter.queries / n if n else 0.0,
              correct=correct(net, x_adv, y).cpu().numpy(), clean_correct=clean.cpu().numpy()).write(
        out, make_provenance("nes", spec.to_dict(), inputs=[data, model], seed=seed, device=str(dev)))
