"""A file as read, held column by column, its text columns dictionary-encoded (loader-private).

A session file repeats a few codes, a few thousand dates and one episode key per session
millions of times. Each text column is therefore encoded once, as it is read, into
:class:`Text`: ``codes`` (one small unsigned integer per row, null where the value is null)
into ``values`` (each distinct value once). Every rule of the data contract that depends on a
value alone is then decided on the distinct values, and only the rows holding a value that
breaks one are looked at one by one (:mod:`outcomes._rules`). Equal values have equal codes, so
rows can be compared, hashed and joined on the codes. A Parquet file is read one column at a
time: the text of only one column is in memory at any moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from outcomes._readers import first_line, read_table
from outcomes.errors import InputError

ROW = "__row"  # spreadsheet row number: header = 1, first data row = 2
_SAMPLE = 100_000  # rows looked at to decide how to encode a column


@dataclass(frozen=True)
class Text:
    """A column as ``values[codes]``: ``codes`` (unsigned integers, null for a null value) index
    ``values`` (any dtype; a text column as read has each distinct value once)."""

    codes: pl.Series
    values: pl.Series

    def decode(self, name: str | None = None) -> pl.Series:
        out = self.values.gather(self.codes)
        return out.alias(name or self.values.name)

    def filter(self, mask: pl.Series) -> Text:
        return Text(self.codes.filter(mask), self.values)

    def gather(self, index: pl.Series) -> Text:
        return Text(self.codes.gather(index), self.values)

    def with_values(self, values: pl.Series) -> Text:
        return Text(self.codes, values)

    def slice(self, offset: int, length: int) -> Text:
        """Rows ``offset`` to ``offset + length``, with only the values they hold."""
        codes = self.codes.slice(offset, length)
        used = codes.drop_nulls().unique().sort()
        if used.len() == self.values.len():
            return Text(codes, self.values)
        dense = pl.int_range(used.len(), dtype=codes.dtype, eager=True)
        return Text(codes.replace_strict(used, dense), self.values.gather(used))

    def alias(self, name: str) -> Text:
        return Text(self.codes.alias(name), self.values.alias(name))


TableColumn = pl.Series | Text


def absent(name: str, dtype: pl.DataType, height: int) -> Text:
    """An optional column the file does not have: every row null (codes into no values)."""
    codes = pl.repeat(None, height, dtype=pl.UInt8, eager=True).alias(name)
    return Text(codes, pl.Series(name, [], dtype=dtype))


def _narrow(codes: pl.Series, n_values: int) -> pl.Series:
    for dtype, top in ((pl.UInt8, 2**8), (pl.UInt16, 2**16)):
        if n_values <= top:
            return codes.cast(dtype)
    return codes


def _from_categorical(cat: pl.Series, every_value_used: bool = False) -> Text:
    """A categorical column of a private dictionary as :class:`Text`. With
    ``every_value_used`` (the dictionary was made from this column's own values) the values
    are the dictionary's; else they are looked up among the codes used."""
    name = cat.name
    codes = cat.to_physical()
    if every_value_used:
        values = cat.dtype.categories.to_series().alias(name)
        return Text(_narrow(codes, values.len()).alias(name), values)
    distinct = cat.unique().drop_nulls()
    physical = distinct.to_physical()
    order = physical.arg_sort()
    values = distinct.cast(pl.String).gather(order)
    if values.len() and physical.gather(order)[-1] != values.len() - 1:
        # a dictionary entry no row uses (a Parquet writer may keep one): number them densely
        codes = codes.replace_strict(
            physical.gather(order), pl.int_range(values.len(), dtype=pl.UInt32, eager=True)
        )
    return Text(_narrow(codes, values.len()).alias(name), values.alias(name))


def _categorical(series: pl.Series) -> Text:
    """Codes (first-seen order) and distinct values, through a private dictionary."""
    return _from_categorical(series.cast(pl.Categorical(pl.Categories.random())), True)


def _by_runs(series: pl.Series) -> Text:
    """Encode a column grouped into runs of equal values (the episode key of a session file
    held together by episode): one comparison of neighbours per row, and the dictionary is
    built from one value per run; when the runs come in sorted order (each value one run) the
    run is the code."""
    name = series.name
    runs = series.rle()
    lengths, first = runs.struct.field("len"), runs.struct.field("value")
    if first.null_count() == 0 and first.is_sorted():
        run_codes = pl.int_range(first.len(), dtype=pl.UInt32, eager=True)
        values = first
    else:
        text = _categorical(first)
        run_codes, values = text.codes, text.values
    codes = pl.select(pl.lit(run_codes).repeat_by(lengths).explode()).to_series()
    return Text(_narrow(codes, values.len()).alias(name), values.alias(name))


Holding = Literal["runs", "codes", "text"]


def how_to_hold(sample: pl.Series) -> Holding:
    """How to hold a text column, judged on its first rows: ``runs`` when it comes in runs of
    equal values, ``codes`` when its values repeat (a code, a date), ``text`` (as it is) when
    nearly every value differs (a client or episode key of enrollments: a dictionary would
    only copy it)."""
    sample = sample.head(_SAMPLE)
    if sample.len() > 1 and sample.rle_id().max() < sample.len() // 4:
        return "runs"
    if sample.n_unique() <= sample.len() // 2:
        return "codes"
    return "text"


def encode(series: pl.Series, how: Holding | None = None) -> Text:
    """A text column as :class:`Text` (by runs when it comes in runs)."""
    how = how or how_to_hold(series)
    return _by_runs(series) if how == "runs" else _categorical(series)


def hold(series: pl.Series, how: Holding | None = None) -> TableColumn:
    """A text column as it is best held (see :func:`how_to_hold`)."""
    how = how or how_to_hold(series)
    return series if how == "text" else encode(series, how)


def as_series(col: TableColumn, name: str) -> pl.Series:
    return col.decode(name) if isinstance(col, Text) else col.alias(name)


class Table:
    """One file of a dataset as read: ``columns`` in file order (a :class:`Text` for each text
    column, the column itself otherwise), and ``rows``, the spreadsheet row of each row held
    (``None``: all of them, rows 2 to ``height + 1``)."""

    def __init__(
        self,
        columns: dict[str, TableColumn],
        height: int,
        rows: pl.Series | None = None,
        first: int = 2,
    ) -> None:
        self.columns = columns
        self.height = height
        self.rows = rows
        self.first = first  # the spreadsheet row of the first row, when ``rows`` is None

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def rename(self, renames: dict[str, str]) -> Table:
        cols = {}
        for n, c in self.columns.items():
            cols[renames.get(n, n)] = c.alias(renames[n]) if n in renames else c
        return Table(cols, self.height, self.rows, self.first)

    def row_numbers(self) -> pl.Series:
        if self.rows is not None:
            return self.rows
        first = self.first
        return pl.int_range(first, first + self.height, dtype=pl.Int64, eager=True).alias(ROW)

    def rows_at(self, at: pl.Series) -> pl.Series:
        """The spreadsheet rows of the given positions."""
        if self.rows is None:
            return (at.cast(pl.Int64) + self.first).alias(ROW)
        return self.rows.gather(at)

    def positions(self, rows: pl.Series) -> pl.Series:
        """Positions of the given spreadsheet rows (each one held) among the rows held."""
        rows = rows.cast(pl.Int64)
        if self.rows is None:
            return (rows - self.first).cast(pl.UInt32)
        return self.rows.search_sorted(rows).cast(pl.UInt32)

    def mask_of(self, rows: pl.Series) -> pl.Series:
        """True at the positions of the given spreadsheet rows, False elsewhere."""
        mask = pl.repeat(False, self.height, dtype=pl.Boolean, eager=True)
        if rows.len():
            mask = mask.scatter(self.positions(rows.unique()), True)
        return mask

    def filter(self, mask: pl.Series) -> Table:
        cols = {n: c.filter(mask) for n, c in self.columns.items()}
        return Table(cols, int(mask.sum()), self.row_numbers().filter(mask))

    def head(self, n: int) -> Table:
        """The first ``n`` rows."""
        cols = {name: c.slice(0, n) for name, c in self.columns.items()}
        rows = None if self.rows is None else self.rows.head(n)
        return Table(cols, min(n, self.height), rows, self.first)

    def series(self, name: str) -> pl.Series:
        return as_series(self.columns[name], name)

    def frame(
        self, names: Iterable[str] | None = None, at: pl.Series | None = None
    ) -> pl.DataFrame:
        """``ROW`` and the named columns (default all) decoded, at the given positions (default
        every row)."""
        names = self.names if names is None else list(names)
        cols = [self.row_numbers() if at is None else self.rows_at(at)]
        for n in names:
            c = self.columns[n]
            if at is not None:
                c = c.gather(at)
            cols.append(as_series(c, n))
        return pl.DataFrame(cols)


# ---------------------------------------------------------------------------------------------
# Reading


def read(
    file: Path, *, sheet: str | None = None, encoding: str | None = None, table: str = ""
) -> Table | LazyTable:
    """Read a file into a :class:`Table` (the reading rules are those of
    :func:`outcomes._readers.read_table`; a Parquet file is read one column at a time). An
    attendance Parquet file of more than :data:`SESSION_ROWS_IN_MEMORY` rows is not read but
    opened (:class:`LazyTable`), to be checked a chunk at a time."""
    if file.suffix.lower() == ".parquet" and sheet is None:
        if table == "attendance":
            lazy = LazyTable.open(file)
            if lazy.height > SESSION_ROWS_IN_MEMORY:
                return lazy
        return _read_parquet(file)
    frame = read_table(file, sheet=sheet, encoding=encoding, table=table)
    height = frame.height
    cols: dict[str, TableColumn] = {}
    for name in frame.columns:
        series = frame.drop_in_place(name)
        cols[name] = hold(series) if series.dtype == pl.String else series
    return Table(cols, height)


def _read_column(
    file: Path, name: str, how: Holding | None, rows: tuple[int, int] | None = None
) -> TableColumn:
    """One column of a Parquet file (or the rows ``[start, stop)`` of it), held as ``how``
    says (None: not text)."""
    scan = pl.scan_parquet(file)
    if rows is not None:
        scan = scan.slice(rows[0], rows[1] - rows[0])
    if how == "codes":  # the reader decodes the file's own dictionary into ours
        private = pl.Categorical(pl.Categories.random())
        return _from_categorical(scan.select(pl.col(name).cast(private)).collect().to_series())
    if rows is None:
        series = pl.read_parquet(file, columns=[name]).to_series()
    else:
        series = scan.select(name).collect().to_series()
    return hold(series, how) if how else series


#: An attendance Parquet file of more rows than this is checked, and its sessions counted, a
#: chunk of :data:`SESSION_CHUNK_ROWS` rows at a time (about 1.5 GB each), never all at once.
SESSION_ROWS_IN_MEMORY = 60_000_000
SESSION_CHUNK_ROWS = 20_000_000


class LazyTable:
    """A Parquet file too long to hold at once: its column names (renamed as the mapping
    says) and height; :meth:`rows` reads a slice of it as a :class:`Table`."""

    def __init__(
        self,
        file: Path,
        schema: dict[str, pl.DataType],
        height: int,
        renames: dict[str, str] | None = None,
    ) -> None:
        self.file, self.schema, self.height = file, schema, height
        self.renames = renames or {}  # file column -> name

    @classmethod
    def open(cls, file: Path) -> LazyTable:
        try:
            schema, height = _parquet_shape(file)
        except InputError:
            raise
        except Exception as err:
            why = first_line(err)
            raise InputError(f"{file.name}: cannot be read as Parquet ({why})") from None
        return cls(file, dict(schema), height)

    @property
    def names(self) -> list[str]:
        return [self.renames.get(n, n) for n in self.schema]

    def rename(self, renames: dict[str, str]) -> LazyTable:
        composed = {
            n: renames.get(self.renames.get(n, n), self.renames.get(n, n)) for n in self.schema
        }
        return LazyTable(self.file, self.schema, self.height, composed)

    def rows(self, start: int, stop: int, names: list[str] | None = None) -> Table:
        """Rows ``[start, stop)`` (0-based) as a :class:`Table`, of the named columns (default
        all); a text column held as its first rows suggest."""
        wanted = self.names if names is None else names
        original = {self.renames.get(n, n): n for n in self.schema}
        sources = [original[n] for n in wanted]
        try:
            sample = pl.scan_parquet(self.file).slice(start, min(_SAMPLE, stop - start))
            sample = sample.select(sources).collect()
            cols = {}
            for name, source in zip(wanted, sources, strict=True):
                text = self.schema[source] == pl.String
                how = how_to_hold(sample[source]) if text else None
                cols[name] = _read_column(self.file, source, how, (start, stop)).alias(name)
        except Exception as err:
            why = first_line(err)
            raise InputError(f"{self.file.name}: cannot be read as Parquet ({why})") from None
        return Table(cols, stop - start, first=start + 2)


def _parquet_shape(file: Path) -> tuple[dict[str, pl.DataType], int]:
    schema = pl.read_parquet_schema(file)
    height = pl.scan_parquet(file).select(pl.len()).collect().item()
    if not schema:
        raise InputError(f"{file.name}: empty (no columns)")
    if height == 0:
        raise InputError(f"{file.name}: has a header but no rows")
    return schema, height


def _read_parquet(file: Path) -> Table:
    try:
        schema, height = _parquet_shape(file)
        sample = pl.read_parquet(file, n_rows=_SAMPLE)
        cols: dict[str, TableColumn] = {
            n: _read_column(file, n, how_to_hold(sample[n]) if d == pl.String else None)
            for n, d in schema.items()
        }
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"{file.name}: cannot be read as Parquet ({first_line(err)})") from None
    return Table(cols, height)
