"""Disclosure control over the whole publication (issue #11).

Hand-worked fixtures check each step of :func:`outcomes.disclosure.protect`; the attacker of
tests/attacker.py, given only the published tidy cells of four consecutive quarterly reports
and the data behind their readmission charts, must recover no withheld count of 1-10 (nor a
complement of 1-10) on the bundled sample and on three small generated exports, while it does
recover them from the same reports protected by small-cell suppression alone, and from
charts whose steps ignore the table's horizons (so the test can fail).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import attacker
from outcomes import disclosure, figures, load, synth
from outcomes.disclosure import CellBuilder, protect
from outcomes.publication import publication
from outcomes.publish import TIDY_COLUMNS


def _rows(a: int, b: int) -> np.ndarray:
    return np.arange(a, b)


def _status(frame: pl.DataFrame, program: str, measure: str = "discharges") -> str:
    return frame.filter(pl.col("program") == program, pl.col("measure") == measure)["status"][0]


def test_a_lone_small_count_gets_a_complementary_one():
    """Worked by hand: programs A = 5, B = 12, C = 13 discharges and all programs = 30, all
    published. A (5) is small; with the total and B and C shown, A = 30 - 12 - 13. The
    cheapest other part (B, 12) is withheld to protect it; C and the total stay."""
    b = CellBuilder()
    b.add("t", "2026Q1", "A", None, "discharges", "count", 5, den_rows=_rows(0, 5))
    b.add("t", "2026Q1", "B", None, "discharges", "count", 12, den_rows=_rows(5, 17))
    b.add("t", "2026Q1", "C", None, "discharges", "count", 13, den_rows=_rows(17, 30))
    b.add("t", "2026Q1", "all programs", None, "discharges", "count", 30, den_rows=_rows(0, 30))
    out = protect(b.build(), threshold=11)
    assert _status(out, "A") == "small_count"
    assert _status(out, "B") == "complementary"
    assert _status(out, "C") == "published"
    assert _status(out, "all programs") == "published"
    assert out.filter(pl.col("status") != "published")["denominator"].null_count() == 2


def test_a_total_costs_less_to_withhold_than_a_program():
    """Worked by hand: A = 5 (small), B = 12 and all programs = 17; A = 17 - 12, so B or the
    total must go. Each is shown by one cell: at equal cost the smaller count (B) is
    withheld; when the total's cell costs 0.8 (publication's weight for "all programs"), the
    total is withheld and B, a program's own figure, stays."""
    b = CellBuilder()
    b.add("t", "2026Q1", "A", None, "discharges", "count", 5, den_rows=_rows(0, 5))
    b.add("t", "2026Q1", "B", None, "discharges", "count", 12, den_rows=_rows(5, 17))
    b.add("t", "2026Q1", "all programs", None, "discharges", "count", 17, den_rows=_rows(0, 17))
    cells = b.build()
    out = protect(cells, threshold=11)
    assert (_status(out, "B"), _status(out, "all programs")) == ("complementary", "published")
    out = protect(cells, threshold=11, priority=np.array([1.0, 1.0, 0.8]))
    assert (_status(out, "B"), _status(out, "all programs")) == ("published", "complementary")
    assert _status(out, "A") == "small_count"


def test_a_small_complement_withholds_the_rate():
    """12 of 20 completed: both counts are at least 11, but 20 - 12 = 8 did not complete.
    The rate (which shows 12 and 20) is withheld; the discharge count alone is safe."""
    b = CellBuilder()
    b.add("t", "2026Q1", "A", None, "discharges", "count", 20, den_rows=_rows(0, 20))
    b.add(
        "t", "2026Q1", "A", None, "completion_rate", "proportion", None,
        num_rows=_rows(0, 12), den_rows=_rows(0, 20),
    )  # fmt: skip
    out = protect(b.build(), threshold=11)
    assert _status(out, "A", "completion_rate") == "complementary"
    assert _status(out, "A", "discharges") == "published"


def test_two_small_counts_that_add_up_to_two_are_protected():
    """Worked by hand: A = 1 and B = 1 discharges (both shown as <11), C = 40, total 42. From
    the total and C, A + B = 2, and each is at least 1 (the marker says so): each is 1. Only
    bounds reveal this (differencing sees two unknowns); C must be withheld too."""
    b = CellBuilder()
    b.add("t", "2026Q1", "A", None, "discharges", "count", 1, den_rows=_rows(0, 1))
    b.add("t", "2026Q1", "B", None, "discharges", "count", 1, den_rows=_rows(1, 2))
    b.add("t", "2026Q1", "C", None, "discharges", "count", 40, den_rows=_rows(2, 42))
    b.add("t", "2026Q1", "D", None, "discharges", "count", 25, den_rows=_rows(42, 67))
    b.add("t", "2026Q1", "all programs", None, "discharges", "count", 67, den_rows=_rows(0, 67))
    out = protect(b.build(), threshold=11)
    assert _status(out, "A") == _status(out, "B") == "small_count"
    assert "complementary" in (_status(out, "C"), _status(out, "D"))


