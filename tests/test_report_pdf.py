"""The quarterly report's PDF (issue #10): every column of every table printed, nothing cut off
or wrapped mid-number, the report's title, page numbers, no nearly empty page.

The PDF is printed by headless Chromium (``to_pdf``) and read back with poppler's ``pdftotext
-bbox`` (words with their boxes) and ``pdftoppm`` (pixels). Without Chromium the report has no
PDF and these tests are skipped; CI installs it (``.ci/run``).
"""

from __future__ import annotations

import html as _html
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from outcomes.report import to_html, to_pdf

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "quarterly_report.ipynb"
TITLE = "Quarterly outcomes report: 2026Q3"
MM = 72 / 25.4  # PDF points per millimetre

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
    reason="no Chromium browser (chromium) on the PATH, so no PDF to test: "
    "apt-get install chromium poppler-utils (CI's .ci/run does)",
)


@dataclass
class Page:
    width: float
    height: float
    words: list[tuple[float, float, float, float, str]]  # xMin, yMin, xMax, yMax, text

    @property
    def text(self) -> str:
        return " ".join(w[4] for w in self.words)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (Debian package poppler-utils) is needed to read the PDF")
    return path


def read_pdf(pdf: Path) -> tuple[str, list[Page]]:
    """The PDF's title (metadata) and its pages' words, from ``pdftotext -bbox``."""
    out = subprocess.run(
        [_tool("pdftotext"), "-bbox", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    title = re.search(r"<title>(.*?)</title>", out, re.S)
    pages = []
    for attrs, body in re.findall(r"<page ([^>]*)>(.*?)</page>", out, re.S):
        size = dict(re.findall(r'(\w+)="([\d.]+)"', attrs))
        words = [
            (float(a), float(b), float(c), float(d), _html.unescape(t))
            for a, b, c, d, t in re.findall(
                r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">'
                r"(.*?)</word>",
                body,
            )
        ]
        pages.append(Page(float(size["width"]), float(size["height"]), words))
    return _html.unescape(title[1]) if title else "", pages


def content_bottoms(pdf: Path, tmp_path: Path) -> list[float]:
    """Per page, how far down its content reaches (0 top, 1 bottom), the running footer in the
    bottom margin left out: the lowest row of pixels with ink above it."""
    prefix = tmp_path / "page"
    subprocess.run(
        [_tool("pdftoppm"), "-gray", "-r", "30", str(pdf), str(prefix)],
        check=True,
        capture_output=True,
    )
    bottoms = []
    for path in sorted(tmp_path.glob("page-*.pgm"), key=lambda p: int(p.stem.split("-")[-1])):
        data = path.read_bytes()
        magic, width, height, maxval, pixels = data.split(maxsplit=4)
        assert magic == b"P5" and maxval == b"255"
        w, h = int(width), int(height)
        footer_top = h - round(16 * MM / 72 * 30)  # the bottom margin (16 mm) holds the footer
        inked = [y for y in range(footer_top) if min(pixels[y * w : (y + 1) * w]) < 200]
        bottoms.append((max(inked) + 1) / h if inked else 0.0)
    return bottoms


class _Tables(HTMLParser):
    """The text of every cell (th and td, whatever tags are inside) of every table."""

    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self._cell: list[str] | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._cell = []
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        self._in_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data


def number_tokens(cells: list[str]) -> Counter:
    """Every whitespace-separated piece with a digit in it, of every cell with a digit."""
    return Counter(tok for cell in cells for tok in cell.split() if re.search(r"\d", tok))


@pytest.fixture(scope="module")
def sample_report(sample_report):
    """The session's sample report (conftest, with a benchmark table): HTML and PDF."""
    html = sample_report
    pdf = html.with_suffix(".pdf")
    assert pdf.exists(), "Chromium is installed but no report.pdf was printed"
    return html, pdf


@pytest.fixture(scope="module")
def sample_pdf(sample_report):
    return read_pdf(sample_report[1])


def test_every_number_of_every_table_is_printed_whole(sample_report, sample_pdf):
    """A column cut off at the page's edge, hidden behind a scrollbar or a number wrapped
    mid-way (``(42.7-`` / ``55.9)``) all lose pieces of the table's text in the PDF."""
    html, _ = sample_report
    tables = _Tables()
    tables.feed(html.read_text(encoding="utf-8"))
    wanted = number_tokens(tables.cells)
    assert sum(wanted.values()) > 100, "the report's tables were found"
    _, pages = sample_pdf
    printed = Counter(w[4] for page in pages for w in page.words)
    missing = wanted - printed
    assert not missing, f"table numbers missing from the PDF's text: {sorted(missing)[:20]}"
    for n, page in enumerate(pages, 1):
        outside = [w[4] for w in page.words if w[0] < -0.5 or w[2] > page.width + 0.5]
        assert not outside, f"page {n} prints words past its edge: {outside[:10]}"


def test_pdf_and_html_carry_the_reports_title(sample_report, sample_pdf):
    html, _ = sample_report
    parsed = _Tables()
    parsed.feed(html.read_text(encoding="utf-8"))
    assert parsed.title.strip() == TITLE
    title, pages = sample_pdf
    assert title == TITLE  # the PDF's metadata: Chromium takes the HTML's <title>
    assert pages[0].text.startswith(TITLE)


def test_every_page_is_numbered_with_the_title_in_its_footer(sample_pdf):
    _, pages = sample_pdf
    assert len(pages) > 1
    for n, page in enumerate(pages, 1):
        footer = " ".join(w[4] for w in page.words if w[1] > page.height - 16 * MM)
        assert f"Page {n} of {len(pages)}" in footer, f"page {n}'s footer: {footer!r}"
        assert TITLE in footer, f"page {n}'s footer: {footer!r}"


def test_no_page_but_the_last_is_nearly_empty(sample_report, tmp_path):
    """A page is cut short when what follows is kept whole and does not fit (a heading kept
    with its table, a table kept whole): that may leave a gap, never a nearly blank page."""
    bottoms = content_bottoms(sample_report[1], tmp_path)
    short = {n: round(b, 2) for n, b in enumerate(bottoms[:-1], 1) if b < 0.45}
    assert not short, f"pages whose content ends this high up (fraction of the page): {short}"


def _figure(name: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<figure class="outcomes-table" data-name="{name}"><figcaption><strong>{name}'
        f"</strong></figcaption><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f'</table><ul class="outcomes-notes"><li>A note.</li></ul></figure>'
    )


def test_a_table_too_wide_for_portrait_prints_on_a_landscape_page(tmp_path):
    """Any table, not today's: 14 columns of rates with intervals need more than a portrait
    page at the smallest table font, so they get a landscape page; a small table does not."""
    wide_header = ["program"] + [f"rate in period {i}" for i in range(1, 14)]
    wide_rows = [
        [f"program {r}"]
        + [f"{40 + r}.{i % 10}% ({30 + r}.{i % 10}-{50 + r}.{i % 10})" for i in range(13)]
        for r in range(6)
    ]
    small = _figure("small", ["program", "episodes"], [["iop", "215"], ["residential", "195"]])
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Synthetic report: 2030Q1\n\nSome text."),
        nbformat.v4.new_code_cell(
            "t",
            outputs=[nbformat.v4.new_output("display_data", data={"text/html": small})],
        ),
        nbformat.v4.new_code_cell(
            "t",
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"text/html": _figure("wide", wide_header, wide_rows)}
                )
            ],
        ),
        nbformat.v4.new_markdown_cell("## After the table\n\nMore text."),
    ]
    executed = tmp_path / "report.ipynb"
    nbformat.write(nb, executed)
    page = to_html(executed)
    assert "<title>Synthetic report: 2030Q1</title>" in page
    assert re.search(r'<figure class="wide outcomes-table" data-name="wide">', page)
    assert re.search(r'<figure class="outcomes-table" data-name="small">', page)
    assert '<span class="nobr">(30.0-50.0)</span>' in page

    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    pdf = to_pdf(html)
    assert pdf is not None and pdf.exists()
    title, pages = read_pdf(pdf)
    assert title == "Synthetic report: 2030Q1"
    landscape = [n for n, p in enumerate(pages, 1) if p.width > p.height]
    portrait = [n for n, p in enumerate(pages, 1) if p.width < p.height]
    assert landscape and portrait and portrait[0] == 1
    landscape_words = Counter(w[4] for n in landscape for w in pages[n - 1].words)
    wanted = number_tokens([c for row in wide_rows for c in row])
    assert not wanted - landscape_words, "the wide table is whole on its landscape page"
    assert "215" in pages[0].text.split()
