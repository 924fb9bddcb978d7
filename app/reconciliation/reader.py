"""Reading a table of the client's base the way the write layer writes it: one request at a time,
paced per base below Airtable's limit (shared through Redis in scale-out), retried on 429, 5xx and
timeouts, through the base's circuit breaker (the client from `app.integrations.routing`).

A full read is one listing of the whole table with only the compared columns: 100 rows per
request, so 10,000 rows take 100 requests, ~20 s at 5 requests/s. A sample reads only its own
rows, found by External ID in chunks (a formula per request, kept well under the URL limit).
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.ams.pacing import Pacer
from app.integrations.airtable import AirtableClient, AirtableRecord, RecordPage
from app.integrations.circuit import airtable_retrying
from app.integrations.errors import AmsRequestError
from app.settings import Settings

RATE_LIMITED = 429
IDS_PER_FORMULA = 99  # OR() takes at most 99 arguments; ~4,500 characters of URL


@dataclass
class TableReader:
    airtable: AirtableClient
    base_id: str
    table: str
    fields: Sequence[str]
    pacer: Pacer
    settings: Settings
    on_request: Callable[[], None] = lambda: None

    async def all(self, formula: str | None = None) -> list[AirtableRecord]:
        rows: list[AirtableRecord] = []
        offset: str | None = None
        while True:
            page = await self._page(offset, formula)
            rows += page.records
            if not page.offset:
                return rows
            offset = page.offset

    async def by_external_ids(self, external_ids: Sequence[str]) -> list[AirtableRecord]:
        from pyairtable.formulas import EQ, OR, Field  # the client library loads on first use

        rows: list[AirtableRecord] = []
        unique = sorted(set(external_ids))
        for start in range(0, len(unique), IDS_PER_FORMULA):
            chunk = unique[start : start + IDS_PER_FORMULA]
            formula = OR(*(EQ(Field("External ID"), external_id) for external_id in chunk))
            rows += await self.all(str(formula))
        return rows

    async def _page(self, offset: str | None, formula: str | None) -> RecordPage:
        async for attempt in airtable_retrying(self.settings):
            with attempt:
                return await self._request(offset, formula)
        raise AssertionError("unreachable: tenacity reraises")

    async def _request(self, offset: str | None, formula: str | None) -> RecordPage:
        await self.pacer.acquire(self.base_id)
        self.on_request()
        try:
            return await asyncio.to_thread(
                self.airtable.list_page, self.base_id, self.table, self.fields, offset, formula
            )
        except AmsRequestError as error:
            if error.status == RATE_LIMITED:
                await self.pacer.penalise(self.base_id, self.settings.ams_airtable_penalty_seconds)
            raise
