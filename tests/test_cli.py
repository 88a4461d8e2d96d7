"""The command line: exit codes, and no traceback for a data problem."""

from __future__ import annotations

import subprocess
import sys

import polars as pl

from outcomes.cli import main

from conftest import ATTENDANCE_OK

HEADER = "client_id,episode_id,program_type,planned_length_days,admit_date,discharge_date,"


def test_validate_clean_exits_0(write_dataset, capsys):
    assert main(["validate", str(write_dataset())]) == 0
    out = capsys.readouterr().out
    assert "No issues" in out
    assert "enrollments.csv" in out and "rows_read" in out


def test_validate_with_errors_exits_1_and_lists_them(write_dataset, capsys):
    folder = write_dataset(attendance=ATTENDANCE_OK + "E9,2025-01-06,attended,group,3\n")
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "1 error(s)" in out and "unknown_episode" in out and "E9" in out


def test_validate_csv_lists_every_issue(write_dataset, capsys, tmp_path):
    extra = "".join(f"E9{i},2025-01-06,attended,group,3\n" for i in range(80))
    folder = write_dataset(attendance=ATTENDANCE_OK + extra)
    assert main(["validate", str(folder), "--format", "csv"]) == 1
    out = capsys.readouterr().out
    (tmp_path / "issues.csv").write_text(out)
    issues = pl.read_csv(tmp_path / "issues.csv")
    assert issues.height == 80
    assert issues.columns == ["file", "row", "column", "value", "rule", "severity", "message"]
    assert issues["row"].to_list() == list(range(10, 90))


def test_refused_file_exits_2_with_one_line_and_no_traceback(write_dataset):
    text = HEADER + "discharge_reason,first_name\nC1,E1,iop,42,2025-01-06,,,Ann\n"
    folder = write_dataset(enrollments=text)
    proc = subprocess.run(
        [sys.executable, "-m", "outcomes.cli", "validate", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "outcomes: enrollments.csv: column 'first_name' looks like a name. outcomes takes "
        "de-identified data only: drop the column 'first_name' from the export and try again."
    ]


def test_missing_folder_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "none")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_metrics_command_writes_the_long_table(sample_dir, tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert (
        main(
            [
                "metrics",
                str(sample_dir),
                "--by",
                "program_type",
                "--period",
                "2026Q3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = pl.read_csv(out)
    assert table.columns == [
        "program_type",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "numerator",
        "denominator",
    ]
    assert set(table["program_type"]) == {"residential", "php", "iop", "outpatient", "detox"}
    assert main(["metrics", str(sample_dir), "--by", "", "--as-of", "2026-06-30"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith("metric,value,ci_low,ci_high,numerator,denominator")
    pq = tmp_path / "m.parquet"
    assert main(["metrics", str(sample_dir), "--out", str(pq)]) == 0
    assert pl.read_parquet(pq).columns[:2] == ["program_type", "length_band"]


def test_metrics_command_refuses_bad_arguments_without_traceback(sample_dir, capsys):
    assert main(["metrics", str(sample_dir), "--period", "2026-Q3"]) == 2
    assert "2026Q3" in capsys.readouterr().err
    assert main(["metrics", str(sample_dir), "--by", "favourite_colour"]) == 2
    assert "favourite_colour" in capsys.readouterr().err


def test_metrics_for_a_period_without_discharges_exits_1(sample_dir, write_dataset, capsys):
    """Issue #10: a header-only table is not an answer; one line says what the data covers."""
    assert main(["metrics", str(sample_dir), "--period", "2023Q1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "outcomes: no episode was discharged in 2023Q1: the data's discharges run from "
        "2024-01-01 to 2026-09-30"
    ]
    assert main(["metrics", str(sample_dir), "--period", "2027"]) == 1
    assert "2027 starts after the data's as-of date 2026-09-30" in capsys.readouterr().err
    folder = write_dataset()  # data through 2025-05-01; discharges in 2025Q1 and 2025Q2
    assert main(["metrics", str(folder), "--period", "2025Q1", "--as-of", "2025-01-31"]) == 1
    assert "no episode was discharged in 2025Q1" in capsys.readouterr().err
    assert main(["metrics", str(folder), "--period", "2025Q2"]) == 0  # partly observed: fine
