"""Metadata write bodies read into definitions: what powerplatform-dataverse-client 1.1.0 builds (its own payload
builders and models, run without I/O), the Microsoft doc examples of docs/reference/metadata-writes.md, GET → PUT
round trips of every creatable column type, every validation error with its code, and arbitrary JSON."""

from __future__ import annotations

import contextlib
import copy
import enum
import json
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PowerPlatform.Dataverse.data._odata_base import _ODataBase
from PowerPlatform.Dataverse.models.labels import Label, LocalizedLabel
from PowerPlatform.Dataverse.models.relationship import (
    CascadeConfiguration as SdkCascade,
)
from PowerPlatform.Dataverse.models.relationship import (
    LookupAttributeMetadata,
    ManyToManyRelationshipMetadata,
    OneToManyRelationshipMetadata,
)

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseCode, DataverseError
from d365local.dataverse.odata.metadata_bodies import (
    OneToManyRequest,
    label_text,
    parse_attribute,
    parse_create_entities,
    parse_key,
    parse_option_set,
    parse_relationship,
    parse_table,
)
from d365local.dataverse.odata.metadata_documents import (
    attribute_document,
    key_document,
    label,
    option_set,
    option_set_definition_document,
)
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    CascadeConfiguration,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
    Option,
    OptionSetDefinition,
)
from d365local.dataverse.schema.standard_tables import standard_catalog

SDK = _ODataBase("https://org.example")
COLORS = OptionSetDefinition("new_colors", "Colors", (Option(100000000, "Red"), Option(100000001, "Blue")))


def _label(text: str, language: int = 1033) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": language}
        ],
    }


def _raises(code: DataverseCode, function: Any, *args: Any, **kwargs: Any) -> DataverseError:
    with pytest.raises(DataverseError) as raised:
        function(*args, **kwargs)
    assert raised.value.code is code, raised.value.message
    return raised.value


def _column(odata_type: str, **properties: Any) -> dict[str, Any]:
    return {"@odata.type": f"Microsoft.Dynamics.CRM.{odata_type}", "SchemaName": "new_Field"} | properties


# --- labels -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(None, "", id="absent"),
        pytest.param({"LocalizedLabels": [], "UserLocalizedLabel": None}, "", id="empty label"),
        pytest.param(_label("Bank"), "Bank", id="sdk _label"),
        pytest.param(
            Label([LocalizedLabel("Konto", 1031), LocalizedLabel("Account", 1033)]).to_dict(),
            "Account",
            id="1033 over the others and the user label",
        ),
        pytest.param(Label([LocalizedLabel("Konto", 1031)]).to_dict(), "Konto", id="the first without 1033"),
        pytest.param({"UserLocalizedLabel": {"Label": "Mine", "LanguageCode": 1036}}, "Mine", id="only a user label"),
        pytest.param(label("Rendered", "x"), "Rendered", id="what metadata reads render"),
    ],
)
def test_label_text(value: object, text: str) -> None:
    assert label_text(value) == text


@pytest.mark.parametrize(
    "value",
    [
        "Bank",
        5,
        [],
        {"LocalizedLabels": "Bank"},
        {"LocalizedLabels": ["Bank"]},
        {"LocalizedLabels": [{"Label": 5}]},
        {"LocalizedLabels": [{"Label": "x", "LanguageCode": "1033"}]},
        {"UserLocalizedLabel": "x"},
    ],
)
def test_malformed_labels_are_refused(value: object) -> None:
    _raises(errors.INVALID_ARGUMENT, label_text, value)


# --- what the SDK sends -------------------------------------------------------------------------------------------


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2

    __labels__: ClassVar[dict[int, dict[str, str]]] = {
        1033: {"LOW": "Low", "HIGH": "High"},
        1036: {"LOW": "Basse", "HIGH": "Haute"},
    }


SDK_COLUMNS: dict[str, Any] = {
    "new_Title": "string",
    "new_Notes": "memo",
    "new_Count": "int",
    "new_Price": "money",
    "new_Ratio": "float",
    "new_Due": "date",
    "new_Active": "bool",
    "new_Attachment": "file",
    "new_Priority": Priority,
    "new_Rating": {"type": "int", "min_value": 1, "max_value": 5, "required": "Recommended", "display_name": "Stars"},
    "new_Mail": {"type": "string", "max_length": 320, "format": "Email"},
}


def _sdk_create_entities(**kwargs: Any) -> dict[str, Any]:
    request = SDK._build_create_entity("new_Product", SDK_COLUMNS, solution="examplesolution", **kwargs)
    assert request.url.endswith("/CreateEntities?SolutionUniqueName=examplesolution")
    body: dict[str, Any] = json.loads(request.body or "")
    return body


def test_sdk_create_entities() -> None:
    (table,) = parse_create_entities(_sdk_create_entities(display_name="Product"))
    assert (table.schema_name, table.logical_name, table.ownership) == ("new_Product", "new_product", "UserOwned")
    assert (table.display_name, table.display_collection_name, table.description) == (
        "Product",
        "Products",
        "Custom entity for Product",
    )
    assert (table.has_notes, table.has_activities, table.is_activity) == (True, False, False)
    assert table.primary_name.logical_name == "new_name"
    by_name = {a.logical_name: a for a in table.attributes}
    assert [a.schema_name for a in table.attributes] == ["new_Name", *SDK_COLUMNS]
    assert all(a.is_custom for a in table.attributes)

    name = by_name["new_name"]
    assert (name.type, name.max_length, name.format, name.display_name, name.required_level) == (
        AttributeType.STRING,
        200,
        "Text",
        "Name",
        "None",
    )
    notes = by_name["new_notes"]
    assert (notes.type, notes.max_length, notes.format) == (AttributeType.MEMO, 4000, "Text")
    count = by_name["new_count"]
    assert (count.type, count.min_value, count.max_value, count.format) == (
        AttributeType.INTEGER,
        -2147483648,
        2147483647,
        "None",
    )
    price = by_name["new_price"]  # the SDK's "money" is a Decimal column
    assert (price.type, price.min_value, price.max_value, price.precision) == (
        AttributeType.DECIMAL,
        -100000000000.0,
        100000000000.0,
        2,
    )
    assert (by_name["new_ratio"].type, by_name["new_ratio"].precision) == (AttributeType.DOUBLE, 5)
    due = by_name["new_due"]
    assert (due.type, due.date_only, due.date_behavior, due.format) == (
        AttributeType.DATETIME,
        True,
        "UserLocal",
        "DateOnly",
    )
    active = by_name["new_active"]
    assert (active.type, active.options, active.default_value) == (
        AttributeType.BOOLEAN,
        (Option(1, "True"), Option(0, "False")),
        None,
    )
    attachment = by_name["new_attachment"]
    assert (attachment.type, attachment.max_size_kb) == (AttributeType.FILE, 32768)
    priority = by_name["new_priority"]
    assert (priority.type, priority.options, priority.option_set_name) == (
        AttributeType.PICKLIST,
        (Option(1, "Low"), Option(2, "High")),
        None,
    )
    rating = by_name["new_rating"]
    assert (rating.min_value, rating.max_value, rating.required_level, rating.display_name) == (
        1,
        5,
        "Recommended",
        "Stars",
    )
    mail = by_name["new_mail"]
    assert (mail.max_length, mail.format) == (320, "Email")


