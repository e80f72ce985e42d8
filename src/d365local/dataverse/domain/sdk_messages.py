"""The ``sdkmessage`` and ``sdkmessagefilter`` rows every organization has: which messages exist, and which tables
each applies to. Clients read them to decide, per table, whether ``CreateMultiple``/``UpdateMultiple`` may be used
(``sdkmessagefilters?$expand=sdkmessageid($select=name)&$filter=sdkmessageid/name eq 'CreateMultiple' and
primaryobjecttypecode eq 'account'``).

Derived from the organization's catalog, so a custom table has its rows as soon as it exists. Ids are stable
(UUIDv5 of the names), so the rows can be written again without duplicates.
"""

from __future__ import annotations

import uuid
from typing import Any

from d365local.dataverse.schema.metadata import Catalog, EntityDefinition

_NAMESPACE = uuid.UUID("0c4f5a3e-5b0e-4d4f-9a55-8f9a3c1d2e71")
TABLE_MESSAGES = (
    "Create",
    "Retrieve",
    "RetrieveMultiple",
    "Update",
    "Delete",
    "Upsert",
    "Associate",
    "Disassociate",
    "CreateMultiple",
    "UpdateMultiple",
    "UpsertMultiple",
)
"""The messages every table takes (its sdkmessagefilter rows)."""
OWNED_MESSAGES = ("Assign", "GrantAccess", "RevokeAccess")
"""The messages of user-owned tables only."""
OTHER_MESSAGES = ("WhoAmI", "BulkDelete", "RetrieveMetadataChanges", "CreateEntities")
"""Messages that belong to no table."""


def message_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"sdkmessage/{name}"))


def filter_id(message: str, table: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"sdkmessagefilter/{message}/{table}"))


def message_names(entity: EntityDefinition) -> tuple[str, ...]:
    return TABLE_MESSAGES + (OWNED_MESSAGES if entity.ownership == "UserOwned" else ())


def message_rows() -> list[dict[str, Any]]:
    """One ``sdkmessage`` row per message."""
    names = dict.fromkeys((*TABLE_MESSAGES, *OWNED_MESSAGES, *OTHER_MESSAGES))
    return [
        {
            "sdkmessageid": message_id(name),
            "name": name,
            "availability": 0,
            "categoryname": "",
            "isactive": True,
            "isprivate": False,
            "isreadonly": name in ("Retrieve", "RetrieveMultiple", "WhoAmI", "RetrieveMetadataChanges"),
            "template": False,
            "autotransact": True,
            "expand": False,
            "introducedversion": "5.0.0.0",
        }
        for name in names
    ]


def filter_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One ``sdkmessagefilter`` row per table and message it takes."""
    return [
        {
            "sdkmessagefilterid": filter_id(message, entity.logical_name),
            "sdkmessageid": message_id(message),
            "primaryobjecttypecode": entity.logical_name,
            "name": f"{message} of {entity.logical_name}",
            "availability": 0,
            "iscustomprocessingstepallowed": entity.is_custom or message in ("Create", "Update", "Delete"),
            "restrictionlevel": 0,
            "introducedversion": "5.0.0.0",
        }
        for entity in catalog.entities
        for message in message_names(entity)
    ]
