"""Shared fixtures: tiny hand-made datasets written as files, and the hypothesis profiles."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")  # figures are checked as objects, never shown

# CI draws the same examples every run (derandomize), so a landing never hinges on luck;
# local runs (dev) explore new ones and keep what fails in .hypothesis/.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ENROLLMENTS_OK = """\
client_id,episode_id,program_type,planned_length_days,admit_date,discharge_date,discharge_reason,referral_source,co_occurring_mh,prior_episodes
C1,E1,residential,60,2025-01-06,2025-03-07,completed,self,true,1
C1,E2,iop,42,2025-03-07,2025-04-18,completed,self,true,2
C2,E3,iop,49,2025-02-03,2025-02-10,left_early,court,false,0
C3,E4,residential,90,2025-05-01,,,healthcare,,
"""

ATTENDANCE_OK = """\
episode_id,session_date,status,session_type,hours
E1,2025-01-06,attended,group,3
E1,2025-01-07,attended,individual,1
E2,2025-03-07,attended,group,3.5
E2,2025-03-10,no_show,group,3.5
E2,2025-03-12,excused,group,3.5
E3,2025-02-03,attended,group,3
E3,2025-02-05,no_show,group,3
E4,2025-05-01,attended,group,3
"""

FOLLOWUPS_OK = """\
episode_id,contact_date,used_since_discharge,method
E1,2025-04-06,false,phone
E3,2025-03-12,true,phone
"""


WriteDataset = Callable[..., Path]


@pytest.fixture
def write_dataset(tmp_path: Path) -> WriteDataset:
    """Write a dataset folder from CSV texts; ``None`` leaves a file out."""

    def write(
        enrollments: str | None = ENROLLMENTS_OK,
        attendance: str | None = ATTENDANCE_OK,
        followups: str | None = None,
        folder: str = "data",
    ) -> Path:
        out = tmp_path / folder
        out.mkdir(parents=True, exist_ok=True)
        for name, text in (
            ("enrollments", enrollments),
            ("attendance", attendance),
            ("followups", followups),
        ):
            if text is not None:
                (out / f"{name}.csv").write_text(textwrap.dedent(text), encoding="utf-8")
        return out

    return write


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="session")
def teds_benchmark(tmp_path_factory):
    """A small generated TEDS-D year (20,000 discharges, zipped CSV as downloaded), read with
    every case-mix column, and the report's benchmark table made from it by
    ``outcomes national --report --state NY``: ``(teds, table, teds_folder)``."""
    from outcomes.cli import main
    from outcomes.national import generate_puf, read, write_puf
    from outcomes.national._codes import CASEMIX

    folder = tmp_path_factory.mktemp("teds")
    write_puf(generate_puf(20_000, seed=13), folder / "tedsd_puf_2019.zip")
    table = tmp_path_factory.mktemp("benchmark") / "benchmarks.csv"
    assert main(["national", str(folder), "--report", "--state", "NY", "--out", str(table)]) == 0
    return read(folder, columns=list(CASEMIX)), table, folder


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory, sample_dir, teds_benchmark):
    """The 2026Q3 report of the bundled sample with the benchmark table of
    :func:`teds_benchmark` (state NY), rendered once for the session (HTML and, with
    Chromium, PDF); the report without a benchmark is rendered by test_quarterly's job."""
    from outcomes.report import ReportParams, render

    out = tmp_path_factory.mktemp("reports")
    params = ReportParams(
        period="2026Q3", data_dir=str(sample_dir), benchmarks=str(teds_benchmark[1]), state="NY"
    )
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "quarterly_report.ipynb"
    return render(params, out_dir=out, notebook=notebook)


def assert_planted_mistakes_found(loaded, suffix: str) -> None:
    """Every mistake ``synth --messy`` plants (:data:`outcomes.synth.MESSY_PLANTED`) is
    reported by the loader on exactly its rows, and nothing else is, but the sessions and
    follow-ups of the episodes those mistakes exclude."""
    from outcomes import synth

    found = loaded.issues.group_by("file", "rule").len()
    got = {
        (r["file"].removesuffix(suffix), r["rule"]): r["len"] for r in found.iter_rows(named=True)
    }
    for name, planted in synth.MESSY_PLANTED.items():
        for rule, rows in planted:
            assert got[(name, rule)] == rows, (name, rule)
    assert set(got) - {(n, r) for n, p in synth.MESSY_PLANTED.items() for r, _ in p} <= {
        ("attendance", "episode_excluded"),
        ("followups", "episode_excluded"),
    }
