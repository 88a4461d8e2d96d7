"""The quarterly report: papermill + nbconvert to one self-contained HTML, failures named."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import outcomes.report
from outcomes.cli import main
from outcomes.errors import PeriodError
from outcomes.io import load
from outcomes.metrics import check_period
from outcomes.report import ReportError, ReportParams, render, scrub

from conftest import ATTENDANCE_OK

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "quarterly_report.ipynb"
#: Text that belongs to the machine, never to a published output (issue #11).
MACHINE_TEXT = ("/root", "site-packages", "Traceback", "Warning:", str(ROOT))


def _machine_text_in(folder: Path, data_dir: Path) -> list[tuple[str, str]]:
    """(file, text) for every file under ``folder`` holding a path or a warning of the run."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            for needle in (str(data_dir.resolve()), *MACHINE_TEXT):
                if needle in text:
                    found.append((path.name, needle))
    return found


def tiny_notebook(folder: Path, *extra: str) -> Path:
    """A report notebook of a few cells: parameters, a section whose cell warns with the data
    folder's path and prints to stderr, and a displayed line (kernel start dominates: ~2 s)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell(
        'data_dir = "../data/sample"\nperiod = "2026Q3"\nas_of = None\nthreshold = 11'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny report"),
        params,
        nbformat.v4.new_markdown_cell("## Numbers\n\nWhat the run found."),
        nbformat.v4.new_code_cell(
            "import sys, warnings\n"
            "warnings.warn(f'odd rows in {data_dir}/enrollments.csv')\n"
            "print(f'noise about {data_dir}', file=sys.stderr)\n"
            "print('a line for the reader')"
        ),
        nbformat.v4.new_markdown_cell("## Closing"),
        nbformat.v4.new_code_cell(
            "from IPython.display import Markdown\n"
            "Markdown(f'Period {period}, threshold {threshold}')"
        ),
        *(nbformat.v4.new_code_cell(code) for code in extra),
    ]
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


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


# ``sample_report`` (conftest): the sample's 2026Q3 report, rendered once with a benchmark.


def test_report_is_one_self_contained_html_file(sample_report):
    assert sample_report.name == "report.html" and sample_report.parent.name == "2026Q3"
    assert not (sample_report.parent / "report.ipynb").exists()  # not published (issue #11)
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
        "summary",
        "completion_and_attendance",
        "data_quality_accounting",
        "readmission_kaplan_meier",
        "adjusted_comparison",
        "national_benchmark",
    } <= set(tables)
    figures = list((sample_report.parent / "figures").glob("*.png"))
    assert len(figures) == text.count("<img")
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in figures)


def test_the_published_files_are_the_protected_cells_and_give_nothing_away(sample_report):
    """The tidy CSVs beside the HTML hold the protected cells (numbers as numbers, a status
    per cell), and the attacker, reading only those files, recovers no hidden count."""
    import polars as pl

    import attacker

    folder = sample_report.parent / "tables"
    numeric = dict.fromkeys(("value", "ci_low", "ci_high", "numerator", "denominator"), pl.Float64)
    frames = [
        pl.read_csv(p, infer_schema_length=None, schema_overrides=numeric)
        for p in sorted(folder.glob("*.csv"))
        if not p.stem.startswith(("data_quality", "figure_readmission", "figure_adherence"))
    ]
    cells = pl.concat(frames, how="diagonal_relaxed")
    numbers = {"value", "ci_low", "ci_high", "numerator", "denominator", "status"}
    assert numbers <= set(cells.columns)
    from outcomes.disclosure import STATUSES

    assert set(cells["status"]) <= set(STATUSES)
    assert "complementary" in set(cells["status"])
    cells = cells.with_columns(pl.col("band").cast(pl.String), pl.col("program").cast(pl.String))
    curves = pl.read_csv(folder / "figure_readmission.csv")
    assert attacker.solve(attacker.build(cells, 11, curves)) == []


def test_every_figure_publishes_the_data_it_draws(sample_report):
    """Issue #11: each figure's plotted data is a CSV beside the tables, and it is what the
    chart shows: the trend's points are published trend cells, the readmission curves'
    numbers still followed are the readmission table's."""
    import polars as pl

    folder = sample_report.parent
    names = {p.stem for p in (folder / "figures").glob("*.png")}
    assert names == {
        "trend",
        "completion",
        "length_of_stay",
        "adherence",
        "discharge_reasons",
        "readmission",
        "overlap",
    }
    assert {f"figure_{n}" for n in names} <= {p.stem for p in (folder / "tables").glob("*.csv")}
    trend = pl.read_csv(folder / "tables" / "figure_trend.csv")
    assert trend["table"].unique().to_list() == ["trend"]
    assert trend["period"].n_unique() == 8 and trend["period"].max() == "2026Q3"
    drawn = trend.filter(pl.col("status") == "published")
    assert (
        drawn.height
        and (drawn["numerator"] / drawn["denominator"] - drawn["value"]).abs().max() < 1e-12
    )
    curves = pl.read_csv(folder / "tables" / "figure_readmission.csv")
    km = pl.read_csv(folder / "tables" / "readmission_kaplan_meier.csv")
    followed = curves.filter(pl.col("part") == "at_risk", pl.col("status") == "published")
    for r in followed.iter_rows(named=True):
        cell = km.filter(
            pl.col("program") == r["program"],
            pl.col("measure") == f"readmission_by_{int(r['time'])}d",
        )
        assert cell["denominator"].to_list() in ([r["at_risk"]], []), r
    steps = curves.filter(pl.col("part") == "step")
    assert steps["estimate"].is_between(0, 1).all()
    assert ((steps["estimate"] * 1000).round(6) % 1 == 0).all()  # 0.1 percentage point
    assert set(pl.read_csv(folder / "tables" / "figure_adherence.csv").columns) == {
        "program",
        "week",
        "attendance_rate",
        "mean_weekly_hours",
        "status",
    }


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
    counts = ("value", "numerator", "denominator", "at_risk")  # weeks and days are not counts
    csv_cells = [
        row[column]
        for path in (html.parent / "tables").glob("*.csv")
        for row in csv.DictReader(path.open(encoding="utf-8"))
        for column in counts
        if column in row
    ]
    assert csv_cells and not [c for c in csv_cells if re.fullmatch(r"\s*([1-9]|10)\s*", c)]


