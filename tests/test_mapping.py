"""The mapping file: an export in a provider system's own shape loads as the contract's would.

Each foreign file here is the contract-shaped fixture of conftest.py rewritten by hand (renamed
columns, relabelled codes, US dates, another encoding, a workbook); the expected dataset is the
fixture loaded as it is.
"""

from __future__ import annotations

import string
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import outcomes
from outcomes.errors import IdentifierError, InputError
from outcomes.mapping import draft_mapping, read_mapping
from outcomes.schema import SPECS

from conftest import ATTENDANCE_OK, ENROLLMENTS_OK, FOLLOWUPS_OK

# ENROLLMENTS_OK, as a provider system exports it: its own column names (and one column order),
# ASAM labels, discharge types, US dates, Y/N flags.
EPISODES = (
    (
        "Client Number,Episode,Level of Care,Planned Days,Admission Date,Discharge Date,"
        "Discharge Type,Referral,Dual Dx,Prior Admissions\n"
    )
    + """\
C1,E1,Residential 3.5,60,01/06/2025,03/07/2025,Successful completion,Self,Y,1
C1,E2,ASAM 2.1,42,03/07/2025,04/18/2025,Successful completion,Self,Y,2
C2,E3,ASAM 2.1,49,02/03/2025,02/10/2025,AMA,Court,N,0
C3,E4,Residential 3.5,90,05/01/2025,,,Healthcare,,
"""
)
# ATTENDANCE_OK with labels and a day-first date format of its own (per-column format)
SESSIONS = """\
Episode,Session Date,Attendance,Kind,Hours
E1,06.01.2025,Present,Group,3
E1,07.01.2025,Present,Individual,1
E2,07.03.2025,Present,Group,3.5
E2,10.03.2025,No-show,Group,3.5
E2,12.03.2025,Excused – agreed,Group,3.5
E3,03.02.2025,Present,Group,3
E3,05.02.2025,No-show,Group,3
E4,01.05.2025,Present,Group,3
"""
MAPPING = """\
[files]
enrollments = "Episodes.csv"
attendance = "Sessions.csv"

[options]
date_format = "%m/%d/%Y"

[enrollments.columns]
client_id = "Client Number"
episode_id = "Episode"
program_type = "Level of Care"
planned_length_days = "Planned Days"
admit_date = "Admission Date"
discharge_date = "Discharge Date"
discharge_reason = "Discharge Type"
referral_source = "Referral"
co_occurring_mh = "Dual Dx"
prior_episodes = "Prior Admissions"

[enrollments.values.program_type]
"Residential 3.5" = "residential"
"ASAM 2.1" = "iop"

[enrollments.values.discharge_reason]
"Successful completion" = "completed"
"AMA" = "left_early"

[enrollments.values.co_occurring_mh]
"Y" = true
"N" = false

[attendance.columns]
episode_id = "Episode"
session_date = "Session Date"
status = "Attendance"
session_type = "Kind"

[attendance.values.status]
"Present" = "attended"
"No-show" = "no_show"
"Excused – agreed" = "excused"

[attendance.date_formats]
session_date = "%d.%m.%Y"
"""


