"""Parse an OData v4 ``$filter`` expression, as Dataverse accepts it, into the tree in ``filter_ast``.

A hand-written tokenizer and recursive-descent parser for what the Dataverse Web API and the
``powerplatform-dataverse-client`` filter builder use: comparisons, ``and``/``or``/``not``, the built-in string and date
functions, ``Microsoft.Dynamics.CRM.*`` query functions, ``any``/``all`` lambdas and ``@p`` parameter aliases
(docs: ``webapi/query/filter-rows.md``; OData ABNF ``commonExpr``). Pure: no I/O and no metadata. Every problem is a
``FilterSyntaxError`` worded like the errors of Microsoft's OData library.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from d365local.dataverse.odata.filter_ast import (
    And,
    Call,
    Compare,
    Comparison,
    Expression,
    FilterSyntaxError,
    Lambda,
    Literal,
    Not,
    Or,
    Property,
    QueryFunction,
)

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "QUERY_FUNCTION_NAMESPACE", "parse_filter"]

MAX_LENGTH = 32768  # Dataverse rejects GET URLs over 32 KB, so no real filter is longer
MAX_DEPTH = 100  # parentheses, not, calls and lambdas; keeps the recursion well inside Python's stack limit
QUERY_FUNCTION_NAMESPACE = "Microsoft.Dynamics.CRM."

#: The built-in functions and the argument counts each accepts.
FUNCTIONS: Mapping[str, tuple[int, ...]] = {
    **dict.fromkeys(("contains", "startswith", "endswith", "indexof"), (2,)),
    **dict.fromkeys(("tolower", "toupper", "trim", "length"), (1,)),
    **dict.fromkeys(("year", "month", "day", "hour", "minute", "second", "date"), (1,)),
    "substring": (2, 3),
    "now": (0,),
}

_Value = None | bool | int | Decimal | str | uuid.UUID | dt.date | dt.datetime
_ParameterValue = Literal | tuple[Literal, ...]

_COMPARISONS = {op.value: op for op in Comparison}
_KEYWORD_LITERALS: dict[str, _Value] = {"null": None, "true": True, "false": False}
_OPERATORS = frozenset(("and", "or", "not", *_COMPARISONS))
_WHITESPACE = " \t\r\n"
_PUNCTUATION = "()[],/:="
_DIGITS = "0123456789"
# A GUID, date or number directly followed by one of these is malformed (``1abc``, a GUID with a short group).
_WORD_RUN = re.compile(r"[A-Za-z0-9_.:+\-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ALIAS = re.compile(r"@[A-Za-z_][A-Za-z0-9_]*")
_STRING = re.compile(r"'(?:[^']|'')*'")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,12}))?)?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))?"
)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def parse_filter(text: str, *, aliases: Mapping[str, str] | None = None) -> Expression:
    """Parse ``text``, an already URL-decoded ``$filter`` value, into an expression tree.

    ``aliases`` maps parameter aliases, ``@`` included, to their raw text from the query string
    (``{"@p1": "'Contoso'"}``); an alias used in ``text`` is parsed in its place.
    """
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"The query exceeds the maximum length of {MAX_LENGTH} characters.", MAX_LENGTH, text)
    try:
        parser = _Parser(text, aliases or {}, depth=0)
        expression = parser.or_()
        parser.finish()
    except RecursionError:
        # The depth limit bounds our own recursion; this only fires when the caller's stack is already deep.
        raise FilterSyntaxError(f"The query exceeds the maximum nesting depth of {MAX_DEPTH}.", 0, text) from None
    return expression


def _fail(message: str, position: int, text: str) -> FilterSyntaxError:
    return FilterSyntaxError(f"{message} at position {position} in '{text}'.", position, text)


def _bad_literal(text: str, start: int, literal: str | None = None) -> FilterSyntaxError:
    if literal is None:
        run = _WORD_RUN.match(text, start)
        literal = run.group() if run else text[start]
    return _fail(f"Syntax error: '{literal}' is not a valid literal", start, text)


@dataclass(frozen=True, slots=True)
class _Token:
    """One lexeme; ``value`` is the converted value of a ``literal`` or ``json`` (double-quoted string) token."""

    kind: str  # ident | literal | json | alias | punct | end
    text: str
    pos: int
    end: int
    value: _Value = None


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens, converting literals as they are read."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        value: _Value = None
        if c in _WHITESPACE:
            i += 1
            continue
        if c in _PUNCTUATION:
            kind, end = "punct", i + 1
        elif c == "'":
            kind, (value, end) = "literal", _read_string(text, i)
        elif c == '"':
            # JSON strings are only valid inside a query function's PropertyValues=[...] list.
            if not (match := _JSON_STRING.match(text, i)):
                raise _fail("There is an unterminated literal", n, text)
            try:
                kind, value, end = "json", json.loads(match.group()), match.end()
            except ValueError:
                raise _bad_literal(text, i, match.group()) from None
        elif c == "@" and (match := _ALIAS.match(text, i)):
            kind, end = "alias", match.end()
        elif c in _DIGITS or (c in "+-" and i + 1 < n and text[i + 1] in _DIGITS):
            kind, (value, end) = "literal", _read_scalar(text, i)
        elif (match := _GUID.match(text, i)) and not _glued(text, match.end()):
            # A GUID may start with a letter, so it is tried before an identifier.
            kind, value, end = "literal", uuid.UUID(match.group()), match.end()
        elif match := _IDENTIFIER.match(text, i):
            kind, end = "ident", match.end()
            if text[end : end + 1] == "'":  # guid'…', datetime'…' or an enum member Namespace.Type'Member'
                quoted, end = _read_string(text, end)
                kind, value = "literal", _typed_literal(match.group(), quoted, text, i, end)
            elif text[end : end + 1] in ("-", "."):  # a malformed GUID such as deadbeef-00
                raise _bad_literal(text, i)
            elif match.group() in _KEYWORD_LITERALS:
                kind, value = "literal", _KEYWORD_LITERALS[match.group()]
        else:
            raise _fail(f"Syntax error: character '{c}' is not valid", i, text)
        tokens.append(_Token(kind, text[i:end], i, end, value))
        i = end
    tokens.append(_Token("end", "", n, n))
    return tokens


def _glued(text: str, end: int) -> bool:
    return _WORD_RUN.match(text, end) is not None


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read the single-quoted string at ``start`` (``''`` is an escaped quote); return its value and end."""
    match = _STRING.match(text, start)
    if match is None:
        # Microsoft reports where the text ran out, not where the literal began.
        raise _fail("There is an unterminated literal", len(text), text)
    return match.group()[1:-1].replace("''", "'"), match.end()


