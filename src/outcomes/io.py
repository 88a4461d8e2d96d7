"""Read a provider's export and check it against the data contract.

:func:`load` reads the files of a dataset folder, refuses what cannot be used at all (missing or
unreadable files, missing columns, direct identifiers), checks every value and every cross-row
rule declared in :mod:`outcomes.schema`, and reports each problem as a row of an ``issues``
frame. Every input row is accounted for: it is kept, or excluded with its reasons.
"""

from __future__ import annotations

import csv
import io as _io
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import polars as pl

from outcomes.dataset import Dataset, empty_issues
from outcomes.errors import DataError, IdentifierError, InputError
from outcomes.schema import (
    ACCOUNTING_COLUMNS,
    FILE_EXTENSIONS,
    IDENTIFIER_VALUE_PATTERNS,
    ISSUE_SCHEMA,
    PLANNED_LENGTH_RANGE,
    SESSION_TOLERANCE_DAYS,
    SPECS,
    ZIP_PATTERN,
    Column,
    TableSpec,
    identifier_kind,
    normalise_column_name,
)

OnError = Literal["raise", "exclude"]

_ROW = "__row"  # spreadsheet row number: header = 1, first data row = 2
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"


def load(path: str | Path, *, on_error: OnError = "raise") -> Dataset:
    """Load a dataset folder and check it against the data contract.

    Parameters
    ----------
    path : str or Path
        A folder holding ``enrollments``, ``attendance`` and optionally ``followups``, each as
        ``.csv`` (UTF-8, comma-separated, header row) or ``.parquet``. The columns of each file
        are documented in ``docs/data-dictionary.md`` and declared in :mod:`outcomes.schema`.
    on_error : {"raise", "exclude"}
        ``"raise"``: raise one :class:`~outcomes.errors.DataError` carrying every problem when
        any row breaks a rule of severity ``error``. ``"exclude"``: drop the failing rows (and
        the sessions and follow-ups of dropped episodes) and keep them in ``issues``. Warnings
        never exclude a row.

    Returns
    -------
    Dataset
        ``enrollments``, ``attendance``, ``followups`` (``None`` without a followups file) with
        the contract's dtypes; ``issues`` with columns ``file, row, column, value, rule,
        severity, message``; ``accounting`` with ``file, rows_read, rows_kept, rows_excluded,
        rows_with_warnings``.

    Raises
    ------
    InputError
        A file is missing, empty, header-only, not UTF-8, unreadable, or lacks a required
        column (one line per problem).
    IdentifierError
        A file has a direct-identifier column (names, dates of birth, SSN, phone, e-mail,
        street address, ZIP beyond 3 digits, medical record number, and the like).
    DataError
        ``on_error="raise"`` and some row breaks a rule; or no valid episode remains.

    Examples
    --------
    >>> import outcomes
    >>> ds = outcomes.load("data/sample")  # doctest: +SKIP
    >>> ds.accounting  # doctest: +SKIP
    """
    if on_error not in ("raise", "exclude"):
        raise ValueError(f'on_error must be "raise" or "exclude", not {on_error!r}')
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (a dataset is a folder of files)")

    raw, files = _read_all(folder)
    checked = {name: _check_values(frame, SPECS[name]) for name, frame in raw.items()}

    typed = {name: c[0] for name, c in checked.items()}
    issues = {name: [c[1]] for name, c in checked.items()}
    given = raw["enrollments"].select(
        _as_text(c).is_not_null().alias(f"__given_{c}")
        for c in ("discharge_date", "discharge_reason")
    )
    issues["enrollments"].append(_enrollment_rules(typed["enrollments"].hstack(given)))

    bad_episodes = _rows_with_errors(issues["enrollments"])
    valid_enrollments = typed["enrollments"].filter(~pl.col(_ROW).is_in(bad_episodes))
    for name in ("attendance", "followups"):
        if name in typed:
            issues[name].append(
                _link_rules(typed[name], name, typed["enrollments"], valid_enrollments)
            )

    issue_frames = {name: pl.concat(frames, how="vertical") for name, frames in issues.items()}
    all_issues = _sort_issues(
        pl.concat(
            [f.with_columns(pl.lit(files[name]).alias("file")) for name, f in issue_frames.items()],
            how="vertical",
        )
    )
    kept: dict[str, pl.DataFrame] = {}
    accounting_rows = []
    for name, frame in typed.items():
        f_issues = issue_frames[name]
        err_rows = _rows_with_errors([f_issues])
        warn_rows = f_issues.filter(pl.col("severity") == "warning")["row"].unique()
        keep = frame.filter(~pl.col(_ROW).is_in(err_rows))
        kept[name] = keep.drop(_ROW)
        accounting_rows.append(
            (
                files[name],
                frame.height,
                keep.height,
                frame.height - keep.height,
                keep.filter(pl.col(_ROW).is_in(warn_rows.implode())).height,
            )
        )
    accounting = pl.DataFrame(accounting_rows, schema=list(ACCOUNTING_COLUMNS), orient="row")

    n_errors = all_issues.filter(pl.col("severity") == "error").height
    if on_error == "raise" and n_errors:
        raise DataError(all_issues, accounting)
    if kept["enrollments"].height == 0:
        raise DataError(all_issues, accounting)
    return Dataset(
        enrollments=kept["enrollments"],
        attendance=kept["attendance"],
        followups=kept.get("followups"),
        issues=all_issues,
        accounting=accounting,
        source=str(folder),
    )


