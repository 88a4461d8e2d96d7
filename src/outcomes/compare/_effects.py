"""Effects of the treated program on completion and readmission: naive, IPTW, regression."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import statsmodels.api as sm

from outcomes.compare._weights import (
    EFFECT_COLUMNS,
    Estimand,
    Propensity,
    balance,
    estimating,
    evalue,
    iptw,
    propensity,
    weight_diagnostics,
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


def _hajek(y, t, w, groups, z) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Weighted risks per group, their difference and ratio, with cluster-robust intervals.

    The influence of an episode on a group's weighted risk ``mu`` is ``w (y - mu) / W``
    (``W`` the group's weight sum); on the log risk, that over ``mu``. Summed within clusters,
    squared and added up, with the small-sample factor ``G/(G-1) (N-1)/(N-2)`` of R's
    ``sandwich::vcovCL(type = "HC1")``, this is the sandwich of a weighted regression of the
    outcome on the group (identity link for the difference, log link for the ratio), the
    weights taken as known.
    """
    w1, w0 = w * t, w * ~t
    mu1, mu0 = (w1 * y).sum() / w1.sum(), (w0 * y).sum() / w0.sum()
    inf_diff = w1 * (y - mu1) / w1.sum() - w0 * (y - mu0) / w0.sum()
    inf_log = w1 * (y - mu1) / (w1.sum() * mu1) - w0 * (y - mu0) / (w0.sum() * mu0)
    _, cluster = np.unique(groups, return_inverse=True)
    n_groups, n = cluster.max() + 1, y.size
    adj = n_groups / (n_groups - 1) * (n - 1) / (n - 2)
    se_diff = math.sqrt(adj * (np.bincount(cluster, inf_diff) ** 2).sum())
    se_log = math.sqrt(adj * (np.bincount(cluster, inf_log) ** 2).sum())
    diff, log_ratio = mu1 - mu0, math.log(mu1 / mu0)
    return (
        (diff, diff - z * se_diff, diff + z * se_diff),
        (math.exp(log_ratio), math.exp(log_ratio - z * se_log), math.exp(log_ratio + z * se_log)),
    )


