"""The schema part of a Dataverse solution zip: read it into table definitions, write definitions back as one.

A solution zip, as an environment exports it, holds ``[Content_Types].xml``, ``solution.xml`` (the manifest: unique
name, version, managed flag, publisher) and ``customizations.xml`` (``<ImportExportXml>``: ``<Entities>``,
``<EntityRelationships>``, ``<optionsets>``…). Only the schema is read: tables, columns, choices, keys and
relationships. Forms, views, ribbons, flows, web resources and data are ignored on reading and not written. Pure:
bytes in, bytes out; XML is parsed with ``defusedxml`` (no DTD, no entities, no external references) and the zip is
read with caps on its entry count and on the bytes it may inflate to.

Mapping decisions (where the export format says nothing):

* Names. An entity's ``<Name>`` and an attribute's ``PhysicalName`` are schema names and keep their case
  (``new_Project``, ``new_Budget``); logical names are their lower case (``<LogicalName>`` wins for attributes).
  Relationship ends are schema names in the file and logical names in the model.
* Which tables the solution defines. An entity is a new table when it says ``<IsCustomEntity>1</IsCustomEntity>``,
  or, without that element, when its name has a publisher prefix (an underscore) and it lists its primary key
  column. Any other entity is an existing table: only its ``IsCustomField`` columns are kept (``columns``), with its
  keys (``keys``).
* Entity set name: ``<EntitySetName>``, else Dataverse's plural of the logical name (``+s``; ``+es`` after s, x, z,
  ch, sh; ``y`` → ``ies`` after a consonant). Object type code: ``<ObjectTypeCode>``, else ``10000 + crc32(logical
  name) mod 90000`` (stable, custom-range); written back only when it is not that number. Primary id: the
  ``primarykey`` column, else ``<logical name>id``; primary name: the column whose ``DisplayMask`` says
  ``PrimaryName`` (or ``<PrimaryNameAttribute>``).
* System columns. An export lists a new table's system columns (createdon, ownerid, statecode…) but never
  ``versionnumber``, and a hand-written file may list none: whatever of Dataverse's system columns for the table's
  ownership is missing is added on reading (Dataverse creates them on import; ``system_columns`` lists them), and
  ``versionnumber`` is not written.
  Companion columns (those with ``<AttributeOf>``: ``createdbyname``, ``owneridtype``…) are skipped.
* Lookup targets come from the file's 1:N relationships (by referencing table and column); system lookups without one
  get Dataverse's fixed targets (``createdby`` → systemuser, ``ownerid`` → systemuser and team…).
* Choices. A column with ``<OptionSetName>`` and no local ``<optionset>`` (or one saying ``<IsGlobal>1``) uses that
  global choice: ``option_set_name`` is set and its options are copied from the solution's global choice. Option
  values are kept as given. A Boolean without options is written with Yes (1) and No (0). ``AppDefaultValue`` -1
  means no default.
* Labels: the 1033 (English) label when there is one, else the first; labels are written as 1033.
* ``<Behavior>`` 1, 2, 3 is UserLocal, DateOnly, TimeZoneIndependent; ``<Format>`` values are lower case in the file
  (``text``, ``email``, ``date``, ``datetime``…) and PascalCase in the model (``Text``, ``Email``, ``DateOnly``,
  ``DateAndTime``…). ``<Accuracy>`` is the precision, ``<AccuracySource>`` the money precision source, a File
  column's ``<MaxValue>`` (an Image's ``<MaxSizeInKB>``) its size limit in KB.
* ``<OwnershipTypeMask>``: ``UserOwned`` ↔ ``UserOwned``, ``OrgOwned`` ↔ ``OrganizationOwned``.
* Relationships: ``EntityRelationshipRole`` type 0 names the referenced table's collection navigation, type 1 the
  referencing table's single-valued one; N:N roles are ordered by ``AssociationRoleOrdinal``. Cascades missing from
  the file are Dataverse's defaults (``CascadeMerge`` is written only when it is not NoCascade); a relationship
  without a cascade configuration is written with the defaults.
* Keys: ``keys`` holds every table's alternate keys; a new table's ``EntityDefinition.keys`` are the same keys.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, indent, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    CascadeConfiguration,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
    Option,
    OptionSetDefinition,
    RelationshipDefinition,
)

MAX_ENTRIES = 10_000
"""A solution zip with more entries than this is refused before anything is inflated."""
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
"""The most the entries read (solution.xml, customizations.xml) may inflate to, together."""

SOLUTION_XML = "solution.xml"
CUSTOMIZATIONS_XML = "customizations.xml"
CONTENT_TYPES_XML = "[Content_Types].xml"
_LANGUAGE = "1033"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class SolutionError(ValueError):
    """The file is not a solution zip this module can read; the message says what is wrong and where."""


@dataclass(frozen=True)
class SolutionSchema:
    """The schema a solution carries: its new tables, the columns and keys it adds to other tables, its global
    choices and its relationships."""

    unique_name: str
    version: str
    managed: bool
    publisher_prefix: str
    """The publisher's customization prefix (``new``, ``contoso``)."""
    publisher_unique_name: str
    option_value_prefix: int
    tables: tuple[EntityDefinition, ...] = ()
    """Tables the solution creates, with every column (system columns included)."""
    columns: Mapping[str, tuple[AttributeDefinition, ...]] = field(default_factory=dict)
    """Custom columns added to tables the solution does not define, by table logical name."""
    keys: Mapping[str, tuple[KeyDefinition, ...]] = field(default_factory=dict)
    """Alternate keys, by table logical name (a defined table's keys are also its ``EntityDefinition.keys``)."""
    option_sets: tuple[OptionSetDefinition, ...] = ()
    one_to_many: tuple[RelationshipDefinition, ...] = ()
    many_to_many: tuple[ManyToManyDefinition, ...] = ()


# --- the type and format vocabularies --------------------------------------------------------------------------

