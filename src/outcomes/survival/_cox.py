"""Cox proportional-hazards regression (Efron or Breslow ties, weights, strata, clusters).

Newton-Raphson on the partial likelihood, with every risk-set sum a cumulative sum over
time-sorted rows (no loop over subjects or event times: ``_cox_sums``); the robust variance is
the grouped dfbeta sandwich of R's ``coxph``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.special import chdtrc

from outcomes._design import design
from outcomes._threads import single_blas_thread
from outcomes.intervals import z_value
from outcomes.survival._common import as_polars, by_list, check_columns
from outcomes.survival._cox_sums import (
    Ties,
    _Evaluation,
    _Sorted,
    evaluate,
    information,
    score_residuals,
    time_scores,
)

COX_COLUMNS = (
    "term",
    "estimate",
    "std_error",
    "robust_std_error",
    "statistic",
    "p_value",
    "ci_low",
    "ci_high",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
)
PH_SCHEMA = {"term": pl.String, "chisq": pl.Float64, "df": pl.Int64, "p_value": pl.Float64}


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    Attributes
    ----------
    coefficients : polars.DataFrame
        ``term, estimate, std_error, robust_std_error`` (empty without weights or cluster),
        ``statistic`` (Wald z, from the robust SE when there is one), ``p_value, ci_low,
        ci_high`` (log hazard ratio), ``hazard_ratio, hr_ci_low, hr_ci_high``.
    n, n_events : int
        Rows used and events among them.
    loglik : float
        Log partial likelihood at the estimate.
    concordance : float
        Harrell's C of the linear predictor (as R's ``concordance``), within strata.
    ties : str
        ``efron`` or ``breslow``.
    ph_test : polars.DataFrame
        Test of proportional hazards per covariate and ``GLOBAL``: ``term, chisq, df,
        p_value`` (R's ``cox.zph(fit)``, Kaplan-Meier time transform). A small p-value says
        the covariate's hazard ratio changes over follow-up. Empty (same columns) when the
        model was fitted with ``ph_test=False``.
    notes : tuple of str
        What the reader should know (variance used, rows dropped).
    """

    coefficients: pl.DataFrame
    n: int
    n_events: int
    loglik: float
    concordance: float
    ties: str
    ph_test: pl.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{n}</li>" for n in self.notes)
        return (
            self.coefficients._repr_html_()
            + f"<p>n = {self.n}, events = {self.n_events}, concordance = "
            f"{self.concordance:.3f}, log partial likelihood = {self.loglik:.3f} "
            f"({self.ties} ties).</p><ul>{notes}</ul>"
        )


def _zph(
    s: _Sorted,
    xs: np.ndarray,
    fit: _Evaluation,
    terms: list[list[int]],
    names: list[str],
) -> pl.DataFrame:
    """Score test of proportional hazards per term and globally (R's cox.zph, km transform).

    The model gains ``x * g(t)`` with ``g`` one minus the left-continuous Kaplan-Meier of all
    subjects (centred over events); the score of those terms at zero, against the information
    of the expanded model, is chi-square with one degree of freedom per column.
    """
    # Kaplan-Meier of all subjects (strata ignored), at its event times
    if s.strata[0] == s.strata[-1]:  # one stratum: the rows are in time order already
        t_all, e_all = s.time, s.event
    else:
        by_time = np.argsort(s.time, kind="stable")
        t_all, e_all = s.time[by_time], s.event[by_time]
    t_event = t_all[e_all > 0]
    first = np.flatnonzero(np.r_[True, t_event[1:] != t_event[:-1]])
    times, d = t_event[first], np.diff(np.r_[first, t_event.size])
    at_risk = t_all.size - np.searchsorted(t_all, times, side="left")
    before = np.r_[1.0, np.cumprod(1 - d / at_risk)[:-1]]  # left-continuous
    g_time = 1 - before
    g_time = g_time - (d @ g_time) / d.sum()  # centred over events
    # ... at each event time of the fit (per stratum)
    g = g_time[np.searchsorted(times, s.time[s.block_start[s.event_blocks]])]
    p = xs.shape[1]
    u = np.concatenate([np.zeros(p), g @ time_scores(s, xs, fit)])
    imat = np.zeros((2 * p, 2 * p))
    imat[:p, :p] = fit.info
    imat[:p, p:] = imat[p:, :p] = information(s, xs, fit, g)
    imat[p:, p:] = information(s, xs, fit, g**2)
    rows = []
    for label, cols in [*zip(names, terms, strict=True), ("GLOBAL", list(range(p)))]:
        kk = [*range(p), *[p + c for c in cols]]
        uu = u[kk]
        chisq = float(np.linalg.solve(imat[np.ix_(kk, kk)], uu) @ uu)
        rows.append((label, chisq, len(cols), float(chdtrc(len(cols), chisq))))
    return pl.DataFrame(rows, schema=PH_SCHEMA, orient="row")


