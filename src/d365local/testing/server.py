"""A real ``d365local serve`` process on a free port with TLS: what the pytest plugin and d365local's own
end-to-end tests run against."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from d365local.credentials_file import FILE_NAME, read_credentials

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
READY_TIMEOUT = 60.0
READY_PREFIX = "d365local ready at "


class ServerStartError(RuntimeError):
    """The server did not become ready; the message holds what it printed."""


@dataclass(frozen=True)
class Server:
    """A running server and what its credentials.env says."""

    url: str
    data_dir: Path
    credentials: dict[str, str]
    process: subprocess.Popen[str]
    output: queue.Queue[str]
    """Everything the server printed after its ready line (stdout and stderr)."""
    database_url: str | None = None

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
        database = ("--database-url", self.database_url) if self.database_url else ()
        return subprocess.run(  # noqa: S603 - our own console entry point with the caller's arguments
            [sys.executable, "-m", "d365local", *args, "--data-dir", str(self.data_dir), *database],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_environment(),
            check=False,
        )


def clean_environment(**extra: str) -> dict[str, str]:
    """The caller's environment without pre-set CA bundles or regional-authority knobs
    (docs/reference/entra.md, "TLS trust")."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CA_VARIABLES and not k.startswith(("AZURE_", "MSAL_", "D365LOCAL_")) and k != "REGION_NAME"
    }
    return env | extra


def start_server(
    data_dir: Path, *args: str, env: Mapping[str, str] | None = None, database_url: str | None = None
) -> Server:
    """Start ``d365local serve --port 0`` on ``data_dir`` and wait for its ready line."""
    database = ("--database-url", database_url) if database_url else ()
    process = subprocess.Popen(  # noqa: S603 - our own console entry point
        [sys.executable, "-m", "d365local", "serve", "--port", "0", "--data-dir", str(data_dir), *database, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(env) if env is not None else clean_environment(),
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, name="d365local-server-output", daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if process.poll() is not None or time.monotonic() > deadline:  # exited, or hangs: say what it printed
                time.sleep(0.2)  # let the pump deliver the last lines
                seen.extend(_drain(lines))
                process.kill()
                raise ServerStartError(f"d365local serve did not become ready: {''.join(seen)}") from None
            continue
        seen.append(line)
        if line.startswith(READY_PREFIX):
            url = line.split()[3].rstrip(",")
            break
    return Server(url, data_dir, read_credentials(data_dir / FILE_NAME), process, lines, database_url)


def _drain(lines: queue.Queue[str]) -> list[str]:
    drained: list[str] = []
    while True:
        try:
            drained.append(lines.get_nowait())
        except queue.Empty:
            return drained


def stop_server(server: Server) -> None:
    """Stop the server; a test server need not wait out clients' idle keep-alive connections."""
    server.process.terminate()
    try:
        server.process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        # uvicorn waits up to timeout_graceful_shutdown for idle TLS keep-alive connections (e.g. a requests
        # session still in a pool) to close; a SIGINT after the SIGTERM is its "force quit".
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)
    if server.process.stdout is not None:
        server.process.stdout.close()
