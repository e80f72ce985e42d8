"""``serve`` as an attacker and a new user would try it: keys at rest, one owner per data directory, a public URL
that never changes silently, a clean Ctrl-C, one JSON document, and one clear line instead of a traceback."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from d365local.credentials_file import read_credentials
from d365local.testing.server import READY_PREFIX
from d365local.tls import ensure_tls_files
from tests.e2e.conftest import Server, clean_environment, start_server, stop_server

pytestmark = pytest.mark.e2e

TIMEOUT = 60


def serve_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "d365local", "serve", "--port", "0", "--data-dir", str(data_dir), *args]


@contextmanager
def launched(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[Server, list[str]]]:
    """A server and every line it printed up to and including its ready line (notices come before it)."""
    process = subprocess.Popen(
        serve_command(data_dir, *args),
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
    startup: list[str] = []
    while not (startup and startup[-1].startswith(READY_PREFIX)):
        try:
            startup.append(lines.get(timeout=TIMEOUT))
        except queue.Empty:
            process.kill()
            pytest.fail("serve did not become ready: " + "".join(startup))
    url = startup[-1].split()[3].rstrip(",")
    server = Server(url, data_dir, read_credentials(data_dir / "credentials.env"), process, lines)
    try:
        yield server, startup
    finally:
        stop_server(server)


def run_serve(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A serve that is expected to refuse to start."""
    return subprocess.run(
        serve_command(data_dir, *args),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env or clean_environment(),
        check=False,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("warning: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].lower().startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr


# -- keys at rest ---------------------------------------------------------------------------------------------------
def test_every_file_is_private_under_a_permissive_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    previous = os.umask(0o000)  # inherited by the server and the CLI process
    try:
        server = start_server(data)
        try:
            assert server.cli("app", "create", "--tenant", server.tenant_id, "--name", "x").returncode == 0
            files = {p.relative_to(data).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*")}
        finally:
            stop_server(server)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    expected = {"d365local.db", "d365local.db-wal", "d365local.db-shm", "credentials.env", "serve.lock"}
    assert expected | {"tls/server-key.pem", "tls/ca-key.pem", "tls/ca-bundle.pem"} <= set(files)
    assert files == {name: 0o700 if name == "tls" else 0o600 for name in files}


def test_a_world_readable_data_directory_is_tightened_with_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "credentials.env").write_text("AZURE_CLIENT_SECRET=x\n")
    os.chmod(data, 0o755)  # noqa: S103 - the loose mode under test
    os.chmod(data / "credentials.env", 0o644)
    result = subprocess.run(
        [sys.executable, "-m", "d365local", "tenant", "create", "Fabrikam", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=clean_environment(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "readable by other users" in result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "credentials.env").stat().st_mode) == 0o600


# -- one owner per data directory -----------------------------------------------------------------------------------
def test_a_second_server_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    with launched(tmp_path) as (first, _):
        before = (tmp_path / "credentials.env").read_text()
        second = run_serve(tmp_path)
        assert_one_clear_line(second, f"in use by PID {first.process.pid} at {first.url}")
        # Nothing changed under the first server's feet: its URL, its credentials.env, its tokens.
        assert (tmp_path / "credentials.env").read_text() == before
        assert first.cli("token").returncode == 0
        orgs = json.loads(first.cli("org", "list", "--json").stdout)
        assert orgs[0]["url"] == first.url


def test_the_same_sqlite_file_through_database_url_is_refused_too(tmp_path: Path) -> None:
    """Another data directory does not make the first server's SQLite file free: the file's directory is claimed."""
    with launched(tmp_path) as (first, _):
        other = tmp_path / "other"
        second = run_serve(other, "--database-url", f"sqlite:///{tmp_path / 'd365local.db'}")
        assert_one_clear_line(second, f"in use by PID {first.process.pid} at {first.url}")
        orgs = json.loads(first.cli("org", "list", "--json").stdout)
        assert orgs[0]["url"] == first.url
        assert first.cli("token").returncode == 0


def test_servers_with_the_same_public_url_share_a_data_directory(tmp_path: Path) -> None:
    public = "https://d365.example.test:8443"
    with (
        launched(tmp_path, "--public-url", public) as (first, _),
        launched(tmp_path, "--public-url", public) as (
            second,
            startup,
        ),
    ):
        assert first.url == second.url == public
        assert not any("public URL changed" in line for line in startup)
        owner = json.loads((tmp_path / "serve.lock").read_text())
        assert owner == {"pids": [first.process.pid, second.process.pid], "url": public}
        refused = run_serve(tmp_path, "--public-url", "https://elsewhere.example.test")
        assert_one_clear_line(refused, f"at {public}", "only with the same --public-url")


def test_a_changed_public_url_is_announced(tmp_path: Path) -> None:
    with launched(tmp_path) as (first, startup):
        assert not any("public URL changed" in line for line in startup)
    with launched(tmp_path) as (second, startup):
        assert f"public URL changed: {first.url} → {second.url}" in "".join(startup)
        assert second.credentials["AZURE_AUTHORITY_HOST"] == second.url


# -- stopping and output --------------------------------------------------------------------------------------------
def test_ctrl_c_shuts_down_cleanly_with_exit_status_0(tmp_path: Path) -> None:
    with launched(tmp_path) as (server, _):
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=TIMEOUT) == 0
        output = server.logged(timeout=1)
        assert output.rstrip().endswith("d365local stopped")
        assert "Traceback" not in output
        assert "KeyboardInterrupt" not in output


def test_sigterm_shuts_down_cleanly_too(tmp_path: Path) -> None:
    with launched(tmp_path) as (server, _):
        server.process.terminate()
        assert server.process.wait(timeout=TIMEOUT) == 0
        assert server.logged(timeout=1).rstrip().endswith("d365local stopped")


def test_json_prints_exactly_one_document(tmp_path: Path) -> None:
    process = subprocess.Popen(
        serve_command(tmp_path, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_environment(),
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # the human lines go to stderr
            if line.startswith(READY_PREFIX):
                break
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    document = json.loads(stdout)  # one document and nothing else
    assert document["status"] == "ready"
    assert document["url"].startswith("https://localhost:")
    assert document["credentials"] == str((tmp_path / "credentials.env").resolve())
    assert Path(document["caBundle"]).is_file()
    assert document["pid"] == process.pid
    assert "d365local stopped" in stderr


# -- one clear line instead of a traceback ---------------------------------------------------------------------------
def test_a_tls_key_that_is_not_a_key(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "mine")
    swapped = run_serve(tmp_path / "data", "--tls-cert", str(files.cert), "--tls-key", str(files.cert))
    assert_one_clear_line(swapped, "--tls-key", "is not a PEM private key")
    not_a_cert = run_serve(tmp_path / "data", "--tls-cert", str(files.key), "--tls-key", str(files.key))
    assert_one_clear_line(not_a_cert, "--tls-cert", "is not a PEM certificate")
    mismatched = run_serve(tmp_path / "data", "--tls-cert", str(files.cert), "--tls-key", str(files.ca_key))
    assert_one_clear_line(mismatched, "is not the key of --tls-cert")
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_brought_tls_files_serve(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "mine")
    with launched(tmp_path / "data", "--tls-cert", str(files.cert), "--tls-key", str(files.key)) as (server, _):
        response = requests.get(f"{server.url}/common/discovery/instance", verify=str(files.ca_cert), timeout=10)
        assert response.status_code == 200


def test_an_unreachable_postgresql(tmp_path: Path) -> None:
    url = "postgresql+psycopg://d365:hunter2@127.0.0.1:1/d365local?connect_timeout=5"
    result = run_serve(tmp_path, "--database-url", url)
    assert_one_clear_line(result, "cannot connect to the database", "127.0.0.1:1")
    assert "hunter2" not in result.stderr


def test_a_corrupt_database(tmp_path: Path) -> None:
    (tmp_path / "d365local.db").write_bytes(b"this is not a database, it is a text file " * 100)
    result = run_serve(tmp_path)
    assert_one_clear_line(result, "d365local.db", "not a usable SQLite database")


def test_a_data_directory_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = run_serve(tmp_path / "file" / "data")
    assert_one_clear_line(result, "is a file, not a directory")


# -- a seed file replaces the starter --------------------------------------------------------------------------------
SEED = """
tenants:
  - name: Fabrikam
    id: 11111111-2222-3333-4444-555555555555
    users: [alice@fabrikam.onmicrosoft.com]
    orgs:
      - name: sales
    apps:
      - name: reader
        appId: 77777777-7777-8888-9999-000000000000
      - name: ci
        appId: 66666666-7777-8888-9999-000000000000
        secrets: ["fixed-ci-secret-0123456789", "second-secret-0123456789"]
        permissions: ["Dynamics CRM/user_impersonation"]
        consent: true
        owners: [alice@fabrikam.onmicrosoft.com]
        applicationUsers:
          - org: sales
            roles: [System Administrator]
"""


def test_a_seed_file_replaces_the_starter(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    data = tmp_path / "data"
    with launched(data, "--seed-file", str(seed)) as (first, _):
        assert first.credentials["AZURE_TENANT_ID"] == "11111111-2222-3333-4444-555555555555"
        assert first.credentials["AZURE_CLIENT_ID"] == "66666666-7777-8888-9999-000000000000"
        assert first.credentials["AZURE_CLIENT_SECRET"] == "fixed-ci-secret-0123456789"
        assert first.credentials["DATAVERSE_URL"] == first.url  # sales is the first org: the default one
        tenants = json.loads(first.cli("tenant", "list", "--json").stdout)
        assert [t["displayName"] for t in tenants] == ["Fabrikam"]  # no Contoso starter
        whoami = first.cli("whoami", "--json")  # credentials.env is enough for the client commands
        assert whoami.returncode == 0, whoami.stderr
    # A restart applies the seed file again without duplicates and keeps the keys.
    with launched(data, "--seed-file", str(seed)) as (second, _):
        assert second.credentials["AZURE_CLIENT_SECRET"] == "fixed-ci-secret-0123456789"
        assert len(json.loads(second.cli("org", "list", "--json").stdout)) == 1
        assert second.cli("token").returncode == 0


def test_a_seed_file_and_fixed_starter_variables_conflict(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    env = clean_environment(D365LOCAL_CLIENT_ID="bbbbbbbb-cccc-dddd-eeee-ffffffffffff")
    result = run_serve(tmp_path / "data", "--seed-file", str(seed), env=env)
    assert_one_clear_line(result, "D365LOCAL_CLIENT_ID", "--seed-file replaces")


def test_a_seed_file_without_secrets_writes_no_credentials(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("tenants:\n  - name: Fabrikam\n    orgs: [{name: sales}]\n    apps: [{name: ci}]\n")
    data = tmp_path / "data"
    with launched(data, "--seed-file", str(seed)) as (server, startup):
        assert f"no app in {seed} lists a secret: credentials.env is not written" in "".join(startup)
        assert startup[-1].strip() == f"{READY_PREFIX}{server.url}"
        assert not (data / "credentials.env").exists()
        tenants = json.loads(server.cli("tenant", "list", "--json").stdout)
        assert [t["displayName"] for t in tenants] == ["Fabrikam"]
