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

from outcomes.report._html import to_html
from outcomes.report._outputs import save_outputs
from outcomes.report._params import (
    DATA_PLACEHOLDER,
    MIN_THRESHOLD,
    NOTEBOOK,
    PERIOD_RE,
    REMOVE_TAG,
    TEMPLATES,
    Progress,
    ReportError,
    ReportParams,
    resolve_period,
)
from outcomes.report._render import render, to_pdf, write_index
from outcomes.report._scrub import scrub
from outcomes.report._software import Software, software
from outcomes.report._text import methods, title

__all__ = [
    "DATA_PLACEHOLDER",
    "MIN_THRESHOLD",
    "NOTEBOOK",
    "PERIOD_RE",
    "REMOVE_TAG",
    "TEMPLATES",
    "Progress",
    "ReportError",
    "ReportParams",
    "Software",
    "methods",
    "render",
    "resolve_period",
    "save_outputs",
    "scrub",
    "software",
    "title",
    "to_html",
    "to_pdf",
    "write_index",
]
