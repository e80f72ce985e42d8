"""A real ``d365local serve`` process with TLS on a free port, shared by the end-to-end tests of a session."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from d365local.credentials_file import read_credentials

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Server:
    """A running server and what its credentials.env says."""

    url: str
    data_dir: Path
    credentials: dict[str, str]
    process: subprocess.Popen[str]
    output: queue.Queue[str]
    """Everything the server printed after its ready line (stdout and stderr)."""

    def logged(self, timeout: float = 2.0) -> str:
        """The server's output so far, once it stops growing for a moment."""
        lines: list[str] = []
        while True:
            try:
                lines.append(self.output.get(timeout=timeout if not lines else 0.3))
            except queue.Empty:
                return "".join(lines)

    @property
    def tenant_id(self) -> str:
        return self.credentials["AZURE_TENANT_ID"]

    @property
    def client_id(self) -> str:
        return self.credentials["AZURE_CLIENT_ID"]

    @property
    def client_secret(self) -> str:
        return self.credentials["AZURE_CLIENT_SECRET"]

    @property
    def ca_bundle(self) -> str:
        return self.credentials["REQUESTS_CA_BUNDLE"]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a ``d365local`` command against this server's data directory."""
        return subprocess.run(
            [sys.executable, "-m", "d365local", *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_environment(),
            check=False,
        )


def clean_environment(**extra: str) -> dict[str, str]:
    """The caller's environment without pre-set CA bundles or regional-authority knobs (reference/entra.md §B3)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CA_VARIABLES and not k.startswith(("AZURE_", "MSAL_", "D365LOCAL_")) and k != "REGION_NAME"
    }
    return env | extra


def start_server(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "d365local", "serve", "--port", "0", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env or clean_environment(),
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=READY_TIMEOUT)
            seen.append(line)
            if line.startswith("d365local ready at "):
                url = line.split()[3].rstrip(",")
                break
    except queue.Empty:
        process.kill()
        pytest.fail(f"server did not become ready: {''.join(seen)}")
    return Server(url, data_dir, read_credentials(data_dir / "credentials.env"), process, lines)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)
    if server.process.stdout is not None:
        server.process.stdout.close()


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
