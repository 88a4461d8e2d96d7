"""Which published set to withhold: walks over the links, and bounds from the markers."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from outcomes.disclosure._links import _Links


def _nearest(start: int, neighbours, eligible, cost, true, max_depth: int) -> int | None:
    """Breadth-first from ``start`` over ``neighbours(u)``: the eligible variable with the
    lowest ``cost * (1 + links away)``, then the smaller count."""
    best, best_key = None, None
    frontier, seen, depth = [start], {start}, 0
    while frontier and depth < max_depth:
        nxt = []
        for u in frontier:
            for i in neighbours(u):
                if i in seen:
                    continue
                seen.add(i)
                if eligible(i):
                    key = (cost[i] * (1 + depth), true[i], i)
                    if best_key is None or key < best_key:
                        best, best_key = i, key
                nxt.append(i)
        frontier, depth = nxt, depth + 1
    return best


def _lean_on(v: int, how: dict, cost: np.ndarray, true: np.ndarray, withheld: set) -> int | None:
    """The published set to withhold so that ``v`` is no longer worked out the way it was:
    walking the links that gave it away (a published set ends a walk, a derived one leads on
    to the link that gave it), the nearest cheap published set (:func:`_nearest`)."""
    return _nearest(
        v,
        lambda u: how.get(u, ()) if u == v or how.get(u) else (),
        lambda i: how.get(i) == () and i not in withheld and true[i] > 0,
        cost,
        true,
        max_depth=6,
    )


def _bounds(
    links: _Links,
    n_vars: int,
    exact: set[int],
    small: set[int],
    withheld: set[int],
    true: np.ndarray,
    threshold: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The range each variable can take given what is published, by interval propagation
    over the links: exact sets, withheld small counts in 1..threshold-1, sets withheld to
    protect another at threshold or more, every count whole and non-negative. Catches what
    differencing alone misses, such as two small counts known to add up to 2."""
    lo = np.zeros(n_vars)
    hi = np.full(n_vars, np.inf)
    for i in small:
        lo[i], hi[i] = 1, threshold - 1
    for i in withheld:
        if true[i] >= threshold:
            lo[i] = threshold
    for i in exact:
        lo[i] = hi[i] = true[i]
    relations = [(t, tuple(parts)) for t, parts in links.partitions] + [
        (d, (c, gap)) for c, d, gap in links.nested
    ]
    lo_, hi_ = lo.tolist(), hi.tolist()
    of: dict[int, list[int]] = {}
    for r, (total, parts) in enumerate(relations):
        for v in (total, *parts):
            of.setdefault(v, []).append(r)
    # a work list of the relations whose members changed, until none does (the same fixed
    # point as sweeping over all of them: every step only narrows)
    queue = deque(range(len(relations)))
    queued = [True] * len(relations)
    budget = 100 * max(len(relations), 1)
    while queue and budget:
        budget -= 1
        r = queue.popleft()
        queued[r] = False
        for v in _tighten(*relations[r], lo_, hi_):
            for other in of[v]:
                if not queued[other]:
                    queued[other] = True
                    queue.append(other)
    return np.array(lo_), np.array(hi_)


def _tighten(total: int, parts: tuple[int, ...], lo: list, hi: list) -> list[int]:
    """Narrow the ranges of ``total = sum(parts)`` (whole, non-negative counts) in place;
    the variables whose range changed."""
    inf = math.inf
    p_lo = [lo[v] for v in parts]
    p_hi = [hi[v] for v in parts]
    n_inf = sum(1 for x in p_hi if x == inf)
    finite_hi = sum(x for x in p_hi if x != inf)
    s_lo = sum(p_lo)
    s_hi = inf if n_inf else finite_hi
    changed = []
    new_lo_t, new_hi_t = max(lo[total], s_lo), min(hi[total], s_hi)
    if new_lo_t > lo[total] + 1e-9 or new_hi_t < hi[total] - 1e-9:
        lo[total], hi[total] = new_lo_t, new_hi_t
        changed.append(total)
    for k, v in enumerate(parts):
        if p_hi[k] == inf:
            others_hi = inf if n_inf > 1 else finite_hi
        else:
            others_hi = inf if n_inf else finite_hi - p_hi[k]
        others_lo = s_lo - p_lo[k]
        cand_lo = math.ceil(lo[total] - others_hi - 1e-9) if others_hi != inf else 0
        room = hi[total] - others_lo
        cand_hi = math.floor(room + 1e-9) if room != inf else inf
        if cand_lo > lo[v] + 1e-9:
            lo[v] = cand_lo
            changed.append(v)
        if cand_hi < hi[v] - 1e-9:
            hi[v] = cand_hi
            changed.append(v)
    return changed


def _neighbour_to_withhold(
    v: int, relations_of: dict, exact: set, cost, true, withheld: set
) -> int | None:
    """The published set to withhold for a count that bounds pin: in the link around ``v``
    with the fewest other unknowns (the one that binds it), the cheapest published member;
    failing that, the cheapest published set near ``v`` (cost times one plus the number of
    links away)."""

    def open_members(members):
        return [i for i in members if i in exact and i not in withheld and true[i] > 0]

    links = sorted(
        relations_of.get(v, ()),
        key=lambda m: (sum(1 for i in m if i not in exact and i != v), len(m)),
    )
    for members in links:
        candidates = open_members(members)
        if candidates:
            return min(candidates, key=lambda i: (cost[i], true[i], i))
    return _nearest(
        v,
        lambda u: [i for members in relations_of.get(u, ()) for i in members],
        lambda i: bool(open_members((i,))),
        cost,
        true,
        max_depth=4,
    )
