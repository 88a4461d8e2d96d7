"""The data contract, declared once.

Every input column (its type, whether it is required, its allowed values, its meaning and its
TEDS-D counterpart), the cross-row rules the loader applies, the deny-list of direct
identifiers, and the fixed column lists of every tidy output frame live here. The loader
(:mod:`outcomes.io`), the documentation (``docs/data-dictionary.md``) and the tests read these
declarations; nothing else restates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

Kind = Literal["str", "code", "int", "float", "date", "bool"]

PROGRAM_TYPES = ("residential", "php", "iop", "outpatient", "detox")
DISCHARGE_REASONS = (
    "completed",
    "left_early",
    "discharged_by_program",
    "transferred",
    "incarcerated",
    "died",
    "other",
)
REFERRAL_SOURCES = (
    "self",
    "family",
    "court",
    "healthcare",
    "employer",
    "school",
    "community",
    "unknown",
)
MODALITIES = ("in_person", "telehealth", "hybrid")
AGE_GROUPS = ("12-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
SEXES = ("female", "male", "other", "unknown")
SUBSTANCES = ("alcohol", "opioids", "stimulants", "cannabis", "sedatives", "other")
SESSION_STATUSES = ("attended", "no_show", "excused", "cancelled")
SESSION_TYPES = ("individual", "group", "education", "family", "other")

#: Level of care, highest first (METRICS.md "Records"); detox stands apart (never a step-down).
LEVEL_OF_CARE = {"residential": 3, "php": 2, "iop": 1, "outpatient": 0}

#: Sessions dated more than this many days before admission or after discharge (or after the
#: data's last date for open episodes) are reported as a warning; they are kept in the data but
#: never counted for the episode (METRICS.md counts only sessions inside the episode).
SESSION_TOLERANCE_DAYS = 14

#: Plausible planned lengths in days, per program; outside them the loader warns.
PLANNED_LENGTH_RANGE = {
    "iop": (21, 120),
    "residential": (14, 180),
    "php": (7, 90),
    "outpatient": (14, 365),
    "detox": (1, 30),
}

#: Files of a dataset, in reading order.
FILES = ("enrollments", "attendance", "followups")
FILE_EXTENSIONS = (".csv", ".parquet")

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Column:
    """One input column of the data contract.

    ``required``: the column must be present in the file. ``nullable``: a present column may
    have empty values. ``allowed``: the closed vocabulary of a ``code`` column. ``minimum``:
    the smallest allowed value of a number column.
    """

    name: str
    kind: Kind
    description: str
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    teds: str = ""

    @property
    def dtype(self) -> pl.DataType:
        """The polars dtype of the column once loaded."""
        return {
            "str": pl.String(),
            "code": pl.String(),
            "int": pl.Int32(),
            "float": pl.Float64(),
            "date": pl.Date(),
            "bool": pl.Boolean(),
        }[self.kind]


@dataclass(frozen=True)
class Rule:
    """A rule that involves more than one value, named as it appears in ``issues.rule``."""

    name: str
    file: str
    severity: Severity
    description: str


@dataclass(frozen=True)
class TableSpec:
    """One file of a dataset: its columns, whether the file may be absent, and its rules."""

    name: str
    columns: tuple[Column, ...]
    description: str
    optional: bool = False
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}


ENROLLMENTS = TableSpec(
    name="enrollments",
    description="One row per treatment episode: one client's stay in one program.",
    columns=(
        Column(
            "client_id",
            "str",
            "Pseudonymous client key; links the episodes of one person. "
            "Never a medical record number or any other real identifier.",
            teds="none: TEDS-D records are not linked across episodes",
        ),
        Column("episode_id", "str", "Unique key of the episode.", teds="CASEID (record key)"),
        Column(
            "program_type",
            "code",
            "Program (level of care) of the episode.",
            allowed=PROGRAM_TYPES,
            teds="SERVICES / SERVICES_D (iop = 6, residential = 4/5, "
            "outpatient = 7, detox = 1/2/8; php has no TEDS code)",
        ),
        Column(
            "planned_length_days",
            "int",
            "Planned length of the program in days "
            "(IOP 6/7/8 weeks = 42/49/56; residential 45-90). Empty when not planned.",
            nullable=True,
            minimum=1,
        ),
        Column("admit_date", "date", "Date of admission.", teds="ADMYR (year only in the PUF)"),
        Column(
            "discharge_date",
            "date",
            "Date of discharge; empty while the episode is open.",
            nullable=True,
            teds="DISYR (year only in the PUF); LOS = discharge - admission",
        ),
        Column(
            "discharge_reason",
            "code",
            "Reason for discharge; empty exactly when discharge_date is.",
            nullable=True,
            allowed=DISCHARGE_REASONS,
            teds="REASON: completed = 1, left_early = 2, discharged_by_program = 3, "
            "transferred = 4, incarcerated = 5, died = 6, other = 7",
        ),
        Column(
            "referral_source",
            "code",
            "Who referred the client.",
            required=False,
            nullable=True,
            allowed=REFERRAL_SOURCES,
            teds="PSOURCE: self/family = 1, healthcare = 2/3, school = 4, employer = 5, "
            "community = 6, court = 7",
        ),
        Column(
            "modality",
            "code",
            "How the program was delivered.",
            required=False,
            nullable=True,
            allowed=MODALITIES,
        ),
        Column(
            "age_group",
            "code",
            "Age at admission, in bands.",
            required=False,
            nullable=True,
            allowed=AGE_GROUPS,
            teds="AGE (finer bins; 65+ = 12)",
        ),
        Column("sex", "code", "Sex.", required=False, nullable=True, allowed=SEXES, teds="GENDER"),
        Column(
            "race_ethnicity",
            "str",
            "Race and ethnicity as the provider records it (free codes).",
            required=False,
            nullable=True,
            teds="RACE, ETHNIC",
        ),
        Column(
            "primary_substance",
            "code",
            "Primary substance at admission.",
            required=False,
            nullable=True,
            allowed=SUBSTANCES,
            teds="SUB1: alcohol = 2, opioids = 5/6/7, stimulants = 3/10/11/12, "
            "cannabis = 4, sedatives = 13-16, other = 8/9/17/18/19",
        ),
        Column(
            "co_occurring_mh",
            "bool",
            "Co-occurring mental-health disorder.",
            required=False,
            nullable=True,
            teds="PSYPROB (1 = true, 2 = false)",
        ),
        Column(
            "prior_episodes",
            "int",
            "Number of prior treatment episodes.",
            required=False,
            nullable=True,
            minimum=0,
            teds="NOPRIOR (0 / 1+ in TEDS-D)",
        ),
        Column("site_id", "str", "Site (facility) of the program.", required=False, nullable=True),
    ),
    rules=(
        Rule(
            "duplicate_episode_id",
            "enrollments",
            "error",
            "episode_id appears on more than one row; every such row is reported",
        ),
        Rule(
            "discharge_before_admission",
            "enrollments",
            "error",
            "discharge_date is earlier than admit_date",
        ),
        Rule(
            "reason_without_discharge",
            "enrollments",
            "error",
            "discharge_reason is given but discharge_date is empty",
        ),
        Rule(
            "discharge_without_reason",
            "enrollments",
            "error",
            "discharge_date is given but discharge_reason is empty",
        ),
        Rule(
            "planned_length_implausible",
            "enrollments",
            "warning",
            "planned_length_days outside the plausible range of its program "
            "(iop 21-120, residential 14-180, php 7-90, outpatient 14-365, detox 1-30)",
        ),
    ),
)

ATTENDANCE = TableSpec(
    name="attendance",
    description="One row per scheduled therapy session, with what happened to it.",
    columns=(
        Column("episode_id", "str", "Episode the session belongs to."),
        Column("session_date", "date", "Date the session was scheduled for."),
        Column(
            "status",
            "code",
            "What happened: attended, no_show (absent without notice), "
            "excused (absence agreed beforehand), cancelled (by the program).",
            allowed=SESSION_STATUSES,
        ),
        Column(
            "session_type",
            "code",
            "Kind of session.",
            required=False,
            nullable=True,
            allowed=SESSION_TYPES,
        ),
        Column(
            "hours", "float", "Scheduled length in hours.", required=False, nullable=True, minimum=0
        ),
    ),
    rules=(
        Rule("unknown_episode", "attendance", "error", "episode_id is not in enrollments"),
        Rule(
            "episode_excluded",
            "attendance",
            "error",
            "the episode's enrollment row was excluded, so its sessions are too",
        ),
        Rule(
            "session_outside_episode",
            "attendance",
            "warning",
            f"session_date more than {SESSION_TOLERANCE_DAYS} days before admission or after "
            "discharge (or after the last date in the data for an open episode); kept, "
            "never counted for the episode",
        ),
    ),
)

FOLLOWUPS = TableSpec(
    name="followups",
    description="Post-discharge follow-up contacts (optional file).",
    optional=True,
    columns=(
        Column("episode_id", "str", "Episode whose discharge the contact follows."),
        Column("contact_date", "date", "Date of the contact."),
        Column(
            "used_since_discharge",
            "bool",
            "Client reports any use of alcohol or drugs since discharge.",
            teds="FREQ1_D is the nearest (use at discharge)",
        ),
        Column(
            "method",
            "str",
            "How the contact was made (phone, visit, survey, ...).",
            required=False,
            nullable=True,
        ),
    ),
    rules=(
        Rule("unknown_episode", "followups", "error", "episode_id is not in enrollments"),
        Rule(
            "episode_excluded",
            "followups",
            "error",
            "the episode's enrollment row was excluded, so its follow-ups are too",
        ),
        Rule(
            "contact_before_discharge",
            "followups",
            "warning",
            "contact_date is not after the episode's discharge date (or the episode is open); "
            "kept, never counted as a post-discharge contact",
        ),
    ),
)

SPECS: dict[str, TableSpec] = {s.name: s for s in (ENROLLMENTS, ATTENDANCE, FOLLOWUPS)}

#: Value-level rules, shared by every file.
VALUE_RULES = {
    "required": "a required value is empty",
    "type": "the value is not of the column's type",
    "allowed_values": "the value is not in the column's list of allowed codes",
    "minimum": "the value is below the column's minimum",
}

# ---------------------------------------------------------------------------------------------
# Direct identifiers (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)): the loader refuses a file that
# carries one, judged by column name and by value.
#
# By name: a name is split into lower-case tokens (at blanks, "_" and other punctuation,
# between letters and digits, at camelCase humps; a run of single letters is joined, so
# "S.S.N." gives "ssn" and "E-mail" gives "email") and judged on its tokens, so that
# "name_last", "client_full_name", "address1", "client_ip" and "mrn_number" are caught while
# "site_name", "client_id" and "sex_at_birth" are not. The contract's own columns are never
# judged by name (client_id is the pseudonymous key). ZIP-code columns are judged by their
# values: three digits are allowed.

#: The contract's keys: pseudonymous and unique by design (never judged as free text).
KEY_COLUMNS = ("client_id", "episode_id")

_NUMBERISH = frozenset({"id", "ids", "no", "num", "nbr", "number", "numbers", "identifier", "key"})
_PERSON = frozenset(
    {
        "first", "last", "middle", "full", "given", "family", "client", "patient", "pt",
        "person", "resident", "sur", "maiden", "preferred", "nick", "legal", "member",
        "guardian", "mother", "father", "parent", "spouse", "partner", "child", "relative",
        "kin", "contact", "emergency", "birth", "participant", "subject", "consumer", "user",
    }
)  # fmt: skip
_NAME_WORDS = frozenset(
    {
        "surname", "fname", "lname", "mname", "firstname", "lastname", "middlename",
        "fullname", "givenname", "familyname", "maidenname", "nickname", "initials",
        "clientname", "patientname", "ptname",
    }
)  # fmt: skip
_BIRTH_WORDS = frozenset(
    {"dob", "dobs", "yob", "dateofbirth", "birthdate", "birthday", "birthdt", "bday", "birthyear"}
)
_NOT_BIRTH_DATE = frozenset(
    {
        "country", "nation", "nativity", "place", "state", "city", "county", "order",
        "weight", "control", "sex", "gender", "outcome", "outcomes", "defect", "defects",
    }
)  # fmt: skip
_SSN_WORDS = frozenset(
    {"ssn", "ssns", "ssno", "ssan", "socsec", "socialsecurity", "ssnumber", "taxid", "tin", "itin"}
)
_NOT_SSN = frozenset(
    {"income", "benefit", "benefits", "disability", "recipient", "receipt", "payment", "status"}
)
_PHONE_WORDS = frozenset(
    {
        "phone", "phones", "telephone", "tel", "telno", "fax", "cellphone", "mobilephone",
        "phonenumber", "phoneno", "homephone", "workphone", "pager",
    }
)  # fmt: skip
_URL_WORDS = frozenset(
    {"ipaddress", "ipaddr", "ipv", "url", "urls", "uri", "website", "weburl", "homepage"}
)
_IP_WITH = frozenset(
    {"address", "addr", "client", "patient", "user", "remote", "src", "source", "device", "login"}
)
_MRN_WORDS = frozenset(
    {"mrn", "mrns", "mrno", "medrec", "medrecno", "medicalrecord", "emrid", "ehrid", "chartno"}
)
_PLAN_WITH_NUMBER = frozenset(
    {
        "medicaid", "medicare", "insurance", "insurer", "policy", "subscriber", "member",
        "beneficiary", "account", "acct", "licence", "license", "certificate", "serial",
        "device", "passport",
    }
)  # fmt: skip
_PLACE_WORDS = frozenset(
    {
        "address", "addresses", "addr", "street", "streetaddress", "homeaddress",
        "addressline", "city", "town", "county", "tract", "geocode", "geolocation", "latitude",
        "longitude", "lat", "lon", "lng", "apt", "apartment",
    }
)  # fmt: skip
_NOT_RESIDENCE = frozenset(
    {"type", "status", "kind", "arrangement", "arrangements", "setting", "state", "country"}
)
_PHOTO_WORDS = frozenset(
    {
        "photo", "photos", "photograph", "image", "images", "picture", "fingerprint",
        "fingerprints", "biometric", "biometrics", "faceprint", "voiceprint", "retina",
    }
)  # fmt: skip
_ZIP_WORDS = frozenset({"zip", "zips", "zipcode", "postal", "postcode", "postalcode", "zcta"})


def column_tokens(name: str) -> tuple[str, ...]:
    """The lower-case tokens of a column name, as the identifier rules see them.

    >>> column_tokens("clientFullName"), column_tokens("S.S.N."), column_tokens("address1")
    (('client', 'full', 'name'), ('ssn',), ('address', '1'))
    """
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name.strip())  # camelCase humps
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)  # MRNNumber -> MRN Number
    text = re.sub(r"([0-9]+)", r" \1 ", text.lower())  # letters apart from digits
    tokens: list[str] = []
    letters = ""
    for token in re.split(r"[^0-9a-z]+", text):
        if len(token) == 1 and token.isalpha():
            letters += token  # s.s.n -> ssn, d_o_b -> dob
            continue
        if letters:
            tokens.append(letters)
            letters = ""
        if token:
            tokens.append(token)
    if letters:
        tokens.append(letters)
    for i in range(len(tokens) - 1, 0, -1):  # e-mail -> email
        if tokens[i - 1] == "e" and tokens[i] in ("mail", "mails", "mailaddress"):
            tokens[i - 1 : i + 1] = ["e" + tokens[i]]
    return tuple(tokens)


def _a_name(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & _NAME_WORDS:
        return True
    if s & {"name", "names"}:
        return len(s) == 1 or bool(s & _PERSON)
    return t in (("client",), ("patient",), ("pt",), ("person",))  # a bare client column


def _a_birth_date(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & _BIRTH_WORDS:
        return True
    if "birth" in s:
        return not s & _NOT_BIRTH_DATE  # not sex_at_birth, birth_country, ...
    if "born" in s:
        return len(s) == 1 or bool(s & {"date", "dt", "on", "day", "year", "when"})
    return False


def _an_ssn(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & _SSN_WORDS or t == ("sin",):
        return not s & _NOT_SSN
    if "ss" in s and s & _NUMBERISH:
        return True
    if "social" in s:
        return (len(s) == 1 or bool(s & ({"security", "sec", "sn"} | _NUMBERISH))) and not (
            s & _NOT_SSN
        )
    return "tax" in s and bool(s & (_NUMBERISH | {"identification"}))


def _a_phone(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & _PHONE_WORDS:
        return True
    if s & {"cell", "mobile"}:
        return len(s) == 1 or bool(s & (_NUMBERISH | {"home", "work", "primary", "personal"}))
    return False


def _an_email(t: tuple[str, ...], s: frozenset[str]) -> bool:
    return bool(s & {"email", "emails", "emailaddress"})


def _an_ip_or_url(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & _URL_WORDS:
        return True
    return "ip" in s and (len(s) == 1 or bool(s & _IP_WITH))


def _a_record_number(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & _MRN_WORDS:
        return True
    if s & {"med", "medical"} and s & {"rec", "record", "records"}:
        return True
    return bool(s & {"emr", "ehr", "chart", "patient", "pt"} and s & _NUMBERISH)


def _a_plan_number(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & {"hicn", "mbi", "vin", "medicaidid", "medicareid"}:
        return True
    if s & _PLAN_WITH_NUMBER and s & _NUMBERISH:
        return True
    if {"health", "plan"} <= s and s & _NUMBERISH:
        return True
    if s & {"account", "acct"}:
        return True
    if s & {"licence", "license"}:
        return len(s) == 1 or bool(s & {"driver", "drivers", "plate"})
    return {"serial", "number"} <= s


def _a_place(t: tuple[str, ...], s: frozenset[str]) -> bool:
    if s & _PLACE_WORDS:
        return True
    return "residence" in s and not s & _NOT_RESIDENCE


def _a_photo(t: tuple[str, ...], s: frozenset[str]) -> bool:
    return bool(s & _PHOTO_WORDS)


#: (what the column holds, test on its tokens), in the order they are tried.
IDENTIFIER_NAME_RULES = (
    ("a name", _a_name),
    ("a date of birth", _a_birth_date),
    ("a social security number", _an_ssn),
    ("a telephone or fax number", _a_phone),
    ("an email address", _an_email),
    ("an IP address or URL", _an_ip_or_url),
    ("a medical record number", _a_record_number),
    ("a health-plan, account, licence or device number", _a_plan_number),
    ("a street address or place below state level", _a_place),
    ("a photograph or biometric", _a_photo),
)


def normalise_column_name(name: str) -> str:
    """Lower-case a column name and turn every run of non-alphanumerics into ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def identifier_kind(name: str) -> str | None:
    """What direct identifier a column name denotes, or ``None`` when it denotes none.

    ZIP-code columns are not judged by name alone (three-digit ZIPs are allowed): see
    :func:`is_zip_column`. Neither are values: see :data:`IDENTIFIER_VALUE_PATTERNS`.

    >>> identifier_kind("name_last"), identifier_kind("client_id")
    ('a name', None)
    """
    tokens = column_tokens(name)
    token_set = frozenset(tokens)
    for kind, test in IDENTIFIER_NAME_RULES:
        if test(tokens, token_set):
            return kind
    return None