def test_the_published_report_holds_nothing_from_the_machine(sample_report, sample_dir):
    """Issue #11: no data folder path, home, site-packages, traceback or warning text."""
    assert _machine_text_in(sample_report.parent, sample_dir) == []


def test_a_failing_cell_is_named(tmp_path, write_dataset):
    broken = tiny_notebook(tmp_path, "ratio = 1 / 0").rename(tmp_path / "broken.ipynb")
    out = tmp_path / "reports"
    with pytest.raises(ReportError) as err:
        render(
            ReportParams(period="2025Q1", data_dir=str(write_dataset())),
            out_dir=out,
            notebook=broken,
            progress=lambda stage: None,
        )
    message = str(err.value)
    assert "ZeroDivisionError" in message and "'ratio = 1 / 0'" in message
    assert re.search(r"cell \d+ of broken\.ipynb", message)
    assert "--keep-notebook" in message
    assert not out.exists()  # nothing published


def test_warnings_go_to_the_log_not_into_the_outputs(tmp_path, write_dataset, capfd):
    data = write_dataset()
    notebook = tiny_notebook(tmp_path)
    stages: list[str] = []
    html = render(
        ReportParams(period="2025Q1", data_dir=str(data)),
        out_dir=tmp_path / "reports",
        notebook=notebook,
        progress=stages.append,
    )
    err = capfd.readouterr().err
    # the user still sees what the cells wrote to stderr, in the terminal ...
    assert "UserWarning: odd rows in" in err and "noise about" in err
    assert "without encryption" not in err  # ipykernel's TCP warning: encrypted or silenced
    # ... and none of it is published; nor is the executed notebook
    folder = html.parent
    assert not (folder / "report.ipynb").exists()
    assert _machine_text_in(folder, data) == []
    text = html.read_text(encoding="utf-8")
    assert "Period 2025Q1, threshold 11" in text and "a line for the reader" in text
    assert "odd rows" not in text and "noise about" not in text
    assert stages[:3] == [
        "loading the data",
        "checking the period 2025Q1",
        "starting the notebook's kernel",
    ]
    assert "running the notebook: setting up (cell 1/7)" in stages  # 6 cells + injected one
    assert "running the notebook: Numbers (cell 4/7)" in stages
    assert "running the notebook: Closing (cell 6/7)" in stages
    assert {"rendering HTML", "writing tables and figures", "printing the PDF"} <= set(stages)


