"""The loader's two ways of holding a text column give the same dataset, issues and metrics.

A text column whose values repeat is read into a dictionary (codes into distinct values) and
checked on its distinct values; one whose values nearly all differ is checked row by row
(``outcomes._table.how_to_hold`` decides, on the first rows). The tiny files of the other
tests mostly take the second way; here every file is loaded both ways, forced, and the results
must be identical: the dataset, every issue row and the accounting (the expected issues of
these files are worked out by hand in tests/test_io.py).
"""

from __future__ import annotations

import string

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import outcomes
from outcomes import _table
from outcomes.errors import DataError

from conftest import ATTENDANCE_OK, ENROLLMENTS_OK, FOLLOWUPS_OK

HEADER = (
    "client_id,episode_id,program_type,planned_length_days,admit_date,discharge_date,"
    "discharge_reason\n"
)

#: One file of each kind of problem (value rules, cross-row rules, copies, links), as CSV text.
MESSY = {
    "enrollments": HEADER
    + (
        "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"
        "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"  # copy of row 2
        ",E2,rehab,42,2025-13-01,2025-02-17,completed\n"  # client empty, code, date
        "C3,E3, IOP ,4.5,2025-01-06,2025-02-17,graduated\n"  # lenient code, not whole, reason
        "C4,E4,iop,0,01/06/2025,,\n"  # minimum, US date
        "C5,,residential,,2025-01-06,,\n"  # no episode_id
        "C6,E6,residential,60,2025-01-06,2025-03-07,completed\n"
        "C6,E7,iop,42,2025-03-08,2025-04-18,completed\n"  # step-down of E6
        "C8,E8,iop,42,2025-02-06,2025-02-05,completed\n"  # discharge before admission
        "C9,E9,iop,42,2025-02-06,,completed\n"  # reason without discharge
        "C9,E9,iop,49,2025-02-06,2025-03-01,left_early\n"  # duplicate id
        "C10,E10,iop,400,2025-02-06,2025-03-01,left_early\n"  # implausible (warning)
    ),
    "attendance": (
        "episode_id,session_date,status,session_type,hours\n"
        "E1,2025-01-06,attended,group,3\n"
        "E1,2025-01-06,attended,group,3\n"  # copy of the row before
        "E1,2025-01-06,no_show,group,3\n"  # same episode and date, not a copy
        "E1,2025-01-06,attended,group,3\n"  # copy of row 2, two rows on
        "E1,2024-12-01,attended,group,3\n"  # outside the episode
        "E1,2025-01-08,late,therapy,-1\n"  # status code, type code, hours < 0
        "E1,,ATTENDED, Group ,three\n"  # date required, lenient codes, hours not a number
        "E2,2025-01-07,attended,group,3\n"  # episode excluded
        "E6,2025-01-07,attended,individual,1\n"
        "E6,2025-01-09,excused,individual,\n"
        "E7,2025-03-10,cancelled,,2\n"
        " E7 ,2025-03-11,attended,group,2\n"  # the key is stripped
        "E99,2025-03-11,attended,group,2\n"  # unknown episode
        "E10,2025-03-02,attended,group,2\n"
    ),
    "followups": (
        "episode_id,contact_date,used_since_discharge,method\n"
        "E6,2025-03-01,false,phone\n"  # before discharge (warning)
        "E6,2025-05-01,maybe,phone\n"  # not a boolean
        "E7,2025-05-01,true,visit\n"
        "E7,2025-05-01,true,visit\n"  # copy
        "E77,2025-06-01,true,phone\n"  # unknown episode
    ),
}


def _write(folder, texts, fmt="csv"):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        if fmt == "csv":
            (folder / f"{name}.csv").write_text(text, encoding="utf-8")
        else:
            (folder / "tmp.csv").write_text(text, encoding="utf-8")
            pl.read_csv(folder / "tmp.csv", infer_schema=False).write_parquet(
                folder / f"{name}.parquet"
            )
            (folder / "tmp.csv").unlink()
    return folder


def _load(folder, how):
    """Load with every text column dictionary-encoded (``how="codes"``) or none
    (``"rows"``)."""
    with pytest.MonkeyPatch.context() as m:
        original = _table.how_to_hold

        def choose(sample):
            return "text" if how == "rows" else ("runs" if original(sample) == "runs" else "codes")

        m.setattr(_table, "how_to_hold", choose)
        try:
            return outcomes.load(folder, on_error="exclude")
        except DataError as err:
            return err


