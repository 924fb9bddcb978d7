"""Provisioning a client's AMS: an Airtable base from the template, the Drive folder tree with the
service group as writer, and the generated AMS config.

Idempotent and resumable step by step. Each step first looks at the tenant's `ams_provisioning`
row, then at the AMS itself (the base by name, each folder by name under its parent), creates only
what is missing, and records the id in the row right after it succeeds. A crash half-way and a
rerun therefore never make a second base or duplicate folders. The adapters are synchronous and
run in worker threads.
"""

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import reading
from app.errors import GatewayError
from app.events.emitters import record_client_provisioned
from app.ids import new_id
from app.integrations.errors import AmsNotConfigured
from app.integrations.routing import AmsClients, ams_for
from app.provisioning import templates
from app.provisioning.models import AmsProvisioning, OnboardingStatus, ProvisioningStatus
from app.settings import Settings
from app.tenancy import service as tenancy
from app.tenancy.models import Tenant

SANDBOX_WORKSPACE = "wspGatewaySandbox"  # the sandbox accepts any well-formed workspace id
ROOT_ROLE = "root"
DEFAULT_LANGUAGE = "en"
DEFAULT_CURRENCY = "EUR"
CONTENT_TYPES = ["image", "video", "audio", "document"]
LEASE = timedelta(seconds=120)  # a crashed call's lease lapses; provisioning takes seconds


class Services(Protocol):
    """What provisioning needs of the process: `app.services.Services` in the API, the AMS
    runtime in workers."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...


@dataclass(frozen=True)
class Target:
    """What every step needs: whose AMS, the client's name, and clients to reach it."""

    tenant: Tenant
    client_name: str
    ams: AmsClients
    currency: str = DEFAULT_CURRENCY


def _now() -> datetime:
    return datetime.now(UTC)


async def provision(services: Services, tenant: Tenant) -> AmsProvisioning:
    """Provision the tenant's AMS, or finish a provisioning that stopped half-way; a provisioned
    tenant is left as it is (its config version moves only when the config changes)."""
    target = await prepare(services, tenant)
    lease = await _claim(services, tenant)
    try:
        await ensure_base(services, target)
        await ensure_folders(services, target)
        await ensure_permissions(services, target)
        return await write_config(services, target)
    except GatewayError as error:
        await save_row(services, tenant, _failed(error))
        raise
    finally:
        await _release(services, tenant, lease)


async def _claim(services: Services, tenant: Tenant) -> str:
    """One provision call per tenant at a time: two overlapping calls could each look for the
    base, find none, and both create one. The lease is a row update, not a held transaction
    (the sandbox writes to this same database while we wait on it)."""
    owner, now = new_id("lease"), _now()
    async with services.sessions() as session, session.begin():
        claimed = await session.execute(
            update(AmsProvisioning)
            .where(
                AmsProvisioning.client_id == tenant.client_id,
                AmsProvisioning.livemode == tenant.livemode,
                or_(AmsProvisioning.lease_until.is_(None), AmsProvisioning.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + LEASE)
        )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise GatewayError(
            "provisioning_in_progress",
            "This client's AMS is being provisioned by another call; try again in a few seconds.",
            kind="conflict",
        )
    return owner


async def _release(services: Services, tenant: Tenant, owner: str) -> None:
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(AmsProvisioning)
            .where(
                AmsProvisioning.client_id == tenant.client_id,
                AmsProvisioning.livemode == tenant.livemode,
                AmsProvisioning.lease_owner == owner,
            )
            .values(lease_owner=None, lease_until=None)
        )


def _failed(error: GatewayError) -> Callable[[AmsProvisioning], None]:
    """A provisioned tenant stays provisioned when a rerun fails; the error is kept either way."""

    def record(row: AmsProvisioning) -> None:
        if row.status != ProvisioningStatus.PROVISIONED.value:
            row.status = ProvisioningStatus.FAILED.value
        row.error = error.message

    return record


