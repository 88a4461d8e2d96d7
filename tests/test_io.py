"""The loader: every rule of the data contract on small hand-written files.

Expected issue rows are worked out by hand from the file texts: ``row`` is the spreadsheet row
(header = 1, first record = 2).
"""

from __future__ import annotations

import datetime as dt
import string

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import outcomes
from outcomes.errors import DataError, IdentifierError, InputError
from outcomes.schema import ACCOUNTING_COLUMNS, ISSUE_COLUMNS, SPECS

from conftest import ATTENDANCE_OK, ENROLLMENTS_OK, FOLLOWUPS_OK

HEADER = (
    "client_id,episode_id,program_type,planned_length_days,admit_date,discharge_date,"
    "discharge_reason\n"
)


def issue_set(ds_or_issues) -> set[tuple]:
    issues = getattr(ds_or_issues, "issues", ds_or_issues)
    return {
        (r["file"], r["row"], r["column"], r["value"], r["rule"], r["severity"])
        for r in issues.iter_rows(named=True)
    }


def accounting(ds) -> dict[str, tuple[int, int, int, int]]:
    return {r[0]: tuple(r[1:]) for r in ds.accounting.iter_rows()}


# --- clean data -------------------------------------------------------------------------------


def test_clean_dataset_loads_with_contract_dtypes(write_dataset):
    ds = outcomes.load(write_dataset(followups=FOLLOWUPS_OK))
    assert ds.issues.height == 0
    assert ds.issues.columns == list(ISSUE_COLUMNS)
    assert ds.accounting.columns == list(ACCOUNTING_COLUMNS)
    assert accounting(ds) == {
        "enrollments.csv": (4, 4, 0, 0),
        "attendance.csv": (8, 8, 0, 0),
        "followups.csv": (2, 2, 0, 0),
    }
    for name in ("enrollments", "attendance", "followups"):
        frame = getattr(ds, name)
        for col in SPECS[name].columns:
            assert frame.schema[col.name] == col.dtype, (name, col.name)
    # contract columns first, in contract order; absent optional ones added as nulls
    assert ds.enrollments.columns == list(SPECS["enrollments"].names)
    assert ds.enrollments["site_id"].null_count() == 4
    e4 = ds.enrollments.filter(pl.col("episode_id") == "E4").row(0, named=True)
    assert e4["discharge_date"] is None and e4["discharge_reason"] is None
    assert e4["co_occurring_mh"] is None and e4["prior_episodes"] is None
    assert ds.enrollments["co_occurring_mh"].to_list()[:3] == [True, True, False]
    # latest date anywhere in the data (the followup of E3 on 2025-04-06 ... E1's 2025-04-06)
    assert ds.last_date == dt.date(2025, 5, 1)
    assert ds.has_followups


def test_followups_file_is_optional(write_dataset):
    ds = outcomes.load(write_dataset())
    assert ds.followups is None and not ds.has_followups
    assert set(ds.accounting["file"]) == {"enrollments.csv", "attendance.csv"}


def test_parquet_gives_the_same_dataset_as_csv(write_dataset, tmp_path):
    csv_dir = write_dataset(followups=FOLLOWUPS_OK)
    from_csv = outcomes.load(csv_dir)
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for name in ("enrollments", "attendance", "followups"):
        getattr(from_csv, name).write_parquet(pq_dir / f"{name}.parquet")
    from_pq = outcomes.load(pq_dir)
    for name in ("enrollments", "attendance", "followups"):
        assert getattr(from_pq, name).equals(getattr(from_csv, name)), name


def test_parquet_with_text_columns_is_parsed(tmp_path, write_dataset):
    csv_dir = write_dataset()
    pq_dir = tmp_path / "pqtext"
    pq_dir.mkdir()
    for name in ("enrollments", "attendance"):
        pl.read_csv(csv_dir / f"{name}.csv", infer_schema=False).write_parquet(
            pq_dir / f"{name}.parquet"
        )
    assert outcomes.load(pq_dir).enrollments.equals(outcomes.load(csv_dir).enrollments)