def test_sdk_create_entities_with_a_named_primary_column() -> None:
    (table,) = parse_create_entities(_sdk_create_entities(primary_column="new_ProductCode"))
    assert (table.primary_name.schema_name, table.display_name) == ("new_ProductCode", "new_Product")


@pytest.mark.parametrize("dtype", ["string", "memo", "int", "decimal", "double", "datetime", "bool", "file", Priority])
def test_sdk_add_columns(dtype: Any) -> None:
    request = SDK._build_create_column("00000000-0000-0000-0000-000000000001", "new_Extra", dtype)
    column = parse_attribute(json.loads(request.body or ""), table="new_product")
    assert (column.logical_name, column.schema_name, column.display_name) == ("new_extra", "new_Extra", "Extra")


def _entity(*attributes: AttributeDefinition) -> EntityDefinition:
    return EntityDefinition(
        logical_name="new_thing",
        entity_set_name="new_things",
        primary_id="new_thingid",
        primary_name="new_name",
        object_type_code=10000,
        display_name="Thing",
        display_collection_name="Things",
        attributes=attributes,
        schema_name="new_Thing",
        is_custom=True,
    )


@pytest.mark.parametrize(
    ("column", "overrides", "changed"),
    [
        pytest.param(
            AttributeDefinition("new_code", AttributeType.STRING, "Code", max_length=100, is_custom=True),
            {"max_length": 300, "format": "Url", "display_name": "Link"},
            {"max_length": 300, "format": "Url", "display_name": "Link"},
            id="string",
        ),
        pytest.param(
            AttributeDefinition("new_count", AttributeType.INTEGER, "Count", min_value=0, max_value=9, is_custom=True),
            {"min_value": -5, "max_value": 50, "format": "Duration", "required": "ApplicationRequired"},
            {"min_value": -5, "max_value": 50, "format": "Duration", "required_level": "ApplicationRequired"},
            id="integer",
        ),
        pytest.param(
            AttributeDefinition("new_amount", AttributeType.DECIMAL, "Amount", precision=2, is_custom=True),
            {"precision": 6, "max_value": 1000},
            {"precision": 6, "max_value": 1000.0},
            id="decimal",
        ),
    ],
)
def test_sdk_update_column_puts_the_get_result_back(
    column: AttributeDefinition, overrides: dict[str, Any], changed: dict[str, Any]
) -> None:
    """``update_column``: the full type-cast GET, minus ``@odata.*``, typed without ``#``, with the overrides."""
    document = attribute_document(_entity(column), column)
    body = {key: value for key, value in document.items() if not key.startswith("@odata.")}
    body["@odata.type"] = document["@odata.type"].lstrip("#")
    SDK._apply_column_overrides(body, overrides)
    parsed = parse_attribute(body, table="new_thing")
    assert {name: getattr(parsed, name) for name in changed} == changed
    assert (parsed.logical_name, parsed.type) == (column.logical_name, column.type)


def test_sdk_one_to_many_relationship() -> None:
    lookup = LookupAttributeMetadata(
        schema_name="new_DepartmentId",
        display_name=Label([LocalizedLabel("Department", 1033)]),
        description=Label([LocalizedLabel("The employee's department", 1033)]),
    )
    relationship = OneToManyRelationshipMetadata(
        schema_name="new_Department_Employee",
        referenced_entity="new_department",
        referencing_entity="new_employee",
        referenced_attribute="new_departmentid",
        cascade_configuration=SdkCascade(delete="Restrict", assign="Cascade"),
    )
    parsed = parse_relationship(relationship.to_dict() | {"Lookup": lookup.to_dict()})
    assert isinstance(parsed, OneToManyRequest)
    definition = parsed.relationship
    assert (definition.schema_name, definition.referenced_entity, definition.referencing_entity) == (
        "new_Department_Employee",
        "new_department",
        "new_employee",
    )
    assert definition.referencing_attribute == "new_departmentid"
    assert definition.referencing_navigation == "new_DepartmentId"
    assert definition.referenced_navigation == "new_Department_Employee"
    assert definition.cascade == CascadeConfiguration(assign="Cascade", delete="Restrict")
    assert parsed.referenced_attribute == "new_departmentid"
    column = parsed.lookup
    assert (column.logical_name, column.schema_name, column.type, column.targets) == (
        "new_departmentid",
        "new_DepartmentId",
        AttributeType.LOOKUP,
        ("new_department",),
    )
    assert (column.display_name, column.description, column.required_level) == (
        "Department",
        "The employee's department",
        "None",
    )


def test_sdk_lookup_field() -> None:
    lookup, relationship = SDK._build_lookup_field_models(
        "new_Employee", "new_ManagerId", "contact", required=True, cascade_delete="RemoveLink"
    )
    parsed = parse_relationship(relationship.to_dict() | {"Lookup": lookup.to_dict()})
    assert isinstance(parsed, OneToManyRequest)
    assert parsed.relationship.schema_name == "contact_new_employee_new_ManagerId"
    assert parsed.relationship.cascade == CascadeConfiguration()
    assert (parsed.lookup.required_level, parsed.lookup.required, parsed.lookup.display_name) == (
        "ApplicationRequired",
        True,
        "contact",
    )


def test_sdk_many_to_many_relationship() -> None:
    body = ManyToManyRelationshipMetadata("new_employee_project", "new_employee", "new_project").to_dict()
    assert parse_relationship(body) == ManyToManyDefinition(
        schema_name="new_employee_project",
        intersect_entity="new_employee_project",
        entity1="new_employee",
        entity2="new_project",
        entity1_navigation="new_employee_project",
        entity2_navigation="new_employee_project",
    )


def test_sdk_alternate_key() -> None:
    body = {
        "SchemaName": "new_product_code_key",
        "KeyAttributes": ["new_code", "new_Region"],
        "DisplayName": Label([LocalizedLabel("Product code", 1033)]).to_dict(),
    }
    assert parse_key(body) == KeyDefinition("new_product_code_key", ("new_code", "new_region"), "Product code")


# --- the documented examples --------------------------------------------------------------------------------------


