"""Everything the quarterly report publishes, as one protected frame of cells.

:func:`publication` gathers every cell of every table and figure of the report (key figures,
trend, completion and attendance, discharge reasons, step-down and readmission, the
Kaplan-Meier horizons, the comparison's groups) for *every* quarter the data supports, not
just the one reported. Protection (:func:`outcomes.disclosure.protect`) runs once over all of
them, so the reports of consecutive quarters rendered from the same export agree cell for
cell, and combining them (a trailing year minus three published quarters) recovers nothing
that one report hides. The report then shows its own quarter's slice.

Cells (tidy: one row per table, period, program, band and measure; see
:data:`outcomes.disclosure.CELL_COLUMNS`) carry a ``status`` and a ``display`` string; the
display is the last step, and its legend (:data:`outcomes.suppression.MARKERS`) is declared
once.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from outcomes._threads import single_blas_thread
from outcomes.dataset import Dataset
from outcomes.disclosure import CellBuilder, discharge_quarters, protect
from outcomes.schema import DISCHARGE_REASONS

if TYPE_CHECKING:
    from outcomes.national import ReportBenchmarks

#: Key figures of the summary (per program and for all programs), for a quarter; the
#: trailing year adds the windowed rates (a quarter's own windows are mostly still open, and
#: a quarter's readmission cohort beside its discharges would give its deaths away).
SUMMARY_MEASURES = (
    "discharges",
    "completion_rate",
    "completion_or_transfer_rate",
    "early_dropout_rate",
    "median_los_days",
    "attendance_rate",
    "intensity_met_rate",
)
SUMMARY_YEAR_MEASURES = (*SUMMARY_MEASURES, "step_down_30d")
#: By program and planned length (completed or transferred only by program: per band it
#: would give small transfer counts away and cost completion rates to protect them).
COMPLETION_MEASURES = (
    "discharges",
    "completion_rate",
    "early_dropout_rate",
    "median_los_days",
    "attendance_rate",
    "mean_weekly_hours",
    "intensity_met_rate",
)
REASON_MEASURES = ("discharges", *(f"discharge_reason_{r}" for r in DISCHARGE_REASONS))
#: Step-down by program for the trailing year. Readmission is published once, as the
#: Kaplan-Meier estimate (the headline figure, which uses every discharge): the crude windowed
#: rates beside it would add nothing but a way to difference out the few readmissions of the
#: most recent discharges.
TRANSITION_MEASURES = ("discharges", "step_down_7d", "step_down_14d", "step_down_30d")
KM_HORIZONS = (30, 90, 180, 365)
#: Rates that count only discharges whose window has ended by the as-of date.
WINDOWED = ("step_down_", "readmission_", "relapse_")
SUMMARY_PROGRAMS = ("iop", "residential")
ALL = "all programs"
#: Cells that cost more to withhold: the summary's key figures, the comparison's groups, and
#: discharges and completion wherever they appear (complementary suppression falls on
#: other measures first).
PRIORITY_TABLES = ("summary", "comparison", "readmission_km")
PRIORITY_MEASURES = ("discharges", "completion_rate")
#: What withholding an "all programs" cell costs against a program's own (:func:`_priority`).
ALL_PROGRAMS_COST = 0.8


def trailing_year(period: str) -> str:
    """The four quarters ending with ``period`` (``2025Q4-2026Q3``)."""
    from outcomes.metrics import shift_quarter

    return f"{shift_quarter(period, -3)}-{period}"


@dataclass(frozen=True)
class Publication:
    """Every protected cell of the reports an export supports.

    Attributes
    ----------
    cells : polars.DataFrame
        ``table, period, program, band, measure, kind, value, ci_low, ci_high, numerator,
        denominator, status`` (see :mod:`outcomes.disclosure`), values emptied where the status
        is not ``published``.
    threshold : int
        The smallest count shown.
    as_of : datetime.date
        The data cut-off.
    quarters : tuple of str
        The quarters covered.
    benchmarks : ReportBenchmarks or None
        The national benchmark given (:func:`outcomes.national.load_report_benchmarks`):
        its reference lines are drawn, and its observed-to-expected cells are in the table
        ``benchmark`` (:mod:`outcomes.publish_national`).
    """

    cells: pl.DataFrame
    threshold: int
    as_of: dt.date
    quarters: tuple[str, ...]
    benchmarks: ReportBenchmarks | None = None

    def select(self, table: str, periods: str | list[str] | None = None) -> pl.DataFrame:
        """The cells of one table (and periods)."""
        out = self.cells.filter(pl.col("table") == table)
        if periods is not None:
            periods = [periods] if isinstance(periods, str) else periods
            out = out.filter(pl.col("period").is_in(periods))
        return out

    def report_cells(self, period: str) -> pl.DataFrame:
        """The cells the report of ``period`` shows (its quarter, the previous quarter and
        the trailing year in the summary; eight quarters of trend; the quarter's detail
        tables; the trailing year's transitions, survival and comparison)."""
        from outcomes.metrics import shift_quarter

        ty = trailing_year(period)
        trend = [shift_quarter(period, -k) for k in range(8)]
        keep = (
            (
                (pl.col("table") == "summary")
                & pl.col("period").is_in([period, shift_quarter(period, -1), ty])
            )
            | ((pl.col("table") == "trend") & pl.col("period").is_in(trend))
            | (pl.col("table").is_in(["completion", "reasons"]) & (pl.col("period") == period))
            | (
                pl.col("table").is_in(
                    ["transitions", "readmission_km", "relapse_km", "comparison", "benchmark"]
                )
                & (pl.col("period") == ty)
            )
        )
        return self.cells.filter(keep)


def _stage(message: str, start: float, verbose: bool) -> None:
    if verbose:
        print(f"[{time.perf_counter() - start:5.1f}s] {message}", file=sys.stderr)


@single_blas_thread
def publication(
    ds: Dataset,
    as_of: str | dt.date | None = None,
    threshold: int = 11,
    verbose: bool = False,
    complementary: bool = True,
    benchmarks: ReportBenchmarks | None = None,
) -> Publication:
    """Build and protect every cell of every quarterly report the data supports.

    Parameters
    ----------
    ds : Dataset
        The loaded export.
    as_of : str or date, optional
        Data cut-off (default: the latest date in the data).
    threshold : int
        Smallest count shown (default 11).
    verbose : bool
        Print the stages on stderr.
    complementary : bool
        False: primary suppression only (to show what the audit protects against; never for
        publishing).
    benchmarks : ReportBenchmarks, optional
        A national benchmark (:func:`outcomes.national.load_report_benchmarks`): adds the
        observed-to-expected cells of IOP and residential care for every trailing year
        (:mod:`outcomes.publish_national`), which change the protection of no other cell.

    Returns
    -------
    Publication
    """
    from outcomes.episodes import as_date, episodes

    start = time.perf_counter()
    cut = as_date(as_of, ds.last_date)
    ep = episodes(ds, cut).with_row_index("__row").with_columns(pl.col("__row").cast(pl.Int64))
    discharged = ep.filter(pl.col("discharge_date").is_not_null())
    quarters = (
        discharge_quarters(discharged["discharge_date"].min(), cut) if discharged.height else []
    )
    has_followups = ds.followups is not None
    flags = _proportion_flags(ep, cut)
    builder = CellBuilder()
    national = None
    if benchmarks is not None and benchmarks.oe_references():
        national = (benchmarks.expected(discharged), benchmarks.oe_references())
    for q in quarters:
        _quarter_cells(builder, discharged, q, flags)
        _trailing_cells(builder, ep, discharged, trailing_year(q), flags, has_followups)
        if national is not None:
            from outcomes.publish_national import add_cells

            ty = trailing_year(q)
            add_cells(builder, _in_period(discharged, ty), ty, *national)
    _stage(f"gathered {len(builder.rows)} cells over {len(quarters)} quarters", start, verbose)
    cells = builder.build()
    protected = protect(
        cells,
        threshold,
        progress=verbose,
        priority=_priority(cells.frame),
        complementary=complementary,
    )
    _stage("disclosure control done", start, verbose)
    if national is not None:
        from outcomes.publish_national import follow_ratios

        protected = follow_ratios(protected)
    return Publication(
        cells=protected.drop("num_set", "den_set", "pending"),
        threshold=threshold,
        as_of=cut,
        quarters=tuple(quarters),
        benchmarks=benchmarks,
    )


def _priority(frame: pl.DataFrame) -> np.ndarray:
    """What withholding each cell costs: 10 for the key figures, the comparison's groups,
    the readmission estimates, and discharges and completion wherever they appear, else 1;
    an "all programs" cell costs :data:`ALL_PROGRAMS_COST` of that (a reader loses less
    when a total is withheld than when a program's own figure is). The ``benchmark`` cells
    cost nothing: they show the summary's own sets, and must not change what is withheld."""
    key = pl.col("table").is_in(PRIORITY_TABLES) | pl.col("measure").is_in(PRIORITY_MEASURES)
    total = pl.when(pl.col("program") == ALL).then(ALL_PROGRAMS_COST).otherwise(1.0)
    cost = pl.when(key).then(10.0).otherwise(1.0) * total
    free = pl.col("table") == "benchmark"
    return frame.select(pl.when(free).then(0.0).otherwise(cost)).to_series().to_numpy()


def _in_period(frame: pl.DataFrame, period: str) -> pl.DataFrame:
    from outcomes.metrics import period_bounds

    first, last = period_bounds(period)
    return frame.filter(pl.col("discharge_date").is_between(first, last))


def _levels(frame: pl.DataFrame, programs=None, bands: bool = False):
    """(program, band, rows of the group) for each group of a level: by program and
    band, by program, or all programs together."""
    if bands:
        for (prog, band), part in frame.partition_by(
            ["program_type", "length_band"], as_dict=True
        ).items():
            yield prog, band, part
        return
    for (prog,), part in frame.partition_by(["program_type"], as_dict=True).items():
        if programs is None or prog in programs:
            yield prog, None, part
    yield ALL, None, frame


def _proportion_flags(ep: pl.DataFrame, cut: dt.date) -> dict[str, tuple[np.ndarray, ...]]:
    """For each proportion the publication shows, three masks over the episodes (indexed by
    ``__row``): in the denominator, in the numerator, and (windowed rates) eligible once the
    window ends; computed once for every group's cells."""
    from outcomes.metrics import _proportions

    specs, later = _proportions(cut), _proportions(dt.date.max)
    shown = (
        *SUMMARY_YEAR_MEASURES,
        *COMPLETION_MEASURES,
        *REASON_MEASURES,
        *TRANSITION_MEASURES,
    )
    used = [m for m in dict.fromkeys(shown) if m in specs]
    exprs = []
    for m in used:
        unit, hit = specs[m]
        exprs += [
            unit.fill_null(False).alias(f"{m}:u"),
            (unit & hit).fill_null(False).alias(f"{m}:h"),
        ]
        if m.startswith(WINDOWED):
            exprs.append(later[m][0].fill_null(False).alias(f"{m}:e"))
    masks = ep.select(exprs)
    return {
        m: tuple(masks[f"{m}:{k}"].to_numpy() for k in "uhe" if f"{m}:{k}" in masks.columns)
        for m in used
    }


def _add_metric_cells(builder, table, period, program, band, part, measures, flags):
    """Cells of the METRICS.md measures for one group of discharges (``flags``:
    :func:`_proportion_flags`)."""
    from outcomes.intervals import z_value

    rows = part["__row"].to_numpy()
    for m in measures:
        if m == "discharges":
            builder.add(table, period, program, band, m, "count", rows.size, den_rows=rows)
        elif m in flags:
            unit, hit, *eligible = flags[m]
            den = rows[unit[rows]]
            num = rows[hit[rows]]
            # value and Wilson interval filled in for all proportions at once (build)
            builder.add(table, period, program, band, m, "proportion", None, None, None, num, den)
            if den.size == 0 and eligible and eligible[0][rows].any():
                # eligible discharges whose window has not ended yet: pending, not "none"
                builder.mark_pending()
        elif m == "median_los_days":
            los = part["los_days"].drop_nulls().to_numpy().astype(float)
            q = np.percentile(los, [50, 25, 75]) if los.size else [None] * 3
            builder.add(table, period, program, band, m, "statistic", *q, den_rows=rows)
        elif m in ("attendance_rate", "mean_weekly_hours"):
            column = "attendance_rate" if m == "attendance_rate" else "weekly_hours"
            values = part[column]
            keep = values.is_not_null().to_numpy()
            x = values.drop_nulls().to_numpy().astype(float)
            mean = float(x.mean()) if x.size else None
            half = z_value() * x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else None
            low, high = (mean - half, mean + half) if half is not None else (None, None)
            builder.add(
                table,
                period,
                program,
                band,
                m,
                "statistic",
                mean,
                low,
                high,
                den_rows=rows[keep],
            )
        else:  # pragma: no cover - a measure name not declared above
            raise ValueError(f"unknown measure {m!r}")


def _quarter_cells(builder, discharged, q, flags) -> None:
    part = _in_period(discharged, q)
    for prog, band, group in _levels(part, SUMMARY_PROGRAMS):
        _add_metric_cells(builder, "summary", q, prog, band, group, SUMMARY_MEASURES, flags)
    for prog, band, group in _levels(part):
        if prog != ALL:
            _add_metric_cells(builder, "trend", q, prog, band, group, ("completion_rate",), flags)
        _add_metric_cells(builder, "reasons", q, prog, band, group, REASON_MEASURES, flags)
    for prog, band, group in _levels(part, bands=True):
        _add_metric_cells(builder, "completion", q, prog, band, group, COMPLETION_MEASURES, flags)


def _trailing_cells(builder, ep, discharged, ty, flags, has_followups) -> None:
    part = _in_period(discharged, ty)
    for prog, band, group in _levels(part, SUMMARY_PROGRAMS):
        _add_metric_cells(builder, "summary", ty, prog, band, group, SUMMARY_YEAR_MEASURES, flags)
    for prog, band, group in _levels(part):
        _add_metric_cells(builder, "transitions", ty, prog, band, group, TRANSITION_MEASURES, flags)
    _km_cells(builder, "readmission_km", ty, part, "readmission")
    if has_followups:
        _km_cells(builder, "relapse_km", ty, part, "relapse")
    for prog in ("iop", "residential"):
        group = part.filter(pl.col("program_type") == prog)
        _add_metric_cells(
            builder, "comparison", ty, prog, None, group, ("discharges", "completion_rate"), flags
        )


def _km_cells(builder, table, ty, part, outcome) -> None:
    """Cumulative incidence (1 - Kaplan-Meier) at the horizons, by program and for all
    programs: the episodes still followed at each horizon and the events by then stand
    behind each cell."""
    from outcomes.survival import readmission_data, relapse_data, survival_at

    build = relapse_data if outcome == "relapse" else readmission_data
    for prog, _, group in _levels(part):
        data = build(group)
        if data.is_empty():
            continue
        t = data["time"].to_numpy()
        e = data["event"].to_numpy()
        rows = data["__row"].to_numpy()
        for r in survival_at(data, "time", "event", times=KM_HORIZONS).iter_rows(named=True):
            h = r["time"]
            builder.add(
                table,
                ty,
                prog,
                None,
                f"{outcome}_by_{int(h)}d",
                "survival",
                1 - r["estimate"],
                1 - r["ci_high"] if r["ci_high"] is not None else None,
                1 - r["ci_low"] if r["ci_low"] is not None else None,
                num_rows=rows[e & (t <= h)],
                den_rows=rows[t >= h],
            )
