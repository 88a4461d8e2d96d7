"""Charts: assert on the returned Figure (series, labels, at-risk text), never on pixels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest

import outcomes
from outcomes import compare, plots
from outcomes.suppression import suppress_metrics
from outcomes.survival import kaplan_meier


@pytest.fixture(scope="module")
def ds():
    return outcomes.synth.generate(1500, seed=2)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig) -> list[str]:
    """Every text a reader sees: axes texts, tick labels, titles, legends and figure notes."""
    fig.canvas.draw()
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
        out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        out += [ax.get_title(loc) for loc in ("left", "center", "right")]
        out += [ax.get_xlabel(), ax.get_ylabel()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return out


def _rows(ax) -> list[str]:
    """The y tick labels from top to bottom."""
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    return [t.get_text() for t in ticks]


def _metric_rows(rows, metric="completion_rate"):
    """A hand-made published metric table: (program, band, value, status)."""
    return pl.DataFrame(
        {
            "program_type": [r[0] for r in rows],
            "length_band": [r[1] for r in rows],
            "metric": [metric] * len(rows),
            "value": [r[2] for r in rows],
            "ci_low": [None if r[2] is None else r[2] - 0.05 for r in rows],
            "ci_high": [None if r[2] is None else r[2] + 0.05 for r in rows],
            "numerator": [None] * len(rows),
            "denominator": [None] * len(rows),
            "status": [r[3] for r in rows],
            "display": ["<11" if r[3] != "published" else f"{r[2]:.1%}" for r in rows],
        },
        schema_overrides={"numerator": pl.Int64, "denominator": pl.Int64},
    )


BANDED = [
    ("residential", "unknown", 0.30, "published"),
    ("residential", "75-90 d", 0.55, "published"),
    ("iop", "other", None, "small_group"),
    ("residential", "<45 d", 0.20, "published"),
    ("iop", "8 wk", 0.50, "published"),
    ("residential", ">90 d", 0.60, "published"),
    ("iop", "6 wk", None, "complementary"),
    ("residential", "45-59 d", 0.40, "published"),
    ("iop", "7 wk", 0.45, "published"),
    ("residential", "60-74 d", 0.50, "published"),
    ("detox", "all", 0.60, "published"),
]


def test_rate_chart_refuses_unsuppressed_tables(ds):
    raw = outcomes.metrics(ds, by=["program_type"])
    with pytest.raises(ValueError, match="suppression"):
        plots.rate_chart(raw)
    fig = plots.rate_chart(suppress_metrics(raw))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]  # top to bottom
    assert labels == ["IOP", "Residential", "PHP", "Outpatient", "Detox"]  # the tables' order
    assert len(ax.patches) == 5  # one bar per program


def test_bands_in_natural_order_and_rows_left_out_named():
    """Bands sort as METRICS.md lists them (not "<45 d" after "75-90 d"), programs as the
    tables order and name them; rows that are not published are not drawn, and the note
    names them with the reason from their status."""
    fig = plots.rate_chart(_metric_rows(BANDED))
    ax = fig.axes[0]
    assert _rows(ax) == [
        "IOP 7 wk",
        "IOP 8 wk",
        "Residential <45 d",
        "Residential 45-59 d",
        "Residential 60-74 d",
        "Residential 75-90 d",
        "Residential >90 d",
        "Residential unknown",
        "Detox all",
    ]
    assert len(ax.patches) == 9
    assert [t.get_text() for t in fig.texts] == [
        "Not drawn: IOP 6 wk (withheld to protect another cell); "
        "IOP other (fewer than 11 discharges)."
    ]
    fig = plots.los_chart(
        _metric_rows(BANDED, "median_los_days").with_columns(pl.col("value") * 100)
    )
    labels = _rows(fig.axes[0])
    assert labels[:4] == ["IOP 7 wk", "IOP 8 wk", "Residential <45 d", "Residential 45-59 d"]


def test_published_mask_reads_both_vocabularies():
    statuses = ["published", "small_count", "complementary", "small_group", "none"]
    status = pl.DataFrame({"status": [*statuses, "not_observable", None]})
    assert plots._published_mask(status).to_list() == [True] + [False] * 6
    reasons = plots._reasons(status.with_columns(value=pl.lit(0.5)), threshold=11)
    assert reasons == [
        None,
        "a count under 11",
        "withheld to protect another cell",
        "fewer than 11 discharges",
        "no discharges",
        "not yet observable",
        "fewer than 11 discharges, or withheld to protect another cell",
    ]
    legacy = pl.DataFrame({"suppressed": [False, True, None]})
    assert plots._published_mask(legacy).to_list() == [True, False, False]
    with pytest.raises(ValueError, match="suppression"):
        plots._published_mask(pl.DataFrame({"value": [1.0]}))
    # the older flag cannot tell a small count from a complementary suppression: say both
    table = (
        _metric_rows(BANDED)
        .drop("status")
        .with_columns((pl.col("display") == "<11").alias("suppressed"))
    )
    note = plots.rate_chart(table).texts[0].get_text()
    assert note == (
        "Not drawn: IOP 6 wk, IOP other (fewer than 11 discharges, or withheld to protect "
        "another cell)."
    )


def test_no_chart_prints_the_suppressed_display_text(ds):
    table = suppress_metrics(outcomes.metrics(ds, by=["program_type", "length_band"]))
    assert table["suppressed"].any()  # the test means something only with suppressed rows
    period = suppress_metrics(outcomes.metrics(ds, by=["program_type"]))
    frame = _km_frame()
    figures = [
        plots.rate_chart(table),
        plots.los_chart(table),
        plots.reason_mix_chart(period),
        plots.rate_chart(_metric_rows(BANDED)),
        plots.km_chart(kaplan_meier(frame, "time", "event", by="program_type")),
    ]
    for fig in figures:
        texts = _texts(fig)
        assert not any("<11" in t for t in texts), texts


def test_reason_mix_legend_lists_every_reason_drawn():
    """The first bar (detox) has only completed and left_early; residential adds transferred
    and other, and iop's suppressed shares make a grey segment: all appear in the legend."""
    rows = [
        ("detox", "completed", 0.6, "published"),
        ("detox", "left_early", 0.4, "published"),
        ("iop", "completed", 0.5, "published"),
        ("iop", "left_early", None, "small_count"),
        ("iop", "transferred", None, "complementary"),
        ("residential", "completed", 0.5, "published"),
        ("residential", "transferred", 0.2, "published"),
        ("residential", "other", 0.3, "published"),
        ("residential", "died", 0.0, "published"),
    ]
    table = pl.DataFrame(
        {
            "program_type": [r[0] for r in rows],
            "metric": ["discharge_reason_" + r[1] for r in rows],
            "value": [r[2] for r in rows],
            "status": [r[3] for r in rows],
        }
    )
    fig = plots.reason_mix_chart(table)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["completed", "transferred", "left early", "other", "not published"]
    assert fig.texts[0].get_text() == (
        "Grey, not published: IOP: transferred (withheld to protect another cell); "
        "IOP: left early (a count under 11)."
    )


