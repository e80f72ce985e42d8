"""Organizations' custom schema on SQLite and PostgreSQL (``SqlCustomizations``): each change is one transaction
(document, DDL and version together, or nothing), tables and columns follow the schema (dropped ones take their
data), custom keys bind only their organization, the caches move only with a version, and two organizations cannot
give one shared column two storage types.

Names carry a random part: catalogs are built from the process-wide built-in catalog, so names must never meet
another test's."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import Engine, inspect, select

from d365local.clock import FrozenClock
from d365local.dataverse import errors
from d365local.dataverse.domain import customization
from d365local.dataverse.domain.customization import NewTable
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType, Catalog, KeyDefinition
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.secret_hash import SecretHasher
from d365local.store.customizations_sql import SqlCustomizations
from d365local.store.database import Database, open_database
from d365local.store.records_schema import customizations as documents

T = AttributeType
Change = Callable[[Customizations, Catalog], Customizations]


@dataclasses.dataclass
class Env:
    database: Database
    store: SqlCustomizations
    org_a: str
    org_b: str

    @property
    def engine(self) -> Engine:
        return self.database.engine

    def columns(self, table: str) -> dict[str, str]:
        """The table's columns and their SQL types, as the database describes them."""
        return {c["name"]: str(c["type"]).upper() for c in inspect(self.engine).get_columns(table)}

    def has_table(self, table: str) -> bool:
        return inspect(self.engine).has_table(table)

    def version(self, org: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(documents.c.version).where(documents.c.orgid == org)).scalar_one_or_none()
        return None if value is None else int(value)

    def insert(self, table: str, org: str, **values: Any) -> str:
        record = self.store.tables()[table]
        primary = next(c.name for c in record.primary_key.columns if c.name != "orgid")
        identifier = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(sqlalchemy.insert(record).values({primary: identifier, "orgid": org, **values}))
        return identifier

    def values(self, table: str, org: str, column: str) -> list[Any]:
        record = self.store.tables()[table]
        with self.engine.connect() as conn:
            return list(conn.execute(select(record.c[column]).where(record.c.orgid == org)).scalars())


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    database = open_database(tmp_path, database_url)
    admin = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), FrozenClock(1.8e9))
    tenant = admin.create_tenant("Contoso")
    org_a = admin.create_org(tenant.id, "contoso").id
    org_b = admin.create_org(tenant.id, "fabrikam").id
    yield Env(database, SqlCustomizations(database.directory, builtin_catalog()), org_a, org_b)
    database.close()


def unique(stem: str) -> str:
    return f"new_{stem}{uuid.uuid4().hex[:8]}"


def column(schema_name: str, kind: AttributeType = T.STRING, **values: Any) -> AttributeDefinition:
    defaults: dict[str, Any] = {"display_name": schema_name, "schema_name": schema_name, "is_custom": True}
    return AttributeDefinition(schema_name.lower(), kind, **(defaults | values))


def add_column(table: str, attribute: AttributeDefinition) -> Change:
    return lambda custom, base: customization.add_column(custom, custom.apply_to(base), table, attribute)


def delete_column(table: str, name: str) -> Change:
    return lambda custom, base: customization.delete_column(custom, custom.apply_to(base), table, name)


def add_key(table: str, key: KeyDefinition) -> Change:
    return lambda custom, base: customization.add_key(custom, custom.apply_to(base), table, key)


def create_table(schema_name: str, *attributes: AttributeDefinition) -> Change:
    table = NewTable(
        schema_name=schema_name,
        display_name="Thing",
        display_collection_name="Things",
        description="",
        ownership="UserOwned",
        primary_name=column("new_Name", max_length=100, is_primary_name=True),
        attributes=attributes,
    )
    return lambda custom, base: customization.create_table(custom, custom.apply_to(base), table)[0]


def delete_table(name: str) -> Change:
    return lambda custom, base: customization.delete_table(custom, custom.apply_to(base), name)


