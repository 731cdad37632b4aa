"""The config: one-line messages from the specs, the plan of each dataset, the job specs; the Snakefile's check."""
from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from cvgr.study.plan import Study, TransferJob
from cvgr.errors import CvgrError
from cvgr.study.layers import Layer, study
from cvgr.study.specs import AttackSpec, NesSpec, PgdTraining, TrainSpec, WhiteboxSpec
from cvgr.vocab import AttackId, ModelId

RAW = yaml.safe_load((REPO / "config.yaml").read_text())
DEFAULT = Study.from_mapping(RAW)
PLAN = DEFAULT.plan("fmnist")


def mutated(change) -> dict:
    cfg = copy.deepcopy(RAW)
    change(cfg)
    return cfg


def fm(cfg: dict) -> dict:
    return cfg["datasets"]["fmnist"]


def error_of(cfg) -> str:
    with pytest.raises(CvgrError) as info:
        Study.from_mapping(cfg)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def names(models) -> list[str]:
    return [m.name for m in models]


def shipped(path: str) -> Study:
    """A shipped file of overrides on top of config.yaml, as the workflow reads it."""
    return study([Layer.load(REPO / "config.yaml"), Layer.load(REPO / path)])


@pytest.mark.parametrize("path", ["configs/paper.yaml", "configs/paper-fmnist.yaml", "configs/test.yaml"])
def test_shipped_configs_are_valid(path):
    assert "fmnist" in shipped(path).datasets
    assert "fmnist" in Study.load(REPO / "config.yaml").datasets


NES_MODELS = len(fm(RAW)["nes"]["models"])


def assert_names(msg: str, key: str, *parts: str) -> None:
    """``msg`` is one line naming the file and ``key`` first, then each of ``parts`` (the value, what is allowed)."""
    assert msg.startswith(f"config.yaml: {key}: "), msg
    for part in parts:
        assert part in msg, (part, msg)


