"""Hostile input never reaches a 5xx: random bodies, content types, Basic headers and tenants."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http.conftest import Identity

FIELDS = ["grant_type", "client_id", "client_secret", "scope", "resource", "client_assertion", "client_assertion_type"]
form_values = st.one_of(
    st.text(max_size=60), st.sampled_from(["client_credentials", "https://localhost:5443/.default"])
)
forms = st.lists(st.tuples(st.sampled_from([*FIELDS, "x"]), form_values), max_size=8)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/json",
        "",
        "text/plain",
    ]
)
tenants = st.one_of(
    st.sampled_from(["common", "organizations", "contoso.onmicrosoft.com"]), st.text(min_size=1, max_size=40)
)
headers = st.one_of(st.none(), st.text(max_size=80), st.binary(max_size=60).map(lambda b: "Basic " + b.hex()))


def _assert_entra_shaped(response_status: int, body: dict[str, object]) -> None:
    assert response_status < 500
    if response_status >= 400:
        assert isinstance(body["error"], str)
        assert isinstance(body["error_codes"], list)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=forms, content_type=content_types, authorization=headers, version=st.sampled_from(["v1", "v2"]))
def test_random_form_bodies(
    identity: Identity, pairs: list[tuple[str, str]], content_type: str, authorization: str | None, version: str
) -> None:
    from urllib.parse import urlencode

    request_headers = {"Content-Type": content_type}
    if authorization is not None and authorization.isprintable() and authorization.isascii():
        request_headers["Authorization"] = authorization
    response = identity.client.post(identity.token_url(version), content=urlencode(pairs), headers=request_headers)
    _assert_entra_shaped(response.status_code, response.json())


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), tenant=tenants)
def test_random_bytes_and_tenants(identity: Identity, body: bytes, tenant: str) -> None:
    from urllib.parse import quote

    response = identity.client.post(
        f"/{quote(tenant, safe='')}/oauth2/v2.0/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if response.status_code == 404:
        return  # a tenant segment with a slash in it is another path
    _assert_entra_shaped(response.status_code, response.json())
