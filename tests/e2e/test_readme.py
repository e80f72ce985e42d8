"""The README's examples run as written against a real server (with credentials.env's variables)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from d365local.clock import SystemClock
from d365local.dataverse.domain.admin import DataverseAdmin
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.secret_hash import SecretHasher
from d365local.seeding import apply_seed_file
from d365local.store.database import open_database
from d365local.store.security_sql import SqlSecurityStore
from tests.e2e.conftest import Server, clean_environment

pytestmark = pytest.mark.e2e
README = Path(__file__).parents[2] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.mark.parametrize("code", blocks("python"), ids=lambda code: code.split("import ")[-1].split()[0].strip(","))
def test_python_examples(server: Server, code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_environment(**server.credentials),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_example(server: Server) -> None:
    (command,) = [b for b in blocks("bash") if b.startswith("curl ")]
    result = subprocess.run(
        ["bash", "-c", command],
        env=clean_environment(**server.credentials),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stdout)["token_type"] == "Bearer", result.stdout + result.stderr


def test_seed_file_example_applies_twice(tmp_path: Path) -> None:
    (seed,) = blocks("yaml")
    path = tmp_path / "seed.yaml"
    path.write_text(seed)
    database = open_database(tmp_path)
    try:
        admin = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), SystemClock())
        dataverse = DataverseAdmin(SqlSecurityStore(database.directory), builtin_catalog(), SystemClock())
        apply_seed_file(admin, dataverse, database.directory, path)
        apply_seed_file(admin, dataverse, database.directory, path)
        (tenant,) = admin.tenants()
        (app,) = admin.apps(tenant.id)
        assert app.app_id == yaml.safe_load(seed)["tenants"][0]["apps"][0]["appId"]
        assert [o.user_principal_name for o in admin.owners(tenant.id, app.app_id)] == [
            "alice@fabrikam.onmicrosoft.com"
        ]
        assert len(admin.secrets(tenant.id, app.app_id)) == 1
        assert admin.consent(tenant.id, app.app_id) is not None
        (user,) = dataverse.application_users("sales")
        assert user.application_id == app.app_id
        assert user.object_id == app.service_principal_id
    finally:
        database.close()


def test_tools_example(server: Server, tmp_path: Path) -> None:
    """The Tools block runs as written (bash -e: every command must succeed) with credentials.env's variables."""
    (script,) = [b for b in blocks("bash") if b.startswith("d365local whoami\n")]
    venv_bin = str(Path(sys.executable).parent)
    env = clean_environment(**server.credentials)
    env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contoso Ltd" in result.stdout
    exported = [json.loads(line) for line in (tmp_path / "accounts.jsonl").read_text().splitlines()]
    assert any(row.get("name") == "Contoso Ltd" for row in exported)
    collection = json.loads((tmp_path / "d365local.postman_collection.json").read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
