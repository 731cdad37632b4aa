"""The ``cvgr`` command line: the pipeline's steps one at a time, on explicit files.

    cvgr prepare fmnist --out results/data/fmnist.h5
    cvgr train --data results/data/fmnist.h5 --field complex --beta 64 --epochs 2 --out complex-gr64-s0.pt
    cvgr craft --data results/data/fmnist.h5 --model complex-gr64-s0.pt --attack fgsm --eps 0.16 --out adv.h5
    cvgr transfer --adv adv.h5 --model real-std-s1.pt --out cell.h5
    cvgr whitebox --data ... --model ... --attack pgd10 --eps 0 0.1 0.2 0.3 --out wb.h5
    cvgr nes --data ... --model ... --eps 0.16 --steps 8 --queries 4000 --images 100 --out nes.h5
    cvgr --plugin mymodule whitebox ... --attack myattack   # an attack a plugin registers
    cvgr show FILE          # what a result file holds
    cvgr provenance FILE    # the chain of inputs back to the raw dataset files (also of a table or figure)
    cvgr snapshot --configfile config.yaml   # record results/ (DVC) as a git commit; push to the remote
    cvgr restore [REV] [--force]             # bring back the results/ of a snapshot, up to date for Snakemake
    cvgr diff REV_A REV_B                    # files, retrained models and table cells that changed

Every option that is also a config key takes its default and its checks from
the same spec (cvgr.study.specs). Bad input prints one line starting with
``cvgr error:`` naming the option, and exits non-zero without writing a file.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator, NoReturn, Sequence

from . import __version__
from .errors import CvgrError
from .plugins import load_plugins
from .study.settings import SpecError, Word, check, field_schema
from .study.specs import (AttackSpec, Beta, DatasetSection, Eps, NesSpec, PgdTraining, Runtime, Seed, Training, TrainSpec,
                    WhiteboxSpec)
from .vocab import ARCHITECTURES, DATASETS, FIELDS, ModelId, attack_option_defaults


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one ``cvgr error:`` line."""

    def error(self, message: str) -> NoReturn:
        print(f"cvgr error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


_TYPES = {"integer": int, "number": float}


def _option(p: argparse.ArgumentParser, spec: type, name: str, flag: str | None = None, **extra: Any) -> None:
    """An option for ``spec.name``: help, default, type and choices from the spec; checked when the spec is built."""
    f, node = spec.model_fields[name], field_schema(spec, name)
    kwargs: dict[str, Any] = {"help": f.description, "dest": extra.pop("dest", name)}
    if f.is_required():
        kwargs["required"] = "default" not in extra
    else:
        kwargs["default"] = f.default
    if node.get("type") == "boolean":
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        item = node.get("items", {}) if node.get("type") == "array" else node
        kwargs["type"] = _TYPES.get(item.get("type"), str)
        if node.get("type") == "array":
            kwargs["nargs"] = "*"
        if "enum" in item:
            kwargs["choices"] = item["enum"]
    word = next((m for m in f.metadata if isinstance(m, Word)), None)
    if word is not None:  # a name (an attack: the registry's, a plugin's too)
        kwargs["help"] = f"{f.description}: {word.form}"
    kwargs.update(extra)
    p.add_argument(flag or _flag(name), **kwargs)


@contextlib.contextmanager
def _flags(**names: str) -> Iterator[None]:
    """Report a spec error by its command-line flag (``field=flag``; fields not named become ``--field``)."""
    try:
        yield
    except SpecError as err:
        if err.key.startswith("--"):
            raise
        head = err.key.split("[")[0].split(".")[-1]
        raise err.renamed(names.get(head, _flag(head)) + err.key[len(err.key.split("[")[0]):]) from None


def _runtime(p: argparse.ArgumentParser, graphs: bool = False) -> None:
    for name in ("device", "threads") + (("cuda_graphs",) if graphs else ()):
        _option(p, Runtime, name)


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset HDF5 from `cvgr prepare`")
    p.add_argument("--model", required=True, help="model .pt from `cvgr train`")
    p.add_argument("--seed", type=int, default=0, help="seed of the attack's randomness (random start, directions)")
    p.add_argument("--out", required=True, help="output HDF5")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="cvgr", description=__doc__.replace("``", ""),
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"cvgr {__version__}")
    ap.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                    help="import MODULE first, a plugin registering attacks (docs/EXTENDING.md); repeatable")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("prepare", help="raw dataset -> HDF5 (uint8 images, labels, raw-file sha256s)")
    p.add_argument("dataset", choices=DATASETS)
    p.add_argument("--out", required=True, help="output HDF5, e.g. results/data/fmnist.h5")
    _option(p, DatasetSection, "raw_dir", default=None)
    p.add_argument("--no-download", action="store_true", help="never try to download")

    p = sub.add_parser("train", help="train one real or complex net (std, G.R. or adversarial)")
    p.add_argument("--data", required=True, help="dataset HDF5 from `cvgr prepare`")
    p.add_argument("--out", required=True, help="model file (.pt); the history goes next to it as .h5")
    p.add_argument("--checkpoint", help="per-epoch checkpoint to resume from (default OUT.ckpt)")
    p.add_argument("--field", default="complex", choices=FIELDS, help="real- or complex-valued net")
    p.add_argument("--arch", default="small_cnn", choices=ARCHITECTURES, help="the architecture")
    p.add_argument("--beta", type=float, default=0.0, help="G.R. strength (0 = no G.R.)")
    p.add_argument("--adv-eps", type=float, default=0.0, help="PGD adversarial training epsilon (0 = off)")
    _option(p, PgdTraining, "steps", "--adv-steps", dest="adv_steps")
    _option(p, PgdTraining, "random_start", "--adv-random-start", dest="adv_random_start")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and of every training draw")
    for name in Training.model_fields:
        _option(p, Training, name)
    _runtime(p, graphs=True)

    p = sub.add_parser("craft", help="craft adversarial examples (FGSM / PGD) on a model")
    _eval_args(p)
    for name in ("attack", "eps", "images"):
        _option(p, AttackSpec, name)

    p = sub.add_parser("transfer", help="accuracy of a target model on examples crafted on a source")
    p.add_argument("--adv", required=True, help="adversarial set from `cvgr craft`")
    p.add_argument("--model", required=True, help="target model .pt")
    p.add_argument("--out", required=True)
    _runtime(p)

    p = sub.add_parser("whitebox", help="accuracy under an attack (FGSM, PGD, APGD, Square) at each eps of a grid")
    _eval_args(p)
    for name in WhiteboxSpec.model_fields:
        _option(p, WhiteboxSpec, name, **_whitebox_default(name))

    p = sub.add_parser("nes", help="NES query-based attack (PGD on estimated gradients)")
    _eval_args(p)
    for name in NesSpec.model_fields:
        _option(p, NesSpec, name)

    for name, text in (("show", "print what a cvgr HDF5 or model file holds"),
                       ("provenance", "print a result's, table's or figure's chain of inputs back to the raw dataset files")):
        sub.add_parser(name, help=text).add_argument("file")
    for name in ("craft", "whitebox", "nes"):
        _runtime(sub.choices[name])
    _version_commands(sub)
    return ap


