"""The mapping file: its dataclasses, reading and checking (see :mod:`outcomes.mapping`)."""

from __future__ import annotations

import codecs
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from outcomes.errors import InputError
from outcomes.schema import KEY_COLUMNS, SPECS

_TRUE_FALSE = ("true", "false")


@dataclass(frozen=True)
class TableMapping:
    """The mapping of one table (``enrollments``, ``attendance`` or ``followups``).

    ``columns``: contract column -> export column. ``values``: contract column -> {export
    value (lower case, stripped) -> contract value}. ``date_formats``: contract date column ->
    strftime format, the global one filled in.
    """

    name: str
    file: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)

    def section(self, column: str) -> str:
        """The TOML section where export values of ``column`` are mapped."""
        return f"[{self.name}.values.{column}]"


@dataclass(frozen=True)
class Mapping:
    """A provider export's mapping onto the data contract (see :func:`read_mapping`).

    ``tables`` holds one :class:`TableMapping` per table of the contract (empty ones for
    tables the file does not mention); ``source`` is the file it was read from.
    """

    tables: dict[str, TableMapping]
    date_format: str | None = None
    encoding: str | None = None
    source: str | None = None

    def table(self, name: str) -> TableMapping:
        """The mapping of table ``name`` (an empty one when the file does not mention it)."""
        return self.tables.get(name) or TableMapping(name)


def read_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file (TOML; format in ``docs/mapping.md``).

    Parameters
    ----------
    path : str or Path
        The mapping file.

    Returns
    -------
    Mapping
        The mapping, every name and value checked against the data contract.

    Raises
    ------
    InputError
        The file is missing or not TOML, or names a table, column, code, date format or
        encoding the contract does not know (every problem, one line each).

    Examples
    --------
    >>> m = parse_mapping(
    ...     {
    ...         "enrollments": {
    ...             "columns": {"client_id": "Client Number"},
    ...             "values": {"program_type": {"ASAM 2.1": "iop"}},
    ...         },
    ...         "options": {"date_format": "%m/%d/%Y"},
    ...     }
    ... )
    >>> m.table("enrollments").columns, m.table("enrollments").values
    ({'client_id': 'Client Number'}, {'program_type': {'asam 2.1': 'iop'}})
    >>> m.table("attendance").date_formats
    {'session_date': '%m/%d/%Y'}
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{file}: no such mapping file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{file.name}: cannot be read as a mapping file ({err})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{file.name}: not valid TOML ({err})") from None
    return parse_mapping(doc, source=str(file))


def parse_mapping(doc: dict, source: str | None = None) -> Mapping:
    """Check a mapping given as the dictionary its TOML file reads as (see :func:`read_mapping`)."""
    name = Path(source).name if source else "mapping"
    problems: list[str] = []

    def bad(text: str) -> None:
        problems.append(f"{name}: {text}")

    known = {"files", "options", *SPECS}
    for key in doc:
        if key not in known:
            bad(f"unknown section [{key}]; the sections are {', '.join(sorted(known))}")
    options = _table(doc.get("options", {}), "[options]", bad)
    for key in options:
        if key not in ("date_format", "encoding"):
            bad(f"unknown option '{key}' in [options]; the options are date_format, encoding")
    date_format = _date_format(options.get("date_format"), "[options] date_format", bad)
    encoding = _encoding(options.get("encoding"), "[options] encoding", bad)

    files = _table(doc.get("files", {}), "[files]", bad)
    per_file: dict[str, dict[str, str]] = {t: {} for t in SPECS}
    for key, value in files.items():
        table, _, what = key.partition("_")
        if table not in SPECS or what not in ("", "sheet", "encoding"):
            bad(
                f"unknown key '{key}' in [files]; keys are a table name "
                f"({', '.join(SPECS)}), or one followed by _sheet or _encoding"
            )
        elif not isinstance(value, str) or not value.strip():
            bad(f'[files] {key} must be a text, such as "Episodes.xlsx"')
        else:
            per_file[table][what or "file"] = value.strip()
    tables = {}
    for table, spec in SPECS.items():
        section = _table(doc.get(table, {}), f"[{table}]", bad)
        for key in section:
            if key not in ("columns", "values", "date_formats"):
                bad(f"unknown key '{key}' in [{table}]; use columns, values or date_formats")
        given_columns = _table(section.get("columns", {}), f"[{table}.columns]", bad)
        columns = _columns(table, given_columns, bad)
        values = {}
        for column, mapped in _table(section.get("values", {}), f"[{table}.values]", bad).items():
            sub = _table(mapped, f"[{table}.values.{column}]", bad)
            values_of = _values(table, column, sub, bad)
            if values_of is not None:
                values[column] = values_of
        formats = {}
        given = _table(section.get("date_formats", {}), f"[{table}.date_formats]", bad)
        for column, fmt in given.items():
            where = f"[{table}.date_formats] {column}"
            if column not in spec.names or spec.column(column).kind != "date":
                dates = ", ".join(c.name for c in spec.columns if c.kind == "date")
                bad(f"{where}: not a date column of {table} (its date columns: {dates})")
            elif (checked := _date_format(fmt, where, bad)) is not None:
                formats[column] = checked
        if date_format:
            for c in spec.columns:
                if c.kind == "date":
                    formats.setdefault(c.name, date_format)
        encoding_of = _encoding(per_file[table].get("encoding"), f"[files] {table}_encoding", bad)
        tables[table] = TableMapping(
            name=table,
            file=per_file[table].get("file"),
            sheet=per_file[table].get("sheet"),
            encoding=encoding_of or encoding,
            columns=columns,
            values=values,
            date_formats=formats,
        )
    if problems:
        raise InputError(problems)
    return Mapping(tables=tables, date_format=date_format, encoding=encoding, source=source)


