"""The quarterly report with a national benchmark (issue #13): the table it reads, the
reference lines of its charts, the observed-to-expected ratio of its summary (worked out here
independently from the generated TEDS-D rows), disclosure control over those cells, and the
commands and the job that pass the table on."""

from __future__ import annotations

import csv
import datetime as dt
import html
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from outcomes import figures, publish_national, synth
from outcomes.cli import main
from outcomes.errors import InputError
from outcomes.io import load
from outcomes.national import (
    benchmarks,
    load_report_benchmarks,
    standardise,
)
from outcomes.national._codes import CASEMIX
from outcomes.publication import publication
from outcomes.report import ReportParams

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "quarterly_report.ipynb"
NY = 36

# The categories of docs/national.md ("Risk adjustment"), written out here again.
AGE = {1: "12-17", 2: "12-17", 3: "18-24", 4: "18-24", 5: "25-34", 6: "25-34", 7: "35-44",
       8: "35-44", 9: "45-54", 10: "45-54", 11: "55-64", 12: "65+"}  # fmt: skip
SUBSTANCE = {2: "alcohol", 5: "opioids", 6: "opioids", 7: "opioids", 3: "stimulants",
             10: "stimulants", 11: "stimulants", 12: "stimulants", 4: "cannabis",
             13: "sedatives", 14: "sedatives", 15: "sedatives", 16: "sedatives", 1: "other",
             8: "other", 9: "other", 17: "other", 18: "other", 19: "other"}  # fmt: skip
REFERRAL = {1: "individual", 2: "health", 3: "health", 4: "school", 5: "employer",
            6: "community", 7: "court"}  # fmt: skip
PROVIDER_REFERRAL = {"self": "individual", "family": "individual", "healthcare": "health",
                     "school": "school", "employer": "employer", "community": "community",
                     "court": "court"}  # fmt: skip


def _teds_key(r: dict) -> tuple:
    return (
        AGE.get(r["age_group"], "missing"),
        {1: "male", 2: "female"}.get(r["sex"], "missing"),
        SUBSTANCE.get(r["substance"], "missing"),
        {1: "yes", 2: "no"}.get(r["co_occurring"], "missing"),
        {0: "none", 1: "one_or_more"}.get(r["prior_treatment"], "missing"),
        REFERRAL.get(r["referral"], "missing"),
    )


def _provider_key(r: dict) -> tuple:
    prior = r["prior_episodes"]
    return (
        r["age_group"] if r["age_group"] in set(AGE.values()) else "missing",
        r["sex"] if r["sex"] in ("male", "female") else "missing",
        r["primary_substance"] if r["primary_substance"] in set(SUBSTANCE.values()) else "missing",
        {True: "yes", False: "no"}.get(r["co_occurring_mh"], "missing"),
        "missing" if prior is None else "none" if prior == 0 else "one_or_more",
        PROVIDER_REFERRAL.get(r["referral_source"], "missing"),
    )


def _settings(r: dict) -> tuple[int, ...]:
    """docs/national.md's mapping, by hand."""
    if r["program_type"] == "iop":
        return (6,)
    planned = r["planned_length_days"]
    return (4, 5) if planned is None else (4,) if planned <= 30 else (5,)


