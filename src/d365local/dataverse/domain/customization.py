"""Dataverse's rules for changing an organization's schema: pure functions from (its customizations, its catalog,
the change asked for) to its new customizations, or Dataverse's error.

What a new table gets (primary id, the system columns of its ownership, an entity set name), which names are free,
which prefix a custom name needs, what may be deleted: docs/reference/metadata-writes.md; the choices Microsoft
leaves open are in docs/differences.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
    OptionSetDefinition,
    RelationshipDefinition,
)
from d365local.dataverse.schema.solution import object_type_code, plural, system_columns

DEFAULT_PREFIX = "new"
"""The customization prefix of every organization's default publisher in d365local."""
_PREFIXED = re.compile(r"^([A-Za-z][A-Za-z0-9]{1,7})_[A-Za-z0-9_]+$")
MAX_KEYS = 10
"""Alternate keys per table, as in Dataverse."""
MAX_KEY_COLUMNS = 16
_KEY_TYPES = (
    AttributeType.STRING,
    AttributeType.INTEGER,
    AttributeType.DECIMAL,
    AttributeType.DATETIME,
    AttributeType.LOOKUP,
    AttributeType.PICKLIST,
)


@dataclasses.dataclass(frozen=True)
class NewTable:
    schema_name: str
    display_name: str
    display_collection_name: str
    description: str
    ownership: str
    primary_name: AttributeDefinition
    attributes: tuple[AttributeDefinition, ...] = ()
    is_activity: bool = False
    has_notes: bool = False
    has_activities: bool = False


def check_custom_name(schema_name: str, what: str) -> None:
    """A custom component's schema name needs a customization prefix: ``new_Project``, ``contoso_Budget``."""
    if not _PREFIXED.match(schema_name):
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"Invalid name for {what} {schema_name[:100]}. Custom names must start with a valid customization "
            f"prefix followed by an underscore (2 to 8 letters or digits, e.g. {DEFAULT_PREFIX}_) and contain only "
            "letters, digits and underscores.",
        )


def create_table(custom: Customizations, catalog: Catalog, table: NewTable) -> tuple[Customizations, EntityDefinition]:
    check_custom_name(table.schema_name, "entity")
    logical = table.schema_name.lower()
    if catalog.by_logical_name(logical) is not None:
        raise DataverseError(errors.DUPLICATE_ENTITY_NAME)
    entity_set = plural(logical)
    if catalog.by_entity_set(entity_set) is not None:
        raise DataverseError(errors.INVALID_ENTITY_SET_NAME, name=entity_set)
    if table.ownership not in ("UserOwned", "OrganizationOwned"):
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"OwnershipType must be UserOwned or OrganizationOwned, not {table.ownership}.",
        )
    if not table.display_name.strip():
        raise DataverseError(errors.INVALID_DISPLAY_NAME)
    primary_id = f"{logical}id"
    primary_name = dataclasses.replace(table.primary_name, is_primary_name=True)
    if primary_name.type is not AttributeType.STRING:
        raise DataverseError(errors.INVALID_PRIMARY_FIELD_TYPE)
    identifier = AttributeDefinition(
        primary_id,
        AttributeType.UNIQUEIDENTIFIER,
        table.display_name,
        is_primary_id=True,
        schema_name=f"{table.schema_name}Id",
        required_level="SystemRequired",
    )
    columns: dict[str, AttributeDefinition] = {}
    for attribute in (primary_name, *table.attributes):
        if attribute.is_primary_name and attribute is not primary_name:
            raise DataverseError(
                errors.DUPLICATE_PRIMARY_NAME,
                new=attribute.logical_name,
                entity=logical,
                existing=primary_name.logical_name,
            )
        _check_new_column(logical, attribute, columns)
        for column in _with_twins(_with_global_options(catalog, attribute)):
            columns[column.logical_name] = column
    attributes = (
        identifier,
        *columns.values(),
        *(c for c in system_columns(table.ownership) if c.logical_name not in columns),
    )
    entity = EntityDefinition(
        logical_name=logical,
        entity_set_name=entity_set,
        primary_id=primary_id,
        primary_name=primary_name.logical_name,
        object_type_code=_free_type_code(catalog, logical),
        display_name=table.display_name,
        display_collection_name=table.display_collection_name or f"{table.display_name}s",
        attributes=attributes,
        ownership=table.ownership,
        is_activity=table.is_activity,
        schema_name=table.schema_name,
        privilege_table=logical,
        description=table.description,
        is_custom=True,
        has_notes=table.has_notes,
        has_activities=table.has_activities,
    )
    return dataclasses.replace(custom, tables=(*custom.tables, entity)), entity


