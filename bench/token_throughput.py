"""Client-credentials token throughput of ``d365local serve``, against the machine's signing rate and a Node mock.

Drives ``POST /{tenant}/oauth2/v2.0/token`` (grant_type=client_credentials with a real client_secret, so secret
validation is on) over 8 keep-alive connections against ``d365local serve`` with 1 and 2 workers, over plain HTTP
and HTTPS, and reports tokens/s with p50/p99 latency. In the same run it measures this machine's raw RS256 signing
rate with PyJWT on the claims of a token the server issued (one process; × cores is the physical limit) and, when
``node``/``npm`` are present, ``oauth2-mock-server@8.2.3`` under the identical load over plain HTTP. It also records
each server's time to its ready line, its resident memory after the load and the CPU time it spent.

The load generator is ``wrk`` (cheap in C; the machine may have only 2 cores, shared with the server); without it, an
asyncio + httpx generator with the same 8 keep-alive connections. Every server is started and stopped here, on
loopback only, and every wait is bounded.

    python bench/token_throughput.py [--duration 10] [--quick] [--json-out result.json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import queue
import re
import shlex
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

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

CONNECTIONS = 8
WRK_THREADS = 2
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
MOCK_PACKAGE = "oauth2-mock-server@8.2.3"
MOCK_READY = re.compile(r"OAuth 2 server listening on http://\S+:(\d+)")
D365_READY = "d365local ready at "
GOAL_VS_MOCK = 1.5
GOAL_VS_SIGNING = 0.60
GOAL_READY_S = 2.0
SIGNING_ROUNDS = 5


# -- results -------------------------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    generator: str
    duration_s: float
    requests: int
    tokens_per_s: float
    p50_ms: float
    p99_ms: float
    non_200: int
    socket_errors: int
    loadgen_cpu_s: float


@dataclass
class ProcessSample:
    rss_kb: int
    cpu_s: dict[int, float]
    """user + system CPU seconds of each process"""


@dataclass
class RunResult:
    name: str
    server: str
    scheme: str
    workers: int
    ready_s: float | None = None
    load: LoadResult | None = None
    rss_mb: float | None = None
    processes: int | None = None
    server_cpu_s: float | None = None
    server_cpu_ms_per_token: float | None = None
    other_cores: float | None = None
    """cores busy with anything but the server and the load generator during the measured load (other processes)"""
    cpu_s_by_process: list[float] = field(default_factory=list)
    """CPU seconds each busy server process spent under load (with 2 workers: how evenly the load was spread)"""
    skipped: str | None = None


@dataclass
class SigningResult:
    seconds: float
    signatures: int
    per_s_one_process: float
    """the median of the rounds"""
    rounds_per_s: list[float]
    cores: int
    per_s_all_cores: float
    token_bytes: int
    other_cores: float
    """cores busy with other processes meanwhile"""


@dataclass
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)
    signing: SigningResult | None = None
    restart_ready_s: float | None = None
    goals: dict[str, Any] = field(default_factory=dict)


# -- processes -----------------------------------------------------------------------------------------------------
class Server:
    """A child process whose stdout is pumped into a queue (so it never blocks) and stderr goes to a file."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log: TextIO = log_path.open("w", encoding="utf-8")
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                list(argv), stdout=subprocess.PIPE, stderr=self._log, text=True, env=env, start_new_session=True
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

    def wait_for(self, pattern: re.Pattern[str], timeout: float = READY_TIMEOUT) -> tuple[re.Match[str], float]:
        """The first stdout line matching ``pattern`` and the seconds since spawn; raises if none comes in time."""
        deadline = self.started + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.process.poll() is not None and self.lines.empty()):
                raise RuntimeError(f"{self.process.args!r} did not become ready:\n{self.output_tail()}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            self.seen.append(line)
            match = pattern.search(line)
            if match:
                return match, time.monotonic() - self.started

    def output_tail(self, limit: int = 4000) -> str:
        self._log.flush()
        stderr = self.log_path.read_text(encoding="utf-8", errors="replace")[-limit:]
        return "".join(self.seen)[-limit:] + stderr

    def stop(self) -> None:
        """terminate, wait; kill on timeout. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, 9)  # the server and its workers, all started here
                self.process.wait(timeout=STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


@contextlib.contextmanager
def running(argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(argv, log_path, env)
    try:
        yield server
    finally:
        server.stop()


def sample(pid: int) -> ProcessSample:
    """VmRSS (kB) summed over ``pid`` and its descendants, and the CPU seconds of each."""
    rss, cpu = 0, {}
    for p in descendants(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        rss += int(match.group(1)) if match else 0
        cpu[p] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)
    return ProcessSample(rss, cpu)


# -- load generators -------------------------------------------------------------------------------------------------
_LUA = """
wrk.method = "POST"
wrk.body = "{body}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0 end
function response(status, headers, body) if status ~= 200 then non200 = non200 + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("non200") end
  io.write(string.format("non200 %d\\n", total))
end
"""


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    print("wrk is missing; installing the Debian package (running as root)", file=sys.stderr)
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=300, check=False)
    return shutil.which("wrk")


def lua_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def parse_wrk(output: str, cpu_s: float) -> LoadResult:
    summary = parse_wrk_summary(output)
    return LoadResult(
        generator="wrk",
        duration_s=summary.duration_s,
        requests=summary.requests,
        tokens_per_s=summary.rate,
        p50_ms=summary.p50_ms,
        p99_ms=summary.p99_ms,
        non_200=summary.non_200,
        socket_errors=summary.socket_errors,
        loadgen_cpu_s=cpu_s,
    )


def run_wrk(wrk: str, url: str, body: str, duration: float, workdir: Path) -> LoadResult:
    script = workdir / "token.lua"
    script.write_text(_LUA.format(body=lua_string(body)), encoding="utf-8")
    seconds = max(1, round(duration))
    argv = [wrk, "-c", str(CONNECTIONS), "-t", str(WRK_THREADS), "-d", f"{seconds}s", "--timeout", "10s"]
    before = children_cpu_s()
    done = subprocess.run(
        [*argv, "--latency", "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout + done.stderr, children_cpu_s() - before)


async def _httpx_load(
    url: str, body: str, duration: float, verify: ssl.SSLContext | bool
) -> tuple[list[float], int, int]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    latencies: list[float] = []
    counts = {"non200": 0, "errors": 0}
    async with httpx.AsyncClient(verify=verify, limits=limits, timeout=10.0) as client:
        deadline = time.monotonic() + duration

        async def worker() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    counts["errors"] += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    counts["non200"] += 1

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return latencies, counts["non200"], counts["errors"]


def run_httpx(url: str, body: str, duration: float, verify: ssl.SSLContext | bool) -> LoadResult:
    started = time.monotonic()
    cpu_before = time.process_time()
    latencies, non200, errors = asyncio.run(_httpx_load(url, body, duration, verify))
    elapsed = time.monotonic() - started
    latencies.sort()
    return LoadResult(
        generator="httpx",
        duration_s=elapsed,
        requests=len(latencies),
        tokens_per_s=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        non_200=non200,
        socket_errors=errors,
        loadgen_cpu_s=time.process_time() - cpu_before,
    )


class Load:
    """The chosen generator: a short warm-up, then the measured run."""

    def __init__(self, wrk: str | None, duration: float, workdir: Path) -> None:
        self.wrk = wrk
        self.duration = duration
        self.workdir = workdir

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "httpx (asyncio)"

    def warm_up(self, url: str, body: str, verify: ssl.SSLContext | bool) -> None:
        self._run(url, body, verify, 1.0)

    def measure(self, url: str, body: str, verify: ssl.SSLContext | bool) -> LoadResult:
        return self._run(url, body, verify, self.duration)

    def _run(self, url: str, body: str, verify: ssl.SSLContext | bool, duration: float) -> LoadResult:
        if self.wrk:
            return run_wrk(self.wrk, url, body, duration, self.workdir)
        return run_httpx(url, body, duration, verify)


def measure_server(result: RunResult, pid: int, load: Load, url: str, body: str, verify: ssl.SSLContext | bool) -> None:
    """Warm up, then the measured load with the server's CPU time around it, then its memory."""
    load.warm_up(url, body, verify)
    before, busy_before = sample(pid), machine_busy_s()
    result.load = load.measure(url, body, verify)
    after, busy = sample(pid), machine_busy_s() - busy_before
    result.rss_mb = after.rss_kb / 1024
    result.processes = len(after.cpu_s)
    spent = {p: cpu - before.cpu_s.get(p, 0.0) for p, cpu in after.cpu_s.items()}
    result.server_cpu_s = sum(spent.values())
    result.cpu_s_by_process = sorted((round(v, 2) for v in spent.values() if v >= 0.01), reverse=True)
    if result.load.requests:
        result.server_cpu_ms_per_token = 1000 * result.server_cpu_s / result.load.requests
    others = busy - result.server_cpu_s - result.load.loadgen_cpu_s
    result.other_cores = max(0.0, others / result.load.duration_s)


# -- d365local -------------------------------------------------------------------------------------------------------
def token_form(credentials: dict[str, str]) -> str:
    return urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": credentials["AZURE_CLIENT_ID"],
            "client_secret": credentials["AZURE_CLIENT_SECRET"],
            "scope": f"{credentials['DATAVERSE_URL']}/.default",
        }
    )