def test_codes_headers_and_bom_are_lenient(write_dataset, tmp_path):
    text = (
        "\ufeffClient_ID, Episode_ID ,PROGRAM_TYPE,planned_length_days,admit_date,"
        "discharge_date,discharge_reason\n"
        "C1,E1, IOP ,42.0,2025-01-06,2025-02-17,Completed\n"
    )
    ds = outcomes.load(
        write_dataset(
            enrollments=text, attendance="episode_id,session_date,status\nE1,2025-01-06,ATTENDED\n"
        )
    )
    row = ds.enrollments.row(0, named=True)
    assert (row["client_id"], row["program_type"], row["planned_length_days"]) == ("C1", "iop", 42)
    assert row["discharge_reason"] == "completed"
    assert ds.attendance["status"].to_list() == ["attended"]


def test_extra_columns_are_kept_as_covariates(write_dataset):
    text = HEADER.strip() + ",housing\nC1,E1,iop,42,2025-01-06,2025-02-17,completed,stable\n"
    ds = outcomes.load(
        write_dataset(
            enrollments=text, attendance="episode_id,session_date,status\nE1,2025-01-06,attended\n"
        )
    )
    assert ds.enrollments.columns[-1] == "housing"
    assert ds.enrollments["housing"].to_list() == ["stable"]


# --- value rules ------------------------------------------------------------------------------

BAD_VALUES = HEADER + (
    "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"  # row 2: clean
    ",E2,rehab,42,2025-13-01,2025-02-17,completed\n"  # row 3: client empty, code, bad date
    "C3,E3,iop,4.5,2025-01-06,2025-02-17,graduated\n"  # row 4: not whole, bad reason
    "C4,E4,iop,0,01/06/2025,,\n"  # row 5: below minimum, US date
    "C5,,residential,,2025-01-06,,\n"  # row 6: episode_id empty
)


def test_every_bad_value_is_reported_with_file_row_column_value_rule(write_dataset):
    with pytest.raises(DataError) as err:
        outcomes.load(
            write_dataset(
                enrollments=BAD_VALUES,
                attendance="episode_id,session_date,status\nE1,2025-01-06,attended\n",
            )
        )
    f = "enrollments.csv"
    assert issue_set(err.value.issues) == {
        (f, 3, "client_id", None, "required", "error"),
        (f, 3, "program_type", "rehab", "allowed_values", "error"),
        (f, 3, "admit_date", "2025-13-01", "type", "error"),
        (f, 4, "planned_length_days", "4.5", "type", "error"),
        (f, 4, "discharge_reason", "graduated", "allowed_values", "error"),
        (f, 5, "planned_length_days", "0", "minimum", "error"),
        (f, 5, "admit_date", "01/06/2025", "type", "error"),
        (f, 6, "episode_id", None, "required", "error"),
    }
    # the message counts the errors, and the accounting is carried too
    assert "8 data error(s)" in str(err.value)
    assert err.value.accounting.filter(pl.col("file") == f)["rows_excluded"].item() == 4


def test_exclude_drops_failing_rows_and_keeps_their_issues(write_dataset):
    ds = outcomes.load(
        write_dataset(
            enrollments=BAD_VALUES,
            attendance="episode_id,session_date,status\n"
            "E1,2025-01-06,attended\nE3,2025-01-08,attended\n",
        ),
        on_error="exclude",
    )
    assert ds.enrollments["episode_id"].to_list() == ["E1"]
    assert accounting(ds)["enrollments.csv"] == (5, 1, 4, 0)
    # the session of excluded episode E3 goes too, and says why
    assert ("attendance.csv", 3, "episode_id", "E3", "episode_excluded", "error") in issue_set(ds)
    assert accounting(ds)["attendance.csv"] == (2, 1, 1, 0)


def test_attendance_and_followup_values(write_dataset):
    att = (
        "episode_id,session_date,status,session_type,hours\n"
        "E1,2025-01-06,late,group,3\n"  # row 2: status code
        "E1,2025-01-07,attended,therapy,-1\n"  # row 3: type code, hours < 0
        "E1,,attended,group,three\n"  # row 4: date required, hours not a number
    )
    fu = "episode_id,contact_date,used_since_discharge\nE1,2025-04-01,maybe\n"
    ds = outcomes.load(write_dataset(attendance=att, followups=fu), on_error="exclude")
    assert issue_set(ds) == {
        ("attendance.csv", 2, "status", "late", "allowed_values", "error"),
        ("attendance.csv", 3, "session_type", "therapy", "allowed_values", "error"),
        ("attendance.csv", 3, "hours", "-1", "minimum", "error"),
        ("attendance.csv", 4, "session_date", None, "required", "error"),
        ("attendance.csv", 4, "hours", "three", "type", "error"),
        ("followups.csv", 2, "used_since_discharge", "maybe", "type", "error"),
    }
    assert ds.attendance.height == 0 and ds.followups.height == 0