def _write(folder, files: dict[str, str | bytes]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def contract(write_dataset):
    return outcomes.load(write_dataset())


@pytest.fixture
def foreign(tmp_path):
    return _write(
        tmp_path / "foreign",
        {"Episodes.csv": EPISODES, "Sessions.csv": SESSIONS, "mapping.toml": MAPPING},
    )


def _same(a, b) -> None:
    for name in ("enrollments", "attendance", "followups"):
        fa, fb = getattr(a, name), getattr(b, name)
        assert (fa is None) == (fb is None), name
        if fa is not None:
            assert fa.equals(fb), name


def test_a_foreign_export_loads_to_the_contract_dataset(foreign, contract):
    ds = outcomes.load(foreign, mapping=foreign / "mapping.toml")
    _same(ds, contract)
    assert ds.issues.height == 0
    assert {r[0]: r[1:] for r in ds.accounting.iter_rows()} == {
        "Episodes.csv": (4, 4, 0, 0),
        "Sessions.csv": (8, 8, 0, 0),
    }


def test_mapping_from_the_environment_and_as_an_object(foreign, contract, monkeypatch):
    monkeypatch.setenv("OUTCOMES_MAPPING", str(foreign / "mapping.toml"))
    _same(outcomes.load(foreign), contract)
    monkeypatch.delenv("OUTCOMES_MAPPING")
    _same(outcomes.load(foreign, mapping=read_mapping(foreign / "mapping.toml")), contract)
    with pytest.raises(InputError, match="no enrollments or attendance file"):
        outcomes.load(foreign)


def test_unmapped_values_are_issues_naming_the_section(foreign):
    """Row 4 (E3) says 'ASAM 2.5', row 5 (E4) 'Deceased': neither is in the mapping. They are
    never guessed: each is an error naming the value and the section to add it to."""
    text = EPISODES.replace("ASAM 2.1,49", "ASAM 2.5,49").replace(
        "Residential 3.5,90,05/01/2025,,", "Residential 3.5,90,05/01/2025,06/01/2025,Deceased"
    )
    _write(foreign, {"Episodes.csv": text})
    ds = outcomes.load(foreign, mapping=foreign / "mapping.toml", on_error="exclude")
    got = ds.issues.filter(pl.col("file") == "Episodes.csv").select(
        "row", "column", "value", "rule", "message"
    )
    assert got.rows() == [
        (
            4,
            "program_type",
            "ASAM 2.5",
            "unmapped_value",
            "program_type: this value is not in the mapping; add it under "
            "[enrollments.values.program_type] as one of residential, php, iop, outpatient, "
            "detox",
        ),
        (
            5,
            "discharge_reason",
            "Deceased",
            "unmapped_value",
            "discharge_reason: this value is not in the mapping; add it under "
            "[enrollments.values.discharge_reason] as one of completed, left_early, "
            "discharged_by_program, transferred, incarcerated, died, other",
        ),
    ]
    assert sorted(ds.enrollments["episode_id"]) == ["E1", "E2"]


def test_a_code_in_an_unmapped_column_points_at_the_mapping(foreign):
    text = EPISODES.replace(",Court,", ",Judge,")
    _write(foreign, {"Episodes.csv": text})
    ds = outcomes.load(foreign, mapping=foreign / "mapping.toml", on_error="exclude")
    row = ds.issues.row(0, named=True)
    assert (row["row"], row["value"], row["rule"]) == (4, "Judge", "allowed_values")
    assert row["message"].endswith(
        "or map it under [enrollments.values.referral_source] in the mapping"
    )


def test_dates_not_in_the_declared_format_are_errors(foreign):
    """With %m/%d/%Y declared, '2025-02-03' (ISO) and '13/01/2025' (no month 13) are errors."""
    text = EPISODES.replace("02/03/2025,02/10", "2025-02-03,02/10").replace(
        "05/01/2025,,", "13/01/2025,,"
    )
    _write(foreign, {"Episodes.csv": text})
    ds = outcomes.load(foreign, mapping=foreign / "mapping.toml", on_error="exclude")
    got = ds.issues.filter(pl.col("rule") == "type").select("row", "value", "message").rows()
    message = "admit_date must be a date as %m/%d/%Y (the mapping's date format)"
    assert got == [(4, "2025-02-03", message), (5, "13/01/2025", message)]


def test_declared_encoding_and_refusal_with_offset_and_line(foreign, contract):
    """Sessions.csv saved as cp1252: the en dash of 'Excused – agreed' is byte 0x96 (invalid
    UTF-8). Declared, it loads; undeclared, it is refused at that byte. Byte 0x81 is not
    cp1252 at all: refused at its offset and line."""
    data = SESSIONS.encode("cp1252")
    _write(foreign, {"Sessions.csv": data})
    offset = data.index(b"\x96")
    with pytest.raises(InputError) as err:
        outcomes.load(foreign, mapping=foreign / "mapping.toml")
    assert str(err.value) == (
        f"Sessions.csv: not valid utf-8 text (byte 0x96 at offset {offset}, line 6); save it "
        "as 'CSV UTF-8', or declare its encoding in the mapping ([files] attendance_encoding "
        "or [options] encoding)"
    )
    declared = MAPPING.replace("[files]\n", "[files]\nattendance_encoding = 'cp1252'\n")
    _write(foreign, {"mapping.toml": declared})
    _same(outcomes.load(foreign, mapping=foreign / "mapping.toml"), contract)
    bad = data.replace(b"E3,05.02", b"E3,05.0\x81")
    at = bad.index(b"\x81")
    _write(foreign, {"Sessions.csv": bad})
    with pytest.raises(InputError) as err:
        outcomes.load(foreign, mapping=foreign / "mapping.toml")
    assert str(err.value).startswith(
        f"Sessions.csv: not valid cp1252 text (byte 0x81 at offset {at}, line 8)"
    )
    # a UTF-8 file with a byte-order mark is UTF-8, whatever the mapping declares
    _write(foreign, {"Sessions.csv": b"\xef\xbb\xbf" + SESSIONS.encode("utf-8")})
    _same(outcomes.load(foreign, mapping=foreign / "mapping.toml"), contract)


def test_identifier_columns_are_refused_even_when_the_mapping_omits_them(foreign):
    text = EPISODES.replace("Prior Admissions\n", "Prior Admissions,Client Name\n", 1)
    lines = text.splitlines()
    text = "\n".join([lines[0]] + [f"{line},Someone" for line in lines[1:]]) + "\n"
    _write(foreign, {"Episodes.csv": text})
    with pytest.raises(IdentifierError) as err:
        outcomes.load(foreign, mapping=foreign / "mapping.toml")
    assert err.value.columns == {"Episodes.csv": ["Client Name"]}


def test_a_mapping_cannot_make_a_record_number_the_client_key(foreign):
    _write(
        foreign,
        {
            "Episodes.csv": EPISODES.replace("Client Number", "Patient ID", 1),
            "mapping.toml": MAPPING.replace('"Client Number"', '"Patient ID"'),
        },
    )
    with pytest.raises(IdentifierError) as err:
        outcomes.load(foreign, mapping=foreign / "mapping.toml")
    assert err.value.found == [("Episodes.csv", "Patient ID", "a medical record number", None)]
    assert "the mapping makes it client_id" in str(err.value)


def test_a_mapped_column_absent_from_the_file_is_named(foreign):
    _write(foreign, {"mapping.toml": MAPPING.replace('"Planned Days"', '"Planned Length"')})
    with pytest.raises(InputError) as err:
        outcomes.load(foreign, mapping=foreign / "mapping.toml")
    assert str(err.value).startswith(
        "Episodes.csv: no column 'Planned Length' (for planned_length_days), which "
        "[enrollments.columns] of the mapping names; its columns are Client Number, Episode,"
    )


def test_every_mistake_in_a_mapping_file_is_reported_at_once(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(
        """
[file]
[options]
date_format = "%m/%Y"
encoding = "klingon"
[enrollments.columns]
client = "Client Number"
[enrollments.values.program_type]
"ASAM 2.1" = "intensive"
[enrollments.values.client_id]
"x" = "y"
[attendance.date_formats]
status = "%d.%m.%Y"
"""
    )
    with pytest.raises(InputError) as err:
        read_mapping(path)
    assert err.value.problems == [
        "m.toml: unknown section [file]; the sections are attendance, enrollments, files, "
        "followups, options",
        'm.toml: [options] date_format = "%m/%Y" does not give a whole date (use %d, %m or '
        '%b, and %Y or %y; e.g. "%m/%d/%Y" for 09/20/2025)',
        'm.toml: [options] encoding = "klingon": not an encoding Python knows (e.g. "utf-8", '
        '"cp1252")',
        "m.toml: [enrollments.columns] client: not a column of the contract's enrollments (its "
        f"columns: {', '.join(SPECS['enrollments'].names)}); write contract column = export "
        "column",
        'm.toml: [enrollments.values.program_type] "ASAM 2.1" = "intensive": not a value of '
        "program_type (the contract's values: residential, php, iop, outpatient, detox)",
        "m.toml: [enrollments.values.client_id]: the values of client_id cannot be mapped "
        "(only codes, true/false and text)",
        "m.toml: [attendance.date_formats] status: not a date column of attendance (its date "
        "columns: session_date)",
    ]
    path.write_text("[files\n")
    with pytest.raises(InputError, match=r"m\.toml: not valid TOML \(.*line 1"):
        read_mapping(path)
    with pytest.raises(InputError, match="no such mapping file"):
        read_mapping(tmp_path / "none.toml")


def test_a_workbook_with_a_named_sheet(foreign, contract, tmp_path):
    """Episodes as a workbook with two sheets: without a sheet named it is refused listing
    both; with enrollments_sheet it loads as the CSV did (dates typed by the workbook)."""
    frame = pl.read_csv(EPISODES.encode(), infer_schema=False)
    frame = frame.with_columns(
        pl.col("Admission Date", "Discharge Date").str.to_date("%m/%d/%Y"),
        pl.col("Planned Days", "Prior Admissions").cast(pl.Int64),
    )
    import xlsxwriter

    with xlsxwriter.Workbook(foreign / "Episodes.xlsx") as wb:
        pl.DataFrame({"Note": ["exported 2025-06-01"]}).write_excel(wb, worksheet="About")
        frame.write_excel(wb, worksheet="Episodes")
    (foreign / "Episodes.csv").unlink()
    mapping = MAPPING.replace('"Episodes.csv"', '"Episodes.xlsx"')
    _write(foreign, {"mapping.toml": mapping})
    with pytest.raises(InputError) as err:
        outcomes.load(foreign, mapping=foreign / "mapping.toml")
    assert str(err.value) == (
        "Episodes.xlsx: the workbook has 2 sheets ('About', 'Episodes'); name the one to read "
        "in the mapping ([files] enrollments_sheet)"
    )

    def sheet(name: str) -> None:
        text = mapping.replace("[files]\n", f"[files]\nenrollments_sheet = '{name}'\n")
        _write(foreign, {"mapping.toml": text})

    sheet("Nope")
    with pytest.raises(InputError, match="no sheet 'Nope' in the workbook; it has 'About', 'Ep"):
        outcomes.load(foreign, mapping=foreign / "mapping.toml")
    sheet("Episodes")
    _same(outcomes.load(foreign, mapping=foreign / "mapping.toml"), contract)


def test_a_workbook_found_by_its_contract_name(write_dataset, contract):
    folder = write_dataset(folder="xl")
    enrollments = pl.read_csv(folder / "enrollments.csv", infer_schema=False)
    (folder / "enrollments.csv").unlink()
    enrollments.write_excel(folder / "enrollments.xlsx")
    _same(outcomes.load(folder), contract)


# --- property: any renaming and relabelling round-trips -----------------------------------


_NAMES = (
    st.text(string.ascii_letters + " ", min_size=3, max_size=12)
    .map(str.strip)
    .filter(lambda s: len(s) >= 3)
)


@given(
    names=st.lists(_NAMES, min_size=3, max_size=3, unique_by=str.lower),
    labels=st.lists(
        st.text(string.ascii_letters + string.digits + " .-", min_size=1, max_size=10)
        .map(str.strip)
        .filter(bool),
        min_size=4,
        max_size=4,
        unique_by=str.lower,
    ),
    twice=st.sets(st.integers(0, 7), max_size=4),
    letters=st.text(string.ascii_lowercase, min_size=4, max_size=4),
)
def test_any_renaming_and_relabelling_round_trips(tmp_path_factory, names, labels, twice, letters):
    """Rename the status file's three columns to arbitrary names, relabel its four codes with
    arbitrary labels and write some rows twice; with the mapping that says so, the sessions
    load as the contract-shaped file does, and read = kept + excluded counts the copies."""
    from outcomes.schema import identifier_kind

    contract_names = SPECS["attendance"].names
    if any(identifier_kind(n) or n.lower() in contract_names for n in names):
        return
    folder = tmp_path_factory.mktemp(f"rt{letters}")
    codes = ["attended", "no_show", "excused", "cancelled"]
    relabel = dict(zip(codes, labels, strict=True))
    att = pl.read_csv(ATTENDANCE_OK.encode(), infer_schema=False).select(
        pl.col("episode_id").alias(names[0]),
        pl.col("session_date").alias(names[1]),
        pl.col("status").replace(relabel).alias(names[2]),
    )
    rows = [i for r in range(att.height) for i in ([r, r] if r in twice else [r])]
    att[rows].write_csv(folder / "s.csv")
    (folder / "enrollments.csv").write_text(ENROLLMENTS_OK)
    values = "\n".join(f'"{label}" = "{code}"' for code, label in relabel.items())
    (folder / "m.toml").write_text(
        f'[files]\nattendance = "s.csv"\n[attendance.columns]\nepisode_id = "{names[0]}"\n'
        f'session_date = "{names[1]}"\nstatus = "{names[2]}"\n'
        f"[attendance.values.status]\n{values}\n"
    )
    ds = outcomes.load(folder, mapping=folder / "m.toml")
    expected = pl.read_csv(ATTENDANCE_OK.encode(), infer_schema=False).select(
        "episode_id", pl.col("session_date").str.to_date(), "status"
    )
    assert ds.attendance.select("episode_id", "session_date", "status").equals(expected)
    for r in ds.accounting.iter_rows(named=True):
        assert r["rows_read"] == r["rows_kept"] + r["rows_excluded"]
    acct = {r[0]: r[1:4] for r in ds.accounting.iter_rows()}
    assert acct["s.csv"] == (8 + len(twice), 8, len(twice))
    assert ds.issues["rule"].to_list() == ["exact_duplicate"] * len(twice)


def test_validate_and_metrics_take_the_mapping(foreign, write_dataset, capsys):
    from outcomes.cli import main

    mapping = str(foreign / "mapping.toml")
    assert main(["validate", str(foreign), "--mapping", mapping]) == 0
    assert "No issues" in capsys.readouterr().out
    assert main(["validate", str(foreign)]) == 2  # without it, nothing is recognised
    assert "no enrollments or attendance file" in capsys.readouterr().err
    args = ["--by", "program_type", "--as-of", "2025-06-30"]
    assert main(["metrics", str(foreign), "--mapping", mapping, *args]) == 0
    mapped = capsys.readouterr().out
    assert main(["metrics", str(write_dataset()), *args]) == 0
    assert mapped == capsys.readouterr().out


# --- the generated foreign export -----------------------------------------------------------


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    from outcomes import synth

    ds = synth.generate(400, seed=3)
    root = tmp_path_factory.mktemp("exports")
    contract = synth.write(ds, root / "contract")
    foreign = synth.write(ds, root / "foreign", style="foreign", seed=3)
    return ds, contract, foreign


def test_the_foreign_export_loads_to_the_same_dataset_frame_for_frame(exports):
    """synth --style foreign: a workbook, a cp1252 CSV, a UTF-8 CSV with a byte-order mark,
    the system's names, labels and US dates, rows written twice. With its mapping it loads to
    exactly the dataset of the contract-shaped export of the same data, and every metric is
    identical."""
    from outcomes import synth

    ds, contract, foreign = exports
    a = outcomes.load(contract)
    b = outcomes.load(foreign, mapping=foreign / "mapping.toml")
    _same(a, b)
    for by in (("program_type", "length_band"), ("site_id",), ()):
        assert outcomes.metrics(a, by=by).equals(outcomes.metrics(b, by=by)), by
    twice = b.issues.filter(pl.col("rule") == "exact_duplicate").group_by("file").len()
    assert dict(twice.iter_rows()) == {
        "Episodes.xlsx": synth.FOREIGN_TWICE["enrollments"],
        "Sessions.csv": synth.FOREIGN_TWICE["attendance"],
        "FollowUps.csv": synth.FOREIGN_TWICE["followups"],
    }
    assert b.issues.height == sum(synth.FOREIGN_TWICE.values())
    acct = {r[0]: r[1:] for r in b.accounting.iter_rows()}
    n = {"enrollments": ds.enrollments.height, "attendance": ds.attendance.height}
    n["followups"] = ds.followups.height
    assert acct == {
        "Episodes.xlsx": (n["enrollments"] + 1, n["enrollments"], 1, 0),
        "Sessions.csv": (n["attendance"] + 3, n["attendance"], 3, 0),
        "FollowUps.csv": (n["followups"] + 1, n["followups"], 1, 0),
    }


def test_the_foreign_export_is_foreign(exports):
    """What makes it foreign is really there: no file the contract names, two sheets, bytes
    that are cp1252 and not UTF-8, a byte-order mark, US dates."""
    import fastexcel

    _, _, foreign = exports
    assert sorted(p.name for p in foreign.iterdir()) == [
        "Episodes.xlsx",
        "FollowUps.csv",
        "Sessions.csv",
        "mapping.toml",
    ]
    assert fastexcel.read_excel(foreign / "Episodes.xlsx").sheet_names == ["Read me", "Episodes"]
    sessions = (foreign / "Sessions.csv").read_bytes()
    assert b"Excused \x96 notified" in sessions
    with pytest.raises(UnicodeDecodeError):
        sessions.decode("utf-8")
    assert (foreign / "FollowUps.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    first = sessions.splitlines()[1].decode("cp1252").split(",")
    assert first[1][2] == "/" and first[1][5] == "/"  # 01/04/2024
    with pytest.raises(InputError, match="no enrollments or attendance file"):
        outcomes.load(foreign)


# --- outcomes map: a draft from an export never seen ---------------------------------------


def test_map_drafts_the_foreign_mapping_right(exports):
    """On the generated foreign export: every column match is right (the generator's own
    table of names), every label's suggestion is right (ASAM levels included), the dates are
    month-first, cp1252 and the sheet are found; and the draft, as written, loads the export
    to the contract-shaped dataset."""
    from outcomes.mapping import draft_mapping
    from outcomes.synth._foreign import FOREIGN_COLUMNS, FOREIGN_FILES, FOREIGN_LABELS

    _, contract, foreign = exports
    draft = draft_mapping(foreign)
    assert draft.columns == FOREIGN_COLUMNS
    assert draft.files == {
        "enrollments": ("Episodes.xlsx", "Episodes", None),
        "attendance": ("Sessions.csv", None, "cp1252"),
        "followups": ("FollowUps.csv", None, None),
    }
    assert {t: f for t, (f, _, _) in draft.files.items()} == FOREIGN_FILES
    for table, labels in FOREIGN_LABELS.items():
        for column, by_code in labels.items():
            written = set(by_code.values())
            suggested = {k: v for k, v in draft.values[table][column].items() if k in written}
            assert suggested == {label: code for code, label in by_code.items() if label in
                                 suggested}, (table, column)  # fmt: skip
    assert draft.values["enrollments"]["program_type"] == {
        "ASAM 1.0": "outpatient",
        "ASAM 2.1": "iop",
        "ASAM 2.5": "php",
        "ASAM 3.7-WM": "detox",
        "Residential 3.5": "residential",
    }
    assert draft.date_formats == {
        "enrollments": {
            "admit_date": ("%m/%d/%Y", False),
            "discharge_date": ("%m/%d/%Y", False),
        },
        "attendance": {"session_date": ("%m/%d/%Y", False)},
        "followups": {"contact_date": ("%m/%d/%Y", False)},
    }
    assert draft.text.count("# REVIEW") >= sum(len(c) for c in FOREIGN_COLUMNS.values())
    path = foreign.parent / "drafted.toml"
    path.write_text(draft.text, encoding="utf-8")
    _same(outcomes.load(foreign, mapping=path), outcomes.load(contract))


def test_map_says_what_it_could_not_read(exports, tmp_path):
    import shutil

    _, _, foreign = exports
    folder = tmp_path / "more"
    shutil.copytree(foreign, folder)
    (folder / "empty.csv").write_text("")
    (folder / "broken.xlsx").write_bytes(b"not a zip")
    draft = draft_mapping(folder)
    assert "# not read: broken.xlsx: cannot be read as a workbook" in draft.text
    assert "# not read: empty.csv: empty file" in draft.text
    assert draft.files["enrollments"] == ("Episodes.xlsx", "Episodes", None)


def test_map_never_reads_identifier_or_key_values(tmp_path):
    """A 'Client Name' column is named in the draft as not read, none of its values (nor any
    client or episode key) appears in it; day-first-or-month-first dates are flagged."""
    from outcomes.mapping import draft_mapping

    names = ["Ann Lee", "Bo Dahl", "Cy Moss", "Di Park"]
    rows = [
        f"K{i}X,V{i}Y,{name},ASAM 2.1,0{i + 1}/0{i + 2}/2025,,,{s}"
        for i, (name, s) in enumerate(zip(names, ["M", "F", "F", "M"], strict=True))
    ]
    _write(
        tmp_path / "x",
        {
            "export.csv": "Client Number,Episode ID,Client Name,Level of Care,Admission Date,"
            "Discharge Date,Discharge Type,Sex\n" + "\n".join(rows) + "\n",
        },
    )
    draft = draft_mapping(tmp_path / "x")
    assert draft.refused == [("export.csv", "Client Name", "a name")]
    assert '# NOT READ: "Client Name" looks like a name' in draft.text
    for secret in [*names, "K0X", "V0Y", "K3X", "V3Y"]:
        assert secret not in draft.text
    assert draft.columns["enrollments"]["client_id"] == "Client Number"
    assert draft.columns["enrollments"]["episode_id"] == "Episode ID"
    assert draft.date_formats["enrollments"]["admit_date"] == ("%m/%d/%Y", True)
    assert "ambiguous: every day is 12 or less" in draft.text
    assert draft.values["enrollments"]["sex"] == {"F": "female", "M": "male"}


def test_map_never_writes_identifying_labels(tmp_path):
    """A code column holding an e-mail address and a phone number among its labels: the
    draft lists the other labels and says two are not shown."""
    labels = ["Self", "Court", "ann@example.org", "555-101-1001"]
    rows = [f"K{i},V{i},ASAM 2.1,01/2{i}/2025,{label}" for i, label in enumerate(labels)]
    _write(
        tmp_path / "x",
        {
            "export.csv": "Client Number,Episode ID,Level of Care,Admission Date,"
            "Referral Source\n" + "\n".join(rows) + "\n",
        },
    )
    draft = draft_mapping(tmp_path / "x")
    assert draft.values["enrollments"]["referral_source"] == {"Court": "court", "Self": "self"}
    assert "# 2 value(s) not shown: they look like direct identifiers" in draft.text
    assert "ann@example.org" not in draft.text and "555-101-1001" not in draft.text


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("ASAM 1", "outpatient"),
        ("Level 1.0 Outpatient", "outpatient"),
        ("ASAM 2.1", "iop"),
        ("Intensive Outpatient", "iop"),
        ("2.5", "php"),
        ("Partial Hospitalization", "php"),
        ("3.1", "residential"),
        ("ASAM 3.3", "residential"),
        ("Residential 3.5", "residential"),
        ("3.7", "residential"),
        ("3.7-WM", "detox"),
        ("ASAM 3.2 WM", "detox"),
        ("Withdrawal Management", "detox"),
        # ASAM 4 (medically managed intensive inpatient) is no program of the contract: the
        # nearest is suggested, and like every suggestion it is marked for review
        ("ASAM 4", "residential"),
        ("Level 0.5 early intervention", None),
    ],
)
def test_asam_levels_are_suggested(label, code):
    from outcomes.mapping._suggest import suggest_value
    from outcomes.schema import PROGRAM_TYPES

    assert suggest_value("program_type", "code", PROGRAM_TYPES, label) == code


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("AMA", "left_early"),
        ("Against Medical Advice", "left_early"),
        ("Left before completing", "left_early"),
        ("Successful completion", "completed"),
        ("Completed treatment", "completed"),
        ("Transferred", "transferred"),
        ("Transferred to another program", "transferred"),
        ("Incarcerated", "incarcerated"),
        ("Deceased", "died"),
        ("Administrative discharge", "discharged_by_program"),
        ("Discharged by program", "discharged_by_program"),
        ("Moved away", None),
    ],
)
def test_discharge_labels_are_suggested(label, code):
    from outcomes.mapping._suggest import suggest_value
    from outcomes.schema import DISCHARGE_REASONS

    assert suggest_value("discharge_reason", "code", DISCHARGE_REASONS, label) == code


