#!/usr/bin/env python3
"""Writes ``src/d365local/dataverse/schema/standard_tables.json``: the standard Dataverse tables as shipped data.

Development time only. It reads the facts extracted from Microsoft's published table/column reference (one JSON
file per table, in the directory given on the command line; by default ``reference/tables`` in the ``shared``
directory beside the repository, where CI keeps it) and writes the product's own normalized format, which
``d365local.dataverse.schema.standard_tables`` loads. The product never reads the facts directory.

    .venv/bin/python scripts/generate_standard_tables.py [FACTS_DIR] [--output FILE] [--check]

What the normalization does, so that a fresh generation is byte-identical to the committed file:

- tables sorted by logical name, columns by logical name, relationships by schema name; every object's keys
  sorted; one column or relationship per line (reviewable diffs), no descriptions or other prose;
- values equal to the default are left out: ``requiredLevel`` None, ``validForCreate``/``validForUpdate``/
  ``validForRead`` true. Where the reference page does not say whether a column is valid for create or update, it
  listed the column as writable and never said false, so both are true, except that a primary id is never valid
  for update;
- ``objectTypeCode`` is added from Dataverse's well-known type codes (the facts do not carry it);
- ``attributeOf`` is derived where the facts leave it out, by Dataverse's naming of a lookup's companion columns:
  ``<lookup>name`` and ``<lookup>yominame`` (String), ``<lookup>type``, ``<lookup>typecode`` and
  ``<lookup>objecttypecode`` (EntityName), and ``<lookup without "id">typecode`` when no ``<lookup>typecode``
  exists (``regardingobjecttypecode`` → ``regardingobjectid``; not annotation's own ``objecttypecode``);
- lookups whose reference page shows no target get the target Dataverse gives them (``TARGET_CORRECTIONS``), and
  a lookup also targets every table that a relationship through it references (the Sales tables are missing from
  the base platform's target lists: ``Lead_Tasks`` makes ``lead`` a target of task.regardingobjectid);
- every 1:N relationship appears once (the facts list it on both tables); relationships and N:N relationships
  with a table outside the set are dropped;
- ``privilegeTable`` names the tables whose privileges are not named after their schema name (``prvReadUser``,
  ``prvReadNote``, ``prvReadActivity``, ``prvReadQuery``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_FACTS = REPOSITORY.parent / "shared" / "reference" / "tables"
OUTPUT = REPOSITORY / "src" / "d365local" / "dataverse" / "schema" / "standard_tables.json"
FORMAT = 1

TYPES = (
    "Uniqueidentifier", "String", "Memo", "Integer", "BigInt", "Decimal", "Double", "Money", "Boolean", "DateTime",
    "Picklist", "State", "Status", "Lookup", "Owner", "Customer", "MultiSelectPicklist", "EntityName", "Virtual",
    "Image", "File", "PartyList", "ManagedProperty",
)  # fmt: skip
LOOKUPS = ("Lookup", "Owner", "Customer")

# Dataverse's ObjectTypeCode of each standard table (the Microsoft.Xrm.Sdk entity type codes).
OBJECT_TYPE_CODES = {
    "account": 1, "contact": 2, "opportunity": 3, "lead": 4, "annotation": 5, "systemuser": 8, "team": 9,
    "businessunit": 10, "incident": 112, "competitor": 123, "activityparty": 135,
    "environmentvariabledefinition": 380, "environmentvariablevalue": 381, "organization": 1019, "pricelevel": 1022,
    "product": 1024, "productpricelevel": 1026, "role": 1036, "savedquery": 1039, "uom": 1055, "uomschedule": 1056,
    "customeraddress": 1071, "quote": 1084, "salesorder": 1088, "invoice": 1090, "queue": 2020, "queueitem": 2029,
    "connection": 3234, "activitypointer": 4200, "appointment": 4201, "email": 4202, "letter": 4207,
    "phonecall": 4210, "task": 4212, "userquery": 4230, "sdkmessage": 4606, "sdkmessagefilter": 4607,
    "asyncoperation": 4700, "solution": 7100, "publisher": 7101, "transactioncurrency": 9105,
}  # fmt: skip

# Tables whose privilege names do not use their schema name: every activity shares prv*Activity.
PRIVILEGE_TABLES = {
    "systemuser": "User", "annotation": "Note", "savedquery": "Query", "activitypointer": "Activity",
    "appointment": "Activity", "email": "Activity", "letter": "Activity", "phonecall": "Activity", "task": "Activity",
}  # fmt: skip

# Lookups whose reference page shows an empty Targets row.
TARGET_CORRECTIONS = {
    ("environmentvariabledefinition", "connectionreferenceid"): ["connectionreference"],
    ("userquery", "parentqueryid"): ["userquery"],
}

_CASCADE_KEYS = ("assign", "delete", "merge", "reparent", "share", "unshare")


class FactsError(Exception):
    """The facts cannot be turned into the catalog (a duplicate, a conflict, an unknown type)."""


def build(facts_dir: Path) -> dict[str, Any]:
    """The normalized document for every ``*.json`` table file in ``facts_dir``."""
    files = sorted(facts_dir.glob("*.json"))
    if not files:
        raise FactsError(f"no table files in {facts_dir}")
    facts = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    by_name = {table["logicalName"]: table for table in facts}
    if len(by_name) != len(facts):
        raise FactsError("two files describe the same table")
    tables = [_table(table) for table in sorted(facts, key=lambda t: str(t["logicalName"]))]
    one_to_many = _one_to_many(facts, by_name)
    _add_relationship_targets(tables, one_to_many)
    return {
        "format": FORMAT,
        "tables": tables,
        "oneToMany": one_to_many,
        "manyToMany": _many_to_many(facts, by_name),
    }


def _add_relationship_targets(tables: list[dict[str, Any]], one_to_many: Iterable[Mapping[str, Any]]) -> None:
    """A lookup also targets every table a relationship through it references: the base platform's pages list
    the targets the platform knows (annotation.objectid, regardingobjectid…), and the Sales tables' relationships
    add themselves (``Lead_Tasks`` makes ``lead`` a target of task.regardingobjectid)."""
    columns = {(table["logicalName"], column["logicalName"]): column for table in tables for column in table["columns"]}
    for relationship in one_to_many:
        column = columns.get((relationship["referencingEntity"], relationship["referencingAttribute"]))
        if (
            column is not None
            and column["type"] in LOOKUPS
            and relationship["referencedEntity"] not in column["targets"]
        ):
            column["targets"].append(relationship["referencedEntity"])


def _table(table: Mapping[str, Any]) -> dict[str, Any]:
    name = str(table["logicalName"])
    if name not in OBJECT_TYPE_CODES:
        raise FactsError(f"no object type code known for {name}")
    columns = {str(c["logicalName"]): c for c in table["columns"]}
    if len(columns) != len(table["columns"]):
        raise FactsError(f"{name}: a column is listed twice")
    for role in ("primaryIdAttribute", "primaryNameAttribute"):
        if table[role] not in columns:
            raise FactsError(f"{name}: {role} {table[role]} is not a column")
    header = {
        "logicalName": name,
        "schemaName": table["schemaName"],
        "entitySetName": table["entitySetName"],
        "displayName": table["displayName"],
        "displayCollectionName": table["displayCollectionName"],
        "primaryIdAttribute": table["primaryIdAttribute"],
        "primaryNameAttribute": table["primaryNameAttribute"],
        "ownershipType": table["ownershipType"],
        "isActivity": bool(table["isActivity"]),
        "objectTypeCode": OBJECT_TYPE_CODES[name],
    }
    if name in PRIVILEGE_TABLES:
        header["privilegeTable"] = PRIVILEGE_TABLES[name]
    owners = _attribute_owners(columns)
    header["columns"] = [
        _column(name, columns[column], table["primaryIdAttribute"], owners.get(column)) for column in sorted(columns)
    ]
    return header


def _column(table: str, column: Mapping[str, Any], primary_id: str, derived_owner: str | None) -> dict[str, Any]:
    name = str(column["logicalName"])
    kind = column["type"]
    if kind not in TYPES:
        raise FactsError(f"{table}.{name}: unknown type {kind}")
    out: dict[str, Any] = {"logicalName": name, "schemaName": column["schemaName"], "type": kind}
    if column.get("displayName"):
        out["displayName"] = column["displayName"]
    if column.get("requiredLevel", "None") != "None":
        out["requiredLevel"] = column["requiredLevel"]
    create = column.get("validForCreate", True)
    update = column.get("validForUpdate", name != primary_id)
    for key, value in (
        ("validForCreate", create),
        ("validForUpdate", update),
        ("validForRead", column["validForRead"]),
    ):
        if value is not True:
            out[key] = False
    for key in ("maxLength", "format", "minValue", "maxValue", "precision", "precisionSource", "dateTimeBehavior"):
        if key in column:
            out[key] = column[key]
    targets = column.get("targets") or TARGET_CORRECTIONS.get((table, name))
    if targets:
        out["targets"] = list(targets)
    elif kind in LOOKUPS:
        raise FactsError(f"{table}.{name}: a lookup without targets and no correction")
    if column.get("options"):
        out["options"] = [_option(option) for option in column["options"]]
    if "defaultValue" in column:
        out["defaultValue"] = column["defaultValue"]
    owner = column.get("attributeOf") or derived_owner
    if owner:
        out["attributeOf"] = owner
    return out


def _option(option: Mapping[str, Any]) -> dict[str, Any]:
    out = {"value": int(option["value"]), "label": str(option["label"])}
    for key in ("state", "defaultStatus", "invariantName"):
        if key in option:
            out[key] = option[key]
    return out


def _attribute_owners(columns: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Companion columns of lookups, by Dataverse's naming (see the module docstring)."""
    owners: dict[str, str] = {}
    for lookup, column in columns.items():
        if column["type"] not in LOOKUPS:
            continue
        names = {f"{lookup}name": "String", f"{lookup}yominame": "String"}
        names |= {f"{lookup}type": "EntityName", f"{lookup}typecode": "EntityName"}
        names[f"{lookup}objecttypecode"] = "EntityName"
        if f"{lookup}typecode" not in columns:
            names[f"{lookup.removesuffix('id')}typecode"] = "EntityName"
        for companion, kind in names.items():
            if companion != lookup and companion in columns and columns[companion]["type"] == kind:
                owners.setdefault(companion, lookup)
    return owners


