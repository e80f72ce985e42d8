"""One log line: every value in it shown with its control characters escaped, so that no value can forge a line.

A request path is percent-decoded before anyone sees it (``%0A`` is a newline), and a client chooses it; written
raw, ``GET /x%0A2026-01-01 INFO d365local.access: POST /admin 200`` would start a line of the client's making.
Everything not printable — C0 controls (newline, carriage return, escape…), DEL, C1 controls, Unicode line and
paragraph separators, bidirectional overrides — is written as a ``\\xNN`` / ``\\uNNNN`` escape, and a backslash as
``\\\\``, so an escaped line reads back unambiguously.
"""

from __future__ import annotations

import logging


def escape(value: object, *, backslash: bool = True) -> str:
    """``value`` as text with every non-printable character (and, unless told not to, the backslash) escaped."""
    text = str(value)
    if text.isprintable() and not (backslash and "\\" in text):
        return text  # the common case: nothing to do
    return "".join(_escape_char(char, backslash) for char in text)


def _escape_char(char: str, backslash: bool) -> str:
    if char == "\\" and backslash:
        return "\\\\"
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


class OneLineFormatter(logging.Formatter):
    """A formatter whose message (the format string with its arguments) never spans or forges lines.

    Values the access log already escaped keep their backslashes (no double escaping); a traceback, which only
    d365local's own code produces, still follows on the lines after the message.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape(record.message, backslash=False)
        return super().formatMessage(record)
