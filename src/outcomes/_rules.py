"""The rules of the data contract as polars expressions: parse values, find broken rules.

Private to :mod:`outcomes.io`. Every function works on whole frames (one pass per rule set) and
returns issue rows with the columns of :data:`outcomes.schema.ISSUE_COLUMNS` (``file`` is
filled in by the loader).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from outcomes.dataset import empty_issues
from outcomes.mapping import TableMapping
from outcomes.schema import (
    ISSUE_SCHEMA,
    PLANNED_LENGTH_RANGE,
    SESSION_TOLERANCE_DAYS,
    SPECS,
    Column,
    TableSpec,
)

ROW = "__row"  # spreadsheet row number: header = 1, first data row = 2
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"


# ---------------------------------------------------------------------------------------------
# Values


def as_text(name: str) -> pl.Expr:
    """The raw value as the user wrote it: stripped text, empty -> null."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "date": "a date as YYYY-MM-DD",
    "bool": "true or false",
}


def _parse(
    col: Column,
    series: pl.Series,
    values: dict[str, str] | None = None,
    date_format: str | None = None,
) -> pl.Expr:
    """Parse a column into its contract dtype; a value that does not parse becomes null.

    ``values`` (from the mapping: export value in lower case -> contract value) is applied to
    the stripped text first; a value it does not cover goes on as written. ``date_format``
    replaces ISO dates for a text date column.

    Columns that already have the contract dtype (typed Parquet) are taken as they are, and a
    text column whose values are all clean codes is not rewritten (the common case, and it
    matters at tens of millions of session rows).
    """
    name, dtype = col.name, series.dtype
    if dtype == col.dtype and col.kind not in ("code", "str"):
        return pl.col(name)
    if col.kind == "code" and not values and dtype == pl.String and series.is_in(col.allowed).all():
        return pl.col(name)  # nulls make is_in null, and .all() ignores nulls
    text = as_text(name)
    if values:
        low = text.str.to_lowercase()
        text = pl.when(low.is_in(list(values))).then(low.replace(values)).otherwise(text)
    if col.kind == "str":
        return text
    if col.kind == "code":
        return text.str.to_lowercase()
    if col.kind == "date":
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            return pl.col(name).cast(pl.Date)
        if date_format:
            return text.str.to_date(date_format, strict=False)
        return (
            pl.when(text.str.contains(_DATE_RE))
            .then(text.str.to_date("%Y-%m-%d", strict=False))
            .otherwise(None)
        )
    if col.kind == "bool":
        low = text.str.to_lowercase()
        return (
            pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
        )
    number = text.cast(pl.Float64, strict=False)
    number = pl.when(number.is_finite()).then(number).otherwise(None)
    if col.kind == "int":
        whole = number.round(0)
        return pl.when(number == whole).then(whole.cast(col.dtype)).otherwise(None)
    return number


def _issue_rows(
    frame: pl.DataFrame,
    mask: pl.Expr,
    column: str,
    rule: str,
    severity: str,
    message: pl.Expr | str,
    value: pl.Expr | None = None,
) -> pl.DataFrame:
    """The issues of the rows of ``frame`` where ``mask`` holds (file is filled in later)."""
    value = as_text(column) if value is None else value
    msg = pl.lit(message) if isinstance(message, str) else message
    return frame.filter(mask).select(
        pl.lit("").alias("file"),
        pl.col(ROW).alias("row"),
        pl.lit(column).alias("column"),
        value.cast(pl.String).alias("value"),
        pl.lit(rule).alias("rule"),
        pl.lit(severity).alias("severity"),
        msg.cast(pl.String).alias("message"),
    )


