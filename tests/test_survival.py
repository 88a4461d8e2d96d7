"""Survival estimators against R (tests/reference/survival.R and its committed outputs).

Tolerances: rtol 1e-6 for closed forms (KM, Greenwood, CIs, log-rank, CIF, RMST); counts exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outcomes.survival import (
    CIF_COLUMNS,
    KM_COLUMNS,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    median_survival,
    rmst,
    survival_at,
)

REF = Path(__file__).resolve().parent / "reference"
RTOL = 1e-6


def ref(name: str) -> pl.DataFrame:
    return pl.read_csv(REF / name, null_values="NA")


LUNG = ref("lung.csv")
TIES = ref("ties.csv")


def close(got, expected, rtol=RTOL):
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    m = ~np.isnan(expected)
    np.testing.assert_allclose(got[m], expected[m], rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
@pytest.mark.parametrize("by", [None, "sex"])
def test_kaplan_meier_matches_survfit(conf_type, by):
    """summary(survfit(Surv(time, status) ~ 1 or sex, data = lung, conf.type = ...),
    censored = TRUE)."""
    expected = ref("km_lung.csv").filter(pl.col("conf_type") == conf_type)
    expected = (
        expected.filter(pl.col("group") == "all")
        if by is None
        else expected.filter(pl.col("group") != "all")
    )
    got = kaplan_meier(LUNG, "time", "status", by=by, conf_type=conf_type)
    assert got.columns == ([by] if by else []) + list(KM_COLUMNS)
    assert got["time"].to_list() == expected["time"].cast(pl.Float64).to_list()
    assert got["n_risk"].to_list() == expected["n_risk"].to_list()
    assert got["n_event"].to_list() == expected["n_event"].to_list()
    assert got["n_censor"].to_list() == expected["n_censor"].to_list()
    close(got["estimate"], expected["estimate"])
    close(got["std_error"], expected["std_err"])
    close(got["ci_low"], expected["lower"])
    close(got["ci_high"], expected["upper"])


@pytest.mark.parametrize(
    ("name", "weights"), [("km_ties.csv", None), ("km_ties_weighted.csv", "weight")]
)
def test_kaplan_meier_with_ties_and_weights(name, weights):
    """survfit(Surv(time, event) ~ group, data = ties[, weights = weight]): integer days with
    many ties; non-integer case weights."""
    expected = ref(name)
    got = kaplan_meier(TIES, "time", "event", by="group", weights=weights)
    assert got["group"].to_list() == expected["group"].to_list()
    close(got["n_risk"], expected["n_risk"])
    close(got["n_event"], expected["n_event"])
    close(got["estimate"], expected["estimate"])
    close(got["std_error"], expected["std_err"])
    close(got["ci_low"], expected["lower"])
    close(got["ci_high"], expected["upper"])


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_quantiles_match_r(conf_type):
    """quantile(survfit(...), probs = c(0.25, 0.5, 0.75)) with each conf.type."""
    expected = ref("quantiles_lung.csv").filter(pl.col("conf_type") == conf_type)
    overall = median_survival(
        LUNG, "time", "status", conf_type=conf_type, quantiles=(0.25, 0.5, 0.75)
    )
    by_sex = median_survival(
        LUNG, "time", "status", by="sex", conf_type=conf_type, quantiles=(0.25, 0.5, 0.75)
    )
    got = pl.concat(
        [overall.with_columns(pl.lit("all").alias("sex")).select(by_sex.columns), by_sex]
    )
    close(got["estimate"], expected["estimate"])
    close(got["ci_low"], expected["lower"])
    close(got["ci_high"], expected["upper"])


def test_quantiles_with_flat_segments_take_the_midpoint():
    """Tied integer days: R's midpoint rule where the curve sits exactly at 1 - p."""
    expected = ref("quantiles_ties.csv")
    got = median_survival(TIES, "time", "event", by="group", quantiles=(0.25, 0.5, 0.75))
    close(got["estimate"], expected["estimate"])
    close(got["ci_low"], expected["lower"])
    close(got["ci_high"], expected["upper"])


def test_median_midpoint_by_hand():
    # 4 subjects, events at 1, 2, 3, 4: S = .75 .5 .25 0; S = 0.5 exactly from 2 to 3
    frame = pl.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 1, 1]})
    assert median_survival(frame, "t", "e")["estimate"].item() == 2.5


def test_survival_at_fixed_times():
    """summary(survfit(Surv(time, status) ~ sex, data = lung), times = c(30, 90, 180, 365))."""
    expected = ref("survival_at_lung.csv")
    got = survival_at(LUNG, "time", "status", by="sex")
    assert got["n_risk"].to_list() == expected["n_risk"].to_list()
    close(got["estimate"], expected["estimate"])
    close(got["std_error"], expected["std_err"])
    close(got["ci_low"], expected["lower"])
    close(got["ci_high"], expected["upper"])


