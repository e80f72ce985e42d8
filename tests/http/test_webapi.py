"""The Dataverse Web API over in-process HTTP: records, queries, errors, $batch, bulk messages and throttling.

Statuses, headers and error codes as docs/reference/dataverse.md describes them ("Errors", "Records", "Batch requests").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy

from d365local.dataverse.domain.service_protection import Limits
from tests.http.webapi_fixtures import (
    API_URL,
    BASE_URL,
    WebApiEnv,
    dataverse_error,
    migrated_sqlite,
    new_id,
    webapi,
    webapi_env,
)

__all__ = ["migrated_sqlite", "webapi"]  # fixtures, imported so pytest finds them

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ANNOTATIONS = {"Prefer": 'odata.include-annotations="*"'}
FORMATTED = "OData.Community.Display.V1.FormattedValue"


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["name"]) for r in rows]


def contact(env: WebApiEnv, first: str = "Ann", last: str = "Smith", **values: Any) -> str:
    return env.create("contacts", firstname=first, lastname=last, **values)


# -- create ----------------------------------------------------------------------------------------------------------
def test_create_answers_204_with_the_entity_id(webapi: WebApiEnv) -> None:
    response = webapi.send("POST", "accounts", json_body={"name": "Contoso"})
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["OData-Version"] == "4.0"
    assert re.fullmatch(
        rf"https://localhost:5443/api/data/v9\.2/accounts\({GUID}\)", response.headers["OData-EntityId"]
    )


def test_create_with_return_representation_answers_201_with_the_record(webapi: WebApiEnv) -> None:
    response = webapi.send(
        "POST", "accounts", json_body={"name": "Contoso", "revenue": 12.5}, headers={"Prefer": "return=representation"}
    )
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "return=representation"
    assert "OData-EntityId" not in response.headers
    body = response.json()
    assert body["@odata.etag"] == 'W/"1"'
    assert body["@odata.context"] == f"{API_URL}/$metadata#accounts/$entity"
    assert body["name"] == "Contoso"
    assert body["revenue"] == 12.5
    assert body["statecode"] == 0
    assert re.fullmatch(GUID, body["accountid"])


@pytest.mark.parametrize(
    "reference",
    [
        pytest.param("/contacts({id})", id="leading-slash"),
        pytest.param("contacts({id})", id="relative"),
        pytest.param("/contacts({ID})", id="upper-case-guid"),
        pytest.param(f"{API_URL}/contacts({{id}})", id="absolute"),
        pytest.param("/api/data/v9.2/contacts({id})", id="root-relative"),
    ],
)
def test_bind_sets_a_lookup_read_back_as_value(webapi: WebApiEnv, reference: str) -> None:
    contact_id = contact(webapi)
    bind = reference.format(id=contact_id, ID=contact_id.upper())
    account_id = webapi.create(name="Bound", **{"primarycontactid@odata.bind": bind})
    body = webapi.get(f"accounts({account_id})?$select=_primarycontactid_value").json()
    assert body["_primarycontactid_value"] == contact_id


def test_bind_to_a_missing_record_is_404(webapi: WebApiEnv) -> None:
    missing = new_id()
    response = webapi.send(
        "POST", "accounts", json_body={"name": "x", "primarycontactid@odata.bind": f"/contacts({missing})"}
    )
    assert dataverse_error(response, 404, "0x80040217") == f"Entity 'contact' With Id = {missing} Does Not Exist"
    assert webapi.rows("accounts?$select=name") == []


# -- retrieve --------------------------------------------------------------------------------------------------------
def test_retrieve_with_select_and_expand(webapi: WebApiEnv) -> None:
    primary = contact(webapi, "Ann", "Smith")
    account_id = webapi.create(name="Contoso", **{"primarycontactid@odata.bind": f"/contacts({primary})"})
    for first in ("Bo", "Cy"):
        contact(webapi, first, "Jones", **{"parentcustomerid_account@odata.bind": f"/accounts({account_id})"})
    response = webapi.get(
        f"accounts({account_id})?$select=name&$expand=primarycontactid($select=fullname),"
        "contact_customer_accounts($select=firstname;$orderby=firstname desc)"
    )
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"1"'
    body = response.json()
    assert body["@odata.context"] == f"{API_URL}/$metadata#accounts(name)/$entity"
    assert body["name"] == "Contoso"
    assert body["accountid"] == account_id
    assert "telephone1" not in body
    assert body["primarycontactid"]["fullname"] == "Ann Smith"
    assert body["primarycontactid"]["contactid"] == primary
    assert [c["firstname"] for c in body["contact_customer_accounts"]] == ["Cy", "Bo"]


def test_expand_of_an_empty_lookup_is_null(webapi: WebApiEnv) -> None:
    account_id = webapi.create(name="Alone")
    body = webapi.get(f"accounts({account_id})?$expand=primarycontactid,contact_customer_accounts").json()
    assert body["primarycontactid"] is None
    assert body["contact_customer_accounts"] == []


def test_retrieve_of_a_missing_record_is_404(webapi: WebApiEnv) -> None:
    missing = new_id()
    message = dataverse_error(webapi.get(f"accounts({missing})"), 404, "0x80040217")
    assert message == f"Entity 'account' With Id = {missing} Does Not Exist"


def test_if_none_match_with_the_current_etag_is_304(webapi: WebApiEnv) -> None:
    account_id = webapi.create(name="Cached")
    assert webapi.get(f"accounts({account_id})", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert webapi.get(f"accounts({account_id})", headers={"If-None-Match": 'W/"0"'}).status_code == 200


# -- update, upsert, conditions --------------------------------------------------------------------------------------
def test_patch_updates_and_bumps_the_etag(webapi: WebApiEnv) -> None:
    account_id = webapi.create(name="Before")
    response = webapi.send("PATCH", f"accounts({account_id})", json_body={"name": "After", "telephone1": "555"})
    assert response.status_code == 204
    body = webapi.get(f"accounts({account_id})?$select=name,telephone1").json()
    assert (body["name"], body["telephone1"], body["@odata.etag"]) == ("After", "555", 'W/"2"')


def test_patch_with_return_representation_is_200(webapi: WebApiEnv) -> None:
    account_id = webapi.create(name="Before")
    response = webapi.send(
        "PATCH", f"accounts({account_id})", json_body={"name": "After"}, headers={"Prefer": "return=representation"}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "After"
    assert response.headers["Preference-Applied"] == "return=representation"


def test_patch_of_a_new_id_creates_the_record(webapi: WebApiEnv) -> None:
    account_id = new_id()
    response = webapi.send("PATCH", f"accounts({account_id})", json_body={"name": "Upserted"})
    assert response.status_code == 204
    assert response.headers["OData-EntityId"] == f"{API_URL}/accounts({account_id})"
    assert webapi.get(f"accounts({account_id})?$select=name").json()["name"] == "Upserted"


def test_upsert_with_return_representation_is_201_then_200(webapi: WebApiEnv) -> None:
    account_id = new_id()
    prefer = {"Prefer": "return=representation"}
    created = webapi.send("PATCH", f"accounts({account_id})", json_body={"name": "One"}, headers=prefer)
    assert created.status_code == 201
    assert created.json()["@odata.etag"] == 'W/"1"'
    updated = webapi.send("PATCH", f"accounts({account_id})", json_body={"name": "Two"}, headers=prefer)
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["@odata.etag"]) == ("Two", 'W/"2"')


def test_if_match_star_prevents_create(webapi: WebApiEnv) -> None:
    missing = new_id()
    response = webapi.send("PATCH", f"accounts({missing})", json_body={"name": "x"}, headers={"If-Match": "*"})
    assert dataverse_error(response, 404, "0x80040217") == f"Entity 'account' With Id = {missing} Does Not Exist"
    assert webapi.get(f"accounts({missing})").status_code == 404


def test_if_none_match_star_prevents_update(webapi: WebApiEnv) -> None:
    account_id = webapi.create(name="Kept")
    response = webapi.send(
        "PATCH", f"accounts({account_id})", json_body={"name": "Changed"}, headers={"If-None-Match": "*"}
    )
    assert dataverse_error(response, 412, "0x80040237") == "A record with matching key values already exists."
    assert webapi.get(f"accounts({account_id})?$select=name").json()["name"] == "Kept"
    fresh = new_id()
    created = webapi.send("PATCH", f"accounts({fresh})", json_body={"name": "New"}, headers={"If-None-Match": "*"})
    assert created.status_code == 204


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_if_match_with_a_stale_etag_is_412(webapi: WebApiEnv, method: str) -> None:
    account_id = webapi.create(name="Versioned")
    body = {"name": "x"} if method == "PATCH" else None
    response = webapi.send(method, f"accounts({account_id})", json_body=body, headers={"If-Match": 'W/"999"'})
    message = dataverse_error(response, 412, "0x80060882")
    assert message == "The version of the existing record doesn't match the RowVersion property provided."
    current = webapi.send(method, f"accounts({account_id})", json_body=body, headers={"If-Match": 'W/"1"'})
    assert current.status_code == 204


def test_if_none_match_null_is_no_condition(webapi: WebApiEnv) -> None:
    headers = {"If-None-Match": "null"}
    account_id = webapi.create(name="Old")
    assert (
        webapi.send("PATCH", f"accounts({account_id})", json_body={"name": "New"}, headers=headers).status_code == 204
    )
    fresh = new_id()
    assert webapi.send("PATCH", f"accounts({fresh})", json_body={"name": "Made"}, headers=headers).status_code == 204
    assert sorted(names(webapi.rows("accounts?$select=name"))) == ["Made", "New"]
    both = {"If-None-Match": "null", "If-Match": "*"}  # what dynamics-client sends on every PATCH
    assert webapi.send("PATCH", f"accounts({fresh})", json_body={"name": "Again"}, headers=both).status_code == 204
    assert webapi.send("PATCH", f"accounts({new_id()})", json_body={"name": "No"}, headers=both).status_code == 404


def test_upsert_by_alternate_key_creates_then_updates(webapi: WebApiEnv) -> None:
    first = webapi.send("PATCH", "accounts(accountnumber='A1')", json_body={"name": "one"})
    assert first.status_code == 204
    assert re.fullmatch(rf"{re.escape(API_URL)}/accounts\({GUID}\)", first.headers["OData-EntityId"])
    second = webapi.send("PATCH", "accounts(accountnumber='A1')", json_body={"name": "two"})
    assert second.status_code == 204
    assert second.headers["OData-EntityId"] == first.headers["OData-EntityId"]
    rows = webapi.rows("accounts?$select=name,accountnumber")
    assert [(r["accountnumber"], r["name"]) for r in rows] == [("A1", "two")]
    assert webapi.get("accounts(accountnumber='A1')?$select=name").json()["name"] == "two"


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_undefined_alternate_key_is_400(webapi: WebApiEnv, method: str) -> None:
    body = {"name": "x"} if method == "PATCH" else None
    response = webapi.send(method, "accounts(name='x')", json_body=body)
    message = dataverse_error(response, 400, "0x80060890")
    assert message == "The specified key attributes are not a defined key for the account entity"


def test_a_duplicate_alternate_key_is_412(webapi: WebApiEnv) -> None:
    webapi.create(name="a", accountnumber="DUP")
    response = webapi.send("POST", "accounts", json_body={"name": "b", "accountnumber": "DUP"})
    assert "DUP" in dataverse_error(response, 412, "0x80060892")


# -- single columns --------------------------------------------------------------------------------------------------
def test_put_get_and_delete_one_column(webapi: WebApiEnv) -> None:
    account_id = webapi.create(name="Columns")
    assert webapi.send("PUT", f"accounts({account_id})/telephone1", json_body={"value": "555-0100"}).status_code == 204
    response = webapi.get(f"accounts({account_id})/telephone1")
    assert response.status_code == 200
    assert response.json()["value"] == "555-0100"
    assert webapi.send("DELETE", f"accounts({account_id})/telephone1").status_code == 204
    assert webapi.get(f"accounts({account_id})/telephone1").json()["value"] is None
    dataverse_error(webapi.send("PUT", f"accounts({account_id})/telephone1", json_body={"value": 5}), 400, "0x80048d19")
    dataverse_error(webapi.send("PUT", f"accounts({new_id()})/telephone1", json_body={"value": "x"}), 404, "0x80040217")


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_read_only_columns_cannot_be_set_one_by_one(webapi: WebApiEnv, method: str) -> None:
    account_id = webapi.create(name="Audited")
    before = webapi.get(f"accounts({account_id})?$select=createdon").json()["createdon"]
    body = {"value": "2001-01-01T00:00:00Z"} if method == "PUT" else None
    response = webapi.send(method, f"accounts({account_id})/createdon", json_body=body)
    assert webapi.get(f"accounts({account_id})?$select=createdon").json()["createdon"] == before
    dataverse_error(response, 400)


# -- delete ----------------------------------------------------------------------------------------------------------
def test_delete_then_404(webapi: WebApiEnv) -> None:
    account_id = webapi.create(name="Doomed")
    assert webapi.send("DELETE", f"accounts({account_id})").status_code == 204
    dataverse_error(webapi.get(f"accounts({account_id})"), 404, "0x80040217")
    dataverse_error(webapi.send("DELETE", f"accounts({account_id})"), 404, "0x80040217")


# -- queries ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def seeded(webapi: WebApiEnv) -> WebApiEnv:
    """Five accounts: Alpha…Echo with account numbers A1…A5 and 10…50 employees."""
    for index, name in enumerate(["Alpha", "Bravo", "Charlie", "Delta", "Echo"], start=1):
        webapi.create(name=name, accountnumber=f"A{index}", numberofemployees=index * 10)
    return webapi


def test_both_query_encodings_give_the_same_result(seeded: WebApiEnv) -> None:
    encoded = seeded.get("accounts?%24select=name%2Caccountnumber&%24filter=name+eq+%27Bravo%27")
    raw = seeded.get("accounts?$select=name,accountnumber&$filter=name%20eq%20'Bravo'")
    assert encoded.status_code == raw.status_code == 200
    assert encoded.json() == raw.json()
    assert [(r["name"], r["accountnumber"]) for r in raw.json()["value"]] == [("Bravo", "A2")]
    assert raw.json()["@odata.context"] == f"{API_URL}/$metadata#accounts(name,accountnumber)"
    assert set(raw.json()["value"][0]) == {"@odata.etag", "name", "accountnumber", "accountid"}


def test_orderby_and_top(seeded: WebApiEnv) -> None:
    assert names(seeded.rows("accounts?$select=name&$orderby=name desc")) == [
        "Echo",
        "Delta",
        "Charlie",
        "Bravo",
        "Alpha",
    ]
    assert names(seeded.rows("accounts?$select=name&$orderby=numberofemployees asc&$top=2")) == ["Alpha", "Bravo"]
    response = seeded.get("accounts?$select=name&$top=2")
    assert len(response.json()["value"]) == 2
    assert "@odata.nextLink" not in response.json()


def test_count(seeded: WebApiEnv) -> None:
    body = seeded.get("accounts?$select=name&$filter=numberofemployees gt 20&$count=true").json()
    assert body["@odata.count"] == 3
    assert len(body["value"]) == 3
    counted = seeded.get("accounts/$count")
    assert counted.status_code == 200
    assert counted.headers["content-type"].startswith("text/plain")
    assert counted.text == "5"


def follow_pages(env: WebApiEnv, first: str, page_size: int) -> tuple[list[list[str]], list[str]]:
    """Every page's ids and every nextLink, following nextLinks verbatim as the SDK does."""
    prefer = {"Prefer": f"odata.maxpagesize={page_size}"}
    pages: list[list[str]] = []
    links: list[str] = []
    response = env.get(first, headers=prefer)
    while True:
        assert response.status_code == 200, response.text
        assert response.headers["Preference-Applied"] == f"odata.maxpagesize={page_size}"
        body = response.json()
        pages.append([r["accountid"] for r in body["value"]])
        link = body.get("@odata.nextLink")
        if link is None:
            return pages, links
        links.append(link)
        assert link.startswith(f"{API_URL}/accounts?")
        assert "$skiptoken=" in link
        assert len(pages) < 20
        response = env.client.get(
            link.removeprefix(BASE_URL), headers={"Authorization": f"Bearer {env.token}", **prefer}
        )


