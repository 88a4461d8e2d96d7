"""Reading TEDS-D files: every format and year layout, refusals, codes outside the codebook."""

from __future__ import annotations

import zipfile

import polars as pl
import pytest

from outcomes.errors import InputError
from outcomes.national import generate_puf, read, write_puf
from outcomes.national._codes import CASEMIX, CORE

N = 3000
HARMONISED = {
    "year": "DISYR",
    "state": "STFIPS",
    "service": "SERVICES_D",
    "reason": "REASON",
    "los": "LOS",
    "sex": "GENDER",
    "substance": "SUB1",
    "co_occurring": "PSYPROB",
    "prior_treatment": "NOPRIOR",
    "referral": "PSOURCE",
    "age_group": "AGE",
}


@pytest.fixture(scope="module")
def puf():
    return generate_puf(N, seed=7)


def expected_codes(puf: pl.DataFrame, old_layout: bool = False) -> pl.DataFrame:
    """The codes a reader must return, written out from the generated 2015-coded frame. In a
    2006-2014 file ages 55-64 and 65+ share one code, read as 13 ("55+")."""
    frame = puf.select(**{k: pl.col(v).cast(pl.Int16) for k, v in HARMONISED.items()})
    if old_layout:
        frame = frame.with_columns(
            age_group=pl.when(pl.col("age_group") >= 11)
            .then(13)
            .otherwise(pl.col("age_group"))
            .cast(pl.Int16)
        )
    return frame.select(*CORE, *CASEMIX)


@pytest.mark.parametrize("layout", ["2015-2022", "2006-2014", "2021", "2023"])
@pytest.mark.parametrize("suffix", [".zip", ".csv", ".parquet", ".dta", ".sav", ".xpt"])
def test_every_format_and_layout_reads_back_the_codes(puf, tmp_path, layout, suffix):
    path = write_puf(puf, tmp_path / f"tedsd_puf{suffix}", layout=layout)
    teds = read(path)
    assert teds.issues.height == 0
    assert teds.data.equals(expected_codes(puf, old_layout=layout == "2006-2014"))
    info = teds.files.row(0, named=True)
    assert info["rows_read"] == N and info["rows_with_issues"] == 0 and info["years"] == "2019"
    if suffix in (".csv", ".zip"):
        assert info["encoding"] == ("latin-1" if layout == "2021" else "utf-8")
    else:
        assert info["encoding"] == ""
    assert info["layout"] == {"2021": "2015-2022, labels as text"}.get(layout, layout)


def test_many_years_stack_file_by_file(tmp_path):
    paths = [
        write_puf(generate_puf(400, seed=y, year=y), tmp_path / f"tedsd_{y}.csv")
        for y in (2018, 2019)
    ]
    paths.append(write_puf(generate_puf(300, seed=1, year=2012), tmp_path / "t12.zip", "2006-2014"))
    teds = read(paths)
    assert teds.years == [2012, 2018, 2019]
    assert teds.files["rows_read"].to_list() == [400, 400, 300]
    assert teds.files["layout"].to_list() == ["2015-2022", "2015-2022", "2006-2014"]
    assert teds.data.height == 1100
    assert read(tmp_path).data.height == 1100, "a folder reads every supported file in it"


def test_only_the_asked_columns_are_kept(puf, tmp_path):
    path = write_puf(puf.drop("PSYPROB", "AGE"), tmp_path / "narrow.parquet")
    teds = read(path, columns=["sex"])
    assert teds.data.columns == [*CORE, "sex"]


def refusal(paths, **kw) -> str:
    with pytest.raises(InputError) as info:
        read(paths, **kw)
    return str(info.value)


def test_not_a_teds_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "enrollments.csv"
    path.write_text("client_id,episode_id,program_type\nC1,E1,iop\n")
    message = refusal(path)
    assert message == (
        "enrollments.csv: not a TEDS-D public-use file "
        "(none of CASEID, DISYR, STFIPS, REASON, LOS among its columns)"
    )


def test_missing_needed_columns_are_named(puf, tmp_path):
    path = write_puf(puf.drop("PSYPROB", "SERVICES_D"), tmp_path / "cut.csv")
    kept = write_puf(puf.drop("PSYPROB"), tmp_path / "kept.csv")
    message = refusal(path)
    assert "\n" not in message
    assert message == (
        "cut.csv: TEDS-D file lacks column(s) SERVICES_D or SERVSETD, PSYPROB needed for benchmarks"
    )
    assert read(kept, columns=["sex"]).data.columns[-1] == "sex", "unless they are not needed"