def test_documented_entity_definitions_post() -> None:
    body = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "Attributes": [
            {
                "AttributeType": "String",
                "AttributeTypeName": {"Value": "StringType"},
                "Description": _label("Type the name of the bank account"),
                "DisplayName": _label("Account Name"),
                "IsPrimaryName": True,
                "RequiredLevel": {
                    "Value": "None",
                    "CanBeChanged": True,
                    "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
                },
                "SchemaName": "new_AccountName",
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "FormatName": {"Value": "Text"},
                "MaxLength": 100,
            }
        ],
        "Description": _label("An entity to store information about customer bank accounts"),
        "DisplayCollectionName": _label("Bank Accounts"),
        "DisplayName": _label("Bank Account"),
        "HasActivities": False,
        "HasNotes": False,
        "IsActivity": False,
        "OwnershipType": "UserOwned",
        "SchemaName": "new_BankAccount",
    }
    table = parse_table(body)
    assert (table.logical_name, table.display_name, table.display_collection_name) == (
        "new_bankaccount",
        "Bank Account",
        "Bank Accounts",
    )
    assert table.description == "An entity to store information about customer bank accounts"
    (name,) = table.attributes
    assert (name.logical_name, name.max_length, name.is_primary_name, name.description) == (
        "new_accountname",
        100,
        True,
        "Type the name of the bank account",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            _column(
                "BooleanAttributeMetadata",
                DefaultValue=False,
                OptionSet={
                    "TrueOption": {"Value": 1, "Label": _label("True")},
                    "FalseOption": {"Value": 0, "Label": _label("False")},
                    "OptionSetType": "Boolean",
                },
            ),
            {"type": AttributeType.BOOLEAN, "default_value": False, "options": (Option(1, "True"), Option(0, "False"))},
            id="boolean",
        ),
        pytest.param(
            _column("DateTimeAttributeMetadata", Format="DateOnly", DateTimeBehavior={"Value": "DateOnly"}),
            {"type": AttributeType.DATETIME, "date_only": True, "date_behavior": "DateOnly"},
            id="date only",
        ),
        pytest.param(
            _column("DateTimeAttributeMetadata", DateTimeBehavior={"Value": "TimeZoneIndependent"}),
            {"date_only": False, "date_behavior": "TimeZoneIndependent", "format": "DateAndTime"},
            id="time zone independent",
        ),
        pytest.param(
            _column("DateTimeAttributeMetadata"),
            {"date_behavior": "UserLocal", "format": "DateAndTime"},
            id="datetime defaults",
        ),
        pytest.param(
            _column("DecimalAttributeMetadata", MaxValue=100, MinValue=0, Precision=1),
            {"type": AttributeType.DECIMAL, "min_value": 0.0, "max_value": 100.0, "precision": 1},
            id="decimal",
        ),
        pytest.param(
            _column("IntegerAttributeMetadata", MaxValue=100, MinValue=0, Format="None"),
            {"type": AttributeType.INTEGER, "min_value": 0, "max_value": 100, "format": "None"},
            id="integer",
        ),
        pytest.param(
            _column("BigIntAttributeMetadata"),
            {"type": AttributeType.BIGINT, "min_value": -9223372036854775808, "max_value": 9223372036854775807},
            id="bigint",
        ),
        pytest.param(
            _column("MemoAttributeMetadata", Format="TextArea", MaxLength=500),
            {"type": AttributeType.MEMO, "format": "TextArea", "max_length": 500},
            id="memo",
        ),
        pytest.param(_column("MemoAttributeMetadata"), {"format": "TextArea", "max_length": 2000}, id="memo defaults"),
        pytest.param(_column("StringAttributeMetadata"), {"format": "Text", "max_length": 100}, id="string defaults"),
        pytest.param(
            _column("StringAttributeMetadata", Format="Phone", FormatName=None),
            {"format": "Phone"},
            id="legacy string format",
        ),
        pytest.param(
            _column("MoneyAttributeMetadata", PrecisionSource=0, Precision=4),
            {
                "type": AttributeType.MONEY,
                "precision": 4,
                "precision_source": 0,
                "min_value": -922337203685477.0,
                "max_value": 922337203685477.0,
            },
            id="money",
        ),
        pytest.param(_column("MoneyAttributeMetadata"), {"precision": 2, "precision_source": 2}, id="money defaults"),
        pytest.param(
            _column("DoubleAttributeMetadata", Precision=0, MinValue=-1.5, MaxValue=1.5),
            {"type": AttributeType.DOUBLE, "precision": 0, "min_value": -1.5, "max_value": 1.5},
            id="double",
        ),
        pytest.param(
            _column(
                "PicklistAttributeMetadata",
                OptionSet={
                    "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
                    "IsGlobal": False,
                    "OptionSetType": "Picklist",
                    "Options": [
                        {"Value": 727000000, "Label": _label("Bravo")},
                        {"Value": 727000001, "Label": _label("Delta")},
                    ],
                },
            ),
            {"type": AttributeType.PICKLIST, "options": (Option(727000000, "Bravo"), Option(727000001, "Delta"))},
            id="picklist",
        ),
        pytest.param(
            _column(
                "MultiSelectPicklistAttributeMetadata",
                AttributeType="Virtual",
                AttributeTypeName={"Value": "MultiSelectPicklistType"},
                OptionSet={
                    "IsGlobal": False,
                    "OptionSetType": "Picklist",
                    "Options": [
                        {"Value": None, "Label": _label("Appetizer")},
                        {"Value": 100000000, "Label": _label("Entree")},
                        {"Label": _label("Dessert")},
                    ],
                },
            ),
            {
                "type": AttributeType.MULTISELECTPICKLIST,
                "options": (Option(100000001, "Appetizer"), Option(100000000, "Entree"), Option(100000002, "Dessert")),
            },
            id="multi-select, values numbered from the prefix around the given one",
        ),
        pytest.param(
            _column(
                "PicklistAttributeMetadata",
                **{"GlobalOptionSet@odata.bind": f"/GlobalOptionSetDefinitions({COLORS.metadata_id})"},
            ),
            {"option_set_name": "new_colors", "options": COLORS.options},
            id="global choice by MetadataId",
        ),
        pytest.param(
            _column(
                "PicklistAttributeMetadata",
                **{"GlobalOptionSet@odata.bind": "GlobalOptionSetDefinitions(Name='NEW_colors')"},
            ),
            {"option_set_name": "new_colors", "options": COLORS.options},
            id="global choice by name",
        ),
        pytest.param(
            _column("PicklistAttributeMetadata"), {"options": (), "option_set_name": None}, id="a PUT without OptionSet"
        ),
        pytest.param(_column("FileAttributeMetadata", MaxSizeInKB=10485760), {"max_size_kb": 10485760}, id="file"),
        pytest.param(
            _column("ImageAttributeMetadata", MaxSizeInKB=30720, CanStoreFullImage=True, IsPrimaryImage=True),
            {"type": AttributeType.IMAGE, "max_size_kb": 30720},
            id="image",
        ),
        pytest.param(_column("ImageAttributeMetadata"), {"max_size_kb": 10240}, id="image default"),
        pytest.param(
            _column("LookupAttributeMetadata", Targets=["account", "Contact"]),
            {"type": AttributeType.LOOKUP, "targets": ("account", "contact")},
            id="lookup",
        ),
        pytest.param(_column("UniqueIdentifierAttributeMetadata"), {"type": AttributeType.UNIQUEIDENTIFIER}, id="guid"),
        pytest.param(
            _column("StringAttributeMetadata", AutoNumberFormat="WID-{SEQNUM:5}-{RANDSTRING:6}"),
            {"auto_number_format": "WID-{SEQNUM:5}-{RANDSTRING:6}", "format": "Text"},
            id="auto-number",
        ),
        pytest.param(
            {"SchemaName": "new_Field", "AttributeType": "Virtual", "AttributeTypeName": {"Value": "FileType"}},
            {"type": AttributeType.FILE},
            id="no @odata.type: AttributeTypeName",
        ),
        pytest.param(
            {"SchemaName": "new_Field", "AttributeType": "Integer"},
            {"type": AttributeType.INTEGER},
            id="no @odata.type: AttributeType",
        ),
        pytest.param(
            {"@odata.type": "#Microsoft.Dynamics.CRM.ComplexMoneyAttributeMetadata", "SchemaName": "new_F"},
            {"type": AttributeType.MONEY},
            id="# and Complex",
        ),
        pytest.param(
            {"@odata.type": "BooleanAttributeMetadata", "SchemaName": "new_F"},
            {"type": AttributeType.BOOLEAN, "options": (Option(1, "Yes"), Option(0, "No"))},
            id="no namespace; default labels",
        ),
        pytest.param(
            _column("StringAttributeMetadata", RequiredLevel={"Value": "SystemRequired"}, LogicalName="NEW_field"),
            {"required_level": "SystemRequired", "required": True, "logical_name": "new_field"},
            id="required level and a matching LogicalName",
        ),
    ],
)
def test_documented_columns(body: dict[str, Any], expected: dict[str, Any]) -> None:
    column = parse_attribute(body, table="new_bankaccount", option_sets=(COLORS,))
    assert {name: getattr(column, name) for name in expected} == expected
    assert column.is_custom


