"""The table and figure registry (cvgr.report.outputs): what it plans, what it refuses, and a table from outside cvgr.

A registration alone must give a table its rule (a local rule), its HTML page and its place in the final
targets; a comparison with the paper is planned only for the datasets the paper reports.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEFILE, dry_run_jobs, write_config
from cvgr.study.plan import Study
from cvgr.errors import CvgrError
from cvgr.study.layers import Layer, study
import cvgr.report.catalogue  # noqa: F401  (registers cvgr's own tables and figures)
from cvgr.report.outputs import get, registered, table, targets, unregister
from cvgr.study.codehash import stage_modules


def paper_study(run: list[str], **sections: dict) -> Study:
    """config.yaml under configs/paper.yaml running ``run``, with ``sections`` ({"cifar10.transfer": {...}}) set."""
    data = yaml.safe_load((REPO / "configs/paper.yaml").read_text())
    data["run"] = run
    data["datasets"] = {d: data["datasets"][d] for d in run}
    for dotted, value in sections.items():
        dataset, section = dotted.split(".")
        data["datasets"][dataset][section] = value
    return study([Layer.load(REPO / "config.yaml"), Layer("paper.yaml", data)])


# ---------------------------------------------------------------- planning
def test_comparisons_with_the_paper_are_planned_only_for_datasets_it_reports():
    """CIFAR-10 has no transfer numbers in the paper: its transfer table is planned, the comparisons are not."""
    cifar = paper_study(["cifar10"], **{"cifar10.transfer": {"beta": 64, "eps": 0.03, "images": 100}})
    planned = targets(cifar)
    assert "results/tables/transfer.csv" in planned and "results/tables/transfer.html" in planned
    assert not [t for t in planned if "vs_paper" in t]
    assert get("paper_figure").planned(cifar) == [] and get("transfer_vs_paper").planned(cifar) == []
    # MNIST: the paper reports transfer but no NES; the comparison reads only what the paper reports
    nes = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]["fmnist"]["nes"] | {"models": ["real-std-s0"]}
    mnist = paper_study(["mnist", "cifar10"], **{"mnist.nes": nes,
                                                  "cifar10.transfer": {"beta": 64, "eps": 0.03, "images": 100}})
    planned = targets(mnist)
    assert "results/tables/nes.csv" in planned and "results/tables/nes_vs_paper.csv" not in planned
    assert "results/figures/transfer_vs_paper.png" in planned
    compared = get("transfer_vs_paper").inputs(mnist, get("transfer_vs_paper").covered(mnist.datasets))["transfer"]
    assert compared and all(f.startswith("results/transfer/mnist/") for f in compared)


def test_a_study_without_paper_numbers_plans_no_comparison(tmp_path, run_snakemake):
    """CIFAR-10 with a transfer stage: the dry run plans its transfer table and no comparison with the paper
    (planning transfer_vs_paper.png made the run fail once it got there)."""
    cifar = yaml.safe_load((REPO / "configs/paper.yaml").read_text())["datasets"]["cifar10"]
    config = tmp_path / "cifar10.yaml"
    config.write_text(yaml.safe_dump({"run": ["cifar10"], "datasets": {"cifar10": cifar | {
        "transfer": {"beta": 64, "eps": 0.03, "images": 100}}}}))
    jobs = dry_run_jobs(run_snakemake(tmp_path, "--configfile", str(config), "-n").stdout)
    rules = {job.splitlines()[0] for job in jobs}
    assert {"rule transfer_table:", "rule transfer_page:", "rule claims_table:"} <= rules
    assert not [r for r in rules if "paper" in r]


def test_per_dataset_outputs_follow_the_datasets_that_have_their_results():
    study = paper_study(["mnist", "svhn", "fmnist", "cifar10"])
    assert get("whitebox_figure").planned(study) == ["mnist", "svhn", "fmnist", "cifar10"]
    assert get("masking_figure").planned(study) == ["fmnist"]  # the paper config audits fmnist only
    assert get("nes_vs_paper").planned(study) == [None]
    assert "results/figures/masking_fmnist.png.prov.json" in targets(study)


def test_every_output_has_a_caption_file_that_exists():
    for out in registered():
        assert Path(out.caption_path(str(REPO / "report"))).is_file(), out.name


# ---------------------------------------------------------------- registrations refused
@pytest.mark.parametrize("options, words", [
    ({"reads": ["logits"], "caption": "x"}, ["source", "'logits'", "histories"]),
    ({"reads": ["histories"], "caption": "x", "formats": ["png"]}, ["formats", "csv, md"]),
    ({"reads": ["histories"]}, ["caption", "caption_file"]),
    ({"reads": ["transfer"], "caption": "x", "paper": "whitebox"}, ["paper", "'whitebox'", "transfer or nes"]),
    ({"reads": ["histories"], "caption": "x", "stem": "training", "formats": ["csv"]}, ["clashes", "training_table"]),
])
def test_a_bad_registration_names_the_field_and_the_allowed_values(options, words):
    with pytest.raises(CvgrError) as err:
        table("toy_bad", **options)(lambda job: None)
    for word in words:
        assert word in str(err.value)
    assert "toy_bad" not in {o.name for o in registered()}


def test_an_unknown_output_name_is_an_error():
    with pytest.raises(CvgrError, match=r"'final_zeta'.*registered: transfer_table"):
        get("final_zeta")


# ---------------------------------------------------------------- a table from outside cvgr
PLUGIN = '''
"""A per-model table from outside cvgr: one row per trained model, its clean accuracy and final zeta."""
from cvgr.report.outputs import Job, table


@table("final_zeta_table", stem="final_zeta", reads=["histories"],
       caption="One row per trained model: clean accuracy (%) and the final gradient agreement zeta.")
def final_zeta(job: Job) -> None:
    from cvgr.results.records import TrainingHistory

    rows = sorted((h.dataset, str(h.model), h.clean_acc, h.final_zeta)
                  for h in map(TrainingHistory.read, job.inputs["histories"]))
    with open(job.outputs["csv"], "w") as fh:
        fh.write("dataset,model,clean_acc,final_zeta\\n")
        fh.writelines(f"{d},{m},{a:.4f},{z:.6g}\\n" for d, m, a, z in rows)
    with open(job.outputs["md"], "w") as fh:
        fh.write("# Final zeta\\n\\n| model | clean acc. | zeta |\\n|---|---|---|\\n")
        fh.writelines(f"| {m} | {a:.1f} | {z:.3f} |\\n" for _, m, a, z in rows)
'''


def plugin_workflow(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A plugin module in its own folder and a Snakefile that imports it, then uses cvgr as a module."""
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin/toy_tables.py").write_text(PLUGIN)
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(f'import toy_tables\n\n\nmodule cvgr:\n    snakefile:\n        "{SNAKEFILE}"\n'
                         '    config:\n        config\n\n\nuse rule * from cvgr\n')
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path / "plugin"), str(REPO)])}
    return snakefile, env