def observed_expected(teds_rows, episodes, program, state=None):
    """O, E, O/E and its exact interval for one program, by plain loops over the TEDS-D rows
    (discharges with a known reason) and the provider's discharges: each episode gets its
    stratum's completion rate in its settings, else the settings' crude rate. The interval
    from gamma quantiles (the same exact Poisson limits as chi-square / 2)."""
    strata: dict = {}
    crude: dict = {}
    for r in teds_rows:
        if r["reason"] == -9 or (state is not None and r["state"] != state):
            continue
        for key in ((r["service"], _teds_key(r)),):
            n, x = strata.get(key, (0, 0))
            strata[key] = (n + 1, x + (r["reason"] == 1))
        n, x = crude.get(r["service"], (0, 0))
        crude[r["service"]] = (n + 1, x + (r["reason"] == 1))
    o = e = 0.0
    for r in episodes:
        if r["program_type"] != program:
            continue
        codes = _settings(r)
        n = sum(strata.get((c, _provider_key(r)), (0, 0))[0] for c in codes)
        x = sum(strata.get((c, _provider_key(r)), (0, 0))[1] for c in codes)
        if n == 0:
            n = sum(crude.get(c, (0, 0))[0] for c in codes)
            x = sum(crude.get(c, (0, 0))[1] for c in codes)
        e += x / n
        o += r["discharge_reason"] == "completed"
    low = stats.gamma.ppf(0.025, o) / e if o else 0.0
    return int(o), e, o / e, low, stats.gamma.ppf(0.975, o + 1) / e


@pytest.fixture(scope="module")
def puf(teds_benchmark):
    """The generated TEDS-D year and the report's table made from it (conftest)."""
    return teds_benchmark


@pytest.fixture(scope="module")
def small_export():
    """A generated provider export small enough for a quick publication (2024-2026), large
    enough that 2026Q3 publishes a few completion rows."""
    return synth.generate(1200, seed=4, start="2024-01-01", end="2026-09-30")


@pytest.fixture(scope="module")
def pubs(puf, small_export):
    """Its publication without and with the benchmark (NY)."""
    bench = load_report_benchmarks(puf[1], "NY")
    return publication(small_export), publication(small_export, benchmarks=bench)


def test_the_report_table_adds_up_and_reads_back(puf):
    """Strata completions add up to the setting's line (nation and NY); the lines equal the
    counts taken straight from the discharges; the table names its year from its sources."""
    teds, path, _ = puf
    table = pl.read_csv(path)
    lines = table.filter(pl.col("age_group") == "all", pl.col("measure") == "completion")
    strata = table.filter(pl.col("age_group") != "all")
    assert set(strata["measure"]) == {"completion"} and set(strata["state"]) == {"all", "NY"}
    sums = strata.group_by("service", "state").agg(pl.col("numerator", "denominator").sum())
    joined = sums.join(lines, on=["service", "state"], suffix="_line")
    assert joined.height == sums.height
    assert (joined["numerator"] == joined["numerator_line"]).all()
    assert (joined["denominator"] == joined["denominator_line"]).all()
    known = teds.data.filter(pl.col("reason") != -9, pl.col("service") == 6)
    iop = lines.filter(pl.col("service") == "iop", pl.col("state") == "all").row(0, named=True)
    assert iop["denominator"] == known.height
    assert iop["numerator"] == (known["reason"] == 1).sum()
    bench = load_report_benchmarks(path, "NY")
    assert bench.years == (2019,) and bench.state_strata and "NY" in bench.states
    assert bench.casemix == tuple(CASEMIX)


def test_standardise_reads_the_report_table_as_the_raw_strata(puf, small_export):
    """The report's table, in case-mix categories, gives standardise the same O and E as a
    table of the raw TEDS-D codes (docs/national.md's command)."""
    from outcomes.episodes import episodes

    teds, path, _ = puf
    raw = benchmarks(teds, by=["service", "state", *CASEMIX], measures=["completion"], nation=True)
    ep = episodes(small_export, small_export.last_date)
    a = standardise(ep, pl.read_csv(path), state="NY")
    b = standardise(ep, raw, state="NY")
    assert a["observed"].to_list() == b["observed"].to_list()
    assert np.allclose(a["expected"].to_numpy(), b["expected"].to_numpy(), rtol=1e-12)


