"""Solution zips: the schema a real export carries is read field by field, what is written reads back the same, and
every way a file can be wrong or hostile is a SolutionError saying what and where."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, fromstring

import pytest

from d365local.dataverse.schema import solution
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
from d365local.dataverse.schema.solution import (
    SolutionError,
    SolutionSchema,
    object_type_code,
    plural,
    read_solution,
    system_columns,
    write_solution,
)

FIXTURE = Path(__file__).parent / "solutions" / "contoso_projects"
T = AttributeType


def _zip(entries: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _fixture_parts() -> dict[str, bytes | str]:
    return {
        "[Content_Types].xml": '<?xml version="1.0" encoding="utf-8"?><Types />',
        "solution.xml": (FIXTURE / "solution.xml").read_bytes(),
        "customizations.xml": (FIXTURE / "customizations.xml").read_bytes(),
    }


@pytest.fixture(scope="module")
def schema() -> SolutionSchema:
    return read_solution(_zip(_fixture_parts()))


def _table(schema: SolutionSchema, name: str) -> EntityDefinition:
    return next(t for t in schema.tables if t.logical_name == name)


def _column(schema: SolutionSchema, table: str, name: str) -> AttributeDefinition:
    column = _table(schema, table).attribute(name)
    assert column is not None, f"{table}.{name} was not read"
    return column


# --- solution.xml ----------------------------------------------------------------------------------------------


def test_the_manifest_gives_the_solution_and_its_publisher(schema: SolutionSchema) -> None:
    assert (schema.unique_name, schema.version, schema.managed) == ("ContosoProjects", "1.2.0.3", False)
    assert (schema.publisher_unique_name, schema.publisher_prefix, schema.option_value_prefix) == (
        "contoso",
        "new",
        10000,
    )


def test_a_managed_solution_says_so() -> None:
    parts = _fixture_parts()
    parts["solution.xml"] = (FIXTURE / "solution.xml").read_text().replace("<Managed>0<", "<Managed>1<")
    assert read_solution(_zip(parts)).managed is True


# --- tables ------------------------------------------------------------------------------------------------------


def test_only_the_custom_tables_are_tables(schema: SolutionSchema) -> None:
    assert [t.logical_name for t in schema.tables] == ["new_project", "new_site"]


def test_a_user_owned_custom_table(schema: SolutionSchema) -> None:
    project = _table(schema, "new_project")
    assert project.schema_name == "new_Project"
    assert project.entity_set_name == "new_projects"
    assert (project.primary_id, project.primary_name) == ("new_projectid", "new_name")
    assert project.object_type_code == object_type_code("new_project")
    assert 10000 <= project.object_type_code < 100000
    assert (project.display_name, project.display_collection_name) == ("Project", "Projects")
    assert project.description == "A customer project."
    assert project.ownership == "UserOwned"
    assert project.is_custom is True
    assert project.is_activity is False
    assert project.keys == (KeyDefinition("new_ProjectNameKey", ("new_name", "new_site"), "Name per site"),)
    assert project.collection_schema_name == "new_Projects"


def test_an_organization_owned_custom_table(schema: SolutionSchema) -> None:
    site = _table(schema, "new_site")
    assert (site.schema_name, site.entity_set_name, site.ownership) == ("new_Site", "new_sites", "OrganizationOwned")
    assert (site.primary_id, site.primary_name) == ("new_siteid", "new_name")
    assert site.keys == ()


def test_the_system_columns_an_export_lists_are_kept_and_the_missing_ones_added(schema: SolutionSchema) -> None:
    project = [a.logical_name for a in _table(schema, "new_project").attributes]
    # listed in the file, in the file's order (the createdbyname companion is skipped)
    assert project[:9] == [
        "createdby", "createdon", "new_customer", "new_name", "new_projectid", "new_site", "ownerid", "statecode",
        "statuscode",
    ]  # fmt: skip
    # Dataverse's other system columns, versionnumber included (exports never list it)
    assert project[9:] == [
        "createdonbehalfby", "importsequencenumber", "modifiedby", "modifiedon", "modifiedonbehalfby",
        "overriddencreatedon", "owningbusinessunit", "owningteam", "owninguser", "timezoneruleversionnumber",
        "utcconversiontimezonecode", "versionnumber",
    ]  # fmt: skip
    site = {a.logical_name for a in _table(schema, "new_site").attributes}
    assert {"organizationid", "statecode", "statuscode", "createdon", "versionnumber"} <= site
    assert not {"ownerid", "owningbusinessunit", "owninguser"} & site


def test_system_columns_as_dataverse_describes_them(schema: SolutionSchema) -> None:
    created_by = _column(schema, "new_project", "createdby")
    assert (created_by.type, created_by.targets, created_by.writable) == (T.LOOKUP, ("systemuser",), False)
    assert (created_by.is_valid_for_create, created_by.is_valid_for_update, created_by.is_custom) == (
        False,
        False,
        False,
    )
    assert created_by.schema_name == "CreatedBy"
    assert created_by.description == "Unique identifier of the user who created the record."
    owner = _column(schema, "new_project", "ownerid")
    assert (owner.type, owner.targets, owner.required_level) == (T.OWNER, ("systemuser", "team"), "SystemRequired")
    state = _column(schema, "new_project", "statecode")
    assert state.options == (
        Option(0, "Active", default_status=1, invariant_name="Active"),
        Option(1, "Inactive", default_status=2, invariant_name="Inactive"),
    )
    assert (state.is_valid_for_create, state.is_valid_for_update) == (False, True)
    status = _column(schema, "new_project", "statuscode")
    assert status.options == (
        Option(1, "Active", state=0),
        Option(2, "Inactive", state=1),
        Option(100000000, "Cancelled", state=1),
    )
    organization = _column(schema, "new_site", "organizationid")
    assert (organization.targets, organization.writable) == (("organization",), False)
    version = _column(schema, "new_site", "versionnumber")
    assert (version.type, version.writable) == (T.BIGINT, False)


def test_the_primary_key_and_primary_name(schema: SolutionSchema) -> None:
    key = _column(schema, "new_project", "new_projectid")
    assert (key.type, key.is_primary_id, key.schema_name, key.display_name) == (
        T.UNIQUEIDENTIFIER, True, "new_ProjectId", "Project",
    )  # fmt: skip
    assert (key.is_valid_for_create, key.is_valid_for_update, key.required_level) == (True, False, "SystemRequired")
    name = _column(schema, "new_project", "new_name")
    assert (name.type, name.is_primary_name, name.max_length, name.format) == (T.STRING, True, 100, "Text")
    assert (name.required, name.required_level, name.is_custom, name.schema_name) == (
        True, "ApplicationRequired", True, "new_Name",
    )  # fmt: skip


# One column of every kind on the organization-owned table: (column, the fields it must have).
COLUMNS: list[tuple[str, dict[str, Any]]] = [
    ("new_code", {"type": T.STRING, "max_length": 20, "auto_number_format": "SITE-{SEQNUM:5}", "format": "Text"}),
    ("new_email", {"type": T.STRING, "format": "Email", "max_length": 100, "schema_name": "new_Email"}),
    ("new_website", {"type": T.STRING, "format": "Url", "max_length": 200}),
    ("new_phone", {"type": T.STRING, "format": "Phone", "max_length": 50}),
    ("new_notes", {"type": T.MEMO, "format": "TextArea", "max_length": 4000, "auto_number_format": None}),
    ("new_capacity", {"type": T.INTEGER, "format": "None", "min_value": 0, "max_value": 100000, "precision": None}),
    ("new_visits", {"type": T.BIGINT, "min_value": -9223372036854775808, "max_value": 9223372036854775807}),
    ("new_area", {"type": T.DECIMAL, "min_value": -100000000000, "max_value": 100000000000, "precision": 2}),
    ("new_latitude", {"type": T.DOUBLE, "min_value": -90, "max_value": 90, "precision": 5}),
    ("new_budget", {"type": T.MONEY, "min_value": 0, "max_value": 922337203685477, "precision": 2, "precision_source": 2}),
    ("new_isopen", {"type": T.BOOLEAN, "options": (Option(1, "Open"), Option(0, "Closed")), "default_value": True}),
    ("new_openedon", {"type": T.DATETIME, "format": "DateOnly", "date_behavior": "DateOnly", "date_only": True}),
    ("new_inspectedat", {"type": T.DATETIME, "format": "DateAndTime", "date_behavior": "TimeZoneIndependent", "date_only": False}),
    ("new_priority", {"type": T.PICKLIST, "option_set_name": "new_priority", "default_value": None, "options": (
        Option(100000000, "Low"), Option(100000001, "Normal"), Option(100000002, "High"),
    )}),
    ("new_kind", {"type": T.PICKLIST, "option_set_name": None, "default_value": 100000000, "options": (
        Option(100000000, "Office"), Option(100000001, "Warehouse"),
    )}),
    ("new_amenities", {"type": T.MULTISELECTPICKLIST, "option_set_name": None, "options": (
        Option(100000000, "Parking"), Option(100000001, "Cafeteria"), Option(100000002, "Gym"),
    )}),
    ("new_manager", {"type": T.LOOKUP, "targets": ("systemuser",), "writable": True}),
    ("new_externalid", {"type": T.UNIQUEIDENTIFIER, "is_primary_id": False}),
    ("new_floorplan", {"type": T.FILE, "max_size_kb": 32768, "valid_for_create": False, "valid_for_update": False, "writable": False}),
    ("new_photo", {"type": T.IMAGE, "max_size_kb": 10240}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), COLUMNS, ids=[name for name, _ in COLUMNS])
def test_every_kind_of_column_is_read(schema: SolutionSchema, name: str, expected: dict[str, Any]) -> None:
    column = _column(schema, "new_site", name)
    assert {field: getattr(column, field) for field in expected} == expected
    assert column.is_custom is True


def test_the_columns_cover_every_kind_a_solution_creates(schema: SolutionSchema) -> None:
    kinds = {a.type for a in _table(schema, "new_site").attributes} | {
        a.type for a in _table(schema, "new_project").attributes
    }
    assert set(T) - kinds == {T.ENTITYNAME, T.VIRTUAL, T.PARTYLIST, T.MANAGEDPROPERTY}


def test_a_customer_column_points_at_every_table_its_relationships_name(schema: SolutionSchema) -> None:
    customer = _column(schema, "new_project", "new_customer")
    assert (customer.type, customer.targets) == (T.CUSTOMER, ("account", "contact"))
    assert _column(schema, "new_project", "new_site").targets == ("new_site",)


# --- columns and keys on tables the solution does not define ------------------------------------------------------


def test_a_custom_column_on_account(schema: SolutionSchema) -> None:
    assert list(schema.columns) == ["account"]
    (tier,) = schema.columns["account"]  # the file's account "name" is not custom: not the solution's to create
    assert (tier.logical_name, tier.schema_name, tier.type, tier.is_custom) == (
        "new_tier",
        "new_Tier",
        T.PICKLIST,
        True,
    )
    assert (tier.display_name, tier.description) == ("Tier", "Service tier of the account.")  # the 1033 labels
    assert tier.options == (Option(100000000, "Gold"), Option(100000001, "Silver"))
    assert (tier.required_level, tier.required, tier.default_value) == ("Recommended", False, 100000001)


def test_keys_by_table(schema: SolutionSchema) -> None:
    assert dict(schema.keys) == {"new_project": _table(schema, "new_project").keys}


# --- global choices and relationships -------------------------------------------------------------------------------


def test_a_global_choice(schema: SolutionSchema) -> None:
    assert schema.option_sets == (
        OptionSetDefinition(
            "new_priority",
            "Priority",
            (Option(100000000, "Low"), Option(100000001, "Normal"), Option(100000002, "High")),
            description="How urgent something is.",
        ),
    )


def test_one_to_many_relationships(schema: SolutionSchema) -> None:
    by_name = {r.schema_name: r for r in schema.one_to_many}
    assert set(by_name) == {
        "lk_new_project_createdby", "new_account_new_project_Customer", "new_contact_new_project_Customer",
        "new_new_site_new_project_Site", "new_systemuser_new_site_Manager",
    }  # fmt: skip
    site = by_name["new_new_site_new_project_Site"]
    assert site == RelationshipDefinition(
        schema_name="new_new_site_new_project_Site",
        referenced_entity="new_site",
        referencing_entity="new_project",
        referencing_attribute="new_site",
        referenced_navigation="new_new_site_new_project_Site",
        referencing_navigation_name="new_Site",
        cascade=CascadeConfiguration(delete="Restrict"),
    )
    customer = by_name["new_account_new_project_Customer"]
    assert (customer.referencing_navigation, customer.cascade) == ("new_Customer_account", CascadeConfiguration())
    manager = by_name["new_systemuser_new_site_Manager"]  # no roles, no cascades: Dataverse's defaults
    assert (manager.referenced_navigation, manager.referencing_navigation, manager.cascade) == (
        "new_systemuser_new_site_Manager", "new_manager", CascadeConfiguration(),
    )  # fmt: skip


def test_a_many_to_many_relationship(schema: SolutionSchema) -> None:
    assert schema.many_to_many == (
        ManyToManyDefinition(
            schema_name="new_project_contact",
            intersect_entity="new_project_contact",
            entity1="new_project",
            entity2="contact",
            entity1_navigation="new_project_contacts",
            entity2_navigation="new_contact_projects",
        ),
    )


# --- writing --------------------------------------------------------------------------------------------------------


def test_what_is_written_reads_back_the_same(schema: SolutionSchema) -> None:
    written = write_solution(schema)
    assert read_solution(written) == schema
    assert write_solution(read_solution(written)) == written  # and writing is deterministic


def _parts(data: bytes) -> dict[str, Element]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["[Content_Types].xml", "customizations.xml", "solution.xml"]
        return {name: fromstring(archive.read(name)) for name in archive.namelist()}  # noqa: S314  (our own output)


def test_the_written_files_have_the_elements_of_an_export(schema: SolutionSchema) -> None:
    parts = _parts(write_solution(schema))
    manifest = parts["solution.xml"].find("SolutionManifest")
    assert manifest is not None
    assert [manifest.findtext(path) for path in ("UniqueName", "Version", "Managed", "Publisher/UniqueName")] == [
        "ContosoProjects", "1.2.0.3", "0", "contoso",
    ]  # fmt: skip
    assert manifest.findtext("Publisher/CustomizationPrefix") == "new"
    assert manifest.findtext("Publisher/CustomizationOptionValuePrefix") == "10000"
    components = [(c.get("type"), c.get("schemaName"), c.get("behavior")) for c in manifest.iter("RootComponent")]
    assert components == [
        ("1", "new_project", "0"), ("1", "new_site", "0"), ("1", "account", "2"), ("9", "new_priority", "0"),
    ]  # fmt: skip
    root = parts["customizations.xml"]
    assert root.tag == "ImportExportXml"
    project = root.find("Entities/Entity[Name='new_Project']/EntityInfo/entity[@Name='new_Project']")
    assert project is not None
    assert (project.findtext("EntitySetName"), project.findtext("OwnershipTypeMask")) == ("new_projects", "UserOwned")
    assert project.find("ObjectTypeCode") is None  # the derived code is not written
    budget = root.find(
        "Entities/Entity/EntityInfo/entity[@Name='new_Site']/attributes/attribute[@PhysicalName='new_Budget']"
    )
    assert budget is not None
    assert [budget.findtext(tag) for tag in ("Type", "Name", "LogicalName", "Accuracy", "AccuracySource", "IsCustomField")] == [
        "money", "new_budget", "new_budget", "2", "2", "1",
    ]  # fmt: skip
    site = root.find("Entities/Entity/EntityInfo/entity[@Name='new_Site']")
    assert site is not None
    assert site.findtext("OwnershipTypeMask") == "OrgOwned"
    assert "versionnumber" not in {a.findtext("LogicalName") for a in site.iter("attribute")}
    relationship = root.find("EntityRelationships/EntityRelationship[@Name='new_new_site_new_project_Site']")
    assert relationship is not None
    assert [relationship.findtext(tag) for tag in (
        "EntityRelationshipType", "ReferencingEntityName", "ReferencedEntityName", "ReferencingAttributeName", "CascadeDelete",
    )] == ["OneToMany", "new_Project", "new_Site", "new_Site", "Restrict"]  # fmt: skip
    assert root.find("optionsets/optionset[@Name='new_priority']/options/option[@value='100000002']") is not None
    assert b"application/octet-stream" in _content_types(schema)


def _content_types(schema: SolutionSchema) -> bytes:
    with zipfile.ZipFile(io.BytesIO(write_solution(schema))) as archive:
        return archive.read("[Content_Types].xml")


def _every_kind_schema() -> SolutionSchema:
    """A hand-built schema with one column of every AttributeType, and the companion facts each kind carries."""
    A = AttributeDefinition  # noqa: N806
    table = "new_widget"
    priority = (Option(100000000, "Low"), Option(100000001, "High"))
    columns = (
        A("new_widgetid", T.UNIQUEIDENTIFIER, "Widget", is_primary_id=True, required=True, required_level="SystemRequired", schema_name="new_WidgetId"),
        A("new_name", T.STRING, "Name", max_length=100, is_primary_name=True, required=True, format="Text", schema_name="new_Name"),
        A("new_ticker", T.STRING, "Ticker", max_length=10, format="TickerSymbol", auto_number_format="W-{SEQNUM:4}", is_custom=True),
        A("new_memo", T.MEMO, "Memo", max_length=2000, format="TextArea", description="Long text", is_custom=True),
        A("new_count", T.INTEGER, "Count", min_value=0, max_value=10, format="Duration", is_custom=True),
        A("new_big", T.BIGINT, "Big", min_value=-5, max_value=5, is_custom=True),
        A("new_ratio", T.DECIMAL, "Ratio", min_value=-1.5, max_value=1.25, precision=3, is_custom=True),
        A("new_score", T.DOUBLE, "Score", min_value=0, max_value=0.5, precision=4, is_custom=True),
        A("new_price", T.MONEY, "Price", min_value=0, max_value=1000, precision=2, precision_source=1, is_custom=True),
        A("new_flag", T.BOOLEAN, "Flag", options=(Option(1, "Yes"), Option(0, "No")), default_value=False, is_custom=True),
        A("new_when", T.DATETIME, "When", format="DateAndTime", date_behavior="UserLocal", required_level="Recommended"),
        A("new_day", T.DATETIME, "Day", format="DateOnly", date_only=True),
        A("new_priority", T.PICKLIST, "Priority", options=priority, option_set_name="new_priority", is_custom=True),
        A("new_colour", T.PICKLIST, "Colour", options=(Option(1, "Red"), Option(2, "Blue")), default_value=2, is_custom=True),
        A("statecode", T.STATE, "Status", options=(Option(0, "Active", default_status=1, invariant_name="Active"),)),
        A("statuscode", T.STATUS, "Status Reason", options=(Option(1, "Active", state=0),)),
        A("new_parent", T.LOOKUP, "Parent", targets=("new_widget",), is_custom=True),
        A("ownerid", T.OWNER, "Owner", targets=("systemuser", "team")),
        A("new_buyer", T.CUSTOMER, "Buyer", targets=("account", "contact"), is_custom=True),
        A("new_tags", T.MULTISELECTPICKLIST, "Tags", options=(Option(5, "A"), Option(6, "B")), is_custom=True),
        A("new_kind", T.ENTITYNAME, "Kind", writable=False),
        A("new_virtual", T.VIRTUAL, "Virtual", valid_for_read=False),
        A("new_photo", T.IMAGE, "Photo", max_size_kb=512, is_custom=True),
        A("new_file", T.FILE, "File", max_size_kb=2048, is_custom=True),
        A("new_parties", T.PARTYLIST, "Parties", targets=("systemuser",)),
        A("new_managed", T.MANAGEDPROPERTY, "Managed", valid_for_create=False),
        A("new_external", T.UNIQUEIDENTIFIER, "External", is_custom=True),
    )  # fmt: skip
    widget = EntityDefinition(
        table, "new_widgets", "new_widgetid", "new_name", 10042, "Widget", "Widgets", columns,
        ownership="OrganizationOwned", schema_name="new_Widget", description="Things", is_custom=True,
        keys=(KeyDefinition("new_NameKey", ("new_name",), "Name"),),
    )  # fmt: skip
    listed = {a.logical_name for a in columns}
    system = tuple(c for c in system_columns("OrganizationOwned") if c.logical_name not in listed)
    widget = replace(widget, attributes=widget.attributes + system)

    def lookup(name: str, target: str, column: str) -> RelationshipDefinition:
        return RelationshipDefinition(name, target, table, column, name, cascade=CascadeConfiguration(merge="Cascade"))

    return SolutionSchema(
        unique_name="Widgets",
        version="2.0.0.0",
        managed=True,
        publisher_prefix="new",
        publisher_unique_name="widgetco",
        option_value_prefix=10000,
        tables=(widget,),
        columns={"contact": (A("new_loyalty", T.INTEGER, "Loyalty", min_value=0, max_value=5, is_custom=True),)},
        keys={"new_widget": widget.keys, "account": (KeyDefinition("new_CodeKey", ("accountnumber",), "Code"),)},
        option_sets=(OptionSetDefinition("new_priority", "Priority", priority, description="Urgency"),),
        one_to_many=(
            lookup("new_widget_parent", "new_widget", "new_parent"),
            lookup("new_account_buyer", "account", "new_buyer"),
            lookup("new_contact_buyer", "contact", "new_buyer"),
            lookup("new_user_parties", "systemuser", "new_parties"),
        ),
        many_to_many=(ManyToManyDefinition("new_widget_account", "new_widget_account", table, "account", "a", "b"),),
    )


def test_a_schema_with_every_kind_of_column_round_trips() -> None:
    schema = _every_kind_schema()
    assert {a.type for a in schema.tables[0].attributes} == set(T)
    assert read_solution(write_solution(schema)) == schema


def test_an_object_type_code_that_is_not_the_derived_one_is_written() -> None:
    schema = _every_kind_schema()
    assert schema.tables[0].object_type_code != object_type_code("new_widget")
    assert read_solution(write_solution(schema)).tables[0].object_type_code == 10042


# --- names ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical", "expected"),
    [
        ("new_project", "new_projects"),
        ("new_items", "new_itemses"),  # an export's own EntitySetName for com_items is com_itemses
        ("new_box", "new_boxes"),
        ("new_quiz", "new_quizes"),
        ("new_batch", "new_batches"),
        ("new_wish", "new_wishes"),
        ("new_category", "new_categories"),
        ("new_delivery", "new_deliveries"),
        ("new_survey", "new_surveys"),
    ],
)
def test_the_plural_when_the_file_gives_no_entity_set_name(logical: str, expected: str) -> None:
    assert plural(logical) == expected


def test_object_type_codes_are_stable_and_in_the_custom_range() -> None:
    codes = {object_type_code(f"new_table{i}") for i in range(200)}
    assert all(10000 <= code < 100000 for code in codes)
    assert object_type_code("new_project") == object_type_code("new_project")


def test_a_table_without_entity_set_name_or_system_columns_gets_dataverse_s() -> None:
    text = (FIXTURE / "customizations.xml").read_text()
    parts = _fixture_parts()
    parts["customizations.xml"] = text.replace("<EntitySetName>new_projects</EntitySetName>", "")
    project = _table(read_solution(_zip(parts)), "new_project")
    assert project.entity_set_name == "new_projects"


# --- errors ---------------------------------------------------------------------------------------------------------


def _error(data: bytes) -> str:
    with pytest.raises(SolutionError) as raised:
        read_solution(data)
    return str(raised.value)


def _with_customizations(text: str) -> bytes:
    parts = _fixture_parts()
    parts["customizations.xml"] = text
    return _zip(parts)


def _replaced(old: str, new: str) -> bytes:
    text = (FIXTURE / "customizations.xml").read_text()
    assert old in text
    return _with_customizations(text.replace(old, new, 1))


def test_garbage_is_not_a_zip() -> None:
    assert "not a zip archive" in _error(b"\x00\x01garbage, not a solution")
    assert "not a zip archive" in _error(b"")


@pytest.mark.parametrize("missing", ["solution.xml", "customizations.xml"])
def test_a_zip_without_a_part(missing: str) -> None:
    parts = _fixture_parts()
    del parts[missing]
    assert _error(_zip(parts)) == f"solution zip: no {missing} (is this a Dataverse solution export?)"


def test_malformed_xml_names_the_part() -> None:
    message = _error(_with_customizations("<ImportExportXml><Entities></ImportExportXml>"))
    assert message.startswith("customizations.xml: not well-formed XML: mismatched tag")


def test_the_root_must_be_import_export_xml() -> None:
    assert "root element is <Solution>" in _error(_with_customizations("<Solution />"))


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ImportExportXml><Entities><Entity><Name>&lol4;</Name></Entity></Entities></ImportExportXml>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ImportExportXml><Entities><Entity><Name>&xxe;</Name></Entity></Entities></ImportExportXml>"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE ImportExportXml SYSTEM "http://example.invalid/evil.dtd">
<ImportExportXml />"""


