"""Tables as the report publishes them: suppressed, formatted, and carrying their footnotes.

A :class:`PublishedTable` holds only what may leave the analyst's hands: every count has gone
through :mod:`outcomes.suppression`. It renders itself in a notebook (``_repr_html_``) as a
plain table with its notes, and writes itself to CSV with the same cells.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from outcomes.dataset import Dataset
from outcomes.quality import issue_summary
from outcomes.suppression import (
    DEFAULT_THRESHOLD,
    PERCENT_METRICS,
    suppress_counts,
    suppress_metrics,
)


@dataclass(frozen=True)
class PublishedTable:
    """A publishable table: display strings only, with a title and footnotes.

    Attributes
    ----------
    name : str
        File-safe name (the CSV is ``<name>.csv``).
    title : str
        Caption shown above the table.
    table : polars.DataFrame
        String columns, as published (suppressed cells show ``<threshold``).
    notes : tuple of str
        Footnotes: method, suppression, caveats.
    """

    name: str
    title: str
    table: pl.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def withheld(self) -> int:
        """How many cells suppression withheld (shown as ``<threshold`` ...)."""
        return (
            int(
                self.table.select(
                    pl.sum_horizontal(pl.col(pl.String).str.starts_with("<").cast(pl.Int64))
                )
                .to_series()
                .sum()
            )
            if self.table.height
            else 0
        )

    def write_csv(self, folder: str | Path) -> Path:
        path = Path(folder) / f"{self.name}.csv"
        self.table.write_csv(path)
        return path

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.table.columns)
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r)
            + "</tr>"
            for r in self.table.iter_rows()
        )
        withheld = self.withheld
        extra = (
            (f"{withheld} cell(s) of this table withheld by small-cell suppression.",)
            if withheld
            else ()
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in (*self.notes, *extra))
        return (
            f'<figure class="outcomes-table" data-name="{html.escape(self.name)}">'
            f"<figcaption><strong>{html.escape(self.title)}"
            f"</strong></figcaption><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            f'</table><ul class="outcomes-notes">{notes}</ul></figure>'
        )


def suppression_note(threshold: int) -> str:
    return (
        f"Counts from 1 to {threshold - 1} are shown as <{threshold}; where one hidden count "
        "could be worked out from a total, the next smallest count is hidden too. Zero is shown."
    )


def accounting_table(ds: Dataset, threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    """Rows read, kept and excluded per input file, suppressed.

    Each file's read = kept + excluded is a published total: a small excluded count forces its
    kept count to be hidden too (complementary suppression within the file).
    """
    long = ds.accounting.unpivot(
        index="file",
        on=["rows_read", "rows_kept", "rows_excluded"],
        variable_name="what",
        value_name="rows",
    )
    kept_excluded = suppress_counts(
        long.filter(pl.col("what") != "rows_read"), "rows", groups=["file"], threshold=threshold
    )
    read = suppress_counts(
        long.filter(pl.col("what") == "rows_read"),
        "rows",
        threshold=threshold,
        total_published=False,
    )
    shown = (
        pl.concat([read, kept_excluded])
        .pivot(on="what", index="file", values="display")
        .select(
            pl.col("file"),
            pl.col("rows_read").alias("rows read"),
            pl.col("rows_kept").alias("rows kept"),
            pl.col("rows_excluded").alias("rows excluded"),
        )
    )
    return PublishedTable(
        name="data_quality_accounting",
        title="Rows read, kept and excluded per file",
        table=shown,
        notes=(
            "Rows that break the data contract are excluded with the sessions and follow-ups "
            "of an excluded episode; the rules are in the data dictionary.",
            suppression_note(threshold),
        ),
    )


def issues_table(ds: Dataset, threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    """Problems the loader found, by file and rule, with suppressed row counts."""
    summary = issue_summary(ds).select("file", "rule", "severity", "rows", "columns")
    shown = suppress_counts(summary, "rows", groups=["file"], threshold=threshold)
    return PublishedTable(
        name="data_quality_issues",
        title="Data problems by file and rule",
        table=shown.select("file", "rule", "severity", pl.col("display").alias("rows"), "columns"),
        notes=(
            "error: the row was excluded; warning: the row was kept and counted as the "
            "definitions say.",
            suppression_note(threshold),
        )
        if summary.height
        else ("No problems: every row follows the data contract.",),
    )


METRIC_LABELS = {
    "admissions": "Admissions",
    "discharges": "Discharges",
    "completion_rate": "Completion",
    "completion_or_transfer_rate": "Completion or transfer",
    "early_dropout_rate": "Early dropout (<14 days)",
    "median_los_days": "Median length of stay (days)",
    "attendance_rate": "Attendance",
    "mean_weekly_hours": "Mean weekly hours",
    "intensity_met_rate": "IOP at >= 9 h/week",
    "step_down_7d": "Step-down within 7 days",
    "step_down_14d": "Step-down within 14 days",
    "step_down_30d": "Step-down within 30 days",
    "readmission_30d": "Readmission within 30 days",
    "readmission_90d": "Readmission within 90 days",
    "readmission_180d": "Readmission within 180 days",
    "readmission_365d": "Readmission within 365 days",
    "relapse_30d": "Relapse within 30 days",
    "relapse_90d": "Relapse within 90 days",
    "relapse_180d": "Relapse within 180 days",
    "relapse_365d": "Relapse within 365 days",
}


def _with_interval(shown: pl.DataFrame) -> pl.Expr:
    """``display`` with the interval appended for proportions that are shown."""
    pct = pl.col("metric").str.contains(PERCENT_METRICS)
    lo = pl.when(pct).then(pl.col("ci_low") * 100).otherwise(pl.col("ci_low")).round(1)
    hi = pl.when(pct).then(pl.col("ci_high") * 100).otherwise(pl.col("ci_high")).round(1)
    has_ci = (
        ~pl.col("suppressed")
        & pl.col("ci_low").is_not_null()
        & pl.col("metric").is_in(["admissions", "discharges"]).not_()
    )
    return (
        pl.when(has_ci)
        .then(pl.format("{} ({}-{})", pl.col("display"), lo, hi))
        .otherwise(pl.col("display"))
        .alias("display")
    )


def metric_table(
    table: pl.DataFrame,
    metrics: list[str],
    by: list[str],
    name: str,
    title: str,
    threshold: int = DEFAULT_THRESHOLD,
    notes: tuple[str, ...] = (),
) -> PublishedTable:
    """A wide published table from the long metric table: one row per group, one column per
    metric (its display, with the 95% interval for rates), after suppression."""
    long = suppress_metrics(table.filter(pl.col("metric").is_in(metrics)), threshold)
    long = long.with_columns(_with_interval(long))
    wide = long.pivot(on="metric", index=by, values="display").select(
        *by, *[m for m in metrics if m in long["metric"].unique()]
    )
    wide = wide.rename({m: METRIC_LABELS.get(m, m) for m in metrics if m in wide.columns})
    return PublishedTable(
        name=name,
        title=title,
        table=wide.with_columns(pl.col(by).cast(pl.String)) if by else wide,
        notes=(
            *notes,
            "Rates with their 95% Wilson interval in brackets; median length of stay with "
            "its 25th-75th percentiles. n/a: no episode to count.",
            suppression_note(threshold),
        ),
    )


KEY_METRICS = (
    "discharges",
    "completion_rate",
    "completion_or_transfer_rate",
    "early_dropout_rate",
    "median_los_days",
    "attendance_rate",
    "intensity_met_rate",
    "step_down_30d",
    "readmission_30d",
    "readmission_90d",
)


def key_figures(
    ds: Dataset,
    period: str,
    as_of: str | None = None,
    programs: tuple[str, ...] = ("iop", "residential"),
    threshold: int = DEFAULT_THRESHOLD,
) -> PublishedTable:
    """The summary page: key metrics of the quarter beside the previous quarter and the
    trailing year (the four quarters ending with it), per program and for all programs."""
    from outcomes.episodes import as_date, episodes
    from outcomes.metrics import metrics, shift_quarter

    cut = as_date(as_of, ds.last_date)
    ep = episodes(ds, cut)
    columns = {
        period: period,
        shift_quarter(period, -1): "previous quarter",
        f"{shift_quarter(period, -3)}-{period}": "trailing year",
    }
    parts = []
    for cohort, label in columns.items():
        by_program = metrics(ep, by=["program_type"], period=cohort, as_of=cut).filter(
            pl.col("program_type").is_in(programs)
        )
        overall = metrics(ep, by=[], period=cohort, as_of=cut).with_columns(
            pl.lit("all programs").alias("program_type")
        )
        both = pl.concat([by_program, overall.select(by_program.columns)])
        shown = suppress_metrics(both.filter(pl.col("metric").is_in(KEY_METRICS)), threshold)
        parts.append(shown.with_columns(_with_interval(shown), pl.lit(label).alias("cohort")))
    long = pl.concat(parts)
    order = {m: i for i, m in enumerate(KEY_METRICS)}
    wide = (
        long.with_columns(
            pl.format("{}: {}", pl.col("program_type"), pl.col("cohort")).alias("column"),
            pl.col("metric").replace_strict(order, return_dtype=pl.Int32).alias("__o"),
        )
        .sort("__o")
        .pivot(on="column", index="metric", values="display")
        .with_columns(pl.col("metric").replace_strict(METRIC_LABELS))
    )
    return PublishedTable(
        name="key_figures",
        title=f"Key figures, {period}: this quarter, the previous quarter and the trailing year",
        table=wide,
        notes=(
            "Outcomes are for the episodes discharged in each period; windowed rates count "
            "only discharges whose window had ended by the as-of date.",
            "Rates with their 95% Wilson interval in brackets; median length of stay with "
            "its 25th-75th percentiles.",
            suppression_note(threshold),
        ),
    )


def cohort_metrics(ds: Dataset, by: list[str], period: str, as_of: str | None) -> pl.DataFrame:
    from outcomes.metrics import metrics

    return metrics(ds, by=by, period=period, as_of=as_of)


def completion_table(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
) -> PublishedTable:
    """Completion, dropout, length of stay, attendance and dose of the period's discharges, by
    program and planned length."""
    by = ["program_type", "length_band"]
    return metric_table(
        cohort_metrics(ds, by, period, as_of),
        [
            "discharges",
            "completion_rate",
            "completion_or_transfer_rate",
            "early_dropout_rate",
            "median_los_days",
            "attendance_rate",
            "mean_weekly_hours",
            "intensity_met_rate",
        ],
        by,
        name="completion_and_attendance",
        title=f"Completion and attendance of the episodes discharged in {period}",
        threshold=threshold,
        notes=(
            "Attendance: attended / (attended + no-show) per episode, averaged; excused and "
            "cancelled sessions are not expected. IOP at >= 9 h/week: the ASAM 2.1 adult "
            "minimum, among IOP stays of a week or more.",
        ),
    )


def transitions_table(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
) -> PublishedTable:
    """Step-down and readmission of the trailing year's discharges (four quarters to
    ``period``), by program: long windows need discharges old enough to have ended them."""
    from outcomes.metrics import shift_quarter

    cohort = f"{shift_quarter(period, -3)}-{period}"
    return metric_table(
        cohort_metrics(ds, ["program_type"], cohort, as_of),
        [
            "discharges",
            "step_down_7d",
            "step_down_14d",
            "step_down_30d",
            "readmission_30d",
            "readmission_90d",
            "readmission_180d",
        ],
        ["program_type"],
        name="step_down_and_readmission",
        title=f"Step-down and readmission after discharges in {cohort}",
        threshold=threshold,
        notes=(
            "Step-down: admission to a lower level of care (php, IOP, outpatient) within "
            "the window after a completed or transferred residential or php stay (7 and 14 "
            "days as in NQF #3453). Readmission: the next admission after discharge that "
            "is not the step-down. Each rate counts only discharges whose window had "
            "ended by the as-of date.",
        ),
    )


def discharge_reason_table(
    ds: Dataset, period: str, as_of: str | None = None, threshold: int = DEFAULT_THRESHOLD
) -> PublishedTable:
    """How the period's episodes ended, as shares of discharges, by program."""
    from outcomes.schema import DISCHARGE_REASONS

    names = [f"discharge_reason_{r}" for r in DISCHARGE_REASONS]
    table = metric_table(
        cohort_metrics(ds, ["program_type"], period, as_of),
        ["discharges", *names],
        ["program_type"],
        name="discharge_reasons",
        title=f"Reasons for discharge in {period}",
        threshold=threshold,
        notes=(
            "Completed and transferred together are SAMHSA's positive discharges "
            "(TEDS-D REASON 1 and 4).",
        ),
    )
    rename = {n: n.removeprefix("discharge_reason_").replace("_", " ") for n in names}
    return PublishedTable(
        table.name,
        table.title,
        table.table.rename({k: v for k, v in rename.items() if k in table.table.columns}),
        table.notes,
    )


