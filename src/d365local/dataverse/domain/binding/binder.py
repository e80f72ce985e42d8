"""Binding: the ``$filter`` and ``$orderby`` syntax trees → the bound tree, against a table's metadata.

Every name is resolved here (columns, ``_x_value`` lookups, one-hop navigation ``lookup/column``, the collection
navigations of ``any``/``all``, the ``PropertyName`` of ``Microsoft.Dynamics.CRM`` query functions) and every literal
takes its column's type, so every error a query can earn for what it names is raised here, with Dataverse's codes
and texts, before the store sees the query.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from typing import Any, assert_never

from d365local.dataverse import errors
from d365local.dataverse.domain.binding.literals import STRINGS, LiteralValue, SyntaxValue, coerce
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
from d365local.dataverse.domain.security import Grant
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata import filter_ast as ast
from d365local.dataverse.odata.query_options import OrderBy
from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType, Catalog, EntityDefinition

MAX_CONDITIONS = 500
"""Conditions in one and/or chain (SQLite refuses expressions nested about a thousand deep)."""
MAX_DAYS = 36500
"""The largest day count of ``LastXDays``/``NextXDays`` (a hundred years; more overflows the date arithmetic)."""

_DATE = AttributeDefinition("date", AttributeType.DATETIME, "", date_only=True)
"""What the day of ``On``/``OnOrAfter``/``OnOrBefore`` is read as, whatever the column."""
_DAY_WINDOWS = {"today": (0, 1), "yesterday": (-1, 0), "tomorrow": (1, 2)}


DATAVERSE_QUERY_FUNCTIONS = frozenset(
    name.lower()
    for name in (
        "Above", "AboveOrEqual", "Between", "Contains", "ContainValues", "DoesNotContainValues", "EqualBusinessId",
        "EqualUserId", "EqualUserLanguage", "EqualUserOrUserHierarchy", "EqualUserOrUserHierarchyAndTeams",
        "EqualUserOrUserTeams", "EqualUserTeams", "In", "InFiscalPeriod", "InFiscalPeriodAndYear", "InFiscalYear",
        "InOrAfterFiscalPeriodAndYear", "InOrBeforeFiscalPeriodAndYear", "Last7Days", "LastFiscalPeriod",
        "LastFiscalYear", "LastMonth", "LastWeek", "LastXDays", "LastXFiscalPeriods", "LastXFiscalYears",
        "LastXHours", "LastXMonths", "LastXWeeks", "LastXYears", "LastYear", "Next7Days", "NextFiscalPeriod",
        "NextFiscalYear", "NextMonth", "NextWeek", "NextXDays", "NextXFiscalPeriods", "NextXFiscalYears",
        "NextXHours", "NextXMonths", "NextXWeeks", "NextXYears", "NextYear", "NotBetween", "NotEqualBusinessId",
        "NotEqualUserId", "NotIn", "NotUnder", "OlderThanXDays", "OlderThanXHours", "OlderThanXMinutes",
        "OlderThanXMonths", "OlderThanXWeeks", "OlderThanXYears", "On", "OnOrAfter", "OnOrBefore",
        "ThisFiscalPeriod", "ThisFiscalYear", "ThisMonth", "ThisWeek", "ThisYear", "Today", "Tomorrow", "Under",
        "UnderOrEqual", "Yesterday",
    )
)  # fmt: skip
"""The Web API's query functions (Microsoft.Dynamics.CRM.*): one d365local lacks answers 501, any other name 400."""


Reach = Callable[[EntityDefinition], Grant]
"""The caller's Read grant on a table a filter reaches through a navigation (PrivilegeDenied without one)."""


def bind_filter(
    expression: ast.Expression, entity: EntityDefinition, catalog: Catalog, reach: Reach | None = None
) -> BoundExpression:
    """A ``$filter`` on ``entity``, bound; raises the DataverseError Dataverse answers for a bad name or literal.
    With ``reach``, the rows a navigation or lambda looks at are limited to what the caller may read, so a filter
    cannot reveal anything about records beyond its Read depth."""
    return _Binder(entity, catalog, reach).condition(expression)


def bind_orderby(orderby: Sequence[OrderBy], entity: EntityDefinition) -> tuple[BoundOrder, ...]:
    """An ``$orderby`` on ``entity``, bound: columns of the table itself only."""
    bound = []
    for item in orderby:
        if len(item.path) != 1:
            raise _invalid("$orderby on a related table's column is not supported.")
        bound.append(BoundOrder(bind_column(entity, item.path[0]), item.descending))
    return tuple(bound)


