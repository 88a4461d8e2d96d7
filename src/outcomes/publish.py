"""Tables as the report publishes them, rendered from the protected cells of a publication.

Every table here is a view of :class:`outcomes.publication.Publication`: its cells went
through disclosure control over the whole publication (:mod:`outcomes.disclosure`) before
anything is formatted. A :class:`PublishedTable` holds the formatted table (human labels, one
marker legend) and the tidy cells behind it (``table, period, program, band, measure, value,
ci_low, ci_high, numerator, denominator, status``), which the report writes as CSV.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field

import polars as pl

from outcomes.dataset import Dataset
from outcomes.publication import Publication, publication, trailing_year
from outcomes.quality import issue_summary
from outcomes.suppression import DEFAULT_THRESHOLD, MARKERS, legend, suppress_counts

__all__ = [
    "Publication",
    "PublishedGroup",
    "PublishedTable",
    "accounting_table",
    "completion_table",
    "discharge_reason_table",
    "issues_table",
    "publication",
    "summary_tables",
    "survival_table",
    "transitions_table",
]

#: Columns of a published table's tidy CSV.
TIDY_COLUMNS = (
    "table",
    "period",
    "program",
    "band",
    "measure",
    "value",
    "ci_low",
    "ci_high",
    "numerator",
    "denominator",
    "status",
)
PROGRAM_LABELS = {
    "iop": "IOP",
    "residential": "Residential",
    "php": "PHP",
    "outpatient": "Outpatient",
    "detox": "Detox",
    "all programs": "All programs",
}
PROGRAM_ORDER = ("iop", "residential", "php", "outpatient", "detox", "all programs")
BAND_ORDER = (
    "6 wk", "7 wk", "8 wk", "other", "<45 d", "45-59 d", "60-74 d", "75-90 d", ">90 d",
    "unknown", "all",
)  # fmt: skip
MEASURE_LABELS = {
    "discharges": "Discharges",
    "completion_rate": "Completed",
    "completion_or_transfer_rate": "Completed or transferred",
    "early_dropout_rate": "Left in the first 2 weeks",
    "median_los_days": "Median stay, days (middle half)",
    "attendance_rate": "Sessions attended",
    "mean_weekly_hours": "Hours a week",
    "intensity_met_rate": "IOP at 9+ hours a week",
    "step_down_7d": "Stepped down within 7 days",
    "step_down_14d": "Stepped down within 14 days",
    "step_down_30d": "Stepped down within 30 days",
    "readmission_30d": "Readmitted within 30 days",
    "readmission_90d": "Readmitted within 90 days",
    "readmission_180d": "Readmitted within 180 days",
    "readmission_365d": "Readmitted within 365 days",
    "readmission_by_30d": "Readmitted by 30 days",
    "readmission_by_90d": "Readmitted by 90 days",
}
PERCENT_STATISTICS = ("attendance_rate",)


@dataclass(frozen=True)
class PublishedTable:
    """A publishable table: display strings only, with a title, footnotes and the tidy
    protected cells behind it.

    Attributes
    ----------
    name : str
        File-safe name (the report writes ``tables/<name>.csv`` from ``tidy``).
    title : str
        Caption shown above the table.
    table : polars.DataFrame
        String columns with human labels, as published.
    notes : tuple of str
        Footnotes: method, caveats and the legend of the markers used.
    tidy : polars.DataFrame
        :data:`TIDY_COLUMNS`: one row per group and measure, numbers as numbers, emptied
        where ``status`` is not ``published``.
    """

    name: str
    title: str
    table: pl.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)
    tidy: pl.DataFrame | None = None

    @property
    def withheld(self) -> int:
        """How many cells of the table are not published."""
        if self.tidy is None:
            return 0
        return int((self.tidy["status"] != "published").sum())

    def tidy_csv(self) -> str:
        buf = io.StringIO()
        (self.tidy if self.tidy is not None else self.table).write_csv(buf)
        return buf.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self._repr_html_(), "text/csv": self.tidy_csv()}, {
            "text/csv": {"outcomes_table": self.name}
        }

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
            f'<figure class="outcomes-table" data-name="{html.escape(self.name)}">'
            f"<figcaption><strong>{html.escape(self.title)}"
            f"</strong></figcaption><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            f'</table><ul class="outcomes-notes">{notes}</ul></figure>'
        )


@dataclass(frozen=True)
class PublishedGroup:
    """Several published tables shown together (one CSV of their tidy cells)."""

    name: str
    tables: tuple[PublishedTable, ...]

    @property
    def tidy(self) -> pl.DataFrame:
        return pl.concat([t.tidy for t in self.tables if t.tidy is not None])

    def _repr_mimebundle_(self, include=None, exclude=None):
        buf = io.StringIO()
        self.tidy.write_csv(buf)
        return {"text/html": self._repr_html_(), "text/csv": buf.getvalue()}, {
            "text/csv": {"outcomes_table": self.name}
        }

    def _repr_html_(self) -> str:
        return "".join(t._repr_html_() for t in self.tables)


# ---------------------------------------------------------------------------------------------
# Display strings: the last step, from the status.


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def display(cells: pl.DataFrame, threshold: int) -> pl.Series:
    """The display string of each cell: the number (with its interval) when published, else
    the status's marker (:data:`outcomes.suppression.MARKERS`)."""
    out = []
    for r in cells.iter_rows(named=True):
        status, kind, m = r["status"], r["kind"], r["measure"]
        if status != "published":
            if status == "small_count":
                marker = MARKERS["small_count"] if kind == "count" else MARKERS["small_count_rate"]
            else:
                marker = MARKERS[status]
            out.append(marker.format(t=threshold))
            continue
        v, lo, hi = r["value"], r["ci_low"], r["ci_high"]
        if kind == "count":
            out.append(f"{int(r['denominator']):,}")
        elif v is None:
            out.append(MARKERS["none"])
        elif kind in ("proportion", "survival") or m in PERCENT_STATISTICS:
            ci = f" ({_pct(lo)}-{_pct(hi)})" if lo is not None and hi is not None else ""
            out.append(f"{_pct(v)}%{ci}")
        elif m == "median_los_days":
            out.append(f"{v:.0f} ({lo:.0f}-{hi:.0f})" if lo is not None else f"{v:.0f}")
        else:
            ci = f" ({lo:.1f}-{hi:.1f})" if lo is not None and hi is not None else ""
            out.append(f"{v:.1f}{ci}")
    return pl.Series("display", out, dtype=pl.String)


