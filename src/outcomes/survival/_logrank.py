"""The log-rank test (R's survdiff with rho = 0), optionally stratified."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from outcomes.survival._common import as_polars, by_list, check_columns, distinct_times, time_event

LOGRANK_COLUMNS = ("n", "observed", "expected")


@dataclass(frozen=True)
class LogrankResult:
    """``chisq``, ``df``, ``p_value`` and, per group, ``observed`` and ``expected`` events."""

    chisq: float
    df: int
    p_value: float
    groups: pl.DataFrame

    def _repr_html_(self) -> str:
        return (
            self.groups._repr_html_() + f"<p>Log-rank chi-square {self.chisq:.3f} on {self.df} df, "
            f"p = {self.p_value:.4g}.</p>"
        )


def logrank(
    df,
    time: str,
    event: str,
    by: str | Sequence[str],
    strata: str | Sequence[str] | None = None,
) -> LogrankResult:
    """Log-rank test of equal survival across the groups of ``by``.

    Rows with an empty ``by`` or ``strata`` value are left out. Stratified: observed, expected
    and their covariance are summed over strata before the test.

    Returns
    -------
    LogrankResult
        ``groups`` has ``[by...,] n, observed, expected``.

    References
    ----------
    Mantel N (1966); Peto R, Peto J (1972). Matches R's
    ``survdiff(Surv(time, event) ~ by + strata(s))``.
    """
    from scipy.stats import chi2  # imported here: scipy.stats takes a second to import

    frame = as_polars(df)
    keys, strata_keys = by_list(by), by_list(strata)
    if not keys:
        raise ValueError("logrank needs at least one column in by")
    check_columns(frame, time, event, *keys, *strata_keys)
    frame = frame.drop_nulls([*keys, *strata_keys])
    labels = frame.select(keys).unique().sort(keys)
    g = frame.join(labels.with_row_index("__g"), on=keys, how="left")["__g"].to_numpy()
    n_groups = labels.height
    t, e = time_event(frame, time, event)
    if strata_keys:
        s = frame.select(pl.struct(strata_keys).rank("dense")).to_series().to_numpy() - 1
    else:
        s = np.zeros(t.size, dtype=np.int64)
    observed = np.zeros(n_groups)
    expected = np.zeros(n_groups)
    cov = np.zeros((n_groups, n_groups))
    for stratum in np.unique(s):
        m = s == stratum
        times, inv = distinct_times(t[m])
        cells = inv * n_groups + g[m]
        size = times.size * n_groups
        d = np.bincount(cells, weights=e[m], minlength=size).reshape(times.size, n_groups)
        total = np.bincount(cells, minlength=size).reshape(times.size, n_groups)
        at_risk = np.cumsum(total[::-1], axis=0)[::-1]
        n = at_risk.sum(axis=1)
        dt = d.sum(axis=1)
        keep = dt > 0
        d, at_risk, n, dt = d[keep], at_risk[keep], n[keep], dt[keep]
        share = at_risk / n[:, None]
        observed += d.sum(axis=0)
        expected += (share * dt[:, None]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(n > 1, dt * (n - dt) / (n - 1), 0.0)
        cov += np.diag((factor[:, None] * share).sum(axis=0)) - np.einsum(
            "t,tg,th->gh", factor, share, share
        )
    diff = (observed - expected)[:-1]
    v = cov[:-1, :-1]
    chisq = float(diff @ np.linalg.solve(v, diff)) if n_groups > 1 else 0.0
    dof = n_groups - 1
    counts = np.bincount(g, minlength=n_groups)
    groups = labels.with_columns(
        pl.Series("n", counts, dtype=pl.Int64),
        pl.Series("observed", observed),
        pl.Series("expected", expected),
    )
    return LogrankResult(chisq=chisq, df=dof, p_value=float(chi2.sf(chisq, dof)), groups=groups)
