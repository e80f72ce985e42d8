"""``$filter`` trees → SQLAlchemy expressions with bound parameters only; names checked against the metadata.

Property names never reach SQL text: each is looked up in the table's definition and becomes that table's Column
object; every literal becomes a bound parameter. String comparisons are case-insensitive, as in Dataverse.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, false, func, literal, not_, or_, select, true

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata import filter_ast as ast
from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType, Catalog, EntityDefinition

_STRINGS = (AttributeType.STRING, AttributeType.MEMO)
MAX_CONDITIONS = 500
"""Conditions in one and/or chain (SQLite refuses expressions nested about a thousand deep)."""
MAX_DAYS = 36500
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_ESCAPE = "\\"


@dataclass(frozen=True)
class FilterContext:
    """What a filter is compiled against."""

    catalog: Catalog
    tables: dict[str, Table]
    org_id: str
    user_id: str
    business_unit_id: str
    now: dt.datetime
    """Naive UTC, the clock's now (for Today, LastXDays…)."""


def compile_filter(expression: ast.Expression, entity: EntityDefinition, context: FilterContext) -> ColumnElement[bool]:
    return _Compiler(context, entity, context.tables[entity.logical_name]).boolean(expression)


def resolve_column(entity: EntityDefinition, table: Table, name: str) -> tuple[AttributeDefinition, Any]:
    """A property name (logical name, or ``_x_value`` of a lookup) → its definition and SQL column."""
    attribute = entity.attribute(name)
    if attribute is None and name.startswith("_") and name.endswith("_value"):
        candidate = entity.attribute(name[1:-6])
        attribute = candidate if candidate is not None and candidate.type.is_lookup else None
    elif attribute is not None and attribute.type.is_lookup:
        attribute = None  # a lookup is addressed as _x_value (or navigated as x/…), not by its bare name
    if attribute is None:
        raise DataverseError(errors.PROPERTY_NOT_FOUND, name=name[:100], entity=entity.logical_name)
    column = table.c[attribute.logical_name] if not attribute.is_primary_id else table.c[entity.primary_id]
    return attribute, column


