"""The scheduled quarterly job: period resolution, the script the workflow calls, the workflow."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from outcomes.report import resolve_period

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("as_of", "latest", "previous"),
    [
        ("2026-09-30", "2026Q3", "2026Q2"),  # the quarter's last day: it is full
        ("2026-09-29", "2026Q2", "2026Q1"),
        ("2026-01-15", "2025Q4", "2025Q3"),  # across the year boundary
        ("2026-01-01", "2025Q4", "2025Q3"),
        ("2025-12-31", "2025Q4", "2025Q3"),
        ("2026-04-02", "2026Q1", "2025Q4"),
    ],
)
def test_latest_and_previous(as_of, latest, previous):
    assert resolve_period("latest", as_of) == latest
    assert resolve_period("previous", dt.date.fromisoformat(as_of)) == previous
    assert resolve_period("2024Q2", as_of) == "2024Q2"


def test_the_script_the_workflow_calls(sample_dir, tmp_path):
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "OUTCOMES_DATA": str(sample_dir),
        "OUTCOMES_REPORTS": str(tmp_path),
        "OUTCOMES_PERIOD": "latest",
    }
    for name in ("OUTCOMES_BENCHMARKS", "OUTCOMES_STATE", "OUTCOMES_MAPPING"):
        env.pop(name, None)
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "quarterly.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = tmp_path / "2026Q3" / "report.html"  # the sample runs through 2026-09-30
    assert report.exists()
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="2026Q3/report.html"' in index
    text = report.read_text(encoding="utf-8")  # no OUTCOMES_BENCHMARKS: it says so (#13)
    assert "no national benchmark was given" in text and "none was given" in text
    counts = ("value", "numerator", "denominator", "at_risk")  # weeks and days are not counts
    for table in (tmp_path / "2026Q3" / "tables").glob("*.csv"):
        for row in csv.DictReader(table.open(encoding="utf-8")):
            shown = [row[c] for c in counts if c in row]
            assert not [c for c in shown if re.fullmatch(r"\s*([1-9]|10)\s*", c)], table.name
    assert "Traceback" not in proc.stderr
    assert "without encryption" not in proc.stderr  # ipykernel's TCP warning (issue #10)
    assert re.search(r"^\[ *\d+\.\ds\] running the notebook: \S", proc.stderr, re.MULTILINE)
    assert not (tmp_path / "2026Q3" / "report.ipynb").exists()  # not published (issue #11)
    for path in (tmp_path / "2026Q3").rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert str(sample_dir.resolve()) not in text and str(ROOT) not in text, path.name


def test_the_workflow_file():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "quarterly-report.yml").read_text())
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"].split()[3] == "1,4,7,10"
    assert "workflow_dispatch" in triggers and "period" in triggers["workflow_dispatch"]["inputs"]
    steps = wf["jobs"]["report"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "make quarterly" in runs
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and "reports/*/report.html" in uploads[0]["with"]["path"]
    assert "report.ipynb" not in uploads[0]["with"]["path"]  # it holds the data secret's path
    assert not any(s.get("uses", "").startswith("actions/cache") for s in steps)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(
        r"^quarterly:.*\n\tPYTHON=\$\(BIN\)/python scripts/quarterly\.sh", makefile, re.MULTILINE
    )
