"""Adjusted comparison of two programs (e.g. IOP against residential care).

Clients are not placed at random: severity, co-occurring disorders, prior episodes and referral
source drive both the program and the outcome, so a naive comparison is biased. This module
estimates the propensity of the treated program from baseline case-mix, weights episodes by
the inverse of it (IPTW, stabilized, ATE or ATT, optionally trimmed or truncated), shows the
balance that weighting achieves, and estimates the program effect on completion three ways
(naive, IPTW, outcome regression) with the E-value as a sensitivity analysis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import statsmodels.api as sm

from outcomes.intervals import z_value

#: Baseline case-mix columns used by default (never post-assignment ones such as modality).
DEFAULT_COVARIATES = (
    "age_group",
    "sex",
    "race_ethnicity",
    "primary_substance",
    "co_occurring_mh",
    "prior_episodes",
    "referral_source",
)
BALANCE_COLUMNS = (
    "covariate",
    "level",
    "mean_treated",
    "mean_control",
    "smd_unweighted",
    "smd_weighted",
    "variance_ratio_unweighted",
    "variance_ratio_weighted",
)
EFFECT_COLUMNS = (
    "outcome",
    "method",
    "estimand",
    "estimate",
    "ci_low",
    "ci_high",
    "n_treated",
    "n_control",
)
Estimand = Literal["ate", "att"]


@dataclass(frozen=True)
class Propensity:
    """A fitted propensity model.

    Attributes
    ----------
    data : polars.DataFrame
        The analysed episodes (treated and control programs only) with ``treated`` (bool) and
        ``ps`` (the fitted probability of the treated program).
    design : polars.DataFrame
        The numeric design the model used: one column per term (reference-coded dummies named
        ``column[level]``, numbers as they are, ``column[missing]`` indicators).
    coefficients : polars.DataFrame
        ``term, estimate, std_error, statistic, p_value`` of the logistic model.
    treatment, control : str
        The compared programs.
    """

    data: pl.DataFrame
    design: pl.DataFrame
    coefficients: pl.DataFrame
    treatment: str
    control: str

    @property
    def c_statistic(self) -> float:
        """Area under the ROC curve of the propensity score (0.5: no separation)."""
        ps, t = self.data["ps"].to_numpy(), self.data["treated"].to_numpy()
        ranks = pl.Series(ps).rank("average").to_numpy()
        n1, n0 = t.sum(), (~t).sum()
        return float((ranks[t].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def design_matrix(frame: pl.DataFrame, covariates: Sequence[str]) -> pl.DataFrame:
    """Numeric design of baseline covariates, reference-coded.

    Text and boolean columns become one 0/1 column per level but the reference (the most
    frequent level; ties broken alphabetically), named ``column[level]``; an empty value is a
    level of its own (``column[missing]``). Number columns enter as they are, with empty values
    set to the median and a ``column[missing]`` indicator when any is empty.
    """
    cols: list[pl.Series] = []
    for name in covariates:
        s = frame[name]
        if s.dtype.is_numeric():
            values = s.cast(pl.Float64)
            if values.null_count():
                cols.append(values.is_null().cast(pl.Float64).alias(f"{name}[missing]"))
                values = values.fill_null(values.median())
            cols.append(values.alias(name))
            continue
        text = s.cast(pl.String).fill_null("missing")
        counts = text.value_counts().sort(["count", name], descending=[True, False])
        levels = counts[name].to_list()
        for level in sorted(levels[1:]):
            cols.append((text == level).cast(pl.Float64).alias(f"{name}[{level}]"))
    return pl.DataFrame(cols)


def propensity(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    program: str = "program_type",
) -> Propensity:
    """Logistic model of being in the treated program, among treated and control episodes.

    Parameters
    ----------
    episodes : polars.DataFrame
        One row per episode with ``program`` and the covariate columns (e.g. the output of
        :func:`outcomes.episodes`).
    treatment, control : str
        The two programs compared (values of ``program``).
    covariates : sequence of str, optional
        Baseline columns; default the columns of :data:`DEFAULT_COVARIATES` present with at
        least one value.

    Returns
    -------
    Propensity

    References
    ----------
    Rosenbaum PR, Rubin DB (1983), Biometrika 70:41-55. The fit is R's
    ``glm(treated ~ ..., family = binomial)``.
    """
    data = episodes.filter(pl.col(program).is_in([treatment, control])).with_columns(
        (pl.col(program) == treatment).alias("treated")
    )
    if covariates is None:
        covariates = [
            c
            for c in DEFAULT_COVARIATES
            if c in data.columns and data[c].null_count() < data.height
        ]
    if data["treated"].all() or not data["treated"].any():
        raise ValueError(f"need episodes of both {treatment!r} and {control!r}")
    design = design_matrix(data, covariates)
    x = sm.add_constant(design.to_numpy(), has_constant="add")
    fit = sm.GLM(data["treated"].to_numpy().astype(float), x, family=sm.families.Binomial()).fit()
    terms = ["(intercept)", *design.columns]
    coefficients = pl.DataFrame(
        {
            "term": terms,
            "estimate": fit.params,
            "std_error": fit.bse,
            "statistic": fit.tvalues,
            "p_value": fit.pvalues,
        }
    )
    return Propensity(
        data=data.with_columns(pl.Series("ps", fit.fittedvalues)),
        design=design,
        coefficients=coefficients,
        treatment=treatment,
        control=control,
    )


def iptw(
    ps: Propensity,
    estimand: Estimand = "ate",
    stabilized: bool = True,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Inverse-probability-of-treatment weights.

    ATE: treated ``1/ps``, control ``1/(1-ps)``; stabilized, multiplied by the share treated
    (control: the share not treated). ATT: treated 1, control ``ps/(1-ps)``; stabilized, the
    controls are rescaled by ``(1-p)/p`` with ``p`` the share treated, so that weighted group
    sizes match the sample's.

    Parameters
    ----------
    trim : (low, high), optional
        Drop episodes whose propensity lies outside these percentiles of all scores (e.g.
        ``(1, 99)``); the estimand then refers to the trimmed population.
    truncate : (low, high), optional
        Cap weights at these percentiles of the weights (e.g. ``(1, 99)``).

    Returns
    -------
    polars.DataFrame
        ``Propensity.data`` (less trimmed rows) with a ``weight`` column.

    References
    ----------
    Hernán MA, Robins JM (2020), *Causal Inference: What If*, ch. 12; Austin PC, Stuart EA
    (2015), Stat Med 34:3661-3679 (weights, stabilization and diagnostics).
    """
    data = ps.data
    if trim is not None:
        lo, hi = np.percentile(data["ps"].to_numpy(), trim)
        data = data.filter(pl.col("ps").is_between(lo, hi))
    t = data["treated"].to_numpy()
    e = data["ps"].to_numpy()
    p = t.mean()
    if estimand == "ate":
        w = np.where(t, 1 / e, 1 / (1 - e))
        if stabilized:
            w = w * np.where(t, p, 1 - p)
    elif estimand == "att":
        w = np.where(t, 1.0, e / (1 - e))
        if stabilized:
            w = np.where(t, 1.0, w * (1 - p) / p)
    else:
        raise ValueError('estimand must be "ate" or "att"')
    if truncate is not None:
        lo, hi = np.percentile(w, truncate)
        w = np.clip(w, lo, hi)
    return data.with_columns(pl.Series("weight", w))


