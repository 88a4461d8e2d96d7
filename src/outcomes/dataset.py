"""The :class:`Dataset`: validated input frames plus what the loader found."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from outcomes.schema import (
    ACCOUNTING_COLUMNS,
    ISSUE_SCHEMA,
    SESSION_STATUSES,
    SESSION_TYPES,
    SPECS,
)

#: The row of ``Dataset.enrollments`` a session belongs to (a column of :class:`Sessions`).
EPISODE_ROW = "__enr"
_STATUS = pl.Enum(SESSION_STATUSES)
_TYPE = pl.Enum(SESSION_TYPES)


def empty_issues() -> pl.DataFrame:
    """An ``issues`` frame with no rows (columns of :data:`outcomes.schema.ISSUE_COLUMNS`)."""
    return pl.DataFrame(schema=ISSUE_SCHEMA)


@dataclass(frozen=True)
class Sessions:
    """The kept session rows, held small: ``rows`` has ``__enr`` (UInt32, the row of the
    dataset's enrollments the session belongs to), ``session_date``, ``status`` and
    ``session_type`` (enums of the contract's codes) and ``hours``; ``extras`` the columns
    beyond the contract, as read (a :class:`~outcomes._table.Text` or a series each). Some
    18 bytes a session instead of about 60 as text: the public ``attendance`` frame is
    rebuilt from it only when asked for."""

    rows: pl.DataFrame
    extras: dict

    @property
    def n_sessions(self) -> int:
        return self.rows.height

    @property
    def last_date(self) -> dt.date | None:
        return self.rows["session_date"].max() if self.rows.height else None

    def chunks(self) -> Iterator[pl.DataFrame]:
        """The sessions as the metrics read them (one chunk: they are all held)."""
        yield self.rows.select(EPISODE_ROW, "session_date", "status", "hours")

    def counts_for(self, cut: dt.date) -> pl.DataFrame | None:
        """Sessions counted per episode ahead of time: none (they are counted when asked)."""
        return None

    def frame(self, enrollments: pl.DataFrame) -> pl.DataFrame:
        from outcomes._table import as_series

        rows = self.rows
        return pl.DataFrame(
            [
                enrollments["episode_id"].gather(rows[EPISODE_ROW]),
                rows["session_date"],
                rows["status"].cast(pl.String),
                rows["session_type"].cast(pl.String),
                rows["hours"],
                *(as_series(c, n) for n, c in self.extras.items()),
            ]
        )


def session_rows(table, episode_of: pl.Series, keep: pl.Series | None) -> Sessions:
    """:class:`Sessions` from the loader's typed attendance table (private to the loader):
    ``episode_of`` is each row's position among the kept enrollments, ``keep`` the rows
    without errors (None: every row)."""
    from outcomes._table import Text

    def enum(name: str, dtype: pl.Enum) -> pl.Series:
        column = table.columns[name]
        if isinstance(column, Text):  # a code column: its distinct values, then each row's
            values = column.values.cast(pl.String).cast(dtype, strict=False)
            return column.with_values(values).decode(name)
        return column.cast(pl.String).cast(dtype, strict=False).alias(name)

    columns = [
        episode_of.alias(EPISODE_ROW),
        table.series("session_date"),
        enum("status", _STATUS),
        enum("session_type", _TYPE),
        table.series("hours"),
    ]
    # one chunk each, column by column: a frame of columns chunked apart is copied whole by
    # every selection that lines them up
    rows = pl.DataFrame([c.rechunk() for c in columns])
    contract = set(SPECS["attendance"].names)
    extras = {n: c for n, c in table.columns.items() if n not in contract}
    if keep is not None:
        rows = rows.filter(keep)
        extras = {n: c.filter(keep) for n, c in extras.items()}
    return Sessions(rows, extras)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A provider's export, checked against the data contract.

    Attributes
    ----------
    enrollments : polars.DataFrame
        One row per episode: the columns of ``schema.ENROLLMENTS`` present in the file (optional
        case-mix columns absent from the file are added as nulls), in contract order, then any
        extra columns as they came.
    attendance : polars.DataFrame
        One row per scheduled session (``schema.ATTENDANCE``). The loader keeps sessions in a
        compact form and builds this frame the first time it is asked for; the metrics read
        the compact form.
    followups : polars.DataFrame or None
        Post-discharge contacts (``schema.FOLLOWUPS``); ``None`` when the dataset has no
        followups file (relapse metrics are then not computed).
    issues : polars.DataFrame
        Every problem found: ``file, row, column, value, rule, severity, message``. ``row`` is
        the row number as a spreadsheet shows it (the header is row 1).
    accounting : polars.DataFrame
        Per file: ``file, rows_read, rows_kept, rows_excluded, rows_with_warnings``;
        always ``rows_read == rows_kept + rows_excluded``.
    source : str or None
        The folder the data came from.
    """

    enrollments: pl.DataFrame
    _held: pl.DataFrame | Sessions  # or the loader's ChunkedSessions
    followups: pl.DataFrame | None
    issues: pl.DataFrame
    accounting: pl.DataFrame
    source: str | None = None

    def __init__(
        self,
        enrollments: pl.DataFrame,
        attendance: pl.DataFrame | Sessions,
        followups: pl.DataFrame | None,
        issues: pl.DataFrame,
        accounting: pl.DataFrame,
        source: str | None = None,
    ) -> None:
        for name, value in (
            ("enrollments", enrollments),
            ("_held", attendance),
            ("followups", followups),
            ("issues", issues),
            ("accounting", accounting),
            ("source", source),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def from_frames(
        cls,
        enrollments: pl.DataFrame,
        attendance: pl.DataFrame,
        followups: pl.DataFrame | None = None,
        source: str | None = None,
    ) -> Dataset:
        """Wrap frames that already follow the contract's dtypes (e.g. from the generator).

        No validation is done: use :func:`outcomes.load` for data from outside the package.
        Missing optional columns are added as nulls and columns are put in contract order.
        """
        frames = {
            "enrollments": _conform(enrollments, "enrollments"),
            "attendance": _conform(attendance, "attendance"),
            "followups": None if followups is None else _conform(followups, "followups"),
        }
        accounting = pl.DataFrame(
            [(name, f.height, f.height, 0, 0) for name, f in frames.items() if f is not None],
            schema=list(ACCOUNTING_COLUMNS),
            orient="row",
        )
        return cls(
            enrollments=frames["enrollments"],
            attendance=frames["attendance"],
            followups=frames["followups"],
            issues=empty_issues(),
            accounting=accounting,
            source=source,
        )

    @cached_property
    def attendance(self) -> pl.DataFrame:
        """One row per kept session, with the contract's columns and dtypes."""
        held = self._held
        return held if isinstance(held, pl.DataFrame) else held.frame(self.enrollments)

    def session_chunks(self) -> Iterator[pl.DataFrame]:
        """The sessions as the metrics read them, a chunk at a time (one chunk unless the
        loader checked a long file in chunks): ``__enr`` (the row of ``enrollments`` of the
        session's episode), ``session_date``, ``status``, ``hours``; sessions of an episode
        not in ``enrollments`` are left out."""
        held = self._held
        if not isinstance(held, pl.DataFrame):
            yield from held.chunks()
            return
        index = self.enrollments.select(
            "episode_id", pl.int_range(pl.len(), dtype=pl.UInt32).alias(EPISODE_ROW)
        )
        yield (
            held.select("episode_id", "session_date", "status", "hours")
            .join(index, on="episode_id", how="inner", maintain_order="left")
            .select(EPISODE_ROW, "session_date", "status", "hours")
        )

    def session_counts_at(self, cut: dt.date) -> pl.DataFrame | None:
        """The sessions of each episode counted ahead of time for cut-off ``cut`` (see
        :func:`outcomes.episodes._session_counts`), when the loader did; else None."""
        held = self._held
        return None if isinstance(held, pl.DataFrame) else held.counts_for(cut)

    @property
    def n_sessions(self) -> int:
        held = self._held
        return held.height if isinstance(held, pl.DataFrame) else held.n_sessions

    @property
    def has_followups(self) -> bool:
        """Whether the dataset came with a followups file."""
        return self.followups is not None

    @property
    def last_date(self) -> dt.date | None:
        """The latest date anywhere in the data: the default ``as_of`` (METRICS.md)."""
        held = self._held
        if isinstance(held, pl.DataFrame):
            latest = held["session_date"].max() if held.height else None
        else:
            latest = held.last_date
        candidates = [
            self.enrollments["admit_date"].max(),
            self.enrollments["discharge_date"].max(),
            latest,
        ]
        if self.followups is not None and self.followups.height:
            candidates.append(self.followups["contact_date"].max())
        dates = [d for d in candidates if d is not None]
        return max(dates) if dates else None

    def __repr__(self) -> str:
        n_err = self.issues.filter(pl.col("severity") == "error").height
        n_warn = self.issues.height - n_err
        fu = "no followups" if self.followups is None else f"{self.followups.height} followups"
        return (
            f"Dataset({self.enrollments.height} episodes of "
            f"{self.enrollments['client_id'].n_unique()} clients, {self.n_sessions} "
            f"sessions, {fu}; {n_err} errors, {n_warn} warnings; data through {self.last_date})"
        )


def _conform(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Add absent optional contract columns as typed nulls and order columns as the contract."""
    spec = SPECS[name]
    missing = [c for c in spec.columns if c.name not in frame.columns]
    if missing:
        frame = frame.with_columns(pl.lit(None, dtype=c.dtype).alias(c.name) for c in missing)
    extra = [c for c in frame.columns if c not in spec.names]
    frame = frame.with_columns(pl.col(c.name).cast(c.dtype) for c in spec.columns)
    return frame.select(*spec.names, *extra)