# --- rules across values ----------------------------------------------------------------------


def test_enrollment_cross_row_rules(write_dataset):
    text = HEADER + (
        "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"  # row 2 ok
        "C2,E2,iop,42,2025-01-06,2025-02-17,completed\n"  # row 3 duplicate id
        "C3,E2,iop,42,2025-01-06,2025-02-17,completed\n"  # row 4 duplicate id
        "C4,E4,iop,42,2025-02-06,2025-02-05,completed\n"  # row 5 discharge before admission
        "C5,E5,iop,42,2025-02-06,,completed\n"  # row 6 reason without discharge
        "C6,E6,iop,42,2025-02-06,2025-03-01,\n"  # row 7 discharge without reason
        "C7,E7,iop,400,2025-02-06,2025-03-01,left_early\n"  # row 8 implausible (warning)
        "C8,E8,residential,60,2025-02-06,2025-02-06,left_early\n"  # row 9 same day: fine
        "C9,E9,iop,42,2025-02-06,2025-02-3x,completed\n"  # row 10 bad date, not 'no date'
    )
    ds = outcomes.load(
        write_dataset(
            enrollments=text, attendance="episode_id,session_date,status\nE1,2025-01-06,attended\n"
        ),
        on_error="exclude",
    )
    f = "enrollments.csv"
    assert issue_set(ds) == {
        (f, 3, "episode_id", "E2", "duplicate_episode_id", "error"),
        (f, 4, "episode_id", "E2", "duplicate_episode_id", "error"),
        (f, 5, "discharge_date", "2025-02-05", "discharge_before_admission", "error"),
        (f, 6, "discharge_reason", "completed", "reason_without_discharge", "error"),
        (f, 7, "discharge_reason", None, "discharge_without_reason", "error"),
        (f, 8, "planned_length_days", "400", "planned_length_implausible", "warning"),
        (f, 10, "discharge_date", "2025-02-3x", "type", "error"),
    }
    assert sorted(ds.enrollments["episode_id"]) == ["E1", "E7", "E8"]
    assert accounting(ds)[f] == (9, 3, 6, 1)


def test_a_row_exported_twice_is_kept_once(write_dataset):
    """Worked by hand: enrollments rows 3 and 6 repeat row 2 exactly (two warnings naming row
    2); rows 4 and 5 share E2 but differ in planned length (two errors, and E2's session is
    excluded with them). Attendance row 3 repeats row 2. Read 5 = kept 1 (E1) + excluded 4
    (two copies, two clashing rows); attendance read 3 = kept 1 + excluded 2."""
    enrollments = HEADER + (
        "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"
        "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"
        "C2,E2,iop,42,2025-01-06,2025-02-17,completed\n"
        "C2,E2,iop,49,2025-01-06,2025-02-17,completed\n"
        "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"
    )
    attendance = (
        "episode_id,session_date,status\n"
        "E1,2025-01-06,attended\nE1,2025-01-06,attended\nE2,2025-01-06,attended\n"
    )
    ds = outcomes.load(
        write_dataset(enrollments=enrollments, attendance=attendance), on_error="exclude"
    )
    e, a = "enrollments.csv", "attendance.csv"
    assert issue_set(ds) == {
        (e, 3, "episode_id", "E1", "exact_duplicate", "warning"),
        (e, 4, "episode_id", "E2", "duplicate_episode_id", "error"),
        (e, 5, "episode_id", "E2", "duplicate_episode_id", "error"),
        (e, 6, "episode_id", "E1", "exact_duplicate", "warning"),
        (a, 3, "episode_id", "E1", "exact_duplicate", "warning"),
        (a, 4, "episode_id", "E2", "episode_excluded", "error"),
    }
    copy = ds.issues.filter(pl.col("rule") == "exact_duplicate", pl.col("row") == 6)
    assert copy["message"].item() == "row is identical in every column to row 2; kept once"
    assert ds.enrollments["episode_id"].to_list() == ["E1"]
    assert ds.attendance.height == 1
    assert accounting(ds) == {e: (5, 1, 4, 0), a: (3, 1, 2, 0)}
    # copies alone are warnings: loading with on_error="raise" does not refuse them
    clean = HEADER + "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n" * 2
    sessions = "episode_id,session_date,status\n" + "E1,2025-01-06,attended\n" * 3
    ds = outcomes.load(write_dataset(enrollments=clean, attendance=sessions))
    assert ds.enrollments.height == 1 and ds.attendance.height == 1
    assert accounting(ds) == {e: (2, 1, 1, 0), a: (3, 1, 2, 0)}