def _version_commands(sub: Any) -> None:
    """snapshot / restore / diff (cvgr.versions.snapshot, cvgr.versions.diff; docs/VERSIONS.md)."""
    p = sub.add_parser("snapshot", help="record results/ with DVC as a git commit and push it to the DVC remote")
    p.add_argument("--configfile", default="config.yaml", help="the config the results were made with")
    p.add_argument("-m", "--message", help="the commit message (default: names the config and the file count)")
    p.add_argument("--no-push", action="store_true", help="keep the files in the local DVC cache only")
    p = sub.add_parser("restore", help="bring back the results/ of a snapshot, up to date for Snakemake")
    p.add_argument("rev", nargs="?", help="a git revision holding a snapshot (default HEAD)")
    p.add_argument("--configfile", help="instead of REV: the newest snapshot made with this config (as it is now)")
    p.add_argument("--force", action="store_true", help="overwrite local results that no snapshot recorded")
    p = sub.add_parser("diff", help="files, retrained models and table cells that changed between two snapshots")
    p.add_argument("rev_a", help="the old snapshot's git revision")
    p.add_argument("rev_b", help="the new snapshot's git revision")


def _whitebox_default(name: str) -> dict[str, Any]:
    """An attack's option defaults to the attack registry's (the spec's None means unused)."""
    f = WhiteboxSpec.model_fields[name]
    default = attack_option_defaults().get(name, f.default)
    if default == f.default:
        return {}
    return {"default": default, "help": f"{f.description}; default {default}"}


def _values(a: argparse.Namespace, spec: type) -> dict[str, Any]:
    return {name: getattr(a, name) for name in spec.model_fields if hasattr(a, name)}


def _model(a: argparse.Namespace) -> ModelId:
    """The model ``--field --beta --adv-eps --seed`` name, each checked like its config key."""
    beta, adv_eps = check(Beta, a.beta, "--beta"), check(Eps, a.adv_eps, "--adv-eps")
    seed = check(Seed, a.seed, "--seed")
    if beta and adv_eps:
        raise SpecError("--adv-eps", "a model is trained with G.R. (--beta) or adversarially, not both",
                        "--beta 0 or --adv-eps 0")
    return ModelId.of(a.field, beta=beta, adv_eps=adv_eps, seed=seed)