def check_values(
    raw: pl.DataFrame,
    spec: TableSpec,
    tm: TableMapping | None = None,
    mapped: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse every contract column; report empty required values, bad types, codes, minima.

    ``tm`` is the table's mapping (value maps, date formats); with ``mapped`` (a mapping file
    is in use), a code outside the contract is reported with the mapping section to add it to:
    as ``unmapped_value`` in a column the mapping maps values of, else as ``allowed_values``.

    One pass computes every parsed column and one boolean column per (column, rule); issue rows
    are then cut out only for the rules that some row breaks.
    """
    tm = tm or TableMapping(spec.name)
    parsed_exprs: list[pl.Expr] = []
    checks: dict[str, tuple[str, str, str]] = {}  # mask column -> (column, rule, message)
    mask_exprs: list[pl.Expr] = []
    for col in spec.columns:
        if col.name not in raw.columns:
            parsed_exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
            continue
        series = raw[col.name]
        values, date_format = tm.values.get(col.name), tm.date_formats.get(col.name)
        parsed = _parse(col, series, values, date_format)
        parsed_exprs.append(parsed.alias(col.name))
        if series.dtype == pl.String:
            given = as_text(col.name).is_not_null()
        else:
            given = pl.col(col.name).is_not_null()
        rules: list[tuple[str, pl.Expr, str]] = []
        if not col.nullable:
            rules.append(("required", ~given, f"{col.name} is required"))
        if col.kind in _EXPECTED and not parsed.meta.is_column():
            expected = _EXPECTED[col.kind]
            if date_format and col.kind == "date":
                expected = f"a date as {date_format} (the mapping's date format)"
            elif col.kind == "date":
                expected += (
                    f" (or declare the export's format: [{spec.name}.date_formats] in a mapping)"
                )
            rules.append(("type", given & parsed.is_null(), f"{col.name} must be {expected}"))
        if col.allowed:
            outside = parsed.is_not_null() & ~parsed.is_in(col.allowed)
            section = tm.section(col.name)
            if values:
                rules.append(
                    (
                        "unmapped_value",
                        outside,
                        f"{col.name}: this value is not in the mapping; add it under {section} "
                        f"as one of {', '.join(col.allowed)}",
                    )
                )
            else:
                hint = f", or map it under {section} in the mapping" if mapped else ""
                rules.append(
                    (
                        "allowed_values",
                        outside,
                        f"{col.name} must be one of {', '.join(col.allowed)}{hint}",
                    )
                )
        if col.minimum is not None:
            rules.append(
                (
                    "minimum",
                    parsed.is_not_null() & (parsed < col.minimum),
                    f"{col.name} must be at least {col.minimum:g}",
                )
            )
        for rule, mask, message in rules:
            key = f"__{rule}__{col.name}"
            checks[key] = (col.name, rule, message)
            mask_exprs.append(mask.fill_null(False).alias(key))
    extra = [c for c in raw.columns if c not in spec.names and c != ROW]
    masks = raw.select(mask_exprs) if mask_exprs else pl.DataFrame()
    broken = [k for k in masks.columns if masks[k].any()]
    frames = [
        _issue_rows(raw.with_columns(masks[k]), pl.col(k), *checks[k][:2], "error", checks[k][2])
        for k in broken
    ]
    typed = raw.select(pl.col(ROW), *parsed_exprs, *[pl.col(c) for c in extra])
    issues = pl.concat(frames, how="vertical") if frames else empty_issues()
    return typed, issues


# ---------------------------------------------------------------------------------------------
# Rows exported twice


def exact_duplicates(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split off the rows identical, in every column as read, to an earlier row.

    Returns the frame without them (each such row is kept once, at its first occurrence) and
    one ``exact_duplicate`` warning per dropped copy, naming the row it repeats. Empty values
    count as equal. Rows that share a key but differ anywhere are left for the key rules.
    """
    cols = [c for c in raw.columns if c != ROW]
    # Equal rows have equal row hashes, so all-distinct hashes (the usual answer) settle it in
    # one cheap pass: a hash per column combined into one, and its distinct count (a tenth of
    # the time of comparing whole rows over millions of sessions). Only rows whose hash repeats
    # are then compared whole (which also rules out hash collisions).
    row_hash = raw.select(
        pl.fold(
            pl.lit(0, dtype=pl.UInt64),
            lambda acc, h: (acc * 1_000_003) ^ h,  # wraps around on overflow
            [pl.col(c).hash(seed=i) for i, c in enumerate(cols)],
        )
    ).to_series()
    if row_hash.n_unique() == raw.height:
        return raw, empty_issues()
    candidates = raw.filter(row_hash.is_duplicated())
    repeated = candidates.select(cols).is_duplicated()
    if not repeated.any():
        return raw, empty_issues()
    copies = (
        candidates.filter(repeated)
        .with_columns(pl.col(ROW).min().over(cols).alias("__first"))
        .filter(pl.col(ROW) != pl.col("__first"))
    )
    issues = _issue_rows(
        copies,
        pl.lit(True),
        "episode_id",
        "exact_duplicate",
        "warning",
        pl.format("row is identical in every column to row {}; kept once", pl.col("__first")),
        value=pl.col("episode_id"),
    )
    return raw.filter(~pl.col(ROW).is_in(copies[ROW].implode())), issues


# ---------------------------------------------------------------------------------------------
# Cross-row rules