def test_link_rules_unknown_episode_outside_sessions_and_early_contacts(write_dataset):
    # E1: 2025-01-06 .. 2025-03-07 (residential); E4 open from 2025-05-01
    att = (
        "episode_id,session_date,status\n"
        "E1,2024-12-23,attended\n"  # row 2: 14 days before admission: within tolerance
        "E1,2024-12-22,attended\n"  # row 3: 15 days before: warning
        "E1,2025-03-21,no_show\n"  # row 4: 14 days after discharge: within tolerance
        "E1,2025-03-22,no_show\n"  # row 5: 15 days after: warning
        "E9,2025-03-22,no_show\n"  # row 6: unknown episode
        "E4,2026-01-01,attended\n"  # row 7: open episode, late session: fine
        "E4,2025-04-01,attended\n"  # row 8: open episode, 30 days before admission: warning
    )
    fu = (
        "episode_id,contact_date,used_since_discharge\n"
        "E1,2025-03-01,false\n"  # row 2: before discharge: warning
        "E1,2025-03-07,false\n"  # row 3: day of discharge: warning (not after)
        "E1,2025-03-08,false\n"  # row 4: fine
        "E4,2025-06-01,true\n"  # row 5: episode still open: warning
        "E77,2025-06-01,true\n"  # row 6: unknown episode
    )
    ds = outcomes.load(write_dataset(attendance=att, followups=fu), on_error="exclude")
    a, f = "attendance.csv", "followups.csv"
    assert issue_set(ds) == {
        (a, 3, "session_date", "2024-12-22", "session_outside_episode", "warning"),
        (a, 5, "session_date", "2025-03-22", "session_outside_episode", "warning"),
        (a, 6, "episode_id", "E9", "unknown_episode", "error"),
        (a, 8, "session_date", "2025-04-01", "session_outside_episode", "warning"),
        (f, 2, "contact_date", "2025-03-01", "contact_before_discharge", "warning"),
        (f, 3, "contact_date", "2025-03-07", "contact_before_discharge", "warning"),
        (f, 5, "contact_date", "2025-06-01", "contact_before_discharge", "warning"),
        (f, 6, "episode_id", "E77", "unknown_episode", "error"),
    }
    assert accounting(ds)[a] == (7, 6, 1, 3)
    assert accounting(ds)[f] == (5, 4, 1, 3)
    msg = ds.issues.filter(pl.col("row") == 3, pl.col("file") == a)["message"].item()
    assert "14 days" in msg


def test_raise_reports_every_problem_not_only_the_first(write_dataset):
    att = ATTENDANCE_OK + "E9,2025-01-06,attended\nE1,2025-01-07,maybe\n"
    with pytest.raises(DataError) as err:
        outcomes.load(write_dataset(attendance=att))
    assert {(r["row"], r["rule"]) for r in err.value.issues.iter_rows(named=True)} == {
        (10, "unknown_episode"),
        (11, "allowed_values"),
    }


def test_warnings_alone_do_not_raise(write_dataset):
    att = ATTENDANCE_OK + "E1,2025-06-30,cancelled,group,3\n"
    ds = outcomes.load(write_dataset(attendance=att))
    assert ds.issues["rule"].to_list() == ["session_outside_episode"]
    assert ds.attendance.height == 9


