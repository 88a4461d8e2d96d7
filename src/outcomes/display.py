"""Tables shown whole in notebooks: :func:`show`.

polars prints ten rows of a frame and hides the rest; a reader of a notebook then misses rows
without noticing (the hazard ratios of the comparison, the later quarters of the coverage).
:func:`show` renders every row and column, with readable column labels and a caption that
says how many rows the table has (and how many are left out, when asked for fewer).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

#: Column labels that the generic rule (underscores to spaces, acronyms upper case) gets wrong.
LABELS = {
    "program_type": "Program",
    "length_band": "Planned length",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "n_risk": "At risk",
    "n_event": "Events",
    "n_censor": "Censored",
    "std_error": "Std. error",
    "robust_std_error": "Robust std. error",
    "p_value": "p-value",
    "hr_ci_low": "HR CI low",
    "hr_ci_high": "HR CI high",
    "n_treated": "Treated (n)",
    "n_control": "Control (n)",
    "smd_weighted": "SMD weighted",
    "smd_unweighted": "SMD unweighted",
    "evalue_estimate": "E-value (estimate)",
    "evalue_ci": "E-value (CI limit)",
    "ess": "Effective sample size",
}
_ACRONYMS = {"ci", "hr", "id", "iop", "php", "iptw", "ate", "att", "smd", "los", "mh", "rmst", "ps"}
_SHOW_ALL = {
    "tbl_rows": -1,
    "tbl_cols": -1,
    "fmt_str_lengths": 1000,
    "fmt_table_cell_list_len": -1,
}


def label(column: str) -> str:
    """A column name as a reader would write it: ``ci_low`` -> ``CI low``.

    Examples
    --------
    >>> label("program_type"), label("median_los_days"), label("client_id")
    ('Program', 'Median LOS days', 'Client ID')
    """
    if column in LABELS:
        return LABELS[column]
    words = [w.upper() if w in _ACRONYMS else w for w in column.split("_")]
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Shown:
    """What :func:`show` returns: ``html`` for JupyterLab, ``text`` for everything else.

    For a frame, ``text`` is the shown rows as CSV, with the column names and the numbers in
    full precision: copyable, and what tests read from an executed notebook.
    """

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def show(
    table: object,
    caption: str | None = None,
    notes: Sequence[str] = (),
    rows: int | None = None,
) -> Shown:
    """Render a table whole: every row and column, readable labels, a row count.

    Parameters
    ----------
    table : polars.DataFrame or a result object
        A frame, or any object that renders itself (``_repr_html_``: a comparison, a Cox fit,
        a published table), whose frames are then rendered whole too.
    caption : str, optional
        A title above the table.
    notes : sequence of str
        Footnotes under the table (for example ``result.notes``).
    rows : int, optional
        Show only the first ``rows`` rows of a frame; the caption says how many are left out.

    Returns
    -------
    Shown
        Displays as HTML in a notebook; for a frame its ``text`` is the shown rows as CSV with
        the original column names.

    Examples
    --------
    >>> import polars as pl
    >>> shown = show(pl.DataFrame({"program_type": ["iop", "php"], "ci_low": [0.25, 0.5]}))
    >>> "<th>Program</th>" in shown.html and "2 rows" in shown.html
    True
    >>> print(shown.text, end="")
    program_type,ci_low
    iop,0.25
    php,0.5
    >>> "1 of 2 rows shown" in show(pl.DataFrame({"a": [1, 2]}), rows=1).html
    True
    """
    head = f"<p><strong>{html.escape(caption)}</strong></p>" if caption else ""
    foot = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    foot = f"<ul>{foot}</ul>" if foot else ""
    if isinstance(table, pl.DataFrame):
        frame = table if rows is None else table.head(rows)
        count = f"{table.height:,} row{'s' * (table.height != 1)}"
        if frame.height < table.height:
            count = f"{frame.height:,} of {count} shown"
        labels = {c: label(c) for c in frame.columns}
        if len(set(labels.values())) < len(labels):  # two names, one label: keep the names
            labels = {c: c for c in frame.columns}
        with pl.Config(**_SHOW_ALL, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
            body = frame.rename(labels)._repr_html_()
            try:
                text = frame.write_csv()
            except pl.exceptions.ComputeError:  # nested columns have no CSV form
                text = repr(frame)
        return Shown(f"{head}{body}<p><em>{count}</em></p>{foot}", text)
    with pl.Config(**_SHOW_ALL):
        render = getattr(table, "_repr_html_", None)
        body = render() if render else f"<pre>{html.escape(repr(table))}</pre>"
        text = repr(table)
    return Shown(f"{head}{body}{foot}", text)
