"""Cohorts: the discharges of a period and the trailing year, as the report selects them.

Expected episodes are worked by hand from the dates of ``ENROLLMENTS`` below: the trailing
year of 2026Q3 runs from 2025-10-01 to 2026-09-30, both days included.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import outcomes
from outcomes.metrics import period_bounds

ENROLLMENTS = """\
client_id,episode_id,program_type,planned_length_days,admit_date,discharge_date,discharge_reason
C1,E1,iop,42,2025-08-01,2025-09-30,completed
C2,E2,iop,42,2025-08-20,2025-10-01,completed
C3,E3,residential,60,2026-01-05,2026-03-06,left_early
C4,E4,residential,60,2026-08-01,2026-09-30,completed
C5,E5,iop,42,2026-09-01,2026-10-01,completed
C6,E6,iop,42,2026-09-15,,
"""
ATTENDANCE = """\
episode_id,session_date,status,session_type,hours
E1,2025-08-01,attended,group,3
E6,2026-09-15,attended,group,3
"""


@pytest.fixture
def ds(write_dataset):
    return outcomes.load(write_dataset(ENROLLMENTS, ATTENDANCE))


def ids(frame: pl.DataFrame) -> list[str]:
    return sorted(frame["episode_id"])


def test_trailing_year_is_the_four_quarters_ending_with_the_period():
    assert outcomes.trailing_year("2026Q3") == "2025Q4-2026Q3"
    assert outcomes.trailing_year("2026Q4") == "2026Q1-2026Q4"
    assert outcomes.trailing_year("2026Q1") == "2025Q2-2026Q1"
    assert period_bounds(outcomes.trailing_year("2026Q3")) == (
        dt.date(2025, 10, 1),
        dt.date(2026, 9, 30),
    )


@pytest.mark.parametrize("period", ["2026", "2026-Q3", "2025Q4-2026Q3"])
def test_trailing_year_needs_a_quarter(period):
    with pytest.raises(ValueError, match="quarter"):
        outcomes.trailing_year(period)


def test_discharged_in_keeps_both_end_days_and_leaves_open_episodes_out(ds):
    """Worked by hand: E1 ends the day before the window, E5 the day after (as_of is the
    latest date in the data, 2026-10-01), E6 is open."""
    assert ids(outcomes.discharged_in(ds, "2025Q4-2026Q3")) == ["E2", "E3", "E4"]
    assert ids(outcomes.discharged_in(ds, "2026Q3")) == ["E4"]
    assert ids(outcomes.discharged_in(ds, "2026")) == ["E3", "E4", "E5"]
    assert outcomes.discharged_in(ds, "2024Q1").height == 0


def test_as_of_hides_later_discharges(ds):
    """With as_of 2026-09-29, E4's discharge on 2026-09-30 is not known yet: E4 is open."""
    assert ids(outcomes.discharged_in(ds, "2026Q3", as_of="2026-09-29")) == []
    assert ids(outcomes.discharged_in(ds, "2026Q3", as_of=dt.date(2026, 9, 30))) == ["E4"]


def test_a_dataset_and_its_episodes_give_the_same_cohort(ds):
    cut = "2026-09-30"
    assert_frame_equal(
        outcomes.discharged_in(ds, "2026", as_of=cut),
        outcomes.discharged_in(outcomes.episodes(ds, cut), "2026"),
    )


def test_programming_errors_say_what_to_do(ds):
    with pytest.raises(ValueError, match="as_of applies to a Dataset"):
        outcomes.discharged_in(outcomes.episodes(ds), "2026", as_of="2026-09-30")
    with pytest.raises(ValueError, match="discharge_date"):
        outcomes.discharged_in(pl.DataFrame({"episode_id": ["E1"]}), "2026")
    with pytest.raises(TypeError, match="Dataset"):
        outcomes.discharged_in({"episode_id": ["E1"]}, "2026")
    with pytest.raises(ValueError, match="period"):
        outcomes.discharged_in(ds, "Q3 2026")


def test_the_trailing_year_is_the_cohort_the_report_selects():
    """publish.comparison_table and readmission_survival_table filter ``discharge_date``
    between the bounds of ``f"{shift_quarter(period, -3)}-{period}"``; the same, written out."""
    ds = outcomes.synth.generate(400, seed=3)
    ep = outcomes.episodes(ds)
    for period in ("2026Q3", "2026Q1", "2025Q4"):
        first, last = period_bounds(outcomes.trailing_year(period))
        expected = ep.filter(pl.col("discharge_date") >= first, pl.col("discharge_date") <= last)
        assert expected.height > 0
        assert_frame_equal(outcomes.discharged_in(ds, outcomes.trailing_year(period)), expected)


def test_sample_dir_is_the_bundled_sample(sample_dir):
    assert outcomes.sample_dir() == sample_dir
    assert outcomes.sample_dir().is_absolute()
