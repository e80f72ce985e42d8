"""The ``$filter`` syntax tree: what ``filter_parser`` produces and ``dataverse.domain.binding`` binds to a table.

Frozen values only. Names are not checked against metadata here (the binder does that, where the table is known);
literals keep their OData type so the binder can check them against their columns' types.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class Comparison(Enum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


@dataclass(frozen=True)
class Literal:
    """A constant: ``None`` (null), bool, int, Decimal (with a dot or exponent), str, UUID, date or datetime."""

    value: bool | int | Decimal | str | uuid.UUID | dt.date | dt.datetime | None


@dataclass(frozen=True)
class Property:
    """A column, possibly through single-valued navigation: ``name`` or ``primarycontactid/fullname``."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    op: Comparison
    left: Expression
    right: Expression


@dataclass(frozen=True)
class And:
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Or:
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Not:
    operand: Expression


@dataclass(frozen=True)
class Call:
    """A built-in function: ``contains(p,'x')``, ``startswith``, ``endswith``, ``tolower``, ``year`` …"""

    name: str
    args: tuple[Expression, ...]


@dataclass(frozen=True)
class QueryFunction:
    """A ``Microsoft.Dynamics.CRM.<Name>(PropertyName='x',PropertyValue=…)`` query function.

    ``parameters`` maps each parameter name to its value: a single literal, or a tuple of literals for the
    collection-valued ``PropertyValues=[…]``.
    """

    name: str
    parameters: tuple[tuple[str, Literal | tuple[Literal, ...]], ...]

    def parameter(self, name: str) -> Literal | tuple[Literal, ...] | None:
        return next((value for key, value in self.parameters if key == name), None)


@dataclass(frozen=True)
class Lambda:
    """``nav/any(x: x/name eq 'a')`` or ``all``; ``predicate`` is None for the bare ``nav/any()``."""

    navigation: tuple[str, ...]
    quantifier: str
    variable: str | None
    predicate: Expression | None


Expression = Literal | Property | Compare | And | Or | Not | Call | QueryFunction | Lambda


class FilterSyntaxError(ValueError):
    """The text is not a ``$filter`` expression; ``position`` is 0-based, as Dataverse reports it."""

    def __init__(self, message: str, position: int, text: str) -> None:
        super().__init__(message)
        self.position = position
        self.text = text
