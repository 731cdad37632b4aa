"""Final tables: exact CSV/Markdown from fixture result files with known accuracies.

The fixtures are result records (cvgr.results.records) whose per-image correctness gives the wanted
accuracy; tests/test_records.py checks the records' files against h5py independently. The
transfer fixture uses the paper's reported numbers (cvgr/report/reference/paper_results.csv) as cell
accuracies, so the table written by cvgr must reproduce the paper's table row for row.
"""
from __future__ import annotations

import os
import random

import h5py
import numpy as np
import pytest

from cvgr.errors import CorruptFileError, CvgrError
from cvgr.results.records import NesResult, TrainingHistory, TransferCell, WhiteboxCurve
from cvgr.study.specs import NesSpec, WhiteboxSpec
from cvgr.report.model_tables import write_training_table, write_whitebox_table
from cvgr.report.tables import write_nes_table, write_transfer_table
from cvgr.vocab import AttackId, ModelId, transfer_role


def write_h5(path, attrs: dict, arrays: dict | None = None) -> str:
    """A hand-made HDF5 file (for files that are not what a record writes)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        for name, value in (arrays or {}).items():
            f.create_dataset(name, data=value)
        for name, value in attrs.items():
            f.attrs[name] = value
        f.attrs["provenance"] = "{}"
    return str(path)


def outcomes(accuracy: float, n: int) -> np.ndarray:
    """n per-image outcomes (0/1) whose mean is exactly ``accuracy`` percent."""
    k = round(accuracy * n / 100)
    assert abs(k * 100 / n - accuracy) < 1e-9, f"{accuracy}% is not a whole number of {n} images"
    return (np.arange(n) < k).astype(np.uint8)


def cell(tmp_path, dataset, source, target, accuracy, eps=0.16, n=1000, attack="fgsm") -> str:
    path = f"{tmp_path}/transfer/{dataset}/{source}/{target}.h5"
    s, t = ModelId.parse(source), ModelId.parse(target)
    TransferCell(dataset=dataset, source=s, target=t, role=transfer_role(s, t), attack=AttackId.parse(attack),
                 eps=eps, correct=outcomes(accuracy, n)).write(path, {})
    return path


def md_rows(text: str) -> list[list[str]]:
    """Cells of every pipe-table row (header and separator included)."""
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]


# --------------------------------------------------------------------------- transfer

PAPER_TRANSFER = """\
| real | Self | 22.5 / 86.6 | 4.1 / 32.5 | 2.2 / 53.1 |
| real | R (Std.) | 36.2 / 74.0 | 10.3 / 32.0 | 3.9 / 28.3 |
| real | C (Std.) | 93.7 / 93.1 | 22.8 / 40.5 | 12.6 / 33.7 |
| real | R (G.R.) | 93.0 / 91.5 | 52.9 / 34.9 | 63.9 / 53.8 |
| real | C (G.R.) | 95.3 / 95.8 | 55.7 / 41.9 | 68.5 / 60.4 |
| complex | Self | 58.4 / 93.9 | 10.4 / 36.7 | 1.7 / 53.4 |
| complex | R (Std.) | 86.5 / 88.0 | 50.1 / 31.5 | 32.4 / 30.7 |
| complex | C (Std.) | 93.1 / 95.7 | 35.5 / 36.3 | 15.9 / 31.2 |
| complex | R (G.R.) | 97.1 / 95.8 | 63.0 / 37.8 | 70.2 / 57.6 |
| complex | C (G.R.) | 97.3 / 96.4 | 65.4 / 41.5 | 74.7 / 58.4 |
"""
SETTINGS = {"mnist": (0.16, 64), "svhn": (0.10, 32), "fmnist": (0.16, 64)}  # eps, beta


def _target_name(source: str, label: str, beta: int) -> str:
    if label == "Self":
        return source
    field = "real" if label[0] == "R" else "complex"
    return f"{field}-{'std' if 'Std' in label else f'gr{beta}'}-s1"


def paper_cells(tmp_path) -> list[str]:
    """One file per paper cell (60), plus cells the table must ignore."""
    paths = []
    for field, label, *cols in md_rows(PAPER_TRANSFER):
        for ds, text in zip(SETTINGS, cols):
            eps, beta = SETTINGS[ds]
            for source, acc in zip((f"{field}-std-s0", f"{field}-gr{beta}-s0"), text.split(" / ")):
                paths.append(cell(tmp_path, ds, source, _target_name(source, label, beta), float(acc), eps))
    ignored = [("mnist", "real-adv0.2-s0", "real-std-s1"),  # adversarially trained source
               ("mnist", "real-std-s0", "complex-gr128-s1"),  # another beta
               ("mnist", "real-std-s0", "complex-std-s0"),  # seed-0 target that is not the source
               ("svhn", "complex-gr32-s0", "real-adv0.2-s1")]  # adversarially trained target
    paths += [cell(tmp_path, ds, s, t, 0.0, SETTINGS[ds][0]) for ds, s, t in ignored]
    random.Random(0).shuffle(paths)
    return paths


def test_transfer_table_reproduces_paper_layout(tmp_path):
    df = write_transfer_table(paper_cells(tmp_path), tmp_path / "t.csv", tmp_path / "t.md")
    rows = md_rows((tmp_path / "t.md").read_text())
    assert rows[0] == ["source", "target", "MNIST (eps 0.16, beta 64)", "SVHN (eps 0.1, beta 32)",
                       "FMNIST (eps 0.16, beta 64)"]
    assert rows[2:] == md_rows(PAPER_TRANSFER)
    assert list(df.columns) == ["source", "target"] + [f"{ds}_{k}" for ds in SETTINGS
                                                       for k in ("std", "gr", "eps", "beta")]
    assert df.loc[7, ["source", "target", "svhn_std", "svhn_gr"]].tolist() == ["complex", "C (Std.)", 35.5, 36.3]
    assert df["svhn_eps"].tolist() == [0.10] * 10 and df["svhn_beta"].tolist() == [32.0] * 10
    csv = (tmp_path / "t.csv").read_text().splitlines()
    assert csv[0] == ("source,target,mnist_std,mnist_gr,mnist_eps,mnist_beta,svhn_std,svhn_gr,svhn_eps,"
                      "svhn_beta,fmnist_std,fmnist_gr,fmnist_eps,fmnist_beta")
    assert csv[1] == "real,Self,22.5000,86.6000,0.16,64,4.1000,32.5000,0.1,32,2.2000,53.1000,0.16,64"
    assert len(csv) == 11


def test_transfer_table_exact_files_with_missing_cells(tmp_path):
    paths = [cell(tmp_path, "fmnist", "real-std-s0", "real-std-s0", 2.2, n=10000),
             cell(tmp_path, "fmnist", "real-gr64-s0", "real-gr64-s0", 53.14, n=10000),
             cell(tmp_path, "fmnist", "real-std-s0", "complex-gr64-s1", 68.5, n=10000)]
    write_transfer_table(paths, tmp_path / "t.csv", tmp_path / "t.md")
    assert (tmp_path / "t.csv").read_text() == (
        "source,target,fmnist_std,fmnist_gr,fmnist_eps,fmnist_beta\n"
        "real,Self,2.2000,53.1400,0.16,64\n"
        "real,R (Std.),,,0.16,64\n"
        "real,C (Std.),,,0.16,64\n"
        "real,R (G.R.),,,0.16,64\n"
        "real,C (G.R.),68.5000,,0.16,64\n"
        "complex,Self,,,0.16,64\n"
        "complex,R (Std.),,,0.16,64\n"
        "complex,C (Std.),,,0.16,64\n"
        "complex,R (G.R.),,,0.16,64\n"
        "complex,C (G.R.),,,0.16,64\n"
    )
    assert (tmp_path / "t.md").read_text() == (
        "# Black-box transfer (FGSM)\n\n"
        'Accuracy (%) of each target on FGSM examples crafted on the source; cells are "source Std. / '
        'source G.R.". Sources are the seed-0 copies ("Self" = the source itself, white-box); the other '
        "targets are independently trained copies with another seed. \u2014 = not run.\n\n"
        "Test images per cell: FMNIST 10000.\n\n"
        "| source   | target   | FMNIST (eps 0.16, beta 64)   |\n"
        "|----------|----------|------------------------------|\n"
        "| real     | Self     | 2.2 / 53.1                   |\n"
        "| real     | R (Std.) | \u2014 / \u2014                        |\n"
        "| real     | C (Std.) | \u2014 / \u2014                        |\n"
        "| real     | R (G.R.) | \u2014 / \u2014                        |\n"
        "| real     | C (G.R.) | 68.5 / \u2014                     |\n"
        "| complex  | Self     | \u2014 / \u2014                        |\n"
        "| complex  | R (Std.) | \u2014 / \u2014                        |\n"
        "| complex  | C (Std.) | \u2014 / \u2014                        |\n"
        "| complex  | R (G.R.) | \u2014 / \u2014                        |\n"
        "| complex  | C (G.R.) | \u2014 / \u2014                        |\n"
    )


def test_transfer_table_is_deterministic(tmp_path):
    paths = paper_cells(tmp_path)
    write_transfer_table(paths, tmp_path / "a.csv", tmp_path / "a.md")
    write_transfer_table(paths[::-1], tmp_path / "b.csv", tmp_path / "b.md")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.md").read_bytes() == (tmp_path / "b.md").read_bytes()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_transfer_other_source_seed_and_cifar_eps(tmp_path):
    """A config may craft on seed 3 and transfer to seed 1; CIFAR's eps reads as k/255."""
    paths = [cell(tmp_path, "cifar10", "complex-gr512-s3", "complex-gr512-s3", 40.0, eps=8 / 255),
             cell(tmp_path, "cifar10", "complex-gr512-s3", "real-std-s1", 45.5, eps=8 / 255),
             cell(tmp_path, "cifar10", "complex-gr512-s3", "real-std-s3", 0.0, eps=8 / 255)]  # not a table cell
    write_transfer_table(paths, tmp_path / "t.csv", tmp_path / "t.md")
    text = (tmp_path / "t.md").read_text()
    assert "Sources are the seed-3 copies" in text
    rows = md_rows(text)
    assert rows[0][2] == "CIFAR-10 (eps 8/255, beta 512)"
    assert rows[7:9] == [["complex", "Self", "\u2014 / 40.0"], ["complex", "R (Std.)", "\u2014 / 45.5"]]
    assert (tmp_path / "t.csv").read_text().splitlines()[6:8] == ["complex,Self,,40.0000,0.0313725,512",
                                                                  "complex,R (Std.),,45.5000,0.0313725,512"]