def readmission_survival_table(
    ds: Dataset,
    period: str,
    as_of: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    times: tuple[int, ...] = (30, 90, 180, 365),
    outcome: str = "readmission",
) -> PublishedTable:
    """Kaplan-Meier probability of readmission by 30/90/180/365 days after discharge, by
    program, for the discharges of the trailing year (four quarters to ``period``).

    Every discharge counts, censored at the as-of date (deaths at discharge left out). An
    estimate is published only where at least ``threshold`` episodes are still at risk;
    numbers at risk go through suppression.
    """
    from outcomes.episodes import as_date
    from outcomes.metrics import period_bounds, shift_quarter
    from outcomes.survival import readmission_data, relapse_data, survival_at

    cohort = f"{shift_quarter(period, -3)}-{period}"
    first, last = period_bounds(cohort)
    if outcome == "relapse" and ds.followups is None:
        return PublishedTable(
            name="relapse_kaplan_meier",
            title="Relapse after discharge",
            table=pl.DataFrame({"program_type": []}, schema={"program_type": pl.String}),
            notes=("Not available: the export has no follow-up contacts.",),
        )
    build = relapse_data if outcome == "relapse" else readmission_data
    data = build(ds, as_date(as_of, ds.last_date)).filter(
        pl.col("discharge_date").is_between(first, last)
    )
    at = survival_at(data, "time", "event", times=times, by="program_type")
    events = (
        at.select("program_type", "time")
        .join(data.select("program_type", pl.col("time").alias("t"), "event"), on="program_type")
        .group_by("program_type", "time")
        .agg((pl.col("event") & (pl.col("t") <= pl.col("time"))).sum().alias("events"))
    )
    at = at.join(events, on=["program_type", "time"], how="left")
    shown = suppress_counts(
        at.with_columns(pl.col("n_risk").cast(pl.Int64)),
        "n_risk",
        threshold=threshold,
        total_published=False,
    )
    cell = (
        pl.when(pl.col("suppressed"))
        .then(pl.lit(f"<{threshold} at risk"))
        .when(pl.col("events").is_between(1, threshold - 1))
        .then(pl.lit(f"<{threshold} {outcome}s"))
        .otherwise(
            pl.format(
                "{}% ({}-{}); {} at risk",
                ((1 - pl.col("estimate")) * 100).round(1),
                ((1 - pl.col("ci_high")) * 100).round(1),
                ((1 - pl.col("ci_low")) * 100).round(1),
                pl.col("display"),
            )
        )
    )
    wide = shown.with_columns(
        cell.alias("cell"), pl.format("{} days", pl.col("time").cast(pl.Int64)).alias("horizon")
    ).pivot(on="horizon", index="program_type", values="cell")
    return PublishedTable(
        name=f"{outcome}_kaplan_meier",
        title=f"{outcome.capitalize()} by days after discharge (Kaplan-Meier), discharges in "
        f"{cohort}",
        table=wide,
        notes=(
            f"Cumulative probability of {outcome}, 1 - Kaplan-Meier, with its 95% interval "
            f"(log transform); every discharge counts until {outcome} or the as-of date, so "
            "recent discharges add what they have. Horizons past a program's last follow-up "
            "are left out.",
            f"Estimates are shown only where at least {threshold} episodes remain at risk and "
            f"none or at least {threshold} {outcome}s have occurred.",
            *(
                (
                    "Relapse: the first of readmission and a follow-up contact reporting use since "
                    "discharge; clients not reached are followed through readmissions only.",
                )
                if outcome == "relapse"
                else ()
            ),
            suppression_note(threshold),
        ),
    )


