"""`outcomes metrics` end to end (load, episodes, transitions, metrics) against its floor.

Usage: .venv/bin/python benchmarks/bench_metrics.py [N_CLIENTS ...] [--repeats N]
(default scales 100000 1000000, 3 repeats). Each run is a fresh `outcomes metrics DIR --out
FILE` process on generated Parquet data, beside a fresh run of the floor (benchmarks/floor.py:
the same table from the simplest polars query on the files, no validation); prints the median
wall time, CPU time and peak memory of each and their ratios, with the load average. Targets
(issue #15): 1,000,000 clients within 2x the floor's time and under 3 GB.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import dataset, floor_command, median_run, scales_and_repeats, versus


def main(scales: list[int], repeats: int) -> None:
    print("outcomes metrics DIR (by program_type, length_band; all discharges) vs the floor")
    for n in scales:
        folder = dataset(n)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "metrics.parquet"
            args = [sys.executable, "-m", "outcomes.cli", "metrics", str(folder), "--out", str(out)]
            floor = median_run(floor_command(folder, Path(tmp) / "floor.parquet"), repeats)
            product = median_run(args, repeats)
        print(f"  {n:>9,} clients: {versus(product, floor)}", flush=True)


if __name__ == "__main__":
    main(*scales_and_repeats(sys.argv[1:]))