def weight_diagnostics(weighted: pl.DataFrame) -> pl.DataFrame:
    """Overlap and weight diagnostics per group: ``group, n, ps_min, ps_median, ps_max,
    weight_sum, weight_max, ess`` (effective sample size ``(sum w)^2 / sum w^2``)."""
    return (
        weighted.group_by(
            pl.when(pl.col("treated"))
            .then(pl.lit("treated"))
            .otherwise(pl.lit("control"))
            .alias("group")
        )
        .agg(
            pl.len().alias("n"),
            pl.col("ps").min().alias("ps_min"),
            pl.col("ps").median().alias("ps_median"),
            pl.col("ps").max().alias("ps_max"),
            pl.col("weight").sum().alias("weight_sum"),
            pl.col("weight").max().alias("weight_max"),
            (pl.col("weight").sum() ** 2 / (pl.col("weight") ** 2).sum()).alias("ess"),
        )
        .sort("group", descending=True)
    )


def _wstats(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    m = np.average(x, weights=w)
    return m, float(np.average((x - m) ** 2, weights=w))


def balance(weighted: pl.DataFrame, design: pl.DataFrame, weight: str = "weight") -> pl.DataFrame:
    """Table 1: covariate means by group, standardized mean differences and variance ratios,
    before and after weighting.

    Parameters
    ----------
    weighted : polars.DataFrame
        Rows with ``treated`` and ``weight`` (from :func:`iptw`), aligned with ``design``.
    design : polars.DataFrame
        The numeric design (:func:`design_matrix`), one row per row of ``weighted``.

    Returns
    -------
    polars.DataFrame
        ``covariate, level`` (empty for numbers), ``mean_treated, mean_control`` (weighted;
        a share for levels), ``smd_unweighted, smd_weighted`` (difference in means over
        ``sqrt((var_t + var_c) / 2)``, weighted variances after weighting),
        ``variance_ratio_unweighted, variance_ratio_weighted`` (treated over control).
        |SMD| < 0.1 is the usual mark of balance.

    References
    ----------
    Austin PC (2009), Stat Med 28:3083-3107.
    """
    t = weighted["treated"].to_numpy()
    w = weighted[weight].to_numpy()
    rows = []
    for name in design.columns:
        x = design[name].to_numpy()
        covariate, _, level = name.partition("[")
        out = [covariate, level.rstrip("]") or None]
        stats = {}
        for label, ww in (("u", np.ones_like(w)), ("w", w)):
            m1, v1 = _wstats(x[t], ww[t])
            m0, v0 = _wstats(x[~t], ww[~t])
            pooled = math.sqrt((v1 + v0) / 2)
            stats[label] = (
                m1,
                m0,
                (m1 - m0) / pooled if pooled > 0 else 0.0,
                v1 / v0 if v0 > 0 else None,
            )
        rows.append(
            (
                *out,
                stats["w"][0],
                stats["w"][1],
                stats["u"][2],
                stats["w"][2],
                stats["u"][3],
                stats["w"][3],
            )
        )
    return pl.DataFrame(rows, schema=list(BALANCE_COLUMNS), orient="row")


def evalue(
    estimate: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
) -> tuple[float, float | None]:
    """E-value of a risk ratio and of the confidence limit closest to the null.

    ``E = RR + sqrt(RR (RR - 1))`` for RR >= 1 (take 1/RR below 1); the limit's E-value is 1
    when the interval crosses 1.

    References
    ----------
    VanderWeele TJ, Ding P (2017), Ann Intern Med 167:268-274.
    """

    def e(rr: float) -> float:
        rr = 1 / rr if rr < 1 else rr
        return rr + math.sqrt(rr * (rr - 1))

    point = e(estimate)
    if ci_low is None or ci_high is None:
        return point, None
    if ci_low <= 1 <= ci_high:
        return point, 1.0
    return point, e(ci_low if estimate > 1 else ci_high)


def _hajek(y, t, w, groups, z) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Weighted risks per group, their difference and ratio, with cluster-robust intervals.

    The influence of an episode on a group's weighted risk ``mu`` is ``w (y - mu) / W``
    (``W`` the group's weight sum); on the log risk, that over ``mu``. Summed within clusters,
    squared and added up, with the small-sample factor ``G/(G-1) (N-1)/(N-2)`` of R's
    ``sandwich::vcovCL(type = "HC1")``, this is the sandwich of a weighted regression of the
    outcome on the group (identity link for the difference, log link for the ratio), the
    weights taken as known.
    """
    w1, w0 = w * t, w * ~t
    mu1, mu0 = (w1 * y).sum() / w1.sum(), (w0 * y).sum() / w0.sum()
    inf_diff = w1 * (y - mu1) / w1.sum() - w0 * (y - mu0) / w0.sum()
    inf_log = w1 * (y - mu1) / (w1.sum() * mu1) - w0 * (y - mu0) / (w0.sum() * mu0)
    _, cluster = np.unique(groups, return_inverse=True)
    n_groups, n = cluster.max() + 1, y.size
    adj = n_groups / (n_groups - 1) * (n - 1) / (n - 2)
    se_diff = math.sqrt(adj * (np.bincount(cluster, inf_diff) ** 2).sum())
    se_log = math.sqrt(adj * (np.bincount(cluster, inf_log) ** 2).sum())
    diff, log_ratio = mu1 - mu0, math.log(mu1 / mu0)
    return (
        (diff, diff - z * se_diff, diff + z * se_diff),
        (math.exp(log_ratio), math.exp(log_ratio - z * se_log), math.exp(log_ratio + z * se_log)),
    )


def completion_effects(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    estimand: Estimand = "ate",
    outcome: str = "completed",
    cluster: str = "client_id",
    conf_level: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Effect of the treated program on completion: risk difference and risk ratio, naive,
    IPTW and outcome regression.

    Uses discharged episodes (``outcome`` not empty). Naive and IPTW: weighted (Hajek) risks
    per program, their difference and ratio, with a cluster-robust sandwich by ``cluster``
    (one client can have several episodes); the weights are treated as known, which for the
    ATE errs on the wide side (Lunceford and Davidian 2004). Regression:
    g-computation from a logistic model of the outcome on program and covariates (predicted
    risks averaged over the estimand's population), CI from a client-level bootstrap of
    ``n_boot`` resamples (percentile method, fixed ``seed``).

    Returns
    -------
    polars.DataFrame
        :data:`EFFECT_COLUMNS`: ``outcome`` (``completion_risk_difference`` or
        ``completion_risk_ratio``), ``method`` (naive, iptw, regression), ``estimand``,
        ``estimate, ci_low, ci_high`` (differences are treated minus control), ``n_treated,
        n_control``.
    """
    ep = episodes.filter(pl.col(outcome).is_not_null())
    ps = propensity(ep, treatment, control, covariates)
    weighted = iptw(ps, estimand, trim=trim, truncate=truncate)
    z = z_value(conf_level)
    rows = []
    for method, frame in (
        ("naive", ps.data.with_columns(pl.lit(1.0).alias("weight"))),
        ("iptw", weighted),
    ):
        y = frame[outcome].cast(pl.Float64).to_numpy()
        t = frame["treated"].to_numpy()
        w = frame["weight"].to_numpy()
        g = frame[cluster].to_numpy()
        n1, n0 = int(t.sum()), int((~t).sum())
        diff, ratio = _hajek(y, t, w, g, z)
        rows.append(("completion_risk_difference", method, *diff, n1, n0))
        rows.append(("completion_risk_ratio", method, *ratio, n1, n0))
    rd, rr, boot = _gcomp(ps, outcome, estimand, cluster, n_boot, seed)
    alpha = (1 - conf_level) / 2 * 100
    n1, n0 = int(ps.data["treated"].sum()), int((~ps.data["treated"]).sum())
    rows.append(
        (
            "completion_risk_difference",
            "regression",
            rd,
            *np.percentile(boot[:, 0], [alpha, 100 - alpha]),
            n1,
            n0,
        )
    )
    rows.append(
        (
            "completion_risk_ratio",
            "regression",
            rr,
            *np.percentile(boot[:, 1], [alpha, 100 - alpha]),
            n1,
            n0,
        )
    )
    out = pl.DataFrame(
        [(o, m, estimand, float(e), float(lo), float(hi), a, b) for o, m, e, lo, hi, a, b in rows],
        schema=list(EFFECT_COLUMNS),
        orient="row",
    )
    return out


def _gcomp_once(x, t, y, target):
    fit = sm.GLM(y, np.column_stack([np.ones_like(t), t, x]), family=sm.families.Binomial()).fit()
    xs = np.column_stack([np.ones(target.sum()), np.ones(target.sum()), x[target]])
    p1 = fit.predict(xs).mean()
    xs[:, 1] = 0.0
    p0 = fit.predict(xs).mean()
    return p1 - p0, p1 / p0


def _gcomp(ps: Propensity, outcome, estimand, cluster, n_boot, seed):
    x = ps.design.to_numpy()
    t = ps.data["treated"].to_numpy().astype(float)
    y = ps.data[outcome].cast(pl.Float64).to_numpy()
    target = np.ones_like(t, dtype=bool) if estimand == "ate" else t.astype(bool)
    rd, rr = _gcomp_once(x, t, y, target)
    clients, index = np.unique(ps.data[cluster].to_numpy(), return_inverse=True)
    members = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[members], np.arange(clients.size))
    sizes = np.diff(np.append(starts, index.size))
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, 2))
    for b in range(n_boot):
        pick = rng.integers(0, clients.size, clients.size)
        sz, st = sizes[pick], starts[pick]
        within = np.arange(sz.sum()) - np.repeat(np.cumsum(sz) - sz, sz)
        rows = members[np.repeat(st, sz) + within]
        boot[b] = _gcomp_once(x[rows], t[rows], y[rows], target[rows])
    return rd, rr, boot
