"""Adjusted comparison of two programs (e.g. IOP against residential care).

Clients are not placed at random: severity, co-occurring disorders, prior episodes and referral
source drive both the program and the outcome, so a naive comparison is biased. This module
estimates the propensity of the treated program from baseline case-mix, weights episodes by
the inverse of it (IPTW, stabilized, ATE or ATT, optionally trimmed or truncated), shows the
balance that weighting achieves, and estimates the program effect on completion three ways
(naive, IPTW, outcome regression) with the E-value as a sensitivity analysis.
"""

from __future__ import annotations

from outcomes.compare._effects import (
    Comparison,
    compare,
    completion_effects,
    readmission_effects,
)
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
    weight_diagnostics,
)

__all__ = [
    "BALANCE_COLUMNS",
    "DEFAULT_COVARIATES",
    "EFFECT_COLUMNS",
    "Comparison",
    "Propensity",
    "balance",
    "compare",
    "completion_effects",
    "design_matrix",
    "evalue",
    "iptw",
    "propensity",
    "readmission_effects",
    "weight_diagnostics",
]
