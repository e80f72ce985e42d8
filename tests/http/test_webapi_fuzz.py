"""Hostile query options and bodies never reach a 5xx on the Web API: each answer is data or a Dataverse error."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d365local.dataverse.schema.builtin_tables import builtin_catalog
from tests.http.webapi_fixtures import WebApiEnv, migrated_sqlite, webapi

ACCOUNT = builtin_catalog().by_logical_name("account")
assert ACCOUNT is not None

__all__ = ["migrated_sqlite", "webapi"]  # fixtures, imported so pytest finds them

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)

COLUMNS = [a.logical_name if not a.type.is_lookup else f"_{a.logical_name}_value" for a in ACCOUNT.attributes]
NAVIGATION = ["primarycontactid", "parentaccountid", "contact_customer_accounts", "account_parent_account", "createdby"]
NAMES = [*COLUMNS, *NAVIGATION, "primarycontactid/fullname", "primarycontactid/lastname", "c/lastname", "x", "Name"]
OPERATORS = ["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "has", "in", "add"]
LITERALS = [
    "'x'", "'O''Brien'", "''", "'%'", "'_'", "'\\'", "'", "null", "true", "false", "0", "-1", "42", "2147483647",
    "-2147483648", "9223372036854775807", "1.5", "-0.25", "1e3", "2.5E-2", "2024-01-02", "2024-01-02T03:04:05Z",
    "2024-02-30", "2024-01-02T03:04:05+01:00", "00000000-0000-0000-0000-000000000001", "@p1", "[\"A1\",\"A2\"]",
]  # fmt: skip
FUNCTIONS = [
    "contains(", "startswith(", "endswith(", "tolower(", "toupper(", "length(", "year(", "now()",
    "Microsoft.Dynamics.CRM.In(PropertyName='accountnumber',PropertyValues=",
    "Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=",
    "Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=",
    "Microsoft.Dynamics.CRM.Today(PropertyName='createdon')",
    "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=3)",
    "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue=",
    "Microsoft.Dynamics.CRM.Unknown(PropertyName='name')", "any(c:", "all(c:", "any()",
]  # fmt: skip
PUNCTUATION = ["(", ")", ",", "/", ":", "[", "]", "=", " "]

tokens = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(OPERATORS),
    st.sampled_from(LITERALS),
    st.sampled_from(FUNCTIONS),
    st.sampled_from(PUNCTUATION),
    st.text(max_size=4),
)
token_filters = st.lists(tokens, min_size=1, max_size=14).flatmap(
    lambda parts: st.sampled_from([" ", ""]).map(lambda glue: glue.join(parts))
)
comparisons = st.builds(
    lambda column, op, literal: f"{column} {op} {literal}",
    st.sampled_from(COLUMNS),
    st.sampled_from(OPERATORS[:6]),
    st.sampled_from(LITERALS),
)
well_formed = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["and", "or"]), inner),
        inner.map(lambda a: f"not ({a})"),
        st.builds(
            lambda f, c, v: f"{f}({c},{v})",
            st.sampled_from(["contains", "startswith", "endswith"]),
            st.sampled_from(COLUMNS),
            st.sampled_from(LITERALS),
        ),
    ),
    max_leaves=6,
)
filters = st.one_of(st.text(max_size=80), token_filters, well_formed)
column_lists = st.lists(st.one_of(st.sampled_from([*COLUMNS, *NAVIGATION, "*"]), st.text(max_size=8)), max_size=5)
selects = st.one_of(column_lists.map(",".join), st.text(max_size=40))
orderbys = st.one_of(
    st.lists(
        st.builds(
            lambda c, d: f"{c}{d}",
            st.sampled_from([*COLUMNS, *NAVIGATION, "x"]),
            st.sampled_from(["", " asc", " desc", " up"]),
        ),
        max_size=3,
    ).map(",".join),
    st.text(max_size=40),
)


def assert_dataverse_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["OData-Version"] == "4.0"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str)
        assert re.fullmatch(r"0x[0-9a-fA-F]{8}", error["code"])
        assert isinstance(error["message"], str)
    elif response.headers.get("content-type", "").startswith("application/json"):
        assert isinstance(response.json()["value"], list)


def seed(env: WebApiEnv) -> None:
    if not env.rows("accounts?$select=name&$top=1"):
        parent = env.create(name="Parent", accountnumber="A1", numberofemployees=5, revenue=10.5)
        env.create(
            "contacts",
            firstname="Ann",
            lastname="Smith",
            **{"parentcustomerid_account@odata.bind": f"/accounts({parent})"},
        )
        env.create(name="O'Brien %_\\", accountnumber="A2")


@FUZZ
@given(expression=filters)
def test_random_filters(webapi: WebApiEnv, database_url: str, expression: str) -> None:
    seed(webapi)
    assert_dataverse_answer(webapi.get(f"accounts?$select=name&$filter={quote(expression, safe='')}&@p1='x'"))


@FUZZ
@given(select=selects, orderby=orderbys, top=st.one_of(st.none(), st.integers(-2, 10), st.text(max_size=5)))
def test_random_select_orderby_and_top(webapi: WebApiEnv, select: str, orderby: str, top: int | str | None) -> None:
    seed(webapi)
    query = f"$select={quote(select, safe='')}&$orderby={quote(orderby, safe='')}"
    if top is not None:
        query += f"&$top={quote(str(top), safe='')}"
    assert_dataverse_answer(webapi.get(f"accounts?{query}"))


@FUZZ
@given(
    expand=st.one_of(
        st.text(max_size=40),
        st.builds(lambda nav, opts: f"{nav}({opts})", st.sampled_from(NAVIGATION), st.text(max_size=30)),
    )
)
def test_random_expands(webapi: WebApiEnv, expand: str) -> None:
    seed(webapi)
    assert_dataverse_answer(webapi.get(f"accounts?$expand={quote(expand, safe='')}"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
record_keys = st.one_of(
    st.sampled_from([a.logical_name for a in ACCOUNT.attributes]),
    st.sampled_from(
        ["primarycontactid@odata.bind", "parentaccountid@odata.bind", "@odata.type", "_primarycontactid_value"]
    ),
    st.text(max_size=12),
)
record_like = st.dictionaries(record_keys, json_values, max_size=5)


@FUZZ
@given(body=st.one_of(json_values, record_like))
def test_random_json_bodies(webapi: WebApiEnv, database_url: str, body: Any) -> None:
    content = json.dumps(body)
    response = webapi.send("POST", "accounts", content=content, headers={"Content-Type": "application/json"})
    assert_dataverse_answer(response)
    if response.status_code == 204:
        assert webapi.get(response.headers["OData-EntityId"].rsplit("/", 1)[1]).status_code == 200


@FUZZ
@given(
    body=record_like,
    key=st.one_of(
        st.uuids().map(str), st.text(max_size=20).map(lambda t: "accountnumber='" + t.replace("'", "''") + "'")
    ),
)
def test_random_upserts(webapi: WebApiEnv, database_url: str, body: dict[str, Any], key: str) -> None:
    content = json.dumps(body)
    response = webapi.send(
        "PATCH", f"accounts({quote(key, safe='')})", content=content, headers={"Content-Type": "application/json"}
    )
    assert_dataverse_answer(response)
