"""Figures the report publishes, each with the data it draws.

Every figure function returns a :class:`PublishedFigure`: the matplotlib figure and a tidy
frame of exactly what it draws, which the report writes beside the tables
(``tables/figure_<name>.csv``) and the attacker of the test suite reads with them. The
charts of cells (trend, completion, length of stay, reasons) draw protected cells of a
:class:`outcomes.publication.Publication` (a cell that is not published is not drawn, and the
chart says so); the Kaplan-Meier curves and the adherence weeks are drawn from the data with
their own rules (steps of at least ``threshold`` events that keep ``threshold`` events away
from the table's horizons, numbers at risk rounded to 5; weeks of at least ``threshold``
clients; see :mod:`outcomes.plots`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import polars as pl
from matplotlib.figure import Figure

from outcomes.dataset import Dataset
from outcomes.publication import KM_HORIZONS, Publication, trailing_year

#: Days of the Kaplan-Meier chart's risk table (and its x ticks).
KM_TICKS = (0, *KM_HORIZONS)


@dataclass(frozen=True)
class PublishedFigure:
    """A figure of the report and the data it draws.

    Attributes
    ----------
    name : str
        File-safe name: the report writes ``figures/<name>.png`` and
        ``tables/figure_<name>.csv``.
    figure : matplotlib.figure.Figure
        The chart.
    data : polars.DataFrame
        What the chart draws, numbers as numbers, one row per drawn (or left out) element
        with its ``status``; the columns depend on the chart (see each function).

    Shown in a notebook, it displays the chart once (as PNG) with its data as CSV, and takes
    the chart off pyplot's list of open figures so that it is not shown a second time.
    Ending the cell with ``;`` shows the chart the usual way, without the CSV.
    """

    name: str
    figure: Figure
    data: pl.DataFrame

    def data_csv(self) -> str:
        """The data as CSV."""
        buf = io.StringIO()
        self.data.write_csv(buf)
        return buf.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        import matplotlib.pyplot as plt
        from IPython.core.pylabtools import print_figure

        png = print_figure(self.figure, "png", base64=True)
        plt.close(self.figure)
        return {"image/png": png, "text/csv": self.data_csv()}, {
            "image/png": {"outcomes_figure": self.name},
            "text/csv": {"outcomes_table": f"figure_{self.name}"},
        }


def plot_frame(cells: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """Cells as the charts of :mod:`outcomes.plots` take them: ``program_type,
    length_band, metric, value, ci_low, ci_high, numerator, denominator, status, display``."""
    from outcomes.publish import display

    return cells.with_columns(display(cells, threshold)).rename(
        {"program": "program_type", "band": "length_band", "measure": "metric"}
    )


def _tidy(cells: pl.DataFrame) -> pl.DataFrame:
    from outcomes.publish import TIDY_COLUMNS

    return cells.select(TIDY_COLUMNS)


def _cells(pub: Publication, figure: str, period: str) -> pl.DataFrame:
    """The protected cells a chart of cells draws (all columns, for display)."""
    from outcomes.metrics import shift_quarter

    if figure == "trend":
        quarters = [shift_quarter(period, -k) for k in range(7, -1, -1)]
        return pub.select("trend", quarters).sort("period", "program")
    if figure == "completion":
        return pub.select("completion", period).filter(pl.col("measure") == "completion_rate")
    if figure == "length_of_stay":
        return pub.select("completion", period).filter(
            pl.col("measure") == "median_los_days",
            pl.col("program").is_in(["iop", "residential"]),
        )
    if figure == "discharge_reasons":
        return pub.select("reasons", period).filter(
            pl.col("program") != "all programs",
            pl.col("measure").str.starts_with("discharge_reason_"),
        )
    raise ValueError(f"no chart of cells named {figure!r}")


def completion_data(pub: Publication, period: str) -> pl.DataFrame:
    """The cells of :func:`completion_figure`: completion by program and planned length
    (:data:`outcomes.publish.TIDY_COLUMNS`)."""
    return _tidy(_cells(pub, "completion", period))


def completion_figure(pub: Publication, period: str) -> PublishedFigure:
    """Completion by program and planned length for the quarter's discharges; with a
    national benchmark (``pub.benchmarks``), the nation's (and the state's) completion in
    each row's TEDS-D setting marked on it, and those lines (table ``teds_d``, with their
    ``reference`` and ``teds_services``) in the figure's data after its cells
    (:func:`outcomes.publish_national.reference_lines`)."""
    from outcomes.plots import rate_chart

    cells = _cells(pub, "completion", period)
    lines = _reference(pub, cells, "completion_rate")
    note = None
    if pub.benchmarks is not None:
        note = (
            f"Marks: completion of TEDS-D {pub.benchmarks.years_text} discharges in the "
            "setting each row is compared with (IOP, PHP: intensive outpatient; residential "
            "of 45 days or more: long-term; shorter or unknown: short- and long-term "
            "together; detox: the three detox settings). Not adjusted for case-mix: the "
            "summary's ratio is."
        )
    fig = rate_chart(
        plot_frame(cells, pub.threshold),
        "completion_rate",
        title=f"Completion of the episodes discharged in {period}",
        threshold=pub.threshold,
        reference=_plot_reference(lines),
        reference_note=note,
    )
    return PublishedFigure("completion", fig, _with_lines(_tidy(cells), lines))


def _reference(pub: Publication, cells: pl.DataFrame, measure: str) -> pl.DataFrame | None:
    if pub.benchmarks is None:
        return None
    from outcomes.publish_national import reference_lines

    return reference_lines(pub, cells, measure)


def _plot_reference(lines: pl.DataFrame | None) -> pl.DataFrame | None:
    if lines is None:
        return None
    return lines.select(
        pl.col("program").alias("program_type"),
        pl.col("band").alias("length_band"),
        "reference",
        "value",
    )


def _with_lines(data: pl.DataFrame, lines: pl.DataFrame | None) -> pl.DataFrame:
    return data if lines is None else pl.concat([data, lines], how="diagonal_relaxed")


def trend_data(pub: Publication, period: str) -> pl.DataFrame:
    """The cells of :func:`trend_figure`: completion by program in each of the eight
    quarters to ``period`` (:data:`outcomes.publish.TIDY_COLUMNS`)."""
    return _tidy(_cells(pub, "trend", period))


def trend_figure(pub: Publication, period: str) -> PublishedFigure:
    """Completion over the eight quarters to ``period``, by program."""
    from outcomes.plots import trend_chart

    cells = _cells(pub, "trend", period)
    frame = plot_frame(cells, pub.threshold).drop("length_band")
    fig = trend_chart(
        frame.select("period", *[c for c in frame.columns if c != "period"]),
        "completion_rate",
        threshold=pub.threshold,
    )
    return PublishedFigure("trend", fig, _tidy(cells))


def los_data(pub: Publication, period: str) -> pl.DataFrame:
    """The cells of :func:`los_figure`: median stay with its 25th and 75th percentiles
    (``value, ci_low, ci_high``) by program and planned length, IOP and residential."""
    return _tidy(_cells(pub, "length_of_stay", period))


def los_figure(pub: Publication, period: str) -> PublishedFigure:
    """Median length of stay against the planned length, IOP and residential, by band; with
    a national benchmark, the nation's (and the state's) median stay in each row's TEDS-D
    setting, on this project's day count (:meth:`ReportBenchmarks.los_line`), marked and in
    the figure's data as in :func:`completion_figure`."""
    from outcomes.plots import los_chart

    cells = _cells(pub, "length_of_stay", period)
    lines = _reference(pub, cells, "median_los_days")
    note = None
    if pub.benchmarks is not None:
        note = (
            f"Marks: median stay of TEDS-D {pub.benchmarks.years_text} discharges in the "
            "row's setting, on this report's count (TEDS-D adds a day to IOP stays: one day "
            "less here); over 30 days TEDS-D has ranges, interpolated. None where a band "
            "pools two settings."
        )
    fig = los_chart(
        plot_frame(cells, pub.threshold),
        threshold=pub.threshold,
        reference=_plot_reference(lines),
        reference_note=note,
    )
    return PublishedFigure("length_of_stay", fig, _with_lines(_tidy(cells), lines))