def loopback(url: str) -> str:
    """The same URL on 127.0.0.1 (``localhost`` may resolve to ::1 first; both are served)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))


def sanity_token(url: str, body: str, verify: ssl.SSLContext | bool) -> str:
    response = httpx.post(
        url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, verify=verify, timeout=10.0
    )
    if response.status_code != 200 or "access_token" not in response.json():
        raise RuntimeError(f"token request failed: {response.status_code} {response.text[:500]}")
    token: str = response.json()["access_token"]
    return token


@dataclass(frozen=True)
class ServeCommand:
    """How to run d365local's CLI, and extra ``serve`` arguments."""

    cli: tuple[str, ...] = (sys.executable, "-m", "d365local")
    extra: tuple[str, ...] = ()

    def argv(self, data_dir: Path, workers: int, tls: bool) -> list[str]:
        argv = [*self.cli, "serve", "--port", "0", "--data-dir", str(data_dir), "--workers", str(workers)]
        return [*argv, *([] if tls else ["--no-tls"]), *self.extra]


def bench_d365local(
    workers: int, tls: bool, load: Load, workdir: Path, command: ServeCommand, tokens_out: list[str]
) -> RunResult:
    scheme = "https" if tls else "http"
    result = RunResult(f"d365local {scheme} {workers}w", "d365local", scheme, workers)
    data_dir = workdir / f"d365local-{scheme}-{workers}"
    with running(
        command.argv(data_dir, workers, tls), workdir / f"serve-{scheme}-{workers}.log", clean_environment()
    ) as srv:
        match, result.ready_s = srv.wait_for(re.compile(re.escape(D365_READY) + r"(\S+?),?(\s|$)"))
        credentials = read_credentials(data_dir / "credentials.env")
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=credentials["SSL_CERT_FILE"]) if tls else False
        )
        base = match.group(1)
        path = f"/{credentials['AZURE_TENANT_ID']}/oauth2/v2.0/token"
        body = token_form(credentials)
        tokens_out.append(sanity_token(base + path, body, verify))
        target = (loopback(base) if load.wrk else base) + path
        try:
            measure_server(result, srv.process.pid, load, target, body, verify)
        except RuntimeError as exc:
            state = "running" if srv.process.poll() is None else f"exited with {srv.process.returncode}"
            raise RuntimeError(f"{result.name}: {exc}\nserver {state}; its output ends:\n{srv.output_tail()}") from exc
    return result


