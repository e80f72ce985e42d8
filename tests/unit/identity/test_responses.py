"""Tests for the token endpoint's success and error bodies in d365local.identity.oauth.responses."""

from __future__ import annotations

import json
import re

import pytest

from d365local.identity import errors
from d365local.identity.errors import AadstsCode, IdentityError
from d365local.identity.oauth.responses import IssuedToken, error_body, no_store_headers, token_body
from d365local.identity.oauth.token_request import Endpoint

TOKEN = IssuedToken(
    access_token="eyJ0eXAiOiJKV1QifQ.e30.sig",
    expires_in=3599,
    expires_on=1604722734,
    not_before=1604718834,
    resource="https://org.crm.dynamics.com/",
)
TRACE_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CORRELATION_ID = "11111111-2222-3333-4444-555555555555"
NOW = 1683352980.75
"""2023-05-06 06:03:00.75Z, the reference's sample timestamp plus a fraction."""


def test_v2_body_has_integer_numbers_and_exactly_four_keys() -> None:
    body = token_body(Endpoint.V2, TOKEN)

    assert body == {
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": TOKEN.access_token,
    }
    assert type(body["expires_in"]) is int
    assert type(body["ext_expires_in"]) is int


def test_v1_body_has_string_numbers_and_resource() -> None:
    body = token_body(Endpoint.V1, TOKEN)

    assert body == {
        "token_type": "Bearer",
        "expires_in": "3599",
        "ext_expires_in": "3599",
        "expires_on": "1604722734",
        "not_before": "1604718834",
        "resource": "https://org.crm.dynamics.com/",
        "access_token": TOKEN.access_token,
    }


@pytest.mark.parametrize("endpoint", list(Endpoint), ids=lambda e: e.value)
def test_bodies_never_carry_scope_or_refresh_token(endpoint: Endpoint) -> None:
    body = token_body(endpoint, TOKEN)

    assert "scope" not in body
    assert "refresh_token" not in body
    assert json.loads(json.dumps(body)) == body


ERROR_CASES = [
    pytest.param(IdentityError(errors.INVALID_SECRET, app_id="5bef00f5"), 401, "invalid_client", id="invalid-secret"),
    pytest.param(IdentityError(errors.MISSING_PARAMETER, name="grant_type"), 400, "invalid_request", id="missing"),
    pytest.param(IdentityError(errors.SCOPE_INVALID, scope="a b"), 400, "invalid_scope", id="scope-invalid"),
    pytest.param(IdentityError(errors.REQUEST_TOO_LARGE), 413, "invalid_request", id="too-large"),
]
DESCRIPTION = re.compile(
    r"^AADSTS(?P<number>\d+): (?P<text>.+)\r\nTrace ID: (?P<trace>[^\r\n]+)\r\nCorrelation ID: (?P<corr>[^\r\n]+)"
    r"\r\nTimestamp: (?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z)$",
    re.DOTALL,
)


@pytest.mark.parametrize(("error", "status", "oauth_error"), ERROR_CASES)
def test_error_body_shape(error: IdentityError, status: int, oauth_error: str) -> None:
    body = error_body(error, trace_id=TRACE_ID, correlation_id=CORRELATION_ID, now=NOW)

    assert list(body) == [
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    ]
    assert body["error"] == oauth_error
    assert error.code.status == status
    match = DESCRIPTION.match(body["error_description"])
    assert match is not None
    assert int(match["number"]) == error.code.number
    assert f"AADSTS{match['number']}: {match['text']}" == error.message
    assert (match["trace"], match["corr"], match["ts"]) == (TRACE_ID, CORRELATION_ID, "2023-05-06 06:03:00Z")
    assert body["error_codes"] == [error.code.number]
    assert all(type(number) is int for number in body["error_codes"])
    assert body["timestamp"] == "2023-05-06 06:03:00Z"
    assert body["trace_id"] == TRACE_ID
    assert body["correlation_id"] == CORRELATION_ID
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={error.code.number}"
    assert json.loads(json.dumps(body)) == body


def test_error_body_matches_the_reference_sample() -> None:
    code: AadstsCode = errors.INVALID_SECRET
    error = IdentityError(code, app_id="{appId}")

    body = error_body(error, trace_id="T", correlation_id="C", now=1683352980)

    assert body == {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
        "request is the client secret value, not the client secret ID, for a secret added to app '{appId}'."
        "\r\nTrace ID: T\r\nCorrelation ID: C\r\nTimestamp: 2023-05-06 06:03:00Z",
        "error_codes": [7000215],
        "timestamp": "2023-05-06 06:03:00Z",
        "trace_id": "T",
        "correlation_id": "C",
        "error_uri": "https://login.microsoftonline.com/error?code=7000215",
    }


def test_no_store_headers() -> None:
    headers = no_store_headers(TRACE_ID)

    assert headers["Cache-Control"] == "no-store, no-cache"
    assert headers["Pragma"] == "no-cache"
    assert headers["Expires"] == "-1"
    assert headers["x-ms-request-id"] == TRACE_ID
    assert headers["x-ms-ests-server"]
    assert set(headers) == {"Cache-Control", "Pragma", "Expires", "x-ms-request-id", "x-ms-ests-server"}