def test_documented_global_option_set() -> None:
    body = {
        "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
        "Name": "sample_colors",
        "DisplayName": _label("Colors"),
        "Description": _label("Color Choice"),
        "OptionSetType": "Picklist",
        "Options": [{"Value": 727000000, "Label": _label("Red")}, {"Label": _label("Blue")}],
    }
    assert parse_option_set(body, option_value_prefix=72700) == OptionSetDefinition(
        "sample_colors", "Colors", (Option(727000000, "Red"), Option(727000001, "Blue")), "Color Choice"
    )


def test_documented_one_to_many_relationship() -> None:
    body = {
        "SchemaName": "new_contact_new_bankaccount",
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "AssociatedMenuConfiguration": {
            "Behavior": "UseCollectionName",
            "Group": "Details",
            "Label": _label("Bank"),
            "Order": 10000,
        },
        "CascadeConfiguration": {
            "Assign": "NoCascade",
            "Delete": "RemoveLink",
            "Merge": "NoCascade",
            "Reparent": "NoCascade",
            "Share": "NoCascade",
            "Unshare": "NoCascade",
        },
        "ReferencedAttribute": "contactid",
        "ReferencedEntity": "contact",
        "ReferencingEntity": "new_bankaccount",
        "ReferencingEntityNavigationPropertyName": "new_AccountOwnerNav",
        "Lookup": {
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "Description": _label("The owner of the account"),
            "DisplayName": _label("Account Owner"),
            "RequiredLevel": {"Value": "ApplicationRequired", "CanBeChanged": True},
            "SchemaName": "new_AccountOwner",
            "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        },
    }
    parsed = parse_relationship(body)
    assert isinstance(parsed, OneToManyRequest)
    assert parsed.relationship.referencing_navigation == "new_AccountOwnerNav"
    assert parsed.relationship.referenced_navigation == "new_contact_new_bankaccount"
    assert (parsed.lookup.logical_name, parsed.lookup.targets) == ("new_accountowner", ("contact",))


def test_documented_many_to_many_relationship() -> None:
    body = {
        "SchemaName": "new_Accounts_Campaigns",
        "@odata.type": "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
        "Entity1AssociatedMenuConfiguration": {"Behavior": "UseLabel", "Group": "Details", "Order": 10000},
        "Entity1LogicalName": "account",
        "Entity2LogicalName": "Campaign",
        "IntersectEntityName": "new_Accounts_Campaigns",
        "Entity2NavigationPropertyName": "new_campaign_accounts",
    }
    parsed = parse_relationship(body)
    assert parsed == ManyToManyDefinition(
        "new_Accounts_Campaigns",
        "new_accounts_campaigns",
        "account",
        "campaign",
        "new_Accounts_Campaigns",
        "new_campaign_accounts",
    )


def test_relationship_type_without_odata_type() -> None:
    body = {
        "RelationshipType": "ManyToManyRelationship",
        "SchemaName": "new_a_b",
        "Entity1LogicalName": "new_a",
        "Entity2LogicalName": "new_b",
    }
    assert isinstance(parse_relationship(body), ManyToManyDefinition)


# --- GET → PUT round trips ----------------------------------------------------------------------------------------


def _custom(logical_name: str, kind: AttributeType, display_name: str, **facts: Any) -> AttributeDefinition:
    return AttributeDefinition(logical_name, kind, display_name, is_custom=True, **facts)


ROUND_TRIP = (
    _custom(
        "new_code",
        AttributeType.STRING,
        "Code",
        max_length=40,
        format="Email",
        schema_name="new_Code",
        description="The code",
        required_level="Recommended",
    ),
    _custom("new_number", AttributeType.STRING, "Number", max_length=100, auto_number_format="CNR-{SEQNUM:5}"),
    _custom("new_notes", AttributeType.MEMO, "Notes", max_length=5000, format="TextArea"),
    _custom("new_count", AttributeType.INTEGER, "Count", min_value=1, max_value=5, format="Duration", required=True),
    _custom("new_big", AttributeType.BIGINT, "Big"),
    _custom("new_amount", AttributeType.DECIMAL, "Amount", min_value=-10.5, max_value=99.25, precision=4),
    _custom("new_ratio", AttributeType.DOUBLE, "Ratio", precision=3),
    _custom("new_price", AttributeType.MONEY, "Price", precision=2, precision_source=1),
    _custom(
        "new_active", AttributeType.BOOLEAN, "Active", options=(Option(1, "On"), Option(0, "Off")), default_value=True
    ),
    _custom("new_due", AttributeType.DATETIME, "Due", date_behavior="DateOnly"),
    _custom("new_seen", AttributeType.DATETIME, "Seen", date_behavior="TimeZoneIndependent"),
    _custom("new_when", AttributeType.DATETIME, "When"),
    _custom("new_size", AttributeType.PICKLIST, "Size", options=(Option(1, "S"), Option(2, "L")), default_value=2),
    _custom("new_color", AttributeType.PICKLIST, "Color", options=COLORS.options, option_set_name="new_colors"),
    _custom(
        "new_tags", AttributeType.MULTISELECTPICKLIST, "Tags", options=(Option(100000000, "A"), Option(100000001, "B"))
    ),
    _custom("new_parentid", AttributeType.LOOKUP, "Parent", targets=("account",)),
    _custom("new_document", AttributeType.FILE, "Document", max_size_kb=1024),
    _custom("new_photo", AttributeType.IMAGE, "Photo", max_size_kb=500),
    _custom("new_token", AttributeType.UNIQUEIDENTIFIER, "Token"),
)


def _get_document(entity: EntityDefinition, column: AttributeDefinition) -> dict[str, Any]:
    """A single column's GET, with ``$expand=OptionSet`` for the types that have one."""
    document = attribute_document(entity, column)
    expanded = option_set(entity, column)
    return document if expanded is None else document | {"OptionSet": expanded}


CREATABLE = {
    AttributeType.UNIQUEIDENTIFIER,
    AttributeType.STRING,
    AttributeType.MEMO,
    AttributeType.INTEGER,
    AttributeType.BIGINT,
    AttributeType.DECIMAL,
    AttributeType.DOUBLE,
    AttributeType.MONEY,
    AttributeType.BOOLEAN,
    AttributeType.DATETIME,
    AttributeType.PICKLIST,
    AttributeType.MULTISELECTPICKLIST,
    AttributeType.LOOKUP,
    AttributeType.FILE,
    AttributeType.IMAGE,
}


def test_round_trip_covers_every_creatable_type() -> None:
    assert {a.type for a in ROUND_TRIP} == CREATABLE


def test_other_types_are_refused() -> None:
    for kind in set(AttributeType) - CREATABLE:
        body = {"SchemaName": "new_Field", "AttributeType": kind.value, "AttributeTypeName": {"Value": kind.type_name}}
        _raises(errors.INVALID_CUSTOM_ATTRIBUTE_TYPE, parse_attribute, body)


@pytest.mark.parametrize("column", ROUND_TRIP, ids=lambda a: a.logical_name)
def test_get_put_round_trip(column: AttributeDefinition) -> None:
    entity = _entity(column)
    document = _get_document(entity, column)
    parsed = parse_attribute(copy.deepcopy(document), table=entity.logical_name, option_sets=(COLORS,))
    assert _get_document(entity, parsed) == document
    assert (parsed.options, parsed.option_set_name, parsed.targets) == (
        column.options,
        column.option_set_name,
        column.targets,
    )


def test_standard_columns_read_back() -> None:
    """A PUT of a standard column's GET: every column of a type a customization can create reads back, save the
    system columns beyond the custom limits (documentbody's MaxLength, exchangerate's Precision 12)."""
    catalog = standard_catalog()
    read = 0
    for entity in catalog.entities:
        for column in entity.attributes:
            beyond = (column.max_length or 0) > 1048576 or (column.precision or 0) > 10
            if column.type.metadata_type and column.type in CREATABLE and not beyond:
                parsed = parse_attribute(attribute_document(entity, column), table=entity.logical_name)
                assert (parsed.logical_name, parsed.type) == (column.logical_name, column.type)
                read += 1
    assert read > 2000


def test_key_round_trip() -> None:
    key = KeyDefinition("new_CodeKey", ("new_code", "new_region"), "Code")
    assert parse_key(key_document(_entity(), key)) == key


def test_option_set_round_trip() -> None:
    assert parse_option_set(option_set_definition_document(COLORS)) == COLORS


# --- refusals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param([], errors.INVALID_ARGUMENT, id="not an object"),
        pytest.param(
            {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata"},
            errors.INVALID_ARGUMENT,
            id="no SchemaName",
        ),
        pytest.param(
            _column("StringAttributeMetadata", SchemaName="1new_X"),
            errors.INVALID_ARGUMENT,
            id="name starts with a digit",
        ),
        pytest.param(
            _column("StringAttributeMetadata", SchemaName="new_Bad-Name"),
            errors.INVALID_ARGUMENT,
            id="name with a dash",
        ),
        pytest.param(
            _column("StringAttributeMetadata", SchemaName="new_" + "x" * 47),
            errors.INVALID_ARGUMENT,
            id="name of 51 characters",
        ),
        pytest.param(_column("StringAttributeMetadata", SchemaName=5), errors.INVALID_ARGUMENT, id="name not a string"),
        pytest.param(
            _column("StringAttributeMetadata", LogicalName="new_other"),
            errors.INVALID_ARGUMENT,
            id="LogicalName differs",
        ),
        pytest.param(_column("WidgetAttributeMetadata"), errors.INVALID_ARGUMENT, id="unknown type"),
        pytest.param(_column("StringMetadata"), errors.INVALID_ARGUMENT, id="not an attribute type"),
        pytest.param({"SchemaName": "new_X"}, errors.INVALID_ARGUMENT, id="no type at all"),
        pytest.param(_column("StateAttributeMetadata"), errors.INVALID_CUSTOM_ATTRIBUTE_TYPE, id="state"),
        pytest.param(_column("EntityNameAttributeMetadata"), errors.INVALID_CUSTOM_ATTRIBUTE_TYPE, id="entity name"),
        pytest.param(
            _column("LookupAttributeMetadata", AttributeType="Owner"), errors.INVALID_CUSTOM_ATTRIBUTE_TYPE, id="owner"
        ),
        pytest.param(
            _column("AttributeMetadata", AttributeType="Virtual"), errors.INVALID_CUSTOM_ATTRIBUTE_TYPE, id="virtual"
        ),
        pytest.param(
            _column("StringAttributeMetadata", MaxLength=4001),
            errors.ATTRIBUTE_MAX_LENGTH_OUT_OF_RANGE,
            id="string too long",
        ),
        pytest.param(
            _column("StringAttributeMetadata", MaxLength=0),
            errors.ATTRIBUTE_MAX_LENGTH_OUT_OF_RANGE,
            id="string of zero",
        ),
        pytest.param(
            _column("MemoAttributeMetadata", MaxLength=1048577),
            errors.ATTRIBUTE_MAX_LENGTH_OUT_OF_RANGE,
            id="memo too long",
        ),
        pytest.param(
            _column("StringAttributeMetadata", MaxLength="100"), errors.INVALID_ARGUMENT, id="MaxLength a string"
        ),
        pytest.param(
            _column("StringAttributeMetadata", MaxLength=True), errors.INVALID_ARGUMENT, id="MaxLength a boolean"
        ),
        pytest.param(
            _column("StringAttributeMetadata", FormatName={"Value": "Binary"}),
            errors.INVALID_STRING_FORMAT,
            id="string format",
        ),
        pytest.param(_column("MemoAttributeMetadata", Format="Url"), errors.INVALID_ATTRIBUTE_FORMAT, id="memo format"),
        pytest.param(
            _column("IntegerAttributeMetadata", Format="Money"), errors.INVALID_ATTRIBUTE_FORMAT, id="integer format"
        ),
        pytest.param(
            _column("DateTimeAttributeMetadata", Format="Time"), errors.INVALID_ATTRIBUTE_FORMAT, id="datetime format"
        ),
        pytest.param(
            _column("DateTimeAttributeMetadata", Format="DateAndTime", DateTimeBehavior={"Value": "DateOnly"}),
            errors.INVALID_ATTRIBUTE_FORMAT,
            id="date-only behavior with time",
        ),
        pytest.param(
            _column("DateTimeAttributeMetadata", DateTimeBehavior={"Value": "Local"}),
            errors.INVALID_DATETIME_BEHAVIOR,
            id="datetime behavior",
        ),
        pytest.param(
            _column("IntegerAttributeMetadata", MinValue=10, MaxValue=1),
            errors.INVALID_ARGUMENT,
            id="integer min above max",
        ),
        pytest.param(
            _column("IntegerAttributeMetadata", MaxValue=2147483648), errors.INVALID_ARGUMENT, id="integer beyond int32"
        ),
        pytest.param(
            _column("IntegerAttributeMetadata", MaxValue=1.5), errors.INVALID_ARGUMENT, id="integer bound not whole"
        ),
        pytest.param(
            _column("DecimalAttributeMetadata", MaxValue=100000000001),
            errors.DECIMAL_OUT_OF_RANGE,
            id="decimal beyond range",
        ),
        pytest.param(
            _column("DecimalAttributeMetadata", MinValue=5, MaxValue=4),
            errors.DECIMAL_OUT_OF_RANGE,
            id="decimal min above max",
        ),
        pytest.param(
            _column("DecimalAttributeMetadata", Precision=11), errors.DECIMAL_OUT_OF_RANGE, id="decimal precision"
        ),
        pytest.param(
            _column("DecimalAttributeMetadata", MaxValue=10**400),
            errors.DECIMAL_OUT_OF_RANGE,
            id="decimal bound beyond float",
        ),
        pytest.param(
            _column("DoubleAttributeMetadata", Precision=6), errors.DOUBLE_OUT_OF_RANGE, id="double precision"
        ),
        pytest.param(
            _column("DoubleAttributeMetadata", MinValue=-1e12), errors.DOUBLE_OUT_OF_RANGE, id="double beyond range"
        ),
        pytest.param(_column("DoubleAttributeMetadata", MinValue=float("nan")), errors.INVALID_ARGUMENT, id="NaN"),
        pytest.param(_column("MoneyAttributeMetadata", Precision=5), errors.INVALID_ARGUMENT, id="money precision"),
        pytest.param(
            _column("MoneyAttributeMetadata", PrecisionSource=3), errors.INVALID_ARGUMENT, id="money precision source"
        ),
        pytest.param(_column("MoneyAttributeMetadata", MaxValue=1e15), errors.INVALID_ARGUMENT, id="money range"),
        pytest.param(
            _column("BooleanAttributeMetadata", DefaultValue=1),
            errors.INVALID_ARGUMENT,
            id="boolean default not a boolean",
        ),
        pytest.param(
            _column("RequiredLevelless", RequiredLevel={"Value": "Mandatory"}),
            errors.INVALID_ARGUMENT,
            id="unresolved type before anything",
        ),
        pytest.param(
            _column("StringAttributeMetadata", RequiredLevel={"Value": "Mandatory"}),
            errors.INVALID_ARGUMENT,
            id="required level",
        ),
        pytest.param(
            _column("StringAttributeMetadata", RequiredLevel="None"),
            errors.INVALID_ARGUMENT,
            id="required level not an object",
        ),
        pytest.param(
            _column("IntegerAttributeMetadata", IsPrimaryName=True),
            errors.INVALID_PRIMARY_FIELD_TYPE,
            id="primary name not a string",
        ),
        pytest.param(
            _column("StringAttributeMetadata", IsPrimaryName="yes"),
            errors.INVALID_ARGUMENT,
            id="IsPrimaryName not a boolean",
        ),
        pytest.param(
            _column("IntegerAttributeMetadata", AutoNumberFormat="{SEQNUM:3}"),
            errors.INVALID_AUTO_NUMBER_TYPE,
            id="auto-number on an integer",
        ),
        pytest.param(
            _column("StringAttributeMetadata", AutoNumberFormat="{SEQNUM:3}", FormatName={"Value": "Email"}),
            errors.INVALID_AUTO_NUMBER_TYPE,
            id="auto-number not Text",
        ),
        pytest.param(
            _column(
                "PicklistAttributeMetadata",
                OptionSet={"Options": [{"Value": 1, "Label": _label("A")}, {"Value": 1, "Label": _label("B")}]},
            ),
            errors.INVALID_ARGUMENT,
            id="duplicate option values",
        ),
        pytest.param(
            _column("PicklistAttributeMetadata", OptionSet={"Options": [{"Value": 2**31}]}),
            errors.INVALID_ARGUMENT,
            id="option value beyond int32",
        ),
        pytest.param(
            _column("PicklistAttributeMetadata", OptionSet={"Options": [{"Value": "1"}]}),
            errors.INVALID_ARGUMENT,
            id="option value a string",
        ),
        pytest.param(
            _column("PicklistAttributeMetadata", OptionSet={"Options": {"Value": 1}}),
            errors.INVALID_ARGUMENT,
            id="options not an array",
        ),
        pytest.param(
            _column(
                "PicklistAttributeMetadata",
                **{"GlobalOptionSet@odata.bind": "/GlobalOptionSetDefinitions(Name='nope')"},
            ),
            errors.INVALID_ARGUMENT,
            id="unknown global choice",
        ),
        pytest.param(
            _column("PicklistAttributeMetadata", **{"GlobalOptionSet@odata.bind": "/accounts(1)"}),
            errors.INVALID_ARGUMENT,
            id="bind to something else",
        ),
        pytest.param(
            _column(
                "PicklistAttributeMetadata",
                **{"GlobalOptionSet@odata.bind": "/GlobalOptionSetDefinitions(zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz)"},
            ),
            errors.INVALID_ARGUMENT,
            id="bind to a malformed id",
        ),
        pytest.param(
            _column("PicklistAttributeMetadata", OptionSet={"IsGlobal": True}),
            errors.INVALID_ARGUMENT,
            id="global option set without a name",
        ),
        pytest.param(_column("LookupAttributeMetadata", Targets=[5]), errors.INVALID_ARGUMENT, id="target a number"),
        pytest.param(_column("FileAttributeMetadata", MaxSizeInKB=10485761), errors.INVALID_ARGUMENT, id="file size"),
        pytest.param(_column("ImageAttributeMetadata", MaxSizeInKB=30721), errors.INVALID_ARGUMENT, id="image size"),
        pytest.param(
            _column("StringAttributeMetadata", DisplayName="Name"),
            errors.INVALID_ARGUMENT,
            id="display name not a label",
        ),
        pytest.param(
            _column("StringAttributeMetadata", **{"@odata.type": 7}),
            errors.INVALID_ARGUMENT,
            id="@odata.type not a string",
        ),
    ],
)
def test_refused_columns(body: object, code: DataverseCode) -> None:
    _raises(code, parse_attribute, body, table="new_thing", option_sets=(COLORS,))


