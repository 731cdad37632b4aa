"""The paper's numbers as packaged data: the good file's content and one clear error per kind of bad row."""
from __future__ import annotations

from pathlib import Path

import pytest

from cvgr.errors import CvgrError
from cvgr.report.paper import CLAIMS, COLUMNS, ORDERINGS, default_path, load_paper_results


@pytest.fixture(scope="module")
def paper():
    return load_paper_results()


def test_the_packaged_file_holds_every_reported_number(paper):
    # transfer: 10 (source, target) rows x 3 datasets x (Std., G.R.) sources; NES: 2 + 2 + 1 reported cells
    assert len(paper.table("transfer")) == 10 * 3 * 2
    assert len(paper.table("nes")) == 5
    assert len(paper) == 65
    assert Path(paper.path) == default_path() and default_path().parent.name == "reference"


@pytest.mark.parametrize("dataset, source_field, source_defense, target, field, defense, accuracy", [
    ("mnist", "real", "std", "self", "real", "std", 22.5),
    ("mnist", "complex", "gr", "second", "complex", "gr", 96.4),
    ("svhn", "real", "gr", "second", "complex", "gr", 41.9),
    ("svhn", "complex", "std", "second", "real", "std", 50.1),
    ("fmnist", "complex", "std", "self", "complex", "std", 1.7),
    ("fmnist", "real", "gr", "second", "real", "gr", 53.8),
    ("fmnist", "complex", "std", "second", "complex", "gr", 74.7),
])
def test_transfer_cells_match_the_paper(paper, dataset, source_field, source_defense, target, field, defense,
                                        accuracy):
    row = paper.get("transfer", dataset, field, defense, source_field=source_field,
                    source_defense=source_defense, target=target)
    assert row is not None and row.accuracy == accuracy and row.attack == "fgsm" and row.steps == 1


def test_transfer_settings_per_dataset(paper):
    settings = {(r.dataset, r.eps, r.gr_beta) for r in paper.table("transfer")}
    assert settings == {("mnist", 0.16, 64.0), ("svhn", 0.10, 32.0), ("fmnist", 0.16, 64.0)}


def test_nes_cells_and_setting(paper):
    cells = {(r.field, r.defense): r.accuracy for r in paper.table("nes")}
    assert cells == {("real", "std"): 0.0, ("real", "gr"): 62.3, ("real", "adv"): 76.3,
                     ("complex", "std"): 0.0, ("complex", "gr"): 68.4}
    assert paper.get("nes", "fmnist", "complex", "adv") is None  # not reported
    for r in paper.table("nes"):
        assert (r.dataset, r.eps, r.steps, r.queries, r.images, r.gr_beta, r.adv_eps) == \
            ("fmnist", 0.16, 8, 4000, 1000, 64.0, 0.2)
        assert r.source_field is r.source_defense is r.target is None


def test_claims_have_stable_unique_ids():
    ids = [c.id for c in CLAIMS + ORDERINGS]
    assert ids[:3] == ["clean-accuracy", "zeta", "robustness"] and len(set(ids)) == len(ids) == 7


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paper.csv"
    path.write_text(text)
    return path


def _good_lines() -> list[str]:
    return default_path().read_text().splitlines()


def _error(path: Path) -> str:
    with pytest.raises(CvgrError) as info:
        load_paper_results(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_missing_file(tmp_path):
    message = _error(tmp_path / "absent.csv")
    assert "no such file" in message and "path=None" in message


@pytest.mark.parametrize("header, problem", [
    (",".join(COLUMNS[:-1]), "missing accuracy"),
    (",".join(COLUMNS) + ",note", "unknown note"),
    (",".join(COLUMNS).replace("gr_beta", "beta"), "missing gr_beta; unknown beta"),
])
def test_wrong_column_set(tmp_path, header, problem):
    lines = _good_lines()
    message = _error(_write(tmp_path, "\n".join([header] + lines[1:3]) + "\n"))
    assert f":1: wrong column set ({problem})" in message and "expected table,dataset" in message


def _with_row_changed(tmp_path: Path, line: int, column: str, value: str) -> Path:
    lines = _good_lines()
    cells = lines[line - 1].split(",")
    cells[COLUMNS.index(column)] = value
    lines[line - 1] = ",".join(cells)
    return _write(tmp_path, "\n".join(lines) + "\n")


@pytest.mark.parametrize("line, column, value, problem", [
    (4, "accuracy", "abc", "accuracy is 'abc', not a number"),
    (5, "accuracy", "101", "accuracy is 101, outside [0, 100]"),
    (6, "eps", "", "eps is empty"),
    (7, "table", "whitebox", "table is 'whitebox'; allowed: transfer, nes"),
    (8, "dataset", "imagenet", "dataset is 'imagenet'; allowed: mnist, svhn, fmnist, cifar10"),
    (9, "field", "quaternion", "field is 'quaternion'; allowed: real, complex"),
    (10, "steps", "1.5", "steps is '1.5', not an integer"),
    (3, "field", "complex", "target is self but field, defense (complex, gr)"),
    (62, "target", "self", "target must be empty in table nes"),
])
def test_bad_row_names_line_problem_and_fix(tmp_path, line, column, value, problem):
    message = _error(_with_row_changed(tmp_path, line, column, value))
    assert f":{line}: {problem}" in message and "Fix:" in message


def test_duplicate_key(tmp_path):
    lines = _good_lines()
    copy = lines[10].split(",")
    copy[COLUMNS.index("accuracy")] = "50.0"
    message = _error(_write(tmp_path, "\n".join(lines + [",".join(copy)]) + "\n"))
    assert f":{len(lines) + 1}: the key" in message and "repeats line 11" in message


def test_wrong_number_of_values(tmp_path):
    lines = _good_lines()
    lines[5] += ",extra"
    assert ":6: 16 values for 15 columns" in _error(_write(tmp_path, "\n".join(lines) + "\n"))
