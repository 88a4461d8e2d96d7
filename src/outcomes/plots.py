"""Charts for notebooks and the report: a tidy table in, a matplotlib Figure out.

Conventions shared by every chart:

- Programs keep their colours (:data:`PROGRAM_COLOURS`); length bands appear in their natural
  order (:data:`LENGTH_BANDS`).
- Rates, shares and curves are drawn in percent (axes 0-100 with "%" tick labels).
- Charts of counts take published tables only: a ``status`` column (``published``,
  ``small_count``, ``complementary``, ``small_group``, ``not_observable``, ``none``) or the
  older ``suppressed`` flag that :mod:`outcomes.suppression` adds; raw tables are refused.
- A row or point that is not published is left out of the drawing (never printed as ``<11``),
  and one short note under the axes names what was left out and why.
- Curves stop where fewer than ``threshold`` remain at risk and move only in steps of at least
  ``threshold`` events (:func:`coarsen_steps`); numbers at risk are rounded to 5.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerLine2D
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, PercentFormatter

from outcomes.suppression import DEFAULT_THRESHOLD

PROGRAM_COLOURS = {
    "residential": "#1f5f8b",
    "php": "#7a4fa3",
    "iop": "#d9730d",
    "outpatient": "#3b8c4f",
    "detox": "#7f7f7f",
    "all programs": "#333333",
}

#: Length bands of each program in their natural order (METRICS.md "length_band"); every other
#: program has the single band ``all``.
LENGTH_BANDS = {
    "iop": ("6 wk", "7 wk", "8 wk", "other", "unknown"),
    "residential": ("<45 d", "45-59 d", "60-74 d", "75-90 d", ">90 d", "unknown"),
}

#: Planned length of each closed band as (first day, last day): iop bands are
#: ``round(planned / 7)`` weeks, so ``6 wk`` is 39-45 days. Open bands (``<45 d``, ``>90 d``,
#: ``other``, ``unknown``, ``all``) have no planned range and get no bracket in :func:`los_chart`.
BAND_PLANNED_DAYS = {
    "6 wk": (39, 45),
    "7 wk": (46, 52),
    "8 wk": (53, 59),
    "45-59 d": (45, 59),
    "60-74 d": (60, 74),
    "75-90 d": (75, 90),
}

#: Why a row is not drawn, by ``status`` (``{threshold}`` and ``{unit}`` are filled in):
#: ``small_group`` rests on fewer than ``threshold`` episodes, ``small_count`` has a count
#: (or a rate's numerator) from 1 to ``threshold - 1``, ``none`` rests on no episode.
STATUS_REASONS = {
    "small_count": "a count under {threshold}",
    "complementary": "withheld to protect another cell",
    "small_group": "fewer than {threshold} {unit}",
    "not_observable": "not yet observable",
    "none": "no {unit}",
}
_LEGACY_REASON = "fewer than {threshold} {unit}, or withheld to protect another cell"
_NOT_AT_RISK = "\u2013"  # shown for numbers at risk below the threshold
_PERCENT = PercentFormatter(xmax=100, decimals=0)


def colour(program: str) -> str:
    """The colour of a program (grey for anything else)."""
    return PROGRAM_COLOURS.get(str(program), "#555555")


# --- shared helpers -------------------------------------------------------------------------


def _require_published(table: pl.DataFrame) -> None:
    if "status" not in table.columns and "suppressed" not in table.columns:
        raise ValueError(
            "this chart publishes counts: pass a table that went through "
            "outcomes.suppression (it has a 'status' or 'suppressed' column)"
        )


def _published_mask(frame: pl.DataFrame) -> pl.Series:
    """Which rows may be drawn: ``status == "published"`` or, for older tables, not
    ``suppressed``. A missing status or flag counts as not published."""
    _require_published(frame)
    if "status" in frame.columns:
        mask = frame["status"].eq("published").fill_null(False)
    else:
        mask = frame["suppressed"].not_().fill_null(False)
    return mask.alias("published")


def _threshold_of(frame: pl.DataFrame, threshold: int | None) -> int:
    """The threshold a table was suppressed with: given, else read from ``<N`` display text."""
    if threshold is not None:
        return threshold
    if "display" in frame.columns:
        for text in frame["display"].drop_nulls().unique().to_list():
            if text.startswith("<") and text[1:].isdigit():
                return int(text[1:])
    return DEFAULT_THRESHOLD


def _reasons(frame: pl.DataFrame, threshold: int, unit: str = "discharges") -> list[str | None]:
    """Per row: ``None`` when it is drawn, else why it is not (from its status)."""
    published = _published_mask(frame).to_list()
    values = frame["value"].to_list() if "value" in frame.columns else [0.0] * frame.height
    statuses = frame["status"].to_list() if "status" in frame.columns else [None] * frame.height
    out: list[str | None] = []
    for ok, value, status in zip(published, values, statuses, strict=True):
        if ok:
            out.append(None if value is not None else "no value")
        else:
            text = STATUS_REASONS.get(status, _LEGACY_REASON if status is None else str(status))
            out.append(text.format(threshold=threshold, unit=unit))
    return out


def _not_drawn_note(
    items: Sequence[tuple[str, str]], prefix: str = "Not drawn", sep: str = ", "
) -> str | None:
    """One note naming the rows left out, grouped by reason:
    ``Not drawn: iop other, residential <45 d (fewer than 11 discharges); iop 6 wk (...)``."""
    by_reason: dict[str, list[str]] = {}
    for label, reason in items:
        by_reason.setdefault(reason, []).append(label)
    if not by_reason:
        return None
    parts = [f"{sep.join(labels)} ({reason})" for reason, labels in by_reason.items()]
    return f"{prefix}: " + "; ".join(parts) + "."


def _finish(fig: Figure, notes: Sequence[str | None] = (), fontsize: float = 7.5) -> None:
    """Lay the figure out with its notes under the axes: the figure grows by the notes' height
    so the axes keep their size, and the notes wrap to the figure's width."""
    notes = [n for n in notes if n]
    if not notes:
        fig.tight_layout()
        return
    width, height = fig.get_size_inches()
    chars = max(int(width * 72 / (fontsize * 0.52)), 40)
    text = "\n".join(textwrap.fill(n, chars) for n in notes)
    extra = (text.count("\n") + 1) * fontsize * 1.35 / 72 + 0.12
    fig.set_size_inches(width, height + extra)
    fig.text(0.01, 0.04 / (height + extra), text, fontsize=fontsize, color="#444444", va="bottom")
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))