def test_protection_is_the_same_with_or_without_a_benchmark(pubs):
    """The benchmark cells show the summary's own episode sets and cost nothing: every other
    cell's status and value is as without them."""
    without, with_ = pubs
    assert with_.cells.filter(pl.col("table") != "benchmark").equals(without.cells)
    cells = with_.cells.filter(pl.col("table") == "benchmark")
    assert set(cells["measure"]) == {
        "completion_oe_nation", "completion_oe_state",
        "completion_expected_nation", "completion_expected_state",
    }  # fmt: skip
    # each ratio is withheld exactly when the summary's completion rate is
    summary = without.cells.filter(pl.col("table") == "summary", measure="completion_rate")
    ratio = cells.filter(measure="completion_oe_nation").join(
        summary, on=["period", "program"], suffix="_summary"
    )
    assert ratio.height and (ratio["status"] == ratio["status_summary"]).all()
    shown = ratio.filter(pl.col("status") == "published")
    assert (shown["numerator"] == shown["numerator_summary"]).all()
    assert (shown["denominator"] == shown["denominator_summary"]).all()
    expected = cells.filter(measure="completion_expected_nation").join(
        ratio.select("period", "program", pl.col("status").alias("ratio_status")),
        on=["period", "program"],
    )
    assert (expected["status"] == expected["ratio_status"]).all()
    assert expected.filter(pl.col("status") != "published")["value"].null_count() == (
        expected.filter(pl.col("status") != "published").height
    )


def test_the_charts_draw_the_national_and_state_lines(puf, pubs):
    """One black tick per drawn completion row (the nation's rate in its setting), one
    diamond (NY's), at the rates worked out from the TEDS-D rows; the length-of-stay chart's
    IOP marks one day below TEDS-D's median (its extra outpatient day)."""
    teds, path, _ = puf
    pub = pubs[1]
    fig = figures.completion_figure(pub, "2026Q3")
    data = fig.data
    cells = data.filter(pl.col("table") == "completion")
    drawn = cells.filter(pl.col("status") == "published", pl.col("value").is_not_null())
    lines = data.filter(pl.col("table") == "teds_d")
    assert set(lines["reference"]) == {"nation", "NY"}
    assert lines.filter(reference="nation").height == drawn.height > 0
    ax = fig.figure.axes[0]
    ticks = [a for a in ax.lines if a.get_gid() == "reference_nation"]
    diamonds = [a for a in ax.lines if a.get_gid() == "reference_NY"]
    assert len(ticks) == len(diamonds) == drawn.height
    known = teds.data.filter(pl.col("reason") != -9)
    rate = {
        codes: (known.filter(pl.col("service").is_in(codes))["reason"] == 1).mean()
        for codes in ((6,), (4, 5), (5,), (7,), (1, 2, 8))
    }
    for r in lines.filter(reference="nation").iter_rows(named=True):
        codes = tuple(int(c) for c in r["teds_services"].split(","))
        assert abs(r["value"] - rate[codes]) < 1e-12, r
    x = sorted(a.get_xdata()[0] for a in ticks)
    assert np.allclose(x, sorted(100 * lines.filter(reference="nation")["value"]), rtol=1e-12)
    los = figures.los_figure(pub, "2026Q3").data.filter(pl.col("table") == "teds_d")
    iop = los.filter(pl.col("program") == "iop", reference="nation")
    assert iop.height
    median = pl.read_csv(path).filter(
        service="iop", state="all", age_group="all", measure="los_median_days"
    )["value"][0]
    assert np.allclose(iop["value"], median - 1) and np.allclose(iop["teds_median"], median)
    without = figures.completion_figure(pubs[0], "2026Q3")
    assert not [a for a in without.figure.axes[0].lines if "reference" in str(a.get_gid())]
    assert set(without.data["table"]) == {"completion"}


@pytest.fixture(scope="module")
def benchmark_report(sample_report):
    """The sample's 2026Q3 report with the benchmark, state NY (conftest)."""
    return sample_report


def _text(path: Path) -> str:
    page = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))
    return re.sub(r"\s+", " ", html.unescape(page))


