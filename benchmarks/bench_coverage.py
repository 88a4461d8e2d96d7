"""Coverage of the adjusted comparison's intervals over generated datasets (issue #12).

Each dataset is ``synth.generate(clients, seed)`` (placement confounded by severity, court
referral and case-mix; a planted conditional completion odds ratio of 0.8 for IOP), cut to the
episodes admitted before 2026-05-01 (all closed, so completion is never censored). The truth is
the population average effect of IOP against residential on completion (risk difference),
``mean(p_iop - p_residential)`` over the episodes of one very large generated population
(``synth.completion_probability``). For every method the script prints the bias, the empirical
standard deviation of the estimates against the mean estimated standard error, and the share
of 95% intervals that cover the truth (with its Monte Carlo 95% interval).

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
                    r["estimate"],
                    (r["ci_high"] - r["ci_low"]) / (2 * z),
                    r["ci_low"] <= truth <= r["ci_high"],
                )
            )
        if say is not None and (i + 1) % 10 == 0:
            say(f"{i + 1} of {datasets} datasets")
    frame = pl.DataFrame(rows, schema=["method", "estimate", "se", "covered"], orient="row")
    out = frame.group_by("method", maintain_order=True).agg(
        pl.len().alias("datasets"),
        (pl.col("estimate").mean() - truth).alias("bias"),
        pl.col("estimate").std().alias("empirical_se"),
        pl.col("se").mean().alias("mean_se"),
        pl.col("covered").mean().alias("coverage"),
    )
    half = z * (out["coverage"] * (1 - out["coverage"]) / out["datasets"]).sqrt()
    return out.with_columns(
        (pl.col("coverage") - half).alias("coverage_low"),
        (pl.col("coverage") + half).alias("coverage_high"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--clients", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()

    def say(stage: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {stage}", file=sys.stderr, flush=True)

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
    say("done")
    if math.isnan(truth):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
