"""Dataverse's rules for schema changes (``dataverse.domain.customization``), as pure functions over the built-in
catalog: what a new table gets, which names are free, the prefix rule, what may be changed or deleted, and the codes
and messages of every refusal (docs/reference/metadata-writes.md)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from d365local.dataverse import errors
from d365local.dataverse.domain import customization
from d365local.dataverse.domain.customization import NewTable
from d365local.dataverse.errors import DataverseCode, DataverseError
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
    Option,
    OptionSetDefinition,
    RelationshipDefinition,
)

T = AttributeType
EMPTY = Customizations()
USER_OWNED_SYSTEM = {
    "createdby",
    "createdon",
    "createdonbehalfby",
    "importsequencenumber",
    "modifiedby",
    "modifiedon",
    "modifiedonbehalfby",
    "overriddencreatedon",
    "statecode",
    "statuscode",
    "timezoneruleversionnumber",
    "utcconversiontimezonecode",
    "versionnumber",
}
OWNER_COLUMNS = {"ownerid", "owningbusinessunit", "owningteam", "owninguser"}
COLORS = OptionSetDefinition("new_Colors", "Colors", (Option(100000000, "Red"), Option(100000001, "Blue")))


_BASE: list[Catalog] = []


def _fresh(entity: EntityDefinition) -> EntityDefinition:
    """A copy with its own name indexes: ``dataclasses.replace`` shares them with the original (see the leak test)."""
    fields = dataclasses.fields(entity)
    return EntityDefinition(
        **{f.name: getattr(entity, f.name) for f in fields if f.init and not f.name.startswith("_")}
    )


@pytest.fixture(autouse=True)
def _isolated_builtin_catalog() -> Iterator[None]:
    """Each test on its own copy of the built-in catalog: a test's changes can never reach the next test's catalog
    (``test_a_custom_column_never_reaches_the_built_in_catalog`` checks the real one is not changed either)."""
    builtin = builtin_catalog()
    _BASE[:] = [
        Catalog(
            [_fresh(e) for e in builtin.entities],
            builtin.relationships,
            builtin.many_to_many_relationships,
            builtin.option_sets,
        )
    ]
    yield
    _BASE.clear()


def base() -> Catalog:
    """The built-in catalog (this test's copy)."""
    return _BASE[0]


def column(schema_name: str, kind: AttributeType = T.STRING, **values: Any) -> AttributeDefinition:
    """A custom column as the body parser gives it (custom, logical name = lowercased schema name)."""
    defaults: dict[str, Any] = {"display_name": schema_name, "schema_name": schema_name, "is_custom": True}
    if kind in (T.STRING, T.MEMO):
        defaults["max_length"] = 100
    return AttributeDefinition(schema_name.lower(), kind, **(defaults | values))


def new_table(
    schema_name: str = "new_Project",
    *,
    primary: AttributeDefinition | None = None,
    attributes: tuple[AttributeDefinition, ...] = (),
    ownership: str = "UserOwned",
    display_name: str = "Project",
) -> NewTable:
    return NewTable(
        schema_name=schema_name,
        display_name=display_name,
        display_collection_name="",
        description="",
        ownership=ownership,
        primary_name=primary or column("new_Name", is_primary_name=True),
        attributes=attributes,
    )


def raises(code: DataverseCode, function: Callable[..., object], *args: object) -> str:
    """Call ``function``; it must raise ``code``. Its message."""
    with pytest.raises(DataverseError) as raised:
        function(*args)
    assert raised.value.code.code == code.code, raised.value.message
    assert raised.value.code.status == code.status
    return raised.value.message


def with_table(custom: Customizations = EMPTY, table: NewTable | None = None) -> tuple[Customizations, Catalog]:
    """``custom`` plus a new table (default: new_Project), and the catalog that results."""
    changed, _entity = customization.create_table(custom, custom.apply_to(base()), table or new_table())
    return changed, changed.apply_to(base())


def one_to_many(
    schema_name: str = "new_project_task", referenced: str = "new_project", referencing: str = "task"
) -> RelationshipDefinition:
    return RelationshipDefinition(schema_name, referenced, referencing, "", schema_name)


# -- creating tables --------------------------------------------------------------------------------------------------
def test_a_user_owned_table_gets_its_primary_id_name_entity_set_and_owner_columns() -> None:
    custom, entity = customization.create_table(EMPTY, base(), new_table())
    assert (entity.logical_name, entity.schema_name, entity.entity_set_name) == (
        "new_project",
        "new_Project",
        "new_projects",
    )
    assert (entity.primary_id, entity.primary_name) == ("new_projectid", "new_name")
    identifier = entity.attribute("new_projectid")
    assert identifier is not None
    assert identifier.type is T.UNIQUEIDENTIFIER
    assert identifier.is_primary_id
    assert identifier.schema_name == "new_ProjectId"
    name = entity.attribute("new_name")
    assert name is not None
    assert name.is_primary_name
    names = {a.logical_name for a in entity.attributes}
    assert names >= USER_OWNED_SYSTEM | OWNER_COLUMNS
    assert "organizationid" not in names
    assert entity.is_custom
    assert entity.ownership == "UserOwned"
    assert 10000 <= entity.object_type_code < 100000
    assert entity.display_collection_name == "Projects"
    assert custom.tables == (entity,)
    assert custom.apply_to(base()).by_entity_set("new_projects") == entity


def test_an_organization_owned_table_has_organizationid_and_no_owner() -> None:
    _custom, entity = customization.create_table(EMPTY, base(), new_table(ownership="OrganizationOwned"))
    names = {a.logical_name for a in entity.attributes}
    assert names >= USER_OWNED_SYSTEM | {"organizationid"}
    assert not names & OWNER_COLUMNS
    organization = entity.attribute("organizationid")
    assert organization is not None
    assert organization.targets == ("organization",)


@pytest.mark.parametrize(
    ("schema_name", "entity_set"),
    [("new_Category", "new_categories"), ("new_Box", "new_boxes"), ("contoso_Budget", "contoso_budgets")],
)
def test_the_entity_set_name_is_the_plural_of_the_logical_name(schema_name: str, entity_set: str) -> None:
    _custom, entity = customization.create_table(EMPTY, base(), new_table(schema_name))
    assert entity.entity_set_name == entity_set


def test_other_columns_are_kept_and_a_column_naming_a_global_choice_gets_its_options() -> None:
    custom = customization.add_option_set(EMPTY, base(), COLORS)
    choice = column("new_Color", T.PICKLIST, option_set_name="NEW_COLORS")
    _custom, entity = customization.create_table(
        custom, custom.apply_to(base()), new_table(attributes=(column("new_Count", T.INTEGER), choice))
    )
    color = entity.attribute("new_color")
    assert color is not None
    assert color.option_set_name == "new_Colors"  # the global choice's exact name
    assert [o.value for o in color.options] == [100000000, 100000001]
    count = entity.attribute("new_count")
    assert count is not None
    assert count.type is T.INTEGER


@pytest.mark.parametrize("schema_name", ["Project", "n_Project", "toolongprefix_Project", "new_Pro-ject", "1ab_X"])
def test_a_table_name_needs_a_customization_prefix(schema_name: str) -> None:
    message = raises(errors.INVALID_ARGUMENT, customization.create_table, EMPTY, base(), new_table(schema_name))
    assert f"Invalid name for entity {schema_name}" in message
    assert "customization prefix" in message


def test_a_column_name_needs_a_customization_prefix() -> None:
    message = raises(
        errors.INVALID_ARGUMENT, customization.add_column, EMPTY, base(), "account", column("Budget", T.INTEGER)
    )
    assert "Invalid name for attribute Budget" in message


def test_a_table_name_taken_is_0x8004700b_whatever_its_case() -> None:
    custom, catalog = with_table()
    message = raises(
        errors.DUPLICATE_ENTITY_NAME, customization.create_table, custom, catalog, new_table("NEW_PROJECT")
    )
    assert message == "An entity with the specified name already exists. Please specify a unique name."


def test_an_entity_set_name_taken_is_refused() -> None:
    """new_Boxe's plural is new_boxes, new_Box's entity set."""
    custom, catalog = with_table(table=new_table("new_Box"))
    with pytest.raises(DataverseError) as raised:
        customization.create_table(custom, catalog, new_table("new_Boxe"))
    assert raised.value.code.status == 400
    assert "new_boxes" in raised.value.message


def test_an_entity_set_name_taken_is_0x8006089b() -> None:
    custom, catalog = with_table(table=new_table("new_Box"))
    with pytest.raises(DataverseError) as raised:
        customization.create_table(custom, catalog, new_table("new_Boxe"))
    assert raised.value.code.code.lower() == "0x8006089b"


def test_a_primary_name_that_is_not_a_string_is_0x8004700e() -> None:
    primary = column("new_Number", T.INTEGER, is_primary_name=True)
    message = raises(
        errors.INVALID_PRIMARY_FIELD_TYPE, customization.create_table, EMPTY, base(), new_table(primary=primary)
    )
    assert message == "Primary UI Attribute has to be of type String"


def test_a_second_primary_name_is_0x8004701e_naming_both() -> None:
    second = column("new_Title", is_primary_name=True)
    message = raises(
        errors.DUPLICATE_PRIMARY_NAME, customization.create_table, EMPTY, base(), new_table(attributes=(second,))
    )
    assert "The new new_title attribute is set as the primary name attribute for the new_project entity" in message
    assert "already has the new_name attribute" in message


def test_a_primary_name_column_added_later_is_0x8004701e() -> None:
    message = raises(
        errors.DUPLICATE_PRIMARY_NAME,
        customization.add_column,
        EMPTY,
        base(),
        "account",
        column("new_Title", is_primary_name=True),
    )
    assert "The account entity already has the name attribute" in message


def test_two_columns_of_one_name_in_a_new_table_are_0x80047013() -> None:
    table = new_table(attributes=(column("new_Count", T.INTEGER), column("NEW_count", T.INTEGER)))
    message = raises(errors.DUPLICATE_ATTRIBUTE_SCHEMA_NAME, customization.create_table, EMPTY, base(), table)
    assert "already exists on new_project" in message


@pytest.mark.parametrize(
    ("ownership", "display_name", "code", "part"),
    [
        ("TeamOwned", "Project", errors.INVALID_ARGUMENT, "OwnershipType must be UserOwned or OrganizationOwned"),
        ("UserOwned", "   ", errors.INVALID_DISPLAY_NAME, "The specified display name is not valid"),
    ],
)
def test_bad_ownership_and_blank_display_names_are_refused(
    ownership: str, display_name: str, code: DataverseCode, part: str
) -> None:
    table = new_table(ownership=ownership, display_name=display_name)
    assert part in raises(code, customization.create_table, EMPTY, base(), table)


def test_object_type_codes_of_new_tables_are_distinct() -> None:
    custom, catalog = with_table()
    _custom, second = customization.create_table(custom, catalog, new_table("new_Task"))
    first = catalog.by_logical_name("new_project")
    assert first is not None
    codes = {e.object_type_code for e in catalog.entities}
    assert second.object_type_code not in codes
    assert second.object_type_code >= 10000


# -- columns ----------------------------------------------------------------------------------------------------------
def test_a_custom_column_on_account_extends_the_built_in_table() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Score", T.INTEGER))
    assert [c.logical_name for c in custom.columns["account"]] == ["new_score"]
    assert custom.tables == ()
    account = custom.apply_to(base()).by_logical_name("account")
    assert account is not None
    score = account.column("new_score")
    assert score is not None
    assert score.type is T.INTEGER
    assert account.column("name") is not None  # the standard columns stay
    assert [a.logical_name for a in account.attributes][-1] == "new_score"


def test_a_custom_column_never_reaches_the_built_in_catalog() -> None:
    name = f"new_leak{uuid.uuid4().hex[:8]}"
    builtin = builtin_catalog()
    custom = customization.add_column(EMPTY, builtin, "account", column(name, T.INTEGER))
    extended = custom.apply_to(builtin).by_logical_name("account")
    assert extended is not None
    assert extended.column(name) is not None
    account = builtin.by_logical_name("account")
    assert account is not None
    assert account.column(name) is None
    assert account.attribute(name) is None


def test_a_column_of_a_custom_table_is_stored_with_the_table() -> None:
    custom, catalog = with_table()
    changed = customization.add_column(custom, catalog, "new_project", column("new_Count", T.INTEGER))
    assert changed.columns == {}
    (table,) = changed.tables
    assert table.attribute("new_count") is not None


def test_a_column_on_a_missing_table_is_404() -> None:
    message = raises(
        errors.RECORD_NOT_FOUND, customization.add_column, EMPTY, base(), "new_nothing", column("new_X", T.INTEGER)
    )
    assert "new_nothing" in message


@pytest.mark.parametrize("name", ["new_Score", "NEW_SCORE"])
def test_a_column_name_taken_is_0x80047013(name: str) -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Score", T.INTEGER))
    message = raises(
        errors.DUPLICATE_ATTRIBUTE_SCHEMA_NAME,
        customization.add_column,
        custom,
        custom.apply_to(base()),
        "account",
        column(name, T.INTEGER),
    )
    assert message == f"An attribute with the specified name {name} already exists on account."


def test_a_money_column_gets_its_read_only_base_twin() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Budget", T.MONEY))
    budget, twin = custom.columns["account"]
    assert (budget.logical_name, budget.type) == ("new_budget", T.MONEY)
    assert (twin.logical_name, twin.schema_name, twin.type) == ("new_budget_base", "new_Budget_Base", T.MONEY)
    assert twin.display_name == "new_Budget (Base)"
    assert not twin.is_valid_for_create
    assert not twin.is_valid_for_update
    assert twin.required_level == "None"
    # its name is taken too
    message = raises(
        errors.DUPLICATE_ATTRIBUTE_SCHEMA_NAME,
        customization.add_column,
        custom,
        custom.apply_to(base()),
        "account",
        column("new_Budget_Base", T.INTEGER),
    )
    assert "new_Budget_Base" in message


def test_a_money_column_of_a_new_table_gets_its_base_twin() -> None:
    _custom, entity = customization.create_table(EMPTY, base(), new_table(attributes=(column("new_Budget", T.MONEY),)))
    assert entity.attribute("new_budget_base") is not None


def test_a_column_naming_a_global_choice_gets_its_options() -> None:
    custom = customization.add_option_set(EMPTY, base(), COLORS)
    changed = customization.add_column(
        custom, custom.apply_to(base()), "account", column("new_Color", T.PICKLIST, option_set_name="new_colors")
    )
    (color,) = changed.columns["account"]
    assert color.option_set_name == "new_Colors"
    assert [(o.value, o.label) for o in color.options] == [(100000000, "Red"), (100000001, "Blue")]


def test_a_column_naming_a_missing_global_choice_is_404() -> None:
    message = raises(
        errors.RECORD_NOT_FOUND,
        customization.add_column,
        EMPTY,
        base(),
        "account",
        column("new_Color", T.PICKLIST, option_set_name="new_nothing"),
    )
    assert "OptionSetMetadata" in message
    assert "new_nothing" in message


def test_update_keeps_type_name_and_role_and_takes_the_rest() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Title", max_length=100))
    sent = dataclasses.replace(
        column("new_Title", max_length=300, display_name="Title"), schema_name="NEW_TITLE", is_custom=False
    )
    changed = customization.update_column(custom, custom.apply_to(base()), "account", sent)
    (title,) = changed.columns["account"]
    assert (title.max_length, title.display_name) == (300, "Title")
    assert title.schema_name == "new_Title"
    assert title.is_custom


@pytest.mark.parametrize(
    ("present", "sent"), [(T.INTEGER, T.STRING), (T.STRING, T.INTEGER), (T.MONEY, T.DECIMAL), (T.BOOLEAN, T.PICKLIST)]
)
def test_a_column_type_cannot_change(present: AttributeType, sent: AttributeType) -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Value", present))
    message = raises(
        errors.INVALID_ARGUMENT,
        customization.update_column,
        custom,
        custom.apply_to(base()),
        "account",
        column("new_Value", sent),
    )
    assert message == "The type of account.new_value cannot change."


def test_a_string_column_sent_as_memo_stays_a_string() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Title"))
    changed = customization.update_column(custom, custom.apply_to(base()), "account", column("new_Title", T.MEMO))
    assert changed.columns["account"][0].type is T.STRING


@pytest.mark.parametrize("function", [customization.update_column, customization.delete_column])
def test_standard_columns_cannot_be_changed_or_deleted(function: Callable[..., Customizations]) -> None:
    target: object = column("name") if function is customization.update_column else "name"
    message = raises(errors.INVALID_ARGUMENT, function, EMPTY, base(), "account", target)
    assert "The attribute account.name is not a custom attribute" in message


def test_deleting_a_custom_column_removes_it_and_the_money_twin() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Budget", T.MONEY))
    custom = customization.add_column(custom, custom.apply_to(base()), "account", column("new_Score", T.INTEGER))
    changed = customization.delete_column(custom, custom.apply_to(base()), "account", "new_budget")
    assert [c.logical_name for c in changed.columns["account"]] == ["new_score"]
    emptied = customization.delete_column(changed, changed.apply_to(base()), "account", "new_score")
    assert "account" not in emptied.columns
    assert emptied.is_empty


def test_the_primary_name_column_of_a_custom_table_cannot_be_deleted() -> None:
    custom, catalog = with_table()
    with pytest.raises(DataverseError) as raised:
        customization.delete_column(custom, catalog, "new_project", "new_name")
    assert raised.value.code.status == 400
    assert "new_project.new_name" in raised.value.message
    assert custom.tables[0].attribute("new_name") is not None


def test_a_money_base_twin_cannot_be_deleted_on_its_own() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Budget", T.MONEY))
    with pytest.raises(DataverseError):
        customization.delete_column(custom, custom.apply_to(base()), "account", "new_budget_base")


def test_a_column_used_by_a_key_is_0x8004f01f() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Code"))
    custom = customization.add_key(
        custom, custom.apply_to(base()), "account", KeyDefinition("new_CodeKey", ("new_code",))
    )
    message = raises(
        errors.CANNOT_DELETE_IN_USE, customization.delete_column, custom, custom.apply_to(base()), "account", "new_code"
    )
    assert message.startswith(
        "The Attribute(account.new_code) component cannot be deleted because it is referenced by 1 other components."
    )
    # the key goes first, then the column
    custom = customization.delete_key(custom, custom.apply_to(base()), "account", "new_codekey")
    assert customization.delete_column(custom, custom.apply_to(base()), "account", "new_code").is_empty


# -- keys -------------------------------------------------------------------------------------------------------------
def test_a_key_on_a_built_in_table_and_on_a_custom_table() -> None:
    custom = customization.add_column(EMPTY, base(), "account", column("new_Code"))
    custom = customization.add_key(
        custom, custom.apply_to(base()), "account", KeyDefinition("new_CodeKey", ("new_code", "name"))
    )
    assert custom.keys == {"account": (KeyDefinition("new_CodeKey", ("new_code", "name")),)}
    account = custom.apply_to(base()).by_logical_name("account")
    assert account is not None
    assert account.alternate_keys == (("accountnumber",), ("new_code", "name"))

    custom, catalog = with_table(custom)
    custom = customization.add_key(custom, catalog, "new_project", KeyDefinition("new_NameKey", ("new_name",)))
    assert custom.tables[0].keys == (KeyDefinition("new_NameKey", ("new_name",)),)
    assert set(custom.keys) == {"account"}


def test_a_table_has_at_most_ten_keys() -> None:
    """account comes with one key (accountnumber): nine more fit, the eleventh does not."""
    custom = EMPTY
    for number in range(10):
        custom = customization.add_column(custom, custom.apply_to(base()), "account", column(f"new_C{number}"))
    for number in range(9):
        custom = customization.add_key(
            custom, custom.apply_to(base()), "account", KeyDefinition(f"new_K{number}", (f"new_c{number}",))
        )
    catalog = custom.apply_to(base())
    account = catalog.by_logical_name("account")
    assert account is not None
    assert len(account.keys) == customization.MAX_KEYS == 10
    message = raises(
        errors.INVALID_ARGUMENT, customization.add_key, custom, catalog, "account", KeyDefinition("new_K9", ("new_c9",))
    )
    assert message == "A table can have at most 10 alternate keys."


@pytest.mark.parametrize(
    ("kind", "allowed"),
    [
        (T.STRING, True),
        (T.INTEGER, True),
        (T.DECIMAL, True),
        (T.DATETIME, True),
        (T.PICKLIST, True),
        (T.MEMO, False),
        (T.MONEY, False),
        (T.DOUBLE, False),
        (T.BOOLEAN, False),
        (T.BIGINT, False),
    ],
)
def test_key_column_types(kind: AttributeType, allowed: bool) -> None:
    extra = {"options": (Option(1, "One"),)} if kind is T.PICKLIST else {}
    custom = customization.add_column(EMPTY, base(), "account", column("new_Part", kind, **extra))
    key = KeyDefinition("new_PartKey", ("new_part",))
    if allowed:
        changed = customization.add_key(custom, custom.apply_to(base()), "account", key)
        assert changed.keys["account"] == (key,)
        return
    message = raises(errors.INVALID_ARGUMENT, customization.add_key, custom, custom.apply_to(base()), "account", key)
    assert "The attribute new_part of account cannot be part of a key" in message


def test_a_key_may_use_a_lookup_but_not_an_unknown_column() -> None:
    key = KeyDefinition("new_ContactKey", ("primarycontactid",))
    assert customization.add_key(EMPTY, base(), "account", key).keys["account"] == (key,)
    message = raises(
        errors.INVALID_ARGUMENT, customization.add_key, EMPTY, base(), "account", KeyDefinition("new_X", ("nothing",))
    )
    assert "The attribute nothing of account cannot be part of a key" in message


@pytest.mark.parametrize("count", [0, 17])
def test_a_key_has_one_to_sixteen_columns(count: int) -> None:
    key = KeyDefinition("new_Wide", tuple("name" for _ in range(count)))
    message = raises(errors.INVALID_ARGUMENT, customization.add_key, EMPTY, base(), "account", key)
    assert message == "A key has 1 to 16 columns."


def test_a_key_name_needs_a_prefix() -> None:
    message = raises(
        errors.INVALID_ARGUMENT, customization.add_key, EMPTY, base(), "account", KeyDefinition("NameKey", ("name",))
    )
    assert "Invalid name for key NameKey" in message


def test_duplicate_keys_are_0x80060893_and_0x80060894() -> None:
    custom = customization.add_key(EMPTY, base(), "account", KeyDefinition("new_NameKey", ("name",)))
    catalog = custom.apply_to(base())
    message = raises(
        errors.KEY_NAME_EXISTS,
        customization.add_key,
        custom,
        catalog,
        "account",
        KeyDefinition("NEW_namekey", ("fax",)),
    )
    assert message == "An entity key with the name NEW_namekey already exists on entity account."
    message = raises(
        errors.KEY_COLUMNS_EXIST,
        customization.add_key,
        custom,
        catalog,
        "account",
        KeyDefinition("new_Other", ("name",)),
    )
    assert message == "An entity key with the selected attributes already exists on entity."
    # the built-in accountnumber key counts too
    raises(
        errors.KEY_COLUMNS_EXIST,
        customization.add_key,
        EMPTY,
        base(),
        "account",
        KeyDefinition("new_Number", ("accountnumber",)),
    )


def test_deleting_a_key() -> None:
    custom = customization.add_key(EMPTY, base(), "account", KeyDefinition("new_NameKey", ("name",)))
    assert customization.delete_key(custom, custom.apply_to(base()), "account", "new_namekey").is_empty
    message = raises(errors.RECORD_NOT_FOUND, customization.delete_key, EMPTY, base(), "account", "accountnumberkey")
    assert "EntityKey" in message  # the built-in key is not this organization's to delete


# -- relationships ----------------------------------------------------------------------------------------------------
def test_a_one_to_many_relationship_adds_its_lookup_and_deleting_it_removes_it() -> None:
    custom, catalog = with_table()
    lookup = column("new_ProjectId", T.LOOKUP)
    changed = customization.add_one_to_many(custom, catalog, one_to_many(), lookup)
    (relationship,) = changed.one_to_many
    assert relationship.referencing_attribute == "new_projectid"
    (task_lookup,) = changed.columns["task"]
    assert (task_lookup.logical_name, task_lookup.type, task_lookup.targets) == (
        "new_projectid",
        T.LOOKUP,
        ("new_project",),
    )
    assert task_lookup.is_custom
    after = changed.apply_to(base())
    assert [r.schema_name for r in after.one_to_many("new_project") if r.referencing_entity == "task"] == [
        "new_project_task"
    ]

    removed = customization.delete_relationship(changed, after, "NEW_PROJECT_TASK")
    assert removed.one_to_many == ()
    assert "task" not in removed.columns
    assert removed == custom


def test_a_lookup_column_used_by_a_relationship_cannot_be_deleted_alone() -> None:
    custom, catalog = with_table()
    changed = customization.add_one_to_many(custom, catalog, one_to_many(), column("new_ProjectId", T.LOOKUP))
    message = raises(
        errors.CANNOT_DELETE_IN_USE,
        customization.delete_column,
        changed,
        changed.apply_to(base()),
        "task",
        "new_projectid",
    )
    assert "Attribute(task.new_projectid)" in message


@pytest.mark.parametrize(
    ("relationship", "code", "part"),
    [
        (one_to_many("projecttask"), errors.INVALID_ARGUMENT, "Invalid name for relationship projecttask"),
        (one_to_many(referenced="new_nothing"), errors.RECORD_NOT_FOUND, "new_nothing"),
        (one_to_many(referencing="new_nothing"), errors.RECORD_NOT_FOUND, "new_nothing"),
        (one_to_many("account_primary_contact"), errors.INVALID_ARGUMENT, "account_primary_contact already exists"),
    ],
)
def test_bad_one_to_many_relationships_are_refused(
    relationship: RelationshipDefinition, code: DataverseCode, part: str
) -> None:
    custom, catalog = with_table()
    assert part in raises(code, customization.add_one_to_many, custom, catalog, relationship, column("new_L", T.LOOKUP))


def test_a_relationship_name_taken_is_refused() -> None:
    custom, catalog = with_table()
    changed = customization.add_one_to_many(custom, catalog, one_to_many(), column("new_ProjectId", T.LOOKUP))
    message = raises(
        errors.INVALID_ARGUMENT,
        customization.add_many_to_many,
        changed,
        changed.apply_to(base()),
        ManyToManyDefinition("new_project_task", "new_project_task", "new_project", "task", "x", "x"),
    )
    assert message == "A relationship named new_project_task already exists."


def test_a_many_to_many_relationship_is_added_and_deleted() -> None:
    custom, catalog = with_table()
    many = ManyToManyDefinition(
        "new_project_contact",
        "new_project_contact",
        "new_project",
        "contact",
        "new_project_contact",
        "new_project_contact",
    )
    changed = customization.add_many_to_many(custom, catalog, many)
    assert changed.many_to_many == (many,)
    after = changed.apply_to(base())
    assert many in after.many_to_many("contact")
    assert customization.delete_relationship(changed, after, "new_project_contact") == custom


def test_standard_and_unknown_relationships_cannot_be_deleted() -> None:
    message = raises(
        errors.INVALID_ARGUMENT, customization.delete_relationship, EMPTY, base(), "account_primary_contact"
    )
    assert message == "The relationship account_primary_contact is not a custom relationship."
    assert "new_nothing" in raises(
        errors.RECORD_NOT_FOUND, customization.delete_relationship, EMPTY, base(), "new_nothing"
    )


# -- deleting tables --------------------------------------------------------------------------------------------------
def test_a_table_referenced_by_another_tables_lookup_is_0x8004f01f() -> None:
    custom, catalog = with_table()
    changed = customization.add_one_to_many(custom, catalog, one_to_many(), column("new_ProjectId", T.LOOKUP))
    after = changed.apply_to(base())
    message = raises(errors.CANNOT_DELETE_IN_USE, customization.delete_table, changed, after, "new_project")
    assert message.startswith("The Entity(new_project) component cannot be deleted because it is referenced by 1 other")


def test_a_table_can_be_deleted_once_the_relationship_to_it_is_gone() -> None:
    custom, catalog = with_table()
    changed = customization.add_one_to_many(custom, catalog, one_to_many(), column("new_ProjectId", T.LOOKUP))
    without = customization.delete_relationship(changed, changed.apply_to(base()), "new_project_task")
    assert customization.delete_table(without, without.apply_to(base()), "new_project").is_empty


def test_deleting_a_table_takes_its_own_relationships_and_keys() -> None:
    custom, catalog = with_table()
    custom, catalog = with_table(custom, new_table("new_Milestone"))
    custom = customization.add_one_to_many(
        custom,
        catalog,
        one_to_many("new_project_milestone", "new_project", "new_milestone"),
        column("new_ProjectId", T.LOOKUP),
    )
    many = ManyToManyDefinition("new_project_contact", "new_pc", "new_project", "contact", "a", "b")
    custom = customization.add_many_to_many(custom, custom.apply_to(base()), many)
    custom = customization.add_key(
        custom, custom.apply_to(base()), "new_milestone", KeyDefinition("new_K", ("new_name",))
    )
    deleted = customization.delete_table(custom, custom.apply_to(base()), "new_milestone")
    assert [t.logical_name for t in deleted.tables] == ["new_project"]
    assert deleted.one_to_many == ()
    assert deleted.many_to_many == (many,)  # new_milestone had no part in it


def test_a_self_referencing_custom_table_can_be_deleted() -> None:
    custom, catalog = with_table()
    custom = customization.add_one_to_many(
        custom,
        catalog,
        one_to_many("new_project_parent", "new_project", "new_project"),
        column("new_ParentId", T.LOOKUP),
    )
    deleted = customization.delete_table(custom, custom.apply_to(base()), "new_project")
    assert deleted.is_empty


def test_built_in_and_missing_tables_cannot_be_deleted() -> None:
    message = raises(errors.INVALID_ARGUMENT, customization.delete_table, EMPTY, base(), "account")
    assert message == "The entity account is not a custom entity: it cannot be deleted."
    assert "new_nothing" in raises(errors.RECORD_NOT_FOUND, customization.delete_table, EMPTY, base(), "new_nothing")


# -- global choices ---------------------------------------------------------------------------------------------------
def test_a_global_choice_is_added_once() -> None:
    custom = customization.add_option_set(EMPTY, base(), COLORS)
    assert custom.apply_to(base()).option_sets == (COLORS,)
    message = raises(
        errors.INVALID_ARGUMENT,
        customization.add_option_set,
        custom,
        custom.apply_to(base()),
        dataclasses.replace(COLORS, name="NEW_COLORS"),
    )
    assert message == "An option set with the name NEW_COLORS already exists."
    message = raises(
        errors.INVALID_ARGUMENT, customization.add_option_set, EMPTY, base(), dataclasses.replace(COLORS, name="Colors")
    )
    assert "Invalid name for option set Colors" in message


def test_a_global_choice_in_use_cannot_be_deleted_until_its_columns_are_gone() -> None:
    custom = customization.add_option_set(EMPTY, base(), COLORS)
    for table in ("account", "contact"):
        custom = customization.add_column(
            custom, custom.apply_to(base()), table, column("new_Color", T.PICKLIST, option_set_name="new_colors")
        )
    message = raises(
        errors.CANNOT_DELETE_IN_USE, customization.delete_option_set, custom, custom.apply_to(base()), "new_colors"
    )
    assert message.startswith("The OptionSet(new_colors) component cannot be deleted because it is referenced by 2")
    for table in ("account", "contact"):
        custom = customization.delete_column(custom, custom.apply_to(base()), table, "new_color")
    assert customization.delete_option_set(custom, custom.apply_to(base()), "NEW_Colors").is_empty


def test_an_unknown_global_choice_cannot_be_deleted() -> None:
    message = raises(errors.INVALID_ARGUMENT, customization.delete_option_set, EMPTY, base(), "new_nothing")
    assert message == "The option set new_nothing is not a custom option set."