def _table(value: object, where: str, bad) -> dict:
    if isinstance(value, dict):
        return value
    bad(f"{where} must be a table of keys and values")
    return {}


def _columns(table: str, given: dict, bad) -> dict[str, str]:
    spec = SPECS[table]
    out: dict[str, str] = {}
    for column, export in given.items():
        if column not in spec.names:
            bad(
                f"[{table}.columns] {column}: not a column of the contract's {table} (its "
                f"columns: {', '.join(spec.names)}); write contract column = export column"
            )
        elif not isinstance(export, str) or not export.strip():
            bad(f"[{table}.columns] {column} must name an export column, as text")
        else:
            out[column] = export.strip()
    seen: dict[str, str] = {}
    for column, export in out.items():
        key = export.lower()
        if key in seen:
            bad(f"[{table}.columns]: '{export}' is mapped to both {seen[key]} and {column}")
        seen[key] = column
    return out


def _values(table: str, column: str, given: dict, bad) -> dict[str, str] | None:
    spec = SPECS[table]
    where = f"[{table}.values.{column}]"
    if column not in spec.names:
        bad(f"{where}: {column} is not a column of the contract's {table}")
        return None
    col = spec.column(column)
    if column in KEY_COLUMNS or col.kind not in ("code", "bool", "str"):
        bad(f"{where}: the values of {column} cannot be mapped (only codes, true/false and text)")
        return None
    out: dict[str, str] = {}
    for export, value in given.items():
        if isinstance(value, bool) and col.kind == "bool":
            value = "true" if value else "false"
        if not isinstance(value, str):
            bad(f'{where} "{export}" must map to a text value')
            continue
        target = value.strip().lower() if col.kind in ("code", "bool") else value.strip()
        allowed = col.allowed if col.kind == "code" else _TRUE_FALSE if col.kind == "bool" else ()
        if allowed and target not in allowed:
            bad(
                f'{where} "{export}" = "{value}": not a value of {column} (the contract\'s '
                f"values: {', '.join(allowed)})"
            )
            continue
        out[export.strip().lower()] = target
    return out


def _date_format(fmt: object, where: str, bad) -> str | None:
    if fmt is None:
        return None
    if not isinstance(fmt, str) or not fmt.strip():
        bad(f'{where} must be a format such as "%m/%d/%Y"')
        return None
    day = dt.date(2001, 2, 13)  # every field distinct: day 13 > 12, month 2, year 2001
    try:
        back = dt.datetime.strptime(day.strftime(fmt), fmt).date()
    except ValueError:
        back = None
    if back != day:
        bad(
            f'{where} = "{fmt}" does not give a whole date (use %d, %m or %b, and %Y or %y; '
            'e.g. "%m/%d/%Y" for 09/20/2025)'
        )
        return None
    return fmt


def _encoding(name: object, where: str, bad) -> str | None:
    if name is None:
        return None
    try:
        return codecs.lookup(str(name)).name
    except LookupError:
        bad(f'{where} = "{name}": not an encoding Python knows (e.g. "utf-8", "cp1252")')
        return None
