"""Shared helpers of the benchmark scripts: generated data on disk, timing and peak memory."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
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


def run_command(args: list[str]) -> tuple[float, float]:
    """Run a command in a fresh process; return (wall seconds, peak resident memory in GB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: run the largest scale last
    return wall, max(peak_kb, before) / 1024**2


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]