def _read_scalar(text: str, start: int) -> tuple[_Value, int]:
    """Read the GUID, datetime, date or number at ``start``: the first of those patterns that matches decides."""
    for pattern in (_GUID, _DATETIME, _DATE, _NUMBER):
        if match := pattern.match(text, start):
            break
    if match is None or _glued(text, match.end()):
        raise _bad_literal(text, start)
    try:
        if pattern is _GUID:
            return uuid.UUID(match.group()), match.end()
        if pattern is _DATETIME:
            return _to_datetime(match), match.end()
        if pattern is _DATE:
            return dt.date(*(int(part) for part in match.groups())), match.end()
        return _to_number(match.group()), match.end()
    except (ValueError, OverflowError, ArithmeticError):  # 2024-02-30, 25:00, 1e999999999999999999
        raise _bad_literal(text, start) from None


def _to_datetime(match: re.Match[str]) -> dt.datetime:
    year, month, day, hour, minute, second, fraction, sign, offset_hours, offset_minutes = match.groups()
    offset = dt.timedelta(0)
    if sign:
        if int(offset_minutes) > 59:  # an offset of 24 hours or more is rejected by dt.timezone itself
            raise ValueError("offset minutes out of range")
        offset = dt.timedelta(hours=int(offset_hours), minutes=int(offset_minutes)) * (-1 if sign == "-" else 1)
    # Edm.DateTimeOffset allows 12 fractional digits; Python keeps 6, so the rest is truncated.
    microsecond = int((fraction or "").ljust(6, "0")[:6])
    # Without an offset the value is read as UTC, the zone Dataverse stores date-times in.
    local = dt.datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), microsecond, dt.timezone(offset)
    )
    return local.astimezone(dt.UTC)


