"""Charts of the adjusted comparison: covariate balance, propensity overlap, estimates by method."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from outcomes.plots._common import colour, program_label


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
        ax.plot(part["ps"], part["density"], color=colour(program), label=program_label(program))
        ax.fill_between(part["ps"], part["density"], color=colour(program), alpha=0.15)
    for lo, hi in ((0.0, 0.05), (0.95, 1.0)):
        ax.axvspan(lo, hi, color="#dddddd", zorder=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, None)
    ax.set_xlabel(f"propensity: estimated probability of {program_label(treatment)} given case-mix")
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
