"""Gateway settings: one object, read from GATEWAY_* environment variables, safe defaults."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parent.parent


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

    job_chunk_size: int = Field(default=2000, ge=1, description="Records per worker transaction.")
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_max_attempts: int = Field(default=5, ge=1)
    job_redispatch_after_seconds: float = Field(
        default=30.0, gt=0, description="A QUEUED job not picked up by then is dispatched again."
    )
    sweeper_interval_seconds: float = Field(default=10.0, gt=0)
    inprocess_workers: int = Field(default=1, ge=1)

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
    airtable_api_token: SecretStr | None = Field(
        default=None, description="Airtable token the live AMS writes use."
    )
    drive_service_account_file: Path | None = Field(
        default=None, description="Service-account JSON key the live Drive writes use."
    )
    ams_service_group_email: str = Field(
        default="ams-service@digicon.example",
        description="Digicon's service group: writer on every client's AMS Drive folders.",
    )

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
