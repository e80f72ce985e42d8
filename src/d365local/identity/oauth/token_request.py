"""Token request parsing: form body (+ HTTP Basic header) → :class:`TokenRequest`, or an AADSTS error.

Entra reads token requests only as ``application/x-www-form-urlencoded`` bodies; a JSON body (as some blog posts
and Postman recipes send) therefore reads as "no parameters" and fails on the first required one, ``grant_type``
(AADSTS900144) — exactly what Entra answers (docs/reference/entra.md, "Token requests").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import parse_qsl, unquote, unquote_plus

from d365local.identity import errors
from d365local.identity.errors import IdentityError

CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_SCOPE_SUFFIX = "/.default"

MAX_VALUE_LENGTH = 4096
"""Longest accepted value of any parameter but ``client_assertion`` (ids, secrets and URLs are far shorter)."""
MAX_ASSERTION_LENGTH = 32768
"""A client assertion carrying an ``x5c`` chain of a few certificates stays well below this."""

_FORM = "application/x-www-form-urlencoded"
_SINGLE_VALUED = (
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "resource",
    "scope",
)


class Endpoint(Enum):
    """Which token endpoint was called: it decides between ``resource`` and ``scope`` and the response shape."""

    V1 = "v1"
    V2 = "v2"


@dataclass(frozen=True)
class TokenRequest:
    """A well-formed client-credentials token request, not yet authenticated."""

    endpoint: Endpoint
    client_id: str
    target: str
    """The resource asked for: v1 ``resource`` as sent, v2 ``scope`` without ``/.default``."""
    client_secrets: tuple[str, ...] = field(default=(), repr=False)
    """Candidate secret values: a Basic header's secret is tried raw and URL-decoded (RFC 6749 §2.3.1)."""
    client_assertion: str | None = field(default=None, repr=False)


def parse_token_request(
    endpoint: Endpoint,
    body: bytes,
    content_type: str | None,
    authorization: str | None,
) -> TokenRequest:
    """Parse and check a token request the way Entra does, raising :class:`IdentityError` on the first fault."""
    params = _form_parameters(body, content_type)
    basic = _basic_credentials(authorization)

    grant_type = _required(params, "grant_type")
    client_id = params.get("client_id", "")
    if basic is not None:
        basic_id, basic_secret = basic
        if client_id and client_id != basic_id:
            raise IdentityError(errors.DUPLICATED_PARAMETER, name="client_id")
        client_id = basic_id
    if not client_id:
        raise IdentityError(errors.MISSING_PARAMETER, name="client_id")
    if grant_type != CLIENT_CREDENTIALS:
        raise IdentityError(errors.UNSUPPORTED_GRANT, grant_type=grant_type)

    secrets: tuple[str, ...] = ()
    assertion = params.get("client_assertion") or None
    if basic is not None:
        if "client_secret" in params:
            raise IdentityError(errors.DUPLICATED_PARAMETER, name="client_secret")
        decoded = unquote_plus(basic_secret)
        secrets = (basic_secret,) if decoded == basic_secret else (basic_secret, decoded)
    elif params.get("client_secret"):
        secrets = (params["client_secret"],)
    if assertion is not None:
        assertion_type = _required(params, "client_assertion_type")
        if assertion_type != JWT_BEARER_ASSERTION:
            raise IdentityError(errors.ASSERTION_TYPE)
    elif not secrets:
        raise IdentityError(errors.NO_CREDENTIAL)

    return TokenRequest(
        endpoint=endpoint,
        client_id=client_id,
        target=_target(endpoint, params),
        client_secrets=secrets,
        client_assertion=assertion,
    )


def _target(endpoint: Endpoint, params: dict[str, str]) -> str:
    if endpoint is Endpoint.V1:
        return _required(params, "resource")
    if "resource" in params:
        raise IdentityError(errors.RESOURCE_ON_V2)
    scope = params.get("scope", "")
    scopes = scope.split()
    if not scopes:
        raise IdentityError(errors.SCOPE_MISSING)
    if len(scopes) > 1:
        raise IdentityError(errors.SCOPE_INVALID, scope=scope)
    (only,) = scopes
    if not only.endswith(DEFAULT_SCOPE_SUFFIX) or len(only) == len(DEFAULT_SCOPE_SUFFIX):
        raise IdentityError(errors.SCOPE_NOT_DEFAULT, scope=only)
    return only[: -len(DEFAULT_SCOPE_SUFFIX)]


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise IdentityError(errors.MISSING_PARAMETER, name=name)
    return value


def _form_parameters(body: bytes, content_type: str | None) -> dict[str, str]:
    """Decode a form body; any other media type reads as no parameters at all, as at Entra."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != _FORM or not body:
        return {}
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError as exc:
        raise IdentityError(errors.INVALID_INPUT) from exc
    return _unique(pairs)


def _unique(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params and name in _SINGLE_VALUED:
            raise IdentityError(errors.DUPLICATED_PARAMETER, name=name)
        limit = MAX_ASSERTION_LENGTH if name == "client_assertion" else MAX_VALUE_LENGTH
        if len(value) > limit:
            raise IdentityError(errors.VALUE_TOO_LONG, name=name[:64], limit=limit)
        params.setdefault(name, value)
    return params


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic b64(id:secret)`` → (id, raw secret).

    Other schemes, and Basic headers that do not decode to ``id:secret``, are not client authentication: the
    request then fails on the missing client_id or credential, as it does at Entra.
    """
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 2 * MAX_VALUE_LENGTH:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        return None
    return unquote(client_id), secret
