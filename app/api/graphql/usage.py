"""Metered usage: a client's own (viewer.usage) and, for operators, any client's."""

from datetime import date, timedelta
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.db.engine import reading
from app.errors import GatewayError
from app.tenancy import policy
from app.usage import service as usage
from app.usage.models import UsageDaily

MAX_DAYS = 366


@strawberry.type(description="One metered quantity on one UTC day.")
class UsageCount:
    day: date
    client_id: str
    livemode: bool
    metric: str = strawberry.field(
        description="api_calls.graphql|rest|webhook, records.received|processed|quarantined, "
        "ams.writes, drive.bytes_stored, webhooks.delivered."
    )
    value: float = strawberry.field(
        description="A whole number (Float because byte counts outgrow GraphQL's 32-bit Int)."
    )

    @classmethod
    def from_row(cls, row: UsageDaily) -> "UsageCount":
        return cls(
            day=date.fromisoformat(row.day),
            client_id=row.client_id,
            livemode=row.livemode,
            metric=row.metric,
            value=float(row.value),
        )


def _checked_range(first: date, last: date) -> None:
    if last < first or last - first > timedelta(days=MAX_DAYS):
        raise GatewayError(
            "invalid_date_range", f"'to' is on or after 'from', at most {MAX_DAYS} days later."
        )


async def usage_counts(
    info: Info, client_id: str | None, livemode: bool | None, first: date, last: date
) -> list[UsageCount]:
    _checked_range(first, last)
    async with reading(info.context.services.sessions) as session:
        rows = await usage.usage_between(session, client_id, livemode, first, last)
    return [UsageCount.from_row(row) for row in rows]


@strawberry.type
class UsageQuery:
    @strawberry.field(
        permission_classes=[allowed(policy.READ_USAGE)],
        description="Operators: metered usage per client and day (every client when clientId "
        "is null); counts are written every few seconds, job counts when the job finishes.",
    )
    async def usage_report(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        client_id: strawberry.ID | None = None,
    ) -> list[UsageCount]:
        owner = str(client_id) if client_id is not None else None
        return await usage_counts(info, owner, None, from_, to)