def _train(a: argparse.Namespace, runtime: Runtime) -> None:
    from . import steps
    from .results.io import read_h5
    model = _model(a)
    with _flags(steps="--adv-steps", random_start="--adv-random-start"):
        pgd = PgdTraining(steps=a.adv_steps, random_start=a.adv_random_start) if model.defense == "adv" else None
    with _flags():
        spec = TrainSpec(**_values(a, Training), dataset="custom", model=model, arch=a.arch, pgd=pgd)
    dataset = str(read_h5(a.data, keys=[]).attrs.get("dataset", "custom"))
    spec = spec.replace(dataset=dataset)
    out = Path(a.out)
    steps.train(a.data, str(out), str(out.with_suffix(".h5")), spec, runtime=runtime,
                checkpoint=a.checkpoint or str(out.with_suffix(".ckpt")))
    print(f"wrote {out} and {out.with_suffix('.h5')} ({model})")


def _show(path: str) -> None:
    if path.endswith(".pt"):
        from .results.modelfile import load_model
        net, info = load_model(path)
        print(f"{path}: {net.field} {net.arch} model {info.model} for {info.dataset}, input {net.in_shape}, "
              f"{sum(p.numel() for p in net.parameters())} parameters")
        return
    from .results.records import read_any
    record = read_any(path)
    print(f"{path}: {record.KIND}")
    (attrs, arrays), (extra_attrs, extra_arrays) = record.split(), record.summary()
    for k, v in {**extra_attrs, **attrs}.items():
        print(f"  {k}: {v}")
    for k, v in sorted({**arrays, **extra_arrays}.items()):
        summary = f"  [{', '.join(f'{x:.4g}' for x in v[:16])}]" if v.ndim == 1 and v.size <= 16 else ""
        print(f"  {k}: {v.dtype} {tuple(v.shape)}{summary}")


def _versions(a: argparse.Namespace) -> None:
    from .versions import snapshot, diff as versions_diff
    if a.command == "snapshot":
        print(snapshot.snapshot(".", a.configfile, a.message, push=not a.no_push))
    elif a.command == "restore":
        if a.rev and a.configfile:
            raise CvgrError("cvgr restore takes a revision or --configfile, not both: drop one")
        rev = snapshot.latest_for_config(snapshot.repo_root("."), a.configfile) if a.configfile else a.rev
        print(snapshot.restore(".", rev or "HEAD", force=a.force))
    else:
        print(versions_diff.format_diff(versions_diff.diff(".", a.rev_a, a.rev_b)))


def _plugins(argv: Sequence[str] | None) -> None:
    """Import the ``--plugin`` modules before the parser is built, so their attacks are its choices."""
    pre = _Parser(add_help=False, allow_abbrev=False)
    pre.add_argument("--plugin", action="append", default=[])
    load_plugins(pre.parse_known_args(argv)[0].plugin, "--plugin")


def run(argv: Sequence[str] | None = None) -> None:
    _plugins(argv)
    a = build_parser().parse_args(argv)
    if a.command in ("show", "provenance"):
        if a.command == "show":
            _show(a.file)
        else:
            from .results.lineage import lineage_chain
            from .versions.snapshot import holding_snapshot
            print(lineage_chain(a.file))
            if (line := holding_snapshot(a.file)) is not None:
                print(line)
        return
    if a.command in ("snapshot", "restore", "diff"):
        return _versions(a)
    from . import steps
    with _flags():
        runtime = Runtime(**_values(a, Runtime))
    if a.command == "prepare":
        steps.prepare(a.dataset, a.out, raw_dir=a.raw_dir, download=not a.no_download)
    elif a.command == "train":
        return _train(a, runtime)
    elif a.command == "transfer":
        steps.transfer(a.adv, a.model, a.out, runtime=runtime)
    else:
        spec_type = {"craft": AttackSpec, "whitebox": WhiteboxSpec, "nes": NesSpec}[a.command]
        with _flags():
            spec = (WhiteboxSpec.for_attack if spec_type is WhiteboxSpec else spec_type)(**_values(a, spec_type))
            seed = check(Seed, a.seed, "--seed")
        step = {"craft": steps.craft, "whitebox": steps.whitebox, "nes": steps.nes}[a.command]
        step(a.data, a.model, a.out, spec, seed=seed, runtime=runtime)
    print(f"wrote {a.out}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user errors become one ``cvgr error:`` line and exit status 1."""
    try:
        run(argv)
    except CvgrError as err:
        print(f"cvgr error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
