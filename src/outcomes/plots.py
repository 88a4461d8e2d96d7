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
