"""Effects of the treated program on completion and readmission: naive, IPTW, outcome
regression (g-computation) and doubly robust (AIPW), with stacked sandwich intervals."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from outcomes._threads import single_blas_thread
from outcomes.compare._mest import Logistic, cluster_index, logistic, stacked_risks
from outcomes.compare._overlap import overlap_density, overlap_warnings, weight_diagnostics
from outcomes.compare._weights import (
    EFFECT_COLUMNS,
    Estimand,
    Propensity,
    balance,
    estimating,
    evalue,
    iptw,
    propensity,
    weights,
)
from outcomes.errors import EstimationError
from outcomes.intervals import z_value


def _need_both_outcomes(ps: Propensity, outcome: str) -> None:
    """Raise unless each program has episodes with and without the (0/1) outcome: a risk of 0
    has no log, and a risk of 0 or 1 in a program separates the outcome model on it."""
    data = ps.data.with_columns(pl.col(outcome).cast(pl.Float64).alias("__y"))
    for treated, program in ((True, ps.treatment), (False, ps.control)):
        y = data.filter(pl.col("treated") == treated)["__y"]
        if y.sum() == 0 or y.sum() == y.len():
            raise EstimationError(
                f"the effects on '{outcome}' could not be estimated: too few events "
                f"({int(y.sum())} of {y.len()} {program} episodes {outcome})"
            )


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


#: The methods of every effect, in the order the tables show them; ``aipw`` is the headline.
METHODS = ("naive", "iptw", "regression", "aipw")
HEADLINE_METHOD = "aipw"


def _client_bootstrap(cluster: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of ``n_boot`` resamples of whole clients (with replacement)."""
    clients, index = np.unique(cluster, return_inverse=True)
    members = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[members], np.arange(clients.size))
    sizes = np.diff(np.append(starts, index.size))
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        pick = rng.integers(0, clients.size, clients.size)
        sz, st = sizes[pick], starts[pick]
        within = np.arange(sz.sum()) - np.repeat(np.cumsum(sz) - sz, sz)
        yield members[np.repeat(st, sz) + within]


def _risks(y, t, x, estimand, trim, truncate, label, ps_start=None, out_start=None, g=None):
    """Fit both models and stack the four methods' risks (with covariance when ``g``, the
    rows' cluster numbers). ``ps_start`` may be the fitted propensity model itself (a
    :class:`Logistic` of these rows), which is then used as it is."""
    if isinstance(ps_start, Logistic):
        ps = ps_start
    else:
        x1 = np.column_stack([np.ones(t.size), x])
        ps = logistic(x1, t, f"the propensity model of {label}", ps_start)
    keep, w, dw = weights(ps.p, t, estimand, True, trim, truncate)
    target = (keep if estimand == "ate" else keep & (t > 0)).astype(float)
    xo = _outcome_design(x, y)
    z = np.column_stack([np.ones(t.size), t, xo])
    if out_start is not None and out_start.size != z.shape[1]:
        out_start = None
    out = logistic(z, y, f"the outcome model of {label}", out_start)
    risks = stacked_risks(y, t, x, ps, out, w, dw, target, g, x_outcome=xo)
    return risks, ps, out, keep