#: A bad key: (change, the key path the message names, what else it must name: the value, the allowed values).
@pytest.mark.parametrize("change, key, parts", [
    (lambda c: c["datasets"].__setitem__("imagenet", {}), "datasets.imagenet",
     ["imagenet", "mnist, svhn, fmnist, cifar10"]),
    (lambda c: fm(c)["arch"].__setitem__("real", "resnet"), "datasets.fmnist.arch.real",
     ["'resnet'", "small_cnn, mlp, cifar_cnn, cifar_cnn_warp"]),
    (lambda c: fm(c)["adversarial"].__setitem__("fields", ["quaternion"]), "datasets.fmnist.adversarial.fields[0]",
     ["'quaternion'", "real, complex"]),
    (lambda c: fm(c).__setitem__("betas", [0, -64]), "datasets.fmnist.betas[1]", ["-64", "out of range", ">= 0"]),
    (lambda c: fm(c)["whitebox"].__setitem__("eps", [0.0, 1.5]), "datasets.fmnist.whitebox.eps[1]",
     ["1.5", "out of range", "[0, 1]"]),
    (lambda c: fm(c)["transfer"].__setitem__("eps", -0.1), "datasets.fmnist.transfer.eps", ["-0.1", "[0, 1]"]),
    (lambda c: fm(c)["nes"].__setitem__("images", 0), "datasets.fmnist.nes.images", ["0 is", "an integer >= 1"]),
    (lambda c: fm(c)["training"].pop("epochs"), "datasets.fmnist.training.epochs", ["missing", "an integer >= 1"]),
    (lambda c: c.pop("device"), "device", ["missing", "auto, cpu, cuda"]),
    (lambda c: fm(c)["training"].__setitem__("epochs", "two"), "datasets.fmnist.training.epochs",
     ["wrong type", "'two'", "an integer >= 1"]),
    (lambda c: fm(c)["training"].__setitem__("epochs", True), "datasets.fmnist.training.epochs",
     ["wrong type", "True", "an integer >= 1"]),
    (lambda c: fm(c)["training"].__setitem__("lr", [0.1]), "datasets.fmnist.training.lr",
     ["wrong type", "[0.1]", "a number > 0"]),
    (lambda c: fm(c)["training"].__setitem__("train_size", "all"), "datasets.fmnist.training.train_size",
     ["'all'", "an integer >= 1 or null"]),
    (lambda c: fm(c)["training"].__setitem__("lr", float("nan")), "datasets.fmnist.training.lr",
     ["nan", "finite", "a number > 0"]),
    (lambda c: fm(c)["nes"]["models"].append("real-foo-s0"), f"datasets.fmnist.nes.models[{NES_MODELS}]",
     ["'real-foo-s0'", "{real|complex}-{std|gr<beta>|adv<eps>}-s<seed>"]),
    (lambda c: fm(c)["whitebox"].__setitem__("attacks", ["cw"]), "datasets.fmnist.whitebox.attacks[0]",
     ["'cw'", "fgsm, pgd<k>"]),
    (lambda c: fm(c)["whitebox"].__setitem__("attacks", ["pgd4", "pgd4"]), "datasets.fmnist.whitebox.attacks",
     ["duplicate", "fgsm, pgd<k>"]),
    (lambda c: c.__setitem__("device", "tpu"), "device", ["'tpu'", "auto, cpu, cuda"]),
    (lambda c: fm(c)["training"].__setitem__("mode", "approx"), "datasets.fmnist.training.mode",
     ["'approx'", "paper, exact"]),
    (lambda c: c.__setitem__("datasets", {}), "datasets", ["empty", "mnist, svhn, fmnist, cifar10"]),
    (lambda c: c.__setitem__("thread", 1), "thread",
     ["unknown key 'thread'", "threads"]),
    (lambda c: c.__setitem__("run", ["fmnist", "imagenet"]), "run[1]", ["'imagenet'", "mnist, svhn, fmnist, cifar10"]),
    (lambda c: fm(c)["nes"].__setitem__("queries", 801), "datasets.fmnist.nes.queries", ["801", "multiples of 16"]),
    (lambda c: fm(c)["seeds"].__setitem__("target", 0), "datasets.fmnist.seeds.target",
     ["seeds.source (0)", "a seed other than seeds.source"]),
    (lambda c: fm(c)["nes"].__setitem__("score", "probability"), "datasets.fmnist.nes.score",
     ["'probability'", "output, cross_entropy"]),
    (lambda c: fm(c)["audit"].__setitem__("attacks", ["fgsm", "pgd4", "pgd10", "square"]),
     "datasets.fmnist.audit.attacks", ["pgd4, pgd10", "exactly one pgd<k>"]),
    (lambda c: fm(c)["audit"].__setitem__("sweep", [0.1, 0.5]), "datasets.fmnist.audit.sweep[0]",
     ["0.1", "larger than 0.16"]),
    (lambda c: fm(c)["audit"].__setitem__("square_queries", 2), "datasets.fmnist.audit.square_queries",
     ["2 is", "an integer >= 3"]),
    (lambda c: fm(c)["audit"].__setitem__("apgd_steps", 0), "datasets.fmnist.audit.apgd_steps",
     ["0 is", "an integer >= 1"]),
    (lambda c: fm(c)["audit"].__setitem__("attacks", ["pgd4", "nes"]), "datasets.fmnist.audit.attacks[1]",
     ["'nes'", "fgsm, pgd<k>", "apgd-ce, apgd-dlr, square"]),
    (lambda c: fm(c)["whitebox"].__setitem__("attacks", ["fgsm", "square"]), "datasets.fmnist.whitebox.attacks[1]",
     ["square", "audit section", "fgsm, pgd<k>"]),
])
def test_bad_config_names_key_value_and_allowed_values(change, key, parts):
    assert_names(error_of(mutated(change)), key, *parts)


def test_adversarial_nes_model_needs_adversarial_section():
    msg = error_of(mutated(lambda c: fm(c).pop("adversarial")))
    i = fm(RAW)["nes"]["models"].index("real-adv0.2-s0")
    assert msg.startswith(f"config.yaml: datasets.fmnist.nes.models[{i}]: 'real-adv0.2-s0' is adversarially trained")


