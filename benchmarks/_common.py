"""Shared helpers of the benchmark scripts: generated data on disk, timing and peak memory."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".data"


def dataset(n_clients: int, seed: int = 1, fmt: str = "parquet") -> Path:
    """A generated dataset of ``n_clients`` on disk (made once, then reused)."""
    out = CACHE / f"{fmt}-{n_clients}-{seed}"
    if not (out / f"enrollments.{fmt}").exists():
        # in a child process: a parent grown by generating would inflate the children's peaks
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "outcomes.cli",
                "synth",
                "--clients",
                str(n_clients),
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--format",
                fmt,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"  generated {n_clients:,} clients in {time.perf_counter() - t0:.1f} s -> {out}")
    return out


@dataclass(frozen=True)
class Run:
    """One fresh process: wall seconds, peak resident memory (GB), CPU seconds (user + system,
    all threads) and the 1-minute load average when it ended (other work on the machine)."""

    wall: float
    peak: float
    cpu: float
    load: float


def measure(args: list[str]) -> Run:
    """Run a command in a fresh process and measure it (its own peak, not its siblings')."""
    t0 = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, args)
    return Run(wall, usage.ru_maxrss / 1024**2, usage.ru_utime + usage.ru_stime, os.getloadavg()[0])


def run_command(args: list[str]) -> tuple[float, float]:
    """Run a command in a fresh process; return (wall seconds, peak resident memory in GB)."""
    run = measure(args)
    return run.wall, run.peak


def median_run(args: list[str], repeats: int) -> Run:
    """The median wall time of ``repeats`` runs (and the median CPU, the largest peak, the
    mean load)."""
    runs = [measure(args) for _ in range(repeats)]
    return Run(
        statistics.median(r.wall for r in runs),
        max(r.peak for r in runs),
        statistics.median(r.cpu for r in runs),
        statistics.mean(r.load for r in runs),
    )


def floor_command(folder: Path, out: Path) -> list[str]:
    """The floor of `outcomes metrics` (benchmarks/floor.py) on ``folder``."""
    return [sys.executable, str(ROOT / "benchmarks" / "floor.py"), str(folder), "--out", str(out)]


def versus(product: Run, floor: Run) -> str:
    """One line: the product's figures, the floor's, and their ratios."""
    return (
        f"{product.wall:6.1f} s wall ({product.cpu:5.1f} s CPU), {product.peak:5.2f} GB peak | "
        f"floor {floor.wall:5.1f} s ({floor.cpu:5.1f} s CPU), {floor.peak:4.2f} GB | "
        f"ratio {product.wall / floor.wall:4.2f}x wall, {product.cpu / floor.cpu:4.2f}x CPU, "
        f"{product.peak / floor.peak:4.2f}x memory  [load {product.load:.1f}]"
    )


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def scales_and_repeats(argv: list[str], default: tuple[int, ...] = (100_000, 1_000_000)):
    """``N_CLIENTS ... [--repeats N]`` from the command line: (the scales, the repeats; 3)."""
    argv = list(argv)
    repeats = 3
    if "--repeats" in argv:
        i = argv.index("--repeats")
        repeats = int(argv[i + 1])
        del argv[i : i + 2]
    return [int(a) for a in argv] or list(default), repeats
