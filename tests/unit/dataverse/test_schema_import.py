"""A whole schema merged into an organization: a solution's tables, columns, keys, choices and relationships are
created, the same schema twice changes nothing, a newer version updates, a clash of kinds is refused naming both
sides; export → import gives the same schema back; another environment's metadata documents read into the same
definitions."""

from __future__ import annotations

import copy
import dataclasses
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from d365local.dataverse.domain.schema_import import (
    customization_prefix,
    from_metadata,
    from_solution,
    import_schema,
    summary,
    to_solution,
)
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.metadata_documents import (
    attribute_document,
    entity_document,
    key_document,
    many_to_many_document,
    option_set,
    option_set_definition_document,
    relationship_document,
)
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType, Catalog, EntityDefinition
from d365local.dataverse.schema.solution import read_solution, write_solution

FIXTURE = Path(__file__).parent / "solutions" / "contoso_projects"
T = AttributeType


def solution_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="utf-8"?><Types />')
        archive.writestr("solution.xml", (FIXTURE / "solution.xml").read_bytes())
        archive.writestr("customizations.xml", (FIXTURE / "customizations.xml").read_bytes())
    return buffer.getvalue()


@pytest.fixture
def base() -> Catalog:
    """The built-in catalog, copied: a catalog's tables must not see another test's columns."""
    return copy.deepcopy(builtin_catalog())


@pytest.fixture(scope="module")
def incoming() -> Customizations:
    return from_solution(read_solution(solution_zip()))


def _table(custom: Customizations, name: str) -> EntityDefinition:
    return next(t for t in custom.tables if t.logical_name == name)


def _column(entity: EntityDefinition, name: str) -> AttributeDefinition:
    return next(a for a in entity.attributes if a.logical_name == name)


def test_a_solution_creates_its_tables_columns_keys_choices_and_relationships(
    base: Catalog, incoming: Customizations
) -> None:
    result = import_schema(Customizations(), base, incoming)
    assert summary(result) == {
        "tables": 2, "columns": 1, "keys": 1, "optionSets": 1, "oneToMany": 5, "manyToMany": 1,
    }  # fmt: skip
    catalog = result.apply_to(base)
    project = catalog.by_logical_name("new_project")
    assert project is not None
    assert project.entity_set_name == "new_projects"
    assert [k.schema_name for k in project.keys] == ["new_ProjectNameKey"]
    assert _column(project, "new_customer").targets == ("account", "contact")
    account = catalog.by_logical_name("account")
    assert account is not None
    assert "new_tier" in [a.logical_name for a in account.attributes]
    assert [o.name for o in catalog.option_sets] == ["new_priority"]
    assert "new_project_contact" in [r.schema_name for r in catalog.many_to_many_relationships]
    site = catalog.by_logical_name("new_site")
    assert site is not None
    twin = _column(site, "new_budget_base")  # a Money column's _base twin, as Dataverse makes it
    assert (twin.type, twin.is_valid_for_create, twin.is_valid_for_update) == (T.MONEY, False, False)


def test_importing_the_same_solution_twice_changes_nothing(base: Catalog, incoming: Customizations) -> None:
    once = import_schema(Customizations(), base, incoming)
    assert import_schema(once, base, incoming) == once


def test_what_the_org_already_has_is_kept(base: Catalog, incoming: Customizations) -> None:
    other = dataclasses.replace(
        _table(import_schema(Customizations(), base, incoming), "new_site"),
        logical_name="new_other",
        schema_name="new_Other",
        entity_set_name="new_others",
        primary_id="new_otherid",
        attributes=tuple(
            dataclasses.replace(a, logical_name="new_otherid", schema_name="new_OtherId") if a.is_primary_id else a
            for a in _table(import_schema(Customizations(), base, incoming), "new_site").attributes
        ),
    )
    mine = import_schema(Customizations(), base, Customizations(tables=(other,), option_sets=incoming.option_sets))
    result = import_schema(mine, base, incoming)
    assert [t.logical_name for t in result.tables] == ["new_other", "new_project", "new_site"]


