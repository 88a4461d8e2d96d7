"""Survival curves: Kaplan-Meier and cumulative incidence, coarsened to steps of ``threshold``
events, with a risk table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator

from outcomes.plots._common import (
    _NOT_AT_RISK,
    _finish,
    _in_program_order,
    _not_drawn_note,
    _percent_axis,
    colour,
    program_label,
)
from outcomes.suppression import DEFAULT_THRESHOLD


def coarsen_steps(
    time: Sequence[float],
    estimate: Sequence[float],
    n_event: Sequence[int],
    n_risk: Sequence[int],
    threshold: int = DEFAULT_THRESHOLD,
    anchors: Sequence[float] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """The steps of a Kaplan-Meier (or cumulative incidence) curve that may be drawn.

    Each curve is cut at the first time with fewer than ``threshold`` at risk. Before that,
    events are accumulated until at least ``threshold`` have occurred since the last drawn
    step; the step is then drawn to the estimate at that time (the estimate itself is exact,
    only the intermediate steps are hidden), so no drawn step reveals fewer than ``threshold``
    events. A final accumulation of fewer than ``threshold`` events is not drawn: the curve
    ends at its last drawn step.

    Parameters
    ----------
    time, estimate, n_event, n_risk : sequences of equal length
        The ``time``, ``estimate``, ``n_event`` and ``n_risk`` columns of one curve
        (:func:`outcomes.survival.kaplan_meier` or one cause of
        :func:`outcomes.survival.cumulative_incidence`).
    threshold : int
        Fewest events a drawn step may rest on, and fewest at risk for the curve to go on.
    anchors : sequence of float
        Times whose cumulative events are published elsewhere (the horizons of the
        Kaplan-Meier table). Between a drawn step and the next anchor lie either no event or
        at least ``threshold``: a step that would sit fewer events before an anchor is not
        drawn (its events join the anchor's), and events after an anchor count afresh.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The times and estimates of the drawn steps (the start of the curve, time 0, is not
        included: the caller adds it).

    Examples
    --------
    Worked by hand: 100 at risk, no censoring, events 3, 4, 5, 2, 9 at times 1-5, so the
    estimates are (100 - cumulative events) / 100 = .97, .93, .88, .86, .77. With threshold 11
    the events accumulate 3, 3+4=7, 7+5=12 >= 11: a step at time 3 to .88; then 2, 2+9=11 >= 11:
    a step at time 5 to .77.

    >>> t, s = coarsen_steps([1, 2, 3, 4, 5], [.97, .93, .88, .86, .77],
    ...                      [3, 4, 5, 2, 9], [100, 97, 93, 88, 86], threshold=11)
    >>> t.tolist(), s.tolist()
    ([3.0, 5.0], [0.88, 0.77])
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    order = np.argsort(np.asarray(time, dtype=float), kind="stable")
    t = np.asarray(time, dtype=float)[order]
    s = np.asarray(estimate, dtype=float)[order]
    d = np.asarray(n_event, dtype=np.int64)[order]
    small = np.flatnonzero(np.asarray(n_risk, dtype=np.int64)[order] < threshold)
    stop = int(small[0]) if small.size else t.size
    cumulative = np.cumsum(d)
    marks = sorted(float(a) for a in anchors)
    steps: list[int] = []
    last = 0  # cumulative events at the last point a reader knows: a drawn step or an anchor
    last_is_step = False

    def reach_anchor(h: float) -> None:
        nonlocal last, last_is_step
        at_anchor = int(d[t <= h].sum())
        if last_is_step and 0 < at_anchor - last < threshold:
            steps.pop()  # too few events between it and the anchor: its events join the anchor
        last, last_is_step = at_anchor, False

    k = 0
    for i in range(stop):
        while k < len(marks) and marks[k] < t[i]:
            reach_anchor(marks[k])
            k += 1
        if cumulative[i] - last >= threshold:
            steps.append(i)
            last, last_is_step = int(cumulative[i]), True
    for h in marks[k:]:
        reach_anchor(h)
    return t[steps], s[steps]


