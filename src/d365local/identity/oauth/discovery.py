"""OpenID discovery, JWKS and instance-discovery documents (docs/reference/entra.md, "Discovery and signing keys").

Every URL is absolute on the server's own authority and carries the tenant GUID, even when the document was
requested by domain name — as Entra does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_CLAIMS = [
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
    "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
    "c_hash", "email",
]  # fmt: skip
_AUTH_METHODS = ["client_secret_post", "private_key_jwt", "client_secret_basic"]


def v1_issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


def v2_issuer(authority: str, tenant_id: str) -> str:
    return f"{authority}/{tenant_id}/v2.0"


MULTI_TENANT = "{tenantid}"
"""Entra's multi-tenant documents (``/common``, ``/organizations``) carry this literal template in the issuer."""


def openid_configuration_v2(authority: str, tenant_id: str, path_tenant: str | None = None) -> dict[str, Any]:
    """``path_tenant`` is the URL segment for multi-tenant documents (``common``), whose issuer is the template."""
    base = f"{authority}/{path_tenant or tenant_id}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": v2_issuer(authority, tenant_id),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": _CLAIMS,
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def openid_configuration_v1(authority: str, tenant_id: str, path_tenant: str | None = None) -> dict[str, Any]:
    base = f"{authority}/{path_tenant or tenant_id}"
    return {
        "token_endpoint": f"{base}/oauth2/token",
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "jwks_uri": f"{authority}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/logout",
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": v1_issuer(tenant_id),
        "claims_supported": [c for c in _CLAIMS if c not in ("at_hash", "c_hash", "email")] + ["amr", "unique_name"],
        "microsoft_multi_refresh_token": True,
        "check_session_iframe": f"{base}/oauth2/checksession",
        "userinfo_endpoint": f"{base}/openid/userinfo",
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
        "authorization_endpoint": f"{base}/oauth2/authorize",
    }


V2_KEY_ISSUER = "https://login.microsoftonline.com/{tenantid}/v2.0"
"""Entra puts this literal template (not a real tenant) on every key of a v2 key set."""


def jwks(public_keys: Iterable[dict[str, Any]], *, v2: bool) -> dict[str, Any]:
    """The published key set: ``kty use kid x5t n e x5c`` per key, plus ``issuer`` in v2 key sets."""
    if not v2:
        return {"keys": list(public_keys)}
    return {"keys": [{**key, "issuer": V2_KEY_ISSUER} for key in public_keys]}


def instance_discovery(authority: str, host: str, tenant: str) -> dict[str, Any]:
    """``/common/discovery/instance`` for msal: this server is its own, only, cloud instance."""
    return {
        "tenant_discovery_endpoint": f"{authority}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