class _Compiler:
    def __init__(self, context: FilterContext, entity: EntityDefinition, table: Table) -> None:
        self.context = context
        self.entity = entity
        self.table = table

    def boolean(self, node: ast.Expression) -> ColumnElement[bool]:
        if isinstance(node, ast.And):
            operands = _flatten(node, ast.And)
            if len(operands) > MAX_CONDITIONS:
                raise _invalid(f"The $filter has more than {MAX_CONDITIONS} conditions joined by 'and'.")
            return and_(*(self.boolean(n) for n in operands))
        if isinstance(node, ast.Or):
            operands = _flatten(node, ast.Or)
            if len(operands) > MAX_CONDITIONS:
                raise _invalid(f"The $filter has more than {MAX_CONDITIONS} conditions joined by 'or'.")
            membership = _as_membership(operands)
            if membership is not None:
                column_name, values = membership
                attribute, column = resolve_column(self.entity, self.table, column_name)
                return column.in_([_coerce(v, attribute) for v in values])  # type: ignore[no-any-return]
            return or_(*(self.boolean(n) for n in operands))
        if isinstance(node, ast.Not):
            return not_(self.boolean(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call) and node.name in ("contains", "startswith", "endswith"):
            return self.like(node)
        if isinstance(node, ast.QueryFunction):
            return self.query_function(node)
        if isinstance(node, ast.Lambda):
            return self.lambda_(node)
        if isinstance(node, ast.Literal) and isinstance(node.value, bool):
            return true() if node.value else false()
        if isinstance(node, ast.Property):
            attribute, column = self.property(node)
            if attribute.type is AttributeType.BOOLEAN:
                return column == true()  # type: ignore[no-any-return]
        raise _invalid("The $filter expression must be a condition (a comparison, function or and/or/not).")

    # -- properties -----------------------------------------------------------------------------------------
    def property(self, node: ast.Property) -> tuple[AttributeDefinition, Any]:
        if len(node.path) == 1:
            return resolve_column(self.entity, self.table, node.path[0])
        raise _invalid(
            f"Navigation in a comparison operand is only supported as nav/column = value: {'/'.join(node.path)}"
        )

    def operand(self, node: ast.Expression, attribute: AttributeDefinition | None) -> Any:
        if isinstance(node, ast.Literal):
            return literal(_coerce(node.value, attribute)) if node.value is not None else None
        if isinstance(node, ast.Property):
            return self.property(node)[1]
        if isinstance(node, ast.Call) and node.name in ("tolower", "toupper") and len(node.args) == 1:
            inner = self.operand(node.args[0], attribute)
            return func.lower(inner) if node.name == "tolower" else func.upper(inner)
        raise _invalid("Only columns, literals, tolower and toupper can be compared.")

    # -- comparisons ----------------------------------------------------------------------------------------
    def compare(self, node: ast.Compare) -> ColumnElement[bool]:
        left, right = node.left, node.right
        if isinstance(left, ast.Literal) and isinstance(right, ast.Literal):
            return true() if _literal_comparison(node.op, left.value, right.value) else false()
        if isinstance(left, ast.Literal) and not isinstance(right, ast.Literal):
            left, right = right, left
            node = ast.Compare(_MIRROR[node.op], left, right)
        if isinstance(left, ast.Property) and len(left.path) == 2:
            return self.navigation_compare(node, left)
        attribute = self._attribute_of(left)
        column = self.operand(left, None)
        value = self.operand(right, attribute)
        if value is None:
            if node.op is ast.Comparison.EQ:
                return column.is_(None)  # type: ignore[no-any-return]
            if node.op is ast.Comparison.NE:
                return column.is_not(None)  # type: ignore[no-any-return]
            raise _invalid("null can only be compared with eq or ne.")
        if attribute is not None and attribute.type in _STRINGS:
            column, value = func.lower(column), func.lower(value)
        comparison = _OPERATORS[node.op](column, value)
        if node.op is ast.Comparison.NE:
            # OData ne includes nulls ("name ne 'x'" matches rows without a name), SQL's <> does not.
            return or_(comparison, column.is_(None))
        return comparison  # type: ignore[no-any-return]

    def _attribute_of(self, node: ast.Expression) -> AttributeDefinition | None:
        if isinstance(node, ast.Property):
            return self.property(node)[0]
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Property):
            return self.property(node.args[0])[0]
        return None

    def navigation_compare(self, node: ast.Compare, path: ast.Property) -> ColumnElement[bool]:
        """``primarycontactid/fullname eq 'x'``: the lookup's target row must match."""
        lookup = self.entity.attribute(path.path[0])
        if lookup is None or not lookup.type.is_lookup or len(lookup.targets) != 1:
            raise DataverseError(errors.PROPERTY_NOT_FOUND, name=path.path[0][:100], entity=self.entity.logical_name)
        target = self.context.catalog.by_logical_name(lookup.targets[0])
        if target is None:
            raise DataverseError(errors.PROPERTY_NOT_FOUND, name=path.path[0][:100], entity=self.entity.logical_name)
        inner = _Compiler(self.context, target, self.context.tables[target.logical_name])
        condition = inner.compare(ast.Compare(node.op, ast.Property(path.path[1:]), node.right))
        target_table = inner.table
        subquery = select(target_table.c[target.primary_id]).where(
            target_table.c.orgid == self.context.org_id, condition
        )
        return self.table.c[lookup.logical_name].in_(subquery)

    def like(self, node: ast.Call) -> ColumnElement[bool]:
        if len(node.args) != 2 or not isinstance(node.args[1], ast.Literal) or not isinstance(node.args[1].value, str):
            raise _invalid(f"{node.name} takes a column and a string.")
        attribute = self._attribute_of(node.args[0])
        if attribute is None or attribute.type not in _STRINGS:
            raise _invalid(f"{node.name} works on text columns.")
        column = self.operand(node.args[0], attribute)
        text = (
            node.args[1]
            .value.lower()
            .replace(_ESCAPE, _ESCAPE * 2)
            .replace("%", _ESCAPE + "%")
            .replace("_", _ESCAPE + "_")
        )
        pattern = {"contains": f"%{text}%", "startswith": f"{text}%", "endswith": f"%{text}"}[node.name]
        return func.lower(column).like(literal(pattern), escape=_ESCAPE)

    # -- Microsoft.Dynamics.CRM query functions ---------------------------------------------------------------
    def query_function(self, node: ast.QueryFunction) -> ColumnElement[bool]:
        name = node.parameter("PropertyName")
        if not isinstance(name, ast.Literal) or not isinstance(name.value, str):
            raise _invalid(f"Microsoft.Dynamics.CRM.{node.name} needs PropertyName='<column>'.")
        attribute, column = resolve_column(self.entity, self.table, name.value)
        handler = _QUERY_FUNCTIONS.get(node.name.lower())
        if handler is None:
            raise DataverseError(errors.NOT_SUPPORTED, feature=f"The query function Microsoft.Dynamics.CRM.{node.name}")
        return handler(self, node, attribute, column)

    def values(self, node: ast.QueryFunction, attribute: AttributeDefinition) -> list[Any]:
        raw = node.parameter("PropertyValues")
        if raw is None:
            single = node.parameter("PropertyValue")
            raw = (single,) if isinstance(single, ast.Literal) else None
        if not isinstance(raw, tuple) or not raw:
            raise _invalid(f"Microsoft.Dynamics.CRM.{node.name} needs PropertyValues=[…].")
        return [_coerce(v.value, attribute) for v in raw]

    def number(self, node: ast.QueryFunction) -> int:
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

    # -- lambdas ------------------------------------------------------------------------------------------------
    def lambda_(self, node: ast.Lambda) -> ColumnElement[bool]:
        if len(node.navigation) != 1:
            raise _invalid("any/all work on a collection-valued navigation property of the table.")
        relationship = next(
            (
                r
                for r in self.context.catalog.one_to_many(self.entity.logical_name)
                if r.referenced_navigation == node.navigation[0]
            ),
            None,
        )
        if relationship is None:
            raise DataverseError(
                errors.PROPERTY_NOT_FOUND, name=node.navigation[0][:100], entity=self.entity.logical_name
            )
        child_entity = self.context.catalog.by_logical_name(relationship.referencing_entity)
        assert child_entity is not None
        child = self.context.tables[child_entity.logical_name].alias()
        joined = and_(
            child.c.orgid == self.context.org_id,
            child.c[relationship.referencing_attribute] == self.table.c[self.entity.primary_id],
        )
        if node.predicate is None:
            return exists(select(literal(1)).select_from(child).where(joined))
        inner = _Compiler(self.context, child_entity, child)  # type: ignore[arg-type]
        predicate = inner.boolean(_strip_variable(node.predicate, node.variable))
        if node.quantifier == "any":
            return exists(select(literal(1)).select_from(child).where(joined, predicate))
        return not_(exists(select(literal(1)).select_from(child).where(joined, not_(predicate))))