def test_nothing_usable_raises_even_when_excluding(write_dataset):
    text = HEADER + "C1,E1,iop,42,2025-01-06,2025-01-01,completed\n"
    with pytest.raises(DataError):
        outcomes.load(write_dataset(enrollments=text), on_error="exclude")


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("first_name", "a name"),
        ("Last Name", "a name"),
        ("DOB", "a date of birth"),
        ("date_of_birth", "a date of birth"),
        ("ssn", "a social security number"),
        ("phone", "a telephone or fax number"),
        ("mobile_number", "a telephone or fax number"),
        ("email", "an email address"),
        ("street_address", "a street address"),
        ("MRN", "a medical record number"),
        ("medicaid_id", "a health-plan"),
    ],
)
def test_identifier_columns_are_refused(write_dataset, column, kind):
    text = HEADER.strip() + f",{column}\nC1,E1,iop,42,2025-01-06,2025-02-17,completed,x\n"
    with pytest.raises(IdentifierError) as err:
        outcomes.load(write_dataset(enrollments=text))
    message = str(err.value)
    assert "de-identified data only" in message
    assert f"drop the column '{column}'" in message
    assert kind in message
    assert err.value.columns == {"enrollments.csv": [column]}


def test_identifier_in_attendance_refused_too(write_dataset):
    att = "episode_id,session_date,status,therapist_phone\nE1,2025-01-06,attended,x\n"
    with pytest.raises(IdentifierError, match="therapist_phone"):
        outcomes.load(write_dataset(attendance=att))


@pytest.mark.parametrize(
    ("values", "refused"),
    [(("021", "100"), False), (("02139", "100"), True), (("021-39", "100"), True)],
)
def test_zip_codes_allowed_only_as_three_digits(write_dataset, values, refused):
    rows = "".join(
        f"C{i},E{i},iop,42,2025-01-06,2025-02-17,completed,{v}\n" for i, v in enumerate(values)
    )
    text = HEADER.strip() + ",zip\n" + rows
    if refused:
        with pytest.raises(IdentifierError, match="ZIP"):
            outcomes.load(write_dataset(enrollments=text), on_error="exclude")
    else:
        ds = outcomes.load(write_dataset(enrollments=text), on_error="exclude")
        assert ds.enrollments["zip"].to_list() == list(values)


@pytest.mark.parametrize("value", ["jane.doe@example.org", "123-45-6789", "(555) 123-4567"])
def test_identifier_values_in_an_innocent_column_are_refused(write_dataset, value):
    text = HEADER.strip() + f",notes\nC1,E1,iop,42,2025-01-06,2025-02-17,completed,{value}\n"
    with pytest.raises(IdentifierError, match="notes") as err:
        outcomes.load(write_dataset(enrollments=text))
    # the row is named, the value never repeated (tests/test_identifiers.py has every case)
    assert "as in row 2." in str(err.value) and value not in str(err.value)


def test_site_and_program_names_are_not_identifiers(write_dataset):
    text = (
        HEADER.strip()
        + ",site_name,program_name\n"
        + ("C1,E1,iop,42,2025-01-06,2025-02-17,completed,North,IOP-6\n")
    )
    ds = outcomes.load(write_dataset(enrollments=text), on_error="exclude")
    assert ds.enrollments["site_name"].to_list() == ["North"]


def test_missing_folder_file_and_column(tmp_path, write_dataset):
    with pytest.raises(InputError, match="no such folder"):
        outcomes.load(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"missing file attendance\.csv"):
        outcomes.load(write_dataset(attendance=None))
    att = "episode_id,status\nE1,attended\n"
    with pytest.raises(InputError) as err:
        outcomes.load(write_dataset(attendance=att, folder="nocol"))
    assert str(err.value) == (
        "attendance.csv: missing required column(s) session_date; see docs/data-dictionary.md "
        "(or docs/mapping.md for an export with other column names)"
    )


