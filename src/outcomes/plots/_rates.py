"""Rates and statistics of published cells: by program and band, by quarter, discharge
reasons, length of stay.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerLine2D
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from outcomes.plots._common import (
    BAND_PLANNED_DAYS,
    _finish,
    _in_program_order,
    _label,
    _not_drawn_note,
    _percent_axis,
    _reasons,
    _require_published,
    _sort_bands,
    _split_drawn,
    _threshold_of,
    colour,
    program_label,
)

#: How a reference line is drawn: the nation's a black tick across the row (taller than the
#: whiskers' caps), any other reference's (the state's) a white diamond on it.
REFERENCE_STYLE = {
    "nation": {"marker": "|", "ms": 20, "mew": 2.4, "color": "black", "ls": ""},
    "state": {"marker": "D", "ms": 5.5, "mew": 1.2, "mfc": "white", "mec": "black", "ls": ""},
}


#: The same marks in the legend (the tick shorter, so that it keeps clear of the axis label).
LEGEND_STYLE = {**REFERENCE_STYLE, "nation": {**REFERENCE_STYLE["nation"], "ms": 11}}


def _draw_references(
    ax, drawn, y, reference, by, scale: float = 1.0, what: str = "same setting"
) -> list[Line2D]:
    """The reference lines of each drawn row (``reference``: ``program_type, length_band,
    reference, value``; ``reference`` is ``nation`` or a state), and their legend handles.
    Each artist's gid is ``reference_<reference>``."""
    if reference is None or reference.is_empty():
        return []
    labels = {}
    for yi, r in zip(y, drawn, strict=True):
        rows = reference.filter(*(pl.col(c) == r[c] for c in by))
        for ref in rows.iter_rows(named=True):
            if ref["value"] is None:
                continue
            kind = "nation" if ref["reference"] == "nation" else "state"
            ax.plot([ref["value"] * scale], [yi], gid=f"reference_{ref['reference']}",
                    zorder=4, **REFERENCE_STYLE[kind])  # fmt: skip
            labels[kind] = "Nation" if kind == "nation" else str(ref["reference"])
    return [
        Line2D([], [], label=f"{labels[k]} (TEDS-D, {what})", **LEGEND_STYLE[k])
        for k in ("nation", "state")
        if k in labels
    ]


def rate_chart(
    table: pl.DataFrame,
    metric: str = "completion_rate",
    title: str | None = None,
    *,
    threshold: int | None = None,
    reference: pl.DataFrame | None = None,
    reference_note: str | None = None,
) -> Figure:
    """Horizontal bars of a rate by program and length band, with 95% intervals.

    Parameters
    ----------
    table : polars.DataFrame
        The output of :func:`outcomes.suppression.suppress_metrics` on a
        :func:`outcomes.metrics` table grouped by ``program_type`` (and ``length_band``).
        Rows that are not published are left out; a note under the axes names them.
    threshold : int, optional
        The suppression threshold, for the note (default: read from the ``<N`` display text).
    reference : polars.DataFrame, optional
        Reference rates to mark on the rows (``program_type``, ``length_band``,
        ``reference`` = ``nation`` or a state, ``value`` as a proportion): a black tick for
        the nation, a white diamond for the state (:data:`REFERENCE_STYLE`).
    reference_note : str, optional
        A note on the references, under the axes.
    """
    _require_published(table)
    rows = _sort_bands(table.filter(pl.col("metric") == metric))
    by = [c for c in ("program_type", "length_band") if c in rows.columns]
    drawn, left_out = _split_drawn(rows, by, _threshold_of(rows, threshold))
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(drawn), 3) + 1))
    y = np.arange(len(drawn))[::-1]
    for yi, r in zip(y, drawn, strict=True):
        ax.barh(yi, r["value"] * 100, color=colour(r.get("program_type", "")), alpha=0.85)
        if r["ci_low"] is not None and r["ci_high"] is not None:
            ax.errorbar(
                r["value"] * 100,
                yi,
                xerr=[[100 * (r["value"] - r["ci_low"])], [100 * (r["ci_high"] - r["value"])]],
                color="black",
                capsize=3,
                lw=1,
            )
    handles = _draw_references(ax, drawn, y, reference, by, scale=100)
    ax.set_yticks(y, [_label(r, by) for r in drawn])
    _percent_axis(ax, "x")
    ax.set_xlabel("% of discharges (95% interval)")
    ax.set_title(title or metric.replace("_", " ").capitalize())
    ax.grid(axis="x", alpha=0.3)
    if handles:
        ax.legend(handles=handles, frameon=False, fontsize=8, ncol=2, loc="upper center",
                  bbox_to_anchor=(0.5, -0.16))  # fmt: skip
    _finish(fig, [_not_drawn_note(left_out), reference_note if handles else None])
    return fig