def _sort_bands(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort by program in the tables' order, then length band in :data:`LENGTH_BANDS` order
    (unknown bands last)."""
    by = [c for c in ("program_type", "length_band") if c in frame.columns]
    if by == ["program_type"]:
        rank = pl.col("program_type").replace_strict(
            _program_rank(), default=99, return_dtype=pl.Int64
        )
        return frame.sort(rank, pl.col("program_type"))
    if by != ["program_type", "length_band"]:
        return frame.sort(by) if by else frame
    rank = pl.DataFrame(
        [(p, b, i) for p, bands in LENGTH_BANDS.items() for i, b in enumerate(bands)],
        schema={"program_type": pl.String, "length_band": pl.String, "__rank": pl.Int64},
        orient="row",
    )
    return (
        frame.join(rank, on=by, how="left", maintain_order="left")
        .with_columns(
            pl.col("program_type")
            .replace_strict(_program_rank(), default=99, return_dtype=pl.Int64)
            .alias("__program")
        )
        .sort(["__program", "program_type", "__rank", "length_band"], nulls_last=True)
        .drop("__rank", "__program")
    )


def _program_rank() -> dict[str, int]:
    from outcomes.publish import PROGRAM_ORDER

    return {p: i for i, p in enumerate(PROGRAM_ORDER)}


def _split_drawn(rows: pl.DataFrame, by: Sequence[str], threshold: int):
    """The rows a chart draws, and (label, reason) for each row it leaves out."""
    reasons = _reasons(rows, threshold)
    drawn, left_out = [], []
    for r, why in zip(rows.iter_rows(named=True), reasons, strict=True):
        if why is None:
            drawn.append(r)
        else:
            left_out.append((_label(r, by), why))
    return drawn, left_out


def _label(row: dict, by: Sequence[str]) -> str:
    return " ".join(program_label(row[c]) if c == "program_type" else str(row[c]) for c in by)


def program_label(program) -> str:
    """A program as the tables name it (``iop`` -> ``IOP``, ``residential`` ->
    ``Residential``; anything else as it is)."""
    from outcomes.publish import PROGRAM_LABELS

    return PROGRAM_LABELS.get(str(program), str(program))


def _in_program_order(programs) -> list:
    """Programs in the tables' order (IOP, residential, PHP, outpatient, detox, all), others
    after them by name."""
    from outcomes.publish import PROGRAM_ORDER

    rank = {p: i for i, p in enumerate(PROGRAM_ORDER)}
    return sorted(programs, key=lambda p: (rank.get(p, len(rank)), str(p)))


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


def _percent_axis(ax, axis: str = "y") -> None:
    (ax.set_ylim if axis == "y" else ax.set_xlim)(0, 100)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(_PERCENT)


# --- charts ---------------------------------------------------------------------------------


def rate_chart(
    table: pl.DataFrame,
    metric: str = "completion_rate",
    title: str | None = None,
    *,
    threshold: int | None = None,
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
    ax.set_yticks(y, [_label(r, by) for r in drawn])
    _percent_axis(ax, "x")
    ax.set_xlabel("% of discharges (95% interval)")
    ax.set_title(title or metric.replace("_", " ").capitalize())
    ax.grid(axis="x", alpha=0.3)
    _finish(fig, [_not_drawn_note(left_out)])
    return fig


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


def love_plot(balance: pl.DataFrame) -> Figure:
    """Standardized mean differences of each covariate before and after weighting.

    ``balance`` is :func:`outcomes.compare.balance` output; the dashed line marks 0.1.
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


def overlap_plot(
    overlap: pl.DataFrame, treatment: str = "iop", control: str = "residential"
) -> Figure:
    """The propensity's distribution in each program, to judge overlap.

    ``overlap`` is :attr:`outcomes.compare.Comparison.overlap` (``group, ps, density``: a
    smoothed density, no counts). The grey bands mark propensities below 0.05 and above 0.95,
    where clients are hardly served by the other program and no weighting can compare them.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    names = {"treated": treatment, "control": control}
    for group in ("treated", "control"):
        part = overlap.filter(pl.col("group") == group)
        if part.is_empty():
            continue
        program = names[group]
        ax.plot(part["ps"], part["density"], color=colour(program), label=program)
        ax.fill_between(part["ps"], part["density"], color=colour(program), alpha=0.15)
    for lo, hi in ((0.0, 0.05), (0.95, 1.0)):
        ax.axvspan(lo, hi, color="#dddddd", zorder=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, None)
    ax.set_xlabel(f"propensity: estimated probability of {treatment} given case-mix")
    ax.set_ylabel("density")
    ax.set_yticks([])
    ax.legend(frameon=False, loc="upper right")
    ax.set_title("Overlap of the programs' clients")
    fig.tight_layout()
    return fig


#: Tick values of a ratio axis, kept where they fall inside the drawn range.
RATIO_TICKS = (0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0)


def forest_plot(effects: pl.DataFrame, outcome: str = "readmission_hazard_ratio") -> Figure:
    """Estimates and intervals of one outcome by method (naive, iptw, regression).

    ``effects`` is the effect table of :func:`outcomes.compare.compare`. Ratios are drawn on a
    log axis with a line at 1 and plain tick labels (0.5, 0.8, 1, 1.25, 2); differences in
    percentage points with a line at 0.
    """
    rows = effects.filter(pl.col("outcome") == outcome)
    ratio = outcome.endswith("ratio")
    scale = 1.0 if ratio else 100.0
    fig, ax = plt.subplots(figsize=(6, 0.5 * rows.height + 1.3))
    y = np.arange(rows.height)[::-1]
    for yi, r in zip(y, rows.iter_rows(named=True), strict=True):
        ax.plot([scale * r["ci_low"], scale * r["ci_high"]], [yi, yi], color="#333333")
        ax.plot(
            scale * r["estimate"], yi, "s", color="#d9730d" if r["method"] != "naive" else "#888888"
        )
    ax.axvline(1.0 if ratio else 0.0, color="#555555", lw=1, ls="--")
    label = outcome.replace("_", " ")
    if ratio:
        ax.set_xscale("log")
        values = [1.0, *rows["ci_low"].drop_nulls(), *rows["ci_high"].drop_nulls()]
        low, high = min(values) / 1.08, max(values) * 1.08
        inside = [t for t in RATIO_TICKS if low <= t <= high]
        ax.set_xlim(min(low, *inside, 0.8 / 1.02), max(high, *inside, 1.25 * 1.02))
        ax.xaxis.set_major_locator(
            FixedLocator([t for t in RATIO_TICKS if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]])
        )
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        label += " (percentage points)"
    ax.set_yticks(y, rows["method"].to_list())
    ax.set_ylim(-0.6, rows.height - 0.4)
    ax.set_xlabel(label)
    ax.set_title("IOP against residential")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
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


def _week_ranges(weeks: Sequence[int]) -> str:
    """``[9, 10, 11, 13]`` -> ``"9-11, 13"``."""
    out: list[str] = []
    for w in sorted(weeks):
        if out and out[-1].split("-")[-1] == str(w - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{w}"
        else:
            out.append(str(w))
    return ", ".join(out)


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


def los_chart(table: pl.DataFrame, *, threshold: int | None = None) -> Figure:
    """Median length of stay (with 25th-75th percentiles) against the planned length, by
    program and band in their natural order, from a suppressed metric table grouped by
    ``program_type`` and ``length_band``.

    One rule for the planned length: a bracket spans the band's planned range
    (:data:`BAND_PLANNED_DAYS`, e.g. 45-59 days, or 39-45 days for ``6 wk``); open bands
    (``<45 d``, ``>90 d``, ``other``, ``unknown``) have none. Rows that are not published are
    left out and named in the note.
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
        handles=handles,
        handler_map={bracket: HandlerLine2D(numpoints=2)},
        frameon=False,
        fontsize=8,
        ncol=3,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
    )
    _finish(fig, [_not_drawn_note(left_out)])
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
