"""The declared contract: docs agree with it, identifier names are recognised."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcomes.schema import (
    DICTIONARY_BEGIN,
    DICTIONARY_END,
    SPECS,
    data_dictionary_markdown,
    identifier_kind,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"


def test_data_dictionary_doc_is_generated_from_the_schema():
    """docs/data-dictionary.md holds the tables rendered from schema.py, verbatim.

    To refresh it: replace the text between the markers with data_dictionary_markdown().
    """
    text = DOCS.read_text(encoding="utf-8")
    inside = text.split(DICTIONARY_BEGIN, 1)[1].split(DICTIONARY_END, 1)[0]
    assert inside.strip() == data_dictionary_markdown().strip()


def test_every_contract_column_is_documented_with_type_and_meaning():
    text = DOCS.read_text(encoding="utf-8")
    for spec in SPECS.values():
        for col in spec.columns:
            assert f"| `{col.name}` |" in text
            assert col.description


@pytest.mark.parametrize(
    "name",
    [
        "client_id",
        "episode_id",
        "site_id",
        "site_name",
        "program_name",
        "session_type",
        "contact_date",
        "method",
        "race_ethnicity",
        "age_group",
        "telehealth_flag",
        "discharge_reason",
        "referral_source",
        "housing",
        "zip3",
        "state",
    ],
)
def test_ordinary_columns_are_not_identifiers(name):
    assert identifier_kind(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "name",
        "Name",
        "FirstName",
        "first name",
        "patient_name",
        "surname",
        "DOB",
        "Birth Date",
        "SSN",
        "social_security_number",
        "Phone #",
        "cell_phone",
        "fax",
        "E-mail",
        "email_address",
        "Address Line 1",
        "home_address",
        "city",
        "county",
        "MRN",
        "Medical Record Number",
        "medicaid_id",
        "insurance_id",
        "drivers_license",
        "ip_address",
    ],
)
def test_direct_identifier_names_are_recognised(name):
    assert identifier_kind(name) is not None
