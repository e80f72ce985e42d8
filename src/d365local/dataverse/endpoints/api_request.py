"""One Web API request, parsed once where it enters: resource path, query options, preferences and conditions.

Endpoints read these typed values instead of raw text, so a request whose path or query string is malformed (or
names an option d365local does not support) is refused before any endpoint runs — and before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.endpoints.web_request import WebRequest
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.query_options import (
    Preferences,
    QueryOptionError,
    QueryOptions,
    parse_prefer,
    parse_query_string,
)
from d365local.dataverse.odata.resource_path import PathSyntaxError, Segment, parse_resource_path


@dataclass(frozen=True)
class ApiRequest:
    raw: WebRequest
    segments: tuple[Segment, ...]
    options: QueryOptions
    preferences: Preferences
    if_match: str | None
    if_none_match: str | None
    """None also for ``If-None-Match: null``, the documented way to say "no condition"."""

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def base_url(self) -> str:
        return self.raw.base_url

    @property
    def path(self) -> str:
        return self.raw.path

    def header(self, name: str) -> str | None:
        return self.raw.header(name)

    def json(self) -> Any:
        return self.raw.json()


def parse_request(raw: WebRequest) -> ApiRequest:
    """The typed request, or the Web API's error for a malformed path (0x80060888) or query option."""
    try:
        segments = parse_resource_path(raw.path)
    except PathSyntaxError as exc:
        raise DataverseError(errors.QUERY_INVALID, detail=str(exc)) from exc
    prefer = raw.header("prefer")
    if_none_match = raw.header("if-none-match")
    if if_none_match is not None and if_none_match.strip().lower() == "null":
        if_none_match = None
    return ApiRequest(
        raw=raw,
        segments=segments,
        options=query_options(raw.query),
        preferences=parse_prefer([prefer] if prefer else []),
        if_match=raw.header("if-match"),
        if_none_match=if_none_match,
    )


def query_options(query: str) -> QueryOptions:
    """A raw query string's options, or 0x80060888 (malformed) / 501 (a feature d365local lacks)."""
    try:
        return parse_query_string(query)
    except QueryOptionError as exc:
        if exc.not_supported:
            raise DataverseError(
                errors.NOT_SUPPORTED, feature=str(exc).removesuffix(" is not supported by d365local yet.")
            ) from exc
        raise DataverseError(errors.QUERY_INVALID, detail=str(exc)) from exc
