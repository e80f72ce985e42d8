"""What both benchmarks need: a clean environment for `serve`, process trees and CPU accounting, percentiles,
wrk's latency units, tool versions."""

from __future__ import annotations

import os
import re
import resource
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from d365local.credentials_file import read_credentials

CLK_TCK = os.sysconf("SC_CLK_TCK")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
"""wrk's duration and latency units, in milliseconds."""

__all__ = [
    "CLK_TCK",
    "UNITS_MS",
    "WrkSummary",
    "children_cpu_s",
    "clean_environment",
    "descendants",
    "latency_ms",
    "machine_busy_s",
    "parse_wrk_summary",
    "percentile",
    "read_credentials",
    "tool_version",
]


def clean_environment() -> dict[str, str]:
    """No pre-set credentials or CA bundles: serve must make its own starter app."""
    drop = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "REGION_NAME")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("AZURE_", "D365LOCAL_"))}


def descendants(pid: int) -> list[int]:
    """``pid`` and all its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def machine_busy_s() -> float:
    """CPU seconds all cores have spent not idle since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def latency_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "?"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "?"


@dataclass(frozen=True)
class WrkSummary:
    """What a wrk run printed: totals, rate, latency percentiles (needs ``--latency``) and failures."""

    duration_s: float
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    non_200: int
    """The larger of wrk's own non-2xx/3xx count and a Lua ``non200 N`` line."""
    socket_errors: int


def parse_wrk_summary(output: str) -> WrkSummary:
    def grab(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{output}")
        return match

    done = grab(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non200 = re.search(r"^non200 (\d+)", output, re.MULTILINE)
    return WrkSummary(
        duration_s=float(done.group(2)) * UNITS_MS[done.group(3)] / 1000,
        requests=int(done.group(1)),
        rate=float(grab(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=latency_ms(grab(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=latency_ms(grab(r"^\s+99%\s+(\S+)").group(1)),
        non_200=max(int(non200.group(1)) if non200 else 0, int(non2xx.group(1)) if non2xx else 0),
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )
