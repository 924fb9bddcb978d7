"""API key lifecycle for operators: list, create, revoke, rotate with an overlap."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.types import PageInfo, UserError
from app.db.engine import reading
from app.db.models import ApiKey as ApiKeyRow
from app.errors import GatewayError
from app.tenancy import policy
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode, Role

MANAGING_KEYS = [allowed(policy.MANAGE_KEYS)]


@strawberry.type(description="An API key as operators see it; the secret is never shown again.")
class ApiKey:
    id: strawberry.ID
    client_id: str | None = strawberry.field(description="Null for operator keys.")
    mode: KeyMode
    role: Role
    scopes: list[str]
    prefix: str = strawberry.field(description="The key's public part, e.g. gw_live_3f9a0c1b2d4e.")
    description: str | None
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(description="Refreshed at most once a minute.")
    expires_at: datetime | None
    revoked_at: datetime | None = strawberry.field(
        description="When it stops (or stopped) working; a future time is a rotation overlap."
    )
    replaced_by: str | None = strawberry.field(description="The key a rotation issued for it.")

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> "ApiKey":
        return cls(
            id=strawberry.ID(row.id),
            client_id=row.client_id,
            mode=KeyMode(row.mode),
            role=Role(row.role),
            scopes=list(row.scopes),
            prefix=row.prefix,
            description=row.description,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            replaced_by=row.replaced_by,
        )


@strawberry.type
class ApiKeyConnection:
    nodes: list[ApiKey]
    page_info: PageInfo


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None
    errors: list[UserError]


@strawberry.type
class IssuedApiKeyPayload:
    api_key: ApiKey | None
    secret: str | None = strawberry.field(description="Shown once, here; store it now.")
    errors: list[UserError]


@strawberry.input
class CreateApiKeyInput:
    client_id: strawberry.ID
    mode: KeyMode
    scopes: list[str] | None = strawberry.field(
        default=None, description="Default: ingest, read, quarantine:write, admin."
    )
    expires_at: datetime | None = None
    description: str | None = None


@strawberry.input
class RotateApiKeyInput:
    id: strawberry.ID
    previous_key_valid_until: datetime | None = strawberry.field(
        default=None,
        description="The old key keeps working until then (at most 30 days); null: stops now.",
    )


def _error(error: GatewayError) -> list[UserError]:
    return [UserError(code=error.code, message=error.message, path=None)]


@strawberry.type
class KeysQuery:
    @strawberry.field(
        permission_classes=MANAGING_KEYS,
        description="Operators: a client's API keys (operator keys when clientId is null).",
    )
    async def api_keys(
        self,
        info: Info,
        client_id: strawberry.ID | None = None,
        include_revoked: bool = False,
        first: int = 50,
        after: str | None = None,
    ) -> ApiKeyConnection:
        owner = str(client_id) if client_id is not None else None
        async with reading(info.context.services.sessions) as session:
            page = await tenancy.list_keys(session, owner, first, after, include_revoked)
        return ApiKeyConnection(
            nodes=[ApiKey.from_row(row) for row in page.items], page_info=PageInfo.of(page)
        )


@strawberry.type
class KeysMutation:
    @strawberry.mutation(
        permission_classes=MANAGING_KEYS,
        description="Operators: issue a client key. The secret is in this answer only.",
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> IssuedApiKeyPayload:
        try:
            async with info.context.services.sessions() as session, session.begin():
                created = await tenancy.create_key(
                    session,
                    str(input.client_id),
                    input.mode,
                    Role.CLIENT,
                    input.scopes,
                    input.expires_at,
                    input.description,
                )
        except GatewayError as error:
            return IssuedApiKeyPayload(api_key=None, secret=None, errors=_error(error))
        return IssuedApiKeyPayload(
            api_key=ApiKey.from_row(created.key), secret=created.secret, errors=[]
        )

    @strawberry.mutation(
        permission_classes=MANAGING_KEYS,
        description="Operators: revoke a key; every process refuses it from the next request.",
    )
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKeyPayload:
        try:
            async with info.context.services.sessions() as session, session.begin():
                key = await tenancy.revoke_key(session, str(id))
            info.context.services.key_cache.forget_key(key.id)
        except GatewayError as error:
            return ApiKeyPayload(api_key=None, errors=_error(error))
        return ApiKeyPayload(api_key=ApiKey.from_row(key), errors=[])

    @strawberry.mutation(
        permission_classes=MANAGING_KEYS,
        description="Operators: issue a replacement key; the old one works until the overlap ends.",
    )
    async def rotate_api_key(self, info: Info, input: RotateApiKeyInput) -> IssuedApiKeyPayload:
        until = input.previous_key_valid_until
        try:
            async with info.context.services.sessions() as session, session.begin():
                created = await tenancy.rotate_key(session, str(input.id), until)
            info.context.services.key_cache.forget_key(str(input.id))
        except GatewayError as error:
            return IssuedApiKeyPayload(api_key=None, secret=None, errors=_error(error))
        return IssuedApiKeyPayload(
            api_key=ApiKey.from_row(created.key), secret=created.secret, errors=[]
        )
