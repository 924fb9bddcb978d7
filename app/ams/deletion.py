"""Deleting rows from a client's AMS base (erasure): 10 records per request, paced per base and
retried on 429, 5xx and timeouts like every write (app.integrations.circuit; an open circuit is
not waited out: the erasure stops at this step and resumes later). A row that is already gone
(deleted by hand in Airtable, or by an earlier try that lost its answer) is skipped, not counted:
Airtable answers a batch holding one missing id with 422 ROW_DOES_NOT_EXIST for the whole batch,
so such a batch is split into single deletes.

pyairtable is synchronous: each request runs in a worker thread.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.ams.fieldmap import table_maps
from app.ams.pacing import Pacer, make_pacer
from app.contracts.entities import Entity
from app.integrations.airtable import AirtableClient
from app.integrations.circuit import airtable_retrying
from app.integrations.errors import AmsRequestError
from app.integrations.routing import ams_for
from app.settings import Settings
from app.tenancy.models import Tenant

MAX_RECORDS_PER_REQUEST = 10
RATE_LIMITED = 429
ROW_DOES_NOT_EXIST = "ROW_DOES_NOT_EXIST"


@dataclass(frozen=True)
class AmsTable:
    base_id: str
    table: str


def entity_table(
    settings: Settings, config: dict[str, Any], base_id: str, entity: Entity
) -> AmsTable:
    """Where an entity's rows live in a provisioned base (the AMS config may rename tables)."""
    name = table_maps(settings.contracts_dir)[entity].table
    tables: dict[str, str] = config.get("server", {}).get("airtable", {}).get("tables", {})
    return AmsTable(base_id, tables.get(name, name))


@dataclass
class RowDeleter:
    airtable: AirtableClient
    target: AmsTable
    pacer: Pacer
    settings: Settings

    async def delete(self, record_ids: Sequence[str]) -> int:
        """How many of the rows were deleted now."""
        removed = 0
        for start in range(0, len(record_ids), MAX_RECORDS_PER_REQUEST):
            removed += await self._delete_batch(record_ids[start : start + MAX_RECORDS_PER_REQUEST])
        return removed

    async def _delete_batch(self, batch: Sequence[str]) -> int:
        try:
            return len(await self._send(batch))
        except AmsRequestError as error:
            if error.error_type != ROW_DOES_NOT_EXIST:
                raise
        if len(batch) == 1:
            return 0  # already gone: nothing was deleted now
        return sum([await self._delete_batch([record_id]) for record_id in batch])

    async def _send(self, batch: Sequence[str]) -> list[str]:
        async for attempt in airtable_retrying(self.settings):
            with attempt:
                return await self._delete(batch)
        raise AssertionError("unreachable: tenacity reraises")

    async def _delete(self, batch: Sequence[str]) -> list[str]:
        base_id = self.target.base_id
        await self.pacer.acquire(base_id)
        try:
            return await asyncio.to_thread(
                self.airtable.batch_delete, base_id, self.target.table, list(batch)
            )
        except AmsRequestError as error:
            if error.status == RATE_LIMITED:
                await self.pacer.penalise(base_id, self.settings.ams_airtable_penalty_seconds)
            raise


async def delete_rows(
    settings: Settings, tenant: Tenant, target: AmsTable, record_ids: Sequence[str]
) -> int:
    """Delete the rows from the tenant's AMS (test mode: the sandbox) through the write layer's
    client and pacing; returns how many were deleted (rows already gone are not counted)."""
    if not record_ids:
        return 0
    pacer = make_pacer(settings)
    try:
        deleter = RowDeleter(ams_for(tenant, settings).airtable, target, pacer, settings)
        return await deleter.delete(record_ids)
    finally:
        await pacer.close()
