"""A whole schema brought into an organization at once: a solution zip (``schema import``), another environment's
metadata (``schema pull``), and the organization's customizations written back as a solution (``schema export``).

Pure functions. :func:`import_schema` merges what comes in into what the organization has, by Dataverse's rules for
single changes (``domain.customization``), as an unmanaged solution import does:

- a table, column, key, relationship or global choice that the organization lacks is created;
- one it already has with the same name and kind is taken as it comes (labels, lengths, ranges, options, cascades,
  navigation names: the incoming definition wins), so importing a newer version of a solution updates it;
- one it has with the same name but another kind (a column of another type or date kind, a table owned otherwise or
  with another primary column or entity set, a relationship between other tables, a key over other columns) is a
  :class:`DataverseError` naming both — nothing of the import is kept;
- nothing is ever deleted, and importing the same schema twice changes nothing the second time.

Money columns get their ``_base`` twin as ``customization.add_column`` gives it (an incoming twin is not read).
:func:`from_metadata` reads the JSON documents the metadata Web API returns (``EntityDefinitions`` with the full
typed documents of their custom columns, their keys and relationships, ``GlobalOptionSetDefinitions``) into
customizations, leaving out — with a note saying why — what cannot live in this organization (a table of an
ownership d365local does not have, a column of a type that cannot be created, a lookup to a table it does not have).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.domain import customization
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.metadata_bodies import label_text, parse_attribute, parse_key, parse_option_set
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    CascadeConfiguration,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
    OptionSetDefinition,
    RelationshipDefinition,
)
from d365local.dataverse.schema.solution import SolutionSchema, object_type_code, system_columns

DEFAULT_VERSION = "1.0.0.0"
DEFAULT_OPTION_VALUE_PREFIX = 10000
_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9]{1,7})_")


def _conflict(detail: str) -> DataverseError:
    return DataverseError(errors.INVALID_ARGUMENT, detail=detail)


# --- solutions ------------------------------------------------------------------------------------------------------


def from_solution(solution: SolutionSchema) -> Customizations:
    """The customizations a solution carries: its tables (with their keys), the columns and keys it adds to other
    tables, its global choices and relationships."""
    defined = {t.logical_name for t in solution.tables}
    return Customizations(
        tables=solution.tables,
        columns=dict(solution.columns),
        keys={table: keys for table, keys in solution.keys.items() if table not in defined and keys},
        option_sets=solution.option_sets,
        one_to_many=solution.one_to_many,
        many_to_many=solution.many_to_many,
    )


def to_solution(
    custom: Customizations,
    *,
    unique_name: str,
    publisher_prefix: str | None = None,
    publisher_unique_name: str | None = None,
    version: str = DEFAULT_VERSION,
    option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX,
) -> SolutionSchema:
    """An unmanaged solution holding ``custom``. The publisher's prefix defaults to the one most of the custom names
    carry (``new`` when there are none); its unique name to the prefix."""
    prefix = publisher_prefix or customization_prefix(custom)
    keys: dict[str, tuple[KeyDefinition, ...]] = {t.logical_name: t.keys for t in custom.tables if t.keys}
    keys.update({table: found for table, found in custom.keys.items() if found})
    return SolutionSchema(
        unique_name=unique_name,
        version=version,
        managed=False,
        publisher_prefix=prefix,
        publisher_unique_name=publisher_unique_name or prefix,
        option_value_prefix=option_value_prefix,
        tables=custom.tables,
        columns=dict(custom.columns),
        keys=keys,
        option_sets=custom.option_sets,
        one_to_many=custom.one_to_many,
        many_to_many=custom.many_to_many,
    )


def customization_prefix(custom: Customizations) -> str:
    """The customization prefix most custom names carry (tables, columns, choices); ``new`` when there are none."""
    names = [t.schema_name for t in custom.tables]
    names += [c.schema_name for columns in custom.columns.values() for c in columns]
    names += [o.name for o in custom.option_sets]
    counts: dict[str, int] = {}
    for name in names:
        matched = _PREFIX.match(name)
        if matched:
            counts[matched[1].lower()] = counts.get(matched[1].lower(), 0) + 1
    if not counts:
        return customization.DEFAULT_PREFIX
    return max(sorted(counts), key=lambda prefix: counts[prefix])


def summary(custom: Customizations) -> dict[str, int]:
    """How much a set of customizations holds, for people: tables, columns on other tables, keys, choices,
    relationships."""
    return {
        "tables": len(custom.tables),
        "columns": sum(len(c) for c in custom.columns.values()),
        "keys": sum(len(t.keys) for t in custom.tables) + sum(len(k) for k in custom.keys.values()),
        "optionSets": len(custom.option_sets),
        "oneToMany": len(custom.one_to_many),
        "manyToMany": len(custom.many_to_many),
    }


# --- merging --------------------------------------------------------------------------------------------------------


def import_schema(custom: Customizations, base: Catalog, incoming: Customizations) -> Customizations:
    """``custom`` (an organization's customizations of ``base``) with ``incoming`` merged in (see the module's
    docstring). Raises :class:`DataverseError` for a conflict or a definition Dataverse would refuse."""
    result = custom
    for option_set in incoming.option_sets:
        result = _merge_option_set(result, base, option_set)
    for table in incoming.tables:
        result = _merge_table(result, base, table)
    for name, columns in incoming.columns.items():
        for column in _without_money_twins(columns):
            result = _merge_column(result, base, name, column)
    for name, keys in incoming.keys.items():
        for key in keys:
            result = _merge_key(result, base, name, key)
    for relationship in incoming.one_to_many:
        result = _merge_one_to_many(result, base, relationship)
    for many in incoming.many_to_many:
        result = _merge_many_to_many(result, base, many)
    _check_lookups(result, base)
    return result


def _merge_option_set(custom: Customizations, base: Catalog, option_set: OptionSetDefinition) -> Customizations:
    wanted = option_set.name.lower()
    present = next((o for o in custom.option_sets if o.name.lower() == wanted), None)
    if present is None:
        return customization.add_option_set(custom, custom.apply_to(base), option_set)
    updated = dataclasses.replace(option_set, name=present.name, is_custom=present.is_custom)
    if updated == present:
        return custom
    option_sets = tuple(updated if o is present else o for o in custom.option_sets)

    def refresh(attribute: AttributeDefinition) -> AttributeDefinition:
        if (attribute.option_set_name or "").lower() == wanted:
            return dataclasses.replace(attribute, options=updated.options)
        return attribute

    return _map_columns(dataclasses.replace(custom, option_sets=option_sets), refresh)


def _map_columns(
    custom: Customizations, change: Callable[[AttributeDefinition], AttributeDefinition]
) -> Customizations:
    tables = tuple(dataclasses.replace(t, attributes=tuple(change(a) for a in t.attributes)) for t in custom.tables)
    columns = {name: tuple(change(c) for c in found) for name, found in custom.columns.items()}
    return dataclasses.replace(custom, tables=tables, columns=columns)


def _merge_table(custom: Customizations, base: Catalog, table: EntityDefinition) -> Customizations:
    catalog = custom.apply_to(base)
    name = table.logical_name
    present = catalog.by_logical_name(name)
    if present is None:
        return _create_table(custom, base, catalog, table)
    own = next((t for t in custom.tables if t.logical_name == name), None)
    if own is None:
        raise _conflict(
            f"The table {name} is defined as a new table, but {name} is a built-in table here: only its custom "
            "columns and keys can be imported."
        )
    for what, mine, theirs in (
        ("ownership", own.ownership, table.ownership),
        ("primary id column", own.primary_id, table.primary_id),
        ("primary name column", own.primary_name, table.primary_name),
        ("entity set name", own.entity_set_name, table.entity_set_name),
    ):
        if mine != theirs:
            raise _conflict(
                f"The table {name} exists with the {what} {mine}; the incoming table {name} has {theirs}. Delete "
                "the table first or rename one of them."
            )
    relabelled = dataclasses.replace(
        own,
        display_name=table.display_name or own.display_name,
        display_collection_name=table.display_collection_name or own.display_collection_name,
        description=table.description or own.description,
        is_activity=table.is_activity,
        has_notes=table.has_notes or own.has_notes,
        has_activities=table.has_activities or own.has_activities,
    )
    if relabelled != own:
        custom = dataclasses.replace(custom, tables=tuple(relabelled if t is own else t for t in custom.tables))
    for column in _without_money_twins(table.attributes):
        custom = _merge_column(custom, base, name, column)
    for key in table.keys:
        custom = _merge_key(custom, base, name, key)
    return custom


def _create_table(custom: Customizations, base: Catalog, catalog: Catalog, table: EntityDefinition) -> Customizations:
    name = table.logical_name
    customization.check_custom_name(table.schema_name, "entity")
    if catalog.by_entity_set(table.entity_set_name) is not None:
        raise _conflict(f"The table {name}'s entity set name {table.entity_set_name} is taken by another table.")
    if table.ownership not in ("UserOwned", "OrganizationOwned"):
        raise _conflict(f"The table {name} is {table.ownership}: d365local creates UserOwned and OrganizationOwned "
                        "tables only.")  # fmt: skip
    if table.primary_name and _attribute(table, table.primary_name) is None:
        raise _conflict(
            f"The table {name} names {table.primary_name} as its primary name column but has no such column."
        )
    seen: dict[str, AttributeDefinition] = {}
    for attribute in _without_money_twins(table.attributes):
        if attribute.logical_name in seen:
            raise DataverseError(
                errors.DUPLICATE_ATTRIBUTE_SCHEMA_NAME,
                detail=f"The table {name} lists the column {attribute.logical_name} twice.",
            )
        if attribute.is_custom:
            customization.check_custom_name(attribute.schema_name, "attribute")
        seen[attribute.logical_name] = _with_global_options(catalog, attribute)
    attributes: list[AttributeDefinition] = []
    for attribute in seen.values():
        attributes.append(attribute)
        if attribute.type is AttributeType.MONEY and f"{attribute.logical_name}_base" not in seen:
            attributes.append(_money_twin(attribute))
    taken = {e.object_type_code for e in catalog.entities}
    code = table.object_type_code
    while code in taken:
        code = 10000 + (code - 10000 + 1) % 90000
    created = dataclasses.replace(table, attributes=tuple(attributes), keys=(), object_type_code=code, is_custom=True)
    custom = dataclasses.replace(custom, tables=(*custom.tables, created))
    for key in table.keys:
        custom = customization.add_key(custom, custom.apply_to(base), name, key)
    return custom


def _without_money_twins(columns: Iterable[AttributeDefinition]) -> tuple[AttributeDefinition, ...]:
    """The columns without the ``_base`` twins of Money columns among them: Dataverse makes those."""
    listed = tuple(columns)
    money = {c.logical_name for c in listed if c.type is AttributeType.MONEY}
    return tuple(
        c
        for c in listed
        if not (c.type is AttributeType.MONEY and c.logical_name.endswith("_base") and c.logical_name[:-5] in money)
    )


def _money_twin(attribute: AttributeDefinition) -> AttributeDefinition:
    """The ``_base`` column of a Money column, as ``customization.add_column`` makes it."""
    return dataclasses.replace(
        attribute,
        logical_name=f"{attribute.logical_name}_base",
        schema_name=f"{attribute.schema_name}_Base",
        display_name=f"{attribute.display_name} (Base)",
        valid_for_create=False,
        valid_for_update=False,
        writable=False,
        required=False,
        required_level="None",
    )


def _with_global_options(catalog: Catalog, attribute: AttributeDefinition) -> AttributeDefinition:
    if attribute.option_set_name is None:
        return attribute
    wanted = attribute.option_set_name.lower()
    found = next((o for o in catalog.option_sets if o.name.lower() == wanted), None)
    if found is None:
        raise _conflict(
            f"The column {attribute.logical_name} uses the global choice {attribute.option_set_name}, which neither "
            "the organization nor the incoming schema has."
        )
    return dataclasses.replace(attribute, option_set_name=found.name, options=found.options)


def _attribute(entity: EntityDefinition, name: str) -> AttributeDefinition | None:
    """The entity's attribute of that name, read from its attribute list (``EntityDefinition.attribute`` answers
    from an index that ``dataclasses.replace`` shares between a table and its copies)."""
    return next((a for a in entity.attributes if a.logical_name == name), None)


def _same_kind(present: AttributeDefinition, incoming: AttributeDefinition) -> bool:
    if present.type is not incoming.type:
        return False
    return present.type is not AttributeType.DATETIME or present.date_only == incoming.date_only


def _kind(attribute: AttributeDefinition) -> str:
    if attribute.type is AttributeType.DATETIME:
        return "DateTime (date only)" if attribute.date_only else "DateTime"
    return str(attribute.type.value)


def _merge_column(custom: Customizations, base: Catalog, table: str, column: AttributeDefinition) -> Customizations:
    catalog = custom.apply_to(base)
    entity = catalog.by_logical_name(table)
    if entity is None:
        raise _conflict(
            f"The column {table}.{column.logical_name} is on the table {table}, which this organization does not have "
            "(d365local has the standard tables and the organization's custom ones)."
        )
    present = _attribute(entity, column.logical_name)
    if present is None:
        if column.is_custom:
            return customization.add_column(custom, catalog, table, column)
        return _append_system_column(custom, table, column)
    if not _same_kind(present, column):
        raise _conflict(
            f"The column {table}.{column.logical_name} exists as {_kind(present)}; the incoming column is "
            f"{_kind(column)}. Delete the column first or rename one of them."
        )
    if not present.is_custom or not column.is_custom:
        return custom  # a column Dataverse made: nothing of it is the import's to change
    incoming = _with_global_options(catalog, column)
    wanted = dataclasses.replace(
        incoming,
        type=present.type,
        schema_name=present.schema_name,
        is_primary_name=present.is_primary_name,
        is_custom=True,
        targets=present.targets or incoming.targets,
        options=incoming.options or present.options,
    )
    if wanted == present:
        return custom
    return customization.update_column(custom, catalog, table, wanted)


def _append_system_column(custom: Customizations, table: str, column: AttributeDefinition) -> Customizations:
    """A column Dataverse gives a table (a system column) that an organization's custom table lacks."""
    own = next((t for t in custom.tables if t.logical_name == table), None)
    if own is None:
        return custom  # a built-in table has its own system columns
    grown = dataclasses.replace(own, attributes=(*own.attributes, column))
    return dataclasses.replace(custom, tables=tuple(grown if t is own else t for t in custom.tables))


