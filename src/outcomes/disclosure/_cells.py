"""A publication's cells and the sets of episodes behind them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

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
        rows = rows.astype(np.int64)
        if rows.size > 1 and not (rows[1:] > rows[:-1]).all():  # usually sorted already
            rows = np.unique(rows)
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


def discharge_quarters(first: dt.date, last: dt.date) -> list[str]:
    """Every quarter from the one holding ``first`` to the last full one ending by ``last``."""
    from outcomes.metrics import period_bounds, shift_quarter

    q = f"{first.year}Q{(first.month - 1) // 3 + 1}"
    out = []
    while period_bounds(q)[1] <= last:
        out.append(q)
        q = shift_quarter(q, 1)
    return out
