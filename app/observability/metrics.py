"""Prometheus metrics of this process, served at /metrics. Every metric the gateway exposes is
defined here, so names, labels and units stay consistent; the code that does the work imports the
metric it moves. Labels never carry personal data or unbounded values (no record ids, no emails)."""

from prometheus_client import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=True)
