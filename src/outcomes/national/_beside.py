"""The provider's programs beside TEDS-D: crude comparison (:func:`beside`) and risk
adjustment by indirect standardisation (:func:`standardise`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl
from scipy import stats

from outcomes.intervals import z_value
from outcomes.national._benchmarks import NATION, RATE_MEASURES
from outcomes.national._codes import CASEMIX as CASEMIX_COLUMNS
from outcomes.national._codes import LABELS, MISSING, STATE_ABBREVIATIONS
from outcomes.national._mapping import (
    PROVIDER_REASONS,
    category_codes,
    program_settings,
    provider_category,
    setting_key,
    teds_category,
)
from outcomes.national._read import TedsD

_FIPS = {abbr: fips for fips, abbr in STATE_ABBREVIATIONS.items()}

BESIDE_COLUMNS = (
    "setting", "teds_services", "reference", "measure", "observed", "observed_ci_low",
    "observed_ci_high", "numerator", "denominator", "benchmark", "benchmark_ci_low",
    "benchmark_ci_high", "benchmark_numerator", "benchmark_denominator", "difference",
    "difference_ci_low", "difference_ci_high",
)  # fmt: skip
STANDARDISED_COLUMNS = (
    "setting", "teds_services", "reference", "measure", "n", "observed", "expected",
    "oe_ratio", "ci_low", "ci_high", "observed_rate", "expected_rate", "reference_rate",
    "adjusted_rate", "n_unmatched",
)  # fmt: skip


def _references(state: str | None) -> list[tuple[str, int | None]]:
    refs: list[tuple[str, int | None]] = [("nation", None)]
    if state is not None:
        if state not in _FIPS:
            raise ValueError(f"unknown state {state!r}: give its postal abbreviation (e.g. NY)")
        refs.append((state, _FIPS[state]))
    return refs


Reference = TedsD | pl.DataFrame


def reference_counts(
    reference: Reference, measure: str, casemix: Sequence[str] = ()
) -> pl.DataFrame:
    """Discharges with a known reason and those with ``measure``, by setting, state and the
    ``casemix`` codes: ``service, state, <casemix>, _n, _x`` (harmonised codes).

    ``reference`` is read discharges (:class:`TedsD`) or a benchmark table
    (:func:`outcomes.national.benchmarks` output, e.g. read back from its CSV) holding
    ``service``, the ``casemix`` columns and the ``measure`` rows; with a ``state`` column its
    ``all`` rows (``nation=True``) are the nation's, and without them the states add up to it.
    """
    if isinstance(reference, TedsD):
        lacking = [c for c in casemix if c not in reference.data.columns]
        if lacking:
            raise ValueError(f"the TEDS-D discharges were read without {lacking}")
        return (
            reference.data.filter(pl.col("reason") != MISSING)
            .group_by("service", "state", *casemix)
            .agg(
                _n=pl.len(),
                _x=pl.col("reason").is_in(RATE_MEASURES[measure]).sum().cast(pl.Int64),
            )
        )
    needed = ["service", *casemix, "measure", "numerator", "denominator"]
    lacking = [c for c in needed if c not in reference.columns]
    if lacking:
        raise ValueError(f"the benchmark table lacks column(s) {lacking}")
    rows = _casemix_level(reference.filter(pl.col("measure") == measure), casemix)
    if rows.height == 0:
        raise ValueError(f"the benchmark table has no {measure!r} rows")
    if "state" not in rows.columns:
        rows = rows.with_columns(state=pl.lit("all"))
    codes = []
    for column in ["service", "state", *casemix]:
        labels = {**LABELS[column], MISSING: "missing"} | (
            {NATION: "all"} if column == "state" else {}
        )
        inverse = {label: code for code, label in labels.items()}
        if column in CASEMIX_COLUMNS:  # a table already in categories (the report's)
            inverse = category_codes(column) | {"missing": MISSING} | inverse
        found = rows[column].cast(pl.String)
        unknown = sorted(set(found.drop_nulls()) - set(inverse))
        if unknown or found.null_count():
            raise ValueError(
                f"the benchmark table's {column} has values {unknown or [None]} "
                "that are not its labels"
            )
        codes.append(found.replace_strict(inverse, return_dtype=pl.Int16).alias(column))
    return rows.select(
        *codes, _n=pl.col("denominator").cast(pl.Int64), _x=pl.col("numerator").cast(pl.Int64)
    )


def _casemix_level(rows: pl.DataFrame, casemix: Sequence[str]) -> pl.DataFrame:
    """The rows of a benchmark table that give counts by ``casemix``: a case-mix column
    holding ``all`` is a total over that column (the report's table has both its totals and
    its strata). The rows whose other case-mix columns are all ``all`` when there are such
    rows (no sum needed), else the strata (no ``all`` anywhere), summed by the caller."""
    present = [c for c in CASEMIX_COLUMNS if c in rows.columns]
    rest = [c for c in present if c not in casemix]
    is_all = [pl.col(c).cast(pl.String) == "all" for c in present]
    every = dict(zip(present, is_all, strict=True))
    if rest:
        totals = rows.filter(
            pl.all_horizontal([every[c] for c in rest]),
            ~pl.any_horizontal([every[c] for c in casemix]) if casemix else pl.lit(True),
        )
        if totals.height:
            return totals
    if not present:
        return rows
    return rows.filter(~pl.any_horizontal(is_all))


def _select(cells: pl.DataFrame, codes: Sequence[int], fips: int | None) -> pl.DataFrame:
    """The reference's cells in settings ``codes``: the nation's (its ``all`` rows when the
    table has them, else every state), or one state's."""
    cells = cells.filter(pl.col("service").is_in(codes))
    if fips is not None:
        return cells.filter(pl.col("state") == fips)
    nation = cells.filter(pl.col("state") == NATION)
    return nation if nation.height else cells