EFFECT_LABELS = {
    "completion_risk_difference": "Completion: risk difference (points)",
    "completion_risk_ratio": "Completion: risk ratio",
    "readmission_hazard_ratio": "Readmission: hazard ratio",
    "readmission_risk_difference_90d": "Readmission by 90 days: risk difference (points)",
    "readmission_risk_difference_365d": "Readmission by 365 days: risk difference (points)",
}


def comparison_table(
    ds: Dataset,
    period: str,
    as_of: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    treatment: str = "iop",
    control: str = "residential",
    n_boot: int = 200,
) -> PublishedTable:
    """The adjusted IOP-vs-residential comparison for the trailing year's discharges: each
    outcome naive, weighted (IPTW) and regression-adjusted, with the E-values and the balance
    achieved in the notes. Withheld when either program has fewer than ``threshold``
    episodes."""
    from outcomes.compare import compare
    from outcomes.episodes import as_date, episodes
    from outcomes.metrics import period_bounds, shift_quarter

    cohort = f"{shift_quarter(period, -3)}-{period}"
    first, last = period_bounds(cohort)
    ep = episodes(ds, as_date(as_of, ds.last_date)).filter(
        pl.col("discharge_date").is_between(first, last)
    )
    counts = ep.filter(pl.col("program_type").is_in([treatment, control]))[
        "program_type"
    ].value_counts()
    title = f"{treatment.upper()} against {control}, discharges in {cohort}"
    if counts.height < 2 or counts["count"].min() < threshold:
        return PublishedTable(
            name="adjusted_comparison",
            title=title,
            table=pl.DataFrame(
                {"outcome": [], "naive": [], "iptw": [], "regression": []},
                schema=dict.fromkeys(("outcome", "naive", "iptw", "regression"), pl.String),
            ),
            notes=(f"Not shown: fewer than {threshold} episodes in a program.",),
        )
    result = compare(ep, treatment, control, n_boot=n_boot)
    eff = result.effects
    points = pl.col("outcome").str.contains("difference")
    scale = pl.when(points).then(100.0).otherwise(1.0)
    cell = pl.format(
        "{} ({} to {})",
        (pl.col("estimate") * scale).round(2),
        (pl.col("ci_low") * scale).round(2),
        (pl.col("ci_high") * scale).round(2),
    )
    wide = (
        eff.with_columns(cell.alias("cell"))
        .pivot(on="method", index="outcome", values="cell")
        .with_columns(pl.col("outcome").replace_strict(EFFECT_LABELS))
        .select(
            "outcome", *[m for m in ("naive", "iptw", "regression") if m in eff["method"].unique()]
        )
        .fill_null("n/a")
    )
    ev = result.evalues.filter(pl.col("method") == "iptw")
    evalue_note = "; ".join(
        f"{EFFECT_LABELS[r['outcome']].split(':')[0].lower()} {r['evalue_estimate']:.2f} "
        f"(interval {r['evalue_ci']:.2f})"
        for r in ev.iter_rows(named=True)
    )
    n1, n0 = eff["n_treated"][0], eff["n_control"][0]
    return PublishedTable(
        name="adjusted_comparison",
        title=title,
        table=wide,
        notes=(
            f"{n1} {treatment} and {n0} {control} episodes; estimand: the average effect in "
            "both programs' clients (ATE). Differences are IOP minus residential, in "
            "percentage points.",
            *result.notes[1:],
            f"E-values of the weighted ratios: {evalue_note}.",
        ),
    )
