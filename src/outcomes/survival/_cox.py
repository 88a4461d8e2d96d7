"""Cox proportional-hazards regression (Efron or Breslow ties, weights, strata, clusters).

Newton-Raphson on the partial likelihood, with every risk-set sum a reverse cumulative sum
over time-sorted rows (no loop over subjects); the robust variance is the grouped dfbeta
sandwich of R's ``coxph``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from outcomes._design import design
from outcomes._threads import single_blas_thread
from outcomes.intervals import z_value
from outcomes.survival._common import as_polars, by_list, check_columns

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
Ties = Literal["efron", "breslow"]


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
        the covariate's hazard ratio changes over follow-up.
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


class _Sorted:
    """Rows sorted by stratum and time, with the index of each row's distinct event time."""

    def __init__(self, time, event, strata, weights):
        order = np.lexsort((-event, time, strata))
        self.order = order
        self.time, self.event = time[order], event[order]
        self.strata, self.w = strata[order], weights[order]
        n = time.size
        # first row of each (stratum, time) block; risk sets are "this row and later"
        new = np.ones(n, dtype=bool)
        new[1:] = (self.time[1:] != self.time[:-1]) | (self.strata[1:] != self.strata[:-1])
        self.block = np.cumsum(new) - 1
        self.block_start = np.flatnonzero(new)
        stratum_end = np.ones(n, dtype=bool)
        stratum_end[:-1] = self.strata[1:] != self.strata[:-1]
        self.stratum_last = np.flatnonzero(stratum_end)
        self.n_blocks = self.block_start.size
        self.d = np.bincount(self.block, weights=self.event, minlength=self.n_blocks)
        self.wd = np.bincount(self.block, weights=self.event * self.w, minlength=self.n_blocks)
        self.has_event = self.d > 0

    def reverse_cumsum(self, values: np.ndarray) -> np.ndarray:
        """Sum over rows at or after each block start, within the stratum (values: n x ...)."""
        total = np.cumsum(values[::-1], axis=0)[::-1]
        # remove what lies in later strata
        nxt = self.stratum_last + 1
        stratum_index = np.cumsum(np.r_[0, (self.strata[1:] != self.strata[:-1])])
        valid = nxt < self.time.size
        tail = np.zeros((self.stratum_last.size, *values.shape[1:]))
        tail[valid] = total[nxt[valid]]
        after = tail[stratum_index]
        return (total - after)[self.block_start]


def _sums(s: _Sorted, x: np.ndarray, beta: np.ndarray, ties: Ties, per_time: bool = False):
    """Log partial likelihood, score, information and the per-time pieces residuals need.

    With ``per_time``, also each event time's information ``V_t`` and score ``S_t`` (the
    summed Schoenfeld residuals), which the proportional-hazards test needs."""
    eta = x @ beta
    risk = np.exp(eta)
    r = risk * s.w
    p = x.shape[1]
    s0 = s.reverse_cumsum(r)
    s1 = s.reverse_cumsum(r[:, None] * x)
    s2 = s.reverse_cumsum(r[:, None, None] * x[:, :, None] * x[:, None, :])
    ev = s.event
    d0 = np.bincount(s.block, weights=r * ev, minlength=s.n_blocks)
    d1 = np.stack(
        [np.bincount(s.block, weights=r * ev * x[:, j], minlength=s.n_blocks) for j in range(p)],
        axis=1,
    )
    d2 = np.zeros((s.n_blocks, p, p))
    for j in range(p):
        for k in range(j, p):
            d2[:, j, k] = d2[:, k, j] = np.bincount(
                s.block, weights=r * ev * x[:, j] * x[:, k], minlength=s.n_blocks
            )
    loglik = float((s.w * ev * eta).sum())
    score = (s.w * ev)[:, None] * x
    score = score.sum(axis=0)
    info = np.zeros((p, p))
    e = s.has_event
    d = s.d[e]
    steps = int(d.max()) if ties == "efron" and d.size else 1
    # per event time: sum_k h_k, sum_k h_k xbar_k, sum_k (k/d) h_k, sum_k (k/d) h_k xbar_k,
    # mean over k of xbar_k (residuals need them)
    hsum = np.zeros(d.size)
    hx = np.zeros((d.size, p))
    frac_h = np.zeros(d.size)
    frac_hx = np.zeros((d.size, p))
    xbar_mean = np.zeros((d.size, p))
    meanwt = s.wd[e] / d if ties == "efron" else s.wd[e]
    v_t = np.zeros((d.size, p, p)) if per_time else None
    s_t = (
        np.stack(
            [
                np.bincount(s.block, weights=s.w * ev * x[:, j], minlength=s.n_blocks)[e]
                for j in range(p)
            ],
            axis=1,
        )
        if per_time
        else None
    )
    for k in range(steps):
        active = k < d if ties == "efron" else np.ones(d.size, dtype=bool)
        frac = np.where(active, k / d, 0.0) if ties == "efron" else np.zeros(d.size)
        den = s0[e] - frac * d0[e]
        m1 = s1[e] - frac[:, None] * d1[e]
        m2 = s2[e] - frac[:, None, None] * d2[e]
        wt = np.where(active, meanwt, 0.0)
        loglik -= float((wt * np.log(np.where(active, den, 1.0))).sum())
        xbar = m1 / den[:, None]
        score -= (wt[:, None] * xbar).sum(axis=0)
        v_k = (wt / den)[:, None, None] * m2 - wt[:, None, None] * xbar[:, :, None] * xbar[
            :, None, :
        ]
        info += v_k.sum(axis=0)
        if per_time:
            v_t += v_k
            s_t -= wt[:, None] * xbar
        h = wt / den
        hsum += h
        hx += h[:, None] * xbar
        frac_h += frac * h
        frac_hx += (frac * h)[:, None] * xbar
        xbar_mean += np.where(active, 1.0, 0.0)[:, None] * xbar
    xbar_mean /= (d if ties == "efron" else np.ones(d.size))[:, None]
    pieces = (risk, hsum, hx, frac_h, frac_hx, xbar_mean)
    if per_time:
        return loglik, score, info, pieces, v_t, s_t
    return loglik, score, info, pieces


