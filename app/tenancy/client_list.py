"""Operators' list of clients: a page of clients, then each one's cheap summary (onboarding status,
last job, open quarantine) for the whole page in one statement, so the cost does not grow with
the number of clients on the page."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db.models import Client, IngestJob
from app.errors import FieldError, GatewayError
from app.pagination import Page, newest_first
from app.provisioning.models import AmsProvisioning
from app.quarantine.models import QuarantinedRecord, QuarantineStatus

MAX_SEARCH_LENGTH = 200  # a client name's own limit


@dataclass(frozen=True)
class ClientSummary:
    client: Client
    onboarding_status: str | None
    last_job_at: datetime | None
    open_quarantine_count: int


async def list_clients(
    session: AsyncSession, livemode: bool, first: int, after: str | None, search: str | None
) -> Page[ClientSummary]:
    """Clients newest first, those whose name (any case) or id starts with `search` when given;
    the summaries count the data of one mode (an operator's key mode)."""
    query = select(Client)
    term = (search or "").strip()
    if len(term) > MAX_SEARCH_LENGTH:
        message = f"search is at most {MAX_SEARCH_LENGTH} characters."
        raise GatewayError(
            "invalid_search", message, errors=[FieldError("invalid_search", message, ("search",))]
        )
    if term:
        # Ids are lower case; lowering the term keeps SQLite's case-blind LIKE and PostgreSQL's
        # case-sensitive one in agreement.
        query = query.where(
            or_(
                Client.name.istartswith(term, autoescape=True),
                Client.id.startswith(term.lower(), autoescape=True),
            )
        )
    page = await newest_first(session, query, Client.id, first, after)
    summaries = await _summaries(session, livemode, [client.id for client in page.items])
    items = [
        summaries.get(client.id, ClientSummary(client, None, None, 0)) for client in page.items
    ]
    return Page(items, page.end_cursor, page.has_next_page)


async def _summaries(
    session: AsyncSession, livemode: bool, client_ids: Sequence[str]
) -> dict[str, ClientSummary]:
    if not client_ids:
        return {}
    # The newest job by id (ids are time-ordered): one backward probe of the
    # (client_id, livemode, id) index per client, on PostgreSQL and SQLite alike.
    newest_job_id = (
        select(func.max(IngestJob.id))
        .where(IngestJob.client_id == Client.id, IngestJob.livemode == livemode)
        .correlate(Client)
        .scalar_subquery()
    )
    newest = aliased(IngestJob)
    open_counts = (
        select(QuarantinedRecord.client_id, func.count().label("open"))
        .where(
            QuarantinedRecord.client_id.in_(client_ids),
            QuarantinedRecord.livemode == livemode,
            QuarantinedRecord.status == QuarantineStatus.OPEN.value,
        )
        .group_by(QuarantinedRecord.client_id)
        .subquery()
    )
    query = (
        select(Client, AmsProvisioning.onboarding_status, newest.created_at, open_counts.c.open)
        .outerjoin(
            AmsProvisioning,
            and_(AmsProvisioning.client_id == Client.id, AmsProvisioning.livemode == livemode),
        )
        .outerjoin(newest, newest.id == newest_job_id)
        .outerjoin(open_counts, open_counts.c.client_id == Client.id)
        .where(Client.id.in_(client_ids))
    )
    rows = await session.execute(query)
    return {
        client.id: ClientSummary(client, status, last_job_at, open_count or 0)
        for client, status, last_job_at, open_count in rows
    }
