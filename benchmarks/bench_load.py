"""Load (read + validate) generated exports at stated scales; prints wall time and peak memory.

Usage: .venv/bin/python benchmarks/bench_load.py [N_CLIENTS ...]   (default: 100000 1000000)
Each scale runs in a fresh process so that its peak memory is its own.
"""

from __future__ import annotations

import sys

from _common import dataset, python, run_command


def main(scales: list[int]) -> None:
    print("outcomes.load on generated Parquet exports")
    for n in scales:
        folder = dataset(n)
        code = (
            f"import outcomes; ds = outcomes.load({str(folder)!r}, on_error='exclude'); "
            "print(ds.enrollments.height, ds.attendance.height)"
        )
        wall, peak = run_command(python(code))
        print(f"  {n:>9,} clients: {wall:6.1f} s wall, {peak:5.2f} GB peak")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