# ---------------------------------------------------------------------------------------------
# Reading and refusing


def _find_file(folder: Path, name: str) -> Path | None:
    found = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.stem.lower() == name and p.suffix.lower() in FILE_EXTENSIONS
    ]
    if len(found) > 1:
        raise InputError(
            f"{folder}: both {' and '.join(sorted(p.name for p in found))} exist; keep one"
        )
    return found[0] if found else None


def _read_all(folder: Path) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """Read every file of the dataset as it is; collect every refusal before raising."""
    problems: list[str] = []
    identifiers: dict[str, list[str]] = {}
    id_problems: list[str] = []
    frames: dict[str, pl.DataFrame] = {}
    files: dict[str, str] = {}
    for name, spec in SPECS.items():
        try:
            file = _find_file(folder, name)
        except InputError as err:
            problems.extend(err.problems)
            continue
        if file is None:
            if not spec.optional:
                problems.append(
                    f"{folder}: missing file {name}.csv (or {name}.parquet); "
                    "see docs/data-dictionary.md"
                )
            continue
        try:
            frame = _read_file(file)
        except InputError as err:
            problems.extend(err.problems)
            continue
        frame = _match_contract_names(frame, spec, file)
        found = _identifier_columns(frame, spec)
        if found:
            identifiers[file.name] = [c for c, _ in found]
            id_problems.extend(
                f"{file.name}: column '{col}' looks like {kind}. outcomes takes de-identified "
                f"data only: drop the column '{col}' from the export and try again."
                for col, kind in found
            )
            continue
        missing = [c for c in spec.required_names if c not in frame.columns]
        if missing:
            problems.append(
                f"{file.name}: missing required column(s) {', '.join(missing)}; "
                "see docs/data-dictionary.md"
            )
            continue
        frames[name] = frame.with_row_index(_ROW, offset=2).with_columns(
            pl.col(_ROW).cast(pl.Int64)
        )
        files[name] = file.name
    if id_problems:
        raise IdentifierError(id_problems + problems, identifiers)
    if problems:
        raise InputError(problems)
    return frames, files