async def prepare(services: Services, tenant: Tenant) -> Target:
    """The tenant's row (created on first call) and the clients to its AMS; when the AMS cannot
    be reached at all (e.g. a live client without credentials), the row says why."""
    await _ensure_row(services, tenant)
    try:
        ams = ams_for(tenant, services.settings)
    except GatewayError as error:
        await save_row(services, tenant, _failed(error))
        raise
    async with reading(services.sessions) as session:
        client = await tenancy.get_client(session, tenant.client_id)
    currency = client.default_currency or DEFAULT_CURRENCY
    return Target(tenant=tenant, client_name=client.name, ams=ams, currency=currency)


async def get_provisioning(session: AsyncSession, tenant: Tenant) -> AmsProvisioning | None:
    found: AmsProvisioning | None = await session.scalar(
        select(AmsProvisioning).where(
            AmsProvisioning.client_id == tenant.client_id,
            AmsProvisioning.livemode == tenant.livemode,
        )
    )
    return found


async def _ensure_row(services: Services, tenant: Tenant) -> None:
    async with services.sessions() as session:
        if await get_provisioning(session, tenant) is not None:
            return
        now = _now()
        session.add(
            AmsProvisioning(
                id=new_id("prov"),
                client_id=tenant.client_id,
                livemode=tenant.livemode,
                status=ProvisioningStatus.PROVISIONING.value,
                folder_ids={},
                permission_ids={},
                config=None,
                config_version=0,
                created_at=now,
                updated_at=now,
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()  # a concurrent call made it first: the same row serves


async def save_row(
    services: Services, tenant: Tenant, change: Callable[[AmsProvisioning], None]
) -> AmsProvisioning:
    async with services.sessions() as session, session.begin():
        row = await get_provisioning(session, tenant)
        if row is None:
            raise GatewayError("not_provisioned", "Provisioning has not started for this client.")
        change(row)
        row.updated_at = _now()
    return row


async def _row(services: Services, tenant: Tenant) -> AmsProvisioning:
    async with reading(services.sessions) as session:
        row = await get_provisioning(session, tenant)
    if row is None:
        raise GatewayError("not_provisioned", "Provisioning has not started for this client.")
    return row


async def ensure_base(services: Services, target: Target) -> str:
    """Step 1: the Airtable base, found by its name before one is created."""
    row = await _row(services, target.tenant)
    if row.base_id:
        return row.base_id
    workspace = SANDBOX_WORKSPACE if target.ams.sandbox else target.ams.airtable_workspace_id
    if workspace is None:
        raise AmsNotConfigured(
            "Provisioning a live AMS base needs the Airtable workspace to create it in: set it "
            "with setAmsCredentials(input: {client, airtable: {token, workspaceId}})."
        )
    contracts_dir = services.settings.contracts_dir
    name = templates.base_name(contracts_dir, target.client_name, target.tenant.client_id)
    airtable = target.ams.airtable

    def find_or_create() -> str:
        for base in airtable.list_bases():
            if base.name == name:
                return base.id
        tables = templates.base_tables(contracts_dir)
        return airtable.create_base(workspace, name, tables).id

    base_id = await asyncio.to_thread(find_or_create)

    def record(row: AmsProvisioning) -> None:
        row.base_id = base_id

    await save_row(services, target.tenant, record)
    return base_id


async def ensure_folders(services: Services, target: Target) -> dict[str, str]:
    """Step 2: the folder tree, parents first; each folder recorded as soon as it exists."""
    row = await _row(services, target.tenant)
    folder_ids = dict(row.folder_ids)
    client_id = target.tenant.client_id
    specs = templates.folder_tree(services.settings.contracts_dir, target.client_name, client_id)
    for spec in specs:
        if spec.role in folder_ids:
            continue
        # The client root goes into the client's own folder or shared drive when it has one.
        parent_id = folder_ids[spec.parent] if spec.parent else target.ams.drive_root_folder_id
        properties = {"gateway_client": client_id, "gateway_role": spec.role}
        folder_id = await asyncio.to_thread(
            target.ams.drive.ensure_folder, spec.name, parent_id, properties
        )
        folder_ids[spec.role] = folder_id
        await save_row(services, target.tenant, _record_folder(spec.role, folder_id))
    return folder_ids


def _record_folder(role: str, folder_id: str) -> Callable[[AmsProvisioning], None]:
    def record(row: AmsProvisioning) -> None:
        row.folder_ids = dict(row.folder_ids) | {role: folder_id}
        if role == ROOT_ROLE:
            row.root_folder_id = folder_id

    return record


async def ensure_permissions(services: Services, target: Target) -> dict[str, str]:
    """Step 3: Digicon's service group as writer on the client root (client contacts as readers
    come with the client contact model)."""
    row = await _row(services, target.tenant)
    if row.root_folder_id is None:
        raise GatewayError("not_provisioned", "The client root folder does not exist yet.")
    email = services.settings.ams_service_group_email
    grant = f"group:{email}:writer"
    if grant in row.permission_ids:
        return dict(row.permission_ids)
    permission_id = await asyncio.to_thread(
        target.ams.drive.share, row.root_folder_id, email, "writer", "group"
    )

    def record(row: AmsProvisioning) -> None:
        row.permission_ids = dict(row.permission_ids) | {grant: permission_id}

    saved = await save_row(services, target.tenant, record)
    return dict(saved.permission_ids)


async def write_config(services: Services, target: Target) -> AmsProvisioning:
    """Step 4: the AMS config from the recorded ids; its version moves only when it changes.
    The tenant is then provisioned and its onboarding at least CONNECTED."""
    row = await _row(services, target.tenant)
    if row.base_id is None:
        raise GatewayError("not_provisioned", "The Airtable base does not exist yet.")
    tables = await asyncio.to_thread(target.ams.airtable.base_schema, row.base_id)
    config = ams_config(
        services,
        target,
        row,
        {table.name: table.id for table in tables},
    )

    def record(row: AmsProvisioning) -> None:
        now = _now()
        if row.config != config:
            row.config = config
            row.config_version += 1
        if row.status != ProvisioningStatus.PROVISIONED.value:
            row.status = ProvisioningStatus.PROVISIONED.value
            row.provisioned_at = row.provisioned_at or now
            record_client_provisioned(row)
        row.error = None
        if row.onboarding_status is None:
            row.onboarding_status = OnboardingStatus.CONNECTED.value
            row.connected_at = now

    return await save_row(services, target.tenant, record)


def use_for_key(client_name: str, client_id: str) -> str:
    """The key AMS tools select a client's config by: readable, and unique through the id."""
    slug = re.sub(r"[^a-z0-9]+", "-", client_name.casefold()).strip("-") or "client"
    return f"{slug[:40]}-{client_id.rsplit('_', 1)[-1][-8:]}"


def ams_config(
    services: Services, target: Target, row: AmsProvisioning, table_ids: dict[str, str]
) -> dict[str, Any]:
    contracts_dir = services.settings.contracts_dir
    specs = templates.folder_tree(contracts_dir, target.client_name, target.tenant.client_id)
    folders = {spec.role: row.folder_ids[spec.role] for spec in specs}
    return {
        "use_for": use_for_key(target.client_name, target.tenant.client_id),
        "client_id": target.tenant.client_id,
        "livemode": target.tenant.livemode,
        "server": {
            "sandbox": target.ams.sandbox,
            "airtable": {
                "endpoint": target.ams.airtable_endpoint,
                "base_id": row.base_id,
                "tables": table_ids,
            },
            "drive": {
                "root_url": target.ams.drive_root_url,
                "root_folder_id": row.root_folder_id,
                "folders": folders,
                "asset_folders": {
                    spec.kind: row.folder_ids[spec.role] for spec in specs if spec.kind
                },
            },
        },
        "pipeline": {
            "language": DEFAULT_LANGUAGE,
            "currency": target.currency,
            "content_types": list(CONTENT_TYPES),
        },
        "templates": templates.template_versions(contracts_dir),
    }


async def find_provisioning(services: Services, tenant: Tenant) -> AmsProvisioning | None:
    async with reading(services.sessions) as session:
        return await get_provisioning(session, tenant)
