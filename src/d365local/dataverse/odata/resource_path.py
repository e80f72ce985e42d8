"""Web API resource paths: ``accounts(<guid>)/primarycontactid``, ``accounts(accountnumber='A1')``, ``WhoAmI()``,
``EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata``.

Segments split on ``/`` outside quotes; each has a name and an optional key in parentheses: a bare GUID, or named
values (``name='text'``, numbers, ``true``/``false``/``null``). Pure; errors are :class:`PathSyntaxError`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from d365local.dataverse.odata.splitting import UnbalancedError, split_outside

KeyValue = str | int | Decimal | bool | uuid.UUID | None

MAX_PATH_LENGTH = 32768
MAX_SEGMENTS = 16
_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$]*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class PathSyntaxError(ValueError):
    """The path is not a Web API resource path; the message names the offending segment."""


@dataclass(frozen=True)
class Segment:
    name: str
    guid: uuid.UUID | None = None
    """``accounts(<guid>)``."""
    named: tuple[tuple[str, KeyValue], ...] = ()
    """``accounts(accountnumber='A1',name='x')`` or ``EntityDefinitions(LogicalName='account')``."""
    call: bool = False
    """Written with empty parentheses: ``WhoAmI()``."""

    @property
    def has_key(self) -> bool:
        return self.guid is not None or bool(self.named)

    def named_value(self, name: str) -> KeyValue:
        return next((v for k, v in self.named if k == name), None)


def parse_resource_path(path: str) -> tuple[Segment, ...]:
    """Split and parse a path relative to ``/api/data/v9.x/`` (already percent-decoded)."""
    if len(path) > MAX_PATH_LENGTH:
        raise PathSyntaxError("The URL is too long.")
    parts = _split(path.strip("/"))
    if len(parts) > MAX_SEGMENTS:
        raise PathSyntaxError("The URL has too many segments.")
    return tuple(_segment(part) for part in parts if part)


def _split(text: str, separator: str = "/") -> list[str]:
    """Split on ``separator`` outside single-quoted strings (a key value may contain a slash or a comma)."""
    try:
        return split_outside(text, separator)
    except UnbalancedError:
        raise PathSyntaxError(f"There is an unterminated string literal in '{text[:200]}'.") from None


def _segment(text: str) -> Segment:
    name, paren, rest = text.partition("(")
    if not _NAME.match(name):
        raise PathSyntaxError(f"Resource not found for the segment '{text[:200]}'.")
    if not paren:
        return Segment(name)
    if not rest.endswith(")"):
        raise PathSyntaxError(f"Bad Request - Error in query syntax: '{text[:200]}'.")
    inner = rest[:-1].strip()
    if not inner:
        return Segment(name, call=True)
    if _GUID.match(inner):
        return Segment(name, guid=uuid.UUID(inner))
    return Segment(name, named=tuple(_named_values(inner, text)))


def _named_values(inner: str, text: str) -> list[tuple[str, KeyValue]]:
    values: list[tuple[str, KeyValue]] = []
    for part in _split(inner, ","):
        key, equals, raw = part.partition("=")
        key = key.strip()
        if not equals or not _NAME.match(key):
            raise PathSyntaxError(f"Bad Request - Error in query syntax: '{text[:200]}'.")
        if any(k == key for k, _ in values):
            raise PathSyntaxError(f"The key property '{key}' is given twice in '{text[:200]}'.")
        values.append((key, _value(raw.strip(), text)))
    return values


def _value(raw: str, text: str) -> KeyValue:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        body = raw[1:-1]
        if "'" in body.replace("''", ""):
            raise PathSyntaxError(f"Bad Request - Error in query syntax: '{text[:200]}'.")
        return body.replace("''", "'")
    if raw.startswith("@") and _NAME.match(raw[1:]):
        return raw  # a parameter alias (``RetrieveMetadataChanges(Query=@p1)``): the query option gives its value
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "null":
        return None
    if _GUID.match(raw):
        return uuid.UUID(raw)
    if _NUMBER.match(raw):
        try:
            return int(raw) if "." not in raw else Decimal(raw)
        except (ValueError, InvalidOperation):
            pass
    raise PathSyntaxError(f"Bad Request - Error in query syntax: '{text[:200]}'.")
