"""Effects of the treated program on readmission after discharge: Cox hazard ratios and
risk differences at fixed horizons by the four methods of :func:`completion_effects`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from outcomes._threads import single_blas_thread
from outcomes.compare._effects import (
    _finite,
    _frame,
    _need_both_outcomes,
    binary_effects,
)
from outcomes.compare._mest import cluster_index
from outcomes.compare._weights import Estimand, Propensity, estimating, iptw, propensity
from outcomes.errors import EstimationError

#: A program log hazard ratio beyond this (a ratio over 20,000) means the Cox fit diverged.
MAX_LOG_HAZARD_RATIO = 10.0


def _need_readmissions(ps: Propensity) -> None:
    """Raise unless each program has a readmission: with none, its hazard is 0 and the
    hazard ratio runs off to 0 or infinity."""
    for treated, program in ((True, ps.treatment), (False, ps.control)):
        group = ps.data.filter(pl.col("treated") == treated)
        if group["event"].sum() == 0:
            raise EstimationError(
                "the Cox models of readmission could not be estimated: too few events (no "
                f"readmission among {group.height} {program} episodes)"
            )


@single_blas_thread
def readmission_effects(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    estimand: Estimand = "ate",
    cluster: str = "client_id",
    conf_level: float = 0.95,
    horizons: tuple[int, ...] = (90, 365),
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
    as_of: dt.date | None = None,
) -> pl.DataFrame:
    """Effect of the treated program on readmission after discharge.

    Discharged episodes (deaths at discharge left out), time from discharge to readmission
    censored at ``as_of`` (:func:`outcomes.survival.readmission_data`). Hazard ratio: Cox model
    (Efron ties) with cluster-robust SE by ``cluster``: unweighted on the program alone
    (naive), IPTW-weighted on the program alone (iptw), and on the program plus the
    covariates (regression, a conditional hazard ratio); the weighted model's interval takes
    the weights as known, which errs on the wide side for the ATE.

    Risk differences at ``horizons``: readmission within ``h`` days among the discharges whose
    ``h``-day window has closed by ``as_of`` (the cohort of the crude ``readmission_<h>d``
    rate of METRICS.md), by the four methods of :func:`completion_effects` with the same
    stacked sandwich intervals (propensity refitted on that cohort). Follow-up is censored
    only by the as-of date, which is fixed at discharge, so the closed-window cohort loses no
    information about the outcome of the episodes it keeps (no censoring weights needed); a
    horizon with no closed window, or no readmission in a program, gives no rows.

    Parameters
    ----------
    as_of : date, optional
        The date follow-up ends; default the one the censored episodes imply.

    Returns
    -------
    polars.DataFrame
        :data:`EFFECT_COLUMNS`, ``outcome`` ``readmission_hazard_ratio`` (methods naive, iptw,
        regression) and ``readmission_risk_difference_<h>d`` (methods of :data:`METHODS`).

    Raises
    ------
    EstimationError
        The propensity model cannot be estimated (:func:`propensity`), a program has no
        readmission, or a Cox model or risk cannot be estimated (singular design, a fit that
        diverges).
    """
    from outcomes.survival import cox, readmission_data

    data = readmission_data(episodes).filter(pl.col("program_type").is_in([treatment, control]))
    ps = propensity(data, treatment, control, covariates)
    _need_readmissions(ps)
    weighted = iptw(ps, estimand, trim=trim, truncate=truncate)
    n1 = int(ps.data["treated"].sum())
    n0 = ps.data.height - n1
    rows = []
    design = ps.design.rename({c: f"__cov{i}" for i, c in enumerate(ps.design.columns)})
    with_design = ps.data.with_columns(pl.col("treated").cast(pl.Int8)).hstack(design)
    models = {
        "naive": (ps.data.with_columns(pl.col("treated").cast(pl.Int8)), ["treated"], None),
        "iptw": (weighted.with_columns(pl.col("treated").cast(pl.Int8)), ["treated"], "weight"),
        "regression": (with_design, ["treated", *design.columns], None),
    }
    n_events = int(ps.data["event"].sum())
    fits = {}
    for method, (frame, terms, weight_column) in models.items():
        model = f"the {method} Cox model of readmission"
        with estimating(model, strict=False):
            fits[method] = cox(
                frame,
                "time",
                "event",
                terms,
                weights=weight_column,
                cluster=cluster,
                conf_level=conf_level,
                ph_test=False,
            )
        r = fits[method].coefficients.row(0, named=True)
        values = (r["estimate"], r["ci_low"], r["ci_high"], r["hazard_ratio"])
        if not _finite(*values) or abs(r["estimate"]) > MAX_LOG_HAZARD_RATIO:
            raise EstimationError(
                f"{model} could not be estimated: the fit diverged (too few events: "
                f"{n_events} readmissions for {len(terms)} terms)"
            )
    for method, fit in fits.items():
        r = fit.coefficients.row(0, named=True)
        rows.append(
            (
                "readmission_hazard_ratio",
                method,
                r["hazard_ratio"],
                r["hr_ci_low"],
                r["hr_ci_high"],
                n1 if method != "iptw" else int(weighted["treated"].sum()),
                n0 if method != "iptw" else int((~weighted["treated"]).sum()),
            )
        )
    cut = _as_of(data) if as_of is None else as_of
    for h in horizons:
        rows.extend(
            _risk_difference_at(data, h, cut, ps, estimand, cluster, conf_level, trim, truncate)
        )
    return _frame(rows, estimand)


def _as_of(data: pl.DataFrame) -> dt.date:
    """The as-of date of :func:`outcomes.survival.readmission_data`: censored episodes are
    followed from discharge to it (with none censored, the last readmission)."""
    ends = data.select(
        (pl.col("discharge_date") + pl.duration(days=pl.col("time"))).alias("end"),
        pl.col("event"),
    )
    censored = ends.filter(~pl.col("event"))["end"]
    return (censored if censored.len() else ends["end"]).max()


def _risk_difference_at(
    data: pl.DataFrame,
    h: int,
    as_of: dt.date,
    ps: Propensity,
    estimand: Estimand,
    cluster: str,
    conf_level: float,
    trim: tuple[float, float] | None,
    truncate: tuple[float, float] | None,
) -> list[tuple]:
    """Readmission within ``h`` days among discharges whose window has closed by ``as_of``
    (the crude rate's cohort, METRICS.md), by the four methods; no rows when that cohort has
    no readmission or no episode without one in a program."""
    closed = closed_cohort(data, h, as_of, "__readmitted")
    try:
        cohort = propensity(closed, ps.treatment, ps.control, _covariates(ps))
        _need_both_outcomes(cohort, "__readmitted")
    except (EstimationError, ValueError):
        return []  # too few closed windows or readmissions by this horizon
    y = cohort.data["__readmitted"].cast(pl.Float64).to_numpy()
    with estimating(f"the readmission risk at {h} days", strict=False):
        rows = binary_effects(
            cohort,
            y,
            f"readmission by {h} days",
            estimand,
            cluster_index(cohort.data[cluster]),
            conf_level,
            trim,
            truncate,
            ratio=False,
        )
    return [(f"readmission_risk_difference_{h}d", *row[1:]) for row in rows]


def closed_cohort(data: pl.DataFrame, h: int, as_of: dt.date, column: str) -> pl.DataFrame:
    """The rows of :func:`outcomes.survival.readmission_data` whose ``h``-day window had
    closed by ``as_of``, with ``column`` (bool): readmitted within ``h`` days."""
    from outcomes.metrics import window_closed

    return data.filter(window_closed(h, as_of)).with_columns(
        (pl.col("event") & (pl.col("time") <= h)).alias(column)
    )


def _covariates(ps: Propensity) -> list[str]:
    """The covariate columns behind a propensity model's design."""
    return list(dict.fromkeys(name.partition("[")[0] for name in ps.design.columns))
