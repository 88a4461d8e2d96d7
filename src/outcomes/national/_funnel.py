"""Funnel plot of observed-to-expected ratios against the benchmark (Spiegelhalter 2005)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

FUNNEL_COLUMNS = ("expected", "level", "low", "high")


def funnel_limits(
    expected: Sequence[float] | np.ndarray, levels: Sequence[float] = (0.95, 0.998)
) -> pl.DataFrame:
    """Control limits of an observed-to-expected ratio for a unit with ``expected`` events.

    Under the benchmark, the observed count is Poisson with mean ``E``. The limits are its
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles, interpolated between integers as
    Spiegelhalter (2005) does so that the funnel is smooth, divided by ``E``.

    Parameters
    ----------
    expected : array of float
        Expected counts (``E`` > 0) at which to draw the limits.
    levels : list of float
        Coverage of each pair of limits (default 95% and 99.8%, about 2 and 3 standard
        deviations).

    Returns
    -------
    polars.DataFrame
        ``expected, level, low, high``: one row per expected count and level.

    References
    ----------
    Spiegelhalter DJ (2005), Funnel plots for comparing institutional performance. Stat Med
    24:1185-1202, appendix A.1.1 (Poisson limits with interpolation).

    Examples
    --------
    >>> limits = funnel_limits([100.0], levels=[0.95])
    >>> [round(v, 3) for v in limits.row(0)[2:]]
    [0.804, 1.196]
    """
    e = np.asarray(expected, dtype=float)
    if (e <= 0).any():
        raise ValueError("expected counts must be positive")
    frames = []
    for level in levels:
        low = _poisson_limit(e, (1 - level) / 2) / e
        high = _poisson_limit(e, (1 + level) / 2) / e
        frames.append(pl.DataFrame({"expected": e, "level": level, "low": low, "high": high}))
    return pl.concat(frames)


def _poisson_limit(mean: np.ndarray, p: float) -> np.ndarray:
    """Spiegelhalter's interpolated Poisson quantile: ``r - a`` with ``r`` the ``p`` quantile
    and ``a = (F(r) - p) / (F(r) - F(r - 1))``."""
    r = stats.poisson.ppf(p, mean)
    upper = stats.poisson.cdf(r, mean)
    lower = stats.poisson.cdf(r - 1, mean)
    a = np.where(upper > lower, (upper - p) / np.where(upper > lower, upper - lower, 1), 0.0)
    return np.maximum(r - a, 0.0)


def funnel_plot(standardised: pl.DataFrame, label: str | None = None, title: str | None = None):
    """Observed-to-expected ratios of programs (or sites) on a funnel around 1.

    Parameters
    ----------
    standardised : polars.DataFrame
        Rows of :func:`outcomes.national.standardise` for one reference and measure (uses
        ``expected``, ``oe_ratio`` and the ``label`` column).
    label : str, optional
        Column naming each point (default: the first column).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Points at (E, O/E), the benchmark line at 1, and the 95% and 99.8% limits.
    """
    import matplotlib.pyplot as plt

    data = standardised.filter(pl.col("expected") > 0)
    if data.height == 0:
        raise ValueError("no group has an expected count above 0")
    label = label or data.columns[0]
    top = float(data["expected"].max()) * 1.3
    grid = np.geomspace(min(1.0, float(data["expected"].min())), max(top, 5.0), 200)
    limits = funnel_limits(grid)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for level, style in ((0.95, "--"), (0.998, ":")):
        part = limits.filter(pl.col("level") == level)
        name = f"{level:.1%} limits".replace(".0%", "%")
        ax.plot(part["expected"], part["low"], style, color="grey", label=name)
        ax.plot(part["expected"], part["high"], style, color="grey")
    ax.axhline(1.0, color="black", linewidth=1, label="benchmark (O/E = 1)")
    ax.scatter(data["expected"], data["oe_ratio"], zorder=3, color="tab:blue")
    for row in data.iter_rows(named=True):
        ax.annotate(
            str(row[label]), (row["expected"], row["oe_ratio"]), xytext=(4, 4),
            textcoords="offset points", fontsize=8,
        )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("Expected count at the benchmark's rates (E)")
    ax.set_ylabel("Observed / expected")
    ax.set_title(title or "Programs against the benchmark")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig
