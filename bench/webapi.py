"""Dataverse Web API of ``d365local serve``: GET by id, CreateMultiple seeding, a filtered query, paging memory.

Starts one real server with TLS on a free loopback port (SQLite, a temporary data directory), switches the starter
org's service protection limits off (``org throttling --org contoso --off``) and measures, in order:

2. seeding N accounts through ``POST /api/data/v9.2/accounts/Microsoft.Dynamics.CRM.CreateMultiple`` in batches
   of 1000 (records/s), against a raw SQLAlchemy Core insert of the same rows into a fresh SQLite database with the
   same table definition and the same pragmas (goal: the Web API ≥ 40% of the raw rate);
1. GET by id (random seeded ids) over 8 HTTPS keep-alive connections: requests/s, p50/p99 (wrk with a Lua script
   adding the bearer token; without wrk, an asyncio + httpx generator);
3. ``$filter=statecode eq 0 and revenue gt 500000&$orderby=createdon desc&$top=50&$select=name,revenue``: p50/p99
   over repeated requests, and ``EXPLAIN QUERY PLAN`` of the SQL d365local's record store generates for it, run on
   the server's own database;
4. the server's VmRSS after every page while paging through all N accounts with ``Prefer: odata.maxpagesize=5000``
   following ``@odata.nextLink`` (min/max/last; reported, not asserted).

The report is printed as Markdown. Every loop is bounded in time; the server is stopped on exit, even on error.

    python bench/webapi.py [--rows 100000] [--quick] [--profile] [--json-out result.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import queue
import random
import re
import shutil
import signal
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import httpx
from sqlalchemy import Engine, event, insert

import d365local

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/<name>.py`
from bench.harness import (
    CLK_TCK,
    children_cpu_s,
    clean_environment,
    descendants,
    machine_busy_s,
    parse_wrk_summary,
    percentile,
    read_credentials,
    tool_version,
)
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.store.record_tables import builtin_record_tables

ORG = "contoso"
API = "/api/data/v9.2"
BATCH = 1000
CONNECTIONS = 8
WRK_THREADS = 2
PAGE_SIZE = 5000
TOP = 50
GOAL_SEED_VS_RAW = 0.40
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 300.0
SEED_DEADLINE_S = 3600.0
RAW_DEADLINE_S = 900.0
QUERY_DEADLINE_S = 60.0
PAGING_DEADLINE_S = 900.0
GET_ID_SAMPLE = 2000
D365_READY = re.compile(r"d365local ready at (\S+?),?(\s|$)")
QUERY = (
    "$filter=statecode eq 0 and revenue gt 500000&$orderby=createdon desc&$top=50&$select=name,revenue",
    "%24filter=statecode%20eq%200%20and%20revenue%20gt%20500000&%24orderby=createdon%20desc&%24top=50"
    "&%24select=name,revenue",
)
"""The query, as written and as sent (percent-encoded)."""


# -- results -------------------------------------------------------------------------------------------------------
@dataclass
class SeedResult:
    rows: int
    batches: int
    seconds: float
    records_per_s: float
    batch_p50_ms: float
    batch_max_ms: float
    server_cpu_s: float
    rss_after_mb: float
    complete: bool


@dataclass
class RawResult:
    rows: int
    seconds: float
    records_per_s: float


@dataclass
class GetResult:
    generator: str
    duration_s: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_ms_per_request: float
    loadgen_cpu_s: float


@dataclass
class QueryResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    rows_per_response: int
    sql_p50_ms: float
    """the same SQL run directly on the server's database file, in this process"""


@dataclass
class Plan:
    name: str
    sql: str
    parameters: list[Any]
    plan: list[str]
    indexes: list[str]
    full_scan: bool
    temp_sort: str | None


@dataclass
class PagingResult:
    pages: int
    rows: int
    unique_ids: int
    seconds: float
    rss_before_mb: float
    rss_min_mb: float
    rss_max_mb: float
    rss_last_mb: float
    rss_by_page_mb: list[float]
    page_ms: list[float]
    complete: bool


@dataclass
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    seed: SeedResult | None = None
    raw: RawResult | None = None
    get: GetResult | None = None
    query: QueryResult | None = None
    plans: list[Plan] = field(default_factory=list)
    paging: PagingResult | None = None
    profiles: dict[str, list[str]] = field(default_factory=dict)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    """per phase: wall seconds and average cores busy (server, client, wrk, others)"""
    notes: list[str] = field(default_factory=list)


