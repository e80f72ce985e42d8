"""Records on the wire: request bodies → column values (validated against the metadata), rows → OData JSON.

Rendering follows the Web API: ``@odata.etag`` first, lookups as ``_x_value`` (GUID), money and decimals as JSON
numbers, datetimes ``YYYY-MM-DDTHH:MM:SSZ`` (date-only columns ``YYYY-MM-DD``), choices as integers, and the
formatted-value / lookup annotations when ``Prefer: odata.include-annotations`` asks for them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.query_options import Preferences
from d365local.dataverse.odata.resource_path import KeyValue, PathSyntaxError, Segment, parse_resource_path
from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType, Catalog, EntityDefinition

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
ASSOCIATED_NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"
_CONTENT_ID = re.compile(r"^\$(\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Binding:
    """A lookup set through ``x@odata.bind``: the target table and the target's id or alternate key."""

    lookup: str
    target: str
    record_id: str | None = None
    key: tuple[tuple[str, KeyValue], ...] = ()


@dataclass(frozen=True)
class RecordBody:
    values: dict[str, Any] = field(default_factory=dict)
    bindings: tuple[Binding, ...] = ()


def parse_body(entity: EntityDefinition, catalog: Catalog, document: object, *, creating: bool) -> RecordBody:
    """A JSON object from a POST/PATCH body → validated column values and lookup bindings."""
    if not isinstance(document, dict):
        raise _payload(entity, "The request body must be a JSON object describing the record.")
    values: dict[str, Any] = {}
    bindings: list[Binding] = []
    for key, value in document.items():
        if not isinstance(key, str):
            raise _payload(entity, "Property names must be strings.")
        if key.endswith("@odata.bind"):
            bindings.append(_binding(entity, catalog, key[: -len("@odata.bind")], value))
            continue
        if key.startswith("@") or "@" in key:
            continue  # @odata.type, @odata.etag, @odata.context and instance annotations carry no column value
        attribute = entity.column(key)
        if attribute is None or (attribute.is_primary_id and not creating):
            if attribute is None and key.startswith("_") and key.endswith("_value"):
                raise _payload(
                    entity, f"The property '{key}' is read-only: set a lookup with '{key[1:-6]}@odata.bind'."
                )
            if attribute is None:
                raise _payload(
                    entity,
                    f"The property '{key}' does not exist on type 'Microsoft.Dynamics.CRM.{entity.logical_name}'.",
                )
            raise _payload(entity, f"The primary key '{key}' cannot be changed.")
        if attribute.type.is_lookup:
            raise _payload(entity, f"Set the lookup '{key}' with '{key}@odata.bind': \"/<entityset>(<id>)\".")
        if not attribute.writable:
            raise _payload(entity, f"The property '{key}' is read-only.")
        values[key] = to_column_value(entity, attribute, value)
    return RecordBody(values, tuple(bindings))


def to_column_value(entity: EntityDefinition, attribute: AttributeDefinition, value: object) -> Any:
    """A JSON value as the column's Python value, or the Web API's validation error."""
    if value is None:
        return None
    kind = attribute.type
    name = attribute.logical_name
    if kind in (AttributeType.STRING, AttributeType.MEMO):
        if not isinstance(value, str):
            raise _cannot_convert(entity, value, "Edm.String", name)
        if not storable(value):
            raise _payload(
                entity, f"The value of '{name}' contains characters that cannot be stored (NUL or a surrogate)."
            )
        if attribute.max_length is not None and len(value) > attribute.max_length:
            raise DataverseError(
                errors.VALUE_TOO_LONG, attribute=name, entity=entity.logical_name, max_length=attribute.max_length
            )
        return value
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT) or kind.is_choice:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _cannot_convert(entity, value, "Edm.Int32", name)
        if kind.is_choice and attribute.options and attribute.option(value) is None:
            raise _out_of_range(entity, attribute, value)
        _check_range(entity, attribute, value)
        return value
    if kind in (AttributeType.MONEY, AttributeType.DECIMAL, AttributeType.DOUBLE):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise _cannot_convert(entity, value, "Edm.Decimal", name)
        _check_range(entity, attribute, value)
        return float(value) if kind is AttributeType.DOUBLE else Decimal(str(value))
    if kind is AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            raise _cannot_convert(entity, value, "Edm.Boolean", name)
        return value
    if kind is AttributeType.UNIQUEIDENTIFIER:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise _cannot_convert(entity, value, "Edm.Guid", name) from None
    if kind is AttributeType.DATETIME:
        return _datetime(entity, attribute, value)
    raise _payload(entity, f"The property '{name}' cannot be set.")


