"""What an organization adds to the built-in catalog: custom tables, custom columns and keys on built-in tables,
global choices, and 1:N and N:N relationships — and the catalog that results.

Stored per organization as one JSON document (``to_json``/``from_json``): a versioned, generic encoding of the
frozen definitions, so a new field of a definition is stored without a new format.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
    OptionSetDefinition,
    RelationshipDefinition,
)

FORMAT = 1


@dataclass(frozen=True)
class Customizations:
    """One organization's additions. Built-in tables are extended through ``columns`` and ``keys``; custom tables
    carry their own columns and keys."""

    tables: tuple[EntityDefinition, ...] = ()
    columns: Mapping[str, tuple[AttributeDefinition, ...]] = field(default_factory=dict)
    """Custom columns of built-in tables, by table logical name."""
    keys: Mapping[str, tuple[KeyDefinition, ...]] = field(default_factory=dict)
    """Alternate keys of built-in tables, by table logical name."""
    option_sets: tuple[OptionSetDefinition, ...] = ()
    one_to_many: tuple[RelationshipDefinition, ...] = ()
    many_to_many: tuple[ManyToManyDefinition, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == Customizations()

    def apply_to(self, base: Catalog) -> Catalog:
        """The catalog of an organization with these additions."""
        entities = []
        for entity in base.entities:
            columns = self.columns.get(entity.logical_name, ())
            keys = self.keys.get(entity.logical_name, ())
            if columns or keys:
                entity = dataclasses.replace(
                    entity, attributes=(*entity.attributes, *columns), keys=(*entity.keys, *keys)
                )
            entities.append(entity)
        return Catalog(
            (*entities, *self.tables),
            (*self.one_to_many, *base.relationships),
            (*base.many_to_many_relationships, *self.many_to_many),
            (*base.option_sets, *self.option_sets),
        )

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **_encode(self)}, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Customizations:
        document = json.loads(text)
        if document.pop("format", None) != FORMAT:
            raise ValueError(f"customizations: format {FORMAT} expected")
        decoded = _decode(cls, document)
        assert isinstance(decoded, Customizations)
        return decoded


def _encode(value: Any) -> Any:
    """Frozen definitions → JSON values: dataclasses as objects of their init fields (derived caches, whose names
    start with ``_``, left out), enums by value, tuples as lists, mappings as objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init and not f.name.startswith("_")
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _encode(item) for key, item in value.items()}
    return value


def _decode(kind: Any, value: Any) -> Any:
    """The inverse of ``_encode``, guided by the type annotations of the definitions."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return _decode(options[0], value)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_decode(item, element) for element in value)
    if origin in (Mapping, dict) or kind is Mapping:
        item = typing.get_args(kind)[1]
        return {key: _decode(item, element) for key, element in value.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        arguments = {
            f.name: _decode(hints[f.name], value[f.name])
            for f in dataclasses.fields(kind)
            if f.init and not f.name.startswith("_") and f.name in value
        }
        return kind(**arguments)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    return value
