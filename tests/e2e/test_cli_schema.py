"""``d365local schema`` against real servers: a solution's tables imported and used through the Web API, exported
and imported into a fresh data directory to the same schema, pulled from one running server into another, and
named by a seed file; bad files and conflicts are one line that says what to do."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from d365local.client import ClientSecret, TokenProvider, WebApiClient
from d365local.client.token_provider import default_verify
from tests.e2e.conftest import Server, clean_environment, start_server, stop_server

pytestmark = pytest.mark.e2e
FIXTURE = Path(__file__).parents[1] / "unit" / "dataverse" / "solutions" / "contoso_projects"


def solution_zip(path: Path, customizations: str | None = None) -> Path:
    """The hand-built fixture as a solution zip, the way tests/unit/dataverse/test_solution.py builds it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="utf-8"?><Types />')
        archive.writestr("solution.xml", (FIXTURE / "solution.xml").read_bytes())
        archive.writestr("customizations.xml", customizations or (FIXTURE / "customizations.xml").read_text())
    path.write_bytes(buffer.getvalue())
    return path


def cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "d365local", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_environment(**env),
        check=False,
    )


def document(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """A refusal: exit status 1, nothing on stdout, one friendly error (no traceback) on stderr."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


@contextmanager
def web_api(server: Server) -> Iterator[WebApiClient]:
    verify = default_verify({"REQUESTS_CA_BUNDLE": server.ca_bundle})
    with (
        TokenProvider(
            server.tenant_id,
            server.client_id,
            ClientSecret(server.client_secret),
            authority=server.credentials["AZURE_AUTHORITY_HOST"],
            verify=verify,
        ) as tokens,
        WebApiClient(server.url, tokens, verify=verify) as api,
    ):
        yield api


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose default org has imported the Contoso Projects solution."""
    data_dir = tmp_path_factory.mktemp("schema-source")
    running = start_server(data_dir)
    imported = document(cli(data_dir, "schema", "import", str(solution_zip(data_dir / "contoso.zip")), "--org",
                            "contoso", "--json"))  # fmt: skip
    assert imported["changed"] is True
    yield running
    stop_server(running)


def test_an_imported_solution_is_usable_through_the_web_api(source: Server) -> None:
    again = document(cli(source.data_dir, "schema", "import", str(source.data_dir / "contoso.zip"), "--org",
                         "contoso", "--json"))  # fmt: skip
    assert again["changed"] is False  # the same solution twice changes nothing
    assert again["source"] == {
        "file": str(source.data_dir / "contoso.zip"), "uniqueName": "ContosoProjects", "version": "1.2.0.3",
        "managed": False,
    }  # fmt: skip
    assert again["schema"] == {
        "tables": 2, "columns": 1, "keys": 1, "optionSets": 1, "oneToMany": 5, "manyToMany": 1,
    }  # fmt: skip
    with web_api(source) as api:
        site = api.create(
            "new_sites", {"new_name": "Harbour", "new_code": "H1", "new_budget": 1250.5, "new_priority": 100000002}
        )
        project = api.create("new_projects", {"new_name": "Quay", "new_Site@odata.bind": f"/new_sites({site})"})
        read = api.get("new_projects", project, select=["new_name", "_new_site_value"])
        assert (read["new_name"], read["_new_site_value"]) == ("Quay", site)
        assert api.get("new_sites", site, select=["new_priority"])["new_priority"] == 100000002
        assert [r["new_name"] for r in api.query("new_sites", select=["new_name"], filter="new_code eq 'H1'")] == [
            "Harbour"
        ]
        account = api.create("accounts", {"name": "Tiered", "new_tier": 100000000})
        assert api.get("accounts", account, select=["new_tier"])["new_tier"] == 100000000
        definition = api.request("GET", "EntityDefinitions(LogicalName='new_project')/Keys").json()["value"]
        assert [(k["SchemaName"], k["KeyAttributes"]) for k in definition] == [
            ("new_ProjectNameKey", ["new_name", "new_site"])
        ]


def test_export_then_import_into_a_fresh_data_directory_gives_the_same_schema(source: Server, tmp_path: Path) -> None:
    exported = tmp_path / "contoso.zip"
    view = document(cli(source.data_dir, "schema", "export", "--org", "contoso", "--output", str(exported),
                        "--name", "ContosoSchema", "--json"))  # fmt: skip
    assert (view["file"], view["uniqueName"], view["publisherPrefix"]) == (str(exported), "ContosoSchema", "new")
    fresh = tmp_path / "fresh"
    assert cli(fresh, "tenant", "create", "Fabrikam").returncode == 0
    assert cli(fresh, "org", "create", "--tenant", "Fabrikam", "--name", "sales").returncode == 0
    imported = document(cli(fresh, "schema", "import", str(exported), "--org", "sales", "--json"))
    assert imported["schema"] == view["schema"]
    again = tmp_path / "again.zip"
    document(cli(fresh, "schema", "export", "--org", "sales", "-o", str(again), "--name", "ContosoSchema", "--json"))
    assert again.read_bytes() == exported.read_bytes()  # the same schema, written the same way


def _shape(api: WebApiClient) -> dict[str, Any]:
    """An org's custom schema as its metadata Web API describes it."""
    expand = "Attributes($select=LogicalName,AttributeType),Keys,ManyToManyRelationships"
    tables = {}
    for name in ("new_project", "new_site"):
        table = api.request("GET", f"EntityDefinitions(LogicalName='{name}')", params={"$expand": expand}).json()
        tables[name] = {
            "entitySet": table["EntitySetName"],
            "ownership": table["OwnershipType"],
            "primary": (table["PrimaryIdAttribute"], table["PrimaryNameAttribute"]),
            "columns": sorted((a["LogicalName"], a["AttributeType"]) for a in table["Attributes"]),
            "keys": [(k["SchemaName"], k["KeyAttributes"]) for k in table["Keys"]],
            "manyToMany": sorted(r["SchemaName"] for r in table["ManyToManyRelationships"]),
        }
    relationships = api.request("GET", "RelationshipDefinitions").json()["value"]
    choices = api.request("GET", "GlobalOptionSetDefinitions").json()["value"]
    tier = api.request(
        "GET", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='new_tier')"
        "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata", params={"$expand": "OptionSet"},
    ).json()  # fmt: skip
    return {
        "tables": tables,
        "relationships": sorted(
            (r["SchemaName"], r.get("ReferencingEntityNavigationPropertyName"), r.get("Entity1NavigationPropertyName"))
            for r in relationships
            if r["SchemaName"].startswith("new_")
        ),
        "choices": [(c["Name"], [o["Value"] for o in c["Options"]]) for c in choices],
        "tier": [(o["Value"], o["Label"]["LocalizedLabels"][0]["Label"]) for o in tier["OptionSet"]["Options"]],
    }