def _merge_key(custom: Customizations, base: Catalog, table: str, key: KeyDefinition) -> Customizations:
    catalog = custom.apply_to(base)
    entity = catalog.by_logical_name(table)
    if entity is None:
        raise _conflict(f"The key {key.schema_name} is on the table {table}, which this organization does not have.")
    present = next((k for k in entity.keys if k.logical_name == key.logical_name), None)
    if present is None:
        return customization.add_key(custom, catalog, table, key)
    if present.attributes != key.attributes:
        raise _conflict(
            f"The key {table}.{key.schema_name} exists over ({', '.join(present.attributes)}); the incoming key is "
            f"over ({', '.join(key.attributes)}). Delete the key first or rename one of them."
        )
    return custom


def _merge_one_to_many(custom: Customizations, base: Catalog, relationship: RelationshipDefinition) -> Customizations:
    catalog = custom.apply_to(base)
    wanted = relationship.schema_name.lower()
    own = next((r for r in custom.one_to_many if r.schema_name.lower() == wanted), None)
    if own is not None:
        _same_ends(own.key, relationship)
        updated = dataclasses.replace(relationship, schema_name=own.schema_name)
        if updated == own:
            return custom
        return dataclasses.replace(custom, one_to_many=tuple(updated if r is own else r for r in custom.one_to_many))
    builtin = next((r for r in base.relationships if r.schema_name.lower() == wanted), None)
    if builtin is not None:
        _same_ends(builtin.key, relationship)
        return custom  # Dataverse's own relationship
    for name in (relationship.referenced_entity, relationship.referencing_entity):
        if catalog.by_logical_name(name) is None:
            raise _conflict(
                f"The relationship {relationship.schema_name} involves the table {name}, which this organization does "
                "not have."
            )
    referencing = catalog.by_logical_name(relationship.referencing_entity)
    assert referencing is not None
    lookup = _attribute(referencing, relationship.referencing_attribute)
    if lookup is None or not lookup.type.is_lookup:
        raise _conflict(
            f"The relationship {relationship.schema_name} uses {relationship.referencing_entity}."
            f"{relationship.referencing_attribute} as its lookup, but that is not a lookup column of the table."
        )
    taken = next((r for r in custom.one_to_many if r.key == relationship.key), None)
    if taken is not None:
        raise _conflict(
            f"The lookup {relationship.referencing_entity}.{relationship.referencing_attribute} to "
            f"{relationship.referenced_entity} belongs to the relationship {taken.schema_name} here; the incoming "
            f"relationship is {relationship.schema_name}."
        )
    if relationship.referenced_entity not in lookup.targets:
        custom = _with_target(custom, relationship.referencing_entity, lookup, relationship.referenced_entity)
    return dataclasses.replace(custom, one_to_many=(*custom.one_to_many, relationship))


