"""A real ``d365local serve`` process with TLS on a free port, shared by the end-to-end tests of a session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from d365local.testing.server import (
    CA_VARIABLES,
    Server,
    ServerStartError,
    clean_environment,
    stop_server,
)
from d365local.testing.server import start_server as _start_server

__all__ = ["CA_VARIABLES", "Server", "clean_environment", "start_server", "stop_server"]


def start_server(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """The plugin's launcher, failing the test (not erroring it) when the server cannot start."""
    try:
        return _start_server(data_dir, *args, env=env)
    except ServerStartError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("d365local-e2e"))
    yield running
    stop_server(running)


@pytest.fixture
def trust(server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """Point requests-based clients (msal, azure-identity, requests) at the server's CA bundle."""
    for name in CA_VARIABLES:
        monkeypatch.setenv(name, server.ca_bundle)
    for name in ("AZURE_REGIONAL_AUTHORITY_NAME", "REGION_NAME", "MSAL_FORCE_REGION"):
        monkeypatch.delenv(name, raising=False)
    return server