def test_the_summary_states_the_ratio_worked_out_independently(benchmark_report, puf, sample_dir):
    """IOP and residential care, trailing year 2025Q4-2026Q3, against the nation and NY: the
    ratio and its interval as computed above by hand, in the first page's words; the methods
    name the TEDS-D year and the states."""
    teds, _, _ = puf
    ds = load(sample_dir, on_error="exclude")
    first, last = dt.date(2025, 10, 1), dt.date(2026, 9, 30)
    episodes = ds.enrollments.filter(pl.col("discharge_date").is_between(first, last)).to_dicts()
    rows = teds.data.to_dicts()
    text = _text(benchmark_report)
    head = text[text.index("At a glance") : text.index("The quarter's key figures")]
    for program, name in (("iop", "IOP"), ("residential", "Residential care")):
        _, _, ratio, low, high = observed_expected(rows, episodes, program)
        verdict = (
            "no clear difference"
            if low <= 1 <= high
            else "fewer than predicted"
            if high < 1
            else "more than predicted"
        )
        sentence = (
            f"{name} completion was {ratio:.2f} times what the national rates would predict "
            f"for these clients' case-mix (95% interval {low:.2f} to {high:.2f}): {verdict}"
        )
        assert sentence in head, (sentence, head)
        _, _, ratio, low, high = observed_expected(rows, episodes, program, state=NY)
        assert f"at NY's rates, {ratio:.2f} ({low:.2f} to {high:.2f})" in head
    table = pl.read_csv(benchmark_report.parent / "tables" / "national_benchmark.csv")
    iop = table.filter(program="iop", measure="completion_oe_nation").row(0, named=True)
    o, _, ratio, low, high = observed_expected(rows, episodes, "iop")
    assert iop["numerator"] == o and abs(iop["value"] - ratio) < 1e-9
    assert abs(iop["ci_low"] - low) < 1e-9 and abs(iop["ci_high"] - high) < 1e-9
    assert "TEDS-D discharges of 2019" in text and "and NY" in text
    assert "no national benchmark was given" not in text.lower()


def test_the_report_with_a_benchmark_publishes_its_lines_and_gives_nothing_away(
    benchmark_report, puf
):
    """The figure CSVs carry the lines (table teds_d), the attacker reading every published
    table with the benchmark's cells finds nothing, and neither the table's path nor the data
    folder's is in any output (the kept notebook included)."""
    import attacker

    folder = benchmark_report.parent / "tables"
    completion = pl.read_csv(folder / "figure_completion.csv")
    assert {"nation", "NY"} <= set(completion["reference"].drop_nulls())
    los = pl.read_csv(folder / "figure_length_of_stay.csv")
    assert set(los.filter(pl.col("table") == "teds_d")["program"]) <= {"iop", "residential"}
    numeric = dict.fromkeys(("value", "ci_low", "ci_high", "numerator", "denominator"), pl.Float64)
    frames = [
        pl.read_csv(p, infer_schema_length=None, schema_overrides=numeric)
        for p in sorted(folder.glob("*.csv"))
        if not p.stem.startswith(("data_quality", "figure_readmission", "figure_adherence"))
    ]
    cells = pl.concat(frames, how="diagonal_relaxed").with_columns(
        pl.col("band").cast(pl.String), pl.col("program").cast(pl.String)
    )
    assert cells.filter(pl.col("table") == "benchmark").height == 8
    curves = pl.read_csv(folder / "figure_readmission.csv")
    assert attacker.solve(attacker.build(cells, 11, curves)) == []
    for table in folder.glob("*.csv"):  # the provider's counts: none from 1 to 10
        for row in csv.DictReader(table.open(encoding="utf-8")):
            if row.get("table") == "teds_d":
                continue
            shown = [row[c] for c in ("value", "numerator", "denominator") if c in row]
            assert not [c for c in shown if re.fullmatch(r"\s*([1-9]|10)\s*", c)], table.name
    secret = str(Path(puf[1]).resolve().parent)
    for path in benchmark_report.parent.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes().decode("utf-8", errors="replace"), path.name