_TYPES: dict[str, AttributeType] = {
    "nvarchar": AttributeType.STRING,
    "ntext": AttributeType.MEMO,
    "memo": AttributeType.MEMO,
    "int": AttributeType.INTEGER,
    "bigint": AttributeType.BIGINT,
    "decimal": AttributeType.DECIMAL,
    "float": AttributeType.DOUBLE,
    "money": AttributeType.MONEY,
    "bit": AttributeType.BOOLEAN,
    "datetime": AttributeType.DATETIME,
    "picklist": AttributeType.PICKLIST,
    "state": AttributeType.STATE,
    "status": AttributeType.STATUS,
    "lookup": AttributeType.LOOKUP,
    "customer": AttributeType.CUSTOMER,
    "owner": AttributeType.OWNER,
    "primarykey": AttributeType.UNIQUEIDENTIFIER,
    "uniqueidentifier": AttributeType.UNIQUEIDENTIFIER,
    "multiselectpicklist": AttributeType.MULTISELECTPICKLIST,
    "file": AttributeType.FILE,
    "image": AttributeType.IMAGE,
    "partylist": AttributeType.PARTYLIST,
    "entityname": AttributeType.ENTITYNAME,
    "virtual": AttributeType.VIRTUAL,
    "managedproperty": AttributeType.MANAGEDPROPERTY,
}
_TYPE_NAMES: dict[AttributeType, str] = {
    kind: name for name, kind in _TYPES.items() if name not in ("memo", "primarykey")
}
_FORMATS = {
    name.lower(): name
    for name in (
        "Text", "Email", "Url", "Phone", "TextArea", "PhoneticGuide", "TickerSymbol", "VersionNumber", "Json",
        "RichText", "None", "Duration", "TimeZone", "Language", "Locale",
    )
} | {"date": "DateOnly", "datetime": "DateAndTime"}  # fmt: skip
_FORMAT_NAMES = {"DateOnly": "date", "DateAndTime": "datetime"}
_OPTION_SET_TYPES = {AttributeType.BOOLEAN: "bit", AttributeType.STATE: "state", AttributeType.STATUS: "status"}
_REQUIRED_LEVELS = {
    "none": "None",
    "systemrequired": "SystemRequired",
    "required": "ApplicationRequired",
    "applicationrequired": "ApplicationRequired",
    "recommended": "Recommended",
}
_REQUIRED_LEVEL_NAMES = {"None": "none", "SystemRequired": "systemrequired", "ApplicationRequired": "required"}
_BEHAVIORS = {"1": "UserLocal", "2": "DateOnly", "3": "TimeZoneIndependent"}
_BEHAVIOR_CODES = {name: code for code, name in _BEHAVIORS.items()}
_OWNERSHIPS = {
    "userowned": "UserOwned",
    "orgowned": "OrganizationOwned",
    "organizationowned": "OrganizationOwned",
    "businessowned": "BusinessOwned",
    "none": "None",
}
_OWNERSHIP_NAMES = {"OrganizationOwned": "OrgOwned"}
_CASCADES = ("assign", "delete", "merge", "reparent", "share", "unshare")

_USER = ("systemuser",)
_SYSTEM_TARGETS: dict[str, tuple[str, ...]] = {
    "createdby": _USER,
    "modifiedby": _USER,
    "createdonbehalfby": _USER,
    "modifiedonbehalfby": _USER,
    "owninguser": _USER,
    "ownerid": ("systemuser", "team"),
    "owningteam": ("team",),
    "owningbusinessunit": ("businessunit",),
    "organizationid": ("organization",),
}
_NOT_EXPORTED = frozenset({"versionnumber"})


def system_columns(ownership: str) -> tuple[AttributeDefinition, ...]:
    """The columns Dataverse gives every new table of this ownership, as an export describes them."""
    T = AttributeType  # noqa: N806
    columns = [
        _column("CreatedBy", T.LOOKUP, "Created By", read_only=True, targets=_USER),
        _column("CreatedOn", T.DATETIME, "Created On", read_only=True, format="DateAndTime"),
        _column("CreatedOnBehalfBy", T.LOOKUP, "Created By (Delegate)", read_only=True, targets=_USER),
        _column("ImportSequenceNumber", T.INTEGER, "Import Sequence Number", valid_for_update=False, **_INT_RANGE),
        _column("ModifiedBy", T.LOOKUP, "Modified By", read_only=True, targets=_USER),
        _column("ModifiedOn", T.DATETIME, "Modified On", read_only=True, format="DateAndTime"),
        _column("ModifiedOnBehalfBy", T.LOOKUP, "Modified By (Delegate)", read_only=True, targets=_USER),
        _column("OverriddenCreatedOn", T.DATETIME, "Record Created On", format="DateOnly", valid_for_update=False),
    ]
    if ownership == "UserOwned":
        columns += [
            _column("OwnerId", T.OWNER, "Owner", targets=_SYSTEM_TARGETS["ownerid"], **_SYSTEM_REQUIRED),
            _column("OwningBusinessUnit", T.LOOKUP, "Owning Business Unit", read_only=True, targets=("businessunit",)),
            _column("OwningTeam", T.LOOKUP, "Owning Team", read_only=True, targets=("team",)),
            _column("OwningUser", T.LOOKUP, "Owning User", read_only=True, targets=_USER),
        ]
    elif ownership == "OrganizationOwned":
        columns.append(
            _column("OrganizationId", T.LOOKUP, "Organization Id", read_only=True, targets=("organization",))
        )
    states = (
        Option(0, "Active", default_status=1, invariant_name="Active"),
        Option(1, "Inactive", default_status=2, invariant_name="Inactive"),
    )
    reasons = (Option(1, "Active", state=0), Option(2, "Inactive", state=1))
    zone: dict[str, Any] = {"min_value": -1, "max_value": 2147483647}
    columns += [
        _column("statecode", T.STATE, "Status", options=states, valid_for_create=False, **_SYSTEM_REQUIRED),
        _column("statuscode", T.STATUS, "Status Reason", options=reasons),
        _column("TimeZoneRuleVersionNumber", T.INTEGER, "Time Zone Rule Version Number", **zone),
        _column("UTCConversionTimeZoneCode", T.INTEGER, "UTC Conversion Time Zone Code", **zone),
        _column("VersionNumber", T.BIGINT, "Version Number", read_only=True, **_BIGINT_RANGE),
    ]  # fmt: skip
    return tuple(columns)


