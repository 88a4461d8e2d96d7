"""Program metrics as the long tidy table of METRICS.md "Group metrics".

:func:`metrics` returns one row per group and metric with ``value, ci_low, ci_high,
numerator, denominator``; :func:`trend` stacks the same table for each of the last quarters.
The numbers are raw (unsuppressed): publication goes through :mod:`outcomes.suppression`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import polars as pl

from outcomes.dataset import Dataset
from outcomes.episodes import as_date, episodes
from outcomes.errors import PeriodError
from outcomes.intervals import mean_ci, wilson
from outcomes.schema import DISCHARGE_REASONS, METRIC_COLUMNS

STEP_DOWN_WINDOWS = (7, 14, 30)
READMISSION_WINDOWS = (30, 90, 180, 365)

#: Every metric, in the order the table lists them.
METRIC_ORDER = (
    "admissions",
    "discharges",
    "completion_rate",
    "completion_or_transfer_rate",
    "early_dropout_rate",
    "median_los_days",
    "attendance_rate",
    "mean_weekly_hours",
    "intensity_met_rate",
    *(f"step_down_{w}d" for w in STEP_DOWN_WINDOWS),
    *(f"readmission_{w}d" for w in READMISSION_WINDOWS),
    *(f"relapse_{w}d" for w in READMISSION_WINDOWS),
    *(f"discharge_reason_{r}" for r in DISCHARGE_REASONS),
)
_PERIOD_RE = re.compile(r"^(\d{4})(?:Q([1-4]))?$")


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a quarter (``2026Q3``), a year (``2026``) or a range of them
    (``2025Q4-2026Q3``, e.g. a trailing year)."""
    text = str(period)
    if "-" in text:
        first_part, _, last_part = text.partition("-")
        first, last = period_bounds(first_part)[0], period_bounds(last_part)[1]
        if last < first:
            raise ValueError(f"period {period!r} ends before it starts")
        return first, last
    m = _PERIOD_RE.match(text)
    if not m:
        raise ValueError(
            f"period must be a quarter such as 2026Q3, a year such as 2026 or a range such as "
            f"2025Q4-2026Q3, not {period!r}"
        )
    year = int(m.group(1))
    if m.group(2) is None:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    q = int(m.group(2))
    first = dt.date(year, 3 * q - 2, 1)
    last = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1)
    return first, last


def check_period(
    ds: Dataset | pl.DataFrame,
    period: str | None,
    as_of: str | dt.date | None = None,
    *,
    require_full: bool = False,
) -> None:
    """Refuse a period that has nothing to report, before anything is computed or rendered.

    Parameters
    ----------
    ds : Dataset
        A loaded dataset (or a frame with a ``discharge_date`` column of dtype ``Date``, such
        as the one :func:`outcomes.episodes` returns; ``as_of`` is then required).
    period : str or None
        A quarter (``2026Q3``), a year (``2026``) or a range (``2025Q4-2026Q3``); None for
        every discharge up to ``as_of``.
    as_of : str or date, optional
        Data cut-off (default: the latest date in the data).
    require_full : bool
        Also refuse a period that ends after ``as_of`` (a quarter not fully observed): the
        report asks for this. A trailing year that starts before the data does is fine.

    Raises
    ------
    PeriodError
        The period starts after ``as_of``; or ``require_full`` and it ends after ``as_of``;
        or no episode was discharged in it (up to ``as_of``). The message is one line.
    ValueError
        ``period`` or ``as_of`` is malformed.

    Examples
    --------
    >>> import outcomes
    >>> from outcomes.metrics import check_period
    >>> ds = outcomes.synth.generate(300, seed=1)
    >>> check_period(ds, "2099Q1")
    Traceback (most recent call last):
    ...
    outcomes.errors.PeriodError: 2099Q1 starts after the data's as-of date ...
    """
    if isinstance(ds, Dataset):
        cut = as_date(as_of, ds.last_date)
        discharges = ds.enrollments["discharge_date"]
    else:
        cut = as_date(as_of)
        discharges = ds["discharge_date"]
    discharges = discharges.drop_nulls().filter(discharges.drop_nulls() <= cut)
    label = "the data" if period is None else str(period)
    first, last = (dt.date.min, cut) if period is None else period_bounds(period)
    full = _last_full_quarter(cut)
    if require_full and last > cut:
        raise PeriodError(
            f"{label} ends after the data's as-of date {cut}; the last full quarter is {full}"
        )
    if first > cut:
        raise PeriodError(
            f"{label} starts after the data's as-of date {cut}; the last full quarter is {full}"
        )
    if not discharges.is_between(first, last).any():
        span = (
            f"the data's discharges run from {discharges.min()} to {discharges.max()}"
            if discharges.len()
            else f"the data has no discharge up to {cut}"
        )
        raise PeriodError(f"no episode was discharged in {label}: {span}")


