"""The data contract, declared once.

Every input column (its type, whether it is required, its allowed values, its meaning and its
TEDS-D counterpart), the cross-row rules the loader applies, the deny-list of direct
identifiers, and the fixed column lists of every tidy output frame live here. The loader
(:mod:`outcomes.io`), the documentation (``docs/data-dictionary.md``) and the tests read these
declarations; nothing else restates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

# The deny-list lives in its own module; its public names are part of this one's.
from outcomes.schema._identifiers import *  # noqa: F403

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
FILE_EXTENSIONS = (".csv", ".parquet", ".xlsx", ".xlsm", ".xls", ".ods")

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

#: Row-level rules, shared by every file: rule -> (severity, description).
ROW_RULES = {
    "exact_duplicate": (
        "warning",
        "the row is identical in every column to an earlier row of the same file (exported "
        "twice): it is kept once, and the copy is counted among the rows excluded",
    ),
}

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
    out += ["", "### Rules on every row", ""]
    out += [f"- `{name}` ({sev}): {text}." for name, (sev, text) in ROW_RULES.items()]
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