def _with_target(custom: Customizations, table: str, lookup: AttributeDefinition, target: str) -> Customizations:
    """A custom lookup that a relationship points at one more table."""
    if not lookup.is_custom:
        raise _conflict(
            f"The lookup {table}.{lookup.logical_name} cannot point at {target}: it is not a custom column."
        )
    widened = dataclasses.replace(lookup, targets=(*lookup.targets, target))

    def widen(columns: tuple[AttributeDefinition, ...]) -> tuple[AttributeDefinition, ...]:
        return tuple(widened if c.logical_name == lookup.logical_name else c for c in columns)

    own = next((t for t in custom.tables if t.logical_name == table), None)
    if own is not None:
        grown = dataclasses.replace(own, attributes=widen(own.attributes))
        return dataclasses.replace(custom, tables=tuple(grown if t is own else t for t in custom.tables))
    return dataclasses.replace(custom, columns={**custom.columns, table: widen(custom.columns.get(table, ()))})


def _same_ends(present: tuple[str, str, str], relationship: RelationshipDefinition) -> None:
    if present != relationship.key:
        referenced, referencing, lookup = present
        raise _conflict(
            f"The relationship {relationship.schema_name} exists from {referenced} to {referencing}.{lookup}; the "
            f"incoming one is from {relationship.referenced_entity} to {relationship.referencing_entity}."
            f"{relationship.referencing_attribute}."
        )