def storable(text: str) -> bool:
    """Text every database can store: valid UTF-8 (no lone surrogates) and no NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_range(entity: EntityDefinition, attribute: AttributeDefinition, value: float) -> None:
    low, high = attribute.min_value, attribute.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        raise _out_of_range(entity, attribute, value)


def _datetime(entity: EntityDefinition, attribute: AttributeDefinition, value: object) -> dt.date | dt.datetime:
    if isinstance(value, str):
        try:
            if attribute.date_only and _DATE.match(value):
                return dt.date.fromisoformat(value)
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            utc = moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment
            return utc.date() if attribute.date_only else utc.replace(microsecond=0)
    raise _cannot_convert(entity, value, "Edm.DateTimeOffset", attribute.logical_name)


def _binding(entity: EntityDefinition, catalog: Catalog, navigation: str, value: object) -> Binding:
    lookup_name, target_hint = navigation, None
    lookup = entity.column(navigation)
    named = next((r for r in catalog.many_to_one(entity.logical_name) if r.referencing_navigation == navigation), None)
    if lookup is None and named is not None:  # a relationship's own name for its lookup (``new_DeptId``)
        lookup_name, target_hint = named.referencing_attribute, named.referenced_entity
        lookup = entity.column(lookup_name)
    if lookup is None and "_" in navigation:
        lookup_name, target_hint = navigation.rsplit("_", 1)
        lookup = entity.column(lookup_name)
    if lookup is None or not lookup.type.is_lookup:
        raise DataverseError(errors.PROPERTY_NOT_FOUND, name=navigation[:100], entity=entity.logical_name)
    if value is None:
        return Binding(lookup_name, target_hint or "")  # clears the lookup
    if not isinstance(value, str):
        raise _payload(entity, f"'{navigation}@odata.bind' takes a record URL such as \"/accounts(<id>)\".")
    content = _CONTENT_ID.match(value.strip())
    if content:
        # $batch replaces the references it knows before the request runs: what is left refers to nothing.
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"Content-ID Reference: '${content.group(1)}' does not exist in the batch context.",
        )
    reference = record_reference(catalog, value)
    if isinstance(reference, str):
        raise _payload(entity, f"'{navigation}@odata.bind' {reference}, like \"/{_set_for(catalog, lookup)}(<id>)\".")
    target_entity, segment = reference
    if target_entity.logical_name not in lookup.targets or (target_hint and target_hint != target_entity.logical_name):
        raise _payload(entity, f"The lookup '{lookup_name}' cannot point at a {target_entity.logical_name}.")
    return Binding(
        lookup_name,
        target_entity.logical_name,
        record_id=str(segment.guid) if segment.guid else None,
        key=segment.named,
    )


def record_reference(catalog: Catalog, url: str) -> tuple[EntityDefinition, Segment] | str:
    """The table and key of a record URL (absolute, ``/accounts(<id>)`` or ``accounts(<id>)``), as ``@odata.bind``
    and ``@odata.id`` give them; otherwise what is wrong with it, for the caller's error."""
    path = urlsplit(url.strip()).path if "://" in url else url.strip()
    path = re.sub(r"^(?:.*?/api/data/v9\.\d/|/)", "", path)
    try:
        segments = parse_resource_path(path)
    except PathSyntaxError as exc:
        return f"is not a record URL ({exc})"
    entity = catalog.by_entity_set(segments[0].name) if len(segments) == 1 else None
    if entity is None or not segments[0].has_key:
        return "must name one record"
    return entity, segments[0]


def _set_for(catalog: Catalog, lookup: AttributeDefinition) -> str:
    target = catalog.by_logical_name(lookup.targets[0]) if lookup.targets else None
    return target.entity_set_name if target else "<entityset>"