def _one_line_error(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_transfer_errors_name_the_problem(tmp_path):
    with pytest.raises(CvgrError) as e:
        write_transfer_table([], tmp_path / "t.csv", tmp_path / "t.md")
    assert "no transfer-cell files" in _one_line_error(e)

    bad = write_h5(f"{tmp_path}/bad.h5", dict(dataset="mnist", source="real-std-s0", target="real-std-s0",
                                              record="transfer-cell"))
    with pytest.raises(CorruptFileError) as e:
        write_transfer_table([bad], tmp_path / "t.csv", tmp_path / "t.md")
    assert bad in _one_line_error(e) and "role" in str(e.value)
    nes_file = nes_files(tmp_path / "nes")[0]
    with pytest.raises(CvgrError, match="is a nes-result file, not a transfer-cell file") as e:
        write_transfer_table([nes_file], tmp_path / "t.csv", tmp_path / "t.md")
    assert nes_file in _one_line_error(e)

    a = cell(tmp_path, "mnist", "real-std-s0", "real-std-s1", 50.0)
    dup = cell(tmp_path / "copy", "mnist", "real-std-s0", "real-std-s1", 51.0)
    with pytest.raises(CvgrError) as e:
        write_transfer_table([a, dup], tmp_path / "t.csv", tmp_path / "t.md")
    assert a in _one_line_error(e) and dup in str(e.value)

    other_eps = cell(tmp_path, "mnist", "real-std-s0", "real-std-s0", 20.0, eps=0.2)
    with pytest.raises(CvgrError, match="eps = 0.16, 0.2"):
        write_transfer_table([a, other_eps], tmp_path / "t.csv", tmp_path / "t.md")

    pgd = cell(tmp_path / "pgd", "mnist", "real-std-s0", "real-std-s0", 20.0, attack="pgd10")
    with pytest.raises(CvgrError, match="transfer cells mix attack = fgsm, pgd10; a table is for one setting"):
        write_transfer_table([a, pgd], tmp_path / "t.csv", tmp_path / "t.md")

    g64 = cell(tmp_path, "mnist", "real-gr64-s0", "real-gr64-s0", 80.0)
    g32 = cell(tmp_path, "mnist", "complex-gr32-s0", "complex-gr32-s0", 80.0)
    with pytest.raises(CvgrError, match="mix G.R. betas 32, 64"):
        write_transfer_table([g64, g32], tmp_path / "t.csv", tmp_path / "t.md")

    s1 = cell(tmp_path, "mnist", "complex-gr64-s1", "complex-gr64-s1", 80.0)
    with pytest.raises(CvgrError, match="sources with seeds 0, 1"):
        write_transfer_table([g64, s1], tmp_path / "t.csv", tmp_path / "t.md")

    adv = cell(tmp_path, "mnist", "real-adv0.2-s0", "real-std-s1", 50.0)
    with pytest.raises(CvgrError, match="none of the 1 transfer cells"):
        write_transfer_table([adv], tmp_path / "t.csv", tmp_path / "t.md")

    with pytest.raises(CvgrError, match="does not exist"):
        write_transfer_table([str(tmp_path / "absent.h5")], tmp_path / "t.csv", tmp_path / "t.md")
    assert not (tmp_path / "t.csv").exists() and not (tmp_path / "t.md").exists()


# --------------------------------------------------------------------------- NES

NES = {"real-std-s0": (0.0, 80.0), "real-gr64-s0": (62.3, 75.1), "real-adv0.2-s0": (76.3, 77.0),
       "complex-std-s0": (0.0, 81.0), "complex-gr64-s0": (68.4, 79.0)}


def nes_file(path, dataset, model, acc, clean, n=1000, queries_per_image=None, **spec) -> str:
    settings = NesSpec(**{"eps": 0.16, "steps": 8, "queries": 4000, "sigma": 0.001, "images": n, **spec})
    NesResult(dataset=dataset, model=ModelId.parse(model), spec=settings,
              queries_per_image=float(settings.queries if queries_per_image is None else queries_per_image),
              correct=outcomes(acc, n), clean_correct=outcomes(clean, n)).write(path, {})
    return str(path)


def nes_files(tmp_path, **override) -> list[str]:
    return [nes_file(f"{tmp_path}/nes/fmnist/{model}.h5", "fmnist", model, acc, clean, **override.get(model, {}))
            for model, (acc, clean) in NES.items()][::-1]


def test_nes_table_layout_and_values(tmp_path):
    df = write_nes_table(nes_files(tmp_path), tmp_path / "n.csv", tmp_path / "n.md")
    assert list(df.index) == [("fmnist", "real-valued"), ("fmnist", "complex-valued")]
    df = df.loc["fmnist"]
    assert list(df.index) == ["real-valued", "complex-valued"]
    assert list(df.columns) == ["no defense", "beta 64 G.R.", "eps 0.2 adversarial training"]
    assert df.loc["complex-valued", "beta 64 G.R."] == pytest.approx(68.4)
    assert np.isnan(df.loc["complex-valued", "eps 0.2 adversarial training"])
    assert (tmp_path / "n.md").read_text() == (
        "# Query-based attack (NES)\n\n"
        "1000 Fashion-MNIST test images, 8-step PGD, eps 0.16, 4000 queries per image "
        "(n = 250 directions, sigma 0.001); NES estimates the gradient of the true class's raw output "
        "(logit or magnitude) (score: output).\n\n"
        "Accuracy under the attack:\n\n"
        "| network        | no defense   | beta 64 G.R.   | eps 0.2 adversarial training   |\n"
        "|----------------|--------------|----------------|--------------------------------|\n"
        "| real-valued    | 0.0%         | 62.3%          | 76.3%                          |\n"
        "| complex-valued | 0.0%         | 68.4%          | (not run)                      |\n\n"
        "Clean accuracy on the same images:\n\n"
        "| network        | no defense   | beta 64 G.R.   | eps 0.2 adversarial training   |\n"
        "|----------------|--------------|----------------|--------------------------------|\n"
        "| real-valued    | 80.0%        | 75.1%          | 77.0%                          |\n"
        "| complex-valued | 81.0%        | 79.0%          | (not run)                      |\n"
    )
    assert (tmp_path / "n.csv").read_text() == (
        "dataset,model,field,defense,beta,adv_eps,n_images,queries_per_image,eps,steps,accuracy,clean_accuracy\n"
        "fmnist,real-std-s0,real,std,0,0,1000,4000,0.16,8,0.0000,80.0000\n"
        "fmnist,real-gr64-s0,real,gr,64,0,1000,4000,0.16,8,62.3000,75.1000\n"
        "fmnist,real-adv0.2-s0,real,adv,0,0.2,1000,4000,0.16,8,76.3000,77.0000\n"
        "fmnist,complex-std-s0,complex,std,0,0,1000,4000,0.16,8,0.0000,81.0000\n"
        "fmnist,complex-gr64-s0,complex,gr,64,0,1000,4000,0.16,8,68.4000,79.0000\n"
    )


def test_nes_only_present_defenses_get_columns(tmp_path):
    paths = [p for p in nes_files(tmp_path) if "gr64" in p]
    df = write_nes_table(paths, tmp_path / "n.csv", tmp_path / "n.md")
    assert list(df.columns) == ["beta 64 G.R."]
    assert df["beta 64 G.R."].tolist() == pytest.approx([62.3, 68.4])


def test_nes_one_section_per_dataset(tmp_path):
    fm = nes_files(tmp_path / "fm")
    mn = nes_file(f"{tmp_path}/mn/real-gr32-s0.h5", "mnist", "real-gr32-s0", 90.0, 98.0, n=50, eps=0.3, steps=4,
                  queries=80)
    df = write_nes_table(fm + [mn], tmp_path / "n.csv", tmp_path / "n.md")
    assert list(df.index.get_level_values(0)) == ["mnist", "mnist", "fmnist", "fmnist"]
    assert df.loc[("mnist", "real-valued"), "beta 32 G.R."] == 90.0
    assert np.isnan(df.loc[("mnist", "real-valued"), "no defense"])
    text = (tmp_path / "n.md").read_text()
    assert text.count("# Query-based attack (NES)") == 1
    first, second = text.index("50 MNIST test images, 4-step PGD, eps 0.3, 80 queries per image"), \
        text.index("1000 Fashion-MNIST test images")
    assert first < second
    assert md_rows(text)[0] == ["network", "beta 32 G.R."]  # mnist section: only its own defenses
    assert (tmp_path / "n.csv").read_text().splitlines()[1] == \
        "mnist,real-gr32-s0,real,gr,32,0,50,80,0.3,4,90.0000,98.0000"


def test_nes_is_deterministic(tmp_path):
    paths = nes_files(tmp_path)
    write_nes_table(paths, tmp_path / "a.csv", tmp_path / "a.md")
    write_nes_table(paths[::-1], tmp_path / "b.csv", tmp_path / "b.md")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.md").read_bytes() == (tmp_path / "b.md").read_bytes()


def test_nes_mixed_settings_and_duplicates_are_errors(tmp_path):
    with pytest.raises(CvgrError, match="steps = 8, 10"):
        write_nes_table(nes_files(tmp_path, **{"real-std-s0": {"steps": 10}}), tmp_path / "n.csv", tmp_path / "n.md")
    with pytest.raises(CvgrError, match="score = cross_entropy, output"):
        write_nes_table(nes_files(tmp_path / "s", **{"real-std-s0": {"score": "cross_entropy"}}),
                        tmp_path / "n.csv", tmp_path / "n.md")
    paths = nes_files(tmp_path / "a")
    extra = nes_file(f"{tmp_path}/b/real-gr64-s1.h5", "fmnist", "real-gr64-s1", 1.0, 2.0)
    with pytest.raises(CvgrError, match="fmnist real-valued, beta 64 G.R.") as e:
        write_nes_table(paths + [extra], tmp_path / "n.csv", tmp_path / "n.md")
    assert extra in _one_line_error(e)
    with pytest.raises(CvgrError, match="no nes-result files"):
        write_nes_table([], tmp_path / "n.csv", tmp_path / "n.md")


# --------------------------------------------------------------------------- white-box, training

def whitebox_file(tmp_path, dataset, attack, model, acc, eps=(0.0, 0.1, 0.2), n=500) -> str:
    path = f"{tmp_path}/whitebox/{dataset}/{attack}/{model}.h5"
    spec = WhiteboxSpec(attack=AttackId.parse(attack), eps=tuple(eps), images=n, random_start=attack != "fgsm")
    WhiteboxCurve(dataset=dataset, model=ModelId.parse(model), spec=spec,
                  correct=np.stack([outcomes(a, n) for a in acc]), labels=np.zeros(n, np.int64)).write(path, {})
    return path


def test_whitebox_long_table_sorted(tmp_path):
    paths = [whitebox_file(tmp_path, "fmnist", "pgd10", "complex-gr64-s0", [90.0, 50.0, 20.0]),
             whitebox_file(tmp_path, "fmnist", "fgsm", "complex-gr64-s0", [90.0, 60.0, 30.0]),
             whitebox_file(tmp_path, "fmnist", "pgd10", "real-std-s0", [91.0, 5.0, 0.0]),
             whitebox_file(tmp_path, "mnist", "fgsm", "real-gr64-s0", [99.0, 90.5, 70.25], eps=(0.2, 0.0, 0.1), n=400)]
    df = write_whitebox_table(paths, tmp_path / "w.csv")
    assert list(df.columns) == ["dataset", "attack", "model", "field", "defense", "beta", "adv_eps", "eps",
                                "accuracy", "n_images"]
    assert (tmp_path / "w.csv").read_text() == (
        "dataset,attack,model,field,defense,beta,adv_eps,eps,accuracy,n_images\n"
        "mnist,fgsm,real-gr64-s0,real,gr,64,0,0,90.5000,400\n"
        "mnist,fgsm,real-gr64-s0,real,gr,64,0,0.1,70.2500,400\n"
        "mnist,fgsm,real-gr64-s0,real,gr,64,0,0.2,99.0000,400\n"
        "fmnist,fgsm,complex-gr64-s0,complex,gr,64,0,0,90.0000,500\n"
        "fmnist,fgsm,complex-gr64-s0,complex,gr,64,0,0.1,60.0000,500\n"
        "fmnist,fgsm,complex-gr64-s0,complex,gr,64,0,0.2,30.0000,500\n"
        "fmnist,pgd10,real-std-s0,real,std,0,0,0,91.0000,500\n"
        "fmnist,pgd10,real-std-s0,real,std,0,0,0.1,5.0000,500\n"
        "fmnist,pgd10,real-std-s0,real,std,0,0,0.2,0.0000,500\n"
        "fmnist,pgd10,complex-gr64-s0,complex,gr,64,0,0,90.0000,500\n"
        "fmnist,pgd10,complex-gr64-s0,complex,gr,64,0,0.1,50.0000,500\n"
        "fmnist,pgd10,complex-gr64-s0,complex,gr,64,0,0.2,20.0000,500\n"
        # the per-image worst case over FGSM and PGD (here the first k images survive each attack: the minimum)
        "fmnist,worst,complex-gr64-s0,complex,gr,64,0,0,90.0000,500\n"
        "fmnist,worst,complex-gr64-s0,complex,gr,64,0,0.1,50.0000,500\n"
        "fmnist,worst,complex-gr64-s0,complex,gr,64,0,0.2,20.0000,500\n"
    )
    write_whitebox_table(paths[::-1], tmp_path / "w2.csv")
    assert (tmp_path / "w.csv").read_bytes() == (tmp_path / "w2.csv").read_bytes()


def test_whitebox_two_pgd_attacks_are_two_curves(tmp_path):
    paths = [whitebox_file(tmp_path, "fmnist", a, "real-std-s0", acc)
             for a, acc in (("pgd10", [91.0, 4.0, 0.0]), ("pgd4", [91.0, 6.0, 1.0]), ("fgsm", [91.0, 20.0, 8.0]))]
    df = write_whitebox_table(paths, tmp_path / "w.csv")
    assert df["attack"].tolist() == ["fgsm"] * 3 + ["pgd4"] * 3 + ["pgd10"] * 3 + ["worst"] * 3


def test_whitebox_worst_case_is_per_image(tmp_path):
    """FGSM fools images 0-1, PGD images 2-3 of 10: each leaves 80%, together only 60% survive."""
    paths = []
    for attack, fooled in (("fgsm", [0, 1]), ("pgd4", [2, 3])):
        correct = np.ones((2, 10), np.uint8)
        correct[1, fooled] = 0
        spec = WhiteboxSpec(attack=AttackId.parse(attack), eps=(0.0, 0.1), images=10)
        path = f"{tmp_path}/{attack}.h5"
        WhiteboxCurve(dataset="fmnist", model=ModelId.parse("real-std-s0"), spec=spec, correct=correct,
                      labels=np.arange(10)).write(path, {})
        paths.append(path)
    df = write_whitebox_table(paths, tmp_path / "w.csv")
    worst = df[df["attack"] == "worst"]
    assert worst["eps"].tolist() == [0.0, 0.1] and worst["accuracy"].tolist() == [100.0, 60.0]
    assert df[df["attack"] != "worst"]["accuracy"].tolist() == [100.0, 80.0, 100.0, 80.0]


def test_whitebox_bad_files(tmp_path):
    spec = '{"attack": "fgsm", "eps": [0.0, 0.1, 0.2], "images": 5, "random_start": false, "apgd_steps": null, ' \
        '"square_queries": null}'
    attrs = dict(dataset="mnist", model="real-std-s0", spec=spec, record="whitebox-curve", _json_attrs='["spec"]')
    short = write_h5(f"{tmp_path}/short.h5", attrs,
                     {"correct": np.zeros((2, 5), np.uint8), "labels": np.zeros(5, np.int64)})
    with pytest.raises(CorruptFileError, match="one row per eps") as e:
        write_whitebox_table([short], tmp_path / "w.csv")
    assert short in _one_line_error(e)
    noarr = write_h5(f"{tmp_path}/x.h5", attrs, {"labels": np.zeros(5, np.int64)})
    with pytest.raises(CorruptFileError, match="missing array 'correct'") as e:
        write_whitebox_table([noarr], tmp_path / "w.csv")
    assert noarr in str(e.value)
    badname = write_h5(f"{tmp_path}/y.h5", {**attrs, "model": "realstd"},
                       {"correct": np.zeros((3, 5), np.uint8), "labels": np.zeros(5, np.int64)})
    with pytest.raises(CorruptFileError, match="'realstd' is not a model name"):
        write_whitebox_table([badname], tmp_path / "w.csv")


def history_file(tmp_path, dataset, model, mode, clean_acc, final_zeta, epochs=3, train_size=2000) -> str:
    history = {k: np.arange(epochs, dtype=np.float64) for k in
               ("train_loss", "train_penalty", "train_acc", "test_loss", "test_acc", "zeta", "lr")}
    history["epoch"] = np.arange(1, epochs + 1, dtype=np.float64)
    history["test_acc"][-1], history["zeta"][-1] = clean_acc, final_zeta
    path = f"{tmp_path}/models/{dataset}/{model}.h5"
    TrainingHistory(dataset=dataset, model=ModelId.parse(model), arch="small_cnn", mode=mode, epochs=epochs,
                    train_size=train_size, eval_images=2000, history=history).write(path, {})
    return path


def test_training_table(tmp_path):
    paths = [history_file(tmp_path, "fmnist", "complex-gr64-s1", "paper", 84.25, 0.912345),
             history_file(tmp_path, "fmnist", "real-adv0.2-s0", "paper", 80.0, 1.0),
             history_file(tmp_path, "mnist", "real-std-s0", "exact", 98.5, 1.0, epochs=2, train_size=500),
             history_file(tmp_path, "fmnist", "real-gr64-s0", "paper", 82.0, 0.5)]
    df = write_training_table(paths, tmp_path / "h.csv")
    assert df["model"].tolist() == ["real-std-s0", "real-gr64-s0", "real-adv0.2-s0", "complex-gr64-s1"]
    assert (tmp_path / "h.csv").read_text() == (
        "dataset,model,field,defense,beta,adv_eps,seed,mode,epochs,train_size,clean_acc,final_zeta\n"
        "mnist,real-std-s0,real,std,0,0,0,exact,2,500,98.5000,1.0000\n"
        "fmnist,real-gr64-s0,real,gr,64,0,0,paper,3,2000,82.0000,0.5000\n"
        "fmnist,real-adv0.2-s0,real,adv,0,0.2,0,paper,3,2000,80.0000,1.0000\n"
        "fmnist,complex-gr64-s1,complex,gr,64,0,1,paper,3,2000,84.2500,0.9123\n"
    )
    dup = history_file(tmp_path / "other", "fmnist", "real-gr64-s0", "paper", 1.0, 0.5)
    with pytest.raises(CvgrError, match="fmnist real-gr64-s0") as e:
        write_training_table(paths + [dup], tmp_path / "h.csv")
    assert dup in _one_line_error(e)
    noeval = write_h5(f"{tmp_path}/nz.h5", dict(dataset="mnist", model="real-std-s0", arch="mlp", mode="paper",
                                                epochs=1, train_size=10, record="training-history"))
    with pytest.raises(CorruptFileError, match="eval_images") as e:
        write_training_table([noeval], tmp_path / "h.csv")
    assert noeval in str(e.value)