def _merge_many_to_many(custom: Customizations, base: Catalog, many: ManyToManyDefinition) -> Customizations:
    wanted = many.schema_name.lower()
    own = next((r for r in custom.many_to_many if r.schema_name.lower() == wanted), None)
    present = own or next((r for r in base.many_to_many_relationships if r.schema_name.lower() == wanted), None)
    if present is not None and (present.entity1, present.entity2) != (many.entity1, many.entity2):
        raise _conflict(
            f"The relationship {many.schema_name} exists between {present.entity1} and {present.entity2}; the "
            f"incoming one is between {many.entity1} and {many.entity2}."
        )
    if own is not None:
        updated = dataclasses.replace(many, schema_name=own.schema_name)
        if updated == own:
            return custom
        return dataclasses.replace(custom, many_to_many=tuple(updated if r is own else r for r in custom.many_to_many))
    if present is not None:
        return custom
    catalog = custom.apply_to(base)
    for name in (many.entity1, many.entity2):
        if catalog.by_logical_name(name) is None:
            raise _conflict(
                f"The relationship {many.schema_name} involves the table {name}, which this organization does not have."
            )
    return customization.add_many_to_many(custom, catalog, many)


def _check_lookups(custom: Customizations, base: Catalog) -> None:
    catalog = custom.apply_to(base)
    for entity in catalog.entities:
        for attribute in entity.lookups:
            if not attribute.is_custom:
                continue
            missing = [t for t in attribute.targets if catalog.by_logical_name(t) is None]
            if missing:
                raise _conflict(
                    f"The lookup {entity.logical_name}.{attribute.logical_name} points at {', '.join(missing)}, which "
                    "this organization does not have."
                )


