"""How a provider's data contract meets TEDS-D, declared once.

* :data:`PROGRAM_SETTINGS`: the TEDS-D service settings (SERVICES_D codes) a program type is
  compared with. Overridable: every function that uses it takes ``settings=`` (a dict merged
  over these defaults).
* :data:`CASEMIX`: for each case-mix column, the provider's column in the data contract
  (:mod:`outcomes.schema`, whose ``teds`` notes state the same correspondences), how its values
  and the TEDS-D codes fall into common categories, and ``missing`` for both sides' unknowns.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

#: Residential programs planned for this many days or fewer are short-term (TEDS-D 4).
RESIDENTIAL_SHORT_MAX_DAYS = 30

#: TEDS-D settings of each program. ``php`` has no TEDS code: TEDS counts partial
#: hospitalization as intensive outpatient (at least 2 hours a day on 3 or more days a week),
#: so it is compared with 6. Residential programs are short-term (4) when planned for 30 days or
#: fewer, long-term (5) when planned for more (the 45-90 day programs), both when unplanned.
PROGRAM_SETTINGS: dict[str, tuple[int, ...]] = {
    "iop": (6,),
    "php": (6,),
    "outpatient": (7,),
    "detox": (1, 2, 8),
    "residential_short": (4,),
    "residential_long": (5,),
    "residential": (4, 5),
    "residential_hospital": (3,),
}

#: The provider's discharge reasons counted by each rate (the TEDS-D REASON codes are in
#: :data:`outcomes.national._benchmarks.RATE_MEASURES`).
PROVIDER_REASONS: dict[str, tuple[str, ...]] = {
    "completion": ("completed",),
    "completion_or_transfer": ("completed", "transferred"),
    "dropped_out": ("left_early",),
    "terminated": ("discharged_by_program",),
}

_AGE = {
    1: "12-17", 2: "12-17", 3: "18-24", 4: "18-24", 5: "25-34", 6: "25-34", 7: "35-44",
    8: "35-44", 9: "45-54", 10: "45-54", 11: "55-64", 12: "65+", 13: "55+",
}  # fmt: skip
_SUBSTANCE = {
    2: "alcohol", 5: "opioids", 6: "opioids", 7: "opioids", 3: "stimulants", 10: "stimulants",
    11: "stimulants", 12: "stimulants", 4: "cannabis", 13: "sedatives", 14: "sedatives",
    15: "sedatives", 16: "sedatives", 1: "other", 8: "other", 9: "other", 17: "other",
    18: "other", 19: "other",
}  # fmt: skip
_REFERRAL_TEDS = {
    1: "individual", 2: "health", 3: "health", 4: "school", 5: "employer", 6: "community",
    7: "court",
}  # fmt: skip
_REFERRAL_PROVIDER = {
    "self": "individual", "family": "individual", "healthcare": "health", "school": "school",
    "employer": "employer", "community": "community", "court": "court",
}  # fmt: skip

#: Case-mix column -> (provider column, TEDS code -> category, provider value -> category).
#: A value that is not listed (and a null) is ``missing`` on either side.
CASEMIX: dict[str, tuple[str, Mapping[int, str], Mapping]] = {
    "age_group": (
        "age_group",
        _AGE,
        {a: a for a in ("12-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")},
    ),
    "sex": ("sex", {1: "male", 2: "female"}, {"male": "male", "female": "female"}),
    "substance": (
        "primary_substance",
        _SUBSTANCE,
        {s: s for s in ("alcohol", "opioids", "stimulants", "cannabis", "sedatives", "other")},
    ),
    "co_occurring": ("co_occurring_mh", {1: "yes", 2: "no"}, {True: "yes", False: "no"}),
    "prior_treatment": ("prior_episodes", {0: "none", 1: "one_or_more"}, {}),
    "referral": ("referral_source", _REFERRAL_TEDS, _REFERRAL_PROVIDER),
}


def program_settings(settings: Mapping[str, tuple[int, ...]] | None = None) -> dict:
    """The default :data:`PROGRAM_SETTINGS` with ``settings`` merged over them."""
    merged = dict(PROGRAM_SETTINGS)
    for key, codes in (settings or {}).items():
        codes = tuple(int(c) for c in codes)
        if not codes or any(c not in range(1, 9) for c in codes):
            raise ValueError(f"settings[{key!r}] must be SERVICES_D codes 1-8, not {codes}")
        merged[key] = codes
    return merged


def setting_key() -> pl.Expr:
    """The key of :data:`PROGRAM_SETTINGS` of each episode (``program_type`` and, for
    residential care, ``planned_length_days``)."""
    planned = pl.col("planned_length_days")
    return (
        pl.when(pl.col("program_type") != "residential")
        .then(pl.col("program_type"))
        .when(planned.is_null())
        .then(pl.lit("residential"))
        .when(planned <= RESIDENTIAL_SHORT_MAX_DAYS)
        .then(pl.lit("residential_short"))
        .otherwise(pl.lit("residential_long"))
        .alias("setting")
    )


def teds_category(name: str, coarse_age: bool = False) -> pl.Expr:
    """The common category of TEDS-D column ``name`` (harmonised codes)."""
    _, teds, _ = CASEMIX[name]
    mapping = dict(teds)
    if name == "age_group" and coarse_age:
        mapping |= {11: "55+", 12: "55+"}
    return (
        pl.col(name)
        .replace_strict(list(mapping), list(mapping.values()), default="missing")
        .cast(pl.String)
    )


def provider_category(name: str, coarse_age: bool = False) -> pl.Expr:
    """The common category of the provider's case-mix column behind ``name``."""
    column, _, values = CASEMIX[name]
    col = pl.col(column)
    if name == "prior_treatment":
        expr = pl.when(col == 0).then(pl.lit("none")).when(col >= 1).then(pl.lit("one_or_more"))
    else:
        mapping = dict(values)
        if name == "age_group" and coarse_age:
            mapping |= {"55-64": "55+", "65+": "55+"}
        expr = col.replace_strict(list(mapping), list(mapping.values()), default=None)
    return expr.cast(pl.String).fill_null("missing").alias(name)


