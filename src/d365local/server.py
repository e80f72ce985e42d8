"""Running ``d365local serve``: bind, prepare the installation, write credentials.env, then serve with uvicorn.

Order matters for scripts: the data directory is claimed first (one owner, or several with one ``--public-url``),
sockets are bound next (so ``--port 0`` knows its port), credentials.env is written before the server accepts
connections, and the one "ready" line is printed only once the server answers. Ctrl-C (or SIGTERM) shuts down
gracefully and :func:`serve` returns normally.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from d365local.app import AppOptions, create_app
from d365local.clock import SystemClock
from d365local.credentials_file import FILE_NAME, read_credentials, write_credentials
from d365local.data_directory import DataDirectoryInUseError, ServerLock, claim, ensure_private_directory
from d365local.dataverse.domain.admin import DataverseAdmin
from d365local.dataverse.domain.service_protection import Limits
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.http_connection import ConnectionLimits, LimitedConfig
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.secret_hash import SecretHasher
from d365local.log_line import OneLineFormatter
from d365local.seeding import StarterCredentials, add_starter_secret, apply_seed_file, seed_starter
from d365local.store.database import Database, open_database
from d365local.store.engine import exclusive, sqlite_database_file
from d365local.store.security_sql import SqlSecurityStore
from d365local.store.settings_sql import PUBLIC_BASE_URL
from d365local.tls import TlsFileError, TlsFiles, check_certificate_pair, ensure_tls_files

DEFAULT_PORT = 5443
LOOPBACK_HOSTS = ("127.0.0.1", "::1")
_OPTIONS_ENV = "D365LOCAL_SERVE_OPTIONS"
FIXED_STARTER_VARIABLES = ("D365LOCAL_TENANT_ID", "D365LOCAL_CLIENT_ID", "D365LOCAL_CLIENT_SECRET")


class ServeError(RuntimeError):
    """The server cannot start as asked; the message says why and what to do."""


@dataclass(frozen=True)
class ServeOptions:
    data_dir: Path
    database_url: str | None = None
    port: int = DEFAULT_PORT
    host: str | None = None
    """None binds 127.0.0.1 and ::1 (loopback only)."""
    public_url: str | None = None
    sans: tuple[str, ...] = ()
    tls: bool = True
    tls_cert: Path | None = None
    tls_key: Path | None = None
    workers: int = 1
    seed: bool = True
    seed_file: Path | None = None
    reject_assertion_replay: bool = False
    limits: Limits = field(default_factory=Limits)
    """Dataverse service protection limits (``org throttling --off`` switches them off per org)."""
    authority: str | None = None
    """Trust tokens from this authority's published keys instead of this server's own (``serve --authority``)."""
    log_level: str = "info"
    """Access log and server messages (stderr): debug, info, warning or error."""
    clock_skew: float = 0.0
    """Seconds the server's clock runs ahead (negative: behind) — to reproduce clock-skew problems."""
    connection: ConnectionLimits = field(default_factory=ConnectionLimits)
    """Read timeouts, header size limits and the connection cap of every HTTP connection."""


@dataclass(frozen=True)
class Ready:
    """What a started server tells its caller: where it is and where its credentials and CA bundle are."""

    url: str
    credentials: Path | None
    ca_bundle: Path | None
    pid: int


@dataclass(frozen=True)
class Prepared:
    database: Database
    public_url: str
    tls: TlsFiles | None
    credentials: Path | None


def bind_sockets(options: ServeOptions) -> list[socket.socket]:
    """Listen on the loopback addresses (or ``--host``) at one port; port 0 picks a free one for all of them."""
    hosts = (options.host,) if options.host else LOOPBACK_HOSTS
    sockets: list[socket.socket] = []
    port = options.port
    try:
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets it knows are TCP, and without it every
            # response body waits ~40 ms for the delayed ACK of its headers.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                sock.close()
                if host == "::1" and options.host is None:
                    continue  # no IPv6 loopback on this machine: IPv4 alone is fine
                fix = "choose another --host" if isinstance(exc, socket.gaierror) else "choose another --port"
                raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}; {fix}") from exc
            sock.listen(2048)
            sock.set_inheritable(True)
            port = sock.getsockname()[1]
            sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def public_url_for(options: ServeOptions, port: int) -> str:
    if options.public_url:
        return options.public_url.rstrip("/")
    return f"{'https' if options.tls else 'http'}://localhost:{port}"


