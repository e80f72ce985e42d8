"""Read an organization's custom schema through the metadata Web API: its custom tables, the custom columns of its
other tables, their keys and relationships, and its global choices — as the JSON documents the Web API returns.

Wire only: the documents are handed back as they come (a caller turns them into definitions), so this works the same
against d365local and a real Dataverse environment. Requests, in order:

1. ``EntityDefinitions?$select=…`` — every table, a few properties each;
2. ``GlobalOptionSetDefinitions`` — every global choice, with its options;
3. per chosen table, ``EntityDefinitions(LogicalName='x')?$expand=Attributes($select=…),Keys,
   ManyToOneRelationships,ManyToManyRelationships``;
4. per chosen table and column type, ``…/Attributes/Microsoft.Dynamics.CRM.<Type>AttributeMetadata?$filter=
   IsCustomAttribute eq true`` (choices with ``$expand=OptionSet``): the full documents of its custom columns.

A table is chosen when it is a custom table (``IsCustomEntity``; not an intersect or virtual table) or when it is one
of ``known`` (tables the caller can extend, e.g. the ones a local server has); ``tables`` and ``prefixes`` narrow the
choice down.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from d365local.client.webapi import WebApiClient

Document = dict[str, Any]

ENTITY_PROPERTIES = (
    "LogicalName", "SchemaName", "EntitySetName", "PrimaryIdAttribute", "PrimaryNameAttribute", "ObjectTypeCode",
    "OwnershipType", "IsCustomEntity", "IsActivity", "IsIntersect", "HasNotes", "HasActivities", "TableType",
    "DisplayName", "DisplayCollectionName", "Description",
)  # fmt: skip
_CRM = "Microsoft.Dynamics.CRM."
_WITH_OPTIONS = {"PicklistAttributeMetadata", "MultiSelectPicklistAttributeMetadata", "BooleanAttributeMetadata"}

Progress = Callable[[int, int, str], None]
"""Called before each request after the first two: (requests done, requests known so far, what comes next)."""


@dataclass(frozen=True)
class CustomSchema:
    """What :func:`read_custom_schema` read: ``EntityMetadata`` documents, each with ``Attributes`` (the full
    documents of its custom columns), ``Keys``, ``ManyToOneRelationships`` and ``ManyToManyRelationships``; and the
    ``GlobalOptionSetDefinitions`` items."""

    tables: list[Document] = field(default_factory=list)
    option_sets: list[Document] = field(default_factory=list)
    requests: int = 0


def read_custom_schema(
    api: WebApiClient,
    *,
    known: Collection[str] = (),
    tables: Collection[str] = (),
    prefixes: Collection[str] = (),
    progress: Progress | None = None,
) -> CustomSchema:
    """The custom schema of the org ``api`` talks to (see the module's docstring). ``tables``: only these tables
    (logical names); ``prefixes``: only custom tables, columns and keys whose names start with ``<prefix>_``."""
    wanted = {t.lower() for t in tables}
    starts = tuple(f"{p.lower().rstrip('_')}_" for p in prefixes)

    def named(name: str) -> bool:
        return not starts or name.lower().startswith(starts)

    listed = _values(api.request("GET", "EntityDefinitions", params={"$select": ",".join(ENTITY_PROPERTIES)}).json())
    option_sets = _values(api.request("GET", "GlobalOptionSetDefinitions").json())
    chosen: list[Document] = []
    for table in listed:
        name = str(table.get("LogicalName", "")).lower()
        custom = table.get("IsCustomEntity") is True and table.get("IsIntersect") is not True
        if table.get("TableType") not in (None, "Standard", "Activity", "Elastic"):
            custom = False
        if wanted and name not in wanted:
            continue
        if (custom and named(name)) or name in known:
            chosen.append(table)
    done, total = 2, 2 + len(chosen)
    read: list[Document] = []
    for table in chosen:
        name = str(table["LogicalName"]).lower()
        if progress is not None:
            progress(done, total, f"table {name}")
        path = f"EntityDefinitions(LogicalName='{quote(name)}')"
        expand = "Attributes($select=LogicalName,AttributeType,IsCustomAttribute),Keys,ManyToOneRelationships,"
        expand += "ManyToManyRelationships"
        detail = api.request("GET", path, params={"$select": "LogicalName", "$expand": expand}).json()
        done += 1
        is_new = table.get("IsCustomEntity") is True and name not in known
        columns = [
            a
            for a in detail.get("Attributes") or ()
            if a.get("IsCustomAttribute") is True and (is_new or named(str(a.get("LogicalName", ""))))
        ]
        casts = sorted({str(a.get("@odata.type", "")).removeprefix("#").removeprefix(_CRM) for a in columns} - {""})
        total += len(casts)
        documents: list[Document] = []
        keep = {str(a.get("LogicalName")) for a in columns}
        for cast in casts:
            if progress is not None:
                progress(done, total, f"table {name}: {cast.removesuffix('AttributeMetadata')} columns")
            params = {"$filter": "IsCustomAttribute eq true"}
            if cast in _WITH_OPTIONS:
                params["$expand"] = "OptionSet"
            found = _values(api.request("GET", f"{path}/Attributes/{_CRM}{cast}", params=params).json())
            documents += [d for d in found if str(d.get("LogicalName")) in keep]
            done += 1
        keys = [k for k in detail.get("Keys") or () if is_new or named(str(k.get("SchemaName", "")))]
        read.append(
            table
            | {
                "Attributes": documents,
                "Keys": keys,
                "ManyToOneRelationships": list(detail.get("ManyToOneRelationships") or ()),
                "ManyToManyRelationships": list(detail.get("ManyToManyRelationships") or ()),
            }
        )
    if progress is not None:
        progress(done, total, "done")
    return CustomSchema(read, option_sets, done)


def _values(document: Any) -> list[Document]:
    values = document.get("value") if isinstance(document, dict) else None
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
