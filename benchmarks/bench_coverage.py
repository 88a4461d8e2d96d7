"""Coverage of the adjusted comparison's intervals over generated datasets (issue #12).

Each dataset is ``synth.generate(clients, seed)`` (placement confounded by severity, court
referral and case-mix; a planted conditional completion odds ratio of 0.8 for IOP), cut to the
episodes admitted before 2026-05-01 (all closed, so completion is never censored). The truth is
the population average effect of IOP against residential on completion (risk difference),
``mean(p_iop - p_residential)`` over the episodes of one very large generated population
(``synth.completion_probability``). For every method the script prints the bias, the empirical
standard deviation of the estimates against the mean estimated standard error, and the share
of 95% intervals that cover the truth (with its Monte Carlo 95% interval).

The readmission hazard ratio likewise (``--hazard-datasets``): on IOP episodes and residential
ones that no step-down can follow (where the planted Weibull hazard applies), the naive and
IPTW Cox models against the marginal hazard ratio that the generator's model implies
(``synth.marginal_readmission_hazard_ratio``, by simulating both programs' times for every
episode of a 100,000-client population), the covariate-adjusted Cox model against the planted
conditional one (1.25).

Run: ``.venv/bin/python benchmarks/bench_coverage.py [--datasets 200] [--clients 2000]``.
Stages go to stderr; the table to stdout. ``coverage_table`` is what the slow test calls.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import polars as pl

import outcomes
from outcomes import compare, synth
from outcomes.intervals import z_value

CUTOFF = "2026-05-01"
POPULATION_CLIENTS = 200_000


def analysis_episodes(clients: int, seed: int) -> pl.DataFrame:
    """Closed IOP and residential episodes of one generated dataset."""
    ep = outcomes.episodes(synth.generate(clients, seed=seed))
    return ep.filter(
        pl.col("admit_date") <= pl.lit(CUTOFF).str.to_date(),
        pl.col("program_type").is_in(["iop", "residential"]),
        pl.col("completed").is_not_null(),
    )


def population_effect(clients: int = POPULATION_CLIENTS, seed: int = 999_999) -> float:
    """The average completion risk difference of IOP against residential over the episodes
    of a large generated population: the estimand every method targets."""
    ep = analysis_episodes(clients, seed)
    return float(
        np.mean(
            synth.completion_probability(ep, "iop")
            - synth.completion_probability(ep, "residential")
        )
    )


def coverage_table(
    datasets: int, clients: int, truth: float, first_seed: int = 1, say=None
) -> pl.DataFrame:
    """``method, datasets, bias, empirical_se, mean_se, coverage, coverage_low,
    coverage_high`` of the completion risk difference over ``datasets`` generated datasets."""
    z = z_value(0.95)
    rows = []
    for i, seed in enumerate(range(first_seed, first_seed + datasets)):
        effects = compare.completion_effects(analysis_episodes(clients, seed)).filter(
            pl.col("outcome") == "completion_risk_difference"
        )
        for r in effects.iter_rows(named=True):
            rows.append(
                (
                    r["method"],
                    r["estimate"] - truth,
                    (r["ci_high"] - r["ci_low"]) / (2 * z),
                    r["ci_low"] <= truth <= r["ci_high"],
                )
            )
        if say is not None and (i + 1) % 10 == 0:
            say(f"{i + 1} of {datasets} datasets")
    return _summary(rows, "bias")


def _summary(rows: list[tuple], bias: str) -> pl.DataFrame:
    """Per method, from ``(method, error, estimated se, covered)`` rows: ``datasets``, mean
    error as ``bias``, the errors' SD, the mean estimated SE, coverage and its 95% interval."""
    z = z_value(0.95)
    frame = pl.DataFrame(rows, schema=["method", "error", "se", "covered"], orient="row")
    out = frame.group_by("method", maintain_order=True).agg(
        pl.len().alias("datasets"),
        pl.col("error").mean().alias(bias),
        pl.col("error").std().alias("empirical_se"),
        pl.col("se").mean().alias("mean_se"),
        pl.col("covered").mean().alias("coverage"),
    )
    half = z * (out["coverage"] * (1 - out["coverage"]) / out["datasets"]).sqrt()
    return out.with_columns(
        (pl.col("coverage") - half).alias("coverage_low"),
        (pl.col("coverage") + half).alias("coverage_high"),
    )


