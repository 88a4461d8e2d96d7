"""Effects of the treated program on completion and readmission: naive, IPTW, outcome
regression (g-computation) and doubly robust (AIPW), with stacked sandwich intervals."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl

from outcomes._threads import single_blas_thread
from outcomes.compare._mest import Logistic, cluster_index, logistic, stacked_risks
from outcomes.compare._weights import (
    EFFECT_COLUMNS,
    Estimand,
    Propensity,
    estimating,
    propensity,
    weights,
)
from outcomes.errors import EstimationError
from outcomes.intervals import z_value


def _need_both_outcomes(ps: Propensity, outcome: str) -> None:
    """Raise unless each program has episodes with and without the (0/1) outcome: a risk of 0
    has no log, and a risk of 0 or 1 in a program separates the outcome model on it."""
    data = ps.data.with_columns(pl.col(outcome).cast(pl.Float64).alias("__y"))
    for treated, program in ((True, ps.treatment), (False, ps.control)):
        y = data.filter(pl.col("treated") == treated)["__y"]
        if y.sum() == 0 or y.sum() == y.len():
            raise EstimationError(
                f"the effects on '{outcome}' could not be estimated: too few events "
                f"({int(y.sum())} of {y.len()} {program} episodes {outcome})"
            )


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


#: The methods of every effect, in the order the tables show them; ``aipw`` is the headline.
METHODS = ("naive", "iptw", "regression", "aipw")
HEADLINE_METHOD = "aipw"


def _client_bootstrap(cluster: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of ``n_boot`` resamples of whole clients (with replacement)."""
    clients, index = np.unique(cluster, return_inverse=True)
    members = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[members], np.arange(clients.size))
    sizes = np.diff(np.append(starts, index.size))
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        pick = rng.integers(0, clients.size, clients.size)
        sz, st = sizes[pick], starts[pick]
        within = np.arange(sz.sum()) - np.repeat(np.cumsum(sz) - sz, sz)
        yield members[np.repeat(st, sz) + within]


def _risks(y, t, x, estimand, trim, truncate, label, ps_start=None, out_start=None, g=None):
    """Fit both models and stack the four methods' risks (with covariance when ``g``, the
    rows' cluster numbers). ``ps_start`` may be the fitted propensity model itself (a
    :class:`Logistic` of these rows), which is then used as it is."""
    if isinstance(ps_start, Logistic):
        ps = ps_start
    else:
        x1 = np.column_stack([np.ones(t.size), x])
        ps = logistic(x1, t, f"the propensity model of {label}", ps_start)
    keep, w, dw = weights(ps.p, t, estimand, True, trim, truncate)
    target = (keep if estimand == "ate" else keep & (t > 0)).astype(float)
    xo = _outcome_design(x, y)
    z = np.column_stack([np.ones(t.size), t, xo])
    if out_start is not None and out_start.size != z.shape[1]:
        out_start = None
    out = logistic(z, y, f"the outcome model of {label}", out_start)
    risks = stacked_risks(y, t, x, ps, out, w, dw, target, g, x_outcome=xo)
    return risks, ps, out, keep


