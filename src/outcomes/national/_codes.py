"""TEDS-D codes, declared once: the columns a benchmark reads, their codes and labels, how the
year layouts differ, and the shipped code tables (SAMHSA's 2019 codebook with its frequencies,
and the value labels of 2006-2022).

The harmonised codes are those of the 2015-2022 files; ``-9`` is missing in every column.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import polars as pl

#: The 76 columns of a TEDS-D public-use file (2015-2022), in file order.
PUF_COLUMNS = (
    "CASEID DISYR AGE GENDER RACE ETHNIC MARSTAT EDUC EMPLOY EMPLOY_D DETNLF DETNLF_D PREG VET "
    "LIVARAG LIVARAG_D PRIMINC ARRESTS ARRESTS_D STFIPS CBSA2010 REGION DIVISION SERVICES "
    "SERVICES_D METHUSE DAYWAIT REASON LOS PSOURCE DETCRIM NOPRIOR SUB1 SUB1_D ROUTE1 FREQ1 "
    "FREQ1_D FRSTUSE1 SUB2 SUB2_D ROUTE2 FREQ2 FREQ2_D FRSTUSE2 SUB3 SUB3_D ROUTE3 FREQ3 FREQ3_D "
    "FRSTUSE3 IDU ALCFLG COKEFLG MARFLG HERFLG METHFLG OPSYNFLG PCPFLG HALLFLG MTHAMFLG AMPHFLG "
    "STIMFLG BENZFLG TRNQFLG BARBFLG SEDHPFLG INHFLG OTCFLG OTHERFLG ALCDRUG DSMCRIT PSYPROB "
    "HLTHINS PRIMPAY FREQ_ATND_SELF_HELP FREQ_ATND_SELF_HELP_D"
).split()

MISSING = -9

#: Each harmonised column the reader keeps, and the file columns it may come from (first found
#: wins): SERVSETD is the 2006-2014 name of SERVICES_D, SEX the 2023 name of GENDER.
SOURCES: dict[str, tuple[str, ...]] = {
    "year": ("DISYR",),
    "state": ("STFIPS",),
    "service": ("SERVICES_D", "SERVSETD"),
    "reason": ("REASON",),
    "los": ("LOS",),
    "age_group": ("AGE",),
    "sex": ("GENDER", "SEX"),
    "substance": ("SUB1",),
    "co_occurring": ("PSYPROB",),
    "prior_treatment": ("NOPRIOR",),
    "referral": ("PSOURCE",),
}
#: Read whatever is asked for: a benchmark always needs these.
CORE = ("year", "state", "service", "reason", "los")
#: The case-mix columns (indirect standardisation and by-columns).
CASEMIX = ("age_group", "sex", "substance", "co_occurring", "prior_treatment", "referral")
#: Columns a benchmark table may be broken down by.
BY_COLUMNS = ("service", "state", "year", *CASEMIX)

#: ``service`` labels of SERVICES_D (SERVSETD) codes 1-8.
SERVICE_LABELS = {
    1: "detox_hospital",
    2: "detox_residential",
    3: "residential_hospital",
    4: "residential_short",
    5: "residential_long",
    6: "iop",
    7: "outpatient",
    8: "detox_ambulatory",
}
#: REASON codes and the names of the discharge-reason mix.
REASON_LABELS = {
    1: "completed",
    2: "dropped_out",
    3: "terminated",
    4: "transferred",
    5: "incarcerated",
    6: "died",
    7: "other",
}
#: LOS codes 31-37 are ranges of days (37: more than a year, open-ended); 1-30 are days.
LOS_RANGES = {
    31: (31, 45),
    32: (46, 60),
    33: (61, 90),
    34: (91, 120),
    35: (121, 180),
    36: (181, 365),
    37: (366, None),
}
#: AGE (2015 onwards); 13 is the 2006-2014 top group "55 and over", kept coarse.
AGE_LABELS = {
    1: "12-14",
    2: "15-17",
    3: "18-20",
    4: "21-24",
    5: "25-29",
    6: "30-34",
    7: "35-39",
    8: "40-44",
    9: "45-49",
    10: "50-54",
    11: "55-64",
    12: "65+",
    13: "55+",
}
SUBSTANCE_LABELS = {
    1: "none",
    2: "alcohol",
    3: "cocaine",
    4: "marijuana",
    5: "heroin",
    6: "methadone_nonrx",
    7: "other_opiates",
    8: "pcp",
    9: "hallucinogens",
    10: "methamphetamine",
    11: "other_amphetamines",
    12: "other_stimulants",
    13: "benzodiazepines",
    14: "other_tranquilizers",
    15: "barbiturates",
    16: "other_sedatives",
    17: "inhalants",
    18: "otc_medications",
    19: "other_drugs",
}
REFERRAL_LABELS = {
    1: "individual",
    2: "addiction_provider",
    3: "health_provider",
    4: "school",
    5: "employer",
    6: "community",
    7: "court",
}
STATE_ABBREVIATIONS = {
    1: "AL", 2: "AK", 4: "AZ", 5: "AR", 6: "CA", 8: "CO", 9: "CT", 10: "DE", 11: "DC", 12: "FL",
    13: "GA", 15: "HI", 16: "ID", 17: "IL", 18: "IN", 19: "IA", 20: "KS", 21: "KY", 22: "LA",
    23: "ME", 24: "MD", 25: "MA", 26: "MI", 27: "MN", 28: "MS", 29: "MO", 30: "MT", 31: "NE",
    32: "NV", 33: "NH", 34: "NJ", 35: "NM", 36: "NY", 37: "NC", 38: "ND", 39: "OH", 40: "OK",
    41: "OR", 42: "PA", 44: "RI", 45: "SC", 46: "SD", 47: "TN", 48: "TX", 49: "UT", 50: "VT",
    51: "VA", 53: "WA", 54: "WV", 55: "WI", 56: "WY", 72: "PR",
}  # fmt: skip

#: Labels of each by-column (``missing`` for -9).
LABELS: dict[str, dict[int, str]] = {
    "service": SERVICE_LABELS,
    "state": STATE_ABBREVIATIONS,
    "age_group": AGE_LABELS,
    "sex": {1: "male", 2: "female"},
    "substance": SUBSTANCE_LABELS,
    "co_occurring": {1: "yes", 2: "no"},
    "prior_treatment": {0: "none", 1: "one_or_more"},
    "referral": REFERRAL_LABELS,
}

YEARS = range(1990, 2101)

#: Valid codes of each harmonised column in a 2015-onwards file (-9 everywhere).
VALID: dict[str, frozenset[int]] = {
    "year": frozenset(YEARS),
    "state": frozenset(STATE_ABBREVIATIONS),
    "service": frozenset(SERVICE_LABELS),
    "reason": frozenset(REASON_LABELS),
    "los": frozenset(range(1, 38)),
    "age_group": frozenset(range(1, 13)),
    "sex": frozenset((1, 2)),
    "substance": frozenset(SUBSTANCE_LABELS),
    "co_occurring": frozenset((1, 2)),
    "prior_treatment": frozenset((0, 1)),
    "referral": frozenset(REFERRAL_LABELS),
}
VALID = {k: v | {MISSING} for k, v in VALID.items()}

#: 2006-2014 files (recognised by SERVSETD): codes that differ, mapped to today's codes.
#: AGE is shifted by one (2 = 12-14 ... 11 = 50-54) and 12 is "55 and over" (kept as 13,
#: "55+"); NOPRIOR counts episodes 0-5 (1-5 become 1, "one or more"); SUB1 20 is "other" (19).
OLD_CODES: dict[str, dict[int, int]] = {
    "age_group": {**{c: c - 1 for c in range(2, 12)}, 12: 13},
    "prior_treatment": {0: 0, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1},
    "substance": {**{c: c for c in range(1, 19)}, 20: 19},
}
OLD_MARKER = "SERVSETD"


def layout_of(columns: list[str]) -> str:
    """The year layout a file's (upper-case) column names show."""
    if OLD_MARKER in columns:
        return "2006-2014"
    if "SEX" in columns and "GENDER" not in columns:
        return "2023"
    return "2015-2022"


