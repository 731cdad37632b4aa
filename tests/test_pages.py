"""The report's HTML pages of the Markdown tables (cvgr.report.pages)."""
from __future__ import annotations

from html.parser import HTMLParser

from cvgr.report.pages import markdown_page

MD = """# Black-box transfer (FGSM, eps 0.16)

Setting: 2000 images; accuracy in %, 95% interval in brackets.

| Source | R (Std.) | C (G.R.) <1> |
|---|---|---|
| R (Std.) | 12.3 [10.9, 13.8] | 70.1 [68.0, 72.1] |
| C (G.R.) | 55.0 | 35.5 |
"""


class _Cells(HTMLParser):
    """Rows of the first table as lists of cell texts, and the page title."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.title = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th", "title"):
            self._in = tag
            if tag != "title":
                self.rows[-1].append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in:
            self.rows[-1][-1] += data


def test_page_holds_the_table_cells_title_and_setting(tmp_path):
    (tmp_path / "t.md").write_text(MD)
    markdown_page(tmp_path / "t.md", tmp_path / "t.html")
    page = (tmp_path / "t.html").read_text()
    cells = _Cells()
    cells.feed(page)
    assert cells.title == "Black-box transfer (FGSM, eps 0.16)"
    assert cells.rows == [["Source", "R (Std.)", "C (G.R.) <1>"],
                          ["R (Std.)", "12.3 [10.9, 13.8]", "70.1 [68.0, 72.1]"],
                          ["C (G.R.)", "55.0", "35.5"]]
    assert "Setting: 2000 images" in page
    assert "http" not in page  # standalone: nothing fetched from the network


def test_page_is_byte_identical_on_rerun_and_leaves_no_temporary(tmp_path):
    (tmp_path / "t.md").write_text(MD)
    markdown_page(tmp_path / "t.md", tmp_path / "a.html")
    markdown_page(tmp_path / "t.md", tmp_path / "b.html")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html", "t.md"]
