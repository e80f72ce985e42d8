"""``$filter`` literals as the Python values of the columns they are compared with, or Dataverse's errors.

A literal keeps its OData type in the syntax tree (``Edm.Int32``, ``Edm.String``, ``Edm.Guid``…); compared with a
column, it must become that column's type, or the request fails with the OData library's incompatible-types error,
as Dataverse answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType

SyntaxValue = bool | int | Decimal | str | uuid.UUID | dt.date | dt.datetime | None
"""A literal as parsed, with its OData type."""
LiteralValue = bool | int | float | Decimal | str | dt.date | dt.datetime | None
"""A literal as bound: the column's Python type (None is OData's null)."""

STRINGS = (AttributeType.STRING, AttributeType.MEMO, AttributeType.ENTITYNAME, AttributeType.MULTISELECTPICKLIST)
"""Text columns (a table's logical name, a multi-select's comma-separated values too): compared case-insensitively,
as in Dataverse."""

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def coerce(value: SyntaxValue, attribute: AttributeDefinition | None) -> LiteralValue:
    """A literal as the column's Python type, or the OData incompatible-types error (None: no column to match)."""
    if attribute is None:
        return str(value) if isinstance(value, uuid.UUID) else value
    kind = attribute.type
    try:
        if kind in STRINGS and isinstance(value, str):
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
    AttributeType.ENTITYNAME: "Edm.String",
    AttributeType.MULTISELECTPICKLIST: "Edm.String",
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
