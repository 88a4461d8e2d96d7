"""The report's parameters, its errors, its progress lines and the period it covers."""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from outcomes.errors import OutcomesError

if TYPE_CHECKING:
    pass


#: The report notebook, relative to the repository root (where the commands are run).
NOTEBOOK = Path("notebooks") / "quarterly_report.ipynb"


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


PERIOD_RE = re.compile(r"^\d{4}Q[1-4]$")


#: Cells with this tag are for readers of the notebook only and are left out of the report.
REMOVE_TAG = "notebook-only"


#: The smallest suppression threshold allowed without an explicit override: CMS's cell-size
#: suppression policy publishes no count from 1 to 10.
MIN_THRESHOLD = 11


#: What replaces the data folder's path in a kept executed notebook.
DATA_PLACEHOLDER = "<data>"


class ReportError(OutcomesError):
    """The report notebook failed; the message names the failing cell."""


@dataclass(frozen=True)
class ReportParams:
    """The parameters shared by the command line, the notebooks and the tests.

    The notebooks' ``parameters`` cells have exactly these names (``conf_level`` aside, which
    the report notebook does not expose yet), except ``allow_low_threshold``, which only
    guards ``threshold`` and is not passed to the notebook.

    ``threshold`` is at least :data:`MIN_THRESHOLD` (11), as CMS's cell-size suppression
    policy requires; a lower one is refused unless ``allow_low_threshold=True``, for data
    agreements that explicitly permit it. A higher one is always allowed.

    ``benchmarks`` is a benchmark table written by ``outcomes national --report`` (CSV or
    Parquet; :func:`outcomes.national.load_report_benchmarks`): the charts then draw the
    national reference lines and the summary states the observed-to-expected ratio. ``state``
    is the provider's state (postal abbreviation, e.g. ``NY``): the second reference line; it
    needs ``benchmarks``.
    """

    period: str
    data_dir: str = "data/sample"
    as_of: str | None = None
    threshold: int = MIN_THRESHOLD
    allow_low_threshold: bool = False
    benchmarks: str | None = None
    state: str | None = None

    def __post_init__(self) -> None:
        if not PERIOD_RE.match(self.period):
            raise ValueError(f"period must look like 2026Q3, not {self.period!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise TypeError(f"threshold must be an integer, not {self.threshold!r}")
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1")
        if self.threshold < MIN_THRESHOLD and not self.allow_low_threshold:
            raise ValueError(
                f"threshold {self.threshold} is below {MIN_THRESHOLD}, the smallest cell size "
                "CMS's cell-size suppression policy allows; use a lower one only under an "
                "agreement that permits it, with allow_low_threshold=True "
                "(outcomes report --allow-low-threshold)"
            )
        if self.state is not None:
            from outcomes.national._codes import STATE_ABBREVIATIONS

            if self.state not in STATE_ABBREVIATIONS.values():
                raise ValueError(
                    f"state must be a postal abbreviation such as NY, not {self.state!r}"
                )
            if self.benchmarks is None:
                raise ValueError(
                    "state names the second line of a national benchmark: give the benchmark "
                    "table too (outcomes report --benchmarks FILE)"
                )

    def notebook_parameters(self) -> dict[str, object]:
        """Parameters as papermill passes them (strings stay strings; the folder is absolute)."""
        params = dataclasses.asdict(self)
        del params["allow_low_threshold"]
        params["data_dir"] = str(Path(self.data_dir).resolve())
        if self.benchmarks is not None:
            params["benchmarks"] = str(Path(self.benchmarks).resolve())
        return params


class Progress:
    """Prints one line per stage on stderr with the seconds since it was made.

    ``Progress()("rendering HTML")`` prints ``[ 3.2s] rendering HTML``. :func:`render` takes
    any callable of one string instead (``lambda stage: None`` for silence).
    """

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._start = time.perf_counter()

    def __call__(self, stage: str) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        print(f"[{time.perf_counter() - self._start:4.1f}s] {stage}", file=stream, flush=True)


def resolve_period(period: str, as_of) -> str:
    """``latest`` (the last full quarter on or before ``as_of``), ``previous`` (the one before
    it) or a quarter such as ``2026Q3``, returned as a quarter."""
    import datetime as dt

    from outcomes.metrics import period_bounds, shift_quarter

    if period not in ("latest", "previous"):
        return period
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    current = f"{day.year}Q{(day.month - 1) // 3 + 1}"
    latest = current if period_bounds(current)[1] <= day else shift_quarter(current, -1)
    return latest if period == "latest" else shift_quarter(latest, -1)