def tie_ranks(x: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Dense ranks (0, 1, ...) of computed floats, equal within a tolerance.

    Risk scores of identical covariate rows can differ in the last bits depending on the
    BLAS kernel (AVX-512 sums in another order); exact equality would then split one tie in
    two. Sorted values whose gap to the previous one is at most ``rtol`` times the largest
    magnitude (at least 1) share a rank.
    """
    if x.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(x, kind="stable")
    sx = x[order]
    scale = max(1.0, float(np.max(np.abs(sx))))
    new = np.concatenate([[0], (np.diff(sx) > rtol * scale).astype(np.int64)])
    ranks = np.empty(x.size, dtype=np.int64)
    ranks[order] = np.cumsum(new)
    return ranks


def _concordance(time, event, eta, strata, w) -> float:
    """Harrell's C (ties in the predictor count one half, ties found within a tolerance:
    :func:`tie_ranks`), comparable pairs within strata.

    An event at time ``t`` is compared with every row of its stratum still at risk after
    ``t``: later times, and rows censored at ``t``. With rows numbered by stratum, time and
    censoring (``2 * time block + censored``) and scores ranked within strata (each stratum
    its own range of ranks), the comparable rows of lower score are those of a higher number
    and a lower rank: a weighted dominance count (:func:`_dominance`), with no loop over rows.
    """
    event = np.asarray(event) > 0
    strata = np.asarray(strata)
    if not event.any():
        return math.nan
    # score ranks within strata, offset so that each stratum has its own range
    rank = np.empty(time.size, dtype=np.int64)
    offset = 0
    for stratum in np.unique(strata):
        m = strata == stratum
        r = tie_ranks(eta[m])
        rank[m] = r + offset
        offset += int(r.max()) + 1
    order = np.lexsort((~event, time, strata))  # at a tie, events first
    t, e, q, ww, st = time[order], event[order], rank[order], w[order], strata[order]
    n = t.size
    new = np.ones(n, dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (st[1:] != st[:-1])
    block = np.cumsum(new) - 1
    number = 2 * block + ~e
    # comparable weight: the rows after the event's own block's events, within the stratum
    after_events = np.flatnonzero(new)[block] + np.bincount(block, weights=e)[block].astype(int)
    stratum_new = np.ones(n, dtype=bool)
    stratum_new[1:] = st[1:] != st[:-1]
    stratum_end = np.r_[np.flatnonzero(stratum_new)[1:], n][np.cumsum(stratum_new) - 1]
    cum = np.r_[0.0, np.cumsum(ww)]
    comparable = float(ww[e] @ (cum[stratum_end[e]] - cum[after_events[e]]))
    asker = np.where(e, ww, 0.0)
    concordant = _dominance(number, q, asker, ww)
    tied = _ties_above(q, number, asker, ww) if offset < n else 0.0  # all ranks distinct
    return (concordant + tied / 2) / comparable if comparable else math.nan


def _dominance(u: np.ndarray, v: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``a_i b_j`` over the pairs with ``u_i < u_j`` and ``v_i > v_j`` (non-negative
    integers), in O(n log n) array operations.

    One bit of ``u`` at a time, from the lowest: pairs whose ``u`` first differ at bit ``l``
    share ``u >> (l + 1)``, and ``i`` has the bit clear, ``j`` set. Rows sorted by that
    prefix, then ``v`` (``i`` before ``j`` at equal ``v``), give each ``i`` its ``j`` as the
    earlier rows of its group. Each level's order merges the previous level's sorted runs
    (a stable sort, which finds runs). The coordinate with fewer bits is the one split
    (``u_i < u_j, v_i > v_j`` is the same as ``V - v_i < V - v_j, U - u_i > U - u_j``).
    """
    top_u, top_v = int(u.max(initial=0)), int(v.max(initial=0))
    if top_u.bit_length() > top_v.bit_length():
        u, v, top_u, top_v = top_v - v, top_u - u, top_v, top_u
    span = top_v + 1
    order = np.argsort(u * span + v, kind="stable")
    u, v, a, b = u[order], v[order], a[order], b[order]
    total = 0.0
    for level in range(max(top_u, 1).bit_length()):
        group = u >> (level + 1)
        bit = ((u >> level) & 1).astype(bool)
        merge = np.argsort((group * span + v) * 2 + bit, kind="stable")
        u, v, a, b = u[merge], v[merge], a[merge], b[merge]
        group, bit = group[merge], bit[merge]
        total += _pairs_in_order(group, np.where(bit, b, 0.0), np.where(bit, 0.0, a))
    return total


