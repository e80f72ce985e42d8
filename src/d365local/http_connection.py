"""HTTP/1.1 connections that cannot be held open or flooded: read timeouts, a header size limit, a connection cap.

uvicorn's httptools protocol, as shipped, arms no timer until a first response is complete, so a connection that
sends nothing (or half a request line) stays open forever, and llhttp accepts headers of any size. This subclass
adds what production servers have:

- a **header timeout**: a request's headers must arrive within ``header_timeout`` seconds of the connection (or of
  the request's first byte on a kept-alive connection); otherwise ``408`` (if part of a request arrived) and close;
- a **body timeout**: at most ``body_timeout`` seconds between two pieces of a request body (while the server is
  reading it); otherwise ``408`` and close — the request's handler sees a disconnect;
- a **keep-alive timeout** between requests (uvicorn's own timer, with this value);
- **size limits**: a request target over ``max_url_bytes`` gets ``414``, headers over ``max_header_bytes`` get
  ``431`` — checked while they arrive, so an endless header is cut off at the limit plus one read (≤ 256 KiB);
- a **connection cap** (uvicorn's ``limit_concurrency``): beyond ``max_connections`` open connections or
  in-flight requests, requests are answered ``503`` and their connections closed.

Over-limit answers are plain text with ``Connection: close``, as a front end would give them, before any
application code runs. Bodies over the application's own limit get ``413`` from the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from d365local.access_log import log as access_log
from d365local.log_line import escape

# One read of the transport: the most by which a header can overrun its limit before the raw-byte check sees it.
_READ_SLACK = 256 * 1024


@dataclass(frozen=True)
class ConnectionLimits:
    """What one HTTP connection may take from the server; ``serve`` sets these from its options."""

    header_timeout: float = 20.0
    body_timeout: float = 60.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 1000
    max_header_bytes: int = 64 * 1024
    max_url_bytes: int = 32 * 1024


class LimitedConfig(uvicorn.Config):
    """uvicorn's configuration with :class:`LimitedHttpProtocol` and its limits (picklable, for ``--workers``)."""

    def __init__(self, app: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(
            app,
            http=LimitedHttpProtocol,
            ws="none",  # nothing here speaks WebSocket
            timeout_keep_alive=max(1, math.ceil(limits.keep_alive_timeout)),
            limit_concurrency=min(limits.max_connections, descriptor_budget()),
            **kwargs,
        )
        self.connection_limits = limits

    def get_loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop] | None:
        """uvicorn's event loop, whose TLS listeners give a client ``header_timeout`` seconds to finish the handshake:
        the HTTP protocol — and with it the header timeout and the connection cap — only sees a connection once
        its handshake is done, and asyncio's default allows a minute for it."""
        base = super().get_loop_factory() or asyncio.new_event_loop
        handshake_timeout = self.connection_limits.header_timeout

        def factory() -> asyncio.AbstractEventLoop:
            loop = base()
            create_server = loop.create_server

            async def create_limited_server(*args: Any, **kwargs: Any) -> asyncio.Server:
                if kwargs.get("ssl") is not None:
                    kwargs.setdefault("ssl_handshake_timeout", handshake_timeout)
                return await create_server(*args, **kwargs)

            loop.create_server = create_limited_server  # type: ignore[method-assign]
            return loop

        return factory


def descriptor_budget(reserve: int = 64) -> int:
    """How many connections fit in this process's file descriptors (its soft limit raised to the hard one), less
    ``reserve`` for the database, logs and TLS files: more open connections than that would lock everyone out."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(1, soft - reserve)


class _RefusedError(Exception):
    """Raised inside a parser callback to stop parsing an over-limit request."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the timeouts and size limits of :class:`ConnectionLimits`."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits: ConnectionLimits = getattr(config, "connection_limits", None) or ConnectionLimits()
        self.timeout_keep_alive = self._limits.keep_alive_timeout  # type: ignore[assignment] # a float works too
        self._timer: asyncio.TimerHandle | None = None
        self._in_headers = True
        """Waiting for (the rest of) a request's headers."""
        self._request_started = False
        self._raw_header_bytes = 0
        self._url_bytes = 0
        self._header_bytes = 0
        self._refusal = 0

    # -- connection -------------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._limits.header_timeout, self._header_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused or timed out: what is still in flight is not read
        self._unset_keepalive_if_required()
        if self._in_headers:
            self._request_started = True
            if self._timer is None:  # the next request on a kept-alive connection begins
                self._arm(self._limits.header_timeout, self._header_timed_out)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal:
                self._refuse(self._refusal)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_headers and self.parser is not None:
            # httptools buffers a header until it is complete: count raw bytes so an endless one is cut off too.
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > self._limits.max_url_bytes + self._limits.max_header_bytes + _READ_SLACK:
                self._refuse(431)

    # -- parser callbacks -------------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._url_bytes = self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self._limits.max_url_bytes:
            self._refusal = 414
            raise _RefusedError
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_bytes > self._limits.max_header_bytes:
            self._refusal = 431
            raise _RefusedError
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._request_started = False
        self._raw_header_bytes = 0
        self._arm(self._limits.body_timeout, self._body_timed_out)  # on_message_complete disarms it
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self._limits.body_timeout, self._body_timed_out)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_headers = True
        super().on_message_complete()

    # -- timers -----------------------------------------------------------------------------------------------------
    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _header_timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request waits for the response to the one before: the server is busy, not the client.
            self._arm(self._limits.header_timeout, self._header_timed_out)
        elif self._request_started:
            self._refuse(408)
        else:
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the handler has not read what arrived: the server is slow, not the client
            self._arm(self._limits.body_timeout, self._body_timed_out)
            return
        cycle = self.cycle
        answered = cycle is not None and cycle.response_started
        if cycle is not None:
            cycle.disconnected = True  # the handler's receive() sees http.disconnect and its sends go nowhere
            cycle.message_event.set()
        if answered:
            self.transport.close()
        else:
            self._refuse(408)

    # -- answers ----------------------------------------------------------------------------------------------------
    def _refuse(self, status: int) -> None:
        """Answer ``status`` with a short plain-text body and close the connection (and say so in the access log,
        so an operator sees a flood or a slow client)."""
        self._disarm()
        reason = STATUS_LINE[status][len(b"HTTP/1.1 ") :].strip()
        peer = self.client[0] if self.client else "?"
        access_log.info("- (connection from %s) %s", escape(str(peer)), reason.decode("ascii", "replace"))
        lines = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            lines.extend([name, b": ", value, b"\r\n"])
        lines.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(reason)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                reason,
            ]
        )
        self.transport.write(b"".join(lines))
        self.transport.close()
