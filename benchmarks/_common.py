"""Small helpers shared by the benchmarks: JSON lines, median timing, peak memory, peer versions."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any


def emit(record: dict[str, Any]) -> None:
    """Print one JSON line (the benchmarks' only output on stdout)."""
    print(json.dumps(record, ensure_ascii=False), flush=True)


def median_time(fn: Callable[[], Any], *, repeats: int = 3) -> tuple[float, list[float], Any]:
    """Run `fn` `repeats` times; return the median wall time, every time, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_average() -> float:
    """One-minute load average: other work on the machine skews timings."""
    return round(os.getloadavg()[0], 2)


def tool_version(command: list[str]) -> str | None:
    """First line a peer tool prints for its version, or None when it is not installed."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0]
