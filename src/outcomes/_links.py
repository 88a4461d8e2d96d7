"""Rules across rows: rows exported twice, and the link of a session or follow-up to its episode.

Private to :mod:`outcomes.io`; works on :class:`~outcomes._table.Table` (text as codes, so rows
are compared and episodes looked up on small integers) and returns issue rows with the columns
of :data:`outcomes.schema.ISSUE_COLUMNS` (``file`` filled in by the loader).
"""

from __future__ import annotations

import polars as pl

from outcomes._rules import _issue_rows
from outcomes._table import ROW, Table, Text, encode
from outcomes.dataset import empty_issues
from outcomes.schema import SESSION_TOLERANCE_DAYS

#: The date column that orders the rows of one episode, per table.
_DATE_OF = {"attendance": "session_date", "followups": "contact_date"}


def _physical(column: pl.Series | Text) -> pl.Series:
    """Equal values, equal numbers: the codes of text, the physical values of the rest."""
    if isinstance(column, Text):
        return column.codes
    return column.to_physical()


def _candidates(raw: Table, name: str) -> tuple[pl.Series | None, bool]:
    """Rows that might repeat another row (a mask), or None when no row can; and whether the
    rows are held together by episode and dated in order within each.

    A row exported twice repeats every column. So none can when one column holds a different,
    non-empty value on every row (the episode key of enrollments). A session repeats its
    episode and date; when a file holds each episode's rows together, by date (as exports
    usually do), only neighbouring rows can share both, and where no three rows share them a
    copy is the row just before it. Otherwise every row is a candidate.
    """
    everyone = pl.repeat(True, raw.height, eager=True)
    for column in raw.columns.values():
        if (
            isinstance(column, Text)
            and column.values.len() == raw.height
            and column.codes.null_count() == 0
        ):
            return None, True
    date = _DATE_OF.get(name)
    key = raw.columns.get("episode_id")
    if date is None or date not in raw.columns or not isinstance(key, Text):
        return everyone, False
    ep, day = key.codes, _physical(raw.columns[date])
    if ep.null_count() or day.null_count():
        return everyone, False
    e, d = pl.col("e"), pl.col("d")
    same = (e == e.shift(1)).fill_null(False)
    flags = (
        pl.DataFrame([ep.alias("e"), day.alias("d")])
        .lazy()
        .select(
            same.alias("same"),
            (same & (d < d.shift(1))).alias("back"),
            (same & (d == d.shift(1))).fill_null(False).alias("tie"),
        )
        .collect()
    )
    runs = raw.height - int(flags["same"].sum())
    if runs != key.values.len() or flags["back"].any():
        return everyone, False  # not grouped by episode and date
    tie = flags["tie"]
    if not tie.any():
        return None, True
    if (tie & tie.shift(1, fill_value=False)).any():  # three rows or more on one day
        return tie | tie.shift(-1, fill_value=False), True
    # pairs only (two sessions of an episode on one day): a copy is the row just before it
    at = tie.arg_true()
    before = at - 1
    physical = pl.DataFrame(
        [_physical(c).alias(f"c{i}") for i, c in enumerate(raw.columns.values())]
    )
    equal = physical.select(
        pl.all_horizontal(pl.all().gather(at).eq_missing(pl.all().gather(before)))
    ).to_series()
    if not equal.any():
        return None, True
    pairs = pl.concat([at.filter(equal), before.filter(equal)])
    return pl.repeat(False, raw.height, eager=True).scatter(pairs, True), True


def exact_duplicates(raw: Table, name: str = "") -> tuple[Table, pl.DataFrame, bool]:
    """Split off the rows identical, in every column as read, to an earlier row.

    Returns the table without them (each such row is kept once, at its first occurrence),
    one ``exact_duplicate`` warning per dropped copy, naming the row it repeats, and whether
    the rows are held together by episode and dated in order (see :func:`_candidates`).
    Empty values count as equal. Rows that share a key but differ anywhere are left for the
    key rules.
    """
    candidates, grouped = _candidates(raw, name)
    if candidates is None or raw.height < 2:
        return raw, empty_issues(), grouped
    at = candidates.arg_true()
    cols = [f"__c{i}" for i in range(len(raw.columns))]
    physical = pl.DataFrame(
        [_physical(c).gather(at).alias(n) for n, c in zip(cols, raw.columns.values(), strict=True)]
    )
    # equal rows have equal hashes, so all-distinct hashes (the usual answer) settle it; only
    # rows whose hash repeats are then compared whole (which also rules out collisions)
    row_hash = physical.hash_rows()
    if row_hash.n_unique() == physical.height:
        return raw, empty_issues(), grouped
    repeated_hash = row_hash.is_duplicated()
    physical = physical.with_columns(raw.rows_at(at)).filter(repeated_hash)
    copies = (
        physical.with_columns(pl.col(ROW).min().over(cols).alias("__first"))
        .filter(pl.col(ROW) != pl.col("__first"))
        .select(ROW, "__first")
    )
    if not copies.height:
        return raw, empty_issues(), grouped
    dropped, issues = drop_copies(raw, copies)
    return dropped, issues, grouped


