"""What every chart shares: colours, band order, labels, which rows are drawn, notes, layout."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

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


def _percent_axis(ax, axis: str = "y") -> None:
    (ax.set_ylim if axis == "y" else ax.set_xlim)(0, 100)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(_PERCENT)


def _week_ranges(weeks: Sequence[int]) -> str:
    """``[9, 10, 11, 13]`` -> ``"9-11, 13"``."""
    out: list[str] = []
    for w in sorted(weeks):
        if out and out[-1].split("-")[-1] == str(w - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{w}"
        else:
            out.append(str(w))
    return ", ".join(out)