def test_refusals_carry_dataverse_words() -> None:
    error = _raises(
        errors.ATTRIBUTE_MAX_LENGTH_OUT_OF_RANGE,
        parse_attribute,
        _column("StringAttributeMetadata", MaxLength=5000),
        table="new_thing",
    )
    assert error.message == (
        "The provided maximum length 5000 of column new_field is out of range. Custom maximum length values must be "
        "between 1 and 4000."
    )
    error = _raises(
        errors.INVALID_CUSTOM_ATTRIBUTE_TYPE, parse_attribute, _column("StatusAttributeMetadata"), table="new_thing"
    )
    assert error.message == (
        "Cannot create custom attribute 'new_field' of Entity 'new_thing' because the type 'Status' is not valid for "
        "custom attribute."
    )
    huge = "new_" + "x" * 100_000
    error = _raises(errors.INVALID_ARGUMENT, parse_attribute, _column("StringAttributeMetadata", SchemaName=huge))
    assert len(error.message) < 300


def _table_body(*attributes: dict[str, Any], **properties: Any) -> dict[str, Any]:
    primary = _column("StringAttributeMetadata", SchemaName="new_Name", IsPrimaryName=True)
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.ComplexEntityMetadata",
        "SchemaName": "new_Thing",
        "DisplayName": _label("Thing"),
        "DisplayCollectionName": _label("Things"),
        "Attributes": [primary, *attributes],
    } | properties