def _outcome_design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The outcome model's design: ``x`` less the 0/1 level columns whose episodes all share
    one outcome (their coefficient would be infinite: separation), which joins those levels
    to the reference level in this model only."""
    binary = ((x == 0) | (x == 1)).all(axis=0)
    ones = x.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (x * y[:, None]).sum(axis=0) / ones
    constant = binary & ((share <= 0) | (share >= 1) | (ones == 0))
    return x[:, ~constant] if constant.any() else x


def binary_effects(
    ps: Propensity,
    y: np.ndarray,
    name: str,
    estimand: Estimand,
    cluster: np.ndarray,
    conf_level: float,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
    n_boot: int = 0,
    seed: int = 0,
    ratio: bool = True,
) -> list[tuple]:
    """Rows of :data:`EFFECT_COLUMNS` (without ``estimand``) for a 0/1 outcome ``y`` on the
    episodes of ``ps``: ``<name>_risk_difference`` (and ``_risk_ratio``) by each of
    :data:`METHODS`; analytic intervals from the stacked sandwich (``n_boot`` 0), or client-
    bootstrap percentile intervals for the adjusted methods (``n_boot`` resamples, each
    refitting both models from the full-sample estimates). ``cluster``: each row's cluster
    number (:func:`~outcomes.compare._mest.cluster_index`)."""
    t = ps.data["treated"].to_numpy().astype(float)
    x = ps.design.to_numpy().astype(float)
    label = f"{ps.treatment} against {ps.control} ({name})"
    risks, fit_ps, fit_out, keep = _risks(
        y, t, x, estimand, trim, truncate, label, ps.model, g=cluster
    )
    z = z_value(conf_level)
    contrasts = [("risk_difference", False)] + ([("risk_ratio", True)] if ratio else [])
    boot = None
    if n_boot:
        draws = []
        for rows in _client_bootstrap(cluster, n_boot, seed):
            try:
                r = _risks(
                    y[rows],
                    t[rows],
                    x[rows],
                    estimand,
                    trim,
                    truncate,
                    label,
                    fit_ps.coef,
                    fit_out.coef,
                )[0]
            except (EstimationError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
                continue  # a resample whose models cannot be fitted is left out
            draws.append([r.contrast(_stack(m), rt)[0] for m in METHODS for _, rt in contrasts])
        boot = np.asarray(draws)
    alpha = (1 - conf_level) / 2 * 100
    n1, n0 = int(t.sum()), int((1 - t).sum())
    n1_kept, n0_kept = int(t[keep].sum()), int((1 - t[keep]).sum())
    out = []
    for i, method in enumerate(METHODS):
        for j, (contrast, log_scale) in enumerate(contrasts):
            est, se = risks.contrast(_stack(method), log_scale)
            lo, hi = est - z * se, est + z * se
            if boot is not None and method != "naive" and boot.shape[0] >= 10:
                column = boot[:, i * len(contrasts) + j]
                lo, hi = np.percentile(column[np.isfinite(column)], [alpha, 100 - alpha])
            if not _finite(est, lo, hi):
                raise EstimationError(
                    f"the {method} effect on {name} could not be estimated: its estimate or "
                    "interval is not finite (too few episodes or events for the covariates)"
                )
            if log_scale:
                est, lo, hi = math.exp(est), math.exp(lo), math.exp(hi)
            sizes = (n1, n0) if method == "naive" else (n1_kept, n0_kept)
            out.append((f"{name}_{contrast}", method, est, float(lo), float(hi), *sizes))
    return out


def _stack(method: str) -> str:
    """The stack's name of a method's risks (``regression`` is g-computation)."""
    return "gcomp" if method == "regression" else method


@single_blas_thread
def completion_effects(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    estimand: Estimand = "ate",
    outcome: str = "completed",
    cluster: str = "client_id",
    conf_level: float = 0.95,
    n_boot: int = 0,
    seed: int = 0,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Effect of the treated program on completion: risk difference and risk ratio by four
    methods, with intervals that account for the estimated models.

    Uses discharged episodes (``outcome`` not empty). The methods:

    - ``naive``: crude risks per program.
    - ``iptw``: weighted (Hajek) risks, stabilized weights from a logistic propensity model of
      the program on the covariates (:func:`iptw`).
    - ``regression``: g-computation, a logistic model of the outcome on program and covariates,
      its predictions with every episode set to each program averaged over the estimand's
      population.
    - ``aipw``: doubly robust, the g-computation risk plus the weighted mean of the outcome
      model's residuals in each program; consistent when either model is right, so it is the
      headline estimate (:data:`HEADLINE_METHOD`).

    Intervals: the propensity model, the outcome model and every method's risks are one
    system of estimating equations; its sandwich variance, summed by ``cluster`` (one client
    can have several episodes), carries the uncertainty of both fitted models into every
    interval (M-estimation; :func:`outcomes.compare._mest.stacked_risks`). Ratios are
    formed on the log scale. With ``n_boot`` > 0 the adjusted methods' intervals are instead
    percentiles of a client bootstrap (``n_boot`` resamples, fixed ``seed``).

    Parameters
    ----------
    episodes : polars.DataFrame
        One row per episode with ``program_type``, ``outcome`` (bool, empty for open
        episodes), ``cluster`` and the covariate columns.

    Returns
    -------
    polars.DataFrame
        :data:`EFFECT_COLUMNS`: ``outcome`` (``completion_risk_difference`` or
        ``completion_risk_ratio``), ``method`` (:data:`METHODS`), ``estimand``, ``estimate,
        ci_low, ci_high`` (differences are treated minus control), ``n_treated, n_control``
        (after trimming, for the adjusted methods).

    Raises
    ------
    EstimationError
        The propensity or outcome model cannot be estimated (separation, singular design, no
        convergence), or a program has no completed or no uncompleted episode, or an estimate
        is not finite.

    References
    ----------
    Lunceford JK, Davidian M (2004), Stat Med 23:2937-2960 (IPTW and doubly robust
    estimators with sandwich variances); Stefanski LA, Boos DD (2002), Am Stat 56:29-38
    (stacked M-estimation); Robins JM, Rotnitzky A, Zhao LP (1994), JASA 89:846-866.
    Checked against an R implementation of the same equations (tests/reference/compare.R).
    """
    ep = episodes.filter(pl.col(outcome).is_not_null())
    ps = propensity(ep, treatment, control, covariates)
    _need_both_outcomes(ps, outcome)
    y = ps.data[outcome].cast(pl.Float64).to_numpy()
    with estimating(f"the effects on '{outcome}'", strict=False):
        rows = binary_effects(
            ps,
            y,
            "completion",
            estimand,
            cluster_index(ps.data[cluster]),
            conf_level,
            trim,
            truncate,
            n_boot,
            seed,
        )
    return _frame(rows, estimand)


def _frame(rows: list[tuple], estimand: str) -> pl.DataFrame:
    return pl.DataFrame(
        [(o, m, estimand, float(e), float(lo), float(hi), a, b) for o, m, e, lo, hi, a, b in rows],
        schema=list(EFFECT_COLUMNS),
        orient="row",
    )


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
    closed = data.filter(pl.col("discharge_date") + pl.duration(days=h) <= pl.lit(as_of))
    closed = closed.with_columns((pl.col("event") & (pl.col("time") <= h)).alias("__readmitted"))
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


def _covariates(ps: Propensity) -> list[str]:
    """The covariate columns behind a propensity model's design."""
    return list(dict.fromkeys(name.partition("[")[0] for name in ps.design.columns))


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