def test_percent_axes(ds):
    from outcomes.survival import cumulative_incidence, readmission_data

    table = suppress_metrics(outcomes.metrics(ds, by=["program_type"]))
    rate = plots.rate_chart(table).axes[0]
    km = plots.km_chart(kaplan_meier(_km_frame(), "time", "event", by="program_type")).axes[0]
    cif = cumulative_incidence(
        readmission_data(ds, include_deaths=True), "time", "cause", by="program_type"
    )
    cif_ax = plots.cif_chart(cif).axes[0]
    for ax, axis in ((rate, "x"), (km, "y"), (cif_ax, "y")):
        ax.figure.canvas.draw()
        lim = ax.get_xlim() if axis == "x" else ax.get_ylim()
        labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
        assert lim == (0, 100)
        assert [t.get_text() for t in labels] == ["0%", "20%", "40%", "60%", "80%", "100%"]
    km_line = km.get_lines()[0]
    assert max(km_line.get_ydata()) > 1  # percent, not a proportion


def _km_frame():
    """iop: 200 episodes, one a day: readmitted on days 1-60, censored on days 61-200;
    residential: 5 episodes, all readmitted."""
    n = 200
    return pl.DataFrame(
        {
            "time": [float(i) for i in range(1, n + 1)] + [5.0, 10, 20, 40, 60],
            "event": [i <= 60 for i in range(1, n + 1)] + [True] * 5,
            "program_type": ["iop"] * n + ["residential"] * 5,
        }
    )