@pytest.mark.parametrize(
    "hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["billion-laughs", "xxe", "dtd"]
)
def test_hostile_xml_is_refused(hostile: str) -> None:
    message = _error(_with_customizations(hostile))
    assert message.startswith("customizations.xml: refused:")
    assert "DTDs, entities and external references are not allowed" in message
    parts = _fixture_parts()
    parts["solution.xml"] = hostile
    assert _error(_zip(parts)).startswith("solution.xml: refused:")


def test_a_zip_bomb_is_refused_before_it_inflates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solution, "MAX_UNCOMPRESSED_BYTES", 1024 * 1024)
    parts = _fixture_parts()
    parts["customizations.xml"] = b"<ImportExportXml>" + b" " * (2 * 1024 * 1024) + b"</ImportExportXml>"
    data = _zip(parts)
    assert len(data) < 50_000
    assert _error(data) == f"solution zip: customizations.xml inflates past {1024 * 1024} bytes"


def test_a_lying_size_header_does_not_get_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solution, "MAX_UNCOMPRESSED_BYTES", 1024 * 1024)
    data = bytearray(_zip({**_fixture_parts(), "customizations.xml": b"<a>" + b" " * (2 * 1024 * 1024) + b"</a>"}))
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size: local and central headers
        start = 0
        while (start := data.find(header, start)) != -1:
            name_length = int.from_bytes(data[start + (26 if header == b"PK\x03\x04" else 28) :][:2], "little")
            name_start = start + (30 if header == b"PK\x03\x04" else 46)
            if bytes(data[name_start : name_start + name_length]) == b"customizations.xml":
                data[start + offset : start + offset + 4] = (100).to_bytes(4, "little")
            start += 4
    message = _error(bytes(data))
    assert "customizations.xml" in message
    assert "inflates past" in message or "cannot be read" in message


