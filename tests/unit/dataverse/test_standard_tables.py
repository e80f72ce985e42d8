"""The standard tables shipped as package data: they load, they say what Microsoft's reference says, and the
built-in tables the server runs on today agree with them."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    EntityDefinition,
    Option,
)
from d365local.dataverse.schema.standard_tables import RESOURCE, parse, standard_catalog, standard_tables

ROOT = Path(__file__).resolve().parents[3]
FACTS = ROOT.parent / "shared" / "reference" / "tables"
SHIPPED = ROOT / "src" / "d365local" / "dataverse" / "schema" / RESOURCE
needs_facts = pytest.mark.skipif(not FACTS.is_dir(), reason=f"the table facts are not at {FACTS}")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_standard_tables", ROOT / "scripts/generate_standard_tables.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _facts() -> Iterator[dict[str, Any]]:
    for path in sorted(FACTS.glob("*.json")):
        yield json.loads(path.read_text(encoding="utf-8"))


def _option_facts(options: tuple[Option, ...]) -> list[dict[str, Any]]:
    shown = []
    for o in options:
        item: dict[str, Any] = {"value": o.value, "label": o.label}
        extra = {"state": o.state, "defaultStatus": o.default_status, "invariantName": o.invariant_name}
        shown.append(item | {k: v for k, v in extra.items() if v is not None})
    return shown


def test_the_shipped_catalog_loads_41_tables_and_3299_columns() -> None:
    catalog = standard_catalog()
    assert len(standard_tables()) == 41
    assert sum(len(t.attributes) for t in catalog.entities) == 3299
    assert len({t.entity_set_name for t in catalog.entities}) == 41
    assert len({t.object_type_code for t in catalog.entities}) == 41
    assert standard_catalog() is catalog  # read once per process
    assert SHIPPED.stat().st_size < 1_500_000


def test_tables_carry_their_real_names_and_type_codes() -> None:
    catalog = standard_catalog()
    user = catalog.by_entity_set("systemusers")
    assert user is not None
    assert (user.schema_name, user.object_type_code, user.primary_name, user.privilege_stem) == (
        "SystemUser",
        8,
        "fullname",
        "User",
    )
    expected = {"account": 1, "contact": 2, "task": 4212, "activitypointer": 4200, "transactioncurrency": 9105}
    assert {name: catalog.by_logical_name(name).object_type_code for name in expected} == expected  # type: ignore[union-attr]
    activities = {t.logical_name for t in catalog.entities if t.is_activity}
    assert activities == {"activitypointer", "appointment", "email", "letter", "phonecall", "task"}
    assert {catalog.by_logical_name(a).privilege_stem for a in activities} == {"Activity"}  # type: ignore[union-attr]


@needs_facts
def test_every_column_of_the_facts_is_shipped_as_the_facts_say() -> None:
    catalog = standard_catalog()
    relationships = {
        (r.referenced_entity, r.referencing_entity, r.referencing_attribute) for r in catalog.relationships
    }
    corrections = _generator().TARGET_CORRECTIONS
    compared = 0
    for table in _facts():
        entity = catalog.by_logical_name(table["logicalName"])
        assert entity is not None, table["logicalName"]
        assert (entity.schema_name, entity.entity_set_name, entity.ownership, entity.is_activity) == (
            table["schemaName"],
            table["entitySetName"],
            table["ownershipType"],
            table["isActivity"],
        )
        assert (entity.primary_id, entity.primary_name) == (table["primaryIdAttribute"], table["primaryNameAttribute"])
        assert {a.logical_name for a in entity.attributes} == {c["logicalName"] for c in table["columns"]}
        for column in table["columns"]:
            where = f"{entity.logical_name}.{column['logicalName']}"
            attribute = entity.attribute(column["logicalName"])
            assert attribute is not None, where
            assert attribute.type.value == column["type"], where
            assert attribute.schema_name == column["schemaName"], where
            assert attribute.display_name == column.get("displayName", ""), where
            assert attribute.max_length == column.get("maxLength"), where
            assert (attribute.min_value, attribute.max_value) == (column.get("minValue"), column.get("maxValue")), where
            assert attribute.precision == column.get("precision"), where
            assert attribute.format == column.get("format"), where
            assert attribute.date_behavior == column.get("dateTimeBehavior", attribute.date_behavior), where
            assert attribute.required_level == column["requiredLevel"], where
            assert attribute.valid_for_read == column["validForRead"], where
            for key, value in (
                ("validForCreate", attribute.valid_for_create),
                ("validForUpdate", attribute.valid_for_update),
            ):
                if key in column:
                    assert value == column[key], (where, key)
            assert attribute.default_value == column.get("defaultValue"), where
            assert _option_facts(attribute.options) == column.get("options", []), where
            facts_targets = column.get("targets") or corrections.get((entity.logical_name, column["logicalName"]), [])
            assert list(attribute.targets[: len(facts_targets)]) == facts_targets, where
            for added in attribute.targets[len(facts_targets) :]:  # each added target comes with its relationship
                assert (added, entity.logical_name, attribute.logical_name) in relationships, (where, added)
            compared += 1
    assert compared == 3299


@needs_facts
def test_the_committed_catalog_is_a_fresh_generation_and_generation_is_deterministic() -> None:
    generator = _generator()
    first = generator.render(generator.build(FACTS))
    second = generator.render(generator.build(FACTS))
    assert first == second
    assert SHIPPED.read_bytes() == first.encode("utf-8"), "run .venv/bin/python scripts/generate_standard_tables.py"


def test_the_shipped_file_is_in_its_normalized_order() -> None:
    document = json.loads(SHIPPED.read_text(encoding="utf-8"))
    names = [t["logicalName"] for t in document["tables"]]
    assert names == sorted(names)
    for table in document["tables"]:
        columns = [c["logicalName"] for c in table["columns"]]
        assert columns == sorted(columns), table["logicalName"]
    assert [r["schemaName"] for r in document["oneToMany"]] == sorted(r["schemaName"] for r in document["oneToMany"])
    keys = {key for table in document["tables"] for column in table["columns"] for key in column}
    assert not {"description", "source"} & keys  # no prose, no pointer to where the facts came from


def test_every_lookup_target_is_a_table_of_the_catalog_or_outside_the_41() -> None:
    catalog = standard_catalog()
    names = {t.logical_name for t in catalog.entities}
    relationships = {
        (r.referenced_entity, r.referencing_entity, r.referencing_attribute) for r in catalog.relationships
    }
    outside: set[str] = set()
    only_outside = []
    for entity in catalog.entities:
        for attribute in entity.attributes:
            if not (attribute.type.is_lookup or attribute.type is AttributeType.PARTYLIST):
                continue
            assert attribute.targets, f"{entity.logical_name}.{attribute.logical_name}"
            for target in attribute.targets:
                assert re.fullmatch(r"[a-z][a-z0-9_]*", target), target
                if target not in names:
                    outside.add(target)
                elif attribute.type.is_lookup:  # every target inside the catalog can be navigated
                    assert (target, entity.logical_name, attribute.logical_name) in relationships
            if all(t not in names for t in attribute.targets):
                only_outside.append(f"{entity.logical_name}.{attribute.logical_name}")
    # Lookups into tables that are not among the 41 (sla, mailbox, campaign…): their values cannot be navigated yet.
    assert "transactioncurrency" not in outside
    assert {"sla", "mailbox", "externalparty", "campaign", "connectionreference"} <= outside
    assert len(outside) == 285
    assert len(only_outside) == 84
    assert "account.slaid" in only_outside


def test_state_and_status_options_pair_up() -> None:
    for entity in standard_tables():
        state, status = entity.attribute("statecode"), entity.attribute("statuscode")
        if state is None or status is None or state.type is not AttributeType.STATE:
            continue
        states = {o.value: o for o in state.options}
        statuses = {o.value: o for o in status.options}
        for option in status.options:
            assert option.state in states, (entity.logical_name, option)
        for option in state.options:
            assert option.default_status in statuses, (entity.logical_name, option)
            if (entity.logical_name, option.value) == ("invoice", 1):
                # Microsoft's page: "Closed (deprecated)" defaults to 100003 Canceled, a status of state 3.
                assert option.default_status == 100003
                continue
            assert statuses[option.default_status].state == option.value, (entity.logical_name, option)


def test_relationships_carry_dataverse_navigation_names() -> None:
    catalog = standard_catalog()
    by_name = {r.schema_name: r for r in catalog.relationships}
    assert len(by_name) == len(catalog.relationships)
    customer = by_name["contact_customer_accounts"]
    assert (customer.referenced_entity, customer.referencing_entity, customer.referencing_attribute) == (
        "account",
        "contact",
        "parentcustomerid",
    )
    assert (customer.referenced_navigation, customer.referencing_navigation) == (
        "contact_customer_accounts",
        "parentcustomerid_account",
    )
    primary = by_name["account_primary_contact"]
    assert (primary.referenced_entity, primary.referencing_navigation) == ("contact", "primarycontactid")
    assert by_name["Account_Tasks"].cascade is not None
    assert by_name["Account_Tasks"].cascade.delete == "Cascade"
    # A lookup target without a relationship in the reference (ownerid) still gets a derived one.
    assert any(r.referencing_attribute == "ownerid" for r in catalog.many_to_one("account"))
    roles = {r.schema_name: r for r in catalog.many_to_many("role")}
    assert roles["systemuserroles_association"].navigation_from("systemuser") == "systemuserroles_association"
    assert roles["teamroles_association"].intersect_entity == "teamroles"
    assert len(catalog.many_to_many_relationships) == 13


def test_companion_columns_name_their_lookup() -> None:
    account = standard_catalog().by_logical_name("account")
    assert account is not None
    expected = {"createdbyname": "createdby", "owneridtype": "ownerid", "primarycontactidyominame": "primarycontactid"}
    assert {name: account.attribute(name).attribute_of for name in expected} == expected  # type: ignore[union-attr]
    annotation = standard_catalog().by_logical_name("annotation")
    assert annotation is not None
    assert annotation.attribute("objectidtypecode").attribute_of == "objectid"  # type: ignore[union-attr]
    assert annotation.attribute("objecttypecode").attribute_of is None  # type: ignore[union-attr]


def test_new_column_types_describe_themselves_as_the_metadata_api_does() -> None:
    assert (AttributeType.IMAGE.attribute_type, AttributeType.IMAGE.type_name) == ("Virtual", "ImageType")
    assert AttributeType.FILE.metadata_type == "File"
    multi = AttributeType.MULTISELECTPICKLIST
    assert (multi.attribute_type, multi.type_name, multi.metadata_type) == (
        "Virtual",
        "MultiSelectPicklistType",
        "MultiSelectPicklist",
    )
    assert (AttributeType.PARTYLIST.metadata_type, AttributeType.PARTYLIST.is_lookup) == ("Lookup", False)
    assert AttributeType.ENTITYNAME.type_name == "EntityNameType"
    assert AttributeType.MANAGEDPROPERTY.metadata_type == "ManagedProperty"
    assert AttributeType.UNIQUEIDENTIFIER.type_name == "UniqueidentifierType"
    assert not multi.is_choice
    assert multi.has_options
    assert AttributeType.BOOLEAN.has_options
    assert AttributeType.CUSTOMER.is_lookup


def test_definitions_built_the_old_way_derive_the_new_fields() -> None:
    old = AttributeDefinition("birthdate", AttributeType.DATETIME, "Birthday", date_only=True)
    assert (old.schema_name, old.date_behavior, old.required_level) == ("Birthdate", "DateOnly", "None")
    assert (old.is_valid_for_create, old.is_valid_for_update) == (True, True)
    system = AttributeDefinition("createdon", AttributeType.DATETIME, "Created On", writable=False)
    assert (system.is_valid_for_create, system.is_valid_for_update, system.date_behavior) == (False, False, "UserLocal")
    key = AttributeDefinition("accountid", AttributeType.UNIQUEIDENTIFIER, "Account", is_primary_id=True)
    assert (key.is_valid_for_create, key.is_valid_for_update) == (True, False)
    told = AttributeDefinition("day", AttributeType.DATETIME, "Day", date_behavior="DateOnly", schema_name="Day_X")
    assert (told.date_only, told.schema_name) == (True, "Day_X")
    assert AttributeDefinition("x", AttributeType.STRING, "X", required=True).required_level == "ApplicationRequired"
    table = EntityDefinition("systemuser", "systemusers", "systemuserid", "fullname", 8, "User", "Users", (old,))
    assert table.schema_name == "Systemuser"
    named = EntityDefinition("systemuser", "systemusers", "id", "n", 8, "U", "Us", (), schema_name="SystemUser")
    assert (named.schema_name, named.privilege_stem) == ("SystemUser", "SystemUser")


def test_parse_refuses_another_format() -> None:
    with pytest.raises(ValueError, match="format"):
        parse('{"format": 2, "tables": [], "oneToMany": [], "manyToMany": []}')


def test_collection_schema_names_are_dataverse_plurals() -> None:
    """EntityDefinitions' CollectionSchemaName: not the schema name plus 's' (which gives 'Opportunitys')."""
    from d365local.dataverse.odata.metadata_documents import entity_document
    from d365local.dataverse.schema.builtin_tables import builtin_catalog

    names = {e.logical_name: e.collection_schema_name for e in standard_catalog().entities}
    assert names["opportunity"] == "Opportunities"
    assert names["transactioncurrency"] == "TransactionCurrencies"
    assert names["systemuser"] == "SystemUsers"
    opportunity = builtin_catalog().by_logical_name("opportunity")
    assert opportunity is not None
    assert entity_document(opportunity)["CollectionSchemaName"] == "Opportunities"
