"""Shared pieces of the channel benchmark: memory readings, percentiles, reports, stop signal.

Both sides of every measurement (netchan and the TCP baseline) use these, so the two are
measured and reported the same way.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any

import trio

HOST = "127.0.0.1"
MiB = 1024 * 1024


def _status_kib(field: str) -> float | None:
    """A ``kB`` field of /proc/self/status (Linux), or None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident set size so far in MB (VmHWM; ru_maxrss where there is none)."""
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return kib * 1024 / 1e6


def rss_mb() -> float:
    """Current resident set size in MB (VmRSS), for the 'before traffic' baseline."""
    kib = _status_kib("VmRSS")
    if kib is None:
        return peak_rss_mb()
    return kib * 1024 / 1e6


def pct(values: list[float], p: float) -> float:
    """The ``p`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def report(record: dict[str, Any]) -> None:
    """One result as one JSON line on stdout; the orchestrator reads these."""
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def payload_value(size: int, shape: str, fill: bytes = b"x") -> Any:
    """The value sent by both netchan and TCP: ``size`` bytes, plain or in a small dict."""
    data = fill * size
    if shape == "dict":
        return {"seq": 0, "data": data}
    return data


def value_size(value: Any) -> int:
    """Payload bytes in a value made by :func:`payload_value` (the receiver checks them)."""
    if isinstance(value, dict):
        return len(value["data"])
    return len(value)


async def run_until_stdin_closes(scope: trio.CancelScope) -> None:
    """Cancel ``scope`` when stdin reaches EOF.

    The orchestrator stops a serving process by closing its stdin, so the process leaves
    through its normal exit path (a profiler running it gets to write its output); a kill
    stays the fallback after a timeout.
    """
    stream = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    async with stream:
        while await stream.receive_some(4096):
            pass
    scope.cancel()
