"""One log line per request — method, path, status, duration — and never a query string or a body.

Token requests carry secrets in their bodies, and a misconfigured client may put one in the query string, so
neither is ever logged (uvicorn's own access log, which prints query strings, stays off). The path is the
client's, percent-decoded: its control characters are escaped (d365local.log_line), so it cannot forge a line.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from d365local.log_line import escape

log = logging.getLogger("d365local.access")
MAX_LOGGED_PATH = 200


class AccessLog:
    """ASGI middleware writing ``METHOD /path STATUS 1.2ms`` at INFO level."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, capture)
        finally:
            path = str(scope.get("path", ""))
            shown = escape(path[:MAX_LOGGED_PATH]) + ("…" if len(path) > MAX_LOGGED_PATH else "")
            method = escape(scope.get("method", "?"))
            log.info("%s %s %d %.1fms", method, shown, status, (time.perf_counter() - started) * 1000)