def trend_chart(
    table: pl.DataFrame, metric: str = "completion_rate", *, threshold: int | None = None
) -> Figure:
    """A rate over the last quarters, one line per program, from a suppressed
    :func:`outcomes.trend` table; quarters that are not published leave a gap, named in the
    note under the axes."""
    _require_published(table)
    rows = table.filter(pl.col("metric") == metric).sort("period")
    periods = rows["period"].unique().sort().to_list()
    reasons = _reasons(rows, _threshold_of(rows, threshold))
    rows = rows.with_columns(pl.Series("__why", reasons, dtype=pl.String))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    left_out = []
    for program in _in_program_order(rows["program_type"].unique().to_list()):
        part = rows.filter(pl.col("program_type") == program)
        values = {r["period"]: r for r in part.iter_rows(named=True)}
        y = []
        for p in periods:
            r = values.get(p)
            if r is not None and r["__why"] is not None:
                left_out.append((f"{program_label(program)} {p}", r["__why"]))
            y.append(np.nan if r is None or r["__why"] is not None else r["value"] * 100)
        ax.plot(periods, y, marker="o", color=colour(program), label=program_label(program))
    ax.set_ylabel("% of discharges")
    _percent_axis(ax, "y")
    ax.legend(frameon=False, ncol=6, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    ax.grid(alpha=0.3)
    ax.set_title(metric.replace("_", " ").capitalize() + " by quarter")
    _finish(fig, [_not_drawn_note(left_out)])
    return fig


REASON_COLOURS = {
    "completed": "#3b8c4f",
    "transferred": "#8cc084",
    "left_early": "#d9730d",
    "discharged_by_program": "#b5483b",
    "incarcerated": "#6d4c7d",
    "died": "#222222",
    "other": "#b8a27a",
}


def reason_mix_chart(table: pl.DataFrame, *, threshold: int | None = None) -> Figure:
    """Stacked shares of discharge reasons by program, from a suppressed metric table with the
    ``discharge_reason_*`` metrics, in :data:`REASON_COLOURS` order. Shares that are not
    published are drawn together as one grey segment (the published total less the published
    shares; with complementary suppression there are always two or more of them), named in
    the note. The legend lists every reason drawn in any bar."""
    _require_published(table)
    rows = table.filter(pl.col("metric").str.starts_with("discharge_reason_"))
    rows = rows.with_columns(
        pl.Series("__why", _reasons(rows, _threshold_of(rows, threshold)), dtype=pl.String),
        pl.col("metric").str.strip_prefix("discharge_reason_").alias("__reason"),
    )
    order = {reason: i for i, reason in enumerate(REASON_COLOURS)}
    programs = _in_program_order(rows["program_type"].unique().to_list())
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(programs) + 1.6))
    present: set[str] = set()
    any_hidden = False
    left_out = []
    for yi, program in reversed(list(enumerate(programs[::-1]))):
        part = rows.filter(pl.col("program_type") == program).iter_rows(named=True)
        left = 0.0
        hidden = []
        for r in sorted(part, key=lambda r: (order.get(r["__reason"], len(order)), r["__reason"])):
            if r["__why"] is not None:
                hidden.append(r)
                continue
            if not r["value"]:
                continue
            ax.barh(
                yi, r["value"] * 100, left=left, color=REASON_COLOURS.get(r["__reason"], "#999")
            )
            present.add(r["__reason"])
            left += r["value"] * 100
        for why in dict.fromkeys(r["__why"] for r in hidden):
            names = [r["__reason"].replace("_", " ") for r in hidden if r["__why"] == why]
            left_out.append((f"{program_label(program)}: {', '.join(names)}", why))
        if hidden:
            any_hidden = True
            ax.barh(yi, 100 - left, left=left, color="#dddddd", hatch="//", edgecolor="#aaaaaa")
    handles = [
        Patch(color=REASON_COLOURS.get(reason, "#999"), label=reason.replace("_", " "))
        for reason in sorted(present, key=lambda r: (order.get(r, len(order)), r))
    ]
    if any_hidden:
        handles.append(
            Patch(facecolor="#dddddd", hatch="//", edgecolor="#aaaaaa", label="not published")
        )
    ax.set_yticks(range(len(programs)), [program_label(p) for p in programs[::-1]])
    _percent_axis(ax, "x")
    ax.set_xlabel("% of discharges")
    ax.set_title("How episodes ended")
    ax.legend(
        handles=handles,
        frameon=False,
        fontsize=8,
        ncol=4,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
    )
    _finish(fig, [_not_drawn_note(left_out, "Grey, not published", sep="; ")])
    return fig


