"""Serving the registry: the /metrics body, and the optional metrics port of a worker process."""

from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from prometheus_client.exposition import choose_encoder

from app.observability.metrics import REGISTRY
from app.settings import Settings


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The registry in the format the scraper asked for (OpenMetrics or the classic text)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY), content_type


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """`gateway worker`: this process's metrics on GATEWAY_METRICS_PORT (bound to GATEWAY_HOST), in
    a daemon thread. Workers expose their own work (ingest outcomes, AMS requests, sync latency,
    deliveries); the database gauges come from the API processes' /metrics. Returns the server
    (None when no port is set), which lives as long as the process."""
    if settings.metrics_port is None or not settings.metrics_enabled:
        return None
    server, _thread = start_http_server(
        settings.metrics_port, addr=settings.host, registry=REGISTRY
    )
    return server