def _round_at_risk(n: int, threshold: int, base: int) -> str:
    """A number at risk as printed: 0 as is; below ``threshold`` a dash; otherwise rounded to
    the nearest ``base``, but never printed below ``threshold`` (11 and 12 show as 15)."""
    if n == 0:
        return "0"
    if n < threshold:
        return _NOT_AT_RISK
    if base <= 1:
        return str(n)
    shown = base * math.floor(n / base + 0.5)
    return str(max(shown, base * math.ceil(threshold / base)))


def km_steps(
    curve: pl.DataFrame,
    by: str = "program_type",
    threshold: int = DEFAULT_THRESHOLD,
    ticks: tuple[int, ...] = (0, 30, 90, 180, 365),
    failure: bool = True,
    *,
    round_at_risk: int = 5,
    anchors: Sequence[float] = (),
) -> pl.DataFrame:
    """What a Kaplan-Meier chart draws, as a tidy frame: the coarsened steps of each curve
    and the numbers at risk of its risk table, as printed.

    Parameters
    ----------
    curve : polars.DataFrame
        :func:`outcomes.survival.kaplan_meier` output grouped by ``by`` (columns ``time``,
        ``n_risk``, ``n_event``, ``estimate``).
    threshold, ticks, failure, round_at_risk :
        As in :func:`km_chart`.
    anchors : sequence of float
        Times whose cumulative events are published in a table (:func:`coarsen_steps`).

    Returns
    -------
    polars.DataFrame
        One row per drawn point or printed number: ``by`` (the group), ``part`` (``step``: a
        point of the curve, the start at day 0 included; ``end``: where the curve stops, the
        last time with ``threshold`` or more at risk, drawn level with the last step;
        ``at_risk``: a number of the risk table), ``time`` (days since discharge),
        ``estimate`` (share readmitted by then, or not readmitted with ``failure=False``,
        rounded to 0.1 percentage point, as drawn; empty for ``at_risk`` rows), ``at_risk``
        (the number printed, rounded to ``round_at_risk``; empty where a dash is printed)
        and ``status`` (``published``, or ``small_count`` where fewer than ``threshold``
        remain and a dash is printed).

    Examples
    --------
    Worked by hand (see :func:`coarsen_steps`): 100 at risk, events 3, 4, 5, 2, 9 at days
    1-5: steps of at least 11 events at days 3 (12% readmitted) and 5 (23%).

    >>> import polars as pl
    >>> km = pl.DataFrame({"time": [1.0, 2, 3, 4, 5], "n_risk": [100, 97, 93, 88, 86],
    ...                    "n_event": [3, 4, 5, 2, 9], "estimate": [.97, .93, .88, .86, .77]})
    >>> km_steps(km, ticks=(0,)).select("part", "time", "estimate", "at_risk").rows()
    [('step', 0.0, 0.0, None), ('step', 3.0, 0.12, None), ('step', 5.0, 0.23, None), \
('at_risk', 0.0, None, 100)]
    """
    if by not in curve.columns:
        curve = curve.with_columns(pl.lit("all").alias(by))
    rows: list[tuple] = []
    for g in curve[by].unique().sort().to_list():
        part = curve.filter(pl.col(by) == g).sort("time")
        t, s = coarsen_steps(
            part["time"], part["estimate"], part["n_event"], part["n_risk"], threshold, anchors
        )
        if t.size:
            shown = np.round(1 - s if failure else s, 3)
            start = 0.0 if failure else 1.0
            rows.append((g, "step", 0.0, start, None, "published"))
            rows += [
                (g, "step", float(ti), float(y), None, "published")
                for ti, y in zip(t, shown, strict=True)
            ]
            followed = part.filter(pl.col("n_risk") >= threshold)["time"]
            cut = part.filter(pl.col("n_risk") < threshold)["time"]
            end = followed.filter(followed < cut.min()).max() if cut.len() else followed.max()
            if end is not None and end > t[-1]:
                rows.append((g, "end", float(end), float(shown[-1]), None, "published"))
        times, n_risk = part["time"].to_numpy(), part["n_risk"].to_numpy()
        for tick in ticks:
            after = np.flatnonzero(times >= tick)
            n = int(n_risk[after[0]]) if after.size else 0
            text = _round_at_risk(n, threshold, round_at_risk)
            shown_n = None if text == _NOT_AT_RISK else int(text)
            status = "small_count" if shown_n is None else "published"
            rows.append((g, "at_risk", float(tick), None, shown_n, status))
    return pl.DataFrame(
        rows,
        schema={
            by: curve.schema[by],
            "part": pl.String,
            "time": pl.Float64,
            "estimate": pl.Float64,
            "at_risk": pl.Int64,
            "status": pl.String,
        },
        orient="row",
    )


