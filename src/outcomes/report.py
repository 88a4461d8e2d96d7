"""Render the quarterly report: papermill runs the report notebook, nbconvert makes one HTML file.

The notebook ``notebooks/quarterly_report.ipynb`` holds the report's text and calls the library;
this module only runs it with the parameters of :class:`ReportParams` and converts the executed
notebook to a self-contained HTML page (no code cells, figures embedded, nothing fetched from
the network), beside which it keeps the executed notebook.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from outcomes.errors import OutcomesError

#: The report notebook, relative to the repository root (where the commands are run).
NOTEBOOK = Path("notebooks") / "quarterly_report.ipynb"
TEMPLATES = Path(__file__).resolve().parent / "templates"
PERIOD_RE = re.compile(r"^\d{4}Q[1-4]$")
#: Cells with this tag are for readers of the notebook only and are left out of the report.
REMOVE_TAG = "notebook-only"


class ReportError(OutcomesError):
    """The report notebook failed; the message names the failing cell."""


@dataclass(frozen=True)
class ReportParams:
    """The parameters shared by the command line, the notebooks and the tests.

    The notebooks' ``parameters`` cells have exactly these names (``conf_level`` aside, which
    the report notebook does not expose yet).
    """

    period: str
    data_dir: str = "data/sample"
    as_of: str | None = None
    threshold: int = 11

    def __post_init__(self) -> None:
        if not PERIOD_RE.match(self.period):
            raise ValueError(f"period must look like 2026Q3, not {self.period!r}")
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1")

    def notebook_parameters(self) -> dict[str, object]:
        """Parameters as papermill passes them (strings stay strings; the folder is absolute)."""
        params = dataclasses.asdict(self)
        params["data_dir"] = str(Path(self.data_dir).resolve())
        return params


def resolve_period(period: str, as_of) -> str:
    """``latest`` (the last full quarter on or before ``as_of``), ``previous`` (the one before
    it) or a quarter such as ``2026Q3``, returned as a quarter."""
    import datetime as dt

    from outcomes.metrics import period_bounds, shift_quarter

    if period not in ("latest", "previous"):
        return period
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    current = f"{day.year}Q{(day.month - 1) // 3 + 1}"
    latest = current if period_bounds(current)[1] <= day else shift_quarter(current, -1)
    return latest if period == "latest" else shift_quarter(latest, -1)


def write_index(out_dir: str | Path) -> Path:
    """Write ``<out_dir>/index.html``: a self-contained page linking every rendered period."""
    import html as _html

    folder = Path(out_dir)
    periods = sorted(
        (p.name for p in folder.iterdir() if p.is_dir() and (p / "report.html").exists()),
        reverse=True,
    )
    items = "".join(
        f'<li><a href="{_html.escape(p)}/report.html">{_html.escape(p)}</a>'
        + (
            f' (<a href="{_html.escape(p)}/report.pdf">PDF</a>)'
            if (folder / p / "report.pdf").exists()
            else ""
        )
        + "</li>"
        for p in periods
    )
    index = folder / "index.html"
    index.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Quarterly outcomes reports"
        "</title><style>body{font-family:sans-serif;max-width:40rem;margin:2rem auto}</style>"
        f"</head><body><h1>Quarterly outcomes reports</h1><ul>{items}</ul></body></html>",
        encoding="utf-8",
    )
    return index


def render(
    params: ReportParams,
    out_dir: str | Path = "reports",
    notebook: str | Path = NOTEBOOK,
    timeout: int = 600,
) -> Path:
    """Run the report notebook and write ``<out_dir>/<period>/report.html``.

    Parameters
    ----------
    params : ReportParams
        Period, data folder, as-of date and suppression threshold.
    out_dir : str or Path
        Where the period's folder is made (default ``reports/``).
    notebook : str or Path
        The report notebook (default ``notebooks/quarterly_report.ipynb``).
    timeout : int
        Seconds one cell may run.

    Returns
    -------
    Path
        The HTML file. Beside it: ``report.ipynb`` (the executed notebook), ``tables/*.csv``
        (every published table), ``figures/*.png`` (every figure) and ``report.pdf`` when a
        Chromium browser is installed.

    Raises
    ------
    ReportError
        A cell failed; the message gives the cell's number, its first line and the error.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if not Path(notebook).is_file():
        raise ReportError(f"no report notebook at {notebook}; run from the repository root")

    folder = Path(out_dir) / params.period
    folder.mkdir(parents=True, exist_ok=True)
    executed = folder / "report.ipynb"
    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=params.notebook_parameters(),
            kernel_name="python3",
            cwd=str(Path(notebook).parent),
            execution_timeout=timeout,
            progress_bar=False,
        )
    except PapermillExecutionError as err:
        first_line = next((ln for ln in err.source.splitlines() if ln.strip()), "")
        raise ReportError(
            f"cell {err.exec_count} of {Path(notebook).name} failed ({first_line!r}): "
            f"{err.ename}: {err.evalue}. The partly executed notebook is {executed}."
        ) from None
    html = folder / "report.html"
    html.write_text(to_html(executed), encoding="utf-8")
    save_outputs(executed, folder)
    to_pdf(html)
    write_index(out_dir)
    return html


def to_pdf(html: Path) -> Path | None:
    """Print the HTML to ``report.pdf`` with a headless Chromium, when one is installed.

    The HTML is the required output; without a browser (``chromium`` on the PATH) this does
    nothing and returns ``None``. Offline flags only: nothing is fetched.
    """
    import shutil
    import subprocess
    import tempfile

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    pdf = html.with_suffix(".pdf")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return pdf


def title(period: str, ds, as_of: str | None = None):
    """The report's heading as Markdown: period, provider data folder name, as-of date."""
    from IPython.display import Markdown

    cut = as_of or ds.last_date
    return Markdown(
        f"# Quarterly outcomes report: {period}\n\n"
        f"Data through {cut}. Generated by `outcomes` from the export in "
        f"`{Path(ds.source or '.').name}`. All counts follow small-cell suppression."
    )


def methods(threshold: int, as_of: str | None, ds):
    """The methods appendix as Markdown, with this run's threshold and as-of date."""
    from IPython.display import Markdown

    from outcomes.publish import suppression_note

    cut = as_of or f"{ds.last_date} (the latest date in the data)"
    return Markdown(
        "## Methods\n\n"
        f"- **As-of date**: {cut}. Nothing after it is known; episodes without a discharge "
        "date are open.\n"
        "- **Definitions**: every metric follows `docs/metrics.md`; the input columns and "
        "rules follow `docs/data-dictionary.md`.\n"
        "- **Confidence intervals**: proportions use the Wilson score interval at 95%.\n"
        f"- **Small-cell suppression**: {suppression_note(threshold)}\n"
        "- **Data**: de-identified records only; files with direct identifiers are refused."
    )


def to_html(executed_notebook: str | Path) -> str:
    """Convert an executed notebook to one self-contained HTML page without code cells."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(str(executed_notebook), as_version=4)
    remove = TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}, enabled=True)
    nb, _ = remove.preprocess(nb, {})
    exporter = HTMLExporter(
        template_name="report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


class _PublishedTables(HTMLParser):
    """Reads the published tables (``<figure class="outcomes-table" data-name=...>``) of an
    HTML output back into rows."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._name: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and "outcomes-table" in (a.get("class") or ""):
            self._name = a.get("data-name") or f"table_{len(self.tables) + 1}"
            self.tables[self._name] = []
        elif self._name and tag == "tr":
            self.tables[self._name].append([])
        elif self._name and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._name and tag in ("td", "th") and self._cell is not None:
            self.tables[self._name][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "figure":
            self._name = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def save_outputs(executed_notebook: str | Path, folder: str | Path) -> list[Path]:
    """Write every published table of an executed report notebook as CSV and every figure as
    PNG into ``folder`` (``tables/<name>.csv``, ``figures/figure_<n>.png``).

    Only what the report shows is written: tables come from the rendered (suppressed) HTML of
    :class:`outcomes.publish.PublishedTable`, figures from the cells' PNG outputs.
    """
    import base64
    import csv

    import nbformat

    nb = nbformat.read(str(executed_notebook), as_version=4)
    folder = Path(folder)
    written: list[Path] = []
    n_fig = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                n_fig += 1
                path = folder / "figures" / f"figure_{n_fig}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(data["image/png"]))
                written.append(path)
            if "outcomes-table" in data.get("text/html", ""):
                parser = _PublishedTables()
                parser.feed(data["text/html"])
                for name, rows in parser.tables.items():
                    path = folder / "tables" / f"{name}.csv"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with path.open("w", newline="", encoding="utf-8") as f:
                        csv.writer(f).writerows(rows)
                    written.append(path)
    return written