def drop_copies(raw: Table, copies: pl.DataFrame) -> tuple[Table, pl.DataFrame]:
    """Drop the rows ``copies`` names (``ROW``, and ``__first``: the row each repeats), with
    one ``exact_duplicate`` warning each."""
    positions = raw.positions(copies[ROW])
    frame = raw.frame(["episode_id"], at=positions).with_columns(copies["__first"])
    issues = _issue_rows(
        frame,
        pl.lit(True),
        "episode_id",
        "exact_duplicate",
        "warning",
        pl.format("row is identical in every column to row {}; kept once", pl.col("__first")),
        value=pl.col("episode_id"),
    )
    return raw.filter(~raw.mask_of(copies[ROW])), issues


def row_hashes(raw: Table) -> pl.Series:
    """A hash of each row's values as read, the same for equal rows wherever they are held
    (a text column's values are hashed once each, whatever codes a chunk gave them)."""
    parts = []
    for i, column in enumerate(raw.columns.values()):
        if isinstance(column, Text):
            null = pl.Series([None], dtype=pl.String).hash(seed=i)[0]
            parts.append(column.values.hash(seed=i).gather(column.codes).fill_null(null))
        else:
            parts.append(column.hash(seed=i))
    return (
        pl.DataFrame([p.alias(f"h{i}") for i, p in enumerate(parts)])
        .select(
            pl.fold(
                pl.lit(0, dtype=pl.UInt64),
                lambda acc, h: (acc * 1_000_003) ^ h,  # wraps around on overflow
                pl.all(),
            )
        )
        .to_series()
    )