def test_primary_statuses():
    """Each rule of step 1, worked by hand on one group of 30 discharges."""
    b = CellBuilder()
    rows = _rows(0, 30)
    b.add("t", "Q", "A", None, "completion_rate", "proportion", None,
          num_rows=_rows(0, 4), den_rows=rows)  # fmt: skip
    b.add("t", "Q", "A", None, "early_dropout_rate", "proportion", None,
          num_rows=_rows(0, 0), den_rows=rows)  # fmt: skip
    b.add("t", "Q", "B", None, "completion_rate", "proportion", None,
          num_rows=_rows(30, 33), den_rows=_rows(30, 36))  # fmt: skip
    b.add("t", "Q", "C", None, "readmission_90d", "proportion", None,
          num_rows=_rows(0, 0), den_rows=_rows(0, 0))  # fmt: skip
    b.mark_pending()
    status = disclosure.primary_status(b.build().frame, 11).to_list()
    assert status == ["small_count", "published", "small_group", "not_observable"]


def _report_cells(pub, periods) -> pl.DataFrame:
    return pl.concat([pub.report_cells(q) for q in periods]).select(TIDY_COLUMNS)


def _curves(ds, pub, periods) -> pl.DataFrame:
    """The data behind the readmission chart of each report (tables/figure_readmission.csv)."""
    return pl.concat([figures.readmission_data(ds, pub, q) for q in periods])


@pytest.fixture(scope="module")
def sample_publication(sample_dir):
    return load(sample_dir, on_error="exclude")


@pytest.mark.slow
def test_attacker_recovers_nothing_from_four_sample_reports(sample_publication, sample_pub):
    ds, pub = sample_publication, sample_pub
    quarters = pub.quarters[-4:]
    cells = _report_cells(pub, quarters)
    found = attacker.solve(attacker.build(cells, pub.threshold, _curves(ds, pub, quarters)))
    assert found == [], found[:10]


@pytest.fixture(scope="module")
def sample_pub(sample_publication):
    return publication(sample_publication)


@pytest.mark.slow
def test_attacker_breaks_curves_that_ignore_the_tables_horizons(sample_publication, sample_pub):
    """The same reports with readmission curves coarsened only to steps of 11 events (not kept
    11 events from the table's horizons): between the step at day 178 and the 180-day
    horizon of the 2026Q3 report lies one IOP readmission, and the attacker finds it."""
    from outcomes.cohorts import discharged_in
    from outcomes.plots import km_steps
    from outcomes.publication import trailing_year
    from outcomes.survival import kaplan_meier, readmission_data

    ds, pub = sample_publication, sample_pub
    quarters = pub.quarters[-4:]
    curves = []
    for q in quarters:
        data = readmission_data(discharged_in(ds, trailing_year(q), pub.as_of)).filter(
            pl.col("program_type").is_in(["iop", "residential"])
        )
        steps = km_steps(kaplan_meier(data, "time", "event", by="program_type"), ticks=())
        published = figures.readmission_data(ds, pub, q)
        curves.append(
            pl.concat(
                [
                    steps.select(
                        pl.lit(trailing_year(q)).alias("period"),
                        pl.col("program_type").alias("program"),
                        pl.exclude("program_type"),
                    ),
                    published.filter(pl.col("part") == "at_risk"),
                ]
            )
        )
    attack = attacker.build(_report_cells(pub, quarters), pub.threshold, pl.concat(curves))
    found = {f.what: f.value for f in attacker.solve(attack)}
    assert found.get("2025Q4-2026Q3 iop readmissions in days (178, 180]") == 1


@pytest.mark.slow
def test_attacker_breaks_small_cell_suppression_alone(sample_publication):
    """The same four reports with primary suppression only: the attacker recovers hidden
    counts (so the test above can fail), e.g. the 2 IOP discharges of unknown planned length
    in 2026Q3 and the 5 residential discharges to incarceration."""
    pub = publication(sample_publication, complementary=False)
    found = attacker.solve(attacker.build(_report_cells(pub, pub.quarters[-4:]), pub.threshold))
    assert len(found) >= 20
    values = {f.what.split(":")[0].strip(): f.value for f in found}
    assert values.get("2026Q3 iop unknown discharges") == 2


@pytest.mark.slow
@pytest.mark.parametrize("clients", [60, 150, 400])
def test_attacker_recovers_nothing_on_small_exports(clients):
    """Generated exports of 60, 150 and 400 clients (2024-2026), four consecutive reports."""
    ds = synth.generate(clients, seed=clients, start="2024-01-01", end="2026-09-30")
    pub = publication(ds)
    quarters = pub.quarters[-4:]
    cells = _report_cells(pub, quarters)
    found = attacker.solve(attacker.build(cells, pub.threshold, _curves(ds, pub, quarters)))
    assert found == [], found[:10]


def test_no_published_cell_shows_a_small_count_or_complement(sample_pub):
    pub = sample_pub
    shown = pub.cells.filter(pl.col("status") == "published", pl.col("kind") != "statistic")
    for column in ("numerator", "denominator"):
        values = shown[column].drop_nulls()
        assert not values.is_between(1, 10).any(), column
    rates = shown.filter(pl.col("kind") == "proportion")
    gap = rates["denominator"] - rates["numerator"]
    assert not gap.is_between(1, 10).any()