def _score_residuals(s: _Sorted, x: np.ndarray, pieces, ties: Ties) -> np.ndarray:
    """Unweighted score residuals per row (R's residuals(type = "score")), sorted order."""
    risk, hsum, hx, frac_h, frac_hx, xbar_mean = pieces
    p = x.shape[1]
    e = s.has_event
    # cumulative hazard pieces over event times, within stratum, up to each row's time
    block_h = np.zeros(s.n_blocks)
    block_hx = np.zeros((s.n_blocks, p))
    block_h[e], block_hx[e] = hsum, hx
    stratum_of_block = s.strata[s.block_start]
    start = np.r_[True, stratum_of_block[1:] != stratum_of_block[:-1]]
    group = np.cumsum(start) - 1

    def within_cumsum(v):
        c = np.cumsum(v, axis=0)
        first = np.flatnonzero(start)
        before = np.r_[0, first[1:]] - 1
        base = np.where(
            (before >= 0)[:, None] if c.ndim > 1 else before >= 0, c[np.maximum(before, 0)], 0
        )
        offset = base[group]
        return c - offset

    ch = within_cumsum(block_h)[s.block]
    chx = within_cumsum(block_hx)[s.block]
    resid = -risk[:, None] * (x * ch[:, None] - chx)
    if ties == "efron":
        fh = np.zeros(s.n_blocks)
        fhx = np.zeros((s.n_blocks, p))
        fh[e], fhx[e] = frac_h, frac_hx
        xm = np.zeros((s.n_blocks, p))
        xm[e] = xbar_mean
    else:
        fh, fhx = np.zeros(s.n_blocks), np.zeros((s.n_blocks, p))
        xm = np.zeros((s.n_blocks, p))
        xm[e] = hx / hsum[:, None]
    dead = s.event > 0
    b = s.block[dead]
    resid[dead] += (x[dead] - xm[b]) + risk[dead, None] * (x[dead] * fh[b, None] - fhx[b])
    return resid


class _Fenwick:
    """Prefix sums of weights by rank, O(log n) per update and query."""

    def __init__(self, size: int):
        self.size = size + 1
        self.tree = np.zeros(self.size)

    def add(self, i: int, v: float) -> None:
        i += 1
        while i < self.size:
            self.tree[i] += v
            i += i & -i

    def total(self, i: int) -> float:
        """Weight of ranks 0..i."""
        i += 1
        out = 0.0
        while i > 0:
            out += self.tree[i]
            i -= i & -i
        return out