def prepare(
    options: ServeOptions, port: int, env: Mapping[str, str], notice: Callable[[str], None] = lambda _: None
) -> Prepared:
    """Migrate, seed (once per database, under the start-up lock), TLS files, credentials.env.

    The seed file, when given, replaces the starter: credentials.env then names the seed file's first app that
    lists a secret. A changed public URL is said through ``notice``, never changed silently.
    """
    public_url = public_url_for(options, port)
    database = open_database(options.data_dir, options.database_url)
    clock = SystemClock()
    admin = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), clock)
    dataverse = DataverseAdmin(SqlSecurityStore(database.directory), builtin_catalog(), clock)
    starter: StarterCredentials | None = None
    with exclusive(database.engine):
        previous = database.settings.get(PUBLIC_BASE_URL)
        if previous is not None and previous != public_url:
            notice(
                f"public URL changed: {previous} → {public_url} (org URLs, token audiences and credentials.env follow; "
                "tokens issued for the old URL are refused)"
            )
        database.directory.set_public_base_url(public_url)
        admin.ensure_signing_key()
        if options.seed_file is not None:
            starter = apply_seed_file(admin, dataverse, database.directory, options.seed_file)
            if starter is None:
                notice(f"no app in {options.seed_file} lists a secret: credentials.env is not written")
        elif options.seed:
            starter = seed_starter(admin, dataverse, database.directory, database.settings, env)
        dataverse.ensure_organizations()
    tls = _tls_files(options, public_url)
    credentials = None
    if starter is not None:
        credentials = options.data_dir / FILE_NAME
        _write_credentials_env(credentials, admin, starter, public_url, database, tls)
    return Prepared(database, public_url, tls, credentials)


def _tls_files(options: ServeOptions, public_url: str) -> TlsFiles | None:
    if not options.tls or options.tls_cert is not None:
        return None
    host = public_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return ensure_tls_files(options.data_dir, hosts=(host, *options.sans))


