"""GraphQL for retention: the calling tenant's policy (viewer.retentionPolicy) and
setRetentionPolicy (client admin keys, and operators naming the client)."""

from datetime import datetime

import strawberry
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from app.api.graphql.permissions import allowed
from app.api.graphql.types import UserError
from app.db.engine import reading
from app.errors import GatewayError
from app.retention import service as retention
from app.retention.service import PERIOD_NAMES, RetentionPeriods, RetentionView
from app.tenancy import policy
from app.tenancy.models import Principal


@strawberry.type(
    name="RetentionPeriods",
    description="Days each kind of data is kept before the hourly purge removes it.",
)
class RetentionPeriodsType:
    raw_payload_days: int = strawberry.field(
        description="Records exactly as received (every door; webhook notice payloads too). "
        "A record a quarantine entry still holds is kept with that entry."
    )
    quarantine_days: int = strawberry.field(
        description="Quarantine entries, counted from their last change (fix, replay, discard)."
    )
    job_detail_days: int = strawberry.field(
        description="A finished job's record errors, and webhook notices; the job's summary "
        "(status, counters, times) is kept."
    )
    audit_days: int = strawberry.field(
        description="The client's audit rows: at least 90, at most the gateway-wide audit "
        "retention."
    )

    @classmethod
    def of(cls, periods: RetentionPeriods) -> "RetentionPeriodsType":
        return cls(**{name: getattr(periods, name) for name in PERIOD_NAMES})


@strawberry.type(
    name="RetentionPolicy", description="How long the gateway keeps this client's data."
)
class RetentionPolicyType(RetentionPeriodsType):
    defaults: RetentionPeriodsType = strawberry.field(
        description="The gateway's defaults, which apply to every period not set by the client."
    )
    customized: list[str] = strawberry.field(
        description="The periods the client set itself (field names, e.g. rawPayloadDays)."
    )
    updated_at: datetime | None = strawberry.field(
        description="When setRetentionPolicy last changed it; null: never (all defaults)."
    )

    @classmethod
    def of_view(cls, view: RetentionView) -> "RetentionPolicyType":
        return cls(
            **{name: getattr(view.periods, name) for name in PERIOD_NAMES},
            defaults=RetentionPeriodsType.of(view.defaults),
            customized=sorted(to_camel_case(name) for name in view.own),
            updated_at=view.updated_at,
        )


@strawberry.input(
    description="Periods to change: a period left out stays as it is; null returns it to the "
    "gateway's default."
)
class SetRetentionPolicyInput:
    raw_payload_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="1 to 3650."
    )
    quarantine_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="1 to 3650."
    )
    job_detail_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="1 to 3650."
    )
    audit_days: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="From 90 to the gateway-wide audit retention (GATEWAY_AUDIT_RETENTION_DAYS).",
    )


@strawberry.type(description="The answer to setRetentionPolicy.")
class SetRetentionPolicyPayload:
    retention_policy: RetentionPolicyType | None = strawberry.field(
        description="The policy now in force; null when the change was refused (see errors)."
    )
    errors: list[UserError]


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


async def retention_policy_of(info: Info) -> RetentionPolicyType:
    """For Viewer.retentionPolicy."""
    services = info.context.services
    async with reading(services.sessions) as session:
        view = await retention.get_policy(session, _principal(info).tenant, services.settings)
    return RetentionPolicyType.of_view(view)


def _user_errors(error: GatewayError) -> list[UserError]:
    problems = [
        UserError(code=e.code, message=e.message, path=to_camel_case(e.dotted_path) or None)
        for e in error.errors
    ]
    return problems or [UserError(code=error.code, message=error.message, path=None)]


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(
        permission_classes=[allowed(policy.ADMIN)],
        description="Set how long the gateway keeps this client's data (in the key's mode). The "
        "next hourly purge applies it; shortening a period removes what is now past it.",
    )
    async def set_retention_policy(
        self, info: Info, input: SetRetentionPolicyInput
    ) -> SetRetentionPolicyPayload:
        principal, services = _principal(info), info.context.services
        changes = {
            name: getattr(input, name)
            for name in PERIOD_NAMES
            if getattr(input, name) is not strawberry.UNSET
        }
        try:
            async with services.sessions() as session, session.begin():
                view = await retention.set_policy(
                    session, principal.tenant, services.settings, changes, principal.key_id
                )
        except GatewayError as error:
            return SetRetentionPolicyPayload(retention_policy=None, errors=_user_errors(error))
        return SetRetentionPolicyPayload(
            retention_policy=RetentionPolicyType.of_view(view), errors=[]
        )