def test_maxpagesize_pages_with_absolute_next_links(seeded: WebApiEnv) -> None:
    pages, links = follow_pages(seeded, "accounts?$select=name&$orderby=name", 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len(links) == 2
    assert all("$select=name" in link for link in links)
    everything = [row_id for page in pages for row_id in page]
    assert len(everything) == len(set(everything)) == 5
    ordered = [r["accountid"] for r in seeded.rows("accounts?$select=name&$orderby=name")]
    assert everything == ordered


def test_top_is_ignored_with_maxpagesize(seeded: WebApiEnv) -> None:
    pages, _ = follow_pages(seeded, "accounts?$select=name&$top=1", 2)
    assert sum(len(p) for p in pages) == 5


def test_include_annotations(webapi: WebApiEnv) -> None:
    primary = contact(webapi)
    webapi.create(name="Annotated", revenue=1000, **{"primarycontactid@odata.bind": f"/contacts({primary})"})
    response = webapi.get("accounts?$select=name,statecode,revenue,_primarycontactid_value", headers=ANNOTATIONS)
    assert response.headers["Preference-Applied"] == 'odata.include-annotations="*"'
    (row,) = response.json()["value"]
    assert row[f"statecode@{FORMATTED}"] == "Active"
    assert row[f"revenue@{FORMATTED}"] == "$1,000.00"
    assert row["_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "contact"
    assert row["_primarycontactid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "primarycontactid"
    assert row[f"_primarycontactid_value@{FORMATTED}"] == "Ann Smith"  # the target's primary name
    plain = webapi.rows("accounts?$select=statecode")[0]
    assert f"statecode@{FORMATTED}" not in plain


def test_lookup_formatted_values_on_retrieve_polymorphic_lookups_and_expand(webapi: WebApiEnv) -> None:
    parent = webapi.create(name="Parent Co")
    person = contact(webapi, "Bo", "Berg", **{"parentcustomerid_account@odata.bind": f"/accounts({parent})"})
    webapi.create(name="Child Co", **{"primarycontactid@odata.bind": f"/contacts({person})"})
    retrieved = webapi.get(f"contacts({person})?$select=_parentcustomerid_value", headers=ANNOTATIONS).json()
    assert retrieved[f"_parentcustomerid_value@{FORMATTED}"] == "Parent Co"
    assert retrieved["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    expanded = webapi.get(
        "accounts?$select=name&$filter=name eq 'Child Co'"
        "&$expand=primarycontactid($select=fullname,_parentcustomerid_value)",
        headers=ANNOTATIONS,
    ).json()["value"][0]["primarycontactid"]
    assert expanded[f"_parentcustomerid_value@{FORMATTED}"] == "Parent Co"
    without = webapi.get(f"contacts({person})?$select=_parentcustomerid_value").json()
    assert f"_parentcustomerid_value@{FORMATTED}" not in without


@pytest.mark.parametrize(
    "prefer",
    [
        'odata.maxpagesize=1,odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
        "odata.include-annotations=OData.Community.Display.V1.FormattedValue,odata.maxpagesize=1",
    ],
    ids=["sdk-quoted", "unquoted"],
)
def test_one_prefer_header_with_page_size_and_annotations(seeded: WebApiEnv, prefer: str) -> None:
    response = seeded.get("accounts?$select=name,statecode&$orderby=name", headers={"Prefer": prefer})
    applied = response.headers["Preference-Applied"]
    assert "odata.maxpagesize=1" in applied
    assert "OData.Community.Display.V1.FormattedValue" in applied
    body = response.json()
    assert [(r["name"], r[f"statecode@{FORMATTED}"]) for r in body["value"]] == [("Alpha", "Active")]
    assert "$skiptoken=" in body["@odata.nextLink"]


FILTERS: list[tuple[str, list[str]]] = [
    ('Microsoft.Dynamics.CRM.In(PropertyName=\'accountnumber\',PropertyValues=["A1","A2"])', ["Alpha", "Bravo"]),
    (
        'Microsoft.Dynamics.CRM.NotIn(PropertyName=\'accountnumber\',PropertyValues=["A1","A2"])',
        ["Charlie", "Delta", "Echo"],
    ),
    (
        'Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["20","30"])',
        ["Bravo", "Charlie"],
    ),
    ("contains(name,'ha')", ["Alpha", "Charlie"]),
    ("contains(name,'HA')", ["Alpha", "Charlie"]),
    ("startswith(name,'d')", ["Delta"]),
    ("endswith(name,'o')", ["Bravo", "Echo"]),
    ("not contains(name,'a')", ["Echo"]),
    ("not (numberofemployees gt 20)", ["Alpha", "Bravo"]),
    ("name eq 'alpha'", ["Alpha"]),
    ("name ne 'Alpha'", ["Bravo", "Charlie", "Delta", "Echo"]),
    ("numberofemployees ge 20 and numberofemployees lt 40", ["Bravo", "Charlie"]),
    ("numberofemployees le 10 or numberofemployees gt 40", ["Alpha", "Echo"]),
    ("(name eq 'Alpha' or name eq 'Echo') and numberofemployees gt 10", ["Echo"]),
    ("name eq 'alpha' or name eq 'ECHO'", ["Alpha", "Echo"]),  # one IN, as case-insensitive as eq
    ('Microsoft.Dynamics.CRM.In(PropertyName=\'name\',PropertyValues=["bravo","DELTA"])', ["Bravo", "Delta"]),
    (
        'Microsoft.Dynamics.CRM.NotIn(PropertyName=\'name\',PropertyValues=["bravo","DELTA"])',
        ["Alpha", "Charlie", "Echo"],
    ),
    ("telephone1 eq null", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),
    ("telephone1 ne null", []),
    ("tolower(name) eq 'delta'", ["Delta"]),
    ("'Bravo' eq name", ["Bravo"]),
    ("statecode eq 0", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),
]


@pytest.mark.parametrize(("expression", "expected"), FILTERS, ids=[f[0][:40] for f in FILTERS])
def test_filters(seeded: WebApiEnv, expression: str, expected: list[str]) -> None:
    assert sorted(names(seeded.rows(f"accounts?$select=name&$filter={expression}"))) == expected


def test_filter_on_dates(webapi: WebApiEnv) -> None:
    early = dt.datetime.fromtimestamp(int(webapi.clock.now()), dt.UTC)
    webapi.create(name="Early")
    webapi.clock.advance(1800)  # within the bearer token's lifetime
    late = early + dt.timedelta(minutes=30)
    webapi.create(name="Late")

    def query(expression: str) -> list[str]:
        return sorted(names(webapi.rows(f"accounts?$select=name&$filter={expression}")))

    middle = (early + dt.timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert query(f"createdon gt {middle}") == ["Late"]
    assert query(f"createdon lt {middle}") == ["Early"]
    assert query(f"createdon ge {early.strftime('%Y-%m-%dT%H:%M:%SZ')}") == ["Early", "Late"]
    assert query(f"createdon gt {early.strftime('%Y-%m-%dT%H:%M:%S')}%2B01:00") == ["Early", "Late"]  # 1 h east of UTC
    assert query(f"createdon ge {early.date().isoformat()}") == ["Early", "Late"]
    on_early_day = ["Early", "Late"] if late.date() == early.date() else ["Early"]
    assert query(f"Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='{early.date()}')") == on_early_day
    assert query("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=1)") == ["Early", "Late"]
    created = webapi.rows("accounts?$select=createdon&$orderby=createdon desc")
    assert [r["createdon"] for r in created] == [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (late, early)]


def test_filters_across_lookups_and_relationships(webapi: WebApiEnv) -> None:
    ann = contact(webapi, "Ann", "Smith")
    bob = contact(webapi, "Bob", "Jones")
    with_ann = webapi.create(name="WithAnn", **{"primarycontactid@odata.bind": f"/contacts({ann})"})
    webapi.create(name="WithBob", **{"primarycontactid@odata.bind": f"/contacts({bob})"})
    webapi.create(name="Nobody")
    contact(webapi, "Cy", "Child", **{"parentcustomerid_account@odata.bind": f"/accounts({with_ann})"})

    def query(expression: str) -> list[str]:
        return sorted(names(webapi.rows(f"accounts?$select=name&$filter={expression}")))

    assert query(f"_primarycontactid_value eq {ann}") == ["WithAnn"]
    assert query("_primarycontactid_value eq null") == ["Nobody"]
    assert query("primarycontactid/fullname eq 'Bob Jones'") == ["WithBob"]
    assert query("primarycontactid/lastname eq 'smith'") == ["WithAnn"]
    assert query("contact_customer_accounts/any(c: c/lastname eq 'Child')") == ["WithAnn"]
    assert query("contact_customer_accounts/any(c: c/lastname eq 'Nobody')") == []
    assert query("contact_customer_accounts/any()") == ["WithAnn"]
    assert query("not contact_customer_accounts/any()") == ["Nobody", "WithBob"]


def test_sql_metacharacters_are_plain_data(webapi: WebApiEnv) -> None:
    drop = "x'; DROP TABLE dv_account; --"
    wild = "%_\\"
    webapi.create(name=drop)
    webapi.create(name=wild)
    webapi.create(name="plain")
    quoted = drop.replace("'", "''")
    assert names(webapi.rows(f"accounts?$select=name&$filter=name eq '{quoted}'")) == [drop]
    assert names(webapi.rows(f"accounts?$select=name&$filter=contains(name,'{quoted}')")) == [drop]
    encoded = wild.replace("%", "%25").replace("\\", "%5C")
    assert names(webapi.rows(f"accounts?$select=name&$filter=name eq '{encoded}'")) == [wild]
    assert names(webapi.rows(f"accounts?$select=name&$filter=contains(name,'{encoded}')")) == [wild]
    assert names(webapi.rows("accounts?$select=name&$filter=contains(name,'%25')")) == [wild]
    assert names(webapi.rows("accounts?$select=name&$filter=startswith(name,'_')")) == []
    assert names(webapi.rows("accounts?$select=name&$filter=endswith(name,'%5C')")) == [wild]
    webapi.create(name="after")
    assert len(webapi.rows("accounts?$select=name")) == 4


@pytest.mark.parametrize("joiner", ["or", "and"])
def test_a_1000_term_chain_is_not_a_server_error(
    webapi: WebApiEnv, database_url: str, request: pytest.FixtureRequest, joiner: str
) -> None:
    webapi.create(name="n1")
    operator = "eq" if joiner == "or" else "ne"
    expression = f" {joiner} ".join(f"name {operator} 'n{i}'" for i in range(1000))  # 18 KB, inside the 32 KB limit
    response = webapi.get(f"accounts?$select=name&$filter={expression}")
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert names(response.json()["value"]) == (["n1"] if joiner == "or" else [])
    else:
        dataverse_error(response, response.status_code)


def test_a_5000_term_or_chain_in_a_batch_is_not_a_server_error(webapi: WebApiEnv) -> None:
    """95 KB of $filter: too long for a URL outside a batch, so it travels as a batch part (up to 64 KB there)."""
    webapi.create(name="n1")
    expression = " or ".join(f"name eq 'n{i}'" for i in range(5000))
    boundary = f"batch_{uuid.uuid4()}"
    response = send_batch(
        webapi, batch_body([f"GET accounts?$select=name&$filter={expression} HTTP/1.1\n"], boundary), boundary
    )
    assert response.status_code < 500
    (part,) = parse_batch_response(response)
    assert part.status < 500, part.body
    if part.status == 200:
        assert names(part.json()["value"]) == ["n1"]


def test_a_5000_value_in_is_not_a_server_error(webapi: WebApiEnv) -> None:
    webapi.create(name="n1", accountnumber="N1")
    values = ",".join(f'"N{i}"' for i in range(5000))
    response = webapi.get(
        f"accounts?$select=name&$filter=Microsoft.Dynamics.CRM.In(PropertyName='accountnumber',PropertyValues=[{values}])"
    )
    assert response.status_code < 500
    if response.status_code == 200:
        assert names(response.json()["value"]) == ["n1"]


# -- errors ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    method: str
    path: str
    status: int
    code: str | None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    says: str = ""


BAD_REQUESTS: dict[str, Bad] = {
    "unterminated-literal": Bad("GET", "accounts?$filter=name eq 'x", 400, "0x80060888", says="position"),
    "dangling-operator": Bad("GET", "accounts?$filter=name eq", 400, "0x80060888", says="position"),
    "unbalanced-parens": Bad("GET", "accounts?$filter=(name eq 'x'", 400, "0x80060888", says="position"),
    "unknown-entity-set": Bad(
        "GET", "widgets", 404, "0x8006088a", says="Resource not found for the segment 'widgets'."
    ),
    "unknown-select": Bad(
        "GET",
        "accounts?$select=nope",
        400,
        "0x80060888",
        says="Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.account'.",
    ),
    "unknown-filter": Bad(
        "GET", "accounts?$filter=nope eq 1", 400, "0x80060888", says="Could not find a property named 'nope'"
    ),
    "unknown-orderby": Bad("GET", "accounts?$orderby=nope", 400, "0x80060888", says="'nope'"),
    "unknown-expand": Bad("GET", "accounts?$expand=nope", 400, "0x80060888", says="'nope'"),
    "bare-lookup-in-filter": Bad("GET", "accounts?$filter=primarycontactid eq null", 400, "0x80060888"),
    "incompatible-types": Bad("GET", "accounts?$filter=numberofemployees eq 'x'", 400, "0x80060888"),
    "skip": Bad("GET", "accounts?$skip=1", 400, "0x80060888", says="$skip"),
    "search": Bad("GET", "accounts?$search=x", 400, "0x80060888"),
    "duplicate-option": Bad("GET", "accounts?$top=1&$top=2", 400, "0x80060888"),
    "negative-top": Bad("GET", "accounts?$top=-1", 400, "0x80060888"),
    "bad-count": Bad("GET", "accounts?$count=yes", 400, "0x80060888"),
    "fetchxml": Bad("GET", "accounts?fetchXml=%3Cfetch%2F%3E", 501, "0x8006088a"),
    "forged-skiptoken": Bad("GET", "accounts?$skiptoken=abc", 400, "0x80060888"),
    "bad-guid-key": Bad("GET", "accounts(not-a-guid)", 400, "0x80060888"),
    "short-guid-key": Bad("GET", "accounts(00000000-0000-0000-0000-00000000000)", 400, "0x80060888"),
    "unterminated-key": Bad("GET", "accounts(accountnumber='x)", 400, "0x80060888"),
    "deep-path": Bad("GET", "accounts(00000000-0000-0000-0000-000000000001)/a/b/c", 404, "0x8006088a"),
    "put-collection": Bad("PUT", "accounts", 405, "0x80040227"),
    "invalid-json": Bad(
        "POST", "accounts", 400, "0x80048d19", body=b'{"name": "x"', says="Error identified in Payload"
    ),
    "json-array": Bad("POST", "accounts", 400, "0x80048d19", body=b"[]"),
    "not-utf8": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"name": "\xff"}'),
    "unknown-body-column": Bad(
        "POST", "accounts", 400, "0x80048d19", body=b'{"nope": 1}', says="'nope' does not exist"
    ),
    "string-for-money": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"revenue": "lots"}', says="Edm.Decimal"),
    "number-for-string": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"name": 5}', says="Edm.String"),
    "bool-for-int": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"numberofemployees": true}'),
    "float-for-int": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"numberofemployees": 1.5}'),
    "bad-datetime": Bad("POST", "contacts", 400, "0x80048d19", body=b'{"birthdate": "yesterday"}'),
    "read-only-column": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"createdon": "2020-01-01T00:00:00Z"}'),
    "lookup-without-bind": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"primarycontactid": "x"}'),
    "bind-wrong-table": Bad(
        "POST",
        "accounts",
        400,
        "0x80048d19",
        body=b'{"primarycontactid@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)"}',
    ),
    "bind-not-a-url": Bad("POST", "accounts", 400, "0x80048d19", body=b'{"primarycontactid@odata.bind": 5}'),
    "name-too-long": Bad(
        "POST",
        "accounts",
        400,
        "0x80044331",
        body=json.dumps({"name": "x" * 161}).encode(),
        says="exceeded the maximum allowed length of '160'",
    ),
    "option-not-in-set": Bad("POST", "accounts", 400, None, body=b'{"industrycode": 9999}', says="9999"),
    "int-out-of-range": Bad("POST", "accounts", 400, None, body=b'{"numberofemployees": -1}'),
    "nan-money": Bad("POST", "accounts", 400, None, body=b'{"revenue": NaN}'),
    "change-primary-key": Bad(
        "PATCH",
        "accounts(00000000-0000-0000-0000-000000000001)",
        400,
        "0x80048d19",
        body=b'{"accountid": "00000000-0000-0000-0000-000000000002"}',
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_requests_answer_dataverse_errors(webapi: WebApiEnv, case: Bad) -> None:
    webapi.create(name="present")  # some errors are only noticed while rendering rows
    headers = {"Content-Type": "application/json", **case.headers} if case.body is not None else case.headers
    response = webapi.send(case.method, case.path, content=case.body, headers=headers)
    message = dataverse_error(response, case.status, case.code)
    assert case.says in message


@pytest.mark.parametrize(
    "query", ["accounts?$select=nope", "accounts?$expand=nope", "accounts?$filter=name eq 'none'&$select=nope"]
)
def test_unknown_names_are_400_even_without_rows(webapi: WebApiEnv, query: str) -> None:
    dataverse_error(webapi.get(query), 400, "0x80060888")


def test_a_newline_in_the_path_answers_a_dataverse_error(webapi: WebApiEnv) -> None:
    response = webapi.get("accounts(accountnumber='%0A')")
    dataverse_error(response, 404, "0x80040217")


def test_unknown_api_version_is_404(webapi: WebApiEnv) -> None:
    dataverse_error(webapi.get("WhoAmI", version="v8.2"), 404, "0x8006088a")


def test_a_body_over_16_mib_is_413(webapi: WebApiEnv) -> None:
    body = json.dumps({"description": "x" * (16 * 1024 * 1024)}).encode()
    response = webapi.send("POST", "accounts", content=body, headers={"Content-Type": "application/json"})
    dataverse_error(response, 413, "0x8004418a")
    assert webapi.rows("accounts?$select=name") == []


@pytest.mark.parametrize(
    "expression",
    [
        "numberofemployees eq 99999999999999999999999",
        "numberofemployees eq 1e30",
        "versionnumber gt 99999999999999999999",
        "Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=[\"99999999999999999999\"])",
    ],
)
def test_huge_integer_literals_are_not_a_server_error(webapi: WebApiEnv, expression: str) -> None:
    webapi.create(name="a", numberofemployees=1)
    response = webapi.get(f"accounts?$select=name&$filter={expression}")
    assert response.status_code < 500
    if response.status_code >= 400:
        dataverse_error(response, response.status_code, "0x80060888")
    else:
        assert response.json()["value"] == []


@pytest.mark.parametrize("expression", ["null eq null", "null ne 'x'"])
def test_null_literal_comparisons_are_not_a_server_error(webapi: WebApiEnv, expression: str) -> None:
    webapi.create(name="a")
    response = webapi.get(f"accounts?$select=name&$filter={expression}")
    assert response.status_code < 500


@pytest.mark.parametrize("function", ["LastXDays", "NextXDays"])
def test_huge_day_counts_are_not_a_server_error(webapi: WebApiEnv, function: str) -> None:
    response = webapi.get(
        f"accounts?$filter=Microsoft.Dynamics.CRM.{function}(PropertyName='createdon',PropertyValue=99999999999)"
    )
    assert response.status_code < 500


def test_a_huge_skiptoken_offset_is_not_a_server_error(webapi: WebApiEnv) -> None:
    response = webapi.get("accounts?$skiptoken=%3Ccookie%20offset=%2299999999999999999999%22%20/%3E")
    assert response.status_code < 500


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "accounts", b'{"name": "\\ud800"}'),
        ("POST", "accounts", b'{"description": "x \\udfff"}'),
        ("GET", "accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[\"\\ud800\"])", None),
    ],
    ids=["name", "description", "filter-json-value"],
)
def test_lone_surrogates_are_not_a_server_error(webapi: WebApiEnv, method: str, path: str, body: bytes | None) -> None:
    response = webapi.send(method, path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code < 500
    dataverse_error(response, 400)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "accounts", b'{"name": "a\\u0000b"}'),
        ("GET", "accounts?$filter=name eq 'a%00b'", None),
        ("GET", "accounts?$filter=contains(name,'%00')", None),
        ("PATCH", "accounts(accountnumber='a%00')", b'{"name": "x"}'),
    ],
    ids=["body", "filter-eq", "filter-contains", "alternate-key"],
)
def test_nul_characters_are_not_a_server_error(
    webapi: WebApiEnv, database_url: str, request: pytest.FixtureRequest, method: str, path: str, body: bytes | None
) -> None:
    response = webapi.send(method, path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text


# -- $batch ----------------------------------------------------------------------------------------------------------
@dataclass
class Part:
    status: int
    headers: dict[str, str]
    body: str
    content_id: str | None
    changeset: bool

    def json(self) -> Any:
        return json.loads(self.body)


def parse_batch_response(response: httpx.Response) -> list[Part]:
    content_type = response.headers["content-type"]
    match = re.fullmatch(r"multipart/mixed; ?boundary=(batchresponse_[0-9a-f-]+)", content_type)
    assert match, content_type
    return _parse_parts(response.text, match.group(1), changeset=False)


def _parse_parts(text: str, boundary: str, *, changeset: bool) -> list[Part]:
    assert f"--{boundary}--" in text
    parts: list[Part] = []
    for chunk in text.split(f"--{boundary}--")[0].split(f"--{boundary}")[1:]:
        head, _, rest = chunk.strip("\r\n").partition("\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.split("\r\n"))
        inner_type = headers["Content-Type"]
        if inner_type.startswith("multipart/mixed"):
            inner = inner_type.split("boundary=", 1)[1]
            assert inner.startswith("changesetresponse_")
            parts += _parse_parts(rest, inner, changeset=True)
            continue
        assert inner_type == "application/http"
        status_line, _, after = rest.partition("\r\n")
        http_head, _, body = after.partition("\r\n\r\n")
        http_headers = dict(line.split(": ", 1) for line in http_head.split("\r\n") if line)
        parts.append(
            Part(int(status_line.split(" ")[1]), http_headers, body.strip("\r\n"), headers.get("Content-ID"), changeset)
        )
    return parts


def batch_body(items: list[str | list[tuple[str | None, str]]], boundary: str, newline: str = "\r\n") -> str:
    """``items``: a request (``str``) or a change set (list of (content id, request)); requests written with LF."""
    lines: list[str] = []
    for index, item in enumerate(items):
        lines.append(f"--{boundary}")
        if isinstance(item, str):
            lines += ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "", item]
            continue
        changeset = f"changeset_{index}_{uuid.uuid4().hex}"
        lines += [f'Content-Type: multipart/mixed; boundary="{changeset}"', ""]
        for content_id, request in item:
            lines += [f"--{changeset}", "Content-Type: application/http", "Content-Transfer-Encoding: binary"]
            if content_id is not None:
                lines.append(f"Content-ID: {content_id}")
            lines += ["", request]
        lines.append(f"--{changeset}--")
    lines.append(f"--{boundary}--")
    return newline.join("\n".join(lines).split("\n")) + newline


def post(url: str, body: dict[str, Any], method: str = "POST", extra: str = "") -> str:
    headers = "Content-Type: application/json; type=entry" + (f"\n{extra}" if extra else "")
    return f"{method} {url} HTTP/1.1\n{headers}\n\n{json.dumps(body)}"


def send_batch(
    env: WebApiEnv, body: str, boundary: str, *, quoted: bool = True, prefer: str | None = None
) -> httpx.Response:
    shown = f'"{boundary}"' if quoted else boundary
    headers = {"Content-Type": f"multipart/mixed; boundary={shown}"}
    if prefer:
        headers["Prefer"] = prefer
    return env.send("POST", "$batch", content=body.encode(), headers=headers)


def test_batch_crlf_quoted_boundary_with_absolute_urls_and_spaces(webapi: WebApiEnv) -> None:
    webapi.create(name="x")
    webapi.create(name="y")
    boundary = f"batch_{uuid.uuid4()}"
    body = batch_body(
        [
            f"GET {API_URL}/accounts?$select=name&$filter=name eq 'x' HTTP/1.1\nAccept: application/json\n",
            f"GET {API_URL}/WhoAmI HTTP/1.1\n",
        ],
        boundary,
    )
    assert "\r\n" in body
    response = send_batch(webapi, body, boundary)
    assert response.status_code == 200
    first, second = parse_batch_response(response)
    assert first.status == 200
    assert names(first.json()["value"]) == ["x"]
    assert second.status == 200
    assert "UserId" in second.json()


def test_batch_lf_unquoted_boundary_with_relative_urls(webapi: WebApiEnv) -> None:
    webapi.create(name="only")
    boundary = f"batch_{uuid.uuid4().hex}"
    body = batch_body(
        ["GET /api/data/v9.2/accounts?$select=name HTTP/1.1\n", "GET accounts?$select=name&$top=1 HTTP/1.1\n"],
        boundary,
        newline="\n",
    )
    assert "\r" not in body
    response = send_batch(webapi, body, boundary, quoted=False)
    assert response.status_code == 200
    parts = parse_batch_response(response)
    assert [p.status for p in parts] == [200, 200]
    assert [names(p.json()["value"]) for p in parts] == [["only"], ["only"]]


def test_batch_change_set_with_content_id_references(webapi: WebApiEnv) -> None:
    boundary = f"batch_{uuid.uuid4()}"
    body = batch_body(
        [
            [
                ("1", post(f"{API_URL}/contacts", {"firstname": "Ann", "lastname": "Smith"})),
                ("2", post(f"{API_URL}/accounts", {"name": "Parent", "primarycontactid@odata.bind": "$1"})),
                ("3", post("$1", {"lastname": "Jones"}, method="PATCH")),
            ],
            f"GET {API_URL}/accounts?$select=name,_primarycontactid_value&$expand=primarycontactid($select=fullname) HTTP/1.1\n",
        ],
        boundary,
    )
    response = send_batch(webapi, body, boundary)
    assert response.status_code == 200
    parts = parse_batch_response(response)
    assert [(p.content_id, p.status, p.changeset) for p in parts] == [
        ("1", 204, True),
        ("2", 204, True),
        ("3", 204, True),
        (None, 200, False),
    ]
    contact_id = re.search(rf"contacts\(({GUID})\)", parts[0].headers["OData-EntityId"])
    assert contact_id is not None
    (account,) = parts[3].json()["value"]
    assert account["_primarycontactid_value"] == contact_id.group(1)
    assert account["primarycontactid"]["fullname"] == "Ann Jones"


def failing_batch(continue_on_error: bool, env: WebApiEnv) -> tuple[httpx.Response, list[Part]]:
    boundary = f"batch_{uuid.uuid4()}"
    body = batch_body(
        [
            [
                ("1", post(f"{API_URL}/accounts", {"name": "rolled back"})),
                (
                    "2",
                    post(f"{API_URL}/accounts({new_id()})", {"name": "missing"}, method="PATCH", extra="If-Match: *"),
                ),
            ],
            post(f"{API_URL}/accounts", {"name": "later"}),
        ],
        boundary,
    )
    response = send_batch(env, body, boundary, prefer="odata.continue-on-error" if continue_on_error else None)
    return response, parse_batch_response(response)


def test_a_failing_change_set_rolls_back_and_stops_the_batch(webapi: WebApiEnv) -> None:
    response, parts = failing_batch(False, webapi)
    assert response.status_code == 400
    assert [(p.status, p.content_id) for p in parts] == [(404, "2")]
    assert parts[0].json()["error"]["code"] == "0x80040217"
    assert webapi.rows("accounts?$select=name") == []


def test_continue_on_error_runs_later_parts(webapi: WebApiEnv) -> None:
    response, parts = failing_batch(True, webapi)
    assert response.status_code == 200
    assert [p.status for p in parts] == [404, 204]
    assert names(webapi.rows("accounts?$select=name")) == ["later"]


def test_a_forward_content_id_reference_is_an_error(webapi: WebApiEnv) -> None:
    boundary = f"batch_{uuid.uuid4()}"
    body = batch_body(
        [
            [
                ("1", post("$2", {"name": "x"}, method="PATCH")),
                ("2", post(f"{API_URL}/accounts", {"name": "y"})),
            ]
        ],
        boundary,
    )
    response = send_batch(webapi, body, boundary)
    assert response.status_code == 400
    (part,) = parse_batch_response(response)
    assert part.status == 400
    assert "Content-ID Reference: '$2' does not exist in the batch context." in part.json()["error"]["message"]
    assert webapi.rows("accounts?$select=name") == []


def test_a_forward_reference_in_a_bind_is_an_error(webapi: WebApiEnv) -> None:
    boundary = f"batch_{uuid.uuid4()}"
    body = batch_body(
        [
            [
                ("1", post(f"{API_URL}/accounts", {"name": "x", "primarycontactid@odata.bind": "$2"})),
                ("2", post(f"{API_URL}/contacts", {"lastname": "y"})),
            ]
        ],
        boundary,
    )
    (part,) = parse_batch_response(send_batch(webapi, body, boundary))
    assert "does not exist in the batch context" in part.json()["error"]["message"]


def test_get_inside_a_change_set_is_an_error(webapi: WebApiEnv) -> None:
    boundary = f"batch_{uuid.uuid4()}"
    body = batch_body(
        [[("1", post(f"{API_URL}/accounts", {"name": "x"})), ("2", f"GET {API_URL}/accounts HTTP/1.1\n")]], boundary
    )
    response = send_batch(webapi, body, boundary)
    assert response.status_code == 400
    (part,) = parse_batch_response(response)
    assert part.status == 400
    assert part.content_id == "2"
    assert webapi.rows("accounts?$select=name") == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", "{}"),
        ("multipart/mixed", "--x\r\n--x--\r\n"),
        ("multipart/mixed; boundary=x", "no parts here"),
        ("multipart/mixed; boundary=x", "--x\r\nContent-Type: text/plain\r\n\r\nGET accounts HTTP/1.1\r\n--x--\r\n"),
        ("multipart/mixed; boundary=x", "--x\r\nContent-Type: application/http\r\n\r\nGARBAGE\r\n--x--\r\n"),
        ("multipart/mixed; boundary=x", "--x--\r\n"),
    ],
    ids=["json", "no-boundary", "no-delimiter", "not-http", "bad-request-line", "empty"],
)
def test_malformed_batches_are_400(webapi: WebApiEnv, content_type: str, body: str) -> None:
    response = webapi.send("POST", "$batch", content=body.encode(), headers={"Content-Type": content_type})
    dataverse_error(response, 400)


