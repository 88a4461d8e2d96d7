"""Per-episode derivation (METRICS.md "Derived per episode"), joined with the transitions.

:func:`episodes` is the one table every metric, model and chart starts from: one row per
episode known at ``as_of``, with length of stay, length band, discharge outcome, attendance and
dose, and what happened after discharge (:mod:`outcomes.transitions`).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from outcomes.dataset import EPISODE_ROW, Dataset
from outcomes.transitions import transitions

#: Columns :func:`episodes` adds to the enrollment columns, in order.
EPISODE_COLUMNS = (
    "is_open",
    "los_days",
    "length_band",
    "completed",
    "completion_or_transfer",
    "early_dropout",
    "died",
    "sessions_attended",
    "sessions_no_show",
    "sessions_excused",
    "sessions_cancelled",
    "expected_sessions",
    "attendance_rate",
    "attended_hours",
    "weekly_hours",
    "intensity_met",
)

#: ASAM level 2.1 adult minimum of weekly hours for intensive outpatient care.
IOP_MIN_WEEKLY_HOURS = 9.0
EARLY_DROPOUT_DAYS = 14


def as_date(value: str | dt.date | None, default: dt.date | None = None) -> dt.date:
    """An ``as_of`` argument as a date (ISO string or date); ``default`` when None."""
    if value is None:
        if default is None:
            raise ValueError("as_of is needed: the dataset has no dates")
        return default
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"as_of must be a date as YYYY-MM-DD, not {value!r}") from None


def length_band() -> pl.Expr:
    """``length_band`` from ``program_type`` and ``planned_length_days`` (METRICS.md)."""
    planned = pl.col("planned_length_days")
    program = pl.col("program_type")
    weeks = (planned / 7).round(0).cast(pl.Int64)
    iop = (
        pl.when(planned.is_null())
        .then(pl.lit("unknown"))
        .when(weeks.is_in([6, 7, 8]))
        .then(weeks.cast(pl.String) + " wk")
        .otherwise(pl.lit("other"))
    )
    residential = (
        pl.when(planned.is_null())
        .then(pl.lit("unknown"))
        .when(planned < 45)
        .then(pl.lit("<45 d"))
        .when(planned <= 59)
        .then(pl.lit("45-59 d"))
        .when(planned <= 74)
        .then(pl.lit("60-74 d"))
        .when(planned <= 90)
        .then(pl.lit("75-90 d"))
        .otherwise(pl.lit(">90 d"))
    )
    return (
        pl.when(program == "iop")
        .then(iop)
        .when(program == "residential")
        .then(residential)
        .otherwise(pl.lit("all"))
        .alias("length_band")
    )


def episodes(ds: Dataset, as_of: str | dt.date | None = None) -> pl.DataFrame:
    """One row per episode known at ``as_of``, with every derived column of METRICS.md.

    Parameters
    ----------
    ds : Dataset
        From :func:`outcomes.load` or :func:`outcomes.synth.generate`.
    as_of : str or date, optional
        Data cut-off; default the latest date in the data (``ds.last_date``). Episodes admitted
        after it are left out; a discharge after it is not yet known (the episode is open);
        sessions, follow-ups and admissions after it are ignored.

    Returns
    -------
    polars.DataFrame
        The enrollment columns (``discharge_date`` and ``discharge_reason`` empty where not
        known at ``as_of``), then:

        - ``is_open`` (bool): no discharge known at ``as_of``.
        - ``los_days`` (int): discharge (or ``as_of`` when open) minus admission, in days.
        - ``length_band`` (str): ``6 wk``/``7 wk``/``8 wk``/``other``/``unknown`` for iop;
          ``<45 d``/``45-59 d``/``60-74 d``/``75-90 d``/``>90 d``/``unknown`` for residential;
          ``all`` for other programs.
        - ``completed``, ``completion_or_transfer``, ``early_dropout`` (left early with
          ``los_days < 14``), ``died`` (bool; null when open).
        - ``sessions_attended``, ``sessions_no_show``, ``sessions_excused``,
          ``sessions_cancelled`` (int): sessions dated from admission to discharge (or
          ``as_of``), both included.
        - ``expected_sessions`` = attended + no_show; ``attendance_rate`` = attended / expected
          (null when nothing was expected).
        - ``attended_hours`` (float): hours of attended sessions (null when the episode has
          no session rows or none of its sessions records hours); ``weekly_hours`` =
          attended_hours / (los_days / 7) when ``los_days >= 7``.
        - ``intensity_met`` (bool, iop only): ``weekly_hours >= 9`` (ASAM 2.1).
        - the transition and time-to-event columns of :func:`outcomes.transitions.transitions`.

    Examples
    --------
    >>> import outcomes
    >>> ep = outcomes.episodes(outcomes.synth.generate(200, seed=1))
    >>> bool((ep["los_days"] >= 0).all())
    True
    """
    cut = as_date(as_of, ds.last_date)
    # a canonical row order, so that results do not depend on the export's order
    enr = (
        ds.enrollments.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias(EPISODE_ROW))
        .filter(pl.col("admit_date") <= cut)
        .sort("episode_id")
    )
    known = pl.col("discharge_date") <= cut
    enr = enr.with_columns(
        pl.when(known).then(pl.col("discharge_date")).alias("discharge_date"),
        pl.when(known).then(pl.col("discharge_reason")).alias("discharge_reason"),
    )
    reason = pl.col("discharge_reason")
    end = pl.coalesce("discharge_date", pl.lit(cut))
    derived = enr.with_columns(
        reason.is_null().alias("is_open"),
        (end - pl.col("admit_date")).dt.total_days().cast(pl.Int32).alias("los_days"),
        length_band(),
        (reason == "completed").alias("completed"),
        reason.is_in(["completed", "transferred"]).alias("completion_or_transfer"),
        (reason == "died").alias("died"),
    ).with_columns(
        ((reason == "left_early") & (pl.col("los_days") < EARLY_DROPOUT_DAYS)).alias(
            "early_dropout"
        ),
    )
    sessions = session_counts(ds, cut).drop("__known")
    out = derived.join(sessions, on=EPISODE_ROW, how="left").with_columns(
        pl.col(
            "sessions_attended", "sessions_no_show", "sessions_excused", "sessions_cancelled"
        ).fill_null(0)
    )
    expected = pl.col("sessions_attended") + pl.col("sessions_no_show")
    weekly = pl.when(pl.col("los_days") >= 7).then(
        pl.col("attended_hours") / (pl.col("los_days") / 7)
    )
    out = out.with_columns(
        expected.alias("expected_sessions"),
        pl.when(expected > 0).then(pl.col("sessions_attended") / expected).alias("attendance_rate"),
        weekly.alias("weekly_hours"),
    ).with_columns(
        pl.when(pl.col("program_type") == "iop")
        .then(pl.col("weekly_hours") >= IOP_MIN_WEEKLY_HOURS)
        .alias("intensity_met")
    )
    base = [c for c in out.columns if c not in EPISODE_COLUMNS and c != EPISODE_ROW]
    out = out.select(*base, *EPISODE_COLUMNS)
    return out.hstack(transitions(out, ds.followups, cut).drop("episode_id"))


def _session_counts(
    enrollments: pl.DataFrame, sessions: pl.DataFrame, cut: dt.date | None
) -> pl.DataFrame:
    """Sessions by status, and attended hours, inside each episode (admission..end).

    ``sessions`` are one chunk of :meth:`Dataset.session_chunks`: each carries the row of its
    episode in ``enrollments`` (``__enr``), so it reads its episode's bounds at that position;
    nothing is joined on a text key, and no session is copied. Sessions outside their
    episode, or of an episode admitted after ``cut``, count for nothing. ``cut`` None: every
    episode from admission to discharge, or on while open (the counts at any cut-off on or
    after every date in the data).

    Returns one row per ``__enr`` with the four counts, ``__known`` (some session inside
    records hours) and ``attended_hours`` (null unless known): partial counts of the chunk,
    which :func:`combine_counts` adds up.
    """
    date, row = pl.col("session_date"), pl.col(EPISODE_ROW)
    if cut is None:
        bounds = enrollments.select("admit_date", "discharge_date")
        admit = pl.lit(bounds["admit_date"]).gather(row)
        end = pl.lit(bounds["discharge_date"]).gather(row)
        inside = (date >= admit) & (end.is_null() | (date <= end))
    else:
        admit = pl.when(pl.col("admit_date") <= cut).then(pl.col("admit_date"))
        end = pl.when(pl.col("discharge_date") <= cut).then(pl.col("discharge_date"))
        bounds = enrollments.select(admit.alias("a"), end.otherwise(cut).alias("e"))
        inside = date.is_between(pl.lit(bounds["a"]).gather(row), pl.lit(bounds["e"]).gather(row))
    status, hours, within = pl.col("status"), pl.col("hours"), pl.col("__inside")
    attended = (status == "attended") & within
    known = (hours.is_not_null() & within).any()
    return (
        sessions.lazy()
        .with_columns(inside.fill_null(False).alias("__inside"))
        .group_by(EPISODE_ROW)
        .agg(
            attended.sum().cast(pl.Int32).alias("sessions_attended"),
            ((status == "no_show") & within).sum().cast(pl.Int32).alias("sessions_no_show"),
            ((status == "excused") & within).sum().cast(pl.Int32).alias("sessions_excused"),
            ((status == "cancelled") & within).sum().cast(pl.Int32).alias("sessions_cancelled"),
            # hours are known when the export records them for the episode's sessions
            known.alias("__known"),
            pl.when(known).then(hours.filter(attended).sum()).alias("attended_hours"),
        )
        .collect()
    )


def combine_counts(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Add up the partial counts of :func:`_session_counts` over chunks (an episode whose
    sessions span chunks has a partial row in each)."""
    if len(parts) == 1:
        return parts[0]
    counts = ("sessions_attended", "sessions_no_show", "sessions_excused", "sessions_cancelled")
    known = pl.col("__known").any()
    return (
        pl.concat(parts, how="vertical")
        .group_by(EPISODE_ROW)
        .agg(
            *(pl.col(c).sum().cast(pl.Int32) for c in counts),
            known,
            pl.when(known).then(pl.col("attended_hours").sum()).alias("attended_hours"),
        )
    )


def session_counts(ds: Dataset, cut: dt.date) -> pl.DataFrame:
    """:func:`_session_counts` of every session of ``ds`` at ``cut``: counted ahead by the
    loader when it could (a long file checked in chunks), else chunk by chunk now."""
    ahead = ds.session_counts_at(cut)
    if ahead is not None:
        return ahead
    return combine_counts(
        [_session_counts(ds.enrollments, chunk, cut) for chunk in ds.session_chunks()]
    )
