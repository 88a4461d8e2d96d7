"""Programs beside TEDS-D: crude comparison, indirect standardisation (hand-worked and against an
independent direct calculation), funnel limits."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import outcomes
from outcomes.national import (
    benchmarks,
    beside,
    funnel_limits,
    funnel_plot,
    generate_puf,
    read,
    standardise,
)
from outcomes.national._beside import BESIDE_COLUMNS, STANDARDISED_COLUMNS, newcombe

FIXTURE = Path(__file__).parent / "fixtures" / "national" / "tedsd_handworked.csv"


@pytest.fixture(scope="module")
def teds():
    return read(FIXTURE)


@pytest.fixture(scope="module")
def provider():
    """Six discharged IOP episodes (co-occurring T,T,T,F,F,F; completed 1 of the co-occurring,
    all 3 others), one open IOP episode, and four residential episodes planned for 60 days
    (long-term): completed (co-occurring), completed (not), transferred (not), left early
    (co-occurring unknown)."""
    reasons = ["completed", "left_early", "left_early", "completed", "completed", "completed",
               None, "completed", "completed", "transferred", "left_early"]  # fmt: skip
    co_occurring = [True, True, True, False, False, False, True, True, False, False, None]
    return pl.DataFrame(
        {
            "program_type": ["iop"] * 7 + ["residential"] * 4,
            "planned_length_days": [42] * 7 + [60] * 4,
            "discharge_reason": reasons,
            "co_occurring_mh": co_occurring,
            "age_group": ["25-34"] * 11,
        }
    )


def test_beside_worked_by_hand(teds, provider):
    """IOP: 4 of 6 discharges completed against the nation's IOP 7 of 14 (fixture). Difference
    1/6 with Newcombe's hybrid score interval from the two Wilson intervals (R
    ``prop.test(4, 6, correct=FALSE)``: 0.299993315138392-0.903228588894220; ``prop.test(7,
    14, ...)``: 0.267992024524136-0.732007975475864):
    low = 1/6 - sqrt((2/3 - 0.29999)^2 + (0.73201 - 1/2)^2),
    high = 1/6 + sqrt((0.90323 - 2/3)^2 + (1/2 - 0.26799)^2).
    New York's IOP: 3 of 8. Long-term residential: 2 of 4 against the nation's 5 of 14."""
    table = beside(provider, teds, state="NY", measures=["completion"])
    assert table.columns == ["program_type", *BESIDE_COLUMNS]
    iop = table.filter(program_type="iop", reference="nation").row(0, named=True)
    assert iop["setting"] == "iop" and iop["teds_services"] == "6"
    assert (iop["numerator"], iop["denominator"]) == (4, 6)
    assert (iop["benchmark_numerator"], iop["benchmark_denominator"]) == (7, 14)
    assert iop["observed"] == pytest.approx(4 / 6, rel=1e-12)
    assert iop["observed_ci_low"] == pytest.approx(0.299993315138392, rel=1e-8)
    assert iop["benchmark_ci_high"] == pytest.approx(0.732007975475864, rel=1e-8)
    low = 1 / 6 - math.hypot(2 / 3 - 0.299993315138392, 0.732007975475864 - 0.5)
    high = 1 / 6 + math.hypot(0.903228588894220 - 2 / 3, 0.5 - 0.267992024524136)
    assert iop["difference"] == pytest.approx(1 / 6, rel=1e-12)
    assert iop["difference_ci_low"] == pytest.approx(low, rel=1e-8)
    assert iop["difference_ci_high"] == pytest.approx(high, rel=1e-8)
    ny = table.filter(program_type="iop", reference="NY").row(0, named=True)
    assert (ny["benchmark_numerator"], ny["benchmark_denominator"]) == (3, 8)
    res = table.filter(program_type="residential", reference="nation").row(0, named=True)
    assert (res["setting"], res["teds_services"]) == ("residential_long", "5")
    assert (res["numerator"], res["denominator"], res["benchmark_numerator"]) == (2, 4, 5)
    assert res["benchmark_denominator"] == 14


def test_program_settings_are_overridable(teds, provider):
    """Comparing the residential programs with short- and long-term residential together
    (4, 5): the fixture has no short-term discharges, so the benchmark is still 5 of 14."""
    table = beside(provider, teds, measures=["completion"], settings={"residential_long": (4, 5)})
    res = table.filter(program_type="residential").row(0, named=True)
    assert res["teds_services"] == "4,5" and res["benchmark_denominator"] == 14
    with pytest.raises(ValueError, match="SERVICES_D codes 1-8"):
        beside(provider, teds, settings={"iop": (9,)})
    with pytest.raises(ValueError, match="unknown state"):
        beside(provider, teds, state="New York")


def test_standardise_worked_by_hand(teds, provider):
    """Strata by co-occurring disorder only. Nation's IOP (fixture): co-occurring 2 of 6
    completed (1/3), not 5 of 8. The provider's six IOP discharges: E = 3 (1/3) + 3 (5/8) =
    2.875, O = 4, O/E = 1.3913; New York's IOP: co-occurring 1 of 4, not 2 of 4, so E = 3/4 +
    3/2 = 2.25, O/E = 1.7778. Long-term residential: the nation's co-occurring 4 of 6, not 1
    of 8; the provider's episode of unknown co-occurrence has no stratum (TEDS has no
    missing PSYPROB there): n = 3, E = 2/3 + 1/8 + 1/8, O = 2. Intervals: R
    ``poisson.test(4, 2.875)$conf.int``, ``poisson.test(4, 2.25)``, ``poisson.test(2, 11/12)``.
    """
    table = standardise(provider, teds, casemix=["co_occurring"], state="NY")
    assert table.columns == ["program_type", *STANDARDISED_COLUMNS]
    iop = table.filter(program_type="iop", reference="nation").row(0, named=True)
    assert (iop["n"], iop["observed"], iop["n_unmatched"]) == (6, 4, 0)
    assert iop["expected"] == pytest.approx(2.875, rel=1e-12)
    assert iop["oe_ratio"] == pytest.approx(4 / 2.875, rel=1e-12)
    assert iop["ci_low"] == pytest.approx(0.379083608217852, rel=1e-8)
    assert iop["ci_high"] == pytest.approx(3.562291713183895, rel=1e-8)
    assert iop["reference_rate"] == pytest.approx(0.5, rel=1e-12)
    assert iop["adjusted_rate"] == pytest.approx(0.5 * 4 / 2.875, rel=1e-12)
    assert iop["expected_rate"] == pytest.approx(2.875 / 6, rel=1e-12)
    ny = table.filter(program_type="iop", reference="NY").row(0, named=True)
    assert ny["expected"] == pytest.approx(2.25, rel=1e-12)
    assert (ny["ci_low"], ny["ci_high"]) == pytest.approx(
        (0.484384610500589, 4.551817189068310), rel=1e-8
    )
    res = table.filter(program_type="residential", reference="nation").row(0, named=True)
    assert (res["n"], res["observed"], res["n_unmatched"]) == (3, 2, 1)
    assert res["expected"] == pytest.approx(2 / 3 + 1 / 4, rel=1e-12)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx(
        (0.264228303866144, 7.881477455698864), rel=1e-8
    )


# --- an independent direct calculation on generated data -------------------------------------

AGE = {1: "12-17", 2: "12-17", 3: "18-24", 4: "18-24", 5: "25-34", 6: "25-34", 7: "35-44",
       8: "35-44", 9: "45-54", 10: "45-54", 11: "55-64", 12: "65+"}  # fmt: skip
SUB = {2: "alcohol", 3: "stimulants", 4: "cannabis", 5: "opioids", 6: "opioids", 7: "opioids",
       10: "stimulants", 11: "stimulants", 12: "stimulants", 13: "sedatives", 14: "sedatives",
       15: "sedatives", 16: "sedatives"}  # fmt: skip
REF = {1: "self", 2: "healthcare", 3: "healthcare", 4: "school", 5: "employer", 6: "community",
       7: "court"}  # fmt: skip


def _teds_key(row) -> tuple:
    """A TEDS row's stratum in the provider's own words, written out from the data contract's
    TEDS notes (schema.py), independently of outcomes.national._mapping."""
    age, sex, sub, psy, prior, ref = row
    return (
        AGE.get(age, "?"),
        {1: "male", 2: "female"}.get(sex, "?"),
        SUB.get(sub, "other" if sub in (1, 8, 9, 17, 18, 19) else "?"),
        {1: True, 2: False}.get(psy, "?"),
        {0: "0", 1: "1+"}.get(prior, "?"),
        REF.get(ref, "?"),
    )


def _provider_key(ep: dict) -> tuple:
    prior = ep["prior_episodes"]
    ref = ep["referral_source"]
    return (
        ep["age_group"] or "?",
        ep["sex"] if ep["sex"] in ("male", "female") else "?",
        ep["primary_substance"] or "?",
        "?" if ep["co_occurring_mh"] is None else ep["co_occurring_mh"],
        "?" if prior is None else ("0" if prior == 0 else "1+"),
        "self" if ref == "family" else ref if ref in REF.values() else "?",
    )


def test_indirect_standardisation_matches_a_direct_calculation():
    """E for each program = sum over its discharged episodes of the TEDS completion rate among
    national discharges in its setting (IOP 6; residential by planned length 4 or 5; php 6;
    outpatient 7; detox 1, 2, 8) with the same six case-mix values, computed with plain dicts
    over the rows; O = completed episodes among those with a stratum."""
    puf = generate_puf(60_000, seed=5)
    path = Path(__import__("tempfile").mkdtemp()) / "puf.parquet"
    puf.write_parquet(path)
    teds = read(path)
    ep = outcomes.episodes(outcomes.synth.generate(400, seed=3))
    got = standardise(ep, teds)
    by = ["service", "state", "age_group", "sex", "substance", "co_occurring", "prior_treatment",
          "referral"]  # fmt: skip
    table = benchmarks(teds, by=by, measures=["completion"])
    assert standardise(ep, table).equals(got), "the aggregate table gives the same O and E"

    counts: dict = defaultdict(lambda: [0, 0])
    cols = ["AGE", "GENDER", "SUB1", "PSYPROB", "NOPRIOR", "PSOURCE"]
    for service, reason, *rest in puf.select("SERVICES_D", "REASON", *cols).iter_rows():
        cell = counts[(service, _teds_key(rest))]
        cell[0] += 1
        cell[1] += reason == 1
    settings = {"iop": (6,), "php": (6,), "outpatient": (7,), "detox": (1, 2, 8)}
    totals: dict = defaultdict(lambda: [0, 0.0, 0, 0])  # n, E, O, unmatched
    for e in ep.filter(pl.col("discharge_reason").is_not_null()).iter_rows(named=True):
        program = e["program_type"]
        if program == "residential":
            codes = (
                (4, 5)
                if e["planned_length_days"] is None
                else ((4,) if e["planned_length_days"] <= 30 else (5,))
            )
            key = ("residential", codes)
        else:
            key = (program, settings[program])
        n = sum(counts[(s, _provider_key(e))][0] for s in key[1])
        x = sum(counts[(s, _provider_key(e))][1] for s in key[1])
        if n == 0:
            totals[key][3] += 1
            continue
        totals[key][0] += 1
        totals[key][1] += x / n
        totals[key][2] += e["discharge_reason"] == "completed"
    assert got.height == len(totals) >= 5
    for row in got.iter_rows(named=True):
        codes = tuple(int(c) for c in row["teds_services"].split(","))
        n, expected, observed, unmatched = totals[(row["program_type"], codes)]
        assert (row["n"], row["observed"], row["n_unmatched"]) == (n, observed, unmatched)
        assert row["expected"] == pytest.approx(expected, rel=1e-10)
        assert row["oe_ratio"] == pytest.approx(observed / expected, rel=1e-10)


def test_standardise_refuses_what_it_cannot_do(teds, provider):
    with pytest.raises(ValueError, match="episodes lack case-mix"):
        standardise(provider, teds, casemix=["sex"])
    with pytest.raises(ValueError, match="unknown measure"):
        standardise(provider, teds, measure="readmission")


def test_newcombe_is_symmetric_and_zero_safe():
    d, low, high = newcombe(7, 14, 7, 14)
    assert d == 0 and low == pytest.approx(-high, rel=1e-12)
    assert newcombe(1, 0, 1, 2) == (None, None, None)


def test_funnel_limits_against_spiegelhalter():
    """R: E <- 100; r <- qpois(p, E); a <- (ppois(r, E) - p) / (ppois(r, E) - ppois(r - 1, E));
    (r - a) / E, for p = 0.025, 0.975 (and E = 7.3, p = 0.001, 0.999)."""
    limits = funnel_limits([100.0, 7.3])
    wide = limits.filter(pl.col("level") == 0.95)
    assert wide["low"][0] == pytest.approx(0.803663371217, rel=1e-9)
    assert wide["high"][0] == pytest.approx(1.195808948521, rel=1e-9)
    narrow = limits.filter(pl.col("level") == 0.998)
    assert narrow["low"][1] == pytest.approx(0.009012946661, rel=1e-8)
    assert narrow["high"][1] == pytest.approx(2.265555463607, rel=1e-9)
    grid = funnel_limits(np.geomspace(1, 1000, 50), levels=[0.95])
    assert (grid["low"] <= 1).all() and (grid["high"] >= 1).all()
    assert grid["high"][-1] - grid["low"][-1] < grid["high"][0] - grid["low"][0]


def test_funnel_plot_draws_points_limits_and_benchmark(teds, provider):
    table = standardise(provider, teds, casemix=["co_occurring"]).filter(reference="nation")
    fig = funnel_plot(table)
    ax = fig.axes[0]
    assert len(ax.lines) == 5, "two pairs of limits and the benchmark line"
    assert [t.get_text() for t in ax.texts] == ["iop", "residential"]
    assert ax.collections[0].get_offsets().shape == (2, 2)


# --- from a benchmark table instead of the public file ----------------------------------------


def test_a_benchmark_table_read_back_from_csv_gives_the_same_comparisons(teds, provider, tmp_path):
    """The report has the aggregate, not the public file: the completion table by setting,
    state and case-mix, written as CSV and read back, gives the same beside and O/E rows
    (national from the states' sum, and from the table's own ``all`` rows)."""
    by = ["service", "state", "co_occurring"]
    for nation in (False, True):
        path = tmp_path / f"bench-{nation}.csv"
        benchmarks(teds, by=by, measures=["completion"], nation=nation).write_csv(path)
        table = pl.read_csv(path)
        want = standardise(provider, teds, casemix=["co_occurring"], state="NY")
        got = standardise(provider, table, casemix=["co_occurring"], state="NY")
        assert got.equals(want), nation
        want = beside(provider, teds, state="NY", measures=["completion"])
        got = beside(provider, table, state="NY", measures=["completion"])
        assert got.equals(want), nation


def test_a_table_without_the_measure_or_the_columns_is_refused(teds, provider):
    table = benchmarks(teds, by=["service"], measures=["dropped_out"])
    with pytest.raises(ValueError, match="no 'completion' rows"):
        beside(provider, table, measures=["completion"])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['co_occurring'\]"):
        standardise(provider, table, casemix=["co_occurring"], measure="dropped_out")
    bad = table.with_columns(service=pl.lit("IOP"))
    with pytest.raises(ValueError, match="not its labels"):
        beside(provider, bad, measures=["dropped_out"])
