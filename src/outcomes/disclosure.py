"""Disclosure control over a whole publication: cells, the counts behind them, and an audit.

Every number a report publishes is a *cell* (one row of a tidy frame: ``table, period,
program, band, measure, value, ci_low, ci_high, numerator, denominator``). Behind each cell
stand one or two *sets of episodes*: a count cell stands for its set, a rate for its
numerator and denominator sets (a rate and its Wilson interval give both away), a median or
mean for the set it summarises, a Kaplan-Meier horizon for the episodes still at risk and the
events by then. Each set carries the keys it was built under (period, program, band, part),
and equal sets are one variable, however many cells show them.

Links between cells are of two kinds, both checked against the episodes themselves:

- *partitions*: a total is the sum of its parts (the length bands of a program, the programs
  of "all programs", the four quarters of a trailing year, the discharge reasons of a group,
  completed plus transferred), found from the keys and kept only where the parts' episodes
  make up the total exactly;
- *nesting*: a set ``c`` inside a set ``d`` (a numerator in its denominator, the readmission
  cohort in the discharges, the episodes at risk at 90 days in those at 30): ``d - c`` is a
  count of its own (the 8 of 20 who did not complete, the deaths between the discharges and
  the readmission cohort), found for every pair of sets.

The protection (:func:`protect`):

1. *Primary*: a count from 1 to ``threshold - 1`` is withheld (``small_count``); a rate or
   statistic resting on fewer than ``threshold`` episodes is withheld (``small_group``); a
   rate whose numerator is from 1 to ``threshold - 1`` is withheld (``small_count``); a
   windowed rate whose window has ended for no discharge is ``not_observable``.
2. *Sensitive counts*: the sets withheld in step 1 and every nested difference ``d - c``
   from 1 to ``threshold - 1``.
3. *Differencing*: what an attacker learns by adding and subtracting is propagated to a fixed
   point: a partition with one unknown member gives it away; a nested difference is known
   when both sets are. Each known count remembers the published sets it came from.
4. *Complementary suppression*: for every sensitive count that became known, the published
   set it leans on that costs least to withhold (fewest cells, then the smallest count) is
   withheld in every cell that shows it (``complementary``), and step 3 runs again.
5. *Audit*: finally, every sensitive count is checked against all linear combinations of the
   published sets at once (it is determined exactly when it lies in the row space of the
   published sets over the atoms of episodes), which catches what chains of partitions miss;
   anything found there is protected as in step 4 and the audit repeats.

Limits, stated in docs/privacy.md: the audit finds every count that *equalities* among the
published figures determine; it does not bound what inequalities (a count known to be 1-10,
or at least 11) narrow, which the test suite's attacker checks with an integer program.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

#: Status of a published cell: what a reader sees in its place (:data:`MARKERS`).
STATUSES = (
    "published",
    "small_count",
    "complementary",
    "small_group",
    "not_observable",
    "none",
)
#: Columns of the cell frame, in order.
CELL_COLUMNS = (
    "table",
    "period",
    "program",
    "band",
    "measure",
    "kind",
    "value",
    "ci_low",
    "ci_high",
    "numerator",
    "denominator",
)


@dataclass(frozen=True)
class Cells:
    """A publication's cells and the sets of episodes behind them.

    Attributes
    ----------
    frame : polars.DataFrame
        :data:`CELL_COLUMNS` plus ``num_set`` and ``den_set`` (int: index into ``sets``, or
        null): the set a count or a rate's numerator stands for, and the rate's or
        statistic's denominator set (a count cell's set is its ``den_set``).
    sets : list of numpy.ndarray
        Sorted episode row numbers of each set (distinct sets: equal sets share an index).
    keys : dict
        ``(period, program, band, part) -> set index``: the definitions each set was built
        under (``part`` is ``discharges`` or ``<measure>:num`` / ``<measure>:den``).
    """

    frame: pl.DataFrame
    sets: list[np.ndarray]
    keys: dict[tuple, int]


class _SetRegistry:
    """Distinct sets of episode rows, equal sets sharing one index."""

    def __init__(self) -> None:
        self.sets: list[np.ndarray] = []
        self.keys: dict[tuple, int] = {}
        self._index: dict[bytes, int] = {}

    def add(self, rows: np.ndarray, key: tuple) -> int:
        rows = np.unique(rows.astype(np.int64))
        content = rows.tobytes()
        if content not in self._index:
            self._index[content] = len(self.sets)
            self.sets.append(rows)
        self.keys[key] = self._index[content]
        return self._index[content]


class CellBuilder:
    """Collects cells with their episode sets (one registry of sets for a publication)."""

    def __init__(self) -> None:
        self.registry = _SetRegistry()
        self.rows: list[dict] = []

    def add(
        self,
        table: str,
        period: str,
        program: str | None,
        band: str | None,
        measure: str,
        kind: str,
        value: float | None,
        ci_low: float | None = None,
        ci_high: float | None = None,
        num_rows: np.ndarray | None = None,
        den_rows: np.ndarray | None = None,
    ) -> None:
        where = (period, program, band)
        part = "discharges" if kind == "count" else measure
        num = None if num_rows is None else self.registry.add(num_rows, (*where, f"{part}:num"))
        den = (
            None
            if den_rows is None
            else self.registry.add(den_rows, (*where, part if kind == "count" else f"{part}:den"))
        )
        self.rows.append(
            {
                "table": table,
                "period": period,
                "program": program,
                "band": band,
                "measure": measure,
                "kind": kind,
                "value": None if value is None or value != value else float(value),
                "ci_low": None if ci_low is None or ci_low != ci_low else float(ci_low),
                "ci_high": None if ci_high is None or ci_high != ci_high else float(ci_high),
                "numerator": None if num_rows is None else int(np.unique(num_rows).size),
                "denominator": None if den_rows is None else int(np.unique(den_rows).size),
                "num_set": num,
                "den_set": den,
                "pending": False,
            }
        )

    def mark_pending(self) -> None:
        """The last cell is a windowed rate whose window has ended for no discharge yet."""
        self.rows[-1]["pending"] = True

    def build(self) -> Cells:
        schema = {
            "table": pl.String,
            "period": pl.String,
            "program": pl.String,
            "band": pl.String,
            "measure": pl.String,
            "kind": pl.String,
            "value": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "numerator": pl.Int64,
            "denominator": pl.Int64,
            "num_set": pl.Int64,
            "den_set": pl.Int64,
            "pending": pl.Boolean,
        }
        frame = pl.DataFrame(self.rows, schema=schema, orient="row")
        from outcomes.intervals import wilson

        low, high = wilson(pl.col("numerator"), pl.col("denominator"))
        is_rate = (pl.col("kind") == "proportion") & (pl.col("denominator") > 0)
        frame = frame.with_columns(
            pl.when(is_rate)
            .then(pl.col("numerator") / pl.col("denominator"))
            .otherwise(pl.col("value"))
            .alias("value"),
            pl.when(is_rate).then(low).otherwise(pl.col("ci_low")).alias("ci_low"),
            pl.when(is_rate).then(high).otherwise(pl.col("ci_high")).alias("ci_high"),
        )
        return Cells(frame, self.registry.sets, self.registry.keys)


# ---------------------------------------------------------------------------------------------
# Atoms: episodes with the same membership across every set.


@dataclass(frozen=True)
class _Atoms:
    matrix: sparse.csr_matrix  # sets x atoms, 0/1
    size: np.ndarray  # episodes in each atom


def _atoms(sets: list[np.ndarray]) -> _Atoms:
    if not sets:
        return _Atoms(sparse.csr_matrix((0, 0)), np.zeros(0, dtype=np.int64))
    rows = np.concatenate(sets)
    owner = np.repeat(np.arange(len(sets)), [s.size for s in sets])
    n_rows = int(rows.max()) + 1 if rows.size else 0
    member = sparse.csc_matrix(
        (np.ones(rows.size, dtype=np.int8), (owner, rows)), shape=(len(sets), n_rows)
    )
    member.sort_indices()
    signatures: dict[bytes, int] = {}
    atom_of = np.full(n_rows, -1, dtype=np.int64)
    for r in range(n_rows):
        start, end = member.indptr[r], member.indptr[r + 1]
        if start == end:
            continue
        key = member.indices[start:end].tobytes()
        atom_of[r] = signatures.setdefault(key, len(signatures))
    used = atom_of >= 0
    size = np.bincount(atom_of[used], minlength=len(signatures))
    pairs = sparse.csr_matrix(
        (np.ones(rows.size), (owner, atom_of[rows])), shape=(len(sets), len(signatures))
    )
    pairs.data[:] = 1.0  # a set holds an atom whole: 0/1 whatever the duplicates
    return _Atoms(pairs.tocsr(), size)


# ---------------------------------------------------------------------------------------------
# Statuses and the audit.


def primary_status(frame: pl.DataFrame, threshold: int) -> pl.Series:
    """Each cell's status before complementary suppression (see the module's step 1)."""
    small = lambda c: pl.col(c).is_between(1, threshold - 1)  # noqa: E731
    kind = pl.col("kind")
    status = (
        pl.when(kind == "count")
        .then(
            pl.when(pl.col("denominator") == 0)
            .then(pl.lit("published"))
            .when(small("denominator"))
            .then(pl.lit("small_count"))
            .otherwise(pl.lit("published"))
        )
        .when(pl.col("pending"))
        .then(pl.lit("not_observable"))
        .when(pl.col("denominator").fill_null(0) == 0)
        .then(pl.lit("none"))
        .when(small("denominator"))
        .then(pl.lit("small_group"))
        .when(pl.col("num_set").is_not_null() & small("numerator"))
        .then(pl.lit("small_count"))
        .otherwise(pl.lit("published"))
    )
    return frame.select(status.alias("status"))["status"]


class _Audit:
    """What adding and subtracting exactly published sets can determine.

    A count ``f @ x`` (x: atom counts) follows from the exactly published sets ``A x = b``
    precisely when ``f`` lies in the row space of ``A``. With ``G = A A^T = U diag(l) U^T``,
    the squared length of the projection of ``f`` on that space is
    ``sum_k (U^T A f)_k^2 / l_k`` over the non-zero ``l_k``; ``f`` is determined when that
    equals ``f @ f`` (to a relative 1e-7: the entries are small integers).
    """

    def __init__(self, atoms: _Atoms, exact: np.ndarray):
        self.ids = exact
        self.a = atoms.matrix[exact].tocsr()
        gram = (self.a @ self.a.T).toarray()
        if gram.size:
            lam, u = np.linalg.eigh(gram)
            keep = lam > 1e-9 * max(lam.max(), 1.0)
            self.lam, self.u = lam[keep], u[:, keep]
        else:
            self.lam, self.u = np.zeros(0), np.zeros((0, 0))

    def determined(self, forms: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Which forms (rows of atom coefficients) the exact sets determine, and for each
        determined one the weights of the exact sets in the least-squares combination that
        yields it (exact sets x determined forms)."""
        if not self.lam.size or forms.shape[0] == 0:
            return np.zeros(forms.shape[0], dtype=bool), np.zeros((self.ids.size, 0))
        g = self.u.T @ np.asarray((self.a @ forms.T).todense())
        projected = (g**2 / self.lam[:, None]).sum(axis=0)
        norm = np.asarray(forms.multiply(forms).sum(axis=1)).ravel()
        det = np.abs(norm - projected) <= 1e-7 * np.maximum(norm, 1.0)
        return det, self.u @ (g[:, det] / self.lam[:, None])


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
    n_sets = m.shape[0]
    by_content = {m[i].indices.tobytes(): i for i in range(n_sets)}
    partitions: set[tuple[int, tuple[int, ...]]] = set()

    def exact(total: int, parts: list[int]) -> bool:
        got = np.zeros(m.shape[1])
        for p in parts:
            got[m[p].indices] += 1
        want = np.zeros(m.shape[1])
        want[m[total].indices] = 1
        return bool(np.array_equal(got, want))

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
    for c, d, both in zip(inter.row, inter.col, inter.data, strict=True):
        if c == d or abs(both - true[c]) > 0.5 or true[d] - true[c] < 0.5:
            continue
        if not group_of[c] & group_of[d]:
            continue  # parts of other groups: protected as cells of their own
        diff = (m[d] - m[c]).tocsr()
        diff.eliminate_zeros()
        other = by_content.get(diff.indices.tobytes())
        if other is not None:
            partitions.add((int(d), tuple(sorted((int(c), other)))))
            continue
        gap = n_sets + len(gap_value)
        nested.append((int(c), int(d), gap))
        gap_value.append(true[d] - true[c])
        gap_rows.append(diff)
    gap_form = sparse.vstack(gap_rows).tocsr() if gap_rows else sparse.csr_matrix((0, m.shape[1]))
    return _Links(sorted(partitions), nested, np.asarray(gap_value, dtype=float), gap_form)


