"""Links between sets: partitions and nested pairs, and what differencing works out from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from outcomes.disclosure._atoms import _Atoms
from outcomes.disclosure._cells import Cells


@dataclass(frozen=True)
class _Links:
    """Partitions (total, parts) and nested pairs (c, d, gap variable) over set indices;
    gap variables are numbered after the sets."""

    partitions: list[tuple[int, tuple[int, ...]]]
    nested: list[tuple[int, int, int]]
    gap_value: np.ndarray
    gap_form: sparse.csr_matrix


def _links(cells: Cells, atoms: _Atoms, true: np.ndarray) -> _Links:
    m = atoms.matrix.tocsr()
    m.sort_indices()
    n_sets = m.shape[0]
    row = [m.indices[m.indptr[i] : m.indptr[i + 1]] for i in range(n_sets)]  # sorted atoms
    by_content = {r.tobytes(): i for i, r in enumerate(row)}
    partitions: set[tuple[int, tuple[int, ...]]] = set()

    def exact(total: int, parts: list[int]) -> bool:
        # the parts are disjoint and together hold the total's atoms, each exactly once
        joined = np.sort(np.concatenate([row[p] for p in parts]))
        return bool(np.array_equal(joined, row[total]))

    def add(total, parts):
        parts = tuple(sorted(p for p in parts if true[p] > 0))
        if total is None or len(parts) < 2 or total in parts or not exact(total, list(parts)):
            return
        partitions.add((total, parts))

    keys = cells.keys
    groups: dict[tuple, dict[str, list[int]]] = {}
    for (period, program, band, part), i in keys.items():
        # bands of a program, programs of all, quarters of a trailing year
        if band is not None:
            groups.setdefault(("band", period, program, part), {}).setdefault("p", []).append(i)
        elif program != "all programs":
            groups.setdefault(("program", period, part), {}).setdefault("p", []).append(i)
        if "-" not in period:
            groups.setdefault(("quarter", program, band, part), {}).setdefault(period, []).append(i)
    for (kind, *rest), members in groups.items():
        if kind == "band":
            period, program, part = rest
            add(keys.get((period, program, None, part)), members["p"])
        elif kind == "program":
            period, part = rest
            add(keys.get((period, "all programs", None, part)), members["p"])
    trailing = {k[0] for k in keys if "-" in k[0]}
    for ty in trailing:
        from outcomes.metrics import shift_quarter

        last = ty.split("-")[1]
        quarters = [shift_quarter(last, -k) for k in range(4)]
        for (period, program, band, part), i in keys.items():
            if period != ty:
                continue
            parts = [keys.get((q, program, band, part)) for q in quarters]
            if all(p is not None for p in parts):
                add(i, parts)
    # reasons of a group; completed or transferred
    from outcomes.schema import DISCHARGE_REASONS

    for (period, program, band, part), i in keys.items():
        if part == "discharges":
            parts = [
                keys.get((period, program, band, f"discharge_reason_{r}:num"))
                for r in DISCHARGE_REASONS
            ]
            if all(p is not None for p in parts):
                add(i, parts)
        if part == "completion_or_transfer_rate:num":
            parts = [
                keys.get((period, program, band, "completion_rate:num")),
                keys.get((period, program, band, "discharge_reason_transferred:num")),
            ]
            if all(p is not None for p in parts):
                add(i, parts)
    # nested pairs (c inside d): a registered set may be the difference, else a gap variable
    weighted = m.multiply(atoms.size[None, :]).tocsr()
    inter = (weighted @ m.T).tocoo()
    nested, gap_value, gap_rows = [], [], []
    group_of: dict[int, set[tuple]] = {}
    for (period, program, band, _), i in keys.items():
        group_of.setdefault(i, set()).add((period, program, band))
    inside = (
        (inter.row != inter.col)
        & (np.abs(inter.data - true[inter.row]) <= 0.5)  # every episode of c is in d
        & (true[inter.col] - true[inter.row] >= 0.5)  # and d has more
    )
    for c, d in zip(inter.row[inside], inter.col[inside], strict=True):
        if not group_of[c] & group_of[d]:
            continue  # parts of other groups: protected as cells of their own
        keep = np.ones(row[d].size, dtype=bool)
        keep[np.searchsorted(row[d], row[c])] = False
        diff = row[d][keep]  # d's atoms outside c, sorted
        other = by_content.get(diff.tobytes())
        if other is not None:
            partitions.add((int(d), tuple(sorted((int(c), other)))))
            continue
        gap = n_sets + len(gap_value)
        nested.append((int(c), int(d), gap))
        gap_value.append(true[d] - true[c])
        gap_rows.append(diff)
    lengths = np.array([g.size for g in gap_rows], dtype=np.int64)
    gap_form = sparse.csr_matrix(
        (
            np.ones(int(lengths.sum())),
            np.concatenate(gap_rows) if gap_rows else np.zeros(0, dtype=np.int64),
            np.concatenate([[0], np.cumsum(lengths)]),
        ),
        shape=(len(gap_rows), m.shape[1]),
    )
    return _Links(sorted(partitions), nested, np.asarray(gap_value, dtype=float), gap_form)


def _propagate(links: _Links, exact: set[int]) -> dict[int, tuple[int, ...]]:
    """Every variable differencing can work out, with the members of the link it came from
    (an empty tuple for a set published exactly)."""
    how: dict[int, tuple[int, ...]] = {i: () for i in exact}
    # passes over the links in their order until none gives a new variable; a link whose
    # members are all known can give nothing more and leaves the next passes
    partitions = [(total, *parts) for total, parts in links.partitions]
    nested = list(links.nested)
    changed = True
    while changed:
        changed = False
        live = []
        for members in partitions:
            unknown = [v for v in members if v not in how]
            if len(unknown) == 1:
                how[unknown[0]] = tuple(v for v in members if v != unknown[0])
                changed = True
            elif unknown:
                live.append(members)
        partitions = live
        live = []
        for c, d, gap in nested:
            if gap in how:
                continue
            if c in how and d in how:
                how[gap] = (c, d)
                changed = True
            else:
                live.append((c, d, gap))
        nested = live
    return how


def _forms(atoms: _Atoms, links: _Links, variables: list[int], n_sets: int) -> sparse.csr_matrix:
    """Atom coefficients of sets and gap variables."""
    rows = [atoms.matrix[v] if v < n_sets else links.gap_form[v - n_sets] for v in variables]
    if not rows:
        return sparse.csr_matrix((0, atoms.size.size))
    return sparse.vstack(rows).tocsr()
