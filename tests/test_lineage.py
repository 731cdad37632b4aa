"""cvgr.results.lineage: provenance sidecars of tables and figures, and the chain through them to the raw files."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import cvgr.results.io as cio
from cvgr.errors import CorruptFileError, CvgrError
from cvgr.results.lineage import config_slice, lineage_chain, read_sidecar, write_sidecars
from cvgr.study.codehash import code_hash


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def chain(tmp_path, monkeypatch):
    """raw.bin -> r.h5 (a result) -> t.csv, t.md (a table) -> t.html (a page), in tmp_path as the working dir."""
    monkeypatch.chdir(tmp_path)
    Path("raw.bin").write_bytes(b"raw bytes")
    cio.write_h5("r.h5", {"x": np.arange(3)}, {}, cio.make_provenance("transfer", {"eps": 0.16}, ["raw.bin"]))
    Path("t.csv").write_text("a,b\n1,2\n")
    Path("t.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    config = {"rule": "t_table", "wildcards": {}, "datasets": {"fmnist": {"transfer": {"eps": 0.16}}}}
    write_sidecars(["t.csv", "t.md"], ["r.h5"], config)
    Path("t.html").write_text("<table></table>\n")
    write_sidecars(["t.html"], ["t.md"], {"rule": "t_page", "wildcards": {}, "datasets": {}})
    return tmp_path


def test_sidecar_records_own_hash_inputs_code_and_config(chain):
    before = Path("t.csv").read_bytes()
    side = read_sidecar("t.csv")
    assert Path("t.csv").read_bytes() == before  # the table itself is left as it was
    assert (side["file"], side["sha256"]) == ("t.csv", sha(Path("t.csv")))
    prov = side["provenance"]
    assert (prov["stage"], prov["code_hash"]) == ("tables", code_hash("tables"))
    assert prov["config"]["datasets"] == {"fmnist": {"transfer": {"eps": 0.16}}}
    config_json = json.dumps(prov["config"], sort_keys=True, separators=(",", ":"))
    assert prov["config_hash"] == hashlib.sha256(config_json.encode()).hexdigest()
    [rec] = prov["inputs"]
    assert (rec["path"], rec["sha256"]) == ("r.h5", sha(Path("r.h5")))
    assert rec["provenance"]["inputs"][0]["sha256"] == sha(Path("raw.bin"))
    assert read_sidecar("t.md")["sha256"] == sha(Path("t.md"))


def test_a_page_nests_the_sidecar_of_the_table_it_shows(chain):
    [rec] = read_sidecar("t.html")["provenance"]["inputs"]
    assert (rec["path"], rec["sha256"]) == ("t.md", sha(Path("t.md")))
    assert rec["provenance"] == read_sidecar("t.md")["provenance"]
    lines = lineage_chain("t.html").splitlines()
    assert [line.lstrip("├└─│ ").split()[0] for line in lines] == ["t.html", "t.md", "r.h5", "raw.bin"]
    assert all("  ok" in line for line in lines)


def test_chain_reports_a_changed_table_and_a_changed_input(chain):
    assert lineage_chain("t.csv").splitlines()[0].startswith("t.csv  ok  [tables]")
    Path("t.csv").write_text("a,b\n1,3\n")
    head = lineage_chain("t.csv").splitlines()[0]
    assert "CHANGED since it was written" in head and read_sidecar("t.csv")["sha256"][:12] in head
    Path("raw.bin").write_bytes(b"other")
    assert "CHANGED since it was used" in lineage_chain("t.md").splitlines()[-1]


def test_missing_and_corrupt_sidecars(chain):
    Path("plain.csv").write_text("x\n")
    with pytest.raises(CvgrError, match=r"plain.csv carries no cvgr provenance.*plain.csv.prov.json"):
        lineage_chain("plain.csv")
    Path("t.csv.prov.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="t.csv.prov.json"):
        lineage_chain("t.csv")
    with pytest.raises(CvgrError, match="gone.csv does not exist"):
        lineage_chain("gone.csv")


def test_results_other_than_tables_keep_their_own_chain(chain):
    assert lineage_chain("r.h5") == cio.provenance_chain("r.h5")


def test_config_slice_takes_the_named_sections_of_the_chosen_datasets():
    config = {"datasets": {"fmnist": {"transfer": {"eps": 0.16}, "nes": {"q": 8}, "betas": [0, 64]},
                           "mnist": {"transfer": {"eps": 0.2}}}}
    assert config_slice(config, ["nes"]) == {"fmnist": {"nes": {"q": 8}}}  # mnist has no nes section
    assert config_slice(config, ["transfer", "betas"], ["fmnist"]) == \
        {"fmnist": {"transfer": {"eps": 0.16}, "betas": [0, 64]}}


def test_a_shared_input_is_expanded_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("raw.bin").write_bytes(b"raw")
    cio.write_h5("d.h5", {"x": np.arange(2)}, {}, cio.make_provenance("prepare", {}, ["raw.bin"]))
    for name in ("r1.h5", "r2.h5"):  # two results of the same data file, like two transfer cells
        cio.write_h5(name, {"x": np.arange(2)}, {}, cio.make_provenance("transfer", {"n": name}, ["d.h5"]))
    Path("t.csv").write_text("x\n")
    write_sidecars(["t.csv"], ["r1.h5", "r2.h5"], {"rule": "t"})
    lines = [line.lstrip("├└─│ ") for line in lineage_chain("t.csv").splitlines()]
    assert [line.split()[0] for line in lines] == ["t.csv", "r1.h5", "d.h5", "raw.bin", "r2.h5", "d.h5"]
    assert lines[-1].endswith("(inputs as above)") and "[prepare]" in lines[-1]
    assert not lines[2].endswith("(inputs as above)")
