"""`outcomes metrics` end to end (load, episodes, transitions, metrics) at stated scales.

Usage: .venv/bin/python benchmarks/bench_metrics.py [N_CLIENTS ...]  (default: 100000 1000000)
Each run is a fresh `outcomes metrics DIR --out FILE` process on generated Parquet data;
prints wall time and peak memory. Target: 1,000,000 clients under 30 s and 8 GB on 2 cores.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import dataset, run_command


def main(scales: list[int]) -> None:
    print("outcomes metrics DIR (by program_type, length_band; all discharges)")
    for n in scales:
        folder = dataset(n)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "metrics.parquet"
            args = [sys.executable, "-m", "outcomes.cli", "metrics", str(folder), "--out", str(out)]
            wall, peak = run_command(args)
        print(f"  {n:>9,} clients: {wall:6.1f} s wall, {peak:5.2f} GB peak")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