def _markers_note(threshold: int) -> str:
    return "Markers: " + " ".join(legend(threshold))


def _tidy(cells: pl.DataFrame) -> pl.DataFrame:
    return cells.select(TIDY_COLUMNS)


def _label_programs(frame: pl.DataFrame, column: str = "program") -> pl.DataFrame:
    return frame.with_columns(pl.col(column).replace(PROGRAM_LABELS))


def _order(frame: pl.DataFrame) -> pl.DataFrame:
    keys = []
    if "program" in frame.columns:
        keys.append(
            pl.col("program").replace_strict(
                {p: i for i, p in enumerate(PROGRAM_ORDER)}, default=99, return_dtype=pl.Int32
            )
        )
    if "band" in frame.columns:
        keys.append(
            pl.col("band").replace_strict(
                {b: i for i, b in enumerate(BAND_ORDER)}, default=99, return_dtype=pl.Int32
            )
        )
    return frame.sort(keys) if keys else frame


def _wide(cells, index, columns, labels, threshold) -> pl.DataFrame:
    """Pivot the displayed cells: one row per ``index`` group, one column per measure."""
    shown = cells.with_columns(display(cells, threshold))
    wide = _order(shown).pivot(on=columns, index=index, values="display", sort_columns=False)
    present = [c for c in labels if c in wide.columns]
    wide = wide.select(*index, *present).rename({c: labels[c] for c in present})
    if "program" in index:
        wide = _label_programs(wide)
    return wide.rename({"program": "Program", "band": "Planned length"}, strict=False)