# -- bulk messages ---------------------------------------------------------------------------------------------------
def account_targets(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Targets": [{**r, "@odata.type": "Microsoft.Dynamics.CRM.account"} for r in records]}


def test_create_multiple(webapi: WebApiEnv) -> None:
    response = webapi.send(
        "POST",
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        json_body=account_targets({"name": "a"}, {"name": "b"}),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{API_URL}/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    assert len(body["Ids"]) == 2
    rows = webapi.rows("accounts?$select=name&$orderby=name")
    assert [(r["name"], r["accountid"]) for r in rows] == list(zip(["a", "b"], body["Ids"], strict=True))


@pytest.mark.parametrize(
    "bad", [{"name": "x" * 161}, {"nope": 1}, {"primarycontactid@odata.bind": f"/contacts({uuid.UUID(int=1)})"}]
)
def test_create_multiple_is_all_or_nothing(webapi: WebApiEnv, bad: dict[str, Any]) -> None:
    response = webapi.send(
        "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", json_body=account_targets({"name": "good"}, bad)
    )
    dataverse_error(response, response.status_code)
    assert 400 <= response.status_code < 500
    assert webapi.rows("accounts?$select=name") == []


def test_update_multiple(webapi: WebApiEnv) -> None:
    ids = [webapi.create(name=n) for n in ("a", "b")]
    targets = account_targets(*({"accountid": i, "telephone1": "555"} for i in ids))
    response = webapi.send("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json_body=targets)
    assert response.status_code == 204
    assert [r["telephone1"] for r in webapi.rows("accounts?$select=telephone1")] == ["555", "555"]
    missing = account_targets({"accountid": ids[0], "telephone1": "666"}, {"accountid": new_id(), "telephone1": "666"})
    dataverse_error(webapi.send("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json_body=missing), 404)
    assert [r["telephone1"] for r in webapi.rows("accounts?$select=telephone1")] == ["555", "555"]


def test_upsert_multiple_by_alternate_key(webapi: WebApiEnv) -> None:
    def upsert(name: str) -> httpx.Response:
        targets = account_targets(
            {"@odata.id": "accounts(accountnumber='X')", "name": name},
            {"@odata.id": "accounts(accountnumber='Y')", "name": name},
        )
        return webapi.send("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json_body=targets)

    assert upsert("first").status_code == 204
    assert upsert("second").status_code == 204
    rows = webapi.rows("accounts?$select=name,accountnumber&$orderby=accountnumber")
    assert [(r["accountnumber"], r["name"]) for r in rows] == [("X", "second"), ("Y", "second")]


def test_bulk_delete_with_the_sdk_query_expression(webapi: WebApiEnv) -> None:
    doomed = [webapi.create(name=n) for n in ("a", "b")]
    webapi.create(name="kept")
    body = {
        "JobName": "Bulk delete",
        "SendEmailNotification": False,
        "ToRecipients": [],
        "CCRecipients": [],
        "RecurrencePattern": "",
        "StartDateTime": "2024-01-01T00:00:00.000Z",
        "QuerySet": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.QueryExpression",
                "EntityName": "account",
                "ColumnSet": {"AllColumns": False, "Columns": []},
                "Criteria": {
                    "FilterOperator": "And",
                    "Conditions": [
                        {
                            "AttributeName": "accountid",
                            "Operator": "In",
                            "Values": [{"Value": i, "Type": "System.Guid"} for i in doomed],
                        }
                    ],
                },
            }
        ],
    }
    response = webapi.send("POST", "BulkDelete", json_body=body)
    assert response.status_code == 200
    assert re.fullmatch(GUID, response.json()["JobId"])
    assert names(webapi.rows("accounts?$select=name")) == ["kept"]


@pytest.mark.parametrize(
    "query",
    [
        {"EntityName": "account", "Criteria": "x"},
        {
            "EntityName": "account",
            "Criteria": {"Conditions": [{"AttributeName": "accountid", "Operator": "In", "Values": 5}]},
        },
    ],
    ids=["criteria-string", "values-number"],
)
def test_malformed_bulk_delete_is_400(webapi: WebApiEnv, query: dict[str, Any]) -> None:
    dataverse_error(webapi.send("POST", "BulkDelete", json_body={"QuerySet": [query]}), 400)


# -- service protection ----------------------------------------------------------------------------------------------
THREE_REQUESTS = Limits(requests=3, execution_ms=10**9, concurrent=52, window_seconds=300)


def test_the_request_limit_answers_429_until_the_window_passes(
    database_url: str, tmp_path: Path, migrated_sqlite: Path
) -> None:
    with webapi_env(database_url, tmp_path, THREE_REQUESTS, template=migrated_sqlite) as env:
        assert [env.get("WhoAmI").status_code for _ in range(3)] == [200, 200, 200]
        throttled = env.get("WhoAmI")
        message = dataverse_error(throttled, 429, "0x80072322")
        assert message == "Number of requests exceeded the limit of 3 over time window of 300 seconds."
        assert re.fullmatch(r"[1-9][0-9]*", throttled.headers["Retry-After"])
        assert int(throttled.headers["Retry-After"]) <= 300
        env.clock.advance(300)
        assert env.get("WhoAmI").status_code == 200


def test_throttling_can_be_switched_off_per_org(database_url: str, tmp_path: Path, migrated_sqlite: Path) -> None:
    with webapi_env(database_url, tmp_path, THREE_REQUESTS, template=migrated_sqlite) as env:
        env.dataverse.set_throttling("contoso", False)
        assert {env.get("WhoAmI").status_code for _ in range(10)} == {200}


# -- WhoAmI, service document, versions ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["v9.0", "v9.1", "v9.2"])
@pytest.mark.parametrize("path", ["WhoAmI", "WhoAmI()"])
def test_who_am_i(webapi: WebApiEnv, version: str, path: str) -> None:
    response = webapi.get(path, version=version)
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert set(body) == {"@odata.context", "BusinessUnitId", "UserId", "OrganizationId"}
    assert body["@odata.context"] == f"{BASE_URL}/api/data/{version}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
    assert all(re.fullmatch(GUID, body[k]) for k in ("BusinessUnitId", "UserId", "OrganizationId"))


def test_service_document(webapi: WebApiEnv) -> None:
    response = webapi.get("")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{API_URL}/$metadata"
    assert {"name": "accounts", "kind": "EntitySet", "url": "accounts"} in body["value"]
    assert {"name": "contacts", "kind": "EntitySet", "url": "contacts"} in body["value"]


def test_older_api_versions_answer_with_their_own_urls(webapi: WebApiEnv) -> None:
    response = webapi.send("POST", "accounts", json_body={"name": "v9.0"}, version="v9.0")
    assert response.status_code == 204
    assert response.headers["OData-EntityId"].startswith(f"{BASE_URL}/api/data/v9.0/accounts(")


def test_requests_without_a_token_are_401(webapi: WebApiEnv) -> None:
    response = webapi.client.get(f"{API_URL}/WhoAmI")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f"Bearer authorization_uri={BASE_URL}/{webapi.tenant.id}/oauth2/authorize, resource_id={BASE_URL}/"
    )


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_bad_select_on_a_write_fails_before_anything_is_written(webapi: WebApiEnv, method: str) -> None:
    """Query options shape the reply, and are checked before the write: an unknown $select must not leave a record."""
    record_id = new_id()
    path = "accounts" if method == "POST" else f"accounts({record_id})"
    body = {"name": "must not exist"} | ({"accountid": record_id} if method == "POST" else {})
    response = webapi.send(
        method, f"{path}?$select=nosuchcolumn", json_body=body, headers={"Prefer": "return=representation"}
    )
    dataverse_error(response, 400, "0x80060888")
    assert webapi.rows("accounts?$select=name&$filter=name eq 'must not exist'") == []
    dataverse_error(webapi.get(f"accounts({record_id})"), 404, "0x80040217")


def test_a_content_id_reference_outside_a_batch_refers_to_nothing(webapi: WebApiEnv) -> None:
    body = {"lastname": "x", "parentcustomerid_account@odata.bind": "$1"}
    message = dataverse_error(webapi.send("POST", "contacts", json_body=body), 400, "0x80040203")
    assert message == "Content-ID Reference: '$1' does not exist in the batch context."


def test_expand_costs_one_query_per_level_not_per_row(webapi: WebApiEnv) -> None:
    """A page of 40 accounts, each with a primary contact and two child contacts: expanding adds one SQL statement
    per expanded navigation and level, however many rows the page has."""
    for n in range(40):
        contact = webapi.create("contacts", lastname=f"primary {n}")
        account = webapi.create(
            "accounts", name=f"expand {n:02}", **{"primarycontactid@odata.bind": f"/contacts({contact})"}
        )
        for child in range(2):
            webapi.create(
                "contacts",
                lastname=f"child {n}.{child}",
                **{"parentcustomerid_account@odata.bind": f"/accounts({account})"},
            )
    statements: list[str] = []

    def count(*args: object) -> None:
        statement = str(args[2])
        if statement.startswith("SELECT") and "FROM dv_" in statement:  # record reads, not the caches' checks
            statements.append(statement)

    def run(query: str) -> list[dict[str, Any]]:
        statements.clear()
        sqlalchemy.event.listen(webapi.engine, "before_cursor_execute", count)
        try:
            return webapi.rows(query)
        finally:
            sqlalchemy.event.remove(webapi.engine, "before_cursor_execute", count)

    page = "accounts?$select=name&$filter=startswith(name,'expand')&$orderby=name"
    plain = run(page)
    assert len(statements) == 1, statements
    single = run(page + "&$expand=primarycontactid($select=lastname)")
    assert len(statements) == 2, statements
    assert [r["primarycontactid"]["lastname"] for r in single] == [f"primary {n}" for n in range(40)]
    nested = run(
        page + "&$expand=contact_customer_accounts($select=lastname;$orderby=lastname desc;"
        "$expand=parentcustomerid_account($select=name))"
    )
    assert len(statements) == 3, statements
    assert len(plain) == len(nested) == 40
    first = nested[0]["contact_customer_accounts"]
    assert [c["lastname"] for c in first] == ["child 0.1", "child 0.0"]
    assert {c["parentcustomerid_account"]["name"] for c in first} == {"expand 00"}
