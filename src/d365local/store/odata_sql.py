"""Bound queries (``dataverse.domain.binding``) → SQLAlchemy expressions with bound parameters only.

Names were resolved and literals typed by the binder, so this module only generates SQL: each bound column becomes
its table's Column object and every literal a bound parameter; nothing a client sent reaches SQL text. String
comparisons are case-insensitive, as in Dataverse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Table,
    and_,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)

from d365local.dataverse.domain.binding.tree import (
    BoundAll,
    BoundAnd,
    BoundAny,
    BoundBetween,
    BoundCase,
    BoundColumn,
    BoundCompare,
    BoundConstant,
    BoundCurrentBusinessUnit,
    BoundCurrentUser,
    BoundDayWindow,
    BoundExpression,
    BoundIn,
    BoundIsNull,
    BoundLastDays,
    BoundLike,
    BoundLiteral,
    BoundNextDays,
    BoundNot,
    BoundOnDate,
    BoundOperand,
    BoundOr,
    BoundOrder,
    BoundRelated,
    BoundRelationship,
    LikeKind,
)
from d365local.dataverse.domain.model import Depth
from d365local.dataverse.domain.security import Grant, Ownership
from d365local.dataverse.odata.filter_ast import Comparison
from d365local.dataverse.schema.metadata import EntityDefinition

_ESCAPE = "\\"


@dataclass(frozen=True)
class FilterContext:
    """What a filter is compiled against."""

    tables: Mapping[str, Table]
    org_id: str
    user_id: str
    business_unit_id: str
    now: dt.datetime
    """Naive UTC, the clock's now (for Today, LastXDays…)."""


def compile_filter(
    expression: BoundExpression, entity: EntityDefinition, context: FilterContext
) -> ColumnElement[bool]:
    return _Compiler(context, context.tables[entity.logical_name]).condition(expression)


def compile_order(order: BoundOrder, table: FromClause) -> ColumnElement[Any]:
    column = table.c[order.column.name]
    return column.desc() if order.descending else column.asc()


