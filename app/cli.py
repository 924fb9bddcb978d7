"""The `gateway` command. Every command takes --json and then prints exactly one JSON object."""

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import is_empty, upgrade_to_head
from app.db.models import Client
from app.errors import GatewayError
from app.settings import ROOT_DIR, Settings, get_settings
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode

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
        finally:
            await engine.dispose()

    asyncio.run(run())
    emit(as_json, {"migrated": True}, "database is up to date")


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

    from workers.arq_worker import worker_settings

    settings = get_settings()
    if not settings.redis_url:
        fail(as_json, "redis_required", "Set GATEWAY_REDIS_URL to run a worker.")
    Worker(**worker_settings(settings, burst=burst)).run()
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


@keys.command("create")
@click.option("--client", "client_id", required=True, help="Client id (cli_…).")
@click.option("--mode", type=click.Choice(["test", "live"]), required=True)
@json_option
def keys_create(client_id: str, mode: str, as_json: bool) -> None:
    """Create an API key and print its secret once."""
    created = run_in_session(
        as_json, lambda session: tenancy.create_key(session, client_id, KeyMode(mode))
    )
    emit(
        as_json,
        {"id": created.key.id, "client_id": client_id, "mode": mode, "secret": created.secret},
        f"created key {created.key.id}\nsecret (shown once): {created.secret}",
    )


@keys.command("revoke")
@click.argument("key_id")
@json_option
def keys_revoke(key_id: str, as_json: bool) -> None:
    """Revoke a key: every request with it fails from now on."""
    key = run_in_session(as_json, lambda session: tenancy.revoke_key(session, key_id))
    revoked_at = key.revoked_at.isoformat() if key.revoked_at else None
    emit(as_json, {"id": key.id, "revoked_at": revoked_at}, f"revoked key {key.id}")


@keys.command("rotate")
@click.argument("key_id")
@json_option
def keys_rotate(key_id: str, as_json: bool) -> None:
    """Issue a new key for the same client and mode, and revoke the old one."""
    created = run_in_session(as_json, lambda session: tenancy.rotate_key(session, key_id))
    emit(
        as_json,
        {"id": created.key.id, "replaces": key_id, "secret": created.secret},
        f"created key {created.key.id} replacing {key_id}\nsecret (shown once): {created.secret}",
    )


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
