"""Attendance and dose by week of treatment: the adherence curve.

For IOP, absences are not tolerated and missed sessions come before dropout; the curve shows
week by week how much of the scheduled treatment clients attended and, for IOP, how many
hours a week they received against the ASAM 2.1 minimum of 9.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from outcomes.dataset import EPISODE_ROW, Dataset
from outcomes.episodes import as_date

ADHERENCE_COLUMNS = (
    "program_type",
    "week",
    "episodes",
    "attended",
    "expected",
    "attendance_rate",
    "mean_weekly_hours",
)


def attendance_by_week(
    ds: Dataset,
    as_of: str | dt.date | None = None,
    programs: tuple[str, ...] = ("iop", "residential"),
    max_weeks: int = 13,
) -> pl.DataFrame:
    """Attendance by week since admission, per program.

    Counts sessions inside their episode (admission to discharge or ``as_of``); week 1 is days
    0-6 after admission. Only full weeks of treatment count: an episode enters week ``k`` when
    it was still in treatment at the end of that week.

    Returns
    -------
    polars.DataFrame
        ``program_type, week`` (1..``max_weeks``), ``episodes`` (in treatment through that
        week), ``attended``, ``expected`` (attended + no-show sessions), ``attendance_rate``
        (attended / expected), ``mean_weekly_hours`` (mean over those episodes of attended
        hours that week; empty where hours are not recorded).
    """
    cut = as_date(as_of, ds.last_date)
    enr = (
        ds.enrollments.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias(EPISODE_ROW))
        .filter(pl.col("program_type").is_in(programs), pl.col("admit_date") <= cut)
        .select(
            EPISODE_ROW,
            "episode_id",
            "program_type",
            "admit_date",
            pl.min_horizontal(pl.col("discharge_date").fill_null(cut), pl.lit(cut)).alias("end"),
        )
        .with_columns(
            ((pl.col("end") - pl.col("admit_date")).dt.total_days() + 1)
            .floordiv(7)
            .clip(upper_bound=max_weeks)
            .alias("full_weeks")
        )
    )
    weeks = (
        enr.filter(pl.col("full_weeks") >= 1)
        .with_columns(pl.int_ranges(1, pl.col("full_weeks") + 1).alias("week"))
        .explode("week")
        .select("episode_id", "program_type", pl.col("week").cast(pl.Int64))
    )
    parts = [
        chunk.join(enr, on=EPISODE_ROW, how="inner")
        .filter(pl.col("session_date").is_between(pl.col("admit_date"), pl.col("end")))
        .with_columns(
            ((pl.col("session_date") - pl.col("admit_date")).dt.total_days() // 7 + 1)
            .cast(pl.Int64)
            .alias("week")
        )
        .group_by("episode_id", "week")
        .agg(
            (pl.col("status") == "attended").sum().alias("attended"),
            pl.col("status").is_in(["attended", "no_show"]).sum().alias("expected"),
            pl.when(pl.col("hours").is_not_null().any())
            .then(pl.col("hours").filter(pl.col("status") == "attended").sum())
            .alias("hours"),
        )
        for chunk in ds.session_chunks()
    ]
    sessions = parts[0] if len(parts) == 1 else _combine(parts)
    per_episode = weeks.join(sessions, on=["episode_id", "week"], how="left").with_columns(
        pl.col("attended", "expected").fill_null(0)
    )
    return (
        per_episode.group_by("program_type", "week")
        .agg(
            pl.len().alias("episodes"),
            pl.col("attended").sum(),
            pl.col("expected").sum(),
            pl.col("hours").mean().alias("mean_weekly_hours"),
        )
        .with_columns(
            pl.when(pl.col("expected") > 0)
            .then(pl.col("attended") / pl.col("expected"))
            .alias("attendance_rate"),
            pl.col("episodes", "attended", "expected").cast(pl.Int64),
        )
        .sort("program_type", "week")
        .select(ADHERENCE_COLUMNS)
    )


def _combine(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Add up the weekly partial sums of several chunks of sessions."""
    known = pl.col("hours").is_not_null().any()
    return (
        pl.concat(parts, how="vertical")
        .group_by("episode_id", "week")
        .agg(
            pl.col("attended").sum(),
            pl.col("expected").sum(),
            pl.when(known).then(pl.col("hours").sum()).alias("hours"),
        )
    )
