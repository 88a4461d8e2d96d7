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
    for term in ("IOP", "PHP", "IPTW", "ATE", "E-value", "Trailing year", "(c)"):
        assert term in text
