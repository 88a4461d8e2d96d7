"""Primary and complementary suppression over the whole publication."""

from __future__ import annotations

import sys

import numpy as np
import polars as pl

from outcomes.disclosure._atoms import _atoms, _Audit
from outcomes.disclosure._cells import Cells
from outcomes.disclosure._links import _forms, _links, _propagate
from outcomes.disclosure._search import _bounds, _lean_on, _neighbour_to_withhold


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
    audit: _Audit | None = None  # carried from round to round; rebuilt before it may pass
    clean: set[int] | None = None  # exact sets a fresh audit found nothing determined by
    for round_no in range(max_rounds if complementary else 0):
        shown = _apply_withheld(frame, withheld)
        exact = set(_exact_sets(shown).tolist())
        known = _propagate(links, exact)
        disclosed = [v for v in sensitive if v in known]
        if not disclosed:
            if clean is not None and exact <= clean:
                found = np.zeros(0, dtype=np.int64)  # fewer sets than a clean audit had
            else:
                audit, found = _audit_round(audit, atoms, exact, forms)
                if not found.size:
                    clean = set(exact)
            disclosed = [sensitive[k] for k in found]
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
            for k in found:
                # the sets carrying most of the combination, cheapest per unit of weight
                w = np.abs(audit.weights(int(k)))
                heavy = np.flatnonzero(w >= 0.1 * w.max())
                choice = int(min(audit.ids[heavy], key=lambda i: (cost[i], true[i], i)))
                withheld.add(choice)
                if explain is not None:
                    explain.append((sensitive[k], choice, ("audit",)))
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


def _audit_round(audit: _Audit | None, atoms, exact: set[int], forms) -> tuple[_Audit, np.ndarray]:
    """The row-space audit of this round: the forms the exact sets determine.

    The previous round's decomposition is brought up to date by taking out the sets no
    longer exact (they only ever leave), which costs a rank-one update each instead of a new
    eigendecomposition. When the updated audit finds nothing, a fresh one decides, so what
    is published never rests on accumulated rounding. (Once a fresh audit of some exact sets
    finds nothing, none of their subsets can determine anything either: the caller skips the
    audit while the exact sets stay among those.)
    """
    if audit is not None:
        gone = np.flatnonzero(audit.active & ~np.isin(audit.ids, list(exact)))
        for row in gone:
            audit.withhold(int(row))
        found = np.flatnonzero(audit.determined())
        if found.size:
            return audit, found
    audit = _Audit(atoms, np.array(sorted(exact), dtype=np.int64), forms)
    return audit, np.flatnonzero(audit.determined())


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
