"""Private services and measuring instruments for tests/bench/load_mixed.py: a fresh PostgreSQL
database, a redis-server of its own, an RSS / load-average sampler and a Prometheus text reader.
Nothing here touches the shared test database or Redis."""

from __future__ import annotations

import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------- services
from deploy.local.scratch import RedisServer, admin_dsn, create_database, drop_database

__all__ = ["RedisServer", "admin_dsn", "create_database", "drop_database"]


# --------------------------------------------------------------------------- statistics


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(seconds: list[float]) -> dict[str, float | int]:
    ms = [value * 1000.0 for value in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else math.nan,
    }


# --------------------------------------------------------------------------- Prometheus text

# label values may hold braces (operation="GET /jobs/{id}"): a quoted value is skipped whole
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        found = _SAMPLE.match(line)
        if found and not line.startswith("#"):
            labels = dict(_LABEL.findall(found.group(2) or ""))
            samples.append((found.group(1), labels, float(found.group(3))))
    return samples


def histogram_buckets(
    samples: list[tuple[str, dict[str, str], float]], name: str
) -> dict[float, float]:
    """Cumulative bucket counts of histogram `name`, summed over every label set."""
    buckets: dict[float, float] = {}
    for metric, labels, value in samples:
        if metric == f"{name}_bucket":
            bound = math.inf if labels["le"] in ("+Inf", "inf") else float(labels["le"])
            buckets[bound] = buckets.get(bound, 0.0) + value
    return buckets


def histogram_quantile(buckets: dict[float, float], quantile: float) -> float:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket that holds it."""
    if not buckets or buckets.get(math.inf, 0.0) == 0:
        return math.nan
    total = buckets[math.inf]
    rank = quantile * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in sorted(buckets):
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            fraction = (rank - lower_count) / width if width else 1.0
            return lower_bound + (bound - lower_bound) * fraction
        lower_bound, lower_count = bound, count
    return lower_bound


def counter_sum(
    samples: list[tuple[str, dict[str, str], float]], name: str, group_by: str
) -> dict[str, float]:
    sums: dict[str, float] = {}
    for metric, labels, value in samples:
        if metric in (name, f"{name}_total"):
            key = labels.get(group_by, "")
            sums[key] = sums.get(key, 0.0) + value
    return sums


# --------------------------------------------------------------------------- process memory


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


@dataclass
class Sampler:
    """Every `interval` s: VmRSS of each named process and the load average, in a background
    thread. (A process's children are not added: the gateway processes are the load generator's
    children.)"""

    processes: dict[str, int]
    interval: float = 10.0
    samples: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        row: dict[str, Any] = {"t": time.time(), "load1": os.getloadavg()[0], "rss_mb": {}}
        for name, pid in self.processes.items():
            value = rss_mb(pid)
            if value is not None:
                row["rss_mb"][name] = value
        self.samples.append(row)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()

    def memory_report(self, growth_limit: float = 0.10) -> dict[str, Any]:
        """Per process: first/last/max RSS and the change between the mean of the first and the
        mean of the last third of the samples, flagged beyond `growth_limit`."""
        report: dict[str, Any] = {}
        for name in self.processes:
            series = [row["rss_mb"][name] for row in self.samples if name in row["rss_mb"]]
            if len(series) < 3:
                report[name] = {"samples": len(series), "flag": "too few samples"}
                continue
            third = len(series) // 3
            first, last = series[:third], series[-third:]
            growth = (sum(last) / len(last)) / (sum(first) / len(first)) - 1.0
            report[name] = {
                "samples": len(series),
                "first_mb": series[0],
                "last_mb": series[-1],
                "max_mb": max(series),
                "growth_first_to_last_third": round(growth, 4),
                "flag": "GROWTH > 10%" if growth > growth_limit else "ok",
            }
        return report

    def load_report(self) -> dict[str, float]:
        loads = [row["load1"] for row in self.samples]
        return {
            "min": round(min(loads), 2),
            "mean": round(sum(loads) / len(loads), 2),
            "max": round(max(loads), 2),
        }