def is_zip_column(name: str) -> bool:
    """Whether a column name denotes a ZIP or postal code (``zip``, ``zip3``, ``client_zip``,
    ``postal``...): its values may have at most :data:`ZIP_MAX_DIGITS` digits."""
    return bool(set(column_tokens(name)) & _ZIP_WORDS)


#: Safe Harbor allows the first three digits of a ZIP code.
ZIP_MAX_DIGITS = 3
ZIP_KIND = "a ZIP code with more than 3 digits"

# By value: every text value of every column (contract columns included) is searched for these
# patterns (polars/Rust regular expressions, unanchored: an e-mail inside "Name <e-mail>" counts).
# Numbers must stand alone (no digit, or for SSNs no decimal point, right before or after).
_SSN_AREA = "(?:00[1-9]|0[1-9][0-9]|[1-578][0-9]{2}|6[0-57-9][0-9]|66[0-57-9])"  # never 000/666/9xx
_SSN_GROUP = "(?:0[1-9]|[1-9][0-9])"  # never 00
_SSN_SERIAL = "(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"  # never 0000
_ITIN_GROUP = "(?:5[0-9]|6[0-5]|7[0-9]|8[0-8]|9[0-24-9])"  # IRS individual taxpayer numbers
_SSN = (
    "(?:^|[^0-9.])(?:"
    + "|".join(
        f"{area}{sep}{group}{sep}[0-9]{{4}}"
        if area.startswith("9")
        else f"{area}{sep}{group}{sep}{_SSN_SERIAL}"
        for area, group in ((_SSN_AREA, _SSN_GROUP), ("9[0-9]{2}", _ITIN_GROUP))
        for sep in ("", "-", " ", r"\.")
    )
    + ")(?:[^0-9]|$)"
)
_NPA = "[2-9][0-9]{2}"  # US area code
_PHONE = (
    r"(?:^|[^0-9.])(?:\+?1[-. ]?)?(?:"
    + "|".join(
        [f"{_NPA}{sep}[0-9]{{3}}{sep}[0-9]{{4}}" for sep in ("", "-", " ", r"\.")]
        + [rf"\({_NPA}\) ?[0-9]{{3}}[-. ]?[0-9]{{4}}"]
    )
    + ")(?:[^0-9]|$)"
)
_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
_MRN = r"(?i)\b(?:mrn|med(?:ical)?[ ._-]*rec(?:ord)?[ ._-]*(?:no|num|number)?)[ .:#=-]*[0-9]{4,}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"(?:^|[^0-9.]){_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:[^0-9.]|$)"