def _read_file(file: Path) -> pl.DataFrame:
    if file.suffix.lower() == ".parquet":
        try:
            frame = pl.read_parquet(file)
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"{file.name}: cannot be read as Parquet ({first})") from None
        if frame.width == 0:
            raise InputError(f"{file.name}: empty file (no columns)")
        if frame.height == 0:
            raise InputError(f"{file.name}: has a header but no rows")
        return frame
    data = file.read_bytes()
    if not data or data.isspace():
        raise InputError(f"{file.name}: empty file")
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark, as Excel writes it
        data = data[3:]
    try:
        header_line = data.split(b"\n", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(file, data) from None
    names = [h.strip() for h in next(csv.reader([header_line]), [])]
    if not any(names):
        raise InputError(f"{file.name}: the first line holds no column names")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{file.name}: column name(s) repeated in the header: {', '.join(dupes)}")
    try:
        frame = pl.read_csv(data, infer_schema=False, new_columns=names, raise_if_empty=False)
    except Exception as err:  # any parser failure is a refusal, never a traceback
        raise _why_unparsable(file, data, names, err) from None
    if frame.height == 0:
        raise InputError(f"{file.name}: has a header but no rows")
    return frame


def _not_utf8(file: Path, data: bytes) -> InputError:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return InputError(
            f"{file.name}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "save it as 'CSV UTF-8' and try again"
        )
    return InputError(f"{file.name}: not UTF-8 text; save it as 'CSV UTF-8' and try again")


def _why_unparsable(file: Path, data: bytes, names: list[str], err: Exception) -> InputError:
    """Diagnose a CSV the parser rejected: bad encoding, or rows with too many fields."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _not_utf8(file, data)
    ragged = [
        f"row {i} has {len(fields)} fields"
        for i, fields in enumerate(csv.reader(_io.StringIO(text)), start=1)
        if len(fields) > len(names)
    ]
    if ragged:
        more = f" and {len(ragged) - 5} more rows" if len(ragged) > 5 else ""
        return InputError(
            f"{file.name}: the header has {len(names)} columns but {', '.join(ragged[:5])}{more}"
        )
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return InputError(f"{file.name}: cannot be parsed as CSV ({first})")


def _match_contract_names(frame: pl.DataFrame, spec: TableSpec, file: Path) -> pl.DataFrame:
    """Rename columns that match a contract name up to case and surrounding blanks."""
    by_norm = {c.name: c.name for c in spec.columns}
    renames = {}
    for col in frame.columns:
        target = by_norm.get(col.strip().lower())
        if target and target != col:
            renames[col] = target
    if len(set(renames.values()) | (set(frame.columns) - set(renames))) < frame.width:
        raise InputError(f"{file.name}: a column appears twice under different spellings")
    return frame.rename(renames) if renames else frame


def _identifier_columns(frame: pl.DataFrame, spec: TableSpec) -> list[tuple[str, str]]:
    found = []
    for col in frame.columns:
        if col in spec.names:
            continue
        kind = identifier_kind(col)
        if kind is None and ZIP_PATTERN.match(normalise_column_name(col)):
            digits = frame[col].cast(pl.String).str.replace_all(r"\D", "").str.len_chars()
            if (digits > 3).any():
                kind = "a ZIP code with more than 3 digits"
        if kind is None and frame[col].dtype == pl.String:
            values = frame[col].str.strip_chars()
            for what, pattern in IDENTIFIER_VALUE_PATTERNS:
                if values.str.contains(pattern).any():
                    kind = f"{what} (from its values)"
                    break
        if kind is not None:
            found.append((col, kind))
    return found


# ---------------------------------------------------------------------------------------------
# Values


def _as_text(name: str) -> pl.Expr:
    """The raw value as the user wrote it: stripped text, empty -> null."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "date": "a date as YYYY-MM-DD",
    "bool": "true or false",
}


