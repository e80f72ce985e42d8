"""Tests for resource URL comparison in d365local.identity.resource_uri."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from d365local.urls import canonical_url, same_url

ORG = "https://org.crm.dynamics.com"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(ORG, ORG, id="plain"),
        pytest.param(ORG + "/", ORG, id="trailing-slash"),
        pytest.param("HTTPS://Org.CRM.Dynamics.COM/", ORG, id="case"),
        pytest.param(ORG + ":443", ORG, id="default-https-port"),
        pytest.param("http://org.example:80/", "http://org.example", id="default-http-port"),
        pytest.param(f"  {ORG}/ ", ORG, id="surrounding-space"),
        pytest.param("https://127.0.0.1:8443/", "https://localhost:8443", id="ipv4-loopback"),
        pytest.param("https://[::1]:8443", "https://localhost:8443", id="ipv6-loopback"),
        pytest.param("https://LOCALHOST", "https://localhost", id="localhost-upper"),
        pytest.param("https://[FE80::1]:8443", "https://[fe80::1]:8443", id="ipv6-bracketed"),
        pytest.param(ORG + "/api/data/", ORG + "/api/data", id="path-kept"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(ORG + "/?a=1", id="query"),
        pytest.param(ORG + "/#frag", id="fragment"),
        pytest.param("https://user@org.crm.dynamics.com", id="userinfo"),
        pytest.param("https://user:pw@org.crm.dynamics.com", id="userinfo-password"),
        pytest.param("https://:pw@org.crm.dynamics.com", id="userinfo-password-only"),
        pytest.param("https://@org.crm.dynamics.com", id="userinfo-empty"),
        pytest.param("ftp://org.crm.dynamics.com", id="ftp"),
        pytest.param("org.crm.dynamics.com", id="no-scheme"),
        pytest.param("https://", id="no-host"),
        pytest.param("https:///path", id="empty-host"),
        pytest.param("https://[::1", id="unclosed-bracket"),
        pytest.param("https://org:99999", id="port-out-of-range"),
        pytest.param("https://org:abc", id="port-not-numeric"),
        pytest.param("", id="empty"),
        pytest.param("not a url", id="garbage"),
        pytest.param("mailto:someone@example.com", id="mailto"),
    ],
)
def test_canonical_url_rejects(url: str) -> None:
    assert canonical_url(url) is None


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        pytest.param("https://localhost:8443", "https://127.0.0.1:8443", True, id="localhost-ipv4"),
        pytest.param("https://localhost:8443/", "https://[::1]:8443", True, id="localhost-ipv6"),
        pytest.param("https://127.0.0.1:8443", "https://[::1]:8443/", True, id="ipv4-ipv6"),
        pytest.param(ORG + "/", ORG, True, id="trailing-slash"),
        pytest.param("HTTPS://ORG.crm.dynamics.com", ORG, True, id="case-insensitive"),
        pytest.param(ORG + ":443", ORG, True, id="default-port"),
        pytest.param("http://org.crm.dynamics.com", ORG, False, id="http-vs-https"),
        pytest.param("https://localhost:8443", "https://localhost:8444", False, id="other-port"),
        pytest.param("https://localhost:8443", "https://localhost", False, id="port-vs-none"),
        pytest.param(ORG + "/XRMServices/2011", ORG, False, id="extra-path"),
        pytest.param(ORG + "/Path", ORG + "/path", False, id="path-case"),
        pytest.param("https://org2.crm.dynamics.com", ORG, False, id="other-host"),
        pytest.param("https://[fe80::1]:8443", "https://localhost:8443", False, id="non-loopback-ipv6"),
        pytest.param(ORG + "?a=1", ORG + "?a=1", False, id="query-never-same"),
        pytest.param("garbage", "garbage", False, id="garbage-never-same"),
    ],
)
def test_same_url(left: str, right: str, same: bool) -> None:
    assert same_url(left, right) is same
    assert same_url(right, left) is same


URLS = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["https", "HTTPS", "http", "ftp"]),
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "org.example", "ORG.example", "[fe80::1]"]),
    st.sampled_from(["", ":443", ":80", ":8443", ":0", ":65536", ":x"]),
    st.text(alphabet="/abAB.%?#@", max_size=12),
)


@given(st.text())
def test_canonical_url_never_raises_on_text(text: str) -> None:
    result = canonical_url(text)

    assert result is None or result.startswith(("http://", "https://"))
    assert same_url(text, text) is (result is not None)


@given(URLS, URLS)
def test_same_url_is_symmetric_and_canonical_is_idempotent(left: str, right: str) -> None:
    assert same_url(left, right) is same_url(right, left)
    canonical = canonical_url(left)
    if canonical is not None:
        assert canonical_url(canonical) == canonical
        assert same_url(canonical, left)
