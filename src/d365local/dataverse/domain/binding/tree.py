"""The bound query tree: a ``$filter`` or ``$orderby`` whose every name is a column of a known table and every
literal a value of its column's type.

The binder (``binder``) builds it from the syntax tree and raises every Dataverse error a query can earn for its
names and literals; the store compiles it to SQL and never looks a name up. Frozen values only.

Columns are relative to a scope: the queried table at the top, a lambda's child table inside ``BoundAny`` and
``BoundAll``, a lookup's target table inside ``BoundRelated``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from d365local.dataverse.domain.binding.literals import LiteralValue
from d365local.dataverse.domain.security import Grant
from d365local.dataverse.odata.filter_ast import Comparison
from d365local.dataverse.schema.metadata import AttributeDefinition, EntityDefinition


@dataclass(frozen=True)
class BoundColumn:
    """A column of the table in scope."""

    entity: EntityDefinition
    attribute: AttributeDefinition

    @property
    def name(self) -> str:
        """The stored column's name (the table's primary id for the primary id attribute)."""
        return self.entity.primary_id if self.attribute.is_primary_id else self.attribute.logical_name


@dataclass(frozen=True)
class BoundLiteral:
    """A constant, already of its column's Python type (None: null)."""

    value: LiteralValue


@dataclass(frozen=True)
class BoundCase:
    """``tolower(…)`` or ``toupper(…)`` of an operand."""

    function: Literal["tolower", "toupper"]
    operand: BoundOperand


BoundOperand = BoundColumn | BoundLiteral | BoundCase
"""What a comparison compares."""


@dataclass(frozen=True)
class BoundConstant:
    """A condition known without reading a row: ``true``, ``false``, ``1 eq 1``."""

    value: bool


@dataclass(frozen=True)
class BoundAnd:
    operands: tuple[BoundExpression, ...]


@dataclass(frozen=True)
class BoundOr:
    operands: tuple[BoundExpression, ...]


@dataclass(frozen=True)
class BoundNot:
    operand: BoundExpression


@dataclass(frozen=True)
class BoundCompare:
    """``left op right``; ``ne`` also matches rows where ``left`` is null, as OData's ``ne`` does."""

    op: Comparison
    left: BoundOperand
    right: BoundOperand
    case_insensitive: bool
    """Text columns compare without regard to case, as in Dataverse."""


@dataclass(frozen=True)
class BoundIsNull:
    """``x eq null`` (or ``x ne null`` when ``negated``)."""

    operand: BoundOperand
    negated: bool = False


class LikeKind(Enum):
    CONTAINS = "contains"
    STARTSWITH = "startswith"
    ENDSWITH = "endswith"


@dataclass(frozen=True)
class BoundLike:
    """``contains``/``startswith``/``endswith`` of a text column (case-insensitive); ``text`` is the plain text."""

    subject: BoundOperand
    kind: LikeKind
    text: str


@dataclass(frozen=True)
class BoundIn:
    """The column holds one of ``values`` (``In``, or ``c eq 1 or c eq 2 …``); ``negated``: ``NotIn``, which also
    matches nulls."""

    column: BoundColumn
    values: tuple[LiteralValue, ...]
    negated: bool = False
    case_insensitive: bool = False
    """Text columns match without regard to case, as ``eq`` does."""


@dataclass(frozen=True)
class BoundBetween:
    """``Between`` (inclusive) or ``NotBetween``."""

    column: BoundColumn
    low: LiteralValue
    high: LiteralValue
    negated: bool = False


@dataclass(frozen=True)
class BoundDayWindow:
    """From the start of today + ``first`` days to the start of today + ``end`` days (``Today`` is 0, 1)."""

    column: BoundColumn
    first: int
    end: int


@dataclass(frozen=True)
class BoundLastDays:
    """``LastXDays``: from the start of the day ``days`` days ago up to now."""

    column: BoundColumn
    days: int


@dataclass(frozen=True)
class BoundNextDays:
    """``NextXDays``: from now to the end of the day ``days`` days ahead."""

    column: BoundColumn
    days: int


@dataclass(frozen=True)
class BoundOnDate:
    """``On``, ``OnOrAfter``, ``OnOrBefore`` a calendar day."""

    column: BoundColumn
    day: dt.date
    mode: Literal["on", "onorafter", "onorbefore"]


@dataclass(frozen=True)
class BoundCurrentUser:
    """``EqualUserId`` (or ``NotEqualUserId``, which also matches nulls): the calling user."""

    column: BoundColumn
    negated: bool = False


@dataclass(frozen=True)
class BoundCurrentBusinessUnit:
    """``EqualBusinessId``: the calling user's business unit."""

    column: BoundColumn


@dataclass(frozen=True)
class BoundRelated:
    """``lookup/column op value``: the row the lookup points at (in ``target``) satisfies ``condition``."""

    lookup: BoundColumn
    target: EntityDefinition
    condition: BoundExpression
    reach: Grant | None = None
    """The caller's Read grant on ``target``: only rows it reaches count (None: every row)."""


@dataclass(frozen=True)
class BoundRelationship:
    """A collection-valued navigation: the ``child`` rows whose ``lookup`` column holds the ``parent`` row's id."""

    parent: EntityDefinition
    child: EntityDefinition
    lookup: str
    reach: Grant | None = None
    """The caller's Read grant on ``child``: only rows it reaches count (None: every row)."""


@dataclass(frozen=True)
class BoundAny:
    """``nav/any(x: …)``: some related row satisfies ``predicate`` (None: some related row exists)."""

    relationship: BoundRelationship
    predicate: BoundExpression | None


@dataclass(frozen=True)
class BoundAll:
    """``nav/all(x: …)``: no related row fails ``predicate``."""

    relationship: BoundRelationship
    predicate: BoundExpression


BoundExpression = (
    BoundConstant
    | BoundAnd
    | BoundOr
    | BoundNot
    | BoundCompare
    | BoundIsNull
    | BoundLike
    | BoundIn
    | BoundBetween
    | BoundDayWindow
    | BoundLastDays
    | BoundNextDays
    | BoundOnDate
    | BoundCurrentUser
    | BoundCurrentBusinessUnit
    | BoundRelated
    | BoundAny
    | BoundAll
)
"""A bound ``$filter`` condition."""


@dataclass(frozen=True)
class BoundOrder:
    """One ``$orderby`` item."""

    column: BoundColumn
    descending: bool = False