def test_too_many_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solution, "MAX_ENTRIES", 5)
    parts = _fixture_parts() | {f"WebResources/r{i}": b"x" for i in range(3)}
    assert _error(_zip(parts)) == "solution zip: 6 entries, more than the 5 allowed"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "<Type>money</Type>",
            "<Type>foo</Type>",
            "customizations.xml: entity new_site: attribute new_budget has unknown Type 'foo'",
        ),
        (
            "<MaxLength>20</MaxLength>",
            "<MaxLength>twenty</MaxLength>",
            "customizations.xml: entity new_site: attribute new_code: MaxLength: 'twenty' is not a number",
        ),
        (
            "<OwnershipTypeMask>OrgOwned</OwnershipTypeMask>",
            "<OwnershipTypeMask>Shared</OwnershipTypeMask>",
            "customizations.xml: entity new_site: unknown OwnershipTypeMask 'Shared'",
        ),
        (
            "<DisplayMask>PrimaryName|ValidForAdvancedFind|ValidForForm|ValidForGrid|RequiredForForm</DisplayMask>\n"
            "              <IsCustomField>1</IsCustomField>\n              <Format>text</Format>\n"
            "              <MaxLength>200</MaxLength>",
            "<IsCustomField>1</IsCustomField>",
            "customizations.xml: entity new_site: no primary name column (an attribute whose DisplayMask says PrimaryName)",
        ),
        (
            '<option value="100000001">',
            '<option value="1.5">',
            "customizations.xml: entity new_site: attribute new_kind: option value '1.5' is not a whole number",
        ),
        (
            "<ReferencedEntityName>new_Site</ReferencedEntityName>",
            "",
            "customizations.xml: relationship new_new_site_new_project_Site has no <ReferencedEntityName>",
        ),
        (
            "<IntersectEntityName>new_project_contact</IntersectEntityName>",
            "",
            "customizations.xml: relationship new_project_contact has no <IntersectEntityName>",
        ),
        (
            "<AttributeName>new_site</AttributeName>\n              </EntityKeyAttributes>",
            "</EntityKeyAttributes>",
            None,
        ),
    ],
)
def test_what_is_wrong_and_where(old: str, new: str, message: str | None) -> None:
    if message is None:  # a key that still lists a column is fine; one with none is not
        assert read_solution(_replaced(old, new))
        text = (FIXTURE / "customizations.xml").read_text()
        start, end = text.index("<EntityKeyAttributes>"), text.index("</EntityKeyAttributes>")
        message = "customizations.xml: entity new_project: key new_ProjectNameKey lists no EntityKeyAttributes"
        assert _error(_with_customizations(text[:start] + "<EntityKeyAttributes>" + text[end:])) == message
        return
    assert _error(_replaced(old, new)) == message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "<Managed>0</Managed>",
            "<Managed>maybe</Managed>",
            "solution.xml: SolutionManifest: Managed is 'maybe', not 0 or 1",
        ),
        ("<UniqueName>ContosoProjects</UniqueName>", "", "solution.xml: SolutionManifest has no <UniqueName>"),
        ("<CustomizationPrefix>new</CustomizationPrefix>", "", "solution.xml: Publisher has no <CustomizationPrefix>"),
        (
            "<CustomizationOptionValuePrefix>10000</CustomizationOptionValuePrefix>",
            "<CustomizationOptionValuePrefix>ten</CustomizationOptionValuePrefix>",
            "solution.xml: Publisher: 'ten' is not a number",
        ),
    ],
)
def test_what_is_wrong_in_the_manifest(old: str, new: str, message: str) -> None:
    parts = _fixture_parts()
    text = (FIXTURE / "solution.xml").read_text()
    assert old in text
    parts["solution.xml"] = text.replace(old, new, 1)
    assert _error(_zip(parts)) == message


def test_solution_error_is_a_value_error() -> None:
    assert issubclass(SolutionError, ValueError)
