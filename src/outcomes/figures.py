"""Figures the report publishes: each draws protected cells of a
:class:`outcomes.publication.Publication` (a cell that is not published is not drawn, and the
chart says so), except the Kaplan-Meier curves and the adherence weeks, which are drawn from
the data with their own rules (steps of at least ``threshold`` events, weeks of at least
``threshold`` clients; see :mod:`outcomes.plots`)."""

from __future__ import annotations

import polars as pl

from outcomes.dataset import Dataset
from outcomes.publication import Publication, trailing_year


def plot_frame(cells: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """Cells as the charts of :mod:`outcomes.plots` take them: ``program_type,
    length_band, metric, value, ci_low, ci_high, numerator, denominator, status, display``."""
    from outcomes.publish import display

    return cells.with_columns(display(cells, threshold)).rename(
        {"program": "program_type", "band": "length_band", "measure": "metric"}
    )


def completion_figure(pub: Publication, period: str):
    """Completion by program and planned length for the quarter's discharges."""
    from outcomes.plots import rate_chart

    return rate_chart(
        plot_frame(pub.select("completion", period), pub.threshold),
        "completion_rate",
        title=f"Completion of the episodes discharged in {period}",
        threshold=pub.threshold,
    )


def trend_figure(pub: Publication, period: str, metric: str = "completion_rate"):
    """Completion over the eight quarters to ``period``, by program."""
    from outcomes.metrics import shift_quarter
    from outcomes.plots import trend_chart

    quarters = [shift_quarter(period, -k) for k in range(7, -1, -1)]
    cells = pub.select("trend", quarters)
    frame = plot_frame(cells, pub.threshold).drop("length_band")
    return trend_chart(frame.select("period", *[c for c in frame.columns if c != "period"]), metric)


def los_figure(pub: Publication, period: str):
    """Median length of stay against the planned length, IOP and residential, by band."""
    from outcomes.plots import los_chart

    return los_chart(
        plot_frame(pub.select("completion", period), pub.threshold), threshold=pub.threshold
    )


def reason_mix_figure(pub: Publication, period: str):
    """How the quarter's episodes ended, by program."""
    from outcomes.plots import reason_mix_chart

    frame = plot_frame(
        pub.select("reasons", period).filter(pl.col("program") != "all programs"), pub.threshold
    )
    return reason_mix_chart(frame, threshold=pub.threshold)


def readmission_figure(ds: Dataset, pub: Publication, period: str):
    """Kaplan-Meier readmission curves, IOP and residential, for the trailing year's
    discharges: steps of at least ``threshold`` readmissions, numbers still followed rounded
    to 5 and shown from ``threshold`` up."""
    from outcomes.cohorts import discharged_in
    from outcomes.plots import km_chart
    from outcomes.survival import kaplan_meier, readmission_data

    data = readmission_data(discharged_in(ds, trailing_year(period), pub.as_of)).filter(
        pl.col("program_type").is_in(["iop", "residential"])
    )
    curve = kaplan_meier(data, "time", "event", by="program_type")
    return km_chart(
        curve,
        threshold=pub.threshold,
        title="Readmission after discharge: IOP and residential (unadjusted)",
    )


def adherence_figure(ds: Dataset, pub: Publication, period: str):
    """Attendance and weekly hours by week of treatment for IOP and residential episodes
    admitted in the trailing year; weeks with fewer than ``threshold`` clients are not
    drawn."""
    from outcomes.attendance import attendance_by_week
    from outcomes.metrics import period_bounds
    from outcomes.plots import adherence_chart

    first, last = period_bounds(trailing_year(period))
    cohort = Dataset.from_frames(
        ds.enrollments.filter(pl.col("admit_date").is_between(first, last)),
        ds.attendance,
        ds.followups,
    )
    return adherence_chart(attendance_by_week(cohort, pub.as_of), pub.threshold)
