"""Logistic fits and the stacked M-estimator behind every effect on a 0/1 outcome.

One system of estimating equations holds the propensity model, the outcome model and each
method's group risks, so that the sandwich variance of any effect accounts for the models
that were estimated on the way (Stefanski and Boos 2002; Lunceford and Davidian 2004).
Everything is plain numpy on small dense matrices: no statsmodels, no refits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from outcomes.errors import EstimationError

#: Newton-Raphson stops when the relative change of the deviance falls below this (R's glm
#: uses 1e-8) and no coefficient moves by more than ``STEP_TOLERANCE``.
DEVIANCE_TOLERANCE = 1e-12
STEP_TOLERANCE = 1e-8
MAX_ITERATIONS = 60
#: A design whose information matrix is worse conditioned than this is singular.
MAX_CONDITION = 1e12


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large ``|x|``."""
    out = np.empty_like(x, dtype=float)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


@dataclass(frozen=True)
class Logistic:
    """A maximum-likelihood logistic fit: ``coef``, fitted ``p``, the inverse of the Fisher
    information ``cov`` (model-based), and the number of Newton ``iterations``."""

    coef: np.ndarray
    p: np.ndarray
    cov: np.ndarray
    iterations: int


def logistic(x: np.ndarray, y: np.ndarray, model: str, start: np.ndarray | None = None) -> Logistic:
    """Fit ``logit P(y = 1) = x @ coef`` by Newton-Raphson (R's ``glm(family = binomial)``).

    ``x`` must carry its own intercept column. Raises :class:`EstimationError` naming ``model``
    when the information matrix is singular (collinear columns, too few rows) or the fit does
    not converge (separation: the likelihood has no maximum).
    """
    n, k = x.shape
    coef = np.zeros(k) if start is None else np.asarray(start, dtype=float).copy()
    deviance = math.inf
    for iteration in range(1, MAX_ITERATIONS + 1):
        p = expit(x @ coef)
        w = p * (1.0 - p)
        info = x.T @ (x * w[:, None])
        score = x.T @ (y - p)
        with np.errstate(all="ignore"):
            singular = not np.isfinite(info).all() or np.linalg.cond(info) > MAX_CONDITION
        if singular and iteration == 1:
            raise EstimationError(
                f"{model} could not be estimated: singular design (covariates are collinear "
                f"or too few episodes and events for them; {n} episodes, {k} terms)"
            )
        if singular:
            break  # the information vanished on the way: fitted values ran to 0 or 1
        step = np.linalg.solve(info, score)
        coef = coef + step
        p = expit(x @ coef)
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = np.where(y > 0, np.log(p), 0.0) + np.where(y < 1, np.log1p(-p), 0.0)
        new = -2.0 * float(ll.sum())
        if not math.isfinite(new) or not np.isfinite(coef).all():
            break
        done = abs(new - deviance) / (abs(new) + 0.1) < DEVIANCE_TOLERANCE
        deviance = new
        if done and np.abs(step).max() < STEP_TOLERANCE * max(1.0, np.abs(coef).max()):
            w = p * (1.0 - p)
            cov = np.linalg.inv(x.T @ (x * w[:, None]))
            return Logistic(coef=coef, p=p, cov=cov, iterations=iteration)
    raise EstimationError(
        f"{model} could not be estimated: the fit did not converge (perfect or quasi-complete "
        f"separation: some covariate pattern predicts the outcome exactly; {n} episodes, "
        f"{k} terms)"
    )


def cluster_index(groups) -> np.ndarray:
    """0-based cluster number of each row (rows of one client share one), from an array or
    a polars Series of keys (text keys are coded by polars, without sorting Python
    strings)."""
    import polars as pl

    if isinstance(groups, pl.Series):
        return (groups.rank("dense").to_numpy() - 1).astype(np.int64)
    return np.unique(groups, return_inverse=True)[1]


