"""Dataverse accepts exactly the tokens meant for its org, checked through published keys only."""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from d365local.clock import FrozenClock
from d365local.dataverse.domain.signing_keys import KeySet
from d365local.dataverse.domain.token_validation import Audience, bearer_token, validate
from d365local.dataverse.errors import UnauthenticatedError
from d365local.identity.issuance import app_token_claims, token_times
from d365local.identity.model import Application
from d365local.identity.signing import KeyRing, new_signing_key

TID = "9f44de6f-e47a-4460-a7f8-0b6dcc2f9900"
ORG = "https://localhost:5443"
NOW = time.time()
APP = Application(
    "o", "829ef600-4172-4193-8f75-ccc053fa40b2", TID, "app", "53d938a3-7304-467c-8fc8-5c1e0f98ebef", False, 0
)


class StaticKeys:
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self.calls = 0

    def jwks(self) -> Mapping[str, Any]:
        self.calls += 1
        return {"keys": self.ring.public_jwks()}

    def version(self) -> Hashable | None:
        return None  # like another authority's JWKS: no change signal


class AnnouncedKeys(StaticKeys):
    """Keys with a change signal, as the local key store has."""

    def version(self) -> Hashable | None:
        return tuple(k["kid"] for k in self.ring.public_jwks())


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing([new_signing_key(NOW)])


def token(ring: KeyRing, **overrides: Any) -> str:
    claims = app_token_claims(app=APP, audience=ORG, appidacr="1", times=token_times(NOW), uti=b"u" * 16, aio=b"a" * 32)
    claims.update(overrides)
    return ring.sign({k: v for k, v in claims.items() if v is not None}, x5t=True)


AUDIENCE = Audience(TID, ORG, ["https://localhost:5443"])


def check(ring: KeyRing, raw: str, now: float = NOW) -> str:
    keys = KeySet(StaticKeys(ring), FrozenClock(now))
    return validate(raw, AUDIENCE, keys, now).app_id


@pytest.mark.parametrize(
    "aud", [ORG, ORG + "/", "https://127.0.0.1:5443", "https://[::1]:5443/", "00000007-0000-0000-c000-000000000000"]
)
def test_accepts_the_org_url_its_aliases_and_the_dataverse_app_id(ring: KeyRing, aud: str) -> None:
    assert check(ring, token(ring, aud=aud)) == APP.app_id


def test_accepts_v2_tokens_with_azp(ring: KeyRing) -> None:
    raw = token(ring, appid=None, azp=APP.app_id, iss=f"https://localhost:5443/{TID}/v2.0", ver="2.0")
    assert check(ring, raw) == APP.app_id


REJECTED = [
    ("other org", {"aud": "https://localhost:5443/orgs/sales"}, "not this organization"),
    ("http", {"aud": "http://localhost:5443"}, "not this organization"),
    ("other tenant", {"tid": "00000000-0000-0000-0000-000000000001"}, "another tenant"),
    ("other issuer", {"iss": "https://evil.example/"}, "another tenant"),
    ("expired", {"exp": int(NOW) - 301}, "expired"),
    ("not yet", {"nbf": int(NOW) + 301}, "not valid yet"),
    ("no app", {"appid": None}, "no application"),
    ("nan exp", {"exp": float("nan")}, "exp"),
]


@pytest.mark.parametrize(("overrides", "reason"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_rejects(ring: KeyRing, overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(UnauthenticatedError, match=reason):
        check(ring, token(ring, **overrides))


def test_within_clock_skew_still_valid(ring: KeyRing) -> None:
    assert check(ring, token(ring, exp=int(NOW) - 299))


def test_rejects_unsigned_hmac_and_foreign_keys(ring: KeyRing) -> None:
    claims = jwt.decode(token(ring), options={"verify_signature": False})
    with pytest.raises(UnauthenticatedError, match="RS256"):
        check(ring, jwt.encode(claims, None, algorithm="none"))
    with pytest.raises(UnauthenticatedError, match="RS256"):
        check(ring, jwt.encode(claims, "secret" * 8, algorithm="HS256"))
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, foreign, algorithm="RS256", headers={"kid": ring.active_kid})
    with pytest.raises(UnauthenticatedError, match="signature"):
        check(ring, forged)
    other = KeyRing([new_signing_key(NOW)])
    with pytest.raises(UnauthenticatedError, match="unknown kid"):
        check(ring, token(other))


def test_unknown_kid_refreshes_at_most_every_five_seconds(ring: KeyRing) -> None:
    source = StaticKeys(ring)
    clock = FrozenClock(NOW)
    keys = KeySet(source, clock)
    stranger = token(KeyRing([new_signing_key(NOW)]))
    for _ in range(10):
        with pytest.raises(UnauthenticatedError):
            validate(stranger, AUDIENCE, keys, NOW)
    assert source.calls == 1
    clock.advance(5)
    with pytest.raises(UnauthenticatedError):
        validate(stranger, AUDIENCE, keys, NOW)
    assert source.calls == 2
    assert validate(token(ring), AUDIENCE, keys, NOW).object_id == APP.service_principal_id


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer    ", "bearer " + "x" * 20000])
def test_bearer_header_faults(header: str | None) -> None:
    with pytest.raises(UnauthenticatedError):
        bearer_token(header)


def test_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"


def test_a_retired_key_stops_validating_within_five_minutes(ring: KeyRing) -> None:
    source = StaticKeys(ring)
    clock = FrozenClock(NOW)
    keys = KeySet(source, clock)
    assert keys.key(ring.active_kid) is not None
    source.ring = KeyRing([new_signing_key(NOW)])  # the old key is no longer published
    clock.advance(299)
    assert keys.key(ring.active_kid) is not None
    clock.advance(2)
    assert keys.key(ring.active_kid) is None


def test_a_source_with_a_change_signal_retires_and_rotates_on_the_next_lookup(ring: KeyRing) -> None:
    source = AnnouncedKeys(ring)
    keys = KeySet(source, FrozenClock(NOW))
    assert keys.key(ring.active_kid) is not None
    assert keys.key(ring.active_kid) is not None
    assert source.calls == 1  # an unchanged signal reads nothing
    rotated = KeyRing([new_signing_key(NOW)])
    source.ring = rotated
    assert keys.key(ring.active_kid) is None  # no five-minute wait, no five-second refresh limit
    assert keys.key(rotated.active_kid) is not None
    assert source.calls == 2