def reason_mix_data(pub: Publication, period: str) -> pl.DataFrame:
    """The cells of :func:`reason_mix_figure`: each program's discharge reasons as shares of
    its discharges (the chart's grey segment is 1 less the published shares)."""
    return _tidy(_cells(pub, "discharge_reasons", period))


def reason_mix_figure(pub: Publication, period: str) -> PublishedFigure:
    """How the quarter's episodes ended, by program."""
    from outcomes.plots import reason_mix_chart

    cells = _cells(pub, "discharge_reasons", period)
    fig = reason_mix_chart(plot_frame(cells, pub.threshold), threshold=pub.threshold)
    return PublishedFigure("discharge_reasons", fig, _tidy(cells))


def readmission_data(ds: Dataset, pub: Publication, period: str) -> pl.DataFrame:
    """What :func:`readmission_figure` draws, for the trailing year's IOP and residential
    discharges.

    Returns
    -------
    polars.DataFrame
        ``period, program, part, time, estimate, at_risk, status``: ``step`` rows are the
        coarsened steps of each curve (:func:`outcomes.plots.km_steps`: the share readmitted
        by that day, rounded to 0.1 percentage point, steps of at least ``threshold``
        readmissions and none fewer than ``threshold`` before a horizon of the readmission
        table), an ``end`` row where the curve stops, level with its last step; ``at_risk``
        rows are the episodes still followed at 30, 90, 180 and 365 days, the protected
        cells of the readmission table (``at_risk`` empty and ``status`` the cell's where it
        is not published; 0 past a program's last follow-up). The number at
        day 0 is not shown: it is the discharges less the deaths.
    """
    from outcomes.cohorts import discharged_in
    from outcomes.plots import km_steps
    from outcomes.survival import kaplan_meier
    from outcomes.survival import readmission_data as cohort

    ty = trailing_year(period)
    programs = ["iop", "residential"]
    data = cohort(discharged_in(ds, ty, pub.as_of)).filter(pl.col("program_type").is_in(programs))
    if data.height:
        curve = kaplan_meier(data, "time", "event", by="program_type")
    else:
        curve = pl.DataFrame(
            schema={
                "program_type": pl.String,
                "time": pl.Float64,
                "n_risk": pl.Int64,
                "n_event": pl.Int64,
                "estimate": pl.Float64,
            }
        )
    steps = km_steps(curve, threshold=pub.threshold, ticks=(), anchors=KM_HORIZONS).select(
        pl.lit(ty).alias("period"),
        pl.col("program_type").alias("program"),
        pl.exclude("program_type"),
    )
    cells = pub.select("readmission_km", ty)
    rows = []
    for program in (p for p in programs if p in set(data["program_type"])):
        for h in KM_HORIZONS:
            cell = cells.filter(
                pl.col("program") == program, pl.col("measure") == f"readmission_by_{h}d"
            )
            if cell.is_empty():  # past the program's last follow-up: no one is followed
                rows.append((ty, program, "at_risk", float(h), None, 0, "published"))
                continue
            r = cell.row(0, named=True)
            shown = r["denominator"] if r["status"] == "published" else None
            rows.append((ty, program, "at_risk", float(h), None, shown, r["status"]))
    return pl.concat([steps, pl.DataFrame(rows, schema=steps.schema, orient="row")])


