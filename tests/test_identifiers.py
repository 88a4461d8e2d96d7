"""Identifier screening (issue #11): every way a direct identifier reached the loader is
refused, naming the file, the column, what it looks like and (for values) a spreadsheet row,
never the value itself; the contract's own columns, the sample and a messy synth export are
not refused.

Each case writes a copy of the small valid dataset of ``conftest.py`` with one identifier
column or value added. Rows are spreadsheet rows (header = 1, first record = 2).
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

import outcomes
from outcomes.cli import main
from outcomes.errors import IdentifierError
from outcomes.schema import SPECS, identifier_kind, is_zip_column

from conftest import ATTENDANCE_OK, ENROLLMENTS_OK, FOLLOWUPS_OK

BASE = {"enrollments": ENROLLMENTS_OK, "attendance": ATTENDANCE_OK, "followups": FOLLOWUPS_OK}


def _text(csv: str) -> pl.DataFrame:
    """A CSV text as the loader reads it: every column text."""
    return pl.read_csv(io.StringIO(csv), infer_schema=False)


def _write(folder: Path, frames: dict[str, pl.DataFrame], fmt: str = "csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "csv":
            frame.write_csv(folder / f"{name}.csv")
        else:
            frame.write_parquet(folder / f"{name}.parquet")
    return folder


def _with_value(
    tmp_path: Path, file: str, column: str, value: str, row: int = 3, fill: str = ""
) -> Path:
    """The base dataset with ``value`` at spreadsheet ``row`` of ``column`` of ``file`` (the
    column added, holding ``fill`` elsewhere, when it is not there)."""
    frames = {name: _text(csv) for name, csv in BASE.items()}
    frame = frames[file]
    if column not in frame.columns:
        frame = frame.with_columns(pl.lit(fill or None, pl.String).alias(column))
    at = pl.int_range(pl.len()) == row - 2
    frames[file] = frame.with_columns(
        pl.when(at).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    return _write(tmp_path / "data", frames)


def _refusal(folder: Path) -> IdentifierError:
    # on_error="exclude" keeps every usable row; an identifier refuses the file all the same
    with pytest.raises(IdentifierError) as err:
        outcomes.load(folder, on_error="exclude")
    return err.value


def _assert_refused(
    err: IdentifierError, file: str, column: str, kind: str, value: str, row: int | None
) -> None:
    message = str(err)
    assert f"{file}.csv: column '{column}'" in message
    assert kind in message
    assert "de-identified data only" in message
    assert len(err.problems) == 1 and "\n" not in message
    assert err.columns == {f"{file}.csv": [column]}
    ((found_file, found_column, found_kind, found_row),) = err.found
    assert (found_file, found_column, found_row) == (f"{file}.csv", column, row)
    assert kind in found_kind
    if row is not None:
        assert f", as in row {row}. " in message
    # the value itself is never repeated: not in the message, not in what the error carries
    for part in {value, value.strip(), *value.split()} - {""}:
        if len(part) >= 4:
            assert part not in message, part
            assert part not in repr(err.found) and part not in repr(err.args), part


# --- refused by column name -------------------------------------------------------------------

NAME_CASES = [
    # names
    ("client_full_name", "Ann Example", "a name"),
    ("pt_name", "Ann Example", "a name"),
    ("resident_name", "Ann Example", "a name"),
    ("name_last", "Example", "a name"),
    ("client", "Ann Example", "a name"),
    ("patient", "Ann Example", "a name"),
    ("first_name", "Annabel", "a name"),
    ("Last Name", "Example", "a name"),
    ("FirstName", "Annabel", "a name"),
    ("surname", "Example", "a name"),
    ("emergency_contact_name", "Bob Example", "a name"),
    # dates of birth
    ("client_dob", "1980-02-03", "a date of birth"),
    ("patient_dob", "1980-02-03", "a date of birth"),
    ("dob_date", "1980-02-03", "a date of birth"),
    ("born", "1980-02-03", "a date of birth"),
    ("date_birth", "1980-02-03", "a date of birth"),
    ("D.O.B.", "1980-02-03", "a date of birth"),
    ("birthDate", "1980-02-03", "a date of birth"),
    ("birth_year", "1980", "a date of birth"),
    # social security and taxpayer numbers
    ("patient_ssn", "101111001", "a social security number"),
    ("S.S.N.", "101-11-1001", "a social security number"),
    ("social", "101-11-1001", "a social security number"),
    ("social_security_number", "101-11-1001", "a social security number"),
    ("tax_id", "101-11-1001", "a social security number"),
    # telephone
    ("phone", "555-101-1001", "a telephone or fax number"),
    ("tel", "555-101-1001", "a telephone or fax number"),
    ("mobile", "555-101-1001", "a telephone or fax number"),
    ("cell", "555-101-1001", "a telephone or fax number"),
    ("home_phone_2", "555-101-1001", "a telephone or fax number"),
    ("fax", "555-101-1001", "a telephone or fax number"),
    # e-mail
    ("e-mail", "ann@example.com", "an email address"),
    ("EmailAddress", "ann@example.com", "an email address"),
    # addresses and places below state level
    ("address1", "1 Main Street", "a street address"),
    ("residence", "1 Main Street", "a street address"),
    ("street", "Main Street", "a street address"),
    ("city", "Springfield", "a street address"),
    ("county", "Sangamon", "a street address"),
    # medical record and plan numbers
    ("med_rec_no", "00123456", "a medical record number"),
    ("mrn_number", "00123456", "a medical record number"),
    ("MRN", "00123456", "a medical record number"),
    ("patient_id", "00123456", "a medical record number"),
    ("emr_id", "00123456", "a medical record number"),
    ("medical_record", "00123456", "a medical record number"),
    ("medicaid_number", "XY123456", "a health-plan"),
    ("medicare_no", "XY123456", "a health-plan"),
    ("insurance_id", "XY123456", "a health-plan"),
    # IP addresses
    ("client_ip", "10.1.2.3", "an IP address"),
    ("ip_address", "10.1.2.3", "an IP address"),
]


@pytest.mark.parametrize(("column", "value", "kind"), NAME_CASES)
def test_identifier_column_names_are_refused(tmp_path, column, value, kind):
    folder = _with_value(tmp_path, "enrollments", column, value, fill=value)
    _assert_refused(_refusal(folder), "enrollments", column, kind, value, row=None)
    assert identifier_kind(column) is not None


@pytest.mark.parametrize(
    ("file", "column", "kind"),
    [
        ("attendance", "therapist_phone", "a telephone or fax number"),
        ("followups", "client_email", "an email address"),
        ("followups", "patient_name", "a name"),
    ],
)
def test_identifier_column_names_are_refused_in_every_file(tmp_path, file, column, kind):
    folder = _with_value(tmp_path, file, column, "Ann Example", fill="Ann Example")
    _assert_refused(_refusal(folder), file, column, kind, "Ann Example", row=None)


# --- refused by value: in extra columns and in the contract's own text columns -----------------

SSNS = ["101-11-1001", "101 11 1001", "101111001", "123.45.6789", "SSN 101-11-1001"]
PHONES = [
    "5551011001",
    "(555)101-1001",
    "(555) 101-1001",
    "555-101-1001",
    "555.101.1001",
    "555 101 1001",
    "+1 555 101 1001",
    "1-555-101-1001",
    "call 555-101-1001 after 5",
]
EMAILS = ["John Smith <john1@example.com>", "john1@example.com", "write to jane.doe@example.org"]
VALUE_CASES = (
    [(v, "a social security number") for v in SSNS]
    + [(v, "a telephone number") for v in PHONES]
    + [(v, "an email address") for v in EMAILS]
    + [("MRN0012345", "a medical record number"), ("MRN: 0012345", "a medical record number")]
    + [("10.1.2.3", "an IP address")]
)


@pytest.mark.parametrize(("value", "kind"), VALUE_CASES)
def test_identifier_values_in_an_extra_column_are_refused(tmp_path, value, kind):
    folder = _with_value(tmp_path, "enrollments", "notes", value, row=4, fill="none")
    _assert_refused(_refusal(folder), "enrollments", "notes", kind, value, row=4)


CONTRACT_VALUE_CASES = [
    ("enrollments", "race_ethnicity", "john1@example.com", "an email address"),
    ("enrollments", "race_ethnicity", "John Smith <john1@example.com>", "an email address"),
    ("enrollments", "race_ethnicity", "101-11-1001", "a social security number"),
    ("enrollments", "race_ethnicity", "(555)101-1001", "a telephone number"),
    ("enrollments", "race_ethnicity", "MRN0012345", "a medical record number"),
    ("enrollments", "site_id", "101 11 1001", "a social security number"),
    ("enrollments", "site_id", "john1@example.com", "an email address"),
    ("enrollments", "client_id", "101111001", "a social security number"),
    ("enrollments", "client_id", "john1@example.com", "an email address"),
    ("enrollments", "episode_id", "101-11-1001", "a social security number"),
    ("enrollments", "program_type", "john1@example.com", "an email address"),
    ("enrollments", "admit_date", "101-11-1001", "a social security number"),
    ("enrollments", "prior_episodes", "101111001", "a social security number"),
    ("attendance", "episode_id", "555-101-1001", "a telephone number"),
    ("attendance", "status", "john1@example.com", "an email address"),
    ("attendance", "hours", "5551011001", "a telephone number"),
    ("followups", "method", "5551011001", "a telephone number"),
    ("followups", "method", "john1@example.com", "an email address"),
    ("followups", "method", "+1 555 101 1001", "a telephone number"),
]


@pytest.mark.parametrize(("file", "column", "value", "kind"), CONTRACT_VALUE_CASES)
def test_identifier_values_in_contract_columns_are_refused(tmp_path, file, column, value, kind):
    """Allowed columns are screened too: their values would otherwise reach ``issues`` (a code
    or type error carries the value) or the analysis (race_ethnicity, site_id, method)."""
    folder = _with_value(tmp_path, file, column, value, row=3, fill="x")
    _assert_refused(_refusal(folder), file, column, kind, value, row=3)


def test_a_pseudonymous_key_holding_an_identifier_is_told_to_use_a_key(tmp_path):
    err = _refusal(_with_value(tmp_path, "enrollments", "client_id", "101111001"))
    assert "replace them with pseudonymous keys made for the export" in str(err)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("zip", "02139-1234"),  # ZIP+4
        ("zip", "021391234"),  # ZIP+4 without the dash: a ZIP, not an SSN
        ("zip", "02139"),
        ("zip_5", "02139"),
        ("client_zip", "02139"),
        ("postal", "02139"),
        ("zip3", "02139"),  # five digits in the three-digit column
        ("ZIP Code", "02139"),
    ],
)
def test_zip_codes_longer_than_three_digits_are_refused(tmp_path, column, value):
    folder = _with_value(tmp_path, "enrollments", column, value, row=5, fill="021")
    _assert_refused(
        _refusal(folder), "enrollments", column, "a ZIP code with more than 3 digits", value, 5
    )
    assert is_zip_column(column)


def test_the_first_row_holding_an_identifier_is_named(tmp_path):
    frames = {name: _text(csv) for name, csv in BASE.items()}
    frames["enrollments"] = frames["enrollments"].with_columns(
        pl.Series("notes", [None, "ok", "a@example.com", "b@example.com"])
    )
    err = _refusal(_write(tmp_path / "data", frames))
    assert err.found == [("enrollments.csv", "notes", "an email address", 4)]


def test_every_refused_column_of_every_file_is_reported_at_once(tmp_path):
    frames = {name: _text(csv) for name, csv in BASE.items()}
    frames["enrollments"] = frames["enrollments"].with_columns(
        pl.lit("Ann").alias("first_name"), pl.lit("555-101-1001").alias("notes")
    )
    frames["followups"] = frames["followups"].with_columns(pl.lit("a@example.com").alias("method"))
    err = _refusal(_write(tmp_path / "data", frames))
    assert err.columns == {
        "enrollments.csv": ["first_name", "notes"],
        "followups.csv": ["method"],
    }
    assert [f[2] for f in err.found] == ["a name", "a telephone number", "an email address"]


# --- person names and free text in code columns (need more rows) -------------------------------

GIVEN = ["Ann", "Bob", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal"]
FAMILY = ["Smith", "Okafor", "Nguyen", "García", "O'Brien", "McDonald", "Kowalski", "Lee"]


def _enrollments(n: int) -> pl.DataFrame:
    """``n`` valid enrollment rows, all text, episodes E0 ... E{n-1} (E1-E4 have sessions)."""
    return pl.DataFrame(
        {
            "client_id": [f"C{i // 2}" for i in range(n)],
            "episode_id": [f"E{i}" for i in range(n)],
            "program_type": ["iop" if i % 2 else "residential" for i in range(n)],
            "planned_length_days": ["42"] * n,
            "admit_date": ["2025-01-06"] * n,
            "discharge_date": ["2025-02-17"] * n,
            "discharge_reason": ["completed"] * n,
        }
    )


def _names(n: int) -> list[str]:
    return [f"{GIVEN[i % len(GIVEN)]} {FAMILY[i // len(GIVEN) % len(FAMILY)]}" for i in range(n)]


def _big(tmp_path: Path, n: int, **columns: list[str]) -> Path:
    enr = _enrollments(n).with_columns(pl.Series(k, v) for k, v in columns.items())
    return _write(tmp_path / "data", {"enrollments": enr, "attendance": _text(ATTENDANCE_OK)})


@pytest.mark.parametrize("column", ["race_ethnicity", "client_id", "site_id", "notes"])
def test_person_names_are_refused(tmp_path, column):
    names = _names(25)  # 25 distinct "Given Family", each client on two episodes
    values = [names[i // 2] for i in range(50)]
    if column == "race_ethnicity":
        values[7] = "Smith, Ann"  # "Family, Given" counts as well
    err = _refusal(_big(tmp_path, 50, **{column: values}))
    _assert_refused(err, "enrollments", column, "person names", "Ann Smith", row=2)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("race_ethnicity", [f"{100000 + 7 * i:08d}" for i in range(60)]),  # MRN-like numbers
        ("race_ethnicity", [f"note {i}: seen twice" for i in range(60)]),
        ("site_id", [f"S{i:03d}" for i in range(60)]),
    ],
)
def test_nearly_unique_values_in_a_code_column_are_refused(tmp_path, column, values):
    err = _refusal(_big(tmp_path, 60, **{column: values}))
    _assert_refused(err, "enrollments", column, "free text or a unique code", values[0], row=2)
    assert "60 distinct values in 60 rows" in str(err)


def test_nearly_unique_follow_up_methods_are_refused(tmp_path):
    n = 60
    followups = pl.DataFrame(
        {
            "episode_id": [f"E{i}" for i in range(n)],
            "contact_date": ["2025-03-01"] * n,
            "used_since_discharge": ["false"] * n,
            "method": [f"left message #{i}" for i in range(n)],
        }
    )
    folder = _big(tmp_path, n)
    followups.write_csv(folder / "followups.csv")
    err = _refusal(folder)
    _assert_refused(err, "followups", "method", "free text", "left message", row=2)


def test_parquet_number_columns_are_screened_like_their_csv_text(tmp_path):
    """Typed Parquet columns give the same verdict as the same values written as CSV text."""
    frames = {name: _text(csv) for name, csv in BASE.items()}
    n = frames["enrollments"].height
    frames["enrollments"] = frames["enrollments"].with_columns(
        pl.Series("ref", [1, 2, 101111001, 3], pl.Int64),
        pl.Series("zip", [21, 2139, 100, 21], pl.Int32),  # 02139 stored as a number
        pl.Series("zip3", [21, 100, 999, 21], pl.Int64),
        pl.Series("visits", [10**9] * n, pl.Int64),  # ten digits, but no phone (area code 100)
        pl.Series("score", [0.123456789, 123.456789, 1.5, 2.0]),
        pl.Series("amount", [0.5, 1.5, 2.5, 5551011001.0]),  # written "5551011001.0" in a CSV
    )
    err = _refusal(_write(tmp_path / "pq", frames, fmt="parquet"))
    assert err.found == [
        ("enrollments.parquet", "ref", "a social security number", 4),
        ("enrollments.parquet", "zip", "a ZIP code with more than 3 digits", 3),
        ("enrollments.parquet", "amount", "a telephone number", 5),
    ]
    assert "101111001" not in str(err)


# --- not refused ------------------------------------------------------------------------------


def test_every_contract_column_with_ordinary_values_is_accepted(tmp_path):
    enr = _text(ENROLLMENTS_OK).with_columns(
        pl.Series("modality", ["in_person", "telehealth", "hybrid", "in_person"]),
        pl.Series("age_group", ["25-34", "25-34", "18-24", "65+"]),
        pl.Series("sex", ["female", "female", "male", "unknown"]),
        pl.Series("race_ethnicity", ["Native American", "Native American", "white", "Asian"]),
        pl.Series("primary_substance", ["opioids", "opioids", "alcohol", "cannabis"]),
        pl.Series("site_id", ["S01", "S01", "North Campus", "S02"]),
    )
    assert set(enr.columns) == set(SPECS["enrollments"].names)
    folder = _write(
        tmp_path / "data",
        {
            "enrollments": enr,
            "attendance": _text(ATTENDANCE_OK),
            "followups": _text(FOLLOWUPS_OK).with_columns(pl.Series("method", ["phone", "visit"])),
        },
    )
    ds = outcomes.load(folder)
    assert ds.issues.height == 0
    assert ds.enrollments["race_ethnicity"].to_list()[0] == "Native American"


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("zip3", ["021", "100", "999", "021"]),
        ("zip", ["021", "100", "021.0", None]),
        ("sex_at_birth", ["female"] * 4),
        ("social_support", ["high", "low", "high", "none"]),
        ("medicaid", ["true", "false", "true", "true"]),
        ("housing", ["stable", "stable", "homeless", "unknown"]),
        ("site_name", ["North", "North", "Cedar Ridge", "South"]),
        ("program_name", ["IOP-6", "IOP-6", "IOP-8", "RES"]),
        ("counselor_name", ["Ann Example", "Ann Example", "Bob Example", "Bob Example"]),
        ("score", ["0.123456789", "0.1234567891", "123.456789", "1.5"]),
        ("weight_kg", ["81.5", "60", "72.25", ""]),
        ("intake_time", ["2025-01-06T10:00:00", "2025-03-07 09:30", "01/06/2025", "2025-05-01"]),
        ("referral_note", ["call back in 2 weeks", "seen 3 times", "", "group 12"]),
        ("episode_no", ["000000510", "000001568", "12345678", "1234567890123"]),
    ],
)
def test_ordinary_extra_columns_are_accepted(tmp_path, column, values):
    frames = {name: _text(csv) for name, csv in BASE.items()}
    frames["enrollments"] = frames["enrollments"].with_columns(pl.Series(column, values))
    ds = outcomes.load(_write(tmp_path / "data", frames), on_error="exclude")
    assert column in ds.enrollments.columns
    assert identifier_kind(column) is None


def test_zero_padded_nine_digit_keys_are_not_taken_for_ssns(tmp_path):
    """Social security numbers never start with 000, so a zero-padded sequence number (up to
    999,999) is never one; nor does any SSN start with 666 or (outside ITINs) 9."""
    frames = {name: _text(csv) for name, csv in BASE.items()}
    frames["enrollments"] = frames["enrollments"].with_columns(
        pl.Series("client_id", ["000000510", "000000510", "666123456", "000999999"])
    )
    ds = outcomes.load(_write(tmp_path / "data", frames))
    assert ds.enrollments["client_id"].to_list()[0] == "000000510"


def test_a_realistic_vocabulary_of_many_codes_is_accepted(tmp_path):
    """40 distinct race codes (below 50) over 120 rows, with Title-Case two-word codes, and
    12 sites: a free vocabulary, not free text or names."""
    codes = ["Native American", "Pacific Islander", "Alaska Native", "Black or African American"]
    codes += [f"code {i}" for i in range(36)]
    race = [codes[i % len(codes)] for i in range(120)]
    sites = [f"S{i % 12:02d}" for i in range(120)]
    ds = outcomes.load(_big(tmp_path, 120, race_ethnicity=race, site_id=sites))
    assert ds.enrollments["race_ethnicity"].n_unique() == 40


def test_the_committed_sample_is_accepted(sample_dir):
    ds = outcomes.load(sample_dir)
    assert ds.issues.filter(pl.col("severity") == "error").height == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_messy_synth_export_is_accepted(tmp_path, fmt):
    out = tmp_path / "messy"
    args = ["synth", "--clients", "400", "--seed", "11", "--out", str(out), "--format", fmt]
    assert main([*args, "--messy"]) == 0
    ds = outcomes.load(out, on_error="exclude")  # the planted mistakes are issues, not refusals
    assert ds.issues.height > 0 and ds.enrollments.height > 0
