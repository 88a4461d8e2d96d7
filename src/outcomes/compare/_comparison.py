"""The whole adjusted comparison: effects, balance, overlap, E-values, and what to read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from outcomes._threads import single_blas_thread
from outcomes.compare._effects import HEADLINE_METHOD, completion_effects
from outcomes.compare._overlap import overlap_density, overlap_warnings, weight_diagnostics
from outcomes.compare._readmission import readmission_effects
from outcomes.compare._weights import Estimand, balance, evalue, iptw, propensity


@dataclass(frozen=True)
class Comparison:
    """Everything the adjusted comparison produced, rendering itself with its footnotes.

    Attributes
    ----------
    effects : polars.DataFrame
        :data:`EFFECT_COLUMNS`, every outcome by every method.
    balance : polars.DataFrame
        :data:`BALANCE_COLUMNS`, from the completion cohort's weights.
    diagnostics : polars.DataFrame
        :data:`~outcomes.compare.DIAGNOSTIC_COLUMNS` of the completion cohort's weights.
    evalues : polars.DataFrame
        ``outcome, method, evalue_estimate, evalue_ci`` for the adjusted ratio estimates.
    overlap : polars.DataFrame
        ``group, ps, density``: the propensity's distribution per program
        (:func:`~outcomes.compare.overlap_density`).
    warnings : tuple of str
        Poor overlap or extreme weights, each with what to do (empty when none).
    notes : tuple of str
        What the methods are and which one is the headline.
    headline : str
        The method to read first: ``aipw`` (doubly robust).
    """

    effects: pl.DataFrame
    balance: pl.DataFrame
    diagnostics: pl.DataFrame
    evalues: pl.DataFrame
    overlap: pl.DataFrame
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    headline: str = HEADLINE_METHOD

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{n}</li>" for n in (*self.warnings, *self.notes))
        return self.effects._repr_html_() + f"<ul>{notes}</ul>"


def notes(treatment: str, control: str, estimand: str, n_boot: int) -> tuple[str, ...]:
    """The comparison's footnotes: design, methods, headline, intervals, E-values."""
    intervals = (
        f"client-bootstrap percentile intervals ({n_boot} resamples) for the adjusted methods"
        if n_boot
        else "intervals from one stacked system of estimating equations (propensity model, "
        "outcome model and effects), cluster-robust by client, so they carry the uncertainty "
        "of both fitted models"
    )
    return (
        f"{treatment} (treated) against {control} (control); estimand {estimand.upper()}; "
        "risk differences are treated minus control.",
        "Headline: the doubly robust (AIPW) estimate, which stays consistent when either the "
        "propensity model or the outcome model is right. Beside it: naive (no adjustment), "
        "IPTW (stabilized inverse-probability-of-treatment weights from a logistic model of "
        "program on baseline case-mix), and regression (g-computation from a logistic model "
        f"of the outcome). {intervals[0].upper()}{intervals[1:]}.",
        "Readmission risk differences: discharges whose window had closed by the as-of date "
        "(the crude rate's cohort). Hazard ratios: Cox models (naive, IPTW-weighted with the "
        "weights taken as known, and covariate-adjusted, a conditional ratio).",
        "E-values: how strongly an unmeasured confounder would have to be associated with both "
        "program and outcome (risk-ratio scale) to explain the estimate away.",
    )


@single_blas_thread
def compare(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    estimand: Estimand = "ate",
    n_boot: int = 0,
    seed: int = 0,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
    as_of: dt.date | None = None,
) -> Comparison:
    """The adjusted comparison of two programs on completion and readmission.

    Parameters
    ----------
    episodes : polars.DataFrame
        :func:`outcomes.episodes` output (a period filter, if any, applied by the caller):
        ``client_id, program_type, completed``, the readmission columns and the covariates.
    covariates : sequence of str, optional
        Baseline case-mix; default :data:`DEFAULT_COVARIATES` present in the data. Never use
        post-assignment columns (modality, length of stay, attendance).
    n_boot : int
        0 (default): analytic intervals; otherwise client-bootstrap resamples.
    as_of : date, optional
        End of follow-up for readmission (default: implied by the censored episodes).

    Returns
    -------
    Comparison

    Raises
    ------
    EstimationError
        A model cannot be estimated from these episodes (too few of them, or of events, for the
        covariates): the one-line message names the model and the reason (perfect separation,
        too few events, singular design), so that a caller can report the comparison as "could
        not be estimated". :class:`~outcomes.errors.CovariateError` (a subclass) when a text
        covariate has too many levels to one-hot encode.
    """
    completion = completion_effects(
        episodes,
        treatment,
        control,
        covariates,
        estimand,
        n_boot=n_boot,
        seed=seed,
        trim=trim,
        truncate=truncate,
    )
    readmission = readmission_effects(
        episodes,
        treatment,
        control,
        covariates,
        estimand,
        trim=trim,
        truncate=truncate,
        as_of=as_of,
    )
    effects = pl.concat([completion, readmission])
    ps = propensity(
        episodes.filter(pl.col("completed").is_not_null()), treatment, control, covariates
    )
    weighted = iptw(ps, estimand, trim=trim, truncate=truncate)
    kept = (
        ps.data["episode_id"].is_in(weighted["episode_id"].implode()).to_numpy()
        if ("episode_id" in ps.data.columns)
        else np.ones(ps.data.height, dtype=bool)
    )
    table1 = balance(weighted, ps.design.filter(pl.Series(kept)))
    ratios = effects.filter(pl.col("outcome").str.ends_with("ratio"), pl.col("method") != "naive")
    evalues = pl.DataFrame(
        [
            (r["outcome"], r["method"], *evalue(r["estimate"], r["ci_low"], r["ci_high"]))
            for r in ratios.iter_rows(named=True)
        ],
        schema=["outcome", "method", "evalue_estimate", "evalue_ci"],
        orient="row",
    )
    worst = table1["smd_weighted"].abs().max()
    diagnostics = weight_diagnostics(weighted)
    return Comparison(
        effects=effects,
        balance=table1,
        diagnostics=diagnostics,
        evalues=evalues,
        overlap=overlap_density(ps.data),
        warnings=overlap_warnings(diagnostics, treatment, control),
        notes=(
            *notes(treatment, control, estimand, n_boot),
            f"Largest standardized mean difference after weighting: {worst:.3f} (below 0.1 is "
            "usually taken as balanced).",
        ),
    )