_INT_RANGE: dict[str, Any] = {"min_value": -2147483648, "max_value": 2147483647}
_BIGINT_RANGE: dict[str, Any] = {"min_value": -9223372036854775808, "max_value": 9223372036854775807}
_SYSTEM_REQUIRED: dict[str, Any] = {"required": True, "required_level": "SystemRequired"}


def _column(
    schema_name: str, kind: AttributeType, display: str, *, read_only: bool = False, **facets: Any
) -> AttributeDefinition:
    """A system column as Dataverse creates it (read-only ones are valid for neither create nor update)."""
    if read_only:
        facets |= {"writable": False, "valid_for_create": False, "valid_for_update": False}
    return AttributeDefinition(schema_name.lower(), kind, display, schema_name=schema_name, **facets)


# --- reading ----------------------------------------------------------------------------------------------------


def read_solution(data: bytes) -> SolutionSchema:
    """The schema of the solution zip ``data`` (an export, managed or unmanaged, or what ``write_solution`` wrote).

    Raises ``SolutionError`` naming the part and the element at fault: not a zip, too many entries or too many
    bytes once inflated, ``solution.xml`` or ``customizations.xml`` missing or not well-formed (or carrying a DTD,
    entities or external references), a required element missing, an unknown column type.
    """
    parts = _read_parts(data, (SOLUTION_XML, CUSTOMIZATIONS_XML))
    manifest = _manifest(_parse(SOLUTION_XML, parts[SOLUTION_XML]))
    customizations = _parse(CUSTOMIZATIONS_XML, parts[CUSTOMIZATIONS_XML])
    if customizations.tag != "ImportExportXml":
        raise SolutionError(f"{CUSTOMIZATIONS_XML}: the root element is <{customizations.tag}>, not <ImportExportXml>")
    return _Reader(customizations).schema(manifest)


def _read_parts(data: bytes, names: Iterable[str]) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SolutionError(f"not a solution file: not a zip archive ({exc})") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise SolutionError(f"solution zip: {len(entries)} entries, more than the {MAX_ENTRIES} allowed")
        by_name = {entry.filename.lower().lstrip("/"): entry for entry in entries}
        parts: dict[str, bytes] = {}
        budget = MAX_UNCOMPRESSED_BYTES
        for name in names:
            entry = by_name.get(name)
            if entry is None:
                raise SolutionError(f"solution zip: no {name} (is this a Dataverse solution export?)")
            parts[name] = _inflate(archive, entry, budget)
            budget -= len(parts[name])
        return parts


