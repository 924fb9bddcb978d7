"""Gateway settings: one object, read from GATEWAY_* environment variables, safe defaults."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