def test_teds_a_and_unreadable_and_missing_files(tmp_path):
    admissions = tmp_path / "tedsa.csv"
    admissions.write_text("CASEID,ADMYR,AGE,SERVICES\n1,2019,3,6\n")
    assert refusal(admissions) == (
        "tedsa.csv: a TEDS-A (admissions) file; benchmarks need TEDS-D (discharges)"
    )
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    assert refusal(broken).startswith("broken.parquet: cannot be read as parquet (")
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("codebook.txt", "no data here")
    assert refusal(empty_zip) == "empty.zip: the zip holds no .csv file"
    assert refusal(tmp_path / "absent.csv").endswith("absent.csv: no such file")
    both = refusal([admissions, empty_zip])
    assert len(both.splitlines()) == 2, "every refused file is named, one line each"


def test_codes_outside_the_codebook_are_issues_and_the_rows_are_kept(puf, tmp_path):
    """Rows 3, 7 and 9 of the data (spreadsheet rows 4, 8 and 10) get a reason 9, an age 'abc'
    and an empty setting: three issues, every row kept, the values counted as missing."""
    frame = puf.head(20).cast(pl.String)
    frame = frame.with_columns(
        REASON=pl.when(pl.int_range(20) == 2).then(pl.lit("9")).otherwise("REASON"),
        AGE=pl.when(pl.int_range(20) == 6).then(pl.lit("abc")).otherwise("AGE"),
        SERVICES_D=pl.when(pl.int_range(20) == 8).then(None).otherwise("SERVICES_D"),
    )
    path = tmp_path / "dirty.csv"
    frame.write_csv(path)
    teds = read(path)
    issues = teds.issues.sort("row")
    assert issues.select("row", "column", "value").rows() == [
        (4, "REASON", "9"),
        (8, "AGE", "abc"),
        (10, "SERVICES_D", None),
    ]
    assert set(issues["rule"]) == {"code_outside_codebook"}
    assert set(issues["severity"]) == {"warning"}
    assert teds.data.height == 20
    assert teds.data["reason"][2] == -9 and teds.data["age_group"][6] == -9
    assert teds.data["service"][8] == -9
    assert teds.files["rows_with_issues"][0] == 3


def test_issue_rows_are_record_numbers_in_chunked_statistical_files(puf, tmp_path, monkeypatch):
    """In a Stata file read 1,000 records at a time, record 2,501 (chunk 3) is reported as 2501."""
    from outcomes.national import _read

    monkeypatch.setattr(_read, "_CHUNK_ROWS", 1000)
    frame = puf.with_columns(LOS=pl.when(pl.int_range(N) == 2500).then(99).otherwise("LOS"))
    path = write_puf(frame, tmp_path / "chunked.dta")
    teds = read(path)
    assert teds.issues.select("row", "column", "value").rows() == [(2501, "LOS", "99")]


def test_old_layout_codes_that_do_not_exist_then_are_issues(puf, tmp_path):
    """2006-2014 files have no AGE 1 (their 12-14 is 2): an AGE 1 there is outside the codebook."""
    frame = write_puf(puf.head(10), tmp_path / "old.csv", layout="2006-2014")
    text = frame.read_text().splitlines()
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("AGE")] = "1"
    frame.write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n")
    teds = read(frame)
    assert teds.issues.select("row", "column", "value").rows() == [(2, "AGE", "1")]


def test_text_labels_are_read_as_latin_1(puf, tmp_path):
    """A 2021-style file whose REASON on row 2 is a label with a latin-1 byte: the issue shows
    the character as written, not mangled, and the other labels map to their codes."""
    path = write_puf(puf.head(30), tmp_path / "tedsd_2021.csv", layout="2021")
    raw = path.read_bytes().decode("latin-1").splitlines()
    header = raw[0].split(",")
    cells = next(__import__("csv").reader([raw[1]]))
    cells[header.index("REASON")] = "Treatmént Completed"
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    raw[1] = buf.getvalue().rstrip("\n")
    path.write_bytes(("\n".join(raw) + "\n").encode("latin-1"))
    teds = read(path)
    assert teds.issues.select("row", "column", "value").rows() == [
        (2, "REASON", "Treatmént Completed")
    ]
    assert teds.data["reason"][1:].equals(puf["REASON"][1:30].cast(pl.Int16))


@pytest.mark.parametrize("suffix", [".csv", ".zip"])
def test_a_utf8_file_with_a_latin_1_byte_is_reread_as_latin_1(puf, tmp_path, suffix):
    frame = (
        puf.head(5)
        .cast(pl.String)
        .with_columns(
            SUB1=pl.when(pl.int_range(5) == 0).then(pl.lit("caf\u00e9")).otherwise("SUB1")
        )
    )
    path = tmp_path / f"mixed{suffix}"
    data = frame.write_csv().encode("latin-1")
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("mixed.csv", data)
    else:
        path.write_bytes(data)
    teds = read(path)
    assert teds.files["encoding"][0] == "latin-1"
    assert teds.issues.select("row", "value").rows() == [(2, "café")]


def test_unknown_column_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="unknown column"):
        read(tmp_path, columns=["race"])
