"""Guesses for a draft mapping: which contract column an export column is, which contract code
an export label means, and which format a column's dates are written in.

Private to :mod:`outcomes.mapping`; every guess is marked for review in the draft.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

from outcomes.schema import column_tokens

#: Names under which provider systems export each contract column (besides its own name).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "client_id": ("client number", "client id", "client key", "person id", "member key"),
    "episode_id": ("episode number", "episode id", "admission id", "encounter id", "case id"),
    "program_type": ("level of care", "loc", "program", "program type", "asam level"),
    "planned_length_days": ("planned length", "planned days", "expected length", "planned los"),
    "admit_date": ("admission date", "admit date", "intake date", "start date", "admitted"),
    "discharge_date": ("discharge date", "end date", "exit date", "discharged"),
    "discharge_reason": ("discharge type", "discharge reason", "exit reason", "reason"),
    "referral_source": ("referral source", "referral", "referred by", "source"),
    "modality": ("service delivery", "delivery", "modality", "delivery mode"),
    "age_group": ("age group", "age band", "age"),
    "sex": ("gender", "sex"),
    "race_ethnicity": ("race ethnicity", "race", "ethnicity"),
    "primary_substance": ("primary substance", "substance", "primary drug", "drug of choice"),
    "co_occurring_mh": ("co occurring mh", "co occurring", "mental health", "dual diagnosis"),
    "prior_episodes": ("prior treatment episodes", "prior episodes", "prior admissions"),
    "site_id": ("facility", "site", "location", "clinic", "site id"),
    "session_date": ("service date", "session date", "appointment date", "visit date", "date"),
    "status": ("attendance status", "attendance", "status", "visit status"),
    "session_type": ("service type", "session type", "type"),
    "hours": ("duration hrs", "hours", "duration", "length hours"),
    "contact_date": ("contact date", "follow up date", "date"),
    "used_since_discharge": ("any use since discharge", "use since discharge", "used", "relapse"),
    "method": ("contact method", "method", "mode"),
}


def name_score(contract: str, export: str) -> float:
    """How alike an export column's name is to a contract column's name or its synonyms (0-1)."""
    got = " ".join(column_tokens(export))
    best = 0.0
    for phrase in (contract.replace("_", " "), *SYNONYMS.get(contract, ())):
        want = " ".join(column_tokens(phrase))
        if got == want:
            return 1.0
        a, b = set(got.split()), set(want.split())
        overlap = len(a & b) / max(len(a), len(b)) if a and b else 0.0
        ratio = difflib.SequenceMatcher(None, got, want).ratio()
        best = max(best, overlap, ratio * 0.9)
    return best


# --------------------------------------------------------------------------------------------
# Export labels -> contract codes: (pattern on the lower-case label, code), first match wins.

_ASAM = re.compile(r"(?<![\d.])([0-4])(?:\.(\d))?(?![\d.])")


def _program(label: str) -> str | None:
    low = label.lower()
    if re.search(r"\bwm\b|withdraw|detox", low):
        return "detox"
    for words, code in (
        (r"partial|\bphp\b|day treatment", "php"),
        (r"intensive outpatient|\biop\b", "iop"),
        (r"residential|inpatient|\brtc\b", "residential"),
    ):
        if re.search(words, low):
            return code
    match = _ASAM.search(low)
    if match:
        level = float(f"{match.group(1)}.{match.group(2) or 0}")
        if level < 2:
            return "outpatient" if level >= 1 else None
        if level < 2.5:
            return "iop"
        if level < 3:
            return "php"
        return "residential"  # 3.1-3.7; level 4 (hospital) is no contract program: review it
    if re.search(r"outpatient|\bop\b", low):
        return "outpatient"
    return None


_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "discharge_reason": (
        (
            r"\bama\b|against medical|\bleft\b|drop|self.?discharg|elop|walk|no longer attend",
            "left_early",
        ),
        (r"complet|success|graduat|finished", "completed"),
        (r"transfer|referred (?:to|out)|step", "transferred"),
        (r"incarcerat|jail|prison|arrest|custody", "incarcerated"),
        (r"deceas|died|death|expired", "died"),
        (r"administrat|program|rule|non.?complian|behav|therapeutic", "discharged_by_program"),
        (r"other", "other"),
    ),
    "referral_source": (
        (r"self|walk.?in", "self"),
        (r"family|friend", "family"),
        (r"court|crimin|justice|probation|parole|\bdui\b|\bdwi\b|legal", "court"),
        (r"health|hospital|physician|doctor|provider|clinic|medical", "healthcare"),
        (r"employ|\beap\b|work", "employer"),
        (r"school|college|universit", "school"),
        (r"communit|agency|church|social", "community"),
        (r"unknown|missing|not (?:collected|known)|declin", "unknown"),
    ),
    "modality": (
        (r"in.?person|onsite|on.?site|face", "in_person"),
        (r"tele|virtual|video|remote|online", "telehealth"),
        (r"hybrid|mixed|blend", "hybrid"),
    ),
    "status": (
        (r"no.?show|absent|missed|\bdna\b|did not", "no_show"),
        (r"cancel", "cancelled"),
        (r"excus|notif|called", "excused"),
        (r"attend|present|arrived|kept|show", "attended"),
    ),
    "session_type": (
        (r"individual|1:1|one.?on.?one", "individual"),
        (r"famil", "family"),
        (r"educat|psychoed", "education"),
        (r"group", "group"),
        (r"other", "other"),
    ),
    "sex": (
        (r"^f$|female|woman", "female"),
        (r"^m$|male|man", "male"),
        (r"unknown|declin|not", "unknown"),
        (r"other|non.?binary|x", "other"),
    ),
    "primary_substance": (
        (r"alcohol", "alcohol"),
        (r"opi|heroin|fentanyl|oxy|morphine|methadone", "opioids"),
        (r"stimul|meth|cocaine|crack|amphet", "stimulants"),
        (r"cannab|marijuana", "cannabis"),
        (r"sedat|benzo|barbit|tranquil|hypnot", "sedatives"),
        (r"other", "other"),
    ),
}
_BOOL = ((r"^(?:y|yes|true|t|1)$", "true"), (r"^(?:n|no|false|f|0)$", "false"))


def suggest_value(column: str, kind: str, allowed: tuple[str, ...], label: str) -> str | None:
    """The contract value an export label most likely means, or ``None`` (never a sure thing:
    the draft marks every suggestion for review)."""
    low = label.strip().lower()
    if kind == "bool":
        return next((code for pattern, code in _BOOL if re.search(pattern, low)), None)
    squashed = re.sub(r"[^0-9a-z+]+", "_", low).strip("_")
    if low in allowed or squashed in allowed:
        return low if low in allowed else squashed
    if column == "program_type":
        return _program(label)
    for pattern, code in _WORDS.get(column, ()):
        if re.search(pattern, low):
            return code
    return None


# --------------------------------------------------------------------------------------------
# Dates

DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d-%b-%Y",
    "%b %d, %Y",
)


def date_formats_that_fit(values: list[str]) -> list[str]:
    """The formats of :data:`DATE_FORMATS` every value parses with (none when no value)."""
    fits = []
    for fmt in DATE_FORMATS:
        try:
            for v in values:
                dt.datetime.strptime(v.strip(), fmt)
        except ValueError:
            continue
        fits.append(fmt)
    return fits if values else []
