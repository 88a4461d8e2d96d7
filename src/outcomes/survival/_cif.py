"""Cumulative incidence with competing risks (Aalen-Johansen), as cmprsk::cuminc computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from outcomes.intervals import z_value
from outcomes.survival._common import as_polars, by_list, check_columns, distinct_times, groups

CIF_COLUMNS = (
    "cause",
    "time",
    "n_risk",
    "n_event",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
)


def _cinc(times, d_cause, d_all, n_risk):
    """Gray's estimator and its variance at each distinct time (cmprsk's Fortran ``cinc``)."""
    f = np.zeros(times.size)
    v = np.zeros(times.size)
    fk, f_prev, v1, v2, v3 = 1.0, 0.0, 0.0, 0.0, 0.0
    for i in range(times.size):
        rs, nd1 = n_risk[i], d_cause[i]
        nd2 = d_all[i] - nd1
        fkn = fk * (rs - nd1 - nd2) / rs
        fl = f_prev + (fk * nd1 / rs if nd1 > 0 else 0.0)
        if nd2 > 0 and fkn > 0:
            t5 = 1 - (nd2 - 1) / (rs - 1) if nd2 > 1 else 1.0
            t6 = fk * fk * t5 * nd2 / (rs * rs)
            t3, t4 = 1 / fkn, fl / fkn
            v1 += t4 * t4 * t6
            v2 += t3 * t4 * t6
            v3 += t3 * t3 * t6
        if nd1 > 0:
            t5 = 1 - (nd1 - 1) / (rs - 1) if nd1 > 1 else 1.0
            t6 = fk * fk * t5 * nd1 / (rs * rs)
            t3 = 1 / fkn if fkn > 0 else 0.0
            t4 = 1 + t3 * fl
            v1 += t4 * t4 * t6
            v2 += t3 * t4 * t6
            v3 += t3 * t3 * t6
        f[i], v[i] = fl, v1 + fl * fl * v3 - 2 * fl * v2
        fk, f_prev = fkn, fl
    return f, v


def cumulative_incidence(
    df,
    time: str,
    cause: str,
    by: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """Cumulative incidence of each cause in the presence of the others (Aalen-Johansen).

    Parameters
    ----------
    df : polars.DataFrame (or pandas)
        ``time`` (number >= 0) and ``cause`` (integer: 0 = censored, 1..k = event types, e.g.
        1 readmission, 2 death), and the ``by`` columns.

    Returns
    -------
    polars.DataFrame
        ``[by...,] cause, time, n_risk, n_event, estimate, std_error, ci_low, ci_high``: one row
        per cause and distinct time of each group. ``n_event`` counts that cause's events.
        ``std_error`` is the square root of Gray's variance (what ``cmprsk::cuminc`` reports
        as ``var``); the interval is ``estimate ^ exp(+-z se / (estimate log estimate))`` (the
        log(-log) transform), empty where the estimate is 0 or 1. Tied times are handled
        exactly (no jitter).

    References
    ----------
    Kalbfleisch JD, Prentice RL (1980); Gray RJ (1988), Ann Stat 16:1141-1154. Matches
    ``cmprsk::cuminc(time, cause, group = by, cencode = 0)``.
    """
    frame = as_polars(df)
    keys = by_list(by)
    check_columns(frame, time, cause, *keys)
    z = z_value(conf_level)
    parts = []
    for key, part in groups(frame, keys):
        t = part[time].cast(pl.Float64).to_numpy()
        c = part[cause].cast(pl.Int64).to_numpy()
        if (c < 0).any():
            raise ValueError(f"{cause} must be 0 (censored) or a positive cause code")
        times, inv = distinct_times(t)
        n_risk = np.cumsum(np.bincount(inv, minlength=times.size)[::-1])[::-1].astype(float)
        d_all = np.bincount(inv, weights=(c > 0).astype(float), minlength=times.size)
        for k in np.unique(c[c > 0]):
            d_k = np.bincount(inv, weights=(c == k).astype(float), minlength=times.size)
            f, v = _cinc(times, d_k, d_all, n_risk)
            se = np.sqrt(np.maximum(v, 0.0))
            # a tiny estimate with a wide SE pushes the limits to 0 and 1 (exp overflows)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                ok = (f > 0) & (f < 1)
                scale = np.where(ok, z * se / (f * np.log(f)), np.nan)
                low, high = f ** np.exp(-scale), f ** np.exp(scale)
            parts.append(
                pl.DataFrame(
                    {
                        **{name: [val] * times.size for name, val in zip(keys, key, strict=True)},
                        "cause": np.full(times.size, k, dtype=np.int64),
                        "time": times,
                        "n_risk": n_risk.astype(np.int64),
                        "n_event": d_k.astype(np.int64),
                        "estimate": f,
                        "std_error": se,
                        "ci_low": np.where(ok, low, np.nan),
                        "ci_high": np.where(ok, high, np.nan),
                    }
                ).fill_nan(None)
            )
    return pl.concat(parts, how="vertical_relaxed").select(*keys, *CIF_COLUMNS)
