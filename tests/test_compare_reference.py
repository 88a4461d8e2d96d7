"""Adjusted comparison against the R reference (tests/reference/compare.R).

compare.R stacks the propensity, outcome and effect estimating equations of naive, IPTW,
g-computation and doubly robust (AIPW) risks, for the ATE and the ATT, and writes the risks,
the risk differences and log risk ratios with cluster-robust (by client) sandwich standard
errors, plus cross-checks from `survey::svyglm` and `sandwich::vcovCL`.
"""

import math
from pathlib import Path

import polars as pl
import pytest

REF = Path(__file__).resolve().parent / "reference"


def load_reference() -> dict[str, pl.DataFrame]:
    """The data and every output of compare.R, keyed by file stem without ``compare_``.

    ``data`` carries ``client_id, t, y, x1..xp`` (``terms`` maps ``x1..xp`` back to the design
    column names of ``compare.design_matrix``); ``mest`` carries ``estimand, method, contrast,
    estimate, std_error``; ``risks`` carries ``estimand, method, arm, risk``; ``checks`` carries
    ``name, value``.
    """
    return {
        "data": pl.read_csv(REF / "compare_data.csv", schema_overrides={"client_id": pl.String}),
        "terms": pl.read_csv(REF / "compare_terms.csv"),
        "mest": pl.read_csv(REF / "compare_mest.csv"),
        "risks": pl.read_csv(REF / "compare_risks.csv"),
        "checks": pl.read_csv(REF / "compare_checks.csv"),
    }


def test_reference_is_internally_consistent():
    """The committed R outputs agree with each other, with the other R tools and with the data."""
    ref = load_reference()
    data, mest, risks = ref["data"], ref["mest"], ref["risks"]
    checks = dict(zip(ref["checks"]["name"], ref["checks"]["value"], strict=True))

    def effect(estimand, method, contrast, column="estimate"):
        row = mest.filter(
            pl.col("estimand") == estimand,
            pl.col("method") == method,
            pl.col("contrast") == contrast,
        )
        assert row.height == 1
        return row[column].item()

    def risk(estimand, method, arm):
        row = risks.filter(
            pl.col("estimand") == estimand, pl.col("method") == method, pl.col("arm") == arm
        )
        assert row.height == 1
        return row["risk"].item()

    # the data: clusters of several episodes, terms for every design column
    assert data.height == checks["n_episodes"] == 797
    assert data["client_id"].n_unique() == checks["n_clients"] == 557
    several = data.group_by("client_id").len().filter(pl.col("len") > 1).height
    assert several == checks["n_clients_several_episodes"] > 0
    xs = [c for c in data.columns if c.startswith("x")]
    assert ref["terms"]["name"].to_list() == xs

    # naive risks are the completion shares by arm, recomputed here from the data
    share = dict(data.group_by("t").agg(pl.col("y").mean()).iter_rows())
    for estimand in ("ate", "att"):
        for arm in (0, 1):
            assert risk(estimand, "naive", arm) == pytest.approx(share[arm], rel=1e-13)

    # every contrast is the difference / log ratio of its two risks
    for estimand in ("ate", "att"):
        for method in ("naive", "iptw", "gcomp", "aipw"):
            r1, r0 = risk(estimand, method, 1), risk(estimand, method, 0)
            assert effect(estimand, method, "difference") == pytest.approx(r1 - r0, rel=1e-12)
            assert effect(estimand, method, "log_ratio") == pytest.approx(
                math.log(r1 / r0), rel=1e-12
            )
            assert 0 < effect(estimand, method, "difference", "std_error") < 0.1
    # the ATT's treated-arm risk is the observed treated share, whatever the method
    for method in ("iptw", "gcomp", "aipw"):
        assert risk("att", method, 1) == pytest.approx(share[1], rel=1e-12)

    # the stack solved its equations, and agrees with svyglm and vcovCL where it must
    assert checks["ate_max_abs_estimating_sum"] < 1e-9
    assert checks["att_max_abs_estimating_sum"] < 1e-9
    for estimand in ("ate", "att"):
        assert checks[f"{estimand}_svyglm_iptw_difference"] == pytest.approx(
            effect(estimand, "iptw", "difference"), rel=1e-12
        )
    assert checks["naive_lm_difference"] == pytest.approx(
        effect("ate", "naive", "difference"), rel=1e-12
    )
    assert checks["naive_vcovcl_hc0_std_error"] == pytest.approx(
        effect("ate", "naive", "difference", "std_error"), rel=1e-10
    )
    # weights treated as known (svyglm) give a wider interval than the stack here (ATE)
    assert checks["ate_svyglm_iptw_std_error"] > effect("ate", "iptw", "difference", "std_error")


# --- the Python engine against the reference ------------------------------------------------


def _episodes(data: pl.DataFrame) -> pl.DataFrame:
    """compare_data.csv as episodes: the design columns enter as numbers, unchanged."""
    return data.with_columns(
        pl.when(pl.col("t") == 1)
        .then(pl.lit("iop"))
        .otherwise(pl.lit("residential"))
        .alias("program_type"),
        (pl.col("y") == 1).alias("completed"),
    )


@pytest.mark.parametrize("estimand", ["ate", "att"])
def test_stacked_sandwich_matches_r(estimand):
    """Estimates to 1e-8, standard errors (recovered from the 95% interval) to 1e-6 relative:
    both sides solve the same equations, R's Jacobian by complex-step differentiation of the
    summed estimating functions, ours analytic."""
    from outcomes import compare
    from outcomes.intervals import z_value

    ref = load_reference()
    x_columns = [c for c in ref["data"].columns if c.startswith("x")]
    effects = compare.completion_effects(
        _episodes(ref["data"]), covariates=x_columns, estimand=estimand
    )
    z = z_value(0.95)
    names = {"regression": "gcomp"}
    for row in effects.iter_rows(named=True):
        ratio = row["outcome"].endswith("ratio")
        expected = ref["mest"].filter(
            pl.col("estimand") == estimand,
            pl.col("method") == names.get(row["method"], row["method"]),
            pl.col("contrast") == ("log_ratio" if ratio else "difference"),
        )
        est, lo, hi = row["estimate"], row["ci_low"], row["ci_high"]
        if ratio:
            est, lo, hi = math.log(est), math.log(lo), math.log(hi)
        assert est == pytest.approx(expected["estimate"].item(), abs=1e-8), row
        assert (hi - lo) / (2 * z) == pytest.approx(expected["std_error"].item(), rel=1e-6), row
