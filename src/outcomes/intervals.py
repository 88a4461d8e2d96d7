"""Confidence intervals and summaries used by the metrics: small pure functions.

Each works as a polars expression over whole columns, so a grouped table gets its intervals in
one pass.
"""

from __future__ import annotations

from statistics import NormalDist

import polars as pl


def z_value(conf_level: float = 0.95) -> float:
    """The two-sided standard-normal quantile of ``conf_level`` (1.959964 for 0.95)."""
    if not 0 < conf_level < 1:
        raise ValueError("conf_level must be between 0 and 1")
    return NormalDist().inv_cdf(0.5 + conf_level / 2)


def wilson(x: pl.Expr, n: pl.Expr, conf_level: float = 0.95) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval of the proportion ``x / n``; null where ``n`` is 0.

    .. math::

        \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    References
    ----------
    Wilson EB (1927), J Am Stat Assoc 22:209-212. Matches R's
    ``prop.test(x, n, correct=FALSE)$conf.int``.
    """
    z = z_value(conf_level)
    nf = n.cast(pl.Float64)
    p = x.cast(pl.Float64) / nf
    denom = 1 + z**2 / nf
    centre = (p + z**2 / (2 * nf)) / denom
    half = z * ((p * (1 - p) / nf + z**2 / (4 * nf**2)).sqrt()) / denom
    defined = n > 0
    low = pl.when(defined).then((centre - half).clip(lower_bound=0.0))
    high = pl.when(defined).then((centre + half).clip(upper_bound=1.0))
    return low, high


def mean_ci(values: pl.Expr, conf_level: float = 0.95) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Mean with a normal-approximation interval ``mean +/- z * sd / sqrt(n)`` (nulls ignored).

    Returns the mean, low and high expressions; the interval is null with fewer than two values.
    """
    z = z_value(conf_level)
    n = values.count()
    mean = values.mean()
    half = z * values.std(ddof=1) / n.cast(pl.Float64).sqrt()
    return mean, pl.when(n > 1).then(mean - half), pl.when(n > 1).then(mean + half)