def test_a_newer_version_updates_labels_and_facets(base: Catalog, incoming: Customizations) -> None:
    once = import_schema(Customizations(), base, incoming)
    site = _table(incoming, "new_site")
    changed = dataclasses.replace(
        site,
        display_name="Location",
        attributes=tuple(
            dataclasses.replace(a, max_length=20, display_name="Site code") if a.logical_name == "new_code" else a
            for a in site.attributes
        ),
    )
    newer = dataclasses.replace(incoming, tables=tuple(changed if t is site else t for t in incoming.tables))
    result = import_schema(once, base, newer)
    updated = _table(result, "new_site")
    assert updated.display_name == "Location"
    assert (_column(updated, "new_code").max_length, _column(updated, "new_code").display_name) == (20, "Site code")
    assert import_schema(result, base, newer) == result


def test_a_column_of_another_type_is_a_conflict_naming_both(base: Catalog, incoming: Customizations) -> None:
    text = AttributeDefinition("new_tier", T.STRING, "Tier", max_length=100, schema_name="new_Tier", is_custom=True)
    mine = import_schema(Customizations(), base, Customizations(columns={"account": (text,)}))
    with pytest.raises(DataverseError) as caught:
        import_schema(mine, base, incoming)
    assert "account.new_tier exists as String; the incoming column is Picklist" in caught.value.message


def test_a_table_owned_otherwise_is_a_conflict(base: Catalog, incoming: Customizations) -> None:
    site = _table(import_schema(Customizations(), base, incoming), "new_site")
    project = dataclasses.replace(_table(incoming, "new_project"), ownership="OrganizationOwned", keys=())
    mine = import_schema(
        Customizations(), base, Customizations(tables=(site, project), option_sets=incoming.option_sets)
    )
    with pytest.raises(DataverseError) as caught:
        import_schema(mine, base, incoming)
    assert "new_project exists with the ownership OrganizationOwned" in caught.value.message


def test_a_new_table_named_like_a_built_in_one_is_refused(base: Catalog, incoming: Customizations) -> None:
    account = dataclasses.replace(_table(incoming, "new_site"), logical_name="account", schema_name="Account")
    with pytest.raises(DataverseError) as caught:
        import_schema(Customizations(), base, Customizations(tables=(account,)))
    assert "account is a built-in table here" in caught.value.message


def test_a_column_on_a_table_the_org_does_not_have(base: Catalog) -> None:
    column = AttributeDefinition("new_x", T.STRING, "X", schema_name="new_X", is_custom=True)
    with pytest.raises(DataverseError) as caught:
        import_schema(Customizations(), base, Customizations(columns={"msdyn_project": (column,)}))
    assert "msdyn_project, which this organization does not have" in caught.value.message


def test_a_key_over_other_columns_is_a_conflict(base: Catalog, incoming: Customizations) -> None:
    once = import_schema(Customizations(), base, incoming)
    project = _table(incoming, "new_project")
    other_key = dataclasses.replace(project.keys[0], attributes=("new_name",))
    newer = dataclasses.replace(
        incoming,
        tables=tuple(dataclasses.replace(t, keys=(other_key,)) if t is project else t for t in incoming.tables),
    )
    with pytest.raises(DataverseError) as caught:
        import_schema(once, base, newer)
    assert "new_ProjectNameKey exists over (new_name, new_site)" in caught.value.message


def test_export_then_import_gives_the_same_schema(base: Catalog, incoming: Customizations) -> None:
    imported = import_schema(Customizations(), base, incoming)
    exported = write_solution(to_solution(imported, unique_name="ContosoExport"))
    schema = read_solution(exported)
    assert (schema.unique_name, schema.publisher_prefix, schema.managed) == ("ContosoExport", "new", False)
    assert import_schema(Customizations(), copy.deepcopy(builtin_catalog()), from_solution(schema)) == imported


def test_the_publisher_prefix_is_the_one_most_names_carry() -> None:
    column = AttributeDefinition("contoso_x", T.STRING, "X", schema_name="contoso_X", is_custom=True)
    assert customization_prefix(Customizations()) == "new"
    assert customization_prefix(Customizations(columns={"account": (column,)})) == "contoso"


