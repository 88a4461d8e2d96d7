"""The benchmark table the quarterly report reads: making it (:func:`report_table`, what
``outcomes national --report`` writes) and reading it back for the report
(:func:`load_report_benchmarks` -> :class:`ReportBenchmarks`: reference lines by setting and
the expected completion of each episode for its case-mix)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from outcomes.errors import InputError
from outcomes.intervals import wilson, z_value
from outcomes.national._benchmarks import LOS_MEASURES, NATION, benchmarks
from outcomes.national._beside import (
    _FIPS,
    _casemix_level,
    _select,
    _wilson,
    reference_counts,
)
from outcomes.national._beside import (
    expected as _expected_rates,
)
from outcomes.national._codes import CASEMIX, MISSING, SERVICE_LABELS, STATE_ABBREVIATIONS
from outcomes.national._mapping import AMBULATORY, program_settings, teds_category
from outcomes.national._read import TedsD

#: Measures of the setting-level rows of the report's table (its reference lines).
LINE_MEASURES = ("discharges", "completion", "completion_or_transfer", *LOS_MEASURES)


def report_table(teds: TedsD, states: Sequence[str] = (), conf_level: float = 0.95):
    """The benchmark table the quarterly report reads (``outcomes national --report``).

    Parameters
    ----------
    teds : TedsD
        Discharges read with every case-mix column (:func:`outcomes.national.read` with
        ``columns=CASEMIX``, its default on the command line with ``--report``).
    states : list of str
        Postal abbreviations of the states whose case-mix strata to add (the provider's
        state); the nation's are always there.
    conf_level : float
        Level of the intervals.

    Returns
    -------
    polars.DataFrame
        ``service, state, age_group, sex, substance, co_occurring, prior_treatment, referral,
        measure, value, ci_low, ci_high, numerator, denominator``:

        - *the lines*: :data:`LINE_MEASURES` (discharges, completion, completion or
          transfer, length-of-stay quartiles) by setting for the nation (``state`` =
          ``all``) and every state in the files, the case-mix columns ``all``;
        - *the strata*: ``completion`` by setting and the case-mix categories of
          :data:`~outcomes.national._mapping.CASEMIX` (``12-17``, ``opioids``, ``court``,
          ``missing`` ...) for the nation and ``states``: what the report's
          observed-to-expected ratio needs, and small enough to commit (one row per stratum
          present, about 30,000 for a year of the nation).
    """
    unknown = [s for s in states if s not in _FIPS]
    if unknown:
        raise ValueError(f"unknown state(s) {unknown}: give postal abbreviations (e.g. NY)")
    lacking = [c for c in CASEMIX if c not in teds.data.columns]
    if lacking:
        raise ValueError(f"the TEDS-D discharges were read without {lacking}")
    lines = benchmarks(
        teds, by=["service", "state"], measures=LINE_MEASURES, nation=True, conf_level=conf_level
    ).with_columns(*(pl.lit("all").alias(c) for c in CASEMIX))
    known = teds.data.filter(pl.col("reason") != MISSING)
    levels = [known.with_columns(state=pl.lit(NATION, pl.Int16))]
    levels += [known.filter(pl.col("state") == _FIPS[s]) for s in dict.fromkeys(states)]
    keys = ["service", "state", *CASEMIX]
    counts = (
        pl.concat(levels)
        .with_columns(*(teds_category(c).alias(c) for c in CASEMIX))
        .group_by(keys)
        .agg(numerator=(pl.col("reason") == 1).sum().cast(pl.Int64), denominator=pl.len())
        .with_columns(pl.col("denominator").cast(pl.Int64))
        .sort(keys)
    )
    low, high = wilson(pl.col("numerator"), pl.col("denominator"), conf_level)
    labels = {**SERVICE_LABELS}
    states_labels = {NATION: "all", **STATE_ABBREVIATIONS}
    strata = counts.select(
        pl.col("service").replace_strict(labels, return_dtype=pl.String),
        pl.col("state").replace_strict(states_labels, return_dtype=pl.String),
        *CASEMIX,
        measure=pl.lit("completion"),
        value=pl.col("numerator") / pl.col("denominator"),
        ci_low=low,
        ci_high=high,
        numerator="numerator",
        denominator="denominator",
    )
    return pl.concat([lines.select(strata.columns), strata], how="vertical_relaxed")


@dataclass(frozen=True)
class ReportBenchmarks:
    """A benchmark table as the report uses it (:func:`load_report_benchmarks`).

    Attributes
    ----------
    name : str
        The table's file name (no folder: nothing of the machine reaches the report).
    table : polars.DataFrame
        The table as read (columns of :func:`report_table`, or of any
        :func:`outcomes.national.benchmarks` table by ``service`` and maybe ``state``).
    state : str or None
        The provider's state (postal abbreviation), whose rows give the second line.
    years : tuple of int
        The TEDS-D discharge years behind the table (from ``<name>.sources.csv`` beside it,
        or its ``year`` column); empty when neither says.
    states : tuple of str
        The states with rows of their own in the table.
    casemix : tuple of str
        The case-mix columns of its strata (empty: no risk adjustment possible).
    state_strata : bool
        Whether the table holds case-mix strata of ``state``.
    """

    name: str
    table: pl.DataFrame
    state: str | None
    years: tuple[int, ...]
    states: tuple[str, ...]
    casemix: tuple[str, ...]
    state_strata: bool

    @property
    def years_text(self) -> str:
        """``2019``, ``2017-2019``, ``2015, 2017-2019``; ``years not recorded`` when empty."""
        return _year_ranges(self.years) or "years not recorded"

    def references(self) -> list[tuple[str, str]]:
        """(measure suffix, name) of each reference: ``("nation", "the nation")`` and, with a
        state, ``("state", "NY")``."""
        refs = [("nation", "the nation")]
        if self.state is not None:
            refs.append(("state", self.state))
        return refs

    def oe_references(self) -> list[str]:
        """The references an observed-to-expected ratio can be computed against: ``nation``
        when the table has case-mix strata, and ``state`` when it has the state's."""
        if not self.casemix:
            return []
        return ["nation", *(["state"] if self.state_strata else [])]

    @functools.cached_property
    def _counts(self) -> dict[str, pl.DataFrame]:
        return {
            m: reference_counts(self.table, m)
            for m in ("completion", "completion_or_transfer")
            if (self.table["measure"] == m).any()
        }

    def rate_line(self, key: str, measure: str = "completion", state: bool = False):
        """The reference's rate in the setting(s) of :data:`PROGRAM_SETTINGS` key ``key``
        (several settings pooled by adding their counts): ``{value, ci_low, ci_high,
        numerator, denominator, teds_services}``, or None when the table has none."""
        codes = program_settings().get(key)
        if codes is None or measure not in self._counts or (state and self.state is None):
            return None
        counts = self._counts[measure]
        fips = _FIPS[self.state] if state else None
        chosen = _select(counts, codes, fips)
        n, x = int(chosen["_n"].sum()), int(chosen["_x"].sum())
        if n == 0:
            return None
        p, low, high = _wilson(x, n, z_value())
        return {
            "value": p,
            "ci_low": low,
            "ci_high": high,
            "numerator": x,
            "denominator": n,
            "teds_services": ",".join(map(str, codes)),
        }

    def los_line(self, key: str, state: bool = False):
        """The reference's length-of-stay quartiles in the setting of ``key``, on this
        project's day count: ``{value, ci_low, ci_high}`` (median, 25th and 75th
        percentile), ``teds_median`` (as TEDS-D counts), ``denominator``, ``teds_services``.
        None when ``key`` pools several settings (quartiles of two settings do not combine),
        or the table has no such row.

        TEDS-D adds a day to every ambulatory discharge (settings 6, 7, 8) so that the first
        and the last day both count, and counts a stay under a day as one; this project
        counts ``discharge_date - admit_date`` (same day = 0). An ambulatory quartile is
        therefore one day less here; a residential one is the same (except that TEDS-D's 1
        also holds same-day stays).
        """
        codes = program_settings().get(key)
        if codes is None or len(codes) != 1 or (state and self.state is None):
            return None
        code = codes[0]
        rows = self.table.filter(pl.col("measure").is_in(list(LOS_MEASURES)))
        rows = _casemix_level(rows, ())
        rows = rows.filter(pl.col("service") == SERVICE_LABELS[code])
        if "state" in rows.columns:
            rows = rows.filter(pl.col("state") == (self.state if state else "all"))
        elif state:
            return None
        values = {r["measure"]: r for r in rows.iter_rows(named=True)}
        median = values.get("los_median_days")
        if median is None or median["value"] is None:
            return None
        shift = 1.0 if code in AMBULATORY else 0.0

        def ours(measure):
            r = values.get(measure)
            return None if r is None or r["value"] is None else max(r["value"] - shift, 0.0)

        return {
            "value": ours("los_median_days"),
            "ci_low": ours("los_q1_days"),
            "ci_high": ours("los_q3_days"),
            "teds_median": median["value"],
            "denominator": median["denominator"],
            "teds_services": str(code),
        }

    def expected(self, episodes: pl.DataFrame) -> pl.DataFrame:
        """Each discharged episode's chance of completing at each reference's rates for its
        case-mix (:func:`outcomes.national._beside.expected`), falling back to the setting's
        crude rate where its stratum has no TEDS-D discharge.

        Returns
        -------
        polars.DataFrame
            The episodes' columns, ``reference`` (``nation`` or ``state``), ``expected``
            (the stratum's rate, else the setting's; null when the setting has no
            discharge), ``matched`` (the stratum's rate was used).
        """
        if not self.casemix:
            return pl.DataFrame()
        strata = self.table.filter(pl.col("measure") == "completion")
        state = self.state if self.state_strata else None
        ex = _expected_rates(episodes, strata, casemix=list(self.casemix), state=state)
        return ex.with_columns(
            reference=pl.when(pl.col("reference") == "nation")
            .then(pl.lit("nation"))
            .otherwise(pl.lit("state")),
            expected=pl.coalesce("stratum_rate", "setting_rate"),
            matched=pl.col("stratum_rate").is_not_null(),
        )


