"""Notebooks: committed without outputs, thin (no logic), they run on the sample data from the
repository root or from notebooks/, and they report what the report reports for their period."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import nbformat
import papermill as pm
import polars as pl
import pytest

import outcomes
from outcomes import compare
from outcomes.metrics import period_bounds

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_STATEMENTS = 5
PARAMETERS = {"data_dir", "period", "as_of", "threshold"}
PERIOD = "2026Q3"
COMPARISON = ROOT / "notebooks" / "04_iop_vs_residential.ipynb"


def code_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    return nb, [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    _, cells = code_cells(path)
    for cell in cells:
        assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin(path):
    """No def, class or loop, at most a few statements a cell: logic lives in src/outcomes."""
    nb, cells = code_cells(path)
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    names = {
        t.id
        for node in ast.parse(tagged[0].source).body
        for t in getattr(node, "targets", [])
        if isinstance(t, ast.Name)
    }
    if path.name == "quarterly_report.ipynb":  # the report's: exactly ReportParams' names
        from outcomes.report import ReportParams

        assert names == set(ReportParams(period=PERIOD).notebook_parameters())
    else:
        assert names == PARAMETERS
    assert nb.cells[0].cell_type == "markdown", "opens with a Markdown purpose cell"
    for cell in cells:
        if cell is tagged[0]:
            continue
        tree = ast.parse(cell.source)
        banned = (
            ast.FunctionDef,
            ast.AsyncFunctionDef,
            ast.ClassDef,
            ast.For,
            ast.While,
            ast.Lambda,
        )
        assert not [n for n in ast.walk(tree) if isinstance(n, banned)], cell.source
        assert len(tree.body) <= MAX_STATEMENTS, cell.source


def execute(path: Path, out: Path, cwd: Path, **parameters) -> nbformat.NotebookNode:
    """Any failing cell fails the test (papermill raises PapermillExecutionError)."""
    pm.execute_notebook(
        str(path),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(cwd),
        execution_timeout=300,
        progress_bar=False,
    )
    return nbformat.read(out, as_version=4)


@pytest.fixture(scope="module")
def executed(tmp_path_factory, sample_dir):
    """Each notebook run once for this module. The analysis notebooks (01-04) run from the
    repository root with period 2026Q3 and their default ``data_dir`` (None: the bundled
    sample); the report notebook from notebooks/ with the sample's path."""
    done: dict[Path, nbformat.NotebookNode] = {}

    def run(path: Path) -> nbformat.NotebookNode:
        if path not in done:
            out = tmp_path_factory.mktemp("executed") / path.name
            if path.name[:2].isdigit():
                done[path] = execute(path, out, ROOT, period=PERIOD)
            else:
                done[path] = execute(path, out, path.parent, data_dir=str(sample_dir))
        return done[path]

    return run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_the_sample(path, executed):
    executed(path)


def test_notebook_runs_from_the_notebooks_folder_too(tmp_path):
    """What an evaluator does in JupyterLab: the kernel starts in notebooks/, and the default
    ``data_dir`` (None) still finds the bundled sample."""
    nb = execute(
        ROOT / "notebooks" / "01_data_quality.ipynb", tmp_path / "01.ipynb", ROOT / "notebooks"
    )
    load = next(c for c in nb.cells if "oc.load(" in c.source)
    assert "4851 episodes" in result_text(load), "the bundled sample is loaded"


def result_text(cell) -> str:
    """The plain-text result of a code cell (for ``outcomes.show`` of a frame: CSV)."""
    return "".join(
        o["data"]["text/plain"] for o in cell.outputs if o.output_type == "execute_result"
    )


def test_comparison_notebook_reports_the_trailing_year_as_the_report_does(executed, sample_dir):
    """Issue #10: notebook 04 used every discharge, the report the trailing year's. The
    expected cohort is written out as publish.comparison_table selects it (discharges from
    2025-10-01 to 2026-09-30 for 2026Q3), not through outcomes.discharged_in.

    The headline (doubly robust completion risk difference, point and stacked-sandwich
    interval) and every other row must be the same numbers."""
    nb = executed(COMPARISON)
    headline = [c for c in nb.cells if "headline" in c.metadata.get("tags", [])]
    assert len(headline) == 1, "one cell tagged 'headline' shows the effect table"
    shown = pl.read_csv(io.StringIO(result_text(headline[0])))

    first, last = period_bounds(f"2025Q4-{PERIOD}")
    ep = outcomes.episodes(outcomes.load(sample_dir, on_error="exclude"))
    cohort = ep.filter(pl.col("discharge_date").is_between(first, last))
    expected = compare.compare(cohort, "iop", "residential").effects

    assert shown.columns == expected.columns
    assert shown.height == expected.height > 10, "every row, the hazard ratios included"
    key = (pl.col("outcome") == "completion_risk_difference") & (pl.col("method") == "aipw")
    got, want = shown.filter(key).row(0, named=True), expected.filter(key).row(0, named=True)
    for column in ("estimate", "ci_low", "ci_high"):
        assert got[column] == pytest.approx(want[column], abs=1e-9), column
    assert (got["n_treated"], got["n_control"]) == (want["n_treated"], want["n_control"])
    assert shown["estimate"].to_list() == pytest.approx(expected["estimate"].to_list(), abs=1e-9)
    assert shown["ci_low"].to_list() == pytest.approx(expected["ci_low"].to_list(), abs=1e-9)
    everything = compare.compare(ep, "iop", "residential").effects.filter(key)
    # every year's discharges: -3.7 (-7.2 to -0.2) on the sample, the report -3.6 (-9.0 to 1.7)
    assert everything["n_treated"][0] > want["n_treated"], "the cohort matters"
    assert abs(everything["ci_low"][0] - want["ci_low"]) > 0.005, "the cohort matters"


def test_show_renders_every_row_with_labels_and_a_count():
    frame = pl.DataFrame({"program_type": ["iop"] * 30, "ci_low": [0.123456789] * 30})
    shown = outcomes.show(frame, caption="Thirty", notes=["a note"])
    assert shown.html.count("<tr>") == 31  # the header and every row
    assert "<th>Program</th>" in shown.html and "<th>CI low</th>" in shown.html
    assert "30 rows" in shown.html and "a note" in shown.html and "Thirty" in shown.html
    assert pl.read_csv(io.StringIO(shown.text)).equals(frame), "text is the frame as CSV"
    part = outcomes.show(frame, rows=3)
    assert part.html.count("<tr>") == 4 and "3 of 30 rows shown" in part.html
    assert outcomes.show(frame.head(1)).html.endswith("<p><em>1 row</em></p>")


def test_show_renders_the_frames_of_a_result_whole():
    """A result object's own _repr_html_ (here a comparison of 30 effect rows) loses no row."""
    from outcomes.compare import Comparison

    result = Comparison(
        effects=pl.DataFrame({"outcome": [f"o{i}" for i in range(30)]}),
        balance=pl.DataFrame(),
        diagnostics=pl.DataFrame(),
        evalues=pl.DataFrame(),
        overlap=pl.DataFrame(),
        warnings=(),
        notes=("n",),
    )
    assert "o15" not in result._repr_html_(), "polars alone cuts it"
    assert "o15" in outcomes.show(result).html
