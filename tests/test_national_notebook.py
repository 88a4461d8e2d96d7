"""Notebook 05 runs on generated PUF-shaped files given as the evaluator gives real ones (the
OUTCOMES_TEDS environment variable) and shows what the library computes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import nbformat
import papermill as pm
import polars as pl
import pytest

import outcomes
from outcomes import national

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_national_benchmarks.ipynb"


def tagged(nb, tag: str) -> str:
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, tag
    return "".join(
        o["data"]["text/plain"] for o in cells[0].outputs if o.output_type == "execute_result"
    )


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teds")
    files = [
        national.write_puf(
            national.generate_puf(20_000, seed=1, year=2018), folder / "tedsd_puf_2018.zip"
        ),
        national.write_puf(
            national.generate_puf(20_000, seed=2, year=2019), folder / "tedsd_puf_2019.csv"
        ),
    ]
    out = folder / "05.ipynb"
    env = os.environ.get(national.TEDS_ENV)
    os.environ[national.TEDS_ENV] = os.pathsep.join(map(str, files))
    try:
        pm.execute_notebook(
            str(NOTEBOOK), str(out), parameters={"period": "2026Q3"}, kernel_name="python3",
            cwd=str(ROOT / "notebooks"), execution_timeout=300, progress_bar=False,
        )  # fmt: skip
    finally:
        if env is None:
            del os.environ[national.TEDS_ENV]
        else:
            os.environ[national.TEDS_ENV] = env
    return nbformat.read(out, as_version=4), files


def test_notebook_reads_the_files_it_is_given(executed):
    nb, _ = executed
    assert "40,000 discharges from 2 file(s), years [2018, 2019]" in tagged(nb, "teds")


def test_notebook_benchmarks_are_the_library_s(executed):
    nb, files = executed
    shown = pl.read_csv(io.StringIO(tagged(nb, "benchmarks")))
    expected = national.benchmarks(national.read(files), by=["service"]).filter(
        pl.col("measure").is_in(["completion", "completion_or_transfer", "los_median_days"])
    )
    assert shown.height == expected.height == 24
    assert shown["numerator"].to_list() == expected["numerator"].to_list()
    assert shown["value"].to_list() == pytest.approx(expected["value"].to_list(), rel=1e-9)


def test_notebook_comparisons_cover_the_trailing_year(executed):
    nb, files = executed
    ds = outcomes.load(outcomes.sample_dir(), on_error="exclude")
    cohort = outcomes.discharged_in(ds, outcomes.trailing_year("2026Q3"))
    teds = national.read(files)
    shown = pl.read_csv(io.StringIO(tagged(nb, "standardised")))
    expected = national.standardise(cohort, teds, state="NY")
    assert shown.height == expected.height > 5
    assert shown["observed"].to_list() == expected["observed"].to_list()
    assert shown["expected"].to_list() == pytest.approx(expected["expected"].to_list(), rel=1e-9)
    beside = pl.read_csv(io.StringIO(tagged(nb, "beside")))
    assert set(beside["reference"]) == {"nation", "NY"}