def _assert_same(a, b):
    if isinstance(a, DataError) or isinstance(b, DataError):
        assert isinstance(a, DataError) and isinstance(b, DataError)
        assert_frame_equal(a.issues, b.issues)
        assert_frame_equal(a.accounting, b.accounting)
        return
    for name in ("enrollments", "attendance", "followups", "issues", "accounting"):
        left, right = getattr(a, name), getattr(b, name)
        if left is None or right is None:
            assert left is None and right is None, name
        else:
            assert_frame_equal(left, right, check_exact=True)
    assert a.last_date == b.last_date


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_codes_and_rows_give_the_same_dataset_and_issues(tmp_path, fmt):
    folder = _write(tmp_path / fmt, MESSY, fmt)
    by_codes, by_rows = _load(folder, "codes"), _load(folder, "rows")
    _assert_same(by_codes, by_rows)
    # the files are worked to break every rule: so the comparison is not of empty tables
    rules = set(by_codes.issues["rule"])
    assert rules >= {
        "exact_duplicate",
        "required",
        "allowed_values",
        "type",
        "minimum",
        "duplicate_episode_id",
        "discharge_before_admission",
        "reason_without_discharge",
        "planned_length_implausible",
        "unknown_episode",
        "episode_excluded",
        "session_outside_episode",
        "contact_before_discharge",
    }
    # worked by hand: attendance rows 3 and 5 repeat row 2 (row 4 differs in status); the
    # follow-up row 5 repeats row 4
    copies = by_codes.issues.filter(pl.col("rule") == "exact_duplicate")
    assert copies.select("file", "row").rows() == [
        (f"enrollments.{fmt}", 3),
        (f"attendance.{fmt}", 3),
        (f"attendance.{fmt}", 5),
        (f"followups.{fmt}", 5),
    ]
    # the stripped key " E7 " links to E7; the lenient codes are read as codes
    att = by_codes.attendance
    assert att.filter(pl.col("episode_id") == "E7").height == 2
    assert_frame_equal(
        outcomes.metrics(by_codes, by=["program_type"]),
        outcomes.metrics(by_rows, by=["program_type"]),
    )


def test_sessions_held_compactly_give_the_frames_metrics(tmp_path):
    """The loader keeps sessions as codes and builds ``attendance`` on demand; the metrics
    read the codes. Wrapping the same frames (``Dataset.from_frames``) must give the same
    episodes and adherence table."""
    folder = _write(tmp_path / "d", MESSY)
    ds = _load(folder, "codes")
    again = outcomes.Dataset.from_frames(ds.enrollments, ds.attendance, ds.followups)
    assert_frame_equal(outcomes.episodes(ds), outcomes.episodes(again))
    from outcomes.attendance import attendance_by_week

    assert_frame_equal(attendance_by_week(ds), attendance_by_week(again))
    assert ds.attendance.schema == again.attendance.schema


def test_the_clean_fixture_loads_the_same_both_ways(write_dataset):
    folder = write_dataset(
        enrollments=ENROLLMENTS_OK, attendance=ATTENDANCE_OK, followups=FOLLOWUPS_OK
    )
    _assert_same(_load(folder, "codes"), _load(folder, "rows"))


