"""The engine's floor for `outcomes metrics`: the same numbers from one plain polars query.

What `outcomes metrics DIR` computes (by program_type and length_band, every discharge up to
the data's last date), written as the simplest lazy polars query on the Parquet files: no
validation, no Dataset, no issues, string keys joined as they come. It is what the product's
time and memory are measured against (`bench_metrics.py`, `bench_load.py` print the ratio),
and `tests/test_floor.py` checks on a small generated set that it gives the product's table,
so the floor cannot drift from what it measures.

Usage: .venv/bin/python benchmarks/floor.py DIR [--out FILE]   (writes .parquet or .csv)
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from outcomes.episodes import length_band
from outcomes.intervals import mean_ci, wilson
from outcomes.metrics import METRIC_ORDER
from outcomes.schema import DISCHARGE_REASONS, LEVEL_OF_CARE

BY = ["program_type", "length_band"]
_SUMMARIES = ("median_los_days", "attendance_rate", "mean_weekly_hours")


def floor_metrics(folder: str | Path) -> pl.DataFrame:
    """The long metrics table of `outcomes metrics DIR` computed straight from the Parquet files."""
    folder = Path(folder)
    enr = pl.scan_parquet(folder / "enrollments.parquet")
    ses = pl.scan_parquet(folder / "attendance.parquet")
    has_followups = (folder / "followups.parquet").exists()
    fup = pl.scan_parquet(folder / "followups.parquet") if has_followups else None

    dates = [
        enr.select(pl.max("admit_date").alias("d")),
        enr.select(pl.max("discharge_date").alias("d")),
        ses.select(pl.max("session_date").alias("d")),
    ]
    if fup is not None:
        dates.append(fup.select(pl.max("contact_date").alias("d")))
    cut = pl.concat(dates).select(pl.max("d")).collect().item()

    known = pl.col("discharge_date") <= cut
    ep = (
        enr.select(
            "client_id",
            "episode_id",
            "program_type",
            "planned_length_days",
            "admit_date",
            pl.when(known).then("discharge_date").alias("discharge_date"),
            pl.when(known).then("discharge_reason").alias("discharge_reason"),
        )
        .filter(pl.col("admit_date") <= cut)
        .with_columns(
            (pl.coalesce("discharge_date", pl.lit(cut)) - pl.col("admit_date"))
            .dt.total_days()
            .alias("los_days"),
            length_band(),
        )
    )
    end = pl.coalesce("discharge_date", pl.lit(cut))
    attended = pl.col("status") == "attended"
    sessions = (
        ses.select("episode_id", "session_date", "status", "hours")
        .join(ep.select("episode_id", "admit_date", end.alias("end")), on="episode_id")
        .filter(pl.col("session_date").is_between(pl.col("admit_date"), pl.col("end")))
        .group_by("episode_id")
        .agg(
            attended.sum().alias("attended"),
            (pl.col("status") == "no_show").sum().alias("no_show"),
            pl.when(pl.col("hours").is_not_null().any())
            .then(pl.col("hours").filter(attended).sum())
            .alias("hours"),
        )
    )

    closed = ep.filter(pl.col("discharge_date").is_not_null())
    pairs = (
        closed.select("client_id", "episode_id", "program_type", "discharge_date")
        .join(
            ep.select(
                "client_id",
                pl.col("episode_id").alias("next_id"),
                pl.col("program_type").alias("next_program"),
                pl.col("admit_date").alias("next_admit"),
            ),
            on="client_id",
        )
        .with_columns(
            (pl.col("next_admit") - pl.col("discharge_date")).dt.total_days().alias("gap")
        )
        .filter(pl.col("next_id") != pl.col("episode_id"), pl.col("gap") >= 0)
    )
    level = pl.col("program_type").replace_strict(LEVEL_OF_CARE, default=None)
    step = (
        pairs.join(closed.select("episode_id", "discharge_reason"), on="episode_id")
        .filter(
            pl.col("program_type").is_in(["residential", "php"]),
            pl.col("discharge_reason").is_in(["completed", "transferred"]),
            pl.col("next_program").is_in(["php", "iop", "outpatient"]),
            pl.col("next_program").replace_strict(LEVEL_OF_CARE, default=None) < level,
            pl.col("gap") <= 30,
        )
        .group_by("episode_id")
        .agg(
            pl.col("gap").sort_by("gap", "next_id").first().alias("days_to_step_down"),
            pl.col("next_id").sort_by("gap", "next_id").first().alias("step_id"),
        )
    )
    readmit = (
        pairs.join(step, on="episode_id", how="left")
        .filter(pl.col("gap") > 0, pl.col("next_id") != pl.col("step_id").fill_null(""))
        .group_by("episode_id")
        .agg(pl.col("gap").min().alias("days_to_readmission"))
    )
    out = (
        closed.join(sessions, on="episode_id", how="left")
        .join(step, on="episode_id", how="left")
        .join(readmit, on="episode_id", how="left")
    )
    if fup is not None:
        use = (
            fup.filter(pl.col("used_since_discharge"), pl.col("contact_date") <= cut)
            .join(closed.select("episode_id", "discharge_date"), on="episode_id")
            .select(
                "episode_id",
                (pl.col("contact_date") - pl.col("discharge_date")).dt.total_days().alias("d"),
            )
            .filter(pl.col("d") > 0)
            .group_by("episode_id")
            .agg(pl.col("d").min().alias("use"))
        )
        out = out.join(use, on="episode_id", how="left").with_columns(
            pl.min_horizontal("days_to_readmission", "use").alias("days_to_relapse")
        )

    expected = pl.col("attended").fill_null(0) + pl.col("no_show").fill_null(0)
    out = out.with_columns(
        pl.when(expected > 0).then(pl.col("attended") / expected).alias("attendance"),
        pl.when(pl.col("los_days") >= 7)
        .then(pl.col("hours") / (pl.col("los_days") / 7))
        .alias("weekly"),
    )
    reason, los = pl.col("discharge_reason"), pl.col("los_days")
    everyone = pl.col("episode_id").is_not_null()
    proportions: dict[str, tuple[pl.Expr, pl.Expr]] = {
        "completion_rate": (everyone, reason == "completed"),
        "completion_or_transfer_rate": (everyone, reason.is_in(["completed", "transferred"])),
        "early_dropout_rate": (everyone, (reason == "left_early") & (los < 14)),
        "intensity_met_rate": (
            (pl.col("program_type") == "iop") & (los >= 7),
            pl.col("weekly") >= 9,
        ),
    }

    def over(w: int) -> pl.Expr:
        return pl.col("discharge_date") + pl.duration(days=w) <= pl.lit(cut)

    for w in (7, 14, 30):
        proportions[f"step_down_{w}d"] = (
            pl.col("program_type").is_in(["residential", "php"])
            & reason.is_in(["completed", "transferred"])
            & over(w),
            pl.col("days_to_step_down") <= w,
        )
    for w in (30, 90, 180, 365):
        proportions[f"readmission_{w}d"] = (
            (reason != "died") & over(w),
            pl.col("days_to_readmission") <= w,
        )
        if fup is not None:
            proportions[f"relapse_{w}d"] = (
                (reason != "died") & over(w),
                pl.col("days_to_relapse") <= w,
            )
    for r in DISCHARGE_REASONS:
        proportions[f"discharge_reason_{r}"] = (everyone, reason == r)

    att_mean, att_lo, att_hi = mean_ci(pl.col("attendance"))
    hrs_mean, hrs_lo, hrs_hi = mean_ci(pl.col("weekly"))
    aggs = [pl.len().alias("discharges")]
    for name, (unit, hit) in proportions.items():
        aggs.append(unit.sum().alias(f"{name}|n"))
        aggs.append((unit & hit.fill_null(False)).sum().alias(f"{name}|x"))
    aggs += [
        los.median().alias("median_los_days|v"),
        los.quantile(0.25, "linear").alias("median_los_days|l"),
        los.quantile(0.75, "linear").alias("median_los_days|h"),
        pl.len().alias("median_los_days|n"),
        att_mean.alias("attendance_rate|v"),
        att_lo.alias("attendance_rate|l"),
        att_hi.alias("attendance_rate|h"),
        pl.col("attendance").count().alias("attendance_rate|n"),
        hrs_mean.alias("mean_weekly_hours|v"),
        hrs_lo.alias("mean_weekly_hours|l"),
        hrs_hi.alias("mean_weekly_hours|h"),
        pl.col("weekly").count().alias("mean_weekly_hours|n"),
    ]
    wide = (
        ep.group_by(BY)
        .agg(pl.len().alias("admissions"))
        .join(out.group_by(BY).agg(aggs), on=BY, how="left")
        .collect()
    )
    return _long(wide, [m for m in METRIC_ORDER if fup is not None or not m.startswith("relapse_")])


def _long(wide: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """One row per group and metric, with the columns of METRICS.md "Group metrics"."""
    parts = []
    f64, i64 = pl.Float64, pl.Int64
    for name in names:
        if name in ("admissions", "discharges"):
            n = pl.col(name).fill_null(0)
            cols = [n.cast(f64), pl.lit(None, f64), pl.lit(None, f64), pl.lit(None, i64), n]
        elif name in _SUMMARIES:
            cols = [pl.col(f"{name}|{k}").cast(f64) for k in ("v", "l", "h")] + [
                pl.lit(None, i64),
                pl.col(f"{name}|n").fill_null(0),
            ]
        else:
            x, n = pl.col(f"{name}|x").fill_null(0), pl.col(f"{name}|n").fill_null(0)
            low, high = wilson(x, n)
            cols = [pl.when(n > 0).then(x / n), low, high, x, n]
        names_out = ("value", "ci_low", "ci_high", "numerator", "denominator")
        types = (f64, f64, f64, i64, i64)
        parts.append(
            wide.select(
                *BY,
                pl.lit(name).alias("metric"),
                *(c.cast(t).alias(a) for c, a, t in zip(cols, names_out, types, strict=True)),
            )
        )
    order = {m: i for i, m in enumerate(names)}
    return pl.concat(parts).sort(*BY, pl.col("metric").replace_strict(order, return_dtype=pl.Int32))


def main(argv: list[str]) -> None:
    folder = Path(argv[0])
    table = floor_metrics(folder)
    if "--out" in argv:
        out = Path(argv[argv.index("--out") + 1])
        table.write_parquet(out) if out.suffix == ".parquet" else table.write_csv(out)
    else:
        sys.stdout.write(table.write_csv())


if __name__ == "__main__":
    main(sys.argv[1:])
