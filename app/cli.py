"""The `gateway` command. Every command takes --json and then prints exactly one JSON object."""

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit import service as audit
from app.audit.service import AuditEntry
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import is_empty, upgrade_to_head
from app.db.models import ApiKey, Client
from app.errors import GatewayError
from app.settings import ROOT_DIR, Settings, get_settings
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode, Role

T = TypeVar("T")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    click.echo(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode() if as_json else text)


def fail(as_json: bool, code: str, message: str) -> None:
    emit(as_json, {"error": {"code": code, "message": message}}, f"error: {message}")
    sys.exit(1)


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def run_in_session(as_json: bool, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_with_session(get_settings(), work))
    except GatewayError as error:
        fail(as_json, error.code, error.message)
        raise  # unreachable: fail exits


@click.group()
def main() -> None:
    """Smart Gateway: partner data in, validated AMS data out."""


@main.command()
@json_option
def migrate(as_json: bool) -> None:
    """Bring the database schema up to date (Alembic)."""
    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade_to_head(engine)
            await refresh_statistics(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    emit(as_json, {"migrated": True}, "database is up to date")


async def refresh_statistics(engine: AsyncEngine) -> None:
    """PostgreSQL plans joins from table statistics, which a new or just-upgraded database may
    lack (or keep stale while autovacuum is off): plans made without them can be orders of
    magnitude slower. ANALYZE samples a bounded number of rows per table."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))


async def prepare_embedded_database(settings: Settings) -> str | None:
    """Migrate the embedded database; on a brand-new one, create a sandbox client and test key."""
    engine = create_engine(settings.database_url)
    try:
        fresh = await is_empty(engine)
        await upgrade_to_head(engine)
        if not fresh:
            return None
        async with create_session_factory(engine)() as session, session.begin():
            client = await tenancy.create_client(session, "Sandbox")
            created = await tenancy.create_key(session, client.id, KeyMode.TEST)
            return created.secret
    finally:
        await engine.dispose()


@main.command()
@click.option("--host", default=None, help="Interface to bind (GATEWAY_HOST).")
@click.option("--port", default=None, type=int, help="Port (GATEWAY_PORT).")
@json_option
def serve(host: str | None, port: int | None, as_json: bool) -> None:
    """Run the gateway (API, GraphiQL in sandbox, in-process jobs without Redis)."""
    import uvicorn

    from app.asgi import create_app

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    # The sandbox URL and the webhook URLs handed out derive from host and port: use the real ones.
    settings = settings.model_copy(update={"host": host, "port": port})
    first_key = asyncio.run(prepare_embedded_database(settings)) if settings.is_sqlite else None
    base = f"http://{host}:{port}"
    emit(
        as_json,
        {"url": base, "graphql": f"{base}/graphql", "sandbox_test_key": first_key},
        _serve_banner(base, first_key),
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


def _serve_banner(base: str, first_key: str | None) -> str:
    lines = [
        f"Smart Gateway on {base}",
        f"  GraphQL + explorer: {base}/graphql",
        f"  Portal: {base}/portal/",
    ]
    if first_key:
        lines += [
            "  New embedded database: a 'Sandbox' client was created with this test key",
            f"  (shown once, keep it): {first_key}",
        ]
    return "\n".join(lines)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@json_option
def worker(burst: bool, as_json: bool) -> None:
    """Run an arq worker (needs GATEWAY_REDIS_URL)."""
    from arq.worker import Worker

    from workers.arq_worker import drain_on_signals, worker_settings

    settings = get_settings()
    if not settings.redis_url:
        fail(as_json, "redis_required", "Set GATEWAY_REDIS_URL to run a worker.")
    running = Worker(**worker_settings(settings, burst=burst))
    drain_on_signals(running)  # SIGTERM finishes running jobs before stopping
    running.run()
    emit(as_json, {"stopped": True}, "worker stopped")


@main.group()
def clients() -> None:
    """Manage clients."""


def client_defaults_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in (
        click.option(
            "--timezone", help="IANA time zone for offset-less dates, e.g. Europe/Lisbon."
        ),
        click.option("--region", help="Country for national phone numbers, e.g. PT."),
        click.option("--currency", help="ISO 4217 code for prices sent without one, e.g. EUR."),
    ):
        command = option(command)
    return command


def client_json(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "currency": client.default_currency,
        "region": client.default_region,
        "timezone": client.timezone,
    }


@clients.command("create")
@click.argument("name")
@client_defaults_options
@json_option
def clients_create(
    name: str, currency: str | None, region: str | None, timezone: str | None, as_json: bool
) -> None:
    """Create a client (optionally with the defaults raw records need)."""

    async def create(session: AsyncSession) -> Client:
        client = await tenancy.create_client(session, name)
        return await tenancy.configure_client(session, client.id, currency, region, timezone)

    client = run_in_session(as_json, create)
    emit(as_json, client_json(client), f"created client {client.id} ({name})")


@clients.command("configure")
@click.argument("client_id")
@client_defaults_options
@json_option
def clients_configure(
    client_id: str, currency: str | None, region: str | None, timezone: str | None, as_json: bool
) -> None:
    """Set a client's defaults for raw records: currency, phone region, time zone."""
    client = run_in_session(
        as_json,
        lambda session: tenancy.configure_client(session, client_id, currency, region, timezone),
    )
    emit(as_json, client_json(client), f"configured client {client.id}")


@main.group()
def keys() -> None:
    """Manage API keys (secrets are shown once, stored hashed)."""


def _audited(
    operation: str, work: Callable[[AsyncSession], Awaitable[T]], target: str
) -> Callable[[AsyncSession], Awaitable[T]]:
    """The work plus its audit row, in one transaction (the CLI acts as the `cli` role)."""

    async def run(session: AsyncSession) -> T:
        done = await work(session)
        ids = [target, *_ids_of(done)]
        await audit.write(session, [AuditEntry(operation, "ok", "cli", target_ids=ids)])
        return done

    return run


def _ids_of(done: object) -> list[str]:
    key = getattr(done, "key", done)
    return [key.id] if isinstance(key, ApiKey) else []


def _key_json(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    stamps = ("created_at", "last_used_at", "expires_at", "revoked_at")
    return {
        "id": key.id,
        "client_id": key.client_id,
        "mode": key.mode,
        "role": key.role,
        "scopes": key.scopes,
        "prefix": key.prefix,
        "description": key.description,
        "replaced_by": key.replaced_by,
        **{name: _iso(getattr(key, name)) for name in stamps},
        **({"secret": secret} if secret else {}),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _duration(text: str | None) -> timedelta | None:
    """'90d', '12h', '30m' or '45s'."""
    if text is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise click.BadParameter(f"{text!r}: use a number and d, h, m or s, e.g. 90d")
    return timedelta(**{units[unit]: int(number)})


@keys.command("create")
@click.option("--client", "client_id", help="Client id (cli_…); omit with --operator.")
@click.option("--mode", type=click.Choice(["test", "live"]), required=True)
@click.option("--operator", is_flag=True, help="A Digicon operator key (acts on any client).")
@click.option("--scopes", help="Comma-separated scopes; default: all of the role's scopes.")
@click.option("--expires-in", help="e.g. 90d; default: never expires.")
@click.option("--description", help="What the key is for (shown in listings).")
@json_option
def keys_create(
    client_id: str | None,
    mode: str,
    operator: bool,
    scopes: str | None,
    expires_in: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Create an API key and print its secret once."""
    lifetime = _duration(expires_in)
    expires_at = datetime.now(UTC) + lifetime if lifetime else None
    role = Role.OPERATOR if operator else Role.CLIENT
    granted = [scope.strip() for scope in scopes.split(",")] if scopes else None

    def work(session: AsyncSession) -> Awaitable[tenancy.CreatedKey]:
        return tenancy.create_key(
            session, client_id, KeyMode(mode), role, granted, expires_at, description
        )

    created = run_in_session(as_json, _audited("cli.keys.create", work, client_id or "operator"))
    emit(
        as_json,
        _key_json(created.key, created.secret),
        f"created key {created.key.id}\nsecret (shown once): {created.secret}",
    )


@keys.command("list")
@click.option("--client", "client_id", help="Client id (cli_…); omit for operator keys.")
@click.option("--include-revoked", is_flag=True)
@json_option
def keys_list(client_id: str | None, include_revoked: bool, as_json: bool) -> None:
    """List keys (never their secrets), newest first."""
    page = run_in_session(
        as_json,
        lambda session: tenancy.list_keys(session, client_id, 500, None, include_revoked),
    )
    listed = [_key_json(key) for key in page.items]
    lines = [f"{key['id']}  {key['prefix']}  {key['role']}  {key['scopes']}" for key in listed]
    emit(as_json, {"keys": listed}, "\n".join(lines) or "no keys")


@keys.command("revoke")
@click.argument("key_id")
@json_option
def keys_revoke(key_id: str, as_json: bool) -> None:
    """Revoke a key: every request with it fails from now on."""
    key = run_in_session(
        as_json,
        _audited("cli.keys.revoke", lambda session: tenancy.revoke_key(session, key_id), key_id),
    )
    emit(as_json, _key_json(key), f"revoked key {key.id}")


@keys.command("rotate")
@click.argument("key_id")
@click.option("--overlap", help="How long the old key keeps working, e.g. 24h (at most 30d).")
@json_option
def keys_rotate(key_id: str, overlap: str | None, as_json: bool) -> None:
    """Issue a new key with the same client, mode and scopes; the old one stops after --overlap."""
    window = _duration(overlap)
    until = datetime.now(UTC) + window if window else None
    created = run_in_session(
        as_json,
        _audited(
            "cli.keys.rotate",
            lambda session: tenancy.rotate_key(session, key_id, until),
            key_id,
        ),
    )
    emit(
        as_json,
        {**_key_json(created.key, created.secret), "replaces": key_id},
        f"created key {created.key.id} replacing {key_id}\nsecret (shown once): {created.secret}",
    )


@main.group()
def usage() -> None:
    """Metered usage (raw daily counters, for billing)."""


@usage.command("export")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--client", "client_id", help="One client (cli_…); default: every client.")
@json_option
def usage_export(first: datetime, last: datetime, client_id: str | None, as_json: bool) -> None:
    """Print daily counters as CSV (day, client_id, mode, metric, value), both days inclusive."""
    from app.usage.service import as_csv, usage_between

    rows = run_in_session(
        as_json,
        lambda session: usage_between(session, client_id, None, first.date(), last.date()),
    )
    listed = [
        {
            "day": r.day,
            "client_id": r.client_id,
            "livemode": r.livemode,
            "metric": r.metric,
            "value": r.value,
        }
        for r in rows
    ]
    emit(as_json, {"usage": listed}, as_csv(rows).rstrip("\n"))


@main.group()
def secrets() -> None:
    """Secrets at rest (webhook connection secrets, subscriber signing secrets)."""


@secrets.command("reencrypt")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def secrets_reencrypt(batch_size: int, as_json: bool) -> None:
    """Rewrite every stored secret under the newest key of GATEWAY_ENCRYPTION_KEYS (run after
    putting a new key first; safe to repeat and to run beside the gateway). Exits 1 when a
    secret opens with none of the configured keys."""
    from app.secrets_rotation import reencrypt_all

    async def run() -> dict[str, Any]:
        settings = get_settings()
        engine = create_engine(settings.database_url)
        try:
            reports = await reencrypt_all(create_session_factory(engine), settings, batch_size)
        finally:
            await engine.dispose()
        return {name: vars(report) for name, report in reports.items()}

    try:
        tables = asyncio.run(run())
    except GatewayError as error:
        fail(as_json, error.code, error.message)
        return
    lines = [
        f"{name}: {t['rows']} rows, {t['rewritten']} rewritten, {t['current']} already current, "
        f"{t['changed_meanwhile']} changed meanwhile, {len(t['undecryptable'])} undecryptable"
        for name, t in tables.items()
    ]
    emit(as_json, {"tables": tables}, "\n".join(lines))
    if any(t["undecryptable"] for t in tables.values()):
        sys.exit(1)


@main.group()
def contracts() -> None:
    """Published contract files."""


@contracts.command("export")
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=ROOT_DIR,
    help="Repository root to write graphql/ and contracts/ under.",
)
@json_option
def contracts_export(root: Path, as_json: bool) -> None:
    """Regenerate graphql/schema.graphql and contracts/*.schema.json from the code."""
    from app.contracts.export import export_contracts

    written = [str(path) for path in export_contracts(root)]
    emit(as_json, {"written": written}, "\n".join(written) or "contracts are up to date")


if __name__ == "__main__":
    main()
