"""The generator: deterministic, contract-conforming, and carrying its documented planted truth."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from statsmodels.duration.hazard_regression import PHReg

import outcomes
from outcomes import synth
from outcomes.schema import SPECS

from conftest import assert_planted_mistakes_found

END = dt.date(2026, 9, 30)


@pytest.fixture(scope="module")
def small() -> outcomes.Dataset:
    return synth.generate(3000, seed=11)


@pytest.fixture(scope="module")
def large() -> outcomes.Dataset:
    return synth.generate(20000, seed=5)


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (synth.generate(400, seed=s) for s in (3, 3, 4))
    for name in ("enrollments", "attendance", "followups"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.enrollments.equals(c.enrollments)


def test_written_files_load_clean_and_round_trip(small, tmp_path):
    for fmt in ("csv", "parquet"):
        folder = synth.write(small, tmp_path / fmt, fmt=fmt)
        ds = outcomes.load(folder)
        assert ds.issues.height == 0, ds.issues.head()
        for name in ("enrollments", "attendance", "followups"):
            assert getattr(ds, name).equals(getattr(small, name)), (fmt, name)


def test_contract_dtypes_codes_and_dates(small):
    for name, spec in SPECS.items():
        frame = getattr(small, name)
        assert frame.columns == list(spec.names)
        for col in spec.columns:
            assert frame.schema[col.name] == col.dtype
            if col.allowed:
                assert set(frame[col.name].drop_nulls()) <= set(col.allowed), col.name
            if not col.nullable:
                assert frame[col.name].null_count() == 0, col.name
    enr = small.enrollments
    assert enr["episode_id"].is_unique().all()
    assert (enr["discharge_date"].is_null() == enr["discharge_reason"].is_null()).all()
    assert enr["admit_date"].min() >= dt.date(2024, 1, 1)
    assert enr["admit_date"].max() <= END and enr["discharge_date"].max() <= END
    assert small.attendance["session_date"].max() <= END
    assert small.followups["contact_date"].max() <= END
    assert (
        enr.drop_nulls("discharge_date")
        .select(pl.col("discharge_date") >= pl.col("admit_date"))
        .to_series()
    ).all()


def test_program_mix_tracks_and_rare_events(small):
    enr = small.enrollments
    share = enr["program_type"].value_counts(normalize=True)
    shares = dict(zip(share["program_type"], share["proportion"], strict=True))
    assert shares["iop"] > 0.25 and shares["residential"] > 0.25
    assert all(shares[p] > 0.02 for p in ("php", "outpatient", "detox"))
    iop = enr.filter(pl.col("program_type") == "iop")["planned_length_days"]
    assert set(iop.drop_nulls()) == {42, 49, 56}
    res = enr.filter(pl.col("program_type") == "residential")["planned_length_days"]
    assert {45, 60, 90} <= set(res.drop_nulls()) and res.null_count() > 0
    reasons = enr["discharge_reason"].value_counts(normalize=True)
    r = dict(zip(reasons["discharge_reason"], reasons["proportion"], strict=True))
    assert 0 < r["died"] < 0.01
    assert r["completed"] > r["left_early"] > r["discharged_by_program"] > 0
    assert r["incarcerated"] > 0 and r[None] > 0  # open episodes at the end
    iop_modality = enr.filter(pl.col("program_type") == "iop")["modality"].value_counts(
        normalize=True
    )
    tele = iop_modality.filter(pl.col("modality") != "in_person")["proportion"].sum()
    assert 0.15 < tele < 0.35
    assert set(enr.filter(pl.col("program_type") == "residential")["modality"]) == {"in_person"}


def test_residential_clients_are_more_severe(small):
    enr = small.enrollments.filter(pl.col("program_type").is_in(["iop", "residential"]))
    by = enr.group_by("program_type").agg(
        pl.col("co_occurring_mh").mean(), pl.col("prior_episodes").mean()
    )
    res = by.filter(pl.col("program_type") == "residential").row(0, named=True)
    iop = by.filter(pl.col("program_type") == "iop").row(0, named=True)
    assert res["co_occurring_mh"] > iop["co_occurring_mh"] + 0.1
    assert res["prior_episodes"] > iop["prior_episodes"] + 0.3
    court = enr.group_by(pl.col("referral_source") == "court").agg(
        (pl.col("program_type") == "residential").mean().alias("res")
    )
    assert (
        court.filter(pl.col("referral_source"))["res"].item()
        > court.filter(~pl.col("referral_source"))["res"].item() + 0.05
    )


def _session_table(ds):
    return ds.attendance.join(
        ds.enrollments.select(
            "episode_id", "program_type", "admit_date", "discharge_date", "discharge_reason"
        ),
        on="episode_id",
    )


def test_attendance_tracks_completion_and_missed_sessions_precede_dropout(small):
    s = _session_table(small).filter(
        pl.col("status").is_in(["attended", "no_show"]),
        pl.col("session_date") <= pl.col("discharge_date"),
    )
    rate = s.group_by("discharge_reason").agg((pl.col("status") == "attended").mean().alias("r"))
    r = dict(zip(rate["discharge_reason"], rate["r"], strict=True))
    assert r["completed"] > r["left_early"] + 0.1
    left = s.filter(pl.col("discharge_reason") == "left_early").with_columns(
        ((pl.col("discharge_date") - pl.col("session_date")).dt.total_days() < 14).alias("late")
    )
    miss = left.group_by("late").agg((pl.col("status") == "no_show").mean().alias("m"))
    m = dict(zip(miss["late"], miss["m"], strict=True))
    assert m[True] > m[False] + 0.15


def test_iop_sessions_are_three_a_week_of_three_to_four_hours(small):
    s = _session_table(small).filter(pl.col("program_type") == "iop")
    assert set(s["hours"]) <= {3.0, 3.5, 4.0}
    full = small.enrollments.filter(
        pl.col("program_type") == "iop", pl.col("discharge_reason") == "completed"
    )
    per_week = (
        s.filter(
            pl.col("episode_id").is_in(full["episode_id"].implode()),
            pl.col("session_date") <= pl.col("discharge_date"),
        )
        .group_by("episode_id")
        .agg(
            pl.len().alias("n"),
            ((pl.col("discharge_date") - pl.col("admit_date")).dt.total_days().first() + 1).alias(
                "days"
            ),
        )
        .select((pl.col("n") / (pl.col("days") / 7)).mean())
        .item()
    )
    assert 2.6 < per_week < 3.4


def test_some_sessions_fall_just_after_discharge_but_none_far_outside(small):
    s = _session_table(small)
    after = (s["session_date"] > s["discharge_date"]).fill_null(False)
    assert 0.003 < after.mean() < 0.03
    gap = (s["session_date"] - s["discharge_date"]).dt.total_days().drop_nulls()
    assert gap.max() <= 7


def test_step_downs_follow_residential_stays(small):
    enr = small.enrollments.sort("client_id", "admit_date").with_columns(
        pl.col("admit_date", "program_type").shift(-1).over("client_id").name.prefix("next_")
    )
    steps = enr.filter(
        pl.col("program_type") == "residential",
        pl.col("discharge_reason").is_in(["completed", "transferred"]),
        pl.col("next_program_type").is_in(["iop", "outpatient"]),
        (pl.col("next_admit_date") - pl.col("discharge_date")).dt.total_days().is_between(0, 30),
    )
    eligible = enr.filter(
        pl.col("program_type") == "residential",
        pl.col("discharge_reason").is_in(["completed", "transferred"]),
    )
    assert 0.3 < steps.height / eligible.height < 0.65
    same_day = steps.filter(pl.col("next_admit_date") == pl.col("discharge_date")).height
    assert same_day > 0


def _design(enr: pl.DataFrame) -> pl.DataFrame:
    """The covariates severity is built from (module docstring), as a numeric design."""
    cols = [
        pl.col("co_occurring_mh").cast(pl.Float64).alias("cooc"),
        pl.col("prior_episodes").clip(upper_bound=4).cast(pl.Float64).alias("prior4"),
    ]
    cols += [
        (pl.col("primary_substance") == s).cast(pl.Float64).alias(f"sub_{s}")
        for s in ("opioids", "stimulants", "cannabis", "sedatives", "other")
    ]
    cols += [
        (pl.col("age_group") == a).cast(pl.Float64).alias(f"age_{a}")
        for a in ("12-17", "18-24", "55-64", "65+")
    ]
    return enr.select(cols)


def test_planted_completion_effect_is_recovered_and_naive_is_biased(large):
    """logit P(completed) has IOP log OR = Effects().completion_log_or_iop given severity.

    Episodes admitted at least 120 days before the end are all closed (no stay exceeds 100
    days), so outcome-dependent censoring cannot bias the check.
    """
    truth = synth.Effects().completion_log_or_iop
    enr = large.enrollments.filter(
        pl.col("program_type").is_in(["iop", "residential"]),
        pl.col("admit_date") <= END - dt.timedelta(days=120),
        pl.col("discharge_reason") != "died",
    )
    assert enr["discharge_date"].null_count() == 0
    y = (enr["discharge_reason"] == "completed").cast(pl.Float64).to_numpy()
    iop = (enr["program_type"] == "iop").cast(pl.Float64).to_numpy()
    x = np.column_stack([np.ones_like(iop), iop, _design(enr).to_numpy()])
    fit = sm.Logit(y, x).fit(disp=0)
    lo, hi = fit.conf_int()[1]
    assert lo < truth < hi
    naive = sm.Logit(y, np.column_stack([np.ones_like(iop), iop])).fit(disp=0)
    # residential clients are more severe, so the naive contrast flatters IOP
    assert naive.params[1] - truth > 0.15
    assert naive.conf_int()[1][0] > truth


def test_planted_readmission_hazard_is_recovered(large):
    """Time from discharge to next admission is Weibull PH with IOP log HR
    Effects().readmission_log_hr_iop given severity, for episodes not followed by a step-down.

    Residential stays ending completed or transferred are left out (they may be followed by a
    step-down); completion does not enter the hazard, so the rest is an unbiased at-risk set.
    Checked with statsmodels PHReg (Efron ties) as an external fitter.
    """
    truth = synth.Effects().readmission_log_hr_iop
    enr = large.enrollments.sort("client_id", "admit_date").with_columns(
        pl.col("admit_date").shift(-1).over("client_id").alias("next_admit")
    )
    enr = enr.filter(
        pl.col("discharge_date").is_not_null(),
        pl.col("discharge_reason") != "died",
        (pl.col("program_type") == "iop")
        | (
            (pl.col("program_type") == "residential")
            & ~pl.col("discharge_reason").is_in(["completed", "transferred"])
        ),
    )
    event = enr["next_admit"].is_not_null().to_numpy()
    stop = enr.select(pl.coalesce("next_admit", pl.lit(END))).to_series()
    time = (stop - enr["discharge_date"]).dt.total_days().to_numpy().astype(float)
    iop = (enr["program_type"] == "iop").cast(pl.Float64).to_numpy()
    x = np.column_stack([iop, _design(enr).to_numpy()])
    fit = PHReg(time + 0.5, x, status=event.astype(float), ties="efron").fit()
    lo, hi = fit.conf_int()[0]
    assert lo < truth < hi, (lo, hi, truth)


def test_null_effects_give_null_truth():
    eff = synth.Effects(completion_log_or_iop=0.0, readmission_log_hr_iop=0.0)
    assert eff.completion_log_or_iop == 0 and math.isclose(math.exp(eff.readmission_log_hr_iop), 1)
    ds = synth.generate(300, seed=2, effects=eff)
    assert ds.enrollments.height > 300


def test_committed_sample_is_reproduced_by_its_documented_command(tmp_path, sample_dir: Path):
    """data/sample is `make sample`: outcomes synth --clients 3000 --seed 20261001 ..."""
    from outcomes.cli import main

    assert (
        main(
            [
                "synth",
                "--clients",
                "3000",
                "--seed",
                "20261001",
                "--start",
                "2024-01-01",
                "--end",
                "2026-09-30",
                "--out",
                str(tmp_path),
                "--format",
                "csv",
            ]
        )
        == 0
    )
    for name in ("enrollments", "attendance", "followups"):
        committed = (sample_dir / f"{name}.csv").read_bytes()
        assert (tmp_path / f"{name}.csv").read_bytes() == committed, name


def test_messy_export_plants_what_it_says(tmp_path):
    """synth --messy: the loader finds exactly the planted mistakes, forgives capitalised
    codes, and accounts for every row."""
    ds = synth.generate(600, seed=9)
    folder = synth.write(ds, tmp_path / "messy", messy=True, seed=9)
    loaded = outcomes.load(folder, on_error="exclude")
    assert_planted_mistakes_found(loaded, ".csv")
    acct = {r["file"]: r for r in loaded.accounting.iter_rows(named=True)}
    assert acct["enrollments.csv"]["rows_read"] == ds.enrollments.height + 1  # the double row
    for r in acct.values():
        assert r["rows_read"] == r["rows_kept"] + r["rows_excluded"]
    with pytest.raises(outcomes.DataError):
        outcomes.load(folder)


def test_marginal_hazard_ratio_collapses_without_heterogeneity_and_attenuates_with_it():
    """Worked out from the model: with every episode at the same severity the marginal and
    conditional hazard ratios coincide (1.25, up to the day rounding of the times), and with
    severity varying the marginal ratio is pulled towards 1 (hazard ratios do not collapse)."""
    same = pl.DataFrame(
        {
            "co_occurring_mh": [True] * 4000,
            "prior_episodes": [2] * 4000,
            "primary_substance": ["opioids"] * 4000,
            "age_group": ["25-34"] * 4000,
        }
    )
    never_censored = np.full(same.height, 100_000)
    hr = synth.marginal_readmission_hazard_ratio(same, never_censored, draws=10)
    assert hr == pytest.approx(1.25, abs=0.02)
    # half the episodes 1.6 apart on the log-hazard scale (co-occurring disorder, 4 prior
    # episodes and opioids against none, none and cannabis): the high-risk ones leave the
    # risk set first, more so under the higher IOP hazard, which pulls the ratio towards 1;
    # less so when follow-up is cut at a year (fewer of them have left by then)
    mixed = same.with_columns(
        pl.Series("co_occurring_mh", [True, False] * 2000),
        pl.Series("prior_episodes", [4, 0] * 2000),
        pl.Series("primary_substance", ["opioids", "cannabis"] * 2000),
    )
    attenuated = synth.marginal_readmission_hazard_ratio(mixed, never_censored, draws=10)
    year = synth.marginal_readmission_hazard_ratio(mixed, np.full(mixed.height, 365), draws=10)
    assert 1.15 < attenuated < year - 0.01 < hr - 0.02
