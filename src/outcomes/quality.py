"""Data-quality summaries of a loaded :class:`~outcomes.dataset.Dataset`.

These are the analyst's view of an export before any metric is trusted: what the loader found,
how complete the case-mix columns are, and which months the data covers. Counts here are not
suppressed; publication goes through :mod:`outcomes.suppression`.
"""

from __future__ import annotations

import polars as pl

from outcomes.dataset import Dataset
from outcomes.schema import SPECS

ISSUE_SUMMARY_COLUMNS = ("file", "rule", "severity", "rows", "columns", "example")
ROOT_CAUSE_COLUMNS = (
    "file",
    "row",
    "column",
    "value",
    "rule",
    "severity",
    "message",
    "dependent_rows",
)
ROOT_CAUSE_SUMMARY_COLUMNS = ("file", "rule", "severity", "rows", "dependent_rows", "columns")
#: The rule of a follow-on exclusion: a session or follow-up of an excluded episode.
FOLLOW_ON_RULE = "episode_excluded"
_CAUSE_ROW = r"enrollment row (\d+) has errors"
COMPLETENESS_COLUMNS = ("file", "column", "required", "rows", "missing", "missing_share")
COVERAGE_COLUMNS = ("quarter", "program_type", "admissions", "discharges", "open_at_end")


def issue_summary(ds: Dataset) -> pl.DataFrame:
    """Count the loader's issues by file, rule and severity.

    Returns
    -------
    polars.DataFrame
        ``file, rule, severity, rows`` (issue rows), ``columns`` (the columns involved, comma
        separated), ``example`` (the first issue's message with its spreadsheet row), in the
        order the issues are listed.
    """
    return (
        ds.issues.group_by("file", "rule", "severity", maintain_order=True)
        .agg(
            pl.len().alias("rows"),
            pl.col("column").unique(maintain_order=True).str.join(", ").alias("columns"),
            pl.format("row {}: {}", pl.col("row"), pl.col("message")).first().alias("example"),
        )
        .with_columns(pl.col("rows").cast(pl.Int64))
        .select(ISSUE_SUMMARY_COLUMNS)
    )


def root_causes(ds: Dataset) -> pl.DataFrame:
    """The issues that are not follow-on exclusions, each with how many rows it took with it.

    A session or follow-up excluded only because its episode's enrollment row has errors
    (rule ``episode_excluded``) is not a problem of its own: it is counted under that
    enrollment row, so that a few root causes are not buried under their consequences.

    Returns
    -------
    polars.DataFrame
        ``file, row, column, value, rule, severity, message`` as in ``ds.issues`` (follow-on
        exclusions left out), and ``dependent_rows``: the sessions and follow-ups excluded
        because of this enrollment row, on the row's first issue (0 on its other issues and on
        every other row, so the column sums to the number of follow-on exclusions). In the
        order of ``ds.issues``.
    """
    issues = ds.issues
    counts = (
        issues.filter(pl.col("rule") == FOLLOW_ON_RULE)
        .group_by(pl.col("message").str.extract(_CAUSE_ROW, 1).cast(pl.Int64).alias("row"))
        .agg(pl.len().cast(pl.Int64).alias("dependent_rows"))
        .with_columns(pl.lit(ds.accounting["file"][0]).alias("file"))  # enrollments come first
    )
    causes = issues.filter(pl.col("rule") != FOLLOW_ON_RULE)
    first = pl.struct("file", "row").is_first_distinct()
    return (
        causes.with_row_index("__order")
        .join(counts, on=["file", "row"], how="left")
        .sort("__order")
        .with_columns(pl.when(first).then(pl.col("dependent_rows").fill_null(0)).otherwise(0))
        .select(ROOT_CAUSE_COLUMNS)
    )


def root_cause_summary(ds: Dataset) -> pl.DataFrame:
    """:func:`root_causes` counted by file, rule and severity.

    Returns
    -------
    polars.DataFrame
        ``file, rule, severity, rows`` (issue rows that are root causes), ``dependent_rows``
        (sessions and follow-ups they excluded), ``columns`` (the columns involved), in the
        order the issues are listed.
    """
    return (
        root_causes(ds)
        .group_by("file", "rule", "severity", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("rows"),
            pl.col("dependent_rows").sum().cast(pl.Int64),
            pl.col("column").unique(maintain_order=True).str.join(", ").alias("columns"),
        )
        .select(ROOT_CAUSE_SUMMARY_COLUMNS)
    )


def completeness(ds: Dataset) -> pl.DataFrame:
    """Share of empty values in every contract column of every file.

    Returns
    -------
    polars.DataFrame
        ``file, column, required`` (whether the contract requires a value), ``rows``,
        ``missing`` (empty values), ``missing_share`` (missing / rows). ``discharge_date`` and
        ``discharge_reason`` are empty for open episodes, as the contract says.
    """
    rows = []
    for name, spec in SPECS.items():
        frame = getattr(ds, name)
        if frame is None:
            continue
        nulls = frame.select(spec.names).null_count().row(0)
        for col, missing in zip(spec.columns, nulls, strict=True):
            share = missing / frame.height if frame.height else None
            rows.append((name, col.name, not col.nullable, frame.height, missing, share))
    return pl.DataFrame(rows, schema=list(COMPLETENESS_COLUMNS), orient="row")


def coverage(ds: Dataset) -> pl.DataFrame:
    """Admissions and discharges per calendar quarter and program: which periods the data covers.

    Returns
    -------
    polars.DataFrame
        ``quarter`` (e.g. ``2026Q3``), ``program_type``, ``admissions`` (episodes admitted in
        the quarter), ``discharges`` (episodes discharged in it), ``open_at_end`` (episodes open
        on the quarter's last day: admitted by then, not yet discharged). Sorted by quarter and
        program.
    """
    enr = ds.enrollments

    def quarter(col: str) -> pl.Expr:
        return pl.format("{}Q{}", pl.col(col).dt.year(), pl.col(col).dt.quarter())

    adm = enr.group_by(quarter("admit_date").alias("quarter"), "program_type").agg(
        pl.len().alias("admissions")
    )
    dis = (
        enr.drop_nulls("discharge_date")
        .group_by(quarter("discharge_date").alias("quarter"), "program_type")
        .agg(pl.len().alias("discharges"))
    )
    return (
        adm.join(dis, on=["quarter", "program_type"], how="full", coalesce=True)
        .with_columns(pl.col("admissions", "discharges").fill_null(0).cast(pl.Int64))
        .sort("quarter", "program_type")
        # discharge never precedes admission, so the episodes open at a quarter's end are
        # those admitted by then less those discharged by then
        .with_columns(
            (pl.col("admissions").cum_sum() - pl.col("discharges").cum_sum())
            .over("program_type", order_by="quarter")
            .alias("open_at_end")
        )
        .select(COVERAGE_COLUMNS)
    )