# --- another environment's metadata ---------------------------------------------------------------------------------

Document = Mapping[str, Any]


def from_metadata(
    tables: Sequence[Document],
    option_sets: Sequence[Document],
    base: Catalog,
    notes: list[str] | None = None,
) -> Customizations:
    """Customizations from metadata Web API documents.

    ``tables``: ``EntityMetadata`` documents (``LogicalName``, ``SchemaName``, ``EntitySetName``,
    ``PrimaryIdAttribute``, ``PrimaryNameAttribute``, ``ObjectTypeCode``, ``OwnershipType``, ``IsCustomEntity``,
    ``IsActivity``, ``HasNotes``, ``HasActivities``, the labels), each with ``Attributes`` (the full typed documents
    of its custom columns, choice columns with their ``OptionSet`` expanded), ``Keys``,
    ``ManyToOneRelationships`` and ``ManyToManyRelationships``. ``option_sets``: ``GlobalOptionSetDefinitions``
    items. A custom table becomes a new table (its system columns as Dataverse gives them); another table that d365local
    has contributes its custom columns and keys. What cannot be brought over is left out and said in ``notes``.
    """
    said = notes if notes is not None else []
    choices = _option_sets(option_sets, said)
    pulled = {str(t.get("LogicalName", "")).lower() for t in tables if t.get("IsCustomEntity") is True}
    available = {e.logical_name for e in base.entities} | pulled
    new_tables: list[EntityDefinition] = []
    columns: dict[str, tuple[AttributeDefinition, ...]] = {}
    keys: dict[str, tuple[KeyDefinition, ...]] = {}
    one_to_many: dict[str, RelationshipDefinition] = {}
    many_to_many: dict[str, ManyToManyDefinition] = {}
    for document in tables:
        name = str(document.get("LogicalName", "")).lower()
        is_new = name in pulled
        if not is_new and base.by_logical_name(name) is None:
            if document.get("Attributes"):
                said.append(f"table {name}: left out (not a custom table, and d365local does not have it)")
            continue
        attributes = _columns(document, name, choices, available, said)
        if is_new:
            table = _table(document, attributes, said)
            if table is None:
                available.discard(name)
                continue
            new_tables.append(table)
            present = {a.logical_name for a in table.attributes}
        else:
            if attributes:
                columns[name] = attributes
            builtin = base.by_logical_name(name)
            assert builtin is not None
            present = {a.logical_name for a in (*builtin.attributes, *attributes)}
        table_keys = _keys(document, name, present, is_new, base, said)
        if table_keys:
            keys[name] = table_keys
        lookups = {a.logical_name: a for a in attributes if a.type.is_lookup}
        for relationship in _many_to_one(document, name, lookups, available):
            one_to_many.setdefault(relationship.schema_name.lower(), relationship)
        for many in _many_to_many(document, available, base):
            many_to_many.setdefault(many.schema_name.lower(), many)
    for index, table in enumerate(new_tables):
        if table.logical_name in keys:
            new_tables[index] = dataclasses.replace(table, keys=keys.pop(table.logical_name))
    used = {
        (a.option_set_name or "").lower()
        for attributes in (*(t.attributes for t in new_tables), *columns.values())
        for a in attributes
    }
    kept = tuple(
        o
        for o, document in choices.values()
        if o.name.lower() in used
        or (document.get("IsCustomOptionSet") is True and document.get("IsManaged") is not True)
    )
    return Customizations(
        tables=tuple(new_tables),
        columns=columns,
        keys=keys,
        option_sets=kept,
        one_to_many=tuple(one_to_many.values()),
        many_to_many=tuple(many_to_many.values()),
    )


