"""Render the quarterly report: papermill runs the report notebook, nbconvert makes one HTML file.

The notebook ``notebooks/quarterly_report.ipynb`` holds the report's text and calls the library;
this module only runs it with the parameters of :class:`ReportParams` and converts the executed
notebook to a self-contained HTML page (no code cells, figures embedded, nothing fetched from
the network), with every published table as CSV, every figure as PNG and a PDF beside it.

Nothing from the machine reaches those outputs: the notebook runs in a temporary folder, what
its cells write to stderr (warnings with host paths and code lines) goes to the log (this
process's stderr) and is removed from the notebook before conversion, and the executed
notebook itself is not published (``keep_notebook=True`` keeps it, scrubbed of the data
folder's path and of papermill's run metadata).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from outcomes.errors import OutcomesError

if TYPE_CHECKING:
    from outcomes.dataset import Dataset

#: The report notebook, relative to the repository root (where the commands are run).
NOTEBOOK = Path("notebooks") / "quarterly_report.ipynb"
TEMPLATES = Path(__file__).resolve().parent / "templates"
PERIOD_RE = re.compile(r"^\d{4}Q[1-4]$")
#: Cells with this tag are for readers of the notebook only and are left out of the report.
REMOVE_TAG = "notebook-only"
#: The smallest suppression threshold allowed without an explicit override: CMS's cell-size
#: suppression policy publishes no count from 1 to 10.
MIN_THRESHOLD = 11
#: What replaces the data folder's path in a kept executed notebook.
DATA_PLACEHOLDER = "<data>"


class ReportError(OutcomesError):
    """The report notebook failed; the message names the failing cell."""


@dataclass(frozen=True)
class ReportParams:
    """The parameters shared by the command line, the notebooks and the tests.

    The notebooks' ``parameters`` cells have exactly these names (``conf_level`` aside, which
    the report notebook does not expose yet), except ``allow_low_threshold``, which only
    guards ``threshold`` and is not passed to the notebook.

    ``threshold`` is at least :data:`MIN_THRESHOLD` (11), as CMS's cell-size suppression
    policy requires; a lower one is refused unless ``allow_low_threshold=True``, for data
    agreements that explicitly permit it. A higher one is always allowed.
    """

    period: str
    data_dir: str = "data/sample"
    as_of: str | None = None
    threshold: int = MIN_THRESHOLD
    allow_low_threshold: bool = False

    def __post_init__(self) -> None:
        if not PERIOD_RE.match(self.period):
            raise ValueError(f"period must look like 2026Q3, not {self.period!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise TypeError(f"threshold must be an integer, not {self.threshold!r}")
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1")
        if self.threshold < MIN_THRESHOLD and not self.allow_low_threshold:
            raise ValueError(
                f"threshold {self.threshold} is below {MIN_THRESHOLD}, the smallest cell size "
                "CMS's cell-size suppression policy allows; use a lower one only under an "
                "agreement that permits it, with allow_low_threshold=True "
                "(outcomes report --allow-low-threshold)"
            )

    def notebook_parameters(self) -> dict[str, object]:
        """Parameters as papermill passes them (strings stay strings; the folder is absolute)."""
        params = dataclasses.asdict(self)
        del params["allow_low_threshold"]
        params["data_dir"] = str(Path(self.data_dir).resolve())
        return params


class Progress:
    """Prints one line per stage on stderr with the seconds since it was made.

    ``Progress()("rendering HTML")`` prints ``[ 3.2s] rendering HTML``. :func:`render` takes
    any callable of one string instead (``lambda stage: None`` for silence).
    """

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._start = time.perf_counter()

    def __call__(self, stage: str) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        print(f"[{time.perf_counter() - self._start:4.1f}s] {stage}", file=stream, flush=True)


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
    ReportError
        A cell failed; the message gives the cell's number, its first line and the error.
        Nothing is published (with ``keep_notebook``, the partly executed notebook is kept).
    """
    import shutil
    import tempfile

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
    from papermill.exceptions import PapermillExecutionError  # slow import: after the checks

    folder = Path(out_dir) / params.period
    kept = folder / "report.ipynb"
    # The executed notebook holds the data folder's absolute path (papermill's injected
    # parameters and metadata) and whatever the cells wrote to stderr: it is made in a
    # temporary folder, scrubbed there, and leaves it only when asked for.
    with tempfile.TemporaryDirectory(prefix="outcomes-report-") as tmp:
        executed = Path(tmp) / "report.ipynb"
        say("starting the notebook's kernel")
        try:
            _execute(notebook, executed, params, timeout, say)
        except PapermillExecutionError as err:
            first_line = next((ln for ln in err.source.splitlines() if ln.strip()), "")
            if keep_notebook and executed.exists():
                _write_scrubbed(executed, kept, params.data_dir)
                where = f"The partly executed notebook is {kept}."
            else:
                where = "keep_notebook=True (--keep-notebook) keeps the partly executed notebook."
            raise ReportError(
                f"cell {err.exec_count} of {Path(notebook).name} failed ({first_line!r}): "
                f"{err.ename}: {err.evalue}. {where}"
            ) from None
        _write_scrubbed(executed, executed, params.data_dir)
        say("rendering HTML")
        page = to_html(executed)
        leaked = [p for p in _machine_paths(params.data_dir) if p in page]
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

    from outcomes.suppression import legend

    cut = as_of or f"{ds.last_date} (the latest date in the data)"
    markers = " ".join(legend(threshold))
    return Markdown(
        "## Methods\n\n"
        f"- **As-of date**: {cut}. Nothing after it is known; episodes without a discharge "
        "date are open.\n"
        "- **Definitions**: every metric follows `docs/metrics.md`; the input columns and "
        "rules follow `docs/data-dictionary.md`.\n"
        "- **Confidence intervals**: proportions use the Wilson score interval at 95%.\n"
        f"- **Disclosure control**: no count from 1 to {threshold - 1} is shown, nor one "
        "that other published figures (in this report, or in the reports of other quarters "
        "made from the same export) would let a reader work out by adding and subtracting; "
        "cells are withheld over the whole publication at once (docs/privacy.md). "
        f"{markers}\n"
        "- **Data**: de-identified records only; files with direct identifiers are refused."
    )


