"""Gateway settings: one object, read from GATEWAY_* environment variables, safe defaults."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parent.parent


class AirtableFault(BaseModel):
    """AMS resilience: one burst of the sandbox Airtable emulator's injected faults — `after`
    clean requests, then `count` requests answered with `kind`."""

    kind: Literal["429", "503", "timeout"]
    count: int = Field(ge=1)
    after: int = Field(default=0, ge=0)
    matching: str | None = Field(
        default=None,
        min_length=1,
        description="Only requests whose body holds this text count (e.g. one record's "
        "External ID): a record that keeps failing while its neighbours go through.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./gateway.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    redis_url: str | None = Field(
        default=None, description="When set, jobs go through arq on Redis; otherwise in-process."
    )
    arq_queue_name: str = "gateway:jobs"
    sandbox_enabled: bool = Field(default=True, description="Serve GraphiQL and the sandbox.")
    sandbox_airtable_requests_per_second: float = Field(
        default=5.0, gt=0, description="Airtable's per-base rate limit, as the sandbox enforces it."
    )
    sandbox_airtable_penalty_seconds: float = Field(
        default=30.0, ge=0, description="After a 429, a base refuses every request this long."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    max_records_per_call: int = Field(default=5000, ge=1)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_bulk_body_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        description="Largest NDJSON bulk import (after gzip decoding); read as a stream.",
    )
    max_bulk_records: int = Field(default=1_000_000, ge=1, description="Records per bulk import.")
    max_record_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest single record as JSON, on every door but webhooks (an NDJSON line "
        "too); assets may be larger by their inline content.",
    )
    bulk_batch_records: int = Field(
        default=1000, ge=1, description="NDJSON lines stored per transaction while streaming."
    )
    upload_idle_timeout_seconds: float = Field(
        default=60.0, gt=0, description="An upload with no bytes for this long is abandoned."
    )

    rate_limit_enabled: bool = Field(default=True, description="Token buckets per API key.")
    rate_limit_burst: int = Field(
        default=200, ge=1, description="Requests one API key may make at once (REST + GraphQL)."
    )
    rate_limit_per_second: float = Field(
        default=50.0, gt=0, description="Requests per second one API key may sustain."
    )
    webhook_rate_limit_burst: int = Field(
        default=4000, ge=1, description="Webhook deliveries one client may receive at once."
    )
    webhook_rate_limit_per_second: float = Field(
        default=2000.0, gt=0, description="Webhook deliveries per second one client may sustain."
    )
    auth_failure_burst: int = Field(
        default=30, ge=1, description="Failed authentications one source address may make at once."
    )
    auth_failure_per_second: float = Field(
        default=0.5, gt=0, description="How fast an address's failed-authentication budget refills."
    )
    rate_limit_override_ttl_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a process caches a client's own limits: a change made with "
        "setRateLimit/clearRateLimit reaches every process within this.",
    )
    graphql_max_tokens: int = Field(
        default=15_000, ge=100, description="Most tokens one GraphQL document may hold."
    )
    graphql_live_introspection: bool = Field(
        default=False, description="Answer introspection queries made with live keys."
    )

    job_chunk_size: int = Field(default=2000, ge=1, description="Records per worker transaction.")
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_max_attempts: int = Field(default=5, ge=1)
    job_redispatch_after_seconds: float = Field(
        default=30.0, gt=0, description="A QUEUED job not picked up by then is dispatched again."
    )
    sweeper_interval_seconds: float = Field(default=10.0, gt=0)
    inprocess_workers: int = Field(default=1, ge=1)

    event_delivery_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A subscriber endpoint must answer within this."
    )
    event_delivery_retry_schedule_seconds: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000],
        description="After a delivery's first attempt (at once) fails: the delay before each "
        "retry, counted from the failure before it, ±10% jitter. When the last retry fails too, "
        "the delivery fails.",
    )
    event_delivery_poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often due retries are looked for."
    )
    event_delivery_concurrency: int = Field(
        default=16, ge=1, description="Deliveries sent at once."
    )

    key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long a process trusts a key it verified (revocations reach every "
        "process within this time; 0 checks the database on every request).",
    )
    audit_retention_days: int = Field(
        default=365, ge=90, description="Audit rows older than this are purged (hourly)."
    )
    # Retention (app.retention): defaults for clients that set no retentionPolicy of their own;
    # docs/data-handling.md quotes these numbers (a contract test keeps them in step).
    retention_raw_payload_days: int = Field(
        default=30, ge=1, le=3650, description="Records as received are purged after this."
    )
    retention_quarantine_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Quarantine entries are purged this long after they last changed.",
    )
    retention_job_detail_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="A finished job's record errors and webhook notices are purged after this "
        "(the job's summary row is kept).",
    )
    retention_purge_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the embedded shape runs the retention purge."
    )
    retention_purge_batch_size: int = Field(
        default=1000, ge=1, description="Rows deleted per transaction by the retention purge."
    )
    # Personal data (app.privacy): erasures whose caller died are finished by the API processes.
    erasure_resume_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often an API process finishes erasure runs left unfinished; a run is "
        "taken over once nobody has touched it for this long.",
    )
    usage_flush_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often per-request usage counts are written."
    )
    audit_flush_interval_seconds: float = Field(
        default=0.5, gt=0, description="How often buffered audit rows are written."
    )

    portal_dist_dir: Path = ROOT_DIR / "portal" / "dist"
    contracts_dir: Path = ROOT_DIR / "contracts"
    sandbox_blob_dir: Path = Field(
        default=Path("./blobs"), description="Where the sandbox Drive keeps uploaded file bytes."
    )

    secret_key: str = Field(
        default="",
        repr=False,
        description="Signs gateway-issued credentials (sandbox tokens). Embedded (SQLite) "
        "default: a random key kept in <database>.secret; elsewhere set GATEWAY_SECRET_KEY.",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys for secrets at rest (connection secrets, "
        "tokens). The first encrypts; all decrypt, so a new key goes first and the old one stays "
        "until every stored secret is re-encrypted. Default: one key derived from the secret key.",
    )
    sandbox_public_url: str | None = Field(
        default=None,
        description="Where the gateway's own sandbox is reachable; default http://{host}:{port}.",
    )
    public_url: str | None = Field(
        default=None,
        description="Where platforms and partners reach the gateway (the webhook URLs it hands "
        "out; the URL HubSpot v3 signs, when behind a proxy); default http://{host}:{port}.",
    )
    webhook_dedupe_seconds: int = Field(
        default=72 * 3600, ge=60, description="How long a webhook delivery/event id is remembered."
    )
    webhook_timestamp_tolerance_seconds: float = Field(
        default=300.0, gt=0, description="Signed webhook timestamps further off are rejected."
    )
    webhook_secret_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long an API process reuses a webhook connection's secrets before reading "
        "them again (a secret replaced without overlap may verify this long in other processes).",
    )
    airtable_api_token: SecretStr | None = Field(
        default=None, description="Airtable token the live AMS writes use."
    )
    drive_service_account_file: Path | None = Field(
        default=None, description="Service-account JSON key the live Drive writes use."
    )
    # --- per-client AMS credentials (app.ams_credentials, app.integrations.routing) ---
    airtable_api_url: str = Field(
        default="https://api.airtable.com",
        description="Where live AMS writes reach Airtable's Web API (pyairtable's endpoint_url).",
    )
    google_api_root_url: str = Field(
        default="https://www.googleapis.com/",
        description="Where live AMS writes reach Google Drive (the discovery document's rootUrl).",
    )
    # --- end per-client AMS credentials ---
    ams_service_group_email: str = Field(
        default="ams-service@digicon.example",
        description="Digicon's service group: writer on every client's AMS Drive folders.",
    )
    ams_airtable_requests_per_second: float = Field(
        default=4.9,
        gt=0,
        description="Pace of requests to one Airtable base, shared by every worker (through "
        "Redis when configured); Airtable allows 5.",
    )
    ams_airtable_penalty_seconds: float = Field(
        default=30.0, ge=0, description="How long a base is left alone after Airtable's 429."
    )
    ams_write_concurrency: int = Field(
        default=3, ge=1, description="Airtable requests one sync keeps in flight (still paced)."
    )
    ams_write_attempts: int = Field(
        default=6, ge=1, description="Tries per Airtable request on 429, 5xx and timeouts."
    )
    # --- AMS resilience (app.integrations.circuit) and the sandbox's fault injector ---
    ams_circuit_failure_threshold: int = Field(
        default=5, ge=1, description="Transient Airtable failures in a row open a base's circuit."
    )
    ams_circuit_cooldown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long an open circuit holds calls to its base back before one probe "
        "(at least Airtable's 30-second 429 penalty).",
    )
    ams_retry_initial_seconds: float = Field(
        default=0.2, gt=0, description="First back-off before retrying a 429, 5xx or timeout."
    )
    ams_retry_max_seconds: float = Field(
        default=10.0, gt=0, description="Longest back-off between two tries (before jitter)."
    )
    ams_airtable_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Read timeout of one Airtable request."
    )
    sandbox_airtable_faults: list[AirtableFault] = Field(
        default_factory=list,
        description="Sandbox only: bursts of faults the Airtable emulator answers with, in order, "
        'as JSON, e.g. [{"after": 100, "kind": "429", "count": 20}] (kinds: 429, 503, timeout).',
    )
    sandbox_airtable_fault_admin: bool = Field(
        default=False,
        description="Sandbox only: serve /sandbox/airtable/_faults, where a test key arms fault "
        "bursts against its own sandbox bases (for fault-injection tests).",
    )
    sandbox_airtable_fault_timeout_seconds: float = Field(
        default=35.0, ge=0, description="How long a 'timeout' fault holds the request."
    )
    # --- end AMS resilience ---
    # --- AMS exhausted retries (app.ams.retries) and the shared breaker (app.integrations) ---
    ams_max_attempts: int = Field(
        default=8,
        ge=1,
        description="Sync attempts per record that fail for a transient reason (Airtable 429s "
        "or 5xx after the per-request retries, timeouts, an open circuit, an asset origin down) "
        "before it is quarantined EXHAUSTED. Attempts are spaced by the sync's backoff "
        "(GATEWAY_AMS_SYNC_REDISPATCH_AFTER_SECONDS doubling, at most 64 times): the default 8 "
        "spans about an hour with the default 30 s.",
    )
    # --- end AMS exhausted retries ---
    ams_sync_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A sync whose worker died is taken over after this (renewed after every "
        "batch; longer than a batch's worst back-off on 429s).",
    )
    ams_sync_redispatch_after_seconds: float = Field(
        default=30.0, gt=0, description="A due AMS sync nobody ran (or that failed) is retried."
    )
    ams_sync_workers: int = Field(
        default=4, ge=1, description="In-process shape: AMS syncs running at once."
    )
    onboarding_max_quarantine_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Onboarding reaches VALIDATED when at most this share of the first sync's "
        "records was quarantined.",
    )
    asset_max_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Largest asset fetched or taken inline."
    )
    asset_fetch_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Each step of an asset download: connect, each read."
    )
    asset_fetch_deadline_seconds: float = Field(
        default=300.0, gt=0, description="A whole asset download, redirects included."
    )
    asset_fetch_max_redirects: int = Field(default=5, ge=0)
    asset_fetch_sandbox_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks that test-mode (sandbox) clients may fetch assets from although "
        'they are not public, as a JSON list (e.g. ["127.0.0.0/8"] for assets served on this '
        "machine). Live clients never get this exemption; the default allows none.",
    )
    asset_resumable_threshold_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1, description="Larger assets go to Drive resumable."
    )
    # --- observability (app.observability): /metrics, /ready, worker metrics port ---
    metrics_enabled: bool = Field(
        default=True, description="Serve Prometheus metrics at /metrics (no key needed)."
    )
    metrics_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description='When set (JSON list, e.g. ["10.0.0.0/8"]), /metrics answers only callers '
        "from these networks (the peer address: put the scraper inside, not behind the load "
        "balancer); others get 404. Empty: anyone who reaches the port.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="`gateway worker`: serve this worker's metrics on this port (one port per "
        "worker process). Unset: workers expose no metrics.",
    )
    metrics_database_refresh_seconds: float = Field(
        default=10.0, ge=0, description="Database gauges (queue, dead letters…) kept this long."
    )
    metrics_dead_letter_window_seconds: float = Field(
        default=86400.0, gt=0, description="Dead letters count when given up on within this window."
    )
    ready_timeout_seconds: float = Field(
        default=2.0, gt=0, description="/ready (and the database gauges): time allowed per check."
    )
    # --- end observability ---
    # --- source address behind a proxy (app.api.source_address) ---
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Proxies (load balancers) in front of the gateway, as a JSON list of "
        'networks (e.g. ["10.0.0.0/8"]). A request from one of them is attributed to the '
        "address it put in X-Forwarded-For (audit log, failed-authentication throttling); "
        "the header is ignored from anyone else. Empty (the default): never read.",
    )
    # --- end source address ---
    # --- reconciliation (app.reconciliation): the daily audit of AMS bases ---
    reconciliation_enabled: bool = Field(
        default=True, description="Audit every synced tenant and entity once per interval."
    )
    reconciliation_interval_seconds: float = Field(
        default=86400.0, gt=0, description="How often each tenant and entity is audited."
    )
    reconciliation_check_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Embedded shape: how often due audits are looked for."
    )
    reconciliation_full: bool = Field(
        default=False, description="Scheduled audits compare every record instead of a sample."
    )
    reconciliation_sample_rate: float = Field(
        default=0.01,
        gt=0,
        le=1,
        description="A sample is large enough to catch this share of differing records…",
    )
    reconciliation_sample_confidence: float = Field(
        default=0.95, gt=0, lt=1, description="…with this probability (see app.reconciliation)."
    )
    # --- end reconciliation ---

    @model_validator(mode="after")
    def _embedded_secret_key(self) -> Self:
        """The embedded shape needs no set-up: without GATEWAY_SECRET_KEY, a random key is kept
        beside the SQLite file (mode 0600), so every process using that database agrees on it.
        Other shapes must set GATEWAY_SECRET_KEY; until they do, sandbox tokens are refused."""
        if not self.secret_key and self.sandbox_enabled and self.sqlite_path is not None:
            self.secret_key = _load_or_create_secret(
                self.sqlite_path.with_name(self.sqlite_path.name + ".secret")
            )
        return self

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if not self.database_url.startswith(prefix) or ":memory:" in self.database_url:
            return None
        return Path(self.database_url.removeprefix(prefix))

    @property
    def sandbox_url(self) -> str:
        """The gateway's base URL as the sandbox clients reach it (no trailing slash)."""
        return (self.sandbox_public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _load_or_create_secret(path: Path) -> str:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32))
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