def _one_to_many(facts: Iterable[Mapping[str, Any]], by_name: Mapping[str, Any]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}

    def merge(schema_name: str, values: Mapping[str, Any]) -> None:
        entry = merged.setdefault(schema_name, {"schemaName": schema_name})
        for key, value in values.items():
            if value is None:
                continue
            if key in entry and entry[key] != value:
                raise FactsError(f"relationship {schema_name}: {key} is {entry[key]!r} and {value!r}")
            entry[key] = value

    for table in facts:
        for item in table.get("oneToMany", ()):
            cascade = item.get("cascade")
            merge(
                item["schemaName"],
                {
                    "referencedEntity": table["logicalName"],
                    "referencingEntity": item["referencingEntity"],
                    "referencingAttribute": item["referencingAttribute"],
                    "referencedNavigation": item.get("referencedEntityNavigationPropertyName"),
                    "cascade": {k: cascade[k] for k in _CASCADE_KEYS if k in cascade} if cascade else None,
                },
            )
        for item in table.get("manyToOne", ()):
            merge(
                item["schemaName"],
                {
                    "referencedEntity": item["referencedEntity"],
                    "referencingEntity": table["logicalName"],
                    "referencingAttribute": item.get("referencingAttribute"),
                    "referencingNavigation": item.get("referencingEntityNavigationPropertyName"),
                },
            )
    kept = []
    for schema_name in sorted(merged):
        entry = merged[schema_name]
        if entry["referencedEntity"] not in by_name or entry["referencingEntity"] not in by_name:
            continue
        if "referencingAttribute" not in entry:
            raise FactsError(f"relationship {schema_name}: no referencing attribute")
        entry.setdefault("referencedNavigation", schema_name)
        kept.append(entry)
    return kept


