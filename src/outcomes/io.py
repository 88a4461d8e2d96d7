"""Read a provider's export and check it against the data contract.

:func:`load` reads the files of a dataset folder, refuses what cannot be used at all (missing or
unreadable files, missing columns, direct identifiers), checks every value and every cross-row
rule declared in :mod:`outcomes.schema`, and reports each problem as a row of an ``issues``
frame. Every input row is accounted for: it is kept, or excluded with its reasons.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from outcomes._links import episode_bounds, exact_duplicates, link_rules
from outcomes._rules import (
    check_values,
    enrollment_rules,
    given_flags,
    rows_with_errors,
    sort_issues,
)
from outcomes._table import ROW, Table, Text, read
from outcomes.dataset import Dataset, session_rows
from outcomes.errors import DataError, IdentifierError, InputError
from outcomes.mapping import Mapping, TableMapping, read_mapping
from outcomes.schema import (
    ACCOUNTING_COLUMNS,
    FILE_EXTENSIONS,
    FREE_TEXT_MIN_DISTINCT,
    IDENTIFIER_VALUE_PATTERNS,
    KEY_COLUMNS,
    NUMBER_VALUE_PATTERNS,
    PERSON_NAME_MIN_DISTINCT,
    PERSON_NAME_PATTERN,
    SPECS,
    ZIP_KIND,
    ZIP_MAX_DIGITS,
    TableSpec,
    identifier_kind,
    is_zip_column,
)

OnError = Literal["raise", "exclude"]


#: The environment variable naming a mapping file when none is passed (the quarterly job and
#: the report's notebook get the mapping this way).
MAPPING_ENV = "OUTCOMES_MAPPING"


def load(
    path: str | Path,
    *,
    on_error: OnError = "raise",
    mapping: str | Path | Mapping | None = None,
) -> Dataset:
    """Load a dataset folder and check it against the data contract.

    Parameters
    ----------
    path : str or Path
        A folder holding ``enrollments``, ``attendance`` and optionally ``followups``, each as
        ``.csv`` (UTF-8, comma-separated, header row), ``.parquet`` or an Excel workbook
        (``.xlsx``, ``.xls``), or the files a mapping names. The columns of each file
        are documented in ``docs/data-dictionary.md`` and declared in :mod:`outcomes.schema`.
    on_error : {"raise", "exclude"}
        ``"raise"``: raise one :class:`~outcomes.errors.DataError` carrying every problem when
        any row breaks a rule of severity ``error``. ``"exclude"``: drop the failing rows (and
        the sessions and follow-ups of dropped episodes) and keep them in ``issues``. Warnings
        never exclude a row. A row identical in every column to an earlier one is kept once
        (its copies are reported as ``exact_duplicate`` warnings and counted as excluded).

    mapping : str, Path or Mapping, optional
        How the export maps onto the contract (a TOML file, see ``docs/mapping.md``, or a
        :class:`~outcomes.mapping.Mapping`): which file and sheet holds each table, the export
        column behind each contract column, export values behind contract codes, date formats
        and the text encoding. Applied before any check (identifier screening included).
        Default: the file named by the environment variable ``OUTCOMES_MAPPING`` when it is
        set, else none (the files follow the contract).

    Returns
    -------
    Dataset
        ``enrollments``, ``attendance``, ``followups`` (``None`` without a followups file) with
        the contract's dtypes; ``issues`` with columns ``file, row, column, value, rule,
        severity, message``; ``accounting`` with ``file, rows_read, rows_kept, rows_excluded,
        rows_with_warnings`` (``rows_read == rows_kept + rows_excluded``; ``rows_excluded``
        counts the rows with errors and the dropped copies of rows exported twice).

    Raises
    ------
    InputError
        A file is missing, empty, header-only, not valid in its encoding (UTF-8 unless the
        mapping declares another), unreadable, a workbook with several sheets and none named,
        or lacks a required column; or the mapping file is not valid (one line per problem).
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

    An export in a provider system's own shape, read through its mapping:

    >>> import tempfile
    >>> from outcomes import synth
    >>> out = synth.write(synth.generate(50, seed=1), tempfile.mkdtemp(), style="foreign")
    >>> ds = outcomes.load(out, mapping=out / "mapping.toml")
    >>> ds.accounting.select("file", "rows_read", "rows_kept", "rows_excluded").rows()[0]
    ('Episodes.xlsx', 101, 100, 1)
    >>> ds.issues["rule"].unique().to_list()
    ['exact_duplicate']
    """
    if on_error not in ("raise", "exclude"):
        raise ValueError(f'on_error must be "raise" or "exclude", not {on_error!r}')
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (a dataset is a folder of files)")

    if mapping is None and os.environ.get(MAPPING_ENV):
        mapping = os.environ[MAPPING_ENV]
    if mapping is None:
        mapping = Mapping(tables={})
    elif not isinstance(mapping, Mapping):
        mapping = read_mapping(mapping)
    raw, files = _read_all(folder, mapping)
    rows_read = {name: table.height for name, table in raw.items()}
    deduplicated = {name: exact_duplicates(table, name) for name, table in raw.items()}
    raw = {name: d[0] for name, d in deduplicated.items()}
    checked = {
        name: check_values(table, SPECS[name], mapping.table(name), bool(mapping.tables))
        for name, table in raw.items()
    }
    typed = {name: c[0] for name, c in checked.items()}
    issues = {name: [deduplicated[name][1], c[1]] for name, c in checked.items()}
    given = given_flags(raw["enrollments"], ("discharge_date", "discharge_reason"))
    del raw
    enrollments = typed.pop("enrollments").frame()
    issues["enrollments"].append(enrollment_rules(enrollments.hstack(given)))

    invalid = pl.col(ROW).is_in(rows_with_errors(issues["enrollments"]))
    valid_enrollments = enrollments.filter(~invalid)
    bounds = episode_bounds(valid_enrollments, enrollments.filter(invalid))
    episode_of: dict[str, pl.Series] = {}
    for name in ("attendance", "followups"):
        if name in typed:
            link_issues, episode_of[name] = link_rules(typed[name], name, bounds)
            issues[name].append(link_issues)

    issue_frames = {name: pl.concat(frames, how="vertical") for name, frames in issues.items()}
    all_issues = sort_issues(
        pl.concat(
            [f.with_columns(pl.lit(files[name]).alias("file")) for name, f in issue_frames.items()],
            how="vertical",
        ),
        files,
    )
    accounting_rows = []
    kept: dict[str, pl.Series | None] = {}
    for name in SPECS:
        if name not in issue_frames:
            continue
        f_issues = issue_frames[name]
        err_rows = f_issues.filter(pl.col("severity") == "error")["row"].unique()
        warn_rows = f_issues.filter(
            pl.col("severity") == "warning", pl.col("rule") != "exact_duplicate"
        )["row"].unique()
        held = enrollments.height if name == "enrollments" else typed[name].height
        n_kept = held - err_rows.len()  # every error is on a row held (copies have none)
        if name != "enrollments":
            kept[name] = ~typed[name].mask_of(err_rows) if err_rows.len() else None
        accounting_rows.append(
            (
                files[name],
                rows_read[name],
                n_kept,
                rows_read[name] - n_kept,  # rows with errors, and repeated copies
                warn_rows.filter(~warn_rows.is_in(err_rows.implode())).len(),
            )
        )
    accounting = pl.DataFrame(accounting_rows, schema=list(ACCOUNTING_COLUMNS), orient="row")

    n_errors = all_issues.filter(pl.col("severity") == "error").height
    if on_error == "raise" and n_errors:
        raise DataError(all_issues, accounting)
    if valid_enrollments.height == 0:
        raise DataError(all_issues, accounting)
    followups = None
    if "followups" in typed:
        table = typed.pop("followups")
        if kept["followups"] is not None:
            table = table.filter(kept["followups"])
        followups = table.frame().drop(ROW)
    sessions = session_rows(typed.pop("attendance"), episode_of["attendance"], kept["attendance"])
    return Dataset(
        enrollments=valid_enrollments.drop(ROW),
        attendance=sessions,
        followups=followups,
        issues=all_issues,
        accounting=accounting,
        source=str(folder),
    )


# ---------------------------------------------------------------------------------------------
# Reading and refusing


def _listing(folder: Path, limit: int = 12) -> str:
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not names:
        return "nothing"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _find_file(folder: Path, name: str, tm: TableMapping) -> Path | None:
    """The file holding table ``name``: the one the mapping names, else ``<name>.<ext>``."""
    if tm.file is not None:
        named = [p for p in folder.iterdir() if p.is_file() and p.name.lower() == tm.file.lower()]
        exact = [p for p in named if p.name == tm.file]
        if exact or named:
            return (exact or named)[0]
        raise InputError(
            f"{folder}: no file '{tm.file}' (the mapping's [files] {name}); the folder holds "
            f"{_listing(folder)}"
        )
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


def _read_all(folder: Path, mapping: Mapping) -> tuple[dict[str, Table], dict[str, str]]:
    """Read every file of the dataset as it is; collect every refusal before raising."""
    problems: list[str] = []
    identifiers: dict[str, list[str]] = {}
    id_problems: list[str] = []
    id_found: list[tuple[str, str, str, int | None]] = []
    frames: dict[str, Table] = {}
    files: dict[str, str] = {}
    sheets: dict[str, str | None] = {}
    absent: list[str] = []
    for name, spec in SPECS.items():
        tm = mapping.table(name)
        try:
            file = _find_file(folder, name, tm)
        except InputError as err:
            problems.extend(err.problems)
            continue
        if file is None:
            if not spec.optional:
                absent.append(name)
            continue
        try:
            frame = read(file, sheet=tm.sheet, encoding=tm.encoding, table=name)
            frame = _apply_columns(frame, tm, file)
        except IdentifierError as err:
            identifiers[file.name] = err.columns.get(file.name, [])
            id_found.extend(err.found)
            id_problems.extend(err.problems)
            continue
        except InputError as err:
            problems.extend(err.problems)
            continue
        frame = _match_contract_names(frame, spec, file)
        found = _identifiers(frame, spec)
        if found:
            identifiers[file.name] = [f.column for f in found]
            id_found.extend((file.name, f.column, f.kind, f.row) for f in found)
            id_problems.extend(f.message(file.name) for f in found)
            continue
        missing = [c for c in spec.required_names if c not in frame.names]
        if missing:
            problems.append(
                f"{file.name}: missing required column(s) {', '.join(missing)}; "
                + (
                    f"map them in [{name}.columns] of the mapping"
                    if mapping.tables
                    else "see docs/data-dictionary.md (or docs/mapping.md for an export "
                    "with other column names)"
                )
            )
            continue
        frames[name] = frame
        files[name] = file.name
        sheets[name] = tm.sheet
    if len(absent) == sum(not s.optional for s in SPECS.values()) and not frames:
        problems.append(
            f"{folder}: no {' or '.join(absent)} file; the folder holds {_listing(folder)}. "
            f"Name the files {', '.join(f'{n}.csv' for n in SPECS)} (or .parquet, .xlsx), or "
            f"name them in a mapping file (outcomes map {folder} --out mapping.toml drafts one)"
        )
    else:
        problems.extend(
            f"{folder}: missing file {n}.csv (or {n}.parquet, {n}.xlsx); see "
            "docs/data-dictionary.md, or name the file in the mapping's [files]"
            for n in absent
        )
    if id_problems:
        raise IdentifierError(id_problems + problems, identifiers, id_found)
    if problems:
        raise InputError(problems)
    shared = {f for f in files.values() if list(files.values()).count(f) > 1}
    for name in files:  # tables on sheets of one workbook: name the sheet too
        if files[name] in shared and sheets[name]:
            files[name] = f"{files[name]} (sheet {sheets[name]})"
    return frames, files


def _apply_columns(frame: Table, tm: TableMapping, file: Path) -> Table:
    """Rename the export's columns to the contract's, as the mapping says (before any check).

    A mapped export column whose name denotes a direct identifier is refused: a mapping cannot
    turn a medical record number into the pseudonymous ``client_id``.
    """
    if not tm.columns:
        return frame
    by_lower = {c.strip().lower(): c for c in frame.names}
    renames: dict[str, str] = {}
    missing = []
    for contract, export in tm.columns.items():
        source = export if export in frame.names else by_lower.get(export.lower())
        if source is None:
            missing.append(f"'{export}' (for {contract})")
        else:
            renames[source] = contract
    if missing:
        raise InputError(
            f"{file.name}: no column {', '.join(missing)}, which [{tm.name}.columns] of the "
            f"mapping names; its columns are {', '.join(frame.names)}"
        )
    refused = [(src, kind) for src in renames if (kind := identifier_kind(src)) is not None]
    if refused:
        raise IdentifierError(
            [
                f"{file.name}: column '{src}' looks like {kind}, and the mapping makes it "
                f"{renames[src]}. outcomes takes de-identified data only: export a pseudonymous "
                "key made for the export instead and try again."
                for src, kind in refused
            ],
            {file.name: [src for src, _ in refused]},
            [(file.name, src, kind, None) for src, kind in refused],
        )
    both = [
        f"'{target}' and '{source}'"
        for source, target in renames.items()
        if target in frame.names and target not in renames
    ]
    if both:
        raise InputError(
            f"{file.name}: has both {', '.join(both)}, which the mapping maps to the same "
            "contract column; drop one from the export or from the mapping"
        )
    return frame.rename(renames)


def _match_contract_names(frame: Table, spec: TableSpec, file: Path) -> Table:
    """Rename columns that match a contract name up to case and surrounding blanks."""
    by_norm = {c.name: c.name for c in spec.columns}
    renames = {}
    for col in frame.names:
        target = by_norm.get(col.strip().lower())
        if target and target != col:
            renames[col] = target
    if len(set(renames.values()) | (set(frame.names) - set(renames))) < len(frame.names):
        raise InputError(f"{file.name}: a column appears twice under different spellings")
    return frame.rename(renames) if renames else frame


# ---------------------------------------------------------------------------------------------
# Direct identifiers: by column name, then by value (never echoing the value anywhere)


@dataclass(frozen=True)
class _Found:
    """A direct identifier in a column: what it looks like, and the spreadsheet row of one
    value that gave it away (``None`` when the column name did)."""

    column: str
    kind: str
    row: int | None = None

    def message(self, file: str) -> str:
        if self.row is None:
            return (
                f"{file}: column '{self.column}' looks like {self.kind}. outcomes takes "
                f"de-identified data only: drop the column '{self.column}' from the export and "
                "try again."
            )
        fix = (
            "replace them with pseudonymous keys made for the export"
            if self.column in KEY_COLUMNS
            else f"remove them (or the column '{self.column}') from the export"
        )
        return (
            f"{file}: column '{self.column}' holds values that look like {self.kind}, as in row "
            f"{self.row}. outcomes takes de-identified data only: {fix} and try again."
        )


_ANY_IDENTIFIER = "|".join(f"(?:{pattern})" for _, pattern in IDENTIFIER_VALUE_PATTERNS)
_ANY_NUMBER_IDENTIFIER = "|".join(f"(?:{pattern})" for _, pattern in NUMBER_VALUE_PATTERNS)
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)


def _identifiers(frame: Table, spec: TableSpec) -> list[_Found]:
    """Columns that carry a direct identifier: by name (outside the contract), then by value.

    Every text column (contract columns included) is searched on its distinct values (the
    dictionary it was read into: a session file repeats a few codes and dates millions of
    times) with vectorised regular expressions: an e-mail, SSN, phone number, MRN or IP
    address anywhere in a value; how many values look like person names; for ZIP columns, a
    value of more than three digits; for the contract's code columns, how many distinct
    values. Number columns are searched for SSNs and phone numbers among their 9- to 11-digit
    whole values. Only a column with a hit is read again, to find the first row holding one.
    """
    found: dict[str, _Found] = {}
    for col in frame.names:
        kind = identifier_kind(col) if col not in spec.names else None
        if kind is not None:
            found[col] = _Found(col, kind)
    columns = frame.columns
    screened = [c for c in frame.names if c not in found]

    def dtype(c: str) -> pl.DataType:
        return pl.String() if isinstance(columns[c], Text) else columns[c].dtype

    zips = [c for c in screened if c not in spec.names and is_zip_column(c)]
    texts = [c for c in screened if isinstance(dtype(c), _TEXT_TYPES) or c in zips]
    numbers = [c for c in screened if dtype(c).is_numeric() and c not in zips]
    codes = [
        c
        for c in texts
        if c in spec.names and spec.column(c).kind in ("code", "str") and c not in KEY_COLUMNS
    ]

    def distinct_of(c: str) -> pl.Series:
        """The column's values to search: its distinct values, or, for a column held as text
        because its values nearly all differ, the values themselves (a pattern's hits are
        then counted distinct)."""
        column = columns[c]
        if isinstance(column, Text):
            return column.values
        if column.dtype == pl.String:
            return column.drop_nulls()
        return column.cast(pl.String).unique().drop_nulls()

    distinct = {c: distinct_of(c) for c in texts}

    def first(mask: pl.Expr) -> pl.Expr:
        """Index of the first row where ``mask`` holds (null when none does)."""
        return mask.fill_null(False).arg_true().first()

    def first_row(col: str, values: pl.Series) -> int:
        """Spreadsheet row (header = row 1) of the first value of ``col`` among ``values``."""
        column = columns[col]
        wanted = values.cast(pl.String).implode()
        if isinstance(column, Text):
            hit = column.values.is_in(wanted).arg_true().cast(column.codes.dtype)
            index = column.codes.to_frame().select(first(pl.all().is_in(hit.implode()))).item()
        else:
            index = column.to_frame(col).select(first(pl.col(col).cast(pl.String).is_in(wanted)))
            index = index.item()
        return int(index) + 2

    def value_at(col: str, row: int) -> pl.Series:
        column = columns[col]
        one = column.gather(pl.Series([row - 2], dtype=pl.UInt32))
        return one.decode(col) if isinstance(one, Text) else one

    def add(col: str, kind: str, row: int) -> None:
        if col not in found:  # one kind per column: the first question that finds one
            found[col] = _Found(col, kind, row)

    for c in zips:
        u = distinct[c]
        digits = u.str.replace(r"\.0*$", "").str.count_matches("[0-9]")
        if (too_long := u.filter(digits > ZIP_MAX_DIGITS)).len():
            add(c, ZIP_KIND, first_row(c, too_long))
    # the two patterns searched in every text column, all columns at once
    searched = pl.collect_all(
        [
            distinct[c]
            .to_frame("v")
            .lazy()
            .select(
                pl.col("v").filter(pl.col("v").str.contains(_ANY_IDENTIFIER)).implode(),
                pl.col("v")
                .filter(pl.col("v").str.contains(PERSON_NAME_PATTERN))
                .unique()
                .implode()
                .alias("names"),
            )
            for c in texts
        ]
    )
    hits = {c: (f["v"][0], f["names"][0]) for c, f in zip(texts, searched, strict=True)}
    for c in texts:
        if (bad := hits[c][0]).len():
            row = first_row(c, bad)
            add(c, _value_kind(value_at(c, row), IDENTIFIER_VALUE_PATTERNS), row)
    for c in numbers:
        low, high = columns[c].min(), columns[c].max()
        if high is None or high < 10**8 or low > 2 * 10**10:
            continue  # the usual case, settled by the range: no 9- to 11-digit number at all
        one = columns[c].to_frame(c)
        whole = pl.col(c).cast(pl.Int64, strict=False)  # Int32 cannot hold the bounds
        long = (whole.is_between(10**8, 2 * 10**10) & (pl.col(c) == whole)).fill_null(False)
        if not one.select(long.any()).item():
            continue  # the usual case: no 9- to 11-digit whole number at all
        index = one.select(
            first(long & whole.cast(pl.String).str.contains(_ANY_NUMBER_IDENTIFIER))
        ).item()
        if index is not None:
            found_one = columns[c].slice(index, 1).cast(pl.Int64)
            add(c, _value_kind(found_one, NUMBER_VALUE_PATTERNS), index + 2)
    for c in texts:
        names = hits[c][1]
        if names.len() >= PERSON_NAME_MIN_DISTINCT:
            add(c, f"person names ({names.len()} distinct ones)", first_row(c, names))
    for c in codes:
        u = distinct[c].str.strip_chars()
        n_distinct = u.filter(u.str.len_chars() > 0).n_unique()
        column = columns[c]
        nulls = column.codes.null_count() if isinstance(column, Text) else column.null_count()
        given = frame.height - nulls
        if n_distinct > FREE_TEXT_MIN_DISTINCT and n_distinct > given / 2:
            kind = (
                f"free text or a unique code ({n_distinct} distinct values in {given} rows, "
                "where a code column holds a short list of codes)"
            )
            add(c, kind, first_row(c, distinct[c]))
    return [found[c] for c in frame.names if c in found]


def _value_kind(one: pl.Series, patterns: tuple[tuple[str, str], ...]) -> str:
    """Which pattern a one-value series matches (the value itself never leaves here)."""
    text = one.cast(pl.String)
    return next((kind for kind, p in patterns if text.str.contains(p).any()), patterns[0][0])
