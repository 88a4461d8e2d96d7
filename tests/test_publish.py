"""Published tables: rendered from protected cells, human labels, one marker legend."""

from __future__ import annotations

import polars as pl
import pytest

from outcomes import publish
from outcomes.publication import publication
from outcomes.synth import generate


def _cells(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "measure": ["m"] * n,
        "value": [None] * n,
        "ci_low": [None] * n,
        "ci_high": [None] * n,
        "numerator": [None] * n,
        "denominator": [None] * n,
    }
    base.update(columns)
    return pl.DataFrame(
        base,
        schema_overrides={
            "value": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "numerator": pl.Int64,
            "denominator": pl.Int64,
        },
    )


def test_display_strings_say_what_happened():
    """Worked by hand: a count of 40; 20 of 40 with Wilson (35.2-64.8) from R's
    prop.test(20, 40, correct=FALSE); a median stay of 59 days (40-70); then each marker."""
    kind = "count proportion statistic count proportion proportion proportion proportion"
    measure = (
        "discharges completion_rate median_los_days discharges completion_rate "
        "completion_rate readmission_90d completion_rate median_los_days"
    )
    status = (
        "published published published small_count small_count complementary "
        "not_observable none small_group"
    )
    cells = _cells(
        kind=[*kind.split(), "statistic"],
        measure=measure.split(),
        status=status.split(),
        value=[40.0, 0.5, 59.0, None, None, None, None, None, None],
        ci_low=[None, 0.35199, 40.0, None, None, None, None, None, None],
        ci_high=[None, 0.64801, 70.0, None, None, None, None, None, None],
        numerator=[None, 20, None, None, None, None, None, None, None],
        denominator=[40, 40, 60, None, None, None, None, None, None],
    )
    shown = publish.display(cells, 11).to_list()
    assert shown == [
        "40", "50.0% (35.2-64.8)", "59 (40-70)", "<11", "(s)", "(c)", "(p)", "–", "(s)",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def pub():
    return publication(generate(1500, seed=3))


def test_summary_tables_per_program(pub):
    group = publish.summary_tables(pub, "2026Q3")
    names = [t.name for t in group.tables]
    assert names == ["summary_iop", "summary_residential", "summary_all_programs"]
    iop = group.tables[0].table
    assert iop.columns == [
        "Measure",
        "This quarter (2026Q3)",
        "Previous quarter (2026Q2)",
        "Trailing year (2025Q4-2026Q3)",
    ]
    assert iop["Measure"].to_list()[:2] == ["Discharges", "Completed"]
    assert "program_type" not in iop.columns
    assert set(group.tidy.columns) == set(publish.TIDY_COLUMNS)
    assert any("Markers:" in n for n in group.tables[0].notes)


def test_no_table_shows_a_count_from_1_to_10(pub):
    tables = [
        *publish.summary_tables(pub, "2026Q3").tables,
        publish.completion_table(pub, "2026Q3"),
        publish.discharge_reason_table(pub, "2026Q3"),
        publish.transitions_table(pub, "2026Q3"),
        publish.survival_table(pub, "2026Q3"),
    ]
    for t in tables:
        for cell in t.table.drop(t.table.columns[0]).to_numpy().ravel():
            text = str(cell).replace(",", "")
            assert not (text.isdigit() and 1 <= int(text) <= 10), (t.name, cell)
        assert t.tidy is not None and t.tidy.columns == list(publish.TIDY_COLUMNS)
        hidden = t.tidy.filter(pl.col("status") != "published")
        assert hidden["value"].null_count() == hidden.height
    completion = publish.completion_table(pub, "2026Q3").table
    assert completion.columns[:2] == ["Program", "Planned length"]
    assert set(completion["Program"]) <= {"IOP", "Residential", "PHP", "Outpatient", "Detox"}


def test_data_quality_tables_mark_what_protects_a_small_count(tmp_path):
    """A messy export excludes a few rows (fewer than 11 per file): the excluded count shows
    as <11 and the kept count, which with rows read would give it away, as (c) (withheld to
    protect another cell), never as '<11' (it is thousands of rows, issue #10)."""
    from outcomes import load, synth

    folder = synth.write(generate(300, seed=5), tmp_path / "messy", messy=True, seed=5)
    ds = load(folder, on_error="exclude")
    table = publish.accounting_table(ds)
    rows = {r["File"]: r for r in table.table.iter_rows(named=True)}
    accounting = {r["file"]: r for r in ds.accounting.iter_rows(named=True)}
    for name, row in rows.items():
        excluded = accounting[name]["rows_excluded"]
        if 1 <= excluded <= 10:
            assert row["Rows excluded"] == "<11"
            assert row["Rows kept"] == "(c)"
            assert row["Rows read"] == f"{accounting[name]['rows_read']}"
    assert "(c)" in {r["Rows kept"] for r in rows.values()}
    statuses = set(table.tidy["status"])
    assert {"published", "small_count", "complementary"} <= statuses
    issues = publish.issues_table(ds)
    assert issues.tidy is not None and set(issues.tidy["status"]) <= {
        "published",
        "small_count",
        "complementary",
    }


def test_the_comparison_section_leads_with_the_doubly_robust_estimate(pub):
    """The effect table's first estimate column is the doubly robust one, and its completion
    cell is compare()'s AIPW difference on the trailing year, in points; the section also has
    the overlap chart and one diagnostics row per program."""
    from outcomes import compare, publish_comparison
    from outcomes.cohorts import discharged_in
    from outcomes.figures import PublishedFigure

    ds = generate(1500, seed=3)
    section = publish_comparison.comparison(pub, ds, "2026Q3")
    table = section.table.table
    assert table.columns[:2] == ["Outcome", "Adjusted: doubly robust"]
    effects = compare.compare(discharged_in(ds, "2025Q4-2026Q3"), as_of=pub.as_of).effects
    aipw = effects.filter(
        pl.col("outcome") == "completion_risk_difference", pl.col("method") == "aipw"
    ).row(0, named=True)
    cell = table.filter(pl.col("Outcome").str.starts_with("Completion: difference"))
    expected = (
        f"{100 * aipw['estimate']:.1f} ({100 * aipw['ci_low']:.1f} to {100 * aipw['ci_high']:.1f})"
    )
    assert cell["Adjusted: doubly robust"].item() == expected
    figure = section.figure()
    assert isinstance(figure, PublishedFigure) and figure.name == "overlap"
    assert set(figure.data["program"]) == {"iop", "residential"}
    assert section.diagnostics.table["Program"].to_list() == ["IOP", "Residential"]


def test_readmission_effects_need_enough_episodes_with_and_without_a_readmission(pub):
    """The hazard ratio's cohort is every trailing-year discharge not ending in death: with
    the threshold one above the smallest of (readmitted, not readmitted) per program its rows
    are withheld with a note, at that smallest count they are kept."""
    from types import SimpleNamespace

    from outcomes.cohorts import discharged_in
    from outcomes.publish_comparison import _publishable_effects

    ep = discharged_in(generate(1500, seed=3), "2025Q4-2026Q3")
    alive = ep.filter(
        pl.col("program_type").is_in(["iop", "residential"]),
        pl.col("discharge_reason") != "died",
    )
    smallest = int(
        alive.group_by("program_type")
        .agg(pl.col("readmitted").sum().alias("yes"), (~pl.col("readmitted")).sum().alias("no"))
        .select(pl.min_horizontal("yes", "no").min())
        .item()
    )
    effects = pl.DataFrame({"outcome": ["completion_risk_difference", "readmission_hazard_ratio"]})
    for threshold, kept in ((smallest, True), (smallest + 1, False)):
        rows, notes = _publishable_effects(
            effects, ep, "iop", "residential", SimpleNamespace(threshold=threshold, as_of=pub.as_of)
        )
        assert ("readmission_hazard_ratio" in rows["outcome"].to_list()) is kept
        assert "completion_risk_difference" in rows["outcome"].to_list()
        assert bool(notes) is not kept


def test_a_trailing_year_the_data_do_not_fully_cover_is_labelled_so():
    """Issue #10: an export starting 2026-01-01 has no discharge in 2025Q4, the first quarter
    of 2026Q3's trailing year; the column says so instead of passing three quarters off as a
    year. The sample export (from 2024) covers it."""
    late = publication(generate(300, seed=1, start="2026-01-01"))
    assert publish.summary_tables(late, "2026Q3").tables[0].table.columns[-1] == (
        "Trailing year (2025Q4-2026Q3; data from 2026Q1 only)"
    )
    assert publish._partial_year(late, "2026Q4") == ""  # 2026Q1-2026Q4 is covered