def _to_number(literal: str) -> int | Decimal:
    if any(c in literal for c in ".eE"):
        return Decimal(literal)
    negative = literal.startswith("-")
    digits = literal.lstrip("+-").lstrip("0") or "0"
    # As in Edm literal typing, whole numbers beyond Int64 become decimals (which also avoids int()'s digit limit).
    if len(digits) <= 19 and -(2**63) <= (number := -int(digits) if negative else int(digits)) < 2**63:
        return number
    return Decimal(("-" if negative else "") + digits)


def _typed_literal(prefix: str, quoted: str, text: str, start: int, end: int) -> _Value:
    """Convert ``prefix'quoted'``: a qualified enum member, or the OData v3 ``guid'…'``/``datetime'…'`` forms."""
    if "." in prefix:  # Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned' stands for the member name
        return quoted
    if prefix == "guid" and _GUID.fullmatch(quoted):
        return uuid.UUID(quoted)
    if prefix in ("datetime", "datetimeoffset") and (match := _DATETIME.fullmatch(quoted)):
        try:
            return _to_datetime(match)
        except (ValueError, OverflowError):
            pass
    raise _bad_literal(text, start, text[start:end])


class _Parser:
    """Recursive descent over the token list: one method per precedence level, loosest first."""

    def __init__(self, text: str, aliases: Mapping[str, str], *, depth: int) -> None:
        self.text = text
        self.aliases = aliases
        self.depth = depth
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _at(self, kind: str, text: str | None = None) -> bool:
        return self.token.kind == kind and (text is None or self.token.text == text)

    def _expect(self, punct: str, message: str) -> None:
        if not self._at("punct", punct):
            raise _fail(message, self.token.pos, self.text)
        self._advance()

    def _unexpected(self) -> FilterSyntaxError:
        # As in Microsoft's parser, a stray token is reported at the position just after it.
        if self.token.kind == "end":
            return _fail("Expression expected", self.token.pos, self.text)
        return _fail("Syntax error", self.token.end, self.text)

    def _enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(f"The query exceeds the maximum nesting depth of {MAX_DEPTH}", position, self.text)

    def finish(self) -> None:
        """Reject anything left after a complete expression."""
        if not self._at("end"):
            raise _fail("Syntax error", self.token.end, self.text)

    def or_(self) -> Expression:
        left = self._and()
        while self._at("ident", "or"):
            self._advance()
            left = Or(left, self._and())
        return left

    def _and(self) -> Expression:
        left = self._not()
        while self._at("ident", "and"):
            self._advance()
            left = And(left, self._not())
        return left

    def _not(self) -> Expression:
        # A loop rather than recursion: a run of nots costs nesting depth but no stack frames.
        outer_depth, count = self.depth, 0
        while self._at("ident", "not"):
            self._enter(self._advance().pos)
            count += 1
        expression = self._comparison()
        for _ in range(count):
            expression = Not(expression)
        self.depth = outer_depth
        return expression

    def _comparison(self) -> Expression:
        left = self._primary()
        while self.token.kind == "ident" and self.token.text in _COMPARISONS:
            op = _COMPARISONS[self._advance().text]
            left = Compare(op, left, self._primary())
        return left

    def _primary(self) -> Expression:
        token = self.token
        if token.kind == "literal":
            self._advance()
            return Literal(token.value)
        if token.kind == "alias":
            self._advance()
            alias = self._alias_parser(token)
            expression = alias._primary()
            alias.finish()
            return expression
        if token.kind == "punct" and token.text == "(":
            self._advance()
            self._enter(token.pos)
            expression = self.or_()
            self._expect(")", "')' or operator expected")
            self.depth -= 1
            return expression
        if token.kind != "ident" or token.text in _OPERATORS:
            raise self._unexpected()
        if self.tokens[self.index + 1].text == "(":  # an ident is never the end token, so index + 1 exists
            namespace = token.text.rpartition(".")[0] + "."
            return self._query_function() if namespace == QUERY_FUNCTION_NAMESPACE else self._call()
        if "." in token.text:  # a qualified name that is not a call, such as a type cast: not supported
            raise self._unexpected()
        return self._path()

    def _call(self) -> Call:
        name = self._advance()
        if name.text not in FUNCTIONS:
            raise _fail(f"Unknown function '{name.text}'", name.pos, self.text)
        self._advance()  # (
        self._enter(name.pos)
        args: list[Expression] = []
        if not self._at("punct", ")"):
            args.append(self.or_())
            while self._at("punct", ","):
                self._advance()
                args.append(self.or_())
        self._expect(")", "')' or ',' expected")
        self.depth -= 1
        if len(args) not in FUNCTIONS[name.text]:
            counts = " or ".join(str(count) for count in FUNCTIONS[name.text])
            raise _fail(f"The function '{name.text}' takes {counts} argument(s), not {len(args)}", name.pos, self.text)
        return Call(name.text, tuple(args))

    def _path(self) -> Property | Lambda:
        segments = [self._advance().text]
        while self._at("punct", "/"):
            self._advance()
            if not self._at("ident") or "." in self.token.text:
                raise self._unexpected()
            segment = self._advance()
            if segment.text in ("any", "all") and self._at("punct", "("):
                return self._lambda(tuple(segments), segment)
            segments.append(segment.text)
        return Property(tuple(segments))

    def _lambda(self, navigation: tuple[str, ...], quantifier: _Token) -> Lambda:
        self._advance()  # (
        if quantifier.text == "any" and self._at("punct", ")"):
            self._advance()
            return Lambda(navigation, "any", None, None)
        variable = self.token
        if variable.kind != "ident" or "." in variable.text or variable.text in _OPERATORS:
            raise _fail("Lambda variable expected", variable.pos, self.text)
        self._advance()
        self._expect(":", "':' expected")
        self._enter(quantifier.pos)
        predicate = self.or_()
        self._expect(")", "')' or operator expected")
        self.depth -= 1
        return Lambda(navigation, quantifier.text, variable.text, predicate)

    def _query_function(self) -> QueryFunction:
        name = self._advance()
        self._advance()  # (
        parameters: list[tuple[str, _ParameterValue]] = []
        while not self._at("punct", ")"):
            if parameters:
                self._expect(",", "')' or ',' expected")
            key = self.token
            if key.kind != "ident" or "." in key.text:
                raise _fail("Parameter name expected", key.pos, self.text)
            if any(existing == key.text for existing, _ in parameters):
                raise _fail(f"Duplicate parameter '{key.text}'", key.pos, self.text)
            self._advance()
            self._expect("=", "'=' expected")
            parameters.append((key.text, self._parameter_value()))
        self._advance()  # )
        return QueryFunction(name.text.rpartition(".")[2], tuple(parameters))

    def _parameter_value(self) -> _ParameterValue:
        """A query function argument: a literal, an alias, or a ``[…]`` list of literals."""
        if self._at("alias"):
            alias = self._alias_parser(self._advance())
            value = alias._parameter_value()
            alias.finish()
            return value
        if not self._at("punct", "["):
            return self._list_item(allow_json=False)
        self._advance()
        items: list[Literal] = []
        while not self._at("punct", "]"):
            if items:
                self._expect(",", "']' or ',' expected")
            items.append(self._list_item(allow_json=True))
        self._advance()  # ]
        return tuple(items)

    def _list_item(self, *, allow_json: bool) -> Literal:
        token = self.token
        # The SDK writes PropertyValues=["1","2"] (JSON strings) where the docs write ['1','2'].
        if token.kind == "literal" or (token.kind == "json" and allow_json):
            self._advance()
            return Literal(token.value)
        raise self._unexpected()

    def _alias_parser(self, token: _Token) -> _Parser:
        """A parser over the text ``token`` stands for, sharing this parser's depth budget."""
        value = self.aliases.get(token.text)
        if value is None:
            raise _fail(f"Parameter alias '{token.text}' was not provided", token.pos, self.text)
        # Aliases inside an alias value are not resolved, which rules out reference cycles.
        return _Parser(value, {}, depth=self.depth)