def test_a_folder_without_recognised_files_lists_what_it_holds(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ("Episodes.xlsx", "Sessions.csv", "readme.txt"):
        (folder / name).write_text("x")
    with pytest.raises(InputError) as err:
        outcomes.load(folder)
    assert err.value.problems == [
        f"{folder}: no enrollments or attendance file; the folder holds Episodes.xlsx, "
        "Sessions.csv, readme.txt. Name the files enrollments.csv, attendance.csv, "
        "followups.csv (or .parquet, .xlsx), or name them in a mapping file (outcomes map "
        f"{folder} --out mapping.toml drafts one)"
    ]


def test_every_refusal_is_reported_at_once(write_dataset):
    folder = write_dataset(enrollments="", attendance="episode_id,session_date,status\n")
    with pytest.raises(InputError) as err:
        outcomes.load(folder)
    assert err.value.problems == [
        "enrollments.csv: empty file",
        "attendance.csv: has a header but no rows",
    ]


def test_unreadable_encoding_and_double_files(write_dataset):
    folder = write_dataset()
    (folder / "enrollments.csv").write_bytes(
        (HEADER + "C1,E1,iop,42,2025-01-06,2025-02-17,completed,Jos\xe9\n").encode("latin-1")
    )
    with pytest.raises(InputError) as err:
        outcomes.load(folder)
    # the header is 97 bytes with its newline; 'C1,...,completed,Jos' 48 more: offset 145
    assert str(err.value) == (
        "enrollments.csv: not valid utf-8 text (byte 0xe9 at offset 145, line 2); save it as "
        "'CSV UTF-8', or declare its encoding in the mapping ([files] enrollments_encoding or "
        "[options] encoding)"
    )
    (folder / "enrollments.csv").write_text(ENROLLMENTS_OK)
    (folder / "enrollments.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="keep one"):
        outcomes.load(folder)
    (folder / "enrollments.csv").unlink()
    with pytest.raises(InputError, match="cannot be read as Parquet"):
        outcomes.load(folder)


def test_rows_with_too_many_fields_are_named(write_dataset):
    att = "episode_id,session_date,status\nE1,2025-01-06,attended\nE1,2025-01-07,attended,3\n"
    with pytest.raises(InputError) as err:
        outcomes.load(write_dataset(attendance=att))
    assert str(err.value) == "attendance.csv: the header has 3 columns but row 3 has 4 fields"


def test_rows_with_too_few_fields_are_reported_as_missing_values(write_dataset):
    att = "episode_id,session_date,status\nE1,2025-01-06,attended\nE1,2025-01-07\n"
    ds = outcomes.load(write_dataset(attendance=att), on_error="exclude")
    assert issue_set(ds) == {("attendance.csv", 3, "status", None, "required", "error")}


def test_repeated_column_is_refused(write_dataset):
    att = "episode_id,session_date,status,status\nE1,2025-01-06,attended,attended\n"
    with pytest.raises(InputError, match="repeated"):
        outcomes.load(write_dataset(attendance=att))


def test_bad_on_error_is_a_programming_error(write_dataset):
    with pytest.raises(ValueError, match="on_error"):
        outcomes.load(write_dataset(), on_error="ignore")


# --- the accounting invariant -----------------------------------------------------------------

_GOOD = ("C1", "E{}", "iop", "42", "2025-01-06", "2025-02-17", "completed")
_CORRUPTIONS = {
    "client_id": ["", " "],
    "program_type": ["rehab", "IOP", ""],
    "planned_length_days": ["", "x", "-3", "41.5", "500"],
    "admit_date": ["2025-02-30", "", "2025/01/06"],
    "discharge_date": ["", "2024-12-31", "2025-01-06"],
    "discharge_reason": ["", "finished", "DIED"],
}


@st.composite
def messy_dataset(draw):
    n = draw(st.integers(1, 25))
    rows = []
    cols = HEADER.strip().split(",")
    for _ in range(n):
        row = list(_GOOD)
        row[1] = row[1].format(draw(st.integers(0, n)))  # collisions make duplicates
        for col, bad in _CORRUPTIONS.items():
            if draw(st.integers(0, 7)) == 0:
                row[cols.index(col)] = draw(st.sampled_from(bad))
        rows.append(",".join(row))
    sessions = [
        f"E{draw(st.integers(0, n + 2))},"
        f"{draw(st.sampled_from(['2025-01-07', '2026-01-01', 'x']))},"
        f"{draw(st.sampled_from(['attended', 'no_show', 'gone']))}"
        for _ in range(draw(st.integers(1, 30)))
    ]
    return HEADER + "\n".join(rows) + "\n", "episode_id,session_date,status\n" + "\n".join(
        sessions
    ) + "\n"


@given(data=messy_dataset(), letters=st.text(string.ascii_lowercase, min_size=3, max_size=3))
def test_every_row_is_accounted_for(tmp_path_factory, data, letters):
    enrollments, attendance = data
    folder = tmp_path_factory.mktemp(f"acct{letters}")
    (folder / "enrollments.csv").write_text(enrollments)
    (folder / "attendance.csv").write_text(attendance)
    n_enr = enrollments.count("\n") - 1
    n_att = attendance.count("\n") - 1
    try:
        ds = outcomes.load(folder, on_error="exclude")
    except DataError as err:  # nothing usable: every enrollment row has an error
        issues, acct = err.issues, err.accounting
        assert acct.filter(pl.col("file") == "enrollments.csv")["rows_kept"].item() == 0
        kept = {}
    else:
        issues, acct = ds.issues, ds.accounting
        kept = {"enrollments.csv": ds.enrollments.height, "attendance.csv": ds.attendance.height}
    counts = {r["file"]: r for r in acct.iter_rows(named=True)}
    assert counts["enrollments.csv"]["rows_read"] == n_enr
    assert counts["attendance.csv"]["rows_read"] == n_att
    for r in counts.values():
        assert r["rows_read"] == r["rows_kept"] + r["rows_excluded"]
        if r["file"] in kept:
            assert kept[r["file"]] == r["rows_kept"]
    errors = issues.filter(pl.col("severity") == "error")
    copies = issues.filter(pl.col("rule") == "exact_duplicate")
    texts = {"enrollments.csv": enrollments, "attendance.csv": attendance}
    for r in counts.values():
        rows = errors.filter(pl.col("file") == r["file"])["row"]
        copy_rows = copies.filter(pl.col("file") == r["file"])["row"]
        # a row exported twice: every line beyond the first of identical lines, worked out on
        # the text; kept once, never also an error
        lines = texts[r["file"]].splitlines()[1:]
        assert copy_rows.len() == len(lines) - len(set(lines))
        assert not set(copy_rows) & set(rows)
        assert rows.n_unique() + copy_rows.len() == r["rows_excluded"]
        assert rows.is_between(2, r["rows_read"] + 1).all()
    assert issues.select("file", "row", "column", "rule").null_count().sum_horizontal().item() == 0


def test_root_causes_first_with_their_follow_on_exclusions(write_dataset):
    """Worked by hand: enrollment row 3 (E2) has a bad date and takes E2's three sessions with
    it; row 4 (E3) has two issues and takes E3's two sessions (counted once, on its first
    issue); attendance row 8 names an unknown episode (a root cause of its own)."""
    from outcomes.quality import root_cause_summary, root_causes

    enrollments = HEADER + (
        "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"
        "C2,E2,iop,42,2025-13-06,2025-02-17,completed\n"
        "C3,E3,iop,42,2025-03-06,2025-02-17,\n"
    )
    attendance = "episode_id,session_date,status\n" + "".join(
        f"{e},2025-01-{day:02d},attended\n"
        for day, e in enumerate(("E1", "E2", "E2", "E2", "E3", "E3", "E9"), start=7)
    )
    ds = outcomes.load(
        write_dataset(enrollments=enrollments, attendance=attendance), on_error="exclude"
    )
    assert ds.issues.filter(pl.col("rule") == "episode_excluded")["message"].to_list()[:1] == [
        "the episode's enrollment row 3 has errors, so this row is excluded too"
    ]
    e, a = "enrollments.csv", "attendance.csv"
    got = root_causes(ds).select("file", "row", "rule", "dependent_rows").rows()
    assert got == [
        (e, 3, "type", 3),
        (e, 4, "discharge_before_admission", 2),
        (e, 4, "discharge_without_reason", 0),
        (a, 8, "unknown_episode", 0),
    ]
    summary = root_cause_summary(ds).select("file", "rule", "rows", "dependent_rows").rows()
    assert summary == [
        (e, "type", 1, 3),
        (e, "discharge_before_admission", 1, 2),
        (e, "discharge_without_reason", 1, 0),
        (a, "unknown_episode", 1, 0),
    ]
    # every issue is a root cause or counted under one
    follow_on = ds.issues.filter(pl.col("rule") == "episode_excluded").height
    assert root_causes(ds).height + follow_on == ds.issues.height == 9
    assert root_causes(ds)["dependent_rows"].sum() == follow_on == 5
