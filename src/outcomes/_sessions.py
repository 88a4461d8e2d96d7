"""The attendance file checked a chunk of rows at a time, and its kept sessions read again.

Private to :mod:`outcomes.io`. A session file of tens or hundreds of millions of rows is never
held whole: each chunk (about :data:`~outcomes._table.SESSION_CHUNK_ROWS` rows, cut where one
episode's rows end and the next one's begin) is screened for identifiers, cleared of copies,
checked value by value and linked to its episodes like a whole file, and only what the dataset
keeps of it stays: the issues, the count of rows kept, the latest date, and the sessions of
each episode counted for the data's own cut-off (:class:`ChunkedSessions`). A file that fits
(or one read whole: CSV, a workbook) is the same pass over one chunk, its sessions kept
(:class:`~outcomes.dataset.Sessions`).

Copies of a row are looked for inside each chunk; a file that holds each episode's rows
together, by date (as exports do, and as ``outcomes synth`` writes them), cannot have a copy in
another chunk. When a chunked file turns out not to be held together, every row's hash is
kept (8 bytes a row) and copies across chunks are found from them, and the pass runs again
with them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from outcomes import _table
from outcomes._links import drop_copies, exact_duplicates, link_rules, row_hashes
from outcomes._rules import check_values
from outcomes._screen import Evidence, decide, evidence
from outcomes._table import ROW, LazyTable, Table
from outcomes.dataset import EPISODE_ROW, Sessions, empty_issues, session_rows
from outcomes.mapping import TableMapping
from outcomes.schema import SPECS

_SPEC = SPECS["attendance"]
#: The columns that sessions are counted from.
COUNTED = ("episode_id", "session_date", "status", "hours")


@dataclass
class Checked:
    """What one pass over the attendance rows found and keeps."""

    issues: list[pl.DataFrame] = field(default_factory=list)
    kept: int = 0
    warned: int = 0
    evidence: Evidence | None = None
    grouped: bool = True
    starts: list[int] = field(default_factory=list)  # each chunk's first row (0-based); the end
    excluded: list[pl.Series] = field(default_factory=list)  # spreadsheet rows not kept
    sessions: list[Sessions] = field(default_factory=list)  # kept rows, when they are kept
    counts: list[pl.DataFrame] = field(default_factory=list)  # else counted, chunk by chunk
    last_date: dt.date | None = None


def _episode_end(table: Table, stop: int, height: int) -> int:
    """How many rows of ``table`` (rows up to ``stop`` of ``height``) to take: up to the start
    of its last episode's rows, so that no episode is split between chunks (all of them when
    the table ends the file or is one episode's)."""
    if stop >= height:
        return table.height
    key = table.columns.get("episode_id")
    if key is None:
        return table.height
    codes = key.codes if isinstance(key, _table.Text) else key
    tail = codes.tail(min(codes.len(), 1_000_000))
    changes = tail.ne_missing(tail.shift(1)).fill_null(False).arg_true()
    changes = changes.filter(changes > 0)
    if not changes.len():
        return table.height
    return codes.len() - tail.len() + int(changes[-1])


def chunks(
    source: Table | LazyTable, starts: list[int] | None = None, names: list[str] | None = None
) -> Iterator[Table]:
    """The rows of ``source`` a chunk at a time (a :class:`Table` is one chunk); with
    ``starts`` (a previous pass's), the same chunks (of the ``names`` columns only, if
    given), else cut at episode boundaries."""
    if isinstance(source, Table):
        yield source
        return
    height = source.height
    if starts is not None:
        for start, stop in itertools.pairwise(starts):
            yield source.rows(start, stop, names)
        return
    start = 0
    while start < height:
        stop = min(start + _table.SESSION_CHUNK_ROWS, height)
        table = source.rows(start, stop)
        take = _episode_end(table, stop, height)
        yield table if take == table.height else table.head(take)
        start += take


def check(
    source: Table | LazyTable,
    tm: TableMapping,
    mapped: bool,
    bounds: pl.DataFrame,
    enrollments: pl.DataFrame,
    *,
    screen: bool,
    copies: pl.DataFrame | None = None,
) -> Checked:
    """Check every attendance row: copies, values, links (the rules of
    :func:`outcomes.io.load`), chunk by chunk.

    ``bounds`` is :func:`~outcomes._links.episode_bounds`; ``enrollments`` the kept ones
    (their order is the ``__enr`` of the sessions). ``screen``: search the values for
    identifiers too (a file opened lazily was not yet). ``copies``: the copies across the
    whole file (``ROW, __first``), when they had to be found from every row's hash.
    """
    out = Checked()
    whole = isinstance(source, Table)
    seen_episodes = np.zeros(enrollments.height, dtype=bool)
    seen_other: set = set()
    for table in chunks(source):
        out.starts.append(table.first - 2)
        if screen:
            found = evidence(table, _SPEC)
            out.evidence = found if out.evidence is None else out.evidence.merge(found)
        if copies is None:
            table, dup_issues, grouped = exact_duplicates(table, "attendance")
            out.grouped = out.grouped and grouped
        else:
            last = table.first + table.height - 1
            mine = copies.filter(pl.col(ROW).is_between(table.first, last))
            table, dup_issues = drop_copies(table, mine) if mine.height else (table, empty_issues())
        typed, value_issues = check_values(table, _SPEC, tm, mapped)
        link_issues, episode_of = link_rules(typed, "attendance", bounds)
        issues = pl.concat([dup_issues, value_issues, link_issues], how="vertical")
        out.issues.append(issues)
        errors = issues.filter(pl.col("severity") == "error")["row"].unique()
        warned = issues.filter(
            pl.col("severity") == "warning", pl.col("rule") != "exact_duplicate"
        )["row"].unique()
        out.warned += warned.filter(~warned.is_in(errors.implode())).len()
        out.kept += typed.height - errors.len()
        out.excluded.append(pl.concat([errors, dup_issues["row"]]).cast(pl.Int64))
        keep = ~typed.mask_of(errors) if errors.len() else None
        kept = session_rows(typed, episode_of, keep)
        if not whole and copies is None and out.grouped:  # one chunk per episode?
            out.grouped = _held_together(typed, episode_of, seen_episodes, seen_other)
        if whole:
            out.sessions.append(kept)
            continue
        from outcomes.episodes import _session_counts

        out.counts.append(_session_counts(enrollments, kept.rows, None))
        latest = kept.rows["session_date"].max()
        if latest is not None and (out.last_date is None or latest > out.last_date):
            out.last_date = latest
    out.starts.append(source.height)
    return out