def _year_ranges(years: Sequence[int]) -> str:
    out: list[list[int]] = []
    for y in sorted(set(years)):
        if out and out[-1][-1] == y - 1:
            out[-1].append(y)
        else:
            out.append([y])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in out)


def _years_of(path: Path, table: pl.DataFrame) -> tuple[int, ...]:
    sources = path.with_suffix(".sources.csv")
    years: set[int] = set()
    if sources.is_file():
        try:
            files = pl.read_csv(sources, infer_schema=False)
        except Exception:  # an unreadable sources file only loses the years
            files = pl.DataFrame()
        for text in files["years"].drop_nulls().to_list() if "years" in files.columns else []:
            for a, b in re.findall(r"(\d{4})(?:\s*-\s*(\d{4}))?", text):
                years.update(range(int(a), int(b or a) + 1))
    if not years and "year" in table.columns:
        years = {int(y) for y in table["year"].drop_nulls().to_list()}
    return tuple(sorted(years))


def load_report_benchmarks(path: str | Path, state: str | None = None) -> ReportBenchmarks:
    """Read a benchmark table for the report and check that it can be used.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` written by ``outcomes national`` (best: ``--report``, which
        has the lines and the case-mix strata). Its ``.sources.csv`` beside it names the
        TEDS-D years.
    state : str, optional
        The provider's state (postal abbreviation): its rows give the second reference line
        (and, when the table has its strata, the second observed-to-expected ratio).

    Raises
    ------
    InputError
        One line: the file is missing or unreadable, is not a benchmark table (lacks
        ``service``, ``measure``, ``value``, ``numerator`` or ``denominator``), has no
        completion rows, holds several years in a ``year`` column, holds labels that are not
        TEDS-D's, or has no rows of ``state``.
    """
    path = Path(path)
    where = path.name
    if not path.is_file():
        raise InputError(f"{where}: no benchmark table there (make one with outcomes national)")
    try:
        table = (
            pl.read_parquet(path)
            if path.suffix.lower() == ".parquet"
            else pl.read_csv(path, infer_schema_length=None)
        )
    except Exception as err:  # any reader failure is the same refusal
        raise InputError(f"{where}: cannot be read as a benchmark table ({err})") from None
    needed = ("service", "measure", "value", "numerator", "denominator")
    lacking = [c for c in needed if c not in table.columns]
    if lacking:
        raise InputError(
            f"{where}: not a benchmark table written by outcomes national: it lacks "
            f"column(s) {', '.join(lacking)}"
        )
    if not (table["measure"] == "completion").any():
        raise InputError(f"{where}: has no completion rows (outcomes national --report has them)")
    if "year" in table.columns and table["year"].drop_nulls().n_unique() > 1:
        raise InputError(
            f"{where}: is by year; the report pools the years of its table: make it without "
            "year in --by (outcomes national --report)"
        )
    for c in ("state", *CASEMIX):
        if c in table.columns:
            table = table.with_columns(pl.col(c).cast(pl.String))
    states = ()
    if "state" in table.columns:
        states = tuple(sorted(set(table["state"].drop_nulls()) - {"all"}))
    if state is not None:
        if state not in _FIPS:
            raise InputError(f"unknown state {state!r}: give its postal abbreviation (e.g. NY)")
        if state not in states:
            raise InputError(
                f"{where}: has no rows of {state} (make it with outcomes national --report "
                f"--state {state})"
            )
    casemix = tuple(c for c in CASEMIX if c in table.columns)
    strata = table.filter(pl.col("measure") == "completion")
    if casemix:
        strata = strata.filter(~pl.any_horizontal([pl.col(c) == "all" for c in casemix]))
        if strata.is_empty():
            casemix = ()
    try:
        reference_counts(table, "completion")
        if casemix:
            reference_counts(strata, "completion", casemix)
    except ValueError as err:
        raise InputError(f"{where}: {err}") from None
    state_strata = bool(
        casemix and state is not None and "state" in strata.columns
        and (strata["state"] == state).any()
    )  # fmt: skip
    return ReportBenchmarks(
        name=where,
        table=table,
        state=state,
        years=_years_of(path, table),
        states=states,
        casemix=casemix,
        state_strata=state_strata,
    )
