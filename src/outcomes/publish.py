"""Tables as the report publishes them: suppressed, formatted, and carrying their footnotes.

A :class:`PublishedTable` holds only what may leave the analyst's hands: every count has gone
through :mod:`outcomes.suppression`. It renders itself in a notebook (``_repr_html_``) as a
plain table with its notes, and writes itself to CSV with the same cells.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from outcomes.dataset import Dataset
from outcomes.quality import issue_summary
from outcomes.suppression import DEFAULT_THRESHOLD, suppress_counts


@dataclass(frozen=True)
class PublishedTable:
    """A publishable table: display strings only, with a title and footnotes.

    Attributes
    ----------
    name : str
        File-safe name (the CSV is ``<name>.csv``).
    title : str
        Caption shown above the table.
    table : polars.DataFrame
        String columns, as published (suppressed cells show ``<threshold``).
    notes : tuple of str
        Footnotes: method, suppression, caveats.
    """

    name: str
    title: str
    table: pl.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    def write_csv(self, folder: str | Path) -> Path:
        path = Path(folder) / f"{self.name}.csv"
        self.table.write_csv(path)
        return path

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.table.columns)
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r)
            + "</tr>"
            for r in self.table.iter_rows()
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f'<figure class="outcomes-table"><figcaption><strong>{html.escape(self.title)}'
            f"</strong></figcaption><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            f'</table><ul class="outcomes-notes">{notes}</ul></figure>'
        )


def suppression_note(threshold: int) -> str:
    return (
        f"Counts from 1 to {threshold - 1} are shown as <{threshold}; where one hidden count "
        "could be worked out from a total, the next smallest count is hidden too. Zero is shown."
    )


def accounting_table(ds: Dataset, threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    """Rows read, kept and excluded per input file, suppressed.

    Each file's read = kept + excluded is a published total: a small excluded count forces its
    kept count to be hidden too (complementary suppression within the file).
    """
    long = ds.accounting.unpivot(
        index="file",
        on=["rows_read", "rows_kept", "rows_excluded"],
        variable_name="what",
        value_name="rows",
    )
    kept_excluded = suppress_counts(
        long.filter(pl.col("what") != "rows_read"), "rows", groups=["file"], threshold=threshold
    )
    read = suppress_counts(
        long.filter(pl.col("what") == "rows_read"),
        "rows",
        threshold=threshold,
        total_published=False,
    )
    shown = (
        pl.concat([read, kept_excluded])
        .pivot(on="what", index="file", values="display")
        .select(
            pl.col("file"),
            pl.col("rows_read").alias("rows read"),
            pl.col("rows_kept").alias("rows kept"),
            pl.col("rows_excluded").alias("rows excluded"),
        )
    )
    return PublishedTable(
        name="data_quality_accounting",
        title="Rows read, kept and excluded per file",
        table=shown,
        notes=(
            "Rows that break the data contract are excluded with the sessions and follow-ups "
            "of an excluded episode; the rules are in the data dictionary.",
            suppression_note(threshold),
        ),
    )


def issues_table(ds: Dataset, threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    """Problems the loader found, by file and rule, with suppressed row counts."""
    summary = issue_summary(ds).select("file", "rule", "severity", "rows", "columns")
    shown = suppress_counts(summary, "rows", groups=["file"], threshold=threshold)
    return PublishedTable(
        name="data_quality_issues",
        title="Data problems by file and rule",
        table=shown.select("file", "rule", "severity", pl.col("display").alias("rows"), "columns"),
        notes=(
            "error: the row was excluded; warning: the row was kept and counted as the "
            "definitions say.",
            suppression_note(threshold),
        )
        if summary.height
        else ("No problems: every row follows the data contract.",),
    )
