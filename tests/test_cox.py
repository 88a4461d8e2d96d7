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


def _tied_data(seed: int = 3, n: int = 80) -> pl.DataFrame:
    """Integer times 1-6 (many ties, up to a dozen events at one time), two strata, case
    weights, one binary and one continuous covariate."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "time": rng.integers(1, 7, n).astype(float),
            "event": rng.random(n) < 0.6,
            "a": rng.integers(0, 2, n).astype(float),
            "b": rng.normal(size=n).round(1),
            "w": rng.uniform(0.5, 2.0, n).round(2),
            "site": rng.choice(["s1", "s2"], n),
        }
    )


def _direct_sums(time, event, x, w, strata, beta, ties):
    """Log partial likelihood, score and information written out term by term: each event
    time's risk set and tied events found by comparing every row, Efron's k/d steps as a loop
    (O(n^2); the definitions in Therneau & Grambsch 2000, section 3.3)."""
    p = x.shape[1]
    r = w * np.exp(x @ beta)
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for stratum in np.unique(strata):
        for t in np.unique(time[(strata == stratum) & event]):
            at_risk = (strata == stratum) & (time >= t)
            dead = (strata == stratum) & (time == t) & event
            d = int(dead.sum())
            loglik += float((w[dead] * (x[dead] @ beta)).sum())
            score += (w[dead, None] * x[dead]).sum(axis=0)
            steps = range(d) if ties == "efron" else range(1)
            weight = w[dead].mean() if ties == "efron" else w[dead].sum()
            for k in steps:
                f = k / d if ties == "efron" else 0.0
                den = r[at_risk].sum() - f * r[dead].sum()
                m1 = r[at_risk] @ x[at_risk] - f * (r[dead] @ x[dead])
                m2 = np.zeros((p, p))
                for i in np.flatnonzero(at_risk):
                    m2 += r[i] * np.outer(x[i], x[i]) * (1 - f * dead[i])
                loglik -= weight * np.log(den)
                score -= weight * m1 / den
                info += weight * (m2 / den - np.outer(m1, m1) / den**2)
    return loglik, score, info


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("stratified", [False, True])
def test_fast_sums_match_direct_computation(ties, weighted, stratified):
    """The cumulative-sum evaluation gives the direct sums at any beta, and the fit the
    estimate and model-based variance of Newton-Raphson on the direct sums."""
    from outcomes.survival._cox_sums import _Sorted, evaluate

    df = _tied_data()
    time, event = df["time"].to_numpy(), df["event"].to_numpy()
    x = df.select("a", "b").to_numpy()
    w = df["w"].to_numpy() if weighted else np.ones(df.height)
    strata = (df["site"] == "s2").cast(pl.Int64).to_numpy() if stratified else np.zeros(df.height)
    # at arbitrary coefficients
    s = _Sorted(time, event.astype(float), strata, w, ties)
    for beta in (np.zeros(2), np.array([0.7, -0.4])):
        got = evaluate(s, x[s.order], beta)
        ll, sc, inf = _direct_sums(time, event, x, w, strata, beta, ties)
        assert got.loglik == pytest.approx(ll, rel=1e-12)
        np.testing.assert_allclose(got.score, sc, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got.info, inf, rtol=1e-10)
    # at the maximum
    beta = np.zeros(2)
    for _ in range(30):
        _, sc, inf = _direct_sums(time, event, x, w, strata, beta, ties)
        beta = beta + np.linalg.solve(inf, sc)
    _, sc, inf = _direct_sums(time, event, x, w, strata, beta, ties)
    assert np.abs(sc).max() < 1e-10
    fit = cox(
        df,
        "time",
        "event",
        ["a", "b"],
        ties=ties,
        weights="w" if weighted else None,
        strata="site" if stratified else None,
    )
    np.testing.assert_allclose(fit.coefficients["estimate"], beta, rtol=1e-8)
    np.testing.assert_allclose(
        fit.coefficients["std_error"], np.sqrt(np.diag(np.linalg.inv(inf))), rtol=1e-8
    )


def _direct_robust_se(time, event, x, w, strata, cluster, beta, ties):
    """Cluster-robust SE from score residuals written out per row and event time (Therneau &
    Grambsch 2000, section 3.3; R's residuals(fit, "score")): row i's residual is its
    event's x_i - xbar (Efron: xbar averaged over the d steps) less, at every event time up
    to its own and every step k, exp(x_i'b) (x_i - xbar_k) c / den_k, scaled by 1 - k/d at
    its own time if it is one of the tied events; dfbeta = w_i resid_i' V, summed by
    cluster."""
    p = x.shape[1]
    risk = np.exp(x @ beta)
    r = w * risk
    resid = np.zeros((time.size, p))
    _, _, info = _direct_sums(time, event, x, w, strata, beta, ties)
    for stratum in np.unique(strata):
        for t in np.unique(time[(strata == stratum) & event]):
            at_risk = (strata == stratum) & (time >= t)
            dead = (strata == stratum) & (time == t) & event
            d = int(dead.sum())
            steps = range(d) if ties == "efron" else range(1)
            weight = w[dead].mean() if ties == "efron" else w[dead].sum()
            xbars = []
            for k in steps:
                f = k / d if ties == "efron" else 0.0
                den = r[at_risk].sum() - f * r[dead].sum()
                xbar = (r[at_risk] @ x[at_risk] - f * (r[dead] @ x[dead])) / den
                xbars.append(xbar)
                for i in np.flatnonzero(at_risk):
                    scale = 1 - f if dead[i] else 1.0
                    resid[i] -= scale * risk[i] * (x[i] - xbar) * weight / den
            for i in np.flatnonzero(dead):
                resid[i] += x[i] - np.mean(xbars, axis=0)
    dfbeta = (resid @ np.linalg.inv(info)) * w[:, None]
    groups = np.unique(cluster, return_inverse=True)[1]
    summed = np.stack([np.bincount(groups, weights=dfbeta[:, j]) for j in range(p)], axis=1)
    return np.sqrt(np.diag(summed.T @ summed))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_robust_se_matches_direct_score_residuals(ties):
    """Weights, strata and clusters of two to three rows together."""
    df = _tied_data().with_columns(client=pl.int_range(pl.len()) // 3)
    fit = cox(
        df, "time", "event", ["a", "b"], ties=ties, weights="w", strata="site", cluster="client"
    )
    beta = fit.coefficients["estimate"].to_numpy()
    expected = _direct_robust_se(
        df["time"].to_numpy(),
        df["event"].to_numpy(),
        df.select("a", "b").to_numpy(),
        df["w"].to_numpy(),
        df["site"].to_numpy(),
        df["client"].to_numpy(),
        beta,
        ties,
    )
    np.testing.assert_allclose(fit.coefficients["robust_std_error"], expected, rtol=1e-8)


def _direct_concordance(time, event, eta, strata, w):
    """Harrell's C pair by pair: an event is compared with every row of its stratum at risk
    after its time (later times, or censored at its time); scores equal within 1e-10 tie."""
    num = den = 0.0
    for i in np.flatnonzero(event):
        for j in range(time.size):
            later = time[j] > time[i] or (time[j] == time[i] and not event[j])
            if strata[j] != strata[i] or not later:
                continue
            pair = w[i] * w[j]
            den += pair
            if abs(eta[i] - eta[j]) <= 1e-10:
                num += pair / 2
            elif eta[i] > eta[j]:
                num += pair
    return num / den


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_concordance_matches_pair_by_pair_count(seed):
    """Tied times, tied scores (a coarse score), strata and weights."""
    from outcomes.survival._cox import _concordance

    rng = np.random.default_rng(seed)
    n = 150
    time = rng.integers(1, 15, n).astype(float)
    event = rng.random(n) < 0.5
    eta = rng.integers(0, 9, n) / 4  # many ties in the score
    strata = rng.integers(0, 3, n)
    w = rng.uniform(0.2, 3.0, n)
    expected = _direct_concordance(time, event, eta, strata, w)
    assert _concordance(time, event, eta, strata, w) == pytest.approx(expected, rel=1e-12)
    one = np.zeros(n, dtype=int)
    expected = _direct_concordance(time, event, eta, one, np.ones(n))
    assert _concordance(time, event, eta, one, np.ones(n)) == pytest.approx(expected, rel=1e-12)


def test_without_ph_test_every_other_field_is_the_same():
    df = _tied_data()
    kw = {"weights": "w", "strata": "site"}
    full = cox(df, "time", "event", ["a", "b"], **kw)
    fast = cox(df, "time", "event", ["a", "b"], ph_test=False, **kw)
    assert full.ph_test.height == 3  # a, b, GLOBAL
    assert fast.ph_test.height == 0
    assert fast.ph_test.schema == full.ph_test.schema
    assert fast.coefficients.columns == full.coefficients.columns
    for column in full.coefficients.columns[1:]:
        np.testing.assert_allclose(
            fast.coefficients[column].to_numpy(), full.coefficients[column].to_numpy(), rtol=1e-14
        )
    assert fast.coefficients["term"].to_list() == full.coefficients["term"].to_list()
    assert (fast.n, fast.n_events, fast.ties) == (full.n, full.n_events, full.ties)
    assert fast.loglik == pytest.approx(full.loglik, rel=1e-14)
    assert fast.concordance == pytest.approx(full.concordance, rel=1e-14)
    assert fast.notes[: len(full.notes)] == full.notes
    assert fast.notes[len(full.notes) :] == (
        "The test of proportional hazards was not computed (ph_test=False).",
    )
