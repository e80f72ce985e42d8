"""Microsoft's clouds as seen from a client: their sign-in hosts. Any other authority is taken to be d365local."""

from __future__ import annotations

from urllib.parse import urlsplit

MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.usgovcloudapi.net",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.microsoftonline.de",
    }
)
"""Entra's sign-in hosts in the public, US Government, China and (retired) Germany clouds."""


def is_microsoft_authority(authority: str) -> bool:
    """True for one of Entra's sign-in hosts; False for d365local (or anything else)."""
    return (urlsplit(authority).hostname or "").lower() in MICROSOFT_AUTHORITY_HOSTS