def test_map_command_writes_once_and_says_where(exports, tmp_path, capsys):
    from outcomes.cli import main

    _, _, foreign = exports
    out = tmp_path / "mapping.toml"
    assert main(["map", str(foreign), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: ") and "guesses marked REVIEW" in said
    assert read_mapping(out).table("attendance").encoding == "cp1252"
    assert main(["map", str(foreign), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_metrics_out_is_a_real_workbook_or_refused(write_dataset, tmp_path, capsys):
    """--out x.xlsx writes an Excel workbook (read back equal to the CSV), never a CSV under
    an Excel name; an extension it cannot write is refused; every write says where."""
    from outcomes.cli import main

    data = str(write_dataset())
    args = ["metrics", data, "--by", "program_type", "--as-of", "2025-06-30"]
    assert main([*args, "--out", str(tmp_path / "m.csv")]) == 0
    assert main([*args, "--out", str(tmp_path / "m.xlsx")]) == 0
    err = capsys.readouterr().err
    from_csv = pl.read_csv(tmp_path / "m.csv")
    assert f"wrote {from_csv.height} rows to {tmp_path / 'm.csv'}" in err
    assert f"wrote {from_csv.height} rows to {tmp_path / 'm.xlsx'}" in err
    assert (tmp_path / "m.xlsx").read_bytes()[:2] == b"PK"  # a zip container, as xlsx is
    from_xlsx = pl.read_excel(tmp_path / "m.xlsx", sheet_name="metrics")
    assert from_xlsx.columns == from_csv.columns
    assert from_xlsx["metric"].to_list() == from_csv["metric"].to_list()
    assert from_xlsx["numerator"].cast(pl.Int64).equals(from_csv["numerator"].cast(pl.Int64))
    assert main([*args, "--out", str(tmp_path / "m.xls")]) == 2
    assert "cannot write '.xls'; name a .csv, .parquet or .xlsx file" in capsys.readouterr().err
    assert not (tmp_path / "m.xls").exists()


def test_report_hands_the_mapping_to_its_notebook_and_puts_the_environment_back(
    tmp_path, monkeypatch
):
    """The report's notebook loads the data itself: while it runs, OUTCOMES_MAPPING names the
    mapping (absolute, as the kernel runs elsewhere); afterwards the environment is as before."""
    import os

    from outcomes.cli import _mapping_for_notebooks

    monkeypatch.delenv("OUTCOMES_MAPPING", raising=False)
    with _mapping_for_notebooks(tmp_path / "m.toml"):
        assert os.environ["OUTCOMES_MAPPING"] == str((tmp_path / "m.toml").resolve())
    assert "OUTCOMES_MAPPING" not in os.environ
    monkeypatch.setenv("OUTCOMES_MAPPING", "before.toml")
    with _mapping_for_notebooks(tmp_path / "m.toml"):
        pass
    assert os.environ["OUTCOMES_MAPPING"] == "before.toml"
    with _mapping_for_notebooks(None):
        assert os.environ["OUTCOMES_MAPPING"] == "before.toml"


@pytest.mark.slow
def test_the_quarterly_job_reads_a_foreign_export_through_its_mapping(tmp_path):
    """OUTCOMES_MAPPING reaches the report's notebook (which loads the data itself): the job
    renders a foreign export, and neither the export's nor the mapping's path is published."""
    import os
    import subprocess
    import sys

    from outcomes import synth

    root = Path(__file__).resolve().parents[1]
    export = synth.write(synth.generate(400, seed=11), tmp_path / "export", style="foreign")
    mapping = tmp_path / "elsewhere" / "provider.toml"
    mapping.parent.mkdir()
    (export / "mapping.toml").rename(mapping)
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "OUTCOMES_DATA": str(export),
        "OUTCOMES_MAPPING": str(mapping),
        "OUTCOMES_REPORTS": str(tmp_path / "reports"),
        "OUTCOMES_PERIOD": "2026Q3",
    }
    proc = subprocess.run(
        ["bash", str(root / "scripts" / "quarterly.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    published = tmp_path / "reports" / "2026Q3"
    assert (published / "report.html").exists()
    for path in published.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert str(mapping) not in text and str(export) not in text, path.name


def test_without_a_mapping_a_foreign_date_points_at_one(write_dataset):
    """E3's admission written 02/03/2025: a type error that says how to declare the format;
    E3's two sessions (attendance rows 7 and 8) are excluded with it, naming its row 4."""
    text = ENROLLMENTS_OK.replace("2025-02-03", "02/03/2025")
    ds = outcomes.load(write_dataset(enrollments=text), on_error="exclude")
    follow_on = "the episode's enrollment row 4 has errors, so this row is excluded too"
    assert ds.issues.select("row", "value", "rule", "message").rows() == [
        (
            4,
            "02/03/2025",
            "type",
            "admit_date must be a date as YYYY-MM-DD (or declare the export's format: "
            "[enrollments.date_formats] in a mapping)",
        ),
        (7, "E3", "episode_excluded", follow_on),
        (8, "E3", "episode_excluded", follow_on),
    ]


def test_a_draft_of_a_contract_shaped_export_changes_nothing(write_dataset, contract, tmp_path):
    """On files already in the contract's shape the draft maps every column to itself, writes
    no value map (the values are the contract's) and loads the same dataset."""
    folder = write_dataset(followups=FOLLOWUPS_OK, folder="same")
    draft = draft_mapping(folder)
    for table, columns in draft.columns.items():
        assert columns == {c: c for c in SPECS[table].names if c in columns}, table
    assert "[enrollments.values." not in draft.text and "[attendance.values." not in draft.text
    assert "# enrollments.program_type: every value is already the contract's" in draft.text
    path = tmp_path / "same.toml"
    path.write_text(draft.text, encoding="utf-8")
    _same(outcomes.load(folder, mapping=path), outcomes.load(folder))


def test_tables_on_sheets_of_one_workbook(tmp_path):
    """Episodes and sessions on two sheets of one workbook: each table is labelled with its
    sheet, issues come table by table (enrollments first, though its bad row 4 comes after the
    sessions' row 3), and E3's sessions (rows 7, 8) count under enrollment row 4, not under
    the sessions' own row 4."""
    from outcomes.quality import root_causes

    episodes = pl.read_csv(EPISODES.encode(), infer_schema=False).with_columns(
        pl.when(pl.col("Episode") == "E3")
        .then(pl.lit("32/13/2025"))
        .otherwise(pl.col("Admission Date"))
        .alias("Admission Date")
    )
    sessions = pl.read_csv(SESSIONS.encode(), infer_schema=False).with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("Late"))
        .otherwise(pl.col("Attendance"))
        .alias("Attendance")
    )
    folder = tmp_path / "wb"
    folder.mkdir()
    import xlsxwriter

    with xlsxwriter.Workbook(folder / "Export.xlsx") as wb:
        episodes.write_excel(wb, worksheet="Episodes")
        sessions.write_excel(wb, worksheet="Sessions")
    mapping = MAPPING.replace(
        '[files]\nenrollments = "Episodes.csv"\nattendance = "Sessions.csv"\n',
        '[files]\nenrollments = "Export.xlsx"\nenrollments_sheet = "Episodes"\n'
        'attendance = "Export.xlsx"\nattendance_sheet = "Sessions"\n',
    )
    (folder / "m.toml").write_text(mapping, encoding="utf-8")
    ds = outcomes.load(folder, mapping=folder / "m.toml", on_error="exclude")
    e, a = "Export.xlsx (sheet Episodes)", "Export.xlsx (sheet Sessions)"
    assert ds.issues.select("file", "row", "rule").rows() == [
        (e, 4, "type"),
        (a, 3, "unmapped_value"),
        (a, 7, "episode_excluded"),
        (a, 8, "episode_excluded"),
    ]
    assert root_causes(ds).select("file", "row", "dependent_rows").rows() == [
        (e, 4, 2),
        (a, 3, 0),
    ]
    assert [r[0] for r in ds.accounting.iter_rows()] == [e, a]


def test_a_messy_foreign_export_plants_what_it_says(tmp_path, capsys):
    """synth --messy --style foreign: with its mapping, the loader finds exactly the planted
    mistakes (an unknown level of care and status, an ISO date among US ones, a key clash,
    sessions of no episode), the rows exported twice, and the follow-on exclusions, which
    validate counts under their root causes."""
    from outcomes import synth
    from outcomes.cli import main
    from outcomes.quality import root_causes

    out = tmp_path / "fm"
    args = ["synth", "--clients", "600", "--seed", "9", "--out", str(out)]
    assert main([*args, "--messy", "--style", "foreign"]) == 0
    assert capsys.readouterr().out.endswith(f"to {out / 'mapping.toml'}\n")
    ds = outcomes.load(out, mapping=out / "mapping.toml", on_error="exclude")
    got = {(r[0], r[1]): r[2] for r in ds.issues.group_by("file", "rule").len().iter_rows()}
    files = {"enrollments": "Episodes.xlsx", "attendance": "Sessions.csv"}
    for table, planted in synth.FOREIGN_MESSY_PLANTED.items():
        for rule, rows in planted:
            assert got.pop((files[table], rule)) == rows, (table, rule)
    for table, file in {**files, "followups": "FollowUps.csv"}.items():
        assert got.pop((file, "exact_duplicate")) == synth.FOREIGN_TWICE[table]
    assert set(got) <= {("Sessions.csv", "episode_excluded"), ("FollowUps.csv", "episode_excluded")}
    assert root_causes(ds)["dependent_rows"].sum() == sum(got.values())
    for r in ds.accounting.iter_rows(named=True):
        assert r["rows_read"] == r["rows_kept"] + r["rows_excluded"]
    unmapped = ds.issues.filter(pl.col("rule") == "unmapped_value")["value"].to_list()
    assert sorted(unmapped) == ["ASAM 0.5", "Late"]
    assert main(["validate", str(out), "--mapping", str(out / "mapping.toml")]) == 1
    assert main([*args, "--style", "foreign", "--format", "parquet"]) == 2