# ---------------------------------------------------------------------------------------------
# The report's tables.


def _partial_year(pub: Publication, period: str) -> str:
    """``"; data from 2026Q1 only"`` when the export's first discharge quarter falls inside
    the trailing year of ``period`` (the year is then not fully covered), else ``""``."""
    from outcomes.metrics import shift_quarter

    first = min(pub.quarters) if pub.quarters else None
    year = [shift_quarter(period, -k) for k in range(3, -1, -1)]
    if first is None or first <= year[0]:
        return ""
    return f"; data from {first} only"


def summary_tables(pub: Publication, period: str) -> PublishedGroup:
    """Key figures per program (IOP, residential, all programs): this quarter, the previous
    quarter and the trailing year, one small table each."""
    from outcomes.metrics import shift_quarter

    previous, ty = shift_quarter(period, -1), trailing_year(period)
    columns = {
        period: f"This quarter ({period})",
        previous: f"Previous quarter ({previous})",
        ty: f"Trailing year ({ty}{_partial_year(pub, period)})",
    }
    cells = pl.concat(
        [
            pub.select("summary", list(columns)),
            pub.select("readmission_km", ty).filter(
                pl.col("measure").is_in(["readmission_by_30d", "readmission_by_90d"])
            ),
        ]
    )
    tables = []
    for program in ("iop", "residential", "all programs"):
        part = cells.filter(pl.col("program") == program)
        # a measure with nothing to count in every period (IOP hours for residential care,
        # step-down after IOP) is left out rather than shown as a row of dashes
        counted = part.filter(pl.col("status") != "none")["measure"].unique()
        part = part.filter(pl.col("measure").is_in(counted.implode()))
        part = part.with_columns(display(part, pub.threshold))
        order = {m: i for i, m in enumerate(MEASURE_LABELS)}
        wide = (
            part.with_columns(
                pl.col("measure")
                .replace_strict(order, default=99, return_dtype=pl.Int32)
                .alias("o")
            )
            .sort("o")
            .pivot(on="period", index="measure", values="display", sort_columns=False)
        )
        wide = wide.select(
            pl.col("measure").replace(MEASURE_LABELS).alias("Measure"),
            *[pl.col(p).alias(label) for p, label in columns.items() if p in wide.columns],
        ).fill_null("")
        tables.append(
            PublishedTable(
                name=f"summary_{program.replace(' ', '_')}",
                title=f"{PROGRAM_LABELS[program]}: key figures",
                table=wide,
                notes=(
                    "Outcomes of the episodes discharged in each period. Percentages with "
                    "their 95% interval; median stay with the middle half of stays.",
                    "Step-down and readmission only for the trailing year: a quarter's own "
                    "windows have mostly not ended. Readmission: the share readmitted by that "
                    "day after discharge, 1 - Kaplan-Meier, as in the readmission section.",
                    _markers_note(pub.threshold),
                ),
                tidy=_tidy(part),
            )
        )
    return PublishedGroup("summary", tuple(tables))


def completion_table(pub: Publication, period: str) -> PublishedTable:
    """Completion, early departure, length of stay, attendance and dose of the quarter's
    discharges, by program and planned length."""
    from outcomes.publication import COMPLETION_MEASURES

    cells = pub.select("completion", period)
    labels = {m: MEASURE_LABELS[m] for m in COMPLETION_MEASURES}
    return PublishedTable(
        name="completion_and_attendance",
        title=f"Completion and attendance of the episodes discharged in {period}",
        table=_wide(cells, ["program", "band"], "measure", labels, pub.threshold),
        notes=(
            "Sessions attended: attended / (attended + no-show) per episode, averaged; "
            "excused and cancelled sessions are not expected. IOP at 9+ hours a week: the "
            "ASAM level 2.1 adult minimum, among IOP stays of a week or more.",
            "Percentages with their 95% interval (Wilson for rates, normal for the average "
            "of sessions attended); median stay with the middle half of stays; hours a week "
            "with a 95% interval.",
            _markers_note(pub.threshold),
        ),
        tidy=_tidy(cells),
    )


