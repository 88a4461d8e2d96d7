"""The generator's model: codes, planted parameters and the true counterfactual risks."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from outcomes.schema import DISCHARGE_REASONS, PROGRAM_TYPES

_SUBSTANCE_W = {
    "alcohol": 0.1,
    "opioids": 0.6,
    "stimulants": 0.4,
    "cannabis": -0.3,
    "sedatives": 0.3,
    "other": 0.0,
}
_AGE_W = {
    "12-17": 0.1,
    "18-24": 0.2,
    "25-34": 0.0,
    "35-44": 0.0,
    "45-54": 0.0,
    "55-64": -0.1,
    "65+": -0.1,
}
_SEVERITY_CENTRE = 0.75
_RACES = (
    "white",
    "black",
    "hispanic",
    "asian",
    "native_american",
    "multiracial",
    "other",
    "unknown",
)
_PROGRAMS = PROGRAM_TYPES  # residential, php, iop, outpatient, detox: indices below
_RES, _PHP, _IOP, _OUT, _DETOX = range(5)
_REASONS = DISCHARGE_REASONS  # completed, left_early, ..., died (5), other (6)


@dataclass(frozen=True)
class Effects:
    """The planted parameters of :func:`generate` (defaults shown are the documented truth).

    Attributes
    ----------
    completion_log_or_iop : float
        True conditional log odds ratio of completion, IOP against residential, at equal
        severity. Default ``log(0.8)``.
    readmission_log_hr_iop : float
        True conditional log hazard ratio of readmission after discharge, IOP against
        residential, at equal severity (see the module docstring for the at-risk set).
        Default ``log(1.25)``.
    completion_severity, readmission_severity : float
        Effect of one unit of severity on the completion log odds (-0.6) and on the
        readmission log hazard (0.5).
    completion_base : dict
        Completion log odds at severity 0 per program.
    placement_intercept, placement_severity, placement_court : float
        Placement model (residential vs IOP): intercept, severity and court-referral terms.
    readmission_shape, readmission_scale_days : float
        Weibull baseline of the readmission time (about a third readmitted within a year).
    relapse_scale_days : float
        Weibull scale of the latent time to first use (same shape and linear predictor).
    step_down_prob, death_prob, followup_prob : float
        Probability of a step-down after a completed or transferred residential/php stay, of
        dying during an episode, and of an episode being followed up.
    """

    completion_log_or_iop: float = math.log(0.8)
    readmission_log_hr_iop: float = math.log(1.25)
    completion_severity: float = -0.6
    readmission_severity: float = 0.5
    completion_base: dict[str, float] = field(
        default_factory=lambda: {
            "residential": 0.35,
            "php": 0.3,
            "iop": 0.35,
            "outpatient": -0.2,
            "detox": 0.8,
        }
    )
    placement_intercept: float = -0.7
    placement_severity: float = 1.2
    placement_court: float = 0.8
    readmission_shape: float = 0.8
    readmission_scale_days: float = 1800.0
    relapse_scale_days: float = 450.0
    step_down_prob: float = 0.45
    death_prob: float = 0.003
    followup_prob: float = 0.6


def _as_date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def severity(frame: pl.DataFrame) -> np.ndarray:
    """The generator's severity score of each row (module docstring), from its
    ``co_occurring_mh``, ``prior_episodes``, ``primary_substance`` and ``age_group``."""
    return (
        0.9 * frame["co_occurring_mh"].cast(pl.Float64)
        + 0.35 * frame["prior_episodes"].clip(upper_bound=4).cast(pl.Float64)
        + frame["primary_substance"].replace_strict(_SUBSTANCE_W, return_dtype=pl.Float64)
        + frame["age_group"].replace_strict(_AGE_W, return_dtype=pl.Float64)
        - _SEVERITY_CENTRE
    ).to_numpy()


def completion_probability(
    frame: pl.DataFrame, program: str, effects: Effects | None = None
) -> np.ndarray:
    """True probability that each row's episode ends completed were it in ``program``.

    The counterfactual risks of the planted model (death, rare, included), so that the true
    average effect of IOP against residential on a set of episodes is
    ``mean(p_iop - p_residential)`` (ATE) or the same over the IOP episodes (ATT).
    """
    eff = effects or Effects()
    sev = severity(frame)
    lp = (
        eff.completion_base[program]
        + eff.completion_severity * sev
        + (eff.completion_log_or_iop if program == "iop" else 0.0)
    )
    alive = 1 - np.minimum(eff.death_prob * np.exp(0.5 * sev), 1.0)
    return _expit(lp) * alive


def readmission_probability(
    frame: pl.DataFrame, program: str, days: float, effects: Effects | None = None
) -> np.ndarray:
    """True probability that each row's episode is followed by a readmission within ``days``
    of discharge were it in ``program`` (IOP or not), under the planted Weibull hazard.

    Applies to episodes not followed by a step-down (module docstring); the next admission
    comes ``1 + floor(T)`` days after discharge, so "within ``days``" is ``T < days``.
    """
    eff = effects or Effects()
    lp = eff.readmission_severity * severity(frame) + (
        eff.readmission_log_hr_iop if program == "iop" else 0.0
    )
    return 1 - np.exp(-((days / eff.readmission_scale_days) ** eff.readmission_shape) * np.exp(lp))


def marginal_readmission_hazard_ratio(
    frame: pl.DataFrame,
    follow_up: np.ndarray,
    effects: Effects | None = None,
    seed: int = 0,
    draws: int = 20,
) -> float:
    """The true marginal hazard ratio of readmission, IOP against residential, over the rows
    of ``frame`` (episodes not followed by a step-down), by simulation.

    Each row's readmission time is drawn under both programs with the same random number
    (the planted Weibull hazard, next admission ``1 + floor(T)`` days after discharge) and
    censored at the row's ``follow_up`` days; a Cox model (Efron ties) of the program on the
    stacked counterfactual data, over ``draws`` draws, gives the hazard ratio that an IPTW
    (ATE) Cox model targets. It differs from the planted conditional ratio
    (``exp(readmission_log_hr_iop)``): severity varies, and hazard ratios do not collapse.
    """
    from outcomes.survival import cox

    eff = effects or Effects()
    base = eff.readmission_severity * severity(frame)
    rng = np.random.default_rng(seed)
    c = np.tile(np.asarray(follow_up, dtype=np.int64), draws)
    e = rng.exponential(size=c.size)
    lp0 = np.tile(base, draws)
    parts = []
    for iop, lp in ((1, lp0 + eff.readmission_log_hr_iop), (0, lp0)):
        t = 1 + np.floor(
            eff.readmission_scale_days * (e / np.exp(lp)) ** (1 / eff.readmission_shape)
        )
        parts.append(
            pl.DataFrame(
                {
                    "time": np.minimum(t, c).astype(np.float64),
                    "event": t <= c,
                    "iop": np.full(c.size, iop, dtype=np.int8),
                }
            )
        )
    fit = cox(pl.concat(parts), "time", "event", ["iop"])
    return float(fit.coefficients["hazard_ratio"][0])
