"""Risk-set sums of the Cox partial likelihood in O(n p^2), without n x p x p arrays.

Rows are sorted by stratum and time once. Each distinct event time contributes one Breslow
term, or under Efron's approximation one term per tied event with the fraction ``f = k / d``
of the tied events' risk removed. Writing ``R0, R1, R2`` for the sums of ``r``, ``r x`` and
``r x x'`` (``r = w exp(x'b)``) over the rows at risk after the tied events (later times, and
rows censored at the time) and ``D0, D1, D2`` for the same sums over the ``d`` tied events,
step ``k`` of an event time (weight ``c``, the tied events' mean weight; Breslow: one step,
``f = 0``, ``c`` their summed weight) has, with ``g = 1 - f``,

    den = R0 + g D0,  m = R1 + g D1,  xbar = m / den,

adds ``c log(den)`` to minus the log likelihood, ``c xbar`` to minus the score and
``c (R2 + g D2) / den - c m m' / den^2`` to the information. Summed over steps, each event
time needs only the scalars ``sum_k c/den``, ``sum_k c g/den`` and ``sum_k c g^j/den^2``
(j = 0, 1, 2) times its ``R1, D1``. Summed over times, the ``R2`` and ``D2`` parts are
``sum_i r_i x_i x_i' a_i``: row ``i`` is at risk at every event time up to its own, so
``a_i`` is the cumulative sum over those times of ``sum_k c/den`` less, for an event row, its
own time's ``sum_k c f/den``. The information is one ``X' diag(r a) X`` less three products
of the event times' ``R1, D1``: no loop over times or steps, no n x p x p array. ``R`` and
``D`` are sums over the segments (tied events; rows after them) of the sorted rows, then
reverse cumulative sums over segments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

Ties = Literal["efron", "breslow"]


class _Sorted:
    """Rows sorted by stratum and time (events first at a tie), and the Efron/Breslow steps."""

    def __init__(self, time, event, strata, weights, ties: Ties = "efron"):
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
        self.n_blocks = self.block_start.size
        stratum_new = np.ones(n, dtype=bool)
        stratum_new[1:] = self.strata[1:] != self.strata[:-1]
        block_stratum = np.cumsum(stratum_new[self.block_start]) - 1
        first_block = np.flatnonzero(stratum_new[self.block_start])
        # for each block, the last block of the previous strata (-1: none) and the first
        # block of the next stratum (n_blocks: none)
        self.block_before_stratum = first_block[block_stratum] - 1
        self.next_stratum_block = np.r_[first_block[1:], self.n_blocks][block_stratum]
        self.d = np.bincount(self.block, weights=self.event, minlength=self.n_blocks)
        self.wd = np.bincount(self.block, weights=self.event * self.w, minlength=self.n_blocks)
        self.has_event = self.d > 0
        self.event_blocks = np.flatnonzero(self.has_event)
        self.event_rows = np.flatnonzero(self.event > 0)
        # event rows of one block are contiguous (events first): where each block's start
        eb_of_row = self.block[self.event_rows]
        new_time = np.ones(eb_of_row.size, dtype=bool)
        new_time[1:] = eb_of_row[1:] != eb_of_row[:-1]
        self.event_row_starts = np.flatnonzero(new_time)
        # index among the event times of each event row's time
        self.event_time_of_row = np.cumsum(new_time) - 1
        if ties == "efron":  # one step per tied event, k = 0 .. d - 1
            self.step_block = eb_of_row
            d = self.d[eb_of_row]
            self.step_frac = (self.event_rows - self.block_start[eb_of_row]) / d
            self.step_weight = self.wd[eb_of_row] / d
            self.step_starts = self.event_row_starts
            self.step_event_time = self.event_time_of_row
        else:  # one step per event time
            self.step_block = self.event_blocks
            self.step_frac = np.zeros(self.event_blocks.size)
            self.step_weight = self.wd[self.event_blocks]
            self.step_starts = np.arange(self.event_blocks.size)
            self.step_event_time = self.step_starts
        self.n_steps = np.diff(np.r_[self.step_starts, self.step_block.size])
        # segments of the sorted rows: each block's tied events, and the rest of the block
        after = self.block_start + self.d.astype(np.int64)
        self.bounds = np.unique(np.r_[self.block_start, after[after < n]])
        eb = self.event_blocks
        next_start = np.r_[self.block_start, n][self.next_stratum_block[eb]]
        self.seg_events = np.searchsorted(self.bounds, self.block_start[eb])
        self.seg_after = np.searchsorted(self.bounds, after[eb])
        self.seg_next = np.searchsorted(self.bounds, next_start)

    def risk_sums(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each event time, the sum of ``values`` (rows x ...) over the rows at risk after
        its tied events (``R``), and over its tied events (``D``)."""
        seg = np.add.reduceat(values, self.bounds, axis=0)
        total = np.cumsum(seg[::-1], axis=0)[::-1]
        total = np.concatenate([total, np.zeros((1, *values.shape[1:]))])
        return total[self.seg_after] - total[self.seg_next], seg[self.seg_events]

    def through(self, per_event_time: np.ndarray) -> np.ndarray:
        """For each row, the sum of ``per_event_time`` over event times up to its own time,
        within its stratum."""
        per_block = np.zeros((self.n_blocks + 1, *per_event_time.shape[1:]))
        per_block[self.event_blocks] = per_event_time
        c = np.cumsum(per_block, axis=0)
        c[-1] = 0.0  # the "block before the first stratum" of index -1
        return c[self.block] - c[self.block_before_stratum[self.block]]