def _discharged(episodes: pl.DataFrame, by: str) -> pl.DataFrame:
    needed = {"program_type", "planned_length_days", "discharge_reason", by}
    lacking = sorted(needed - set(episodes.columns))
    if lacking:
        raise ValueError(f"episodes lack column(s) {lacking} (use outcomes.episodes(ds))")
    return episodes.filter(pl.col("discharge_reason").is_not_null()).with_columns(setting_key())


def _wilson(x: int, n: int, z: float) -> tuple[float | None, float | None, float | None]:
    if n == 0:
        return None, None, None
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, max(centre - half, 0.0), min(centre + half, 1.0)


def newcombe(x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95):
    """Difference ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval (method 10).

    .. math:: d - \\sqrt{(p_1 - l_1)^2 + (u_2 - p_2)^2},\\quad
              d + \\sqrt{(u_1 - p_1)^2 + (p_2 - l_2)^2}

    with :math:`(l_i, u_i)` the Wilson interval of each proportion. Returns ``(d, low,
    high)``, None when a denominator is 0.

    References
    ----------
    Newcombe RG (1998), Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Stat Med 17:873-890 (method 10).
    """
    z = z_value(conf_level)
    p1, l1, u1 = _wilson(x1, n1, z)
    p2, l2, u2 = _wilson(x2, n2, z)
    if p1 is None or p2 is None:
        return None, None, None
    d = p1 - p2
    return d, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def beside(
    episodes: pl.DataFrame,
    teds: Reference,
    *,
    by: str = "program_type",
    state: str | None = None,
    measures: Sequence[str] = tuple(PROVIDER_REASONS),
    settings: Mapping[str, Sequence[int]] | None = None,
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """Each program's discharge outcomes beside the nation's (and its state's) in the same
    TEDS-D setting: observed rate, benchmark rate, and their difference with an interval.

    Parameters
    ----------
    episodes : polars.DataFrame
        :func:`outcomes.episodes` output (uses ``program_type``, ``planned_length_days``,
        ``discharge_reason`` and the ``by`` column); only discharged episodes count.
    teds : TedsD or polars.DataFrame
        National discharges (:func:`outcomes.national.read`), or a benchmark table by
        ``service`` (and ``state``) holding the ``measures`` (:func:`reference_counts`).
    by : str
        The provider's grouping (default ``program_type``; e.g. ``site_id``). Each group is
        split further by its TEDS-D setting.
    state : str, optional
        Postal abbreviation of the provider's state: adds the state's benchmark.
    measures : list of str
        From ``completion`` (provider ``completed`` vs REASON 1), ``completion_or_transfer``
        (completed or transferred vs 1, 4), ``dropped_out`` (left_early vs 2), ``terminated``
        (discharged_by_program vs 3).
    settings : dict, optional
        Overrides of :data:`~outcomes.national._mapping.PROGRAM_SETTINGS` (e.g.
        ``{"php": (6, 7)}``).
    conf_level : float
        Level of every interval.

    Returns
    -------
    polars.DataFrame
        ``by``, ``setting`` (the mapping key), ``teds_services`` (the SERVICES_D codes compared
        with, e.g. ``4,5``), ``reference`` (``nation`` or the state), ``measure``,
        ``observed`` with Wilson ``observed_ci_low/high``, ``numerator``, ``denominator``,
        ``benchmark`` with its Wilson interval, ``benchmark_numerator``,
        ``benchmark_denominator``, ``difference`` (observed - benchmark) with Newcombe's hybrid
        score interval ``difference_ci_low/high``.

    References
    ----------
    Newcombe RG (1998), Stat Med 17:873-890 (method 10).
    """
    unknown = [m for m in measures if m not in PROVIDER_REASONS]
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown}; choose from {list(PROVIDER_REASONS)}")
    mapping = program_settings(settings)
    refs = _references(state)
    ep = _discharged(episodes, by)
    counts = {m: reference_counts(teds, m) for m in measures}
    z = z_value(conf_level)
    rows = []
    groups = ep.group_by(by, "setting", maintain_order=True).agg(pl.col("discharge_reason"))
    for group, key, reasons in groups.sort(by, "setting").iter_rows():
        if key not in mapping:
            raise ValueError(f"no TEDS-D setting for {key!r}: give settings={{{key!r}: (...)}}")
        codes = mapping[key]
        for ref, fips in refs:
            for measure in measures:
                x = sum(r in PROVIDER_REASONS[measure] for r in reasons)
                n = len(reasons)
                ref_counts = _select(counts[measure], codes, fips)
                n_ref, x_ref = int(ref_counts["_n"].sum()), int(ref_counts["_x"].sum())
                p, lo, hi = _wilson(x, n, z)
                b, blo, bhi = _wilson(x_ref, n_ref, z)
                d, dlo, dhi = newcombe(x, n, x_ref, n_ref, conf_level)
                rows.append(
                    (group, key, ",".join(map(str, codes)), ref, measure, p, lo, hi, x, n,
                     b, blo, bhi, x_ref, n_ref, d, dlo, dhi)
                )  # fmt: skip
    schema = {by: ep.schema[by]} | {
        c: (pl.Int64 if c in ("numerator", "denominator", "benchmark_numerator",
                              "benchmark_denominator")
            else pl.String if c in ("setting", "teds_services", "reference", "measure")
            else pl.Float64)
        for c in BESIDE_COLUMNS
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def standardise(
    episodes: pl.DataFrame,
    teds: Reference,
    *,
    measure: str = "completion",
    casemix: Sequence[str] = CASEMIX_COLUMNS,
    by: str = "program_type",
    state: str | None = None,
    settings: Mapping[str, Sequence[int]] | None = None,
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """Risk-adjusted comparison by indirect standardisation: observed against expected.

    Each discharged episode is given the TEDS-D rate of its stratum: the discharges of the
    nation (or of ``state``) in its program's setting with the same case-mix categories
    (:data:`~outcomes.national._mapping.CASEMIX`: age group, sex, primary substance,
    co-occurring disorder, prior treatment, referral source; a missing value is its own
    category on both sides). The expected count ``E`` is the sum of these rates over a
    group's episodes, the observed ``O`` the episodes with the outcome, and ``O / E`` is the
    ratio of what happened to what the group's clients would have had at the reference's
    rates. Episodes whose stratum has no TEDS-D discharge with a known reason are left out of
    ``O`` and ``E`` and counted in ``n_unmatched``. When the files read include 2006-2014
    years (whose top age group is "55 and over"), ages 55-64 and 65+ are pooled on both
    sides.

    Parameters
    ----------
    episodes : polars.DataFrame
        :func:`outcomes.episodes` output: ``program_type``, ``planned_length_days``,
        ``discharge_reason``, the ``by`` column, and the provider's case-mix columns behind
        ``casemix`` (``age_group``, ``sex``, ``primary_substance``, ``co_occurring_mh``,
        ``prior_episodes``, ``referral_source``; an absent one is refused).
    teds : TedsD or polars.DataFrame
        National discharges read with these case-mix columns, or a benchmark table of the
        ``measure`` by ``service`` (and ``state``) and these case-mix columns (e.g.
        ``benchmarks(teds, by=["service", "state", *casemix], measures=["completion"],
        nation=True)``, written and read back as CSV): no public file needed.
    measure : str
        ``completion``, ``completion_or_transfer``, ``dropped_out`` or ``terminated``.
    casemix : list of str
        Case-mix columns of the strata (default all six).
    by, state, settings, conf_level
        As in :func:`beside`.

    Returns
    -------
    polars.DataFrame
        ``by``, ``setting``, ``teds_services``, ``reference``, ``measure``, ``n`` (episodes
        matched), ``observed`` (O), ``expected`` (E), ``oe_ratio`` with its exact Poisson
        interval ``ci_low, ci_high``, ``observed_rate`` (O / n), ``expected_rate`` (E / n),
        ``reference_rate`` (the reference's crude rate in the setting), ``adjusted_rate``
        (indirectly standardised: O / E times the reference rate), ``n_unmatched``.

    Notes
    -----
    The interval treats O as Poisson with mean ``ratio * E`` (E fixed):
    ``[chi2(a/2; 2O) / 2E, chi2(1 - a/2; 2O + 2) / 2E]``.

    References
    ----------
    Breslow NE, Day NE (1987), Statistical Methods in Cancer Research II, IARC, ch. 2
    (indirect standardisation, exact limits of the SMR); matches R's
    ``poisson.test(O, E)$conf.int``.
    """
    ex = expected(
        episodes, teds, measure=measure, casemix=casemix, by=by, state=state, settings=settings
    )
    alpha = 1 - conf_level
    rows = []
    for (group, key, ref), part in ex.group_by([by, "setting", "reference"], maintain_order=True):
        matched = part.filter(pl.col("stratum_rate").is_not_null())
        n = matched.height
        observed = int(matched["_y"].sum())
        expected_count = float(matched["stratum_rate"].sum())
        ratio = observed / expected_count if expected_count > 0 else None
        low, high = poisson_ratio_interval(observed, expected_count, alpha)
        ref_rate = part["setting_rate"][0]
        rows.append(
            (group, key, part["teds_services"][0], ref, measure, n, observed, expected_count,
             ratio, low, high, observed / n if n else None, expected_count / n if n else None,
             ref_rate, ratio * ref_rate if ratio is not None and ref_rate is not None
             else None, part.height - n)
        )  # fmt: skip
    schema = {by: ex.schema[by]} | {
        c: (pl.Int64 if c in ("n", "observed", "n_unmatched")
            else pl.String if c in ("setting", "teds_services", "reference", "measure")
            else pl.Float64)
        for c in STANDARDISED_COLUMNS
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def poisson_ratio_interval(
    observed: int, expected: float, alpha: float = 0.05
) -> tuple[float | None, float | None]:
    """Exact interval of ``observed / expected`` with ``observed`` Poisson and ``expected``
    fixed: ``[chi2(a/2; 2O) / 2E, chi2(1 - a/2; 2O + 2) / 2E]`` (0 below when O is 0; None
    when E is 0). R: ``poisson.test(O, E)$conf.int``."""
    if not expected > 0:
        return None, None
    low = stats.chi2.ppf(alpha / 2, 2 * observed) / (2 * expected) if observed else 0.0
    high = stats.chi2.ppf(1 - alpha / 2, 2 * observed + 2) / (2 * expected)
    return float(low), float(high)


def expected(
    episodes: pl.DataFrame,
    teds: Reference,
    *,
    measure: str = "completion",
    casemix: Sequence[str] = CASEMIX_COLUMNS,
    by: str = "program_type",
    state: str | None = None,
    settings: Mapping[str, Sequence[int]] | None = None,
) -> pl.DataFrame:
    """Each discharged episode's chance of ``measure`` at the reference's rates for its
    case-mix: what :func:`standardise` sums.

    Parameters are those of :func:`standardise`.

    Returns
    -------
    polars.DataFrame
        One row per discharged episode and reference (``nation``, then ``state`` when given),
        sorted by ``by`` and setting: the episodes' columns, ``setting`` (the
        :data:`~outcomes.national._mapping.PROGRAM_SETTINGS` key), ``teds_services``
        (``4,5``), ``reference``, ``_y`` (1 when the episode had the outcome, else 0),
        ``stratum_rate`` (the reference's rate among its discharges in the setting with the
        episode's case-mix categories; null when there are none) and ``setting_rate`` (the
        reference's crude rate in the setting; null when the setting has no discharge).
    """
    if measure not in PROVIDER_REASONS:
        raise ValueError(f"unknown measure {measure!r}; choose from {list(PROVIDER_REASONS)}")
    casemix = list(casemix)
    from outcomes.national._mapping import CASEMIX

    provider_cols = [CASEMIX[c][0] for c in casemix if c in CASEMIX]
    if len(provider_cols) != len(casemix):
        raise ValueError(f"unknown case-mix column(s); choose from {list(CASEMIX)}")
    ep = _discharged(episodes, by)
    absent = [c for c in provider_cols if c not in ep.columns]
    if absent:
        raise ValueError(f"episodes lack case-mix column(s) {absent}")
    raw = reference_counts(teds, measure, casemix)
    coarse = "age_group" in casemix and bool((raw["age_group"] == 13).any())
    mapping = program_settings(settings)
    refs = _references(state)
    ep = ep.with_columns(
        *(provider_category(c, coarse).alias(f"_cm_{c}") for c in casemix),
        _y=pl.col("discharge_reason").is_in(PROVIDER_REASONS[measure]).cast(pl.Int64),
    )
    keys = [f"_cm_{c}" for c in casemix]
    cells = (
        raw.with_columns(*(teds_category(c, coarse).alias(f"_cm_{c}") for c in casemix))
        .group_by("service", "state", *keys)
        .agg(pl.col("_n").sum(), pl.col("_x").sum())
    )
    parts = []
    for (_, key), part in ep.sort(by, "setting").group_by([by, "setting"], maintain_order=True):
        if key not in mapping:
            raise ValueError(f"no TEDS-D setting for {key!r}: give settings={{{key!r}: (...)}}")
        codes = mapping[key]
        for ref, fips in refs:
            ref_cells = _select(cells, codes, fips)
            n_ref, x_ref = int(ref_cells["_n"].sum()), int(ref_cells["_x"].sum())
            tagged = part.with_columns(
                teds_services=pl.lit(",".join(map(str, codes))),
                reference=pl.lit(ref),
                setting_rate=pl.lit(x_ref / n_ref if n_ref else None, pl.Float64),
            )
            if keys:
                rates = ref_cells.group_by(keys).agg(
                    stratum_rate=pl.col("_x").sum() / pl.col("_n").sum()
                )
                tagged = tagged.join(rates, on=keys, how="left", maintain_order="left")
            else:
                tagged = tagged.with_columns(stratum_rate=pl.col("setting_rate"))
            parts.append(tagged.drop(keys))
    if not parts:
        return ep.drop(keys).with_columns(
            teds_services=pl.lit(None, pl.String),
            reference=pl.lit(None, pl.String),
            setting_rate=pl.lit(None, pl.Float64),
            stratum_rate=pl.lit(None, pl.Float64),
        )
    return pl.concat(parts, how="vertical_relaxed")