def _option_sets(documents: Sequence[Document], notes: list[str]) -> dict[str, tuple[OptionSetDefinition, Document]]:
    found: dict[str, tuple[OptionSetDefinition, Document]] = {}
    for document in documents:
        if document.get("IsCustomOptionSet") is not True or document.get("OptionSetType", "Picklist") != "Picklist":
            continue
        try:
            definition = parse_option_set(document)
        except DataverseError as exc:
            notes.append(f"global choice {document.get('Name')}: left out ({exc})")
            continue
        found[definition.name.lower()] = (definition, document)
    return found


def _columns(
    document: Document,
    table: str,
    choices: Mapping[str, tuple[OptionSetDefinition, Document]],
    available: set[str],
    notes: list[str],
) -> tuple[AttributeDefinition, ...]:
    """The table's custom columns that d365local can create, read from their full documents."""
    known = tuple(definition for definition, _document in choices.values())
    read: list[AttributeDefinition] = []
    for column in document.get("Attributes") or ():
        name = str(column.get("LogicalName", "")).lower()
        if column.get("IsCustomAttribute") is False or column.get("AttributeOf"):
            continue  # a system column, or a companion Dataverse derives (…name, …yominame)
        if column.get("AttributeType") == "Money" and column.get("IsBaseCurrency") is True:
            continue  # the _base twin: made with its Money column
        customer = column.get("AttributeType") == "Customer"
        body = dict(column)
        if customer:
            body |= {"AttributeType": "Lookup", "AttributeTypeName": {"Value": "LookupType"}}
        try:
            attribute = parse_attribute(body, table=table, option_sets=known)
        except DataverseError as exc:
            notes.append(f"column {table}.{name}: left out ({exc})")
            continue
        if customer:
            attribute = dataclasses.replace(attribute, type=AttributeType.CUSTOMER)
        if attribute.type.is_lookup:
            targets = tuple(t for t in attribute.targets if t in available)
            if not targets:
                notes.append(
                    f"column {table}.{name}: left out (a lookup to {', '.join(attribute.targets) or 'no table'}, which "
                    "d365local does not have)"
                )
                continue
            if targets != attribute.targets:
                dropped = ", ".join(t for t in attribute.targets if t not in targets)
                notes.append(f"column {table}.{name}: its targets {dropped} left out (d365local does not have them)")
            attribute = dataclasses.replace(attribute, targets=targets)
        read.append(attribute)
    return tuple(read)


