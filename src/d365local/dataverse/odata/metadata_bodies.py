"""Metadata write bodies: the JSON a client sends to create (or PUT back) tables, columns, keys, relationships and
global choices, read into definitions (docs/reference/metadata-writes.md).

Pure functions of the body. Every malformed, hostile or invalid body raises :class:`DataverseError` with the code
Dataverse answers (``0x80040203`` InvalidArgument where it has none of its own), never another exception.
Read-only properties a client copies from a GET (``MetadataId``, ``IsCustomAttribute``, ``AttributeTypeName``,
``IsValidForCreate``, ``@odata.context``…) are ignored, so the SDK's ``update_column`` can PUT a whole column back.

What the parser decides where Dataverse's documentation is silent:

- Names: a SchemaName starts with an ASCII letter and holds letters, digits and underscores; tables and columns take
  at most 50 characters (the documented limit of custom names), keys, relationships, intersect tables, navigation
  properties and global choices at most 100. Logical names are the lowercased SchemaName. Whether the prefix belongs
  to a publisher is the caller's check.
- Labels: the ``LocalizedLabels`` entry in language 1033, else the first one; ``UserLocalizedLabel`` (read-only,
  ignored by Dataverse) only when there are no localized labels.
- Options sent without ``Value`` are numbered from the publisher's option value prefix: ``prefix * 10000`` upward,
  skipping values the body gives (prefix 10000 → 100000000, 100000001…).
- A choice column bound to a global choice (``GlobalOptionSet@odata.bind`` by MetadataId or ``Name='x'``, or an
  ``OptionSet`` with ``IsGlobal: true`` and a ``Name``, as a GET with ``$expand=OptionSet`` returns it) is resolved
  against the global choices the caller passes: the column gets the choice's name and options.
- A choice column without any ``OptionSet`` (a PUT of a GET result, which carries none) has no options: a caller
  updating a column keeps its options (Dataverse changes options only through ``InsertOptionValue`` & co.).
- Defaults for absent properties: String ``MaxLength`` 100 and format Text, Memo ``MaxLength`` 2000 and format
  TextArea, numeric ranges the type's supported range, ``Precision`` 2, Money ``PrecisionSource`` 2, DateTime
  behavior UserLocal and format DateAndTime (DateOnly for the DateOnly behavior), File ``MaxSizeInKB`` 32768,
  Image 10240, ``RequiredLevel`` None, ``OwnershipType`` UserOwned, Boolean labels Yes/No.
- Image ``CanStoreFullImage`` and ``IsPrimaryImage`` are not kept (the definitions do not carry them).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseCode, DataverseError
from d365local.dataverse.schema.metadata import (
    DATE_BEHAVIORS,
    REQUIRED_LEVELS,
    AttributeDefinition,
    AttributeType,
    CascadeConfiguration,
    KeyDefinition,
    ManyToManyDefinition,
    Option,
    OptionSetDefinition,
    RelationshipDefinition,
)

LANGUAGE = 1033
DEFAULT_OPTION_VALUE_PREFIX = 10000
"""The option value prefix of the organization's Default Publisher (prefix ``new``)."""

_CRM = "Microsoft.Dynamics.CRM."
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SHORT_NAME, _LONG_NAME = 50, 100
_INT32 = (-2147483648, 2147483647)
_SHOWN = 60

# --- bodies -------------------------------------------------------------------------------------------------------


def _invalid(detail: str) -> DataverseError:
    return DataverseError(errors.INVALID_ARGUMENT, detail=detail)


def _shown(text: str) -> str:
    """A client's text as an error message quotes it: at most a few dozen characters."""
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