def bind_column(entity: EntityDefinition, name: str) -> BoundColumn:
    """A property name (logical name, or ``_x_value`` of a lookup) → the column, or PROPERTY_NOT_FOUND."""
    attribute = entity.column(name)
    if attribute is None and name.startswith("_") and name.endswith("_value"):
        candidate = entity.column(name[1:-6])
        attribute = candidate if candidate is not None and candidate.type.is_lookup else None
    elif attribute is not None and attribute.type.is_lookup:
        attribute = None  # a lookup is addressed as _x_value (or navigated as x/…), not by its bare name
    if attribute is None:
        raise _not_found(entity, name)
    return BoundColumn(entity, attribute)


class _Binder:
    """Binds the conditions of one scope (the queried table, a lambda's child table, a lookup's target table)."""

    def __init__(self, entity: EntityDefinition, catalog: Catalog, reach: Reach | None) -> None:
        self.entity = entity
        self.catalog = catalog
        self.reach = reach

    def condition(self, node: ast.Expression) -> BoundExpression:
        match node:
            case ast.And():
                return BoundAnd(tuple(self.condition(n) for n in _chain(node, ast.And, "and")))
            case ast.Or():
                operands = _chain(node, ast.Or, "or")
                membership = _as_membership(operands)
                if membership is not None:
                    name, values = membership
                    column = bind_column(self.entity, name)
                    bound = tuple(coerce(v, column.attribute) for v in values)
                    return BoundIn(column, bound, case_insensitive=column.attribute.type in STRINGS)
                return BoundOr(tuple(self.condition(n) for n in operands))
            case ast.Not(operand=operand):
                return BoundNot(self.condition(operand))
            case ast.Compare():
                return self.compare(node)
            case ast.Call(name="contains" | "startswith" | "endswith"):
                return self.like(node)
            case ast.QueryFunction():
                return self.query_function(node)
            case ast.Lambda():
                return self.lambda_(node)
            case ast.Literal(value=bool() as value):
                return BoundConstant(value)
            case ast.Property():
                column = self.property(node)
                if column.attribute.type is AttributeType.BOOLEAN:
                    return BoundCompare(ast.Comparison.EQ, column, BoundLiteral(True), case_insensitive=False)
            case ast.Call() | ast.Literal():
                pass
            case _:
                assert_never(node)
        raise _invalid("The $filter expression must be a condition (a comparison, function or and/or/not).")

    # -- properties and operands ----------------------------------------------------------------------------
    def property(self, node: ast.Property) -> BoundColumn:
        if len(node.path) == 1:
            return bind_column(self.entity, node.path[0])
        raise _invalid(
            f"Navigation in a comparison operand is only supported as nav/column = value: {'/'.join(node.path)}"
        )

    def operand(self, node: ast.Expression, attribute: AttributeDefinition | None) -> BoundOperand:
        """A comparison operand; a literal takes the type of ``attribute``, the column it is compared with."""
        match node:
            case ast.Literal(value=value):
                return BoundLiteral(coerce(value, attribute) if value is not None else None)
            case ast.Property():
                return self.property(node)
            case ast.Call(name="tolower" | "toupper" as name, args=(argument,)):
                return BoundCase("tolower" if name == "tolower" else "toupper", self.operand(argument, attribute))
            case ast.Call() | ast.Compare() | ast.And() | ast.Or() | ast.Not() | ast.QueryFunction() | ast.Lambda():
                raise _invalid("Only columns, literals, tolower and toupper can be compared.")
            case _:
                assert_never(node)

    def attribute_of(self, node: ast.Expression) -> AttributeDefinition | None:
        """The column an operand is about: a column, or the column a function is applied to."""
        match node:
            case ast.Property():
                return self.property(node).attribute
            case ast.Call(args=(ast.Property() as first, *_)):
                return self.property(first).attribute
            case _:
                return None

    # -- comparisons ----------------------------------------------------------------------------------------
    def compare(self, node: ast.Compare) -> BoundExpression:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, ast.Literal) and isinstance(right, ast.Literal):
            return BoundConstant(_literal_comparison(op, left.value, right.value))
        if isinstance(left, ast.Literal):
            op, left, right = _MIRROR[op], right, left
        if isinstance(left, ast.Property) and len(left.path) == 2:
            return self.navigation(op, left, right)
        attribute = self.attribute_of(left)
        subject = self.operand(left, None)
        if isinstance(right, ast.Literal) and right.value is None:
            if op is ast.Comparison.EQ:
                return BoundIsNull(subject)
            if op is ast.Comparison.NE:
                return BoundIsNull(subject, negated=True)
            raise _invalid("null can only be compared with eq or ne.")
        value = self.operand(right, attribute)
        return BoundCompare(op, subject, value, case_insensitive=attribute is not None and attribute.type in STRINGS)

    def navigation(self, op: ast.Comparison, path: ast.Property, right: ast.Expression) -> BoundRelated:
        """``primarycontactid/fullname eq 'x'``: the lookup's (single) target row must match."""
        lookup = self.entity.column(path.path[0])
        if lookup is None or not lookup.type.is_lookup or len(lookup.targets) != 1:
            raise _not_found(self.entity, path.path[0])
        target = self.catalog.by_logical_name(lookup.targets[0])
        if target is None:
            raise _not_found(self.entity, path.path[0])
        grant = self.reach(target) if self.reach is not None else None
        scope = _Binder(target, self.catalog, self.reach)
        condition = scope.compare(ast.Compare(op, ast.Property(path.path[1:]), right))
        return BoundRelated(BoundColumn(self.entity, lookup), target, condition, grant)

    def like(self, node: ast.Call) -> BoundLike:
        pattern = node.args[1] if len(node.args) == 2 else None
        if not isinstance(pattern, ast.Literal) or not isinstance(pattern.value, str):
            raise _invalid(f"{node.name} takes a column and a string.")
        attribute = self.attribute_of(node.args[0])
        if attribute is None or attribute.type not in STRINGS:
            raise _invalid(f"{node.name} works on text columns.")
        return BoundLike(self.operand(node.args[0], attribute), LikeKind(node.name), pattern.value)

    # -- Microsoft.Dynamics.CRM query functions -------------------------------------------------------------
    def query_function(self, node: ast.QueryFunction) -> BoundExpression:
        name = node.parameter("PropertyName")
        if not isinstance(name, ast.Literal) or not isinstance(name.value, str):
            raise _invalid(f"Microsoft.Dynamics.CRM.{node.name} needs PropertyName='<column>'.")
        column = bind_column(self.entity, name.value)
        match function := node.name.lower():
            case "in" | "notin":
                return BoundIn(
                    column,
                    _values(node, column.attribute),
                    negated=function == "notin",
                    case_insensitive=column.attribute.type in STRINGS,
                )
            case "between" | "notbetween":
                values = _values(node, column.attribute)
                if len(values) != 2:
                    raise _invalid("Between needs two PropertyValues.")
                return BoundBetween(column, values[0], values[1], negated=function == "notbetween")
            case "today" | "yesterday" | "tomorrow":
                return BoundDayWindow(column, *_DAY_WINDOWS[function])
            case "lastxdays":
                return BoundLastDays(column, _days(node))
            case "nextxdays":
                return BoundNextDays(column, _days(node))
            case "on" | "onorafter" | "onorbefore":
                day = _values(node, _DATE)[0]
                assert isinstance(day, dt.date)  # a date-only column's value is a date
                return BoundOnDate(column, day, function)
            case "equaluserid" | "notequaluserid":
                return BoundCurrentUser(column, negated=function == "notequaluserid")
            case "equalbusinessid":
                return BoundCurrentBusinessUnit(column)
        if function not in DATAVERSE_QUERY_FUNCTIONS:
            raise _invalid(
                f"An unknown function with name 'Microsoft.Dynamics.CRM.{node.name}' was found. This may also be a "
                "function import or a key lookup on a navigation property, which is not allowed."
            )
        raise DataverseError(errors.NOT_SUPPORTED, feature=f"The query function Microsoft.Dynamics.CRM.{node.name}")

    # -- lambdas --------------------------------------------------------------------------------------------
    def lambda_(self, node: ast.Lambda) -> BoundAny | BoundAll:
        if len(node.navigation) != 1:
            raise _invalid("any/all work on a collection-valued navigation property of the table.")
        relationship = next(
            (
                r
                for r in self.catalog.one_to_many(self.entity.logical_name)
                if r.referenced_navigation == node.navigation[0]
            ),
            None,
        )
        if relationship is None:
            raise _not_found(self.entity, node.navigation[0])
        child = self.catalog.by_logical_name(relationship.referencing_entity)
        assert child is not None  # the catalog keeps only relationships between its own tables
        grant = self.reach(child) if self.reach is not None else None
        link = BoundRelationship(self.entity, child, relationship.referencing_attribute, grant)
        if node.predicate is None:
            return BoundAny(link, None)
        predicate = _Binder(child, self.catalog, self.reach).condition(_strip_variable(node.predicate, node.variable))
        return BoundAny(link, predicate) if node.quantifier == "any" else BoundAll(link, predicate)


