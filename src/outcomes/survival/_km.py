"""Kaplan-Meier curves, their quantiles, values at fixed times and restricted means."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from outcomes.intervals import z_value
from outcomes.survival._common import (
    ConfType,
    as_polars,
    by_list,
    check_columns,
    confint,
    distinct_times,
    groups,
    time_event,
)

KM_COLUMNS = (
    "time",
    "n_risk",
    "n_event",
    "n_censor",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
)
QUANTILE_COLUMNS = ("quantile", "estimate", "ci_low", "ci_high")
RMST_COLUMNS = ("tau", "estimate", "std_error", "ci_low", "ci_high")


def _curve(t: np.ndarray, e: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Kaplan-Meier at every distinct time: at risk, events, censored, S, var of log S."""
    times, inverse = distinct_times(t)
    d = np.bincount(inverse, weights=w * e, minlength=times.size)
    total = np.bincount(inverse, weights=w, minlength=times.size)
    n = np.cumsum(total[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(1 - d / n)
        var_log = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))
    if not np.all(w == np.round(w)):
        var_log = _ij_var_log(inverse, e, w, n, d, times.size)
    return {
        "time": times,
        "n_risk": n,
        "n_event": d,
        "n_censor": total - d,
        "surv": s,
        "var_log": var_log,
    }


def _ij_var_log(inverse, e, w, n, d, size) -> np.ndarray:
    """Infinitesimal-jackknife variance of log S(t) under case weights (R's robust survfit).

    The influence of subject i on log S(t) is ``-(e_i 1(T_i <= t) / (n - d)(T_i) -
    G(min(t, T_i)))`` with ``G(t) = sum over t_k <= t of h_k / (n_k - d_k)``; the variance is
    the weighted sum of squared influences, computed for every t in one pass.
    """
    # where everyone left at risk has the event, S falls to 0 and the variance is undefined
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.cumsum(np.where(d > 0, d / n / (n - d), 0.0))
        a = 1 / (n - d)
        own = w**2 * (e * a[inverse] - g[inverse]) ** 2  # constant once t >= T_i
        done = np.cumsum(np.bincount(inverse, weights=own, minlength=size))
        w2 = np.bincount(inverse, weights=w**2, minlength=size)
        after = np.cumsum(w2[::-1])[::-1] - w2  # subjects with T_i > t_k
        return g**2 * after + done


def _weights(frame: pl.DataFrame, weights: str | None) -> np.ndarray:
    if weights is None:
        return np.ones(frame.height)
    w = frame[weights].cast(pl.Float64).to_numpy()
    if np.isnan(w).any() or (w < 0).any():
        raise ValueError(f"{weights} must be non-negative numbers")
    return w