def sandwich(psi: np.ndarray, jacobian: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Cluster-robust sandwich ``A^-1 B A^-T`` of a stacked M-estimator.

    ``psi`` holds each row's estimating functions at the estimate (n x k), ``jacobian`` their
    summed derivatives ``A = sum_i d psi_i / d theta`` (k x k), ``cluster`` each row's cluster
    number. ``B = G/(G-1) sum_g U_g U_g'`` with ``U_g`` the sum of ``psi`` over cluster ``g``
    (the small-sample factor of R's ``sandwich::vcovCL``, ``cadjust = TRUE``).
    """
    n_clusters = int(cluster.max()) + 1
    if n_clusters < 2:
        raise EstimationError("the sandwich variance needs at least two clients")
    # per-cluster sums, one column at a time (no n x k copy, no sort)
    u = np.column_stack(
        [np.bincount(cluster, weights=psi[:, j], minlength=n_clusters) for j in range(psi.shape[1])]
    )
    meat = u.T @ u * (n_clusters / (n_clusters - 1))
    bread = np.linalg.inv(jacobian)
    return bread @ meat @ bread.T


#: The group-risk parameters of the stack, per arm (1 treated, 0 control), in order.
RISKS = ("naive", "iptw", "gcomp", "residual")


@dataclass(frozen=True)
class Risks:
    """Each method's risk in the treated (``1``) and control (``0``) arm with their joint
    covariance: ``value[(method, arm)]`` and ``cov`` over the ``order`` of (method, arm)."""

    value: dict[tuple[str, int], float]
    cov: np.ndarray
    order: tuple[tuple[str, int], ...]

    def contrast(self, method: str, ratio: bool) -> tuple[float, float]:
        """Difference (treated minus control) or log ratio of ``method``'s risks and its
        standard error by the delta method. ``aipw`` is ``gcomp + residual`` in each arm."""
        parts = ("gcomp", "residual") if method == "aipw" else (method,)
        grad = np.zeros(len(self.order))
        mu = {arm: sum(self.value[(m, arm)] for m in parts) for arm in (1, 0)}
        for arm, sign in ((1, 1.0), (0, -1.0)):
            for m in parts:
                grad[self.order.index((m, arm))] = sign / mu[arm] if ratio else sign
        if ratio:
            if mu[1] <= 0 or mu[0] <= 0:
                return math.nan, math.nan
            est = math.log(mu[1] / mu[0])
        else:
            est = mu[1] - mu[0]
        if not self.cov.size:
            return est, math.nan
        return est, math.sqrt(max(float(grad @ self.cov @ grad), 0.0))

    def risk(self, method: str, arm: int) -> float:
        parts = ("gcomp", "residual") if method == "aipw" else (method,)
        return sum(self.value[(m, arm)] for m in parts)


def stacked_risks(
    y: np.ndarray,
    t: np.ndarray,
    x: np.ndarray,
    ps: Logistic,
    outcome: Logistic,
    weight: np.ndarray,
    dweight: np.ndarray,
    target: np.ndarray,
    cluster: np.ndarray | None,
    x_outcome: np.ndarray | None = None,
) -> Risks:
    """Group risks of four methods from one stack of estimating equations.

    Parameters
    ----------
    y, t : arrays of 0/1
        Outcome and treated indicator, one per row.
    x : array (n x p)
        Covariate design without intercept (the propensity model is ``[1, x]``, the outcome
        model ``[1, t, x_outcome]``).
    ps, outcome : Logistic
        The fitted propensity and outcome models.
    weight : array
        IPTW weight of each row (0 for rows trimmed away).
    dweight : array
        Derivative of each weight with respect to the propensity model's linear predictor
        (0 where a weight was truncated: a cap does not move with the model).
    target : array of 0/1
        Rows of the estimand's population (ATE: all kept rows; ATT: the treated ones).
    cluster : array of int, or None
        Cluster number of each row (:func:`cluster_index`); None: the risks only (``cov``
        empty), as the bootstrap needs.
    x_outcome : array, optional
        The outcome model's covariate design, when it differs from ``x``.

    Returns
    -------
    Risks
        per arm ``a`` (indicator ``A``: ``t`` or ``1 - t``), each solving its equation:

        - naive: ``sum A (y - mu) = 0``
        - iptw (Hajek): ``sum A w (y - mu) = 0``
        - gcomp: ``sum target (m_a - mu) = 0``, ``m_a`` the outcome model's prediction with
          the row's program set to ``a``
        - residual: ``sum A w (y - m_a - mu) = 0``; the doubly robust (augmented, normalized
          IPW) risk is gcomp + residual (Robins, Rotnitzky and Zhao 1994; the weighted-
          residual form of Kang and Schafer 2007), consistent if either model is right.
    """
    n = y.size
    x1 = np.column_stack([np.ones(n), x])
    z = np.column_stack([np.ones(n), t, x if x_outcome is None else x_outcome])
    e, m = ps.p, outcome.p
    preds = {}
    for arm in (1, 0):
        za = z.copy()
        za[:, 1] = float(arm)
        ma = expit(za @ outcome.coef)
        preds[arm] = (za, ma)
    k1, k2 = x1.shape[1], z.shape[1]
    order = tuple((method, arm) for arm in (1, 0) for method in RISKS)
    k = k1 + k2 + len(order)
    variance = cluster is not None
    psi = np.empty((n, k)) if variance else None
    jac = np.zeros((k, k))
    value: dict[tuple[str, int], float] = {}
    for method, arm in order:
        a = t if arm == 1 else 1.0 - t
        ma = preds[arm][1]
        if method == "naive":
            mu = (a * y).sum() / a.sum()
        elif method == "iptw":
            mu = (a * weight * y).sum() / (a * weight).sum()
        elif method == "gcomp":
            mu = (target * ma).sum() / target.sum()
        else:
            mu = (a * weight * (y - ma)).sum() / (a * weight).sum()
        value[(method, arm)] = float(mu)
    if not variance:
        return Risks(value=value, cov=np.empty((0, 0)), order=order)
    psi[:, :k1] = x1 * (t - e)[:, None]
    jac[:k1, :k1] = -(x1.T @ (x1 * (e * (1 - e))[:, None]))
    psi[:, k1 : k1 + k2] = z * (y - m)[:, None]
    jac[k1 : k1 + k2, k1 : k1 + k2] = -(z.T @ (z * (m * (1 - m))[:, None]))
    beta, gamma = slice(0, k1), slice(k1, k1 + k2)
    for j, (method, arm) in enumerate(order, start=k1 + k2):
        a = t if arm == 1 else 1.0 - t
        za, ma = preds[arm]
        mu = value[(method, arm)]
        if method == "naive":
            psi[:, j] = a * (y - mu)
            jac[j, j] = -a.sum()
        elif method == "iptw":
            aw = a * weight
            psi[:, j] = aw * (y - mu)
            jac[j, beta] = x1.T @ (a * dweight * (y - mu))
            jac[j, j] = -aw.sum()
        elif method == "gcomp":
            psi[:, j] = target * (ma - mu)
            jac[j, gamma] = za.T @ (target * ma * (1 - ma))
            jac[j, j] = -target.sum()
        else:
            aw = a * weight
            resid = y - ma
            psi[:, j] = aw * (resid - mu)
            jac[j, beta] = x1.T @ (a * dweight * (resid - mu))
            jac[j, gamma] = -(za.T @ (aw * ma * (1 - ma)))
            jac[j, j] = -aw.sum()
    cov = sandwich(psi, jac, cluster)[k1 + k2 :, k1 + k2 :]
    return Risks(value=value, cov=cov, order=order)