def test_table_defaults() -> None:
    table = parse_table({k: v for k, v in _table_body().items() if k != "@odata.type"})
    assert (table.ownership, table.description, table.has_notes, table.is_activity) == ("UserOwned", "", False, False)
    assert parse_table(_table_body(OwnershipType="OrganizationOwned")).ownership == "OrganizationOwned"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(_table_body(OwnershipType="TeamOwned"), errors.INVALID_ARGUMENT, id="ownership"),
        pytest.param(_table_body(Attributes=[]), errors.INVALID_ARGUMENT, id="no primary name column"),
        pytest.param(_table_body(Attributes="new_Name"), errors.INVALID_ARGUMENT, id="attributes not an array"),
        pytest.param(
            _table_body(_column("StringAttributeMetadata", SchemaName="new_Title", IsPrimaryName=True)),
            errors.DUPLICATE_PRIMARY_NAME,
            id="two primary name columns",
        ),
        pytest.param(
            _table_body(Attributes=[_column("IntegerAttributeMetadata", IsPrimaryName=True)]),
            errors.INVALID_PRIMARY_FIELD_TYPE,
            id="primary name not a string",
        ),
        pytest.param(
            _table_body(_column("StringAttributeMetadata", SchemaName="NEW_NAME")),
            errors.DUPLICATE_ATTRIBUTE_SCHEMA_NAME,
            id="two columns of one name",
        ),
        pytest.param(_table_body(_column("LookupAttributeMetadata")), errors.INVALID_ARGUMENT, id="a lookup"),
        pytest.param(_table_body(DisplayName=None), errors.INVALID_DISPLAY_NAME, id="no display name"),
        pytest.param(
            _table_body(DisplayCollectionName=_label(" ")), errors.INVALID_DISPLAY_NAME, id="blank collection name"
        ),
        pytest.param(_table_body(SchemaName="new_" + "t" * 47), errors.INVALID_ARGUMENT, id="name too long"),
        pytest.param(
            _table_body(**{"@odata.type": "Microsoft.Dynamics.CRM.EntityKeyMetadata"}),
            errors.INVALID_ARGUMENT,
            id="another type",
        ),
        pytest.param(_table_body(HasNotes="true"), errors.INVALID_ARGUMENT, id="HasNotes not a boolean"),
    ],
)
def test_refused_tables(body: object, code: DataverseCode) -> None:
    _raises(code, parse_table, body)


