"""Tests for ``$filter`` over metadata documents (d365local.dataverse.odata.document_filter)."""

from __future__ import annotations

import pytest

from d365local.dataverse.odata.document_filter import UnsupportedMetadataFilter, matches
from d365local.dataverse.odata.filter_parser import parse_filter

ACCOUNT = {
    "LogicalName": "account",
    "ObjectTypeCode": 1,
    "IsCustomEntity": False,
    "OwnershipType": "UserOwned",
    "RequiredLevel": {"Value": "None"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LogicalName eq 'account'", True),
        ("LogicalName eq 'ACCOUNT'", True),  # text compares without case
        ("LogicalName ne 'account'", False),
        ("ObjectTypeCode eq 1 and IsCustomEntity eq false", True),
        ("ObjectTypeCode gt 1 or LogicalName eq 'contact'", False),
        ("not (ObjectTypeCode lt 1)", True),
        ("ObjectTypeCode lt 'x'", False),  # incomparable values match nothing
        ("OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'", True),
        ("RequiredLevel/Value eq 'None'", True),
        ("RequiredLevel eq 'None'", True),  # a {"Value": …} object compares by its value
        ("Missing/Deep eq null", True),
    ],
)
def test_conditions(text: str, expected: bool) -> None:
    assert matches(parse_filter(text), ACCOUNT) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("startswith(LogicalName,'acc')", "The 'startswith' function isn't supported for Metadata Entities"),
        ("LogicalName", "Only comparisons joined by and/or/not are supported for Metadata Entities"),
        ("tolower(LogicalName) eq 'account'", "Only properties and literals can be compared in metadata queries"),
    ],
)
def test_what_metadata_queries_refuse(text: str, message: str) -> None:
    with pytest.raises(UnsupportedMetadataFilter, match=message):
        matches(parse_filter(text), ACCOUNT)