_OWNERSHIP = {"UserOwned": "UserOwned", "OrganizationOwned": "OrganizationOwned"}


def _table(
    document: Document, attributes: tuple[AttributeDefinition, ...], notes: list[str]
) -> EntityDefinition | None:
    name = str(document.get("LogicalName", "")).lower()
    ownership = _OWNERSHIP.get(str(document.get("OwnershipType")))
    if ownership is None:
        notes.append(f"table {name}: left out (OwnershipType {document.get('OwnershipType')}: d365local creates "
                     "UserOwned and OrganizationOwned tables)")  # fmt: skip
        return None
    primary_name = str(document.get("PrimaryNameAttribute") or "").lower()
    if not any(a.logical_name == primary_name and a.type is AttributeType.STRING for a in attributes):
        notes.append(f"table {name}: left out (its primary name column {primary_name or '?'} was not read)")
        return None
    primary_id = str(document.get("PrimaryIdAttribute") or f"{name}id").lower()
    display = label_text(document.get("DisplayName"))
    schema_name = str(document.get("SchemaName") or name)
    identifier = AttributeDefinition(
        primary_id,
        AttributeType.UNIQUEIDENTIFIER,
        display,
        is_primary_id=True,
        schema_name=f"{schema_name}Id" if primary_id == f"{name}id" else primary_id,
        required_level="SystemRequired",
    )
    columns = [dataclasses.replace(a, is_primary_name=a.logical_name == primary_name) for a in attributes]
    present = {primary_id, *(a.logical_name for a in columns)}
    code = document.get("ObjectTypeCode")
    return EntityDefinition(
        logical_name=name,
        entity_set_name=str(document.get("EntitySetName") or "") or f"{name}s",
        primary_id=primary_id,
        primary_name=primary_name,
        object_type_code=code if isinstance(code, int) else object_type_code(name),
        display_name=display,
        display_collection_name=label_text(document.get("DisplayCollectionName")),
        attributes=(identifier, *columns, *(c for c in system_columns(ownership) if c.logical_name not in present)),
        ownership=ownership,
        is_activity=document.get("IsActivity") is True,
        schema_name=schema_name,
        description=label_text(document.get("Description")),
        is_custom=True,
        has_notes=document.get("HasNotes") is True,
        has_activities=document.get("HasActivities") is True,
    )


