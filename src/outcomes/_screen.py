"""Direct identifiers in a file: by column name, then by value (never echoing a value anywhere).

Private to :mod:`outcomes.io`. A file's values are searched where they are held: each text
column on its distinct values (the dictionary it was read into). What the values show is
gathered as :class:`Evidence`, which a file read in chunks merges chunk by chunk, and
:func:`decide` turns it into the columns to refuse, asking per column, in order: a ZIP code
beyond three digits, an identifier pattern (e-mail, SSN, phone, MRN, IP address), an SSN or
phone number among whole numbers, person names (how many distinct), free text in a code
column (how many distinct values).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from outcomes._table import Table, Text
from outcomes.schema import (
    FREE_TEXT_MIN_DISTINCT,
    IDENTIFIER_VALUE_PATTERNS,
    KEY_COLUMNS,
    NUMBER_VALUE_PATTERNS,
    PERSON_NAME_MIN_DISTINCT,
    PERSON_NAME_PATTERN,
    ZIP_KIND,
    ZIP_MAX_DIGITS,
    TableSpec,
    identifier_kind,
    is_zip_column,
)

_ANY_IDENTIFIER = "|".join(f"(?:{pattern})" for _, pattern in IDENTIFIER_VALUE_PATTERNS)
_ANY_NUMBER_IDENTIFIER = "|".join(f"(?:{pattern})" for _, pattern in NUMBER_VALUE_PATTERNS)
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)
_QUESTIONS = ("zip", "pattern", "number")


@dataclass(frozen=True)
class Found:
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


@dataclass
class Evidence:
    """What a file's values (or some of its rows) show, column by column.

    ``by_name``: columns refused by their name. ``first``: (column, question) -> (row, kind)
    of the first row answering a ZIP, pattern or number question. ``names``: column ->
    (distinct values looking like person names, first row holding one). ``codes``: code
    column -> (distinct non-empty values stripped, rows given, first row given).
    """

    columns: list[str]
    by_name: dict[str, str] = field(default_factory=dict)
    first: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    names: dict[str, tuple[pl.Series, int | None]] = field(default_factory=dict)
    codes: dict[str, tuple[pl.Series, int, int | None]] = field(default_factory=dict)

    def merge(self, later: Evidence) -> Evidence:
        """The evidence of these rows and of ``later`` rows (after them in the file)."""
        out = Evidence(self.columns, dict(self.by_name), dict(self.first))
        for key, found in later.first.items():
            out.first.setdefault(key, found)
        for c in {*self.names, *later.names}:
            parts = [p for p in (self.names.get(c), later.names.get(c)) if p is not None]
            values = pl.concat([v for v, _ in parts]).unique()
            out.names[c] = (values, _earliest(r for _, r in parts))
        for c in {*self.codes, *later.codes}:
            parts = [p for p in (self.codes.get(c), later.codes.get(c)) if p is not None]
            values = pl.concat([v for v, _, _ in parts]).unique()
            out.codes[c] = (values, sum(g for _, g, _ in parts), _earliest(r for _, _, r in parts))
        return out


def _earliest(rows) -> int | None:
    rows = [r for r in rows if r is not None]
    return min(rows) if rows else None


def by_name(names: list[str], spec: TableSpec) -> dict[str, str]:
    """Columns outside the contract whose name denotes a direct identifier: name -> kind."""
    found = {}
    for col in names:
        kind = identifier_kind(col) if col not in spec.names else None
        if kind is not None:
            found[col] = kind
    return found


def evidence(table: Table, spec: TableSpec) -> Evidence:
    """Search the values of ``table`` (a whole file, or some of its rows)."""
    out = Evidence(table.names, by_name(table.names, spec))
    columns = table.columns
    screened = [c for c in table.names if c not in out.by_name]

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

    def row_of(index: int | None) -> int | None:
        if index is None:
            return None
        return int(table.rows_at(pl.Series([index], dtype=pl.UInt32))[0])

    def first_row(col: str, values: pl.Series) -> int | None:
        """Spreadsheet row (header = row 1) of the first value of ``col`` among ``values``."""
        column = columns[col]
        wanted = values.cast(pl.String).implode()
        if isinstance(column, Text):
            hit = column.values.is_in(wanted).arg_true().cast(column.codes.dtype)
            index = column.codes.to_frame().select(first(pl.all().is_in(hit.implode()))).item()
        else:
            index = column.to_frame(col).select(first(pl.col(col).cast(pl.String).is_in(wanted)))
            index = index.item()
        return row_of(index)

    def value_at(col: str, row: int) -> pl.Series:
        one = columns[col].gather(table.positions(pl.Series([row])))
        return one.decode(col) if isinstance(one, Text) else one

    for c in zips:
        u = distinct[c]
        digits = u.str.replace(r"\.0*$", "").str.count_matches("[0-9]")
        if (too_long := u.filter(digits > ZIP_MAX_DIGITS)).len():
            out.first[(c, "zip")] = (first_row(c, too_long), ZIP_KIND)
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
    for c, hits in zip(texts, searched, strict=True):
        bad, names = hits["v"][0], hits["names"][0]
        if bad.len():
            row = first_row(c, bad)
            out.first[(c, "pattern")] = (
                row,
                _value_kind(value_at(c, row), IDENTIFIER_VALUE_PATTERNS),
            )
        if names.len():
            out.names[c] = (names, first_row(c, names))
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
            out.first[(c, "number")] = (
                row_of(index),
                _value_kind(found_one, NUMBER_VALUE_PATTERNS),
            )
    for c in codes:
        u = distinct[c].str.strip_chars()
        column = columns[c]
        given = column.codes if isinstance(column, Text) else column
        index = None if given.null_count() == given.len() else int(given.is_not_null().arg_max())
        out.codes[c] = (
            u.filter(u.str.len_chars() > 0).unique(),
            given.len() - given.null_count(),
            row_of(index),
        )
    return out


def decide(found: Evidence) -> list[Found]:
    """The columns to refuse, in file order, one kind each: the first question that finds
    one."""
    out: dict[str, Found] = {c: Found(c, kind) for c, kind in found.by_name.items()}

    def add(col: str, kind: str, row: int | None) -> None:
        if col not in out:
            out[col] = Found(col, kind, row)

    for c in found.columns:
        for question in _QUESTIONS:
            if (c, question) in found.first:
                row, kind = found.first[(c, question)]
                add(c, kind, row)
        if c in found.names:
            names, row = found.names[c]
            if names.len() >= PERSON_NAME_MIN_DISTINCT:
                add(c, f"person names ({names.len()} distinct ones)", row)
        if c in found.codes:
            values, given, row = found.codes[c]
            n_distinct = values.len()
            if n_distinct > FREE_TEXT_MIN_DISTINCT and n_distinct > given / 2:
                kind = (
                    f"free text or a unique code ({n_distinct} distinct values in {given} "
                    "rows, where a code column holds a short list of codes)"
                )
                add(c, kind, row)
    return [out[c] for c in found.columns if c in out]


def _value_kind(one: pl.Series, patterns: tuple[tuple[str, str], ...]) -> str:
    """Which pattern a one-value series matches (the value itself never leaves here)."""
    text = one.cast(pl.String)
    return next((kind for kind, p in patterns if text.str.contains(p).any()), patterns[0][0])
