"""Per-client AMS credentials: operators set or clear the live Airtable token and Google service
account a client's AMS is written with. The secrets go in and never come out: every answer is
`AmsCredentialsStatus` (configured or not, the token's last four characters, the service
account's email, when and by whom)."""

from datetime import datetime
from enum import StrEnum

import strawberry
from strawberry.types import Info

from app.ams_credentials import service as credentials
from app.ams_credentials.service import AirtableInput, GoogleInput
from app.api.graphql.permissions import allowed
from app.api.graphql.types import UserError
from app.db.engine import reading
from app.errors import GatewayError
from app.tenancy.models import Principal, Scope
from app.tenancy.policy import Requirement

SETTING_CREDENTIALS = [allowed(Requirement(Scope.ADMIN, operators_only=True))]


class AmsCredentialsPart(StrEnum):
    AIRTABLE = "airtable"
    GOOGLE = "google"


strawberry.enum(AmsCredentialsPart, description="One service's credentials.")


@strawberry.type(
    description="What may be known of a client's live AMS credentials (never the secrets). "
    "Without its own, a live client's writes use the gateway-wide credentials, if any."
)
class AmsCredentialsStatus:
    client_id: strawberry.ID
    airtable_configured: bool = strawberry.field(
        description="The client has its own Airtable personal access token."
    )
    airtable_token_last4: str | None = strawberry.field(
        description="The token's last four characters, to tell tokens apart."
    )
    airtable_workspace_id: str | None = strawberry.field(
        description="The workspace the client's base is created in."
    )
    google_configured: bool = strawberry.field(
        description="The client has its own Google service account."
    )
    google_service_account_email: str | None
    google_root_folder_id: str | None = strawberry.field(
        description="The Drive folder or shared drive the client's folders go under."
    )
    updated_at: datetime | None
    updated_by: str | None = strawberry.field(description="The key id that changed them last.")

    @classmethod
    def of(cls, found: credentials.AmsCredentialsStatus) -> "AmsCredentialsStatus":
        return cls(
            client_id=strawberry.ID(found.client_id),
            airtable_configured=found.airtable_configured,
            airtable_token_last4=found.airtable_token_last4,
            airtable_workspace_id=found.airtable_workspace_id,
            google_configured=found.google_configured,
            google_service_account_email=found.google_service_account_email,
            google_root_folder_id=found.google_root_folder_id,
            updated_at=found.updated_at,
            updated_by=found.updated_by,
        )


@strawberry.input
class AirtableCredentialsInput:
    token: str = strawberry.field(description="A personal access token (pat…).")
    workspace_id: str | None = strawberry.field(
        default=None, description="Where the client's base is created (wsp…); null keeps it."
    )


@strawberry.input
class GoogleCredentialsInput:
    service_account_json: str = strawberry.field(
        description="The service account's JSON key file, as text."
    )
    root_folder_id: str | None = strawberry.field(
        default=None,
        description="The Drive folder or shared drive the client's folders go under; null keeps "
        "it.",
    )


@strawberry.input
class SetAmsCredentialsInput:
    client: strawberry.ID
    airtable: AirtableCredentialsInput | None = strawberry.field(
        default=None, description="Replaces the client's Airtable credentials; null keeps them."
    )
    google: GoogleCredentialsInput | None = strawberry.field(
        default=None, description="Replaces the client's Google credentials; null keeps them."
    )


@strawberry.input
class ClearAmsCredentialsInput:
    client: strawberry.ID
    part: AmsCredentialsPart | None = strawberry.field(
        default=None, description="Which service's credentials to forget; null: both."
    )


@strawberry.type
class AmsCredentialsPayload:
    ams_credentials: AmsCredentialsStatus | None
    errors: list[UserError]


def _failed(error: GatewayError) -> AmsCredentialsPayload:
    return AmsCredentialsPayload(ams_credentials=None, errors=UserError.all_from(error))


def _actor(info: Info) -> str | None:
    principal: Principal | None = info.context.principal
    return principal.key_id if principal is not None else None


async def ams_credentials_of(info: Info, client_id: str) -> AmsCredentialsStatus:
    async with reading(info.context.services.sessions) as session:
        return AmsCredentialsStatus.of(await credentials.get_status(session, client_id))


@strawberry.type
class AmsCredentialsQuery:
    @strawberry.field(
        permission_classes=SETTING_CREDENTIALS,
        description="Operators: what is configured of a client's live AMS credentials.",
    )
    async def ams_credentials(self, info: Info, client: strawberry.ID) -> AmsCredentialsStatus:
        return await ams_credentials_of(info, str(client))


@strawberry.type
class AmsCredentialsMutation:
    @strawberry.mutation(
        permission_classes=SETTING_CREDENTIALS,
        description="Operators: set the live Airtable token and/or Google service account a "
        "client's AMS is written with (stored encrypted, never returned). Test keys keep "
        "writing to the sandbox.",
    )
    async def set_ams_credentials(
        self, info: Info, input: SetAmsCredentialsInput
    ) -> AmsCredentialsPayload:
        airtable = (
            AirtableInput(input.airtable.token, input.airtable.workspace_id)
            if input.airtable
            else None
        )
        google = (
            GoogleInput(input.google.service_account_json, input.google.root_folder_id)
            if input.google
            else None
        )
        services = info.context.services
        try:
            async with services.sessions() as session, session.begin():
                found = await credentials.set_credentials(
                    session, services.settings, str(input.client), airtable, google, _actor(info)
                )
        except GatewayError as error:
            return _failed(error)
        return AmsCredentialsPayload(ams_credentials=AmsCredentialsStatus.of(found), errors=[])

    @strawberry.mutation(
        permission_classes=SETTING_CREDENTIALS,
        description="Operators: forget a client's own AMS credentials (one service, or both); "
        "its live writes then use the gateway-wide credentials, or fail with "
        "ams_credentials_missing.",
    )
    async def clear_ams_credentials(
        self, info: Info, input: ClearAmsCredentialsInput
    ) -> AmsCredentialsPayload:
        parts = {input.part} if input.part else set(AmsCredentialsPart)
        try:
            async with info.context.services.sessions() as session, session.begin():
                found = await credentials.clear_credentials(
                    session,
                    str(input.client),
                    AmsCredentialsPart.AIRTABLE in parts,
                    AmsCredentialsPart.GOOGLE in parts,
                    _actor(info),
                )
        except GatewayError as error:
            return _failed(error)
        return AmsCredentialsPayload(ams_credentials=AmsCredentialsStatus.of(found), errors=[])