def _as_membership(operands: list[ast.Expression]) -> tuple[str, list[object]] | None:
    """``c eq 1 or c eq 2 or …`` on one column → (c, [1, 2, …]), compiled as one IN (SQLite limits expression depth)."""
    column: str | None = None
    values: list[object] = []
    for operand in operands:
        if not (
            isinstance(operand, ast.Compare)
            and operand.op is ast.Comparison.EQ
            and isinstance(operand.left, ast.Property)
            and len(operand.left.path) == 1
            and isinstance(operand.right, ast.Literal)
            and operand.right.value is not None
        ):
            return None
        if column is not None and operand.left.path[0] != column:
            return None
        column = operand.left.path[0]
        values.append(operand.right.value)
    return (column, values) if column is not None and len(values) > 1 else None


def _literal_comparison(op: ast.Comparison, left: object, right: object) -> bool:
    if op is ast.Comparison.EQ:
        return left == right
    if op is ast.Comparison.NE:
        return left != right
    try:
        return bool(_OPERATORS[op](left, right))
    except TypeError:
        return False


def _flatten(node: ast.Expression, kind: type[ast.And] | type[ast.Or]) -> list[ast.Expression]:
    """The operands of a chain of one operator, without recursion: ``a or b or c …`` nests as deep as it is long."""
    operands: list[ast.Expression] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, kind):
            stack += [current.right, current.left]
        else:
            operands.append(current)
    return operands


