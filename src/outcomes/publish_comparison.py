"""The adjusted IOP-vs-residential comparison as the quarterly report publishes it.

The estimates come from :func:`outcomes.compare.compare`; this module decides which of them
may be published (the disclosure rules of :mod:`outcomes.publish`), formats them, and adds the
overlap chart and the weight diagnostics the reader needs to trust them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from outcomes.compare import Comparison
from outcomes.dataset import Dataset
from outcomes.publication import Publication, trailing_year
from outcomes.publish import PROGRAM_LABELS, PublishedTable, _tidy

if TYPE_CHECKING:
    from outcomes.figures import PublishedFigure

EFFECT_LABELS = {
    "completion_risk_difference": "Completion: difference (points)",
    "completion_risk_ratio": "Completion: ratio",
    "readmission_hazard_ratio": "Readmission: hazard ratio",
    "readmission_risk_difference_90d": "Readmission by 90 days: difference (points)",
    "readmission_risk_difference_365d": "Readmission by 365 days: difference (points)",
}


@dataclass(frozen=True)
class PublishedComparison:
    """What the report shows of the adjusted comparison.

    Attributes
    ----------
    table : PublishedTable
        The effects (or why they are not shown).
    overlap : polars.DataFrame or None
        ``group, ps, density`` for :meth:`figure` (a smoothed density, no counts).
    diagnostics : PublishedTable or None
        Overlap and weights per program.
    effects : polars.DataFrame or None
        The published rows of :data:`~outcomes.compare.EFFECT_COLUMNS` (numbers, for the
        first page's sentence).
    """

    table: PublishedTable
    overlap: pl.DataFrame | None = None
    diagnostics: PublishedTable | None = None
    effects: pl.DataFrame | None = None

    def sentence(self) -> str:
        """The adjusted completion difference next to the raw one, in words: "IOP completion
        was 3.6 points lower than residential care's (95% interval 8.7 lower to 1.6 higher):
        no clear difference. Unadjusted, ..."; or why the comparison is not shown."""
        if self.effects is None:
            return (
                "the adjusted comparison is not shown ("
                + self.table.notes[0].rstrip(".").lower().removeprefix("not shown: ")
                + ")."
            )

        def row(outcome: str, method: str) -> dict | None:
            hit = self.effects.filter(pl.col("outcome") == outcome, pl.col("method") == method)
            return hit.row(0, named=True) if hit.height else None

        def points(v: float, unit: str = "") -> str:
            return f"{abs(100 * v):.1f}{unit} {'higher' if v > 0 else 'lower'}"

        adjusted = row("completion_risk_difference", "aipw")
        naive = row("completion_risk_difference", "naive")
        if adjusted is None or naive is None:
            return "the adjusted comparison of completion is not shown."
        clear = adjusted["ci_low"] > 0 or adjusted["ci_high"] < 0
        text = (
            f"adjusted for case-mix, IOP completion was {points(adjusted['estimate'], ' points')} "
            f"than residential care's (95% interval {points(adjusted['ci_low'])} to "
            f"{points(adjusted['ci_high'])}): "
            + ("a clear difference" if clear else "no clear difference")
            + f". Unadjusted it was {points(naive['estimate'], ' points')}"
            + (
                "; the programs' different case-mix accounts for the gap."
                if (naive["estimate"] > 0) != (adjusted["estimate"] > 0)
                else "."
            )
        )
        readmit = row("readmission_risk_difference_90d", "aipw")
        if readmit is not None:
            clear = readmit["ci_low"] > 0 or readmit["ci_high"] < 0
            text += (
                f" Readmission within 90 days, adjusted: {points(readmit['estimate'], ' points')} "
                f"(95% interval {points(readmit['ci_low'])} to {points(readmit['ci_high'])}), "
                + ("a clear difference." if clear else "no clear difference.")
            )
        return text

    def figure(
        self, treatment: str = "iop", control: str = "residential"
    ) -> PublishedFigure | None:
        """The overlap chart (:func:`outcomes.plots.overlap_plot`) with the data it draws
        (``program, ps, density, status``: a density, no counts), or None when withheld."""
        from outcomes.figures import PublishedFigure
        from outcomes.plots import overlap_plot

        if self.overlap is None or self.overlap.is_empty():
            return None
        names = {"treated": treatment, "control": control}
        data = self.overlap.select(
            pl.col("group").replace_strict(names).alias("program"),
            "ps",
            "density",
            pl.lit("published").alias("status"),
        )
        return PublishedFigure("overlap", overlap_plot(self.overlap, treatment, control), data)


def comparison(
    pub: Publication,
    ds: Dataset,
    period: str,
    treatment: str = "iop",
    control: str = "residential",
    n_boot: int = 0,
) -> PublishedComparison:
    """The adjusted IOP-vs-residential comparison of the trailing year's discharges, as the
    report publishes it: the effect table (each outcome doubly robust, the headline, then
    naive, weighted and regression-adjusted), the overlap chart and the weight diagnostics.

    Shown only when both programs' group sizes and completions are published cells (the
    naive difference and the group sizes would otherwise give them away); a comparison that
    cannot be estimated says so. Readmission rows need at least ``threshold`` episodes with
    and without a readmission in each program (:func:`_publishable_effects`).

    Returns
    -------
    PublishedComparison
    """
    from outcomes.cohorts import discharged_in
    from outcomes.compare import compare
    from outcomes.errors import EstimationError

    ty = trailing_year(period)
    title = f"{PROGRAM_LABELS.get(treatment, treatment)} against {control}, discharges in {ty}"
    cells = pub.select("comparison", ty)
    methods = {
        "aipw": "Adjusted: doubly robust",
        "naive": "Naive (unadjusted)",
        "iptw": "Weighted (IPTW)",
        "regression": "Regression",
    }
    empty = pl.DataFrame(schema=dict.fromkeys(("Outcome", *methods.values()), pl.String))

    def withheld(reason: str) -> PublishedComparison:
        return PublishedComparison(
            PublishedTable("adjusted_comparison", title, empty, (reason,), _tidy(cells))
        )

    groups = cells.filter(pl.col("program").is_in([treatment, control]))
    if groups.height < 4 or (groups["status"] != "published").any():
        return withheld(
            f"Not shown: a program has fewer than {pub.threshold} discharges or completions "
            "in the trailing year, or its counts are withheld to protect other cells."
        )
    ep = discharged_in(ds, ty, pub.as_of)
    try:
        result = compare(ep, treatment, control, n_boot=n_boot, as_of=pub.as_of)
    except EstimationError as err:
        return withheld(f"The comparison could not be estimated: {err}")
    eff, withheld_rows = _publishable_effects(result.effects, ep, treatment, control, pub)
    unobserved = tuple(
        _missing_horizon(o, ep, ty, pub.as_of)
        for o in EFFECT_LABELS
        if o.startswith("readmission_risk_difference_")
        and o not in result.effects["outcome"].to_list()
    )
    points = pl.col("outcome").str.contains("difference")
    scale = pl.when(points).then(100.0).otherwise(1.0)

    def number(column: str) -> pl.Expr:
        value = pl.col(column) * scale
        # differences in points to 0.1; ratios to 0.01 (0.90, not 0.9)
        return (
            pl.when(points)
            .then(value.round(1).cast(pl.String))
            .otherwise(value.round(2).cast(pl.String).str.pad_end(4, "0"))
        )

    cell = pl.format("{} ({} to {})", number("estimate"), number("ci_low"), number("ci_high"))
    wide = (
        eff.with_columns(cell.alias("cell"))
        .pivot(on="method", index="outcome", values="cell")
        .with_columns(pl.col("outcome").replace_strict(EFFECT_LABELS, default=pl.col("outcome")))
    )
    wide = wide.select(
        pl.col("outcome").alias("Outcome"),
        *[pl.col(m).alias(label) for m, label in methods.items() if m in wide.columns],
    ).fill_null("not estimated")
    headline = result.evalues.filter(
        ((pl.col("outcome") == "completion_risk_ratio") & (pl.col("method") == "aipw"))
        | ((pl.col("outcome") == "readmission_hazard_ratio") & (pl.col("method") == "iptw"))
    ).filter(pl.col("outcome").is_in(eff["outcome"].implode()))
    evalue_note = "; ".join(
        f"{EFFECT_LABELS.get(r['outcome'], r['outcome']).split(':')[0].lower()} "
        f"{r['evalue_estimate']:.2f} (interval {r['evalue_ci']:.2f})"
        for r in headline.iter_rows(named=True)
    )
    n = {
        r["program"]: r["denominator"]
        for r in groups.filter(pl.col("measure") == "discharges").iter_rows(named=True)
    }
    table = PublishedTable(
        name="adjusted_comparison",
        title=title,
        table=wide,
        notes=(
            f"{n[treatment]:,} {PROGRAM_LABELS.get(treatment, treatment)} and {n[control]:,} "
            f"{control} discharges; estimand: the average effect over both programs' clients "
            "(ATE). Differences are IOP minus residential in percentage points; ratios above "
            "1 mean more in IOP. Brackets hold 95% intervals.",
            *result.warnings,
            *withheld_rows,
            *unobserved,
            *result.notes[1:],
            "Hazard ratios have no doubly robust estimate here ('not estimated'): read the "
            "weighted (IPTW) one.",
            f"E-values of the doubly robust completion ratio and the weighted hazard ratio: "
            f"{evalue_note}.",
        ),
        tidy=_tidy(cells),
    )
    return PublishedComparison(
        table, result.overlap, _diagnostics_table(result, cells, treatment, control, pub), eff
    )


def _publishable_effects(
    effects: pl.DataFrame,
    ep: pl.DataFrame,
    treatment: str,
    control: str,
    pub: Publication,
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The comparison's rows that may be published, and a note for each outcome left out.

    A readmission effect is published only when each program has at least ``threshold``
    readmitted and ``threshold`` not-readmitted episodes in the cohort it was estimated on
    (the trailing year's discharges for the hazard ratio, those whose window has closed for
    a risk at a horizon): a crude risk difference and its interval would otherwise come close
    to pinning a small count. Completion's counts are published cells already (the table is
    shown only when they are).
    """
    from outcomes.compare._readmission import closed_cohort
    from outcomes.survival import readmission_data

    data = readmission_data(ep).filter(pl.col("program_type").is_in([treatment, control]))
    cohorts = {"readmission_hazard_ratio": data}
    for outcome in effects["outcome"].unique().to_list():
        if outcome.startswith("readmission_risk_difference_"):
            h = int(outcome.removeprefix("readmission_risk_difference_").removesuffix("d"))
            cohorts[outcome] = closed_cohort(data, h, pub.as_of, "event")
    withheld, notes = [], []
    for outcome, cohort in cohorts.items():
        counts = cohort.group_by("program_type").agg(
            pl.col("event").sum().alias("yes"), (~pl.col("event")).sum().alias("no")
        )
        smallest = min((int(v) for v in counts.select("yes", "no").to_numpy().ravel()), default=0)
        if counts.height < 2 or smallest < pub.threshold:
            withheld.append(outcome)
            label = EFFECT_LABELS.get(outcome, outcome).split(":")[0]
            notes.append(
                f"{label}: not shown, a program has fewer than {pub.threshold} episodes with "
                "or without a readmission in its cohort."
            )
    return effects.filter(~pl.col("outcome").is_in(withheld)), tuple(notes)


def _missing_horizon(outcome: str, ep: pl.DataFrame, ty: str, as_of) -> str:
    """Why a readmission horizon has no row: no window closed yet, or too few events."""
    from outcomes.metrics import window_closed

    h = int(outcome.removeprefix("readmission_risk_difference_").removesuffix("d"))
    label = EFFECT_LABELS[outcome].split(":")[0]
    closed = ep.filter(window_closed(h, as_of)).height
    if not closed:
        return (
            f"{label}: not yet observable, no discharge of {ty} had been followed {h} days by "
            f"{as_of}."
        )
    return f"{label}: not estimated, too few readmissions by then in a program."


def _diagnostics_table(
    result: Comparison, cells: pl.DataFrame, treatment: str, control: str, pub: Publication
) -> PublishedTable:
    """Overlap and weights per program, in words a director reads. The count of episodes with
    an extreme propensity is a count: shown as a share only when it is 0 or at least
    ``threshold`` (else the small-count marker)."""
    from outcomes.compare._overlap import EXTREME_PS
    from outcomes.suppression import MARKERS

    names = {"treated": treatment, "control": control}
    rows = []
    for r in result.diagnostics.iter_rows(named=True):
        extreme = round(r["share_ps_extreme"] * r["n"])
        shown = (
            f"{100 * r['share_ps_extreme']:.1f}%"
            if extreme == 0 or extreme >= pub.threshold
            else MARKERS["small_count"].format(t=pub.threshold) + " episodes"
        )
        rows.append(
            (
                PROGRAM_LABELS.get(names[r["group"]], names[r["group"]]),
                shown,
                f"{100 * r['ess_share']:.0f}%",
                f"{100 * r['top1_weight_share']:.1f}%",
            )
        )
    table = pl.DataFrame(
        rows,
        schema=[
            "Program",
            f"Propensity below {EXTREME_PS:.2f} or above {1 - EXTREME_PS:.2f}",
            "Effective sample (share of discharges)",
            "Weight of the heaviest 1% of episodes",
        ],
        orient="row",
    )
    return PublishedTable(
        name="comparison_overlap",
        title="Overlap and weights",
        table=table,
        notes=(
            "Propensity: the estimated probability of IOP given case-mix. Episodes near 0 or 1 "
            "are clients the other program hardly serves, whom weighting cannot compare. The "
            "effective sample is what the weighted group is worth in equally weighted "
            "episodes; a small one, or much weight on a few episodes, makes the weighted and "
            "doubly robust estimates fragile.",
            *(result.warnings or ("No overlap or weight warning.",)),
        ),
        tidy=_tidy(cells),
    )
