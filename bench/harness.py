"""What both benchmarks need: a clean environment for `serve`, process trees and CPU accounting, percentiles,
wrk's latency units, tool versions."""

from __future__ import annotations

import os
import re
import resource
import subprocess
from collections.abc import Sequence
from pathlib import Path

from d365local.credentials_file import read_credentials

CLK_TCK = os.sysconf("SC_CLK_TCK")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
"""wrk's duration and latency units, in milliseconds."""

__all__ = [
    "CLK_TCK",
    "UNITS_MS",
    "children_cpu_s",
    "clean_environment",
    "descendants",
    "latency_ms",
    "machine_busy_s",
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