def test_a_kept_notebook_is_scrubbed(tmp_path, write_dataset):
    data = write_dataset()
    html = render(
        ReportParams(period="2025Q1", data_dir=str(data)),
        out_dir=tmp_path / "reports",
        notebook=tiny_notebook(tmp_path),
        keep_notebook=True,
        progress=lambda stage: None,
    )
    kept = html.parent / "report.ipynb"
    nb = nbformat.read(kept, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'data_dir = "<data>"' in injected[0].source
    assert not {"parameters", "input_path", "output_path"} & set(nb.metadata["papermill"])
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert outputs and not [o for o in outputs if o.get("name") == "stderr"]
    assert _machine_text_in(html.parent, data) == []


def test_scrub_removes_stderr_paths_and_papermill_paths(tmp_path):
    data = tmp_path / "secret-export"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(f'data_dir = "{data}"')
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=f"{data}/x.csv: Warning: odd\n"),
        nbformat.v4.new_output("stream", name="stdout", text="kept\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": f"read {data}"}),
    ]
    nb.cells = [cell]
    nb.metadata["papermill"] = {
        "parameters": {"data_dir": str(data)},
        "input_path": "/home/me/notebooks/q.ipynb",
        "output_path": "/tmp/x/report.ipynb",
        "duration": 1.5,
    }
    assert scrub(nb, data) == [f"{data}/x.csv: Warning: odd\n"]
    assert [o.get("name") for o in cell.outputs] == ["stdout", None]
    assert cell.source == 'data_dir = "<data>"'
    assert cell.outputs[1].data["text/plain"] == "read <data>"
    assert nb.metadata["papermill"] == {"duration": 1.5}
    table = tmp_path / "teds" / "benchmarks.csv"
    nb.cells = [nbformat.v4.new_code_cell(f'benchmarks = "{table}"\ndata_dir = "{data}"')]
    scrub(nb, data, table)
    assert nb.cells[0].source == 'benchmarks = "benchmarks.csv"\ndata_dir = "<data>"'


def test_params_are_checked():
    with pytest.raises(ValueError, match="2026Q3"):
        ReportParams(period="2026-Q3")
    with pytest.raises(ValueError, match="threshold"):
        ReportParams(period="2026Q3", threshold=0)
    assert ReportParams(period="2026Q3").notebook_parameters()["period"] == "2026Q3"


def test_a_threshold_below_11_needs_the_explicit_override():
    with pytest.raises(ValueError, match="allow_low_threshold"):
        ReportParams(period="2026Q3", threshold=1)
    with pytest.raises(ValueError, match="CMS"):
        ReportParams(period="2026Q3", threshold=10)
    low = ReportParams(period="2026Q3", threshold=1, allow_low_threshold=True)
    assert low.notebook_parameters()["threshold"] == 1
    assert "allow_low_threshold" not in low.notebook_parameters()  # not a notebook parameter
    assert ReportParams(period="2026Q3", threshold=20).threshold == 20  # higher: always
    with pytest.raises(ValueError, match="at least 1"):
        ReportParams(period="2026Q3", threshold=0, allow_low_threshold=True)


