"""Risk-set sums of the Cox partial likelihood in O(n p^2), without n x p x p arrays.

Rows are sorted by stratum and time once. Each distinct event time contributes one Breslow
term, or under Efron's approximation one term per tied event with the fraction ``k / d`` of
the tied events' risk removed. Writing ``S0, S1, S2`` for the risk-set sums of ``r``, ``r x``
and ``r x x'`` (``r = w exp(x'b)``) and ``D0, D1, D2`` for the same sums over the tied events,
step ``k`` of event time ``t`` (weight ``c``, the tied events' mean weight) has

    den = S0 - f D0,  xbar = (S1 - f D1) / den,  f = k / d,

and adds ``c (S2 - f D2) / den - c xbar xbar'`` to the information. Summed over steps and
times, the ``S2`` and ``D2`` parts are ``sum_i r_i x_i x_i' a_i``: row ``i`` is in the risk set
of every event time up to its own, so ``a_i`` is the cumulative sum over those times of
``sum_k c / den`` less, for an event row, its own time's ``sum_k c f / den``. The information
is then one ``X' diag(r a) X`` less ``sum_steps c xbar xbar'``: two matrix products, no loop
over times or steps, and the risk-set sums ``S0, S1`` are suffix sums taken only at event
times.
"""

from __future__ import annotations

from dataclasses import dataclass
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
        new_time = np.r_[True, eb_of_row[1:] != eb_of_row[:-1]]
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

    def risk_set(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (rows x ...) over the risk set of each event time: the rows of
        its stratum at or after it."""
        per_block = np.add.reduceat(values, self.block_start, axis=0)
        total = np.cumsum(per_block[::-1], axis=0)[::-1]
        total = np.concatenate([total, np.zeros((1, *values.shape[1:]))])
        eb = self.event_blocks
        return total[eb] - total[self.next_stratum_block[eb]]

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
    """The partial likelihood and its derivatives at one ``beta``, with the per-step pieces."""

    loglik: float
    score: np.ndarray
    info: np.ndarray
    risk: np.ndarray  # exp(x'b), sorted rows
    r: np.ndarray  # weight * risk
    den: np.ndarray  # per step
    xbar: np.ndarray  # per step, steps x p


def _per_event_time(s: _Sorted, per_step: np.ndarray) -> np.ndarray:
    """Sum a per-step array over the steps of each event time."""
    if per_step.shape[0] == 0:
        return np.zeros((0, *per_step.shape[1:]))
    return np.add.reduceat(per_step, s.step_starts, axis=0)


def evaluate(s: _Sorted, x: np.ndarray, beta: np.ndarray) -> _Evaluation:
    """Log partial likelihood, score and information at ``beta`` (x: sorted rows, centred)."""
    eta = x @ beta
    risk = np.exp(eta)
    r = risk * s.w
    rx = r[:, None] * x
    f = s.step_frac
    te = s.step_event_time
    s0 = s.risk_set(r)[te]
    s1 = s.risk_set(rx)[te]
    ev = s.event_rows
    if s.event_rows.size:
        d0 = np.add.reduceat(r[ev], s.event_row_starts)
        d1 = np.add.reduceat(rx[ev], s.event_row_starts, axis=0)
    else:
        d0, d1 = np.zeros(0), np.zeros((0, x.shape[1]))
    den = s0 - f * d0[te]
    xbar = (s1 - f[:, None] * d1[te]) / den[:, None]
    wt = s.step_weight
    wev = s.w * s.event
    loglik = float(wev @ eta - wt @ np.log(den))
    score = wev @ x - wt @ xbar
    info = information(s, x, r, den, xbar)
    return _Evaluation(loglik, score, info, risk, r, den, xbar)


def information(s: _Sorted, x, r, den, xbar, c: np.ndarray | None = None) -> np.ndarray:
    """``sum_t c_t V_t``: the information of each event time weighted by ``c`` (one per event
    time; without ``c``, the information matrix)."""
    wt = s.step_weight if c is None else s.step_weight * c[s.step_event_time]
    h = wt / den
    per_row = s.through(_per_event_time(s, h))
    per_row[s.event_rows] -= _per_event_time(s, h * s.step_frac)[s.event_time_of_row]
    return (x * (r * per_row)[:, None]).T @ x - (xbar * wt[:, None]).T @ xbar


def residual_pieces(s: _Sorted, e: _Evaluation):
    """Per event time: ``sum_k h_k``, ``sum_k h_k xbar_k``, ``sum_k f_k h_k``, ``sum_k f_k h_k
    xbar_k`` (``h_k = c / den_k``) and the mean over steps of ``xbar_k``, with the risks."""
    h = s.step_weight / e.den
    fh = s.step_frac * h
    return (
        e.risk,
        _per_event_time(s, h),
        _per_event_time(s, h[:, None] * e.xbar),
        _per_event_time(s, fh),
        _per_event_time(s, fh[:, None] * e.xbar),
        _per_event_time(s, e.xbar) / s.n_steps[:, None],
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
    return observed - _per_event_time(s, s.step_weight[:, None] * e.xbar)
