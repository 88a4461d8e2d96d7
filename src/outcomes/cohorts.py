"""Which episodes an analysis covers: the discharges of a period, the trailing year.

The report and the notebooks take their cohorts from here, so that a notebook run with
``period="2026Q3"`` looks at the same episodes as the report of 2026Q3:

- quarter outcomes (completion, length of stay, attendance): the episodes discharged in the
  quarter, ``discharged_in(ds, period)``;
- readmission and relapse (Kaplan-Meier) and the adjusted IOP-vs-residential comparison: the
  discharges of the trailing year, ``discharged_in(ds, trailing_year(period))``.

:func:`sample_dir` finds the bundled sample export, whatever the working directory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from outcomes.dataset import Dataset
from outcomes.episodes import episodes
from outcomes.metrics import period_bounds, shift_quarter


def trailing_year(period: str) -> str:
    """The four quarters ending with ``period``, as a period range (``2025Q4-2026Q3``).

    Parameters
    ----------
    period : str
        A quarter such as ``2026Q3``.

    Returns
    -------
    str
        ``"<period three quarters earlier>-<period>"``, which :func:`discharged_in`,
        :func:`outcomes.metrics` and :func:`outcomes.metrics.period_bounds` accept.

    Raises
    ------
    ValueError
        When ``period`` is not a quarter.

    Examples
    --------
    >>> import outcomes
    >>> outcomes.trailing_year("2026Q3")
    '2025Q4-2026Q3'
    >>> outcomes.trailing_year("2026Q1")
    '2025Q2-2026Q1'
    """
    return f"{shift_quarter(period, -3)}-{period}"


def discharged_in(
    ds: Dataset | pl.DataFrame, period: str, as_of: str | dt.date | None = None
) -> pl.DataFrame:
    """The episodes discharged within ``period`` (first and last day included).

    Parameters
    ----------
    ds : Dataset or polars.DataFrame
        A dataset (from :func:`outcomes.load` or :func:`outcomes.synth.generate`), or the frame
        :func:`outcomes.episodes` returned; the frame needs ``discharge_date`` (date, empty
        while the episode is open).
    period : str
        A quarter (``2026Q3``), a year (``2026``) or a range (``2025Q4-2026Q3``; the trailing
        year of a quarter is :func:`trailing_year`).
    as_of : str or date, optional
        Data cut-off for a Dataset (default: the latest date in the data): a discharge after it
        is not yet known, and readmissions, relapses and follow-ups after it are not counted.
        An episodes frame was already cut when it was built, so ``as_of`` must be None then.

    Returns
    -------
    polars.DataFrame
        The rows of :func:`outcomes.episodes` (every enrollment and derived column, same
        order) whose ``discharge_date`` falls in ``period``. Open episodes are left out.

    Raises
    ------
    ValueError
        When ``period`` is not a quarter, a year or a range of them, when an episodes frame
        has no ``discharge_date``, or when ``as_of`` is given with an episodes frame.

    Examples
    --------
    >>> import datetime as dt
    >>> import outcomes
    >>> ds = outcomes.synth.generate(300, seed=1)
    >>> quarter = outcomes.discharged_in(ds, "2026Q3")
    >>> year = outcomes.discharged_in(ds, outcomes.trailing_year("2026Q3"))
    >>> quarter.height, year.height
    (64, 204)
    >>> year["discharge_date"].min() >= dt.date(2025, 10, 1)
    True
    >>> year.columns == outcomes.episodes(ds).columns
    True
    """
    if isinstance(ds, Dataset):
        ep = episodes(ds, as_of)
    elif isinstance(ds, pl.DataFrame):
        if as_of is not None:
            raise ValueError(
                "as_of applies to a Dataset: an episodes frame was cut at the as_of it was "
                "built with; pass the Dataset, or leave as_of out"
            )
        if "discharge_date" not in ds.columns:
            raise ValueError(
                "the frame has no discharge_date column: pass a Dataset or the frame "
                "outcomes.episodes() returned"
            )
        ep = ds
    else:
        raise TypeError(
            f"expected a Dataset or the polars frame of outcomes.episodes(), not "
            f"{type(ds).__name__}"
        )
    first, last = period_bounds(period)
    return ep.filter(pl.col("discharge_date").is_between(first, last))


def sample_dir() -> Path:
    """The folder of the sample export bundled with the repository (``data/sample``).

    Notebooks use it when their ``data_dir`` parameter is None, so they run from the
    repository root and from ``notebooks/`` alike.

    Returns
    -------
    pathlib.Path
        Absolute path of ``data/sample``.

    Raises
    ------
    FileNotFoundError
        When this installation of the package has no repository around it (the sample is
        not part of the wheel): pass the folder of an export instead.

    Examples
    --------
    >>> import outcomes
    >>> outcomes.sample_dir().parts[-2:]
    ('data', 'sample')
    """
    folder = Path(__file__).resolve().parents[2] / "data" / "sample"
    if not (folder / "enrollments.csv").is_file():
        raise FileNotFoundError(
            f"the bundled sample is not at {folder} (it ships with the repository, not the "
            "package): pass the folder of an export as data_dir"
        )
    return folder
