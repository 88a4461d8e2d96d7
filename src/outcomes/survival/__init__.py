"""Survival analysis: Kaplan-Meier, quantiles, log-rank, cumulative incidence, RMST.

Each function takes a data frame and column names and returns a tidy polars frame (or a
frozen result with tidy frames), with the column names of broom's ``tidy.survfit`` in
snake_case. Every estimator is checked against R's ``survival`` and ``cmprsk`` in
``tests/reference/``.
"""

from __future__ import annotations

from outcomes.survival._builders import dropout_data, readmission_data, relapse_data
from outcomes.survival._cif import CIF_COLUMNS, cumulative_incidence
from outcomes.survival._cox import COX_COLUMNS, CoxResult, cox
from outcomes.survival._km import (
    KM_COLUMNS,
    QUANTILE_COLUMNS,
    RMST_COLUMNS,
    RMSTResult,
    kaplan_meier,
    median_survival,
    rmst,
    survival_at,
)
from outcomes.survival._logrank import LogrankResult, logrank

__all__ = [
    "CIF_COLUMNS",
    "COX_COLUMNS",
    "KM_COLUMNS",
    "QUANTILE_COLUMNS",
    "RMST_COLUMNS",
    "CoxResult",
    "LogrankResult",
    "RMSTResult",
    "cox",
    "cumulative_incidence",
    "dropout_data",
    "kaplan_meier",
    "logrank",
    "median_survival",
    "readmission_data",
    "relapse_data",
    "rmst",
    "survival_at",
]