def plugin_snakemake(tmp_path: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    snakefile, env = plugin_workflow(tmp_path)
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(tmp_path / "run"),
                          "--configfile", str(write_config(tmp_path)), *args], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-4000:]
    return res.stdout


@pytest.mark.workflow
def test_a_table_registered_outside_cvgr_is_planned_with_its_page(tmp_path):
    jobs = {job.splitlines()[0]: job for job in dry_run_jobs(plugin_snakemake(tmp_path, "-n"))}
    made = jobs["rule final_zeta_table:"]
    assert "output: results/tables/final_zeta.csv, results/tables/final_zeta.md, results/tables/final_zeta.csv" \
           ".prov.json, results/tables/final_zeta.md.prov.json" in made
    assert "results/models/fmnist/real-adv0.2-s0.h5" in made  # every trained model's history
    page = jobs["rule final_zeta_page:"]
    assert "input: results/tables/final_zeta.md" in page and "output: results/tables/final_zeta.html" in page
    assert "results/tables/final_zeta.html.prov.json" in jobs["rule all:"]
    # and cvgr's own, each with its page: test.yaml runs every stage
    names = {o.name for o in registered()} | {o.page for o in registered() if o.page}
    assert names <= {re.sub(r"^rule (\w+):$", r"\1", header) for header in jobs}


@pytest.mark.workflow
@pytest.mark.slow
def test_a_table_registered_outside_cvgr_is_made_with_its_page_and_lineage(tmp_path, fmnist_raw):
    """A tiny real run of only that table: the models it reads are trained, then the table written."""
    plugin_snakemake(tmp_path, "--cores", "2", "results/tables/final_zeta.html", timeout=1500)
    run = tmp_path / "run"
    rows = (run / "results/tables/final_zeta.csv").read_text().splitlines()
    assert rows[0] == "dataset,model,clean_acc,final_zeta" and len(rows) == 1 + 9  # the 9 models of test.yaml
    from cvgr.results.records import TrainingHistory
    first = TrainingHistory.read(run / f"results/models/fmnist/{rows[1].split(',')[1]}.h5")
    assert float(rows[1].split(",")[2]) == pytest.approx(first.clean_acc, abs=1e-4)
    assert "<table>" in (run / "results/tables/final_zeta.html").read_text()
    side = yaml.safe_load((run / "results/tables/final_zeta.csv.prov.json").read_text())
    assert side["provenance"]["config"]["rule"] == "final_zeta_table"
    assert len(side["provenance"]["inputs"]) == 9


def test_the_tables_code_hash_covers_every_registered_function_and_what_it_runs():
    """A registered function imports what computes it inside its body; the tables stage still hashes those modules."""
    hashed = set(stage_modules("tables"))
    for out in registered():
        assert out.module.replace("cvgr.", "").replace(".", "/") + ".py" in hashed, out.name
    assert {"report/tables.py", "report/figures.py", "report/vs_paper.py", "report/audit_table.py",
            "report/verdicts.py"} <= hashed


def test_editing_a_plugin_table_changes_its_rules_code_hash_but_not_for_a_docstring(tmp_path):
    sys.path.insert(0, str(tmp_path))
    try:
        path = tmp_path / "toy_hash_tables.py"
        path.write_text(PLUGIN.replace("final_zeta", "hash_zeta"))
        import importlib
        module = importlib.import_module("toy_hash_tables")
        before = get("hash_zeta_table").code()
        path.write_text(PLUGIN.replace("final_zeta", "hash_zeta").replace("one row per", "a row for each"))
        assert get("hash_zeta_table").code() == before  # the module docstring only
        path.write_text(PLUGIN.replace("final_zeta", "hash_zeta").replace(":.4f", ":.2f"))
        importlib.reload(module)  # registering the same name from the same module again replaces it
        assert get("hash_zeta_table").code() != before
    finally:
        sys.path.remove(str(tmp_path))
        unregister("hash_zeta_table")
