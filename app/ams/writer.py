"""Upserting rows into one Airtable table: 10 records per request, paced per base, retried on
429, 5xx and timeouts (an upsert on the merge columns is idempotent, so a retry never makes a
duplicate), and a 422 isolated to the records that cause it by splitting the batch in halves.

pyairtable is synchronous: each request runs in a worker thread.
"""

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from app.ams.pacing import Pacer
from app.integrations.airtable import AirtableClient
from app.integrations.circuit import CircuitOpen, airtable_retrying
from app.integrations.errors import AmsRequestError
from app.settings import Settings

log = structlog.get_logger("gateway.ams")

MAX_RECORDS_PER_REQUEST = 10
RATE_LIMITED = 429
UNPROCESSABLE = 422


@dataclass(frozen=True)
class Row:
    """One record to upsert: `key` identifies it on our side, `cells` are the columns to send."""

    key: tuple[str, str]
    cells: dict[str, Any]
    typecast: bool


@dataclass(frozen=True)
class Rejection:
    key: tuple[str, str]
    error_type: str
    message: str


@dataclass
class BatchResult:
    written: dict[tuple[str, str], str] = field(default_factory=dict)  # key → Airtable record id
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class TableWriter:
    airtable: AirtableClient
    base_id: str
    table: str
    merge_on: Sequence[str]
    pacer: Pacer
    settings: Settings
    on_request: Callable[[], None] = lambda: None

    async def write(self, rows: Sequence[Row]) -> BatchResult:
        """Write up to 10 rows (all with the same typecast); a 422 rejects only its culprits."""
        result = BatchResult()
        try:
            ids = await self._upsert(rows)
        except AmsRequestError as error:
            if error.status != UNPROCESSABLE:
                raise
            if len(rows) == 1:
                message = str(error.message).split(": ", 1)[-1]
                result.rejected.append(Rejection(rows[0].key, error.error_type, message))
                return result
            half = len(rows) // 2
            for part in (rows[:half], rows[half:]):
                found = await self.write(part)
                result.written |= found.written
                result.rejected += found.rejected
            return result
        result.written = dict(zip((row.key for row in rows), ids, strict=True))
        return result

    async def _upsert(self, rows: Sequence[Row]) -> list[str]:
        """429, 5xx and timeouts are retried with backoff and jitter. An open circuit is waited
        out for up to two cool-downs (while another batch probes the base); past that the
        CircuitOpen goes up: the sync stops and its records stay due."""
        assert 0 < len(rows) <= MAX_RECORDS_PER_REQUEST
        patience = 2 * self.settings.ams_circuit_cooldown_seconds
        while True:
            try:
                async for attempt in airtable_retrying(self.settings):
                    with attempt:
                        return await self._send(rows)
            except CircuitOpen as held:
                if held.retry_after > patience:
                    raise
                patience -= held.retry_after
                await asyncio.sleep(held.retry_after * random.uniform(1.0, 1.2))

    async def _send(self, rows: Sequence[Row]) -> list[str]:
        await self.pacer.acquire(self.base_id)
        self.on_request()
        payload = [row.cells for row in rows]
        try:
            upserted = await asyncio.to_thread(
                self.airtable.batch_upsert,
                self.base_id,
                self.table,
                payload,
                list(self.merge_on),
                rows[0].typecast,
            )
        except AmsRequestError as error:
            if error.status == RATE_LIMITED:
                log.warning("ams.rate_limited", base_id=self.base_id)
                await self.pacer.penalise(self.base_id, self.settings.ams_airtable_penalty_seconds)
            raise
        return [record.id for record in upserted.records]
