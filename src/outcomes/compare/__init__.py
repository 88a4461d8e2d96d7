"""Adjusted comparison of two programs (e.g. IOP against residential care).

Clients are not placed at random: severity, co-occurring disorders, prior episodes and referral
source drive both the program and the outcome, so a naive comparison is biased. This module
estimates the propensity of the treated program from baseline case-mix, weights episodes by
the inverse of it (IPTW, stabilized, ATE or ATT, optionally trimmed or truncated), shows the
balance and overlap that weighting achieves (with warnings when overlap is poor), and
estimates the program effect on completion and readmission four ways (naive, IPTW, outcome
regression, and doubly robust AIPW, the headline) with intervals from one stacked system of
estimating equations, and the E-value as a sensitivity analysis.
"""

from __future__ import annotations

from outcomes.compare._comparison import Comparison, compare
from outcomes.compare._effects import HEADLINE_METHOD, METHODS, completion_effects
from outcomes.compare._overlap import (
    DIAGNOSTIC_COLUMNS,
    overlap_density,
    overlap_warnings,
    weight_diagnostics,
)
from outcomes.compare._readmission import readmission_effects
from outcomes.compare._weights import (
    BALANCE_COLUMNS,
    DEFAULT_COVARIATES,
    EFFECT_COLUMNS,
    Propensity,
    balance,
    design_matrix,
    evalue,
    iptw,
    propensity,
    weights,
)

__all__ = [
    "BALANCE_COLUMNS",
    "DEFAULT_COVARIATES",
    "DIAGNOSTIC_COLUMNS",
    "EFFECT_COLUMNS",
    "HEADLINE_METHOD",
    "METHODS",
    "Comparison",
    "Propensity",
    "balance",
    "compare",
    "completion_effects",
    "design_matrix",
    "evalue",
    "iptw",
    "overlap_density",
    "overlap_warnings",
    "propensity",
    "readmission_effects",
    "weight_diagnostics",
    "weights",
]
