"""Numeric model designs from tidy columns, shared by the Cox model and the propensity model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from outcomes.errors import CovariateError

Reference = Literal["first", "most_frequent"]

#: A text covariate with more levels than this is refused (never one-hot encoded) ...
MAX_LEVELS = 50
#: ... and so is one with more than this many levels and more levels than half the rows.
MAX_LEVELS_PER_ROW_FROM = 10


def design(
    frame: pl.DataFrame,
    covariates: Sequence[str],
    reference: Reference = "first",
    min_level: int = 0,
) -> tuple[pl.DataFrame, list[list[int]]]:
    """Reference-coded numeric design, and the design columns of each covariate.

    Text and boolean columns become one 0/1 column per level but the reference, named
    ``column[level]``: the reference is the first level in sorted order (``"first"``, R's
    factor coding) or the most frequent one (``"most_frequent"``, ties broken alphabetically).
    An empty value is a level of its own (``column[missing]``). Number columns enter as they
    are, with empty values set to the median and a ``column[missing]`` indicator when any is
    empty.

    ``min_level``: text levels met in fewer rows than this are pooled into one level named
    ``column[rare: a, b]`` (forcats' ``fct_lump_min``); when the pooled level is itself
    rarer than ``min_level``, its rows join the reference level. A handful of episodes in a
    level otherwise gives it an unbounded coefficient (perfect separation) whenever they all
    fall in one program or share one outcome.
    """
    cols: list[pl.Series] = []
    terms: list[list[int]] = []
    for name in covariates:
        s = frame[name]
        start = len(cols)
        if s.dtype.is_numeric():
            values = s.cast(pl.Float64)
            if values.null_count():
                cols.append(values.is_null().cast(pl.Float64).alias(f"{name}[missing]"))
                values = values.fill_null(values.median())
            cols.append(values.alias(name))
        else:
            text = s.cast(pl.String).fill_null("missing")
            n_levels = text.n_unique()
            if n_levels > MAX_LEVELS or (
                n_levels > MAX_LEVELS_PER_ROW_FROM and n_levels > frame.height / 2
            ):
                raise CovariateError(
                    f"covariate {name!r} has {n_levels} distinct values in {frame.height} rows: "
                    f"too many to one-hot encode (at most {MAX_LEVELS}, and at most half the "
                    "rows); group its values into a few categories or leave it out"
                )
            if min_level > 0:
                counts = text.value_counts()
                rare = sorted(counts.filter(pl.col("count") < min_level)[name].to_list())
                if rare and len(rare) < counts.height:
                    pooled = int(counts.filter(pl.col(name).is_in(rare))["count"].sum())
                    common = counts.filter(~pl.col(name).is_in(rare)).sort(
                        ["count", name], descending=[True, False]
                    )
                    label = f"rare: {', '.join(rare)}" if pooled >= min_level else common[name][0]
                    text = text.replace(rare, [label] * len(rare))
            if reference == "first":
                levels = sorted(text.unique().to_list())
            else:
                counts = text.value_counts().sort(["count", name], descending=[True, False])
                levels = counts[name].to_list()
            for level in sorted(levels[1:]):
                cols.append((text == level).cast(pl.Float64).alias(f"{name}[{level}]"))
        terms.append(list(range(start, len(cols))))
    return pl.DataFrame(cols, schema={c.name: pl.Float64 for c in cols}), terms