#: (what the value holds, regular expression), tried in this order on every text value.
IDENTIFIER_VALUE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("an email address", _EMAIL),
    ("a social security number", _SSN),
    ("a telephone number", _PHONE),
    ("a medical record number", _MRN),
    ("an IP address", _IPV4),
)
#: The patterns that also apply to whole-number columns (numbers of 9 to 11 digits).
NUMBER_VALUE_PATTERNS = IDENTIFIER_VALUE_PATTERNS[1:3]

#: A person's name: "Given Family", "Given M. Family", "Family, Given" (capitalised words).
_NAME_WORD = r"[A-Z][A-Za-z'\-]*[a-z]"
PERSON_NAME_PATTERN = (
    rf"^\s*(?:{_NAME_WORD}(?:\s+[A-Z]\.?)?(?:\s+{_NAME_WORD}){{1,2}}"
    rf"|{_NAME_WORD},\s*{_NAME_WORD}(?:\s+[A-Z]\.?)?)\s*$"
)
#: A column with at least this many distinct person-name-like values holds names.
PERSON_NAME_MIN_DISTINCT = 20
#: A text column of the contract (a code column, not a key) whose distinct values number more
#: than this, and more than half its non-empty values, holds free text or a unique code.
FREE_TEXT_MIN_DISTINCT = 50