def valid_codes(column: str, layout: str) -> dict[int, int]:
    """Map of each valid file code of ``column`` to its harmonised code, for ``layout``."""
    if layout == "2006-2014" and column in OLD_CODES:
        return {**OLD_CODES[column], MISSING: MISSING}
    return {c: c for c in VALID[column]}


@functools.cache
def codebook() -> pl.DataFrame:
    """SAMHSA's 2019 TEDS-D code tables: ``column, value, label, frequency`` (N = 1,722,503).

    Transcribed from the 2019 codebook (``tedsd-2019-codes.csv``, shipped with the package).
    """
    path = resources.files("outcomes.national") / "data" / "tedsd-2019-codes.csv"
    with resources.as_file(path) as p:
        return pl.read_csv(
            p, schema={"column": pl.String, "value": pl.Int64, "label": pl.String,
                       "frequency": pl.Int64}
        )  # fmt: skip


@functools.cache
def year_labels() -> pl.DataFrame:
    """Value labels per column and code across years (``code, Value, 2006_2014, ..., 2022``)."""
    path = resources.files("outcomes.national") / "data" / "tedsd-labels-2006-2022.csv"
    with resources.as_file(path) as p:
        return pl.read_csv(p, infer_schema=False)


def normalise_label(text: str) -> str:
    """A value label compared case- and spacing-insensitively."""
    return re.sub(r"\s+", " ", text.strip()).casefold()


@functools.cache
def text_codes(column: str) -> dict[str, int]:
    """Label text (normalised) -> code of a file column, from the 2015-2022 labels.

    The 2021 file carries these labels instead of numeric codes. A label that means different
    codes in different years is left out (none does in 2015-2022).
    """
    labels = year_labels().filter(pl.col("code") == column, pl.col("Value").is_not_null())
    found: dict[str, set[int]] = {}
    for row in labels.iter_rows(named=True):
        for year in range(2015, 2023):
            text = row[str(year)]
            if text:
                found.setdefault(normalise_label(text), set()).add(int(row["Value"]))
    return {label: next(iter(codes)) for label, codes in found.items() if len(codes) == 1}


def text_label(column: str, code: int, year: int = 2021) -> str | None:
    """The label text of ``code`` in ``column`` as the ``year`` file writes it (None if none)."""
    labels = year_labels().filter(pl.col("code") == column, pl.col("Value") == str(code))
    if labels.height == 0:
        return None
    return labels[str(year)][0]
