"""Read a provider's export and check it against the data contract.

:func:`load` reads the files of a dataset folder, refuses what cannot be used at all (missing or
unreadable files, missing columns, direct identifiers), checks every value and every cross-row
rule declared in :mod:`outcomes.schema`, and reports each problem as a row of an ``issues``
frame. Every input row is accounted for: it is kept, or excluded with its reasons.
"""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path
from typing import Literal

import polars as pl

from outcomes._rules import (
    ROW,
    as_text,
    check_values,
    enrollment_rules,
    link_rules,
    rows_with_errors,
    sort_issues,
)
from outcomes.dataset import Dataset
from outcomes.errors import DataError, IdentifierError, InputError
from outcomes.schema import (
    ACCOUNTING_COLUMNS,
    FILE_EXTENSIONS,
    IDENTIFIER_VALUE_PATTERNS,
    SPECS,
    ZIP_PATTERN,
    TableSpec,
    identifier_kind,
    normalise_column_name,
)

OnError = Literal["raise", "exclude"]


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
    checked = {name: check_values(frame, SPECS[name]) for name, frame in raw.items()}

    typed = {name: c[0] for name, c in checked.items()}
    issues = {name: [c[1]] for name, c in checked.items()}
    given = raw["enrollments"].select(
        as_text(c).is_not_null().alias(f"__given_{c}")
        for c in ("discharge_date", "discharge_reason")
    )
    issues["enrollments"].append(enrollment_rules(typed["enrollments"].hstack(given)))

    bad_episodes = rows_with_errors(issues["enrollments"])
    valid_enrollments = typed["enrollments"].filter(~pl.col(ROW).is_in(bad_episodes))
    for name in ("attendance", "followups"):
        if name in typed:
            issues[name].append(
                link_rules(typed[name], name, typed["enrollments"], valid_enrollments)
            )

    issue_frames = {name: pl.concat(frames, how="vertical") for name, frames in issues.items()}
    all_issues = sort_issues(
        pl.concat(
            [f.with_columns(pl.lit(files[name]).alias("file")) for name, f in issue_frames.items()],
            how="vertical",
        )
    )
    kept: dict[str, pl.DataFrame] = {}
    accounting_rows = []
    for name, frame in typed.items():
        f_issues = issue_frames[name]
        err_rows = rows_with_errors([f_issues])
        warn_rows = f_issues.filter(pl.col("severity") == "warning")["row"].unique()
        keep = frame.filter(~pl.col(ROW).is_in(err_rows))
        kept[name] = keep.drop(ROW)
        accounting_rows.append(
            (
                files[name],
                frame.height,
                keep.height,
                frame.height - keep.height,
                keep.filter(pl.col(ROW).is_in(warn_rows.implode())).height,
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
        frames[name] = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
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
