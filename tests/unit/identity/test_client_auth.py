"""Tests for client secret and certificate assertion authentication in d365local.identity.client_auth."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from d365local.client import ClientCertificate
from d365local.identity.client_auth import AssertionPolicy, authenticate_assertion, authenticate_secret
from d365local.identity.errors import IdentityError
from d365local.identity.model import Application, Certificate, ClientSecret
from d365local.identity.secret_hash import SecretHasher

NOW = 1_736_942_400.0
"""2025-01-15 12:00:00Z."""
DAY = 86_400.0
CLIENT_ID = "5bef00f5-0000-4000-8000-000000000002"
TENANT_ID = "890df2fb-0000-4000-8000-7dc5308deacc"
TOKEN_ENDPOINT = f"https://login.microsoftonline.com/{TENANT_ID}/oauth2/v2.0/token"
APP = Application(
    id="a0a0a0a0-0000-4000-8000-000000000001",
    app_id=CLIENT_ID,
    tenant_id=TENANT_ID,
    display_name="integration",
    service_principal_id="be575979-0000-4000-8000-000000000003",
    disabled=False,
    created_at=NOW - 30 * DAY,
)
POLICY = AssertionPolicy(audience_ok=lambda aud: aud == TOKEN_ENDPOINT)
HASHER = SecretHasher(b"k" * 32)


# -- client secrets -------------------------------------------------------------------------------------------------


def _secret(value: str, *, start: float = NOW - DAY, end: float = NOW + DAY, key_id: str = "s") -> ClientSecret:
    return ClientSecret(key_id, APP.id, value[:3], "secret", start, end, HASHER.hash(value))


SECRETS = [_secret("first", key_id="1"), _secret("second", key_id="2"), _secret("third", key_id="3")]


@pytest.mark.parametrize(
    ("stored", "candidates"),
    [
        pytest.param([_secret("s3cret")], ["s3cret"], id="match"),
        pytest.param(SECRETS, ["third"], id="match-among-several"),
        pytest.param([_secret("s3c ret/=")], ["s3c+ret/=", "s3c ret/="], id="second-candidate"),
        pytest.param([_secret("old", end=NOW - 1), _secret("new")], ["new"], id="other-secret-expired"),
        pytest.param([_secret("edge", start=NOW)], ["edge"], id="valid-from-now"),
    ],
)
def test_secret_accepted(stored: list[ClientSecret], candidates: list[str]) -> None:
    assert authenticate_secret(APP, stored, candidates, HASHER, NOW) == "1"


@pytest.mark.parametrize(
    ("stored", "candidates", "number"),
    [
        pytest.param([_secret("s3cret")], ["wrong"], 7000215, id="wrong"),
        pytest.param(SECRETS, ["fourth", "FIRST"], 7000215, id="wrong-among-several"),
        pytest.param([_secret("s3cret")], [], 7000215, id="no-candidates"),
        pytest.param([], ["s3cret"], 7000215, id="no-secrets"),
        pytest.param([_secret("s3cret", end=NOW - 1)], ["s3cret"], 7000222, id="expired"),
        pytest.param([_secret("s3cret", end=NOW)], ["s3cret"], 7000222, id="expires-now"),
        pytest.param([_secret("s3cret", start=NOW + 1)], ["s3cret"], 7000222, id="not-yet-valid"),
    ],
)
def test_secret_rejected(stored: list[ClientSecret], candidates: list[str], number: int) -> None:
    with pytest.raises(IdentityError) as caught:
        authenticate_secret(APP, stored, candidates, HASHER, NOW)

    assert (caught.value.code.number, caught.value.code.error, caught.value.code.status) == (
        number,
        "invalid_client",
        401,
    )
    assert f"app '{CLIENT_ID}'" in caught.value.message


class CountingHasher(SecretHasher):
    def __init__(self) -> None:
        super().__init__(b"k" * 32)
        self.comparisons = 0

    def matches(self, secret: str, stored_hash: bytes) -> bool:
        self.comparisons += 1
        return super().matches(secret, stored_hash)


@pytest.mark.parametrize("candidates", [["first", "x"], ["x", "third"], ["x", "y"]], ids=["early", "late", "none"])
def test_secret_check_compares_every_pair(candidates: list[str]) -> None:
    hasher = CountingHasher()

    with contextlib.suppress(IdentityError):
        authenticate_secret(APP, SECRETS, candidates, hasher, NOW)

    assert hasher.comparisons == len(SECRETS) * len(candidates)


# -- client assertions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    certificate: Certificate

    @property
    def sha1(self) -> bytes:
        return hashlib.sha1(self.certificate.der).digest()  # noqa: S324

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.certificate.der).digest()


def _make_signer(name: str) -> Signer:
    made = ClientCertificate.self_signed(name, valid_from=dt.datetime.fromtimestamp(NOW - DAY, dt.UTC), days=30)
    key, cert = made.private_key, made.certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    certificate = Certificate(
        key_id=f"{name}-key",
        app_object_id=APP.id,
        thumbprint=hashlib.sha1(der).hexdigest().upper(),  # noqa: S324
        thumbprint_sha256=hashlib.sha256(der).hexdigest().upper(),
        start=cert.not_valid_before_utc.timestamp(),
        end=cert.not_valid_after_utc.timestamp(),
        der=der,
    )
    return Signer(key, certificate)


@pytest.fixture(scope="session")
def signers() -> dict[str, Signer]:
    return {"registered": _make_signer("registered"), "other": _make_signer("other")}


def _b64(raw: bytes, *, padded: bool = False) -> str:
    encoded = base64.urlsafe_b64encode(raw).decode("ascii")
    return encoded if padded else encoded.rstrip("=")


DROP = object()
HS_KEY = b"h" * 64


@dataclass(frozen=True)
class Spec:
    alg: str = "RS256"
    signer: str = "registered"
    """Whose private key signs."""
    thumbprint_of: str = "registered"
    """Whose certificate thumbprint goes in the header."""
    thumbprint: str = "x5t"
    padded: bool = False
    header: Mapping[str, object] = field(default_factory=dict)
    claims: Mapping[str, object] = field(default_factory=dict)


def _assertion(signers: Mapping[str, Signer], spec: Spec, now: float = NOW) -> str:
    thumbprint_signer = signers[spec.thumbprint_of]
    digest = thumbprint_signer.sha1 if spec.thumbprint == "x5t" else thumbprint_signer.sha256
    header: dict[str, object] = {spec.thumbprint: _b64(digest, padded=spec.padded), **spec.header}
    claims: dict[str, object] = {
        "aud": TOKEN_ENDPOINT,
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "jti": "9a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
        "iat": int(now),
        "exp": int(now) + 600,
        **spec.claims,
    }
    header = {k: v for k, v in header.items() if v is not DROP}
    claims = {k: v for k, v in claims.items() if v is not DROP}
    if spec.alg.startswith("HS"):
        return jwt.encode(claims, HS_KEY, algorithm=spec.alg, headers=header)
    if spec.alg == "none":
        return jwt.encode(claims, "", algorithm="none", headers=header)
    return jwt.encode(claims, signers[spec.signer].key, algorithm=spec.alg, headers=header)


def _registered(signers: Mapping[str, Signer]) -> list[Certificate]:
    return [signers["registered"].certificate]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(Spec(), id="rs256-x5t-unpadded"),
        pytest.param(Spec(padded=True), id="rs256-x5t-padded"),
        pytest.param(Spec(alg="PS256", thumbprint="x5t#S256"), id="ps256-x5t-s256-unpadded"),
        pytest.param(Spec(alg="PS256", thumbprint="x5t#S256", padded=True), id="ps256-x5t-s256-padded"),
        pytest.param(Spec(alg="RS384"), id="rs384"),
        pytest.param(Spec(alg="RS512", thumbprint="x5t#S256"), id="rs512-x5t-s256"),
        pytest.param(Spec(header={"x5t#S256": "bm90LWEtdGh1bWJwcmludA"}), id="x5t-wins-over-unknown-s256"),
        pytest.param(Spec(claims={"iat": NOW + 0.25, "exp": NOW + 600.5}), id="float-exp-iat"),
        pytest.param(Spec(claims={"aud": ["https://elsewhere/", TOKEN_ENDPOINT]}), id="aud-list"),
        pytest.param(Spec(claims={"iat": DROP}), id="no-iat"),
        pytest.param(Spec(claims={"nbf": NOW + 299}), id="nbf-within-skew"),
        pytest.param(Spec(claims={"iat": NOW - 900, "exp": NOW - 299}), id="expired-within-skew"),
        pytest.param(Spec(claims={"exp": NOW + 3600}), id="one-hour"),
        pytest.param(Spec(claims={"iss": CLIENT_ID.upper(), "sub": CLIENT_ID.upper()}), id="client-id-case"),
        pytest.param(Spec(header={"x5c": ["MIIB"], "kid": "ignored"}), id="extra-header-fields"),
    ],
)
def test_assertion_accepted(signers: dict[str, Signer], spec: Spec) -> None:
    assertion = _assertion(signers, spec)

    assert authenticate_assertion(APP, _registered(signers), assertion, POLICY, NOW) == "2"


INVALID_CLIENT = ("invalid_client", 401)
INVALID_REQUEST = ("invalid_request", 400)


@pytest.mark.parametrize(
    ("spec", "number", "kind", "text"),
    [
        pytest.param(Spec(header={"x5t": DROP}), 5002723, INVALID_CLIENT, "No certificate SHA-1 thumbprint", id="no-x5t"),
        pytest.param(Spec(header={"x5t": "!!!!"}), 5002723, INVALID_CLIENT, "No certificate", id="garbage-x5t"),
        pytest.param(Spec(header={"x5t": 42}), 5002723, INVALID_CLIENT, "No certificate", id="numeric-x5t"),
        pytest.param(Spec(thumbprint_of="other", signer="other"), 700027, INVALID_CLIENT, "The key was not found.",
                     id="unknown-thumbprint"),
        pytest.param(Spec(signer="other"), 700027, INVALID_CLIENT, "invalid signature", id="other-key"),
        pytest.param(Spec(alg="PS256", thumbprint="x5t#S256", signer="other"), 700027, INVALID_CLIENT,
                     "invalid signature", id="other-key-ps256"),
        pytest.param(Spec(alg="HS256"), 5002738, INVALID_CLIENT, "'HS256' is not a supported", id="hs256"),
        pytest.param(Spec(alg="none"), 5002738, INVALID_CLIENT, "'none' is not a supported", id="none"),
        pytest.param(Spec(claims={"iat": NOW - 900, "exp": NOW - 301}), 700024, INVALID_CLIENT,
                     "not within its valid time range", id="expired"),
        pytest.param(Spec(claims={"nbf": NOW + 301, "exp": NOW + 900}), 700024, INVALID_CLIENT,
                     "not within its valid time range", id="nbf-in-future"),
        pytest.param(Spec(claims={"exp": NOW + 7200}), 700024, INVALID_CLIENT, "must not exceed 3600 seconds",
                     id="lifetime-two-hours"),
        pytest.param(Spec(claims={"iat": DROP, "exp": NOW + 7200}), 700024, INVALID_CLIENT, "must not exceed",
                     id="lifetime-without-iat"),
        pytest.param(Spec(claims={"sub": "someone-else"}), 50048, INVALID_CLIENT, "Subject must match the issuer",
                     id="iss-not-sub"),
        pytest.param(Spec(claims={"iss": "someone-else", "sub": "someone-else"}), 700021, INVALID_CLIENT,
                     "doesn't match 'client_id'", id="iss-not-client"),
        pytest.param(Spec(claims={"aud": "https://elsewhere/"}), 700023, INVALID_CLIENT, "audience claim",
                     id="aud-rejected"),
        pytest.param(Spec(claims={"aud": ["https://a/", 7]}), 700023, INVALID_CLIENT, "audience claim",
                     id="aud-list-rejected"),
        pytest.param(Spec(claims={"jti": DROP}), 90014, INVALID_REQUEST, "The required field 'jti'", id="no-jti"),
        pytest.param(Spec(claims={"jti": ""}), 90014, INVALID_REQUEST, "The required field 'jti'", id="empty-jti"),
        pytest.param(Spec(claims={"exp": DROP}), 90014, INVALID_REQUEST, "The required field 'exp'", id="no-exp"),
        pytest.param(Spec(claims={"aud": DROP}), 90014, INVALID_REQUEST, "The required field 'aud'", id="no-aud"),
        pytest.param(Spec(claims={"exp": "soon"}), 50027, INVALID_REQUEST, "malformed", id="exp-not-a-number"),
        pytest.param(Spec(claims={"exp": True}), 50027, INVALID_REQUEST, "malformed", id="exp-bool"),
    ],
)  # fmt: skip
def test_assertion_rejected(
    signers: dict[str, Signer], spec: Spec, number: int, kind: tuple[str, int], text: str
) -> None:
    assertion = _assertion(signers, spec)

    with pytest.raises(IdentityError) as caught:
        authenticate_assertion(APP, _registered(signers), assertion, POLICY, NOW)

    code = caught.value.code
    assert (code.number, (code.error, code.status)) == (number, kind)
    assert text in caught.value.message


@pytest.mark.parametrize("thumbprint", ["x5t", "x5t#S256"])
def test_unknown_thumbprint_is_quoted_in_hex(signers: dict[str, Signer], thumbprint: str) -> None:
    other = signers["other"]
    assertion = _assertion(signers, Spec(signer="other", thumbprint_of="other", thumbprint=thumbprint))
    expected = other.certificate.thumbprint if thumbprint == "x5t" else other.certificate.thumbprint_sha256

    with pytest.raises(IdentityError) as caught:
        authenticate_assertion(APP, _registered(signers), assertion, POLICY, NOW)

    assert f"Thumbprint of key used by client: '{expected}'" in caught.value.message
    assert f"app Id '{CLIENT_ID}'" in caught.value.message


@pytest.mark.parametrize("assertion", ["abc", "", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30"], ids=repr)
def test_garbage_assertion_is_malformed(signers: dict[str, Signer], assertion: str) -> None:
    with pytest.raises(IdentityError) as caught:
        authenticate_assertion(APP, _registered(signers), assertion, POLICY, NOW)

    code = caught.value.code
    assert (code.number, code.error, code.status) == (50027, "invalid_request", 400)
    assert caught.value.message == "AADSTS50027: JWT token is invalid or malformed."


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(NOW + 40 * DAY, id="expired"),
        pytest.param(NOW - 2 * DAY, id="not-yet-valid"),
    ],
)
def test_certificate_outside_validity(signers: dict[str, Signer], now: float) -> None:
    assertion = _assertion(signers, Spec(), now=now)

    with pytest.raises(IdentityError) as caught:
        authenticate_assertion(APP, _registered(signers), assertion, POLICY, now)

    assert caught.value.code.number == 700027
    assert "The key used is expired." in caught.value.message
    assert signers["registered"].certificate.thumbprint in caught.value.message


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": float("nan")}, id="exp-nan"),
        pytest.param({"exp": float("nan"), "iat": float("nan")}, id="exp-iat-nan"),
    ],
)
def test_non_finite_exp_is_rejected(signers: dict[str, Signer], claims: dict[str, object]) -> None:
    assertion = _assertion(signers, Spec(claims=claims))

    with pytest.raises(IdentityError) as caught:
        authenticate_assertion(APP, _registered(signers), assertion, POLICY, NOW)

    assert caught.value.code.number in (50027, 700024)


@dataclass
class FakeGuard:
    seen: set[tuple[str, str]] = field(default_factory=set)
    calls: list[tuple[str, str, float]] = field(default_factory=list)

    def first_use(self, client_id: str, jti: str, expires_at: float) -> bool:
        self.calls.append((client_id, jti, expires_at))
        if (client_id, jti) in self.seen:
            return False
        self.seen.add((client_id, jti))
        return True


def test_replay_guard_refuses_the_second_use(signers: dict[str, Signer]) -> None:
    guard = FakeGuard()
    policy = AssertionPolicy(audience_ok=POLICY.audience_ok, replay_guard=guard)
    assertion = _assertion(signers, Spec(claims={"jti": "once"}))

    assert authenticate_assertion(APP, _registered(signers), assertion, policy, NOW) == "2"
    with pytest.raises(IdentityError) as caught:
        authenticate_assertion(APP, _registered(signers), assertion, policy, NOW + 1)

    assert (caught.value.code.number, caught.value.code.status) == (7000299, 401)
    assert "'once'" in caught.value.message
    assert guard.calls == [(CLIENT_ID, "once", NOW + 600)] * 2


def test_replay_guard_sees_a_fresh_jti_as_first_use(signers: dict[str, Signer]) -> None:
    policy = AssertionPolicy(audience_ok=POLICY.audience_ok, replay_guard=FakeGuard())

    for jti in ("one", "two"):
        assertion = _assertion(signers, Spec(claims={"jti": jti}))
        assert authenticate_assertion(APP, _registered(signers), assertion, policy, NOW) == "2"


def test_without_guard_an_assertion_works_twice(signers: dict[str, Signer]) -> None:
    assertion = _assertion(signers, Spec())

    results = [authenticate_assertion(APP, _registered(signers), assertion, POLICY, NOW + t) for t in (0, 1)]

    assert results == ["2", "2"]


def test_certificate_chosen_by_thumbprint_among_several(signers: dict[str, Signer]) -> None:
    certificates: Sequence[Certificate] = [signers["other"].certificate, signers["registered"].certificate]

    for name in ("registered", "other"):
        assertion = _assertion(signers, Spec(signer=name, thumbprint_of=name))
        assert authenticate_assertion(APP, certificates, assertion, POLICY, NOW) == "2"