def enrollment_rules(enr: pl.DataFrame) -> pl.DataFrame:
    dis, adm = pl.col("discharge_date"), pl.col("admit_date")
    has_dis, has_reason = pl.col("__given_discharge_date"), pl.col("__given_discharge_reason")
    planned = pl.col("planned_length_days")
    lo = pl.col("program_type").replace_strict(
        {k: v[0] for k, v in PLANNED_LENGTH_RANGE.items()}, default=None, return_dtype=pl.Int32
    )
    hi = pl.col("program_type").replace_strict(
        {k: v[1] for k, v in PLANNED_LENGTH_RANGE.items()}, default=None, return_dtype=pl.Int32
    )
    ranges = "; ".join(f"{k} {a}-{b}" for k, (a, b) in PLANNED_LENGTH_RANGE.items())
    parts = [
        _issue_rows(
            enr,
            pl.col("episode_id").is_not_null() & pl.col("episode_id").is_duplicated(),
            "episode_id",
            "duplicate_episode_id",
            "error",
            pl.format("episode_id appears on {} rows", pl.len().over("episode_id")),
            value=pl.col("episode_id"),
        ),
        _issue_rows(
            enr,
            dis < adm,
            "discharge_date",
            "discharge_before_admission",
            "error",
            pl.format("discharge_date is before admit_date {}", adm),
            value=dis,
        ),
        _issue_rows(
            enr,
            has_reason & ~has_dis,
            "discharge_reason",
            "reason_without_discharge",
            "error",
            "discharge_reason is given but discharge_date is empty",
            value=pl.col("discharge_reason"),
        ),
        _issue_rows(
            enr,
            has_dis & ~has_reason,
            "discharge_reason",
            "discharge_without_reason",
            "error",
            "discharge_date is given but discharge_reason is empty",
            value=pl.col("discharge_reason"),
        ),
        _issue_rows(
            enr,
            (planned >= 1) & ((planned < lo) | (planned > hi)),
            "planned_length_days",
            "planned_length_implausible",
            "warning",
            pl.format(
                "planned length {} days is implausible for {} (plausible: " + ranges + ")",
                planned,
                pl.col("program_type"),
            ),
            value=planned,
        ),
    ]
    return pl.concat(parts, how="vertical")


def link_rules(
    frame: pl.DataFrame,
    name: str,
    enrollments: pl.DataFrame,
    valid: pl.DataFrame,
) -> pl.DataFrame:
    """Rules linking attendance or followups rows to their episode (one join does them all)."""
    bounds = (
        enrollments.select(
            "episode_id",
            "admit_date",
            "discharge_date",
            pl.col(ROW).is_in(valid[ROW].implode()).alias("__valid"),
            pl.col(ROW).alias("__enrollment_row"),
        )
        .drop_nulls("episode_id")
        .sort("__valid", "__enrollment_row")  # an id on several rows is invalid on all: keep one
        .unique("episode_id", keep="first")
    )
    joined = frame.select(
        ROW, "episode_id", "session_date" if name == "attendance" else "contact_date"
    ).join(bounds, on="episode_id", how="left")
    eid = pl.col("episode_id")
    parts = [
        _issue_rows(
            joined,
            eid.is_not_null() & pl.col("__valid").is_null(),
            "episode_id",
            "unknown_episode",
            "error",
            "episode_id is not in enrollments",
        ),
        _issue_rows(
            joined,
            pl.col("__valid").not_(),
            "episode_id",
            "episode_excluded",
            "error",
            pl.format(
                "the episode's enrollment row {} has errors, so this row is excluded too",
                pl.col("__enrollment_row"),
            ),
        ),
    ]
    joined = joined.filter(pl.col("__valid"))
    if name == "attendance":
        date = pl.col("session_date")
        tol = pl.duration(days=SESSION_TOLERANCE_DAYS)
        outside = (date < pl.col("admit_date") - tol) | (date > pl.col("discharge_date") + tol)
        parts.append(
            _issue_rows(
                joined,
                outside,
                "session_date",
                "session_outside_episode",
                "warning",
                pl.format(
                    "session more than "
                    + str(SESSION_TOLERANCE_DAYS)
                    + " days outside its episode ({} to {}); kept but not counted",
                    pl.col("admit_date"),
                    pl.col("discharge_date").cast(pl.String).fill_null("open"),
                ),
                value=date,
            )
        )
    else:
        date = pl.col("contact_date")
        before = pl.col("discharge_date").is_null() | (date <= pl.col("discharge_date"))
        parts.append(
            _issue_rows(
                joined,
                before,
                "contact_date",
                "contact_before_discharge",
                "warning",
                pl.format(
                    "contact is not after discharge ({}); kept but not counted as a "
                    "post-discharge contact",
                    pl.col("discharge_date").cast(pl.String).fill_null("episode open"),
                ),
                value=date,
            )
        )
    return pl.concat(parts, how="vertical")


def rows_with_errors(frames: Iterable[pl.DataFrame]) -> pl.Series:
    rows = pl.concat(list(frames), how="vertical").filter(pl.col("severity") == "error")["row"]
    return rows.unique().implode()


def sort_issues(issues: pl.DataFrame, files: dict[str, str]) -> pl.DataFrame:
    """Issues in the contract's order of tables (``files``: table -> file label), then by row."""
    order = {files[name]: i for i, name in enumerate(SPECS) if name in files}
    return (
        issues.with_columns(
            pl.col("file")
            .replace_strict(order, default=len(order), return_dtype=pl.Int32)
            .alias("__order")
        )
        .sort("__order", "row", "column", "rule")
        .drop("__order")
        .select(list(ISSUE_SCHEMA))
        .cast(ISSUE_SCHEMA)
    )