def los_chart(
    table: pl.DataFrame,
    *,
    threshold: int | None = None,
    reference: pl.DataFrame | None = None,
    reference_note: str | None = None,
) -> Figure:
    """Median length of stay (with 25th-75th percentiles) against the planned length, by
    program and band in their natural order, from a suppressed metric table grouped by
    ``program_type`` and ``length_band``.

    One rule for the planned length: a bracket spans the band's planned range
    (:data:`BAND_PLANNED_DAYS`, e.g. 45-59 days, or 39-45 days for ``6 wk``); open bands
    (``<45 d``, ``>90 d``, ``other``, ``unknown``) have none. Rows that are not published are
    left out and named in the note. ``reference`` (``program_type, length_band, reference,
    value`` in days) marks reference medians as :func:`rate_chart` marks rates.
    """
    _require_published(table)
    rows = _sort_bands(
        table.filter(
            pl.col("metric") == "median_los_days",
            pl.col("program_type").is_in(["iop", "residential"]),
        )
    )
    by = ["program_type", "length_band"]
    drawn, left_out = _split_drawn(rows, by, _threshold_of(rows, threshold))
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(drawn), 3) + 1.5))
    y = np.arange(len(drawn))[::-1]
    for yi, r in zip(y, drawn, strict=True):
        if r["ci_low"] is not None and r["ci_high"] is not None:
            ax.plot(
                [r["ci_low"], r["ci_high"]],
                [yi, yi],
                color=colour(r["program_type"]),
                lw=6,
                alpha=0.35,
                solid_capstyle="butt",
            )
        ax.plot(r["value"], yi, "o", color=colour(r["program_type"]))
        if r["length_band"] in BAND_PLANNED_DAYS:
            lo, hi = BAND_PLANNED_DAYS[r["length_band"]]
            ax.plot(
                [lo, hi], [yi + 0.3, yi + 0.3], "|-", color="black", lw=1.2, ms=7, gid="planned"
            )
    ref_handles = _draw_references(ax, drawn, y, reference, by, what="median, same setting")
    ax.set_yticks(y, [_label(r, by) for r in drawn])
    ax.set_ylim(-0.6, len(drawn) - 0.4)
    ax.set_xlim(0, None)
    ax.set_xlabel("length of stay, days")
    ax.set_title("Length of stay against the planned length")
    ax.grid(axis="x", alpha=0.3)
    bracket = Line2D([], [], color="black", lw=1.2, marker="|", ms=7, label="band's planned length")
    handles = [
        Line2D([], [], marker="o", ls="", color="#555555", label="median"),
        Line2D([], [], lw=6, alpha=0.35, color="#555555", label="25th-75th percentile"),
        bracket,
    ]
    ax.legend(
        handles=handles + ref_handles,
        handler_map={bracket: HandlerLine2D(numpoints=2)},
        frameon=False,
        fontsize=8,
        ncol=2 if ref_handles else 3,  # with references: this report's marks, then TEDS-D's
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
    )
    _finish(fig, [_not_drawn_note(left_out), reference_note if ref_handles else None])
    return fig
