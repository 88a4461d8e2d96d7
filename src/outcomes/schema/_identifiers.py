"""The direct-identifier deny-list (HIPAA Safe Harbor): column names and value patterns.

Part of :mod:`outcomes.schema` (import the names from there); the loader refuses a file that
carries a direct identifier, judged by column name and by value.
"""

from __future__ import annotations

import re

__all__ = [
    "FREE_TEXT_MIN_DISTINCT",
    "IDENTIFIER_NAME_RULES",
    "IDENTIFIER_VALUE_PATTERNS",
    "KEY_COLUMNS",
    "NUMBER_VALUE_PATTERNS",
    "PERSON_NAME_MIN_DISTINCT",
    "PERSON_NAME_PATTERN",
    "ZIP_KIND",
    "ZIP_MAX_DIGITS",
    "column_tokens",
    "identifier_kind",
    "is_zip_column",
    "normalise_column_name",
]

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
