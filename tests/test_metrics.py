"""Episodes, transitions and group metrics on a hand-worked fixture of twelve clients.

as_of = 2025-12-31. Every expected value below was worked out by hand from the rows of
``fixture()``; the arithmetic is in the comments.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import outcomes
from outcomes.dataset import Dataset
from outcomes.episodes import EPISODE_COLUMNS, episodes
from outcomes.metrics import METRIC_ORDER, metrics, period_bounds, trend
from outcomes.schema import METRIC_COLUMNS
from outcomes.transitions import TRANSITION_COLUMNS

from handworked import AS_OF, D, fixture


@pytest.fixture(scope="module")
def ep() -> pl.DataFrame:
    return episodes(fixture(), AS_OF)


def row(ep: pl.DataFrame, episode: str) -> dict:
    return ep.filter(pl.col("episode_id") == episode).row(0, named=True)


def metric_table(table: pl.DataFrame) -> dict[str, tuple]:
    return {
        r["metric"]: (r["numerator"], r["denominator"], r["value"])
        for r in table.iter_rows(named=True)
    }


# --- episodes ---------------------------------------------------------------------------------


def test_episode_columns(ep):
    assert ep.columns[-len(TRANSITION_COLUMNS) :] == list(TRANSITION_COLUMNS)
    assert set(EPISODE_COLUMNS) <= set(ep.columns)
    assert ep.height == 18  # E19 was admitted after as_of


def test_length_of_stay_and_bands(ep):
    expected = {
        "E01": (60, "60-74 d"),
        "E02": (42, "6 wk"),
        "E03": (213, "all"),  # 06-01..12-31
        "E04": (42, "45-59 d"),
        "E05": (5, "8 wk"),
        "E06": (0, "7 wk"),
        "E07": (39, "75-90 d"),
        "E09": (117, "all"),  # 09-05..12-31
        "E12": (49, "unknown"),
        "E14": (30, "<45 d"),
        "E15": (19, ">90 d"),
        "E18": (16, "60-74 d"),  # open: 12-15..12-31
    }
    for episode, (los, band) in expected.items():
        r = row(ep, episode)
        assert (r["los_days"], r["length_band"]) == (los, band), episode
    assert row(ep, "E18")["is_open"] and not row(ep, "E01")["is_open"]


def test_discharge_outcomes(ep):
    assert row(ep, "E05")["early_dropout"]  # left early after 5 days
    assert row(ep, "E06")["early_dropout"]  # left early the same day
    assert not row(ep, "E15")["early_dropout"]  # left early after 19 days
    assert row(ep, "E04")["completion_or_transfer"] and not row(ep, "E04")["completed"]
    assert row(ep, "E07")["died"]
    assert row(ep, "E03")["completed"] is None  # open


def test_sessions_counted_inside_the_episode(ep):
    e13 = row(ep, "E13")
    # inside: attended 01-06, 01-08, 01-17 (3 + 3 + 3.5 h); no_show 01-10; excused; cancelled
    assert (
        e13["sessions_attended"],
        e13["sessions_no_show"],
        e13["sessions_excused"],
        e13["sessions_cancelled"],
        e13["expected_sessions"],
    ) == (3, 1, 1, 1, 4)
    assert e13["attendance_rate"] == pytest.approx(3 / 4)
    assert e13["attended_hours"] == pytest.approx(9.5)
    assert e13["weekly_hours"] == pytest.approx(9.5 / 6)  # 42 days = 6 weeks
    assert e13["intensity_met"] is False
    e02 = row(ep, "E02")
    assert e02["weekly_hours"] == pytest.approx(18 * 3.5 / 6)  # 10.5 >= 9
    assert e02["intensity_met"] is True
    e12 = row(ep, "E12")  # no session rows: attendance unknown
    assert e12["expected_sessions"] == 0 and e12["attendance_rate"] is None
    assert e12["weekly_hours"] is None and e12["intensity_met"] is None
    assert row(ep, "E18")["sessions_attended"] == 0  # its session is after as_of
    assert row(ep, "E01")["intensity_met"] is None  # not iop


def test_step_downs(ep):
    assert (
        row(ep, "E01")["step_down"],
        row(ep, "E01")["days_to_step_down"],
        row(ep, "E01")["step_down_program"],
    ) == (True, 0, "iop")
    assert (row(ep, "E08")["days_to_step_down"], row(ep, "E08")["step_down_program"]) == (
        7,
        "outpatient",
    )
    assert row(ep, "E04")["step_down"] is False  # IOP came 31 days later
    assert row(ep, "E10")["step_down"] is False  # detox is never stepped down from
    assert row(ep, "E03")["step_down"] is None  # open


def test_readmissions_and_relapse(ep):
    # E01 -> E03: 03-02..06-01 = 91 days (its step-down E02 does not count)
    assert (row(ep, "E01")["readmitted"], row(ep, "E01")["days_to_readmission"]) == (True, 91)
    assert row(ep, "E02")["days_to_readmission"] == 49  # 04-13..06-01
    assert row(ep, "E04")["days_to_readmission"] == 31  # 03-15..04-15
    assert row(ep, "E14")["days_to_readmission"] == 304  # 2024-07-01..2025-05-01
    assert row(ep, "E08")["readmitted"] is False  # only its step-down followed
    assert row(ep, "E10")["readmitted"] is False  # next admission the same day
    # relapse: first of readmission and a positive contact after discharge
    assert row(ep, "E14")["days_to_relapse"] == 92  # contact 2024-10-01 before readmission
    assert row(ep, "E16")["days_to_relapse"] == 19  # the same-day contact is ignored
    assert row(ep, "E02")["days_to_relapse"] == 49
    assert row(ep, "E13")["relapsed"] is False


def test_time_to_event_columns(ep):
    assert (row(ep, "E01")["readmit_time"], row(ep, "E01")["readmit_cause"]) == (91, 1)
    assert (row(ep, "E05")["readmit_time"], row(ep, "E05")["readmit_cause"]) == (255, 0)
    assert (row(ep, "E07")["readmit_time"], row(ep, "E07")["readmit_cause"]) == (0, 2)
    assert (row(ep, "E14")["relapse_time"], row(ep, "E14")["relapse_cause"]) == (92, 1)
    assert row(ep, "E03")["readmit_cause"] is None  # open
    assert (row(ep, "E05")["dropout_time"], row(ep, "E05")["dropout_cause"]) == (5, 1)
    assert (row(ep, "E01")["dropout_time"], row(ep, "E01")["dropout_cause"]) == (60, 2)
    assert (row(ep, "E07")["dropout_time"], row(ep, "E07")["dropout_cause"]) == (39, 3)
    assert (row(ep, "E03")["dropout_time"], row(ep, "E03")["dropout_cause"]) == (213, 0)


def test_without_followups_relapse_is_empty():
    ep = episodes(fixture(followups=False), AS_OF)
    assert ep["relapsed"].null_count() == ep.height
    names = set(metrics(fixture(followups=False), by=[], as_of=AS_OF)["metric"])
    assert not any(n.startswith("relapse_") for n in names)


# --- metrics ----------------------------------------------------------------------------------


def test_overall_metrics_by_hand():
    table = metrics(fixture(), by=[], as_of=AS_OF)
    assert table.columns == list(METRIC_COLUMNS)
    assert table["metric"].to_list() == list(METRIC_ORDER)
    got = metric_table(table)
    expected = {
        "admissions": (None, 18, 18),  # E01..E18
        "discharges": (None, 14, 14),  # all but open E03, E09, E11, E18
        "completion_rate": (8, 14, 8 / 14),  # E01 E02 E08 E10 E12 E13 E14 E16
        "completion_or_transfer_rate": (9, 14, 9 / 14),  # + E04
        "early_dropout_rate": (2, 14, 2 / 14),  # E05 (5 d), E06 (0 d)
        "intensity_met_rate": (1, 4, 1 / 4),  # iop with los >= 7: E02 E12 E13 E16; E02 met
        # eligible E01 E04 E08 E14; stepped down E01 (day 0) and E08 (day 7)
        "step_down_7d": (2, 4, 0.5),
        "step_down_14d": (2, 4, 0.5),
        "step_down_30d": (2, 4, 0.5),
        # 13 discharges alive; windows over: 30d all but E12 (12); 90d also not E10, E16 (10);
        # 180d also not E08 (9); 365d only E14 (1)
        "readmission_30d": (0, 12, 0.0),
        "readmission_90d": (2, 10, 0.2),  # E02 49, E04 31
        "readmission_180d": (3, 9, 3 / 9),  # + E01 91
        "readmission_365d": (1, 1, 1.0),  # E14 304
        "relapse_30d": (1, 12, 1 / 12),  # E16 19
        "relapse_90d": (2, 10, 0.2),  # E02, E04 (E14's 92 is past 90)
        "relapse_180d": (4, 9, 4 / 9),  # E01 E02 E04 E14
        "relapse_365d": (1, 1, 1.0),
        "discharge_reason_completed": (8, 14, 8 / 14),
        "discharge_reason_left_early": (3, 14, 3 / 14),  # E05 E06 E15
        "discharge_reason_discharged_by_program": (0, 14, 0.0),
        "discharge_reason_transferred": (1, 14, 1 / 14),
        "discharge_reason_incarcerated": (1, 14, 1 / 14),
        "discharge_reason_died": (1, 14, 1 / 14),
        "discharge_reason_other": (0, 14, 0.0),
    }
    for name, (x, n, value) in expected.items():
        assert got[name][:2] == (x, n), name
        assert got[name][2] == pytest.approx(value), name
    by_name = {r["metric"]: r for r in table.iter_rows(named=True)}
    # LOS of the 14 discharges, sorted: 0 5 5 19 28 30 39 42 42 42 45 49 56 60
    los = by_name["median_los_days"]
    assert (los["value"], los["denominator"]) == (40.5, 14)  # (39 + 42) / 2
    assert los["ci_low"] == pytest.approx(21.25)  # 19 + 0.25 * (28 - 19), R quantile type 7
    assert los["ci_high"] == pytest.approx(44.25)  # 42 + 0.75 * (45 - 42)
    att = by_name["attendance_rate"]  # E02 1.0, E13 0.75
    assert (att["value"], att["denominator"]) == (pytest.approx(0.875), 2)
    half = 1.959963984540054 * 0.125  # sd 0.1767767 / sqrt(2)
    assert (att["ci_low"], att["ci_high"]) == (
        pytest.approx(0.875 - half),
        pytest.approx(0.875 + half),
    )
    hours = by_name["mean_weekly_hours"]  # E02 10.5, E13 1.583333
    assert hours["value"] == pytest.approx((10.5 + 9.5 / 6) / 2)
    assert hours["denominator"] == 2


def test_wilson_interval_in_the_table():
    """completion 8/14: R prop.test(8, 14, correct=FALSE)$conf.int."""
    table = metrics(fixture(), by=[], as_of=AS_OF)
    r = table.filter(pl.col("metric") == "completion_rate").row(0, named=True)
    assert r["ci_low"] == pytest.approx(0.325906445796507, rel=1e-8)
    assert r["ci_high"] == pytest.approx(0.786192010955259, rel=1e-8)


def test_by_program_and_period():
    table = metrics(fixture(), by=["program_type"], period="2025Q2", as_of=AS_OF)
    got = {
        (r["program_type"], r["metric"]): (r["numerator"], r["denominator"])
        for r in table.iter_rows(named=True)
    }
    # discharged in 2025Q2 (04-01..06-30): E02 iop, E05 iop, E06 iop, E15 res, E17 outpatient
    assert got[("iop", "discharges")] == (None, 3)
    assert got[("iop", "completion_rate")] == (1, 3)
    assert got[("residential", "discharges")] == (None, 1)
    assert got[("outpatient", "discharges")] == (None, 1)
    # admitted in 2025Q2: E03 (outpatient), E05, E06 (iop), E07, E15 (residential)
    assert got[("iop", "admissions")] == (None, 2)
    assert got[("residential", "admissions")] == (None, 2)
    assert got[("outpatient", "admissions")] == (None, 1)
    # detox had neither: it is not a group of this period
    assert ("detox", "discharges") not in got


def test_period_bounds():
    assert period_bounds("2026Q3") == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert period_bounds("2025Q4") == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    assert period_bounds("2024") == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    with pytest.raises(ValueError, match="2026Q3"):
        period_bounds("2026-Q3")


def test_trend_lists_the_last_full_quarters():
    t = trend(fixture(), quarters=3, by=[], as_of=AS_OF)
    assert t["period"].unique(maintain_order=True).to_list() == ["2025Q2", "2025Q3", "2025Q4"]
    q3 = t.filter(pl.col("period") == "2025Q3", pl.col("metric") == "discharges")
    assert q3["denominator"].item() == 2  # E08 08-29, E07 07-10
    # as_of inside a quarter: that quarter is not full yet
    t2 = trend(fixture(), quarters=1, by=[], as_of="2025-11-30")
    assert t2["period"].unique().to_list() == ["2025Q3"]


def test_unknown_grouping_column_is_refused():
    with pytest.raises(ValueError, match="favourite"):
        metrics(fixture(), by=["favourite"], as_of=AS_OF)


def test_sample_completion_matches_the_generator_truth():
    """Overall completion of IOP and residential on generated data is near the rate implied by
    the planted model (synth.completion_probability: expit of base + severity terms, times
    the chance of not dying), computed from the same covariates.
    """
    import numpy as np

    from outcomes import synth

    ds = synth.generate(20000, seed=8)
    ep = episodes(ds).filter(
        pl.col("discharge_date").is_not_null(), pl.col("admit_date") <= dt.date(2026, 5, 1)
    )
    table = metrics(ep, by=["program_type"], as_of=ds.last_date)
    for program in ("iop", "residential"):
        sub = ep.filter(pl.col("program_type") == program)
        expected = float(np.mean(synth.completion_probability(sub, program)))
        got = table.filter(
            pl.col("program_type") == program, pl.col("metric") == "completion_rate"
        ).row(0, named=True)
        assert got["ci_low"] < expected < got["ci_high"], (program, expected, got)


# --- properties -------------------------------------------------------------------------------

PROGRAMS = ["residential", "php", "iop", "outpatient", "detox"]
REASONS = ["completed", "left_early", "transferred", "died", "incarcerated", None]


@st.composite
def datasets(draw):
    n = draw(st.integers(1, 30))
    rows = []
    for i in range(n):
        admit = D("2025-01-01") + dt.timedelta(days=draw(st.integers(0, 300)))
        reason = draw(st.sampled_from(REASONS))
        discharge = None if reason is None else admit + dt.timedelta(days=draw(st.integers(0, 90)))
        rows.append(
            (
                f"C{draw(st.integers(0, n // 2))}",
                f"E{i}",
                draw(st.sampled_from(PROGRAMS)),
                draw(st.sampled_from([None, 42, 49, 56, 60, 90])),
                admit,
                discharge,
                reason,
                draw(st.sampled_from(["S1", "S2", "S3"])),
            )
        )
    enr = pl.DataFrame(
        rows,
        orient="row",
        schema=[
            "client_id",
            "episode_id",
            "program_type",
            "planned_length_days",
            "admit_date",
            "discharge_date",
            "discharge_reason",
            "site_id",
        ],
    )
    sessions = [
        (
            f"E{draw(st.integers(0, n - 1))}",
            D("2025-01-01") + dt.timedelta(days=draw(st.integers(0, 400))),
            draw(st.sampled_from(["attended", "no_show", "excused", "cancelled"])),
            3.0,
        )
        for _ in range(draw(st.integers(0, 60)))
    ]
    att = pl.DataFrame(
        sessions, orient="row", schema=["episode_id", "session_date", "status", "hours"]
    )
    return Dataset.from_frames(enr, att)


@given(ds=datasets(), seed=st.integers(0, 1000))
def test_metric_properties(ds, seed):
    as_of = D("2026-06-30")
    ep = episodes(ds, as_of)
    assert (ep["los_days"] >= 0).all()
    rate = ep["attendance_rate"].drop_nulls()
    assert ((rate >= 0) & (rate <= 1)).all()
    assert (ep["expected_sessions"] == ep["sessions_attended"] + ep["sessions_no_show"]).all()

    overall = metrics(ds, by=[], as_of=as_of)
    grouped = metrics(ds, by=["site_id"], as_of=as_of)
    for table in (overall, grouped):
        props = table.filter(pl.col("numerator").is_not_null())
        assert (props["numerator"] <= props["denominator"]).all()
        assert (props["numerator"] >= 0).all()
        ci = table.drop_nulls(["ci_low", "ci_high", "value"])
        assert (ci["ci_low"] <= ci["value"] + 1e-12).all()
        assert (ci["value"] <= ci["ci_high"] + 1e-12).all()
    # group denominators add up to the overall ones (counts and proportions)
    summed = grouped.group_by("metric").agg(pl.col("denominator").sum())
    joined = overall.join(summed, on="metric", suffix="_sum")
    assert (joined["denominator"] == joined["denominator_sum"]).all()
    # row order does not matter
    shuffled = Dataset.from_frames(
        ds.enrollments.sample(fraction=1.0, shuffle=True, seed=seed),
        ds.attendance.sample(fraction=1.0, shuffle=True, seed=seed),
    )
    # the same numbers, up to the last bit of a floating-point sum taken in another order
    assert_frame_equal(
        metrics(shuffled, by=["site_id"], as_of=as_of),
        grouped,
        check_exact=False,
        rel_tol=1e-12,
        abs_tol=1e-12,
    )


def test_public_names():
    assert outcomes.metrics is metrics
    assert outcomes.episodes is episodes
    assert outcomes.trend is trend


def test_period_ranges_and_quarter_shifts():
    from outcomes.metrics import shift_quarter

    assert period_bounds("2025Q4-2026Q3") == (dt.date(2025, 10, 1), dt.date(2026, 9, 30))
    with pytest.raises(ValueError, match="ends before"):
        period_bounds("2026Q3-2025Q4")
    assert shift_quarter("2026Q1", -1) == "2025Q4"
    assert shift_quarter("2025Q4", 1) == "2026Q1"
    assert shift_quarter("2026Q3", -3) == "2025Q4"
    # the trailing year of 2025Q4 covers E07..E18's discharges in 2025: 13 of the 14
    table = metrics(fixture(), by=[], period="2025Q1-2025Q4", as_of=AS_OF)
    assert table.filter(pl.col("metric") == "discharges")["denominator"].item() == 13
