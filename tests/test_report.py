"""The quarterly report: papermill + nbconvert to one self-contained HTML, failures named."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from outcomes.cli import main
from outcomes.report import ReportError, ReportParams, render

from conftest import ATTENDANCE_OK

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "quarterly_report.ipynb"


class _Cells(HTMLParser):
    """Collects script tags, external resources and the cells of published tables."""

    def __init__(self):
        super().__init__()
        self.scripts, self.external, self.cells, self._in = 0, [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])
        if tag == "figure" and "outcomes-table" in attrs.get("class", ""):
            self._in += 1
        if tag == "td" and self._in:
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag == "figure" and self._in:
            self._in -= 1

    def handle_data(self, data):
        if self._in and self.cells and self.lasttag == "td":
            self.cells[-1] += data


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory, sample_dir):
    out = tmp_path_factory.mktemp("reports")
    html = render(
        ReportParams(period="2026Q3", data_dir=str(sample_dir)), out_dir=out, notebook=NOTEBOOK
    )
    return html


def test_report_is_one_self_contained_html_file(sample_report):
    assert sample_report.name == "report.html" and sample_report.parent.name == "2026Q3"
    assert (sample_report.parent / "report.ipynb").exists()
    parsed = _Cells()
    parsed.feed(sample_report.read_text(encoding="utf-8"))
    assert parsed.scripts == 0
    assert parsed.external == []
    text = sample_report.read_text(encoding="utf-8")
    assert "Quarterly outcomes report: 2026Q3" in text
    assert "Rows read, kept and excluded per file" in text
    assert "import outcomes" not in text  # no code in the report
    assert "notebook-only" not in text and "This notebook is the quarterly report" not in text
    tables = sorted(p.stem for p in (sample_report.parent / "tables").glob("*.csv"))
    assert {
        "key_figures",
        "completion_and_attendance",
        "data_quality_accounting",
        "readmission_kaplan_meier",
        "adjusted_comparison",
    } <= set(tables)
    figures = list((sample_report.parent / "figures").glob("*.png"))
    assert len(figures) == text.count("<img")
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in figures)


def test_small_counts_never_reach_the_report(write_dataset, tmp_path):
    """4 episodes, 9 sessions (1 unknown episode): every count is under 11, so none shows."""
    folder = write_dataset(attendance=ATTENDANCE_OK + "E9,2025-01-06,attended,group,3\n")
    html = render(
        ReportParams(period="2025Q1", data_dir=str(folder)), out_dir=tmp_path, notebook=NOTEBOOK
    )
    parsed = _Cells()
    parsed.feed(html.read_text(encoding="utf-8"))
    assert parsed.cells, "the published tables were found"
    small = [c for c in parsed.cells if re.fullmatch(r"\s*([1-9]|10)\s*", c)]
    assert small == []
    assert "<11" in parsed.cells
    csv_cells = [
        cell
        for path in (html.parent / "tables").glob("*.csv")
        for row in csv.reader(path.open(encoding="utf-8"))
        for cell in row
    ]
    assert csv_cells and not [c for c in csv_cells if re.fullmatch(r"\s*([1-9]|10)\s*", c)]


def test_a_failing_cell_is_named(tmp_path, sample_dir):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("ratio = 1 / 0"))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, broken)
    with pytest.raises(ReportError) as err:
        render(
            ReportParams(period="2026Q3", data_dir=str(sample_dir)),
            out_dir=tmp_path,
            notebook=broken,
        )
    message = str(err.value)
    assert "ZeroDivisionError" in message and "'ratio = 1 / 0'" in message
    assert re.search(r"cell \d+ of broken\.ipynb", message)


def test_params_are_checked():
    with pytest.raises(ValueError, match="2026Q3"):
        ReportParams(period="2026-Q3")
    with pytest.raises(ValueError, match="threshold"):
        ReportParams(period="2026Q3", threshold=0)
    assert ReportParams(period="2026Q3").notebook_parameters()["period"] == "2026Q3"


def test_cli_report_exit_codes(tmp_path, write_dataset, capsys):
    assert main(["report", "--period", "26Q3", "--out", str(tmp_path)]) == 2
    assert "2026Q3" in capsys.readouterr().err
    refused = write_dataset(attendance=None)
    assert (
        main(["report", "--period", "2026Q3", "--data", str(refused), "--out", str(tmp_path)]) == 2
    )


@pytest.mark.skipif(
    __import__("shutil").which("chromium") is None, reason="no Chromium: the PDF is optional"
)
def test_pdf_is_printed_when_chromium_is_present(sample_report):
    pdf = sample_report.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 20_000  # figures and tables, not an empty page