def test_a_benchmark_table_that_cannot_be_used_is_refused_in_one_line(tmp_path, puf, sample_dir):
    _, path, _ = puf
    with pytest.raises(InputError, match="no benchmark table there"):
        load_report_benchmarks(tmp_path / "none.csv")
    with pytest.raises(InputError, match=r"lacks column.*measure"):
        load_report_benchmarks(sample_dir / "enrollments.csv")
    pl.read_csv(path).filter(pl.col("state") != "NY").write_csv(tmp_path / "no_ny.csv")
    with pytest.raises(InputError, match="has no rows of NY"):
        load_report_benchmarks(tmp_path / "no_ny.csv", "NY")
    by_year = pl.read_csv(path).with_columns(year=pl.lit(2019))
    by_year = pl.concat([by_year, by_year.with_columns(year=pl.lit(2020))])
    by_year.write_csv(tmp_path / "by_year.csv")
    with pytest.raises(InputError, match="is by year"):
        load_report_benchmarks(tmp_path / "by_year.csv")
    pl.read_csv(path).with_columns(service=pl.lit("rehab")).write_csv(tmp_path / "odd.csv")
    with pytest.raises(InputError, match="service has values"):
        load_report_benchmarks(tmp_path / "odd.csv")
    with pytest.raises(ValueError, match="give the benchmark table too"):
        ReportParams(period="2026Q3", state="NY")
    with pytest.raises(ValueError, match="postal abbreviation"):
        ReportParams(period="2026Q3", benchmarks=str(path), state="New York")


def test_cli_refusals(tmp_path, puf, capsys, sample_dir):
    teds_folder = puf[2]
    out = tmp_path / "reports"
    code = main(["report", "--period", "2026Q3", "--data", str(sample_dir), "--out", str(out),
                 "--benchmarks", str(tmp_path / "missing.csv")])  # fmt: skip
    err = capsys.readouterr().err
    refusals = [line for line in err.splitlines() if line.startswith("outcomes:")]
    assert code == 2 and len(refusals) == 1 and "no benchmark table there" in refusals[0]
    assert "Traceback" not in err
    assert not out.exists()
    assert main(["national", str(teds_folder / "tedsd_puf_2019.zip"), "--report", "--by",
                 "service"]) == 2  # fmt: skip
    assert "drop --by" in capsys.readouterr().err
    assert main(["national", str(teds_folder / "tedsd_puf_2019.zip"), "--state", "NY"]) == 2
    assert main(["national", str(teds_folder / "tedsd_puf_2019.zip"), "--report", "--state",
                 "XX"]) == 2  # fmt: skip
    assert "unknown state" in capsys.readouterr().err


def test_without_a_benchmark_the_text_says_so(pubs):
    pub = pubs[0]
    assert "no national benchmark was given" in publish_national.headline_line(pub, "2026Q3")
    assert "none was given" in publish_national.methods_line(None)
    assert "No national benchmark was given" in publish_national.benchmark_table(pub, "2026Q3").data


def test_the_job_and_make_pass_the_benchmark_on(tmp_path):
    """scripts/quarterly.sh adds --benchmarks and --state from OUTCOMES_BENCHMARKS and
    OUTCOMES_STATE (a stand-in interpreter prints what it is given); the Makefile's report
    target from BENCHMARKS= and STATE=."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake), "OUTCOMES_BENCHMARKS": "b.csv",
           "OUTCOMES_STATE": "NY"}  # fmt: skip
    args = subprocess.run(
        ["bash", str(ROOT / "scripts" / "quarterly.sh")], env=env, capture_output=True,
        text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert args[args.index("--benchmarks") + 1] == "b.csv"
    assert args[args.index("--state") + 1] == "NY"
    del env["OUTCOMES_BENCHMARKS"], env["OUTCOMES_STATE"]
    args = subprocess.run(
        ["bash", str(ROOT / "scripts" / "quarterly.sh")], env=env, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    assert "--benchmarks" not in args and "--state" not in args
    dry = subprocess.run(
        ["make", "-n", "report", "BENCHMARKS=b.csv", "STATE=NY"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert re.search(r"outcomes report .*--benchmarks b\.csv --state NY", dry)
