"""Directory objects as the JSON contract names them (Microsoft Graph's camelCase field names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from d365local.identity.model import (
    Application,
    Certificate,
    ClientSecret,
    Consent,
    Organization,
    Permission,
    SigningKey,
    Tenant,
    User,
)


def graph_time(seconds: float) -> str:
    """Graph's ``2024-05-06T07:08:09Z``."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "displayName": tenant.display_name,
        "verifiedDomains": [
            {"name": d.name, "isDefault": d.is_default, "isInitial": d.is_initial} for d in tenant.domains
        ],
    }


def app_view(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "appId": app.app_id,
        "displayName": app.display_name,
        "servicePrincipalId": app.service_principal_id,
        "disabled": app.disabled,
    }


def secret_view(secret: ClientSecret, value: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {"keyId": secret.key_id}
    if value is not None:
        view["secretText"] = value
    view |= {
        "hint": secret.hint,
        "displayName": secret.display_name,
        "startDateTime": graph_time(secret.start),
        "endDateTime": graph_time(secret.end),
    }
    return view


def certificate_view(certificate: Certificate) -> dict[str, Any]:
    return {
        "keyId": certificate.key_id,
        "thumbprint": certificate.thumbprint,
        "thumbprintSha256": certificate.thumbprint_sha256,
        "startDateTime": graph_time(certificate.start),
        "endDateTime": graph_time(certificate.end),
    }


def permission_view(permission: Permission, consent: Consent | None) -> dict[str, Any]:
    return {
        "api": permission.api,
        "permission": permission.permission,
        "type": "Delegated" if permission.kind == "Scope" else "Application",
        "adminConsentGranted": consent is not None,
    }


def consent_view(consent: Consent) -> dict[str, Any]:
    return {"grantedBy": consent.granted_by, "grantedDateTime": graph_time(consent.granted_at)}


def user_view(user: User) -> dict[str, Any]:
    return {"id": user.id, "userPrincipalName": user.user_principal_name, "displayName": user.display_name}


def org_view(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "url": org.url, "tenantId": org.tenant_id}


def key_view(key: SigningKey) -> dict[str, Any]:
    state = "retired" if key.retired else "active" if key.active else "published"
    return {"kid": key.kid, "state": state, "createdDateTime": graph_time(key.created_at)}
