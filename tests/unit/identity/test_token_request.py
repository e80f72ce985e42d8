"""Tests for token request parsing in d365local.identity.oauth.token_request."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from d365local.identity.errors import IdentityError
from d365local.identity.oauth.token_request import (
    JWT_BEARER_ASSERTION,
    MAX_ASSERTION_LENGTH,
    MAX_VALUE_LENGTH,
    Endpoint,
    TokenRequest,
    parse_token_request,
)

FORM = "application/x-www-form-urlencoded"
CLIENT_ID = "5bef00f5-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
ORG = "https://org.crm.dynamics.com"
SCOPE = f"{ORG}/.default"
V1, V2 = Endpoint.V1, Endpoint.V2


def _body(*pairs: tuple[str, str]) -> bytes:
    return urlencode(pairs).encode("ascii")


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


GRANT = ("grant_type", "client_credentials")
CLIENT = ("client_id", CLIENT_ID)
SECRET = ("client_secret", "s3cret")
RESOURCE = ("resource", ORG + "/")
SCOPE_PAIR = ("scope", SCOPE)
ASSERTION = ("client_assertion", "header.payload.signature")
ASSERTION_TYPE = ("client_assertion_type", JWT_BEARER_ASSERTION)


@dataclass(frozen=True)
class Accepted:
    endpoint: Endpoint
    body: bytes
    expected: TokenRequest
    content_type: str | None = FORM
    authorization: str | None = None


ACCEPTED = [
    pytest.param(
        Accepted(V1, _body(GRANT, CLIENT, SECRET, RESOURCE), TokenRequest(V1, CLIENT_ID, ORG + "/", ("s3cret",))),
        id="v1-resource-kept-as-sent",
    ),
    pytest.param(
        Accepted(V2, _body(GRANT, CLIENT, SECRET, SCOPE_PAIR), TokenRequest(V2, CLIENT_ID, ORG, ("s3cret",))),
        id="v2-scope-default-stripped",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SECRET, ("scope", "https://localhost:18443/.default")),
            TokenRequest(V2, CLIENT_ID, "https://localhost:18443", ("s3cret",)),
        ),
        id="v2-scope-host-port",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SECRET, SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("s3cret",)),
            content_type="application/x-www-form-urlencoded; charset=utf-8",
        ),
        id="charset-parameter",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SECRET, SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("s3cret",)),
            content_type="Application/X-WWW-Form-URLEncoded",
        ),
        id="media-type-case-insensitive",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SECRET, SCOPE_PAIR, ("client_info", "1"), ("client_info", "1")),
            TokenRequest(V2, CLIENT_ID, ORG, ("s3cret",)),
        ),
        id="unknown-parameter-may-repeat",
    ),
    pytest.param(
        Accepted(
            V1,
            _body(GRANT, CLIENT, SECRET, ("resource", "https://café.example")),
            TokenRequest(V1, CLIENT_ID, "https://café.example", ("s3cret",)),
        ),
        id="utf8-percent-escapes",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("s3c+ret/=", "s3c ret/=")),
            authorization=_basic(CLIENT_ID, "s3c+ret/="),
        ),
        id="basic-raw-secret-tried-first",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("s3c%2Bret%2F%3D", "s3c+ret/=")),
            authorization=_basic(CLIENT_ID, "s3c%2Bret%2F%3D"),
        ),
        id="basic-url-encoded-secret-both-candidates",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("plain",)),
            authorization=_basic(CLIENT_ID, "plain"),
        ),
        id="basic-plain-secret-one-candidate",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("s3cret",)),
            authorization=_basic(CLIENT_ID, "s3cret"),
        ),
        id="basic-supplies-client-id",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("s3cret",)),
            authorization="basic  " + _basic(CLIENT_ID, "s3cret").split(" ", 1)[1],
        ),
        id="basic-scheme-case-insensitive",
    ),
    pytest.param(
        Accepted(
            V1,
            _body(GRANT, CLIENT, ASSERTION, ASSERTION_TYPE, RESOURCE),
            TokenRequest(V1, CLIENT_ID, ORG + "/", client_assertion="header.payload.signature"),
        ),
        id="client-assertion",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, SCOPE_PAIR, ASSERTION_TYPE, ("client_assertion", "a" * MAX_ASSERTION_LENGTH)),
            TokenRequest(V2, CLIENT_ID, ORG, client_assertion="a" * MAX_ASSERTION_LENGTH),
        ),
        id="assertion-longer-than-other-values",
    ),
    pytest.param(
        Accepted(
            V2,
            _body(GRANT, CLIENT, ("client_secret", "s" * MAX_VALUE_LENGTH), SCOPE_PAIR),
            TokenRequest(V2, CLIENT_ID, ORG, ("s" * MAX_VALUE_LENGTH,)),
        ),
        id="value-at-length-limit",
    ),
]


@pytest.mark.parametrize("case", ACCEPTED)
def test_accepts(case: Accepted) -> None:
    request = parse_token_request(case.endpoint, case.body, case.content_type, case.authorization)

    assert request == case.expected


Expected = tuple[int, str, int]

MISSING: Expected = (900144, "invalid_request", 400)
DUPLICATED: Expected = (9000411, "invalid_request", 400)
UNSUPPORTED: Expected = (70003, "unsupported_grant_type", 400)
NO_CREDENTIAL: Expected = (7000218, "invalid_client", 401)
RESOURCE_ON_V2: Expected = (901002, "invalid_request", 400)
SCOPE_MISSING: Expected = (90014, "invalid_request", 400)
NOT_DEFAULT: Expected = (1002012, "invalid_scope", 400)
SCOPE_INVALID: Expected = (70011, "invalid_scope", 400)
ASSERTION_TYPE_WRONG: Expected = (90011, "invalid_request", 400)
INVALID_INPUT: Expected = (90013, "invalid_request", 400)
TOO_LONG: Expected = (90015, "invalid_request", 400)


@dataclass(frozen=True)
class Rejected:
    endpoint: Endpoint
    body: bytes
    expected: Expected
    message: str
    content_type: str | None = FORM
    authorization: str | None = None


def _rejected(
    case_id: str,
    endpoint: Endpoint,
    body: bytes,
    expected: Expected,
    message: str,
    *,
    content_type: str | None = FORM,
    authorization: str | None = None,
) -> Any:
    return pytest.param(Rejected(endpoint, body, expected, message, content_type, authorization), id=case_id)


def _missing(name: str) -> str:
    return f"AADSTS900144: The request body must contain the following parameter: '{name}'."


def _duplicated(name: str) -> str:
    return f"AADSTS9000411: The request is not properly formatted. The parameter '{name}' is duplicated."


NO_CREDENTIAL_TEXT = (
    "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
)
SCOPE_MISSING_TEXT = "AADSTS90014: The required field 'scope' is missing from the credential."
INVALID_INPUT_TEXT = "AADSTS90013: Invalid input received from the user."
TOO_LONG_TEXT = "AADSTS90015: Requested query string is too long."
JSON_BODY = b'{"grant_type":"client_credentials","client_id":"x","client_secret":"y","scope":"https://o/.default"}'
OK_BODY = _body(GRANT, CLIENT, SECRET, SCOPE_PAIR)
NO_ID_BODY = _body(GRANT, SECRET, SCOPE_PAIR)
BASIC = _basic(CLIENT_ID, "s3cret")
TWO_SCOPES = f"{SCOPE} https://graph.microsoft.com/.default"
LONG = "s" * (MAX_VALUE_LENGTH + 1)
LONG_ASSERTION = "a" * (MAX_ASSERTION_LENGTH + 1)


def _b64(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


REJECTED = [
    _rejected("json-body", V2, JSON_BODY, MISSING, _missing("grant_type"), content_type="application/json"),
    _rejected("form-body-wrong-content-type", V2, OK_BODY, MISSING, _missing("grant_type"), content_type="text/plain"),
    _rejected("form-body-no-content-type", V2, OK_BODY, MISSING, _missing("grant_type"), content_type=None),
    _rejected("empty-body", V2, b"", MISSING, _missing("grant_type")),
    _rejected("missing-grant-type", V2, _body(CLIENT, SECRET, SCOPE_PAIR), MISSING, _missing("grant_type")),
    _rejected("empty-grant-type", V2, _body(("grant_type", ""), CLIENT, SECRET), MISSING, _missing("grant_type")),
    _rejected("missing-client-id", V2, NO_ID_BODY, MISSING, _missing("client_id")),
    _rejected("empty-client-id", V2, _body(GRANT, ("client_id", ""), SECRET), MISSING, _missing("client_id")),
    _rejected("grant-type-twice", V2, _body(GRANT, GRANT, CLIENT, SECRET), DUPLICATED, _duplicated("grant_type")),
    _rejected("client-id-twice", V2, _body(GRANT, CLIENT, CLIENT, SECRET), DUPLICATED, _duplicated("client_id")),
    _rejected("secret-twice", V2, _body(GRANT, CLIENT, SECRET, SECRET), DUPLICATED, _duplicated("client_secret")),
    _rejected("scope-twice", V2, _body(GRANT, SCOPE_PAIR, ("scope", "")), DUPLICATED, _duplicated("scope")),
    _rejected(
        "unsupported-grant-type",
        V2,
        _body(("grant_type", "password"), CLIENT, SECRET, SCOPE_PAIR),
        UNSUPPORTED,
        "AADSTS70003: The app requested an unsupported grant type 'password'.",
    ),
    _rejected("no-credential", V2, _body(GRANT, CLIENT, SCOPE_PAIR), NO_CREDENTIAL, NO_CREDENTIAL_TEXT),
    _rejected(
        "empty-client-secret",
        V2,
        _body(GRANT, CLIENT, ("client_secret", ""), SCOPE_PAIR),
        NO_CREDENTIAL,
        NO_CREDENTIAL_TEXT,
    ),
    _rejected(
        "empty-client-assertion",
        V2,
        _body(GRANT, CLIENT, ("client_assertion", ""), ASSERTION_TYPE, SCOPE_PAIR),
        NO_CREDENTIAL,
        NO_CREDENTIAL_TEXT,
    ),
    _rejected(
        "v2-with-resource",
        V2,
        _body(GRANT, CLIENT, SECRET, SCOPE_PAIR, RESOURCE),
        RESOURCE_ON_V2,
        "AADSTS901002: The 'resource' request parameter isn't supported.",
    ),
    _rejected("v2-without-scope", V2, _body(GRANT, CLIENT, SECRET), SCOPE_MISSING, SCOPE_MISSING_TEXT),
    _rejected("v2-blank-scope", V2, _body(GRANT, CLIENT, SECRET, ("scope", " ")), SCOPE_MISSING, SCOPE_MISSING_TEXT),
    _rejected(
        "v2-scope-without-default",
        V2,
        _body(GRANT, CLIENT, SECRET, ("scope", f"{ORG}/user_impersonation")),
        NOT_DEFAULT,
        f"AADSTS1002012: The provided value for scope {ORG}/user_impersonation is not valid. Client credential flows "
        "must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
    ),
    _rejected(
        "v2-scope-only-default",
        V2,
        _body(GRANT, CLIENT, SECRET, ("scope", "/.default")),
        NOT_DEFAULT,
        "AADSTS1002012: The provided value for scope /.default is not valid.",
    ),
    _rejected(
        "v2-two-scopes",
        V2,
        _body(GRANT, CLIENT, SECRET, ("scope", TWO_SCOPES)),
        SCOPE_INVALID,
        f"The provided value for the input parameter 'scope' is not valid. The scope {TWO_SCOPES} is not valid.",
    ),
    _rejected("v1-without-resource", V1, OK_BODY, MISSING, _missing("resource")),
    _rejected(
        "basic-client-id-differs-from-body",
        V2,
        _body(GRANT, ("client_id", "someone-else"), SCOPE_PAIR),
        DUPLICATED,
        _duplicated("client_id"),
        authorization=BASIC,
    ),
    _rejected("basic-and-body-secret", V2, OK_BODY, DUPLICATED, _duplicated("client_secret"), authorization=BASIC),
    _rejected("basic-not-base64", V2, NO_ID_BODY, MISSING, _missing("client_id"), authorization="Basic not*b64!"),
    _rejected("basic-no-colon", V2, NO_ID_BODY, MISSING, _missing("client_id"), authorization=_b64(b"no-colon")),
    _rejected("basic-not-utf8", V2, NO_ID_BODY, MISSING, _missing("client_id"), authorization=_b64(b"\xff:s")),
    _rejected("basic-empty-id", V2, NO_ID_BODY, MISSING, _missing("client_id"), authorization=_b64(b":s3cret")),
    _rejected(
        "basic-empty-secret",
        V2,
        NO_ID_BODY,
        MISSING,
        _missing("client_id"),
        authorization=_b64(f"{CLIENT_ID}:".encode()),
    ),
    _rejected("other-scheme", V2, NO_ID_BODY, MISSING, _missing("client_id"), authorization="Bearer a.b.c"),
    _rejected(
        "assertion-wrong-type",
        V2,
        _body(GRANT, CLIENT, ASSERTION, ("client_assertion_type", "urn:other"), SCOPE_PAIR),
        ASSERTION_TYPE_WRONG,
        "AADSTS90011: Unexpected client assertion type.",
    ),
    _rejected(
        "assertion-missing-type",
        V2,
        _body(GRANT, CLIENT, ASSERTION, SCOPE_PAIR),
        MISSING,
        _missing("client_assertion_type"),
    ),
    _rejected(
        "non-utf8-percent-escape",
        V2,
        b"grant_type=client_credentials&client_id=%ff&client_secret=s",
        INVALID_INPUT,
        INVALID_INPUT_TEXT,
    ),
    _rejected(
        "raw-non-ascii-bytes",
        V2,
        "grant_type=client_credentials&client_id=café".encode(),
        INVALID_INPUT,
        INVALID_INPUT_TEXT,
    ),
    _rejected("over-long-secret", V2, _body(GRANT, CLIENT, ("client_secret", LONG)), TOO_LONG, TOO_LONG_TEXT),
    _rejected("over-long-unknown", V2, _body(GRANT, CLIENT, SECRET, ("x", LONG)), TOO_LONG, TOO_LONG_TEXT),
    _rejected(
        "over-long-assertion",
        V2,
        _body(GRANT, CLIENT, ("client_assertion", LONG_ASSERTION), ASSERTION_TYPE, SCOPE_PAIR),
        TOO_LONG,
        TOO_LONG_TEXT,
    ),
]


@pytest.mark.parametrize("case", REJECTED)
def test_rejects(case: Rejected) -> None:
    with pytest.raises(IdentityError) as caught:
        parse_token_request(case.endpoint, case.body, case.content_type, case.authorization)

    code = caught.value.code
    assert (code.number, code.error, code.status) == case.expected
    assert case.message in caught.value.message
    assert caught.value.message.startswith(f"AADSTS{code.number}: ")


def test_request_repr_hides_credentials() -> None:
    request = parse_token_request(V2, _body(GRANT, CLIENT, ("client_secret", "hunter2"), SCOPE_PAIR), FORM, None)

    assert "hunter2" not in repr(request)


PARAMETER_NAMES = (
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "resource",
    "scope",
    "client_info",
)
CONTENT_TYPES = st.sampled_from([FORM, f"{FORM}; charset=utf-8", "application/json", "", None])
VALUES = st.one_of(
    st.sampled_from(["client_credentials", CLIENT_ID, SCOPE, ORG, JWT_BEARER_ASSERTION, "", "%ff", "a b"]),
    st.text(max_size=40),
)
FORM_BODIES = st.lists(
    st.tuples(st.one_of(st.sampled_from(PARAMETER_NAMES), st.text(max_size=10)), VALUES), max_size=10
).map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode("ascii"))
RAW_FORM_BODIES = st.lists(
    st.tuples(st.sampled_from(PARAMETER_NAMES), st.text(alphabet="%=&+ab/:.\xff\x00", max_size=20)), max_size=10
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8"))
AUTHORIZATIONS = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.binary(max_size=60).map(lambda raw: "Basic " + base64.b64encode(raw).decode("ascii")),
    st.tuples(st.text(max_size=20), st.text(max_size=20)).map(lambda pair: _basic(*pair)),
)


def _parse_or_identity_error(endpoint: Endpoint, body: bytes, content_type: str | None, auth: str | None) -> None:
    try:
        request = parse_token_request(endpoint, body, content_type, auth)
    except IdentityError:
        return
    assert isinstance(request, TokenRequest)
    assert request.client_id
    assert request.client_secrets or request.client_assertion


@given(st.sampled_from(Endpoint), st.binary(max_size=300), CONTENT_TYPES, AUTHORIZATIONS)
def test_random_bytes_raise_only_identity_errors(
    endpoint: Endpoint, body: bytes, content_type: str | None, authorization: str | None
) -> None:
    _parse_or_identity_error(endpoint, body, content_type, authorization)


@given(st.sampled_from(Endpoint), st.one_of(FORM_BODIES, RAW_FORM_BODIES), CONTENT_TYPES, AUTHORIZATIONS)
def test_random_forms_raise_only_identity_errors(
    endpoint: Endpoint, body: bytes, content_type: str | None, authorization: str | None
) -> None:
    _parse_or_identity_error(endpoint, body, content_type, authorization)
