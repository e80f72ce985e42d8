"""The Web API's wire parsers: resource paths, query options, Prefer headers and \\$batch bodies."""

from __future__ import annotations

import contextlib
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from d365local.dataverse.odata.batch import BatchResponsePart, BatchSyntaxError, ChangeSet, parse_batch, render_batch
from d365local.dataverse.odata.query_options import QueryOptionError, parse_prefer, parse_query_string
from d365local.dataverse.odata.resource_path import PathSyntaxError, Segment, parse_resource_path

GUID = "5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f60"

PATHS = [
    ("", ()),
    ("WhoAmI()", (Segment("WhoAmI", call=True),)),
    (f"accounts({GUID})", (Segment("accounts", guid=uuid.UUID(GUID)),)),
    ("accounts(accountnumber='A/1,2')", (Segment("accounts", named=(("accountnumber", "A/1,2"),)),)),
    ("accounts(name='O''Brien',x=5,y=1.5,z=true,n=null)", (Segment("accounts", named=(("name", "O'Brien"), ("x", 5), ("y", Decimal("1.5")), ("z", True), ("n", None))),)),
    (f"systemusers({GUID})/systemuserroles_association/$ref", (Segment("systemusers", guid=uuid.UUID(GUID)), Segment("systemuserroles_association"), Segment("$ref"))),
    ("EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata", (Segment("EntityDefinitions", named=(("LogicalName", "account"),)), Segment("Attributes"), Segment("Microsoft.Dynamics.CRM.PicklistAttributeMetadata"))),
]  # fmt: skip


@pytest.mark.parametrize(("path", "segments"), PATHS, ids=[p[0] or "root" for p in PATHS])
def test_resource_paths(path: str, segments: tuple[Segment, ...]) -> None:
    assert parse_resource_path(path) == segments


@pytest.mark.parametrize(
    "path",
    ["accounts('unterminated)", "accounts(a=1,a=2)", "1accounts", "accounts(x)", "accounts(name='a'b')", "a/" * 20],
)
def test_bad_resource_paths(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_resource_path(path)


@given(st.text(max_size=120))
def test_resource_paths_never_raise_anything_else(path: str) -> None:
    with contextlib.suppress(PathSyntaxError):
        parse_resource_path(path)


def test_both_query_string_encodings_read_the_same() -> None:
    encoded = parse_query_string("%24select=name%2Caccountnumber&%24filter=name+eq+%27a+b%27&%24top=5&%24count=true")
    raw = parse_query_string("$select=name,accountnumber&$filter=name%20eq%20'a%20b'&$top=5&$count=true")
    assert encoded == raw
    assert encoded.select == ("name", "accountnumber")
    assert encoded.top == 5
    assert encoded.count


def test_expand_with_nested_options() -> None:
    options = parse_query_string(
        "$expand=primarycontactid($select=fullname,emailaddress1;$filter=firstname eq 'a;b'),contact_customer_accounts($top=2;$orderby=lastname desc)"
    )
    first, second = options.expand
    assert first.navigation == "primarycontactid"
    assert first.options.select == ("fullname", "emailaddress1")
    assert first.options.filter is not None
    assert second.options.top == 2
    assert second.options.orderby[0].descending


@pytest.mark.parametrize(
    ("query", "not_supported"),
    [
        ("$skip=10", False),
        ("$top=-1", False),
        ("$count=yes", False),
        ("$select=a b", False),
        ("$orderby=a up", False),
        ("$top=1&$top=2", False),
        ("$expand=a($select=b", False),
        ("$filter=name eq", False),
        ("fetchXml=<fetch/>", True),
        ("sql=SELECT", True),
        ("$apply=groupby((a))", True),
        ("%ff=1", False),
    ],
)
def test_bad_query_options(query: str, not_supported: bool) -> None:
    with pytest.raises(QueryOptionError) as caught:
        parse_query_string(query)
    assert caught.value.not_supported == not_supported


@pytest.mark.parametrize(
    ("headers", "page", "annotations", "representation", "continue_on_error"),
    [
        (['odata.maxpagesize=10,odata.include-annotations="*"'], 10, ("*",), False, False),
        (
            ["odata.include-annotations=OData.Community.Display.V1.FormattedValue,odata.maxpagesize=50"],
            50,
            ("OData.Community.Display.V1.FormattedValue",),
            False,
            False,
        ),
        (
            [
                'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname,OData.Community.Display.V1.FormattedValue"'
            ],
            None,
            ("Microsoft.Dynamics.CRM.lookuplogicalname", "OData.Community.Display.V1.FormattedValue"),
            False,
            False,
        ),
        (["return=representation", "odata.continue-on-error"], None, (), True, True),
        (["odata.maxpagesize=999999"], 5000, (), False, False),
        (['odata.include-annotations="unterminated'], None, ("unterminated",), False, False),
    ],
)
def test_prefer(
    headers: list[str], page: int | None, annotations: tuple[str, ...], representation: bool, continue_on_error: bool
) -> None:
    preferences = parse_prefer(headers)
    assert preferences.max_page_size == page
    assert preferences.annotations == annotations
    assert preferences.return_representation == representation
    assert preferences.continue_on_error == continue_on_error


BATCH_LF = """--batch_1
Content-Type: multipart/mixed; boundary=changeset_2

--changeset_2
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json; type=entry

{"name": "a"}
--changeset_2--
--batch_1
Content-Type: application/http
Content-Transfer-Encoding: binary

GET https://localhost:5443/api/data/v9.2/accounts?$filter=name eq 'a b'&$top=5 HTTP/1.1
Accept: application/json

--batch_1--
"""


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("content_type", ["multipart/mixed; boundary=batch_1", 'multipart/mixed; boundary="batch_1"'])
def test_batch_bodies(line_end: str, content_type: str) -> None:
    change_set, get = parse_batch(BATCH_LF.replace("\n", line_end).encode(), content_type)
    assert isinstance(change_set, ChangeSet)
    (create,) = change_set.operations
    assert (create.method, create.url, create.content_id) == ("POST", "/api/data/v9.2/accounts", "1")
    assert create.body == b'{"name": "a"}'
    assert not isinstance(get, ChangeSet)
    assert get.url == "https://localhost:5443/api/data/v9.2/accounts?$filter=name eq 'a b'&$top=5"


@pytest.mark.parametrize("content_type", [None, "application/json", "multipart/mixed"])
def test_batch_needs_a_multipart_boundary(content_type: str | None) -> None:
    with pytest.raises(BatchSyntaxError):
        parse_batch(BATCH_LF.encode(), content_type)


@given(st.binary(max_size=400))
def test_batch_parser_never_raises_anything_else(body: bytes) -> None:
    with contextlib.suppress(BatchSyntaxError):
        parse_batch(body, "multipart/mixed; boundary=b")


def test_batch_responses_nest_change_sets() -> None:
    body, content_type = render_batch(
        [[BatchResponsePart(204, {"OData-EntityId": "x"}, content_id="1")], BatchResponsePart(200, {}, b"{}")]
    )
    text = body.decode()
    assert content_type.startswith("multipart/mixed; boundary=batchresponse_")
    assert "boundary=changesetresponse_" in text
    assert "Content-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\nOData-EntityId: x" in text
    assert text.endswith("--\r\n")
