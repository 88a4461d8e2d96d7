"""Published tables: suppression applied, intervals formatted, notes attached."""

from __future__ import annotations

import polars as pl

from outcomes import publish
from outcomes.synth import generate


def long_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "program_type": ["iop", "iop", "residential", "residential", "php", "php"],
            "metric": ["discharges", "completion_rate"] * 3,
            "value": [40.0, 0.5, 30.0, 0.3, 8.0, 0.25],
            "ci_low": [None, 0.352, None, 0.167, None, 0.071],
            "ci_high": [None, 0.648, None, 0.479, None, 0.591],
            "numerator": [None, 20, None, 9, None, 2],
            "denominator": [40, 40, 30, 30, 8, 8],
        }
    )


def test_metric_table_suppresses_and_formats():
    t = publish.metric_table(
        long_table(), ["discharges", "completion_rate"], ["program_type"], name="x", title="X"
    )
    rows = {r[0]: r[1:] for r in t.table.iter_rows()}
    assert rows["iop"] == ("40", "50.0% (35.2-64.8)")
    # residential: 9 completers -> hidden; php: 8 discharges -> hidden (and its rate)
    assert rows["residential"][1] == "<11"
    assert rows["php"] == ("<11", "<11")
    # discharges: php (8) is hidden; the next smallest (residential, 30) protects it
    assert rows["residential"][0] == "<11"
    assert any("<11" in n for n in t.notes)
    html = t._repr_html_()
    assert "&lt;11" in html and "<figure" in html


def test_key_figures_on_generated_data():
    ds = generate(1500, seed=3)
    k = publish.key_figures(ds, "2026Q3")
    assert k.table.columns[0] == "metric"
    assert "iop: 2026Q3" in k.table.columns and "all programs: trailing year" in k.table.columns
    assert k.table["metric"].to_list()[:2] == ["Discharges", "Completion"]
    cells = k.table.drop("metric").to_numpy().ravel()
    for cell in cells:  # no count from 1 to 10 is shown
        assert not (str(cell).isdigit() and 1 <= int(cell) <= 10)