def _many_to_many(facts: Iterable[Mapping[str, Any]], by_name: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for table in facts:
        for item in table.get("manyToMany", ()):
            entry = {
                "schemaName": item["schemaName"],
                "intersectEntityName": item["intersectEntityName"],
                "entity1LogicalName": item["entity1LogicalName"],
                "entity2LogicalName": item["entity2LogicalName"],
                # Dataverse names both sides after the relationship unless told otherwise.
                "entity1NavigationPropertyName": item.get("entity1NavigationPropertyName", item["schemaName"]),
                "entity2NavigationPropertyName": item.get("entity2NavigationPropertyName", item["schemaName"]),
            }
            if found.setdefault(entry["schemaName"], entry) != entry:
                raise FactsError(f"N:N relationship {entry['schemaName']} is described two ways")
    return [
        found[name]
        for name in sorted(found)
        if found[name]["entity1LogicalName"] in by_name and found[name]["entity2LogicalName"] in by_name
    ]


def render(document: Mapping[str, Any]) -> str:
    """The document as text: one table header, column or relationship per line, keys sorted, UTF-8."""

    def line(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    tables = []
    for table in document["tables"]:
        header = {k: v for k, v in table.items() if k != "columns"}
        columns = ",\n".join(line(column) for column in table["columns"])
        tables.append(f'{line(header)[:-1]},"columns":[\n{columns}\n]}}')
    parts = [
        f'{{"format":{line(document["format"])},\n"tables":[\n' + ",\n".join(tables) + "\n],",
        '"oneToMany":[\n' + ",\n".join(line(r) for r in document["oneToMany"]) + "\n],",
        '"manyToMany":[\n' + ",\n".join(line(r) for r in document["manyToMany"]) + "\n]}\n",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("facts", nargs="?", type=Path, default=DEFAULT_FACTS, help="the facts directory")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the catalog")
    parser.add_argument("--check", action="store_true", help="only check that the output is up to date")
    args = parser.parse_args(argv)
    try:
        text = render(build(args.facts))
    except (FactsError, OSError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    data = text.encode("utf-8")
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != data:
            print(f"{args.output} is out of date: run scripts/generate_standard_tables.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data):,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