def _cannot_convert(entity: EntityDefinition, value: object, edm: str, name: str) -> DataverseError:
    return _payload(
        entity, f"Cannot convert the literal '{str(value)[:50]}' to the expected type '{edm}' for '{name}'."
    )


def _out_of_range(entity: EntityDefinition, attribute: AttributeDefinition, value: object) -> DataverseError:
    return DataverseError(
        errors.INVALID_ARGUMENT,
        detail=f"A validation error occurred. The value {value} of '{attribute.logical_name}' on record of type "
        f"'{entity.logical_name}' is outside the valid range.",
    )


def _payload(entity: EntityDefinition, detail: str) -> DataverseError:
    return DataverseError(errors.PAYLOAD_INVALID, entity_set=entity.entity_set_name, detail=detail)


# -- rendering ----------------------------------------------------------------------------------------------------
def etag(version: int | None) -> str:
    return f'W/"{version or 0}"'


def render_record(
    entity: EntityDefinition,
    row: Mapping[str, Any],
    *,
    select: Sequence[str] | None,
    preferences: Preferences,
    lookup_names: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """One record as the Web API shows it; the primary id is always included. ``lookup_names`` maps (target
    table, id) to the target's primary name: a lookup's FormattedValue."""
    document: dict[str, Any] = {"@odata.etag": etag(row.get("versionnumber"))}
    for attribute in selected_attributes(entity, select):
        value = row.get(attribute.logical_name)
        if attribute.type.is_lookup:
            key = attribute.lookup_property
            if value is not None and preferences.annotations:
                target = row.get(attribute.type_column) or attribute.targets[0]
                name = (lookup_names or {}).get((str(target), str(value).lower()))
                if name is not None and preferences.wants(FORMATTED):
                    document[f"{key}@{FORMATTED}"] = name
                if preferences.wants(ASSOCIATED_NAVIGATION):
                    single = len(attribute.targets) == 1
                    navigation = attribute.logical_name if single else f"{attribute.logical_name}_{target}"
                    document[f"{key}@{ASSOCIATED_NAVIGATION}"] = navigation
                if preferences.wants(LOOKUP_LOGICAL_NAME):
                    document[f"{key}@{LOOKUP_LOGICAL_NAME}"] = target
            document[key] = value
            continue
        formatted = _formatted(attribute, value) if preferences.wants(FORMATTED) else None
        if formatted is not None:
            document[f"{attribute.logical_name}@{FORMATTED}"] = formatted
        document[attribute.logical_name] = json_value(attribute, value)
    return document


def resolve_name(entity: EntityDefinition, name: str) -> AttributeDefinition | None:
    """A ``$select`` name: a column's logical name, or ``_x_value`` of a lookup."""
    attribute = entity.column(name)
    if attribute is None and name.startswith("_") and name.endswith("_value"):
        attribute = entity.column(name[1:-6])
    return attribute


def selected_attributes(entity: EntityDefinition, select: Sequence[str] | None) -> list[AttributeDefinition]:
    """The columns a ``$select`` (None: all) shows, the primary id always among them."""
    if select is None or "*" in select:
        return list(entity.columns)
    wanted = []
    for name in select:
        attribute = resolve_name(entity, name)
        if attribute is None:
            raise DataverseError(errors.PROPERTY_NOT_FOUND, name=name[:100], entity=entity.logical_name)
        wanted.append(attribute)
    primary = entity.column(entity.primary_id)
    if primary is not None and primary not in wanted:
        wanted.append(primary)
    return wanted


def json_value(attribute: AttributeDefinition, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _formatted(attribute: AttributeDefinition, value: Any) -> str | None:
    if value is None:
        return None
    kind = attribute.type
    if kind.is_choice or kind is AttributeType.BOOLEAN:
        option = attribute.option(int(value))
        return option.label if option else str(value)
    if kind is AttributeType.MONEY:
        return f"${Decimal(value):,.2f}"
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT):
        return f"{int(value):,}"
    if kind is AttributeType.DATETIME:
        if isinstance(value, dt.datetime):
            return f"{value.month}/{value.day}/{value.year} {value.strftime('%I:%M %p').lstrip('0')}"
        return f"{value.month}/{value.day}/{value.year}"
    if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE):
        return f"{Decimal(str(value)):,.2f}"
    return None
