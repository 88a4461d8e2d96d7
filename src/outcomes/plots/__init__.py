"""Charts for notebooks and the report: a tidy table in, a matplotlib Figure out.

Conventions shared by every chart:

- Programs keep their colours (:data:`PROGRAM_COLOURS`); length bands appear in their natural
  order (:data:`LENGTH_BANDS`).
- Rates, shares and curves are drawn in percent (axes 0-100 with "%" tick labels).
- Charts of counts take published tables only: a ``status`` column (``published``,
  ``small_count``, ``complementary``, ``small_group``, ``not_observable``, ``none``) or the
  older ``suppressed`` flag that :mod:`outcomes.suppression` adds; raw tables are refused.
- A row or point that is not published is left out of the drawing (never printed as ``<11``),
  and one short note under the axes names what was left out and why.
- Curves stop where fewer than ``threshold`` remain at risk and move only in steps of at least
  ``threshold`` events (:func:`coarsen_steps`); numbers at risk are rounded to 5.
"""

from __future__ import annotations

from outcomes.plots._adherence import adherence_chart
from outcomes.plots._common import (
    BAND_PLANNED_DAYS,
    LENGTH_BANDS,
    PROGRAM_COLOURS,
    STATUS_REASONS,
    colour,
    program_label,
)
from outcomes.plots._common import (
    _published_mask as _published_mask,
)
from outcomes.plots._common import (
    _reasons as _reasons,
)
from outcomes.plots._compare import RATIO_TICKS, forest_plot, love_plot, overlap_plot
from outcomes.plots._km import _round_at_risk as _round_at_risk
from outcomes.plots._km import cif_chart, coarsen_steps, km_chart, km_draw, km_steps
from outcomes.plots._rates import (
    REASON_COLOURS,
    los_chart,
    rate_chart,
    reason_mix_chart,
    trend_chart,
)

__all__ = [
    "BAND_PLANNED_DAYS",
    "LENGTH_BANDS",
    "PROGRAM_COLOURS",
    "RATIO_TICKS",
    "REASON_COLOURS",
    "STATUS_REASONS",
    "adherence_chart",
    "cif_chart",
    "coarsen_steps",
    "colour",
    "forest_plot",
    "km_chart",
    "km_draw",
    "km_steps",
    "los_chart",
    "love_plot",
    "overlap_plot",
    "program_label",
    "rate_chart",
    "reason_mix_chart",
    "trend_chart",
]
