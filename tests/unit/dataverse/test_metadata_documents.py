"""Metadata reads against the 41 standard tables: the EntityDefinitions/AttributeMetadata/relationship documents,
the ``$metadata`` CSDL, and the metadata endpoint's routes (docs: webapi/query-metadata-web-api.md)."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.parse
from collections import Counter
from typing import Any, cast
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring

from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.endpoints.api_request import parse_request
from d365local.dataverse.endpoints.metadata_endpoints import (
    MetadataEndpoints,
    global_option_set_definitions,
    is_metadata_segment,
    metadata_changes,
)
from d365local.dataverse.endpoints.web_request import WebRequest
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.csdl import csdl_document, render_csdl
from d365local.dataverse.odata.metadata_documents import (
    attribute_base,
    attribute_document,
    entity_document,
    global_option_set,
    key_document,
    many_to_many_document,
    option_set,
    relationship_document,
)
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    Option,
    OptionSetDefinition,
)
from d365local.dataverse.schema.standard_tables import standard_catalog

CATALOG = standard_catalog()
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
BASE_URL = "https://org.example/api/data/v9.2"


def _entity(name: str) -> EntityDefinition:
    entity = CATALOG.by_logical_name(name)
    assert entity is not None
    return entity


def _column(entity: str, name: str) -> tuple[EntityDefinition, AttributeDefinition]:
    table = _entity(entity)
    column = table.attribute(name)
    assert column is not None, name
    return table, column


def _document(entity: str, name: str) -> dict[str, Any]:
    return attribute_document(*_column(entity, name))


# --- attribute documents --------------------------------------------------------------------------------------

ODATA_TYPES = {
    AttributeType.UNIQUEIDENTIFIER: "UniqueIdentifierAttributeMetadata",
    AttributeType.STRING: "StringAttributeMetadata",
    AttributeType.MEMO: "MemoAttributeMetadata",
    AttributeType.INTEGER: "IntegerAttributeMetadata",
    AttributeType.BIGINT: "BigIntAttributeMetadata",
    AttributeType.DECIMAL: "DecimalAttributeMetadata",
    AttributeType.DOUBLE: "DoubleAttributeMetadata",
    AttributeType.MONEY: "MoneyAttributeMetadata",
    AttributeType.BOOLEAN: "BooleanAttributeMetadata",
    AttributeType.DATETIME: "DateTimeAttributeMetadata",
    AttributeType.PICKLIST: "PicklistAttributeMetadata",
    AttributeType.STATE: "StateAttributeMetadata",
    AttributeType.STATUS: "StatusAttributeMetadata",
    AttributeType.LOOKUP: "LookupAttributeMetadata",
    AttributeType.OWNER: "LookupAttributeMetadata",
    AttributeType.CUSTOMER: "LookupAttributeMetadata",
    AttributeType.PARTYLIST: "LookupAttributeMetadata",
    AttributeType.MULTISELECTPICKLIST: "MultiSelectPicklistAttributeMetadata",
    AttributeType.ENTITYNAME: "EntityNameAttributeMetadata",
    AttributeType.IMAGE: "ImageAttributeMetadata",
    AttributeType.FILE: "FileAttributeMetadata",
    AttributeType.MANAGEDPROPERTY: "ManagedPropertyAttributeMetadata",
    AttributeType.VIRTUAL: "AttributeMetadata",
}


@pytest.mark.parametrize("kind", list(AttributeType), ids=lambda k: k.value)
def test_every_type_has_its_odata_type_and_type_names(kind: AttributeType) -> None:
    table = _entity("account")
    column = AttributeDefinition("x", kind, "X", targets=("contact",) if kind.is_lookup else ())
    document = attribute_document(table, column)
    assert document["@odata.type"] == f"#Microsoft.Dynamics.CRM.{ODATA_TYPES[kind]}"
    virtual = kind in (AttributeType.MULTISELECTPICKLIST, AttributeType.IMAGE, AttributeType.FILE)
    assert document["AttributeType"] == ("Virtual" if virtual else kind.value)
    assert document["AttributeTypeName"] == {"Value": kind.type_name}


def test_base_properties_of_every_standard_column() -> None:
    for table in CATALOG.entities:
        for column in table.attributes:
            base = attribute_base(table, column)
            assert base["EntityLogicalName"] == table.logical_name
            assert base["RequiredLevel"]["ManagedPropertyLogicalName"] == "canmodifyrequirementlevelsettings"
            assert base["RequiredLevel"]["Value"] == column.required_level
            assert (base["IsValidForCreate"], base["IsValidForUpdate"]) == (
                column.is_valid_for_create,
                column.is_valid_for_update,
            )
            assert attribute_document(table, column).items() >= base.items()


def test_the_list_shape_has_no_derived_properties() -> None:
    base = attribute_base(*_column("account", "name"))
    assert "MaxLength" not in base
    assert "Format" not in base
    assert _document("account", "name")["MaxLength"] == 160


def test_string_format_and_format_name() -> None:
    email = _document("account", "emailaddress1")
    assert (email["Format"], email["FormatName"], email["MaxLength"]) == ("Email", {"Value": "Email"}, 100)
    assert _document("account", "websiteurl")["FormatName"] == {"Value": "Url"}
    assert _document("account", "description")["@odata.type"] == "#Microsoft.Dynamics.CRM.MemoAttributeMetadata"


def test_numbers() -> None:
    employees = _document("account", "numberofemployees")
    assert isinstance(employees["MinValue"], int)
    assert employees["Format"] == "None"
    revenue = _document("account", "revenue")
    assert revenue["@odata.type"] == "#Microsoft.Dynamics.CRM.MoneyAttributeMetadata"
    assert revenue["PrecisionSource"] == 2
    assert not revenue["IsBaseCurrency"]
    assert _document("account", "revenue_base")["IsBaseCurrency"]
    version = _document("account", "versionnumber")
    assert version["MinValue"] == -9223372036854775808
    assert version["AttributeTypeName"] == {"Value": "BigIntType"}
    exchange = _document("account", "exchangerate")
    assert exchange["@odata.type"] == "#Microsoft.Dynamics.CRM.DecimalAttributeMetadata"
    assert isinstance(exchange["Precision"], int)


def test_datetime_behavior() -> None:
    created = _document("account", "createdon")
    assert (created["Format"], created["DateTimeBehavior"]) == ("DateAndTime", {"Value": "UserLocal"})
    date_only = next(a for a in _entity("contact").attributes if a.date_behavior == "DateOnly")
    document = attribute_document(_entity("contact"), date_only)
    assert (document["Format"], document["DateTimeBehavior"]) == ("DateOnly", {"Value": "DateOnly"})


def test_lookups_owners_customers_and_party_lists_have_targets() -> None:
    assert _document("contact", "parentcustomerid")["Targets"] == ["account", "contact"]
    assert _document("contact", "parentcustomerid")["AttributeType"] == "Customer"
    owner = _document("account", "ownerid")
    assert owner["AttributeTypeName"] == {"Value": "OwnerType"}
    assert set(owner["Targets"]) >= {"systemuser", "team"}
    to = _document("email", "to")
    assert to["@odata.type"] == "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
    assert to["AttributeType"] == "PartyList"
    assert to["Targets"]


def test_companion_columns_name_their_column() -> None:
    assert _document("account", "createdbyname")["AttributeOf"] == "createdby"
    owner_type = _document("account", "owneridtype")
    assert owner_type["AttributeOf"] == "ownerid"
    assert not owner_type["IsValidODataAttribute"]
    assert _document("account", "name")["AttributeOf"] is None


def test_image_file_and_managed_property_columns() -> None:
    image = _document("account", "entityimage")
    assert image["AttributeType"] == "Virtual"
    assert image["AttributeTypeName"] == {"Value": "ImageType"}
    assert image["IsPrimaryImage"]
    assert image["MaxSizeInKB"] == 10240
    assert entity_document(_entity("account"))["PrimaryImageAttribute"] == "entityimage"
    blob = _document("email", "descriptionblobid")
    assert blob["AttributeType"] == "Virtual"
    assert blob["AttributeTypeName"] == {"Value": "FileType"}
    assert blob["MaxSizeInKB"] == 32768
    customizable = _document("role", "iscustomizable")
    assert customizable["@odata.type"] == "#Microsoft.Dynamics.CRM.ManagedPropertyAttributeMetadata"


def test_required_level_can_be_changed_unless_system_required() -> None:
    required = _document("account", "name")["RequiredLevel"]
    assert required["Value"] == "ApplicationRequired"
    assert required["CanBeChanged"]
    system = next(a for a in _entity("account").attributes if a.required_level == "SystemRequired")
    assert not attribute_document(_entity("account"), system)["RequiredLevel"]["CanBeChanged"]


def test_defaults() -> None:
    assert _document("account", "donotemail")["DefaultValue"] is False
    assert _document("email", "statecode")["DefaultFormValue"] == 0
    assert _document("competitor", "address1_addresstypecode")["DefaultFormValue"] == 1
    assert _document("account", "industrycode")["DefaultFormValue"] is None


# --- option sets ----------------------------------------------------------------------------------------------


def test_state_and_status_options_link_each_other() -> None:
    state = option_set(*_column("account", "statecode"))
    assert state is not None
    assert state["OptionSetType"] == "State"
    active = next(o for o in state["Options"] if o["Value"] == 0)
    assert active["@odata.type"] == "#Microsoft.Dynamics.CRM.StateOptionMetadata"
    assert (active["InvariantName"], active["DefaultStatus"]) == ("Active", 1)
    status = option_set(*_column("account", "statuscode"))
    assert status is not None
    inactive = next(o for o in status["Options"] if o["Value"] == 2)
    assert inactive["@odata.type"] == "#Microsoft.Dynamics.CRM.StatusOptionMetadata"
    assert inactive["State"] == 1


def test_boolean_option_sets_have_true_and_false_options() -> None:
    found = option_set(*_column("account", "donotemail"))
    assert found is not None
    assert found["OptionSetType"] == "Boolean"
    assert "Options" not in found
    assert (found["TrueOption"]["Value"], found["FalseOption"]["Value"]) == (1, 0)
    assert global_option_set(*_column("account", "donotemail")) is None


def test_local_and_global_option_sets() -> None:
    table, column = _column("account", "industrycode")
    local = option_set(table, column)
    assert local is not None
    assert (local["IsGlobal"], local["Name"]) == (False, "account_industrycode")
    assert global_option_set(table, column) is None
    shared = AttributeDefinition("x", AttributeType.PICKLIST, "X", options=(Option(1, "A"),), option_set_name="new_x")
    found = global_option_set(table, shared)
    assert found is not None
    assert (found["IsGlobal"], found["Name"]) == (True, "new_x")
    assert found["MetadataId"] == str(OptionSetDefinition("new_x", "X", ()).metadata_id)
    assert option_set(table, _column("account", "name")[1]) is None


# --- tables, keys and relationships ---------------------------------------------------------------------------


def test_entity_document_flags() -> None:
    custom = EntityDefinition(
        "new_thing", "new_things", "new_thingid", "new_name", 10000, "Thing", "Things", (),
        description="A thing", is_custom=True, has_notes=True, has_activities=True,
    )  # fmt: skip
    document = entity_document(custom)
    assert (document["IsCustomEntity"], document["HasNotes"], document["HasActivities"]) == (True, True, True)
    assert document["Description"]["UserLocalizedLabel"]["Label"] == "A thing"
    assert entity_document(_entity("account"))["Description"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}


def test_key_document() -> None:
    table = _entity("account")
    key = KeyDefinition("AccountNumberKey", ("accountnumber",), "Account number")
    document = key_document(table, key)
    assert document["MetadataId"] == str(key.metadata_id("account"))
    assert (document["LogicalName"], document["KeyAttributes"]) == ("accountnumberkey", ["accountnumber"])
    assert document["DisplayName"]["UserLocalizedLabel"]["Label"] == "Account number"
    assert (document["EntityKeyIndexStatus"], document["EntityLogicalName"]) == ("Active", "account")


def test_one_to_many_cascade() -> None:
    given = next(r for r in CATALOG.relationships if r.cascade is not None and r.cascade.delete == "Cascade")
    document = relationship_document(given, CATALOG)
    assert document["CascadeConfiguration"]["Delete"] == "Cascade"
    derived = next(r for r in CATALOG.relationships if r.cascade is None)
    defaults = relationship_document(derived, CATALOG)["CascadeConfiguration"]
    assert defaults == {
        "Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade", "Reparent": "NoCascade",
        "Share": "NoCascade", "Unshare": "NoCascade", "RollupView": "NoCascade",
    }  # fmt: skip


def test_polymorphic_lookups_navigate_per_target() -> None:
    navigations = {
        relationship_document(r, CATALOG)["ReferencingEntityNavigationPropertyName"]
        for r in CATALOG.many_to_one("contact")
        if r.referencing_attribute == "parentcustomerid"
    }
    assert navigations == {"parentcustomerid_account", "parentcustomerid_contact"}


def test_many_to_many_document() -> None:
    roles = next(r for r in CATALOG.many_to_many_relationships if r.schema_name == "systemuserroles_association")
    document = many_to_many_document(roles, CATALOG)
    assert document["@odata.type"] == "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata"
    assert document["RelationshipType"] == "ManyToManyRelationship"
    assert (document["IntersectEntityName"], document["Entity1LogicalName"], document["Entity2LogicalName"]) == (
        "systemuserroles",
        "systemuser",
        "role",
    )
    assert (document["Entity1IntersectAttribute"], document["Entity2IntersectAttribute"]) == ("systemuserid", "roleid")
    assert document["Entity1NavigationPropertyName"] == "systemuserroles_association"


# --- $metadata ------------------------------------------------------------------------------------------------


def _entity_types() -> dict[str, Element]:
    root = fromstring(csdl_document(CATALOG))
    return {e.attrib["Name"]: e for e in root.iter(f"{EDM}EntityType")}


def _properties(element: Element) -> dict[str, str]:
    return {p.attrib["Name"]: p.attrib["Type"] for p in element.findall(f"{EDM}Property")}


def _navigation_types(element: Element) -> dict[str, str]:
    return {p.attrib["Name"]: p.attrib["Type"] for p in element.findall(f"{EDM}NavigationProperty")}


def test_csdl_has_every_table_and_unique_member_names() -> None:
    types = _entity_types()
    assert set(types) == {e.logical_name for e in CATALOG.entities} | {"crmbaseentity"}
    for name, element in types.items():
        members = [m.attrib["Name"] for m in element if m.tag in (f"{EDM}Property", f"{EDM}NavigationProperty")]
        assert not [n for n, count in Counter(members).items() if count > 1], name


def test_csdl_property_types() -> None:
    types = _entity_types()
    account, email, role = _properties(types["account"]), _properties(types["email"]), _properties(types["role"])
    assert account["entityimage"] == "Edm.Binary"
    assert account["_primarycontactid_value"] == "Edm.Guid"
    assert "primarycontactid" not in account
    assert email["descriptionblobid"] == "Edm.Guid"
    assert email["activitytypecode"] == "Edm.String"
    assert role["iscustomizable"] == "mscrm.BooleanManagedProperty"
    assert account["versionnumber"] == "Edm.Int64"


def test_csdl_leaves_out_companions_and_party_lists() -> None:
    types = _entity_types()
    account, email = _properties(types["account"]), _properties(types["email"])
    assert "createdbyname" not in account
    assert "owneridtype" not in account
    assert not {"to", "from", "cc", "bcc"} & set(email)


def test_csdl_navigation_properties() -> None:
    types = _entity_types()
    contact, systemuser = _navigation_types(types["contact"]), _navigation_types(types["systemuser"])
    assert contact["parentcustomerid_account"] == "mscrm.account"
    assert contact["parentcustomerid_contact"] == "mscrm.contact"
    assert systemuser["systemuserroles_association"] == "Collection(mscrm.role)"
    assert _navigation_types(types["role"])["systemuserroles_association"] == "Collection(mscrm.systemuser)"
    assert _navigation_types(types["account"])["contact_customer_accounts"] == "Collection(mscrm.contact)"


def test_csdl_declares_the_managed_property_complex_type() -> None:
    root = fromstring(csdl_document(CATALOG))
    complex_types = {c.attrib["Name"] for c in root.iter(f"{EDM}ComplexType")}
    assert {"BooleanManagedProperty", "WhoAmIResponse"} <= complex_types


def test_csdl_is_rendered_once_per_catalog() -> None:
    catalog = Catalog(CATALOG.entities[:2])
    first = csdl_document(catalog)
    assert csdl_document(catalog) is first
    assert csdl_document(Catalog(CATALOG.entities[:2])) is not first


def test_csdl_renders_the_standard_tables_quickly() -> None:
    started = time.perf_counter()
    render_csdl(CATALOG)
    assert time.perf_counter() - started < 2.0


# --- the endpoint ---------------------------------------------------------------------------------------------


def _get(path: str, query: str = "", catalog: Catalog = CATALOG) -> tuple[int, Any]:
    raw = WebRequest(method="GET", path=path, query=query, headers={}, body=b"", base_url=BASE_URL)
    try:
        response = MetadataEndpoints(catalog).handle(parse_request(raw), cast(AuthorizedCaller, None))
    except DataverseError as exc:
        return exc.code.status, exc.message
    return response.status, json.loads(response.body)


ACCOUNT = "EntityDefinitions(LogicalName='account')"


def test_attribute_list_has_base_properties_only() -> None:
    status, body = _get(f"{ACCOUNT}/Attributes")
    assert status == 200
    name = next(d for d in body["value"] if d["LogicalName"] == "name")
    assert name["@odata.type"] == "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    assert "MaxLength" not in name
    assert len(body["value"]) == len(_entity("account").attributes)


@pytest.mark.parametrize(
    ("cast_type", "kinds"),
    [
        ("StringAttributeMetadata", {AttributeType.STRING}),
        ("LookupAttributeMetadata", {AttributeType.LOOKUP, AttributeType.OWNER, AttributeType.CUSTOMER}),
        ("ImageAttributeMetadata", {AttributeType.IMAGE}),
        ("MultiSelectPicklistAttributeMetadata", set()),
        ("AttributeMetadata", set(AttributeType)),
    ],
)
def test_type_cast_segments(cast_type: str, kinds: set[AttributeType]) -> None:
    status, body = _get(f"{ACCOUNT}/Attributes/Microsoft.Dynamics.CRM.{cast_type}")
    assert status == 200
    expected = {a.logical_name for a in _entity("account").attributes if a.type in kinds}
    assert {d["LogicalName"] for d in body["value"]} == expected
    assert body["@odata.context"].endswith(f"/Attributes/Microsoft.Dynamics.CRM.{cast_type}")
    if cast_type == "StringAttributeMetadata":
        assert all("MaxLength" in d for d in body["value"])


def test_unknown_cast_is_not_found() -> None:
    assert _get(f"{ACCOUNT}/Attributes/Microsoft.Dynamics.CRM.EnumAttributeMetadata")[0] == 404


def test_single_attribute_with_and_without_cast() -> None:
    status, body = _get(f"{ACCOUNT}/Attributes(LogicalName='name')")
    assert status == 200
    assert body["MaxLength"] == 160
    status, body = _get(f"{ACCOUNT}/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata")
    assert status == 200
    assert body["LogicalName"] == "name"
    status, _ = _get(f"{ACCOUNT}/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata")
    assert status == 400


def test_option_set_expansion_needs_a_choice_cast() -> None:
    picklists = f"{ACCOUNT}/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    status, body = _get(picklists, "$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet")
    assert status == 200
    industry = next(d for d in body["value"] if d["LogicalName"] == "industrycode")
    assert industry["OptionSet"]["Options"]
    assert industry["GlobalOptionSet"] is None
    assert set(industry) == {"@odata.type", "MetadataId", "LogicalName", "OptionSet", "GlobalOptionSet"}
    booleans = f"{ACCOUNT}/Attributes/Microsoft.Dynamics.CRM.BooleanAttributeMetadata"
    assert _get(booleans, "$expand=OptionSet")[0] == 200
    status, message = _get(booleans, "$expand=GlobalOptionSet")
    assert status == 400
    assert "GlobalOptionSet" in message
    assert _get(f"{ACCOUNT}/Attributes", "$expand=OptionSet")[0] == 400


def test_option_set_segment_of_a_single_attribute() -> None:
    path = (
        f"{ACCOUNT}/Attributes(LogicalName='industrycode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata/OptionSet"
    )
    status, body = _get(path, "$select=Options")
    assert status == 200
    assert body["Options"]
    assert body["@odata.context"].endswith("/OptionSet/$entity")


def test_entity_navigations_and_expands() -> None:
    status, body = _get(f"{ACCOUNT}/ManyToManyRelationships")
    assert status == 200
    assert {d["SchemaName"] for d in body["value"]} == {"accountleads_association"}
    status, body = _get(ACCOUNT, "$select=LogicalName&$expand=Attributes($select=LogicalName),Keys")
    assert status == 200
    assert body["Keys"] == []
    assert "MaxLength" not in body["Attributes"][0]
    assert _get(ACCOUNT, "$expand=Nothing")[0] == 400


def test_keys_route() -> None:
    table = EntityDefinition(
        "thing", "things", "thingid", "name", 10001, "Thing", "Things",
        (AttributeDefinition("thingid", AttributeType.UNIQUEIDENTIFIER, "Id", is_primary_id=True),
         AttributeDefinition("code", AttributeType.STRING, "Code", max_length=10)),
        keys=(KeyDefinition("CodeKey", ("code",)),),
    )  # fmt: skip
    status, body = _get("EntityDefinitions(LogicalName='thing')/Keys", catalog=Catalog([table]))
    assert status == 200
    assert [d["KeyAttributes"] for d in body["value"]] == [["code"]]


def test_relationship_definitions() -> None:
    status, body = _get("RelationshipDefinitions")
    assert status == 200
    kinds = Counter(d["RelationshipType"] for d in body["value"])
    assert kinds == {
        "OneToManyRelationship": len(CATALOG.relationships),
        "ManyToManyRelationship": len(CATALOG.many_to_many_relationships),
    }
    status, body = _get("RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata")
    assert status == 200
    assert len(body["value"]) == len(CATALOG.many_to_many_relationships)
    status, body = _get("RelationshipDefinitions(SchemaName='contact_customer_accounts')")
    assert status == 200
    assert body["ReferencedEntity"] == "account"
    status, again = _get(f"RelationshipDefinitions({body['MetadataId']})")
    assert again["SchemaName"] == "contact_customer_accounts"
    one_to_many = "RelationshipDefinitions(SchemaName='contact_customer_accounts')/Microsoft.Dynamics.CRM."
    assert _get(one_to_many + "OneToManyRelationshipMetadata")[0] == 200
    assert _get(one_to_many + "ManyToManyRelationshipMetadata")[0] == 400
    assert _get("RelationshipDefinitions(SchemaName='nope')")[0] == 404


def test_global_option_set_definitions() -> None:
    assert is_metadata_segment("GlobalOptionSetDefinitions")
    status, body = _get("GlobalOptionSetDefinitions")
    assert (status, body["value"]) == (200, [])
    choice = OptionSetDefinition("new_size", "Size", (Option(1, "Small"), Option(2, "Large")))
    raw = WebRequest(method="GET", path="GlobalOptionSetDefinitions(Name='new_size')", query="", headers={},
                     body=b"", base_url=BASE_URL)  # fmt: skip
    body = json.loads(global_option_set_definitions(parse_request(raw), [choice]).body)
    assert (body["Name"], body["IsGlobal"], [o["Value"] for o in body["Options"]]) == ("new_size", True, [1, 2])
    assert body["MetadataId"] == str(choice.metadata_id)


SDK_PROPERTIES = [
    "LogicalName", "SchemaName", "AttributeType", "AttributeTypeName", "MetadataId", "DisplayName", "RequiredLevel",
    "MaxLength", "Format", "FormatName", "MinValue", "MaxValue", "Precision",
]  # fmt: skip


def _sdk_query(table: str, column: str | None = None) -> dict[str, Any]:
    """The EntityQueryExpression powerplatform-dataverse-client's typed list_columns/get_column sends."""
    attribute_query: dict[str, Any] = {"Properties": {"PropertyNames": SDK_PROPERTIES}}
    if column:
        condition = {
            "PropertyName": "LogicalName",
            "ConditionOperator": "Equals",
            "Value": {"Type": "System.String", "Value": column},
        }
        attribute_query["Criteria"] = {"Conditions": [condition]}
    return {
        "Properties": {"PropertyNames": ["LogicalName", "Attributes"]},
        "Criteria": {"Conditions": [{"PropertyName": "LogicalName", "ConditionOperator": "Equals", "Value": {"Type": "System.String", "Value": table}}]},
        "AttributeQuery": attribute_query,
    }  # fmt: skip


