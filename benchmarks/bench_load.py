"""Load (read + validate) generated exports at stated scales, beside the metrics floor.

Usage: .venv/bin/python benchmarks/bench_load.py [N_CLIENTS ...] [--repeats N]
(default 100000 1000000, 3 repeats). Each scale runs in a fresh process so that its peak
memory is its own; the floor (benchmarks/floor.py, every metric from the Parquet files by one
polars query without validation) runs beside it, so the ratio says how much of the floor's
whole budget loading alone takes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import dataset, floor_command, median_run, python, scales_and_repeats, versus


def main(scales: list[int], repeats: int) -> None:
    print("outcomes.load on generated Parquet exports vs the metrics floor")
    for n in scales:
        folder = dataset(n)
        code = (
            f"import outcomes; ds = outcomes.load({str(folder)!r}, on_error='exclude'); "
            "print(ds.enrollments.height, ds.n_sessions)"
        )
        with tempfile.TemporaryDirectory() as tmp:
            floor = median_run(floor_command(folder, Path(tmp) / "floor.parquet"), repeats)
        product = median_run(python(code), repeats)
        print(f"  {n:>9,} clients: {versus(product, floor)}", flush=True)


if __name__ == "__main__":
    main(*scales_and_repeats(sys.argv[1:]))