def _strip_variable(node: ast.Expression, variable: str | None) -> ast.Expression:
    """``c/fullname`` inside ``any(c: …)`` → ``fullname`` on the child table."""
    if isinstance(node, ast.Property):
        if variable is not None and node.path[0] == variable and len(node.path) > 1:
            return ast.Property(node.path[1:])
        return node
    if isinstance(node, ast.Compare):
        return ast.Compare(node.op, _strip_variable(node.left, variable), _strip_variable(node.right, variable))
    if isinstance(node, ast.And):
        return ast.And(_strip_variable(node.left, variable), _strip_variable(node.right, variable))
    if isinstance(node, ast.Or):
        return ast.Or(_strip_variable(node.left, variable), _strip_variable(node.right, variable))
    if isinstance(node, ast.Not):
        return ast.Not(_strip_variable(node.operand, variable))
    if isinstance(node, ast.Call):
        return ast.Call(node.name, tuple(_strip_variable(a, variable) for a in node.args))
    return node


def _in(c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any) -> ColumnElement[bool]:
    return column.in_(c.values(node, attribute))  # type: ignore[no-any-return]


def _not_in(c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any) -> ColumnElement[bool]:
    return or_(column.not_in(c.values(node, attribute)), column.is_(None))


def _between(c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any) -> ColumnElement[bool]:
    values = c.values(node, attribute)
    if len(values) != 2:
        raise _invalid("Between needs two PropertyValues.")
    return column.between(values[0], values[1])  # type: ignore[no-any-return]


def _day_range(
    days_from: int, days_to: int
) -> Callable[[_Compiler, ast.QueryFunction, AttributeDefinition, Any], ColumnElement[bool]]:
    def handler(
        c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any
    ) -> ColumnElement[bool]:
        today = c.context.now.replace(hour=0, minute=0, second=0, microsecond=0)
        return and_(column >= today + dt.timedelta(days=days_from), column < today + dt.timedelta(days=days_to))

    return handler


def _last_x_days(
    c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any
) -> ColumnElement[bool]:
    today = c.context.now.replace(hour=0, minute=0, second=0, microsecond=0)
    return and_(column >= today - dt.timedelta(days=c.number(node)), column <= c.context.now)


def _next_x_days(
    c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any
) -> ColumnElement[bool]:
    today = c.context.now.replace(hour=0, minute=0, second=0, microsecond=0)
    return and_(column >= c.context.now, column < today + dt.timedelta(days=c.number(node) + 1))


def _on(
    c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any, *, op: str
) -> ColumnElement[bool]:
    (day,) = c.values(node, AttributeDefinition("date", AttributeType.DATETIME, "", date_only=True))[:1]
    start = (
        dt.datetime.combine(day, dt.time()) if isinstance(day, dt.date) and not isinstance(day, dt.datetime) else day
    )
    end = start + dt.timedelta(days=1)
    conditions: dict[str, ColumnElement[bool]] = {
        "on": and_(column >= start, column < end),
        "after": column >= start,
        "before": column < end,
    }
    return conditions[op]


def _user(c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any) -> ColumnElement[bool]:
    return column == c.context.user_id  # type: ignore[no-any-return]


def _not_user(
    c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any
) -> ColumnElement[bool]:
    return or_(column != c.context.user_id, column.is_(None))


def _business(
    c: _Compiler, node: ast.QueryFunction, attribute: AttributeDefinition, column: Any
) -> ColumnElement[bool]:
    return column == c.context.business_unit_id  # type: ignore[no-any-return]


_QUERY_FUNCTIONS: dict[str, Callable[[_Compiler, ast.QueryFunction, AttributeDefinition, Any], ColumnElement[bool]]] = {
    "in": _in,
    "notin": _not_in,
    "between": _between,
    "notbetween": lambda c, n, a, col: not_(_between(c, n, a, col)),
    "today": _day_range(0, 1),
    "yesterday": _day_range(-1, 0),
    "tomorrow": _day_range(1, 2),
    "lastxdays": _last_x_days,
    "nextxdays": _next_x_days,
    "on": lambda c, n, a, col: _on(c, n, a, col, op="on"),
    "onorafter": lambda c, n, a, col: _on(c, n, a, col, op="after"),
    "onorbefore": lambda c, n, a, col: _on(c, n, a, col, op="before"),
    "equaluserid": _user,
    "notequaluserid": _not_user,
    "equalbusinessid": _business,
}