def restart_ready(workdir: Path, command: ServeCommand) -> float:
    """Time to ready when the data directory already exists (the first plain-HTTP run's)."""
    data_dir = workdir / "d365local-http-1"
    with running(command.argv(data_dir, 1, False), workdir / "serve-restart.log", clean_environment()) as srv:
        return srv.wait_for(re.compile(re.escape(D365_READY)))[1]


# -- oauth2-mock-server --------------------------------------------------------------------------------------------
def install_mock(workdir: Path) -> tuple[Path | None, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return None, "node/npm not found"
    prefix = workdir / "npm"
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", MOCK_PACKAGE],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "npm install timed out"
    if done.returncode != 0:
        return None, f"npm install failed: {done.stderr.strip()[-300:]}"
    package_dir = prefix / "node_modules" / "oauth2-mock-server"
    package = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    bin_entry = package["bin"] if isinstance(package["bin"], str) else package["bin"]["oauth2-mock-server"]
    return package_dir / bin_entry, f"{package['name']}@{package['version']}, node {tool_version([node, '--version'])}"


def bench_mock(cli: Path, load: Load, workdir: Path, body: str) -> RunResult:
    result = RunResult("oauth2-mock-server http", "oauth2-mock-server", "http", 1)
    node = shutil.which("node") or "node"
    with running([node, str(cli), "-a", "127.0.0.1", "-p", "0"], workdir / "mock.log") as srv:
        match, result.ready_s = srv.wait_for(MOCK_READY)
        url = f"http://127.0.0.1:{match.group(1)}/token"
        sanity_token(url, body, False)
        measure_server(result, srv.process.pid, load, url, body, False)
    return result


# -- raw signing -----------------------------------------------------------------------------------------------------
def claims_of(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header_b64, payload_b64, _ = token.split(".")

    def decode(part: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return value

    return decode(header_b64), decode(payload_b64)


def signing_rate(token: str, seconds: float, cores: int) -> SigningResult:
    """PyJWT RS256 (RSA-2048) on the header and claims of a token the server issued, in this one process."""
    header, claims = claims_of(token)
    headers = {k: v for k, v in header.items() if k != "alg"}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = jwt.encode(claims, key, algorithm="RS256", headers=headers, sort_headers=False)  # warm-up
    rounds: list[float] = []
    total, spent = 0, 0.0
    busy_before, own_before = machine_busy_s(), time.process_time()
    for _ in range(SIGNING_ROUNDS):
        count, started = 0, time.perf_counter()
        deadline = started + seconds / SIGNING_ROUNDS
        while time.perf_counter() < deadline:
            for _ in range(20):
                signed = jwt.encode(claims, key, algorithm="RS256", headers=headers, sort_headers=False)
            count += 20
        elapsed = time.perf_counter() - started
        rounds.append(count / elapsed)
        total, spent = total + count, spent + elapsed
    others = max(0.0, (machine_busy_s() - busy_before - (time.process_time() - own_before)) / spent)
    rate = statistics.median(rounds)
    rounds = [round(r, 1) for r in rounds]
    return SigningResult(spent, total, rate, rounds, cores, rate * cores, len(signed), round(others, 2))


# -- machine and report ----------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
    total = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    wrk = shutil.which("wrk")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(int(total.group(1)) / 1024 / 1024, 1) if total else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": tool_version([wrk, "-v"]) if wrk else None,
        "d365local": source_revision(),
    }


def source_revision() -> str:
    """The git commit of the d365local source this Python imports, ``+dirty`` if its src/ has local changes."""
    root = Path(d365local.__file__).resolve().parents[2]
    head = tool_version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    try:
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        status = ""
    return head + ("+dirty" if status.strip() else "")


def evaluate(report: Report) -> None:
    runs = {r.name: r for r in report.runs if r.load}
    plain = [r for r in runs.values() if r.server == "d365local" and r.scheme == "http"]
    best_plain = max(plain, key=lambda r: r.load.tokens_per_s if r.load else 0.0, default=None)
    mock = runs.get("oauth2-mock-server http")
    goals: dict[str, Any] = {}
    if best_plain and best_plain.load:
        best = best_plain.load.tokens_per_s
        goals["best_plain"] = {"run": best_plain.name, "tokens_per_s": best}
        if mock and mock.load:
            ratio = best / mock.load.tokens_per_s
            goals["vs_mock"] = {"ratio": ratio, "goal": GOAL_VS_MOCK, "met": ratio >= GOAL_VS_MOCK}
        if report.signing:
            share = best / report.signing.per_s_all_cores
            goals["vs_signing"] = {"share": share, "goal": GOAL_VS_SIGNING, "met": share >= GOAL_VS_SIGNING}
    readies = [r.ready_s for r in report.runs if r.server == "d365local" and r.ready_s is not None]
    if readies:
        goals["ready"] = {"max_s": max(readies), "goal_s": GOAL_READY_S, "met": max(readies) < GOAL_READY_S}
    report.goals = goals


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(report: Report) -> str:
    lines = [
        f"{'configuration':<26} {'tokens/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>7} "
        f"{'ready s':>7} {'RSS MB':>7} {'srv CPU ms/tok':>14} {'gen CPU s':>9} {'others':>6}  CPU s by process",
    ]
    for run in report.runs:
        if run.skipped:
            lines.append(f"{run.name:<26} skipped: {run.skipped}")
            continue
        load = run.load
        if load is None:
            lines.append(f"{run.name:<26} no load result")
            continue
        lines.append(
            f"{run.name:<26} {load.tokens_per_s:9.1f} {load.p50_ms:8.2f} {load.p99_ms:8.2f} "
            f"{load.non_200 + load.socket_errors:>7} {_fmt(run.ready_s, '7.2f')} {_fmt(run.rss_mb, '7.1f')} "
            f"{_fmt(run.server_cpu_ms_per_token, '14.3f')} {load.loadgen_cpu_s:9.2f} {_fmt(run.other_cores, '6.2f')}  "
            f"{' + '.join(f'{c:.1f}' for c in run.cpu_s_by_process)}"
        )
    if report.restart_ready_s is not None:
        lines.append(f"d365local restart (existing data dir) ready in {report.restart_ready_s:.2f} s")
    if report.signing:
        s = report.signing
        lines.append(
            f"raw RS256 signing (PyJWT, 1 process, median of {len(s.rounds_per_s)} rounds "
            f"{min(s.rounds_per_s):.0f}–{max(s.rounds_per_s):.0f}): {s.per_s_one_process:.0f}/s; "
            f"× {s.cores} cores = {s.per_s_all_cores:.0f}/s (other processes meanwhile: {s.other_cores:.2f} cores)"
        )
    goals = report.goals
    if "vs_mock" in goals:
        g = goals["vs_mock"]
        lines.append(
            f"goal plain-HTTP ≥ {GOAL_VS_MOCK}× oauth2-mock-server: {g['ratio']:.2f}× ({goals['best_plain']['run']}) "
            f"— {'met' if g['met'] else 'NOT met'}"
        )
    if "vs_signing" in goals:
        g = goals["vs_signing"]
        lines.append(
            f"goal plain-HTTP ≥ {GOAL_VS_SIGNING:.0%} of signing × cores: {g['share']:.0%} "
            f"({goals['best_plain']['run']}) — {'met' if g['met'] else 'NOT met'}"
        )
    if "ready" in goals:
        g = goals["ready"]
        lines.append(f"goal ready < {GOAL_READY_S} s: slowest {g['max_s']:.2f} s — {'met' if g['met'] else 'NOT met'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load per run (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 s runs")
    parser.add_argument("--json-out", type=Path, default=None, help="write the results as JSON to this file")
    parser.add_argument("--skip-mock", action="store_true", help="do not install or run oauth2-mock-server")
    parser.add_argument("--httpx", action="store_true", help="use the httpx load generator even if wrk is present")
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="extra argument for d365local serve (repeatable)"
    )
    parser.add_argument(
        "--serve-command",
        default=None,
        help="command that runs d365local's CLI, shell-quoted (default: this Python with -m d365local)",
    )
    args = parser.parse_args(argv)
    duration = 3.0 if args.quick else args.duration
    if not 1 <= duration <= 600:
        parser.error("--duration must be between 1 and 600 seconds")

    command = ServeCommand(extra=tuple(args.serve_arg))
    if args.serve_command:
        command = ServeCommand(tuple(shlex.split(args.serve_command)), command.extra)
    wrk = None if args.httpx else ensure_wrk()
    if wrk is None and not args.httpx:
        print("wrk not available: falling back to the asyncio + httpx load generator", file=sys.stderr)
    report = Report(
        machine=machine_info(),
        settings={
            "serve": [*command.cli, "serve", *command.extra],
            "duration_s": duration,
            "connections": CONNECTIONS,
            "wrk_threads": WRK_THREADS if wrk else None,
        },
    )
    with tempfile.TemporaryDirectory(prefix="d365local-bench-") as temp:
        workdir = Path(temp)
        load = Load(wrk, duration, workdir)
        report.settings["generator"] = load.name
        tokens: list[str] = []
        for tls in (False, True):
            for workers in (1, 2):
                name = f"d365local {'https' if tls else 'http'} {workers}w"
                print(f"… {name}", file=sys.stderr, flush=True)
                report.runs.append(bench_d365local(workers, tls, load, workdir, command, tokens))
        report.restart_ready_s = restart_ready(workdir, command)
        if args.skip_mock:
            report.runs.append(
                RunResult("oauth2-mock-server http", "oauth2-mock-server", "http", 1, skipped="--skip-mock")
            )
        else:
            print(f"… {MOCK_PACKAGE}", file=sys.stderr, flush=True)
            cli, note = install_mock(workdir)
            if cli is None:
                print(f"skipping {MOCK_PACKAGE}: {note}", file=sys.stderr)
                report.runs.append(RunResult("oauth2-mock-server http", "oauth2-mock-server", "http", 1, skipped=note))
            else:
                report.settings["mock"] = note
                first = read_credentials(workdir / "d365local-http-1" / "credentials.env")
                report.runs.append(bench_mock(cli, load, workdir, token_form(first)))
        print("… raw RS256 signing", file=sys.stderr, flush=True)
        report.signing = signing_rate(tokens[0], min(duration, 10.0), report.machine["nproc"])
    evaluate(report)
    print(render(report))
    if args.json_out:
        args.json_out.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
