"""Disclosure control over a whole publication: cells, the counts behind them, and an audit.

Every number a report publishes is a *cell* (one row of a tidy frame: ``table, period,
program, band, measure, value, ci_low, ci_high, numerator, denominator``). Behind each cell
stand one or two *sets of episodes*: a count cell stands for its set, a rate for its
numerator and denominator sets (a rate and its Wilson interval give both away), a median or
mean for the set it summarises, a Kaplan-Meier horizon for the episodes still at risk and the
events by then, an observed-to-expected ratio (kind ``ratio``, treated as a rate) for its
observed events and its episodes. Each set carries the keys it was built under (period,
program, band, part), and equal sets are one variable, however many cells show them.

Links between cells are of two kinds, both checked against the episodes themselves:

- *partitions*: a total is the sum of its parts (the length bands of a program, the programs
  of "all programs", the four quarters of a trailing year, the discharge reasons of a group,
  completed plus transferred), found from the keys and kept only where the parts' episodes
  make up the total exactly;
- *nesting*: a set ``c`` inside a set ``d`` (a numerator in its denominator, the readmission
  cohort in the discharges, the episodes at risk at 90 days in those at 30): ``d - c`` is a
  count of its own (the 8 of 20 who did not complete, the deaths between the discharges and
  the readmission cohort), found for every pair of sets.

The protection (:func:`protect`):

1. *Primary*: a count from 1 to ``threshold - 1`` is withheld (``small_count``); a rate or
   statistic resting on fewer than ``threshold`` episodes is withheld (``small_group``); a
   rate whose numerator is from 1 to ``threshold - 1`` is withheld (``small_count``); a
   windowed rate whose window has ended for no discharge is ``not_observable``.
2. *Sensitive counts*: the sets withheld in step 1 and every nested difference ``d - c``
   from 1 to ``threshold - 1``.
3. *Differencing*: what an attacker learns by adding and subtracting is propagated to a fixed
   point: a partition with one unknown member gives it away; a nested difference is known
   when both sets are. Each known count remembers the published sets it came from.
4. *Complementary suppression*: for every sensitive count that became known, the published
   set it leans on that costs least to withhold (fewest cells, then the smallest count) is
   withheld in every cell that shows it (``complementary``), and step 3 runs again.
5. *Audit*: finally, every sensitive count is checked against all linear combinations of the
   published sets at once (it is determined exactly when it lies in the row space of the
   published sets over the atoms of episodes), which catches what chains of partitions miss;
   anything found there is protected as in step 4 and the audit repeats.

Limits, stated in docs/privacy.md: the audit finds every count that *equalities* among the
published figures determine; it does not bound what inequalities (a count known to be 1-10,
or at least 11) narrow, which the test suite's attacker checks with an integer program.
"""

from __future__ import annotations

from outcomes.disclosure._cells import (
    CELL_COLUMNS,
    STATUSES,
    CellBuilder,
    Cells,
    discharge_quarters,
)
from outcomes.disclosure._protect import primary_status, protect

__all__ = [
    "CELL_COLUMNS",
    "STATUSES",
    "CellBuilder",
    "Cells",
    "discharge_quarters",
    "primary_status",
    "protect",
]