# --- another environment's metadata ---------------------------------------------------------------------------------


def metadata_documents(custom: Customizations, base: Catalog) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What ``schema pull`` reads from an org with these customizations, as the metadata Web API renders it."""
    catalog = custom.apply_to(base)
    tables = []
    for entity in catalog.entities:
        columns = [a for a in entity.attributes if a.is_custom]
        if not entity.is_custom and not columns:
            continue
        documents = []
        for column in columns:
            document = attribute_document(entity, column)
            if (choices := option_set(entity, column)) is not None:
                document["OptionSet"] = choices
            documents.append(document)
        tables.append(
            entity_document(entity)
            | {
                "Attributes": documents,
                "Keys": [key_document(entity, k) for k in entity.keys],
                "ManyToOneRelationships": [relationship_document(r, catalog) for r in catalog.many_to_one(entity.logical_name)],
                "ManyToManyRelationships": [many_to_many_document(r, catalog) for r in catalog.many_to_many(entity.logical_name)],
            }
        )  # fmt: skip
    return tables, [option_set_definition_document(o) for o in catalog.option_sets]


def _shape(custom: Customizations, base: Catalog) -> dict[str, Any]:
    catalog = custom.apply_to(base)
    return {
        "tables": {
            t.logical_name: (
                t.entity_set_name, t.ownership, t.primary_name, sorted((a.logical_name, a.type.value) for a in t.attributes),
                [k.attributes for k in t.keys],
            )
            for t in catalog.entities
            if t.is_custom
        },
        "account": sorted(a.logical_name for a in catalog.by_logical_name("account").attributes if a.is_custom),  # type: ignore[union-attr]
        "optionSets": [(o.name, o.options) for o in catalog.option_sets],
        "manyToMany": [r for r in catalog.many_to_many_relationships if r.schema_name.startswith("new_")],
    }  # fmt: skip


def test_metadata_documents_read_back_into_the_same_schema(base: Catalog, incoming: Customizations) -> None:
    source = import_schema(Customizations(), base, incoming)
    tables, option_sets = metadata_documents(source, base)
    notes: list[str] = []
    pulled = from_metadata(tables, option_sets, base, notes)
    assert notes == []
    target = copy.deepcopy(builtin_catalog())
    result = import_schema(Customizations(), target, pulled)
    assert _shape(result, target) == _shape(source, base)
    names = {r.schema_name for r in result.one_to_many}
    assert names == {r.schema_name for r in source.one_to_many} - {"lk_new_project_createdby"}  # a system one
    customer = _column(_table(result, "new_project"), "new_customer")
    assert (customer.type, customer.targets) == (T.CUSTOMER, ("account", "contact"))
    assert import_schema(result, target, pulled) == result


def test_what_cannot_be_brought_over_is_left_out_with_a_note(base: Catalog, incoming: Customizations) -> None:
    tables, option_sets = metadata_documents(import_schema(Customizations(), base, incoming), base)
    project = next(t for t in tables if t["LogicalName"] == "new_project")
    project["Attributes"].append(
        {"@odata.type": "#Microsoft.Dynamics.CRM.LookupAttributeMetadata", "LogicalName": "new_plan",
         "SchemaName": "new_Plan", "AttributeType": "Lookup", "IsCustomAttribute": True, "Targets": ["msdyn_plan"]}
    )  # fmt: skip
    tables.append({"LogicalName": "new_virtual", "IsCustomEntity": True, "OwnershipType": "None", "Attributes": []})
    tables.append({"LogicalName": "msdyn_thing", "IsCustomEntity": False, "Attributes": [{"LogicalName": "x"}]})
    notes: list[str] = []
    pulled = from_metadata(tables, option_sets, base, notes)
    assert [t.logical_name for t in pulled.tables] == ["new_project", "new_site"]
    assert notes == [
        "column new_project.new_plan: left out (a lookup to msdyn_plan, which d365local does not have)",
        "table new_virtual: left out (OwnershipType None: d365local creates UserOwned and OrganizationOwned tables)",
        "table msdyn_thing: left out (not a custom table, and d365local does not have it)",
    ]
