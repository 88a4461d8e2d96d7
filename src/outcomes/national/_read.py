"""Reading TEDS-D public-use files as SAMHSA ships them: :func:`read`.

One or many files (years), each as the zipped CSV, plain CSV, Parquet, Stata (``.dta``), SPSS
(``.sav``, ``.zsav``, ``.por``) or SAS (``.sas7bdat``, ``.xpt``) file, in any year's layout.
Only the columns a benchmark needs are read, file by file (and, for the statistical formats,
in chunks), and kept as small integer codes: ten years (17 million rows) take about 400 MB.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from outcomes.errors import InputError
from outcomes.national._codes import (
    CASEMIX,
    CORE,
    MISSING,
    SOURCES,
    layout_of,
    normalise_label,
    text_codes,
    valid_codes,
)
from outcomes.schema import ISSUE_COLUMNS, ISSUE_SCHEMA

SUFFIXES = {
    ".csv": "csv",
    ".zip": "zipped csv",
    ".parquet": "parquet",
    ".dta": "stata",
    ".sav": "spss",
    ".zsav": "spss",
    ".por": "spss",
    ".sas7bdat": "sas",
    ".xpt": "sas",
}
#: Columns that only a TEDS file has: a file with none of them is not one.
_MARKERS = ("CASEID", "DISYR", "STFIPS", "REASON", "LOS", "SERVICES_D", "SERVSETD", "SUB1")
_CHUNK_ROWS = 1_000_000
_SNIFF_BYTES = 1 << 18
_INT = re.compile(r"^[+-]?\d+$")

FILE_COLUMNS = ("file", "format", "layout", "encoding", "rows_read", "rows_with_issues", "years")


@dataclass(frozen=True)
class TedsD:
    """TEDS-D discharges as read by :func:`read`.

    Attributes
    ----------
    data : polars.DataFrame
        One row per discharge, Int16 codes harmonised to the 2015-2022 codebook (-9 missing):
        ``year`` (DISYR), ``state`` (STFIPS), ``service`` (SERVICES_D / SERVSETD), ``reason``
        (REASON), ``los`` (LOS code), and the case-mix columns read: ``age_group`` (AGE; 13 is
        2006-2014's "55 and over"), ``sex`` (GENDER / SEX), ``substance`` (SUB1),
        ``co_occurring`` (PSYPROB), ``prior_treatment`` (NOPRIOR, 0 none, 1 one or more),
        ``referral`` (PSOURCE).
    issues : polars.DataFrame
        One row per value outside the codebook: ``file, row, column, value, rule, severity,
        message`` (as :func:`outcomes.load` reports). ``row`` is the spreadsheet row of a CSV
        (the header is row 1) and the record number of the other formats. The value is
        counted as missing (-9); the row is kept.
    files : polars.DataFrame
        Per file: ``file, format, layout, encoding, rows_read, rows_with_issues, years``.
    """

    data: pl.DataFrame
    issues: pl.DataFrame
    files: pl.DataFrame

    @property
    def years(self) -> list[int]:
        """The discharge years present."""
        return sorted(y for y in self.data["year"].unique().to_list() if y != MISSING)

    def __repr__(self) -> str:
        return (
            f"TedsD({self.data.height:,} discharges from {self.files.height} file(s), "
            f"years {self.years}, {self.issues.height} issue(s))"
        )

    def _repr_html_(self) -> str:
        from outcomes.display import show

        return show(self.files, caption=repr(self)[6:-1]).html


def read(
    paths: str | Path | Sequence[str | Path],
    *,
    columns: Sequence[str] | None = None,
    encoding: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> TedsD:
    """Read one or many TEDS-D public-use files, keeping only what a benchmark needs.

    Parameters
    ----------
    paths : path or list of paths
        Files (or folders of them) as downloaded: ``.zip`` (the CSV inside), ``.csv``,
        ``.parquet``, ``.dta``, ``.sav``/``.zsav``/``.por``, ``.sas7bdat``/``.xpt``. Column names
        are matched case-insensitively; each file's year layout is recognised from its columns
        (SERVSETD: 2006-2014 codes; SEX instead of GENDER: 2023) and its values (value labels
        as text, as in 2021, are mapped back to codes).
    columns : list of str, optional
        Case-mix columns to keep besides ``year, state, service, reason, los`` (default: all of
        ``age_group, sex, substance, co_occurring, prior_treatment, referral``).
    encoding : str, optional
        Text encoding of CSV files. By default a CSV with value labels as text (2021) is read
        as latin-1, any other as UTF-8, falling back to latin-1 if a needed value is not UTF-8.
    progress : callable, optional
        Called with one line per stage (the CLI prints them on stderr).

    Returns
    -------
    TedsD
        ``data`` (harmonised codes), ``issues`` (codes outside the codebook, never dropped
        silently: counted as missing), ``files`` (accounting per file).

    Raises
    ------
    InputError
        A path does not exist, a file cannot be read, is not a TEDS-D discharge file, or lacks
        a needed column: one line per file, naming what is missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from outcomes.national import generate_puf, write_puf
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_puf(generate_puf(500, seed=1), folder / "tedsd_puf_2019.zip")
    >>> teds = read(folder / "tedsd_puf_2019.zip")
    >>> teds.data.height, teds.data.columns[:5], teds.issues.height
    (500, ['year', 'state', 'service', 'reason', 'los'], 0)
    """
    say = progress or (lambda _line: None)
    wanted = (*CORE, *(CASEMIX if columns is None else columns))
    unknown = [c for c in wanted if c not in SOURCES]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; choose from {list(CASEMIX)}")
    files = _expand(paths)
    plans = [_plan(path, wanted) for path in files]
    problems = [p for p in plans if isinstance(p, str)]
    if problems:
        raise InputError(problems)
    frames, issues, accounting = [], [], []
    for plan in plans:
        say(f"reading {plan.path.name} ({plan.format}, {plan.layout} layout)")
        data, found, info = _read_file(plan, encoding)
        frames.append(data)
        issues.extend(found)
        accounting.append(info)
        n_issues = sum(f.height for f in found)
        say(
            f"read {plan.path.name}: {info['rows_read']:,} rows, "
            f"{n_issues} value(s) not in the codebook"
        )
    data = pl.concat(frames, how="vertical", rechunk=True) if frames else pl.DataFrame()
    issue_frame = (
        pl.concat(issues, how="vertical")
        if issues
        else pl.DataFrame(schema={c: ISSUE_SCHEMA[c] for c in ISSUE_COLUMNS})
    )
    return TedsD(data=data, issues=issue_frame, files=pl.DataFrame(accounting).select(FILE_COLUMNS))


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    path: Path
    format: str
    layout: str
    sources: dict[str, str]  # harmonised name -> the file's own column name
    member: str | None = None


def _expand(paths) -> list[Path]:
    if isinstance(paths, str | Path):
        paths = [paths]
    out, missing = [], []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in SUFFIXES))
        elif p.exists():
            out.append(p)
        else:
            missing.append(f"{p}: no such file")
    if missing:
        raise InputError(missing)
    if not out:
        raise InputError(f"no TEDS-D file given (supported: {', '.join(SUFFIXES)})")
    return out


def _plan(path: Path, wanted: Sequence[str]) -> _Plan | str:
    """What to read from ``path``, or the one line saying why it is refused."""
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        return f"{path.name}: not a supported file type (supported: {', '.join(SUFFIXES)})"
    member = None
    try:
        if fmt == "zipped csv":
            member = _zip_member(path)
            if member is None:
                return f"{path.name}: the zip holds no .csv file"
        names = _header(path, fmt, member)
    except Exception as err:  # the file's own problem, said in one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"{path.name}: cannot be read as {fmt} ({first})"
    upper = {n.strip().upper(): n for n in names}
    if not any(m in upper for m in _MARKERS):
        return (
            f"{path.name}: not a TEDS-D public-use file "
            f"(none of {', '.join(_MARKERS[:5])} among its columns)"
        )
    if "ADMYR" in upper and "REASON" not in upper and "DISYR" not in upper:
        return f"{path.name}: a TEDS-A (admissions) file; benchmarks need TEDS-D (discharges)"
    sources, lacking = {}, []
    for name in wanted:
        found = next((upper[s] for s in SOURCES[name] if s in upper), None)
        if found is None:
            lacking.append(" or ".join(SOURCES[name]))
        else:
            sources[name] = found
    if lacking:
        return (
            f"{path.name}: TEDS-D file lacks column(s) {', '.join(lacking)} needed for benchmarks"
        )
    return _Plan(path, fmt, layout_of(list(upper)), sources, member)


def _zip_member(path: Path) -> str | None:
    with zipfile.ZipFile(path) as zf:
        members = [i for i in zf.infolist() if i.filename.lower().endswith(".csv")]
    return max(members, key=lambda i: i.file_size).filename if members else None


def _open_text_bytes(plan_path: Path, member: str | None):
    if member is None:
        return open(plan_path, "rb")
    return zipfile.ZipFile(plan_path).open(member)


def _header(path: Path, fmt: str, member: str | None) -> list[str]:
    if fmt in ("csv", "zipped csv"):
        with _open_text_bytes(path, member) as fh:
            line = fh.readline().removeprefix(b"\xef\xbb\xbf").decode("latin-1")
        names = next(csv.reader([line]), [])
        if not names:
            raise ValueError("empty file")
        return names
    if fmt == "parquet":
        return list(pl.read_parquet_schema(path))
    return list(_stat_reader(path).__call__(str(path), metadataonly=True)[1].column_names)


def _stat_reader(path: Path):
    import pyreadstat

    return {
        ".dta": pyreadstat.read_dta,
        ".sav": pyreadstat.read_sav,
        ".zsav": pyreadstat.read_sav,
        ".por": pyreadstat.read_por,
        ".sas7bdat": pyreadstat.read_sas7bdat,
        ".xpt": pyreadstat.read_xport,
    }[path.suffix.lower()]


def _has_text_labels(plan: _Plan) -> bool:
    """Whether the first rows of a CSV hold value labels as text (the 2021 file does)."""
    with _open_text_bytes(plan.path, plan.member) as fh:
        head = fh.read(_SNIFF_BYTES).decode("latin-1")
    lines = head.splitlines()[:-1] or head.splitlines()
    rows = list(csv.reader(lines))
    if len(rows) < 2:
        return False
    index = {n.strip().upper(): i for i, n in enumerate(rows[0])}
    cols = [index[c.strip().upper()] for c in plan.sources.values()]
    return any(
        value.strip() and not _INT.match(value.strip())
        for row in rows[1:]
        for i in cols
        if i < len(row)
        for value in [row[i]]
    )


def _chunks(plan: _Plan, fast: bool) -> Iterator[pl.DataFrame]:
    """The needed columns of ``plan``'s file, in chunks, renamed to harmonised names.

    A plain CSV is scanned by polars (``fast``: bytes that are not UTF-8 become U+FFFD, which
    :func:`_harmonise` notices); a zip member, or a CSV read again in another encoding, is
    streamed by pyarrow with the needed columns as raw bytes, decoded value by value later.
    """
    rename = {v: k for k, v in plan.sources.items()}
    cols = list(plan.sources.values())
    if plan.format == "csv" and fast:
        yield (
            pl.scan_csv(plan.path, infer_schema=False, encoding="utf8-lossy")
            .select(cols)
            .collect(engine="streaming")
            .rename(rename)
        )
    elif plan.format in ("csv", "zipped csv"):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with _open_text_bytes(plan.path, plan.member) as fh:
            reader = pacsv.open_csv(
                fh,
                read_options=pacsv.ReadOptions(block_size=1 << 24),
                convert_options=pacsv.ConvertOptions(
                    include_columns=cols, column_types={c: pa.binary() for c in cols}
                ),
            )
            for batch in reader:
                yield pl.from_arrow(pa.Table.from_batches([batch])).rename(rename)
    elif plan.format == "parquet":
        yield pl.scan_parquet(plan.path).select(cols).collect().rename(rename)
    else:
        import pyreadstat

        for frame, _meta in pyreadstat.read_file_in_chunks(
            _stat_reader(plan.path),
            str(plan.path),
            chunksize=_CHUNK_ROWS,
            usecols=cols,
            output_format="polars",
        ):
            yield frame.select(cols).rename(rename)


class _Reread(Exception):
    """The fast read met bytes it cannot decode as the file's encoding requires."""


def _read_file(plan: _Plan, encoding: str | None):
    text = plan.format in ("csv", "zipped csv")
    if not text:
        return _read_chunks(plan, "", fast=False)
    if encoding is None:
        encoding = "latin-1" if _has_text_labels(plan) else "utf-8"
    fast = plan.format == "csv" and encoding.replace("-", "").lower() in ("utf8", "latin1")
    try:
        return _read_chunks(plan, encoding, fast)
    except _Reread:  # latin-1 decodes any byte: no second retry
        return _read_chunks(plan, "latin-1", fast=False)


def _read_chunks(plan: _Plan, encoding: str, fast: bool):
    base = 2 if plan.format in ("csv", "zipped csv") else 1
    frames, issues, offset, bad_rows, labels = [], [], 0, 0, False
    for chunk in _chunks(plan, fast):
        coded, found, as_text = _harmonise(chunk, plan, base + offset, encoding, fast)
        labels = labels or as_text
        frames.append(coded)
        if found:
            issues.extend(found)
            bad_rows += pl.concat([f.select("row") for f in found]).n_unique()
        offset += chunk.height
    data = pl.concat(frames) if frames else pl.DataFrame()
    years = sorted(y for y in data["year"].unique().to_list() if y != MISSING)
    info = {
        "file": plan.path.name,
        "format": plan.format,
        "layout": plan.layout + (", labels as text" if labels else ""),
        "encoding": encoding if plan.format in ("csv", "zipped csv") else "",
        "rows_read": offset,
        "rows_with_issues": bad_rows,
        "years": (
            "" if not years else str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
        ),
    }
    return data, issues, info


def _code(value, column: str, layout: str, valid: dict[int, int]) -> int | None:
    """The harmonised code of one raw value, or None when it is outside the codebook."""
    if value is None:
        return None
    if isinstance(value, float):
        number = int(value) if value.is_integer() else None
    elif isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if _INT.match(text):
            number = int(text)
        elif layout == "2006-2014":
            number = None
        else:
            number = text_codes(column).get(normalise_label(text))
    return None if number is None else valid.get(number)


def _harmonise(chunk: pl.DataFrame, plan: _Plan, first_row: int, encoding: str, fast: bool):
    """Harmonised codes of a chunk, its issues, and whether any value was a text label."""
    out, issues, as_text = {}, [], False
    for name in chunk.columns:
        series = chunk[name]
        column = SOURCES[name][0]  # the codebook's name: SERVICES_D, GENDER
        valid = valid_codes(name, plan.layout)
        uniques = series.unique().to_list()
        if fast and _undecodable(uniques, encoding):
            raise _Reread
        decoded = _decoder(series, uniques, encoding)
        mapping, bad = {}, []
        for value in uniques:
            text = decoded(value)
            code = _code(text, column, plan.layout, valid)
            if code is None:
                bad.append(value)
            else:
                mapping[value] = code
                as_text = as_text or (isinstance(text, str) and not _INT.match(text.strip()))
        keys = [k for k in mapping if k is not None]
        coded = series.replace_strict(
            keys, [mapping[k] for k in keys], default=MISSING, return_dtype=pl.Int16
        ).fill_null(MISSING)
        out[name] = coded
        if bad:
            issues.append(_issues(series, bad, plan, name, first_row, decoded))
    return pl.DataFrame(out), issues, as_text


def _undecodable(uniques: list, encoding: str) -> bool:
    """Whether a fast (UTF-8, lossy) read got a value wrong: a byte that is not UTF-8, or any
    non-ASCII character in a file whose encoding is latin-1."""
    latin = encoding.replace("-", "").lower() == "latin1"
    return any(
        isinstance(v, str) and ("\ufffd" in v or (latin and not v.isascii())) for v in uniques
    )


def _decoder(series: pl.Series, uniques: list, encoding: str):
    """A function from a raw value to the value to judge (bytes decoded in ``encoding``)."""
    if series.dtype != pl.Binary:
        return lambda value: value
    try:
        for v in uniques:
            if v is not None:
                v.decode(encoding)
    except UnicodeDecodeError:
        raise _Reread from None
    return lambda value: None if value is None else value.decode(encoding)


def _issues(
    series: pl.Series, bad: list, plan: _Plan, name: str, first_row: int, decoded
) -> pl.DataFrame:
    column = plan.sources[name]
    values = [b for b in bad if b is not None]
    hit = series.is_in(values) if values else pl.repeat(False, series.len(), eager=True)
    if None in bad:
        hit = hit | series.is_null()
    rows = pl.DataFrame({"value": series}).with_row_index("row").filter(hit)
    if series.dtype == pl.Binary:
        text = [decoded(v) for v in rows["value"].to_list()]
        rows = rows.with_columns(value=pl.Series(text, dtype=pl.String))
    value = pl.col("value")
    if series.dtype.is_float():  # statistical formats store codes as doubles: 99.0 is "99"
        value = (
            pl.when(value == value.round())
            .then(value.cast(pl.Int64).cast(pl.String))
            .otherwise(value.cast(pl.String))
        )
    elif series.dtype == pl.String:  # an empty cell is reported as empty, not as ""
        value = pl.when(value.str.strip_chars() != "").then(value)
    return rows.select(
        file=pl.lit(plan.path.name),
        row=(pl.col("row").cast(pl.Int64) + first_row),
        column=pl.lit(column),
        value=value.cast(pl.String),
        rule=pl.lit("code_outside_codebook"),
        severity=pl.lit("warning"),
        message=pl.lit(
            f"{column}: not a code of the TEDS-D codebook ({plan.layout} layout); "
            "counted as missing (-9)"
        ),
    )


#: Environment variable naming the TEDS-D files (paths separated by the OS path separator).
TEDS_ENV = "OUTCOMES_TEDS"


def puf_files(paths: str | Path | Sequence[str | Path] | None = None) -> list[Path]:
    """Where the TEDS-D public files are: ``paths`` if given, else the ``OUTCOMES_TEDS``
    environment variable, else the repository's ``data/teds/`` folder; when none holds a file,
    a generated PUF-shaped one (100,000 discharges of 2019, its name saying it is generated).

    Returns
    -------
    list of pathlib.Path
        The files, as :func:`read` takes them.

    Examples
    --------
    >>> puf_files(["a.zip", "b.zip"])
    [PosixPath('a.zip'), PosixPath('b.zip')]
    """
    import os
    import tempfile

    if paths is None and os.environ.get(TEDS_ENV):
        paths = [p for p in os.environ[TEDS_ENV].split(os.pathsep) if p]
    if paths is not None:
        return [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    folder = Path(__file__).resolve().parents[3] / "data" / "teds"
    found = sorted(f for f in folder.glob("*") if f.suffix.lower() in SUFFIXES)
    if found:
        return found
    from outcomes.national._synth import generate

    generated = (
        Path(tempfile.gettempdir()) / "outcomes-generated-teds" / "GENERATED_tedsd_2019.parquet"
    )
    made_by = Path(__file__).with_name("_synth.py")  # a changed generator makes it anew
    if not generated.exists() or generated.stat().st_mtime < made_by.stat().st_mtime:
        generated.parent.mkdir(parents=True, exist_ok=True)
        partial = generated.with_suffix(f".{os.getpid()}.part")
        generate(100_000, seed=2019).write_parquet(partial)
        partial.replace(generated)
    return [generated]
