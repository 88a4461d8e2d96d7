"""Adjusted IOP-vs-residential comparison: weights by hand, E-values from the paper, planted
truth from the generator."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import outcomes
from outcomes import compare, synth

# zEpid-style fixture: L confounds; P(A=1 | L=0) = 1/4, P(A=1 | L=1) = 4/6, P(A=1) = 1/2.
HAND = pl.DataFrame(
    {
        "client_id": [f"C{i}" for i in range(10)],
        "program_type": [
            "iop",
            "residential",
            "residential",
            "residential",
            "iop",
            "iop",
            "iop",
            "iop",
            "residential",
            "residential",
        ],
        "L": ["a", "a", "a", "a", "b", "b", "b", "b", "b", "b"],
        "completed": [True, False, True, False, True, True, False, True, False, True],
    }
)


def test_weights_by_hand():
    ps = compare.propensity(HAND, covariates=["L"])
    assert ps.data["ps"].to_numpy() == pytest.approx([1 / 4] * 4 + [2 / 3] * 6, abs=1e-8)
    ate = compare.iptw(ps, "ate", stabilized=False)["weight"].to_numpy()
    # 1/ps for treated, 1/(1-ps) for controls
    assert ate == pytest.approx([4, 4 / 3, 4 / 3, 4 / 3, 1.5, 1.5, 1.5, 1.5, 3, 3], abs=1e-7)
    stab = compare.iptw(ps, "ate")["weight"].to_numpy()
    assert stab == pytest.approx(ate * 0.5, abs=1e-7)  # P(A=1) = P(A=0) = 1/2
    att = compare.iptw(ps, "att", stabilized=False)["weight"].to_numpy()
    # treated 1, controls ps/(1-ps): 1/3 under L=a, 2 under L=b
    assert att == pytest.approx([1, 1 / 3, 1 / 3, 1 / 3, 1, 1, 1, 1, 2, 2], abs=1e-7)


# the regression method's bootstrap resamples of ten rows can separate perfectly
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_iptw_risk_difference_by_hand():
    """Standardized risks: treated 0.4 * 1 + 0.6 * 3/4 = 0.85; control 0.4 * 1/3 + 0.6 * 1/2 =
    0.4333; difference 0.41667, ratio 1.96154."""
    effects = compare.completion_effects(HAND, covariates=["L"], n_boot=20)
    iptw = effects.filter(pl.col("method") == "iptw")
    rd = iptw.filter(pl.col("outcome") == "completion_risk_difference").row(0, named=True)
    rr = iptw.filter(pl.col("outcome") == "completion_risk_ratio").row(0, named=True)
    assert rd["estimate"] == pytest.approx(0.85 - 13 / 30, abs=1e-7)
    assert rr["estimate"] == pytest.approx(0.85 / (13 / 30), abs=1e-6)
    assert rd["ci_low"] < rd["estimate"] < rd["ci_high"]
    naive = effects.filter(
        pl.col("method") == "naive", pl.col("outcome") == "completion_risk_difference"
    )
    assert naive["estimate"].item() == pytest.approx(4 / 5 - 2 / 5)  # 4 of 5 vs 2 of 5
    assert effects.columns == list(compare.EFFECT_COLUMNS)
    assert (effects["n_treated"] == 5).all() and (effects["n_control"] == 5).all()


def test_sandwich_by_hand_with_a_saturated_propensity():
    """With one binary confounder the propensity model is saturated: IPTW is then
    post-stratification, whose influence function is written by hand per row,
    ``T/e_l (Y - ybar_1l) + (ybar_1l - mu_1)`` minus its control counterpart. The stacked
    sandwich (propensity equations included, every client a cluster, G/(G-1)) must give
    ``sum IF^2 / n^2 * n/(n-1)``. The naive one: ``T (Y - ybar_1) n/n_1 - (1-T)(Y - ybar_0)
    n/n_0``."""
    from outcomes.intervals import z_value

    y = HAND["completed"].cast(float).to_list()
    t = [p == "iop" for p in HAND["program_type"]]
    stratum = HAND["L"].to_list()
    n = len(y)
    share = {"a": 4 / 10, "b": 6 / 10}
    e = {"a": 1 / 4, "b": 4 / 6}
    ybar1 = {"a": 1.0, "b": 3 / 4}  # iop: 1 of 1 under a, 3 of 4 under b
    ybar0 = {"a": 1 / 3, "b": 1 / 2}  # residential: 1 of 3 under a, 1 of 2 under b
    mu1 = sum(share[s] * ybar1[s] for s in "ab")
    mu0 = sum(share[s] * ybar0[s] for s in "ab")
    influence = [
        (t[i] / e[s] * (y[i] - ybar1[s]) + ybar1[s] - mu1)
        - ((1 - t[i]) / (1 - e[s]) * (y[i] - ybar0[s]) + ybar0[s] - mu0)
        for i, s in enumerate(stratum)
    ]
    se_iptw = (sum(v * v for v in influence) / n**2 * n / (n - 1)) ** 0.5
    n1 = sum(t)
    m1, m0 = 4 / 5, 2 / 5
    naive = [
        t[i] * (y[i] - m1) * n / n1 - (1 - t[i]) * (y[i] - m0) * n / (n - n1) for i in range(n)
    ]
    se_naive = (sum(v * v for v in naive) / n**2 * n / (n - 1)) ** 0.5

    effects = compare.completion_effects(HAND, covariates=["L"])
    rd = {
        r["method"]: r
        for r in effects.filter(pl.col("outcome") == "completion_risk_difference").iter_rows(
            named=True
        )
    }
    z = z_value(0.95)
    assert rd["iptw"]["estimate"] == pytest.approx(mu1 - mu0, abs=1e-9)
    assert (rd["iptw"]["ci_high"] - rd["iptw"]["ci_low"]) / (2 * z) == pytest.approx(
        se_iptw, rel=1e-7
    )
    assert (rd["naive"]["ci_high"] - rd["naive"]["ci_low"]) / (2 * z) == pytest.approx(
        se_naive, rel=1e-9
    )
    # the doubly robust estimate with a saturated propensity model is the IPTW one plus the
    # weighted residual mean, which is zero within each stratum-by-program cell only when the
    # outcome model is saturated too; here it is not (no interaction), so only the order holds
    assert rd["aipw"]["ci_low"] < rd["aipw"]["estimate"] < rd["aipw"]["ci_high"]


def test_evalue_matches_vanderweele_ding():
    """VanderWeele & Ding (2017): RR 3.9 (1.8-8.7) gives E-values 7.26 and 3.0."""
    point, limit = compare.evalue(3.9, 1.8, 8.7)
    assert point == pytest.approx(3.9 + (3.9 * 2.9) ** 0.5)
    assert round(point, 2) == 7.26 and limit == pytest.approx(3.0)
    assert compare.evalue(0.5)[0] == pytest.approx(2 + 2**0.5)  # 1/RR below 1
    assert compare.evalue(0.8, 0.6, 1.1)[1] == 1.0  # interval crosses 1


def test_design_is_reference_coded():
    frame = pl.DataFrame({"s": ["x", "y", "y", None], "n": [1, None, 3, 5]})
    d = compare.design_matrix(frame, ["s", "n"])
    # reference = most frequent level (y); missing is a level; median fills the number
    assert d.columns == ["s[missing]", "s[x]", "n[missing]", "n"]
    assert d["n"].to_list() == [1.0, 3.0, 3.0, 5.0]


def _truth(ep: pl.DataFrame, estimand: str = "ate") -> float:
    sub = ep.filter(
        pl.col("program_type").is_in(["iop", "residential"]), pl.col("completed").is_not_null()
    )
    if estimand == "att":
        sub = sub.filter(pl.col("program_type") == "iop")
    return float(
        np.mean(
            synth.completion_probability(sub, "iop")
            - synth.completion_probability(sub, "residential")
        )
    )


def _analysis_episodes(n_clients: int, seed: int) -> pl.DataFrame:
    ds = synth.generate(n_clients, seed=seed)
    # episodes admitted early enough to be closed: no outcome-dependent censoring
    return outcomes.episodes(ds).filter(pl.col("admit_date") <= pl.date(2026, 5, 1))


def test_planted_truth_is_covered_and_naive_is_off():
    ep = _analysis_episodes(8000, seed=21)
    effects = compare.completion_effects(ep)
    truth = _truth(ep)
    rd = {
        r["method"]: r
        for r in effects.filter(pl.col("outcome") == "completion_risk_difference").iter_rows(
            named=True
        )
    }
    assert rd["iptw"]["ci_low"] < truth < rd["iptw"]["ci_high"]
    assert rd["regression"]["ci_low"] < truth < rd["regression"]["ci_high"]
    assert rd["aipw"]["ci_low"] < truth < rd["aipw"]["ci_high"]
    assert not rd["naive"]["ci_low"] < truth < rd["naive"]["ci_high"]
    assert rd["naive"]["estimate"] - truth > 0.04  # residential clients are sicker
    ps = compare.propensity(ep.filter(pl.col("completed").is_not_null()))
    bal = compare.balance(compare.iptw(ps), ps.design)
    assert bal["smd_unweighted"].abs().max() > 0.1  # confounded before weighting
    assert bal["smd_weighted"].abs().max() < 0.1  # balanced after


@pytest.mark.slow
def test_iptw_coverage_over_seeds():
    """95% intervals should cover the planted ATE in most of several independent datasets."""
    covered, naive_off = 0, 0
    seeds = range(100, 108)
    for seed in seeds:
        ep = _analysis_episodes(5000, seed=seed)
        effects = compare.completion_effects(ep)
        truth = _truth(ep)
        rd = {
            r["method"]: r
            for r in effects.filter(pl.col("outcome") == "completion_risk_difference").iter_rows(
                named=True
            )
        }
        covered += rd["iptw"]["ci_low"] < truth < rd["iptw"]["ci_high"]
        naive_off += not rd["naive"]["ci_low"] < truth < rd["naive"]["ci_high"]
    assert covered >= 7  # of 8
    assert naive_off >= 6


def test_the_bootstrap_option_agrees_with_the_analytic_intervals():
    """200 client resamples (each refitting both models) give percentile intervals whose
    widths are within 20% of the stacked sandwich's, for every adjusted method: two routes to
    the same sampling variability."""
    ep = _analysis_episodes(3000, seed=8)
    analytic = compare.completion_effects(ep)
    boot = compare.completion_effects(ep, n_boot=200, seed=1)
    assert analytic["estimate"].to_list() == pytest.approx(boot["estimate"].to_list(), abs=1e-12)
    for a, b in zip(analytic.iter_rows(named=True), boot.iter_rows(named=True), strict=True):
        if a["method"] == "naive":
            assert (a["ci_low"], a["ci_high"]) == (b["ci_low"], b["ci_high"])
            continue
        ratio = (b["ci_high"] - b["ci_low"]) / (a["ci_high"] - a["ci_low"])
        assert 0.8 < ratio < 1.2, (a["outcome"], a["method"], ratio)


def test_readmission_effects_and_the_comparison_object():
    ep = _analysis_episodes(6000, seed=4)
    result = compare.compare(ep, n_boot=20)
    effects = result.effects
    assert effects.columns == list(compare.EFFECT_COLUMNS)
    assert set(effects["outcome"]) == {
        "completion_risk_difference",
        "completion_risk_ratio",
        "readmission_hazard_ratio",
        "readmission_risk_difference_90d",
        "readmission_risk_difference_365d",
    }
    hr = {
        r["method"]: r
        for r in effects.filter(pl.col("outcome") == "readmission_hazard_ratio").iter_rows(
            named=True
        )
    }
    # planted conditional HR 1.25: adjustment moves the estimate up from the naive one
    assert hr["iptw"]["estimate"] > hr["naive"]["estimate"] + 0.1
    assert hr["regression"]["ci_low"] > 1.0
    assert (result.evalues["evalue_estimate"] >= 1).all()
    assert result.balance.columns == list(compare.BALANCE_COLUMNS)
    assert result.diagnostics["group"].to_list() == ["treated", "control"]
    assert "ATE" in result._repr_html_()


def test_compare_command(sample_dir, tmp_path, capsys):
    from outcomes.cli import main

    out, bal = tmp_path / "effects.csv", tmp_path / "balance.csv"
    assert (
        main(
            [
                "compare",
                str(sample_dir),
                "--bootstrap",
                "10",
                "--out",
                str(out),
                "--balance-out",
                str(bal),
            ]
        )
        == 0
    )
    table = pl.read_csv(out)
    assert table.columns == list(compare.EFFECT_COLUMNS)
    assert set(table["method"]) == {"naive", "iptw", "regression", "aipw"}
    assert pl.read_csv(bal).columns == list(compare.BALANCE_COLUMNS)
    err = capsys.readouterr().err
    # the default period is the report's: the trailing year of the last full quarter
    assert "discharges in 2025Q4-2026Q3 (the trailing year of 2026Q3)" in err
    assert main(["compare", str(sample_dir), "--treated", "rehab"]) == 2


def test_compare_command_writes_every_table_and_compares_within_sites(sample_dir, tmp_path):
    """--out-dir holds effects, balance, diagnostics, E-values, overlap and the notes; --by
    site_id gives one comparison per site with the site in the first column; the same
    trailing year as the report, so the all-sites effects equal compare() on it."""
    from outcomes.cli import main

    folder = tmp_path / "out"
    assert main(["compare", str(sample_dir), "--period", "2026Q3", "--out-dir", str(folder)]) == 0
    for name in ("effects", "balance", "diagnostics", "evalues", "overlap"):
        assert pl.read_csv(folder / f"{name}.csv").height > 0, name
    notes = (folder / "notes.txt").read_text()
    assert "Headline: the doubly robust (AIPW) estimate" in notes
    ds = outcomes.load(sample_dir)
    direct = compare.compare(outcomes.discharged_in(ds, "2025Q4-2026Q3")).effects
    written = pl.read_csv(folder / "effects.csv")
    np.testing.assert_allclose(written["estimate"], direct["estimate"], rtol=1e-9)

    by_site = tmp_path / "sites.csv"
    assert main(["compare", str(sample_dir), "--by", "site_id", "--out", str(by_site)]) == 0
    sites = pl.read_csv(by_site)
    assert sites.columns[0] == "site_id" and sites["site_id"].n_unique() >= 2
    assert main(["compare", str(sample_dir), "--by", "no_such_column"]) == 2


def test_propensity_matches_r_glm():
    """glm(I(fin == "yes") ~ age + race + wexp + mar + prio, family = binomial, data = Rossi):
    fitted probabilities (independent of the dummies' reference levels), rtol 1e-6."""
    from pathlib import Path

    ref = Path(__file__).resolve().parent / "reference"
    rossi = pl.read_csv(ref / "rossi.csv")
    expected = pl.read_csv(ref / "rossi_propensity.csv")["ps"].to_numpy()
    ps = compare.propensity(
        rossi,
        treatment="yes",
        control="no",
        program="fin",
        covariates=["age", "race", "wexp", "mar", "prio"],
    )
    np.testing.assert_allclose(ps.data["ps"].to_numpy(), expected, rtol=1e-6)


def test_planted_readmission_risk_differences_are_covered():
    """Episodes that cannot be followed by a step-down (IOP, and residential stays not ending
    completed or transferred) carry the planted Weibull hazard; their true 90- and 365-day risk
    difference is the mean of F_iop(h) - F_residential(h) over them. Completion does not enter
    the hazard, so restricting on it leaves the comparison unconfounded given severity."""
    ds = synth.generate(20000, seed=13)
    ep = outcomes.episodes(ds).filter(
        (pl.col("program_type") == "iop")
        | (
            (pl.col("program_type") == "residential")
            & ~pl.col("discharge_reason").is_in(["completed", "transferred"])
        )
    )
    effects = compare.readmission_effects(ep)
    analysed = ep.filter(pl.col("readmit_cause").is_in([0, 1]))
    for h in (90, 365):
        truth = float(
            np.mean(
                synth.readmission_probability(analysed, "iop", h)
                - synth.readmission_probability(analysed, "residential", h)
            )
        )
        rows = {
            r["method"]: r
            for r in effects.filter(
                pl.col("outcome") == f"readmission_risk_difference_{h}d"
            ).iter_rows(named=True)
        }
        assert rows["iptw"]["ci_low"] < truth < rows["iptw"]["ci_high"], (h, truth, rows["iptw"])
        assert rows["naive"]["estimate"] < truth  # residential clients are sicker


# --- models that cannot be estimated ----------------------------------------------------------


def _tiny(**columns) -> pl.DataFrame:
    """Eight episodes of eight clients, four iop then four residential."""
    return pl.DataFrame(
        {
            "client_id": [f"C{i}" for i in range(8)],
            "program_type": ["iop"] * 4 + ["residential"] * 4,
            **columns,
        }
    )


@pytest.mark.parametrize(
    ("covariate", "values", "why"),
    [
        # L = "b" exactly for residential: logit P(iop) = b0 + b1 [L = b] gains likelihood
        # without end as b1 -> -inf (every residential episode is predicted exactly)
        ("L", ["a"] * 4 + ["b"] * 4, "L[b] occurs among residential episodes only"),
        # x <= 4 exactly for iop: any b1 < 0 with the cut at 4.5 separates, the likelihood
        # tends to 1 as b1 -> -inf and has no maximum
        ("x", [1, 2, 3, 4, 5, 6, 7, 8], "separation"),
    ],
)
def test_a_separating_propensity_model_raises_estimation_error(covariate, values, why):
    """Worked by hand: the covariate predicts the program exactly, so the logistic model's
    maximum-likelihood estimate does not exist."""
    from outcomes.errors import EstimationError

    ep = _tiny(**{covariate: values, "completed": [True, False] * 4})
    with pytest.raises(EstimationError) as err:
        compare.compare(ep, covariates=[covariate], n_boot=5)
    message = str(err.value)
    assert message.startswith("the propensity model of iop against residential could not be")
    assert why in message and "separation" in message and "\n" not in message


def test_a_program_without_events_raises_estimation_error():
    """Every iop episode completed: its risk is 1, the outcome model separates on the program
    (and with none completed, the log of the risk would not exist). The propensity is fine:
    L is balanced, ps = 1/2 everywhere."""
    from outcomes.errors import EstimationError

    ep = _tiny(L=["a", "a", "b", "b"] * 2, completed=[True] * 4 + [True, False] * 2)
    assert compare.propensity(ep, covariates=["L"]).data["ps"].to_list() == pytest.approx([0.5] * 8)
    with pytest.raises(EstimationError, match=r"too few events \(4 of 4 iop episodes completed"):
        compare.completion_effects(ep, covariates=["L"], n_boot=5)


def test_numerical_failures_become_estimation_errors():
    from outcomes.compare._weights import estimating
    from outcomes.errors import EstimationError

    with pytest.raises(EstimationError, match=r"the naive Cox model .* singular design"):
        with estimating("the naive Cox model of readmission"):
            raise np.linalg.LinAlgError("Singular matrix")
    with pytest.raises(EstimationError, match="numerical failure"):
        with estimating("the iptw completion effect", strict=False):
            raise ZeroDivisionError("float division by zero")


def test_small_datasets_raise_estimation_error_not_linalg_error():
    """Issue #11: the 60-client report's comparison failed with LinAlgError. `outcomes synth
    --clients 60 --seed 1 --start 2025-01-01 --end 2026-09-30`: with 53 episodes for 28
    covariate terms, levels such as age_group 12-17 occur in one program only."""
    from outcomes.errors import EstimationError

    ep = outcomes.episodes(synth.generate(60, seed=1, start="2025-01-01", end="2026-09-30"))
    with pytest.raises(EstimationError, match=r"propensity model .* perfect separation"):
        compare.compare(ep, "iop", "residential", n_boot=5)


def test_a_text_covariate_with_nearly_all_distinct_values_is_never_one_hot_encoded():
    """A race_ethnicity column of unique e-mails made the comparison one-hot encode ~5,000
    levels and time out; it is refused at once, naming the column."""
    from outcomes.errors import CovariateError, EstimationError, OutcomesError

    frame = pl.DataFrame({"race_ethnicity": [f"person{i}@example.com" for i in range(60)]})
    with pytest.raises(CovariateError) as err:
        compare.design_matrix(frame, ["race_ethnicity"])
    assert isinstance(err.value, ValueError) and isinstance(err.value, EstimationError)
    assert isinstance(err.value, OutcomesError)
    message = str(err.value)
    assert "'race_ethnicity' has 60 distinct values in 60 rows" in message
    assert "\n" not in message and "@" not in message
    # more than half the rows (and more than 10 levels) is refused too; fewer is fine
    twelve = [f"l{i % 12}" for i in range(20)]
    with pytest.raises(CovariateError):
        compare.design_matrix(pl.DataFrame({"s": twelve}), ["s"])
    assert compare.design_matrix(pl.DataFrame({"s": twelve + twelve[:10]}), ["s"]).width == 11
    # through the comparison: reported at once (a one-line error), not after hours
    ep = _analysis_episodes(400, seed=3)
    ep = ep.with_columns((pl.lit("p") + pl.int_range(pl.len()).cast(pl.String)).alias("race"))
    with pytest.raises(CovariateError, match="covariate 'race'"):
        compare.compare(ep, covariates=["race", "prior_episodes"], n_boot=5)


@pytest.mark.slow
def test_adjusted_intervals_cover_the_planted_effect_over_30_datasets():
    """The small version of benchmarks/bench_coverage.py (200 datasets there: iptw 94.5%,
    regression 95.0%, aipw 95.5%, naive 21%). With true coverage 95%, 30 datasets give 24 or
    fewer covered with probability under 1%; the naive interval, off by the confounding,
    covers in far fewer."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_coverage.py"
    spec = importlib.util.spec_from_file_location("bench_coverage", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    truth = bench.population_effect(clients=40_000)
    table = {r["method"]: r for r in bench.coverage_table(30, 2000, truth).iter_rows(named=True)}
    for method in ("iptw", "regression", "aipw"):
        assert table[method]["coverage"] >= 25 / 30, table[method]
        assert abs(table[method]["bias"]) < 0.01, table[method]
        assert table[method]["mean_se"] == pytest.approx(table[method]["empirical_se"], rel=0.3)
    assert table["naive"]["coverage"] <= 0.5 and table["naive"]["bias"] > 0.04


def test_c_statistic_by_hand_with_ties_one_rounding_apart():
    """Pairs (treated, control): (0.8, 0.5) 1, (0.8, 0.2) 1, (0.5, 0.5) 1/2, (0.5, 0.2) 1: the
    area is 3.5 / 4. The tied pair stays a tie when one score is one rounding off (as identical
    covariate rows can come out of another BLAS kernel)."""
    import math

    for half in (0.5, math.nextafter(0.5, 1.0)):
        data = pl.DataFrame({"treated": [True, True, False, False], "ps": [0.8, half, 0.5, 0.2]})
        ps = compare.Propensity(data, pl.DataFrame(), pl.DataFrame(), "iop", "residential")
        assert ps.c_statistic == pytest.approx(0.875, abs=1e-12)


def test_compare_command_reads_a_foreign_export_through_its_mapping(tmp_path):
    """outcomes compare --mapping: a generated foreign export (workbook, cp1252 CSV, the
    system's names and labels) gives the very effects of the contract-shaped export of the
    same data."""
    from outcomes.cli import main

    ds = synth.generate(1500, seed=3)
    contract = synth.write(ds, tmp_path / "contract")
    foreign = synth.write(ds, tmp_path / "foreign", style="foreign", seed=3)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["compare", str(contract), "--out", str(a)]) == 0
    mapping = str(foreign / "mapping.toml")
    assert main(["compare", str(foreign), "--mapping", mapping, "--out", str(b)]) == 0
    assert pl.read_csv(a).equals(pl.read_csv(b))
