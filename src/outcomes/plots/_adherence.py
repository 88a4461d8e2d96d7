"""Attendance and dose by week of treatment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import polars as pl
from matplotlib.figure import Figure

from outcomes.plots._common import (
    _finish,
    _in_program_order,
    _not_drawn_note,
    _percent_axis,
    _week_ranges,
    colour,
    program_label,
)
from outcomes.suppression import DEFAULT_THRESHOLD


def adherence_chart(table: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> Figure:
    """Attendance rate and weekly hours by week of treatment, one line per program.

    ``table`` is :func:`outcomes.attendance.attendance_by_week` output. Each point pools the
    episodes still in treatment at the end of that week (attended / expected sessions that
    week), so clients who left drop out of later weeks; the caption says so, because the
    attendance table averages each episode's attended / expected over its whole stay and is
    lower. Weeks with fewer than ``threshold`` episodes in treatment are not drawn (named in
    the note). The right panel sets IOP weekly hours against the ASAM 2.1 minimum of 9 hours.
    A table with a ``status`` column instead of ``episodes`` (the published data of
    :func:`outcomes.figures.adherence_data`) draws the weeks whose status is ``published``.
    """
    if "status" in table.columns and "episodes" not in table.columns:
        enough = pl.col("status") == "published"
    else:
        enough = pl.col("episodes") >= threshold
    shown = table.filter(enough)
    hidden = table.filter(~enough)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for program in _in_program_order(shown["program_type"].unique().to_list()):
        part = shown.filter(pl.col("program_type") == program)
        left.plot(
            part["week"],
            part["attendance_rate"] * 100,
            marker="o",
            color=colour(program),
            label=program_label(program),
        )
        right.plot(
            part["week"],
            part["mean_weekly_hours"],
            marker="o",
            color=colour(program),
            label=program_label(program),
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
        title="Attendance by week",
    )
    _percent_axis(left, "y")
    right.set(xlabel="week of treatment", ylabel="attended hours", title="Dose by week")
    right.set_ylim(0, None)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    caption = (
        "Each point covers the episodes still in treatment at the end of that week: the "
        "sessions they attended / the sessions expected that week (left), their mean attended "
        "hours (right). "
        "Clients who left earlier drop out of later weeks, so these run higher than the "
        "attendance table, which averages each episode's attended / expected over its whole "
        "stay, dropouts included."
    )
    left_out = [
        (
            f"{program_label(program)} week{'s' if len(part) > 1 else ''} "
            f"{_week_ranges(part['week'].to_list())}",
            f"fewer than {threshold} episodes in treatment",
        )
        for program, part in (
            (p, hidden.filter(pl.col("program_type") == p))
            for p in _in_program_order(hidden["program_type"].unique().to_list())
        )
    ]
    _finish(fig, [caption, _not_drawn_note(left_out)])
    return fig
