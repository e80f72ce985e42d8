"""An in-process Web API on a real database: org "contoso" with an application user holding System Administrator."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from d365local.app import AppOptions, create_app
from d365local.clock import FrozenClock
from d365local.dataverse.domain.admin import DataverseAdmin
from d365local.dataverse.domain.service_protection import Limits
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.model import Application, Tenant
from d365local.identity.secret_hash import SecretHasher
from d365local.store.database import open_database
from d365local.store.security_sql import SqlSecurityStore

BASE_URL = "https://localhost:5443"
API = "/api/data/v9.2"
API_URL = f"{BASE_URL}{API}"
GENEROUS = Limits(requests=10**9, execution_ms=10**12, concurrent=52, window_seconds=300)


@dataclass
class WebApiEnv:
    """A test client with a bearer token for org "contoso", plus the admin handles behind it."""

    client: TestClient
    clock: FrozenClock
    dataverse: DataverseAdmin
    tenant: Tenant
    app: Application
    token: str
    directory: DirectoryAdmin
    engine: Engine

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        version: str = "v9.2",
    ) -> httpx.Response:
        """``path`` is relative to ``/api/data/<version>/`` (it may carry a raw query string)."""
        all_headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if json_body is not None:
            content = json.dumps(json_body)
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        return self.client.request(
            method, f"/api/data/{version}/{path.lstrip('/')}", content=content, headers=all_headers
        )

    def token_for(self, app_id: str, secret: str, resource: str = BASE_URL) -> str:
        """A token for another app of the tenant, from the same in-process token service."""
        response = self.client.post(
            f"/{self.tenant.id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app_id,
                "client_secret": secret,
                "scope": f"{resource}/.default",
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.send("GET", path, **kwargs)

    def create(self, entity_set: str = "accounts", **values: Any) -> str:
        """Create a record; its id."""
        response = self.send("POST", entity_set, json_body=values)
        assert response.status_code == 204, response.text
        return response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")

    def rows(self, query: str, headers: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        response = self.get(query, headers=headers)
        assert response.status_code == 200, response.text
        value: list[dict[str, Any]] = response.json()["value"]
        return value


def dataverse_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """Assert a Dataverse error reply; its message."""
    assert response.status_code == status, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    if code is not None:
        assert error["code"].lower() == code.lower(), error
    return str(error["message"])


def new_id() -> str:
    return str(uuid.uuid4())


@contextmanager
def webapi_env(
    database_url: str, tmp_path: Path, limits: Limits = GENEROUS, *, template: Path | None = None
) -> Iterator[WebApiEnv]:
    """``template``: an already migrated SQLite file copied into place first (migrating takes most of the setup)."""
    if template is not None and database_url.startswith("sqlite:///"):
        target = Path(database_url.removeprefix("sqlite:///"))
        if not target.exists():
            shutil.copyfile(template, target)
    database = open_database(tmp_path, database_url)
    try:
        clock = FrozenClock(time.time())
        admin = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), clock)
        database.directory.set_public_base_url(BASE_URL)
        admin.ensure_signing_key()
        tenant = admin.create_tenant("Contoso")
        admin.create_org(tenant.id, "contoso")
        app = admin.create_app(tenant.id, "integration")
        secret = admin.add_secret(tenant.id, app.app_id).value
        dataverse = DataverseAdmin(SqlSecurityStore(database.directory), builtin_catalog(), clock)
        dataverse.ensure_organizations()
        dataverse.create_application_user(
            "contoso", app.app_id, object_id=app.service_principal_id, full_name="x", roles=["System Administrator"]
        )
        application = create_app(database, AppOptions(limits=limits), clock=clock)
        with TestClient(application, base_url=BASE_URL, raise_server_exceptions=True) as client:
            response = client.post(
                f"/{tenant.id}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": app.app_id,
                    "client_secret": secret,
                    "scope": f"{BASE_URL}/.default",
                },
            )
            assert response.status_code == 200, response.text
            yield WebApiEnv(
                client, clock, dataverse, tenant, app, response.json()["access_token"], admin, database.engine
            )
    finally:
        database.close()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database at the newest schema revision holding a signing key (migrating and RSA key generation
    are most of the setup time; every test still runs each setup step on its own copy)."""
    directory = tmp_path_factory.mktemp("template")
    path = directory / "template.db"
    database = open_database(directory, f"sqlite:///{path}")
    try:
        clock = FrozenClock(time.time())
        DirectoryAdmin(
            database.directory, SecretHasher(database.settings.secret_hash_key()), clock
        ).ensure_signing_key()
    finally:
        database.close()
    return path


@pytest.fixture
def webapi(database_url: str, tmp_path: Path, migrated_sqlite: Path) -> Iterator[WebApiEnv]:
    """The Web API with service protection limits high enough never to trip."""
    with webapi_env(database_url, tmp_path, template=migrated_sqlite) as env:
        yield env
