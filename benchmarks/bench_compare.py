"""`outcomes compare` end to end (issue #12): command start, load, episodes, both models,
every method's analytic intervals, readmission Cox models; quiet and beside busy processes.

Scales: 20,000 clients (about 33,000 episodes in all programs, 25,000 of them IOP or
residential discharges) and
200,000 clients (about 250,000), every discharge compared (``--period all``). Each run is a
fresh process; the table gives wall time and peak memory. ``--busy N`` repeats the runs with N
processes spinning on the CPU beside them (the issue's "under load": two on the 2-core
machine), so the ratio to the quiet time shows what BLAS oversubscription would cost.

Run: ``.venv/bin/python benchmarks/bench_compare.py [--busy 2] [--scales 20000,200000]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time

from _common import dataset, run_command


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _time(folder, repeats: int) -> tuple[float, float]:
    runs = [
        run_command(
            [sys.executable, "-m", "outcomes.cli", "compare", str(folder), "--period", "all"]
        )
        for _ in range(repeats)
    ]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="20000,200000")
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("clients | condition | wall (median) | peak memory")
    for clients in (int(s) for s in args.scales.split(",")):
        folder = dataset(clients)
        wall, peak = _time(folder, args.repeats)
        print(f"{clients:,} | quiet | {wall:.2f} s | {peak:.2f} GB", flush=True)
        if args.busy:
            stop = mp.Event()
            spinners = [mp.Process(target=_spin, args=(stop,)) for _ in range(args.busy)]
            for p in spinners:
                p.start()
            time.sleep(1)
            try:
                busy, _ = _time(folder, args.repeats)
            finally:
                stop.set()
                for p in spinners:
                    p.join()
            print(
                f"{clients:,} | beside {args.busy} busy processes | {busy:.2f} s "
                f"({busy / wall:.1f}x quiet) | -",
                flush=True,
            )


if __name__ == "__main__":
    main()