def _last_full_quarter(as_of: dt.date) -> str:
    """The last quarter that ends on or before ``as_of``."""
    current = f"{as_of.year}Q{(as_of.month - 1) // 3 + 1}"
    return current if period_bounds(current)[1] <= as_of else shift_quarter(current, -1)


def window_closed(days: int, as_of: dt.date) -> pl.Expr:
    """Whether a discharge's ``days``-day window had ended by ``as_of``:
    ``discharge_date + days <= as_of`` (the cohort of every windowed rate, METRICS.md)."""
    return (pl.col("discharge_date") + pl.duration(days=days)) <= pl.lit(as_of)


def _proportions(as_of: dt.date) -> dict[str, tuple[pl.Expr, pl.Expr]]:
    """(unit in the denominator, unit in the numerator) for every proportion metric.

    The expressions run on the discharge cohort (one row per discharged episode).
    """
    window_over = {w: window_closed(w, as_of) for w in {*STEP_DOWN_WINDOWS, *READMISSION_WINDOWS}}
    everyone = pl.col("episode_id").is_not_null()
    eligible_step = pl.col("program_type").is_in(["residential", "php"]) & pl.col(
        "discharge_reason"
    ).is_in(["completed", "transferred"])
    alive = pl.col("discharge_reason") != "died"
    out: dict[str, tuple[pl.Expr, pl.Expr]] = {
        "completion_rate": (everyone, pl.col("completed")),
        "completion_or_transfer_rate": (everyone, pl.col("completion_or_transfer")),
        "early_dropout_rate": (everyone, pl.col("early_dropout")),
        "intensity_met_rate": (
            (pl.col("program_type") == "iop") & (pl.col("los_days") >= 7),
            pl.col("intensity_met").fill_null(False),
        ),
    }
    for w in STEP_DOWN_WINDOWS:
        out[f"step_down_{w}d"] = (
            eligible_step & window_over[w],
            pl.col("step_down") & (pl.col("days_to_step_down") <= w),
        )
    for w in READMISSION_WINDOWS:
        out[f"readmission_{w}d"] = (
            alive & window_over[w],
            pl.col("readmitted") & (pl.col("days_to_readmission") <= w),
        )
        out[f"relapse_{w}d"] = (
            alive & window_over[w],
            pl.col("relapsed") & (pl.col("days_to_relapse") <= w),
        )
    for r in DISCHARGE_REASONS:
        out[f"discharge_reason_{r}"] = (everyone, pl.col("discharge_reason") == r)
    return out


