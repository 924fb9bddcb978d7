"""POST /ingest/{entity}/archive: records deleted at their source are archived (the same
`app.ams.archival.archive_records` GraphQL's `archiveRecords` calls): kept, not deleted, and shown
as Archived in the client's AMS."""

from typing import Annotated

from litestar import post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from msgspec import Meta, Struct

from app.ams import archival
from app.api.rest import openapi
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.errors import NotFoundError
from app.services import Services
from app.tenancy.models import Principal

_ENTITY_OF_PATH = {path: entity for entity, path in openapi.INGEST_PATHS.items()}


class RecordKey(Struct, kw_only=True):
    source_platform: SourcePlatform
    external_id: Annotated[str, Meta(min_length=1, max_length=255)]


class ArchiveRequest(Struct, kw_only=True):
    """Records deleted at their source."""

    records: Annotated[
        list[RecordKey],
        Meta(max_length=archival.MAX_ARCHIVED_PER_CALL, description="The records to archive."),
    ]


class ArchiveError(Struct, kw_only=True):
    code: Annotated[str, Meta(description="not_found: no such record is stored.")]
    message: str
    path: Annotated[str, Meta(description="records[i]: the record in the request.")]


class ArchiveResult(Struct, kw_only=True):
    archived: Annotated[
        int, Meta(description="Records archived now (already archived ones are not counted).")
    ]
    errors: Annotated[
        list[ArchiveError], Meta(description="Per record; the others are archived all the same.")
    ]


_EXAMPLE = {
    "archived": 1,
    "errors": [
        {"code": "not_found", "message": "No stored record with that id.", "path": "records[1]"}
    ],
}

EntityPath = Annotated[
    str,
    Parameter(
        description="products, assets, campaigns or audience.",
        schema_extra={"enum": list(_ENTITY_OF_PATH)},
    ),
]


@post(
    "/ingest/{entity:str}/archive",
    name="archiveRecords",
    operation_id="archiveRecords",
    tags=["ingest"],
    summary="Archive records deleted at their source",
    status_code=200,
    response_description="How many were archived, and the records not found.",
    description="Archived records stay stored (and readable); their AMS rows get the Archived "
    "column checked. A record pushed again with a newer source_updated_at is alive again.",
    responses={401: openapi.UNAUTHORIZED, 404: openapi.NOT_FOUND},
    operation_class=openapi.documented(examples={"200": {"archived": _EXAMPLE}}),
)
async def archive_records(
    entity: EntityPath,
    data: JSONBody[ArchiveRequest],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> ArchiveResult:
    kind: Entity | None = _ENTITY_OF_PATH.get(entity)
    if kind is None:
        raise NotFoundError("entity")
    keys = [(r.source_platform.value, r.external_id) for r in data.records]
    async with services.sessions() as session, session.begin():
        outcome = await archival.archive_records(session, principal.tenant, kind, keys)
    errors = [
        ArchiveError(code=e.code, message=e.message, path=e.dotted_path) for e in outcome.errors
    ]
    return ArchiveResult(archived=outcome.archived, errors=errors)


ARCHIVE_HANDLERS = [archive_records]