def test_neighbouring_rows_of_one_episode_and_date_are_compared_whole(tmp_path):
    """Sessions grouped by episode and dated in order: a copy is looked for only among rows
    sharing episode and date, and found even when another row stands between (worked by
    hand: row 4 repeats row 2; row 3 differs in hours), and where no three rows share a day,
    a copy is the row just before it. Unsorted files are compared whole: row 7 repeats row 2
    across another episode's rows."""
    enr = (
        HEADER
        + "C1,E1,iop,42,2025-01-06,2025-02-17,completed\n"
        + ("C2,E2,iop,42,2025-01-06,2025-02-17,completed\n")
    )
    grouped = (
        "episode_id,session_date,status,hours\n"
        "E1,2025-01-06,attended,3\n"
        "E1,2025-01-06,attended,2\n"
        "E1,2025-01-06,attended,3\n"
        "E1,2025-01-08,attended,3\n"
        "E2,2025-01-06,attended,3\n"
    )
    unsorted = grouped + "E1,2025-01-06,attended,3\n"
    pairs = (  # never three rows on one day: row 3 repeats row 2, row 5 differs from row 4
        "episode_id,session_date,status,hours\n"
        "E1,2025-01-06,attended,3\n"
        "E1,2025-01-06,attended,3\n"
        "E1,2025-01-08,attended,3\n"
        "E1,2025-01-08,no_show,3\n"
        "E2,2025-01-06,attended,3\n"
    )
    for text, rows in ((grouped, [4]), (unsorted, [4, 7]), (pairs, [3])):
        folder = _write(tmp_path / str(len(rows)), {"enrollments": enr, "attendance": text})
        for how in ("codes", "rows"):
            ds = _load(folder, how)
            copies = ds.issues.filter(pl.col("rule") == "exact_duplicate")
            assert copies["row"].to_list() == rows, (how, rows)
            assert copies["message"].to_list()[0].endswith("to row 2; kept once")


_DATES = ["2025-01-07", "2025-01-08", "2026-01-01", "x", "", "2025-1-7"]
_STATUSES = ["attended", "no_show", " Excused", "gone", ""]


@st.composite
def messy(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        e = f"E{draw(st.integers(0, n))}"
        program = draw(st.sampled_from(["iop", "residential", " IOP", "rehab", ""]))
        planned = draw(st.sampled_from(["42", "60", "", "x", "0"]))
        admit = draw(st.sampled_from(["2025-01-06", "2025-02-30", ""]))
        discharge = draw(st.sampled_from(["2025-02-17", "", "2024-12-31"]))
        reason = draw(st.sampled_from(["completed", "left_early", "", "DIED"]))
        rows.append(f"C{i % 3},{e},{program},{planned},{admit},{discharge},{reason}")
    sessions = [
        f"{draw(st.sampled_from([f'E{j}' for j in range(n + 2)] + ['', ' E0']))},"
        f"{draw(st.sampled_from(_DATES))},{draw(st.sampled_from(_STATUSES))},"
        f"{draw(st.sampled_from(['3', '', '-1', 'x']))}"
        for _ in range(draw(st.integers(1, 25)))
    ]
    if draw(st.booleans()):
        sessions.sort()  # grouped by episode and date, as exports often are
    return {
        "enrollments": HEADER + "\n".join(rows) + "\n",
        "attendance": "episode_id,session_date,status,hours\n" + "\n".join(sessions) + "\n",
    }


@given(texts=messy(), letters=st.text(string.ascii_lowercase, min_size=4, max_size=4))
def test_codes_and_rows_agree_on_messy_files(tmp_path_factory, texts, letters):
    folder = _write(tmp_path_factory.mktemp(f"m{letters}"), texts)
    _assert_same(_load(folder, "codes"), _load(folder, "rows"))


def test_an_episode_key_in_runs_is_encoded_by_runs():
    """Worked by hand: three runs (E2, E1, E2) of two distinct keys; codes in first-seen
    order."""
    keys = pl.Series("episode_id", ["E2"] * 3 + ["E1"] * 2 + ["E2"] * 3 + [None])
    text = _table.encode(keys, "runs")
    assert text.values.to_list() == ["E2", "E1"]
    assert text.codes.to_list() == [0, 0, 0, 1, 1, 0, 0, 0, None]
    assert text.decode().to_list() == keys.to_list()
    assert _table.how_to_hold(pl.Series([f"C{i}" for i in range(100)])) == "text"
    assert _table.how_to_hold(pl.Series(["a", "b"] * 50)) == "codes"
    assert _table.how_to_hold(pl.Series(["E2"] * 30 + ["E1"] * 20)) == "runs"
    unsorted = _table.encode(pl.Series(["E2", "E2", "E1", "E1", "E3"]), "runs")
    assert unsorted.values.to_list() == ["E2", "E1", "E3"]
    assert unsorted.codes.to_list() == [0, 0, 1, 1, 2]


# --- a long session file, checked and counted a chunk at a time --------------------------------


def _load_in_chunks(folder, size):
    """Load with the session file checked ``size`` rows at a time (chunks end where an
    episode's rows do; a file this small is otherwise read whole)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_table, "SESSION_ROWS_IN_MEMORY", 0)
        m.setattr(_table, "SESSION_CHUNK_ROWS", size)
        try:
            return outcomes.load(folder, on_error="exclude")
        except DataError as err:
            return err


def _assert_same_results(whole, chunked):
    from outcomes.attendance import attendance_by_week

    _assert_same(whole, chunked)
    cut = whole.last_date
    earlier = cut.replace(month=1, day=1)  # a cut-off before the data's end: counted again
    for as_of in (cut, earlier):
        assert_frame_equal(outcomes.episodes(whole, as_of), outcomes.episodes(chunked, as_of))
        assert_frame_equal(
            outcomes.metrics(whole, as_of=as_of), outcomes.metrics(chunked, as_of=as_of)
        )
        assert_frame_equal(attendance_by_week(whole, as_of), attendance_by_week(chunked, as_of))


@pytest.mark.parametrize("size", [3, 5, 8])
def test_sessions_in_chunks_give_the_tables_of_the_whole_file(tmp_path, size):
    """The messy files (copies, bad values, links of every kind) in Parquet, the sessions
    checked 3, 5 or 8 rows at a time: the same dataset, issues, accounting, episodes, metrics
    and weekly adherence as the file read whole, at the data's cut-off (counted during the
    check) and at an earlier one (counted again, chunk by chunk). E1's seven rows span
    chunks, so copies across chunks are found from every row's hash."""
    folder = _write(tmp_path / "pq", MESSY, "parquet")
    whole, chunked = _load(folder, "codes"), _load_in_chunks(folder, size)
    assert type(chunked._held).__name__ == "ChunkedSessions"
    _assert_same_results(whole, chunked)
    assert chunked.issues.filter(pl.col("rule") == "exact_duplicate").height == 4


