"""Figures the report publishes, built from a Dataset: each returns a matplotlib Figure whose
counts went through small-cell suppression (see :mod:`outcomes.plots`)."""

from __future__ import annotations

import polars as pl

from outcomes.dataset import Dataset
from outcomes.publish import cohort_metrics
from outcomes.suppression import DEFAULT_THRESHOLD, suppress_metrics


def completion_figure(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
):
    """Completion by program and planned length for the period's discharges (suppressed)."""
    from outcomes.plots import rate_chart

    table = cohort_metrics(ds, ["program_type", "length_band"], period, as_of)
    return rate_chart(
        suppress_metrics(table, threshold),
        "completion_rate",
        title=f"Completion of the episodes discharged in {period}",
    )


def trend_figure(
    ds: Dataset,
    period: str,
    as_of: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    quarters: int = 8,
    metric: str = "completion_rate",
):
    """A rate over the last ``quarters`` quarters up to ``period``, by program (suppressed)."""
    from outcomes.metrics import period_bounds, trend
    from outcomes.plots import trend_chart

    end = period_bounds(period)[1]
    table = trend(ds, quarters=quarters, by=["program_type"], as_of=end)
    return trend_chart(suppress_metrics(table, threshold), metric)


def readmission_figure(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
):
    """Kaplan-Meier readmission curves by program for the trailing year's discharges, with
    suppressed numbers at risk; curves stop where fewer than ``threshold`` remain."""
    from outcomes.episodes import as_date
    from outcomes.metrics import period_bounds, shift_quarter
    from outcomes.plots import km_chart
    from outcomes.survival import kaplan_meier, readmission_data

    first, last = period_bounds(f"{shift_quarter(period, -3)}-{period}")
    data = readmission_data(ds, as_date(as_of, ds.last_date)).filter(
        pl.col("discharge_date").is_between(first, last),
        pl.col("program_type").is_in(["iop", "residential"]),
    )
    curve = kaplan_meier(data, "time", "event", by="program_type")
    return km_chart(
        curve,
        threshold=threshold,
        title="Readmission after discharge: IOP and residential (unadjusted)",
    )


def adherence_figure(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
):
    """Attendance and weekly hours by week of treatment for IOP and residential episodes
    admitted in the trailing year (four quarters to ``period``); small weeks are not drawn."""
    from outcomes.attendance import attendance_by_week
    from outcomes.metrics import period_bounds, shift_quarter
    from outcomes.plots import adherence_chart

    first, last = period_bounds(f"{shift_quarter(period, -3)}-{period}")
    cohort = Dataset.from_frames(
        ds.enrollments.filter(pl.col("admit_date").is_between(first, last)),
        ds.attendance,
        ds.followups,
    )
    return adherence_chart(attendance_by_week(cohort, as_of or ds.last_date), threshold)


def reason_mix_figure(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
):
    """How the period's episodes ended, by program (suppressed shares drawn together)."""
    from outcomes.plots import reason_mix_chart

    table = cohort_metrics(ds, ["program_type"], period, as_of)
    return reason_mix_chart(suppress_metrics(table, threshold))


def los_figure(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
):
    """Median length of stay against the planned length for the period's IOP and residential
    discharges, by length band."""
    from outcomes.plots import los_chart

    table = cohort_metrics(ds, ["program_type", "length_band"], period, as_of)
    return los_chart(suppress_metrics(table, threshold))
