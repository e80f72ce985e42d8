"""A real ``serve`` under hostile connections: idle, half-sent, oversized, too many — each closed or answered
(408/414/431/503), none kept open, and the server goes on answering everyone else. Log lines cannot be forged.

The servers here run with short, configured timeouts (``--header-timeout`` etc.), so the tests wait about a second
for a close, bounded by a socket timeout; nothing asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e

BOUND = 20.0
"""Seconds after which a connection the server should have closed counts as hanging (a test failure)."""


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("strict"),
        "--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "1",
    )  # fmt: skip
    yield running
    stop_server(running)


def connect(server: Server) -> ssl.SSLSocket:
    """A TLS connection to the server that has completed its handshake and sent nothing yet."""
    context = ssl.create_default_context(cafile=server.ca_bundle)
    port = urlsplit(server.url).port
    assert port is not None
    raw = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
    return context.wrap_socket(raw, server_hostname="localhost")


def until_closed(sock: ssl.SSLSocket) -> bytes:
    """Everything the server sends until it closes the connection; a socket timeout here means it hung."""
    received = b""
    with sock:
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLEOFError):
                return received  # closed with request bytes still unread: a reset instead of a FIN
            if not chunk:
                return received
            received += chunk


def send(sock: ssl.SSLSocket, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
        sock.sendall(data)  # the server may close before it has read everything: that is the point


def still_serving(server: Server) -> None:
    response = requests.get(f"{server.url}/common/discovery/instance", verify=server.ca_bundle, timeout=BOUND)
    assert response.status_code == 200


def test_an_idle_connection_is_closed(strict: Server) -> None:
    assert until_closed(connect(strict)) == b""
    still_serving(strict)


def test_a_connection_that_never_starts_tls_is_closed(strict: Server) -> None:
    """The TLS handshake must finish within the header timeout: before it, the HTTP layer does not see the
    connection at all (asyncio's own default would hold it for a minute)."""
    port = urlsplit(strict.url).port
    assert port is not None
    raw = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
    with raw, contextlib.suppress(ConnectionResetError):  # closed with nothing sent: a reset is a close too
        assert raw.recv(1024) == b""
    still_serving(strict)


def test_half_sent_headers_get_408_and_a_close(strict: Server) -> None:
    sock = connect(strict)
    send(sock, b"GET /common/discovery/instance HTTP/1.1\r\nHost: localhost\r\n")
    answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    assert b"connection: close" in answer.lower()
    still_serving(strict)


def test_a_stalled_body_gets_408_and_a_close(strict: Server) -> None:
    sock = connect(strict)
    send(
        sock,
        b"POST /common/oauth2/token HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=",
    )
    answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    still_serving(strict)


def test_a_kept_alive_connection_is_closed_when_idle(strict: Server) -> None:
    sock = connect(strict)
    send(sock, b"GET /common/discovery/instance HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.count(b"HTTP/1.1 ") == 1


def test_oversized_headers_get_431(strict: Server) -> None:
    sock = connect(strict)
    send(sock, b"GET /common/discovery/instance HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(2000))
    sock = connect(strict)
    send(sock, b"GET /common/discovery/instance HTTP/1.1\r\nHost: localhost\r\n" + many + b"\r\n")
    assert until_closed(sock).startswith(b"HTTP/1.1 431 ")
    still_serving(strict)


def test_an_endless_header_is_cut_off(strict: Server) -> None:
    sock = connect(strict)
    send(sock, b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Endless: " + b"a" * (2 * 1024 * 1024))
    answer = until_closed(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")  # the reset may overtake the answer
    still_serving(strict)


def test_an_overlong_request_target_gets_414(strict: Server) -> None:
    strict.logged(timeout=0.3)
    sock = connect(strict)
    send(sock, b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:80]
    # refused before any route: the access log still says so (an operator sees floods and slow clients)
    assert "d365local.access: - (connection from 127.0.0.1) 414 Request-URI Too Long" in strict.logged()
    still_serving(strict)


def test_too_many_connections_get_503(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--max-connections", "3", "--header-timeout", "60")
    idle: list[ssl.SSLSocket] = []
    try:
        idle = [connect(server) for _ in range(4)]
        sock = connect(server)
        send(sock, b"GET /common/discovery/instance HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:80]
        assert b"connection: close" in answer.lower()
        for sock in idle:
            sock.close()
        for _ in range(100):  # the server sees the closes as they arrive; then it answers again
            if requests.get(f"{server.url}/common/discovery/instance", verify=server.ca_bundle, timeout=BOUND).ok:
                break
        else:
            pytest.fail("the server did not recover once the idle connections closed")
    finally:
        for sock in idle:
            sock.close()
        stop_server(server)


def test_the_access_log_cannot_be_forged(strict: Server) -> None:
    strict.logged(timeout=0.3)
    forged = "2026-01-01 00:00:00,000 INFO d365local.access: POST /admin 200 0.1ms"
    sock = connect(strict)
    target = "/x%0A" + forged.replace(" ", "%20") + "%0D%1B%5B2K%C2%85"
    send(sock, f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    assert until_closed(sock).startswith(b"HTTP/1.1 404 ")
    logged = strict.logged()
    assert "GET /x\\x0a2026-01-01 00:00:00,000 INFO d365local.access: POST /admin 200 0.1ms\\x0d\\x1b[2K\\x85" in logged
    assert not any(line.startswith(forged[:30]) for line in logged.splitlines())