def _inflate(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, reading at most ``budget`` of them whatever its header claims."""
    if entry.file_size > budget:
        raise SolutionError(f"solution zip: {entry.filename} inflates past {MAX_UNCOMPRESSED_BYTES} bytes")
    try:
        with archive.open(entry) as stream:
            content = stream.read(budget + 1)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, zlib.error) as exc:
        raise SolutionError(f"solution zip: {entry.filename} cannot be read ({exc})") from None
    if len(content) > budget:
        raise SolutionError(f"solution zip: {entry.filename} inflates past {MAX_UNCOMPRESSED_BYTES} bytes")
    return content


def _parse(part: str, content: bytes) -> Element:
    try:
        root: Element = safe_fromstring(content, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise SolutionError(
            f"{part}: refused: {exc} (DTDs, entities and external references are not allowed)"
        ) from None
    except ParseError as exc:
        raise SolutionError(f"{part}: not well-formed XML: {exc}") from None
    return root


@dataclass(frozen=True)
class _Manifest:
    unique_name: str
    version: str
    managed: bool
    publisher_unique_name: str
    prefix: str
    option_value_prefix: int


def _manifest(root: Element) -> _Manifest:
    manifest = root.find("SolutionManifest")
    if manifest is None:
        raise SolutionError(f"{SOLUTION_XML}: no <SolutionManifest>")
    publisher = manifest.find("Publisher")
    if publisher is None:
        raise SolutionError(f"{SOLUTION_XML}: SolutionManifest has no <Publisher>")
    managed = _required(manifest, "Managed", SOLUTION_XML + ": SolutionManifest")
    if managed.lower() not in ("0", "1", "true", "false"):
        raise SolutionError(f"{SOLUTION_XML}: SolutionManifest: Managed is {managed!r}, not 0 or 1")
    where = f"{SOLUTION_XML}: Publisher"
    return _Manifest(
        unique_name=_required(manifest, "UniqueName", SOLUTION_XML + ": SolutionManifest"),
        version=_required(manifest, "Version", SOLUTION_XML + ": SolutionManifest"),
        managed=managed.lower() in ("1", "true"),
        publisher_unique_name=_required(publisher, "UniqueName", where),
        prefix=_required(publisher, "CustomizationPrefix", where),
        option_value_prefix=int(_number(_required(publisher, "CustomizationOptionValuePrefix", where), where)),
    )


def _required(parent: Element, tag: str, where: str) -> str:
    text = _text(parent, tag)
    if not text:
        raise SolutionError(f"{where} has no <{tag}>")
    return text


def _text(parent: Element, tag: str) -> str:
    return (parent.findtext(tag) or "").strip()


def _number(text: str, where: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise SolutionError(f"{where}: {text!r} is not a number") from None


def _flag(parent: Element, tag: str) -> bool | None:
    text = _text(parent, tag).lower()
    return None if not text else text in ("1", "true")


def _label(parent: Element | None, path: str) -> str:
    """The 1033 label among ``path``'s elements, else the first one's (their ``description`` attribute)."""
    if parent is None:
        return ""
    labels = parent.findall(path)
    chosen = next((e for e in labels if e.get("languagecode") == _LANGUAGE), labels[0] if labels else None)
    return "" if chosen is None else chosen.get("description", "")


class _Reader:
    """One customizations.xml, read into a SolutionSchema."""

    def __init__(self, root: Element) -> None:
        self.root = root
        self.option_sets = tuple(self._option_sets())
        self._global_options = {s.name: s.options for s in self.option_sets}
        self.one_to_many = tuple(self._one_to_many())
        self.many_to_many = tuple(self._many_to_many())
        self._targets: dict[tuple[str, str], tuple[str, ...]] = {}
        for r in self.one_to_many:
            key = (r.referencing_entity, r.referencing_attribute)
            if r.referenced_entity not in self._targets.get(key, ()):
                self._targets[key] = (*self._targets.get(key, ()), r.referenced_entity)

    def schema(self, manifest: _Manifest) -> SolutionSchema:
        tables: list[EntityDefinition] = []
        columns: dict[str, tuple[AttributeDefinition, ...]] = {}
        keys: dict[str, tuple[KeyDefinition, ...]] = {}
        for entity_element in self.root.iterfind("Entities/Entity"):
            read = self._entity(entity_element)
            if read is None:
                continue
            name, table, added, table_keys = read
            if table is not None:
                tables.append(table)
            elif added:
                columns[name] = added
            if table_keys:
                keys[name] = table_keys
        return SolutionSchema(
            unique_name=manifest.unique_name,
            version=manifest.version,
            managed=manifest.managed,
            publisher_prefix=manifest.prefix,
            publisher_unique_name=manifest.publisher_unique_name,
            option_value_prefix=manifest.option_value_prefix,
            tables=tuple(tables),
            columns=columns,
            keys=keys,
            option_sets=self.option_sets,
            one_to_many=self.one_to_many,
            many_to_many=self.many_to_many,
        )

    # -- entities --

    def _entity(
        self, element: Element
    ) -> tuple[str, EntityDefinition | None, tuple[AttributeDefinition, ...], tuple[KeyDefinition, ...]] | None:
        schema_name = _text(element, "Name")
        info = element.find("EntityInfo/entity")
        if info is None:
            return None  # listed for its forms or ribbons only
        schema_name = schema_name or info.get("Name", "")
        if not schema_name:
            raise SolutionError(f"{CUSTOMIZATIONS_XML}: an <Entity> has no <Name>")
        name = schema_name.lower()
        where = f"{CUSTOMIZATIONS_XML}: entity {name}"
        attributes = [a for a in (self._attribute(e, name, where) for e in info.iterfind("attributes/attribute")) if a]
        keys = tuple(_key(e, where) for e in info.iterfind("EntityKeys/EntityKey"))
        if not _is_new_table(info, name, attributes):
            return name, None, tuple(a for a in attributes if a.is_custom), keys
        return name, self._table(info, schema_name, attributes, keys, where), (), keys

    def _table(
        self,
        info: Element,
        schema_name: str,
        attributes: list[AttributeDefinition],
        keys: tuple[KeyDefinition, ...],
        where: str,
    ) -> EntityDefinition:
        name = schema_name.lower()
        ownership_text = _text(info, "OwnershipTypeMask") or "UserOwned"
        ownership = _OWNERSHIPS.get(ownership_text.lower())
        if ownership is None:
            raise SolutionError(f"{where}: unknown OwnershipTypeMask {ownership_text!r}")
        primary_id = next((a.logical_name for a in attributes if a.is_primary_id), f"{name}id")
        primary_name = next((a.logical_name for a in attributes if a.is_primary_name), "")
        primary_name = primary_name or _text(info, "PrimaryNameAttribute").lower()
        if not primary_name:
            raise SolutionError(f"{where}: no primary name column (an attribute whose DisplayMask says PrimaryName)")
        attributes = _with_primary_id(attributes, primary_id, _label(info, "LocalizedNames/LocalizedName"))
        attributes = _with_primary_name(attributes, primary_name)
        present = {a.logical_name for a in attributes}
        attributes += [c for c in system_columns(ownership) if c.logical_name not in present]
        code = _text(info, "ObjectTypeCode")
        return EntityDefinition(
            logical_name=name,
            entity_set_name=_text(info, "EntitySetName") or plural(name),
            primary_id=primary_id,
            primary_name=primary_name,
            object_type_code=int(_number(code, where)) if code else object_type_code(name),
            display_name=_label(info, "LocalizedNames/LocalizedName"),
            display_collection_name=_label(info, "LocalizedCollectionNames/LocalizedCollectionName"),
            attributes=tuple(attributes),
            ownership=ownership,
            is_activity=_flag(info, "IsActivity") is True,
            keys=keys,
            schema_name=schema_name,
            description=_label(info, "Descriptions/Description"),
            is_custom=True,
        )

    # -- attributes --

    def _attribute(self, element: Element, entity: str, where: str) -> AttributeDefinition | None:
        if _text(element, "AttributeOf"):
            return None  # a companion (createdbyname, owneridtype…) that Dataverse derives
        schema_name = element.get("PhysicalName", "") or _text(element, "Name")
        name = (_text(element, "LogicalName") or _text(element, "Name") or schema_name).lower()
        if not name:
            raise SolutionError(f"{where}: an attribute has no PhysicalName or LogicalName")
        here = f"{where}: attribute {name}"
        type_text = _text(element, "Type")
        kind = _TYPES.get(type_text.lower())
        if kind is None:
            raise SolutionError(f"{here} has unknown Type {type_text!r}")
        level = _REQUIRED_LEVELS.get(_text(element, "RequiredLevel").lower(), "None")
        create, update = _flag(element, "ValidForCreateApi"), _flag(element, "ValidForUpdateApi")
        mask = _text(element, "DisplayMask").split("|")
        option_set_name, options = self._options(element, kind, here)
        return AttributeDefinition(
            logical_name=name,
            type=kind,
            display_name=_label(element, "displaynames/displayname"),
            max_length=_optional_int(element, "MaxLength", here) if kind in _TEXT_TYPES else None,
            options=options,
            targets=self._lookup_targets(entity, name) if kind.is_lookup or kind is AttributeType.PARTYLIST else (),
            required=level in ("SystemRequired", "ApplicationRequired"),
            is_primary_id=type_text.lower() == "primarykey",
            is_primary_name="PrimaryName" in mask,
            min_value=_optional_number(element, "MinValue", here) if kind in _RANGED_TYPES else None,
            max_value=_optional_number(element, "MaxValue", here) if kind in _RANGED_TYPES else None,
            precision=_optional_int(element, "Accuracy", here),
            writable=create is not False or update is not False,
            schema_name=schema_name or name,
            format=_format(_text(element, "Format")),
            date_behavior=_BEHAVIORS.get(_text(element, "Behavior")) if kind is AttributeType.DATETIME else None,
            required_level=level,
            valid_for_create=create,
            valid_for_update=update,
            valid_for_read=_flag(element, "ValidForReadApi") is not False,
            default_value=_default(element, kind, here),
            precision_source=_optional_int(element, "AccuracySource", here),
            option_set_name=option_set_name,
            description=_label(element, "Descriptions/Description"),
            is_custom=_flag(element, "IsCustomField") is True,
            max_size_kb=_size_kb(element, kind, here),
            auto_number_format=_text(element, "AutoNumberFormat") or None,
        )

    def _lookup_targets(self, entity: str, column: str) -> tuple[str, ...]:
        return self._targets.get((entity, column)) or _SYSTEM_TARGETS.get(column, ())

    def _options(self, element: Element, kind: AttributeType, where: str) -> tuple[str | None, tuple[Option, ...]]:
        if not kind.has_options:
            return None, ()
        local = element.find("optionset")
        global_name = _text(element, "OptionSetName")
        if global_name and (local is None or _flag(local, "IsGlobal") is True):
            return global_name, self._global_options.get(global_name, ())
        return None, () if local is None else _option_list(local, where)

    # -- global choices and relationships --

    def _option_sets(self) -> Iterable[OptionSetDefinition]:
        for element in (*self.root.iterfind("optionsets/optionset"), *self.root.iterfind("OptionSets/optionset")):
            name = element.get("Name", "")
            if not name:
                raise SolutionError(f"{CUSTOMIZATIONS_XML}: a global <optionset> has no Name")
            yield OptionSetDefinition(
                name=name,
                display_name=_label(element, "displaynames/displayname") or element.get("localizedName", ""),
                options=_option_list(element, f"{CUSTOMIZATIONS_XML}: option set {name}"),
                description=_label(element, "Descriptions/Description"),
            )

    def _relationships(self, kind: str) -> Iterable[tuple[Element, str, str]]:
        for element in self.root.iterfind("EntityRelationships/EntityRelationship"):
            if _text(element, "EntityRelationshipType").lower() == kind.lower():
                name = element.get("Name", "")
                if not name:
                    raise SolutionError(f"{CUSTOMIZATIONS_XML}: an <EntityRelationship> has no Name")
                yield element, name, f"{CUSTOMIZATIONS_XML}: relationship {name}"

    def _one_to_many(self) -> Iterable[RelationshipDefinition]:
        for element, name, where in self._relationships("OneToMany"):
            lookup = _required(element, "ReferencingAttributeName", where).lower()
            roles = {_text(r, "RelationshipRoleType"): _text(r, "NavigationPropertyName") for r in _roles(element)}
            single = roles.get("1", "")
            yield RelationshipDefinition(
                schema_name=name,
                referenced_entity=_required(element, "ReferencedEntityName", where).lower(),
                referencing_entity=_required(element, "ReferencingEntityName", where).lower(),
                referencing_attribute=lookup,
                referenced_navigation=roles.get("0") or name,
                referencing_navigation_name="" if single in ("", lookup) else single,
                cascade=_cascade(element),
            )

    def _many_to_many(self) -> Iterable[ManyToManyDefinition]:
        for element, name, where in self._relationships("ManyToMany"):
            roles = {_text(r, "AssociationRoleOrdinal"): _text(r, "NavigationPropertyName") for r in _roles(element)}
            yield ManyToManyDefinition(
                schema_name=name,
                intersect_entity=_required(element, "IntersectEntityName", where).lower(),
                entity1=_required(element, "FirstEntityName", where).lower(),
                entity2=_required(element, "SecondEntityName", where).lower(),
                entity1_navigation=roles.get("1") or name,
                entity2_navigation=roles.get("2") or name,
            )


_TEXT_TYPES = (AttributeType.STRING, AttributeType.MEMO)
_RANGED_TYPES = (
    AttributeType.INTEGER,
    AttributeType.BIGINT,
    AttributeType.DECIMAL,
    AttributeType.DOUBLE,
    AttributeType.MONEY,
)


def _is_new_table(info: Element, name: str, attributes: list[AttributeDefinition]) -> bool:
    declared = _flag(info, "IsCustomEntity")
    if declared is not None:
        return declared
    return "_" in name and any(a.is_primary_id for a in attributes)


def _with_primary_id(attributes: list[AttributeDefinition], primary_id: str, display: str) -> list[AttributeDefinition]:
    if any(a.logical_name == primary_id for a in attributes):
        return attributes
    key = AttributeDefinition(
        primary_id, AttributeType.UNIQUEIDENTIFIER, display, is_primary_id=True, **_SYSTEM_REQUIRED
    )
    return [key, *attributes]


def _with_primary_name(attributes: list[AttributeDefinition], primary_name: str) -> list[AttributeDefinition]:
    return [replace(a, is_primary_name=True) if a.logical_name == primary_name else a for a in attributes]


def _roles(element: Element) -> list[Element]:
    return element.findall("EntityRelationshipRoles/EntityRelationshipRole")


def _cascade(element: Element) -> CascadeConfiguration:
    defaults = CascadeConfiguration()
    values = {c: _text(element, f"Cascade{c.capitalize()}") or getattr(defaults, c) for c in _CASCADES}
    return CascadeConfiguration(**values)


def _key(element: Element, where: str) -> KeyDefinition:
    name = _text(element, "Name") or _text(element, "LogicalName")
    if not name:
        raise SolutionError(f"{where}: an <EntityKey> has no <Name>")
    columns = tuple((e.text or "").strip().lower() for e in element.iterfind("EntityKeyAttributes/AttributeName"))
    if not columns:
        raise SolutionError(f"{where}: key {name} lists no EntityKeyAttributes")
    return KeyDefinition(name, columns, _label(element, "displaynames/displayname"))


def _option_list(optionset: Element, where: str) -> tuple[Option, ...]:
    options: list[Option] = []
    for element in optionset.iterfind("options/option"):
        options.append(Option(_option_value(element, where), _label(element, "labels/label")))
    for element in optionset.iterfind("states/state"):
        default_status = element.get("defaultstatus")
        options.append(
            Option(
                _option_value(element, where),
                _label(element, "labels/label"),
                default_status=int(_number(default_status, where)) if default_status else None,
                invariant_name=element.get("invariantname") or None,
            )
        )
    for element in optionset.iterfind("statuses/status"):
        state = element.get("state")
        options.append(
            Option(
                _option_value(element, where),
                _label(element, "labels/label"),
                state=int(_number(state, where)) if state else None,
            )
        )
    return tuple(options)


def _option_value(element: Element, where: str) -> int:
    value = element.get("value", "")
    if not re.fullmatch(r"-?\d+", value.strip()):
        raise SolutionError(f"{where}: option value {value!r} is not a whole number")
    return int(value)


def _optional_int(element: Element, tag: str, where: str) -> int | None:
    text = _text(element, tag)
    return int(_number(text, f"{where}: {tag}")) if text else None


def _optional_number(element: Element, tag: str, where: str) -> int | float | None:
    text = _text(element, tag)
    return _number(text, f"{where}: {tag}") if text else None


def _format(text: str) -> str | None:
    return _FORMATS.get(text.lower(), text) if text else None


def _default(element: Element, kind: AttributeType, where: str) -> bool | int | None:
    text = _text(element, "AppDefaultValue")
    if not text or kind not in (AttributeType.BOOLEAN, AttributeType.PICKLIST):
        return None
    value = int(_number(text, f"{where}: AppDefaultValue"))
    if kind is AttributeType.BOOLEAN:
        return value == 1
    return None if value == -1 else value


def _size_kb(element: Element, kind: AttributeType, where: str) -> int | None:
    if kind not in (AttributeType.FILE, AttributeType.IMAGE):
        return None
    return _optional_int(element, "MaxSizeInKB", where) or _optional_int(element, "MaxValue", where)


def plural(logical_name: str) -> str:
    """Dataverse's entity set name for a new table without one: ``new_project`` → ``new_projects``,
    ``new_box`` → ``new_boxes``, ``new_category`` → ``new_categories``."""
    if re.search(r"(s|x|z|ch|sh)$", logical_name):
        return logical_name + "es"
    if re.search(r"[^aeiou]y$", logical_name):
        return logical_name[:-1] + "ies"
    return logical_name + "s"


def object_type_code(logical_name: str) -> int:
    """A stable object type code in the custom range (10000–99999) for a table the file gives none."""
    return 10000 + zlib.crc32(logical_name.encode("utf-8")) % 90000


# --- writing ----------------------------------------------------------------------------------------------------


def write_solution(schema: SolutionSchema) -> bytes:
    """A solution zip (``[Content_Types].xml``, ``solution.xml``, ``customizations.xml``) with the elements an
    export has, which ``read_solution`` reads back to an equal schema. Deterministic: the same schema gives the same
    bytes."""
    parts = {
        CONTENT_TYPES_XML: _CONTENT_TYPES,
        CUSTOMIZATIONS_XML: _serialize(_customizations(schema)),
        SOLUTION_XML: _serialize(_solution_manifest(schema)),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="xml" ContentType="application/octet-stream" /></Types>'
)
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _serialize(root: Element) -> bytes:
    indent(root)
    return tostring(root, encoding="unicode").encode("utf-8")


def _sub(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    element = SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _labels(parent: Element, container: str, tag: str, text: str) -> None:
    _sub(_sub(parent, container), tag, description=text, languagecode=_LANGUAGE)


def _bit(value: bool) -> str:
    return "1" if value else "0"


def _solution_manifest(schema: SolutionSchema) -> Element:
    root = Element(
        "ImportExportXml", {"version": "9.2.0.0", "SolutionPackageVersion": "9.2", "languagecode": _LANGUAGE}
    )
    root.set("generatedBy", "CrmLive")
    root.set("xmlns:xsi", _XSI)
    manifest = _sub(root, "SolutionManifest")
    _sub(manifest, "UniqueName", schema.unique_name)
    _labels(manifest, "LocalizedNames", "LocalizedName", schema.unique_name)
    _sub(manifest, "Descriptions")
    _sub(manifest, "Version", schema.version)
    _sub(manifest, "Managed", _bit(schema.managed))
    publisher = _sub(manifest, "Publisher")
    _sub(publisher, "UniqueName", schema.publisher_unique_name)
    _labels(publisher, "LocalizedNames", "LocalizedName", schema.publisher_unique_name)
    _sub(publisher, "Descriptions")
    _sub(publisher, "CustomizationPrefix", schema.publisher_prefix)
    _sub(publisher, "CustomizationOptionValuePrefix", str(schema.option_value_prefix))
    components = _sub(manifest, "RootComponents")
    for table in schema.tables:
        _sub(components, "RootComponent", type="1", schemaName=table.logical_name, behavior="0")
    for name in sorted(set(schema.columns) | set(schema.keys) - {t.logical_name for t in schema.tables}):
        _sub(components, "RootComponent", type="1", schemaName=name, behavior="2")
    for option_set in schema.option_sets:
        _sub(components, "RootComponent", type="9", schemaName=option_set.name, behavior="0")
    _sub(manifest, "MissingDependencies")
    return root


def _customizations(schema: SolutionSchema) -> Element:
    root = Element("ImportExportXml", {"xmlns:xsi": _XSI})
    entities = _sub(root, "Entities")
    for table in schema.tables:
        _write_table(_sub(entities, "Entity"), table, table.keys or schema.keys.get(table.logical_name, ()))
    defined = {t.logical_name for t in schema.tables}
    for name in sorted((set(schema.columns) | set(schema.keys)) - defined):
        _write_existing(_sub(entities, "Entity"), name, schema.columns.get(name, ()), schema.keys.get(name, ()))
    for tag in ("Roles", "Workflows", "FieldSecurityProfiles", "Templates", "EntityMaps"):
        _sub(root, tag)
    relationships = _sub(root, "EntityRelationships")
    names = _SchemaNames(schema)
    for relationship in schema.one_to_many:
        _write_one_to_many(relationships, relationship, names)
    for many in schema.many_to_many:
        _write_many_to_many(relationships, many, names)
    _sub(root, "OrganizationSettings")
    option_sets = _sub(root, "optionsets")
    for option_set in schema.option_sets:
        _write_option_set(option_sets, option_set)
    _sub(root, "CustomControls")
    _sub(root, "EntityDataProviders")
    _sub(_sub(root, "Languages"), "Language", _LANGUAGE)
    return root


class _SchemaNames:
    """Schema names (``new_Project``, ``new_ProjectId``) for the logical names relationships use, where the schema
    knows them; the logical name otherwise (Dataverse matches names without regard to case)."""

    def __init__(self, schema: SolutionSchema) -> None:
        self._tables = {t.logical_name: t.schema_name for t in schema.tables}
        self._columns = {(t.logical_name, a.logical_name): a.schema_name for t in schema.tables for a in t.attributes}
        for table, columns in schema.columns.items():
            self._columns.update({(table, c.logical_name): c.schema_name for c in columns})

    def table(self, name: str) -> str:
        return self._tables.get(name, name)

    def column(self, table: str, name: str) -> str:
        return self._columns.get((table, name), name)


def _write_table(entity: Element, table: EntityDefinition, keys: tuple[KeyDefinition, ...]) -> None:
    _sub(entity, "Name", table.schema_name, LocalizedName=table.display_name, OriginalName=table.display_name)
    info = _sub(_sub(entity, "EntityInfo"), "entity", Name=table.schema_name)
    _labels(info, "LocalizedNames", "LocalizedName", table.display_name)
    _labels(info, "LocalizedCollectionNames", "LocalizedCollectionName", table.display_collection_name)
    _labels(info, "Descriptions", "Description", table.description)
    attributes = _sub(info, "attributes")
    for attribute in _with_primary_id(list(table.attributes), table.primary_id, table.display_name):
        if attribute.logical_name not in _NOT_EXPORTED:
            _write_attribute(attributes, attribute, table.logical_name)
    _write_keys(info, keys)
    _sub(info, "EntitySetName", table.entity_set_name)
    if table.object_type_code != object_type_code(table.logical_name):
        _sub(info, "ObjectTypeCode", str(table.object_type_code))
    _sub(info, "OwnershipTypeMask", _OWNERSHIP_NAMES.get(table.ownership, table.ownership))
    _sub(info, "IsActivity", _bit(table.is_activity))
    _sub(info, "IntroducedVersion", "1.0")
    _sub(info, "IsCustomizable", "1")


def _write_existing(
    entity: Element, name: str, columns: tuple[AttributeDefinition, ...], keys: tuple[KeyDefinition, ...]
) -> None:
    schema_name = name[:1].upper() + name[1:]
    _sub(entity, "Name", schema_name, LocalizedName=schema_name, OriginalName=schema_name)
    info = _sub(_sub(entity, "EntityInfo"), "entity", Name=schema_name)
    attributes = _sub(info, "attributes")
    for column in columns:
        _write_attribute(attributes, column, name)
    _write_keys(info, keys)


def _write_keys(info: Element, keys: tuple[KeyDefinition, ...]) -> None:
    if not keys:
        return
    container = _sub(info, "EntityKeys")
    for key in keys:
        element = _sub(container, "EntityKey")
        _sub(element, "Name", key.schema_name)
        _sub(element, "LogicalName", key.logical_name)
        _sub(element, "IntroducedVersion", "1.0")
        _sub(element, "IsCustomizable", "1")
        columns = _sub(element, "EntityKeyAttributes")
        for column in key.attributes:
            _sub(columns, "AttributeName", column)
        _labels(element, "displaynames", "displayname", key.display_name)


def _write_attribute(parent: Element, attribute: AttributeDefinition, entity: str) -> None:
    element = _sub(parent, "attribute", PhysicalName=attribute.schema_name)
    kind = attribute.type
    type_name = "primarykey" if attribute.is_primary_id else _TYPE_NAMES[kind]
    _sub(element, "Type", type_name)
    _sub(element, "Name", attribute.logical_name)
    _sub(element, "LogicalName", attribute.logical_name)
    _sub(
        element, "RequiredLevel", _REQUIRED_LEVEL_NAMES.get(attribute.required_level, attribute.required_level.lower())
    )
    mask = "PrimaryName|ValidForAdvancedFind|ValidForForm|ValidForGrid|RequiredForForm"
    _sub(
        element, "DisplayMask", mask if attribute.is_primary_name else "ValidForAdvancedFind|ValidForForm|ValidForGrid"
    )
    _sub(element, "ValidForUpdateApi", _bit(attribute.is_valid_for_update))
    _sub(element, "ValidForReadApi", _bit(attribute.valid_for_read))
    _sub(element, "ValidForCreateApi", _bit(attribute.is_valid_for_create))
    _sub(element, "IsCustomField", _bit(attribute.is_custom))
    _sub(element, "IntroducedVersion", "1.0")
    _sub(element, "IsCustomizable", "1")
    _sub(element, "AutoNumberFormat", attribute.auto_number_format or "")
    _write_facets(element, attribute)
    _write_choices(element, attribute, entity)
    _labels(element, "displaynames", "displayname", attribute.display_name)
    _labels(element, "Descriptions", "Description", attribute.description)


def _write_facets(element: Element, attribute: AttributeDefinition) -> None:
    kind = attribute.type
    if kind.is_lookup or kind is AttributeType.PARTYLIST:
        _sub(element, "LookupStyle", "multi" if kind is AttributeType.PARTYLIST else "single")
        _sub(element, "LookupTypes")
    if attribute.format is not None:
        _sub(element, "Format", _FORMAT_NAMES.get(attribute.format, attribute.format.lower()))
    if kind is AttributeType.DATETIME and attribute.date_behavior:
        _sub(element, "Behavior", _BEHAVIOR_CODES.get(attribute.date_behavior, attribute.date_behavior))
    if kind in _TEXT_TYPES and attribute.max_length is not None:
        _sub(element, "MaxLength", str(attribute.max_length))
    for tag, number in (("MinValue", attribute.min_value), ("MaxValue", attribute.max_value)):
        if kind in _RANGED_TYPES and number is not None:
            _sub(element, tag, _number_text(number))
    if attribute.precision is not None:
        _sub(element, "Accuracy", str(attribute.precision))
    if attribute.precision_source is not None:
        _sub(element, "AccuracySource", str(attribute.precision_source))
    if attribute.max_size_kb is not None:
        _sub(element, "MaxSizeInKB" if kind is AttributeType.IMAGE else "MaxValue", str(attribute.max_size_kb))


def _number_text(number: float) -> str:
    if isinstance(number, int) or number.is_integer():
        return str(int(number))
    return repr(number)


def _write_choices(element: Element, attribute: AttributeDefinition, entity: str) -> None:
    kind = attribute.type
    if kind is AttributeType.BOOLEAN and attribute.default_value is not None:
        _sub(element, "AppDefaultValue", _bit(bool(attribute.default_value)))
    elif kind is AttributeType.PICKLIST:
        default = attribute.default_value
        _sub(element, "AppDefaultValue", "-1" if default is None else str(int(default)))
    if not kind.has_options:
        return
    if attribute.option_set_name is not None:
        _sub(element, "OptionSetName", attribute.option_set_name)
        return
    optionset = _sub(element, "optionset", Name=f"{entity}_{attribute.logical_name}")
    _sub(optionset, "OptionSetType", _OPTION_SET_TYPES.get(kind, "picklist"))
    if kind in (AttributeType.PICKLIST, AttributeType.MULTISELECTPICKLIST):
        _sub(optionset, "IsGlobal", "0")
    _sub(optionset, "IntroducedVersion", "1.0")
    _sub(optionset, "IsCustomizable", "1")
    _labels(optionset, "displaynames", "displayname", attribute.display_name)
    _labels(optionset, "Descriptions", "Description", attribute.description)
    options = attribute.options
    if kind is AttributeType.BOOLEAN and not options:
        options = (Option(1, "Yes"), Option(0, "No"))
    _write_options(optionset, kind, options)


def _write_options(optionset: Element, kind: AttributeType, options: tuple[Option, ...]) -> None:
    container, tag = {AttributeType.STATE: ("states", "state"), AttributeType.STATUS: ("statuses", "status")}.get(
        kind, ("options", "option")
    )
    parent = _sub(optionset, container)
    for option in options:
        element = _sub(parent, tag, value=str(option.value))
        if kind is AttributeType.STATE:
            if option.default_status is not None:
                element.set("defaultstatus", str(option.default_status))
            if option.invariant_name:
                element.set("invariantname", option.invariant_name)
        if kind is AttributeType.STATUS and option.state is not None:
            element.set("state", str(option.state))
        _labels(element, "labels", "label", option.label)


def _write_option_set(parent: Element, option_set: OptionSetDefinition) -> None:
    element = _sub(parent, "optionset", Name=option_set.name, localizedName=option_set.display_name)
    _sub(element, "OptionSetType", "picklist")
    _sub(element, "IsGlobal", "1")
    _sub(element, "IntroducedVersion", "1.0")
    _sub(element, "IsCustomizable", "1")
    _labels(element, "displaynames", "displayname", option_set.display_name)
    _labels(element, "Descriptions", "Description", option_set.description)
    _write_options(element, AttributeType.PICKLIST, option_set.options)


def _write_one_to_many(parent: Element, relationship: RelationshipDefinition, names: _SchemaNames) -> None:
    element = _sub(parent, "EntityRelationship", Name=relationship.schema_name)
    _sub(element, "EntityRelationshipType", "OneToMany")
    _sub(element, "IsCustomizable", "1")
    _sub(element, "IntroducedVersion", "1.0")
    _sub(element, "IsHierarchical", "0")
    _sub(element, "ReferencingEntityName", names.table(relationship.referencing_entity))
    _sub(element, "ReferencedEntityName", names.table(relationship.referenced_entity))
    cascade = relationship.cascade or CascadeConfiguration()
    for behaviour in _CASCADES:
        value: str = getattr(cascade, behaviour)
        if behaviour != "merge" or value != "NoCascade":
            _sub(element, f"Cascade{behaviour.capitalize()}", value)
    lookup = names.column(relationship.referencing_entity, relationship.referencing_attribute)
    _sub(element, "ReferencingAttributeName", lookup)
    _labels(_sub(element, "RelationshipDescription"), "Descriptions", "Description", "")
    roles = _sub(element, "EntityRelationshipRoles")
    for navigation, role in ((relationship.referencing_navigation, "1"), (relationship.referenced_navigation, "0")):
        entry = _sub(roles, "EntityRelationshipRole")
        _sub(entry, "NavigationPropertyName", navigation)
        _sub(entry, "RelationshipRoleType", role)


def _write_many_to_many(parent: Element, relationship: ManyToManyDefinition, names: _SchemaNames) -> None:
    element = _sub(parent, "EntityRelationship", Name=relationship.schema_name)
    _sub(element, "EntityRelationshipType", "ManyToMany")
    _sub(element, "IsCustomizable", "1")
    _sub(element, "IntroducedVersion", "1.0")
    _sub(element, "FirstEntityName", names.table(relationship.entity1))
    _sub(element, "SecondEntityName", names.table(relationship.entity2))
    _sub(element, "IntersectEntityName", relationship.intersect_entity)
    roles = _sub(element, "EntityRelationshipRoles")
    for ordinal, navigation in (("1", relationship.entity1_navigation), ("2", relationship.entity2_navigation)):
        entry = _sub(roles, "EntityRelationshipRole")
        _sub(entry, "NavigationPropertyName", navigation)
        _sub(entry, "AssociationRoleOrdinal", ordinal)