def to_html(executed_notebook: str | Path) -> str:
    """Convert an executed notebook to one self-contained HTML page without code cells.

    The page's ``<title>`` (and the PDF's title and running footer) is the notebook metadata
    ``title`` or else its first level-1 heading. Two touches for print: in table cells, a
    number with a hyphen (``(42.7-55.9)``, ``45-59``) is wrapped in ``<span class="nobr">``, so
    ``49.3% (42.7-55.9)`` wraps only at its space (Chromium breaks after a hyphen otherwise);
    and each table gets its narrowest width (``--table-em``), from which the template sizes its
    font, and the class ``wide`` when too wide for a portrait A4 page even at the smallest
    font: the template prints those on landscape pages.
    """
    import html as _html

    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    # The template shrinks a table's font to fit the page (down to 7pt in print, from 8pt); a
    # table that would need less prints on landscape pages: 7pt on a portrait A4 page's 186 mm.
    landscape_em = 186 / 25.4 * 72 / 7

    def first_heading(nb) -> str:
        for cell in nb.cells:
            texts = [cell.source] if cell.cell_type == "markdown" else []
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                texts += [data.get("text/markdown", ""), data.get("text/html", "")]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else str(text)
                md = re.search(r"^#[ \t]+(.+?)[ \t#]*$", text, re.M)
                h1 = re.search(r"<h1\b[^>]*>(.*?)</h1>", text, re.S | re.I)
                found = md[1] if md else h1 and _html.unescape(re.sub(r"<[^>]+>", "", h1[1]))
                found = re.sub(r"[`*¶]", "", found or "").strip()
                if found:
                    return found
        return "Quarterly outcomes report"

    def keep_numbers_whole(m: re.Match) -> str:
        whole = re.sub(r"\S*[-\u2013][\d.]\S*", r'<span class="nobr">\g<0></span>', m[2])
        return m[1] + whole + m[3]

    def table_em(table: str) -> float:
        """The narrowest width of a table, in em of its font: per column the longest piece
        of text that cannot wrap (a header word, a figure, a bracket) at 0.55 em a character
        (Arial's digits; narrow fonts need less), plus the cells' padding."""
        longest: dict[int, int] = {}
        for row in re.findall(r"<tr\b.*?</tr>", table, re.S | re.I):
            cells = re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, re.S | re.I)
            for i, cell in enumerate(cells):
                text = _html.unescape(re.sub(r"<[^>]+>", "", cell))
                longest[i] = max([longest.get(i, 0), *(len(w) for w in text.split())])
        return sum(0.55 * n + 0.9 for n in longest.values())

    def add_class(opening: str, name: str) -> str:
        if re.search(r'\bclass="', opening):
            return re.sub(r'\bclass="', f'class="{name} ', opening, count=1)
        return f'{opening[:-1]} class="{name}">'

    def size_tables(m: re.Match) -> str:
        """Give each table its width (``--table-em``, which the template's font size uses)
        and the class ``wide`` to a table (or its published figure) too wide for portrait."""
        widest = 0.0

        def size(t: re.Match) -> str:
            nonlocal widest
            em = table_em(t[0])
            widest = max(widest, em)
            opening = re.match(r"<table\b[^>]*>", t[0], re.I)[0]
            style = f' style="--table-em: {em:.1f}"' if "style=" not in opening else ""
            opening_out = f"{opening[:-1]}{style}>"
            if m[0].lower().startswith("<table") and em > landscape_em:
                opening_out = add_class(opening_out, "wide")
            return opening_out + t[0][len(opening) :]

        element = re.sub(r"<table\b.*?</table>", size, m[0], flags=re.S | re.I)
        if element.lower().startswith("<figure") and widest > landscape_em:
            opening = re.match(r"<figure\b[^>]*>", element, re.I)[0]
            element = add_class(opening, "wide") + element[len(opening) :]
        return element

    nb = nbformat.read(str(executed_notebook), as_version=4)
    remove = TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}, enabled=True)
    nb, _ = remove.preprocess(nb, {})
    report_title = str(nb.metadata.get("title") or first_heading(nb))
    nb.metadata["title"] = report_title  # the lab template's <title>, and the footer's
    exporter = HTMLExporter(
        template_name="report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": report_title}})
    body = re.sub(r"(<td\b[^>]*>)([^<]*)(</td>)", keep_numbers_whole, body, flags=re.I)
    # A published table (figure.outcomes-table) is marked whole: caption and notes go with it.
    return re.sub(
        r'<figure\b[^>]*\bclass="[^"]*\boutcomes-table\b[^"]*"[^>]*>.*?</figure>'
        r"|<table\b.*?</table>",
        size_tables,
        body,
        flags=re.S | re.I,
    )


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
    PNG into ``folder`` (``tables/<name>.csv``, ``figures/<name>.png``).

    Only what the report shows is written: tables are the tidy protected cells behind each
    :class:`outcomes.publish.PublishedTable` (``value, ci_low, ci_high, numerator,
    denominator, status``); figures are the cells' PNG outputs, named after their
    :class:`outcomes.figures.PublishedFigure` (``figure_<n>`` otherwise), and the data each
    one draws is ``tables/figure_<name>.csv``.
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
                named = output.get("metadata", {}).get("image/png", {}).get("outcomes_figure")
                path = folder / "figures" / f"{named or f'figure_{n_fig}'}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(data["image/png"]))
                written.append(path)
            name = output.get("metadata", {}).get("text/csv", {}).get("outcomes_table")
            if name and "text/csv" in data:
                path = folder / "tables" / f"{name}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(data["text/csv"], encoding="utf-8")
                written.append(path)
            elif "outcomes-table" in data.get("text/html", ""):
                parser = _PublishedTables()
                parser.feed(data["text/html"])
                for name, rows in parser.tables.items():
                    path = folder / "tables" / f"{name}.csv"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with path.open("w", newline="", encoding="utf-8") as f:
                        csv.writer(f).writerows(rows)
                    written.append(path)
    return written


