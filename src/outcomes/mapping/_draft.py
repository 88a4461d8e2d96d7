"""``outcomes map``: draft a mapping from an export never seen before.

Each file of the folder is read (a workbook's sheets one by one; a CSV as UTF-8, else as
cp1252), each export column is classified by its values (dates, numbers, text), matched to a
contract column by name and content, the labels of code columns get suggested contract values,
and date columns a format. Columns whose name denotes a direct identifier are never read
beyond their name; key columns' values never enter the draft.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from outcomes._readers import EXCEL_EXTENSIONS, read_table
from outcomes.errors import InputError
from outcomes.mapping._suggest import date_formats_that_fit, name_score, suggest_value
from outcomes.schema import (
    IDENTIFIER_VALUE_PATTERNS,
    KEY_COLUMNS,
    PERSON_NAME_MIN_DISTINCT,
    PERSON_NAME_PATTERN,
    SPECS,
    identifier_kind,
)

_MAX_LABELS = 60  # a code column with more distinct values than this is not a code column
_MIN_SCORE = 0.55


@dataclass
class _Sheet:
    file: Path
    sheet: str | None
    encoding: str | None
    frame: pl.DataFrame
    refused: dict[str, str] = field(default_factory=dict)  # column -> identifier kind


@dataclass
class Draft:
    """A drafted mapping: the TOML text (every guess marked ``# REVIEW``) and the guesses.

    ``files``: table -> (file name, sheet, encoding). ``columns``: table -> {contract column:
    export column}. ``values``: table -> {contract column: {export label: suggested contract
    value or None}}. ``date_formats``: table -> {contract column: (format, ambiguous)}.
    ``refused``: (file, column, kind) of the columns not read because their name denotes a
    direct identifier.
    """

    text: str
    files: dict[str, tuple[str, str | None, str | None]]
    columns: dict[str, dict[str, str]]
    values: dict[str, dict[str, dict[str, str | None]]]
    date_formats: dict[str, dict[str, tuple[str, bool]]]
    refused: list[tuple[str, str, str]]


def _sheets(folder: Path) -> tuple[list[_Sheet], list[str]]:
    """Every table-like sheet of the folder's files, and why the others could not be read."""
    import fastexcel

    out: list[_Sheet] = []
    unread: list[str] = []
    for file in sorted(folder.iterdir()):
        suffix = file.suffix.lower()
        if not file.is_file() or suffix not in (".csv", ".parquet", *EXCEL_EXTENSIONS):
            continue
        if suffix in EXCEL_EXTENSIONS:
            try:
                names = fastexcel.read_excel(file).sheet_names
            except Exception:
                unread.append(f"{file.name}: cannot be read as a workbook")
                continue
            for name in names:
                try:
                    out.append(_Sheet(file, name, None, read_table(file, sheet=name)))
                except InputError as err:
                    unread.extend(err.problems)
            continue
        problem = None
        for encoding in (None, "cp1252"):
            try:
                out.append(_Sheet(file, None, encoding, read_table(file, encoding=encoding)))
                break
            except InputError as err:
                problem = problem or err.problems[0]
        else:
            unread.append(problem)
    return out, unread


def _classify(series: pl.Series) -> tuple[str, list[str]]:
    """'date', 'number' or 'text', and the distinct text values (for text and dates)."""
    if series.dtype in (pl.Date,) or isinstance(series.dtype, pl.Datetime):
        return "date", []
    if series.dtype.is_numeric():
        return "number", []
    values = series.cast(pl.String).str.strip_chars().drop_nulls()
    values = values.filter(values != "").unique().sort()
    if values.len() and values.cast(pl.Float64, strict=False).null_count() == 0:
        return "number", []
    sample = values.head(200).to_list()
    if sample and date_formats_that_fit(sample):
        return "date", values.to_list()
    return "text", values.to_list()


_FITS = {
    "date": ("date",),
    "int": ("number",),
    "float": ("number",),
    "bool": ("text", "number"),
    "code": ("text", "number"),
    "str": ("text", "number"),
}


def _match(sheet: _Sheet, table: str) -> tuple[dict[str, str], float]:
    """Contract column -> export column for one table, and how well the sheet fits it."""
    spec = SPECS[table]
    kinds = {c: _classify(sheet.frame[c]) for c in sheet.frame.columns if c not in sheet.refused}
    pairs = []
    for col in spec.columns:
        for export, (kind, labels) in kinds.items():
            if kind not in _FITS[col.kind]:
                continue
            score = name_score(col.name, export)
            if col.kind in ("code", "bool") and labels and len(labels) <= _MAX_LABELS:
                hits = sum(
                    suggest_value(col.name, col.kind, col.allowed, v) is not None for v in labels
                )
                score += 0.3 * hits / len(labels)
            if score >= _MIN_SCORE:
                pairs.append((score, col.name, export))
    chosen: dict[str, str] = {}
    used: set[str] = set()
    total = 0.0
    for score, contract, export in sorted(pairs, key=lambda p: -p[0]):
        if contract in chosen or export in used:
            continue
        chosen[contract] = export
        used.add(export)
        total += score * (2 if spec.column(contract).required else 1)
    order = {c: i for i, c in enumerate(spec.names)}
    return dict(sorted(chosen.items(), key=lambda kv: order[kv[0]])), total


def draft_mapping(folder: str | Path) -> Draft:
    """Draft a mapping of an export folder onto the data contract.

    Parameters
    ----------
    folder : str or Path
        The export: CSV, Parquet or Excel files under any names.

    Returns
    -------
    Draft
        ``text`` is the mapping file to review (TOML; every guess is marked ``# REVIEW``).

    Raises
    ------
    InputError
        The folder does not exist or holds no readable table.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    sheets, unread = _sheets(folder)
    refused: list[tuple[str, str, str]] = []
    for s in sheets:
        for c in s.frame.columns:
            if (kind := identifier_kind(c)) is not None:
                s.refused[c] = kind
                refused.append((s.file.name, c, kind))
    if not sheets:
        raise InputError(f"{folder}: no CSV, Parquet or Excel file to draft a mapping from")
    fits = sorted(
        ((score, table, i, cols) for i, s in enumerate(sheets) for table in SPECS
         for cols, score in [_match(s, table)]),
        key=lambda f: -f[0],
    )  # fmt: skip
    assigned: dict[str, tuple[_Sheet, dict[str, str]]] = {}
    taken: set[int] = set()
    for _score, table, i, cols in fits:
        required = set(SPECS[table].required_names)
        if table in assigned or i in taken or len(required & set(cols)) < len(required) / 2:
            continue
        assigned[table] = (sheets[i], cols)
        taken.add(i)
    return _write(folder, sheets, assigned, refused, unread)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def _write(folder, sheets, assigned, refused, unread) -> Draft:
    lines = [
        f"# Draft mapping of the export in {folder.name}/, written by `outcomes map`.",
        "# Every line marked REVIEW is a guess: check it against the export, fix what is wrong,",
        "# then use it: outcomes validate EXPORT --mapping THIS_FILE (format: docs/mapping.md).",
        "",
        "[files]",
    ]
    files, values, formats = {}, {}, {}
    hidden: dict[tuple[str, str], int] = {}
    for table, (s, cols) in assigned.items():
        n = len(cols)
        lines.append(
            f"{table} = {_q(s.file.name)}  # REVIEW: {n} of its columns match {table} columns"
        )
        if s.sheet is not None:
            lines.append(f"{table}_sheet = {_q(s.sheet)}  # REVIEW")
        if s.encoding is not None:
            lines.append(
                f"{table}_encoding = {_q(s.encoding)}  # REVIEW: not valid UTF-8; guessed "
                "Windows' cp1252 (Excel's 'CSV' on Windows)"
            )
        files[table] = (s.file.name, s.sheet, s.encoding)
    unused = sorted({s.file.name for s in sheets} - {f[0] for f in files.values()})
    if unused:
        lines.append(f"# not matched to any table: {', '.join(unused)}")
    lines += [f"# not read: {problem}" for problem in unread]
    lines.append("")
    for table, (s, cols) in assigned.items():
        spec = SPECS[table]
        lines.append(f"[{table}.columns]  # contract column = export column")
        for contract, export in cols.items():
            lines.append(f"{contract} = {_q(export)}  # REVIEW")
        missing = [c for c in spec.names if c not in cols]
        if missing:
            lines.append(f"# contract columns not found: {', '.join(missing)}")
        extra = [c for c in s.frame.columns if c not in cols.values() and c not in s.refused]
        if extra:
            lines.append(f"# export columns left as they are: {', '.join(extra)}")
        for c in s.refused:
            lines.append(
                f"# NOT READ: {_q(c)} looks like {s.refused[c]}; drop it from the export "
                "(the loader refuses it)"
            )
        lines.append("")
        values[table], formats[table] = {}, {}
        for contract, export in cols.items():
            col = spec.column(contract)
            if contract in KEY_COLUMNS:
                continue  # a key's values never enter the draft
            kind, labels = _classify(s.frame[export])
            if col.kind == "date" and kind == "date" and labels:
                formats[table][contract] = _date_format(labels)
            if col.kind in ("code", "bool") and kind == "text" and len(labels) <= _MAX_LABELS:
                hide = _identifying(labels)
                shown = [v for v in labels if v not in hide]
                if len(shown) < len(labels):
                    hidden[(table, contract)] = len(labels) - len(shown)
                values[table][contract] = {
                    v: suggest_value(contract, col.kind, col.allowed, v) for v in shown
                }
        for contract, suggested in values[table].items():
            if suggested and all(label == code for label, code in suggested.items()):
                lines += [f"# {table}.{contract}: every value is already the contract's", ""]
                continue
            lines.append(f"[{table}.values.{contract}]  # export value = contract value")
            if (table, contract) in hidden:
                lines.append(
                    f"# {hidden[(table, contract)]} value(s) not shown: they look like direct "
                    "identifiers (an e-mail, a phone or social security number, a name)"
                )
            for label, code in suggested.items():
                if code is None:
                    lines.append(f"# {_q(label)} = ?  # REVIEW: no suggestion; give one")
                elif spec.column(contract).kind == "bool":
                    lines.append(f"{_q(label)} = {code}  # REVIEW")
                else:
                    lines.append(f"{_q(label)} = {_q(code)}  # REVIEW")
            lines.append("")
        if formats[table]:
            lines.append(f"[{table}.date_formats]")
            for contract, (fmt, ambiguous) in formats[table].items():
                note = (
                    " (ambiguous: every day is 12 or less, so day and month could be swapped)"
                    if ambiguous
                    else ""
                )
                lines.append(f"{contract} = {_q(fmt)}  # REVIEW: fits every value{note}")
            lines.append("")
    text = "\n".join(lines).rstrip("\n") + "\n"
    return Draft(
        text=text,
        files=files,
        columns={t: c for t, (_, c) in assigned.items()},
        values=values,
        date_formats=formats,
        refused=refused,
    )


_IDENTIFYING = "|".join(f"(?:{pattern})" for _, pattern in IDENTIFIER_VALUE_PATTERNS)


def _identifying(values: list[str]) -> set[str]:
    """The labels that look like direct identifiers, never written into a draft: those the
    loader's value patterns find (e-mail, SSN, phone, MRN, IP address), and person-name-like
    labels when there are as many as the loader takes for a column of names."""
    series = pl.Series(values, dtype=pl.String)  # Rust regular expressions, as the loader's
    hidden = set(series.filter(series.str.contains(_IDENTIFYING)).to_list())
    names = series.filter(series.str.contains(PERSON_NAME_PATTERN))
    if names.len() >= PERSON_NAME_MIN_DISTINCT:
        hidden |= set(names.to_list())
    return hidden


def _date_format(values: list[str]) -> tuple[str, bool]:
    """The format the dates are written in, and whether another format fits them too
    (month-first is preferred when day-first also fits: all days 12 or less)."""
    fits = date_formats_that_fit(values[:2000])
    return fits[0], len(fits) > 1
