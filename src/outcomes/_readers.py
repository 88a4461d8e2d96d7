"""Read one export file as it is: CSV (any declared encoding), Parquet or an Excel workbook.

Private to :mod:`outcomes.io`. Every failure is an :class:`~outcomes.errors.InputError` with one
line that names the file and says what to do; nothing here checks the data contract.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io as _io
import logging
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from outcomes.errors import InputError

#: Workbook formats the Excel reader (calamine, through fastexcel) opens.
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
_BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark, as Excel's "CSV UTF-8" writes it


def read_table(
    file: Path, *, sheet: str | None = None, encoding: str | None = None, table: str = ""
) -> pl.DataFrame:
    """Read a CSV, Parquet or Excel file into a frame (CSV: every column as text).

    ``sheet`` picks a workbook's sheet (required when it has several); ``encoding`` is the
    declared text encoding of a CSV (default UTF-8; a file that starts with a UTF-8
    byte-order mark is UTF-8 whatever is declared). ``table`` (the contract's name of it)
    lets a message say where the mapping declares a sheet or an encoding.
    """
    suffix = file.suffix.lower()
    if suffix in EXCEL_EXTENSIONS:
        return _read_excel(file, sheet, f" in the mapping ([files] {table}_sheet)")
    if sheet is not None:
        raise InputError(f"{file.name}: a sheet is named for it, but it is not a workbook")
    if suffix == ".parquet":
        return _read_parquet(file)
    where = f" in the mapping ([files] {table}_encoding or [options] encoding)"
    return _read_csv(file, encoding, where)


def first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _read_parquet(file: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(file)
    except Exception as err:
        raise InputError(f"{file.name}: cannot be read as Parquet ({first_line(err)})") from None
    return _not_empty(file, frame)


def _not_empty(file: Path, frame: pl.DataFrame, what: str = "") -> pl.DataFrame:
    if frame.width == 0:
        raise InputError(f"{file.name}{what}: empty (no columns)")
    if frame.height == 0:
        raise InputError(f"{file.name}{what}: has a header but no rows")
    return frame


@contextlib.contextmanager
def _quiet_reader() -> Iterator[None]:
    """The Excel reader logs a warning for an all-empty column (read as text, as it should):
    keep it off the user's terminal while reading."""
    logger = logging.getLogger("fastexcel")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _read_excel(file: Path, sheet: str | None, where: str) -> pl.DataFrame:
    import fastexcel

    try:
        with _quiet_reader():
            names = fastexcel.read_excel(file).sheet_names
    except Exception as err:
        why = first_line(err)
        raise InputError(f"{file.name}: cannot be read as a workbook ({why})") from None
    listed = ", ".join(f"'{n}'" for n in names)
    if sheet is None:
        if len(names) > 1:
            raise InputError(
                f"{file.name}: the workbook has {len(names)} sheets ({listed}); name the one "
                f"to read{where}"
            )
        if not names:
            raise InputError(f"{file.name}: the workbook has no sheet")
        sheet = names[0]
    elif sheet not in names:
        raise InputError(f"{file.name}: no sheet '{sheet}' in the workbook; it has {listed}")
    try:
        with _quiet_reader():
            frame = pl.read_excel(file, sheet_name=sheet, engine="calamine")
    except Exception as err:
        raise InputError(
            f"{file.name}, sheet '{sheet}': cannot be read ({first_line(err)})"
        ) from None
    frame = frame.rename({c: c.strip() for c in frame.columns if c != c.strip()})
    return _not_empty(file, frame, f", sheet '{sheet}'")


def _decode(file: Path, data: bytes, encoding: str | None, where: str) -> str:
    """The text of a CSV in its encoding; refuse it with the byte offset and line of the first
    byte that is not valid in that encoding."""
    if data.startswith(_BOM):
        data, encoding = data[len(_BOM) :], "utf-8"
    encoding = encoding or "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        name = codecs.lookup(encoding).name
        fix = (
            f"save it as 'CSV UTF-8', or declare its encoding{where}"
            if name == "utf-8"
            else f"check the encoding declared{where}"
        )
        raise InputError(
            f"{file.name}: not valid {name} text (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}, line {line}); {fix}"
        ) from None


def _read_csv(file: Path, encoding: str | None, where: str) -> pl.DataFrame:
    data = file.read_bytes()
    if not data or data.isspace():
        raise InputError(f"{file.name}: empty file")
    text = _decode(file, data, encoding, where)
    header_line = text.split("\n", 1)[0]
    names = [h.strip() for h in next(csv.reader([header_line]), [])]
    if not any(names):
        raise InputError(f"{file.name}: the first line holds no column names")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{file.name}: column name(s) repeated in the header: {', '.join(dupes)}")
    utf8 = data if encoding is None and not data.startswith(_BOM) else text.encode("utf-8")
    try:
        frame = pl.read_csv(utf8, infer_schema=False, new_columns=names, raise_if_empty=False)
    except Exception as err:  # any parser failure is a refusal, never a traceback
        raise _why_unparsable(file, text, names, err) from None
    if frame.height == 0:
        raise InputError(f"{file.name}: has a header but no rows")
    return frame


def _why_unparsable(file: Path, text: str, names: list[str], err: Exception) -> InputError:
    """Diagnose a CSV the parser rejected: rows with too many fields, or else the parser's
    own first line."""
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
    return InputError(f"{file.name}: cannot be parsed as CSV ({first_line(err)})")
