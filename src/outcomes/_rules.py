"""The rules of the data contract as polars expressions: parse values, find broken rules.

Private to :mod:`outcomes.io`. Value rules work on a :class:`~outcomes._table.Table` (a text
column on its distinct values), the rules across an enrollment's columns on the typed frame;
both return issue rows with the columns of :data:`outcomes.schema.ISSUE_COLUMNS` (``file`` is
filled in by the loader). Rules across rows are in :mod:`outcomes._links`.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from outcomes._table import ROW, Table, TableColumn, Text, absent
from outcomes.dataset import empty_issues
from outcomes.mapping import TableMapping
from outcomes.schema import (
    ISSUE_SCHEMA,
    PLANNED_LENGTH_RANGE,
    SPECS,
    Column,
    TableSpec,
)

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


def _given(col: Column, string_source: bool) -> pl.Expr:
    """Whether a value was given: non-empty text for text as read, non-null otherwise."""
    return as_text(col.name).is_not_null() if string_source else pl.col(col.name).is_not_null()


def _rules_of(
    col: Column,
    spec: TableSpec,
    tm: TableMapping,
    mapped: bool,
    parsed: pl.Expr,
    given: pl.Expr,
    values: dict[str, str] | None,
    date_format: str | None,
) -> list[tuple[str, pl.Expr, str]]:
    """(rule, mask of the values breaking it, message) for every value rule of a column."""
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
    return rules


def check_values(
    raw: Table,
    spec: TableSpec,
    tm: TableMapping | None = None,
    mapped: bool = False,
) -> tuple[Table, pl.DataFrame]:
    """Parse every contract column; report empty required values, bad types, codes, minima.

    ``tm`` is the table's mapping (value maps, date formats); with ``mapped`` (a mapping file
    is in use), a code outside the contract is reported with the mapping section to add it to:
    as ``unmapped_value`` in a column the mapping maps values of, else as ``allowed_values``.

    A dictionary-encoded text column (:class:`~outcomes._table.Text`) is parsed and checked
    on its distinct values, the value of a null row among them; issue rows are then cut out
    only for the values that break a rule. Other columns are checked row by row. Returns the
    typed table (contract columns in contract order, then the extra columns as read) and the
    issues.
    """
    tm = tm or TableMapping(spec.name)
    typed: dict[str, TableColumn] = {}
    frames: list[pl.DataFrame] = []
    for col in spec.columns:
        name = col.name
        if name not in raw.columns:
            typed[name] = absent(name, col.dtype, raw.height)
            continue
        values, date_format = tm.values.get(name), tm.date_formats.get(name)
        column = raw.columns[name]
        if not isinstance(column, Text):  # checked row by row
            parsed = _parse(col, column, values, date_format)
            given = _given(col, column.dtype == pl.String)
            rules = _rules_of(col, spec, tm, mapped, parsed, given, values, date_format)
            one = column.to_frame(name)
            masks = one.select(m.fill_null(False).alias(r) for r, m, _ in rules)
            for (rule, _, message), mask in zip(rules, masks.iter_columns(), strict=True):
                if mask.any():
                    at = mask.arg_true()
                    bad = pl.DataFrame([raw.rows_at(at), column.gather(at).alias(name)])
                    frames.append(_issue_rows(bad, pl.lit(True), name, rule, "error", message))
            typed[name] = one.select(parsed.alias(name)).to_series()
            continue
        distinct = column.values
        parsed = _parse(col, distinct, values, date_format)
        rules = _rules_of(col, spec, tm, mapped, parsed, _given(col, True), values, date_format)
        # the distinct values, then a null (the value of the rows whose code is null)
        lookup = pl.DataFrame([distinct]).vstack(pl.DataFrame([pl.Series(name, [None], pl.String)]))
        checked = lookup.select(
            parsed.alias("__parsed"), *(m.fill_null(False).alias(r) for r, m, _ in rules)
        )
        null_code = distinct.len()
        for rule, _, message in rules:
            bad = checked[rule].arg_true()
            if not bad.len():
                continue
            real = bad.filter(bad < null_code).cast(column.codes.dtype)
            hit = column.codes.is_in(real.implode()).fill_null(False)
            if real.len() < bad.len():
                hit = hit | column.codes.is_null()
            at = hit.arg_true()
            if at.len():
                offending = pl.DataFrame([raw.rows_at(at), column.gather(at).decode(name)])
                frames.append(_issue_rows(offending, pl.lit(True), name, rule, "error", message))
        typed[name] = column.with_values(checked["__parsed"].head(null_code).alias(name))
    for name, column in raw.columns.items():
        if name not in spec.names:
            typed[name] = column
    issues = pl.concat(frames, how="vertical") if frames else empty_issues()
    return Table(typed, raw.height, raw.rows, raw.first), issues


def given_flags(raw: Table, names: Iterable[str]) -> pl.DataFrame:
    """``__given_<name>``: whether each row has a non-empty value in ``name`` as read."""
    out = []
    for name in names:
        column = raw.columns[name]
        if isinstance(column, Text):
            flags = column.values.to_frame().select(as_text(name).is_not_null()).to_series()
            flag = flags.gather(column.codes).fill_null(False)
        else:
            flag = column.to_frame(name).select(as_text(name).is_not_null()).to_series()
        out.append(flag.alias(f"__given_{name}"))
    return pl.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# Rules across the columns of an enrollment


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
