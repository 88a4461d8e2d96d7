"""The report beside TEDS-D: the observed-to-expected cells, their table, the reference lines of
the charts, and the sentences of the summary and the methods.

Given a benchmark table (:func:`outcomes.national.load_report_benchmarks`), the publication
(:func:`outcomes.publication.publication`) adds, for IOP and residential care and every
trailing year, two cells per reference (the nation, and the provider's state when given) to
the table ``benchmark``:

- ``completion_oe_<ref>`` (kind ``ratio``): observed completions over expected, with the
  exact Poisson interval; its numerator is the completions and its denominator the
  discharges, the very episode sets of the summary's completion rate, so the disclosure
  control treats it as that rate (withheld with it, published with it);
- ``completion_expected_<ref>`` (kind ``statistic``): the expected completions, not a count of
  people; shown only where its ratio is (:func:`follow_ratios`), since E = O / ratio.

Every episode gets an expected rate (its stratum's, else its setting's), so no new set of
episodes is published; and these cells cost nothing in the choice of what to withhold
(:func:`outcomes.publication._priority`), so the protection of every other cell is the same
with or without a benchmark. The reference lines are national aggregates of a public file:
drawn as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from outcomes.national._report import ReportBenchmarks
    from outcomes.publication import Publication

#: Programs given an observed-to-expected ratio (those of the summary).
OE_PROGRAMS = ("iop", "residential")
PROGRAM_NAMES = {"iop": "IOP", "residential": "Residential care"}
#: The TEDS-D settings each program's episodes are compared with (docs/national.md).
SETTING_TEXT = {
    "iop": "intensive outpatient (6)",
    "residential": "residential, short (4) or long (5) by plan",
}
#: The case-mix columns in words.
CASEMIX_WORDS = {
    "age_group": "age group",
    "sex": "sex",
    "substance": "primary substance",
    "co_occurring": "co-occurring mental disorder",
    "prior_treatment": "prior treatment",
    "referral": "referral source",
}


def _casemix_text(bench: ReportBenchmarks) -> str:
    return ", ".join(CASEMIX_WORDS.get(c, c) for c in bench.casemix)


TABLE = "benchmark"


def add_cells(builder, part: pl.DataFrame, period: str, expected: pl.DataFrame, refs) -> None:
    """The ``benchmark`` cells of one trailing year (see the module).

    ``part`` holds the period's discharged episodes (``__row, program_type, completed``);
    ``expected`` is :meth:`ReportBenchmarks.expected` of all discharges (``__row, reference,
    expected``); ``refs`` the references' measure suffixes (``nation``, ``state``).
    """
    from scipy import stats

    for program in OE_PROGRAMS:
        group = part.filter(pl.col("program_type") == program)
        if group.is_empty():
            continue
        rows = group["__row"].to_numpy()
        done = group.filter(pl.col("completed").fill_null(False))["__row"].to_numpy()
        for ref in refs:
            rates = group.select("__row").join(
                expected.filter(pl.col("reference") == ref).select("__row", "expected"),
                on="__row",
                how="left",
            )["expected"]
            ratio = low = high = e = None
            if rates.null_count() == 0 and rates.sum() > 0:
                e, o = float(rates.sum()), int(done.size)
                ratio = o / e
                low = stats.chi2.ppf(0.025, 2 * o) / (2 * e) if o else 0.0
                high = stats.chi2.ppf(0.975, 2 * o + 2) / (2 * e)
            builder.add(TABLE, period, program, None, f"completion_oe_{ref}", "ratio",
                        ratio, low, high, num_rows=done, den_rows=rows)  # fmt: skip
            builder.add(TABLE, period, program, None, f"completion_expected_{ref}", "statistic",
                        e, den_rows=rows)  # fmt: skip


def follow_ratios(cells: pl.DataFrame) -> pl.DataFrame:
    """An expected count shown only beside its published ratio: each
    ``completion_expected_<ref>`` cell takes the status of its ``completion_oe_<ref>`` cell
    (and loses its value when that is not published)."""
    ratio = cells.filter(
        pl.col("table") == TABLE, pl.col("measure").str.starts_with("completion_oe_")
    ).select(
        "period",
        "program",
        pl.col("measure").str.replace("completion_oe_", "completion_expected_"),
        pl.col("status").alias("_ratio_status"),
    )
    if ratio.is_empty():
        return cells
    out = cells.join(ratio, on=["period", "program", "measure"], how="left", maintain_order="left")
    follows = pl.col("_ratio_status").is_not_null() & (pl.col("table") == TABLE)
    status = pl.when(follows).then(pl.col("_ratio_status")).otherwise(pl.col("status"))
    hide = follows & (pl.col("_ratio_status") != "published")
    return out.with_columns(
        status.alias("status"),
        *[
            pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("value", "ci_low", "ci_high", "numerator", "denominator")
        ],
    ).drop("_ratio_status")


def _verdict(low: float, high: float) -> str:
    if high < 1:
        return "fewer than predicted, beyond what chance would explain"
    if low > 1:
        return "more than predicted, beyond what chance would explain"
    return "no clear difference"


def _ratio_words(cell: dict | None, whose: str, program: str | None) -> str:
    """A published ratio cell in words: ``IOP completion was 0.92 times what the national
    rates would predict ... (95% interval 0.81 to 1.04): no clear difference`` for the first
    reference (``program`` given), ``at NY's rates, 1.05 (0.93 to 1.18): ...`` for the next;
    what stands in its place when it is withheld or has no TEDS-D discharge to compare with."""
    if cell is None or cell["status"] != "published":
        if program is not None:
            return f"{program}'s ratio to {whose} rates is withheld (too few episodes to publish)"
        return f"at {whose} rates, withheld (too few episodes to publish)"
    if cell["value"] is None:
        if program is not None:
            return f"{program}: no TEDS-D discharge in its setting at {whose} rates to compare"
        return f"at {whose} rates, none to compare (no TEDS-D discharge in the setting)"
    ratio, low, high = cell["value"], cell["ci_low"], cell["ci_high"]
    if program is not None:
        return (
            f"{program} completion was {ratio:.2f} times what {whose} rates would predict for "
            f"these clients' case-mix (95% interval {low:.2f} to {high:.2f}): "
            f"{_verdict(low, high)}"
        )
    return f"at {whose} rates, {ratio:.2f} ({low:.2f} to {high:.2f}): {_verdict(low, high)}"


def headline_line(pub: Publication, period: str) -> str:
    """The summary's bullet on TEDS-D: the observed-to-expected ratio of IOP and residential
    care in plain words, or that no benchmark was given."""
    from outcomes.publication import trailing_year

    bench = pub.benchmarks
    if bench is None:
        return (
            "- **Against the nation**: no national benchmark was given, so no program is set "
            "beside TEDS-D (SAMHSA's national discharge data) in this report."
        )
    ty = trailing_year(period)
    if not bench.oe_references():
        return (
            "- **Against TEDS-D**: the benchmark table has no case-mix strata, so no ratio "
            "adjusted for case-mix is given (`outcomes national --report` makes them); the "
            "charts draw its national lines."
        )
    cells = pub.select(TABLE, ty)
    whose = {"nation": "the national", "state": f"{bench.state}'s"}
    parts = []
    for program in OE_PROGRAMS:
        found = {
            r["measure"].removeprefix("completion_oe_"): r
            for r in cells.filter(
                pl.col("program") == program, pl.col("measure").str.starts_with("completion_oe_")
            ).iter_rows(named=True)
        }
        if not found:
            continue
        words = [
            _ratio_words(found.get(ref), whose[ref], PROGRAM_NAMES[program] if i == 0 else None)
            for i, ref in enumerate(bench.oe_references())
        ]
        parts.append("; ".join(words))
    if not parts:
        return f"- **Against TEDS-D**: no IOP or residential discharge in {ty} to compare."
    return (
        f"- **Against TEDS-D** (discharges in {ty}, beside TEDS-D {bench.years_text}): "
        + ". ".join(parts)
        + "."
    )


def benchmark_table(pub: Publication, period: str):
    """Observed and expected completions of IOP and residential care beside TEDS-D, for the
    trailing year's discharges: a :class:`outcomes.publish.PublishedTable` (tidy cells of
    the ``benchmark`` table), or a line saying that no benchmark was given."""
    from IPython.display import Markdown

    from outcomes.publication import trailing_year
    from outcomes.publish import PublishedTable, _markers_note, display

    bench = pub.benchmarks
    if bench is None:
        return Markdown(
            "*No national benchmark was given: the charts draw no TEDS-D line and the report "
            "sets no program beside the nation (`outcomes report --benchmarks`, "
            "docs/national.md).*"
        )
    if not bench.oe_references():
        return Markdown(
            "*The benchmark table has no case-mix strata, so no completion adjusted for "
            "case-mix is set beside TEDS-D (`outcomes national --report` makes them).*"
        )
    ty = trailing_year(period)
    cells = pub.select(TABLE, ty)
    shown = cells.with_columns(display(cells, pub.threshold))
    rows = []
    names = dict(bench.references())
    for program in OE_PROGRAMS:
        for ref in bench.oe_references():
            name = names[ref]
            ratio = _one(shown, program, f"completion_oe_{ref}")
            exp = _one(shown, program, f"completion_expected_{ref}")
            if ratio is None:
                continue
            published = ratio["status"] == "published"
            n, o, e = ratio["denominator"], ratio["numerator"], exp and exp["value"]
            if not published:
                counts = [ratio["display"]] * 4
            else:
                counts = [
                    f"{n:,}",
                    f"{o:,}",
                    f"{e:.1f} ({100 * e / n:.1f}%)" if e is not None else "\u2013",
                    f"{ratio['value']:.2f} ({ratio['ci_low']:.2f}-{ratio['ci_high']:.2f})"
                    if ratio["value"] is not None
                    else "\u2013",
                ]
            rows.append(
                (
                    PROGRAM_NAMES[program],
                    "The nation" if ref == "nation" else name,
                    SETTING_TEXT[program],
                    *counts,
                )
            )
    columns = ["Program", "Rates of", "TEDS-D setting", "Discharges", "Completed",
               "Expected (rate)", "Observed / expected"]  # fmt: skip
    table = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
    from outcomes.publish import _tidy

    return PublishedTable(
        name="national_benchmark",
        title=f"Completion against TEDS-D {bench.years_text}, adjusted for case-mix "
        f"(discharges in {ty})",
        table=table,
        notes=(
            "Expected: the completions these discharges would have had at the reference's "
            "rates, each episode given the TEDS-D completion rate of its setting and case-mix "
            f"({_casemix_text(bench)}); an episode whose "
            "stratum has no TEDS-D discharge gets its setting's overall rate.",
            "Observed / expected with an exact Poisson 95% interval: below 1, fewer "
            "completions than these clients would have had at the reference's rates; an "
            "interval that includes 1 is compatible with no difference. '–': no TEDS-D "
            "discharge in the setting.",
            _markers_note(pub.threshold),
        ),
        tidy=_tidy(cells),
    )


def _one(cells: pl.DataFrame, program: str, measure: str) -> dict | None:
    hit = cells.filter(pl.col("program") == program, pl.col("measure") == measure)
    return hit.row(0, named=True) if hit.height else None


def reference_lines(pub: Publication, cells: pl.DataFrame, measure: str) -> pl.DataFrame:
    """The TEDS-D lines a chart of cells draws: for each drawn row (published, with a value)
    of ``cells`` (``program, band``), the nation's (and the state's) rate or median stay in
    the setting of its program and band (:func:`outcomes.national._mapping.band_setting`).

    Returns
    -------
    polars.DataFrame
        ``table`` (``teds_d``), ``period`` (the TEDS-D years), ``program``, ``band``,
        ``measure`` (``measure`` of the cells), ``value, ci_low, ci_high`` (a rate with its
        Wilson interval, or the median stay with its 25th and 75th percentiles on this
        project's day count), ``numerator, denominator`` (TEDS-D discharges), ``status``
        (``published``: public aggregates), ``reference`` (``nation`` or the state),
        ``teds_services`` (the SERVICES_D codes), ``teds_median`` (length of stay: the median
        as TEDS-D counts it).
    """
    from outcomes.national._mapping import band_setting

    bench = pub.benchmarks
    schema = {
        "table": pl.String, "period": pl.String, "program": pl.String, "band": pl.String,
        "measure": pl.String, "value": pl.Float64, "ci_low": pl.Float64,
        "ci_high": pl.Float64, "numerator": pl.Int64, "denominator": pl.Int64,
        "status": pl.String, "reference": pl.String, "teds_services": pl.String,
        "teds_median": pl.Float64,
    }  # fmt: skip
    out = []
    if bench is not None:
        drawn = cells.filter(pl.col("status") == "published", pl.col("value").is_not_null())
        for r in drawn.iter_rows(named=True):
            key = band_setting(r["program"], r["band"])
            for ref, name in bench.references():
                state = ref == "state"
                if measure == "median_los_days":
                    line = bench.los_line(key, state=state)
                else:
                    line = bench.rate_line(key, "completion", state=state)
                if line is None:
                    continue
                out.append(
                    {
                        "table": "teds_d",
                        "period": bench.years_text,
                        "program": r["program"],
                        "band": r["band"],
                        "measure": measure,
                        "value": line["value"],
                        "ci_low": line["ci_low"],
                        "ci_high": line["ci_high"],
                        "numerator": line.get("numerator"),
                        "denominator": line["denominator"],
                        "status": "published",
                        "reference": "nation" if ref == "nation" else name,
                        "teds_services": line["teds_services"],
                        "teds_median": line.get("teds_median"),
                    }
                )
    return pl.DataFrame(out, schema=schema)


def methods_line(bench: ReportBenchmarks | None) -> str:
    """The methods section's bullet on the national benchmark (with sub-bullets)."""
    if bench is None:
        return (
            "- **National benchmark**: none was given (`outcomes report --benchmarks FILE`, "
            "a table made by `outcomes national --report` from SAMHSA's TEDS-D public file; "
            "docs/national.md), so no chart draws a national line."
        )
    nation = (
        f"the nation (all {len(bench.states)} states and territories in the table)"
        if bench.states
        else "the nation"
    )
    if bench.state is None:
        state = "; no state was given (`--state`)"
    elif bench.state_strata:
        state = f" and {bench.state}"
    else:
        state = f" and {bench.state} (lines only: the table has no case-mix strata of it)"
    adjust = (
        f"indirect standardisation by {_casemix_text(bench)} within the setting; a stratum "
        "without TEDS-D discharges falls back on the setting's rate; exact Poisson interval."
        if bench.casemix
        else "none: the table has no case-mix strata (`outcomes national --report` makes them)."
    )
    return "\n".join(
        [
            f"- **National benchmark**: TEDS-D discharges of {bench.years_text} (SAMHSA's "
            f"public-use file; table `{bench.name}`), for {nation}{state}. TEDS-D holds mostly "
            "the programs that receive state or federal treatment funds, as each state "
            "reports them; its lines are unadjusted.",
            "  - *Settings compared*: IOP and PHP with intensive outpatient; residential care "
            "planned for 30 days or fewer with short-term, for more with long-term residential "
            "(in the charts, bands of 45 days and more with long-term, shorter or unknown bands "
            "with both pooled); outpatient with non-intensive outpatient; detox with the three "
            "detox settings.",
            f"  - *Observed to expected*: {adjust}",
            "  - *Length of stay*: TEDS-D counts from admission to the last contact, a stay "
            "under a day as one day, and adds a day to ambulatory stays (IOP, outpatient) so "
            "that both the first and the last day count; this report counts the discharge "
            "date minus the admission date (same day: 0). TEDS-D's ambulatory quartiles are "
            "therefore drawn one day lower; residential ones as they are. Over 30 days TEDS-D "
            "records ranges (31-45, 46-60, 61-90 days ...), its quartiles interpolated "
            "inside them.",
        ]
    )


def load(benchmarks: str | None, state: str | None = None) -> ReportBenchmarks | None:
    """The report notebook's benchmark: :func:`outcomes.national.load_report_benchmarks` of
    the ``benchmarks`` path with ``state``, or None when no path is given."""
    if benchmarks is None:
        return None
    from outcomes.national import load_report_benchmarks

    return load_report_benchmarks(benchmarks, state)
