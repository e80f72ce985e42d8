"""Seed files are checked against a schema: a misspelt or unknown key is an error naming its path, never ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from d365local.seed_schema import key_path, seed_file_problems
from d365local.seeding import SeedError, read_seed_file

README_SEED = """
tenants:
  - name: Fabrikam
    id: 11111111-2222-3333-4444-555555555555
    domains: [fabrikam.onmicrosoft.com]
    users: [alice@fabrikam.onmicrosoft.com]
    orgs: [{name: sales, id: 22222222-2222-3333-4444-555555555555}]
    apps:
      - name: ci
        appId: 66666666-7777-8888-9999-000000000000
        secrets: ["fixed-ci-secret-0123456789"]
        permissions: ["Dynamics CRM/user_impersonation"]
        consent: true
        disabled: false
        owners: [alice@fabrikam.onmicrosoft.com]
        applicationUsers: [{org: sales, roles: [System Administrator]}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_documented_key_is_accepted(tmp_path: Path) -> None:
    document = read_seed_file(write(tmp_path, README_SEED))
    assert document["tenants"][0]["apps"][0]["secrets"] == ["fixed-ci-secret-0123456789"]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "tenants: []\n"])
def test_an_empty_seed_file_is_valid(tmp_path: Path, text: str) -> None:
    assert read_seed_file(write(tmp_path, text)) in ({}, {"tenants": []})


def test_a_misspelt_key_is_rejected_with_its_path_and_the_key_it_resembles(tmp_path: Path) -> None:
    path = write(tmp_path, README_SEED.replace("secrets:", "secret:"))
    with pytest.raises(SeedError) as caught:
        read_seed_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "tenants[0].apps[0].secret: unknown key; did you mean 'secrets'?" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tenant: []", "tenant: unknown key; did you mean 'tenants'?"),
        ("tenants: [{name: A, org: [{name: x}]}]", "tenants[0].org: unknown key; did you mean 'orgs'?"),
        (
            "tenants: [{name: A, apps: [{name: x, appID: y}]}]",
            "tenants[0].apps[0].appID: unknown key; did you mean 'appId'?",
        ),
        (
            "tenants: [{name: A, apps: [{name: x, applicationUsers: [{org: s, role: [r]}]}]}]",
            "tenants[0].apps[0].applicationUsers[0].role: unknown key; did you mean 'roles'?",
        ),
        (
            "tenants: [{name: A, colour: blue}]",
            "tenants[0].colour: unknown key (known here: name, id, domains, users, orgs, apps)",
        ),
        ("tenants: [{id: x}]", "tenants[0]: 'name' is required"),
        (
            "tenants: [{name: A, apps: [{name: x, secrets: [12345]}]}]",
            "tenants[0].apps[0].secrets[0]: must be text, not 12345 (quote it)",
        ),
        (
            "tenants: [{name: A, apps: [{name: x, consent: maybe}]}]",
            "tenants[0].apps[0].consent: must be true or false, not 'maybe'",
        ),
        ("tenants: {name: A}", "tenants: must be a list, not {'name': 'A'}"),
        ("- name: A", "the file: must be a mapping"),
    ],
)
def test_problems_name_the_path(text: str, expected: str) -> None:
    problems = seed_file_problems(yaml.safe_load(text))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n  - name: A\n    user: [a@b.c]\n  - name: B\n    app: []\n")
    with pytest.raises(SeedError) as caught:
        read_seed_file(path)
    assert "tenants[0].user: unknown key; did you mean 'users'?" in str(caught.value)
    assert "tenants[1].app: unknown key; did you mean 'apps'?" in str(caught.value)


def test_unreadable_yaml_is_a_seed_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read seed file"):
        read_seed_file(write(tmp_path, "tenants: [unclosed\n"))


@pytest.mark.parametrize(
    ("path", "text"),
    [(["tenants", 0, "apps", 2, "secret"], "tenants[0].apps[2].secret"), ([], "the file"), (["tenants"], "tenants")],
)
def test_key_path(path: list[str | int], text: str) -> None:
    assert key_path(path) == text


def test_an_unknown_role_stops_the_seed_before_anything_is_written(tmp_path: Path) -> None:
    """A seed file naming a role that does not exist applies nothing: no half-created tenant or org is left."""
    from d365local.admins import Admins
    from d365local.seeding import apply_seed_file
    from d365local.store.database import open_database

    seed = write(tmp_path, README_SEED.replace("roles: [System Administrator]", "roles: [Sys Admin]"))
    database = open_database(tmp_path / "data")
    try:
        admins = Admins.on(database)
        with pytest.raises(SeedError) as problem:
            apply_seed_file(admins.directory, admins.dataverse, database.directory, seed)
        assert "tenants[0].apps[0].applicationUsers[0].roles[0]: no role 'Sys Admin'" in str(problem.value)
        assert "did you mean 'System Administrator'?" in str(problem.value)
        assert database.directory.tenants() == []
    finally:
        database.close()
