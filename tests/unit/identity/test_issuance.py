"""Tests for app-only token claims and lifetimes in d365local.identity.issuance."""

from __future__ import annotations

import base64

import pytest

from d365local.identity.issuance import APPIDACR_CERTIFICATE, APPIDACR_SECRET, TokenTimes, app_token_claims, token_times
from d365local.identity.model import Application

TENANT_ID = "890df2fb-1111-2222-3333-7dc5308deacc"
APP = Application(
    id="a0a0a0a0-0000-0000-0000-000000000001",
    app_id="5bef00f5-0000-0000-0000-000000000002",
    tenant_id=TENANT_ID,
    display_name="integration",
    service_principal_id="be575979-0000-0000-0000-000000000003",
    disabled=False,
    created_at=0.0,
)
AUDIENCE = "https://org.crm.dynamics.com/"
UTI = bytes(range(16))
AIO = bytes(range(100, 132))
V1_CLAIMS = ["aud", "iss", "iat", "nbf", "exp", "aio", "appid", "appidacr", "idp", "idtyp", "oid", "rh"]
V1_TAIL = ["sub", "tid", "uti", "ver"]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(1_700_000_000, TokenTimes(1_699_999_700, 1_700_003_600, 3599), id="whole"),
        pytest.param(1_700_000_000.999, TokenTimes(1_699_999_700, 1_700_003_600, 3599), id="fraction-truncated"),
    ],
)
def test_token_times(now: float, expected: TokenTimes) -> None:
    times = token_times(now)

    assert times == expected
    assert times.expires_at - times.issued_at == 3900


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("appidacr", [APPIDACR_SECRET, APPIDACR_CERTIFICATE])
def test_app_token_claims_are_exactly_the_v1_claims(appidacr: str) -> None:
    times = token_times(1_700_000_000)

    claims = app_token_claims(app=APP, audience=AUDIENCE, appidacr=appidacr, times=times, uti=UTI, aio=AIO)

    assert list(claims) == V1_CLAIMS + V1_TAIL
    issuer = f"https://sts.windows.net/{TENANT_ID}/"
    expected = {
        "aud": AUDIENCE,
        "iss": issuer,
        "iat": times.issued_at,
        "nbf": times.issued_at,
        "exp": times.expires_at,
        "appid": APP.app_id,
        "appidacr": appidacr,
        "idp": issuer,
        "idtyp": "app",
        "oid": APP.service_principal_id,
        "sub": APP.service_principal_id,
        "tid": TENANT_ID,
        "ver": "1.0",
    }
    assert {name: claims[name] for name in expected} == expected
    assert _b64url_decode(claims["uti"]) == UTI
    assert _b64url_decode(claims["aio"]) == AIO
    assert "=" not in claims["uti"] + claims["aio"]
    assert claims["rh"].startswith("0.")
    assert claims["rh"].endswith(".")
    assert "roles" not in claims


def test_roles_only_when_granted() -> None:
    times = token_times(1_700_000_000)

    claims = app_token_claims(
        app=APP, audience=AUDIENCE, appidacr="1", times=times, uti=UTI, aio=AIO, roles=("Reader", "Writer")
    )

    assert claims["roles"] == ["Reader", "Writer"]
    assert list(claims) == [*V1_CLAIMS, "roles", *V1_TAIL]
