"""``$filter`` over JSON documents, for metadata queries (``EntityDefinitions``, ``Attributes``…).

Metadata supports only simple conditions in Dataverse: comparisons, and/or/not, enum literals. Functions such as
``startswith`` are refused as Dataverse refuses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d365local.dataverse.odata import filter_ast as ast


class UnsupportedMetadataFilter(ValueError):  # noqa: N818 - named after the condition, as Dataverse words it
    """A construct metadata queries do not support."""


def matches(expression: ast.Expression, document: Mapping[str, Any]) -> bool:
    if isinstance(expression, ast.And):
        return matches(expression.left, document) and matches(expression.right, document)
    if isinstance(expression, ast.Or):
        return matches(expression.left, document) or matches(expression.right, document)
    if isinstance(expression, ast.Not):
        return not matches(expression.operand, document)
    if isinstance(expression, ast.Compare):
        left, right = _value(expression.left, document), _value(expression.right, document)
        if expression.op is ast.Comparison.EQ:
            return bool(_same(left, right))
        if expression.op is ast.Comparison.NE:
            return not _same(left, right)
        try:
            return bool(_ORDER[expression.op](left, right))
        except TypeError:
            return False
    if isinstance(expression, ast.Call):
        raise UnsupportedMetadataFilter(f"The '{expression.name}' function isn't supported for Metadata Entities")
    raise UnsupportedMetadataFilter("Only comparisons joined by and/or/not are supported for Metadata Entities")


def _value(node: ast.Expression, document: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Literal):
        return str(node.value) if node.value is not None and not isinstance(node.value, bool | int) else node.value
    if isinstance(node, ast.Property):
        value: Any = document
        for part in node.path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, Mapping) and "Value" in value:
            return value["Value"]  # AttributeTypeName/Value, RequiredLevel/Value compare by their value
        return value
    raise UnsupportedMetadataFilter("Only properties and literals can be compared in metadata queries")


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