def _outcome_design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The outcome model's design: ``x`` less the 0/1 level columns whose episodes all share
    one outcome (their coefficient would be infinite: separation), which joins those levels
    to the reference level in this model only."""
    binary = ((x == 0) | (x == 1)).all(axis=0)
    ones = x.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (x * y[:, None]).sum(axis=0) / ones
    constant = binary & ((share <= 0) | (share >= 1) | (ones == 0))
    return x[:, ~constant] if constant.any() else x


def binary_effects(
    ps: Propensity,
    y: np.ndarray,
    name: str,
    estimand: Estimand,
    cluster: np.ndarray,
    conf_level: float,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
    n_boot: int = 0,
    seed: int = 0,
    ratio: bool = True,
) -> list[tuple]:
    """Rows of :data:`EFFECT_COLUMNS` (without ``estimand``) for a 0/1 outcome ``y`` on the
    episodes of ``ps``: ``<name>_risk_difference`` (and ``_risk_ratio``) by each of
    :data:`METHODS`; analytic intervals from the stacked sandwich (``n_boot`` 0), or client-
    bootstrap percentile intervals for the adjusted methods (``n_boot`` resamples, each
    refitting both models from the full-sample estimates). ``cluster``: each row's cluster
    number (:func:`~outcomes.compare._mest.cluster_index`)."""
    t = ps.data["treated"].to_numpy().astype(float)
    x = ps.design.to_numpy().astype(float)
    label = f"{ps.treatment} against {ps.control} ({name})"
    risks, fit_ps, fit_out, keep = _risks(
        y, t, x, estimand, trim, truncate, label, ps.model, g=cluster
    )
    z = z_value(conf_level)
    contrasts = [("risk_difference", False)] + ([("risk_ratio", True)] if ratio else [])
    boot = None
    if n_boot:
        draws = []
        for rows in _client_bootstrap(cluster, n_boot, seed):
            try:
                r = _risks(
                    y[rows],
                    t[rows],
                    x[rows],
                    estimand,
                    trim,
                    truncate,
                    label,
                    fit_ps.coef,
                    fit_out.coef,
                )[0]
            except (EstimationError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
                continue  # a resample whose models cannot be fitted is left out
            draws.append([r.contrast(_stack(m), rt)[0] for m in METHODS for _, rt in contrasts])
        boot = np.asarray(draws)
    alpha = (1 - conf_level) / 2 * 100
    n1, n0 = int(t.sum()), int((1 - t).sum())
    n1_kept, n0_kept = int(t[keep].sum()), int((1 - t[keep]).sum())
    out = []
    for i, method in enumerate(METHODS):
        for j, (contrast, log_scale) in enumerate(contrasts):
            est, se = risks.contrast(_stack(method), log_scale)
            lo, hi = est - z * se, est + z * se
            if boot is not None and method != "naive" and boot.shape[0] >= 10:
                column = boot[:, i * len(contrasts) + j]
                lo, hi = np.percentile(column[np.isfinite(column)], [alpha, 100 - alpha])
            if not _finite(est, lo, hi):
                raise EstimationError(
                    f"the {method} effect on {name} could not be estimated: its estimate or "
                    "interval is not finite (too few episodes or events for the covariates)"
                )
            if log_scale:
                est, lo, hi = math.exp(est), math.exp(lo), math.exp(hi)
            sizes = (n1, n0) if method == "naive" else (n1_kept, n0_kept)
            out.append((f"{name}_{contrast}", method, est, float(lo), float(hi), *sizes))
    return out


def _stack(method: str) -> str:
    """The stack's name of a method's risks (``regression`` is g-computation)."""
    return "gcomp" if method == "regression" else method


@single_blas_thread
def completion_effects(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    estimand: Estimand = "ate",
    outcome: str = "completed",
    cluster: str = "client_id",
    conf_level: float = 0.95,
    n_boot: int = 0,
    seed: int = 0,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Effect of the treated program on completion: risk difference and risk ratio by four
    methods, with intervals that account for the estimated models.

    Uses discharged episodes (``outcome`` not empty). The methods:

    - ``naive``: crude risks per program.
    - ``iptw``: weighted (Hajek) risks, stabilized weights from a logistic propensity model of
      the program on the covariates (:func:`iptw`).
    - ``regression``: g-computation, a logistic model of the outcome on program and covariates,
      its predictions with every episode set to each program averaged over the estimand's
      population.
    - ``aipw``: doubly robust, the g-computation risk plus the weighted mean of the outcome
      model's residuals in each program; consistent when either model is right, so it is the
      headline estimate (:data:`HEADLINE_METHOD`).

    Intervals: the propensity model, the outcome model and every method's risks are one
    system of estimating equations; its sandwich variance, summed by ``cluster`` (one client
    can have several episodes), carries the uncertainty of both fitted models into every
    interval (M-estimation; :func:`outcomes.compare._mest.stacked_risks`). Ratios are
    formed on the log scale. With ``n_boot`` > 0 the adjusted methods' intervals are instead
    percentiles of a client bootstrap (``n_boot`` resamples, fixed ``seed``).

    Parameters
    ----------
    episodes : polars.DataFrame
        One row per episode with ``program_type``, ``outcome`` (bool, empty for open
        episodes), ``cluster`` and the covariate columns.

    Returns
    -------
    polars.DataFrame
        :data:`EFFECT_COLUMNS`: ``outcome`` (``completion_risk_difference`` or
        ``completion_risk_ratio``), ``method`` (:data:`METHODS`), ``estimand``, ``estimate,
        ci_low, ci_high`` (differences are treated minus control), ``n_treated, n_control``
        (after trimming, for the adjusted methods).

    Raises
    ------
    EstimationError
        The propensity or outcome model cannot be estimated (separation, singular design, no
        convergence), or a program has no completed or no uncompleted episode, or an estimate
        is not finite.

    References
    ----------
    Lunceford JK, Davidian M (2004), Stat Med 23:2937-2960 (IPTW and doubly robust
    estimators with sandwich variances); Stefanski LA, Boos DD (2002), Am Stat 56:29-38
    (stacked M-estimation); Robins JM, Rotnitzky A, Zhao LP (1994), JASA 89:846-866.
    Checked against an R implementation of the same equations (tests/reference/compare.R).
    """
    ep = episodes.filter(pl.col(outcome).is_not_null())
    ps = propensity(ep, treatment, control, covariates)
    _need_both_outcomes(ps, outcome)
    y = ps.data[outcome].cast(pl.Float64).to_numpy()
    with estimating(f"the effects on '{outcome}'", strict=False):
        rows = binary_effects(
            ps,
            y,
            "completion",
            estimand,
            cluster_index(ps.data[cluster]),
            conf_level,
            trim,
            truncate,
            n_boot,
            seed,
        )
    return _frame(rows, estimand)


def _frame(rows: list[tuple], estimand: str) -> pl.DataFrame:
    return pl.DataFrame(
        [(o, m, estimand, float(e), float(lo), float(hi), a, b) for o, m, e, lo, hi, a, b in rows],
        schema=list(EFFECT_COLUMNS),
        orient="row",
    )