def test_km_chart_risk_table_aligned_rounded_and_suppressed():
    """Numbers at risk, worked by hand: iop has 200 at day 0, 171 at day 30 (times 30..200),
    111 at day 90, 21 at day 180, 0 at day 365; rounded to the nearest 5: 200, 170, 110, 20, 0.
    Residential (5 episodes, the last at day 60) shows a dash at days 0 and 30 and 0 after;
    its curve (5 events) is not drawn."""
    curve = kaplan_meier(_km_frame(), "time", "event", by="program_type")
    ticks = (0, 30, 90, 180, 365)
    fig = plots.km_chart(curve, ticks=ticks)
    ax, table_ax = fig.axes
    assert table_ax.get_shared_x_axes().joined(ax, table_ax)
    assert list(ax.get_xticks()) == list(ticks)
    rows = {}
    for text in table_ax.texts:
        assert text.get_position()[0] in ticks
        assert text.get_horizontalalignment() == "center"
        rows.setdefault(text.get_position()[1], []).append(text.get_text())
    labels = {t.get_position()[1]: t for t in table_ax.get_yticklabels()}
    by_group = {labels[y].get_text(): texts for y, texts in rows.items()}
    assert by_group == {
        "IOP": ["200", "170", "110", "20", "0"],
        "Residential": ["–", "–", "0", "0", "0"],
    }
    assert labels[1].get_text() == "IOP"  # first group on top
    assert labels[1].get_color() == plots.colour("iop")
    assert labels[0].get_color() == plots.colour("residential")
    # the group labels sit in the margin, left of the day-0 numbers
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    label_right = max(t.get_window_extent(renderer).x1 for t in table_ax.get_yticklabels())
    numbers_left = min(t.get_window_extent(renderer).x0 for t in table_ax.texts)
    assert label_right < numbers_left
    assert [line.get_label() for line in ax.get_lines()] == ["IOP"]
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "rounded to the nearest 5" in notes
    assert "Not drawn: Residential (fewer than 11 events" in notes


def test_km_chart_draws_only_steps_of_threshold_events():
    """Worked by hand: iop has one readmission a day on days 1-60 out of 200, no censoring
    before day 61, so S(t) = (200 - t) / 200 there. Steps of 11 events are drawn at days 11,
    22, 33, 44, 55, to 100 * t / 200 % readmitted (5.5, 11, 16.5, 22, 27.5); the last 5 events
    (days 56-60) are not drawn. The curve runs level to day 190, the last day with 11 or
    more at risk (200 - 190 + 1 = 11)."""
    curve = kaplan_meier(_km_frame(), "time", "event", by="program_type")
    line = plots.km_chart(curve).axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [0, 11, 22, 33, 44, 55, 190]
    np.testing.assert_allclose(line.get_ydata(), [0, 5.5, 11, 16.5, 22, 27.5, 27.5], rtol=1e-8)


def test_coarsen_steps_worked_by_hand():
    """Worked by hand. 100 at risk, no censoring, events 3, 4, 5, 2, 9, 4 at times 1-6, so
    S = (100 - cumulative events) / 100 = .97, .93, .88, .86, .77, .73.

    threshold 11: events since the last drawn step are 3, 7, 12 (>= 11: step at time 3 to .88),
    then 2, 11 (>= 11: step at time 5 to .77), then 4 (< 11 at the end: not drawn). The same
    curve with 8 at risk at time 5 is cut before time 5: only the step at time 3 remains."""
    time = [1, 2, 3, 4, 5, 6]
    estimate = [0.97, 0.93, 0.88, 0.86, 0.77, 0.73]
    events = [3, 4, 5, 2, 9, 4]
    at_risk = [100, 97, 93, 88, 86, 77]
    t, s = plots.coarsen_steps(time, estimate, events, at_risk, threshold=11)
    assert t.tolist() == [3.0, 5.0]
    assert s.tolist() == [0.88, 0.77]
    t, s = plots.coarsen_steps(time, estimate, events, [100, 97, 93, 88, 8, 7], threshold=11)
    assert (t.tolist(), s.tolist()) == ([3.0], [0.88])
    # threshold 1: every time with an event is a step (the plain Kaplan-Meier curve)
    t, s = plots.coarsen_steps([1, 2, 3], [0.9, 0.9, 0.8], [1, 0, 1], [10, 9, 9], threshold=1)
    assert t.tolist() == [1.0, 3.0]
    # unsorted input is sorted by time first
    t, _ = plots.coarsen_steps(time[::-1], estimate[::-1], events[::-1], at_risk[::-1], 11)
    assert t.tolist() == [3.0, 5.0]
    with pytest.raises(ValueError, match="threshold"):
        plots.coarsen_steps(time, estimate, events, at_risk, threshold=0)