def discharge_reason_table(pub: Publication, period: str) -> PublishedTable:
    """How the quarter's episodes ended, as shares of discharges, by program."""
    from outcomes.schema import DISCHARGE_REASONS

    cells = pub.select("reasons", period)
    labels = {"discharges": "Discharges"} | {
        f"discharge_reason_{r}": r.replace("_", " ").capitalize() for r in DISCHARGE_REASONS
    }
    return PublishedTable(
        name="discharge_reasons",
        title=f"How the episodes discharged in {period} ended",
        table=_wide(cells, ["program"], "measure", labels, pub.threshold),
        notes=(
            "Shares of the program's discharges, with 95% intervals. Completed and "
            "transferred together are SAMHSA's positive discharges (TEDS-D REASON 1 and 4).",
            _markers_note(pub.threshold),
        ),
        tidy=_tidy(cells),
    )


def transitions_table(pub: Publication, period: str) -> PublishedTable:
    """Step-down and readmission of the trailing year's discharges, by program."""
    from outcomes.publication import TRANSITION_MEASURES

    ty = trailing_year(period)
    cells = pub.select("transitions", ty)
    labels = {m: MEASURE_LABELS[m] for m in TRANSITION_MEASURES}
    return PublishedTable(
        name="step_down_and_readmission",
        title=f"Step-down after discharges in {ty}",
        table=_wide(cells, ["program"], "measure", labels, pub.threshold),
        notes=(
            "Step-down: admission to a lower level of care (PHP, IOP, outpatient) within the "
            "window after a completed or transferred residential or PHP stay (7 and 14 days "
            "as in NQF #3453). Each rate counts only the eligible discharges whose window had "
            "ended by the as-of date; programs with no eligible stay show '–'. Readmission "
            "follows in the next section.",
            _markers_note(pub.threshold),
        ),
        tidy=_tidy(cells),
    )


def survival_table(pub: Publication, period: str, outcome: str = "readmission") -> PublishedTable:
    """The share readmitted (or relapsed) by 30/90/180/365 days after discharge
    (1 - Kaplan-Meier), by program, for the trailing year's discharges, with the number still
    followed at each horizon."""
    ty = trailing_year(period)
    cells = pub.select(f"{outcome}_km", ty)
    name = f"{outcome}_kaplan_meier"
    title = f"{outcome.capitalize()} by days after discharge, discharges in {ty}"
    if cells.is_empty():
        return PublishedTable(
            name=name,
            title=title,
            table=pl.DataFrame({"Program": []}, schema={"Program": pl.String}),
            notes=("Not available: the export has no follow-up contacts.",)
            if outcome == "relapse"
            else ("No discharges to follow.",),
            tidy=_tidy(cells),
        )
    shown = cells.with_columns(display(cells, pub.threshold))
    shown = shown.with_columns(
        pl.when(pl.col("status") == "published")
        .then(pl.format("{}; {} followed", pl.col("display"), pl.col("denominator")))
        .otherwise(pl.col("display"))
        .alias("display")
    )
    wide = _order(shown).pivot(on="measure", index="program", values="display", sort_columns=False)
    horizons = [c for c in wide.columns if c != "program"]
    wide = _label_programs(wide).rename(
        {"program": "Program"}
        | {h: f"by {h.split('_by_')[1].removesuffix('d')} days" for h in horizons}
    )
    return PublishedTable(
        name=name,
        title=title,
        table=wide,
        notes=(
            f"Cumulative probability of {outcome} (1 - Kaplan-Meier) with its 95% interval; "
            "every discharge counts until its "
            f"{outcome} or the as-of date, so recent discharges add what they have; "
            "'followed': episodes still followed at that day. Horizons past a program's "
            "last follow-up are left out.",
            *(
                (
                    "Relapse: the first of readmission and a follow-up contact reporting use "
                    "since discharge; clients not reached are followed through readmissions only.",
                )
                if outcome == "relapse"
                else ()
            ),
            _markers_note(pub.threshold),
        ),
        tidy=_tidy(cells),
    )


