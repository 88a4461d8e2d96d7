"""The hand-worked fixture of twelve clients (as_of 2025-12-31) shared by the metric and
survival tests; every expected value is worked out in tests/test_metrics.py."""

from __future__ import annotations

import datetime as dt

import polars as pl

from outcomes.dataset import Dataset

AS_OF = dt.date(2025, 12, 31)
D = dt.date.fromisoformat

# client, episode, program, planned, admit, discharge, reason
EPISODES = [
    # C01: residential completed, step-down to IOP on day 0, then readmitted (outpatient)
    ("C01", "E01", "residential", 60, "2025-01-01", "2025-03-02", "completed"),
    ("C01", "E02", "iop", 42, "2025-03-02", "2025-04-13", "completed"),
    ("C01", "E03", "outpatient", 84, "2025-06-01", None, None),
    # C02: residential transferred, IOP 31 days later (not a step-down: a readmission)
    ("C02", "E04", "residential", 45, "2025-02-01", "2025-03-15", "transferred"),
    ("C02", "E05", "iop", 56, "2025-04-15", "2025-04-20", "left_early"),
    # C03: same-day discharge
    ("C03", "E06", "iop", 49, "2025-05-05", "2025-05-05", "left_early"),
    # C04: death
    ("C04", "E07", "residential", 90, "2025-06-01", "2025-07-10", "died"),
    # C05: php completed, step-down to outpatient on day 7 (no planned length), open
    ("C05", "E08", "php", 28, "2025-08-01", "2025-08-29", "completed"),
    ("C05", "E09", "outpatient", None, "2025-09-05", None, None),
    # C06: detox, then residential the same day (never a step-down; gap 0: no readmission)
    ("C06", "E10", "detox", 5, "2025-10-01", "2025-10-06", "completed"),
    ("C06", "E11", "residential", 60, "2025-10-06", None, None),
    # C07: IOP without planned length, windows not over at as_of
    ("C07", "E12", "iop", None, "2025-11-01", "2025-12-20", "completed"),
    # C08: IOP with detailed sessions (excused, cancelled, outside the episode)
    ("C08", "E13", "iop", 42, "2025-01-06", "2025-02-17", "completed"),
    # C09: short residential in 2024, readmitted 304 days later to a long one
    ("C09", "E14", "residential", 30, "2024-06-01", "2024-07-01", "completed"),
    ("C09", "E15", "residential", 120, "2025-05-01", "2025-05-20", "left_early"),
    # C10: IOP, relapse reported 19 days after discharge
    ("C10", "E16", "iop", 56, "2025-09-01", "2025-10-27", "completed"),
    # C11: outpatient, incarcerated
    ("C11", "E17", "outpatient", 84, "2025-03-01", "2025-04-15", "incarcerated"),
    # C12: open residential; a later admission after as_of is unknown at as_of
    ("C12", "E18", "residential", 60, "2025-12-15", None, None),
    ("C12", "E19", "iop", 42, "2026-01-10", None, None),
]

SESSIONS = [
    # E13: counted 2025-01-06..2025-02-17
    ("E13", "2025-01-03", "no_show", 3.0),  # before admission: not counted
    ("E13", "2025-01-06", "attended", 3.0),
    ("E13", "2025-01-08", "attended", 3.0),
    ("E13", "2025-01-10", "no_show", 3.0),
    ("E13", "2025-01-13", "excused", 3.0),
    ("E13", "2025-01-15", "cancelled", 3.0),
    ("E13", "2025-01-17", "attended", 3.5),
    ("E13", "2025-02-20", "attended", 3.0),  # after discharge: not counted
    # E18: after as_of, ignored
    ("E18", "2026-01-05", "attended", 3.0),
] + [
    # E02: 18 attended sessions of 3.5 h every other day from 2025-03-03 (last 2025-04-06)
    ("E02", str(D("2025-03-03") + dt.timedelta(days=2 * k)), "attended", 3.5)
    for k in range(18)
]

FOLLOWUPS = [
    ("E14", "2024-08-01", False),
    ("E14", "2024-10-01", True),  # 92 days after 2024-07-01
    ("E16", "2025-10-27", True),  # day of discharge: not after it, ignored
    ("E16", "2025-11-15", True),  # 19 days after 2025-10-27
]


def fixture(followups: bool = True) -> Dataset:
    enr = pl.DataFrame(
        EPISODES,
        schema=[
            "client_id",
            "episode_id",
            "program_type",
            "planned_length_days",
            "admit_date",
            "discharge_date",
            "discharge_reason",
        ],
        orient="row",
    ).with_columns(pl.col("admit_date", "discharge_date").str.to_date())
    att = pl.DataFrame(
        SESSIONS, schema=["episode_id", "session_date", "status", "hours"], orient="row"
    ).with_columns(pl.col("session_date").str.to_date())
    fu = pl.DataFrame(
        FOLLOWUPS, schema=["episode_id", "contact_date", "used_since_discharge"], orient="row"
    ).with_columns(pl.col("contact_date").str.to_date())
    return Dataset.from_frames(enr, att, fu if followups else None)