def _keys(
    document: Document, table: str, columns: set[str], is_new: bool, base: Catalog, notes: list[str]
) -> tuple[KeyDefinition, ...]:
    builtin = base.by_logical_name(table)
    existing = {k.logical_name for k in builtin.keys} if builtin is not None else set()
    found: list[KeyDefinition] = []
    for item in document.get("Keys") or ():
        try:
            key = parse_key({k: v for k, v in item.items() if k in ("SchemaName", "KeyAttributes", "DisplayName")})
        except DataverseError as exc:
            notes.append(f"key {table}.{item.get('SchemaName')}: left out ({exc})")
            continue
        if key.logical_name in existing:
            continue  # the table's own key, here as there
        if not is_new and not _PREFIX.match(key.schema_name):
            continue  # a key Dataverse ships
        missing = [c for c in key.attributes if c not in columns]
        if missing:
            notes.append(f"key {table}.{key.schema_name}: left out (its columns {', '.join(missing)} were not read)")
            continue
        found.append(key)
    return tuple(found)


_CASCADE_FIELDS = {"assign": "Assign", "delete": "Delete", "merge": "Merge", "reparent": "Reparent",
                   "share": "Share", "unshare": "Unshare"}  # fmt: skip


def _many_to_one(
    document: Document, table: str, lookups: Mapping[str, AttributeDefinition], available: set[str]
) -> Iterable[RelationshipDefinition]:
    """The 1:N relationships of the table's custom lookups."""
    for item in document.get("ManyToOneRelationships") or ():
        lookup = str(item.get("ReferencingAttribute", "")).lower()
        referenced = str(item.get("ReferencedEntity", "")).lower()
        if lookup not in lookups or referenced not in available or referenced not in lookups[lookup].targets:
            continue
        cascade = item.get("CascadeConfiguration")
        given = (
            {f: str(cascade[k]) for f, k in _CASCADE_FIELDS.items() if isinstance(cascade.get(k), str)}
            if isinstance(cascade, Mapping)
            else {}
        )
        single = str(item.get("ReferencingEntityNavigationPropertyName") or "")
        schema_name = str(item.get("SchemaName", ""))
        yield RelationshipDefinition(
            schema_name=schema_name,
            referenced_entity=referenced,
            referencing_entity=table,
            referencing_attribute=lookup,
            referenced_navigation=str(item.get("ReferencedEntityNavigationPropertyName") or schema_name),
            referencing_navigation_name="" if single == lookup else single,
            cascade=CascadeConfiguration(**given),
        )


def _many_to_many(document: Document, available: set[str], base: Catalog) -> Iterable[ManyToManyDefinition]:
    """The table's N:N relationships that are not Dataverse's own and whose two tables d365local has."""
    shipped = {r.schema_name.lower() for r in base.many_to_many_relationships}
    for item in document.get("ManyToManyRelationships") or ():
        schema_name = str(item.get("SchemaName", ""))
        first, second = str(item.get("Entity1LogicalName", "")).lower(), str(item.get("Entity2LogicalName", "")).lower()
        if schema_name.lower() in shipped or first not in available or second not in available:
            continue
        yield ManyToManyDefinition(
            schema_name=schema_name,
            intersect_entity=str(item.get("IntersectEntityName") or schema_name).lower(),
            entity1=first,
            entity2=second,
            entity1_navigation=str(item.get("Entity1NavigationPropertyName") or schema_name),
            entity2_navigation=str(item.get("Entity2NavigationPropertyName") or schema_name),
        )
