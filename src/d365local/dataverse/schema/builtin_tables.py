"""The catalog every organization starts with: the standard tables as Microsoft ships them (``standard_tables``),
plus the one thing d365local adds: an alternate key on ``account.accountnumber``, so that key addressing
(``accounts(accountnumber='007')``) and upsert by key work before anyone defines a key (docs/differences.md).
"""

from __future__ import annotations

import dataclasses
from functools import cache

from d365local.dataverse.schema.metadata import Catalog, KeyDefinition
from d365local.dataverse.schema.standard_tables import standard_catalog

ACCOUNT_NUMBER_KEY = KeyDefinition("AccountNumberKey", ("accountnumber",), "Account Number")


@cache
def builtin_catalog() -> Catalog:
    """The standard tables with d365local's account number key (built once per process)."""
    standard = standard_catalog()
    entities = tuple(
        dataclasses.replace(entity, keys=(*entity.keys, ACCOUNT_NUMBER_KEY))
        if entity.logical_name == "account"
        else entity
        for entity in standard.entities
    )
    return Catalog(entities, standard.relationships, standard.many_to_many_relationships)