def _pairs_in_order(group: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """Sum of ``first_k second_m`` over positions ``k < m`` of the same ``group`` (sorted)."""
    before = np.cumsum(first) - first  # summed over earlier positions
    new = np.ones(group.size, dtype=bool)
    new[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(new)
    # ... less what lies in earlier groups
    return float(second @ before - np.add.reduceat(second, starts) @ before[starts])


def _ties_above(q: np.ndarray, u: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``a_i b_j`` over the pairs with ``q_i == q_j`` and ``u_i < u_j``."""
    shared = np.bincount(q)[q] > 1  # only rows whose q another row has
    q, u, a, b = q[shared], u[shared], a[shared], b[shared]
    if q.size == 0:
        return 0.0
    order = np.argsort(q * (int(u.max(initial=0)) + 1) + u, kind="stable")
    q, u, a, b = q[order], u[order], a[order], b[order]
    before = np.cumsum(a) - a
    new_group = np.r_[True, q[1:] != q[:-1]]
    new_run = new_group | np.r_[True, u[1:] != u[:-1]]
    run_start = before[new_run][np.cumsum(new_run) - 1]
    group_start = before[new_group][np.cumsum(new_group) - 1]
    # a over earlier rows of the group with a lower u
    return float(b @ (run_start - group_start))


@single_blas_thread
def cox(
    df,
    time: str,
    event: str,
    covariates: Sequence[str],
    ties: Ties = "efron",
    weights: str | None = None,
    cluster: str | None = None,
    strata: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    max_iter: int = 30,
    tol: float = 1e-9,
    ph_test: bool = True,
) -> CoxResult:
    """Cox proportional-hazards model.

    Parameters
    ----------
    df : polars.DataFrame (or pandas)
        ``time`` (>= 0), ``event`` (1/True event), the ``covariates`` (numbers as they are;
        text and booleans as reference-coded dummies against their first level in sorted
        order, R's default), optional ``weights`` (case weights, e.g. inverse-probability
        weights), ``cluster`` (e.g. ``client_id``) and ``strata`` columns. Rows with an empty
        value in any of them are left out (and counted in ``notes``).
    ties : {"efron", "breslow"}
    weights : str, optional
        Imply the robust (sandwich) variance, as for inverse-probability weights.
    cluster : str, optional
        Cluster-robust variance: dfbeta residuals summed within clusters.
    ph_test : bool
        Compute the test of proportional hazards (``CoxResult.ph_test``). With False the
        frame is empty (same columns) and a note says so; every other field is unchanged.

    Returns
    -------
    CoxResult

    References
    ----------
    Cox DR (1972); Efron B (1977); Lin DY, Wei LJ (1989) for the robust variance. Matches
    R's ``coxph(Surv(time, event) ~ ..., ties = , weights = , cluster = , robust = TRUE)``.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError('ties must be "efron" or "breslow"')
    frame = as_polars(df)
    strata_keys = by_list(strata)
    covariates = list(covariates)
    check_columns(frame, time, event, weights, cluster, *covariates, *strata_keys)
    used = [time, event, *covariates, *[c for c in (weights, cluster) if c], *strata_keys]
    complete = frame.drop_nulls(used)
    dropped = frame.height - complete.height
    matrix, terms = design(complete, covariates, reference="first")
    x, names = matrix.to_numpy(), matrix.columns
    if x.size == 0:
        x = np.empty((complete.height, 0))
    t = complete[time].cast(pl.Float64).to_numpy()
    ev = complete[event].cast(pl.Float64).to_numpy()
    w = complete[weights].cast(pl.Float64).to_numpy() if weights else np.ones(t.size)
    st = (
        complete.select(pl.struct(strata_keys).rank("dense")).to_series().to_numpy()
        if strata_keys
        else np.zeros(t.size, dtype=np.int64)
    )
    center = (w[:, None] * x).sum(axis=0) / w.sum()
    xc = x - center
    s = _Sorted(t, ev, st, w, ties)
    xs = xc[s.order]
    beta = np.zeros(len(names))
    observed = (s.w * s.event) @ xs
    fit = evaluate(s, xs, beta, observed)
    for _ in range(max_iter):
        step = np.linalg.solve(fit.info, fit.score)
        new = beta + step
        new_fit = evaluate(s, xs, new, observed)
        halvings = 0
        while new_fit.loglik < fit.loglik and halvings < 20:  # step halving
            new = (beta + new) / 2
            new_fit = evaluate(s, xs, new, observed)
            halvings += 1
        ll, new_ll = fit.loglik, new_fit.loglik
        converged = abs(1 - new_ll / ll) <= tol if ll else abs(new_ll) <= tol
        beta, fit = new, new_fit
        if converged:
            break
    loglik, info = fit.loglik, fit.info
    var = np.linalg.inv(info)
    se = np.sqrt(np.diag(var))
    robust = weights is not None or cluster is not None
    notes = [f"{ties.capitalize()} approximation for tied event times."]
    robust_se = np.full(se.size, np.nan)
    if robust:
        resid = score_residuals(s, xs, fit, ties)
        dfbeta = (resid @ var) * s.w[:, None]
        if cluster:
            groups = np.unique(complete[cluster].to_numpy()[s.order], return_inverse=True)[1]
            dfbeta = np.stack(
                [np.bincount(groups, weights=dfbeta[:, j]) for j in range(dfbeta.shape[1])], axis=1
            )
        robust_var = dfbeta.T @ dfbeta
        robust_se = np.sqrt(np.diag(robust_var))
        notes.append(
            "Robust (sandwich) standard errors"
            + (f", clustered by {cluster}." if cluster else ".")
            + " Tests and intervals use them."
        )
    if dropped:
        notes.append(f"{dropped} row(s) with an empty value were left out.")
    use_se = robust_se if robust else se
    z = z_value(conf_level)
    stat = beta / use_se
    coefficients = pl.DataFrame(
        {
            "term": names,
            "estimate": beta,
            "std_error": se,
            "robust_std_error": robust_se,
            "statistic": stat,
            "p_value": [math.erfc(abs(v) / math.sqrt(2)) for v in stat],
            "ci_low": beta - z * use_se,
            "ci_high": beta + z * use_se,
            "hazard_ratio": np.exp(beta),
            "hr_ci_low": np.exp(beta - z * use_se),
            "hr_ci_high": np.exp(beta + z * use_se),
        }
    ).fill_nan(None)
    conc = _concordance(s.time, s.event, xs @ beta, s.strata, s.w)  # sorted already
    if ph_test:
        zph = _zph(s, xs, fit, terms, covariates)
    else:
        zph = pl.DataFrame(schema=PH_SCHEMA)
        notes.append("The test of proportional hazards was not computed (ph_test=False).")
    return CoxResult(
        coefficients=coefficients.select(COX_COLUMNS),
        n=int(t.size),
        n_events=int(ev.sum()),
        loglik=float(loglik),
        concordance=conc,
        ties=ties,
        ph_test=zph,
        notes=tuple(notes),
    )
