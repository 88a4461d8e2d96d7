"""Numeric model designs from tidy columns, shared by the Cox model and the propensity model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

Reference = Literal["first", "most_frequent"]


def design(
    frame: pl.DataFrame, covariates: Sequence[str], reference: Reference = "first"
) -> tuple[pl.DataFrame, list[list[int]]]:
    """Reference-coded numeric design, and the design columns of each covariate.

    Text and boolean columns become one 0/1 column per level but the reference, named
    ``column[level]``: the reference is the first level in sorted order (``"first"``, R's
    factor coding) or the most frequent one (``"most_frequent"``, ties broken alphabetically).
    An empty value is a level of its own (``column[missing]``). Number columns enter as they
    are, with empty values set to the median and a ``column[missing]`` indicator when any is
    empty.
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
            if reference == "first":
                levels = sorted(text.unique().to_list())
            else:
                counts = text.value_counts().sort(["count", name], descending=[True, False])
                levels = counts[name].to_list()
            for level in sorted(levels[1:]):
                cols.append((text == level).cast(pl.Float64).alias(f"{name}[{level}]"))
        terms.append(list(range(start, len(cols))))
    return pl.DataFrame(cols, schema={c.name: pl.Float64 for c in cols}), terms
