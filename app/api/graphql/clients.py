"""Operators: the list of clients, searchable and paged, each with a cheap summary."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.types import PageInfo
from app.db.engine import reading
from app.provisioning.models import OnboardingStatus
from app.tenancy import client_list
from app.tenancy.models import KeyMode, Principal, Scope
from app.tenancy.policy import Requirement

# Listing every client is an operator's read; client keys see only their own (viewer.client).
LIST_CLIENTS = Requirement(Scope.READ, operators_only=True)


@strawberry.type(
    description="A client as operators see it in the list; the summary counts the data of the "
    "calling key's mode (a TEST operator key sees test jobs and quarantine, a LIVE one live)."
)
class ClientSummary:
    id: strawberry.ID
    name: str
    created_at: datetime
    onboarding_status: OnboardingStatus | None = strawberry.field(
        description="Where the client is in onboarding; null until its AMS is provisioned."
    )
    last_job_at: datetime | None = strawberry.field(
        description="When the client's newest ingest job was created; null without jobs."
    )
    open_quarantine_count: int = strawberry.field(
        description="Quarantined records waiting for a fix, a replay or a discard (OPEN)."
    )

    @classmethod
    def of(cls, summary: client_list.ClientSummary) -> "ClientSummary":
        return cls(
            id=strawberry.ID(summary.client.id),
            name=summary.client.name,
            created_at=summary.client.created_at,
            onboarding_status=(
                OnboardingStatus(summary.onboarding_status) if summary.onboarding_status else None
            ),
            last_job_at=summary.last_job_at,
            open_quarantine_count=summary.open_quarantine_count,
        )


@strawberry.type
class ClientConnection:
    nodes: list[ClientSummary]
    page_info: PageInfo


@strawberry.type
class ClientsQuery:
    @strawberry.field(
        permission_classes=[allowed(LIST_CLIENTS)],
        description="Operators: every client, newest first. `search` keeps the clients whose "
        "name starts with it (any case) or whose id does. Pick one to act on with the "
        "Gateway-Client header.",
    )
    async def clients(
        self, info: Info, first: int = 50, after: str | None = None, search: str | None = None
    ) -> ClientConnection:
        principal: Principal = info.context.principal
        livemode = principal.mode is KeyMode.LIVE
        async with reading(info.context.services.sessions) as session:
            page = await client_list.list_clients(session, livemode, first, after, search)
        return ClientConnection(
            nodes=[ClientSummary.of(summary) for summary in page.items],
            page_info=PageInfo.of(page),
        )
