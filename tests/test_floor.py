"""The benchmarks' floor (benchmarks/floor.py) gives the table `outcomes metrics` gives.

The floor is the plain polars query the product's speed is measured against; if it computed
something else, the ratio in benchmarks/README.md would compare unlike work. Checked on a
generated export (clean, as the benchmark data are) written as Parquet, through the command
itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from outcomes import synth
from outcomes.cli import main

FLOOR = Path(__file__).resolve().parents[1] / "benchmarks" / "floor.py"


@pytest.fixture(scope="module")
def floor_metrics():
    spec = importlib.util.spec_from_file_location("floor", FLOOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.floor_metrics


@pytest.mark.parametrize(("clients", "seed"), [(3000, 7), (400, 11)])
def test_floor_gives_the_metrics_commands_table(tmp_path, floor_metrics, clients, seed):
    data = synth.write(synth.generate(clients, seed=seed), tmp_path / "data", fmt="parquet")
    out = tmp_path / "metrics.parquet"
    assert main(["metrics", str(data), "--out", str(out)]) == 0
    product = pl.read_parquet(out)
    floor = floor_metrics(data)
    # every metric of every group, with real counts behind them (not an empty comparison)
    assert product.height == floor.height > 100
    assert product.filter(pl.col("metric") == "readmission_30d")["numerator"].sum() > 0
    assert_frame_equal(floor, product, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