def _chain(node: ast.And | ast.Or, kind: type[ast.And] | type[ast.Or], word: str) -> list[ast.Expression]:
    """The operands of a chain of one operator, without recursion (``a or b or c …`` nests as deep as it is long),
    at most MAX_CONDITIONS of them."""
    operands: list[ast.Expression] = []
    stack: list[ast.Expression] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, kind):
            stack += [current.right, current.left]
        else:
            operands.append(current)
    if len(operands) > MAX_CONDITIONS:
        raise _invalid(f"The $filter has more than {MAX_CONDITIONS} conditions joined by '{word}'.")
    return operands


def _as_membership(operands: list[ast.Expression]) -> tuple[str, list[SyntaxValue]] | None:
    """``c eq 1 or c eq 2 or …`` on one column → (c, [1, 2, …]), bound as one IN (SQLite limits expression depth)."""
    column: str | None = None
    values: list[SyntaxValue] = []
    for operand in operands:
        match operand:
            case ast.Compare(op=ast.Comparison.EQ, left=ast.Property(path=(name,)), right=ast.Literal(value=value)) if (
                value is not None and (column is None or name == column)
            ):
                column = name
                values.append(value)
            case _:
                return None
    return (column, values) if column is not None and len(values) > 1 else None


def _values(node: ast.QueryFunction, attribute: AttributeDefinition) -> tuple[LiteralValue, ...]:
    """``PropertyValues=[…]`` (or a single ``PropertyValue``), each of the column's type."""
    raw = node.parameter("PropertyValues")
    if raw is None:
        single = node.parameter("PropertyValue")
        raw = (single,) if isinstance(single, ast.Literal) else None
    if not isinstance(raw, tuple) or not raw:
        raise _invalid(f"Microsoft.Dynamics.CRM.{node.name} needs PropertyValues=[…].")
    return tuple(coerce(v.value, attribute) for v in raw)