def completion_effects(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    estimand: Estimand = "ate",
    outcome: str = "completed",
    cluster: str = "client_id",
    conf_level: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Effect of the treated program on completion: risk difference and risk ratio, naive,
    IPTW and outcome regression.

    Uses discharged episodes (``outcome`` not empty). Naive and IPTW: weighted (Hajek) risks
    per program, their difference and ratio, with a cluster-robust sandwich by ``cluster``
    (one client can have several episodes); the weights are treated as known, which for the
    ATE errs on the wide side (Lunceford and Davidian 2004). Regression:
    g-computation from a logistic model of the outcome on program and covariates (predicted
    risks averaged over the estimand's population), CI from a client-level bootstrap of
    ``n_boot`` resamples (percentile method, fixed ``seed``).

    Returns
    -------
    polars.DataFrame
        :data:`EFFECT_COLUMNS`: ``outcome`` (``completion_risk_difference`` or
        ``completion_risk_ratio``), ``method`` (naive, iptw, regression), ``estimand``,
        ``estimate, ci_low, ci_high`` (differences are treated minus control), ``n_treated,
        n_control``.

    Raises
    ------
    EstimationError
        The propensity model cannot be estimated (:func:`propensity`), or a program has no
        completed or no uncompleted episode, or an estimate is not finite.
    """
    ep = episodes.filter(pl.col(outcome).is_not_null())
    ps = propensity(ep, treatment, control, covariates)
    _need_both_outcomes(ps, outcome)
    weighted = iptw(ps, estimand, trim=trim, truncate=truncate)
    z = z_value(conf_level)
    rows = []
    for method, frame in (
        ("naive", ps.data.with_columns(pl.lit(1.0).alias("weight"))),
        ("iptw", weighted),
    ):
        y = frame[outcome].cast(pl.Float64).to_numpy()
        t = frame["treated"].to_numpy()
        w = frame["weight"].to_numpy()
        g = frame[cluster].to_numpy()
        n1, n0 = int(t.sum()), int((~t).sum())
        with estimating(f"the {method} completion effect", strict=False):
            diff, ratio = _hajek(y, t, w, g, z)
        rows.append(("completion_risk_difference", method, *diff, n1, n0))
        rows.append(("completion_risk_ratio", method, *ratio, n1, n0))
    with estimating("the outcome regression of completion", strict=False):
        rd, rr, boot = _gcomp(ps, outcome, estimand, cluster, n_boot, seed)
    if not _finite(rd, rr):
        raise EstimationError(
            "the outcome regression of completion could not be estimated: its predictions are "
            "not finite (too few episodes for the covariates)"
        )
    alpha = (1 - conf_level) / 2 * 100
    n1, n0 = int(ps.data["treated"].sum()), int((~ps.data["treated"]).sum())
    rows.append(
        (
            "completion_risk_difference",
            "regression",
            rd,
            *np.percentile(boot[:, 0], [alpha, 100 - alpha]),
            n1,
            n0,
        )
    )
    rows.append(
        (
            "completion_risk_ratio",
            "regression",
            rr,
            *np.percentile(boot[:, 1], [alpha, 100 - alpha]),
            n1,
            n0,
        )
    )
    out = pl.DataFrame(
        [(o, m, estimand, float(e), float(lo), float(hi), a, b) for o, m, e, lo, hi, a, b in rows],
        schema=list(EFFECT_COLUMNS),
        orient="row",
    )
    return out


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


def _gcomp_once(x, t, y, target):
    fit = sm.GLM(y, np.column_stack([np.ones_like(t), t, x]), family=sm.families.Binomial()).fit()
    xs = np.column_stack([np.ones(target.sum()), np.ones(target.sum()), x[target]])
    p1 = fit.predict(xs).mean()
    xs[:, 1] = 0.0
    p0 = fit.predict(xs).mean()
    return p1 - p0, p1 / p0


def _gcomp(ps: Propensity, outcome, estimand, cluster, n_boot, seed):
    x = ps.design.to_numpy()
    t = ps.data["treated"].to_numpy().astype(float)
    y = ps.data[outcome].cast(pl.Float64).to_numpy()
    target = np.ones_like(t, dtype=bool) if estimand == "ate" else t.astype(bool)
    rd, rr = _gcomp_once(x, t, y, target)
    clients, index = np.unique(ps.data[cluster].to_numpy(), return_inverse=True)
    members = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[members], np.arange(clients.size))
    sizes = np.diff(np.append(starts, index.size))
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, 2))
    for b in range(n_boot):
        pick = rng.integers(0, clients.size, clients.size)
        sz, st = sizes[pick], starts[pick]
        within = np.arange(sz.sum()) - np.repeat(np.cumsum(sz) - sz, sz)
        rows = members[np.repeat(st, sz) + within]
        boot[b] = _gcomp_once(x[rows], t[rows], y[rows], target[rows])
    return rd, rr, boot


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
) -> pl.DataFrame:
    """Effect of the treated program on readmission after discharge.

    Discharged episodes (deaths at discharge left out), time from discharge to readmission
    censored at ``as_of`` (:func:`outcomes.survival.readmission_data`). Hazard ratio: Cox model
    (Efron ties) with cluster-robust SE by ``cluster``: unweighted on the program alone
    (naive), IPTW-weighted on the program alone (iptw), and on the program plus the
    covariates (regression, a conditional hazard ratio). Risk differences at ``horizons``: 1 -
    Kaplan-Meier per program, unweighted (naive) or IPTW-weighted (iptw, robust
    infinitesimal-jackknife SE), treated minus control, SE from the two groups' variances.

    Returns
    -------
    polars.DataFrame
        :data:`EFFECT_COLUMNS`, ``outcome`` ``readmission_hazard_ratio`` and
        ``readmission_risk_difference_<h>d``.

    Raises
    ------
    EstimationError
        The propensity model cannot be estimated (:func:`propensity`), a program has no
        readmission, or a Cox model or risk cannot be estimated (singular design, a fit that
        diverges).
    """
    from outcomes.survival import cox, readmission_data, survival_at

    data = readmission_data(episodes).filter(pl.col("program_type").is_in([treatment, control]))
    ps = propensity(data, treatment, control, covariates)
    _need_readmissions(ps)
    weighted = iptw(ps, estimand, trim=trim, truncate=truncate)
    z = z_value(conf_level)
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
    for method, (frame, terms, weights) in models.items():
        model = f"the {method} Cox model of readmission"
        with estimating(model, strict=False):
            fits[method] = cox(
                frame,
                "time",
                "event",
                terms,
                weights=weights,
                cluster=cluster,
                conf_level=conf_level,
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
    for method, frame, w in (("naive", ps.data, None), ("iptw", weighted, "weight")):
        at = survival_at(frame, "time", "event", times=horizons, by="treated", weights=w)
        for h in horizons:
            cells = {r["treated"]: r for r in at.filter(pl.col("time") == h).iter_rows(named=True)}
            if True not in cells or False not in cells:
                continue  # a group is not followed that long
            a, b = cells[True], cells[False]
            if not _finite(a["estimate"], b["estimate"], a["std_error"], b["std_error"]):
                raise EstimationError(
                    f"the {method} readmission risk at {h} days could not be estimated: its "
                    "standard error is undefined (too few episodes followed that long)"
                )
            est = b["estimate"] - a["estimate"]  # (1 - S1) - (1 - S0)
            se = math.hypot(a["std_error"], b["std_error"])
            rows.append(
                (
                    f"readmission_risk_difference_{h}d",
                    method,
                    est,
                    est - z * se,
                    est + z * se,
                    int(frame["treated"].sum()),
                    int((~frame["treated"]).sum()),
                )
            )
    return pl.DataFrame(
        [(o, m, estimand, float(e), float(lo), float(hi), a, b) for o, m, e, lo, hi, a, b in rows],
        schema=list(EFFECT_COLUMNS),
        orient="row",
    )


@dataclass(frozen=True)
class Comparison:
    """Everything the adjusted comparison produced, rendering itself with its footnotes.

    ``effects`` (:data:`EFFECT_COLUMNS`), ``balance`` (:data:`BALANCE_COLUMNS`, from the
    completion cohort's weights), ``diagnostics`` (:func:`weight_diagnostics`), ``evalues``
    (``outcome, method, evalue_estimate, evalue_ci`` for the ratio estimates) and ``notes``.
    """

    effects: pl.DataFrame
    balance: pl.DataFrame
    diagnostics: pl.DataFrame
    evalues: pl.DataFrame
    notes: tuple[str, ...]

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{n}</li>" for n in self.notes)
        return self.effects._repr_html_() + f"<ul>{notes}</ul>"


def compare(
    episodes: pl.DataFrame,
    treatment: str = "iop",
    control: str = "residential",
    covariates: Sequence[str] | None = None,
    estimand: Estimand = "ate",
    n_boot: int = 200,
    seed: int = 0,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> Comparison:
    """The adjusted comparison of two programs on completion and readmission.

    Parameters
    ----------
    episodes : polars.DataFrame
        :func:`outcomes.episodes` output (a period filter, if any, applied by the caller).
    covariates : sequence of str, optional
        Baseline case-mix; default :data:`DEFAULT_COVARIATES` present in the data. Never use
        post-assignment columns (modality, length of stay, attendance).

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
        episodes, treatment, control, covariates, estimand, trim=trim, truncate=truncate
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
    notes = (
        f"{treatment} (treated) against {control} (control); estimand {estimand.upper()}; "
        "risk differences are treated minus control.",
        "iptw: stabilized inverse-probability-of-treatment weights from a logistic model of "
        "program on baseline case-mix; CIs from a cluster-robust sandwich by client, weights "
        "taken as known. regression: completion by g-computation with a client bootstrap "
        f"({n_boot} resamples); readmission by a covariate-adjusted Cox model (conditional "
        "hazard ratio). naive: no adjustment.",
        f"Largest standardized mean difference after weighting: {worst:.3f} (below 0.1 is "
        "usually taken as balanced).",
        "E-values: how strongly an unmeasured confounder would have to be associated with both "
        "program and outcome (risk-ratio scale) to explain the estimate away.",
    )
    return Comparison(
        effects=effects,
        balance=table1,
        diagnostics=weight_diagnostics(weighted),
        evalues=evalues,
        notes=notes,
    )