def test_pull_from_one_server_into_another(source: Server, tmp_path: Path) -> None:
    target = start_server(tmp_path / "target")
    try:
        pulled = document(
            cli(target.data_dir, "schema", "pull", "--org", "contoso", "--from", source.url, "--json",
                **source.credentials)
        )  # fmt: skip
        assert pulled["changed"] is True
        assert pulled["source"]["leftOut"] == []
        assert pulled["added"]["tables"] == ["new_project", "new_site"]
        assert "account.new_tier" in pulled["added"]["columns"]
        with web_api(source) as there, web_api(target) as here:
            assert _shape(here) == _shape(there)
            site = here.create("new_sites", {"new_name": "Pulled"})
            assert here.get("new_sites", site, select=["new_name"])["new_name"] == "Pulled"
        again = document(
            cli(target.data_dir, "schema", "pull", "--org", "contoso", "--from", source.url, "--json",
                **source.credentials)
        )  # fmt: skip
        assert again["changed"] is False
    finally:
        stop_server(target)


def test_a_seed_file_names_a_solution_for_an_org(source: Server, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    document(cli(source.data_dir, "schema", "export", "--org", "contoso", "-o", str(seeds / "schema.zip"), "--json"))
    (seeds / "seed.yaml").write_text(
        "tenants:\n"
        "  - name: Fabrikam\n"
        "    orgs: [{name: sales, schema: schema.zip}]\n"
        "    apps:\n"
        "      - name: ci\n"
        "        secrets: ['fixed-ci-secret-0123456789']\n"
        "        permissions: ['Dynamics CRM/user_impersonation']\n"
        "        consent: true\n"
        "        applicationUsers: [{org: sales, roles: [System Administrator]}]\n"
    )
    seeded = start_server(tmp_path / "seeded", "--seed-file", str(seeds / "seed.yaml"))
    try:
        with web_api(seeded) as api:
            project = api.create("new_projects", {"new_name": "Seeded"})
            assert api.get("new_projects", project, select=["new_name"])["new_name"] == "Seeded"
    finally:
        stop_server(seeded)
    restarted = start_server(tmp_path / "seeded", "--seed-file", str(seeds / "seed.yaml"))  # applied again: no change
    try:
        with web_api(restarted) as api:
            assert [p["new_name"] for p in api.query("new_projects", select=["new_name"])] == ["Seeded"]
    finally:
        stop_server(restarted)


def test_a_file_that_is_not_a_solution_is_one_line(source: Server, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.zip"
    bogus.write_text("not a zip")
    message = failure(cli(source.data_dir, "schema", "import", str(bogus), "--org", "contoso"))
    assert message.strip() == f"Error: {bogus}: not a solution file: not a zip archive (File is not a zip file)"


def test_a_conflicting_solution_changes_nothing_and_says_why(source: Server, tmp_path: Path) -> None:
    text = (FIXTURE / "customizations.xml").read_text()
    conflicting = text.replace("<OwnershipTypeMask>UserOwned</OwnershipTypeMask>", "<OwnershipTypeMask>OrgOwned</OwnershipTypeMask>")  # fmt: skip
    assert conflicting != text
    path = solution_zip(tmp_path / "conflicting.zip", conflicting)
    message = failure(cli(source.data_dir, "schema", "import", str(path), "--org", "contoso"))
    assert "solution ContosoProjects 1.2.0.3 cannot be imported into contoso" in message
    assert (
        "new_project exists with the ownership UserOwned; the incoming table new_project has OrganizationOwned"
        in message
    )
    assert "Nothing was changed." in message
    unchanged = document(cli(source.data_dir, "schema", "import", str(source.data_dir / "contoso.zip"), "--org",
                             "contoso", "--json"))  # fmt: skip
    assert unchanged["changed"] is False


def test_an_unknown_org_is_named(source: Server) -> None:
    message = failure(cli(source.data_dir, "schema", "export", "--org", "nowhere"))
    assert message.startswith("error: no organization 'nowhere' (known: contoso)")