def kaplan_meier(
    df,
    time: str,
    event: str,
    by: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    conf_type: ConfType = "log",
    weights: str | None = None,
) -> pl.DataFrame:
    """Kaplan-Meier survival curve with Greenwood standard errors, as a tidy frame.

    Parameters
    ----------
    df : polars.DataFrame (or pandas)
        One row per subject: ``time`` (number >= 0), ``event`` (1/True = event, 0/False =
        censored), the ``by`` columns and, optionally, ``weights`` (case weights >= 0, e.g.
        inverse-probability weights).
    conf_type : {"log", "log-log", "plain"}
        Transform of the pointwise interval; ``"log"`` is R's default.

    Returns
    -------
    polars.DataFrame
        ``[by...,] time, n_risk, n_event, n_censor, estimate, std_error, ci_low, ci_high``:
        one row per distinct time of each group (event or censoring). ``n_*`` are weighted
        counts when ``weights`` is given. ``std_error`` is the standard error of the survival
        estimate itself, as ``summary(survfit(...))$std.err`` reports it: Greenwood's, or
        with non-integer weights the infinitesimal-jackknife (robust) one, as R's survfit
        does by default.

    References
    ----------
    Kaplan EL, Meier P (1958); Greenwood M (1926). Matches R's
    ``summary(survfit(Surv(time, event) ~ by, conf.type = ..., weights = w), censored = TRUE)``.
    """
    frame = as_polars(df)
    keys = by_list(by)
    check_columns(frame, time, event, weights, *keys)
    parts = []
    for key, part in groups(frame, keys):
        t, e = time_event(part, time, event)
        c = _curve(t, e, _weights(part, weights))
        se_log = np.sqrt(c["var_log"])
        low, high = confint(c["surv"], se_log, conf_type, conf_level)
        with np.errstate(invalid="ignore"):  # S = 0 after the last subject: no SE
            se_surv = c["surv"] * se_log
        out = pl.DataFrame(
            {
                "time": c["time"],
                "n_risk": c["n_risk"],
                "n_event": c["n_event"],
                "n_censor": c["n_censor"],
                "estimate": c["surv"],
                "std_error": se_surv,
                "ci_low": low,
                "ci_high": high,
            }
        ).fill_nan(None)
        if weights is None:
            out = out.with_columns(pl.col("n_risk", "n_event", "n_censor").cast(pl.Int64))
        parts.append(
            out.with_columns(pl.lit(v).alias(k) for k, v in zip(keys, key, strict=True)).select(
                *keys, *KM_COLUMNS
            )
        )
    return pl.concat(parts, how="vertical_relaxed")


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float) -> float:
    """R's survival:::findq: the time the distribution function ``y`` reaches ``p``."""
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if y.size == 0 or y.max() < p:
        return math.nan
    xmax = x[-1]
    _, unique_index = np.unique(y, return_index=True)
    dup = np.ones(y.size, dtype=bool)
    dup[unique_index] = False  # duplicated(y): every repeat after the first
    x, y = x[~dup], y[~dup]
    i1 = np.flatnonzero(y + tol >= p)
    i2 = np.flatnonzero(y - tol >= p)
    a = x[i1[0]] if i1.size else math.nan
    b = x[i2[0]] if i2.size else math.nan
    quant = (a + b) / 2
    if p == 0:
        quant = x[0]
    if abs(p - y[-1]) < tol and i1.size:
        quant = (x[i1[0]] + xmax) / 2
    return float(quant)


def median_survival(
    df,
    time: str,
    event: str,
    by: str | Sequence[str] | None = None,
    conf_type: ConfType = "log",
    quantiles: Sequence[float] = (0.5,),
    conf_level: float = 0.95,
    weights: str | None = None,
) -> pl.DataFrame:
    """Median (and other quantiles) of the survival time, with R's confidence interval.

    The ``q`` quantile is the first time the curve falls to ``1 - q`` (the midpoint to the
    next time where the curve sits exactly at ``1 - q``); its interval is the same rule
    applied to the upper and lower pointwise bands.

    Returns
    -------
    polars.DataFrame
        ``[by...,] quantile, estimate, ci_low, ci_high`` (empty where the curve never falls
        that low).

    References
    ----------
    Brookmeyer R, Crowley J (1982), Biometrics 38:29-41. Matches R's
    ``quantile(survfit(...), probs = quantiles)``.
    """
    frame = as_polars(df)
    keys = by_list(by)
    check_columns(frame, time, event, weights, *keys)
    tol = math.sqrt(np.finfo(float).eps)
    rows = []
    for key, part in groups(frame, keys):
        t, e = time_event(part, time, event)
        c = _curve(t, e, _weights(part, weights))
        low, high = confint(c["surv"], np.sqrt(c["var_log"]), conf_type, conf_level)
        x = np.concatenate([[0.0], c["time"]])
        for q in quantiles:
            rows.append(
                (
                    *key,
                    float(q),
                    _findq(x, np.concatenate([[0.0], 1 - c["surv"]]), q, tol),
                    _findq(x, np.concatenate([[0.0], 1 - low]), q, tol),
                    _findq(x, np.concatenate([[0.0], 1 - high]), q, tol),
                )
            )
    out = pl.DataFrame(rows, schema=[*keys, *QUANTILE_COLUMNS], orient="row")
    return out.fill_nan(None)


