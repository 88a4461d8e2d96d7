"""Generate exports at stated scales with ``outcomes synth``; prints wall time, CPU time and
peak memory of each run.

Usage: .venv/bin/python benchmarks/bench_synth.py [--format csv|parquet] [N_CLIENTS ...]
(default: Parquet, 100000 1000000; 10000000 writes about 0.5 GB of Parquet or 17 GB of CSV).
Each scale runs in a fresh process; the files go to a temporary folder under
``benchmarks/.data/`` and are deleted after the run. Run the scales smallest first: the peak
printed is the largest child's so far.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile

from _common import CACHE, run_command


def main(scales: list[int], fmt: str) -> None:
    print(f"outcomes synth, {fmt}, in blocks of 100,000 clients")
    CACHE.mkdir(parents=True, exist_ok=True)
    for n in scales:
        out = tempfile.mkdtemp(prefix="synth-", dir=CACHE)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        args = [sys.executable, "-m", "outcomes.cli", "synth", "--clients", str(n)]
        wall, peak = run_command([*args, "--seed", "1", "--out", out, "--format", fmt])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        size = sum(f.stat().st_size for f in CACHE.joinpath(out).iterdir()) / 1024**3
        shutil.rmtree(out)
        print(
            f"  {n:>10,} clients: {wall:6.1f} s wall, {cpu:6.1f} s CPU, {peak:5.2f} GB peak, "
            f"{size:5.2f} GB written ({cpu / n * 1e6:.1f} s CPU per million clients)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    parser.add_argument("clients", type=int, nargs="*", default=[100_000, 1_000_000])
    a = parser.parse_args()
    main(a.clients, a.format)