def test_a_generated_export_in_chunks_gives_the_metrics_of_the_whole(tmp_path):
    """3,000 generated clients (68,000 sessions, held together by episode and dated, as
    ``outcomes synth`` writes them) checked 5,000 sessions at a time."""
    from outcomes import synth

    folder = synth.write(synth.generate(3000, seed=7), tmp_path / "d", fmt="parquet")
    whole, chunked = outcomes.load(folder), _load_in_chunks(folder, 5000)
    assert type(chunked._held).__name__ == "ChunkedSessions"
    _assert_same_results(whole, chunked)


def test_identifiers_in_a_long_session_file_are_refused_as_in_a_whole_one(tmp_path):
    """A phone number in a later chunk of the sessions (row 12), and a name column in the
    enrollments: refused at once, with the same messages and rows as the files read whole."""
    from outcomes.errors import IdentifierError

    sessions = MESSY["attendance"].replace(
        "episode_id,session_date,status,session_type,hours\n",
        "episode_id,session_date,status,session_type,hours,note\n",
    )
    lines = sessions.splitlines()
    lines = [lines[0]] + [f"{line},ok" for line in lines[1:]]
    lines[11] = lines[11][: -len("ok")] + "call (555) 123-4567"
    texts = dict(MESSY, attendance="\n".join(lines) + "\n")
    refusals = {}
    for case, enrollments in (("values", MESSY["enrollments"]), ("both", None)):
        if enrollments is None:  # a name column in the enrollments too
            head, rest = MESSY["enrollments"].split("\n", 1)
            enrollments = head + ",last_name\n" + "".join(f"{r},x\n" for r in rest.splitlines())
        folder = _write(tmp_path / case, dict(texts, enrollments=enrollments), "parquet")
        for how in ("whole", "chunks"):
            with pytest.raises(IdentifierError) as err:
                (outcomes.load if how == "whole" else lambda f: _load_in_chunks(f, 4))(folder)
            refusals[(case, how)] = (err.value.problems, err.value.columns, err.value.found)
        assert refusals[(case, "whole")] == refusals[(case, "chunks")]
    problems, columns, found = refusals[("both", "chunks")]
    assert len(problems) == 2 and "row 12" in problems[1]
    assert columns == {"enrollments.parquet": ["last_name"], "attendance.parquet": ["note"]}
    assert found[1][1:] == ("note", "a telephone number", 12)
