"""Charts for notebooks and the report: a tidy table in, a matplotlib Figure out.

Programs keep their colours across every chart (:data:`PROGRAM_COLOURS`). Charts of counts
take published tables only (with the ``suppressed`` column that :mod:`outcomes.suppression`
adds) and refuse raw ones; curves stop where fewer than ``threshold`` episodes remain at risk,
and the numbers at risk under them are suppressed.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure

from outcomes.suppression import DEFAULT_THRESHOLD, suppress_counts

PROGRAM_COLOURS = {
    "residential": "#1f5f8b",
    "php": "#7a4fa3",
    "iop": "#d9730d",
    "outpatient": "#3b8c4f",
    "detox": "#7f7f7f",
    "all programs": "#333333",
}


def colour(program: str) -> str:
    """The colour of a program (grey for anything else)."""
    return PROGRAM_COLOURS.get(str(program), "#555555")


def _require_published(table: pl.DataFrame) -> None:
    if "suppressed" not in table.columns:
        raise ValueError(
            "this chart publishes counts: pass a table that went through "
            "outcomes.suppression (it has a 'suppressed' column)"
        )


def rate_chart(
    table: pl.DataFrame, metric: str = "completion_rate", title: str | None = None
) -> Figure:
    """Horizontal bars of a rate by program and length band, with 95% intervals.

    Parameters
    ----------
    table : polars.DataFrame
        The output of :func:`outcomes.suppression.suppress_metrics` on a
        :func:`outcomes.metrics` table grouped by ``program_type`` (and ``length_band``):
        suppressed rows are drawn as an empty bar labelled with their display text.
    """
    _require_published(table)
    rows = table.filter(pl.col("metric") == metric)
    by = [c for c in ("program_type", "length_band") if c in rows.columns]
    rows = rows.sort(by)
    labels = [" ".join(str(r[c]) for c in by) for r in rows.iter_rows(named=True)]
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(labels), 3) + 1))
    y = np.arange(len(labels))[::-1]
    for yi, r in zip(y, rows.iter_rows(named=True), strict=True):
        if r["suppressed"] or r["value"] is None:
            ax.text(0.005, yi, r["display"], va="center", fontsize=8, color="#555555")
            continue
        ax.barh(yi, r["value"] * 100, color=colour(r.get("program_type", "")), alpha=0.85)
        ax.errorbar(
            r["value"] * 100,
            yi,
            xerr=[[100 * (r["value"] - r["ci_low"])], [100 * (r["ci_high"] - r["value"])]],
            color="black",
            capsize=3,
            lw=1,
        )
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of discharges (95% interval)")
    ax.set_title(title or metric.replace("_", " ").capitalize())
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def km_chart(
    curve: pl.DataFrame,
    by: str = "program_type",
    threshold: int = DEFAULT_THRESHOLD,
    ticks: tuple[int, ...] = (0, 30, 90, 180, 365),
    failure: bool = True,
    title: str = "Readmission after discharge",
) -> Figure:
    """Kaplan-Meier curves by group with the number at risk under them.

    Parameters
    ----------
    curve : polars.DataFrame
        :func:`outcomes.survival.kaplan_meier` output grouped by ``by``.
    failure : bool
        Draw ``1 - S`` (cumulative readmission) rather than ``S``.

    Each curve stops at the last time with at least ``threshold`` at risk; the numbers at risk
    at ``ticks`` go through :func:`outcomes.suppression.suppress_counts`.
    """
    groups = curve[by].unique().sort().to_list()
    fig, (ax, table_ax) = plt.subplots(
        2,
        1,
        figsize=(7.5, 4.8 + 0.25 * len(groups)),
        gridspec_kw={"height_ratios": [4, 0.5 + 0.25 * len(groups)]},
        sharex=True,
    )
    rows = []
    for g in groups:
        part = curve.filter(pl.col(by) == g).sort("time")
        shown = part.filter(pl.col("n_risk") >= threshold)
        t = np.concatenate([[0.0], shown["time"].to_numpy()])
        s = np.concatenate([[1.0], shown["estimate"].to_numpy()])
        ax.step(t, 1 - s if failure else s, where="post", color=colour(g), label=str(g), lw=2)
        times = part["time"].to_numpy()
        n_risk = part["n_risk"].to_numpy()
        for tick in ticks:
            after = np.flatnonzero(times >= tick)
            rows.append((str(g), tick, int(n_risk[after[0]]) if after.size else 0))
    at_risk = suppress_counts(
        pl.DataFrame(rows, schema=["group", "tick", "n"], orient="row"),
        "n",
        threshold=threshold,
        total_published=False,
    )
    ax.set_ylabel("cumulative readmission" if failure else "not readmitted")
    ax.set_ylim(0, None if failure else 1.02)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    table_ax.set_yticks(range(len(groups)), [str(g) for g in groups][::-1])
    table_ax.set_ylim(-0.5, len(groups) - 0.5)
    for i, g in enumerate(groups[::-1]):
        for r in at_risk.filter(pl.col("group") == str(g)).iter_rows(named=True):
            table_ax.text(r["tick"], i, r["display"], ha="center", va="center", fontsize=8)
    table_ax.set_xlabel("days since discharge (numbers at risk below)")
    table_ax.tick_params(left=False)
    for side in ("top", "right", "left"):
        table_ax.spines[side].set_visible(False)
    ax.set_xlim(0, max(ticks) * 1.03)
    fig.tight_layout()
    return fig


def love_plot(balance: pl.DataFrame) -> Figure:
    """Standardized mean differences of each covariate before and after weighting.

    ``balance`` is :func:`outcomes.compare.balance` output; the dashed lines mark +-0.1.
    """
    labels = [f"{r['covariate']} {r['level'] or ''}".strip() for r in balance.iter_rows(named=True)]
    y = np.arange(len(labels))[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.22 * len(labels) + 1.2))
    ax.scatter(
        balance["smd_unweighted"].abs(),
        y,
        marker="o",
        facecolors="none",
        edgecolors="#888888",
        label="unweighted",
    )
    ax.scatter(balance["smd_weighted"].abs(), y, marker="o", color="#d9730d", label="weighted")
    ax.axvline(0.1, ls="--", color="#555555", lw=1)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("absolute standardized mean difference")
    ax.legend(frameon=False, loc="lower right")
    ax.set_title("Covariate balance before and after weighting")
    fig.tight_layout()
    return fig


def forest_plot(effects: pl.DataFrame, outcome: str = "readmission_hazard_ratio") -> Figure:
    """Estimates and intervals of one outcome by method (naive, iptw, regression).

    ``effects`` is the effect table of :func:`outcomes.compare.compare`. Ratios are drawn on a
    log axis with a line at 1, differences with a line at 0.
    """
    rows = effects.filter(pl.col("outcome") == outcome)
    ratio = outcome.endswith("ratio")
    fig, ax = plt.subplots(figsize=(6, 0.5 * rows.height + 1.2))
    y = np.arange(rows.height)[::-1]
    for yi, r in zip(y, rows.iter_rows(named=True), strict=True):
        ax.plot([r["ci_low"], r["ci_high"]], [yi, yi], color="#333333")
        ax.plot(r["estimate"], yi, "s", color="#d9730d" if r["method"] != "naive" else "#888888")
    ax.axvline(1.0 if ratio else 0.0, color="#555555", lw=1, ls="--")
    if ratio:
        ax.set_xscale("log")
    ax.set_yticks(y, rows["method"].to_list())
    ax.set_xlabel(outcome.replace("_", " "))
    ax.set_title("IOP against residential")
    fig.tight_layout()
    return fig


def trend_chart(table: pl.DataFrame, metric: str = "completion_rate") -> Figure:
    """A rate over the last quarters, one line per program, from a suppressed
    :func:`outcomes.trend` table; suppressed quarters leave a gap."""
    _require_published(table)
    rows = table.filter(pl.col("metric") == metric).sort("period")
    periods = rows["period"].unique().sort().to_list()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for program in rows["program_type"].unique().sort().to_list():
        part = rows.filter(pl.col("program_type") == program)
        values = {
            r["period"]: (None if r["suppressed"] else r["value"])
            for r in part.iter_rows(named=True)
        }
        y = [np.nan if values.get(p) is None else values[p] * 100 for p in periods]
        ax.plot(periods, y, marker="o", color=colour(program), label=program)
    ax.set_ylabel("% of discharges")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, ncol=3, fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(metric.replace("_", " ").capitalize() + " by quarter")
    fig.tight_layout()
    return fig


def adherence_chart(table: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> Figure:
    """Attendance rate and weekly hours by week of treatment, one line per program.

    ``table`` is :func:`outcomes.attendance.attendance_by_week` output; weeks with fewer than
    ``threshold`` episodes in treatment are not drawn. The right panel sets IOP weekly hours
    against the ASAM 2.1 minimum of 9 hours.
    """
    shown = table.filter(pl.col("episodes") >= threshold)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for program in shown["program_type"].unique().sort().to_list():
        part = shown.filter(pl.col("program_type") == program)
        left.plot(
            part["week"],
            part["attendance_rate"] * 100,
            marker="o",
            color=colour(program),
            label=program,
        )
        right.plot(
            part["week"],
            part["mean_weekly_hours"],
            marker="o",
            color=colour(program),
            label=program,
        )
    right.axhline(9, ls="--", color="#555555", lw=1)
    right.text(
        0.02,
        9,
        " ASAM 2.1: 9 h/week",
        va="bottom",
        fontsize=8,
        transform=right.get_yaxis_transform(),
    )
    left.set(
        xlabel="week of treatment",
        ylabel="% of expected sessions attended",
        ylim=(0, 100),
        title="Attendance by week",
    )
    right.set(xlabel="week of treatment", ylabel="attended hours", title="Dose by week")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


REASON_COLOURS = {
    "completed": "#3b8c4f",
    "transferred": "#8cc084",
    "left_early": "#d9730d",
    "discharged_by_program": "#b5483b",
    "incarcerated": "#6d4c7d",
    "died": "#222222",
    "other": "#a0a0a0",
}


def reason_mix_chart(table: pl.DataFrame) -> Figure:
    """Stacked shares of discharge reasons by program, from a suppressed metric table with the
    ``discharge_reason_*`` metrics. Suppressed shares are drawn together as one grey segment
    (with complementary suppression there are always two or more of them)."""
    _require_published(table)
    rows = table.filter(pl.col("metric").str.starts_with("discharge_reason_"))
    programs = rows["program_type"].unique().sort().to_list()
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(programs) + 1.4))
    for yi, program in enumerate(programs[::-1]):
        part = rows.filter(pl.col("program_type") == program)
        left = 0.0
        for r in part.iter_rows(named=True):
            if r["suppressed"] or not r["value"]:
                continue
            reason = r["metric"].removeprefix("discharge_reason_")
            ax.barh(
                yi,
                r["value"] * 100,
                left=left,
                color=REASON_COLOURS.get(reason, "#999"),
                label=reason if yi == len(programs) - 1 else None,
            )
            left += r["value"] * 100
        if part["suppressed"].any():
            ax.barh(
                yi,
                100 - left,
                left=left,
                color="#dddddd",
                hatch="//",
                label="suppressed" if yi == len(programs) - 1 else None,
            )
    ax.set_yticks(range(len(programs)), programs[::-1])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of discharges")
    ax.set_title("How episodes ended")
    ax.legend(frameon=False, fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    return fig


#: Planned length of each band, in days, for the length-of-stay chart.
BAND_DAYS = {"6 wk": 42, "7 wk": 49, "8 wk": 56, "45-59 d": 45, "60-74 d": 60, "75-90 d": 90}


def los_chart(table: pl.DataFrame) -> Figure:
    """Median length of stay (with 25th-75th percentiles) against the planned length, by
    program and band, from a suppressed metric table grouped by ``program_type`` and
    ``length_band``; the cross marks the start of the band's planned length."""
    _require_published(table)
    rows = table.filter(
        pl.col("metric") == "median_los_days", pl.col("program_type").is_in(["iop", "residential"])
    ).sort("program_type", "length_band")
    fig, ax = plt.subplots(figsize=(7, 0.4 * max(rows.height, 3) + 1.2))
    y = np.arange(rows.height)[::-1]
    for yi, r in zip(y, rows.iter_rows(named=True), strict=True):
        if not r["suppressed"] and r["value"] is not None:
            ax.plot(
                [r["ci_low"], r["ci_high"]],
                [yi, yi],
                color=colour(r["program_type"]),
                lw=6,
                alpha=0.35,
                solid_capstyle="butt",
            )
            ax.plot(r["value"], yi, "o", color=colour(r["program_type"]))
        else:
            ax.text(1, yi, r["display"], va="center", fontsize=8, color="#555555")
        if r["length_band"] in BAND_DAYS:
            ax.plot(BAND_DAYS[r["length_band"]], yi, "x", color="black")
    ax.set_yticks(
        y, [f"{r['program_type']} {r['length_band']}" for r in rows.iter_rows(named=True)]
    )
    ax.set_xlabel("days (median, 25th-75th percentile; x = planned length)")
    ax.set_title("Length of stay against the planned length")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def cif_chart(
    cif: pl.DataFrame,
    by: str = "program_type",
    threshold: int = DEFAULT_THRESHOLD,
    labels: dict[int, str] | None = None,
) -> Figure:
    """Cumulative incidence of each cause by group (:func:`outcomes.survival.
    cumulative_incidence` output): solid for cause 1, dashed for the others; each curve stops
    where fewer than ``threshold`` remain at risk."""
    labels = labels or {1: "readmission", 2: "death"}
    fig, ax = plt.subplots(figsize=(7, 4))
    for (group, cause), part in cif.sort(by, "cause", "time").group_by(
        [by, "cause"], maintain_order=True
    ):
        shown = part.filter(pl.col("n_risk") >= threshold)
        t = np.concatenate([[0.0], shown["time"].to_numpy()])
        f = np.concatenate([[0.0], shown["estimate"].to_numpy()])
        ax.step(
            t,
            f,
            where="post",
            color=colour(group),
            ls="-" if cause == 1 else "--",
            label=f"{group}: {labels.get(cause, cause)}",
        )
    ax.set_xlabel("days since discharge")
    ax.set_ylabel("cumulative incidence")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("Cumulative incidence with competing events")
    fig.tight_layout()
    return fig