def test_coarsen_steps_never_draws_a_step_of_fewer_than_threshold_events():
    rng = np.random.default_rng(10)
    for _ in range(50):
        n = int(rng.integers(20, 40))
        events = rng.integers(0, 6, size=n)
        at_risk = np.sort(rng.integers(5, 300, size=n))[::-1]
        time = np.arange(1.0, n + 1)
        t, _ = plots.coarsen_steps(time, np.linspace(1, 0.5, n), events, at_risk, threshold=11)
        cut = np.flatnonzero(at_risk < 11)
        stop = cut[0] if cut.size else n
        previous = 0.0
        for step in t:
            between = events[(time > previous) & (time <= step)]
            assert between.sum() >= 11
            assert step <= time[stop - 1]
            previous = step
        assert events[(time > previous) & (np.arange(n) < stop)].sum() < 11


def test_round_at_risk():
    assert [plots._round_at_risk(n, 11, 5) for n in (0, 3, 10, 11, 12, 13, 847, 713)] == [
        "0",
        "–",
        "–",
        "15",  # nearest 5 would print 10: no number under the threshold is printed
        "15",
        "15",
        "845",
        "715",
    ]
    assert plots._round_at_risk(847, 11, 1) == "847"


def test_love_and_forest_plots(ds):
    ep = outcomes.episodes(ds).filter(pl.col("completed").is_not_null())
    ps = compare.propensity(ep)
    bal = compare.balance(compare.iptw(ps), ps.design)
    fig = plots.love_plot(bal)
    assert len(fig.axes[0].get_yticklabels()) == bal.height
    effects = pl.DataFrame(
        {
            "outcome": ["readmission_hazard_ratio"] * 3 + ["completion_risk_difference"],
            "method": ["naive", "iptw", "regression", "iptw"],
            "estimand": ["ate"] * 4,
            "estimate": [0.9, 1.2, 1.1, -0.04],
            "ci_low": [0.5, 1.0, 0.95, -0.07],
            "ci_high": [1.0, 1.4, 1.3, -0.01],
            "n_treated": [50] * 4,
            "n_control": [40] * 4,
        }
    )
    fig = plots.forest_plot(effects)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert _rows(ax) == ["naive", "iptw", "regression"]
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "0.8", "1", "1.25"]
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))  # no 8x10^-1
    fig = plots.forest_plot(effects, "completion_risk_difference")
    assert fig.axes[0].get_lines()[1].get_xdata()[0] == pytest.approx(-4.0)
    assert "percentage points" in fig.axes[0].get_xlabel()


def test_reason_mix_los_and_cif_charts(ds):
    from outcomes.survival import cumulative_incidence, readmission_data

    table = suppress_metrics(outcomes.metrics(ds, by=["program_type"]))
    fig = plots.reason_mix_chart(table)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(
        plots.program_label(p) for p in table["program_type"].unique().to_list()
    )
    widths = {}
    for patch in ax.patches:  # every program's segments add up to 100%
        y = round(patch.get_y(), 3)
        widths[y] = widths.get(y, 0) + patch.get_width()
    assert all(abs(w - 100) < 1e-6 for w in widths.values())
    banded = suppress_metrics(outcomes.metrics(ds, by=["program_type", "length_band"]))
    fig = plots.los_chart(banded)
    brackets = {
        tuple(line.get_xdata()) for line in fig.axes[0].get_lines() if line.get_gid() == "planned"
    }
    assert (45, 59) in brackets and (39, 45) in brackets  # one rule: the band's planned range
    assert "planned length" in " ".join(_texts(fig))
    cif = cumulative_incidence(
        readmission_data(ds, include_deaths=True), "time", "cause", by="program_type"
    )
    fig = plots.cif_chart(cif)
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert "iop: readmission" in labels
    deaths = cif.filter(pl.col("cause") == 2).group_by("program_type").agg(pl.col("n_event").sum())
    for program, n in deaths.iter_rows():  # death curves with < 11 deaths are not drawn
        assert (f"{program}: death" in labels) == (n >= 11)
    with pytest.raises(ValueError, match="suppression"):
        plots.los_chart(outcomes.metrics(ds, by=["program_type", "length_band"]))


