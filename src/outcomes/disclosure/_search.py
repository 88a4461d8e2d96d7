"""Which published set to withhold: walks over the links, and bounds from the markers."""

from __future__ import annotations

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
    relations = [(t, list(parts)) for t, parts in links.partitions] + [
        (d, [c, gap]) for c, d, gap in links.nested
    ]
    for _ in range(100):
        changed = False
        for total, parts in relations:
            p_lo, p_hi = lo[parts], hi[parts]
            infinite = np.isinf(p_hi)
            n_inf, finite_hi = int(infinite.sum()), p_hi[~infinite].sum()
            s_lo, s_hi = p_lo.sum(), (np.inf if n_inf else finite_hi)
            new_lo_t, new_hi_t = max(lo[total], s_lo), min(hi[total], s_hi)
            if new_lo_t > lo[total] + 1e-9 or new_hi_t < hi[total] - 1e-9:
                lo[total], hi[total] = new_lo_t, new_hi_t
                changed = True
            for k, v in enumerate(parts):
                if infinite[k]:
                    others_hi = np.inf if n_inf > 1 else finite_hi
                else:
                    others_hi = np.inf if n_inf else finite_hi - p_hi[k]
                others_lo = s_lo - p_lo[k]
                cand_lo = np.ceil(lo[total] - others_hi - 1e-9) if np.isfinite(others_hi) else 0
                cand_hi = np.floor(hi[total] - others_lo + 1e-9)
                if cand_lo > lo[v] + 1e-9:
                    lo[v] = cand_lo
                    changed = True
                if cand_hi < hi[v] - 1e-9:
                    hi[v] = cand_hi
                    changed = True
        if not changed:
            break
    return lo, hi


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