def _free_type_code(catalog: Catalog, logical: str) -> int:
    taken = {entity.object_type_code for entity in catalog.entities}
    code = object_type_code(logical)
    while code in taken:
        code = 10000 + (code - 10000 + 1) % 90000
    return code


def _check_new_column(table: str, attribute: AttributeDefinition, present: dict[str, AttributeDefinition]) -> None:
    check_custom_name(attribute.schema_name, "attribute")
    if attribute.logical_name in present or f"{attribute.logical_name}_base" in present:
        raise DataverseError(
            errors.DUPLICATE_ATTRIBUTE_SCHEMA_NAME,
            detail=f"An attribute with the specified name {attribute.schema_name} already exists on {table}.",
        )


def _custom_table(custom: Customizations, logical: str) -> EntityDefinition | None:
    return next((t for t in custom.tables if t.logical_name == logical), None)


def _replace_table(custom: Customizations, entity: EntityDefinition) -> Customizations:
    tables = tuple(entity if t.logical_name == entity.logical_name else t for t in custom.tables)
    return dataclasses.replace(custom, tables=tables)


def _existing(catalog: Catalog, table: str) -> EntityDefinition:
    entity = catalog.by_logical_name(table)
    if entity is None:
        raise DataverseError(errors.RECORD_NOT_FOUND, entity="Entity", id=table)
    return entity


def add_column(custom: Customizations, catalog: Catalog, table: str, attribute: AttributeDefinition) -> Customizations:
    """A custom column on a custom or built-in table (Money columns get their ``_base`` twin, as in Dataverse)."""
    entity = _existing(catalog, table)
    if attribute.is_primary_name:
        raise DataverseError(
            errors.DUPLICATE_PRIMARY_NAME, new=attribute.logical_name, entity=table, existing=entity.primary_name
        )
    _check_new_column(table, attribute, {a.logical_name: a for a in entity.attributes})
    added = _with_twins(_with_global_options(catalog, attribute))
    own = _custom_table(custom, table)
    if own is not None:
        return _replace_table(custom, dataclasses.replace(own, attributes=(*own.attributes, *added)))
    columns = dict(custom.columns)
    columns[table] = (*columns.get(table, ()), *added)
    return dataclasses.replace(custom, columns=columns)


def _with_twins(attribute: AttributeDefinition) -> tuple[AttributeDefinition, ...]:
    """A column and the columns Dataverse adds with it: a Money column's value in the base currency (``x_base``)."""
    if attribute.type is not AttributeType.MONEY:
        return (attribute,)
    twin = dataclasses.replace(
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
    return attribute, twin


def _is_twin(entity: EntityDefinition, column: str) -> bool:
    base = entity.column(column.removesuffix("_base")) if column.endswith("_base") else None
    return base is not None and base.type is AttributeType.MONEY


def _custom_column(custom: Customizations, table: str, column: str) -> AttributeDefinition:
    own = _custom_table(custom, table)
    candidates = own.attributes if own is not None else custom.columns.get(table, ())
    found = next((a for a in candidates if a.logical_name == column), None)
    if found is None or not found.is_custom:
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"The attribute {table}.{column} is not a custom attribute: only custom attributes can be changed "
            "or deleted.",
        )
    return found


def update_column(
    custom: Customizations, catalog: Catalog, table: str, attribute: AttributeDefinition
) -> Customizations:
    """A PUT of a column's whole definition: its type, name and primary role stay; the rest is taken as sent."""
    _existing(catalog, table)
    present = _custom_column(custom, table, attribute.logical_name)
    if attribute.type is not present.type and not {attribute.type, present.type} <= {
        AttributeType.STRING,
        AttributeType.MEMO,
    }:
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail=f"The type of {table}.{present.logical_name} cannot change."
        )
    updated = dataclasses.replace(
        attribute,
        type=present.type,
        schema_name=present.schema_name,
        is_primary_name=present.is_primary_name,
        is_custom=True,
        targets=present.targets or attribute.targets,
        options=attribute.options or present.options,
    )
    return _swap_column(custom, table, present.logical_name, (updated,))


