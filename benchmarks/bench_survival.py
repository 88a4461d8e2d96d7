"""Survival estimators at the scales of the survival issue; prints wall time per call.

Usage: .venv/bin/python benchmarks/bench_survival.py
Targets on 2 cores: KM with CIs at 1,000,000 rows < 0.5 s; two-group log-rank at 1,000,000
< 1 s; Cox with 9 covariates at 100,000 rows < 6 s; Cox with weights and cluster-robust SE at
100,000 rows and 50,000 clusters < 15 s. Data: integer days (many ties), seed 1.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from outcomes.survival import cox, kaplan_meier, logrank


def frame(n: int, p: int = 9, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    hazard = np.exp(x @ np.linspace(-0.3, 0.3, p))
    t = np.ceil(rng.exponential(200 / hazard)).clip(max=730)
    cols = {f"x{j}": x[:, j] for j in range(p)}
    return pl.DataFrame(
        {
            "time": t,
            "event": t < 730,
            "group": rng.choice(["iop", "residential"], n),
            "weight": rng.uniform(0.3, 3.0, n),
            "client": rng.integers(0, n // 2, n),
            **cols,
        }
    )


def timed(label: str, fn) -> None:
    t0 = time.perf_counter()
    fn()
    print(f"  {label}: {time.perf_counter() - t0:.2f} s")


def main() -> None:
    big, mid = frame(1_000_000), frame(100_000)
    covs = [f"x{j}" for j in range(9)]
    print("outcomes.survival (wall time of one call, data in memory)")
    timed("Kaplan-Meier with CIs, 1,000,000 rows", lambda: kaplan_meier(big, "time", "event"))
    timed("log-rank, two groups, 1,000,000 rows", lambda: logrank(big, "time", "event", by="group"))
    timed("Cox, 9 covariates, Efron, 100,000 rows", lambda: cox(mid, "time", "event", covs))
    timed(
        "Cox, weights + cluster-robust SE, 100,000 rows / 50,000 clusters",
        lambda: cox(mid, "time", "event", covs, weights="weight", cluster="client"),
    )


if __name__ == "__main__":
    main()