# -- the server ----------------------------------------------------------------------------------------------------
class Server:
    """``d365local serve`` in its own session; stdout pumped into a queue, stderr (the access log) into a file."""

    def __init__(self, data_dir: Path, log_path: Path, extra: Sequence[str]) -> None:
        argv = [sys.executable, "-m", "d365local", "serve", "--port", "0", "--data-dir", str(data_dir), *extra]
        self.data_dir = data_dir
        self.log_path = log_path
        self._log: TextIO = log_path.open("w", encoding="utf-8")
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=self._log,
                text=True,
                env=clean_environment(),
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, name="server-stdout", daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_ready(self) -> str:
        """The base URL from the ready line; raises if it does not come within READY_TIMEOUT."""
        deadline = self.started + READY_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.process.poll() is not None and self.lines.empty()):
                raise RuntimeError(f"the server did not become ready:\n{self.output_tail()}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            self.seen.append(line)
            match = D365_READY.search(line)
            if match:
                return match.group(1)

    def output_tail(self, limit: int = 4000) -> str:
        self._log.flush()
        stderr = self.log_path.read_text(encoding="utf-8", errors="replace")[-limit:]
        return "".join(self.seen)[-limit:] + stderr

    def stop(self) -> None:
        """terminate, wait; kill the server's own process group on timeout. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # the session started here for this server
                self.process.wait(timeout=STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


@contextlib.contextmanager
def running_server(data_dir: Path, log_path: Path, extra: Sequence[str]) -> Iterator[Server]:
    server = Server(data_dir, log_path, extra)
    try:
        yield server
    finally:
        server.stop()


def cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "d365local", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"d365local {' '.join(args)} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def get_token(client: httpx.Client, credentials: dict[str, str]) -> str:
    response = client.post(
        f"{credentials['AZURE_AUTHORITY_HOST']}/{credentials['AZURE_TENANT_ID']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["AZURE_CLIENT_ID"],
            "client_secret": credentials["AZURE_CLIENT_SECRET"],
            "scope": f"{credentials['DATAVERSE_URL']}/.default",
        },
    )
    if response.status_code != 200 or "access_token" not in response.json():
        raise RuntimeError(f"token request failed: {response.status_code} {response.text[:500]}")
    token: str = response.json()["access_token"]
    return token


def api_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json", "OData-Version": "4.0"}


# -- /proc ---------------------------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, MiB (one process with the default single worker)."""
    total = 0
    for p in descendants(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total / 1024


def cpu_s(pid: int) -> float:
    """user + system CPU seconds of ``pid`` and its descendants."""
    total = 0.0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


@contextlib.contextmanager
def cpu_window(report: Report, phase: str, pid: int) -> Iterator[None]:
    """Average cores busy during a phase: the server, this process (the client), its children (wrk), everything else
    on the machine (other processes sharing the cores: they make every number here lower)."""
    wall, busy, server, own, children = (
        time.monotonic(),
        machine_busy_s(),
        cpu_s(pid),
        time.process_time(),
        children_cpu_s(),
    )
    try:
        yield
    finally:
        seconds = max(time.monotonic() - wall, 1e-9)
        used = {
            "server": cpu_s(pid) - server,
            "client": time.process_time() - own,
            "wrk": children_cpu_s() - children,
        }
        used["others"] = max(0.0, machine_busy_s() - busy - sum(used.values()))
        report.cpu[phase] = {"seconds": round(seconds, 1)} | {k: round(v / seconds, 2) for k, v in used.items()}


# -- profiling (optional) ------------------------------------------------------------------------------------------
class Profiler:
    """``py-spy record --format raw`` on the server for the length of a ``with``; a summary afterwards.

    The collapsed stacks stay in ``directory`` (``flamegraph.pl`` or speedscope read them)."""

    def __init__(self, directory: Path | None, report: Report) -> None:
        self.exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.enabled = directory is not None and Path(self.exe).exists()
        if directory is not None and not self.enabled:
            report.notes.append("--profile: py-spy not found (pip install py-spy); no profiles taken")
        if directory is not None and self.enabled:
            directory.mkdir(parents=True, exist_ok=True)
            report.notes.append("py-spy was attached to the server (--profile): the numbers above include its cost")
        self.directory = directory or Path()
        self.report = report

    @contextlib.contextmanager
    def phase(self, name: str, pid: int) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        out = self.directory / f"profile-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.txt"
        argv = [self.exe, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--nonblocking"]
        spy = subprocess.Popen(
            [*argv, "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(0.5)  # let it attach
        try:
            yield
        finally:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(timeout=15)
            if out.exists():
                self.report.profiles[name] = summarize_profile(out.read_text(encoding="utf-8", errors="replace"))


def _frame_label(frame: str) -> tuple[str, str]:
    """``func (…/site-packages/pkg/mod.py:123)`` → (``func (pkg/mod.py)``, the file path); lines dropped."""
    match = re.fullmatch(r"(.*?) \((.*?)(?::\d+)?\)", frame.strip())
    if not match:
        return frame.strip(), ""
    path = match.group(2)
    for marker in ("/site-packages/", "/src/", f"/python{sys.version_info[0]}.{sys.version_info[1]}/"):
        if marker in path:
            path = path.rsplit(marker, 1)[1]
            break
    return f"{match.group(1)} ({path})", path


_CATEGORIES = (
    ("SQLite itself (C, under the DB-API calls)", re.compile(r"^(DefaultDialect\.do_|CursorFetchStrategy\.fetch)")),
    ("SQLAlchemy (Python: statement building, compiling, caching, results)", re.compile(r"\(sqlalchemy/")),
    ("d365local", re.compile(r"\(d365local/")),
    ("JWT / cryptography", re.compile(r"\((jwt|cryptography)/")),
    ("json", re.compile(r"\(json/")),
    (
        "HTTP, TLS, event loop (uvicorn, starlette, h11/httptools, asyncio, ssl)",
        re.compile(r"\((uvicorn|starlette|h11|httptools|asyncio|ssl\.py)"),
    ),
)


_PLUMBING = re.compile(r"(main|<module>|common_options\.<locals>\.wrapper|serve_command|serve|AccessLog\.__call__) \(")
"""d365local's frames every request passes through (the CLI entry point, the access log middleware)."""


def summarize_profile(raw: str, top: int = 12) -> list[str]:
    """Where the server's samples went: by category of the innermost frame, by function (self), and inclusive
    shares of d365local's own functions (py-spy's collapsed stacks; native time counts for the calling frame)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_label(f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        total += count
        leaf = frames[-1][0]
        own[leaf] += count
        categories[next((name for name, rx in _CATEGORIES if rx.search(leaf)), "other")] += count
        for label in {label for label, path in frames if path.startswith("d365local/")}:
            inclusive[label] += count
    if total == 0:
        return ["(no samples)"]
    lines = [f"{total} samples (200/s, the server's busy time only)", "by the innermost frame's library:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in categories.most_common()]
    lines.append("self time, top functions:")
    lines += [f"  {100 * n / total:5.1f}%  {label}" for label, n in own.most_common(top)]
    lines.append("inclusive time of d365local's functions (below the ASGI plumbing):")
    shown = [(label, n) for label, n in inclusive.most_common() if not _PLUMBING.match(label)]
    lines += [f"  {100 * n / total:5.1f}%  {label}" for label, n in shown[: top + 4]]
    return lines


# -- 2. seeding ----------------------------------------------------------------------------------------------------
def target(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "name": f"Bench account {i:06d}",
        "accountnumber": f"BA{i:08d}",
        "revenue": round(rng.uniform(0, 1_000_000), 2),
        "statecode": 0,
        "@odata.type": "Microsoft.Dynamics.CRM.account",
    }


def seed_webapi(
    client: httpx.Client, base: str, token: str, rows: int, pid: int, deadline_s: float
) -> tuple[SeedResult, list[str]]:
    url = f"{base}{API}/accounts/Microsoft.Dynamics.CRM.CreateMultiple"
    headers = api_headers(token) | {"Content-Type": "application/json; charset=utf-8"}
    rng = random.Random(20240601)
    ids: list[str] = []
    batch_ms: list[float] = []
    spent = 0.0
    cpu_before = cpu_s(pid)
    stop_at = time.monotonic() + deadline_s
    for start in range(0, rows, BATCH):
        if time.monotonic() > stop_at:
            break
        body = json.dumps({"Targets": [target(i, rng) for i in range(start, min(rows, start + BATCH))]}).encode()
        began = time.perf_counter()
        response = client.post(url, content=body, headers=headers)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"CreateMultiple at row {start}: {response.status_code} {response.text[:500]}")
        created = response.json()["Ids"]
        if len(created) != min(BATCH, rows - start):
            raise RuntimeError(f"CreateMultiple at row {start} returned {len(created)} ids")
        ids += created
        spent += elapsed
        batch_ms.append(elapsed * 1000)
        if len(batch_ms) % 10 == 0:
            print(f"  … {len(ids)} rows, {len(ids) / spent:.0f}/s", file=sys.stderr, flush=True)
    batch_ms.sort()
    result = SeedResult(
        rows=len(ids),
        batches=len(batch_ms),
        seconds=spent,
        records_per_s=len(ids) / spent if spent else 0.0,
        batch_p50_ms=percentile(batch_ms, 0.5),
        batch_max_ms=batch_ms[-1] if batch_ms else float("nan"),
        server_cpu_s=cpu_s(pid) - cpu_before,
        rss_after_mb=rss_mb(pid),
        complete=len(ids) == rows,
    )
    return result, ids


def raw_insert(workdir: Path, rows: int, deadline_s: float) -> RawResult:
    """The same rows, as the server stores them, with SQLAlchemy Core into a fresh SQLite database.

    Same table definition (``builtin_record_tables()["account"]``, created by ``RecordTables.ensure``) and the same
    engine settings as the server (``create_database_engine``: WAL, synchronous=NORMAL, foreign keys on); one
    transaction per batch of 1000, as CreateMultiple has. Only the inserts are timed, not building the row dicts.
    """
    from d365local.store.engine import create_database_engine
    from d365local.store.schema import metadata, organizations, tenants

    tables = builtin_record_tables()
    table = tables["account"]
    engine = create_database_engine(f"sqlite:///{workdir / 'raw.db'}")
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            tables.ensure(conn)
        org_id, tenant_id, user_id, bu_id = (str(uuid.uuid4()) for _ in range(4))
        with engine.begin() as conn:
            conn.execute(insert(tenants).values(id=tenant_id, display_name="Bench", created_at=time.time()))
            conn.execute(
                insert(organizations).values(
                    id=org_id, tenant_id=tenant_id, unique_name="bench", is_default=True, created_at=time.time()
                )
            )
        rng = random.Random(20240601)
        spent, done = 0.0, 0
        stop_at = time.monotonic() + deadline_s
        for start in range(0, rows, BATCH):
            if time.monotonic() > stop_at:
                break
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
            batch = [
                stored_row(target(i, rng), org_id, user_id, bu_id, now) for i in range(start, min(rows, start + BATCH))
            ]
            began = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(insert(table), batch)
            spent += time.perf_counter() - began
            done += len(batch)
        return RawResult(done, spent, done / spent if spent else 0.0)
    finally:
        engine.dispose()


def stored_row(fields: dict[str, Any], org_id: str, user_id: str, bu_id: str, now: dt.datetime) -> dict[str, Any]:
    """What ``Records.create`` writes for a CreateMultiple target: the columns sent plus the system columns."""
    return {
        "accountid": str(uuid.uuid4()),
        "orgid": org_id,
        "name": fields["name"],
        "accountnumber": fields["accountnumber"],
        "revenue": Decimal(str(fields["revenue"])),
        "statecode": fields["statecode"],
        "statuscode": 1,
        "createdon": now,
        "modifiedon": now,
        "createdby": user_id,
        "modifiedby": user_id,
        "versionnumber": 1,
        "ownerid": user_id,
        "ownerid_type": "systemuser",
        "owningbusinessunit": bu_id,
    }


# -- 1. GET by id --------------------------------------------------------------------------------------------------
_LUA = """
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Accept"] = "application/json"
wrk.headers["OData-Version"] = "4.0"
local paths = {{{paths}}}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0; i = math.random(#paths) end
function request() i = (i % #paths) + 1; return wrk.format(nil, paths[i]) end
function response(status, headers, body) if status ~= 200 then non200 = non200 + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("non200") end
  io.write(string.format("non200 %d\\n", total))
end
"""


def run_wrk(wrk: str, base: str, token: str, paths: Sequence[str], seconds: int, workdir: Path) -> GetResult:
    script = workdir / "get_by_id.lua"
    lua_paths = ",".join(f'"{p}"' for p in paths)
    script.write_text(_LUA.format(token=token, paths=lua_paths), encoding="utf-8")
    argv = [wrk, "-c", str(CONNECTIONS), "-t", str(WRK_THREADS), "-d", f"{seconds}s", "--timeout", "10s", "--latency"]
    before = children_cpu_s()
    done = subprocess.run(
        [*argv, "-s", str(script), base + paths[0]], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    summary = parse_wrk_summary(done.stdout + done.stderr)
    return GetResult(
        generator="wrk",
        duration_s=summary.duration_s,
        requests=summary.requests,
        requests_per_s=summary.rate,
        p50_ms=summary.p50_ms,
        p99_ms=summary.p99_ms,
        errors=summary.non_200 + summary.socket_errors,
        server_cpu_ms_per_request=0.0,
        loadgen_cpu_s=children_cpu_s() - before,
    )


async def _httpx_get(
    base: str, token: str, paths: Sequence[str], seconds: float, verify: ssl.SSLContext
) -> tuple[list[float], int]:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(verify=verify, limits=limits, timeout=10.0, headers=api_headers(token)) as client:
        deadline = time.monotonic() + seconds

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.monotonic() < deadline:
                i = (i + 1) % len(paths)
                started = time.perf_counter()
                try:
                    response = await client.get(base + paths[i])
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200

        await asyncio.gather(*(worker(k * len(paths) // CONNECTIONS) for k in range(CONNECTIONS)))
    return latencies, errors


def run_httpx_get(base: str, token: str, paths: Sequence[str], seconds: float, verify: ssl.SSLContext) -> GetResult:
    started, cpu_before = time.monotonic(), time.process_time()
    latencies, errors = asyncio.run(_httpx_get(base, token, paths, seconds, verify))
    elapsed = time.monotonic() - started
    latencies.sort()
    return GetResult(
        "httpx (asyncio)",
        elapsed,
        len(latencies),
        len(latencies) / elapsed,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        errors,
        0.0,
        time.process_time() - cpu_before,
    )


def get_by_id(
    wrk: str | None,
    base: str,
    token: str,
    ids: Sequence[str],
    seconds: int,
    pid: int,
    verify: ssl.SSLContext,
    workdir: Path,
) -> GetResult:
    rng = random.Random(7)
    sample = rng.sample(list(ids), min(GET_ID_SAMPLE, len(ids)))
    paths = [f"{API}/accounts({record_id})" for record_id in sample]
    check = httpx.get(base + paths[0], headers=api_headers(token), verify=verify, timeout=30)
    if check.status_code != 200 or check.json().get("accountid") != sample[0]:
        raise RuntimeError(f"GET by id failed: {check.status_code} {check.text[:300]}")

    def run(duration: int) -> GetResult:
        if wrk:
            return run_wrk(wrk, base, token, paths, duration, workdir)
        return run_httpx_get(base, token, paths, duration, verify)

    run(1)  # warm-up
    before = cpu_s(pid)
    result = run(seconds)
    if result.requests:
        result.server_cpu_ms_per_request = 1000 * (cpu_s(pid) - before) / result.requests
    return result


# -- 3. the filtered query -----------------------------------------------------------------------------------------
def run_query(client: httpx.Client, base: str, token: str, requests: int, deadline_s: float) -> tuple[list[float], int]:
    url = f"{base}{API}/accounts?{QUERY[1]}"
    headers = api_headers(token) | {"Prefer": 'odata.include-annotations="*"'}
    latencies: list[float] = []
    rows = -1
    stop_at = time.monotonic() + deadline_s
    for n in range(requests + 3):
        if time.monotonic() > stop_at:
            break
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"query: {response.status_code} {response.text[:500]}")
        value = response.json()["value"]
        if any(Decimal(str(r["revenue"])) <= 500000 for r in value):
            raise RuntimeError("query returned a row with revenue <= 500000")
        rows = len(value)
        if n >= 3:  # 3 warm-up requests
            latencies.append(elapsed)
    return latencies, rows


def _select_sql(engine: Engine, query_string: str, org_id: str, limit: int, offset: int) -> tuple[str, list[Any]]:
    """The SELECT d365local's SQL record store issues for an accounts query (captured, not rewritten)."""
    from d365local.dataverse.domain.binding.binder import bind_filter, bind_orderby
    from d365local.dataverse.domain.storage import RecordQuery
    from d365local.dataverse.odata.query_options import parse_query_string
    from d365local.store.records_sql import SqlRecordStore

    captured: list[tuple[str, list[Any]]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, list(parameters)))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        store = SqlRecordStore(engine, builtin_record_tables, lambda _conn: None)
        options = parse_query_string(query_string)
        entity = builtin_catalog().by_logical_name("account")
        assert entity is not None
        bound = bind_filter(options.filter, entity, builtin_catalog()) if options.filter is not None else None
        query = RecordQuery(filter=bound, orderby=bind_orderby(options.orderby, entity), limit=limit, offset=offset)
        store.select(entity, org_id, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    if not captured:
        raise RuntimeError("no SELECT captured")
    return captured[-1]


def explain(engine: Engine, name: str, sql: str, parameters: list[Any]) -> Plan:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(parameters)).all()
    details = [str(r[3]) for r in rows]
    indexes = sorted(
        {m.group(1) for d in details for m in [re.search(r"USING (?:COVERING )?INDEX (\S+)", d)] if m}
        | {"PRIMARY KEY" for d in details if "PRIMARY KEY" in d}
    )
    full_scan = any(re.fullmatch(r"SCAN dv_account", d) for d in details)
    sort = next((d for d in details if d.startswith("USE TEMP B-TREE")), None)
    return Plan(name, sql, parameters, details, indexes, full_scan, sort)


def timed_sql(engine: Engine, sql: str, parameters: list[Any], repeats: int) -> float:
    timings: list[float] = []
    with engine.connect() as conn:
        for _ in range(repeats):
            began = time.perf_counter()
            conn.exec_driver_sql(sql, tuple(parameters)).all()
            timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


# -- 4. paging memory ----------------------------------------------------------------------------------------------
def page_through(
    client: httpx.Client, base: str, token: str, expected: int, pid: int, deadline_s: float
) -> PagingResult:
    headers = api_headers(token) | {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
    url: str | None = f"{base}{API}/accounts"
    max_pages = math.ceil(expected / PAGE_SIZE) + 5
    rss_before = rss_mb(pid)
    samples: list[float] = []
    page_ms: list[float] = []
    ids: set[str] = set()
    rows = 0
    started = time.perf_counter()
    stop_at = time.monotonic() + deadline_s
    while url is not None and len(samples) < max_pages and time.monotonic() < stop_at:
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        page_ms.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"page {len(samples) + 1}: {response.status_code} {response.text[:500]}")
        document = response.json()
        value = document["value"]
        rows += len(value)
        ids.update(r["accountid"] for r in value)
        samples.append(rss_mb(pid))
        url = document.get("@odata.nextLink")
        del document, value, response
    return PagingResult(
        pages=len(samples),
        rows=rows,
        unique_ids=len(ids),
        seconds=time.perf_counter() - started,
        rss_before_mb=rss_before,
        rss_min_mb=min(samples, default=float("nan")),
        rss_max_mb=max(samples, default=float("nan")),
        rss_last_mb=samples[-1] if samples else float("nan"),
        rss_by_page_mb=[round(s, 1) for s in samples],
        page_ms=[round(m, 1) for m in page_ms],
        complete=url is None,
    )


# -- machine and report --------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
    total = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    wrk = shutil.which("wrk")
    root = Path(d365local.__file__).resolve().parents[2]
    head = tool_version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = tool_version(["git", "-C", str(root), "status", "--porcelain", "--", "src"])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(int(total.group(1)) / 1024 / 1024, 1) if total else None,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "wrk": tool_version([wrk, "-v"]) if wrk else None,
        "d365local": head + ("+dirty" if dirty not in ("", "?") else ""),
    }


def _f(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def render(report: Report) -> str:
    m, s = report.machine, report.settings
    out = [
        "# d365local Web API benchmark",
        "",
        f"`{s['command']}` — {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"SQLite {m['sqlite']}, d365local {m['d365local']}, load generator: {s['generator']}",
        "",
        f"Server: `d365local serve` over HTTPS (its own CA), SQLite, {s['workers']}; "
        f"**service protection is OFF for the benchmark** (`org throttling --org {ORG} --off`), "
        "so no request is throttled or delayed.",
        "",
        "| # | measurement | result | goal |",
        "|---|---|---|---|",
    ]
    seed, raw = report.seed, report.raw
    if seed:
        out.append(
            f"| 2 | CreateMultiple seeding ({seed.rows} accounts, {seed.batches} × {BATCH}) | "
            f"**{seed.records_per_s:,.0f} records/s** ({seed.seconds:.1f} s; batch p50 {seed.batch_p50_ms:.0f} ms, "
            f"max {seed.batch_max_ms:.0f} ms; server CPU {seed.server_cpu_s:.1f} s"
            f"{'' if seed.complete else '; INCOMPLETE: deadline'}) | |"
        )
    if raw:
        out.append(
            f"| 2 | raw SQLAlchemy Core insert, same rows/table/pragmas ({raw.rows}) | "
            f"**{raw.records_per_s:,.0f} records/s** ({raw.seconds:.1f} s) | |"
        )
    if seed and raw and raw.records_per_s:
        ratio = seed.records_per_s / raw.records_per_s
        verdict = "met" if ratio >= GOAL_SEED_VS_RAW else "**NOT met**"
        out.append(f"| 2 | Web API / raw | **{ratio:.1%}** | ≥ {GOAL_SEED_VS_RAW:.0%}: {verdict} |")
    if report.get:
        g = report.get
        out.append(
            f"| 1 | GET by id, {CONNECTIONS} keep-alive HTTPS connections, {g.duration_s:.0f} s ({g.generator}) | "
            f"**{g.requests_per_s:,.0f} req/s**, p50 {g.p50_ms:.2f} ms, p99 {g.p99_ms:.2f} ms "
            f"({g.requests} requests, {g.errors} errors; server CPU {g.server_cpu_ms_per_request:.2f} ms/request) | |"
        )
    if report.query:
        q = report.query
        plan = report.plans[0] if report.plans else None  # the query's plan comes first
        index = ", ".join(plan.indexes) if plan and plan.indexes else "none"
        met = "met" if plan and plan.indexes and not plan.full_scan else "**NOT met**"
        out.append(
            f"| 3 | `$filter`+`$orderby`+`$top=50` query, {q.requests} sequential requests | "
            f"p50 **{q.p50_ms:.1f} ms**, p99 **{q.p99_ms:.1f} ms** (mean {q.mean_ms:.1f} ms, "
            f"{q.rows_per_response} rows each; the SQL alone: {q.sql_p50_ms:.1f} ms) | uses an index: {index} — {met} |"
        )
    if report.paging:
        p = report.paging
        growth = p.rss_last_mb - p.rss_by_page_mb[0] if p.rss_by_page_mb else float("nan")
        out.append(
            f"| 4 | paging all accounts, maxpagesize={PAGE_SIZE} | {p.pages} pages, {p.rows} rows "
            f"({p.unique_ids} distinct) in {p.seconds:.1f} s; server VmRSS min **{p.rss_min_mb:.1f}** / "
            f"max **{p.rss_max_mb:.1f}** / last **{p.rss_last_mb:.1f} MiB** (before: {p.rss_before_mb:.1f}; "
            f"first page → last: {growth:+.1f} MiB){'' if p.complete else '; INCOMPLETE'} | flat (reported) |"
        )
    if report.cpu:
        out += [
            "",
            "Average cores busy during each phase (the machine has "
            f"{m['nproc']}; `others` = processes outside this benchmark, which take cores from the server):",
            "",
            "| phase | seconds | server | client (this process) | wrk | others |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {name} | {c['seconds']:.1f} | "
            + " | ".join(f"{c[k]:.2f}" for k in ("server", "client", "wrk", "others"))
            + " |"
            for name, c in report.cpu.items()
        ]
    if report.paging:
        p = report.paging
        out += [
            "",
            f"VmRSS after each page (MiB): {', '.join(f'{v:.1f}' for v in p.rss_by_page_mb)}",
            "",
            f"Time per page (ms): {', '.join(f'{v:.0f}' for v in p.page_ms)}",
        ]
    for plan in report.plans:
        out += [
            "",
            f"EXPLAIN QUERY PLAN — {plan.name} (the SQL d365local's SqlRecordStore issues, run on the server's "
            "d365local.db):",
            "",
            "```sql",
            plan.sql.strip(),
            f"-- parameters: {plan.parameters}",
            "```",
            "```",
            *plan.plan,
            "```",
            f"indexes used: {', '.join(plan.indexes) or 'NONE'}; full table scan: {'yes' if plan.full_scan else 'no'}"
            f"; sort: {plan.temp_sort or 'none (index order)'}",
        ]
    for name, lines in report.profiles.items():
        out += ["", f"py-spy profile of the server during {name}:", "", "```", *lines, "```"]
    if report.notes:
        out += ["", *(f"- {n}" for n in report.notes)]
    return "\n".join(out)


# -- main ----------------------------------------------------------------------------------------------------------
def server_org_id(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        row = conn.execute("SELECT id FROM organizations WHERE unique_name = ?", (ORG,)).fetchone()
    if row is None:
        raise RuntimeError(f"organization {ORG!r} not found in {db}")
    return str(row[0])


def account_count(db: Path, org_id: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return int(conn.execute("SELECT count(*) FROM dv_account WHERE orgid = ?", (org_id,)).fetchone()[0])


def bench(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    from d365local.store.engine import create_database_engine

    rows: int = args.rows
    profiler = Profiler(args.profile, report)
    data_dir = workdir / "data"
    wrk = None if args.httpx else shutil.which("wrk")
    report.settings["generator"] = "wrk" if wrk else "httpx (asyncio)"
    with running_server(data_dir, workdir / "serve.log", args.serve_arg) as server:
        base = server.wait_ready()
        pid = server.process.pid
        print(f"… server ready at {base} (pid {pid})", file=sys.stderr, flush=True)

        @contextlib.contextmanager
        def phase(name: str, profile: bool = True) -> Iterator[None]:
            print(f"… {name}", file=sys.stderr, flush=True)
            with contextlib.ExitStack() as stack:
                if profile:
                    stack.enter_context(profiler.phase(name, pid))
                stack.enter_context(cpu_window(report, name, pid))
                yield

        try:
            cli(data_dir, "org", "throttling", "--org", ORG, "--off")
            credentials = read_credentials(data_dir / "credentials.env")
            verify = ssl.create_default_context(cafile=credentials["SSL_CERT_FILE"])
            db = data_dir / "d365local.db"
            org_id = server_org_id(db)
            existing = account_count(db, org_id)
            with httpx.Client(verify=verify, timeout=REQUEST_TIMEOUT) as client:
                with phase(f"2. CreateMultiple seeding of {rows} accounts"):
                    token = get_token(client, credentials)
                    report.seed, ids = seed_webapi(client, base, token, rows, pid, SEED_DEADLINE_S)
                with phase("2. raw SQLAlchemy Core insert", profile=False):
                    report.raw = raw_insert(workdir, report.seed.rows, RAW_DEADLINE_S)
                total = existing + report.seed.rows

                with phase("1. GET by id"):
                    token = get_token(client, credentials)
                    report.get = get_by_id(wrk, base, token, ids, args.get_seconds, pid, verify, workdir)

                with phase("3. $filter/$orderby/$top query"):
                    token = get_token(client, credentials)
                    latencies, per_response = run_query(client, base, token, args.query_requests, QUERY_DEADLINE_S)
                engine = create_database_engine(f"sqlite:///{db}")
                try:
                    sql, parameters = _select_sql(engine, QUERY[0], org_id, TOP + 1, 0)
                    report.plans.append(explain(engine, "the query of step 3", sql, parameters))
                    sql_ms = timed_sql(engine, sql, parameters, 20)
                    last_offset = max(0, (math.ceil(total / PAGE_SIZE) - 1) * PAGE_SIZE)
                    sql, parameters = _select_sql(engine, "", org_id, PAGE_SIZE + 1, last_offset)
                    report.plans.append(explain(engine, f"step 4's last page (offset {last_offset})", sql, parameters))
                finally:
                    engine.dispose()
                latencies.sort()
                report.query = QueryResult(
                    requests=len(latencies),
                    seconds=sum(latencies) / 1000,
                    p50_ms=percentile(latencies, 0.5),
                    p99_ms=percentile(latencies, 0.99),
                    mean_ms=statistics.fmean(latencies) if latencies else float("nan"),
                    rows_per_response=per_response,
                    sql_p50_ms=sql_ms,
                )

                with phase(f"4. paging with odata.maxpagesize={PAGE_SIZE}"):
                    token = get_token(client, credentials)
                    report.paging = page_through(client, base, token, total, pid, PAGING_DEADLINE_S)
                if report.paging.rows != total or report.paging.unique_ids != total:
                    report.notes.append(
                        f"paging returned {report.paging.rows} rows ({report.paging.unique_ids} distinct), "
                        f"expected {total}"
                    )
        except BaseException:
            state = "running" if server.process.poll() is None else f"exited with {server.process.returncode}"
            print(f"server {state}; its output ends:\n{server.output_tail()}", file=sys.stderr)
            raise
        errors_5xx = len(re.findall(r" 5\d\d \d+(\.\d+)?ms", server.output_tail(10_000_000)))
        if errors_5xx:
            report.notes.append(f"the server logged {errors_5xx} responses with a 5xx status (see its access log)")
    if existing:
        report.notes.append(f"{existing} accounts existed before seeding (the starter environment)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=None, help="accounts to seed (default 100000; --quick: 10000)")
    parser.add_argument("--quick", action="store_true", help="10,000 rows and shorter runs")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="py-spy the server during seeding, GET and paging; collapsed stacks into DIR, summaries in the report",
    )
    parser.add_argument("--httpx", action="store_true", help="use the httpx load generator even if wrk is present")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the results as JSON to this file")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra argument for d365local serve")
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 10_000 if args.quick else 100_000
    if not BATCH <= args.rows <= 1_000_000:
        parser.error(f"--rows must be between {BATCH} and 1000000")
    args.get_seconds = 3 if args.quick else 10
    args.query_requests = 50 if args.quick else 200
    report = Report(
        machine=machine_info(),
        settings={
            "command": "python bench/webapi.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "rows": args.rows,
            "batch": BATCH,
            "connections": CONNECTIONS,
            "get_seconds": args.get_seconds,
            "query_requests": args.query_requests,
            "workers": " ".join(args.serve_arg) or "default options (1 worker)",
            "serve_args": args.serve_arg,
        },
    )
    with tempfile.TemporaryDirectory(prefix="d365local-webapi-bench-") as temp:
        bench(args, report, Path(temp))
    print(render(report))
    if args.json_out:
        args.json_out.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
