"""The report's first page: plain sentences from the protected cells (issue #10)."""

from __future__ import annotations

import re

import polars as pl

from outcomes import load
from outcomes.headline import glossary, headline
from outcomes.publication import publication


def test_headline_states_the_published_numbers(sample_dir):
    pub = publication(load(sample_dir, on_error="exclude"))
    text = headline(pub, "2026Q3", sample_dir).data
    cells = pub.select("summary", "2026Q3")
    total = cells.filter(pl.col("program") == "all programs", pl.col("measure") == "discharges")
    assert f"**{total['denominator'][0]:,} episodes ended in 2026Q3**" in text
    iop = cells.filter(pl.col("program") == "iop", pl.col("measure") == "completion_rate").row(
        0, named=True
    )
    assert f"{100 * iop['value']:.1f}% (95% interval {100 * iop['ci_low']:.1f}-" in text
    assert "These data are synthetic" in text
    assert "by 30 days" in text and "by 90 days" in text
    # no bare count from 1 to 10 in the sentences
    assert not re.search(r"(?<![\d.,%-])([1-9]|10) (episodes|in )", text)


def test_headline_sets_the_adjusted_comparison_beside_the_raw_one(sample_dir):
    """The first page's comparison sentence reads the doubly robust and naive completion
    differences from the published comparison (here worked out from compare() directly):
    direction, size in points and the interval's ends; "no clear difference" when the
    interval holds 0. A comparison that is withheld says so instead."""
    from outcomes import compare, publish_comparison
    from outcomes.cohorts import discharged_in

    ds = load(sample_dir, on_error="exclude")
    pub = publication(ds)
    section = publish_comparison.comparison(pub, ds, "2026Q3")
    text = headline(pub, "2026Q3", sample_dir, section).data
    effects = compare.compare(discharged_in(ds, "2025Q4-2026Q3"), as_of=pub.as_of).effects
    rd = {
        r["method"]: r
        for r in effects.filter(pl.col("outcome") == "completion_risk_difference").iter_rows(
            named=True
        )
    }

    def words(v):
        return f"{abs(100 * v):.1f} {'higher' if v > 0 else 'lower'}"

    aipw, naive = rd["aipw"], rd["naive"]
    assert (
        f"IOP completion was {abs(100 * aipw['estimate']):.1f} points "
        f"{'higher' if aipw['estimate'] > 0 else 'lower'} than residential care's (95% "
        f"interval {words(aipw['ci_low'])} to {words(aipw['ci_high'])})"
    ) in text
    clear = aipw["ci_low"] > 0 or aipw["ci_high"] < 0
    assert ("a clear difference" if clear else "no clear difference") in text
    assert f"Unadjusted it was {abs(100 * naive['estimate']):.1f} points" in text

    withheld = publish_comparison.PublishedComparison(
        publish_comparison.comparison(
            type(pub)(
                pub.cells.with_columns(pl.lit("small_count").alias("status")),
                pub.threshold,
                pub.as_of,
                pub.quarters,
            ),
            ds,
            "2026Q3",
        ).table
    )
    assert "the adjusted comparison is not shown (" in withheld.sentence()


def test_headline_says_when_a_number_is_withheld(sample_dir):
    pub = publication(load(sample_dir, on_error="exclude"))
    hidden = pub.cells.with_columns(
        pl.when(pl.col("measure") == "completion_rate")
        .then(pl.lit("small_group"))
        .otherwise(pl.col("status"))
        .alias("status")
    )
    text = headline(type(pub)(hidden, pub.threshold, pub.as_of, pub.quarters), "2026Q3").data
    assert "withheld (too few episodes to publish) completed treatment" in text
    assert "synthetic" not in text  # no data folder given: not claimed


def test_glossary_explains_every_abbreviation():
    text = glossary().data
    for term in (
        "IOP",
        "PHP",
        "IPTW",
        "ATE",
        "E-value",
        "Trailing year",
        "Propensity",
        "Doubly robust (AIPW)",
        "Effective sample",
        "ASAM",
        "SAMHSA",
        "NQF #3453",
        "Kaplan-Meier",
        "Hazard ratio",
        "Standardized mean difference",
        "Naive",
        "Detox",
        "Outpatient",
    ):
        assert f"**{term}**" in text, term
    assert "(c): withheld so that a hidden count cannot be worked out" in text
