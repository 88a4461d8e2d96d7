"""The report's first words: what happened this quarter, in plain sentences written from the
protected cells (a withheld number is never guessed at; its sentence says it is withheld)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from outcomes.publication import Publication, trailing_year

if TYPE_CHECKING:
    from outcomes.publish_comparison import PublishedComparison

PROGRAMS = {"iop": "IOP", "residential": "residential care"}


def _cell(cells: pl.DataFrame, period: str, program: str, measure: str) -> dict | None:
    hit = cells.filter(
        pl.col("period") == period, pl.col("program") == program, pl.col("measure") == measure
    )
    return hit.row(0, named=True) if hit.height else None


def _rate(cell: dict | None, with_interval: bool = True) -> str:
    if cell is None or cell["status"] != "published" or cell["value"] is None:
        return "withheld (too few episodes to publish)"
    text = f"{100 * cell['value']:.1f}%"
    if with_interval and cell["ci_low"] is not None:
        text += f" (95% interval {100 * cell['ci_low']:.1f}-{100 * cell['ci_high']:.1f})"
    return text


def _count(cell: dict | None) -> str:
    if cell is None or cell["status"] != "published" or cell["denominator"] is None:
        return "a withheld number of"
    return f"{cell['denominator']:,}"


def _change(now: dict | None, before: dict | None) -> str | None:
    """How a rate moved from the previous quarter, judged by whether the intervals overlap."""
    if any(c is None or c["status"] != "published" or c["value"] is None for c in (now, before)):
        return None
    diff = 100 * (now["value"] - before["value"])
    if now["ci_low"] > before["ci_high"] or now["ci_high"] < before["ci_low"]:
        word = "rose" if diff > 0 else "fell"
        return f"{word} by {abs(diff):.1f} points, more than chance would explain"
    return f"moved {diff:+.1f} points, within what chance alone would give"


def headline(
    pub: Publication,
    period: str,
    data_dir: str | Path | None = None,
    comparison: PublishedComparison | None = None,
):
    """The summary page's opening as Markdown.

    Parameters
    ----------
    pub : Publication
        The protected cells (:func:`outcomes.publication.publication`).
    period : str
        The quarter reported.
    data_dir : str or Path, optional
        The export's folder: when it is the bundled sample, the text says the data are
        synthetic.
    comparison : PublishedComparison, optional
        The adjusted IOP-vs-residential comparison
        (:func:`outcomes.publish_comparison.comparison`): its result in words, the adjusted
        difference beside the raw one. Without it, a pointer to the section.

    With a national benchmark (``pub.benchmarks``), a line sets IOP and residential care
    beside TEDS-D: the observed-to-expected ratio of completion for their case-mix, in words
    (:func:`outcomes.publish_national.headline_line`); without one, it says none was given.
    """
    from IPython.display import Markdown

    from outcomes.metrics import shift_quarter
    from outcomes.publish_national import headline_line

    previous, ty = shift_quarter(period, -1), trailing_year(period)
    summary = pub.select("summary", [period, previous, ty])
    km = pub.select("readmission_km", ty)
    lines = [
        f"**{_count(_cell(summary, period, 'all programs', 'discharges'))} episodes ended in "
        f"{period}**: {_count(_cell(summary, period, 'iop', 'discharges'))} in intensive "
        f"outpatient (IOP) and {_count(_cell(summary, period, 'residential', 'discharges'))} "
        "in residential care.",
        "",
    ]
    for program, name in PROGRAMS.items():
        now = _cell(summary, period, program, "completion_rate")
        before = _cell(summary, previous, program, "completion_rate")
        year = _cell(summary, ty, program, "completion_rate")
        moved = _change(now, before)
        lines.append(
            f"- **{name[0].upper() + name[1:]}**: {_rate(now)} completed treatment"
            + (f"; against {previous}, completion {moved}" if moved else "")
            + f". Over the trailing year: {_rate(year, with_interval=False)}."
        )
    readmitted = [
        f"{PROGRAMS[p]} {_rate(_cell(km, ty, p, 'readmission_by_30d'), False)} by 30 days "
        f"and {_rate(_cell(km, ty, p, 'readmission_by_90d'), False)} by 90 days"
        for p in PROGRAMS
    ]
    lines += [
        f"- **Readmission** after discharges in {ty}: " + "; ".join(readmitted) + ".",
        (
            f"- **IOP against residential care** (discharges in {ty}): "
            + comparison.sentence()
            + " Details in the adjusted comparison near the end."
            if comparison is not None
            else "- **IOP against residential care**: the raw rates above compare programs "
            "whose clients differ; the adjusted comparison near the end of the report sets the "
            "raw difference beside the one adjusted for case-mix."
        ),
        headline_line(pub, period),
        "",
        "Outcomes are those of the episodes discharged in each period (data through the "
        f"as-of date, {pub.as_of}); percentages come with 95% intervals. Markers are "
        "explained under each table and in the glossary at the end.",
    ]
    if data_dir is not None and _is_sample(data_dir):
        lines += [
            "",
            "**These data are synthetic**: the bundled sample, generated by `outcomes synth`; "
            "no real client is in them.",
        ]
    return Markdown("\n".join(lines))


def _is_sample(data_dir: str | Path) -> bool:
    from outcomes.cohorts import sample_dir

    try:
        return Path(data_dir).resolve() == Path(sample_dir()).resolve()
    except OSError:
        return False


GLOSSARY = {
    "IOP": "Intensive outpatient program (ASAM level 2.1): about 3 sessions and 9-19 hours "
    "a week while the client lives at home; here usually planned for 6 to 8 weeks.",
    "Residential": "Live-in treatment (ASAM level 3.x), here usually planned for 45 to 90 days.",
    "PHP": "Partial hospitalization (ASAM level 2.5): 20 or more hours a week, day treatment.",
    "Outpatient": "Standard outpatient counselling (ASAM level 1): fewer than 9 hours a week.",
    "Detox": "Withdrawal management: a short medically supervised stay before treatment; "
    "never counted as a step-down.",
    "ASAM": "The American Society of Addiction Medicine, whose criteria define the levels of "
    "care (1 outpatient to 3.x residential).",
    "SAMHSA": "The Substance Abuse and Mental Health Services Administration (US), which "
    "publishes TEDS-D.",
    "Completed": "Discharged with the reason 'completed' (TEDS-D REASON 1).",
    "Completed or transferred": "SAMHSA's positive discharges: completed, or transferred to "
    "another program (TEDS-D REASON 1 and 4).",
    "Left in the first 2 weeks": "Left treatment early, within 14 days of admission.",
    "Step-down": "Admission to a lower level of care (PHP, IOP, outpatient) soon after a "
    "completed or transferred residential or PHP stay (7 and 14 days as in NQF #3453).",
    "Readmission": "The next admission after discharge that is not the step-down; shown as "
    "1 - Kaplan-Meier, which counts every discharge for the time it has been followed.",
    "NQF #3453": "The National Quality Forum's measure of continuity of care after "
    "inpatient or residential treatment: follow-up care within 7 and 14 days of discharge.",
    "Kaplan-Meier": "The estimate of the share still without the event by each day, which "
    "counts every client for as long as they have been followed.",
    "Trailing year": "The four quarters ending with the quarter reported.",
    "95% interval": "The range of values compatible with the data (Wilson's for rates).",
    "IPTW": "Inverse probability of treatment weighting: weights each client by the inverse "
    "of the chance of the program they got, given their case-mix, so that both programs look "
    "alike on measured characteristics.",
    "Propensity": "The estimated chance that a client is placed in IOP rather than "
    "residential care, given their case-mix (a logistic model).",
    "Doubly robust (AIPW)": "Augmented inverse probability weighting: the outcome model's "
    "prediction corrected by the weighted differences between what happened and what it "
    "predicted; right when either the propensity model or the outcome model is right. The "
    "comparison's headline estimate.",
    "Effective sample": "How many equally weighted episodes a weighted group is worth.",
    "Naive": "The programs compared as they are, without adjusting for their clients' differences.",
    "Regression (g-computation)": "Each client's predicted outcome in either program from a "
    "model of the outcome given program and case-mix, averaged over all clients.",
    "Standardized mean difference": "The gap between the programs in a case-mix "
    "characteristic, in standard deviations; below 0.1 after weighting is usually taken as "
    "balanced.",
    "Hazard ratio": "How much faster (above 1) or slower (below 1) readmission comes in IOP "
    "than in residential care, from a Cox model.",
    "Confounder": "A characteristic tied both to the program a client is placed in and to "
    "the outcome, which biases a naive comparison.",
    "ATE": "Average treatment effect: the difference if every client had been in IOP rather "
    "than residential care, averaged over both programs' clients.",
    "E-value": "How strongly an unmeasured factor would have to be tied to both program and "
    "outcome to explain the adjusted estimate away.",
    "TEDS-D": "SAMHSA's Treatment Episode Data Set - Discharges: the national public file of "
    "discharges from state-reported treatment programs, the source of the national lines.",
    "Observed / expected": "Completions that happened over those the clients would have had at "
    "the national (or state) rates for their case-mix (indirect standardisation); 1 means as "
    "predicted, below 1 fewer.",
}


def glossary(threshold: int = 11):
    """Every term and abbreviation the report uses, and the markers' legend
    (:func:`outcomes.suppression.legend`), as Markdown."""
    from IPython.display import Markdown

    from outcomes.suppression import legend

    terms = [f"- **{term}**: {text}" for term, text in GLOSSARY.items()]
    markers = "- **Markers**: " + " ".join(legend(threshold))
    return Markdown("## Glossary\n\n" + "\n".join([*terms, markers]))