@dataclass(frozen=True)
class _Body:
    """A JSON object of the request, read property by property with the JSON type each must have."""

    data: Mapping[str, object]
    where: str

    @classmethod
    def of(cls, value: object, where: str) -> _Body:
        if not isinstance(value, dict):
            raise _invalid(f"{where} must be a JSON object.")
        return cls(value, where)

    def _wrong(self, key: str, expected: str) -> DataverseError:
        return _invalid(f"The property '{_shown(key)}' of {self.where} must be {expected}.")

    def raw(self, key: str) -> object:
        """The value, None when absent or null."""
        return self.data.get(key)

    def text(self, key: str) -> str | None:
        value = self.raw(key)
        if value is None or isinstance(value, str):
            return value
        raise self._wrong(key, "a string")

    def required_text(self, key: str) -> str:
        value = self.text(key)
        if not value:
            raise _invalid(f"The property '{key}' of {self.where} is required.")
        return value

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if value is None or isinstance(value, bool):
            return value is True
        raise self._wrong(key, "true or false")

    def integer(self, key: str) -> int | None:
        value = self.raw(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise self._wrong(key, "a whole number")

    def number(self, key: str) -> int | float | None:
        """A whole number as sent (``int``), or a finite ``float``: never NaN nor an infinity."""
        value = self.raw(key)
        if isinstance(value, float) and math.isfinite(value):
            return value
        return self.integer(key)

    def child(self, key: str) -> _Body | None:
        value = self.raw(key)
        return None if value is None else _Body.of(value, f"'{key}' of {self.where}")

    def items(self, key: str) -> list[object]:
        value = self.raw(key)
        if value is None or isinstance(value, list):
            return value or []
        raise self._wrong(key, "an array")

    def enum_value(self, key: str) -> str | None:
        """A ``{"Value": "…"}`` property (RequiredLevel, FormatName, DateTimeBehavior)."""
        child = self.child(key)
        return None if child is None else child.text("Value")


def _type_stem(body: _Body, suffix: str) -> str | None:
    """The ``@odata.type`` without ``#``, namespace, ``Complex`` prefix and ``suffix`` (``String`` for
    ``#Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata``); None when absent."""
    value = body.text("@odata.type")
    if value is None:
        return None
    name = value.removeprefix("#").removeprefix(_CRM)
    if not name.endswith(suffix):
        raise _unresolved(value)
    stem = name.removesuffix(suffix)
    return stem.removeprefix("Complex") if stem.startswith("Complex") else stem


def _unresolved(type_name: str) -> DataverseError:
    return _invalid(
        f"A type named '{_shown(type_name)}' could not be resolved by the model. When a model is available, each "
        "type name must resolve to a valid type."
    )


def _name(body: _Body, key: str, limit: int) -> str:
    """A required SchemaName-like property: letters, digits and underscores, starting with a letter."""
    return _valid_name(body.required_text(key), f"{key} of {body.where}", limit)


def _valid_name(value: str, what: str, limit: int) -> str:
    if len(value) > limit or not _NAME.fullmatch(value):
        raise _invalid(
            f"The {what} '{_shown(value)}' is not valid: it must start with a letter, hold only letters, digits and "
            f"underscores, and be at most {limit} characters long."
        )
    return value


def _optional_name(body: _Body, key: str, limit: int) -> str | None:
    value = body.text(key)
    return None if value is None else _valid_name(value, f"{key} of {body.where}", limit)


def _logical_name(body: _Body, schema_name: str) -> str:
    """``schema_name`` lowercased; a ``LogicalName`` the body carries must agree with it."""
    logical = body.text("LogicalName")
    if logical is not None and logical.lower() != schema_name.lower():
        raise _invalid(f"The LogicalName '{_shown(logical)}' of {body.where} does not match its SchemaName.")
    return schema_name.lower()


def _checked_type(body: _Body, allowed: Iterable[str], suffix: str) -> str | None:
    stem = _type_stem(body, suffix)
    if stem is not None and stem not in allowed:
        raise _unresolved(str(body.raw("@odata.type")))
    return stem


# --- labels -------------------------------------------------------------------------------------------------------


def label_text(value: object) -> str:
    """The text of a ``Label`` (``{"LocalizedLabels": [{"Label", "LanguageCode"}], "UserLocalizedLabel": …}``).

    The localized label in language 1033, else the first localized label, else the ``UserLocalizedLabel`` (a
    read-only property Dataverse ignores in writes, used only when nothing else is given); "" for an absent or null
    label or one without labels. Raises :class:`DataverseError` for anything not shaped as a Label.
    """
    if value is None:
        return ""
    body = _Body.of(value, "a Label")
    labels = [_localized(item) for item in body.items("LocalizedLabels")]
    chosen = next((text for text, language in labels if language == LANGUAGE), None)
    if chosen is not None or labels:
        return chosen if chosen is not None else labels[0][0]
    user = body.child("UserLocalizedLabel")
    return _localized(user.data)[0] if user is not None else ""


def _localized(value: object) -> tuple[str, int | None]:
    body = _Body.of(value, "a LocalizedLabel")
    return body.text("Label") or "", body.integer("LanguageCode")


def _label(body: _Body, key: str) -> str:
    return label_text(body.raw(key))


# --- columns ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """One column body being read, with what its facets need to know."""

    body: _Body
    kind: AttributeType
    name: str
    table: str
    option_value_prefix: int
    option_sets: Sequence[OptionSetDefinition]

    def fail(self, code: DataverseCode, detail: str) -> DataverseError:
        return DataverseError(code, detail=f"{detail} (column {self.name} of table {self.table or '?'})")


_Facets = dict[str, Any]
_CREATABLE = (
    AttributeType.UNIQUEIDENTIFIER, AttributeType.STRING, AttributeType.MEMO, AttributeType.INTEGER,
    AttributeType.BIGINT, AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY, AttributeType.BOOLEAN,
    AttributeType.DATETIME, AttributeType.PICKLIST, AttributeType.MULTISELECTPICKLIST, AttributeType.LOOKUP,
    AttributeType.FILE, AttributeType.IMAGE,
)  # fmt: skip
_BY_STEM: dict[str, tuple[AttributeType, ...]] = {}
for _kind in AttributeType:  # definition order: the stem's own kind (Lookup) precedes its namesakes (Owner…)
    _BY_STEM[_kind.metadata_type] = (*_BY_STEM.get(_kind.metadata_type, ()), _kind)
_BY_TYPE_NAME = {kind.type_name: kind for kind in AttributeType}
_BY_ATTRIBUTE_TYPE = {kind.value: kind for kind in AttributeType}


def parse_attribute(
    body: object,
    *,
    table: str = "",
    option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX,
    option_sets: Sequence[OptionSetDefinition] = (),
) -> AttributeDefinition:
    """One ``…AttributeMetadata`` body (``POST …/Attributes``, ``PUT …/Attributes(…)``, a table's or a
    relationship's column) as a custom column of ``table`` (its logical name, used in error messages).

    The type comes from ``@odata.type`` (with or without ``#``, the ``Microsoft.Dynamics.CRM.`` namespace and the
    ``Complex`` prefix of ``CreateEntities``), refined or, when absent, given by ``AttributeTypeName``/
    ``AttributeType``. Options sent without a value are numbered from ``option_value_prefix``; a column bound to a
    global choice takes its name and options from ``option_sets``. Lookup columns are parsed (for relationship
    bodies): refusing them on ``POST …/Attributes`` is the caller's part. Raises :class:`DataverseError`.
    """
    where = f"the attribute of table {table}" if table else "the attribute"
    column_body = _Body.of(body, where)
    schema_name = _name(column_body, "SchemaName", _SHORT_NAME)
    column_body = _Body(column_body.data, f"attribute {schema_name}")
    kind = _attribute_type(column_body)
    name = _logical_name(column_body, schema_name)
    if kind not in _CREATABLE:
        raise DataverseError(errors.INVALID_CUSTOM_ATTRIBUTE_TYPE, attribute=name, entity=table, type=kind.value)
    column = _Column(column_body, kind, name, table, option_value_prefix, option_sets)
    return AttributeDefinition(
        logical_name=name,
        type=kind,
        schema_name=schema_name,
        is_custom=True,
        **_common(column),
        **_FACETS[kind](column),
    )


def _attribute_type(body: _Body) -> AttributeType:
    declared = _declared_type(body)
    stem = _type_stem(body, "AttributeMetadata")
    if not stem:
        if declared is None:
            raise _invalid(f"The type of {body.where} is missing: send its @odata.type.")
        return declared
    candidates = _BY_STEM.get(stem)
    if candidates is None:
        raise _unresolved(str(body.raw("@odata.type")))
    return declared if declared in candidates else candidates[0]


def _declared_type(body: _Body) -> AttributeType | None:
    """The type ``AttributeTypeName`` (preferred: it tells Virtual columns apart) or ``AttributeType`` names."""
    type_name, attribute_type = body.enum_value("AttributeTypeName"), body.text("AttributeType")
    return _BY_TYPE_NAME.get(type_name or "") or _BY_ATTRIBUTE_TYPE.get(attribute_type or "")


def _common(column: _Column) -> _Facets:
    body = column.body
    level = body.enum_value("RequiredLevel") or "None"
    if level not in REQUIRED_LEVELS:
        raise column.fail(errors.INVALID_ARGUMENT, f"RequiredLevel '{_shown(level)}' is not one of {REQUIRED_LEVELS}")
    is_primary_name = body.flag("IsPrimaryName")
    if is_primary_name and column.kind is not AttributeType.STRING:
        raise DataverseError(errors.INVALID_PRIMARY_FIELD_TYPE)
    auto_number = body.text("AutoNumberFormat") or None
    if auto_number is not None and column.kind is not AttributeType.STRING:
        raise column.fail(errors.INVALID_AUTO_NUMBER_TYPE, "AutoNumberFormat is only valid on String columns")
    return {
        "display_name": _label(body, "DisplayName"),
        "description": _label(body, "Description"),
        "required_level": level,
        "required": level in ("SystemRequired", "ApplicationRequired"),
        "is_primary_name": is_primary_name,
        "auto_number_format": auto_number,
    }


# -- text --

_STRING_FORMATS = (
    "Text", "Email", "Url", "Phone", "TextArea", "TickerSymbol", "PhoneticGuide", "VersionNumber", "Json", "RichText",
)  # fmt: skip
_MEMO_FORMATS = ("Text", "TextArea", "Email", "Json", "RichText")


def _string(column: _Column) -> _Facets:
    text_format = _text_format(column, _STRING_FORMATS, "Text", errors.INVALID_STRING_FORMAT)
    if column.body.text("AutoNumberFormat") and text_format != "Text":
        raise column.fail(errors.INVALID_AUTO_NUMBER_TYPE, "An auto-number column must have the Text format")
    return {"max_length": _max_length(column, 4000, 100), "format": text_format}


def _memo(column: _Column) -> _Facets:
    text_format = _text_format(column, _MEMO_FORMATS, "TextArea", errors.INVALID_ATTRIBUTE_FORMAT)
    return {"max_length": _max_length(column, 1048576, 2000), "format": text_format}


def _text_format(column: _Column, allowed: tuple[str, ...], default: str, code: DataverseCode) -> str:
    """``FormatName.Value`` (what the SDK changes) over the legacy ``Format``."""
    text_format = column.body.enum_value("FormatName") or column.body.text("Format") or default
    if text_format not in allowed:
        kind = column.kind.value
        raise DataverseError(code, format=_shown(text_format), type=kind, column=column.name, entity=column.table)
    return text_format


def _max_length(column: _Column, high: int, default: int) -> int:
    value = column.body.integer("MaxLength")
    if value is None:
        return default
    if not 1 <= value <= high:
        raise DataverseError(
            errors.ATTRIBUTE_MAX_LENGTH_OUT_OF_RANGE, max_length=value, column=column.name, low=1, high=high
        )
    return value


# -- numbers --

_RANGES: dict[AttributeType, tuple[int, int]] = {
    AttributeType.INTEGER: _INT32,
    AttributeType.BIGINT: (-9223372036854775808, 9223372036854775807),
    AttributeType.DECIMAL: (-100000000000, 100000000000),
    AttributeType.DOUBLE: (-100000000000, 100000000000),
    AttributeType.MONEY: (-922337203685477, 922337203685477),
}
_RANGE_CODES = {AttributeType.DECIMAL: errors.DECIMAL_OUT_OF_RANGE, AttributeType.DOUBLE: errors.DOUBLE_OUT_OF_RANGE}
_MAX_PRECISION = {AttributeType.DECIMAL: 10, AttributeType.DOUBLE: 5, AttributeType.MONEY: 4}
_INTEGER_FORMATS = ("None", "Duration", "TimeZone", "Language", "Locale")


def _range(column: _Column) -> _Facets:
    """MinValue/MaxValue within the type's supported range, MinValue ≤ MaxValue; whole numbers for Integer and
    BigInt, floats for the others."""
    low, high = _RANGES[column.kind]
    code = _RANGE_CODES.get(column.kind, errors.INVALID_ARGUMENT)
    whole = column.kind in (AttributeType.INTEGER, AttributeType.BIGINT)
    read: Callable[[str], int | float | None] = column.body.integer if whole else column.body.number
    bounds = [read(key) for key in ("MinValue", "MaxValue")]
    minimum, maximum = (low if bounds[0] is None else bounds[0]), (high if bounds[1] is None else bounds[1])
    for key, value in (("MinValue", minimum), ("MaxValue", maximum)):
        if not low <= value <= high:
            raise column.fail(code, f"{key} {value} is out of range: it must be between {low} and {high}")
    if minimum > maximum:
        raise column.fail(code, f"MinValue {minimum} is greater than MaxValue {maximum}")
    if whole:
        return {"min_value": minimum, "max_value": maximum}
    return {"min_value": float(minimum), "max_value": float(maximum)}


def _integer(column: _Column) -> _Facets:
    number_format = column.body.text("Format") or "None"
    if number_format not in _INTEGER_FORMATS:
        raise DataverseError(
            errors.INVALID_ATTRIBUTE_FORMAT,
            format=_shown(number_format), type=column.kind.value, column=column.name, entity=column.table,
        )  # fmt: skip
    return _range(column) | {"format": number_format}


def _precise(column: _Column) -> _Facets:
    precision = column.body.integer("Precision")
    high = _MAX_PRECISION[column.kind]
    if precision is not None and not 0 <= precision <= high:
        raise column.fail(_RANGE_CODES.get(column.kind, errors.INVALID_ARGUMENT), f"Precision must be 0 to {high}")
    return _range(column) | {"precision": 2 if precision is None else precision}


def _money(column: _Column) -> _Facets:
    source = column.body.integer("PrecisionSource")
    if source is not None and source not in (0, 1, 2):
        raise column.fail(errors.INVALID_ARGUMENT, "PrecisionSource must be 0, 1 or 2")
    return _precise(column) | {"precision_source": 2 if source is None else source}


# -- dates --


def _datetime(column: _Column) -> _Facets:
    behavior = column.body.enum_value("DateTimeBehavior") or "UserLocal"
    if behavior not in DATE_BEHAVIORS:
        raise column.fail(
            errors.INVALID_DATETIME_BEHAVIOR, f"DateTimeBehavior '{_shown(behavior)}' is not one of {DATE_BEHAVIORS}"
        )
    date_format = column.body.text("Format") or ("DateOnly" if behavior == "DateOnly" else "DateAndTime")
    if date_format not in ("DateOnly", "DateAndTime") or (behavior == "DateOnly" and date_format != "DateOnly"):
        raise DataverseError(
            errors.INVALID_ATTRIBUTE_FORMAT,
            format=_shown(date_format), type=column.kind.value, column=column.name, entity=column.table,
        )  # fmt: skip
    return {"date_only": date_format == "DateOnly", "date_behavior": behavior, "format": date_format}


# -- choices --


def _boolean(column: _Column) -> _Facets:
    option_set = column.body.child("OptionSet")
    true = option_set.child("TrueOption") if option_set else None
    false = option_set.child("FalseOption") if option_set else None
    default = column.body.raw("DefaultValue")
    if default is not None and not isinstance(default, bool):
        raise column.fail(errors.INVALID_ARGUMENT, "DefaultValue must be true or false")
    options = (
        Option(1, _label(true, "Label") if true else "Yes"),
        Option(0, _label(false, "Label") if false else "No"),
    )
    return {"options": options, "default_value": default}


def _choice(column: _Column) -> _Facets:
    """A Picklist or MultiSelectPicklist: a local option set, a global one, or (a PUT) none."""
    reference = _global_reference(column)
    default = column.body.integer("DefaultFormValue")
    facets: _Facets = {"default_value": None if default == -1 else default}
    if reference is not None:
        definition = _resolve(reference, column.option_sets)
        return facets | {"option_set_name": definition.name, "options": definition.options}
    option_set = column.body.child("OptionSet")
    if option_set is None:
        return facets
    return facets | {"options": _options(option_set, column.option_value_prefix)}


_BIND = re.compile(r"(?:.*/)?GlobalOptionSetDefinitions\((?:Name='(?P<name>[^']*)'|(?P<id>[0-9A-Fa-f-]{36}))\)")


def _global_reference(column: _Column) -> str | uuid.UUID | None:
    """The global choice the column uses: a ``GlobalOptionSet@odata.bind`` (a MetadataId or a name) or the name of an
    ``OptionSet`` marked ``IsGlobal``."""
    bind = column.body.text("GlobalOptionSet@odata.bind")
    if bind is not None:
        matched = _BIND.fullmatch(bind)
        if matched is None:
            raise column.fail(errors.INVALID_ARGUMENT, f"GlobalOptionSet@odata.bind '{_shown(bind)}' is not valid")
        return matched["name"] if matched["name"] is not None else _uuid(matched["id"], column)
    option_set = column.body.child("OptionSet")
    if option_set is not None and option_set.flag("IsGlobal"):
        return option_set.required_text("Name")
    return None


def _uuid(text: str, column: _Column) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise column.fail(errors.INVALID_ARGUMENT, f"'{text}' is not a MetadataId") from None


def _resolve(reference: str | uuid.UUID, option_sets: Sequence[OptionSetDefinition]) -> OptionSetDefinition:
    if isinstance(reference, uuid.UUID):
        found = next((o for o in option_sets if o.metadata_id == reference), None)
    else:
        found = next((o for o in option_sets if o.name.lower() == reference.lower()), None)
    if found is None:
        raise _invalid(f"The global option set {_shown(str(reference))} does not exist.")
    return found


def _options(option_set: _Body, prefix: int) -> tuple[Option, ...]:
    """The ``Options`` of an option set; those without ``Value`` numbered ``prefix * 10000`` upward."""
    given = [_option(item, option_set.where) for item in option_set.items("Options")]
    used: set[int] = set()
    for value, _text in given:
        if value in used:
            raise _invalid(f"The option value {value} appears more than once in {option_set.where}.")
        if value is not None:
            used.add(value)
    free = _free_values(prefix * 10000, used)
    return tuple(Option(next(free) if value is None else value, text) for value, text in given)


def _free_values(start: int, used: set[int]) -> Iterator[int]:
    value = start
    while True:
        if value not in used:
            yield value
        value += 1


def _option(value: object, where: str) -> tuple[int | None, str]:
    body = _Body.of(value, f"an option of {where}")
    number = body.integer("Value")
    if number is not None and not _INT32[0] <= number <= _INT32[1]:
        raise _invalid(f"The option value {number} of {where} is out of range.")
    return number, _label(body, "Label")


# -- references, files, identifiers --


def _lookup(column: _Column) -> _Facets:
    targets = tuple(_target(item, column) for item in column.body.items("Targets"))
    return {"targets": targets}


def _target(value: object, column: _Column) -> str:
    if not isinstance(value, str):
        raise column.fail(errors.INVALID_ARGUMENT, "Targets must be table logical names")
    return _valid_name(value, "target table", _SHORT_NAME).lower()


_MAX_SIZE_KB = {AttributeType.FILE: (32768, 10485760), AttributeType.IMAGE: (10240, 30720)}


def _sized(column: _Column) -> _Facets:
    default, high = _MAX_SIZE_KB[column.kind]
    size = column.body.integer("MaxSizeInKB")
    if size is not None and not 1 <= size <= high:
        raise column.fail(errors.INVALID_ARGUMENT, f"MaxSizeInKB must be 1 to {high}")
    return {"max_size_kb": default if size is None else size}


def _nothing(_column: _Column) -> _Facets:
    return {}


_FACETS: dict[AttributeType, Callable[[_Column], _Facets]] = {
    AttributeType.UNIQUEIDENTIFIER: _nothing,
    AttributeType.STRING: _string,
    AttributeType.MEMO: _memo,
    AttributeType.INTEGER: _integer,
    AttributeType.BIGINT: _range,
    AttributeType.DECIMAL: _precise,
    AttributeType.DOUBLE: _precise,
    AttributeType.MONEY: _money,
    AttributeType.BOOLEAN: _boolean,
    AttributeType.DATETIME: _datetime,
    AttributeType.PICKLIST: _choice,
    AttributeType.MULTISELECTPICKLIST: _choice,
    AttributeType.LOOKUP: _lookup,
    AttributeType.FILE: _sized,
    AttributeType.IMAGE: _sized,
}


# --- tables -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRequest:
    """A table to create (``POST EntityDefinitions``, one of ``CreateEntities``): what the client gives. The caller
    adds the primary id, the system columns, the entity set name and the object type code."""

    schema_name: str
    display_name: str
    display_collection_name: str
    description: str
    ownership: str
    """``UserOwned`` or ``OrganizationOwned``."""
    is_activity: bool
    has_notes: bool
    has_activities: bool
    attributes: tuple[AttributeDefinition, ...]
    """The columns sent, in order; exactly one is the primary name column (a String)."""

    @property
    def logical_name(self) -> str:
        return self.schema_name.lower()

    @property
    def primary_name(self) -> AttributeDefinition:
        """The column with ``IsPrimaryName``."""
        return next(a for a in self.attributes if a.is_primary_name)


_OWNERSHIPS = ("UserOwned", "OrganizationOwned")


def parse_table(
    body: object,
    *,
    option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX,
    option_sets: Sequence[OptionSetDefinition] = (),
) -> TableRequest:
    """An ``EntityMetadata`` (``POST EntityDefinitions``) or ``ComplexEntityMetadata`` (``CreateEntities``) body.

    Requires a SchemaName, DisplayName and DisplayCollectionName, and ``Attributes`` with exactly one String column
    marked ``IsPrimaryName``; refuses lookups (created with their relationship) and two columns of one name. Columns
    are read by :func:`parse_attribute` with ``option_value_prefix`` and ``option_sets``. Raises
    :class:`DataverseError`.
    """
    table = _Body.of(body, "the entity")
    _checked_type(table, ("",), "EntityMetadata")
    schema_name = _name(table, "SchemaName", _SHORT_NAME)
    table = _Body(table.data, f"entity {schema_name}")
    logical = _logical_name(table, schema_name)
    ownership = table.text("OwnershipType") or "UserOwned"
    if ownership not in _OWNERSHIPS:
        raise _invalid(f"OwnershipType '{_shown(ownership)}' is not valid: use UserOwned or OrganizationOwned.")
    attributes = tuple(
        parse_attribute(item, table=logical, option_value_prefix=option_value_prefix, option_sets=option_sets)
        for item in table.items("Attributes")
    )
    _check_columns(logical, attributes)
    return TableRequest(
        schema_name=schema_name,
        display_name=_display_name(table, "DisplayName"),
        display_collection_name=_display_name(table, "DisplayCollectionName"),
        description=_label(table, "Description"),
        ownership=ownership,
        is_activity=table.flag("IsActivity"),
        has_notes=table.flag("HasNotes"),
        has_activities=table.flag("HasActivities"),
        attributes=attributes,
    )


def _display_name(table: _Body, key: str) -> str:
    text = _label(table, key)
    if not text.strip():
        raise DataverseError(errors.INVALID_DISPLAY_NAME)
    return text


def _check_columns(table: str, attributes: tuple[AttributeDefinition, ...]) -> None:
    seen: set[str] = set()
    for attribute in attributes:
        if attribute.logical_name in seen:
            raise DataverseError(
                errors.DUPLICATE_ATTRIBUTE_SCHEMA_NAME,
                detail=f"An attribute with the name {attribute.schema_name} already exists on entity {table}.",
            )
        if attribute.type is AttributeType.LOOKUP:
            raise _invalid(f"The lookup {attribute.schema_name} must be created with its one-to-many relationship.")
        seen.add(attribute.logical_name)
    primary = [a.logical_name for a in attributes if a.is_primary_name]
    if not primary:
        raise _invalid(f"The entity {table} needs exactly one StringAttributeMetadata with IsPrimaryName true.")
    if len(primary) > 1:
        raise DataverseError(errors.DUPLICATE_PRIMARY_NAME, existing=primary[0], entity=table, new=primary[1])


def parse_create_entities(
    body: object,
    *,
    option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX,
    option_sets: Sequence[OptionSetDefinition] = (),
) -> tuple[TableRequest, ...]:
    """The ``CreateEntities`` action body ``{"Entities": [<ComplexEntityMetadata>…]}``: one or more tables, each read
    by :func:`parse_table`, no two of one name. Raises :class:`DataverseError`."""
    entities = _Body.of(body, "the CreateEntities request").items("Entities")
    if not entities:
        raise _invalid("The CreateEntities request needs at least one entity in 'Entities'.")
    tables = tuple(
        parse_table(item, option_value_prefix=option_value_prefix, option_sets=option_sets) for item in entities
    )
    names = [table.logical_name for table in tables]
    if len(set(names)) < len(names):
        raise DataverseError(errors.DUPLICATE_ENTITY_NAME)
    return tables


# --- keys ---------------------------------------------------------------------------------------------------------

_MAX_KEY_COLUMNS = 16


def parse_key(body: object) -> KeyDefinition:
    """An ``EntityKeyMetadata`` body (``POST EntityDefinitions(…)/Keys``): ``SchemaName``, ``KeyAttributes`` (1 to
    16 distinct column logical names, lowercased) and ``DisplayName``. Whether the columns exist and may form a key
    is the caller's check. Raises :class:`DataverseError`."""
    key = _Body.of(body, "the entity key")
    _checked_type(key, ("",), "EntityKeyMetadata")
    schema_name = _name(key, "SchemaName", _LONG_NAME)
    key = _Body(key.data, f"entity key {schema_name}")
    _logical_name(key, schema_name)
    columns = tuple(_key_column(item, key) for item in key.items("KeyAttributes"))
    if not 1 <= len(columns) <= _MAX_KEY_COLUMNS or len(set(columns)) < len(columns):
        raise _invalid(f"The KeyAttributes of {key.where} must be 1 to {_MAX_KEY_COLUMNS} distinct columns.")
    return KeyDefinition(schema_name=schema_name, attributes=columns, display_name=_label(key, "DisplayName"))


def _key_column(value: object, key: _Body) -> str:
    if not isinstance(value, str):
        raise _invalid(f"The KeyAttributes of {key.where} must be column logical names.")
    return _valid_name(value, "key attribute", _SHORT_NAME).lower()


# --- relationships ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneToManyRequest:
    """A one-to-many relationship to create with its lookup column (``POST RelationshipDefinitions``)."""

    relationship: RelationshipDefinition
    lookup: AttributeDefinition
    """The lookup column on the referencing table, targeting the referenced table."""
    referenced_attribute: str | None
    """``ReferencedAttribute`` as sent (the referenced table's primary id): the caller checks it."""


_RELATIONSHIP_TYPES = {"OneToManyRelationship": "OneToMany", "ManyToManyRelationship": "ManyToMany"}


def parse_relationship(body: object) -> OneToManyRequest | ManyToManyDefinition:
    """A ``OneToManyRelationshipMetadata`` (with its ``Lookup``) or ``ManyToManyRelationshipMetadata`` body, told
    apart by ``@odata.type`` (or, without it, ``RelationshipType``). Table names are lowercased; whether the tables
    exist is the caller's check. Navigation properties default to what Dataverse names them: the lookup's SchemaName
    on the referencing table, the relationship's SchemaName on the referenced table and on both sides of a
    many-to-many. Raises :class:`DataverseError`."""
    relationship = _Body.of(body, "the relationship")
    stem = _checked_type(relationship, _RELATIONSHIP_TYPES.values(), "RelationshipMetadata")
    if stem is None:
        stem = _RELATIONSHIP_TYPES.get(relationship.text("RelationshipType") or "")
    if stem is None:
        raise _invalid("The type of the relationship is missing: send its @odata.type.")
    schema_name = _name(relationship, "SchemaName", _LONG_NAME)
    relationship = _Body(relationship.data, f"relationship {schema_name}")
    return _one_to_many(relationship, schema_name) if stem == "OneToMany" else _many_to_many(relationship, schema_name)


def _table_name(body: _Body, key: str) -> str:
    return _name(body, key, _SHORT_NAME).lower()


def _navigation(body: _Body, key: str, default: str) -> str:
    return _optional_name(body, key, _LONG_NAME) or default


def _one_to_many(body: _Body, schema_name: str) -> OneToManyRequest:
    referenced, referencing = _table_name(body, "ReferencedEntity"), _table_name(body, "ReferencingEntity")
    lookup_body = body.raw("Lookup")
    if lookup_body is None:
        raise _invalid(f"The property 'Lookup' of {body.where} is required.")
    lookup = parse_attribute(lookup_body, table=referencing)
    if lookup.type is not AttributeType.LOOKUP:
        raise _invalid(f"The Lookup of {body.where} must be a LookupAttributeMetadata.")
    referencing_attribute = body.text("ReferencingAttribute")
    if referencing_attribute is not None and referencing_attribute.lower() != lookup.logical_name:
        raise _invalid(f"The ReferencingAttribute of {body.where} must be its lookup, {lookup.logical_name}.")
    definition = RelationshipDefinition(
        schema_name=schema_name,
        referenced_entity=referenced,
        referencing_entity=referencing,
        referencing_attribute=lookup.logical_name,
        referenced_navigation=_navigation(body, "ReferencedEntityNavigationPropertyName", schema_name),
        referencing_navigation_name=_navigation(body, "ReferencingEntityNavigationPropertyName", lookup.schema_name),
        cascade=_cascade(body.child("CascadeConfiguration")),
    )
    referenced_attribute = body.text("ReferencedAttribute")
    return OneToManyRequest(definition, replace(lookup, targets=(referenced,)), referenced_attribute)


_OWNER_CASCADES = ("Active", "Cascade", "NoCascade", "UserOwned")
_CASCADES = {
    "assign": ("Assign", _OWNER_CASCADES),
    "delete": ("Delete", ("Cascade", "RemoveLink", "Restrict")),
    "merge": ("Merge", ("Cascade", "NoCascade")),
    "reparent": ("Reparent", _OWNER_CASCADES),
    "share": ("Share", _OWNER_CASCADES),
    "unshare": ("Unshare", _OWNER_CASCADES),
}


def _cascade(body: _Body | None) -> CascadeConfiguration:
    """The six cascade actions, each checked against the behaviours Dataverse allows for it; absent ones keep their
    defaults, other properties (``Archive``, ``RollupView``) are ignored."""
    if body is None:
        return CascadeConfiguration()
    given: dict[str, str] = {}
    for field_name, (key, allowed) in _CASCADES.items():
        value = body.text(key)
        if value is not None and value not in allowed:
            raise DataverseError(errors.INVALID_CASCADE_LINK_TYPE)
        if value is not None:
            given[field_name] = value
    return CascadeConfiguration(**given)


def _many_to_many(body: _Body, schema_name: str) -> ManyToManyDefinition:
    intersect = _optional_name(body, "IntersectEntityName", _LONG_NAME) or schema_name
    return ManyToManyDefinition(
        schema_name=schema_name,
        intersect_entity=intersect.lower(),
        entity1=_table_name(body, "Entity1LogicalName"),
        entity2=_table_name(body, "Entity2LogicalName"),
        entity1_navigation=_navigation(body, "Entity1NavigationPropertyName", schema_name),
        entity2_navigation=_navigation(body, "Entity2NavigationPropertyName", schema_name),
    )


# --- global choices -----------------------------------------------------------------------------------------------


def parse_option_set(body: object, *, option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX) -> OptionSetDefinition:
    """An ``OptionSetMetadata`` body (``POST GlobalOptionSetDefinitions``): ``Name`` (kept as sent), labels and
    ``Options`` (those without ``Value`` numbered from ``option_value_prefix``). ``IsGlobal``, when sent, must be true
    and ``OptionSetType`` Picklist (global Boolean choices are refused). Raises :class:`DataverseError`."""
    option_set = _Body.of(body, "the option set")
    _checked_type(option_set, ("",), "OptionSetMetadata")
    name = _name(option_set, "Name", _LONG_NAME)
    option_set = _Body(option_set.data, f"option set {name}")
    if option_set.raw("IsGlobal") is not None and not option_set.flag("IsGlobal"):
        raise _invalid(f"GlobalOptionSetDefinitions only holds global option sets: {option_set.where} is not global.")
    if (option_set.text("OptionSetType") or "Picklist") != "Picklist":
        raise _invalid(f"The OptionSetType of {option_set.where} must be Picklist.")
    return OptionSetDefinition(
        name=name,
        display_name=_label(option_set, "DisplayName"),
        options=_options(option_set, option_value_prefix),
        description=_label(option_set, "Description"),
    )
