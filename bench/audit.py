"""Wall time per image of the audit attacks (APGD-CE, APGD-DLR, Square) on the small CNNs, real and complex.

    python bench/audit.py                       # 20 images, 3 rounds, 1 thread, CPU
    python bench/audit.py --images 100 --rounds 5 --device cuda

Prints a Markdown table of the median seconds per image over ``--rounds``
rounds, with the machine. Timing is paired (``timing.paired_rounds``): every
round runs every (net, attack) once, round-robin, so a slow spell of a shared
machine hits all of them alike. Threads and deterministic kernels are set as
for training (``timing.setup``).

The numbers are the *worst case*, the cost of an image the attack does not
break, which is what a robust model costs:

* the labels are the net's own clean predictions, so APGD attacks every
  image (it skips images misclassified clean, and always runs all its steps
  on the others);
* Square runs at eps = 0, where no query can change the prediction, so
  every image spends the whole budget (on an image it fools, Square stops
  early). Its cost per query does not depend on eps.

The nets are untrained ``build_model("small_cnn", field)`` nets: the cost of a
forward or backward pass does not depend on the weights.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import machine, paired_rounds, setup  # noqa: E402

ATTACKS = [  # (label, name, options, eps)
    ("PGD-10 (cvgr, reference)", "pgd10", {}, 0.16),
    ("APGD-CE, 100 steps", "apgd-ce", {"apgd_steps": 100}, 0.16),
    ("APGD-DLR, 100 steps", "apgd-dlr", {"apgd_steps": 100}, 0.16),
    ("Square, 1000 queries", "square", {"square_queries": 1000}, 0.0),
    ("Square, 5000 queries", "square", {"square_queries": 5000}, 0.0),
]


def _call(net_and_labels: tuple, name: str, options: dict, eps: float, x, gen) -> Callable[[], object]:
    """One timed call: attack ``name`` on every image of ``x``, its noise from ``gen``."""
    from cvgr.attacks.evaluate import attack_function
    from cvgr.vocab import AttackId
    net, y = net_and_labels
    return lambda: attack_function(AttackId.parse(name))(net, x, y, eps, generator=gen, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--attacks", default=",".join(sorted({a[1] for a in ATTACKS})),
                        help="comma-separated subset of: pgd10, apgd-ce, apgd-dlr, square")
    a = parser.parse_args()

    import torch
    from cvgr.attacks.evaluate import attack_function, predict
    from cvgr.nn import build_model
    from cvgr.runtime.rand import cpu_generator, generator
    from cvgr.vocab import AttackId

    dev, sync = setup(a)
    wanted = set(a.attacks.split(","))
    x = torch.rand(a.images, 1, 28, 28, generator=cpu_generator(0)).to(dev)
    nets = {}
    for field in ("real", "complex"):
        torch.manual_seed(0)
        net = build_model("small_cnn", field).to(dev).eval()
        nets[field] = (net, predict(net, x))
    runs = [(field, label, name, options, eps) for field in nets for label, name, options, eps in ATTACKS
            if name in wanted]
    times: dict[tuple[str, str], list[float]] = {(f, label): [] for f, label, *_ in runs}
    for field, _, name, options, eps in runs:  # warm-up: first calls pay for imports and allocations
        net, y = nets[field]
        cheap = {k: min(v, 4) for k, v in options.items()}
        attack_function(AttackId.parse(name))(net, x[:2], y[:2], eps, **cheap)
    for r in range(a.rounds):
        calls = [_call(nets[field], name, options, eps, x, generator(0, r, dev))
                 for field, _, name, options, eps in runs]
        for (field, label, *_), t in zip(runs, paired_rounds(calls, 1, sync)[0]):
            times[(field, label)].append(t / a.images)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    print(f"Machine: {machine()}; {dev}, {a.threads} thread(s); {a.images} images per call (one batch), "
          f"{a.rounds} rounds.\n")
    print("| attack | real small_cnn, s/image | complex small_cnn, s/image |")
    print("|---|---|---|")
    for label, name, _, _ in ATTACKS:
        if name in wanted:
            cells = [f"{statistics.median(times[(f, label)]):.4f}" for f in nets]
            print(f"| {label} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
