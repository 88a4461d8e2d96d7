"""The benchmark table: a hand-worked PUF-shaped fixture, the planted truth of generated files,
the column contract and the command line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from outcomes.cli import main
from outcomes.national import (
    BENCHMARK_COLUMNS,
    Planted,
    benchmarks,
    generate_puf,
    planted_rates,
    read,
    write_puf,
)
from outcomes.national._benchmarks import RATE_MEASURES, los_quantile

FIXTURE = Path(__file__).parent / "fixtures" / "national" / "tedsd_handworked.csv"


@pytest.fixture(scope="module")
def handworked():
    return read(FIXTURE)


def row(table: pl.DataFrame, measure: str, **groups) -> dict:
    hit = table.filter(pl.col("measure") == measure, **groups)
    assert hit.height == 1, (measure, groups)
    return hit.row(0, named=True)


def check(got: dict, value, low, high, numerator, denominator, rtol=1e-8):
    for key, want in (("value", value), ("ci_low", low), ("ci_high", high)):
        if want is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(want, rel=rtol), key
    assert (got["numerator"], got["denominator"]) == (numerator, denominator)


def test_fixture_rates_by_service_worked_by_hand(handworked):
    """31 discharges (tests/fixtures/national/tedsd_handworked.csv): IOP (SERVICES_D 6) NY
    reasons 1,1,1,2,2,3,4,7 and one missing (-9), NC 1,1,1,1,2,4; long-term residential (5)
    NY 1,1,2,2,2,3,5,6, NC 1,1,1,2,4,4; setting missing (-9) NY 1,2.

    IOP: 14 reasons known, completed 7, completed or transferred 9, dropped out 3,
    terminated 1. Residential: 14, completed 5, or transferred 7, dropped out 4, terminated 1,
    incarcerated 1, died 1. Intervals: R ``prop.test(x, n, correct=FALSE)$conf.int``."""
    table = benchmarks(handworked, by=["service"])
    assert table["service"].unique(maintain_order=True).to_list() == [
        "residential_long",
        "iop",
        "missing",
    ]
    iop = dict(service="iop")
    check(row(table, "discharges", **iop), 15.0, None, None, None, 15)
    check(row(table, "completion", **iop), 0.5, 0.267992024524136, 0.732007975475864, 7, 14)
    check(
        row(table, "completion_or_transfer", **iop),
        9 / 14, 0.387644231039074, 0.836552682464459, 9, 14,
    )  # fmt: skip
    check(row(table, "dropped_out", **iop), 3 / 14, 0.075713867126932, 0.475892305866003, 3, 14)
    check(row(table, "terminated", **iop), 1 / 14, 0.012722215247891, 0.314687044241511, 1, 14)
    check(row(table, "reason_other", **iop), 1 / 14, 0.012722215247891, 0.314687044241511, 1, 14)
    res = dict(service="residential_long")
    check(row(table, "discharges", **res), 14.0, None, None, None, 14)
    check(row(table, "completion", **res), 5 / 14, 0.163447317535541, 0.612355768960926, 5, 14)
    check(
        row(table, "completion_or_transfer", **res),
        0.5,
        0.267992024524136,
        0.732007975475864,
        7,
        14,
    )
    check(row(table, "dropped_out", **res), 4 / 14, 0.117213786445769, 0.546490843298932, 4, 14)
    check(row(table, "reason_died", **res), 1 / 14, 0.012722215247891, 0.314687044241511, 1, 14)
    missing = dict(service="missing")
    check(row(table, "completion", **missing), 0.5, 0.094531205734231, 0.905468794265769, 1, 2)


def test_fixture_rates_by_service_and_state(handworked):
    """IOP in New York: 3 of 8 completed; in North Carolina 4 of 6 (prop.test as above)."""
    table = benchmarks(handworked, by=["service", "state"])
    ny = row(table, "completion", service="iop", state="NY")
    nc = row(table, "completion", service="iop", state="NC")
    check(ny, 3 / 8, 0.136844285823597, 0.694257605397373, 3, 8)
    check(nc, 4 / 6, 0.299993315138392, 0.903228588894220, 4, 6)
    assert row(table, "discharges", service="iop", state="NY")["denominator"] == 9


def test_fixture_length_of_stay_worked_by_hand(handworked):
    """IOP LOS codes (14 known): 2,3,5,7,10,14,20,30,31,31,31,32,33,33; cumulative counts
    1,2,3,4,5,6,7,8,11,12,14. Median: n p = 7, the 7th stay is 20 days. Interval ranks
    14 (0.5 -/+ 1.959964 sqrt(0.25/14)) = 3.33 and 10.67: the 4th stay (7 days) and the
    11th (code 31, 31-45 days: its last day, 45). Q1: n p = 3.5 -> 4th stay, 7; ranks
    14 (0.25 -/+ 1.959964 sqrt(0.1875/14)) = 0.32 and 6.68: 2 and 20. Q3: n p = 10.5 falls in
    code 31 (stays 9-11): 31 + (10.5 - 8) / 3 * (45 - 31) = 42.667; ranks 7.32 and 13.68:
    30 and code 33's last day, 90.

    Long-term residential: 1,2,31,31,32,33,34,34,34,35,35,36,36,37 (cumulative 1,2,4,5,6,9,
    11,13,14). Median: 7 in code 34 (91-120; stays 7-9): 91 + (7 - 6) / 3 * 29 = 100.667,
    interval 31 (rank 3.33 in code 31, first day) to 180 (rank 10.67 in code 35, last day).
    Q3: 10.5 in code 35 (stays 10-11): 121 + 1.5 / 2 * 59 = 165.25, interval from 91 (rank
    7.32 in code 34) with no upper end (rank 13.68 is code 37, more than a year)."""
    table = benchmarks(handworked, by=["service"])
    iop = dict(service="iop")
    check(row(table, "los_median_days", **iop), 20, 7, 45, None, 14)
    check(row(table, "los_q1_days", **iop), 7, 2, 20, None, 14)
    check(row(table, "los_q3_days", **iop), 31 + 2.5 / 3 * 14, 30, 90, None, 14)
    res = dict(service="residential_long")
    check(row(table, "los_median_days", **res), 91 + 29 / 3, 31, 180, None, 14)
    check(row(table, "los_q1_days", **res), 31 + 0.75 * 14, 1, 120, None, 14)
    check(row(table, "los_q3_days", **res), 121 + 0.75 * 59, 91, None, None, 14)


def test_quantile_in_the_open_ended_code_has_no_value():
    """Three stays of more than a year and one of a day: the median is beyond 365 days."""
    value, low, high = los_quantile(np.array([1, 37]), np.array([1, 3]), 0.5)
    assert value is None and high is None and low == 1.0


def test_column_contract_and_overall_table(handworked):
    overall = benchmarks(handworked, by=[])
    assert overall.columns == list(BENCHMARK_COLUMNS)
    check(row(overall, "completion"), 13 / 30, *_prop(13, 30), 13, 30)
    by_two = benchmarks(handworked, by=["state", "service"])
    assert by_two.columns == ["state", "service", *BENCHMARK_COLUMNS]


def _prop(x: int, n: int) -> tuple[float, float]:
    """Wilson's interval written out (prop.test(x, n, correct=FALSE)); checked against R for
    7/14 above."""
    z = 1.959963984540054
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_reason_mix_sums_to_one_and_groups_add_up(handworked):
    table = benchmarks(handworked, by=["service", "state"])
    mix = table.filter(pl.col("measure").str.starts_with("reason_"))
    sums = mix.group_by("service", "state").agg(pl.col("value").sum(), pl.col("numerator").sum())
    assert sums["value"].to_list() == pytest.approx([1.0] * sums.height, abs=1e-12)
    assert mix.filter(pl.col("measure") == "reason_completed")["denominator"].sum() == 30
    discharges = table.filter(pl.col("measure") == "discharges")["denominator"].sum()
    assert discharges == 31, "every row of the file is in one group"


def test_unknown_by_column():
    with pytest.raises(ValueError, match="cannot group by"):
        benchmarks(read(FIXTURE), by=["race"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("puf") / "tedsd_2019.zip"
    write_puf(generate_puf(300_000, seed=13), path)
    return path


def test_planted_rates_are_recovered_within_their_intervals(generated):
    """Every setting's completion, completion-or-transfer, dropped-out and terminated rate:
    the 95% interval covers the planted truth (closed form, planted_rates). 32 intervals: a
    miss or two would be chance, so at most two may miss, and none by more than a little."""
    table = benchmarks(generated, by=["service"])
    truth = planted_rates().unpivot(index="service_code", variable_name="measure")
    from outcomes.national import SERVICE_LABELS

    truth = truth.with_columns(service=pl.col("service_code").replace_strict(SERVICE_LABELS))
    joined = table.join(truth, on=["service", "measure"], how="inner")
    assert joined.height == 32
    covered = joined.filter(
        (pl.col("ci_low") <= pl.col("value_right")) & (pl.col("value_right") <= pl.col("ci_high"))
    )
    assert covered.height >= 30
    width = joined["ci_high"] - joined["ci_low"]
    assert ((joined["value"] - joined["value_right"]).abs() < width).all()


def test_planted_state_difference_is_recovered(generated):
    """IOP completion: NY planted 10 points below, NC 8 above the states without a difference."""
    table = benchmarks(generated, by=["service", "state"]).filter(
        pl.col("measure") == "completion", pl.col("service") == "iop"
    )
    truth = dict(
        planted_rates(by_state=True)
        .filter(pl.col("service_code") == 6)
        .select("state_code", "completion")
        .iter_rows()
    )
    for state, code in (("NY", 36), ("NC", 37), ("CA", 6)):
        got = row(table, "completion", state=state)
        assert got["ci_low"] <= truth[code] <= got["ci_high"], state
    assert truth[36] == pytest.approx(truth[6] - 0.10) and truth[37] == pytest.approx(
        truth[6] + 0.08
    )


def test_planted_length_of_stay_is_covered(generated):
    """A stay lasts 1 + floor(X) days, X exponential with the setting's mean m, so the true
    p-quantile in days is ceil(-m log(1 - p)); the interval of each quartile covers it."""
    table = benchmarks(generated, by=["service"])
    means = Planted().los_mean_days
    from outcomes.national import SERVICE_LABELS

    for code, mean in means.items():
        for measure, p in (("los_q1_days", 0.25), ("los_median_days", 0.5), ("los_q3_days", 0.75)):
            true = math.ceil(-mean * math.log(1 - p))
            got = row(table, measure, service=SERVICE_LABELS[code])
            assert got["ci_low"] <= true, (code, measure)
            assert got["ci_high"] is None or true <= got["ci_high"], (code, measure)


def test_cli_writes_the_table_and_names_issues(tmp_path, capsys):
    out = tmp_path / "benchmarks.csv"
    assert main(["national", str(FIXTURE), "--by", "service,state", "--out", str(out)]) == 0
    written = pl.read_csv(out)
    assert written.columns == ["service", "state", *BENCHMARK_COLUMNS]
    expected = benchmarks(read(FIXTURE), by=["service", "state"])
    assert written.height == expected.height
    assert written["numerator"].to_list() == expected["numerator"].to_list()
    err = capsys.readouterr().err
    assert "reading tedsd_handworked.csv" in err and "rows from 31 discharges" in err
    sources = pl.read_csv(tmp_path / "benchmarks.sources.csv")
    assert sources.select("file", "layout", "rows_read", "years").rows() == [
        ("tedsd_handworked.csv", "2015-2022", 31, 2019)
    ], "which public files, layouts and years the table comes from"


def test_cli_refuses_a_non_teds_file_in_one_line(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("client_id,program_type\nC1,iop\n")
    assert main(["national", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "outcomes: export.csv: not a TEDS-D public-use file "
        "(none of CASEID, DISYR, STFIPS, REASON, LOS among its columns)"
    ]
    assert main(["national", str(FIXTURE), "--by", "race"]) == 2
    assert "cannot group by ['race']" in capsys.readouterr().err


def test_cli_lists_issues(tmp_path, capsys):
    path = tmp_path / "dirty.csv"
    path.write_text(FIXTURE.read_text().replace(",2019,6,1,36,6,1,10,", ",2019,6,1,36,6,11,10,", 1))
    issues = tmp_path / "issues.csv"
    out = tmp_path / "b.csv"
    assert main(["national", str(path), "--out", str(out), "--issues", str(issues)]) == 0
    listed = pl.read_csv(issues)
    assert listed.select("row", "column", "value").rows() == [(2, "REASON", 11)]
    assert "1 value(s) outside the codebook" in capsys.readouterr().err


def test_rate_measures_are_the_issue_s():
    assert list(RATE_MEASURES)[:4] == [
        "completion",
        "completion_or_transfer",
        "dropped_out",
        "terminated",
    ]


def test_nation_rows_and_a_subset_of_measures(handworked):
    """nation=True adds, per setting, the rows of the whole nation (state 'all'), equal to the
    table by setting alone; measures= keeps only the measures asked for."""
    both = benchmarks(handworked, by=["service", "state"], nation=True)
    alone = benchmarks(handworked, by=["service"])
    nation = both.filter(pl.col("state") == "all").drop("state")
    assert nation.equals(alone)
    assert both.filter(pl.col("state") != "all").equals(
        benchmarks(handworked, by=["service", "state"])
    )
    some = benchmarks(handworked, by=["service"], measures=["completion", "los_median_days"])
    assert set(some["measure"]) == {"completion", "los_median_days"} and some.height == 6
    with pytest.raises(ValueError, match="unknown measure"):
        benchmarks(handworked, measures=["readmission"])


def test_cli_nation_and_measures(tmp_path):
    out = tmp_path / "b.csv"
    args = ["national", str(FIXTURE), "--by", "service,state", "--nation"]
    assert main([*args, "--measures", "completion", "--out", str(out)]) == 0
    written = pl.read_csv(out)
    expected = benchmarks(
        read(FIXTURE), by=["service", "state"], measures=["completion"], nation=True
    )
    assert (
        written.select("service", "state", "numerator").rows()
        == expected.select("service", "state", "numerator").rows()
    )
    assert main([*args, "--measures", "readmission"]) == 2