def _days(node: ast.QueryFunction) -> int:
    """The day count of ``LastXDays``/``NextXDays``."""
    value = node.parameter("PropertyValue")
    if isinstance(value, ast.Literal):
        try:
            number = int(str(value.value))
        except ValueError:
            pass
        else:
            if 0 <= number <= MAX_DAYS:
                return number
    raise _invalid(f"Microsoft.Dynamics.CRM.{node.name} needs a whole-number PropertyValue.")


def _literal_comparison(op: ast.Comparison, left: object, right: object) -> bool:
    if op is ast.Comparison.EQ:
        return left == right
    if op is ast.Comparison.NE:
        return left != right
    try:
        return bool(_ORDER[op](left, right))
    except TypeError:
        return False


def _strip_variable(node: ast.Expression, variable: str | None) -> ast.Expression:
    """``c/fullname`` inside ``any(c: …)`` → ``fullname`` on the child table."""
    match node:
        case ast.Property(path=path):
            return ast.Property(path[1:]) if variable is not None and path[0] == variable and len(path) > 1 else node
        case ast.Compare(op=op, left=left, right=right):
            return ast.Compare(op, _strip_variable(left, variable), _strip_variable(right, variable))
        case ast.And(left=left, right=right):
            return ast.And(_strip_variable(left, variable), _strip_variable(right, variable))
        case ast.Or(left=left, right=right):
            return ast.Or(_strip_variable(left, variable), _strip_variable(right, variable))
        case ast.Not(operand=operand):
            return ast.Not(_strip_variable(operand, variable))
        case ast.Call(name=name, args=args):
            return ast.Call(name, tuple(_strip_variable(a, variable) for a in args))
        case ast.Literal() | ast.QueryFunction() | ast.Lambda():
            return node
        case _:
            assert_never(node)


_ORDER: dict[ast.Comparison, Callable[[Any, Any], Any]] = {
    ast.Comparison.GT: operator.gt,
    ast.Comparison.GE: operator.ge,
    ast.Comparison.LT: operator.lt,
    ast.Comparison.LE: operator.le,
}
_MIRROR = {
    ast.Comparison.EQ: ast.Comparison.EQ,
    ast.Comparison.NE: ast.Comparison.NE,
    ast.Comparison.GT: ast.Comparison.LT,
    ast.Comparison.GE: ast.Comparison.LE,
    ast.Comparison.LT: ast.Comparison.GT,
    ast.Comparison.LE: ast.Comparison.GE,
}


def _not_found(entity: EntityDefinition, name: str) -> DataverseError:
    return DataverseError(errors.PROPERTY_NOT_FOUND, name=name[:100], entity=entity.logical_name)


def _invalid(detail: str) -> DataverseError:
    return DataverseError(errors.QUERY_INVALID, detail=detail)