def _propagate(links: _Links, exact: set[int]) -> dict[int, tuple[int, ...]]:
    """Every variable differencing can work out, with the members of the link it came from
    (an empty tuple for a set published exactly)."""
    how: dict[int, tuple[int, ...]] = {i: () for i in exact}
    changed = True
    while changed:
        changed = False
        for total, parts in links.partitions:
            members = (total, *parts)
            unknown = [v for v in members if v not in how]
            if len(unknown) == 1:
                how[unknown[0]] = tuple(v for v in members if v != unknown[0])
                changed = True
        for c, d, gap in links.nested:
            if gap not in how and c in how and d in how:
                how[gap] = (c, d)
                changed = True
    return how


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


def protect(
    cells: Cells,
    threshold: int,
    max_rounds: int = 200,
    progress: bool = False,
    priority: np.ndarray | None = None,
    explain: list | None = None,
    complementary: bool = True,
) -> pl.DataFrame:
    """Statuses for every cell of a publication: primary suppression, then complementary
    suppression until no sensitive count can be worked out (see the module's steps).

    Parameters
    ----------
    cells : Cells
        The publication (:class:`CellBuilder` output).
    threshold : int
        Smallest count that may be shown.
    priority : numpy.ndarray of bool or float, optional
        What withholding each cell (row of ``cells.frame``) costs: bool marks cells to
        withhold only as a last resort (a set shown by one of them costs ten times as much);
        floats give each cell's cost directly (default 1 for every cell).
    complementary : bool
        False: primary suppression only (what small-cell suppression alone gives; for
        showing what the audit protects against, never for publishing).

    Returns
    -------
    polars.DataFrame
        ``cells.frame`` with a ``status`` column (:data:`STATUSES`); ``value``, ``ci_low``,
        ``ci_high``, ``numerator`` and ``denominator`` emptied wherever the status is not
        ``published`` (a count cell of zero keeps its zero).
    """
    frame = cells.frame.with_columns(primary_status(cells.frame, threshold))
    atoms = _atoms(cells.sets)
    n_sets = len(cells.sets)
    true = np.asarray(atoms.matrix @ atoms.size, dtype=float) if n_sets else np.zeros(0)
    links = _links(cells, atoms, true)
    small = _small_sets(frame)
    small_gaps = [
        gap for _, _, gap in links.nested if 1 <= links.gap_value[gap - n_sets] <= threshold - 1
    ]
    sensitive = sorted(small) + small_gaps
    withheld: set[int] = set()
    full_true = np.concatenate([true, links.gap_value])
    relations_of: dict[int, list[tuple[int, ...]]] = {}
    for total, parts in links.partitions:
        for v in (total, *parts):
            relations_of.setdefault(v, []).append((total, *parts))
    for c, d, gap in links.nested:
        for v in (c, d, gap):
            relations_of.setdefault(v, []).append((c, d, gap))

    def say(text):
        if progress:
            print(f"  disclosure: {text}", file=sys.stderr)

    forms = _forms(atoms, links, sensitive, n_sets)
    for round_no in range(max_rounds if complementary else 0):
        shown = _apply_withheld(frame, withheld)
        exact = set(_exact_sets(shown).tolist())
        known = _propagate(links, exact)
        disclosed = [v for v in sensitive if v in known]
        if not disclosed:
            audit = _Audit(atoms, np.array(sorted(exact), dtype=np.int64))
            det, weights = audit.determined(forms)
            disclosed = [v for v, d in zip(sensitive, det, strict=True) if d]
            say(f"round {round_no + 1}: row-space audit finds {len(disclosed)}")
            if not disclosed:
                n_vars = n_sets + links.gap_value.size
                lo, hi = _bounds(links, n_vars, exact, small, withheld, full_true, threshold)
                pinned = [v for v in sensitive if hi[v] - lo[v] < 0.5]
                say(f"round {round_no + 1}: bounds find {len(pinned)}")
                if not pinned:
                    break
                cost = _withhold_cost(shown, n_sets, priority)
                for v in pinned:
                    choice = _neighbour_to_withhold(
                        v, relations_of, exact, cost, full_true, withheld
                    )
                    if choice is not None:
                        withheld.add(choice)
                        if explain is not None:
                            explain.append((v, choice, ("bounds",)))
                continue
            cost = _withhold_cost(shown, n_sets, priority)
            for k, v in enumerate(disclosed):
                # the sets carrying most of the combination, cheapest per unit of weight
                w = np.abs(weights[:, k])
                heavy = np.flatnonzero(w >= 0.1 * w.max())
                choice = int(min(audit.ids[heavy], key=lambda i: (cost[i], true[i], i)))
                withheld.add(choice)
                if explain is not None:
                    explain.append((v, choice, ("audit",)))
        else:
            say(f"round {round_no + 1}: differencing finds {len(disclosed)}")
            cost = _withhold_cost(shown, n_sets, priority)
            for v in disclosed:
                choice = _lean_on(v, known, cost, true, withheld)
                if choice is not None:
                    withheld.add(choice)
                    if explain is not None:
                        explain.append((v, choice, known[v]))
    else:
        if complementary:
            raise RuntimeError("disclosure control did not settle; report this as a bug")
    frame = _apply_withheld(frame, withheld)
    exact = pl.lit(pl.Series(_exact_sets(frame), dtype=pl.Int64).implode())
    blank = pl.col("status") != "published"
    keep_zero = (pl.col("kind") == "count") & (pl.col("denominator") == 0)
    hidden_n = (pl.col("kind") == "statistic") & ~pl.col("den_set").is_in(exact).fill_null(False)
    return frame.with_columns(
        *[
            pl.when(blank & ~keep_zero).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("value", "ci_low", "ci_high", "numerator")
        ],
        pl.when((blank & ~keep_zero) | hidden_n)
        .then(None)
        .otherwise(pl.col("denominator"))
        .alias("denominator"),
    )