def test_cli_threshold_override(tmp_path, capsys, monkeypatch):
    rendered = []

    def fake_render(params, **kwargs):
        rendered.append(params)
        return tmp_path / params.period / "report.html"

    monkeypatch.setattr(outcomes.report, "render", fake_render)
    args = ["report", "--period", "2026Q3", "--out", str(tmp_path), "--threshold", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--allow-low-threshold" in err and len(err.strip().splitlines()) == 1  # not loaded
    assert rendered == []
    assert main([*args, "--allow-low-threshold"]) == 0
    assert main(["report", "--period", "2026Q3", "--out", str(tmp_path), "--threshold", "15"]) == 0
    assert [(p.threshold, p.allow_low_threshold) for p in rendered] == [(1, True), (15, False)]


def test_check_period(write_dataset):
    """The hand-made dataset: discharges 2025-02-10, 03-07, 04-18; data through 2025-05-01."""
    ds = load(write_dataset(), on_error="exclude")
    check_period(ds, "2025Q1", require_full=True)
    check_period(ds, "2024Q2-2025Q1", require_full=True)  # a trailing year the data starts in
    check_period(ds, "2025Q2")  # not over yet, but it has a discharge: fine for metrics
    check_period(ds, None)
    with pytest.raises(PeriodError) as err:
        check_period(ds, "2025Q2", require_full=True)
    assert str(err.value) == (
        "2025Q2 ends after the data's as-of date 2025-05-01; the last full quarter is 2025Q1"
    )
    with pytest.raises(PeriodError, match="2025Q3 starts after the data's as-of date"):
        check_period(ds, "2025Q3")
    with pytest.raises(PeriodError, match="no episode was discharged in 2024Q4: the data's"):
        check_period(ds, "2024Q4")
    with pytest.raises(PeriodError, match="no episode was discharged in 2025Q1"):
        check_period(ds, "2025Q1", as_of="2025-01-31")  # discharges after as_of do not count
    with pytest.raises(ValueError, match="2026Q3"):
        check_period(ds, "2025-Q3")


def test_cli_report_exit_codes(tmp_path, write_dataset, capsys):
    assert main(["report", "--period", "26Q3", "--out", str(tmp_path)]) == 2
    assert "2026Q3" in capsys.readouterr().err
    refused = write_dataset(attendance=None)
    assert (
        main(["report", "--period", "2026Q3", "--data", str(refused), "--out", str(tmp_path)]) == 2
    )
    assert main(["report", "--period", "2026Q3", "--as-of", "30/09/2026"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (
            "2026Q4",
            "2026Q4 ends after the data's as-of date 2026-09-30; the last full quarter is 2026Q3",
        ),
        (
            "2023Q1",
            "no episode was discharged in 2023Q1: the data's discharges run from "
            "2024-01-01 to 2026-09-30",
        ),
    ],
)
def test_cli_report_refuses_a_period_without_data(period, message, sample_dir, tmp_path, capsys):
    """Issue #10: exit 1 with one line, before any kernel starts; nothing is written."""
    out = tmp_path / "reports"
    args = ["report", "--period", period, "--data", str(sample_dir), "--out", str(out)]
    assert main(args) == 1
    captured = capsys.readouterr()
    errors = [ln for ln in captured.err.splitlines() if not re.match(r"\[ *\d+\.\ds\] ", ln)]
    assert errors == [f"outcomes: {message}"]
    assert captured.out == ""
    assert not out.exists()


def test_cli_report_says_each_stage(tmp_path, write_dataset, capfd, monkeypatch):
    """Run from a folder whose notebooks/quarterly_report.ipynb is the tiny notebook."""
    (tmp_path / "notebooks").mkdir()
    tiny_notebook(tmp_path).rename(tmp_path / "notebooks" / "quarterly_report.ipynb")
    data = write_dataset()
    monkeypatch.chdir(tmp_path)
    args = ["report", "--period", "latest", "--data", str(data), "--out", "out", "--keep-notebook"]
    assert main(args) == 0
    captured = capfd.readouterr()
    assert captured.out.startswith("wrote out/2025Q1/report.html")
    stages = [ln for ln in captured.err.splitlines() if ln.startswith("[")]
    assert all(re.match(r"\[ *\d+\.\ds\] \S", ln) for ln in stages)
    said = [ln.split("] ", 1)[1] for ln in stages]
    assert said[:3] == [
        "loading the data",
        "checking the period 2025Q1",
        "starting the notebook's kernel",
    ]
    assert "running the notebook: Numbers (cell 4/7)" in said
    assert said[-1] == "done: out/2025Q1/report.html"
    assert "without encryption" not in captured.err
    assert "UserWarning: odd rows in" in captured.err  # the log has the warning ...
    assert _machine_text_in(tmp_path / "out", data) == []  # ... the outputs do not
    assert (tmp_path / "out" / "2025Q1" / "report.ipynb").exists()


@pytest.mark.skipif(
    __import__("shutil").which("chromium") is None, reason="no Chromium: the PDF is optional"
)
def test_pdf_is_printed_when_chromium_is_present(sample_report):
    pdf = sample_report.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 20_000  # figures and tables, not an empty page


def test_a_messy_export_renders(tmp_path):
    """An export with the mistakes real ones have (synth --messy) renders end to end; its
    data-quality appendix marks a kept-row count that protects a small excluded one as (c),
    not as '<11' (issue #10), and nothing from the machine is published."""
    from outcomes import synth

    data = synth.write(synth.generate(400, seed=11), tmp_path / "messy", messy=True, seed=11)
    html = render(
        ReportParams(period="2026Q3", data_dir=str(data)),
        out_dir=tmp_path / "reports",
        notebook=NOTEBOOK,
        progress=lambda stage: None,
    )
    text = html.read_text(encoding="utf-8")
    assert "Rows read, kept and excluded per file" in text
    assert "Data problems by file and rule" in text
    assert "(c)" in text
    assert _machine_text_in(html.parent, data) == []