def metrics(
    ds: Dataset | pl.DataFrame,
    by: Sequence[str] | str = ("program_type", "length_band"),
    period: str | None = None,
    as_of: str | dt.date | None = None,
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """The program metrics of METRICS.md, by group, as one long table.

    Parameters
    ----------
    ds : Dataset
        A loaded dataset (or the frame :func:`outcomes.episodes` returned, with ``as_of``).
    by : sequence of str
        Grouping columns: any enrollment column (``site_id``, ``referral_source``,
        ``modality``, ``age_group``, ``co_occurring_mh``, ...) or ``length_band``; empty for
        one overall group.
    period : str, optional
        A quarter (``2026Q3``), a year (``2026``) or a range (``2025Q4-2026Q3``): the
        outcome cohort is the episodes discharged in it, ``admissions`` counts those
        admitted in it. None: every discharge (and every admission) up to ``as_of``.
    as_of : str or date, optional
        Data cut-off (default: the latest date in the data). Windowed rates keep only
        discharges whose window is over: ``discharge_date + window <= as_of``.
    conf_level : float
        Level of the Wilson and normal intervals (default 0.95).

    Returns
    -------
    polars.DataFrame
        The ``by`` columns, then ``metric``, ``value``, ``ci_low``, ``ci_high``, ``numerator``,
        ``denominator``: one row per group and metric of :data:`METRIC_ORDER` (``relapse_*``
        only when the dataset has follow-ups). Proportions carry Wilson intervals; counts
        (``admissions``, ``discharges``) have no interval and ``denominator`` = the count;
        ``median_los_days`` has the 25th and 75th percentiles as ``ci_low``/``ci_high``;
        means (``attendance_rate``, ``mean_weekly_hours``) a normal interval. ``value`` is
        empty where the denominator is 0.

    Examples
    --------
    >>> import outcomes
    >>> table = outcomes.metrics(outcomes.synth.generate(300, seed=1), by=["program_type"])
    >>> table.columns
    ['program_type', 'metric', 'value', 'ci_low', 'ci_high', 'numerator', 'denominator']
    """
    by = [by] if isinstance(by, str) else list(by)
    if isinstance(ds, Dataset):
        cut = as_date(as_of, ds.last_date)
        ep = episodes(ds, cut)
        has_followups = ds.followups is not None
    else:
        cut = as_date(as_of)
        ep = ds
        has_followups = ep["relapsed"].null_count() < ep.height
    missing = [c for c in by if c not in ep.columns]
    if missing:
        raise ValueError(f"cannot group by {missing}: not a column of the episodes")
    admitted, discharged = ep, ep.filter(pl.col("discharge_date").is_not_null())
    if period is not None:
        first, last = period_bounds(period)
        admitted = ep.filter(pl.col("admit_date").is_between(first, last))
        discharged = discharged.filter(pl.col("discharge_date").is_between(first, last))

    groups = (
        pl.concat([discharged.select(by).unique(), admitted.select(by).unique()]).unique()
        if by
        else None
    )
    parts = [_counts(admitted, by, "admissions"), _counts(discharged, by, "discharges")]
    parts.append(_proportion_rows(discharged, by, cut, conf_level, has_followups))
    parts.append(_summary_rows(discharged, by, conf_level))
    table = pl.concat(parts, how="vertical_relaxed")
    table = _complete(table, groups, by, has_followups)
    order = {m: i for i, m in enumerate(METRIC_ORDER)}
    return (
        table.with_columns(
            pl.col("metric").replace_strict(order, return_dtype=pl.Int32).alias("__order")
        )
        .sort([*by, "__order"], nulls_last=True)
        .select(*by, *METRIC_COLUMNS)
    )


def _counts(frame: pl.DataFrame, by: list[str], name: str) -> pl.DataFrame:
    agg = frame.group_by(by).agg(pl.len().alias("n")) if by else pl.DataFrame({"n": [frame.height]})
    return agg.select(
        *by,
        pl.lit(name).alias("metric"),
        pl.col("n").cast(pl.Float64).alias("value"),
        pl.lit(None, dtype=pl.Float64).alias("ci_low"),
        pl.lit(None, dtype=pl.Float64).alias("ci_high"),
        pl.lit(None, dtype=pl.Int64).alias("numerator"),
        pl.col("n").cast(pl.Int64).alias("denominator"),
    )


def _grouped(frame: pl.DataFrame, by: list[str], aggs: list[pl.Expr]) -> pl.DataFrame:
    return frame.group_by(by).agg(aggs) if by else frame.select(aggs)


def _proportion_rows(discharged, by, cut, conf_level, has_followups) -> pl.DataFrame:
    specs = {
        name: spec
        for name, spec in _proportions(cut).items()
        if has_followups or not name.startswith("relapse_")
    }
    aggs = []
    for name, (unit, hit) in specs.items():
        aggs.append(unit.fill_null(False).sum().alias(f"{name}\x1fn"))
        aggs.append((unit.fill_null(False) & hit.fill_null(False)).sum().alias(f"{name}\x1fx"))
    wide = _grouped(discharged, by, aggs)
    long = wide.unpivot(index=by, variable_name="__key", value_name="__v").with_columns(
        pl.col("__key").str.split("\x1f").list.get(0).alias("metric"),
        pl.col("__key").str.split("\x1f").list.get(1).alias("__part"),
    )
    rows = long.pivot(on="__part", index=[*by, "metric"], values="__v")
    rows = rows.with_columns(  # no discharge in any group: the pivot has no x or n
        pl.lit(None, dtype=pl.Int64).alias(c) for c in ("x", "n") if c not in rows.columns
    )
    x, n = pl.col("x").cast(pl.Int64), pl.col("n").cast(pl.Int64)
    low, high = wilson(x, n, conf_level)
    return rows.select(
        *by,
        "metric",
        pl.when(n > 0).then(x / n).alias("value"),
        low.alias("ci_low"),
        high.alias("ci_high"),
        x.alias("numerator"),
        n.alias("denominator"),
    )


def _summary_rows(discharged, by, conf_level) -> pl.DataFrame:
    att = pl.col("attendance_rate")
    hours = pl.col("weekly_hours")
    att_mean, att_lo, att_hi = mean_ci(att, conf_level)
    hrs_mean, hrs_lo, hrs_hi = mean_ci(hours, conf_level)
    los = pl.col("los_days")
    wide = _grouped(
        discharged,
        by,
        [
            los.median().alias("los_v"),
            los.quantile(0.25, "linear").alias("los_l"),
            los.quantile(0.75, "linear").alias("los_h"),
            pl.len().alias("los_n"),
            att_mean.alias("att_v"),
            att_lo.alias("att_l"),
            att_hi.alias("att_h"),
            att.count().alias("att_n"),
            hrs_mean.alias("hrs_v"),
            hrs_lo.alias("hrs_l"),
            hrs_hi.alias("hrs_h"),
            hours.count().alias("hrs_n"),
        ],
    )
    parts = []
    for key, name in (
        ("los", "median_los_days"),
        ("att", "attendance_rate"),
        ("hrs", "mean_weekly_hours"),
    ):
        parts.append(
            wide.select(
                *by,
                pl.lit(name).alias("metric"),
                pl.col(f"{key}_v").cast(pl.Float64).alias("value"),
                pl.col(f"{key}_l").cast(pl.Float64).alias("ci_low"),
                pl.col(f"{key}_h").cast(pl.Float64).alias("ci_high"),
                pl.lit(None, dtype=pl.Int64).alias("numerator"),
                pl.col(f"{key}_n").cast(pl.Int64).alias("denominator"),
            )
        )
    return pl.concat(parts, how="vertical_relaxed")


def _complete(table, groups, by, has_followups) -> pl.DataFrame:
    """Every group gets every metric: a group with no discharges shows zero denominators."""
    names = [m for m in METRIC_ORDER if has_followups or not m.startswith("relapse_")]
    grid = pl.DataFrame({"metric": names})
    if by:
        grid = groups.join(grid, how="cross")
    table = grid.join(table, on=[*by, "metric"], how="left", nulls_equal=True)
    return table.with_columns(pl.col("denominator").fill_null(0)).with_columns(
        pl.when(pl.col("metric").is_in(["admissions", "discharges"]))
        .then(pl.col("denominator").cast(pl.Float64))
        .otherwise(pl.col("value"))
        .alias("value"),
        pl.when(
            pl.col("numerator").is_null()
            & ~pl.col("metric").is_in(
                [
                    "admissions",
                    "discharges",
                    "median_los_days",
                    "attendance_rate",
                    "mean_weekly_hours",
                ]
            )
        )
        .then(0)
        .otherwise(pl.col("numerator"))
        .alias("numerator"),
    )


def shift_quarter(period: str, by: int) -> str:
    """The quarter ``by`` quarters after (negative: before) ``period`` (``2026Q3``)."""
    m = _PERIOD_RE.match(period)
    if not m or m.group(2) is None:
        raise ValueError(f"expected a quarter such as 2026Q3, not {period!r}")
    index = int(m.group(1)) * 4 + int(m.group(2)) - 1 + by
    return f"{index // 4}Q{index % 4 + 1}"


def trend(
    ds: Dataset,
    quarters: int = 8,
    by: Sequence[str] | str = ("program_type",),
    as_of: str | dt.date | None = None,
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """The :func:`metrics` table for each of the last ``quarters`` full quarters.

    A quarter is full when it ends on or before ``as_of``. Returns the metrics table with a
    ``period`` column (``2026Q3``) first, oldest quarter first.
    """
    cut = as_date(as_of, ds.last_date)
    ep = episodes(ds, cut)
    year, q = cut.year, (cut.month - 1) // 3 + 1
    if period_bounds(f"{year}Q{q}")[1] > cut:  # the current quarter is not over yet
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    periods = []
    for _ in range(quarters):
        periods.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    tables = [
        metrics(ep, by=by, period=p, as_of=cut, conf_level=conf_level).with_columns(
            pl.lit(p).alias("period")
        )
        for p in reversed(periods)
    ]
    by_cols = [by] if isinstance(by, str) else list(by)
    return pl.concat(tables, how="vertical_relaxed").select("period", *by_cols, *METRIC_COLUMNS)