def _apply_withheld(frame: pl.DataFrame, withheld: set[int]) -> pl.DataFrame:
    ids = pl.lit(pl.Series(sorted(withheld), dtype=pl.Int64).implode())
    shows = pl.col("num_set").is_in(ids) | pl.col("den_set").is_in(ids)
    return frame.with_columns(
        pl.when(
            (pl.col("status") == "published")
            & (pl.col("kind") != "statistic")
            & shows.fill_null(False)
        )
        .then(pl.lit("complementary"))
        .otherwise(pl.col("status"))
        .alias("status")
    )


def _withhold_cost(
    frame: pl.DataFrame, n_sets: int, priority: np.ndarray | None = None
) -> np.ndarray:
    """How many published cells show each set (what withholding it costs), priority cells
    counting ten (or each cell its own cost, when ``priority`` holds floats)."""
    cost = np.zeros(n_sets)
    if priority is None:
        weight = np.ones(frame.height)
    elif priority.dtype == bool:
        weight = np.where(priority, 10.0, 1.0)
    else:
        weight = priority.astype(float)
    published = ((frame["status"] == "published") & (frame["kind"] != "statistic")).to_numpy()
    for col in ("num_set", "den_set"):
        ids = frame[col].to_numpy()
        ok = published & ~np.isnan(ids.astype(float))
        np.add.at(cost, ids[ok].astype(np.int64), weight[ok])
    return cost


