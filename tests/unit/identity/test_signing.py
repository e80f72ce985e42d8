"""Tests for token signing keys, the key ring and its cache in d365local.identity.signing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import replace
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from d365local.identity.model import SigningKey
from d365local.identity.signing import KeyRing, KeyRingCache, new_signing_key

NOW = 1_736_942_400.0
CLAIMS: dict[str, Any] = {
    "aud": "https://org.crm.dynamics.com/",
    "iss": "https://sts.windows.net/t/",
    "exp": NOW + 3600,
}


@pytest.fixture(scope="module")
def keys() -> tuple[SigningKey, SigningKey, SigningKey]:
    return new_signing_key(NOW - 200), new_signing_key(NOW - 100), new_signing_key(NOW)


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _verify(token: str, jwk: dict[str, Any]) -> dict[str, Any]:
    return jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=CLAIMS["aud"], options={"verify_exp": False}
    )


def test_new_signing_key(keys: tuple[SigningKey, ...]) -> None:
    key = keys[2]
    certificate = x509.load_der_x509_certificate(key.certificate_der)
    private_key = serialization.load_pem_private_key(key.private_key_pem, password=None)

    assert len(key.kid) == 27
    assert key.kid == base64.urlsafe_b64encode(hashlib.sha1(key.certificate_der).digest()).rstrip(b"=").decode()  # noqa: S324
    assert (key.created_at, key.active, key.retired) == (NOW, True, False)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 2048
    assert certificate.public_key() == private_key.public_key()
    assert certificate.not_valid_before_utc <= dt.datetime.fromtimestamp(NOW, dt.UTC) < certificate.not_valid_after_utc
    assert len({k.kid for k in keys}) == 3


def test_sign_v1_header_order_and_verification(keys: tuple[SigningKey, ...]) -> None:
    ring = KeyRing([keys[0]])
    kid = keys[0].kid

    token = ring.sign(CLAIMS, x5t=True)

    assert list(_segment(token, 0).items()) == [("typ", "JWT"), ("alg", "RS256"), ("x5t", kid), ("kid", kid)]
    (jwk,) = ring.public_jwks()
    assert _verify(token, jwk) == CLAIMS


def test_sign_v2_header_has_no_x5t(keys: tuple[SigningKey, ...]) -> None:
    ring = KeyRing([keys[0]])

    token = ring.sign(CLAIMS, x5t=False)

    assert list(_segment(token, 0).items()) == [("typ", "JWT"), ("alg", "RS256"), ("kid", keys[0].kid)]
    assert _verify(token, ring.public_jwks()[0]) == CLAIMS


def test_published_jwk(keys: tuple[SigningKey, ...]) -> None:
    (jwk,) = KeyRing([keys[0]]).public_jwks()

    assert list(jwk) == ["kty", "use", "kid", "x5t", "n", "e", "x5c"]
    assert (jwk["kty"], jwk["use"], jwk["kid"], jwk["x5t"], jwk["e"]) == (
        "RSA",
        "sig",
        keys[0].kid,
        keys[0].kid,
        "AQAB",
    )
    assert base64.b64decode(jwk["x5c"][0]) == keys[0].certificate_der
    assert "=" not in jwk["n"]


def test_rotation_signs_with_the_active_key_and_publishes_both(keys: tuple[SigningKey, ...]) -> None:
    old, new = replace(keys[0], active=False), keys[1]
    ring = KeyRing([old, new])

    token = ring.sign(CLAIMS, x5t=True)

    assert ring.active_kid == new.kid
    assert _segment(token, 0)["kid"] == new.kid
    by_kid = {jwk["kid"]: jwk for jwk in ring.public_jwks()}
    assert set(by_kid) == {old.kid, new.kid}
    assert _verify(token, by_kid[new.kid]) == CLAIMS
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(token, by_kid[old.kid])


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)], ids=str)
def test_newest_active_key_signs(keys: tuple[SigningKey, ...], order: tuple[int, int, int]) -> None:
    ring = KeyRing([keys[i] for i in order])

    assert ring.active_kid == keys[2].kid
    assert len(ring.public_jwks()) == 3


def test_retired_keys_are_not_published(keys: tuple[SigningKey, ...]) -> None:
    ring = KeyRing([replace(keys[0], active=False, retired=True), keys[1], replace(keys[2], retired=True)])

    assert [jwk["kid"] for jwk in ring.public_jwks()] == [keys[1].kid]
    assert ring.active_kid == keys[1].kid


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param([], id="no-keys"),
        pytest.param([(False, False)], id="inactive"),
        pytest.param([(True, True)], id="active-but-retired"),
        pytest.param([(False, False), (True, True)], id="inactive-and-retired"),
    ],
)
def test_no_active_key_is_an_error(keys: tuple[SigningKey, ...], flags: list[tuple[bool, bool]]) -> None:
    ring_keys = [
        replace(key, active=active, retired=retired) for key, (active, retired) in zip(keys, flags, strict=False)
    ]

    with pytest.raises(ValueError, match="no active signing key"):
        KeyRing(ring_keys)


def test_cache_reparses_only_when_the_key_list_changes(keys: tuple[SigningKey, ...]) -> None:
    published: list[SigningKey] = [keys[0]]
    loads: list[int] = []

    def load() -> list[SigningKey]:
        loads.append(1)
        return list(published)

    cache = KeyRingCache(load)
    first = cache()

    assert cache() is first
    assert first.active_kid == keys[0].kid

    published.append(keys[1])
    second = cache()

    assert second is not first
    assert second.active_kid == keys[1].kid
    assert cache() is second

    published[0] = replace(keys[0], retired=True)
    third = cache()

    assert third is not second
    assert [jwk["kid"] for jwk in third.public_jwks()] == [keys[1].kid]
    assert len(loads) == 5