_OPERATORS: dict[ast.Comparison, Callable[[Any, Any], Any]] = {
    ast.Comparison.EQ: lambda a, b: a == b,
    ast.Comparison.NE: lambda a, b: a != b,
    ast.Comparison.GT: lambda a, b: a > b,
    ast.Comparison.GE: lambda a, b: a >= b,
    ast.Comparison.LT: lambda a, b: a < b,
    ast.Comparison.LE: lambda a, b: a <= b,
}
_MIRROR = {
    ast.Comparison.EQ: ast.Comparison.EQ,
    ast.Comparison.NE: ast.Comparison.NE,
    ast.Comparison.GT: ast.Comparison.LT,
    ast.Comparison.GE: ast.Comparison.LE,
    ast.Comparison.LT: ast.Comparison.GT,
    ast.Comparison.LE: ast.Comparison.GE,
}


def _coerce(value: object, attribute: AttributeDefinition | None) -> Any:
    """A literal as the column's Python type, or the OData incompatible-types error."""
    if attribute is None:
        return str(value) if isinstance(value, uuid.UUID) else value
    kind = attribute.type
    try:
        if kind in _STRINGS and isinstance(value, str):
            if "\x00" in value or not _encodable(value):
                raise _invalid(
                    f"A text value for '{attribute.logical_name}' contains characters that cannot be stored."
                )
            return value
        if (kind is AttributeType.UNIQUEIDENTIFIER or kind.is_lookup) and isinstance(value, uuid.UUID | str):
            return str(uuid.UUID(str(value)))
        numeric = isinstance(value, int | Decimal | str) and not isinstance(value, bool)
        if (kind in (AttributeType.INTEGER, AttributeType.BIGINT) or kind.is_choice) and numeric:
            number = Decimal(str(value))
            low, high = _INT64 if kind is AttributeType.BIGINT else _INT32
            if number == int(number):
                if not low <= int(number) <= high:
                    raise _invalid(
                        f"The value {str(value)[:40]} is out of range for the column '{attribute.logical_name}'."
                    )
                return int(number)
        if kind in (AttributeType.MONEY, AttributeType.DECIMAL, AttributeType.DOUBLE) and numeric:
            number = Decimal(str(value))
            return float(number) if kind is AttributeType.DOUBLE else number
        if kind is AttributeType.BOOLEAN and isinstance(value, bool | int):
            return bool(value)
        if kind is AttributeType.DATETIME:
            return _as_datetime(value, attribute.date_only)
    except (ValueError, InvalidOperation, TypeError):
        pass
    raise _invalid(
        f"A binary operator with incompatible types was detected. Found operand types '{_edm(attribute)}' and "
        f"'{_edm_of(value)}' for the column '{attribute.logical_name}'."
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _as_datetime(value: object, date_only: bool) -> dt.date | dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return moment.date() if date_only else moment
    if isinstance(value, dt.date):
        return value if date_only else dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        return _as_datetime(dt.datetime.fromisoformat(value.replace("Z", "+00:00")), date_only)
    raise TypeError


_EDM = {
    AttributeType.STRING: "Edm.String",
    AttributeType.MEMO: "Edm.String",
    AttributeType.INTEGER: "Edm.Int32",
    AttributeType.BIGINT: "Edm.Int64",
    AttributeType.MONEY: "Edm.Decimal",
    AttributeType.DECIMAL: "Edm.Decimal",
    AttributeType.DOUBLE: "Edm.Double",
    AttributeType.BOOLEAN: "Edm.Boolean",
    AttributeType.DATETIME: "Edm.DateTimeOffset",
    AttributeType.UNIQUEIDENTIFIER: "Edm.Guid",
}


def _edm(attribute: AttributeDefinition) -> str:
    return "Edm.Guid" if attribute.type.is_lookup else _EDM.get(attribute.type, "Edm.Int32")


def _edm_of(value: object) -> str:
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, int):
        return "Edm.Int32"
    if isinstance(value, Decimal):
        return "Edm.Decimal"
    if isinstance(value, uuid.UUID):
        return "Edm.Guid"
    if isinstance(value, dt.datetime):
        return "Edm.DateTimeOffset"
    if isinstance(value, dt.date):
        return "Edm.Date"
    return "Edm.String"


def _invalid(detail: str) -> DataverseError:
    return DataverseError(errors.QUERY_INVALID, detail=detail)
