"""Bringing a base provisioned from an older AMS template up to the current one.

A base keeps the template version it was made from (`config.templates.airtable_base`). Template
version 3 added the Identity and Linked Sources columns (and bases made before the Archived column
lack it too): a base made earlier would refuse rows that carry them. Before a sync writes to such
a base, the fields the template has and the base lacks are created through Airtable's metadata API
(`POST /v0/meta/bases/{base}/tables/{table}/fields`), then the config records the current version.

Idempotent: a field is looked up by name ignoring case, as Airtable compares names, so a field
added by hand (or by an earlier try that lost its answer) is left alone; Airtable's 422 for a
duplicate name (another worker added it meanwhile) counts as done. A failure is never silent: it
is the provisioning's error and the onboarding reason (`viewer.onboarding.reason`; onboarding does
not reach PRODUCTION_READY meanwhile), and the next sync tries again, writing meanwhile only the
columns the base has.
"""

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import requests
import structlog

from app.errors import GatewayError
from app.integrations.airtable import AirtableClient, AirtableTable
from app.integrations.errors import AmsRequestError
from app.integrations.routing import ams_for
from app.provisioning import templates
from app.provisioning.models import AmsProvisioning
from app.provisioning.service import Services, save_row
from app.tenancy.models import Tenant

log = structlog.get_logger("gateway.provisioning")

DUPLICATE_FIELD = "DUPLICATE_OR_EMPTY_FIELD_NAME"
BASE_TEMPLATE = "airtable_base"


def base_version(row: AmsProvisioning) -> int:
    """The template version the tenant's base was made from (or brought up to)."""
    return int((row.config or {}).get("templates", {}).get(BASE_TEMPLATE, 0))


async def upgrade_base(services: Services, tenant: Tenant, row: AmsProvisioning) -> AmsProvisioning:
    """The provisioned base with the current template's fields; the row as saved."""
    current = templates.template_versions(services.settings.contracts_dir)[BASE_TEMPLATE]
    if row.base_id is None or base_version(row) >= current:
        return row
    tables: dict[str, str] = (
        (row.config or {}).get("server", {}).get("airtable", {}).get("tables", {})
    )
    wanted = templates.base_tables(services.settings.contracts_dir)
    airtable = ams_for(tenant, services.settings).airtable
    try:
        added = await asyncio.to_thread(_add_missing, airtable, row.base_id, tables, wanted)
    except (GatewayError, requests.RequestException) as error:
        reason = _failure(row.base_id, current, error)
        log.warning("ams.base_upgrade_failed", base_id=row.base_id, error=str(error))
        return await save_row(services, tenant, lambda saved: _failed(saved, reason))
    log.info("ams.base_upgraded", base_id=row.base_id, version=current, added=added)
    return await save_row(services, tenant, lambda saved: _upgraded(saved, current))


def _failure(base_id: str, version: int, error: Exception) -> str:
    return (
        f"The Airtable base {base_id} was made from an older AMS template and the columns of "
        f"version {version} could not be added to it ({error}). The next sync tries again; "
        "meanwhile rows are written without the missing columns."
    )


def _failed(row: AmsProvisioning, reason: str) -> None:
    """Shown as the onboarding reason (viewer.onboarding), which stays until it is fixed."""
    row.error = row.onboarding_reason = reason


def _upgraded(row: AmsProvisioning, version: int) -> None:
    config = dict(row.config or {})
    config["templates"] = dict(config.get("templates", {})) | {BASE_TEMPLATE: version}
    row.config = config
    row.config_version += 1
    if row.onboarding_reason == row.error:
        row.onboarding_reason = None
    row.error = None


def _add_missing(
    airtable: AirtableClient,
    base_id: str,
    table_ids: Mapping[str, str],
    wanted: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Create the template fields the base lacks; the `table.field` names created."""
    schema = airtable.base_schema(base_id)
    added = []
    for spec in wanted:
        table = _table(schema, table_ids.get(spec["name"]), spec["name"])
        present = {field.name.casefold() for field in table.fields}
        for field in spec["fields"]:
            if field["name"].casefold() in present:
                continue
            _create(airtable, base_id, table.id, field)
            added.append(f"{table.name}.{field['name']}")
    return added


def _table(schema: list[AirtableTable], table_id: str | None, name: str) -> AirtableTable:
    found = next((t for t in schema if t.id == table_id), None) or next(
        (t for t in schema if t.name.casefold() == name.casefold()), None
    )
    if found is None:
        raise GatewayError("ams_table_missing", f'The base has no "{name}" table.')
    return found


def _create(airtable: AirtableClient, base_id: str, table_id: str, spec: Mapping[str, Any]) -> None:
    try:
        airtable.create_field(base_id, table_id, spec)
    except AmsRequestError as error:
        if error.error_type != DUPLICATE_FIELD:
            raise
