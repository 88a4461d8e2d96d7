"""Exceptions and warnings raised by :mod:`outcomes`.

Data problems are reported as rows of an ``issues`` frame (see :func:`outcomes.load`); these
exceptions carry that frame when nothing usable can be returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


class OutcomesError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(OutcomesError):
    """A file cannot be read or is refused (missing, empty, unreadable, lacking a column).

    ``problems`` holds one line per refused file; ``str(err)`` joins them.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class IdentifierError(InputError):
    """A file carries a direct identifier (by column name or by value): the tool takes
    de-identified data only.

    ``columns`` maps each refused file name to the offending column names. ``found`` lists
    ``(file, column, kind, row)`` per offending column: what it looks like and the spreadsheet
    row of one value that gave it away (``None`` when the column name did). No value is ever
    kept, here or in the message.
    """

    def __init__(
        self,
        problems: list[str] | str,
        columns: dict[str, list[str]] | None = None,
        found: list[tuple[str, str, str, int | None]] | None = None,
    ):
        super().__init__(problems)
        self.columns = dict(columns or {})
        self.found = list(found or [])


class DataError(OutcomesError):
    """Rows break the data contract and ``on_error="raise"`` was asked for.

    Attributes
    ----------
    issues : polars.DataFrame
        Every problem found, one row each (columns of :data:`outcomes.schema.ISSUE_COLUMNS`).
    accounting : polars.DataFrame
        Rows read, kept and excluded per file.
    """

    def __init__(self, issues: pl.DataFrame, accounting: pl.DataFrame | None = None):
        self.issues = issues
        self.accounting = accounting
        errors = issues.filter(issues["severity"] == "error")
        by_rule = errors.group_by("file", "rule").len().sort("file", "rule")
        parts = [f"{r['file']}: {r['len']} x {r['rule']}" for r in by_rule.iter_rows(named=True)]
        super().__init__(
            f"{errors.height} data error(s) in the input ({'; '.join(parts)}). "
            "See err.issues for file, row, column, value and rule of each, or load with "
            'on_error="exclude" to drop the failing rows.'
        )


class PeriodError(OutcomesError):
    """The period asked for has nothing to report: no episode was discharged in it, it starts
    after the data's as-of date, or (for the report) it ends after that date and is not yet
    fully observed. ``str(err)`` is one line naming the period and what the data covers."""


class EstimationError(OutcomesError):
    """A model could not be estimated from these data: perfect separation, too few events,
    or a singular design. ``str(err)`` is one line naming the model and the reason, so that a
    caller can report the estimate as "could not be estimated"."""


class CovariateError(EstimationError, ValueError):
    """A covariate cannot enter a model: a text column with so many distinct values (free text,
    a key) that one-hot encoding it would make a column per row."""


class OutcomesWarning(UserWarning):
    """Something the user should know about a result (e.g. a window not yet over)."""
