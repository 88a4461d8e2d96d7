"""Running the report: the notebook, then the HTML, the tables and figures, and the PDF."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outcomes.dataset import Dataset
from outcomes.report._html import to_html
from outcomes.report._kernel import _execute, import_notebook_tools, start_kernel, stop_kernel
from outcomes.report._outputs import save_outputs
from outcomes.report._params import NOTEBOOK, Progress, ReportError, ReportParams
from outcomes.report._scrub import _machine_paths, _write_scrubbed


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
    *,
    dataset: Dataset | None = None,
    keep_notebook: bool = False,
    progress: Callable[[str], None] | None = None,
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
    dataset : Dataset, optional
        ``params.data_dir`` already loaded (the command line loads it to resolve ``latest``);
        loaded here when not given. It is used to check the period before the notebook runs.
    keep_notebook : bool
        Also write the executed notebook as ``report.ipynb``, scrubbed: the data folder's
        path replaced by ``<data>``, papermill's parameters and paths removed, no stderr
        outputs. By default it is not published (a stale one from an earlier run is removed).
    progress : callable, optional
        Called with one line per stage (loading, checking the period, each section of the
        notebook as it runs, HTML, tables and figures, PDF). Default :class:`Progress`: the
        lines go to stderr with the elapsed seconds.

    Returns
    -------
    Path
        The HTML file. Beside it: ``tables/*.csv`` (every published table), ``figures/*.png``
        (every figure), ``report.pdf`` when a Chromium browser is installed, and
        ``report.ipynb`` with ``keep_notebook``.

    Raises
    ------
    PeriodError
        The period ends after the as-of date or no episode was discharged in it (see
        :func:`outcomes.metrics.check_period`); nothing is written.
    InputError
        ``params.benchmarks`` cannot be used (:func:`outcomes.national.load_report_benchmarks`);
        nothing is written.
    ReportError
        A cell failed; the message gives the cell's number, its first line and the error.
        Nothing is published (with ``keep_notebook``, the partly executed notebook is kept).
    """
    from outcomes.metrics import check_period

    say = Progress() if progress is None else progress
    if not Path(notebook).is_file():
        raise ReportError(f"no report notebook at {notebook}; run from the repository root")
    if dataset is None:
        from outcomes.io import load

        say("loading the data")
        dataset = load(params.data_dir, on_error="exclude")
    say(f"checking the period {params.period}")
    check_period(dataset, params.period, params.as_of, require_full=True)
    if params.benchmarks is not None:  # refused in one line before the notebook starts
        from outcomes.national import load_report_benchmarks

        say(f"checking the benchmark table {Path(params.benchmarks).name}")
        load_report_benchmarks(params.benchmarks, params.state)
    say("starting the notebook's kernel")
    km = start_kernel(Path(notebook).parent)  # boots while the notebook tools load
    try:
        return _render(params, out_dir, notebook, timeout, keep_notebook, say, km)
    finally:
        stop_kernel(km)


def _render(params, out_dir, notebook, timeout, keep_notebook, say, km) -> Path:
    """:func:`render` once the period is checked and the kernel ``km`` is starting."""
    import shutil
    import tempfile

    import_notebook_tools()  # slow imports: after the checks
    from papermill.exceptions import PapermillExecutionError

    folder = Path(out_dir) / params.period
    kept = folder / "report.ipynb"
    # The executed notebook holds the data folder's absolute path (papermill's injected
    # parameters and metadata) and whatever the cells wrote to stderr: it is made in a
    # temporary folder, scrubbed there, and leaves it only when asked for.
    with tempfile.TemporaryDirectory(prefix="outcomes-report-") as tmp:
        executed = Path(tmp) / "report.ipynb"
        try:
            _execute(notebook, executed, params, timeout, say, km)
        except PapermillExecutionError as err:
            first_line = next((ln for ln in err.source.splitlines() if ln.strip()), "")
            if keep_notebook and executed.exists():
                _write_scrubbed(executed, kept, params.data_dir, params.benchmarks)
                where = f"The partly executed notebook is {kept}."
            else:
                where = "keep_notebook=True (--keep-notebook) keeps the partly executed notebook."
            raise ReportError(
                f"cell {err.exec_count} of {Path(notebook).name} failed ({first_line!r}): "
                f"{err.ename}: {err.evalue}. {where}"
            ) from None
        stop_kernel(km)  # every output is in: free the cores for the rendering
        _write_scrubbed(executed, executed, params.data_dir, params.benchmarks)
        say("rendering HTML")
        page = to_html(executed)
        machine = _machine_paths(params.data_dir)
        if params.benchmarks is not None:
            machine += _machine_paths(params.benchmarks)
        leaked = [p for p in machine if p in page]
        if leaked:  # the scrub above should make this impossible: refuse rather than publish
            raise ReportError(
                "the rendered report would show the data folder's path; nothing was written"
            )
        folder.mkdir(parents=True, exist_ok=True)
        html = folder / "report.html"
        html.write_text(page, encoding="utf-8")
        say("writing tables and figures")
        save_outputs(executed, folder)
        if keep_notebook:
            shutil.copyfile(executed, kept)
        else:
            kept.unlink(missing_ok=True)
    say("printing the PDF")
    if to_pdf(html) is None:
        say("no PDF: no Chromium browser on the PATH")
    write_index(out_dir)
    say(f"done: {html}")
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