def _swap_column(
    custom: Customizations, table: str, column: str, replacement: Sequence[AttributeDefinition]
) -> Customizations:
    def swap(attributes: tuple[AttributeDefinition, ...]) -> tuple[AttributeDefinition, ...]:
        result: list[AttributeDefinition] = []
        for attribute in attributes:
            if attribute.logical_name == column:
                result.extend(replacement)
            elif attribute.logical_name != f"{column}_base" or replacement:
                result.append(attribute)
        return tuple(result)

    own = _custom_table(custom, table)
    if own is not None:
        return _replace_table(custom, dataclasses.replace(own, attributes=swap(own.attributes)))
    columns = dict(custom.columns)
    columns[table] = swap(columns.get(table, ()))
    if not columns[table]:
        del columns[table]
    return dataclasses.replace(custom, columns=columns)


def delete_column(custom: Customizations, catalog: Catalog, table: str, column: str) -> Customizations:
    entity = _existing(catalog, table)
    present = _custom_column(custom, table, column)
    if _is_twin(entity, column):
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"The attribute {table}.{column} belongs to the money column {column.removesuffix('_base')}: "
            "delete that column instead.",
        )
    if present.is_primary_name:
        raise DataverseError(errors.CANNOT_DELETE_IN_USE, kind="Attribute", name=f"{table}.{column}", count=1)
    users = [k.schema_name for k in entity.keys if column in k.attributes]
    users += [r.schema_name for r in catalog.many_to_one(table) if r.referencing_attribute == column]
    if users:
        raise DataverseError(errors.CANNOT_DELETE_IN_USE, kind="Attribute", name=f"{table}.{column}", count=len(users))
    return _swap_column(custom, table, column, ())


def delete_table(custom: Customizations, catalog: Catalog, table: str) -> Customizations:
    """A custom table, its columns, keys and relationships. Another table's lookup to it must go first."""
    entity = _custom_table(custom, table)
    if entity is None:
        _existing(catalog, table)
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail=f"The entity {table} is not a custom entity: it cannot be deleted."
        )
    referencing = [r.schema_name for r in catalog.one_to_many(table) if r.referencing_entity != table]
    if referencing:
        raise DataverseError(errors.CANNOT_DELETE_IN_USE, kind="Entity", name=table, count=len(referencing))
    return dataclasses.replace(
        custom,
        tables=tuple(t for t in custom.tables if t.logical_name != table),
        one_to_many=tuple(r for r in custom.one_to_many if table not in (r.referenced_entity, r.referencing_entity)),
        many_to_many=tuple(r for r in custom.many_to_many if table not in (r.entity1, r.entity2)),
    )


def add_key(custom: Customizations, catalog: Catalog, table: str, key: KeyDefinition) -> Customizations:
    entity = _existing(catalog, table)
    check_custom_name(key.schema_name, "key")
    if any(k.logical_name == key.logical_name for k in entity.keys):
        raise DataverseError(errors.KEY_NAME_EXISTS, name=key.schema_name, entity=table)
    if len(entity.keys) >= MAX_KEYS:
        raise DataverseError(errors.INVALID_ARGUMENT, detail=f"A table can have at most {MAX_KEYS} alternate keys.")
    if not key.attributes or len(key.attributes) > MAX_KEY_COLUMNS:
        raise DataverseError(errors.INVALID_ARGUMENT, detail=f"A key has 1 to {MAX_KEY_COLUMNS} columns.")
    for name in key.attributes:
        column = entity.column(name)
        if column is None or column.type not in _KEY_TYPES:
            raise DataverseError(
                errors.INVALID_ARGUMENT,
                detail=f"The attribute {name} of {table} cannot be part of a key: keys use String, Integer, Decimal, "
                "DateTime, Lookup or Picklist columns.",
            )
    if any(sorted(k.attributes) == sorted(key.attributes) for k in entity.keys):
        raise DataverseError(errors.KEY_COLUMNS_EXIST)
    own = _custom_table(custom, table)
    if own is not None:
        return _replace_table(custom, dataclasses.replace(own, keys=(*own.keys, key)))
    keys = dict(custom.keys)
    keys[table] = (*keys.get(table, ()), key)
    return dataclasses.replace(custom, keys=keys)


def delete_key(custom: Customizations, catalog: Catalog, table: str, key_name: str) -> Customizations:
    _existing(catalog, table)
    own = _custom_table(custom, table)
    present = own.keys if own is not None else custom.keys.get(table, ())
    if not any(k.logical_name == key_name for k in present):
        raise DataverseError(errors.RECORD_NOT_FOUND, entity="EntityKey", id=key_name)
    remaining = tuple(k for k in present if k.logical_name != key_name)
    if own is not None:
        return _replace_table(custom, dataclasses.replace(own, keys=remaining))
    keys = dict(custom.keys)
    keys[table] = remaining
    if not remaining:
        del keys[table]
    return dataclasses.replace(custom, keys=keys)


