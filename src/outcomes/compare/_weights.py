"""Propensity model, inverse-probability weights, balance and E-values."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from outcomes._design import design
from outcomes.compare._mest import Logistic, logistic
from outcomes.errors import EstimationError

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

#: A fitted propensity closer than this to 0 or 1 means the model separates the programs.
SEPARATION_TOLERANCE = 1e-6


@contextmanager
def estimating(model: str, strict: bool = True) -> Iterator[None]:
    """Turn the ways a model fit fails numerically into one :class:`EstimationError` whose
    one-line message names ``model`` and the reason.

    ``strict``: numpy's floating-point warnings (overflow, invalid values) fail the fit too.
    """
    with warnings.catch_warnings(), np.errstate(all="raise" if strict else "warn"):
        try:
            yield
        except np.linalg.LinAlgError as err:
            raise EstimationError(
                f"{model} could not be estimated: singular design (covariates are collinear "
                "or too few episodes and events for them)"
            ) from err
        except (OverflowError, FloatingPointError, ZeroDivisionError) as err:
            raise EstimationError(
                f"{model} could not be estimated: numerical failure ({type(err).__name__}; too "
                "few episodes or events)"
            ) from err


def _separation(design: pl.DataFrame, treated: np.ndarray, treatment: str, control: str) -> str:
    """Why a propensity model must separate, or "": levels met in one program only."""
    x = design.to_numpy()
    in_treated, in_control = x[treated].sum(axis=0), x[~treated].sum(axis=0)
    one_sided = [
        (name, treatment if in_treated[j] else control)
        for j, name in enumerate(design.columns)
        if "[" in name and (in_treated[j] == 0) != (in_control[j] == 0)
    ]
    if not one_sided:
        return ""
    name, program = one_sided[0]
    more = (
        f" (and {len(one_sided) - 1} more levels in one program only)" if len(one_sided) > 1 else ""
    )
    return f"{name} occurs among {program} episodes only{more}"


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
    model : Logistic
        The fit itself (coefficients, fitted values, model-based covariance).
    """

    data: pl.DataFrame
    design: pl.DataFrame
    coefficients: pl.DataFrame
    treatment: str
    control: str
    model: Logistic | None = None

    @property
    def c_statistic(self) -> float:
        """Area under the ROC curve of the propensity score (0.5: no separation).

        Scores equal within a tolerance are ties (identical covariate rows can get scores one
        rounding apart, depending on the BLAS kernel): they share their average rank.
        """
        from outcomes.survival._cox import tie_ranks

        ps, t = self.data["ps"].to_numpy(), self.data["treated"].to_numpy()
        ranks = pl.Series(tie_ranks(ps)).rank("average").to_numpy()
        n1, n0 = t.sum(), (~t).sum()
        return float((ranks[t].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


#: Covariate levels met in fewer episodes than this are pooled (see :func:`design_matrix`).
MIN_LEVEL_EPISODES = 20


def design_matrix(
    frame: pl.DataFrame, covariates: Sequence[str], min_level: int = MIN_LEVEL_EPISODES
) -> pl.DataFrame:
    """Numeric design of baseline covariates, reference-coded.

    Text and boolean columns become one 0/1 column per level but the reference (the most
    frequent level; ties broken alphabetically), named ``column[level]``; an empty value is a
    level of its own (``column[missing]``). Levels met in fewer than ``min_level`` episodes
    are pooled into one ``column[rare: ...]`` level, or join the reference when even pooled
    they are rarer than that: a handful of episodes in a level would otherwise separate the
    programs or the outcome. Number columns enter as they are, with empty values set to the
    median and a ``column[missing]`` indicator when any is empty.
    """
    return design(frame, covariates, reference="most_frequent", min_level=min_level)[0]


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

    Raises
    ------
    EstimationError
        The model cannot be estimated: there are no covariates (or none varies), a covariate
        level occurs in one program only, the fit separates the programs (a propensity within
        :data:`SEPARATION_TOLERANCE` of 0 or 1), the design is singular, or the fit does not
        converge.

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
    model = f"the propensity model of {treatment} against {control}"
    if not covariates:
        raise EstimationError(
            f"{model} could not be estimated: no covariates (none of the baseline case-mix "
            "columns is present with a value, or an empty list was passed)"
        )
    design = design_matrix(data, covariates)
    if design.width == 0:
        raise EstimationError(
            f"{model} could not be estimated: no covariate varies among these episodes "
            f"({', '.join(covariates)} each take a single value)"
        )
    treated = data["treated"].to_numpy()
    size = f"{data.height} episodes for {design.width} covariate terms"
    if why := _separation(design, treated, treatment, control):
        raise EstimationError(
            f"{model} could not be estimated: perfect separation, {why}; {size} (group rare "
            "levels or pass fewer covariates)"
        )
    x = np.column_stack([np.ones(data.height), design.to_numpy().astype(float)])
    fit = logistic(x, treated.astype(float), model)
    ps = fit.p
    if ps.min() < SEPARATION_TOLERANCE or ps.max() > 1 - SEPARATION_TOLERANCE:
        raise EstimationError(
            f"{model} could not be estimated: quasi-complete separation (some episodes have a "
            f"propensity of 0 or 1, so their weights are unbounded); {size}"
        )
    se = np.sqrt(np.diag(fit.cov))
    z = fit.coef / se
    coefficients = pl.DataFrame(
        {
            "term": ["(intercept)", *design.columns],
            "estimate": fit.coef,
            "std_error": se,
            "statistic": z,
            "p_value": [math.erfc(abs(v) / math.sqrt(2)) for v in z],
        }
    )
    return Propensity(
        data=data.with_columns(pl.Series("ps", ps)),
        design=design,
        coefficients=coefficients,
        treatment=treatment,
        control=control,
        model=fit,
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
    keep, w, _ = weights(
        ps.data["ps"].to_numpy(),
        ps.data["treated"].to_numpy(),
        estimand,
        stabilized,
        trim,
        truncate,
    )
    data = ps.data.filter(pl.Series(keep))
    w = w[keep]
    return data.with_columns(pl.Series("weight", w))


def weights(
    e: np.ndarray,
    treated: np.ndarray,
    estimand: Estimand = "ate",
    stabilized: bool = True,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights of :func:`iptw` for every row, with what the stacked variance needs.

    Returns ``keep`` (rows not trimmed), ``weight`` (0 for trimmed rows) and ``dweight``, the
    derivative of each weight with respect to the propensity model's linear predictor
    ``log(e / (1 - e))`` (ATE: ``-w (1 - e)`` treated, ``w e`` control; ATT: 0 treated, ``w``
    control; 0 for trimmed rows and for weights capped by ``truncate``).
    """
    t = np.asarray(treated, dtype=bool)
    keep = np.ones(t.size, dtype=bool)
    if trim is not None:
        lo, hi = np.percentile(e, trim)
        keep = (e >= lo) & (e <= hi)
    p = t[keep].mean()
    if estimand == "ate":
        w = np.where(t, 1 / e, 1 / (1 - e))
        if stabilized:
            w = w * np.where(t, p, 1 - p)
        dw = np.where(t, -w * (1 - e), w * e)
    elif estimand == "att":
        w = np.where(t, 1.0, e / (1 - e))
        if stabilized:
            w = np.where(t, 1.0, w * (1 - p) / p)
        dw = np.where(t, 0.0, w)
    else:
        raise ValueError('estimand must be "ate" or "att"')
    if truncate is not None:
        lo, hi = np.percentile(w[keep], truncate)
        capped = (w < lo) | (w > hi)
        w = np.clip(w, lo, hi)
        dw = np.where(capped, 0.0, dw)
    return keep, np.where(keep, w, 0.0), np.where(keep, dw, 0.0)


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
