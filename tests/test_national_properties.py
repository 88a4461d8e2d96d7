"""Properties of the benchmark table on any harmonised TEDS-D discharges."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.national import TedsD, benchmarks

ROW = st.tuples(
    st.sampled_from([2018, 2019, -9]),  # year
    st.sampled_from([36, 37, -9]),  # state
    st.sampled_from([5, 6, -9]),  # service
    st.sampled_from([1, 2, 3, 4, 5, 6, 7, -9]),  # reason
    st.sampled_from([*range(1, 38), -9]),  # los
    st.sampled_from([1, 2, -9]),  # sex
)
COLUMNS = ["year", "state", "service", "reason", "los", "sex"]


def teds_of(rows) -> TedsD:
    data = pl.DataFrame(rows, schema={c: pl.Int16 for c in COLUMNS}, orient="row")
    return TedsD(data=data, issues=pl.DataFrame(), files=pl.DataFrame())


@settings(deadline=None)
@given(
    st.lists(ROW, min_size=1, max_size=120),
    st.sampled_from([[], ["service"], ["state", "sex"], ["year", "service"]]),
)
def test_table_invariants(rows, by):
    table = benchmarks(teds_of(rows), by=by)
    rates = table.filter(
        pl.col("measure").str.starts_with("reason_")
        | pl.col("measure").is_in(
            ["completion", "completion_or_transfer", "dropped_out", "terminated"]
        )
    )
    assert (rates["numerator"] >= 0).all() and (rates["numerator"] <= rates["denominator"]).all()
    defined = rates.filter(pl.col("denominator") > 0)
    error = (defined["value"] - defined["numerator"] / defined["denominator"]).abs()
    assert (error < 1e-12).all()
    assert (defined["ci_low"] <= defined["value"] + 1e-12).all()
    assert (defined["value"] <= defined["ci_high"] + 1e-12).all()
    los = table.filter(pl.col("measure").str.starts_with("los_"), pl.col("value").is_not_null())
    assert (los["ci_low"] <= los["value"]).all()
    assert (
        los.filter(pl.col("ci_high").is_not_null())
        .select((pl.col("value") <= pl.col("ci_high")).all())
        .item()
    )
    discharges = table.filter(pl.col("measure") == "discharges")["denominator"].sum()
    assert discharges == len(rows), "every row is in exactly one group"
    mix = defined.filter(pl.col("measure").str.starts_with("reason_"))
    keys = by or [pl.lit(0).alias("_all")]
    sums = mix.group_by(keys).agg(pl.col("value").sum())["value"].to_list() if mix.height else []
    assert sums == pytest.approx([1.0] * len(sums), abs=1e-9)
    known = sum(r[3] != -9 for r in rows)
    completion = table.filter(pl.col("measure") == "completion")["denominator"].sum()
    assert completion == known, "a missing reason leaves only the rates' denominators"


@settings(deadline=None, max_examples=50)
@given(st.lists(ROW, min_size=1, max_size=80), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(rows, random):
    shuffled = list(rows)
    random.shuffle(shuffled)
    by = ["service", "state"]
    assert benchmarks(teds_of(rows), by=by).equals(benchmarks(teds_of(shuffled), by=by))