def add_one_to_many(
    custom: Customizations, catalog: Catalog, relationship: RelationshipDefinition, lookup: AttributeDefinition
) -> Customizations:
    """A 1:N relationship and the lookup column it creates on the referencing (many) table."""
    check_custom_name(relationship.schema_name, "relationship")
    _existing(catalog, relationship.referenced_entity)
    _existing(catalog, relationship.referencing_entity)
    if _relationship_named(catalog, relationship.schema_name):
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail=f"A relationship named {relationship.schema_name} already exists."
        )
    lookup = dataclasses.replace(
        lookup, type=AttributeType.LOOKUP, targets=(relationship.referenced_entity,), is_custom=True
    )
    added = add_column(custom, catalog, relationship.referencing_entity, lookup)
    relationship = dataclasses.replace(relationship, referencing_attribute=lookup.logical_name)
    return dataclasses.replace(added, one_to_many=(*added.one_to_many, relationship))


def add_many_to_many(custom: Customizations, catalog: Catalog, relationship: ManyToManyDefinition) -> Customizations:
    check_custom_name(relationship.schema_name, "relationship")
    _existing(catalog, relationship.entity1)
    _existing(catalog, relationship.entity2)
    if _relationship_named(catalog, relationship.schema_name):
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail=f"A relationship named {relationship.schema_name} already exists."
        )
    return dataclasses.replace(custom, many_to_many=(*custom.many_to_many, relationship))


def delete_relationship(custom: Customizations, catalog: Catalog, schema_name: str) -> Customizations:
    """A custom relationship; a 1:N one takes its lookup column with it."""
    for relationship in custom.one_to_many:
        if relationship.schema_name.lower() == schema_name.lower():
            remaining = tuple(r for r in custom.one_to_many if r is not relationship)
            trimmed = dataclasses.replace(custom, one_to_many=remaining)
            return _swap_column(trimmed, relationship.referencing_entity, relationship.referencing_attribute, ())
    for many in custom.many_to_many:
        if many.schema_name.lower() == schema_name.lower():
            return dataclasses.replace(custom, many_to_many=tuple(r for r in custom.many_to_many if r is not many))
    if _relationship_named(catalog, schema_name):
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail=f"The relationship {schema_name} is not a custom relationship."
        )
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="Relationship", id=schema_name)


def _relationship_named(catalog: Catalog, schema_name: str) -> bool:
    wanted = schema_name.lower()
    return any(r.schema_name.lower() == wanted for r in catalog.relationships) or any(
        r.schema_name.lower() == wanted for r in catalog.many_to_many_relationships
    )


def add_option_set(custom: Customizations, catalog: Catalog, option_set: OptionSetDefinition) -> Customizations:
    check_custom_name(option_set.name, "option set")
    if any(o.name.lower() == option_set.name.lower() for o in catalog.option_sets):
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail=f"An option set with the name {option_set.name} already exists."
        )
    return dataclasses.replace(custom, option_sets=(*custom.option_sets, option_set))


def delete_option_set(custom: Customizations, catalog: Catalog, name: str) -> Customizations:
    users = [
        f"{entity.logical_name}.{attribute.logical_name}"
        for entity in catalog.entities
        for attribute in entity.attributes
        if (attribute.option_set_name or "").lower() == name.lower()
    ]
    if users:
        raise DataverseError(errors.CANNOT_DELETE_IN_USE, kind="OptionSet", name=name, count=len(users))
    if not any(o.name.lower() == name.lower() for o in custom.option_sets):
        raise DataverseError(errors.INVALID_ARGUMENT, detail=f"The option set {name} is not a custom option set.")
    return dataclasses.replace(
        custom, option_sets=tuple(o for o in custom.option_sets if o.name.lower() != name.lower())
    )


def _with_global_options(catalog: Catalog, attribute: AttributeDefinition) -> AttributeDefinition:
    """A choice column that names a global choice gets its options (and its exact name)."""
    if attribute.option_set_name is None:
        return attribute
    wanted = attribute.option_set_name.lower()
    found = next((o for o in catalog.option_sets if o.name.lower() == wanted), None)
    if found is None:
        raise DataverseError(errors.RECORD_NOT_FOUND, entity="OptionSetMetadata", id=attribute.option_set_name[:100])
    return dataclasses.replace(attribute, option_set_name=found.name, options=found.options)
