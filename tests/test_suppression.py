"""Small-cell suppression (METRICS.md; CMS cell-size policy): hand cases and properties."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outcomes.suppression import suppress_counts, suppress_metrics


def test_primary_and_complementary_by_hand():
    # row totals are published: 40 + 5 + 12 = 57. 5 is primary; alone it could be recovered
    # (57 - 40 - 12), so the next smallest, 12, is suppressed too.
    t = pl.DataFrame({"site": ["A", "B", "C"], "n": [40, 5, 12]})
    out = suppress_counts(t, "n")
    assert out["display"].to_list() == ["40", "<11", "<11"]
    assert out["suppressed"].to_list() == [False, True, True]


def test_zero_is_shown_and_not_used_as_complement():
    t = pl.DataFrame({"site": ["A", "B", "C", "D"], "n": [0, 3, 25, 30]})
    out = suppress_counts(t, "n")
    assert out["display"].to_list() == ["0", "<11", "<11", "30"]


def test_groups_are_suppressed_separately():
    t = pl.DataFrame({"q": ["Q1", "Q1", "Q2", "Q2", "Q2"], "n": [50, 60, 4, 7, 90]})
    out = suppress_counts(t, "n", groups=["q"])
    # Q1 has nothing small; Q2 has two small cells already: no complement needed
    assert out["display"].to_list() == ["50", "60", "<11", "<11", "90"]


def test_threshold_is_a_parameter():
    t = pl.DataFrame({"n": [4, 5, 6, 100]})
    # 4 is small; the total is published, so the next smallest (5) is suppressed with it
    assert suppress_counts(t, "n", threshold=5)["display"].to_list() == ["<5", "<5", "6", "100"]
    alone = suppress_counts(t, "n", threshold=5, total_published=False)
    assert alone["display"].to_list() == ["<5", "5", "6", "100"]
    with pytest.raises(ValueError, match="threshold"):
        suppress_counts(t, "n", threshold=0)


def test_metrics_rates_with_small_numerator_or_denominator_are_hidden():
    table = pl.DataFrame(
        {
            "program_type": ["iop", "residential", "php", "iop"],
            "metric": ["completion_rate"] * 3 + ["discharges"],
            "value": [0.5, 0.3, 0.9, 40.0],
            "ci_low": [0.35, 0.2, 0.7, None],
            "ci_high": [0.65, 0.45, 0.98, None],
            "numerator": [20, 3, 18, None],
            "denominator": [40, 10, 20, 40],
        }
    )
    out = suppress_metrics(table)
    # residential: numerator 3 and denominator 10 are small; then it is the only suppressed
    # completion_rate row, so the next smallest denominator (php, 20) goes too.
    assert out["display"].to_list() == ["50.0%", "<11", "<11", "40"]
    assert out.filter(pl.col("suppressed"))["numerator"].null_count() == 2
    assert out.filter(pl.col("suppressed"))["value"].null_count() == 2


cells = st.lists(st.integers(0, 60), min_size=1, max_size=12)


@given(
    counts=cells,
    groups=st.lists(st.sampled_from("ab"), min_size=12, max_size=12),
    threshold=st.integers(2, 15),
)
def test_suppression_properties(counts, groups, threshold):
    t = pl.DataFrame({"g": groups[: len(counts)], "n": counts})
    out = suppress_counts(t, "n", groups=["g"], threshold=threshold)
    shown = out.filter(~pl.col("suppressed"))
    # no published count between 1 and threshold - 1
    assert not shown["n"].is_between(1, threshold - 1).any()
    # zeros show
    assert (out.filter(pl.col("n") == 0)["display"] == "0").all()
    # no suppressed value can be recovered from a published total: a group whose total is
    # publishable never has exactly one suppressed cell among several
    per = out.group_by("g").agg(
        pl.col("n").sum().alias("total"),
        pl.col("suppressed").sum().alias("k"),
        pl.len().alias("cells"),
    )
    publishable = per.filter(~pl.col("total").is_between(1, threshold - 1), pl.col("cells") > 1)
    assert (publishable["k"] != 1).all()
    # idempotent
    again = suppress_counts(out, "n", groups=["g"], threshold=threshold)
    assert again.equals(out)