# -- one transaction ------------------------------------------------------------------------------------------------
def test_a_change_that_raises_changes_nothing(env: Env) -> None:
    table = unique("Thing")
    env.store.change(env.org_a, create_table(table))
    generation = env.database.directory.generation()
    before = (env.store.customizations(env.org_a), env.version(env.org_a), env.columns("dv_account"))

    def failing(custom: Customizations, base: Catalog) -> Customizations:
        raise DataverseError(errors.INVALID_ARGUMENT, detail="no")

    with pytest.raises(DataverseError, match="no"):
        env.store.change(env.org_a, failing)
    assert (env.store.customizations(env.org_a), env.version(env.org_a), env.columns("dv_account")) == before
    assert env.database.directory.generation() == generation
    assert env.version(env.org_b) is None  # nothing was ever written for the other organization


def test_ddl_that_fails_half_way_leaves_document_tables_and_version_as_they_were(env: Env) -> None:
    """A column, then a unique key over duplicate rows: the index fails after the column was added; both go."""
    name = unique("Extra")
    env.insert("account", env.org_a, name="twin")
    env.insert("account", env.org_a, name="twin")
    version, fingerprint = env.version(env.org_a), _fingerprint(env)

    def column_then_key(custom: Customizations, base: Catalog) -> Customizations:
        custom = add_column("account", column(name, T.INTEGER))(custom, base)
        return add_key("account", KeyDefinition(unique("NameKey"), ("name",)))(custom, base)

    with pytest.raises(Exception):  # noqa: B017, PT011 - the database's integrity error, whatever its type
        env.store.change(env.org_a, column_then_key)
    assert name.lower() not in env.columns("dv_account")
    assert env.version(env.org_a) == version
    assert env.store.customizations(env.org_a).is_empty
    assert _fingerprint(env) == fingerprint
    assert env.store.catalog(env.org_a) is builtin_catalog()


def _fingerprint(env: Env) -> str | None:
    from d365local.store import schema as system

    with env.engine.connect() as conn:
        value = conn.execute(
            select(system.settings.c.value).where(system.settings.c.name == "record_tables")
        ).scalar_one_or_none()
    return None if value is None else str(value)


def test_each_change_bumps_the_version_and_the_change_signal(env: Env) -> None:
    generation = env.database.directory.generation()
    env.store.change(env.org_a, add_column("account", column(unique("A"), T.INTEGER)))
    assert env.version(env.org_a) == 1
    env.store.change(env.org_a, add_column("account", column(unique("B"), T.INTEGER)))
    assert env.version(env.org_a) == 2
    assert env.database.directory.generation() == generation + 2
    assert len(env.store.customizations(env.org_a).columns["account"]) == 2


# -- DDL ------------------------------------------------------------------------------------------------------------
def test_a_custom_table_and_columns_become_sql_tables_and_columns(env: Env) -> None:
    table = unique("Thing")
    logical = table.lower()
    env.store.change(env.org_a, create_table(table, column("new_Count", T.INTEGER), column("new_Budget", T.DECIMAL)))
    columns = env.columns(f"dv_{logical}")
    assert {f"{logical}id", "orgid", "new_name", "new_count", "new_budget", "ownerid", "createdon"} <= set(columns)
    assert "INT" in columns["new_count"]
    assert "NUMERIC" in columns["new_budget"] or "DECIMAL" in columns["new_budget"]
    added = unique("Score")
    env.store.change(env.org_a, add_column("account", column(added, T.DOUBLE)))
    assert added.lower() in env.columns("dv_account")
    # the tables the store hands the record store know them too
    assert "new_count" in env.store.tables()[logical].c
    assert added.lower() in env.store.tables()["account"].c


def test_a_deleted_table_is_dropped_with_its_rows(env: Env) -> None:
    table = unique("Thing")
    logical = table.lower()
    env.store.change(env.org_a, create_table(table))
    env.insert(logical, env.org_a, new_name="row")
    env.store.change(env.org_a, delete_table(logical))
    assert not env.has_table(f"dv_{logical}")
    assert logical not in env.store.tables()
    env.store.change(env.org_a, create_table(table))
    assert env.values(logical, env.org_a, "new_name") == []


