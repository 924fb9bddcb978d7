"""A sync looks up the attempts and held entries of pages and batches of every size. Each distinct
statement stays in the engine's cache of compiled statements for the life of the worker, so a
statement per number of records (~1 MB each at 100 records) grew the worker's memory for hours;
the lookups compile once whatever the number of records. The SQL text sent still has a
placeholder per value of an IN list, and each distinct text is prepared and kept by the
connection and PostgreSQL: IN lists come in a few lengths only."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from app.ams import rejections, retries
from app.contracts.entities import Entity
from app.services import Services
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import Tenant
from tests.helpers import statements_on

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
RECORDS = 40


def _key(number: int) -> retries.Key:
    return ("shopify" if number % 2 else "woocommerce", f"p{number}")


def _record(number: int) -> Any:
    platform, external_id = _key(number)
    return SimpleNamespace(
        entity="product", source_platform=platform, external_id=external_id, content_hash="h1"
    )


async def test_lookups_of_pages_of_every_size_compile_once(
    services: Services, tenant: Tenant
) -> None:
    scope = TenantScope(tenant.client_id, False)
    failed = {_key(n) for n in range(0, RECORDS, 3)}
    async with services.sessions() as session, session.begin():
        failure = retries.Failure("RETRIABLE_ERROR", "Airtable answered 503 on every try.")
        records = [_record(n) for n in range(0, RECORDS, 3)]
        await retries.count_failures(session, scope, records, failure, services.settings, NOW)

    compiled: dict[Any, Any] = {}
    with statements_on(services, "ams_record_retries", "quarantined_records") as sent:
        for count in range(1, RECORDS + 1):
            keys = [_key(n) for n in range(count)]
            async with services.sessions() as session, session.begin():
                await session.connection(execution_options={"compiled_cache": compiled})
                found = await retries.pending(session, scope, "product", keys)
                assert set(found) == failed & set(keys)
                others = [key for key in keys if key not in failed]
                await rejections.resolve(session, scope, Entity.PRODUCT, others)

    assert len(compiled) == 3  # the attempts read and forgotten, the held entries resolved
    # IN lists of 1, 2, 4, 8, 16 or 32 ids: 1 to 20 per platform read, 1 to 13 not failed
    # forgotten and resolved
    assert len(set(sent)) == 6 + 5 + 5  # distinct SQL texts
    async with services.sessions() as session, session.begin():
        await rejections.resolve(session, scope, Entity.PRODUCT, [_key(0), _key(3)])
        left = await retries.pending(session, scope, "product", [_key(n) for n in range(RECORDS)])
    assert set(left) == failed - {_key(0), _key(3)}  # forgotten: only the records resolved