def episode_bounds(valid: pl.DataFrame, invalid: pl.DataFrame) -> pl.DataFrame:
    """One row per episode key of the enrollments (typed, with ``ROW``): ``episode_id,
    admit_date, discharge_date, __valid, __enrollment_row`` and ``__enr`` (the position among
    the valid rows). A key of a valid row is on no other row (a repeated key is an error on
    every row holding it); a key on invalid rows only names the first of them."""
    columns = ("episode_id", "admit_date", "discharge_date")
    good = valid.select(
        *columns,
        pl.lit(True).alias("__valid"),
        pl.col(ROW).alias("__enrollment_row"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("__enr"),
    )
    bad = (
        invalid.drop_nulls("episode_id")
        .sort(ROW)
        .unique("episode_id", keep="first", maintain_order=True)
        .select(
            *columns,
            pl.lit(False).alias("__valid"),
            pl.col(ROW).alias("__enrollment_row"),
            pl.lit(None, dtype=pl.UInt32).alias("__enr"),
        )
    )
    bounds = pl.concat([good.drop_nulls("episode_id"), bad], how="vertical")
    # in key order, for lookups by binary search (exports often come sorted: then no sort)
    return bounds if bounds["episode_id"].is_sorted() else bounds.sort("episode_id")


def _look_up(values: pl.Series, bounds: pl.DataFrame) -> pl.DataFrame:
    """The row of ``bounds`` (sorted by ``episode_id``, each key once) of each value, all
    null where a value has none, in the order of ``values``. By binary search: a chunk of a
    session file finds its few episodes among millions without hashing them all."""
    ids = bounds["episode_id"]
    order = None
    if values.null_count() or not values.is_sorted():
        order = values.arg_sort(nulls_last=True)
        values = values.gather(order)
    if ids.len() == 0:
        found = bounds.clear(values.len())
    else:
        at = ids.search_sorted(values.fill_null(""), side="left").clip(0, ids.len() - 1)
        hit = (ids.gather(at) == values).fill_null(False)
        found = bounds.gather(at).select(pl.when(hit).then(pl.all()).name.keep())
    if order is not None:
        found = found.gather(order.arg_sort())
    return found


def link_rules(table: Table, name: str, bounds: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Rules linking attendance or followups rows to their episode.

    ``table`` is typed (its ``episode_id`` stripped text); ``bounds`` is
    :func:`episode_bounds`. Returns the issues, and for each row of ``table`` the position
    among the valid enrollments of its episode (null when it has none). Episodes are looked
    up once per distinct key, and each row reads its episode's bounds by its key's code.
    """
    key = table.columns["episode_id"]
    if not isinstance(key, Text):
        key = encode(key)
    by_code = pl.concat(
        [key.values.to_frame("episode_id"), _look_up(key.values, bounds).drop("episode_id")],
        how="horizontal",
    )
    codes = key.codes
    # each distinct key's state: 0 no key, 1 unknown, 2 its episode excluded, 3 valid
    state = by_code.select(
        pl.when(pl.col("episode_id").is_null())
        .then(0)
        .when(pl.col("__valid").is_null())
        .then(1)
        .when(~pl.col("__valid"))
        .then(2)
        .otherwise(3)
        .cast(pl.UInt8)
        .alias("state")
    ).to_series()
    index = codes.cast(pl.UInt32)
    per_row_state = state.gather(index).fill_null(0) if (state != 3).any() else None

    def rows_where(wanted: int) -> pl.Series:
        if per_row_state is None:  # every key is an episode's: the usual case
            return codes.is_not_null() if wanted == 3 else pl.repeat(False, len(codes), eager=True)
        return per_row_state == wanted

    def rows_of(mask: pl.Series, *extra: str) -> pl.DataFrame:
        at = mask.arg_true()
        frame = table.frame(["episode_id", *[c for c in extra if c in table.columns]], at=at)
        looked_up = by_code.drop("episode_id").select(pl.all().gather(index.gather(at)))
        return frame.hstack(looked_up)

    parts = []
    unknown = rows_where(1)
    if unknown.any():
        parts.append(
            _issue_rows(
                rows_of(unknown),
                pl.lit(True),
                "episode_id",
                "unknown_episode",
                "error",
                "episode_id is not in enrollments",
            )
        )
    excluded = rows_where(2)
    if excluded.any():
        parts.append(
            _issue_rows(
                rows_of(excluded),
                pl.lit(True),
                "episode_id",
                "episode_excluded",
                "error",
                pl.format(
                    "the episode's enrollment row {} has errors, so this row is excluded too",
                    pl.col("__enrollment_row"),
                ),
            )
        )
    valid_rows = rows_where(3)

    def per_row(column: str) -> pl.Expr:  # the row's episode's value, read by the key's code
        return pl.lit(by_code[column].to_physical()).gather(pl.col("i"))

    date_column = "session_date" if name == "attendance" else "contact_date"
    rows = pl.DataFrame(
        [
            index.alias("i"),
            table.series(date_column).to_physical().alias("d"),
            valid_rows.alias("v"),
        ]
    ).lazy()
    valid, date = pl.col("v"), pl.col("d")
    if name == "attendance":
        tol = SESSION_TOLERANCE_DAYS
        warn = (date < per_row("admit_date") - tol) | (date > per_row("discharge_date") + tol)
    else:
        discharge = per_row("discharge_date")
        warn = discharge.is_null() | (date <= discharge)
    looked_up = rows.select(
        (valid & warn.fill_null(False)).alias("warn"), pl.lit(by_code["__enr"]).gather(pl.col("i"))
    ).collect()
    if name == "attendance":
        outside = looked_up["warn"]
        if outside.any():
            parts.append(
                _issue_rows(
                    rows_of(outside, "session_date"),
                    pl.lit(True),
                    "session_date",
                    "session_outside_episode",
                    "warning",
                    pl.format(
                        "session more than "
                        + str(SESSION_TOLERANCE_DAYS)
                        + " days outside its episode ({} to {}); kept but not counted",
                        pl.col("admit_date"),
                        pl.col("discharge_date").cast(pl.String).fill_null("open"),
                    ),
                    value=pl.col("session_date"),
                )
            )
    else:
        before = looked_up["warn"]
        if before.any():
            parts.append(
                _issue_rows(
                    rows_of(before, "contact_date"),
                    pl.lit(True),
                    "contact_date",
                    "contact_before_discharge",
                    "warning",
                    pl.format(
                        "contact is not after discharge ({}); kept but not counted as a "
                        "post-discharge contact",
                        pl.col("discharge_date").cast(pl.String).fill_null("episode open"),
                    ),
                    value=pl.col("contact_date"),
                )
            )
    issues = pl.concat(parts, how="vertical") if parts else empty_issues()
    return issues, looked_up["__enr"]
