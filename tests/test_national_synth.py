"""The PUF-shaped generator: 2019's margins, the planted truth, every year layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from outcomes.national import _synth
from outcomes.national._codes import PUF_COLUMNS, codebook

SHARED_CODES = Path(__file__).resolve().parents[2] / "shared" / "teds" / "tedsd-2019-codes.csv"
N_2019 = 1_722_503
N = N_2019 // 10  # a tenth of 2019


@pytest.fixture(scope="module")
def puf():
    return _synth.generate(N, seed=2019)


@pytest.mark.skipif(not SHARED_CODES.exists(), reason="the project's shared TEDS folder is absent")
def test_shipped_code_table_is_the_codebook_transcription():
    """The package's table equals the codebook extract in shared/teds (values, labels, counts)."""
    raw = pl.read_csv(SHARED_CODES, infer_schema=False).filter(pl.col("Value").is_not_null())
    expected = raw.select(
        column=pl.col("code"),
        value=pl.col("Value").cast(pl.Int64),
        label=pl.col("Label"),
        frequency=pl.col("Frequency").str.replace_all(",", "").cast(pl.Int64),
    )
    assert codebook().equals(expected)


def test_codebook_columns_each_sum_to_the_2019_total():
    sums = codebook().group_by("column").agg(pl.col("frequency").sum())
    assert sums["frequency"].to_list() == [N_2019] * sums.height
    assert set(sums["column"]) == set(PUF_COLUMNS) - {"CASEID", "CBSA2010"}


def test_shape_and_keys(puf):
    assert puf.columns == PUF_COLUMNS and len(PUF_COLUMNS) == 76
    assert puf["CASEID"].n_unique() == N
    assert puf["DISYR"].unique().to_list() == [2019]


def test_margins_match_the_2019_codebook(puf):
    """Every column not planted has, for every code, n * frequency / 1,722,503 rows, up to the
    rounding of the largest-remainder allocation (at most one row off)."""
    skip = {"CASEID", "DISYR", "CBSA2010", "REASON", "LOS"}
    checked = 0
    for column, table in codebook().group_by("column", maintain_order=True):
        column = column[0]
        if column in skip:
            continue
        counts = dict(puf[column].value_counts().iter_rows())
        for value, freq in table.select("value", "frequency").iter_rows():
            assert abs(counts.get(value, 0) - N * freq / N_2019) < 1, (column, value)
        assert sum(counts.values()) == N and set(counts) <= set(table["value"])
        checked += 1
    assert checked == 71


def test_reason_margin_is_2019s_in_expectation(puf):
    """The planted completion rates average to 2019's 42.1%, and the other reasons share the
    rest as in 2019 (codebook p. 37): each share within 4 binomial standard errors."""
    shares = {1: 0.421, 2: 0.251, 3: 0.055, 4: 0.215, 5: 0.015, 6: 0.002, 7: 0.040}
    exact = {1: 725_929, 2: 432_610, 3: 95_254, 4: 369_503, 5: 26_005, 6: 3_576, 7: 69_626}
    counts = dict(puf["REASON"].value_counts().iter_rows())
    for reason, count in exact.items():
        p = count / N_2019
        assert p == pytest.approx(shares[reason], abs=0.0006)
        assert abs(counts[reason] / N - p) < 4 * np.sqrt(p * (1 - p) / N) + 1e-4, reason


def test_planted_completion_by_service_is_the_stated_one_and_averages_to_2019():
    rates = _synth.planted_rates()
    planted = _synth.Planted()
    assert rates["completion"].to_list() == pytest.approx(
        [planted.completion[s] for s in rates["service_code"]], abs=1e-12
    )
    codes, share = _synth.margins("SERVICES_D")
    overall = sum(planted.completion[int(c)] * s for c, s in zip(codes, share, strict=True))
    assert overall == pytest.approx(0.421, abs=0.0005)


def test_planted_state_rates_are_additive():
    """New York 10 points below, North Carolina 8 above, the other states at the base plus
    the case-mix average (worked from the model: base + state + E[case-mix])."""
    by_state = _synth.planted_rates(by_state=True).filter(pl.col("service_code") == 6)
    rate = dict(by_state.select("state_code", "completion").iter_rows())
    assert rate[36] - rate[1] == pytest.approx(-0.10, abs=1e-12)
    assert rate[37] - rate[1] == pytest.approx(0.08, abs=1e-12)
    codes, share = _synth.margins("STFIPS")
    average = sum(rate[int(c)] * s for c, s in zip(codes, share, strict=True))
    assert average == pytest.approx(0.38, abs=1e-12)


def test_los_codes():
    days = np.array([1, 30, 31, 45, 46, 60, 61, 90, 91, 120, 121, 180, 181, 365, 366, 5000])
    assert _synth.los_code(days).tolist() == [
        1, 30, 31, 31, 32, 32, 33, 33, 34, 34, 35, 35, 36, 36, 37, 37
    ]  # fmt: skip


def test_old_layout_recodes_as_2006_2014_files(puf):
    old = _synth.to_layout(puf.head(5000), "2006-2014", seed=1)
    new = puf.head(5000)
    assert "SERVSETD" in old.columns and "SERVICES_D" not in old.columns
    pairs = set(zip(new["AGE"], old["AGE"], strict=True))
    assert pairs <= {(c, c + 1) for c in range(1, 11)} | {(11, 12), (12, 12)}
    assert set(old["ETHNIC"]) <= {-9, 1, 2, 3, 4, 5, 6} and 6 in set(old["ETHNIC"])
    assert set(old.filter(pl.Series(new["NOPRIOR"] == 1))["NOPRIOR"]) == {1, 2, 3, 4, 5}
    assert set(old.filter(pl.Series(new["SUB1"] == 19))["SUB1"]) == {20}


def test_2021_and_2023_layouts(puf):
    text = _synth.to_layout(puf.head(100), "2021")
    assert text["REASON"].dtype == pl.String
    assert set(text["REASON"]) <= {
        "Treatment Completed", "Dropped Out Of Treatment", "Terminated By Facility",
        "Transferred To Another Treatment Program Or Facility", "Incarcerated", "Death", "Other",
    }  # fmt: skip
    late = _synth.to_layout(puf.head(10), "2023")
    assert "SEX" in late.columns and "GENDER" not in late.columns
    assert late.columns[late.columns.index("CBSA2010") + 1] == "CBSA2020"
    assert late.width == 77


def test_generate_refuses_no_rows():
    with pytest.raises(ValueError, match="at least 1"):
        _synth.generate(0, seed=1)
