"""Cox regression against R's coxph (tests/reference/cox.R and cox.csv).

Tolerance: rtol 1e-5 for coefficients and (robust) standard errors, as an iterative fit; the
fits here agree with R to about 1e-12.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from outcomes import synth
from outcomes.survival import COX_COLUMNS, cox

REF = Path(__file__).resolve().parent / "reference"
LUNG = pl.read_csv(REF / "lung.csv", null_values="NA")
TIES = pl.read_csv(REF / "ties_cox.csv")
COX = pl.read_csv(REF / "cox.csv", null_values="NA")
ROSSI = pl.read_csv(REF / "rossi.csv")
ROSSI_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
RTOL = 1e-5

MODELS = {
    # model: (data, event, extra arguments); the R call is in tests/reference/cox.R
    "lung_efron": (LUNG, "status", {}),
    "lung_breslow": (LUNG, "status", {"ties": "breslow"}),
    "ties_efron": (TIES, "event", {}),
    "ties_breslow": (TIES, "event", {"ties": "breslow"}),
    "ties_cluster": (TIES, "event", {"cluster": "client"}),
    "ties_weights": (TIES, "event", {"weights": "weight"}),
    "ties_weights_cluster": (TIES, "event", {"weights": "weight", "cluster": "client"}),
    "ties_strata": (TIES, "event", {"strata": "site"}),
    "rossi_efron": (ROSSI, "arrest", {}),
    "rossi_breslow": (ROSSI, "arrest", {"ties": "breslow"}),
}


@pytest.mark.parametrize("model", MODELS)
def test_cox_matches_coxph(model):
    """coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi);
    coxph(Surv(time, status) ~ age + ph_ecog + sex, data = lung[, ties = "breslow"]);
    coxph(Surv(time, event) ~ iop + x2 [+ strata(site)], data = ties, [weights = weight,]
    [cluster = client]) with robust = TRUE where weighted."""
    data, event, extra = MODELS[model]
    covariates = {
        "lung": ["age", "ph_ecog", "sex"],
        "ties": ["iop", "x2"],
        "rossi": ROSSI_COVARIATES,
    }[model.split("_")[0]]
    fit = cox(data, "week" if data is ROSSI else "time", event, covariates, **extra)
    expected = COX.filter(pl.col("model") == model)
    got = fit.coefficients
    assert got.columns == list(COX_COLUMNS)
    if data is LUNG:
        assert got["term"].to_list() == ["age", "ph_ecog", "sex[male]"]  # R: sexmale
    if data is ROSSI:  # R: finyes age raceother wexpyes marnot married paroyes prio
        assert got["term"].to_list() == [
            "fin[yes]",
            "age",
            "race[other]",
            "wexp[yes]",
            "mar[not married]",
            "paro[yes]",
            "prio",
        ]
    np.testing.assert_allclose(got["estimate"], expected["estimate"], rtol=RTOL)
    np.testing.assert_allclose(got["std_error"], expected["std_error"], rtol=RTOL)
    if expected["robust_std_error"].null_count() == 0:
        np.testing.assert_allclose(got["robust_std_error"], expected["robust_std_error"], rtol=RTOL)
    else:
        assert got["robust_std_error"].null_count() == got.height
    assert fit.loglik == pytest.approx(expected["loglik"][0], rel=1e-8)
    assert fit.concordance == pytest.approx(expected["concordance"][0], rel=1e-8)
    assert (fit.n, fit.n_events) == (expected["n"][0], expected["n_events"][0])


def test_hazard_ratio_columns_and_dropped_rows():
    fit = cox(LUNG, "time", "status", ["age", "ph_ecog"])
    assert fit.n == 227  # one row lacks ph_ecog
    assert any("1 row" in n for n in fit.notes)
    c = fit.coefficients
    np.testing.assert_allclose(c["hazard_ratio"], np.exp(c["estimate"]))
    assert (c["hr_ci_low"] < c["hazard_ratio"]).all() and (
        c["hazard_ratio"] < c["hr_ci_high"]
    ).all()


def test_unknown_arguments_are_refused():
    with pytest.raises(TypeError):
        cox(LUNG, "time", "status", ["age"], robust=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="ties"):
        cox(LUNG, "time", "status", ["age"], ties="exact")  # type: ignore[arg-type]


def test_planted_readmission_hazard_ratio_is_recovered():
    """Generated data: readmission after episodes not followed by a step-down is Weibull PH
    with log HR(IOP vs residential) = Effects().readmission_log_hr_iop given severity."""
    import outcomes
    from outcomes.survival import readmission_data

    truth = synth.Effects().readmission_log_hr_iop
    ep = outcomes.episodes(synth.generate(20000, seed=5))
    data = (
        readmission_data(ep)
        .filter(
            (pl.col("program_type") == "iop")
            | (
                (pl.col("program_type") == "residential")
                & ~pl.col("discharge_reason").is_in(["completed", "transferred"])
            )
        )
        .with_columns(
            pl.col("prior_episodes").clip(upper_bound=4).alias("prior4"),
            (pl.col("program_type") == "iop").cast(pl.Int8).alias("iop"),
        )
    )
    fit = cox(
        data,
        "time",
        "event",
        ["iop", "co_occurring_mh", "prior4", "primary_substance", "age_group"],
        cluster="client_id",
    )
    row = fit.coefficients.filter(pl.col("term") == "iop").row(0, named=True)
    assert row["ci_low"] < truth < row["ci_high"]


ZPH = pl.read_csv(REF / "cox_zph.csv")


@pytest.mark.parametrize(
    ("model", "data", "event", "covariates", "extra"),
    [
        ("lung_efron", LUNG, "status", ["age", "ph_ecog", "sex"], {}),
        ("lung_breslow", LUNG, "status", ["age", "ph_ecog", "sex"], {"ties": "breslow"}),
        ("ties_efron", TIES, "event", ["iop", "x2"], {}),
        ("ties_weights", TIES, "event", ["iop", "x2"], {"weights": "weight"}),
        ("ties_strata", TIES, "event", ["iop", "x2"], {"strata": "site"}),
        ("ties_factor", TIES, "event", ["site", "x2"], {}),
    ],
)
def test_proportional_hazards_test_matches_cox_zph(model, data, event, covariates, extra):
    """cox.zph(coxph(...)) with the default transform = "km": chisq, df, p per term and
    GLOBAL (a factor term has one df per level but the reference)."""
    expected = ZPH.filter(pl.col("model") == model)
    got = cox(data, "time", event, covariates, **extra).ph_test
    assert got["term"].to_list() == expected["term"].to_list()
    assert got["df"].to_list() == expected["df"].to_list()
    np.testing.assert_allclose(got["chisq"], expected["chisq"], rtol=1e-5)
    np.testing.assert_allclose(got["p_value"], expected["p_value"], rtol=1e-5)


def test_concordance_ties_found_within_tolerance():
    """Identical covariate rows whose risk scores differ by one rounding (as an AVX-512 BLAS
    kernel gives) are still one tie. Worked by hand: times 1, 2, 3 all events, scores
    (0.3, 0.3 + 1 ulp, 0.1). Comparable pairs (i with the earlier time): (1,2): scores tied ->
    1/2; (1,3): 0.3 > 0.1 concordant; (2,3): concordant. C = (2 + 0.5) / 3."""
    from outcomes.survival._cox import _concordance, tie_ranks

    x = np.array([0.3, np.nextafter(0.3, 1.0), 0.1])
    assert tie_ranks(x).tolist() == [1, 1, 0]
    t = np.array([1.0, 2.0, 3.0])
    e = np.array([True, True, True])
    c = _concordance(t, e, x, np.zeros(3, dtype=int), np.ones(3))
    assert c == pytest.approx(2.5 / 3, rel=1e-12)
    # and scores that really differ keep their order
    assert tie_ranks(np.array([0.3, 0.3001, 0.1])).tolist() == [1, 2, 0]