def test_trend_and_adherence_charts_say_what_they_leave_out():
    table = pl.DataFrame(
        {
            "period": ["2026Q1", "2026Q2", "2026Q3"] * 2,
            "program_type": ["iop"] * 3 + ["php"] * 3,
            "metric": ["completion_rate"] * 6,
            "value": [0.5, 0.55, 0.6, 0.4, None, 0.45],
            "suppressed": [False, False, False, False, True, False],
            "display": ["50.0%", "55.0%", "60.0%", "40.0%", "<11", "45.0%"],
        }
    )
    fig = plots.trend_chart(table)
    php = fig.axes[0].get_lines()[1]
    assert np.isnan(php.get_ydata()[1])
    assert fig.texts[0].get_text().startswith("Not drawn: PHP 2026Q2 (fewer than 11")
    weekly = pl.DataFrame(
        {
            "program_type": ["iop"] * 4,
            "week": [1, 2, 3, 4],
            "episodes": [40, 30, 5, 3],
            "attended": [100, 80, 10, 6],
            "expected": [120, 90, 12, 8],
            "attendance_rate": [100 / 120, 80 / 90, 10 / 12, 6 / 8],
            "mean_weekly_hours": [9.0, 9.5, 8.0, 7.0],
        }
    )
    fig = plots.adherence_chart(weekly)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [1, 2]
    caption, note = fig.texts[0].get_text().replace("\n", " ").split(" Not drawn")
    assert "still in treatment" in caption and "whole stay" in caption
    assert note == ": IOP weeks 3-4 (fewer than 11 episodes in treatment)."


def test_coarsen_steps_keeps_threshold_events_from_the_published_horizons():
    """Worked by hand on the curve of the test above (events 3, 4, 5, 2, 9, 4 at days 1-6;
    cumulative 3, 7, 12, 14, 23, 27). The readmission table publishes the events by its
    horizons, so no drawn step may sit 1-10 events from one:

    - a horizon at day 4 (14 events): the step at day 3 (12) would be 2 before it and is not
      drawn; counting afresh from 14, day 5 adds 9 and day 6 reaches 13: one step, at day 6;
    - a horizon at day 3 coincides with the step there (0 between): nothing changes;
    - a horizon at day 10, after the curve (27 events): the step at day 5 (23) would be 4
      before it and is not drawn."""
    time = [1, 2, 3, 4, 5, 6]
    estimate = [0.97, 0.93, 0.88, 0.86, 0.77, 0.73]
    events = [3, 4, 5, 2, 9, 4]
    at_risk = [100, 97, 93, 88, 86, 77]
    for anchors, want in (((4,), [6.0]), ((3,), [3.0, 5.0]), ((10,), [3.0]), ((), [3.0, 5.0])):
        t, _ = plots.coarsen_steps(time, estimate, events, at_risk, 11, anchors=anchors)
        assert t.tolist() == want, anchors


def test_km_steps_is_what_the_chart_draws():
    """The data of the chart: the start and the coarsened steps of iop (days 11, 22, 33, 44,
    55, as in the test above), its end (day 190), no step for residential (5 events), and
    the risk table."""
    curve = kaplan_meier(_km_frame(), "time", "event", by="program_type")
    data = plots.km_steps(curve)
    steps = data.filter(pl.col("part") == "step")
    assert steps["program_type"].unique().to_list() == ["iop"]
    assert steps["time"].to_list() == [0, 11, 22, 33, 44, 55]
    np.testing.assert_allclose(steps["estimate"], [0, 0.055, 0.11, 0.165, 0.22, 0.275])
    at_risk = data.filter(pl.col("part") == "at_risk", pl.col("program_type") == "residential")
    assert at_risk["at_risk"].to_list() == [None, None, 0, 0, 0]
    assert at_risk["status"].to_list() == ["small_count"] * 2 + ["published"] * 3
    end = data.filter(pl.col("part") == "end")
    assert end.select("time", "estimate").rows() == [(190.0, 0.275)]
    line = plots.km_chart(curve).axes[0].get_lines()[0]
    drawn = pl.concat([steps, end])["estimate"].to_numpy()
    np.testing.assert_allclose(line.get_ydata(), 100 * drawn)


def test_overlap_plot_draws_each_program_and_the_extreme_bands():
    ep = outcomes.episodes(outcomes.load(outcomes.sample_dir()))
    result = compare.compare(ep, "iop", "residential")
    fig = plots.overlap_plot(result.overlap)
    ax = fig.axes[0]
    # human labels, as in the tables
    assert [line.get_label() for line in ax.get_lines()] == ["IOP", "Residential"]
    assert "probability of IOP given" in ax.get_xlabel()
    assert ax.get_xlim() == (0.0, 1.0)
    # the densities integrate to about 1 over [0, 1] (trapezoid rule on the drawn grid)
    for line in ax.get_lines():
        x, y = line.get_data()
        assert np.trapezoid(y, x) == pytest.approx(1.0, abs=0.02)
    plt.close(fig)