def _parse(col: Column, series: pl.Series) -> pl.Expr:
    """Parse a column into its contract dtype; a value that does not parse becomes null.

    Columns that already have the contract dtype (typed Parquet) are taken as they are, and a
    text column whose values are all clean codes is not rewritten (the common case, and it
    matters at tens of millions of session rows).
    """
    name, dtype = col.name, series.dtype
    if dtype == col.dtype and col.kind not in ("code", "str"):
        return pl.col(name)
    if col.kind == "code" and dtype == pl.String and series.is_in(col.allowed).all():
        return pl.col(name)  # nulls make is_in null, and .all() ignores nulls
    text = _as_text(name)
    if col.kind == "str":
        return text
    if col.kind == "code":
        return text.str.to_lowercase()
    if col.kind == "date":
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            return pl.col(name).cast(pl.Date)
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
    value = _as_text(column) if value is None else value
    msg = pl.lit(message) if isinstance(message, str) else message
    return frame.filter(mask).select(
        pl.lit("").alias("file"),
        pl.col(_ROW).alias("row"),
        pl.lit(column).alias("column"),
        value.cast(pl.String).alias("value"),
        pl.lit(rule).alias("rule"),
        pl.lit(severity).alias("severity"),
        msg.cast(pl.String).alias("message"),
    )


def _check_values(raw: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse every contract column; report empty required values, bad types, codes, minima.

    One pass computes every parsed column and one boolean column per (column, rule); issue rows
    are then cut out only for the rules that some row breaks.
    """
    parsed_exprs: list[pl.Expr] = []
    checks: dict[str, tuple[str, str, str]] = {}  # mask column -> (column, rule, message)
    mask_exprs: list[pl.Expr] = []
    for col in spec.columns:
        if col.name not in raw.columns:
            parsed_exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
            continue
        series = raw[col.name]
        parsed = _parse(col, series)
        parsed_exprs.append(parsed.alias(col.name))
        if series.dtype == pl.String:
            given = _as_text(col.name).is_not_null()
        else:
            given = pl.col(col.name).is_not_null()
        rules: list[tuple[str, pl.Expr, str]] = []
        if not col.nullable:
            rules.append(("required", ~given, f"{col.name} is required"))
        if col.kind in _EXPECTED and not parsed.meta.is_column():
            rules.append(
                ("type", given & parsed.is_null(), f"{col.name} must be {_EXPECTED[col.kind]}")
            )
        if col.allowed:
            rules.append(
                (
                    "allowed_values",
                    parsed.is_not_null() & ~parsed.is_in(col.allowed),
                    f"{col.name} must be one of {', '.join(col.allowed)}",
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
    extra = [c for c in raw.columns if c not in spec.names and c != _ROW]
    masks = raw.select(mask_exprs) if mask_exprs else pl.DataFrame()
    broken = [k for k in masks.columns if masks[k].any()]
    frames = [
        _issue_rows(raw.with_columns(masks[k]), pl.col(k), *checks[k][:2], "error", checks[k][2])
        for k in broken
    ]
    typed = raw.select(pl.col(_ROW), *parsed_exprs, *[pl.col(c) for c in extra])
    issues = pl.concat(frames, how="vertical") if frames else empty_issues()
    return typed, issues


# ---------------------------------------------------------------------------------------------
# Cross-row rules


def _enrollment_rules(enr: pl.DataFrame) -> pl.DataFrame:
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


def _link_rules(
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
            pl.col(_ROW).is_in(valid[_ROW].implode()).alias("__valid"),
        )
        .drop_nulls("episode_id")
        .sort("__valid")  # an id on several rows is invalid on all of them: keep one copy
        .unique("episode_id", keep="first")
    )
    joined = frame.select(
        _ROW, "episode_id", "session_date" if name == "attendance" else "contact_date"
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
            "the episode's enrollment row has errors, so this row is excluded too",
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


def _rows_with_errors(frames: Iterable[pl.DataFrame]) -> pl.Series:
    rows = pl.concat(list(frames), how="vertical").filter(pl.col("severity") == "error")["row"]
    return rows.unique().implode()


def _sort_issues(issues: pl.DataFrame) -> pl.DataFrame:
    order = {name: i for i, name in enumerate(SPECS)}
    return (
        issues.with_columns(
            pl.col("file")
            .str.split(".")
            .list.first()
            .replace_strict(order, default=len(order), return_dtype=pl.Int32)
            .alias("__order")
        )
        .sort("__order", "row", "column", "rule")
        .drop("__order")
        .select(list(ISSUE_SCHEMA))
        .cast(ISSUE_SCHEMA)
    )