# --- running the notebook quietly and scrubbing what it leaves --------------------------------


def _execute(
    notebook: str | Path,
    executed: Path,
    params: ReportParams,
    timeout: int,
    say: Callable[[str], None],
) -> None:
    """Run the notebook with papermill into ``executed``: one progress line per ``## ``
    section, the cells' stderr (warnings and the like) echoed live to this process's stderr."""
    import papermill as pm
    from papermill.engines import papermill_engines

    papermill_engines.register(_ENGINE, _talkative_engine())
    pm.execute_notebook(
        str(notebook),
        str(executed),
        parameters=params.notebook_parameters(),
        engine_name=_ENGINE,
        kernel_name="python3",
        cwd=str(Path(notebook).parent),
        execution_timeout=timeout,
        progress_bar=False,
        stderr_file=sys.stderr,  # the log: the user sees the warnings; scrub() drops them
        on_cell_start=_section_announcer(say),
        **_quiet_kernel(),
    )


_ENGINE = "outcomes-report"


def _talkative_engine():
    """papermill's nbclient engine, calling ``on_cell_start(cells, index)`` before each cell."""
    from papermill.engines import NBClientEngine

    class TalkativeEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, on_cell_start=None, **kwargs):
            if on_cell_start is not None:
                cell_start = nb_man.cell_start

                def announce_then_start(cell, cell_index=None, **kw):
                    on_cell_start(nb_man.nb.cells, cell_index)
                    return cell_start(cell, cell_index, **kw)

                nb_man.cell_start = announce_then_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return TalkativeEngine


