"""Data-quality summaries, on the hand-made dataset of conftest (values worked by hand)."""

from __future__ import annotations

import polars as pl

import outcomes
from outcomes.quality import (
    COMPLETENESS_COLUMNS,
    COVERAGE_COLUMNS,
    ISSUE_SUMMARY_COLUMNS,
    completeness,
    coverage,
    issue_summary,
)

from conftest import ATTENDANCE_OK, FOLLOWUPS_OK


def test_coverage_counts_admissions_discharges_and_open_episodes(write_dataset):
    # E1 residential 2025-01-06..2025-03-07; E2 iop 2025-03-07..2025-04-18;
    # E3 iop 2025-02-03..2025-02-10; E4 residential admitted 2025-05-01, open.
    cov = coverage(outcomes.load(write_dataset()))
    assert cov.columns == list(COVERAGE_COLUMNS)
    assert cov.rows() == [
        ("2025Q1", "iop", 2, 1, 1),  # E2, E3 admitted; E3 discharged; E2 open at 03-31
        ("2025Q1", "residential", 1, 1, 0),
        ("2025Q2", "iop", 0, 1, 0),  # E2 discharged 04-18
        ("2025Q2", "residential", 1, 0, 1),  # E4 open
    ]


def test_completeness_counts_empty_values(write_dataset):
    comp = completeness(outcomes.load(write_dataset(followups=FOLLOWUPS_OK)))
    assert comp.columns == list(COMPLETENESS_COLUMNS)
    got = {(r["file"], r["column"]): (r["missing"], r["rows"]) for r in comp.iter_rows(named=True)}
    assert got[("enrollments", "discharge_date")] == (1, 4)
    assert got[("enrollments", "prior_episodes")] == (1, 4)
    assert got[("enrollments", "site_id")] == (4, 4)  # absent column: all missing
    assert got[("attendance", "hours")] == (0, 8)
    assert got[("followups", "method")] == (0, 2)
    share = comp.filter(pl.col("column") == "co_occurring_mh")["missing_share"].item()
    assert share == 0.25


def test_issue_summary_groups_by_rule(write_dataset):
    att = ATTENDANCE_OK + "E9,2025-01-06,attended,group,3\nE8,2025-01-06,attended,group,3\n"
    ds = outcomes.load(write_dataset(attendance=att), on_error="exclude")
    summary = issue_summary(ds)
    assert summary.columns == list(ISSUE_SUMMARY_COLUMNS)
    assert summary.rows() == [
        (
            "attendance.csv",
            "unknown_episode",
            "error",
            2,
            "episode_id",
            "row 10: episode_id is not in enrollments",
        )
    ]