@pytest.mark.parametrize(
    ("test", "data", "by", "strata"),
    [
        ("lung_sex", "lung", "sex", None),
        ("lung_sex_strata_inst", "lung", "sex", "inst"),
        ("ties_group", "ties", "group", None),
        ("ties_site", "ties", "site", None),
        ("ties_group_strata_site", "ties", "group", "site"),
    ],
)
def test_logrank_matches_survdiff(test, data, by, strata):
    """survdiff(Surv(time, status) ~ by [+ strata(s)])."""
    expected = ref("logrank.csv").filter(pl.col("test") == test)
    frame = LUNG if data == "lung" else TIES
    event = "status" if data == "lung" else "event"
    got = logrank(frame, "time", event, by=by, strata=strata)
    assert got.df == expected["df"][0]
    close([got.chisq], [expected["chisq"][0]])
    close([got.p_value], [expected["p_value"][0]])
    close(got.groups["observed"], expected["observed"])
    close(got.groups["expected"], expected["expected"])


def test_cumulative_incidence_matches_cuminc():
    """cmprsk::cuminc(time, cause, group = group, cencode = 0): estimate and var at each
    distinct time (cuminc lists each time twice, as steps: the last value is the estimate)."""
    expected = (
        ref("cuminc_ties.csv")
        .filter(pl.col("time") > 0)
        .group_by("group", "cause", "time", maintain_order=True)
        .last()
        .sort("group", "cause", "time")
    )
    got = cumulative_incidence(TIES, "time", "cause", by="group")
    assert got.columns == ["group", *CIF_COLUMNS]
    joined = expected.with_columns(pl.col("time").cast(pl.Float64)).join(
        got, on=["group", "cause", "time"], how="left"
    )
    assert joined["estimate_right"].null_count() == 0  # every time cuminc lists is here
    assert joined.height > 100
    close(joined["estimate_right"], joined["estimate"])
    close(joined["std_error"] ** 2, joined["variance"])


@pytest.mark.parametrize("tau", [200, 500])
def test_rmst_matches_survfit_rmean(tau):
    """print(survfit(Surv(time, status) ~ sex, data = lung), rmean = tau): rmean, se(rmean)."""
    expected = ref("rmst_lung.csv").filter(pl.col("tau") == tau)
    got = rmst(LUNG, "time", "status", tau=tau, by="sex")
    close(got.groups["estimate"], expected["rmean"])
    close(got.groups["std_error"], expected["se"])
    diff = got.difference.row(0, named=True)
    assert diff["contrast"] == "male - female"
    assert diff["estimate"] == pytest.approx(expected["rmean"][1] - expected["rmean"][0])


# --- properties -------------------------------------------------------------------------------

cohorts = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), min_size=1, max_size=60)


@given(cohorts)
def test_km_is_a_non_increasing_probability(rows):
    frame = pl.DataFrame(rows, schema=["t", "c"], orient="row").with_columns(
        (pl.col("c") > 0).alias("e")
    )
    km = kaplan_meier(frame, "t", "e")
    s = km["estimate"].to_numpy()
    assert ((s >= 0) & (s <= 1)).all()
    assert (np.diff(s) <= 1e-15).all()


@given(st.lists(st.integers(0, 30), min_size=1, max_size=60))
def test_km_without_censoring_is_one_minus_the_ecdf(times):
    frame = pl.DataFrame({"t": times, "e": [1] * len(times)})
    km = kaplan_meier(frame, "t", "e")
    t = np.asarray(times)
    ecdf = np.array([(t <= u).mean() for u in km["time"].to_numpy()])
    np.testing.assert_allclose(km["estimate"].to_numpy(), 1 - ecdf, atol=1e-12)


@given(cohorts)
def test_cumulative_incidences_add_up_to_one_minus_km(rows):
    """Sum over causes of the CIF = 1 - all-cause KM (statsmodels' test_incidence2)."""
    frame = pl.DataFrame(rows, schema=["t", "c"], orient="row").with_columns(
        (pl.col("c") > 0).alias("e")
    )
    km = kaplan_meier(frame, "t", "e")
    if frame["c"].max() == 0:
        return
    cif = cumulative_incidence(frame, "t", "c")
    total = cif.group_by("time").agg(pl.col("estimate").sum()).sort("time")
    joined = km.join(total, on="time", suffix="_cif")
    np.testing.assert_allclose(joined["estimate_cif"], 1 - joined["estimate"], atol=1e-12)


def test_builders_on_the_hand_fixture():
    """The metrics fixture (as_of 2025-12-31): 14 discharges, one died (E07)."""
    from outcomes.survival import dropout_data, readmission_data, relapse_data

    from handworked import AS_OF, fixture

    ds = fixture()
    readm = readmission_data(ds, AS_OF)
    assert readm.height == 13 and readm["event"].sum() == 4  # E01 E02 E04 E14
    e01 = readm.filter(pl.col("episode_id") == "E01").row(0, named=True)
    assert (e01["time"], e01["event"]) == (91, True)
    assert readmission_data(ds, AS_OF, include_deaths=True).height == 14
    assert relapse_data(ds, AS_OF)["event"].sum() == 5  # + E16
    drop = dropout_data(ds, AS_OF)
    assert drop.height == 18 and drop["event"].sum() == 3  # E05 E06 E15
    with pytest.raises(ValueError, match="followups"):
        relapse_data(fixture(followups=False), AS_OF)
    km = kaplan_meier(readm, "time", "event")
    assert km["n_risk"][0] == 13
