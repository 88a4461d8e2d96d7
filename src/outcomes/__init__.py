"""outcomes: program outcome metrics, survival models and quarterly reports for
addiction-treatment providers.

The public surface::

    ds = outcomes.load("data/sample")          # validated Dataset (frames + issues + accounting)
    ds = outcomes.synth.generate(3000, seed=1) # generated data with planted, known effects

Nothing runs on import beyond defining these names.
"""

from __future__ import annotations

from outcomes import synth
from outcomes.cohorts import discharged_in, sample_dir, trailing_year
from outcomes.dataset import Dataset
from outcomes.display import show
from outcomes.episodes import episodes
from outcomes.errors import (
    DataError,
    EstimationError,
    IdentifierError,
    InputError,
    OutcomesError,
    OutcomesWarning,
    PeriodError,
)
from outcomes.io import load
from outcomes.metrics import metrics, trend

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Dataset",
    "EstimationError",
    "IdentifierError",
    "InputError",
    "OutcomesError",
    "OutcomesWarning",
    "PeriodError",
    "discharged_in",
    "episodes",
    "load",
    "metrics",
    "sample_dir",
    "show",
    "synth",
    "trailing_year",
    "trend",
]
