"""Small-cell suppression: what may be published (METRICS.md "Small-cell suppression").

Any published count from 1 to ``threshold - 1`` is shown as ``<threshold``; a rate whose
numerator or denominator is from 1 to ``threshold - 1`` is suppressed. Where a suppressed cell
could be recovered from a published total (the only suppressed cell among cells that add up to
the total), the next smallest cell of that set is suppressed too, and so on until no set has
exactly one suppressed cell. Zero is shown. This follows the CMS cell-size suppression policy
(values 1-10 never shown, nor derivable from other cells).

Suppression happens once, at publication: the metrics and models compute raw numbers, and this
module turns a table into a publishable one with ``suppressed`` and ``display`` columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

DEFAULT_THRESHOLD = 11

#: What a reader sees in place of a cell that is not published, by status
#: (:data:`outcomes.disclosure.STATUSES`): one legend for every table and chart.
MARKERS = {
    "small_count": "<{t}",
    "small_count_rate": "(s)",
    "small_group": "(s)",
    "complementary": "(c)",
    "not_observable": "(p)",
    "none": "–",
}


def legend(threshold: int = DEFAULT_THRESHOLD) -> tuple[str, ...]:
    """The markers' meanings, one line each (the report prints them once, under every
    table that uses them)."""
    return (
        f"<{threshold}: a count from 1 to {threshold - 1}, not shown.",
        f"(s): withheld: fewer than {threshold} episodes in the group, or fewer than "
        f"{threshold} with the outcome.",
        "(c): withheld so that a hidden count cannot be worked out from other figures "
        "(the count itself is not small).",
        "(p): not yet observable: no discharge had reached the end of this window by the "
        "data's as-of date.",
        "–: nothing to count.",
    )


#: Metrics that are counts (shown as whole numbers).
COUNT_METRICS = ("admissions", "discharges")
#: Metrics shown as percentages (proportions and the mean attendance rate).
PERCENT_METRICS = r"_rate$|^step_down_|^readmission_|^relapse_|^discharge_reason_"


def is_small(count: pl.Expr, threshold: int = DEFAULT_THRESHOLD) -> pl.Expr:
    """Whether a count must not be shown: from 1 to ``threshold - 1`` (zero is shown)."""
    return count.is_between(1, threshold - 1)


def suppress_counts(
    table: pl.DataFrame,
    count: str,
    groups: Sequence[str] = (),
    threshold: int = DEFAULT_THRESHOLD,
    *,
    total_published: bool = True,
) -> pl.DataFrame:
    """Suppress a column of counts, with complementary suppression within groups.

    Parameters
    ----------
    table : polars.DataFrame
        One row per cell, with an integer column ``count``.
    count : str
        The column of counts.
    groups : sequence of str
        Columns whose values define the sets of cells that add up to a published total (e.g.
        ``("period",)`` when each period's total is published beside its cells). Empty: the
        whole table is one set.
    threshold : int
        Smallest count that may be shown (default 11).
    total_published : bool
        Whether the totals of the sets are published (then complementary suppression applies).

    Returns
    -------
    polars.DataFrame
        ``table`` with two more columns: ``suppressed`` (bool) and ``display`` (str: the count,
        or ``<threshold`` for suppressed cells; a cell suppressed only to protect another shows
        ``<threshold`` too, so readers cannot tell them apart).
    """
    _check_threshold(threshold)
    n = table[count]
    suppressed = n.is_between(1, threshold - 1).fill_null(False)
    if "suppressed" in table.columns:  # suppressing a published table again changes nothing
        suppressed = suppressed | table["suppressed"].fill_null(False)
        table = table.drop("suppressed", "display", strict=False)
    if total_published and table.height:
        suppressed = _complementary(table, count, list(groups), suppressed)
    return table.with_columns(
        pl.Series("suppressed", suppressed, dtype=pl.Boolean),
        pl.when(pl.Series(suppressed))
        .then(pl.lit(f"<{threshold}"))
        .otherwise(n.cast(pl.String))
        .alias("display"),
    )


def suppress_metrics(
    table: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD, digits: int = 1
) -> pl.DataFrame:
    """Suppress the long metric table (``metric, value, ci_low, ci_high, numerator, denominator``).

    A row is suppressed when its numerator or denominator is from 1 to ``threshold - 1``: its
    value, interval, numerator and denominator are then hidden. For count metrics (no
    numerator: ``admissions``, ``discharges``) the value is the count. Complementary
    suppression runs within each metric (and period, when the table has one) across the groups
    of the table, against the ungrouped total that a report publishes beside them: the next
    smallest denominator of that metric is suppressed too.

    Returns
    -------
    polars.DataFrame
        ``table`` with ``suppressed`` (bool) and ``display`` (str: ``value`` as a percentage for
        rates and shares, the number otherwise, ``<threshold`` when suppressed; ``n/a`` when
        undefined).
    """
    _check_threshold(threshold)
    small = is_small(pl.col("numerator"), threshold).fill_null(False) | is_small(
        pl.col("denominator"), threshold
    ).fill_null(False)
    flagged = table.with_columns(small.alias("__small"))
    suppressed = flagged["__small"]
    if table.height:
        sets = ["metric", *(["period"] if "period" in table.columns else [])]
        suppressed = _complementary(flagged, "denominator", sets, suppressed)
    is_rate = pl.col("metric").str.contains(PERCENT_METRICS)
    shown = (
        pl.when(pl.col("value").is_null())
        .then(pl.lit("n/a"))
        .when(is_rate)
        .then((pl.col("value") * 100).round(digits).cast(pl.String) + "%")
        .when(pl.col("metric").is_in(COUNT_METRICS))
        .then(pl.col("value").cast(pl.Int64).cast(pl.String))
        .otherwise(pl.col("value").round(digits).cast(pl.String))
    )
    return (
        flagged.drop("__small")
        .with_columns(pl.Series("suppressed", suppressed, dtype=pl.Boolean))
        .with_columns(
            pl.when(pl.col("suppressed"))
            .then(pl.lit(f"<{threshold}"))
            .otherwise(shown)
            .alias("display"),
            *[
                pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c)
                for c in ("value", "ci_low", "ci_high", "numerator", "denominator")
            ],
        )
    )


def _complementary(
    table: pl.DataFrame, count: str, groups: list[str], suppressed: pl.Series
) -> pl.Series:
    """Add complementary suppressions until no group has exactly one suppressed cell.

    In a group with exactly one suppressed cell, the smallest other cell with a positive count
    is suppressed too (zeros reveal nothing and stay shown). Groups of one cell are left alone:
    their only cell is the total itself.
    """
    work = table.select(
        pl.int_range(pl.len()).alias("__i"),
        (
            pl.concat_str(
                [pl.col(g).cast(pl.String).fill_null("\x00") for g in groups], separator="\x1f"
            )
            if groups
            else pl.lit("")
        ).alias("__g"),
        pl.col(count).alias("__n"),
    ).with_columns(pl.Series("__s", suppressed))
    while True:
        per_group = work.group_by("__g").agg(
            pl.col("__s").sum().alias("k"), pl.len().alias("cells")
        )
        lone = per_group.filter((pl.col("k") == 1) & (pl.col("cells") > 1))["__g"]
        if lone.is_empty():
            return work["__s"]
        candidates = (
            work.filter(pl.col("__g").is_in(lone.implode()), ~pl.col("__s"), pl.col("__n") > 0)
            .sort("__n", "__i")
            .group_by("__g", maintain_order=True)
            .first()
        )
        if candidates.is_empty():  # the others are zeros: nothing left to protect with
            return work["__s"]
        work = work.with_columns(
            (pl.col("__s") | pl.col("__i").is_in(candidates["__i"].implode())).alias("__s")
        )


def _check_threshold(threshold: int) -> None:
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