def survival_at(
    df,
    time: str,
    event: str,
    times: Sequence[float] = (30, 90, 180, 365),
    by: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    conf_type: ConfType = "log",
    weights: str | None = None,
) -> pl.DataFrame:
    """The Kaplan-Meier estimate and its interval at fixed horizons.

    Returns
    -------
    polars.DataFrame
        ``[by...,] time, n_risk, estimate, std_error, ci_low, ci_high`` for each requested time
        up to the group's last observed time (later horizons are left out, as R does).
        ``n_risk`` is the number still at risk at that time.

    References
    ----------
    R's ``summary(survfit(...), times = times)``.
    """
    frame = as_polars(df)
    keys = by_list(by)
    check_columns(frame, time, event, weights, *keys)
    parts = []
    for key, part in groups(frame, keys):
        t, e = time_event(part, time, event)
        c = _curve(t, e, _weights(part, weights))
        horizon = np.asarray([h for h in times if h <= c["time"][-1]], dtype=float)
        idx = np.searchsorted(c["time"], horizon, side="right") - 1  # last time <= horizon
        at = np.searchsorted(c["time"], horizon, side="left")  # first time >= horizon
        s = np.where(idx >= 0, c["surv"][np.maximum(idx, 0)], 1.0)
        se_log = np.where(idx >= 0, np.sqrt(c["var_log"][np.maximum(idx, 0)]), 0.0)
        low, high = confint(s, se_log, conf_type, conf_level)
        parts.append(
            pl.DataFrame(
                {
                    **{k: [v] * horizon.size for k, v in zip(keys, key, strict=True)},
                    "time": horizon,
                    "n_risk": c["n_risk"][at],
                    "estimate": s,
                    "std_error": s * se_log,
                    "ci_low": low,
                    "ci_high": high,
                }
            ).fill_nan(None)
        )
    return pl.concat(parts, how="vertical_relaxed")


@dataclass(frozen=True)
class RMSTResult:
    """Restricted mean survival time: ``groups`` per group, ``difference`` between two.

    ``groups``: ``[by...,] tau, estimate, std_error, ci_low, ci_high``. ``difference``: one
    row ``contrast, tau, estimate, std_error, ci_low, ci_high`` (second group minus first, in
    sorted order) when there are exactly two groups; empty otherwise.
    """

    groups: pl.DataFrame
    difference: pl.DataFrame

    def _repr_html_(self) -> str:
        return (
            self.groups._repr_html_()
            + self.difference._repr_html_()
            + "<p>Restricted mean survival time: area under the Kaplan-Meier curve up to "
            "tau; intervals are normal, from the estimator's variance.</p>"
        )


def rmst(
    df,
    time: str,
    event: str,
    tau: float,
    by: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
) -> RMSTResult:
    """Restricted mean survival time up to ``tau``, per group, and the difference of two.

    The variance is ``sum over event times t <= tau of A(t)^2 d / (n (n - d))``, with ``A(t)``
    the area under the curve from ``t`` to ``tau``.

    References
    ----------
    Royston P, Parmar MKB (2013), BMC Med Res Methodol 13:152. Matches R's
    ``print(survfit(...), rmean = tau)`` (``rmean`` and ``se(rmean)``).
    """
    frame = as_polars(df)
    keys = by_list(by)
    check_columns(frame, time, event, *keys)
    z = z_value(conf_level)
    rows = []
    for key, part in groups(frame, keys):
        t, e = time_event(part, time, event)
        c = _curve(t, e, np.ones(t.size))
        inside = c["time"] <= tau
        knots = np.concatenate([[0.0], c["time"][inside], [tau]])
        steps = np.concatenate([[1.0], c["surv"][inside]])
        areas = np.diff(knots) * steps
        estimate = areas.sum()
        # area from each time t_k (k >= 1) to tau
        tail = np.cumsum(areas[::-1])[::-1][1:]
        d, n = c["n_event"][inside], c["n_risk"][inside]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(d > 0, tail**2 * d / (n * (n - d)), 0.0)
        se = math.sqrt(np.nansum(terms))
        rows.append((*key, float(tau), estimate, se, estimate - z * se, estimate + z * se))
    table = pl.DataFrame(rows, schema=[*keys, *RMST_COLUMNS], orient="row")
    diff = pl.DataFrame(schema={"contrast": pl.String, **{c: pl.Float64 for c in RMST_COLUMNS}})
    if table.height == 2 and keys:
        a, b = table.row(0, named=True), table.row(1, named=True)
        est = b["estimate"] - a["estimate"]
        se = math.hypot(a["std_error"], b["std_error"])
        label = " - ".join("/".join(str(r[k]) for k in keys) for r in (b, a))
        diff = pl.DataFrame(
            [(label, float(tau), est, se, est - z * se, est + z * se)],
            schema=["contrast", *RMST_COLUMNS],
            orient="row",
        )
    return RMSTResult(groups=table, difference=diff)
