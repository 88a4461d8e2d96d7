"""Time-to-event frames built from a Dataset, ready for the estimators of this package."""

from __future__ import annotations

import datetime as dt

import polars as pl

from outcomes.dataset import Dataset


def _episodes(ds, as_of):
    from outcomes.episodes import episodes

    return episodes(ds, as_of) if isinstance(ds, Dataset) else ds


def readmission_data(
    ds: Dataset | pl.DataFrame, as_of: str | dt.date | None = None, include_deaths: bool = False
) -> pl.DataFrame:
    """Discharged episodes with time to readmission, censored at ``as_of``.

    Parameters
    ----------
    ds : Dataset or the frame of :func:`outcomes.episodes`
    include_deaths : bool
        Keep episodes discharged because the client died (``cause`` 2 at time 0) for a
        competing-risks analysis; by default they are left out, as the crude rates do.

    Returns
    -------
    polars.DataFrame
        Every episode column plus ``time`` (days from discharge), ``event`` (bool: readmitted)
        and ``cause`` (0 censored, 1 readmitted, 2 died).
    """
    ep = _episodes(ds, as_of).filter(pl.col("readmit_cause").is_not_null())
    if not include_deaths:
        ep = ep.filter(pl.col("readmit_cause") != 2)
    return ep.with_columns(
        pl.col("readmit_time").alias("time"),
        (pl.col("readmit_cause") == 1).alias("event"),
        pl.col("readmit_cause").alias("cause"),
    )


def relapse_data(
    ds: Dataset | pl.DataFrame, as_of: str | dt.date | None = None, include_deaths: bool = False
) -> pl.DataFrame:
    """As :func:`readmission_data` for relapse (the first of readmission and a follow-up
    reporting use); needs follow-ups (raises ``ValueError`` otherwise)."""
    ep = _episodes(ds, as_of)
    if ep["relapse_cause"].null_count() == ep.height:
        raise ValueError("relapse needs the followups file; this dataset has none")
    ep = ep.filter(pl.col("relapse_cause").is_not_null())
    if not include_deaths:
        ep = ep.filter(pl.col("relapse_cause") != 2)
    return ep.with_columns(
        pl.col("relapse_time").alias("time"),
        (pl.col("relapse_cause") == 1).alias("event"),
        pl.col("relapse_cause").alias("cause"),
    )


def dropout_data(ds: Dataset | pl.DataFrame, as_of: str | dt.date | None = None) -> pl.DataFrame:
    """Every episode with time from admission to dropout (leaving early).

    Returns
    -------
    polars.DataFrame
        Every episode column plus ``time`` (``los_days``), ``event`` (bool: left early) and
        ``cause`` (0 still enrolled at ``as_of``, 1 left early, 2 completed, 3 other
        discharge). Completion ends follow-up: censored for Kaplan-Meier, a competing event
        for :func:`cumulative_incidence`.
    """
    ep = _episodes(ds, as_of)
    return ep.with_columns(
        pl.col("dropout_time").alias("time"),
        (pl.col("dropout_cause") == 1).alias("event"),
        pl.col("dropout_cause").alias("cause"),
    )