def hazard_episodes(clients: int, seed: int) -> tuple[pl.DataFrame, object]:
    """IOP episodes and residential ones not ending completed or transferred (no step-down can
    follow them, so the planted Weibull hazard applies), with the dataset's as-of date."""
    ds = synth.generate(clients, seed=seed)
    ep = outcomes.episodes(ds).filter(
        (pl.col("program_type") == "iop")
        | (
            (pl.col("program_type") == "residential")
            & ~pl.col("discharge_reason").is_in(["completed", "transferred"])
        )
    )
    return ep, ds.last_date


def population_hazard_ratio(clients: int = 100_000, seed: int = 777, draws: int = 5) -> float:
    """The marginal hazard ratio an IPTW (ATE) Cox model targets on :func:`hazard_episodes`,
    each episode followed to the as-of date (``synth.marginal_readmission_hazard_ratio``)."""
    from outcomes.survival import readmission_data

    ep, as_of = hazard_episodes(clients, seed)
    data = readmission_data(ep).filter(pl.col("program_type").is_in(["iop", "residential"]))
    follow_up = data.select((pl.lit(as_of) - pl.col("discharge_date")).dt.total_days())
    return synth.marginal_readmission_hazard_ratio(data, follow_up[:, 0].to_numpy(), draws=draws)


def hazard_coverage_table(
    datasets: int, clients: int, marginal: float, first_seed: int = 1, say=None
) -> pl.DataFrame:
    """``method, target, datasets, bias, empirical_se, mean_se, coverage, coverage_low,
    coverage_high`` of the log readmission hazard ratio: naive and iptw against the
    marginal ratio, regression (covariate-adjusted Cox) against the planted conditional one."""
    z = z_value(0.95)
    conditional = math.exp(synth.Effects().readmission_log_hr_iop)
    targets = {"naive": marginal, "iptw": marginal, "regression": conditional}
    rows = []
    for i, seed in enumerate(range(first_seed, first_seed + datasets)):
        ep, _ = hazard_episodes(clients, seed)
        effects = compare.readmission_effects(ep, horizons=()).filter(
            pl.col("outcome") == "readmission_hazard_ratio"
        )
        for r in effects.iter_rows(named=True):
            truth = targets[r["method"]]
            rows.append(
                (
                    r["method"],
                    math.log(r["estimate"]) - math.log(truth),
                    (math.log(r["ci_high"]) - math.log(r["ci_low"])) / (2 * z),
                    r["ci_low"] <= truth <= r["ci_high"],
                )
            )
        if say is not None and (i + 1) % 10 == 0:
            say(f"{i + 1} of {datasets} datasets (hazard ratio)")
    return _summary(rows, "bias_log_hr").with_columns(
        pl.col("method")
        .replace_strict({"regression": "conditional"}, default="marginal")
        .alias("target")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument(
        "--hazard-datasets", type=int, default=200, help="datasets for the hazard ratio (0: skip)"
    )
    parser.add_argument("--hazard-clients", type=int, default=4000)
    args = parser.parse_args()
    start = time.perf_counter()

    def say(stage: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {stage}", file=sys.stderr, flush=True)

    if args.datasets:
        say(f"truth from {POPULATION_CLIENTS:,} generated clients")
        truth = population_effect()
        say(
            f"true completion risk difference {truth:.5f}; {args.datasets} datasets of "
            f"{args.clients:,} clients"
        )
        table = coverage_table(args.datasets, args.clients, truth, say=say)
        with pl.Config(tbl_rows=-1, tbl_cols=-1, float_precision=4, tbl_width_chars=120):
            print(f"truth (risk difference): {truth:.4f}")
            print(table)
    if args.hazard_datasets:
        say("marginal hazard ratio from 100,000 generated clients")
        marginal = population_hazard_ratio()
        say(f"marginal readmission hazard ratio {marginal:.4f}")
        hazard = hazard_coverage_table(args.hazard_datasets, args.hazard_clients, marginal, say=say)
        with pl.Config(tbl_rows=-1, tbl_cols=-1, float_precision=4, tbl_width_chars=140):
            print(f"truth (hazard ratio): marginal {marginal:.4f}, conditional 1.25")
            print(hazard)
    say("done")


if __name__ == "__main__":
    main()
