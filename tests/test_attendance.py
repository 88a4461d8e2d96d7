"""Attendance by week of treatment, on the hand-worked fixture (as_of 2025-12-31)."""

from __future__ import annotations

import polars as pl
import pytest

from outcomes import plots
from outcomes.attendance import ADHERENCE_COLUMNS, attendance_by_week

from handworked import AS_OF, fixture


def test_weeks_by_hand():
    table = attendance_by_week(fixture(), AS_OF, programs=("iop",))
    assert table.columns == list(ADHERENCE_COLUMNS)
    rows = {r["week"]: r for r in table.iter_rows(named=True)}
    # in treatment through week 1: E02 (42 d), E12 (49 d), E13 (42 d), E16 (56 d);
    # E05 (5 d) and E06 (0 d) never complete a week
    w1 = rows[1]
    assert (w1["episodes"], w1["attended"], w1["expected"]) == (4, 5, 6)
    # E02 days 1, 3, 5 (3 x 3.5 h); E13 01-06, 01-08 attended, 01-10 no-show (3 + 3 h)
    assert w1["attendance_rate"] == pytest.approx(5 / 6)
    assert w1["mean_weekly_hours"] == pytest.approx((10.5 + 6.0) / 2)  # E12, E16: no hours
    w2 = rows[2]  # E02 days 7-13: 4 sessions; E13 01-17 attended (excused, cancelled aside)
    assert (w2["attended"], w2["expected"]) == (5, 5)
    assert w2["mean_weekly_hours"] == pytest.approx((14.0 + 3.5) / 2)
    assert rows[7]["episodes"] == 2  # E12 (7 weeks) and E16 (8 weeks)
    assert max(rows) == 8


def test_adherence_chart_hides_small_weeks():
    table = attendance_by_week(fixture(), AS_OF, programs=("iop",))
    fig = plots.adherence_chart(table, threshold=3)
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [1, 2, 3, 4, 5, 6]  # weeks with >= 3 episodes
    assert any("9 h" in t.get_text() for t in fig.axes[1].texts)
    assert table.filter(pl.col("week") == 8)["episodes"].item() == 1