def load_error(path) -> str:
    with pytest.raises(CvgrError) as info:
        Study.load(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_load_names_the_file(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text(yaml.safe_dump(mutated(lambda c: fm(c).__setitem__("betas", [-1]))))
    msg = load_error(bad)
    assert msg.startswith(f"{bad}: datasets.fmnist.betas[0]: ") and "-1" in msg and ">= 0" in msg
    nan = tmp_path / "nan.yaml"
    nan.write_text((REPO / "config.yaml").read_text().replace("lr: 0.01 ", "lr: .nan "))
    msg = load_error(nan)
    assert msg.startswith(f"{nan}: datasets.fmnist.training.lr: ") and "nan" in msg and "> 0" in msg
    (tmp_path / "broken.yaml").write_text("threads: [1\n")
    msg = load_error(tmp_path / "broken.yaml")
    assert msg.startswith(f"{tmp_path / 'broken.yaml'}: ") and "YAML" in msg and "line 2" in msg
    assert "not found" in load_error(tmp_path / "absent.yaml")


# ---------------------------------------------------------------- the plan of the default config
def test_models_are_grid_plus_adversarial_plus_transfer_copies():
    assert list(PLAN.models) == [
        "real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0",  # grid (field x beta) at s0
        "real-adv0.2-s0",                                                       # adversarial.fields
        "real-std-s1", "real-gr64-s1", "complex-std-s1", "complex-gr64-s1",  # transfer targets at s1
        "real-gr16-s0", "real-gr16-s1", "real-gr32-s0", "real-gr32-s1",      # the frontier's other betas
        "complex-gr16-s0", "complex-gr16-s1", "complex-gr32-s0", "complex-gr32-s1",
    ]


def test_transfer_beta_outside_the_grid_adds_its_models():
    plan = Study.from_mapping(mutated(lambda c: (without_frontier(c), fm(c)["transfer"].__setitem__("beta", 32))))
    plan = plan.plan("fmnist")
    assert {"real-gr32-s0", "real-gr32-s1", "complex-gr32-s0", "complex-gr32-s1", "real-gr64-s0"} <= set(plan.models)
    assert "real-gr64-s1" not in plan.models
    assert names(m for _, m in plan.whitebox_jobs[:5]) == [
        "real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0", "real-adv0.2-s0"]


def test_transfer_cells_know_their_roles():
    cells = PLAN.transfer_cells
    assert len(cells) == 20 and len(set(cells)) == 20
    row = [(c.target.name, c.role) for c in cells if c.source.name == "complex-gr64-s0"]
    assert row == [("complex-gr64-s0", "self"), ("real-std-s1", "real-std"), ("real-gr64-s1", "real-gr"),
                   ("complex-std-s1", "complex-std"), ("complex-gr64-s1", "complex-gr")]
    assert {c.source.name for c in cells} == {"real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0"}
    assert TransferJob(PLAN.model("real-std-s0"), PLAN.model("complex-gr64-s1")).role == "complex-gr"
    same_seed = TransferJob(PLAN.model("real-std-s0"), PLAN.model("real-gr64-s0"))
    assert same_seed.role == "same-seed"  # not an independent copy


def test_whitebox_jobs_and_sections_are_optional():
    jobs = [(a.name, m.name) for a, m in PLAN.whitebox_jobs]
    assert len(jobs) == 2 * 5 and ("pgd4", "real-adv0.2-s0") in jobs
    bare = Study.from_mapping(mutated(lambda c: [fm(c).pop(k) for k in ("whitebox", "transfer", "nes", "frontier")])
                              ).plan("fmnist")
    assert bare.whitebox_jobs == () and bare.transfer_cells == () and bare.nes_models == ()
    assert list(bare.models) == ["real-std-s0", "real-gr64-s0", "complex-std-s0", "complex-gr64-s0", "real-adv0.2-s0"]
    with pytest.raises(CvgrError, match=r"datasets\.fmnist\.nes is not in the config"):
        bare.nes_spec()


def test_two_pgd_attacks_plan_two_sweeps_per_model():
    plan = Study.from_mapping(mutated(lambda c: fm(c)["whitebox"].__setitem__("attacks", ["fgsm", "pgd4", "pgd10"]))
                              ).plan("fmnist")
    assert sorted({a.name for a, _ in plan.whitebox_jobs}) == ["fgsm", "pgd10", "pgd4"]
    assert plan.whitebox_spec(AttackId.parse("pgd4")).attack.steps == 4


def test_audit_runs_every_attack_on_every_model_with_its_own_options():
    jobs = PLAN.audit_jobs
    assert len(jobs) == 5 * len(PLAN.models)
    assert {m.name for _, m in jobs} == set(PLAN.models)
    audit = fm(RAW)["audit"]
    pgd = PLAN.audit_spec(AttackId.parse("pgd4"))
    assert pgd.eps == (0.0, audit["eps"], *audit["sweep"]) and pgd.apgd_steps is None and pgd.square_queries is None
    square = PLAN.audit_spec(AttackId.parse("square"))
    assert (square.eps, square.square_queries, square.images) == ((audit["eps"],), audit["square_queries"],
                                                                  audit["images"])
    assert PLAN.audit_spec(AttackId.parse("apgd-dlr")).apgd_steps == audit["apgd_steps"]
    listed = Study.from_mapping(mutated(lambda c: fm(c)["audit"].__setitem__("models", ["complex-gr64-s0"])))
    assert {m.name for _, m in listed.plan("fmnist").audit_jobs} == {"complex-gr64-s0"}
    other = Study.from_mapping(mutated(lambda c: fm(c)["audit"].__setitem__("square_queries", 50))).plan("fmnist")
    assert other.audit_spec(AttackId.parse("pgd4")) == pgd  # a Square setting reruns Square jobs only


def test_random_start_changes_only_the_pgd_jobs():
    """Only PGD has a random start, so toggling it changes (reruns) the PGD jobs' specs alone."""
    flipped = Study.from_mapping(mutated(lambda c: [fm(c)[s].__setitem__("random_start", not fm(RAW)[s]["random_start"])
                                                    for s in ("whitebox", "audit")])).plan("fmnist")
    jobs = [("whitebox", a) for a, _ in PLAN.whitebox_jobs] + [("audit", a) for a, _ in PLAN.audit_jobs]
    assert {a.kind for _, a in jobs} == {"fgsm", "pgd", "apgd-ce", "apgd-dlr", "square"}
    changed = {(stage, a.name) for stage, a in jobs
               if getattr(flipped, f"{stage}_spec")(a) != getattr(PLAN, f"{stage}_spec")(a)}
    assert changed == {("whitebox", "pgd4"), ("audit", "pgd4")}
    pgd = AttackId.parse("pgd4")
    assert flipped.audit_spec(pgd).random_start != PLAN.audit_spec(pgd).random_start


def test_training_spec_comes_from_the_model_and_the_dataset_section():
    spec = PLAN.train_spec(PLAN.model("real-adv0.2-s0"))
    tr, adv = fm(RAW)["training"], fm(RAW)["adversarial"]
    assert spec == TrainSpec(dataset="fmnist", model=ModelId("real", "adv", 0.2, 0), arch="small_cnn",
                             pgd=PgdTraining(steps=adv["steps"], random_start=adv["random_start"]),
                             **{k: tuple(v) if isinstance(v, list) else v for k, v in tr.items()})
    gr = PLAN.train_spec(PLAN.model("complex-gr64-s1"))
    assert (gr.field, gr.beta, gr.adv_eps, gr.pgd, gr.seed) == ("complex", 64.0, 0.0, None, 1)
    assert TrainSpec.from_dict(gr.to_dict()) == gr


def test_a_model_outside_the_grid_can_be_asked_for_by_name():
    assert PLAN.model("complex-gr8-s3") == ModelId("complex", "gr", 8.0, 3)
    with pytest.raises(CvgrError, match="'complex-xx-s3' is not a model name"):
        PLAN.model("complex-xx-s3")
    bare = Study.from_mapping(mutated(lambda c: [fm(c).pop(k) for k in ("adversarial", "nes")])).plan("fmnist")
    with pytest.raises(CvgrError, match="needs datasets.fmnist.adversarial in the config"):
        bare.train_spec(ModelId.parse("real-adv0.2-s0"))


def test_longest_training_gets_the_highest_priority():
    epochs, k = fm(RAW)["training"]["epochs"], fm(RAW)["adversarial"]["steps"]
    prio = {name: PLAN.training_priority(m) for name, m in PLAN.models.items()}
    assert prio["real-std-s0"] == prio["complex-std-s1"] == 10 * epochs
    assert prio["real-gr64-s0"] == round(10 * epochs * 2.5)
    assert prio["real-adv0.2-s0"] == round(10 * epochs * (1 + 0.75 * k))
    assert max(prio, key=prio.get) == "real-adv0.2-s0"


def test_a_nes_setting_changes_no_other_job_spec():
    """Only the NES spec changes, so Snakemake's params trigger reruns NES jobs alone."""
    other = Study.from_mapping(mutated(lambda c: fm(c)["nes"].__setitem__("steps", 4))).plan("fmnist")
    for model in PLAN.models.values():
        assert other.train_spec(model).to_dict() == PLAN.train_spec(model).to_dict()
    assert other.craft_spec() == PLAN.craft_spec()
    assert other.nes_spec() != PLAN.nes_spec()
    listed = Study.from_mapping(mutated(lambda c: fm(c)["nes"]["models"].pop())).plan("fmnist")
    assert listed.nes_spec() == PLAN.nes_spec()  # which models are attacked is not a job's setting


def test_attack_specs():
    nes = fm(RAW)["nes"]
    assert PLAN.nes_spec() == NesSpec(eps=0.16, steps=nes["steps"], queries=nes["queries"], sigma=0.001,
                                      images=nes["images"], chunk=nes["chunk"])
    assert PLAN.nes_spec().samples == nes["queries"] // (2 * nes["steps"])
    assert PLAN.craft_spec() == AttackSpec(attack=AttackId("fgsm"), eps=0.16, images=fm(RAW)["transfer"]["images"])
    wb = PLAN.whitebox_spec(AttackId.parse("pgd10"))
    assert isinstance(wb, WhiteboxSpec) and wb.eps[-1] == pytest.approx(0.3) and len(wb.eps) == 16
    assert wb.to_dict()["attack"] == "pgd10"


def test_paper_config_matches_method():
    paper = shipped("configs/paper.yaml")
    assert paper.datasets == ["mnist", "svhn", "fmnist", "cifar10"]
    transfer = {d: (paper.config.datasets[d].transfer.eps, paper.config.datasets[d].transfer.beta)
                for d in ("mnist", "svhn", "fmnist")}
    assert transfer == {"mnist": (0.16, 64), "svhn": (0.1, 32), "fmnist": (0.16, 64)}
    assert paper.config.datasets["cifar10"].transfer is None
    nes = paper.plan("fmnist").nes_spec()
    assert (nes.images, nes.queries, nes.steps * 2 * nes.samples, nes.eps) == (1000, 4000, 4000, 0.16)
    cifar = paper.config.datasets["cifar10"]
    assert cifar.whitebox.eps == pytest.approx([k / 255 for k in range(9)])
    assert (cifar.training.epochs, cifar.training.lr, cifar.training.milestones) == (80, 0.01, (40, 60, 72))
    assert paper.config.datasets["mnist"].training.epochs == 30


# ---------------------------------------------------------------- the Snakefile refuses bad configs
def test_snakefile_rejects_bad_config_before_any_job(tmp_path, run_snakemake):
    (tmp_path / "bad.yaml").write_text("datasets: {fmnist: {whitebox: {eps: [0.0, 2.0]}}}\n")  # overrides only
    res = run_snakemake(tmp_path, "--configfile", "bad.yaml", "--cores", "1", check=False)
    assert res.returncode == 1
    assert ("cvgr error: bad.yaml: datasets.fmnist.whitebox.eps[1]: 2 is out of range; "
            "allowed: a number in [0, 1]") in res.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


# ---------------------------------------------------------------- the frontier
def without_frontier(c: dict) -> None:
    fm(c).pop("frontier", None)


def with_frontier(betas, seeds, audit_models=None):
    def change(c: dict) -> None:
        fm(c)["frontier"] = {"betas": betas, "seeds": seeds}
        if audit_models is not None:
            fm(c)["audit"]["models"] = audit_models
    return change


def test_frontier_models_get_training_and_the_audit_only():
    base = Study.from_mapping(mutated(without_frontier)).plan("fmnist")
    plan = Study.from_mapping(mutated(lambda c: (without_frontier(c), with_frontier([0, 16, 64], [0, 1, 2])(c))))
    plan = plan.plan("fmnist")
    frontier = [f"{f}-{d}-s{s}" for f in ("real", "complex") for d in ("std", "gr16", "gr64") for s in (0, 1, 2)]
    assert names(plan.frontier_models) == frontier
    assert list(plan.models) == list(base.models) + [m for m in frontier if m not in base.models]  # same name, same model
    assert set(frontier) - set(base.models) == {f"{f}-{d}-s{s}" for f in ("real", "complex") for d, s in
                                                [("gr16", 0), ("gr16", 1), ("gr16", 2), ("std", 2), ("gr64", 2)]}
    attacks = [AttackId.parse(a) for a in fm(RAW)["audit"]["attacks"]]
    assert plan.frontier_jobs == tuple((a, ModelId.parse(m)) for a in attacks for m in frontier)
    assert plan.audit_spec(attacks[-1]).eps == (fm(RAW)["audit"]["eps"],)  # robust accuracy at the audit's eps
    # no white-box sweep, transfer cell or NES attack of their own
    assert (plan.whitebox_jobs, plan.transfer_cells, plan.nes_models) == \
        (base.whitebox_jobs, base.transfer_cells, base.nes_models)
    # an audit limited to listed models keeps its list; the frontier's models are attacked all the same
    listed = Study.from_mapping(mutated(lambda c: (without_frontier(c),
                                                   with_frontier([0, 64], [0], ["real-std-s0"])(c)))).plan("fmnist")
    assert {m.name for _, m in listed.audit_jobs} == {"real-std-s0"}
    assert {m.name for _, m in listed.frontier_jobs} == {"real-std-s0", "real-gr64-s0", "complex-std-s0",
                                                         "complex-gr64-s0"}


def test_the_default_frontier_adds_its_models_and_audits_to_the_default_jobs_unchanged():
    base = Study.from_mapping(mutated(without_frontier)).plan("fmnist")
    assert list(PLAN.models)[:len(base.models)] == list(base.models)
    assert set(base.audit_jobs) <= set(PLAN.audit_jobs) and set(PLAN.frontier_jobs) <= set(PLAN.audit_jobs)
    assert (PLAN.whitebox_jobs, PLAN.transfer_cells, PLAN.nes_models) == \
        (base.whitebox_jobs, base.transfer_cells, base.nes_models)
    for m in base.models.values():
        assert PLAN.train_spec(m) == base.train_spec(m)


@pytest.mark.parametrize("betas", [[64], [0]])
def test_a_frontier_of_one_beta_is_refused_naming_the_key(betas):
    msg = error_of(mutated(with_frontier(betas, [0, 1])))
    assert msg.startswith("config.yaml: datasets.fmnist.frontier.betas: ")
    assert "at least two" in msg


def test_a_frontier_needs_the_audit():
    msg = error_of(mutated(lambda c: (with_frontier([0, 64], [0])(c), fm(c).pop("audit"))))
    assert msg.startswith("config.yaml: datasets.fmnist.frontier: needs the audit section")
