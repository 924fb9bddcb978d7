"""Prometheus metrics of this process, served at /metrics. Every metric the gateway exposes is
defined here, so names, labels and units stay consistent; the code that does the work imports the
metric it moves. Labels never carry personal data or unbounded values (no record ids, no emails,
no client names or ids): doors, operations named by the schema or the route template, outcomes,
HTTP status codes, Airtable base ids (one per provisioned client, never a name).

Each process counts its own work; Prometheus scrapes every API process at /metrics and every
worker at GATEWAY_METRICS_PORT, and sums them. The database gauges (queue, quarantine, dead
letters, partner connections) are read from the shared database at scrape time, so every process
reports the same value: aggregate them with max(), not sum().
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# --- observability: requests, ingest, AMS, webhooks out, sync latency -------------------------

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SYNC_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

REQUESTS = Counter(
    "gateway_requests",
    "HTTP requests answered, by door (graphql, rest, webhook), operation and status code. "
    "GraphQL operations are named by their root field (e.g. 'mutation ingestProducts'); REST and "
    "webhook operations by their route template.",
    ["door", "operation", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "gateway_request_duration_seconds",
    "Time to answer an HTTP request, by door and operation.",
    ["door", "operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "gateway_graphql_errors",
    "Errors in GraphQL results (answered with HTTP 200), by operation and error code; "
    "internal_error is the gateway's own failure, the other codes are the caller's.",
    ["operation", "code"],
    registry=REGISTRY,
)
INGEST_RECORDS = Counter(
    "gateway_ingest_records",
    "Records processed by ingest jobs, by entity and outcome (valid, quarantined; of the valid: "
    "written, unchanged, stale, held).",
    ["entity", "outcome"],
    registry=REGISTRY,
)
AMS_REQUESTS = Counter(
    "gateway_ams_requests",
    "HTTP requests to Airtable (or the sandbox emulator), by base and status code; code 429 "
    "counts rate-limit refusals, 401/403 credential failures. base is 'meta' for calls that "
    "name no base.",
    ["base", "code"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "gateway_webhook_deliveries",
    "Change-event delivery attempts to subscriber endpoints, by outcome: succeeded, retrying "
    "(failed, another attempt is scheduled), failed (no attempt left: a dead letter).",
    ["outcome"],
    registry=REGISTRY,
)
SYNC_LATENCY = Histogram(
    "gateway_sync_latency_seconds",
    "End to end: from receipt of a record (its ingest job's creation) to its write in the AMS "
    "base, by entity. Rewrites caused by a field-map change alone are not observed.",
    ["entity"],
    buckets=SYNC_BUCKETS,
    registry=REGISTRY,
)

# --- retention (app.retention): what the scheduled purge removed -------------------------------

RETENTION_PURGED = Counter(
    "gateway_retention_purged",
    "Rows the retention purge removed (for webhook notices kept longer than their payload: "
    "payloads emptied), by kind: raw_payload, quarantine, job_detail, audit.",
    ["kind"],
    registry=REGISTRY,
)
RETENTION_RUNS = Counter(
    "gateway_retention_purge_runs",
    "Retention purge runs, by result (ok, failed).",
    ["result"],
    registry=REGISTRY,
)

# --- AMS circuit breaker (app.integrations.circuit): one circuit per Airtable base --------------

AMS_CIRCUIT_STATE = Gauge(
    "gateway_ams_circuit_state",
    "State of this process's circuit breaker for an Airtable base: 0 closed, 1 half-open, "
    "2 open (calls held back after repeated 429s, 5xx or timeouts).",
    ["base"],
    registry=REGISTRY,
)

# --- reconciliation (app.reconciliation): the daily audit of AMS bases against the records -----

RECONCILIATION_MISMATCHES = Gauge(
    "gateway_reconciliation_mismatches",
    "Mismatches the latest reconciliation run of each client found, summed per entity and kind "
    "(missing, extra, duplicate, field), as this process last saw them.",
    ["entity", "kind"],
    registry=REGISTRY,
)
RECONCILIATION_RUNS = Counter(
    "gateway_reconciliation_runs",
    "Reconciliation runs, by entity and result (clean, mismatched, failed).",
    ["entity", "result"],
    registry=REGISTRY,
)
