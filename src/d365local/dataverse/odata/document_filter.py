"""``$filter`` over JSON documents, for metadata queries (``EntityDefinitions``, ``Attributes``…).

Metadata supports only simple conditions in Dataverse: comparisons, and/or/not, enum literals. Functions such as
``startswith`` are refused as Dataverse refuses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_never

from d365local.dataverse.odata import filter_ast as ast


class UnsupportedMetadataFilter(ValueError):  # noqa: N818 - named after the condition, as Dataverse words it
    """A construct metadata queries do not support."""


def matches(expression: ast.Expression, document: Mapping[str, Any]) -> bool:
    match expression:
        case ast.And(left=left, right=right):
            return matches(left, document) and matches(right, document)
        case ast.Or(left=left, right=right):
            return matches(left, document) or matches(right, document)
        case ast.Not(operand=operand):
            return not matches(operand, document)
        case ast.Compare(op=op, left=left, right=right):
            return _compare(op, _value(left, document), _value(right, document))
        case ast.Call(name=name):
            raise UnsupportedMetadataFilter(f"The '{name}' function isn't supported for Metadata Entities")
        case ast.Literal() | ast.Property() | ast.QueryFunction() | ast.Lambda():
            raise UnsupportedMetadataFilter("Only comparisons joined by and/or/not are supported for Metadata Entities")
        case _:
            assert_never(expression)


def _compare(op: ast.Comparison, left: Any, right: Any) -> bool:
    if op is ast.Comparison.EQ:
        return bool(_same(left, right))
    if op is ast.Comparison.NE:
        return not _same(left, right)
    try:
        return bool(_ORDER[op](left, right))
    except TypeError:
        return False


def _value(node: ast.Expression, document: Mapping[str, Any]) -> Any:
    match node:
        case ast.Literal(value=value):
            return str(value) if value is not None and not isinstance(value, bool | int) else value
        case ast.Property(path=path):
            found: Any = document
            for part in path:
                found = found.get(part) if isinstance(found, Mapping) else None
            if isinstance(found, Mapping) and "Value" in found:
                return found["Value"]  # AttributeTypeName/Value, RequiredLevel/Value compare by their value
            return found
        case ast.Compare() | ast.And() | ast.Or() | ast.Not() | ast.Call() | ast.QueryFunction() | ast.Lambda():
            raise UnsupportedMetadataFilter("Only properties and literals can be compared in metadata queries")
        case _:
            assert_never(node)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right)


_ORDER = {
    ast.Comparison.GT: lambda a, b: a > b,
    ast.Comparison.GE: lambda a, b: a >= b,
    ast.Comparison.LT: lambda a, b: a < b,
    ast.Comparison.LE: lambda a, b: a <= b,
}
