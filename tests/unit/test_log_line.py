"""Log forging: every logged value has its control characters escaped, so no value can start a line of its own."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from d365local.access_log import AccessLog
from d365local.log_line import OneLineFormatter, escape


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("/api/data/v9.2/accounts", "/api/data/v9.2/accounts"),
        ("/x\nGET /forged 200", "/x\\x0aGET /forged 200"),
        ("/x\r\n", "/x\\x0d\\x0a"),
        ("/\x00\x1b[31mred\x7f", "/\\x00\\x1b[31mred\\x7f"),
        ("/c1\x85\x9b", "/c1\\x85\\x9b"),  # C1 controls: NEL and CSI
        ("/sep\u2028\u2029", "/sep\\u2028\\u2029"),  # Unicode line and paragraph separators
        ("/bidi\u202e", "/bidi\\u202e"),  # a right-to-left override would reorder the rest of the line
        ("/back\\slash", "/back\\\\slash"),  # escaped, so \\x0a in a line always means a newline was sent
        ("/é日本", "/é日本"),  # printable non-ASCII stays readable
    ],
)
def test_escape(raw: str, shown: str) -> None:
    assert escape(raw) == shown


@given(st.text())
def test_an_escaped_value_is_one_printable_line(value: str) -> None:
    escaped = escape(value)
    assert escaped.isprintable()
    assert len(escaped.splitlines()) <= 1


def test_the_formatter_keeps_every_message_on_one_line() -> None:
    formatter = OneLineFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("d365local", logging.WARNING, __file__, 1, "bad %s", ("x\nINFO forged",), None)
    assert formatter.format(record) == "WARNING bad x\\x0aINFO forged"
    # Values the access log escaped already are not escaped twice.
    record = logging.LogRecord("d365local", logging.INFO, __file__, 1, "%s", ("/x\\x0a",), None)
    assert formatter.format(record) == "INFO /x\\x0a"


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_the_access_log_escapes_the_decoded_path_and_method(caplog: pytest.LogCaptureFixture) -> None:
    app = AccessLog(_ok)
    scope = {"type": "http", "method": "GET\r\n", "path": "/x\nGET /admin 200 0.1ms", "query_string": b"secret=1"}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    with caplog.at_level(logging.INFO, logger="d365local.access"):
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("GET\\x0d\\x0a /x\\x0aGET /admin 200 0.1ms 204 ")
    assert "\n" not in message
    assert "\r" not in message
    assert "secret" not in message
