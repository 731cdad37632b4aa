"""HTML pages of the Markdown tables, for the HTML report (``snakemake --report``).

The report shows images and HTML inline and offers every other file as a
download, so each table's Markdown (the paper's layout, with its setting
line and its evidence) is also rendered to a small standalone HTML page:
Python-Markdown with its ``tables`` extension, a short style sheet, nothing
fetched from the network. The page is written atomically and is
byte-identical for the same Markdown.
"""
from __future__ import annotations

import html
import os

import markdown

from ..results.io import atomic_output

_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1.5em; color: #1f2937; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #cbd5e1; padding: 3px 8px; text-align: left; }
th { background: #f1f5f9; }
tr:nth-child(even) td { background: #f8fafc; }
code { background: #f1f5f9; padding: 0 3px; }
"""


def markdown_page(md_path: str | os.PathLike, html_out: str | os.PathLike) -> None:
    """Render the Markdown file ``md_path`` to a standalone HTML page at ``html_out``."""
    with open(md_path) as fh:
        text = fh.read()
    title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")),
                 os.path.basename(os.fspath(md_path)))
    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
    with atomic_output(html_out) as tmp:
        tmp.write_text(page)