def test_table_error_names_the_primary_columns() -> None:
    body = _table_body(_column("StringAttributeMetadata", SchemaName="new_Title", IsPrimaryName=True))
    error = _raises(errors.DUPLICATE_PRIMARY_NAME, parse_table, body)
    assert error.message.startswith(
        "The new new_title attribute is set as the primary name attribute for the new_thing"
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({}, errors.INVALID_ARGUMENT, id="no Entities"),
        pytest.param({"Entities": []}, errors.INVALID_ARGUMENT, id="empty Entities"),
        pytest.param({"Entities": {}}, errors.INVALID_ARGUMENT, id="Entities not an array"),
        pytest.param(
            {"Entities": [_table_body(), _table_body(SchemaName="NEW_THING")]},
            errors.DUPLICATE_ENTITY_NAME,
            id="one table twice",
        ),
    ],
)
def test_refused_create_entities(body: object, code: DataverseCode) -> None:
    _raises(code, parse_create_entities, body)


def test_create_entities_takes_several_tables() -> None:
    tables = parse_create_entities({"Entities": [_table_body(), _table_body(SchemaName="new_Other")]})
    assert [t.logical_name for t in tables] == ["new_thing", "new_other"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"KeyAttributes": ["new_code"]}, id="no SchemaName"),
        pytest.param({"SchemaName": "new_key"}, id="no columns"),
        pytest.param({"SchemaName": "new_key", "KeyAttributes": [f"new_c{i}" for i in range(17)]}, id="17 columns"),
        pytest.param({"SchemaName": "new_key", "KeyAttributes": ["new_code", "NEW_CODE"]}, id="one column twice"),
        pytest.param({"SchemaName": "new_key", "KeyAttributes": [1]}, id="column a number"),
        pytest.param({"SchemaName": "new_key", "KeyAttributes": "new_code"}, id="columns a string"),
        pytest.param({"SchemaName": "new key", "KeyAttributes": ["new_code"]}, id="name with a space"),
    ],
)
def test_refused_keys(body: object) -> None:
    _raises(errors.INVALID_ARGUMENT, parse_key, body)