def _section_announcer(say: Callable[[str], None]) -> Callable[[list, int], None]:
    """A cell-start callback that says which ``## `` section of the notebook runs now
    (``running the notebook: Summary (cell 5/34)``), once per section."""
    last: list[str] = []

    def on_cell_start(cells, index) -> None:
        section = "setting up"
        for cell in cells[: (index or 0) + 1]:
            first = (cell.source.strip().splitlines() or [""])[0]
            if cell.cell_type == "markdown" and first.startswith("## "):
                section = first[3:].strip()
        if last[-1:] != [section]:
            last.append(section)
            say(f"running the notebook: {section} (cell {(index or 0) + 1}/{len(cells)})")

    return on_cell_start


def _quiet_kernel() -> dict[str, object]:
    """Keyword arguments for papermill that keep ipykernel's "Kernel is running over TCP
    without encryption" warning off the terminal.

    ipykernel prints it (from the kernel process, whose stderr is ours) whenever its ZeroMQ
    channels use TCP without CurveZMQ keys. The kernel binds to 127.0.0.1 only and lives as
    long as this run, so nothing leaves the machine; still, a warning about plain-text
    traffic alarms anyone handling 42 CFR Part 2 records. Where jupyter_client can provision
    CurveZMQ keys (``KernelManager.transport_encryption``, jupyter_client >= 8.10, pyzmq with
    libsodium, a kernelspec declaring ``supported_encryption: curve``), we simply encrypt,
    and the warning has no reason to appear. Otherwise the kernel's own log is set to ERROR,
    which silences that warning (and the kernel application's other warnings, never about
    the report) while the cells' warnings still reach the log through their stderr.
    """
    import zmq
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        declares_curve = "curve" in str(spec.metadata.get("supported_encryption", "")).lower()
    except NoSuchKernel:
        declares_curve = False
    encryptable = "transport_encryption" in KernelManager.class_trait_names()
    if declares_curve and encryptable and zmq.has("curve"):
        return {"config": Config({"KernelManager": {"transport_encryption": "auto"}})}
    return {"extra_arguments": ["--IPKernelApp.log_level=ERROR"]}


def _machine_paths(data_dir: str | Path) -> list[str]:
    """The spellings of the data folder's absolute path a notebook may hold, longest first."""
    paths = {str(Path(data_dir).resolve()), os.path.abspath(data_dir)}
    if Path(data_dir).is_absolute():
        paths.add(str(data_dir))
    return sorted((p for p in paths if p not in ("/", "")), key=len, reverse=True)


def scrub(nb, data_dir: str | Path) -> list[str]:
    """Remove what belongs to the machine, not the report, from an executed notebook (in place).

    - every ``stream`` output named ``stderr`` (warnings carry host paths and code lines;
      :func:`render` has already echoed them to the log);
    - papermill's run metadata that names paths: ``parameters``, ``default_parameters``,
      ``input_path``, ``output_path``, ``environment_variables``;
    - the data folder's absolute path wherever it remains (the injected parameters cell,
      outputs) becomes ``<data>``.

    Returns the stderr texts removed, in order.
    """
    removed: list[str] = []
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        keep = []
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = output.get("text", "")
                removed.append(text if isinstance(text, str) else "".join(text))
            else:
                keep.append(output)
        cell.outputs = keep
    meta = nb.metadata.get("papermill")
    if meta is not None:
        for key in (
            "parameters",
            "default_parameters",
            "input_path",
            "output_path",
            "environment_variables",
        ):
            meta.pop(key, None)
    paths = _machine_paths(data_dir)

    def clean(value):
        if isinstance(value, str):
            for path in paths:
                value = value.replace(path, DATA_PLACEHOLDER)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            for key in list(value):
                value[key] = clean(value[key])
            return value
        return value

    clean(nb)
    return removed


def _write_scrubbed(source: Path, target: Path, data_dir: str | Path) -> None:
    """Read an executed notebook, :func:`scrub` it, and write it to ``target``."""
    import nbformat

    nb = nbformat.read(str(source), as_version=4)
    scrub(nb, data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))
