"""The benchmark table: discharge outcomes of TEDS-D by setting, state, year and case-mix.

:func:`benchmarks` turns read discharges (:func:`outcomes.national.read`) into one tidy row per
group and measure, with the project's group-metric columns (``value, ci_low, ci_high,
numerator, denominator``). It is an aggregate of a public file: it can be committed and given
to the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from outcomes.intervals import wilson, z_value
from outcomes.national._codes import BY_COLUMNS, CASEMIX, LABELS, LOS_RANGES, MISSING, REASON_LABELS
from outcomes.national._read import TedsD, read

BENCHMARK_COLUMNS = ("measure", "value", "ci_low", "ci_high", "numerator", "denominator")

#: Proportion measures: the REASON codes each counts (denominator: discharges with a reason).
RATE_MEASURES: dict[str, tuple[int, ...]] = {
    "completion": (1,),
    "completion_or_transfer": (1, 4),
    "dropped_out": (2,),
    "terminated": (3,),
    **{f"reason_{label}": (code,) for code, label in REASON_LABELS.items()},
}
LOS_MEASURES = {"los_q1_days": 0.25, "los_median_days": 0.5, "los_q3_days": 0.75}
MEASURES = ("discharges", *RATE_MEASURES, *LOS_MEASURES)
#: ``state`` code of the rows of the whole nation (``nation=True``); no FIPS code is 0.
NATION = 0


def benchmarks(
    teds: TedsD | str | Path | Sequence[str | Path],
    by: Sequence[str] | str = ("service",),
    conf_level: float = 0.95,
    *,
    measures: Sequence[str] | None = None,
    nation: bool = False,
) -> pl.DataFrame:
    """National (or any grouping's) discharge outcomes with intervals, from TEDS-D.

    Parameters
    ----------
    teds : TedsD or path(s)
        Discharges read by :func:`outcomes.national.read` (uses columns ``year, state,
        service, reason, los`` and the case-mix columns named in ``by``), or the files to read.
    by : list of str
        Grouping columns, from ``service, state, year, age_group, sex, substance,
        co_occurring, prior_treatment, referral`` (empty: the whole file). ``service`` holds
        ``detox_hospital`` (1), ``detox_residential`` (2), ``residential_hospital`` (3),
        ``residential_short`` (4), ``residential_long`` (5), ``iop`` (6), ``outpatient`` (7),
        ``detox_ambulatory`` (8); ``state`` the postal abbreviation; ``year`` the discharge
        year. Missing (-9) is its own group, ``missing`` (``year``: null).
    conf_level : float
        Level of the intervals (default 0.95).
    measures : list of str, optional
        Only these measures (default all of :data:`MEASURES`); a table of completion alone
        by setting, state and case-mix is what :func:`outcomes.national.standardise` needs.
    nation : bool
        With ``state`` among ``by``: also the rows of the whole nation, ``state`` = ``all``
        (one file then holds the national and the state lines).

    Returns
    -------
    polars.DataFrame
        The ``by`` columns, then ``measure, value, ci_low, ci_high, numerator, denominator``;
        per group:

        - ``discharges``: rows (value = denominator = the count; no interval).
        - ``completion`` (REASON 1), ``completion_or_transfer`` (1 or 4), ``dropped_out`` (2),
          ``terminated`` (3), and the whole mix ``reason_completed`` ... ``reason_other``
          (1-7, summing to 1): share of the discharges whose reason is known (a missing
          reason leaves the denominator), with Wilson score intervals.
        - ``los_q1_days``, ``los_median_days``, ``los_q3_days``: quartiles of the length of
          stay in days, over discharges whose LOS is known (method below).

    Notes
    -----
    **Length of stay from the LOS codes.** Codes 1-30 are days; 31-37 are ranges (31-45,
    46-60, 61-90, 91-120, 121-180, 181-365 days, and more than 365). A quartile is the
    smallest code whose cumulative share reaches it. When that code is a day, the quartile is
    that day. When it is a range, the point value is interpolated linearly inside the range
    (the stays of a range assumed spread evenly over it, the usual median of grouped data);
    when it is "more than 365 days", the value is left empty, since the file says nothing
    beyond 365. The interval does not rest on that assumption: it is the distribution-free
    interval of a quantile (the order statistics of ranks ``n p -/+ z sqrt(n p (1 - p))``,
    inverting the binomial score test that Wilson's interval inverts), each end taken at the
    edge of its code's range that makes the interval wider (the lower end at the range's first
    day, the upper end at its last; empty above 365).

    References
    ----------
    Wilson EB (1927), J Am Stat Assoc 22:209-212 (R ``prop.test(x, n, correct=FALSE)``).
    Conover WJ (1999), Practical Nonparametric Statistics, 3rd ed., section 3.2 (confidence
    interval for a quantile).

    Examples
    --------
    >>> from outcomes.national import generate_puf, read
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "puf.parquet"
    >>> generate_puf(2000, seed=1).write_parquet(path)
    >>> table = benchmarks(read(path), by=["service"])
    >>> table.filter(measure="completion").select("service", "denominator").head(3).rows()
    [('detox_hospital', 50), ('detox_residential', 279), ('residential_hospital', 5)]
    """
    by = [by] if isinstance(by, str) else list(by)
    unknown = [c for c in by if c not in BY_COLUMNS]
    if unknown:
        raise ValueError(f"cannot group by {unknown}; choose from {', '.join(BY_COLUMNS)}")
    if len(set(by)) != len(by):
        raise ValueError(f"a by-column is repeated: {by}")
    if not isinstance(teds, TedsD):
        teds = read(teds, columns=[c for c in by if c in CASEMIX])
    lacking = [c for c in by if c not in teds.data.columns]
    if lacking:
        raise ValueError(f"the discharges were read without {lacking}: read them with columns=")
    measures = list(MEASURES if measures is None else measures)
    wrong = [m for m in measures if m not in MEASURES]
    if wrong:
        raise ValueError(f"unknown measure(s) {wrong}; choose from {', '.join(MEASURES)}")
    data = teds.data.lazy()
    levels = [(data, by)]
    if nation and "state" in by:
        levels.insert(0, (data.with_columns(state=pl.lit(NATION, pl.Int16)), by))
    parts = []
    for frame, keys in levels:
        parts.append(_rates(frame, keys, conf_level))
        if any(m in LOS_MEASURES for m in measures):
            parts.append(_los(frame, keys, conf_level))
    table = pl.concat(parts, how="vertical_relaxed").filter(pl.col("measure").is_in(measures))
    order = {m: i for i, m in enumerate(MEASURES)}
    table = table.with_columns(
        _order=pl.col("measure").replace_strict(order, return_dtype=pl.Int32)
    )
    keys = [pl.when(pl.col(c) == MISSING).then(10_000).otherwise(pl.col(c)) for c in by]
    table = table.sort([*keys, "_order"]).drop("_order")
    return _label(table, by).select(*by, *BENCHMARK_COLUMNS)


def label_codes(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Codes of by-columns as their labels (``service`` 6 -> ``iop``, -9 -> ``missing``)."""
    return _label(frame, list(columns))


def _label(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    exprs = []
    for c in by:
        if c == "year":
            exprs.append(pl.when(pl.col(c) != MISSING).then(pl.col(c)).cast(pl.Int32).alias(c))
        else:
            labels = {**LABELS[c], MISSING: "missing"} | ({NATION: "all"} if c == "state" else {})
            exprs.append(
                pl.col(c).replace_strict(
                    list(labels), list(labels.values()), default=None, return_dtype=pl.String
                )
            )
    return frame.with_columns(exprs)


def _rates(data: pl.LazyFrame, by: list[str], conf_level: float) -> pl.DataFrame:
    reason = pl.col("reason")
    known = reason != MISSING
    aggs = [pl.len().alias("discharges"), known.sum().alias("_known")]
    aggs += [reason.is_in(codes).sum().alias(m) for m, codes in RATE_MEASURES.items()]
    grouped = (data.group_by(by).agg(aggs) if by else data.select(aggs)).collect()
    counts = grouped.unpivot(
        index=[*by, "_known"], on=list(RATE_MEASURES), variable_name="measure",
        value_name="numerator",
    )  # fmt: skip
    x, n = pl.col("numerator"), pl.col("_known")
    low, high = wilson(x, n, conf_level)
    rates = counts.select(
        *by,
        "measure",
        value=pl.when(n > 0).then(x / n),
        ci_low=low,
        ci_high=high,
        numerator=x.cast(pl.Int64),
        denominator=n.cast(pl.Int64),
    )
    totals = grouped.select(
        *by,
        measure=pl.lit("discharges"),
        value=pl.col("discharges").cast(pl.Float64),
        ci_low=pl.lit(None, pl.Float64),
        ci_high=pl.lit(None, pl.Float64),
        numerator=pl.lit(None, pl.Int64),
        denominator=pl.col("discharges").cast(pl.Int64),
    )
    return pl.concat([totals, rates])


def _los(data: pl.LazyFrame, by: list[str], conf_level: float) -> pl.DataFrame:
    counts = (
        data.filter(pl.col("los") != MISSING)
        .group_by([*by, "los"])
        .len()
        .sort([*by, "los"])
        .collect()
    )
    z = z_value(conf_level)
    rows = []
    groups = counts.partition_by(by, as_dict=True, maintain_order=True) if by else {(): counts}
    for key, group in groups.items():
        codes = group["los"].to_numpy()
        n_code = group["len"].to_numpy()
        for measure, p in LOS_MEASURES.items():
            value, low, high = los_quantile(codes, n_code, p, z)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "measure": measure,
                    "value": value,
                    "ci_low": low,
                    "ci_high": high,
                    "numerator": None,
                    "denominator": int(n_code.sum()),
                }
            )
    schema = {c: counts.schema[c] for c in by} | {
        "measure": pl.String,
        "value": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "numerator": pl.Int64,
        "denominator": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def _bounds(code: int) -> tuple[float, float | None]:
    if code <= 30:
        return float(code), float(code)
    low, high = LOS_RANGES[code]
    return float(low), None if high is None else float(high)


def los_quantile(
    codes: np.ndarray, counts: np.ndarray, p: float, z: float = 1.959963984540054
) -> tuple[float | None, float | None, float | None]:
    """The ``p`` quantile of stays in days from LOS codes and their counts, with its interval.

    ``codes`` ascending (1-37, no missing). Returns ``(value, ci_low, ci_high)``; see
    :func:`benchmarks` for the method. None where the file says nothing (above 365 days).

    Examples
    --------
    Ten stays: 1, 1, 2, 3, 3, 3, 5, 31 (31-45 days), 33 (61-90), 37 (over a year)

    >>> import numpy as np
    >>> los_quantile(np.array([1, 2, 3, 5, 31, 33, 37]), np.array([2, 1, 3, 1, 1, 1, 1]), 0.5)
    (3.0, 1.0, 90.0)
    """
    n = int(counts.sum())
    if n == 0:
        return None, None, None
    cum = np.cumsum(counts)
    eps = 1e-9 * n

    def at(share: float) -> int:
        return int(np.searchsorted(cum, min(max(share, 0.0), 1.0) * n - eps, side="left"))

    i = min(at(p), len(codes) - 1)
    code = int(codes[i])
    low_edge, high_edge = _bounds(code)
    if code <= 30:
        value = float(code)
    elif high_edge is None:
        value = None
    else:
        before = float(cum[i - 1]) if i else 0.0
        frac = (p * n - before) / float(counts[i])
        value = low_edge + min(max(frac, 0.0), 1.0) * (high_edge - low_edge)
    half = z * math.sqrt(p * (1 - p) / n)
    lower = _bounds(int(codes[min(at(p - half), len(codes) - 1)]))[0]
    upper_share = p + half
    upper = (
        None if upper_share > 1 else _bounds(int(codes[min(at(upper_share), len(codes) - 1)]))[1]
    )
    return value, lower, upper