def _write_credentials_env(
    path: Path,
    admin: DirectoryAdmin,
    starter: StarterCredentials,
    public_url: str,
    database: Database,
    tls: TlsFiles | None,
) -> None:
    previous = read_credentials(path)
    secret = starter.client_secret
    if secret is None and previous.get("AZURE_CLIENT_ID") == starter.client_id:
        secret = previous.get("AZURE_CLIENT_SECRET")
    if secret is None:
        secret = add_starter_secret(admin, starter).client_secret
    # The default org when the app's tenant has it, else the tenant's first org.
    orgs = sorted(database.directory.organizations(starter.tenant_id), key=lambda o: o.url != public_url)
    values = {
        "AZURE_TENANT_ID": starter.tenant_id,
        "AZURE_CLIENT_ID": starter.client_id,
        "AZURE_CLIENT_SECRET": secret or "",
        "AZURE_AUTHORITY_HOST": public_url,
        "DATAVERSE_URL": orgs[0].url if orgs else public_url,
    }
    if tls is not None:
        bundle = str(tls.bundle.resolve())
        values |= {"REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle, "CURL_CA_BUNDLE": bundle}
    write_credentials(path, values)


def _uvicorn_config(app: Starlette | str, options: ServeOptions, tls: TlsFiles | None) -> uvicorn.Config:
    cert = options.tls_cert or (tls.cert if tls else None)
    key = options.tls_key or (tls.key if tls else None)
    return LimitedConfig(
        app,
        limits=options.connection,
        factory=isinstance(app, str),
        workers=options.workers,
        ssl_certfile=str(cert) if options.tls and cert else None,
        ssl_keyfile=str(key) if options.tls and key else None,
        log_level=options.log_level,
        log_config=_log_config(options.log_level),
        access_log=False,  # uvicorn's access log prints query strings; d365local.access_log never does
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def _log_config(level: str) -> dict[str, object]:
    """uvicorn's messages and d365local's access log, on stderr, one line each (control characters escaped)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {
                "()": OneLineFormatter,
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            }
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "d365local": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }


def _app_options(options: ServeOptions) -> AppOptions:
    return AppOptions(options.reject_assertion_replay, options.limits, options.authority, options.clock_skew)


def worker_app() -> Starlette:
    """App factory for ``--workers N``: each worker process opens the database itself."""
    options = _options_from_json(os.environ[_OPTIONS_ENV])
    database = open_database(options.data_dir, options.database_url)
    return create_app(database, _app_options(options))


def serve(
    options: ServeOptions,
    *,
    env: Mapping[str, str],
    announce: Callable[[Ready], None],
    notice: Callable[[str], None] = lambda _: None,
) -> None:
    """Run until interrupted (Ctrl-C or SIGTERM), then return after a graceful shutdown.

    ``announce`` is called once, when the server answers; ``notice`` gets lines worth telling the user on the way.
    """
    check_options(options, env)
    ensure_private_directory(options.data_dir)
    locks = _claim(options)
    sockets: list[socket.socket] = []
    try:
        sockets = bind_sockets(options)
        port = sockets[0].getsockname()[1]
        prepared = prepare(options, port, env, notice)
        for lock in locks:
            lock.publish(prepared.public_url)
        watcher = threading.Thread(
            target=_announce_when_ready, args=(prepared, options, port, announce), name="d365local-ready", daemon=True
        )
        with _stopping_on_sigterm():
            if options.workers > 1:
                prepared.database.close()
                os.environ[_OPTIONS_ENV] = _options_to_json(options)
                config = _uvicorn_config("d365local.server:worker_app", options, prepared.tls)
                watcher.start()
                Multiprocess(config, sockets=sockets).run()
            else:
                app = create_app(prepared.database, _app_options(options))
                config = _uvicorn_config(app, options, prepared.tls)
                watcher.start()
                uvicorn.Server(config).run(sockets=sockets)
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for lock in locks:
            lock.release()


def check_options(options: ServeOptions, env: Mapping[str, str]) -> None:
    """What can be refused before anything is created: a brought certificate that cannot serve, a seed file
    together with the variables that fix the starter it replaces."""
    if options.tls and options.tls_cert is not None and options.tls_key is not None:
        try:
            check_certificate_pair(options.tls_cert, options.tls_key)
        except TlsFileError as exc:
            raise ServeError(str(exc)) from exc
    fixed = [name for name in FIXED_STARTER_VARIABLES if env.get(name)]
    if options.seed_file is not None and fixed:
        raise ServeError(
            f"{', '.join(fixed)} {'fixes' if len(fixed) == 1 else 'fix'} the starter app, which --seed-file replaces: "
            "put the tenant and the app "
            "(id, appId, secrets) in the seed file instead, or unset them"
        )


def _claim(options: ServeOptions) -> list[ServerLock]:
    """One owner per data directory and per SQLite database — except on PostgreSQL, where several servers sharing a
    store is the point. A ``--database-url sqlite:///…`` outside the data directory is claimed through its own
    directory too, so a second server cannot reach the same file by another route."""
    url = options.database_url or ""
    if url and not url.startswith("sqlite"):
        return []
    directories = [options.data_dir.resolve()]
    database = sqlite_database_file(url) if url else None
    if database is not None and database.parent.resolve() not in directories:
        ensure_private_directory(database.parent)
        directories.append(database.parent.resolve())
    public_url = options.public_url.rstrip("/") if options.public_url else None
    locks: list[ServerLock] = []
    try:
        for directory in directories:
            locks.append(claim(directory, public_url))
    except DataDirectoryInUseError as exc:
        for lock in locks:
            lock.release()
        raise ServeError(str(exc)) from exc
    return locks


@contextlib.contextmanager
def _stopping_on_sigterm() -> Iterator[None]:
    """SIGTERM and Ctrl-C both stop the server gracefully, and then :func:`serve` returns normally.

    uvicorn handles both signals itself and, once shut down, raises the signal again for the previous handler: for
    SIGINT that is a KeyboardInterrupt; SIGTERM is made one too instead of killing the process.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


def _announce_when_ready(
    prepared: Prepared, options: ServeOptions, port: int, announce: Callable[[Ready], None], timeout: float = 60.0
) -> None:
    """Print the ready line once the server answers on its own port (a liveness probe, so no TLS verification)."""
    host = options.host if options.host and options.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    probe = f"{'https' if options.tls else 'http'}://{netloc}/common/discovery/instance"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(probe, verify=False, timeout=2.0)  # noqa: S501 - liveness probe of our own loopback socket
        except httpx.HTTPError:
            time.sleep(0.05)
            continue
        bundle = prepared.tls.bundle if prepared.tls else None
        announce(Ready(prepared.public_url, prepared.credentials, bundle, os.getpid()))
        return


def _options_to_json(options: ServeOptions) -> str:
    return json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()})


def _options_from_json(text: str) -> ServeOptions:
    raw = json.loads(text)
    for name in ("data_dir", "tls_cert", "tls_key", "seed_file"):
        if raw.get(name) is not None:
            raw[name] = Path(raw[name])
    raw["sans"] = tuple(raw.get("sans", ()))
    raw["limits"] = Limits(**raw.get("limits", {}))
    raw["connection"] = ConnectionLimits(**raw.get("connection", {}))
    return ServeOptions(**raw)