def _held_together(typed: Table, episode_of: pl.Series, seen: np.ndarray, other: set) -> bool:
    """Whether no episode of this chunk had rows in an earlier one (and note this chunk's)."""
    episodes = episode_of.drop_nulls().unique().to_numpy()
    if seen[episodes].any():
        return False
    seen[episodes] = True
    unlinked = episode_of.is_null()
    if unlinked.any():
        keys = set(typed.series("episode_id").filter(unlinked).unique().to_list())
        if keys & other:
            return False
        other.update(keys)
    return True


def copies_by_hash(source: LazyTable, starts: list[int]) -> pl.DataFrame:
    """The copies of a file not held together by episode: ``ROW, __first`` of every row
    identical in every column to an earlier one, found from all rows' hashes (8 bytes a row)
    and confirmed on the rows themselves."""
    hashes = pl.concat([row_hashes(table) for table in chunks(source, starts)])
    repeated = []
    for part in range(16):  # a sixteenth of the hashes at a time
        some = hashes.filter(hashes // (1 << 60) == part)
        repeated.append(some.filter(some.is_duplicated()).unique())
    repeated = pl.concat(repeated)
    if not repeated.len():
        return pl.DataFrame(schema={ROW: pl.Int64, "__first": pl.Int64})
    positions = hashes.is_in(repeated.implode()).arg_true()
    del hashes
    rows = []
    for table, (start, stop) in zip(
        chunks(source, starts), itertools.pairwise(starts), strict=True
    ):
        mine = positions.filter((positions >= start) & (positions < stop)) - start
        if mine.len():
            rows.append(table.frame(at=mine.cast(pl.UInt32)))
    candidates = pl.concat(rows, how="vertical")
    cols = [c for c in candidates.columns if c != ROW]
    return (
        candidates.with_columns(pl.col(ROW).min().over(cols).alias("__first"))
        .filter(pl.col(ROW) != pl.col("__first"))
        .select(ROW, "__first")
    )


def screen(source: LazyTable) -> Evidence:
    """Search a long file's values for identifiers, chunk by chunk (and nothing else)."""
    found = None
    for table in chunks(source):
        part = evidence(table, _SPEC)
        found = part if found is None else found.merge(part)
    return found


def refusals(found: Evidence | None) -> list:
    """The identifier columns the pass's evidence refuses."""
    return [] if found is None else decide(found)


@dataclass(frozen=True)
class ChunkedSessions:
    """The kept sessions of a file checked in chunks: not held, but counted per episode for
    the data's own cut-off, and read again chunk by chunk for any other use.

    ``counts``: per kept enrollment (``__enr``), the partial columns of
    :func:`outcomes.episodes._session_counts` for sessions from admission to discharge (or
    on, while open), which are the counts at any cut-off on or after ``valid_from``.
    """

    counts: pl.DataFrame
    valid_from: dt.date | None
    last_date: dt.date | None
    n_sessions: int
    reread: Callable[..., Iterator[Sessions]]

    def chunks(self) -> Iterator[pl.DataFrame]:
        for part in self.reread():
            yield part.rows.select(EPISODE_ROW, "session_date", "status", "hours")

    def counts_for(self, cut: dt.date) -> pl.DataFrame | None:
        if self.valid_from is None or cut >= self.valid_from:
            return self.counts
        return None

    def frame(self, enrollments: pl.DataFrame) -> pl.DataFrame:
        parts = [part.frame(enrollments) for part in self.reread(every_column=True)]
        return pl.concat(parts, how="vertical")


def chunked_sessions(
    source: LazyTable,
    checked: Checked,
    tm: TableMapping,
    mapped: bool,
    bounds: pl.DataFrame,
    enrollments: pl.DataFrame,
) -> ChunkedSessions:
    """What a dataset keeps of a chunked pass (see :class:`ChunkedSessions`)."""
    from outcomes.episodes import combine_counts

    counts = combine_counts(checked.counts)
    excluded = pl.concat(checked.excluded).unique().sort()
    starts = list(checked.starts)
    dates = [
        enrollments["admit_date"].max(),
        enrollments["discharge_date"].max(),
        checked.last_date,
    ]
    valid_from = max((d for d in dates if d is not None), default=None)

    counted = [n for n in source.names if n in (*COUNTED, "session_type")]

    def reread(every_column: bool = False) -> Iterator[Sessions]:
        for table in chunks(source, starts, None if every_column else counted):
            typed, _ = check_values(table, _SPEC, tm, mapped)
            _, episode_of = link_rules(typed, "attendance", bounds)
            first, last = table.first, table.first + table.height - 1
            mine = excluded.filter(excluded.is_between(first, last))
            yield session_rows(typed, episode_of, ~typed.mask_of(mine) if mine.len() else None)

    return ChunkedSessions(counts, valid_from, checked.last_date, checked.kept, reread)