def test_a_deleted_column_is_dropped_with_its_data(env: Env) -> None:
    name = unique("Score")
    logical = name.lower()
    env.store.change(env.org_a, add_column("account", column(name, T.INTEGER)))
    env.insert("account", env.org_a, name="x", **{logical: 7})
    env.store.change(env.org_a, delete_column("account", logical))
    assert logical not in env.columns("dv_account")
    env.store.change(env.org_a, add_column("account", column(name, T.STRING)))
    assert env.values("account", env.org_a, logical) == [None]


def test_a_deleted_column_is_dropped_while_other_customizations_remain(env: Env) -> None:
    keep, name = unique("Keep"), unique("Score")
    logical = name.lower()
    env.store.change(env.org_a, add_column("account", column(keep, T.INTEGER)))
    env.store.change(env.org_a, add_column("account", column(name, T.INTEGER)))
    env.insert("account", env.org_a, name="x", **{logical: 7})
    env.store.change(env.org_a, delete_column("account", logical))
    assert logical not in env.columns("dv_account")


def test_a_column_deleted_by_one_org_while_another_keeps_it_loses_that_orgs_data(env: Env) -> None:
    name = unique("Score")
    logical = name.lower()
    for org in (env.org_a, env.org_b):
        env.store.change(org, add_column("account", column(name, T.INTEGER)))
    env.insert("account", env.org_a, name="a", **{logical: 1})
    env.insert("account", env.org_b, name="b", **{logical: 2})
    env.store.change(env.org_a, delete_column("account", logical))
    assert logical in env.columns("dv_account")  # org B still uses it
    assert env.values("account", env.org_b, logical) == [2]
    env.store.change(env.org_a, add_column("account", column(name, T.INTEGER)))
    assert env.values("account", env.org_a, logical) == [None]


# -- keys -----------------------------------------------------------------------------------------------------------
def test_a_custom_key_is_a_unique_index_of_its_organization_only(env: Env) -> None:
    name = unique("Code")
    logical = name.lower()
    key = KeyDefinition(unique("CodeKey"), (logical,))
    env.store.change(env.org_a, add_column("account", column(name)))
    env.store.change(env.org_a, add_key("account", key))
    indexes = {i["name"]: i for i in inspect(env.engine).get_indexes("dv_account")}
    (index,) = [i for n, i in indexes.items() if n and key.logical_name in n]
    assert index["unique"]
    assert index["column_names"] == ["orgid", logical]
    # org B shares the table and the column, not the key
    env.insert("account", env.org_b, name="b1", **{logical: "same"})
    env.insert("account", env.org_b, name="b2", **{logical: "same"})
    env.insert("account", env.org_a, name="a1", **{logical: "same"})
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        env.insert("account", env.org_a, name="a2", **{logical: "same"})
    assert sorted(env.values("account", env.org_b, logical)) == ["same", "same"]
    # deleting the key drops its index
    env.store.change(
        env.org_a,
        lambda custom, base: customization.delete_key(custom, custom.apply_to(base), "account", key.logical_name),
    )
    assert not [
        n for n in (i["name"] for i in inspect(env.engine).get_indexes("dv_account")) if n and key.logical_name in n
    ]
    env.insert("account", env.org_a, name="a2", **{logical: "same"})


def test_the_same_key_in_two_organizations_is_two_indexes(env: Env) -> None:
    name = unique("Code")
    logical = name.lower()
    key = KeyDefinition(unique("CodeKey"), (logical,))
    for org in (env.org_a, env.org_b):
        env.store.change(org, add_column("account", column(name)))
        env.store.change(org, add_key("account", key))
    names = [i["name"] for i in inspect(env.engine).get_indexes("dv_account") if key.logical_name in str(i["name"])]
    assert len(names) == 2
    env.store.change(
        env.org_b,
        lambda custom, base: customization.delete_key(custom, custom.apply_to(base), "account", key.logical_name),
    )
    remaining = [i["name"] for i in inspect(env.engine).get_indexes("dv_account") if key.logical_name in str(i["name"])]
    assert remaining == [n for n in names if uuid.UUID(env.org_a).hex[:8] in str(n)]