class _Compiler:
    """Compiles the conditions of one scope, whose bound columns are columns of ``table``."""

    def __init__(self, context: FilterContext, table: FromClause) -> None:
        self.context = context
        self.table = table

    def condition(self, node: BoundExpression) -> ColumnElement[bool]:
        match node:
            case BoundConstant(value=value):
                return true() if value else false()
            case BoundAnd(operands=operands):
                return and_(*(self.condition(n) for n in operands))
            case BoundOr(operands=operands):
                return or_(*(self.condition(n) for n in operands))
            case BoundNot(operand=operand):
                return not_(self.condition(operand))
            case BoundCompare():
                return self.compare(node)
            case BoundIsNull(operand=operand, negated=negated):
                subject = self.operand(operand)
                return subject.is_not(None) if negated else subject.is_(None)  # type: ignore[no-any-return]
            case BoundLike(subject=subject, kind=kind, text=text):
                escaped = text.lower().replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%")
                escaped = escaped.replace("_", _ESCAPE + "_")
                pattern = {
                    LikeKind.CONTAINS: f"%{escaped}%",
                    LikeKind.STARTSWITH: f"{escaped}%",
                    LikeKind.ENDSWITH: f"%{escaped}",
                }[kind]
                return func.lower(self.operand(subject)).like(literal(pattern), escape=_ESCAPE)
            case BoundIn(column=column, values=values, negated=negated, case_insensitive=case_insensitive):
                target = self.column(column)
                members: Sequence[Any] = values
                if case_insensitive:  # lower() on both sides in SQL, as for eq (Python's lower() is another one)
                    target, members = func.lower(target), [func.lower(literal(v)) for v in values]
                if negated:
                    return or_(target.not_in(members), target.is_(None))
                return target.in_(members)  # type: ignore[no-any-return]
            case BoundBetween(column=column, low=low, high=high, negated=negated):
                between = self.column(column).between(low, high)
                return not_(between) if negated else between  # type: ignore[no-any-return]
            case BoundDayWindow(column=column, first=first, end=end):
                target, today = self.column(column), self.today()
                return and_(target >= today + dt.timedelta(days=first), target < today + dt.timedelta(days=end))
            case BoundLastDays(column=column, days=days):
                target = self.column(column)
                return and_(target >= self.today() - dt.timedelta(days=days), target <= self.context.now)
            case BoundNextDays(column=column, days=days):
                target = self.column(column)
                return and_(target >= self.context.now, target < self.today() + dt.timedelta(days=days + 1))
            case BoundOnDate(column=column, day=day, mode=mode):
                target = self.column(column)
                start = dt.datetime.combine(day, dt.time())
                after = start + dt.timedelta(days=1)
                if mode == "on":
                    return and_(target >= start, target < after)
                return target >= start if mode == "onorafter" else target < after  # type: ignore[no-any-return]
            case BoundCurrentUser(column=column, negated=negated):
                target = self.column(column)
                if negated:
                    return or_(target != self.context.user_id, target.is_(None))
                return target == self.context.user_id  # type: ignore[no-any-return]
            case BoundCurrentBusinessUnit(column=column):
                return self.column(column) == self.context.business_unit_id  # type: ignore[no-any-return]
            case BoundRelated(lookup=lookup, target=target_entity, condition=condition, reach=grant):
                target_table = self.context.tables[target_entity.logical_name].alias()
                inner = _Compiler(self.context, target_table).condition(condition)
                subquery = select(target_table.c[target_entity.primary_id]).where(
                    target_table.c.orgid == self.context.org_id, inner, *_within(target_table, target_entity, grant)
                )
                return self.column(lookup).in_(subquery)  # type: ignore[no-any-return]
            case BoundAny(relationship=relationship, predicate=predicate):
                child, joined = self.children(relationship)
                if predicate is None:
                    return exists(select(literal(1)).select_from(child).where(joined))
                matching = _Compiler(self.context, child).condition(predicate)
                return exists(select(literal(1)).select_from(child).where(joined, matching))
            case BoundAll(relationship=relationship, predicate=predicate):
                child, joined = self.children(relationship)
                matching = _Compiler(self.context, child).condition(predicate)
                return not_(exists(select(literal(1)).select_from(child).where(joined, not_(matching))))
            case _:
                assert_never(node)

    def compare(self, node: BoundCompare) -> ColumnElement[bool]:
        left, right = self.operand(node.left), self.operand(node.right)
        if node.case_insensitive:
            left, right = func.lower(left), func.lower(right)
        comparison = _OPERATORS[node.op](left, right)
        if node.op is Comparison.NE:
            # OData ne includes nulls ("name ne 'x'" matches rows without a name), SQL's <> does not.
            return or_(comparison, left.is_(None))
        return comparison  # type: ignore[no-any-return]

    def operand(self, node: BoundOperand) -> Any:
        match node:
            case BoundColumn():
                return self.column(node)
            case BoundLiteral(value=value):
                return null() if value is None else literal(value)
            case BoundCase(function=function, operand=operand):
                inner = self.operand(operand)
                return func.lower(inner) if function == "tolower" else func.upper(inner)
            case _:
                assert_never(node)

    def column(self, node: BoundColumn) -> Any:
        return self.table.c[node.name]

    def children(self, relationship: BoundRelationship) -> tuple[FromClause, ColumnElement[bool]]:
        """The related table (aliased: it may be the parent's own) and its join to the row in scope."""
        child = self.context.tables[relationship.child.logical_name].alias()
        joined = and_(
            child.c.orgid == self.context.org_id,
            child.c[relationship.lookup] == self.table.c[relationship.parent.primary_id],
            *_within(child, relationship.child, relationship.reach),
        )
        return child, joined

    def today(self) -> dt.datetime:
        return self.context.now.replace(hour=0, minute=0, second=0, microsecond=0)


_OPERATORS: dict[Comparison, Callable[[Any, Any], Any]] = {
    Comparison.EQ: lambda a, b: a == b,
    Comparison.NE: lambda a, b: a != b,
    Comparison.GT: lambda a, b: a > b,
    Comparison.GE: lambda a, b: a >= b,
    Comparison.LT: lambda a, b: a < b,
    Comparison.LE: lambda a, b: a <= b,
}


def reach_condition(table: FromClause, grant: Grant, ownership: Ownership) -> Any:
    """The WHERE clause of the rows a Basic/Local/Deep grant reaches (None: organization-owned, all rows)."""
    owned = table.c[ownership.owner] == grant.user_id if ownership.owner else None
    if grant.depth is Depth.BASIC:
        return owned if owned is not None else (false() if ownership.business_unit else None)
    if ownership.business_unit is None:
        return owned
    in_units = table.c[ownership.business_unit].in_(sorted(grant.business_unit_ids))
    return in_units if owned is None else in_units | owned


def _within(table: FromClause, entity: EntityDefinition, grant: Grant | None) -> tuple[Any, ...]:
    """The related rows a filter may look at: those the caller's Read grant reaches (all with no grant given)."""
    if grant is None or grant.depth is Depth.GLOBAL:
        return ()
    condition = reach_condition(table, grant, Ownership.of(entity))
    return () if condition is None else (condition,)