def _exact_sets(shown: pl.DataFrame) -> np.ndarray:
    """The sets that the cells show exactly: a published count its set, a published rate or
    survival horizon its numerator and denominator (a rate and its interval give both), a
    cell with nothing to count its empty set. A median or mean does not give its count away
    (its cell publishes no denominator unless another cell shows that set)."""
    published = shown.filter(pl.col("status") == "published", pl.col("kind") != "statistic")
    empty = shown.filter(pl.col("status").is_in(["none", "not_observable"]))
    ids = pl.concat([published["num_set"], published["den_set"], empty["den_set"]])
    return np.unique(ids.drop_nulls().to_numpy()).astype(np.int64)


def _small_sets(frame: pl.DataFrame) -> set[int]:
    """The sets withheld by primary suppression: a small count, a rate's small numerator, a
    small group."""
    out: set[int] = set()
    for r in frame.filter(pl.col("status").is_in(["small_count", "small_group"])).iter_rows(
        named=True
    ):
        use_num = r["status"] == "small_count" and r["num_set"] is not None
        i = r["num_set"] if use_num else r["den_set"]
        if i is not None:
            out.add(int(i))
    return out


def _forms(atoms: _Atoms, links: _Links, variables: list[int], n_sets: int) -> sparse.csr_matrix:
    """Atom coefficients of sets and gap variables."""
    rows = [atoms.matrix[v] if v < n_sets else links.gap_form[v - n_sets] for v in variables]
    if not rows:
        return sparse.csr_matrix((0, atoms.size.size))
    return sparse.vstack(rows).tocsr()


def discharge_quarters(first: dt.date, last: dt.date) -> list[str]:
    """Every quarter from the one holding ``first`` to the last full one ending by ``last``."""
    from outcomes.metrics import period_bounds, shift_quarter

    q = f"{first.year}Q{(first.month - 1) // 3 + 1}"
    out = []
    while period_bounds(q)[1] <= last:
        out.append(q)
        q = shift_quarter(q, 1)
    return out