def km_chart(
    curve: pl.DataFrame,
    by: str = "program_type",
    threshold: int = DEFAULT_THRESHOLD,
    ticks: tuple[int, ...] = (0, 30, 90, 180, 365),
    failure: bool = True,
    title: str = "Readmission after discharge",
    *,
    round_at_risk: int = 5,
    anchors: Sequence[float] = (),
) -> Figure:
    """Kaplan-Meier curves by group in percent, with a table of numbers at risk under them,
    drawn from :func:`km_steps` (what the chart shows, as data).

    Parameters
    ----------
    curve : polars.DataFrame
        :func:`outcomes.survival.kaplan_meier` output grouped by ``by`` (columns ``time``,
        ``n_risk``, ``n_event``, ``estimate``).
    threshold : int
        Each curve stops where fewer than ``threshold`` remain at risk and moves only in steps
        of at least ``threshold`` events (:func:`coarsen_steps`); a group with no such step is
        not drawn and the note says so.
    ticks : tuple of int
        Days at which the numbers at risk are shown (and the x ticks).
    failure : bool
        Draw ``1 - S`` (cumulative readmission) rather than ``S``.
    round_at_risk : int
        Numbers at risk are rounded to the nearest multiple (default 5, 1 for exact counts):
        the exact number at day 0 less the exact discharge count would reveal deaths. Numbers
        below ``threshold`` show as a dash, and no number below ``threshold`` is printed (11
        and 12 round up to 15).
    anchors : sequence of float
        Times whose cumulative events a table publishes (:func:`coarsen_steps`).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing the time axis: the curves (``axes[0]``) and the risk table
        (``axes[1]``: one row per group, labelled in the group's colour, the numbers centred
        under the x ticks).
    """
    data = km_steps(
        curve,
        by,
        threshold,
        ticks,
        failure,
        round_at_risk=round_at_risk,
        anchors=anchors,
    )
    rounding = f" rounded to the nearest {round_at_risk}" if round_at_risk > 1 else ""
    note = (
        f"Curves move in steps of at least {threshold} events and stop where fewer than "
        f"{threshold} remain at risk. Numbers at risk{rounding} "
        f"({_NOT_AT_RISK}:\u00a0fewer\u00a0than\u00a0{threshold})."
    )
    return km_draw(data, by, ticks, failure, title, threshold=threshold, note=note)