def test_retrieve_metadata_changes_returns_typed_columns() -> None:
    body = metadata_changes(CATALOG, _sdk_query("account"))
    (account,) = body["EntityMetadata"]
    assert set(account) == {"MetadataId", "LogicalName", "Attributes"}
    name = next(a for a in account["Attributes"] if a["LogicalName"] == "name")
    assert (name["MaxLength"], name["FormatName"], name["AttributeTypeName"]) == (
        160,
        {"Value": "Text"},
        {"Value": "StringType"},
    )
    assert set(name) <= {*SDK_PROPERTIES, "@odata.type"}
    (column,) = metadata_changes(CATALOG, _sdk_query("account", "numberofemployees"))["EntityMetadata"][0]["Attributes"]
    assert column["MinValue"] == _document("account", "numberofemployees")["MinValue"]


def test_retrieve_metadata_changes_route_reads_the_parameter_alias() -> None:
    query = urllib.parse.urlencode({"@p1": json.dumps(_sdk_query("contact", "fullname"))})
    raw = WebRequest(method="GET", path="RetrieveMetadataChanges", query=query, headers={}, body=b"", base_url=BASE_URL)
    request = parse_request(raw)
    aliased = dataclasses.replace(request, segments=(Segment("RetrieveMetadataChanges", named=(("Query", "@p1"),)),))
    body = json.loads(MetadataEndpoints(CATALOG).handle(aliased, cast(AuthorizedCaller, None)).body)
    assert body["@odata.context"].endswith("#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse")
    assert body["EntityMetadata"][0]["Attributes"][0]["LogicalName"] == "fullname"
    assert is_metadata_segment("RetrieveMetadataChanges")
    missing = dataclasses.replace(request, segments=(Segment("RetrieveMetadataChanges", call=True),))
    with pytest.raises(DataverseError):
        MetadataEndpoints(CATALOG).handle(missing, cast(AuthorizedCaller, None))


def test_entity_definitions_render_quickly() -> None:
    started = time.perf_counter()
    status, body = _get("EntityDefinitions", "$expand=Attributes")
    assert status == 200
    assert sum(len(e["Attributes"]) for e in body["value"]) == 3299
    assert time.perf_counter() - started < 5.0