def readmission_figure(ds: Dataset, pub: Publication, period: str) -> PublishedFigure:
    """Kaplan-Meier readmission curves, IOP and residential, for the trailing year's
    discharges: steps of at least ``threshold`` readmissions (and at least ``threshold``
    from each horizon the readmission table publishes), with the numbers still followed
    that the readmission table publishes."""
    from outcomes.plots import km_draw

    data = readmission_data(ds, pub, period)
    t = pub.threshold
    fig = km_draw(
        data.rename({"program": "program_type"}).drop("period"),
        ticks=KM_TICKS,
        title="Readmission after discharge: IOP and residential (unadjusted)",
        threshold=t,
        note=(
            f"Curves move in steps of at least {t} readmissions and stop where fewer than {t} "
            "remain followed. Still followed: as in the readmission table "
            "(\u2013:\u00a0not\u00a0published)."
        ),
        risk_title="Still followed",
    )
    return PublishedFigure("readmission", fig, data)


def adherence_data(ds: Dataset, pub: Publication, period: str) -> pl.DataFrame:
    """What :func:`adherence_figure` draws: ``program, week, attendance_rate,
    mean_weekly_hours, status`` for IOP and residential episodes admitted in the trailing
    year (rates rounded to 0.1 percentage point, hours to 0.1; a week with fewer than
    ``threshold`` episodes in treatment is ``small_group`` and its values are empty). The
    number of episodes each week is not published: its week-to-week differences would count
    the clients who left."""
    from outcomes.attendance import attendance_by_week
    from outcomes.metrics import period_bounds

    first, last = period_bounds(trailing_year(period))
    cohort = Dataset.from_frames(
        ds.enrollments.filter(pl.col("admit_date").is_between(first, last)),
        ds.attendance,
        ds.followups,
    )
    weeks = attendance_by_week(cohort, pub.as_of)
    enough = pl.col("episodes") >= pub.threshold
    return weeks.select(
        pl.col("program_type").alias("program"),
        "week",
        pl.when(enough).then(pl.col("attendance_rate").round(3)).alias("attendance_rate"),
        pl.when(enough).then(pl.col("mean_weekly_hours").round(1)).alias("mean_weekly_hours"),
        pl.when(enough).then(pl.lit("published")).otherwise(pl.lit("small_group")).alias("status"),
    ).sort("program", "week")


def adherence_figure(ds: Dataset, pub: Publication, period: str) -> PublishedFigure:
    """Attendance and weekly hours by week of treatment for IOP and residential episodes
    admitted in the trailing year; weeks with fewer than ``threshold`` clients are not
    drawn."""
    from outcomes.plots import adherence_chart

    data = adherence_data(ds, pub, period)
    fig = adherence_chart(data.rename({"program": "program_type"}), pub.threshold)
    return PublishedFigure("adherence", fig, data)