#: The report's charts draw one reference line per program and length band: a band's planned
#: range decides its setting. Residential bands of 45 days and more lie above 30 days
#: (long-term, 5); ``<45 d`` can hold both sides of 30 days and ``unknown`` has no plan, so
#: both compare with short- and long-term pooled (4 and 5), as an unplanned episode does.
LONG_RESIDENTIAL_BANDS = ("45-59 d", "60-74 d", "75-90 d", ">90 d")

#: TEDS-D settings whose length of stay counts one extra day (SAMHSA adds a day to every
#: outpatient discharge "so that the first day and last day ... are counted"): ambulatory IOP
#: (6), outpatient (7) and ambulatory detox (8).
AMBULATORY = (6, 7, 8)


def band_setting(program: str, band: str | None) -> str:
    """The :data:`PROGRAM_SETTINGS` key of a program's length band in the report's charts
    (``residential`` ``60-74 d`` -> ``residential_long``; ``<45 d`` -> ``residential``)."""
    if program != "residential":
        return program
    return "residential_long" if band in LONG_RESIDENTIAL_BANDS else "residential"


def category_codes(name: str) -> dict[str, int]:
    """For case-mix column ``name``: each common category (``opioids``, ``12-17``) and the
    smallest TEDS-D code in it, so that a table already in categories reads back as codes that
    :func:`teds_category` maps to the same categories."""
    _, teds, _ = CASEMIX[name]
    out: dict[str, int] = {}
    for code, category in sorted(teds.items()):
        out.setdefault(category, code)
    return out


def teds_categories(frame: pl.DataFrame, names) -> pl.DataFrame:
    """``frame`` with its case-mix columns ``names`` (harmonised codes) as category codes
    (:func:`category_codes`): the strata :func:`outcomes.national.standardise` uses, one code
    each."""
    exprs = []
    for name in names:
        codes = category_codes(name)
        exprs.append(
            teds_category(name)
            .replace_strict(list(codes), list(codes.values()), default=-9, return_dtype=pl.Int16)
            .alias(name)
        )
    return frame.with_columns(exprs)
