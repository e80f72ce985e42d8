"""Comparing URLs as d365local promises: loopback aliases and a trailing slash name the same URL.

Shared by the token service and the Web API (neither imports the other).

``localhost``, ``127.0.0.1`` and ``[::1]`` with the same port name the same server
(docs/design.md, "URLs and the public base URL"); scheme and
host compare case-insensitively and a default port or a trailing slash changes nothing. Anything else — ``http``
for ``https``, an extra path, another port or host — is a different resource (AADSTS500011), as at Entra.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_DEFAULT_PORTS = {"https": 443, "http": 80}


def canonical_url(url: str) -> str | None:
    """The comparison form of an absolute http(s) URL, or None when it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    if host in _LOOPBACK:
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def same_url(left: str, right: str) -> bool:
    canonical = canonical_url(left)
    return canonical is not None and canonical == canonical_url(right)
