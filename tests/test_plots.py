"""Charts: assert on the returned Figure (series, labels, at-risk text), never on pixels."""

from __future__ import annotations

import polars as pl
import pytest

import outcomes
from outcomes import compare, plots
from outcomes.suppression import suppress_metrics
from outcomes.survival import kaplan_meier


@pytest.fixture(scope="module")
def ds():
    return outcomes.synth.generate(1500, seed=2)


def test_rate_chart_refuses_unsuppressed_tables(ds):
    raw = outcomes.metrics(ds, by=["program_type"])
    with pytest.raises(ValueError, match="suppression"):
        plots.rate_chart(raw)
    fig = plots.rate_chart(suppress_metrics(raw))
    ax = fig.axes[0]
    labels = sorted(t.get_text() for t in ax.get_yticklabels())
    assert labels == ["detox", "iop", "outpatient", "php", "residential"]
    assert len(ax.patches) == 5  # one bar per program


def test_km_chart_suppresses_numbers_at_risk():
    # group b has 5 subjects: its numbers at risk must show as <11, and its curve is not drawn
    frame = pl.DataFrame(
        {
            "time": [*range(1, 41), 5, 10, 20, 40, 60],
            "event": [i % 3 == 0 for i in range(40)] + [True] * 5,
            "program_type": ["iop"] * 40 + ["residential"] * 5,
        }
    )
    fig = plots.km_chart(kaplan_meier(frame, "time", "event", by="program_type"), ticks=(0, 10, 20))
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert "<11" in texts
    assert not any(t.isdigit() and 1 <= int(t) <= 10 for t in texts)
    assert "40" in texts  # iop at day 0
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["iop", "residential"]
    assert len(lines[1].get_xdata()) == 1  # residential stops at once: < 11 at risk


def test_love_and_forest_plots(ds):
    ep = outcomes.episodes(ds).filter(pl.col("completed").is_not_null())
    ps = compare.propensity(ep)
    bal = compare.balance(compare.iptw(ps), ps.design)
    fig = plots.love_plot(bal)
    assert len(fig.axes[0].get_yticklabels()) == bal.height
    effects = pl.DataFrame(
        {
            "outcome": ["readmission_hazard_ratio"] * 3,
            "method": ["naive", "iptw", "regression"],
            "estimand": ["ate"] * 3,
            "estimate": [0.9, 1.2, 1.1],
            "ci_low": [0.8, 1.0, 0.95],
            "ci_high": [1.0, 1.4, 1.3],
            "n_treated": [50] * 3,
            "n_control": [40] * 3,
        }
    )
    fig = plots.forest_plot(effects)
    assert fig.axes[0].get_xscale() == "log"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["naive", "iptw", "regression"][
        ::-1
    ][::-1]


def test_reason_mix_los_and_cif_charts(ds):
    from outcomes.survival import cumulative_incidence, readmission_data

    table = suppress_metrics(outcomes.metrics(ds, by=["program_type"]))
    fig = plots.reason_mix_chart(table)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(
        table["program_type"].unique().to_list()
    )
    widths = {}
    for patch in ax.patches:  # every program's segments add up to 100%
        y = round(patch.get_y(), 3)
        widths[y] = widths.get(y, 0) + patch.get_width()
    assert all(abs(w - 100) < 1e-6 for w in widths.values())
    banded = suppress_metrics(outcomes.metrics(ds, by=["program_type", "length_band"]))
    fig = plots.los_chart(banded)
    assert any(line.get_marker() == "x" for line in fig.axes[0].get_lines())
    cif = cumulative_incidence(
        readmission_data(ds, include_deaths=True), "time", "cause", by="program_type"
    )
    fig = plots.cif_chart(cif)
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert "iop: readmission" in labels
    with pytest.raises(ValueError, match="suppression"):
        plots.los_chart(outcomes.metrics(ds, by=["program_type", "length_band"]))