# -- caches ---------------------------------------------------------------------------------------------------------
def test_catalog_and_tables_are_rebuilt_only_when_a_version_moves(env: Env) -> None:
    assert env.store.catalog(env.org_a) is builtin_catalog()  # no customizations: the built-in catalog itself
    env.store.change(env.org_a, add_column("account", column(unique("A"), T.INTEGER)))
    catalog_a, tables = env.store.catalog(env.org_a), env.store.tables()
    assert catalog_a is not builtin_catalog()
    assert env.store.catalog(env.org_a) is catalog_a
    assert env.store.tables() is tables
    assert env.store.catalog(env.org_b) is builtin_catalog()

    env.store.change(env.org_b, add_column("contact", column(unique("B"), T.INTEGER)))
    assert env.store.catalog(env.org_a) is catalog_a  # org A's version did not move
    assert env.store.tables() is not tables  # the installation's tables did
    tables = env.store.tables()
    assert env.store.tables() is tables

    env.store.change(env.org_a, add_column("account", column(unique("C"), T.INTEGER)))
    assert env.store.catalog(env.org_a) is not catalog_a


def test_another_store_on_the_same_database_sees_a_change(env: Env) -> None:
    """Another process: its own store object, nothing shared but the database."""
    other = SqlCustomizations(env.database.directory, builtin_catalog())
    assert other.catalog(env.org_a) is builtin_catalog()
    table = unique("Thing")
    env.store.change(env.org_a, create_table(table))
    assert other.catalog(env.org_a).by_logical_name(table.lower()) is not None
    assert table.lower() in other.tables()
    assert other.catalog(env.org_b).by_logical_name(table.lower()) is None


# -- organizations sharing tables -------------------------------------------------------------------------------------
def test_one_column_with_two_storage_types_in_two_organizations_is_refused(env: Env) -> None:
    name = unique("Value")
    env.store.change(env.org_a, add_column("account", column(name, T.INTEGER)))
    with pytest.raises(DataverseError) as raised:
        env.store.change(env.org_b, add_column("account", column(name, T.STRING)))
    assert raised.value.code is errors.INVALID_ARGUMENT
    assert f"The column account.{name.lower()} exists in another organization" in raised.value.message
    assert env.version(env.org_b) is None
    # a type with the same storage is fine (String and Memo are both text)
    text = unique("Text")
    env.store.change(env.org_a, add_column("account", column(text, T.STRING, max_length=100)))
    env.store.change(env.org_b, add_column("account", column(text, T.MEMO, max_length=2000)))
    assert env.version(env.org_b) == 1


def test_the_refusal_names_the_other_organizations_type(env: Env) -> None:
    first, changing = sorted((env.org_a, env.org_b), reverse=True)  # the changing org's id sorts first
    name = unique("Value")
    env.store.change(first, add_column("account", column(name, T.INTEGER)))
    with pytest.raises(DataverseError) as raised:
        env.store.change(changing, add_column("account", column(name, T.STRING)))
    assert "another storage type (Integer)" in raised.value.message


def test_one_custom_table_in_two_organizations_with_conflicting_columns_is_refused(env: Env) -> None:
    table = unique("Thing")
    env.store.change(env.org_a, create_table(table, column("new_Size", T.INTEGER)))
    with pytest.raises(DataverseError, match="another organization"):
        env.store.change(env.org_b, create_table(table, column("new_Size", T.BOOLEAN)))
    env.store.change(env.org_b, create_table(table, column("new_Size", T.INTEGER), column("new_Other", T.STRING)))
    columns = env.columns(f"dv_{table.lower()}")
    assert {"new_size", "new_other"} <= set(columns)  # the union of both organizations' columns
    # org A deletes its table: org B's rows and columns stay
    env.insert(table.lower(), env.org_b, new_name="b")
    env.store.change(env.org_a, delete_table(table.lower()))
    assert env.values(table.lower(), env.org_b, "new_name") == ["b"]