def km_draw(
    data: pl.DataFrame,
    by: str = "program_type",
    ticks: tuple[int, ...] = (0, 30, 90, 180, 365),
    failure: bool = True,
    title: str = "Readmission after discharge",
    *,
    threshold: int = DEFAULT_THRESHOLD,
    note: str = "",
    risk_title: str = "Number at risk",
) -> Figure:
    """Draw curves and a risk table from a frame shaped as :func:`km_steps` output.

    ``data`` has ``by, part, time, estimate, at_risk``: ``step`` rows are drawn as each
    group's curve (a group without them is named in the note), ``at_risk`` rows printed
    under the curves at their ``time`` (a dash where ``at_risk`` is empty). ``note`` says
    how the curves and numbers were made (:func:`km_chart` states its coarsening and
    rounding); ``risk_title`` heads the risk table; ``threshold`` is the fewest events a
    step rests on, for the note on a group not drawn.
    """
    groups = _in_program_order(data[by].unique().to_list())
    fig, (ax, table_ax) = plt.subplots(
        2,
        1,
        figsize=(7.5, 4.4 + 0.28 * len(groups)),
        gridspec_kw={"height_ratios": [4, 0.35 + 0.3 * len(groups)]},
        sharex=True,
    )
    left_out = []
    for g in groups:
        steps = data.filter(pl.col(by) == g, pl.col("part").is_in(["step", "end"])).sort("time")
        if not steps.height:
            left_out.append((program_label(g), f"fewer than {threshold} events to draw a step"))
            continue
        ax.step(
            steps["time"].to_numpy(),
            100 * steps["estimate"].to_numpy(),
            where="post",
            color=colour(g),
            label=program_label(g),
            lw=2,
        )
    ax.set_ylabel("cumulative readmission" if failure else "not readmitted")
    _percent_axis(ax, "y")
    if ax.get_lines():
        ax.legend(frameon=False, loc="upper left" if failure else "lower left")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.set_xlabel("days since discharge")
    ax.xaxis.set_major_locator(FixedLocator(list(ticks)))
    ax.tick_params(labelbottom=True)
    span = max(ticks) - min(ticks)
    ax.set_xlim(min(ticks) - 0.05 * span, max(ticks) + 0.04 * span)

    rows = list(reversed(groups))  # first group on top
    for i, g in enumerate(rows):
        printed = data.filter(pl.col(by) == g, pl.col("part") == "at_risk")
        for tick, n in printed.select("time", "at_risk").iter_rows():
            table_ax.text(
                tick,
                i,
                _NOT_AT_RISK if n is None else str(n),
                ha="center",
                va="center",
                fontsize=8,
            )
    table_ax.set_ylim(-0.5, len(rows) - 0.5)
    table_ax.set_yticks(range(len(rows)), [program_label(g) for g in rows])
    for label, g in zip(table_ax.get_yticklabels(), rows, strict=True):
        label.set_color(colour(g))
        label.set_fontweight("bold")
    table_ax.tick_params(left=False, bottom=False, labelbottom=False, labelsize=9)
    for side in table_ax.spines:
        table_ax.spines[side].set_visible(False)
    table_ax.set_title(risk_title, loc="left", fontsize=9, pad=2)
    _finish(fig, [note, _not_drawn_note(left_out)])
    return fig


def cif_chart(
    cif: pl.DataFrame,
    by: str = "program_type",
    threshold: int = DEFAULT_THRESHOLD,
    labels: dict[int, str] | None = None,
) -> Figure:
    """Cumulative incidence of each cause by group (:func:`outcomes.survival.
    cumulative_incidence` output) in percent: solid for cause 1, dashed for the others. As in
    :func:`km_chart`, each curve stops where fewer than ``threshold`` remain at risk and moves
    only in steps of at least ``threshold`` events of its cause; a curve with no such step is
    not drawn, and the note names it."""
    labels = labels or {1: "readmission", 2: "death"}
    fig, ax = plt.subplots(figsize=(7, 4))
    left_out = []
    for (group, cause), part in cif.sort(by, "cause", "time").group_by(
        [by, "cause"], maintain_order=True
    ):
        name = f"{group}: {labels.get(cause, cause)}"
        t, f = coarsen_steps(
            part["time"], part["estimate"], part["n_event"], part["n_risk"], threshold
        )
        if not t.size:
            left_out.append((name, f"fewer than {threshold} events"))
            continue
        ax.step(
            np.concatenate([[0.0], t]),
            100 * np.concatenate([[0.0], f]),
            where="post",
            color=colour(group),
            ls="-" if cause == 1 else "--",
            label=name,
        )
    ax.set_xlabel("days since discharge")
    ax.set_ylabel("cumulative incidence")
    _percent_axis(ax, "y")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    ax.set_title("Cumulative incidence with competing events")
    notes = [
        f"Curves move in steps of at least {threshold} events and stop where fewer than "
        f"{threshold} remain at risk.",
        _not_drawn_note(left_out),
    ]
    _finish(fig, notes)
    return fig