@dataclass(frozen=True)
class _Evaluation:
    """The partial likelihood and its derivatives at one ``beta``, with what residuals and
    the proportional-hazards test need."""

    loglik: float
    score: np.ndarray
    info: np.ndarray
    risk: np.ndarray  # exp(x'b), sorted rows
    r: np.ndarray  # weight * risk
    den: np.ndarray  # per step
    r1: np.ndarray  # per event time, times x p: R1 and D1 of the module's notation
    d1: np.ndarray


def _per_time(s: _Sorted, per_step: np.ndarray) -> np.ndarray:
    """Sum a per-step array over the steps of each event time."""
    return np.bincount(s.step_event_time, weights=per_step, minlength=s.event_blocks.size)


def evaluate(
    s: _Sorted, x: np.ndarray, beta: np.ndarray, observed: np.ndarray | None = None
) -> _Evaluation:
    """Log partial likelihood, score and information at ``beta`` (x: sorted rows, centred;
    ``observed``: ``sum w event x``, the same at every ``beta``)."""
    if observed is None:
        observed = (s.w * s.event) @ x
    eta = x @ beta
    risk = np.exp(eta)
    r = risk * s.w
    r0, d0 = s.risk_sums(r)
    r1, d1 = s.risk_sums(r[:, None] * x)
    te, g = s.step_event_time, 1 - s.step_frac
    den = r0[te] + g * d0[te]
    h = s.step_weight / den
    loglik = float(observed @ beta - s.step_weight @ np.log(den))
    score = observed - _per_time(s, h) @ r1 - _per_time(s, h * g) @ d1
    e = _Evaluation(loglik, score, np.zeros(0), risk, r, den, r1, d1)
    return replace(e, info=information(s, x, e))


def information(s: _Sorted, x: np.ndarray, e: _Evaluation, c: np.ndarray | None = None):
    """``sum_t c_t V_t``: the information of each event time weighted by ``c`` (one per event
    time; without ``c``, the information matrix)."""
    wt = s.step_weight if c is None else s.step_weight * c[s.step_event_time]
    h = wt / e.den
    g = 1 - s.step_frac
    per_row = s.through(_per_time(s, h))
    per_row[s.event_rows] -= _per_time(s, h * s.step_frac)[s.event_time_of_row]
    q = h / e.den
    c0, c1, c2 = _per_time(s, q), _per_time(s, q * g), _per_time(s, q * g * g)
    cross = (e.r1 * c1[:, None]).T @ e.d1
    mm = (e.r1 * c0[:, None]).T @ e.r1 + cross + cross.T + (e.d1 * c2[:, None]).T @ e.d1
    return (x * (e.r * per_row)[:, None]).T @ x - mm


def residual_pieces(s: _Sorted, e: _Evaluation):
    """Per event time: ``sum_k h_k``, ``sum_k h_k xbar_k``, ``sum_k f_k h_k``, ``sum_k f_k h_k
    xbar_k`` (``h_k = c / den_k``) and the mean over steps of ``xbar_k``, with the risks."""
    f, g = s.step_frac, 1 - s.step_frac
    h = s.step_weight / e.den
    q = h / e.den

    def combine(a, b):  # sum over steps of a * R1 + b * D1 (xbar = (R1 + g D1) / den)
        return _per_time(s, a)[:, None] * e.r1 + _per_time(s, b)[:, None] * e.d1

    inv = 1 / e.den
    return (
        e.risk,
        _per_time(s, h),
        combine(q, q * g),
        _per_time(s, f * h),
        combine(f * q, f * q * g),
        combine(inv, inv * g) / s.n_steps[:, None],
    )


def score_residuals(s: _Sorted, x: np.ndarray, e: _Evaluation, ties: Ties) -> np.ndarray:
    """Unweighted score residuals per row (R's residuals(type = "score")), sorted order."""
    risk, hsum, hx, frac_h, frac_hx, xbar_mean = residual_pieces(s, e)
    # cumulative hazard pieces over event times, within stratum, up to each row's time
    resid = -risk[:, None] * (x * s.through(hsum)[:, None] - s.through(hx))
    dead = s.event_rows
    t = s.event_time_of_row
    xm = xbar_mean[t] if ties == "efron" else (hx / hsum[:, None])[t]
    resid[dead] += (x[dead] - xm) + risk[dead, None] * (x[dead] * frac_h[t, None] - frac_hx[t])
    return resid


def time_scores(s: _Sorted, x: np.ndarray, e: _Evaluation) -> np.ndarray:
    """Each event time's score (its summed Schoenfeld residuals), event times x p."""
    wx = (s.w[s.event_rows])[:, None] * x[s.event_rows]
    observed = np.add.reduceat(wx, s.event_row_starts, axis=0) if s.event_rows.size else wx
    h = s.step_weight / e.den
    return (
        observed
        - _per_time(s, h)[:, None] * e.r1
        - _per_time(s, h * (1 - s.step_frac))[:, None] * e.d1
    )
