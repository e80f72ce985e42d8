"""d365local's pytest plugin (registered through the ``pytest11`` entry point, so installing d365local enables it).

Fixtures:

- ``d365local_server`` (session): one real ``d365local serve`` process with TLS on a free port, in a temporary data
  directory (``--d365local-database-url`` puts its state in another database, e.g. PostgreSQL).
- ``d365local`` (function): a :class:`Sandbox` — a fresh tenant, app registration with a secret and the Dynamics CRM
  permission granted, org and application user (System Administrator) for each test, plus levers: add/remove
  roles, disable the user, remove the secret, and faults (the next token request fails with an AADSTS code; the
  next Web API call gets 429 with Retry-After).
- ``d365local_environ`` (function): the sandbox with its ``AZURE_*`` / ``DATAVERSE_URL`` / CA variables set in
  ``os.environ`` for the test, for code that reads its configuration from the environment.

Nothing is imported or started until a test asks for a fixture, so the plugin costs nothing to other test runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from d365local.admins import Admins
    from d365local.testing.sandbox import Sandbox
    from d365local.testing.server import Server

__all__ = ["Sandbox", "Server"]


def __getattr__(name: str) -> object:
    # Lazy re-exports: ``from d365local.testing import Sandbox`` in a test's type hints, without the import cost
    # for every pytest run in an environment where d365local is installed.
    if name == "Sandbox":
        from d365local.testing.sandbox import Sandbox

        return Sandbox
    if name == "Server":
        from d365local.testing.server import Server

        return Server
    raise AttributeError(name)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("d365local", "d365local test server")
    group.addoption(
        "--d365local-database-url",
        default=None,
        help="SQLAlchemy URL for the test server's state (default: SQLite in a temporary directory).",
    )
    parser.addini("d365local_serve_args", "Extra `d365local serve` arguments for the test server.", type="args")


@pytest.fixture(scope="session")
def d365local_server(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Server]:
    """A real d365local server for the whole test session."""
    from d365local.testing.server import ServerStartError, start_server, stop_server

    database_url = pytestconfig.getoption("--d365local-database-url")
    extra = [str(a) for a in pytestconfig.getini("d365local_serve_args")]
    try:
        server = start_server(tmp_path_factory.mktemp("d365local"), *extra, database_url=database_url)
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def d365local_admins(d365local_server: Server) -> Iterator[Admins]:
    """The admin use cases on the test server's database (what ``d365local`` admin commands do, in-process)."""
    from d365local.admins import open_admins

    with open_admins(d365local_server.data_dir, d365local_server.database_url) as admins:
        yield admins


@pytest.fixture
def d365local(d365local_server: Server, d365local_admins: Admins, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A fresh tenant + app + secret + org + application user for this test."""
    from d365local.testing.sandbox import Sandbox

    sandbox = Sandbox.create(d365local_server, d365local_admins, label=request.node.name)
    yield sandbox
    sandbox.close()


@pytest.fixture
def d365local_environ(d365local: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox, with its variables in ``os.environ`` for the duration of the test."""
    for name in ("AZURE_REGIONAL_AUTHORITY_NAME", "REGION_NAME", "MSAL_FORCE_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in d365local.environ.items():
        monkeypatch.setenv(name, value)
    return d365local