def _zph(
    s: _Sorted,
    xs: np.ndarray,
    beta: np.ndarray,
    ties: Ties,
    time,
    event,
    terms: list[list[int]],
    names: list[str],
) -> pl.DataFrame:
    """Score test of proportional hazards per term and globally (R's cox.zph, km transform).

    The model gains ``x * g(t)`` with ``g`` one minus the left-continuous Kaplan-Meier of all
    subjects (centred over events); the score of those terms at zero, against the information
    of the expanded model, is chi-square with one degree of freedom per column.
    """
    *_, v_t, s_t = _sums(s, xs, beta, ties, per_time=True)
    times, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=event, minlength=times.size)
    n = np.cumsum(np.bincount(inv, minlength=times.size)[::-1])[::-1]
    km = np.cumprod(1 - d / n)
    before = np.concatenate([[1.0], km])[np.searchsorted(times, time, side="left")]
    g_subject = 1 - before
    g_subject = g_subject - g_subject[event > 0].mean()
    g = g_subject[s.order][s.block_start][s.has_event]  # g at each event time
    p = xs.shape[1]
    u = np.concatenate([np.zeros(p), (g[:, None] * s_t).sum(axis=0)])
    imat = np.zeros((2 * p, 2 * p))
    imat[:p, :p] = v_t.sum(axis=0)
    imat[:p, p:] = imat[p:, :p] = np.einsum("t,tjk->jk", g, v_t)
    imat[p:, p:] = np.einsum("t,tjk->jk", g**2, v_t)
    from scipy import stats  # imported here: scipy.stats alone takes a second to import

    rows = []
    for label, cols in [*zip(names, terms, strict=True), ("GLOBAL", list(range(p)))]:
        kk = [*range(p), *[p + c for c in cols]]
        uu = u[kk]
        chisq = float(np.linalg.solve(imat[np.ix_(kk, kk)], uu) @ uu)
        rows.append((label, chisq, len(cols), float(stats.chi2.sf(chisq, len(cols)))))
    return pl.DataFrame(rows, schema=["term", "chisq", "df", "p_value"], orient="row")


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
    :func:`tie_ranks`), comparable pairs within strata."""
    concordant = discordant = tied = 0.0
    for stratum in np.unique(strata):
        m = strata == stratum
        t, e, x, ww = time[m], event[m], eta[m], w[m]
        ranks = tie_ranks(x)
        tree = _Fenwick(int(ranks.max()) + 1)
        add, total = tree.add, tree.total
        order = np.lexsort((e, -t))  # later times first; at a tie, censored before events
        all_w = 0.0
        pending: list[int] = []
        last_t = None
        for idx in order:
            if last_t is not None and t[idx] != last_t:
                for j in pending:
                    add(ranks[j], ww[j])
                    all_w += ww[j]
                pending = []
            if e[idx]:
                below = total(ranks[idx] - 1) if ranks[idx] > 0 else 0.0
                same = total(ranks[idx]) - below
                concordant += ww[idx] * below
                tied += ww[idx] * same
                discordant += ww[idx] * (all_w - below - same)
            else:
                add(ranks[idx], ww[idx])
                all_w += ww[idx]
                continue
            pending.append(idx)
            last_t = t[idx]
    comparable = concordant + discordant + tied
    return (concordant + tied / 2) / comparable if comparable else math.nan


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
    s = _Sorted(t, ev, st, w)
    xs = xc[s.order]
    beta = np.zeros(len(names))
    loglik, score, info, pieces = _sums(s, xs, beta, ties)
    for _ in range(max_iter):
        step = np.linalg.solve(info, score)
        new = beta + step
        new_ll, new_score, new_info, new_pieces = _sums(s, xs, new, ties)
        halvings = 0
        while new_ll < loglik and halvings < 20:  # step halving
            new = (beta + new) / 2
            new_ll, new_score, new_info, new_pieces = _sums(s, xs, new, ties)
            halvings += 1
        converged = abs(1 - new_ll / loglik) <= tol if loglik else abs(new_ll) <= tol
        beta, loglik, score, info, pieces = new, new_ll, new_score, new_info, new_pieces
        if converged:
            break
    var = np.linalg.inv(info)
    se = np.sqrt(np.diag(var))
    robust = weights is not None or cluster is not None
    notes = [f"{ties.capitalize()} approximation for tied event times."]
    robust_se = np.full(se.size, np.nan)
    if robust:
        resid = _score_residuals(s, xs, pieces, ties)
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
    conc = _concordance(t, ev, xc @ beta, st, w)
    ph_test = _zph(s, xs, beta, ties, t, ev, terms, covariates)
    return CoxResult(
        coefficients=coefficients.select(COX_COLUMNS),
        n=int(t.size),
        n_events=int(ev.sum()),
        loglik=float(loglik),
        concordance=conc,
        ties=ties,
        ph_test=ph_test,
        notes=tuple(notes),
    )