def test_key_of_sixteen_columns() -> None:
    columns = [f"new_c{i}" for i in range(16)]
    assert parse_key({"SchemaName": "new_key", "KeyAttributes": columns}).attributes == tuple(columns)


def _one_to_many(**properties: Any) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "SchemaName": "new_parent_child",
        "ReferencedEntity": "new_parent",
        "ReferencingEntity": "new_child",
        "Lookup": {"@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", "SchemaName": "new_ParentId"},
    } | properties


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"SchemaName": "new_x"}, errors.INVALID_ARGUMENT, id="no type"),
        pytest.param(
            _one_to_many(**{"@odata.type": "Microsoft.Dynamics.CRM.OneToOneRelationshipMetadata"}),
            errors.INVALID_ARGUMENT,
            id="unknown type",
        ),
        pytest.param(_one_to_many(Lookup=None), errors.INVALID_ARGUMENT, id="no lookup"),
        pytest.param(
            _one_to_many(Lookup=_column("StringAttributeMetadata")), errors.INVALID_ARGUMENT, id="lookup not a lookup"
        ),
        pytest.param(
            _one_to_many(ReferencingAttribute="new_other"),
            errors.INVALID_ARGUMENT,
            id="referencing attribute not the lookup",
        ),
        pytest.param(_one_to_many(ReferencedEntity=None), errors.INVALID_ARGUMENT, id="no referenced table"),
        pytest.param(
            _one_to_many(CascadeConfiguration={"Delete": "NoCascade"}),
            errors.INVALID_CASCADE_LINK_TYPE,
            id="delete NoCascade",
        ),
        pytest.param(
            _one_to_many(CascadeConfiguration={"Merge": "RemoveLink"}),
            errors.INVALID_CASCADE_LINK_TYPE,
            id="merge RemoveLink",
        ),
        pytest.param(
            _one_to_many(CascadeConfiguration={"Assign": "Restrict"}),
            errors.INVALID_CASCADE_LINK_TYPE,
            id="assign Restrict",
        ),
        pytest.param(_one_to_many(CascadeConfiguration={"Share": 1}), errors.INVALID_ARGUMENT, id="cascade a number"),
        pytest.param(_one_to_many(CascadeConfiguration=[]), errors.INVALID_ARGUMENT, id="cascade not an object"),
        pytest.param(
            _one_to_many(ReferencedEntityNavigationPropertyName="a b"), errors.INVALID_ARGUMENT, id="navigation name"
        ),
        pytest.param(
            {
                "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
                "SchemaName": "new_a_b",
                "Entity1LogicalName": "new_a",
            },
            errors.INVALID_ARGUMENT,
            id="N:N without entity 2",
        ),
    ],
)
def test_refused_relationships(body: object, code: DataverseCode) -> None:
    _raises(code, parse_relationship, body)


def test_cascade_keeps_unsent_defaults_and_ignores_others() -> None:
    body = _one_to_many(CascadeConfiguration={"Delete": "Cascade", "RollupView": "NoCascade", "Archive": "Cascade"})
    parsed = parse_relationship(body)
    assert isinstance(parsed, OneToManyRequest)
    assert parsed.relationship.cascade == CascadeConfiguration(delete="Cascade")
    assert parsed.referenced_attribute is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"DisplayName": _label("x")}, id="no Name"),
        pytest.param({"Name": "new_x", "IsGlobal": False}, id="not global"),
        pytest.param({"Name": "new_x", "OptionSetType": "Boolean"}, id="a Boolean set"),
        pytest.param(
            {"Name": "new_x", "@odata.type": "Microsoft.Dynamics.CRM.BooleanOptionSetMetadata"},
            id="BooleanOptionSetMetadata",
        ),
        pytest.param({"Name": "new_x", "Options": [{"Value": 3}, {"Value": 3}]}, id="duplicate values"),
    ],
)
def test_refused_option_sets(body: object) -> None:
    _raises(errors.INVALID_ARGUMENT, parse_option_set, body)


# --- arbitrary JSON -----------------------------------------------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_KEYS = st.sampled_from(
    [
        "@odata.type",
        "SchemaName",
        "LogicalName",
        "DisplayName",
        "LocalizedLabels",
        "UserLocalizedLabel",
        "Label",
        "LanguageCode",
        "RequiredLevel",
        "Value",
        "MaxLength",
        "FormatName",
        "Format",
        "MinValue",
        "MaxValue",
        "Precision",
        "PrecisionSource",
        "OptionSet",
        "Options",
        "TrueOption",
        "FalseOption",
        "IsGlobal",
        "Name",
        "DefaultValue",
        "DateTimeBehavior",
        "Targets",
        "MaxSizeInKB",
        "IsPrimaryName",
        "AutoNumberFormat",
        "AttributeType",
        "AttributeTypeName",
        "GlobalOptionSet@odata.bind",
        "Attributes",
        "OwnershipType",
        "Entities",
        "KeyAttributes",
        "Lookup",
        "CascadeConfiguration",
        "Delete",
        "ReferencedEntity",
        "ReferencingEntity",
        "Entity1LogicalName",
        "Entity2LogicalName",
        "RelationshipType",
        "DisplayCollectionName",
    ]
)
_TYPES = st.sampled_from(
    [
        "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        "BooleanAttributeMetadata",
        "Microsoft.Dynamics.CRM.ComplexDecimalAttributeMetadata",
        "LookupAttributeMetadata",
        "DateTimeAttributeMetadata",
        "IntegerAttributeMetadata",
        "MoneyAttributeMetadata",
        "ImageAttributeMetadata",
        "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "ManyToManyRelationshipMetadata",
        "EntityMetadata",
        "OptionSetMetadata",
    ]
)
_JSON = st.recursive(
    _SCALARS | _TYPES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS | st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)
_PARSERS = [
    label_text,
    parse_attribute,
    parse_table,
    parse_create_entities,
    parse_key,
    parse_relationship,
    parse_option_set,
]


@given(st.sampled_from(_PARSERS), _JSON)
def test_arbitrary_json_raises_only_dataverse_errors(parser: Any, body: object) -> None:
    with contextlib.suppress(DataverseError):
        parser(body)


@given(_TYPES, st.dictionaries(_KEYS, _JSON, max_size=8))
def test_arbitrary_columns_raise_only_dataverse_errors(odata_type: str, properties: dict[str, Any]) -> None:
    body = properties | {"@odata.type": odata_type, "SchemaName": "new_Field"}
    with contextlib.suppress(DataverseError):
        parse_attribute(body, option_sets=(COLORS,))
