"""The :class:`Dataset`: validated input frames plus what the loader found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from outcomes.schema import ACCOUNTING_COLUMNS, ISSUE_SCHEMA, SPECS


def empty_issues() -> pl.DataFrame:
    """An ``issues`` frame with no rows (columns of :data:`outcomes.schema.ISSUE_COLUMNS`)."""
    return pl.DataFrame(schema=ISSUE_SCHEMA)


@dataclass(frozen=True)
class Dataset:
    """A provider's export, checked against the data contract.

    Attributes
    ----------
    enrollments : polars.DataFrame
        One row per episode: the columns of ``schema.ENROLLMENTS`` present in the file (optional
        case-mix columns absent from the file are added as nulls), in contract order, then any
        extra columns as they came.
    attendance : polars.DataFrame
        One row per scheduled session (``schema.ATTENDANCE``).
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
    attendance: pl.DataFrame
    followups: pl.DataFrame | None
    issues: pl.DataFrame
    accounting: pl.DataFrame
    source: str | None = None

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

    @property
    def has_followups(self) -> bool:
        """Whether the dataset came with a followups file."""
        return self.followups is not None

    @property
    def last_date(self) -> dt.date | None:
        """The latest date anywhere in the data: the default ``as_of`` (METRICS.md)."""
        candidates = [
            self.enrollments["admit_date"].max(),
            self.enrollments["discharge_date"].max(),
            self.attendance["session_date"].max() if self.attendance.height else None,
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
            f"{self.enrollments['client_id'].n_unique()} clients, {self.attendance.height} "
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
