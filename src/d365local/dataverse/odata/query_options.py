"""System query options and ``Prefer`` headers of a Web API request, parsed into values.

Both encodings clients send are read the same way: ``%24select=a%2Cb&%24filter=name+eq+%27x%27`` (requests'
``params=``) and ``$select=a,b&$filter=name%20eq%20'x'`` (hand-built URLs). Unsupported options answer the way
Dataverse does; FetchXML, ``?sql=`` and ``$apply`` are "not supported" (501) until d365local implements them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from d365local.dataverse.odata.filter_ast import Expression, FilterSyntaxError
from d365local.dataverse.odata.filter_parser import parse_filter
from d365local.dataverse.odata.splitting import UnbalancedError, split_outside

MAX_PAGE_SIZE = 5000
MAX_EXPAND_DEPTH = 3
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NOT_YET = {"fetchXml": "FetchXML (?fetchXml=)", "sql": "SQL (?sql=)", "$apply": "Aggregation ($apply)"}
_UNSUPPORTED = {"$skip", "$search", "$format"}


class QueryOptionError(ValueError):
    """A malformed or unsupported query option; ``not_supported`` marks features d365local lacks (501)."""

    def __init__(self, message: str, *, not_supported: bool = False) -> None:
        super().__init__(message)
        self.not_supported = not_supported


@dataclass(frozen=True)
class OrderBy:
    path: tuple[str, ...]
    descending: bool = False


@dataclass(frozen=True)
class Expand:
    navigation: str
    options: QueryOptions


@dataclass(frozen=True)
class QueryOptions:
    select: tuple[str, ...] | None = None
    filter: Expression | None = None
    orderby: tuple[OrderBy, ...] = ()
    top: int | None = None
    count: bool = False
    expand: tuple[Expand, ...] = ()
    skiptoken: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    id: str | None = None
    """``$id``: the entity a ``…/$ref`` request names (``DELETE …/collection/$ref?$id=<url>``)."""


def parse_query_string(raw: str) -> QueryOptions:
    """The options of a request's raw (still percent-encoded) query string."""
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise QueryOptionError("The query string is not valid UTF-8 percent-encoding.") from exc
    options: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for name, value in pairs:
        if name.startswith("@"):
            aliases[name] = value
            continue
        if name in options:
            raise QueryOptionError(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        options[name] = value
    for name, feature in _NOT_YET.items():
        if name in options:
            raise QueryOptionError(f"{feature} is not supported by d365local yet.", not_supported=True)
    return _options(options, aliases, depth=0)


def _options(options: dict[str, str], aliases: dict[str, str], depth: int) -> QueryOptions:
    for name in options:
        if name in _UNSUPPORTED:
            raise QueryOptionError(f"The query parameter {name} is not supported")
        if name.startswith("$") and name not in (
            "$select",
            "$filter",
            "$orderby",
            "$top",
            "$count",
            "$expand",
            "$skiptoken",
            "$id",
        ):
            raise QueryOptionError(f"The query parameter {name} is not supported")
    try:
        expression = parse_filter(options["$filter"], aliases=aliases) if "$filter" in options else None
    except FilterSyntaxError as exc:
        raise QueryOptionError(str(exc)) from exc
    return QueryOptions(
        select=_select(options["$select"]) if "$select" in options else None,
        filter=expression,
        orderby=_orderby(options.get("$orderby", "")),
        top=_top(options["$top"]) if "$top" in options else None,
        count=_count(options.get("$count", "false")),
        expand=_expand(options["$expand"], aliases, depth) if "$expand" in options else (),
        skiptoken=options.get("$skiptoken"),
        aliases=aliases,
        id=options.get("$id"),
    )


def _select(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    for name in names:
        if name != "*" and not _NAME.match(name):
            raise QueryOptionError(
                f"Syntax error: character '{name[:1] or ','}' is not valid in $select '{text[:200]}'."
            )
    return names


def _orderby(text: str) -> tuple[OrderBy, ...]:
    if not text.strip():
        return ()
    result = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryOptionError(f"Syntax error in $orderby '{text[:200]}'.")
        path = tuple(words[0].split("/"))
        if not all(_NAME.match(p) for p in path):
            raise QueryOptionError(f"Syntax error in $orderby '{text[:200]}'.")
        result.append(OrderBy(path, len(words) == 2 and words[1] == "desc"))
    return tuple(result)


def _top(text: str) -> int:
    if not text.strip().isdigit():
        raise QueryOptionError(
            f"Invalid value '{text[:50]}' for $top query option found. "
            "The $top query option requires a non-negative integer value."
        )
    return int(text)


def _count(text: str) -> bool:
    if text not in ("true", "false"):
        raise QueryOptionError(f"'{text[:50]}' is not a valid count option.")
    return text == "true"


def _expand(text: str, aliases: dict[str, str], depth: int) -> tuple[Expand, ...]:
    if depth >= MAX_EXPAND_DEPTH:
        raise QueryOptionError("The $expand nesting is too deep.")
    expands = []
    for item in _split_top_level(text, ","):
        name, paren, rest = item.strip().partition("(")
        name = name.strip()
        if not _NAME.match(name):
            raise QueryOptionError(f"Syntax error in $expand '{text[:200]}'.")
        nested: dict[str, str] = {}
        if paren:
            if not rest.endswith(")"):
                raise QueryOptionError(f"Syntax error in $expand '{text[:200]}': unbalanced parentheses.")
            for option in _split_top_level(rest[:-1], ";"):
                key, equals, value = option.partition("=")
                if not equals or key.strip() in nested:
                    raise QueryOptionError(f"Syntax error in $expand '{text[:200]}'.")
                nested[key.strip()] = value
        expands.append(Expand(name, _options(nested, aliases, depth + 1)))
    return tuple(expands)


def _split_top_level(text: str, separator: str) -> list[str]:
    try:
        return [p for p in split_outside(text, separator, nested=True) if p.strip()]
    except UnbalancedError as exc:
        raise QueryOptionError(str(exc)) from exc


@dataclass(frozen=True)
class Preferences:
    max_page_size: int | None = None
    annotations: tuple[str, ...] = ()
    """``*`` or names such as ``OData.Community.Display.V1.FormattedValue``; empty when none were asked for."""
    return_representation: bool = False
    continue_on_error: bool = False

    def wants(self, annotation: str) -> bool:
        return any(
            a == "*" or a == annotation or (a.endswith(".*") and annotation.startswith(a[:-1]))
            for a in self.annotations
        )

    def applied(self) -> str:
        """The ``Preference-Applied`` value echoing what was honoured."""
        parts = []
        if self.max_page_size is not None:
            parts.append(f"odata.maxpagesize={self.max_page_size}")
        if self.annotations:
            parts.append(f'odata.include-annotations="{",".join(self.annotations)}"')
        if self.return_representation:
            parts.append("return=representation")
        if self.continue_on_error:
            parts.append("odata.continue-on-error")
        return ",".join(parts)


def parse_prefer(headers: Sequence[str]) -> Preferences:
    """All ``Prefer`` headers (several, or one comma-joined; annotation lists may be quoted or not)."""
    max_page: int | None = None
    annotations: tuple[str, ...] = ()
    representation = continue_on_error = False
    for header in headers:
        for item in _split_prefer(header):
            name, _, value = item.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "odata.maxpagesize" and value.isdigit():
                max_page = max(1, min(int(value), MAX_PAGE_SIZE))
            elif name == "odata.include-annotations":
                annotations = tuple(a.strip() for a in value.split(",") if a.strip())
            elif name == "return" and value == "representation":
                representation = True
            elif name == "odata.continue-on-error":
                continue_on_error = True
    return Preferences(max_page, annotations, representation, continue_on_error)


def _split_prefer(header: str) -> list[str]:
    """Comma-separated preferences; a quoted annotation list keeps its commas; an unquoted one takes the names after it
    that look like annotation names (``odata.include-annotations=A.B,C.D,odata.maxpagesize=10``)."""
    try:
        items = split_outside(header, ",", quote='"')
    except UnbalancedError:
        items = header.split(",")  # a stray quote: read it item by item rather than refuse the request
    merged: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if (
            "=" not in item
            and merged
            and merged[-1].lower().startswith("odata.include-annotations=")
            and item.lower() not in ("odata.continue-on-error", "odata.track-changes")
        ):
            merged[-1] += "," + item
        else:
            merged.append(item)
    return merged
