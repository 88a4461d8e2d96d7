"""The national benchmark table from PUF-shaped TEDS-D CSV files; prints wall time and peak memory.

Usage: .venv/bin/python benchmarks/bench_national.py [ROWS_PER_YEAR]   (default 1,722,503)

Scales: one year (one CSV of 76 columns) with ``--by service,state,year``, then ten years
(2013-2022: 2013 and 2014 in the 2006-2014 layout, 2021 with its value labels as latin-1 text,
the others as 2015-2022 files). Targets (issue #13): one year under 8 s; ten years (about 17
million rows) under 60 s and 4 GB. Each run is ``outcomes national`` in a fresh process, so its
peak memory is its own. Files are generated once into ``benchmarks/.data/`` and reused.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import CACHE, run_command

YEARS = range(2013, 2023)


def layout(year: int) -> str:
    return "2006-2014" if year <= 2014 else "2021" if year == 2021 else "2015-2022"


def puf_folder(rows: int) -> Path:
    """Ten yearly CSV files of ``rows`` discharges each (made once, in a child process)."""
    folder = CACHE / f"teds-csv-{rows}"
    missing = [y for y in YEARS if not (folder / f"tedsd_puf_{y}.csv").exists()]
    if missing:
        t0 = time.perf_counter()
        code = (
            "import sys; from outcomes.national import generate_puf, write_puf; "
            "from bench_national import layout; from pathlib import Path; "
            f"folder = Path({str(folder)!r}); rows = {rows}\n"
            f"for y in {missing!r}:\n"
            "    write_puf(generate_puf(rows, seed=y, year=y), "
            "folder / f'tedsd_puf_{y}.csv', layout=layout(y))\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)
        print(f"  generated {len(missing)} year(s) in {time.perf_counter() - t0:.1f} s -> {folder}")
    return folder


def main(rows: int) -> None:
    folder = puf_folder(rows)
    size = sum(f.stat().st_size for f in folder.glob("*.csv")) / 1024**3
    print(
        f"outcomes national on PUF-shaped CSV ({rows:,} rows a year, {size:.1f} GB for ten years)"
    )
    out = CACHE / "benchmarks.csv"
    for label, paths in (
        ("1 year (2019)", [folder / "tedsd_puf_2019.csv"]),
        ("10 years (2013-2022)", sorted(folder.glob("tedsd_puf_*.csv"))),
    ):
        args = [sys.executable, "-m", "outcomes.cli", "national", *map(str, paths)]
        args += ["--by", "service,state,year", "--out", str(out)]
        wall, peak = run_command(args)
        print(f"  {label:>22}: {wall:6.1f} s wall, {peak:5.2f} GB peak")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_722_503)