# ---------------------------------------------------------------------------------------------
# Output column contracts (tests assert every public function returns exactly these).

ISSUE_COLUMNS = ("file", "row", "column", "value", "rule", "severity", "message")
ISSUE_SCHEMA = {
    "file": pl.String(),
    "row": pl.Int64(),
    "column": pl.String(),
    "value": pl.String(),
    "rule": pl.String(),
    "severity": pl.String(),
    "message": pl.String(),
}
ACCOUNTING_COLUMNS = ("file", "rows_read", "rows_kept", "rows_excluded", "rows_with_warnings")
METRIC_COLUMNS = ("metric", "value", "ci_low", "ci_high", "numerator", "denominator")


# ---------------------------------------------------------------------------------------------
# The data dictionary, rendered from the declarations above (docs/data-dictionary.md holds it
# between markers; a test checks the two agree).

DICTIONARY_BEGIN = "<!-- BEGIN GENERATED FROM src/outcomes/schema.py -->"
DICTIONARY_END = "<!-- END GENERATED -->"


def data_dictionary_markdown() -> str:
    """The per-file column tables and rules of the data contract, as Markdown."""
    kinds = {
        "str": "text",
        "code": "code",
        "int": "whole number",
        "float": "number",
        "date": "date (YYYY-MM-DD)",
        "bool": "true / false",
    }
    out = []
    for spec in SPECS.values():
        optional = " (optional file)" if spec.optional else ""
        out += [f"### `{spec.name}`{optional}", "", spec.description, ""]
        out += [
            "| column | type | column present | empty allowed | allowed values | meaning "
            "| TEDS-D counterpart |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in spec.columns:
            allowed = ", ".join(f"`{a}`" for a in c.allowed)
            if c.minimum is not None:
                allowed = f">= {c.minimum:g}"
            out.append(
                f"| `{c.name}` | {kinds[c.kind]} | {'required' if c.required else 'optional'} "
                f"| {'yes' if c.nullable else 'no'} | {allowed} | {c.description} "
                f"| {c.teds} |"
            )
        out += ["", "Rules across values:", ""]
        out += [f"- `{r.name}` ({r.severity}): {r.description}." for r in spec.rules]
        out.append("")
    out += ["### Rules on every value", ""]
    out += [f"- `{name}` (error): {text}." for name, text in VALUE_RULES.items()]
    out.append("")
    return "\n".join(out)


def update_data_dictionary(path: str) -> None:
    """Rewrite the generated part of ``docs/data-dictionary.md`` (``make docs``)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, rest = text.split(DICTIONARY_BEGIN, 1)
    tail = rest.split(DICTIONARY_END, 1)[1]
    body = f"{DICTIONARY_BEGIN}\n\n{data_dictionary_markdown()}\n{DICTIONARY_END}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + body + tail)
