"""Survival estimators at the scales of the survival issue; prints wall time per call.

Usage: .venv/bin/python benchmarks/bench_survival.py [--r-robust]
Targets on 2 cores: KM with CIs at 1,000,000 rows < 0.5 s; two-group log-rank at 1,000,000
< 1 s; KM and log-rank at 10,000,000 rows recorded (with the peak memory); Cox with 9
covariates at 100,000 rows (Efron, integer days) at or below R's
``coxph`` on the same data; Cox with weights and cluster-robust SE at 100,000 rows and 50,000
clusters < 15 s; Cox with 9 covariates at 1,000,000 rows recorded. Data: integer days (many
ties), seed 1.

Where ``Rscript`` with the ``survival`` package is installed, the same 100,000 rows go to R
through a temporary CSV and ``coxph`` is timed inside R (``system.time`` of the call alone;
reading the file is not counted); its coefficients are checked against ours. With
``--r-robust`` R also fits the weighted, cluster-robust model (about 80 s in R).
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from outcomes.survival import cox, kaplan_meier, logrank

COVARIATES = [f"x{j}" for j in range(9)]


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


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"  {label}: {time.perf_counter() - t0:.2f} s", flush=True)
    return out


R_SCRIPT = """
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- if (requireNamespace("data.table", quietly = TRUE)) {
  as.data.frame(data.table::fread(args[1]))
} else read.csv(args[1])
f <- Surv(time, event) ~ x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8
elapsed <- if (args[2] == "robust") {
  system.time(fit <- coxph(f, data = d, ties = "efron", weights = weight, cluster = client))
} else system.time(fit <- coxph(f, data = d, ties = "efron"))
cat(elapsed[["elapsed"]], coef(fit), "\\n")
"""


def r_coxph(data: pl.DataFrame, model: str) -> tuple[float, np.ndarray] | None:
    """Seconds R's coxph takes on ``data`` (the call alone) and its coefficients, or None
    without Rscript and survival."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "cox.csv", Path(tmp) / "cox.R"
        data.select(
            "time", pl.col("event").cast(pl.Int8), "weight", "client", *COVARIATES
        ).write_csv(csv)
        script.write_text(R_SCRIPT)
        run = subprocess.run(
            ["Rscript", str(script), str(csv), model], capture_output=True, text=True
        )
    if run.returncode != 0:
        print(f"  (R's coxph not run: {run.stderr.strip().splitlines()[-1:]})")
        return None
    values = [float(v) for v in run.stdout.split()]
    return values[0], np.array(values[1:])


def compare_with_r(label: str, data: pl.DataFrame, model: str, ours) -> None:
    got = r_coxph(data, model)
    if got is None:
        print(f"  {label}: skipped (no Rscript with survival)")
        return
    seconds, coefficients = got
    gap = float(np.max(np.abs(coefficients - ours.coefficients["estimate"].to_numpy())))
    print(f"  {label}: {seconds:.2f} s (largest coefficient difference from ours {gap:.1e})")


def _ten_million() -> None:
    huge = frame(10_000_000, p=0)
    timed("Kaplan-Meier with CIs, 10,000,000 rows", lambda: kaplan_meier(huge, "time", "event"))
    timed(
        "Kaplan-Meier with CIs by two groups, 10,000,000 rows",
        lambda: kaplan_meier(huge, "time", "event", by="group"),
    )
    timed(
        "log-rank, two groups, 10,000,000 rows", lambda: logrank(huge, "time", "event", by="group")
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"  peak memory of the process so far: {peak:.1f} GB", flush=True)


def main() -> None:
    big, mid = frame(1_000_000), frame(100_000)
    print("outcomes.survival (wall time of one call, data in memory)", flush=True)
    timed("Kaplan-Meier with CIs, 1,000,000 rows", lambda: kaplan_meier(big, "time", "event"))
    timed("log-rank, two groups, 1,000,000 rows", lambda: logrank(big, "time", "event", by="group"))
    _ten_million()
    timed(
        "Cox, 9 covariates, Efron, 100,000 rows, with concordance and PH test",
        lambda: cox(mid, "time", "event", COVARIATES),
    )
    plain = timed(
        "Cox, 9 covariates, Efron, 100,000 rows, with concordance (ph_test=False)",
        lambda: cox(mid, "time", "event", COVARIATES, ph_test=False),
    )
    timed(
        "Cox, weights + cluster-robust SE, 100,000 rows / 50,000 clusters",
        lambda: cox(mid, "time", "event", COVARIATES, weights="weight", cluster="client"),
    )
    timed(
        "Cox, 9 covariates, Efron, 1,000,000 rows, with concordance and PH test",
        lambda: cox(big, "time", "event", COVARIATES),
    )
    timed(
        "Cox, weights + cluster-robust SE, 1,000,000 rows / 500,000 clusters",
        lambda: cox(big, "time", "event", COVARIATES, weights="weight", cluster="client"),
    )
    print("R survival::coxph, same data (time of the coxph call, with its concordance)")
    compare_with_r("coxph, 9 covariates, Efron, 100,000 rows", mid, "plain", plain)
    if "--r-robust" in sys.argv[1:]:
        robust = cox(mid, "time", "event", COVARIATES, weights="weight", cluster="client")
        compare_with_r(
            "coxph, weights + cluster, 100,000 rows / 50,000 clusters", mid, "robust", robust
        )


if __name__ == "__main__":
    main()