def _mark_counts(table: pl.DataFrame, count: str, threshold: int) -> pl.DataFrame:
    """A ``status`` for counts that went through :func:`suppress_counts`, and the marker of
    a count withheld only to protect another (``(c)``, not ``<threshold``)."""
    protecting = pl.col("suppressed") & ~pl.col(count).is_between(1, threshold - 1)
    return table.with_columns(
        pl.when(protecting)
        .then(pl.lit(MARKERS["complementary"]))
        .otherwise(pl.col("display"))
        .alias("display"),
        pl.when(~pl.col("suppressed"))
        .then(pl.lit("published"))
        .when(protecting)
        .then(pl.lit("complementary"))
        .otherwise(pl.lit("small_count"))
        .alias("status"),
    )


def accounting_table(ds: Dataset, threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    """Rows read, kept and excluded per input file, suppressed.

    Each file's read = kept + excluded: a small excluded count is shown as ``<threshold``
    and the kept count then as ``(c)`` (withheld so the excluded count cannot be worked out).
    """
    long = ds.accounting.unpivot(
        index="file",
        on=["rows_read", "rows_kept", "rows_excluded"],
        variable_name="what",
        value_name="rows",
    )
    kept_excluded = _mark_counts(
        suppress_counts(
            long.filter(pl.col("what") != "rows_read"),
            "rows",
            groups=["file"],
            threshold=threshold,
        ),
        "rows",
        threshold,
    )
    read = _mark_counts(
        suppress_counts(
            long.filter(pl.col("what") == "rows_read"),
            "rows",
            threshold=threshold,
            total_published=False,
        ),
        "rows",
        threshold,
    )
    both = pl.concat([read, kept_excluded])
    shown = both.pivot(on="what", index="file", values="display").select(
        pl.col("file").alias("File"),
        pl.col("rows_read").alias("Rows read"),
        pl.col("rows_kept").alias("Rows kept"),
        pl.col("rows_excluded").alias("Rows excluded"),
    )
    tidy = both.select(
        pl.lit("data_quality").alias("table"),
        pl.col("file"),
        pl.col("what").alias("measure"),
        pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("rows")).alias("value"),
        "status",
    )
    return PublishedTable(
        name="data_quality_accounting",
        title="Rows read, kept and excluded per file",
        table=shown,
        notes=(
            "Rows that break the data contract are excluded with the sessions and follow-ups "
            "of an excluded episode; the rules are in the data dictionary.",
            _markers_note(threshold),
        ),
        tidy=tidy,
    )


def issues_table(ds: Dataset, threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    """Problems the loader found, by file and rule, with suppressed row counts."""
    summary = issue_summary(ds).select("file", "rule", "severity", "rows", "columns")
    shown = _mark_counts(
        suppress_counts(summary, "rows", groups=["file"], threshold=threshold), "rows", threshold
    )
    return PublishedTable(
        name="data_quality_issues",
        title="Data problems by file and rule",
        table=shown.select(
            pl.col("file").alias("File"),
            pl.col("rule").alias("Rule"),
            pl.col("severity").alias("Severity"),
            pl.col("display").alias("Rows"),
            pl.col("columns").alias("Columns"),
        ),
        notes=(
            "error: the row was excluded; warning: the row was kept and counted as the "
            "definitions say.",
            _markers_note(threshold),
        )
        if summary.height
        else ("No problems: every row follows the data contract.",),
        tidy=shown.select(
            pl.lit("data_quality").alias("table"),
            "file",
            "rule",
            "severity",
            pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("rows")).alias("value"),
            "status",
        ),
    )
