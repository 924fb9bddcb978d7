"""Airtable through pyairtable, behind the `AirtableClient` Protocol.

Synchronous, like pyairtable (requests): run the calls in worker threads. One `pyairtable.Api`
(and so one requests session) per thread. Retries are disabled here on purpose: pyairtable's default
urllib3 retry gives up after ~3 s, far short of Airtable's 30-second 429 penalty, and a blind retry
of a write could duplicate it. Pacing below 5 requests/s per base, and back-off when a 429 comes
anyway, belong to the write layer (`app.ams.writer`), which sees every caller of a base.
`GuardedAirtableClient` puts every call to a base through that base's circuit breaker
(`app.integrations.circuit`); `app.integrations.routing` hands out only guarded clients.
"""

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from pyairtable import Api

from app.integrations.circuit import CircuitBreaker
from app.integrations.errors import AmsRequestError
from app.observability.pipeline import count_ams_response

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


@dataclass(frozen=True)
class AirtableField:
    id: str
    name: str
    type: str


@dataclass(frozen=True)
class AirtableTable:
    id: str
    name: str
    primary_field_id: str
    fields: list[AirtableField]


@dataclass(frozen=True)
class AirtableBase:
    id: str
    name: str


@dataclass(frozen=True)
class AirtableRecord:
    id: str
    created_time: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class RecordPage:
    """One page of a listing; `offset` is None on the last page."""

    records: list[AirtableRecord]
    offset: str | None


@dataclass(frozen=True)
class UpsertResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    records: list[AirtableRecord] = field(default_factory=list)


class AirtableClient(Protocol):
    """The Airtable verbs the gateway needs. Writes go in chunks of 10 records per request."""

    def create_base(
        self, workspace_id: str, name: str, tables: Sequence[Mapping[str, Any]]
    ) -> AirtableBase: ...

    def list_bases(self) -> list[AirtableBase]: ...

    def base_schema(self, base_id: str) -> list[AirtableTable]: ...

    def create_field(self, base_id: str, table_id: str, spec: Mapping[str, Any]) -> AirtableField:
        """A field from a template spec ({name, type, description?, options?})."""
        ...

    def batch_upsert(
        self,
        base_id: str,
        table: str,
        records: Sequence[Mapping[str, Any]],
        key_fields: Sequence[str],
        typecast: bool = False,
    ) -> UpsertResult: ...

    def list_records(
        self, base_id: str, table: str, formula: str | None = None
    ) -> list[AirtableRecord]: ...

    def batch_delete(self, base_id: str, table: str, record_ids: Sequence[str]) -> list[str]: ...

    def list_page(
        self,
        base_id: str,
        table: str,
        fields: Sequence[str],
        offset: str | None = None,
        formula: str | None = None,
    ) -> RecordPage: ...


class PyAirtableClient:
    """`AirtableClient` over pyairtable; `endpoint_url` None means pyairtable's default, the real
    Airtable. Safe to share between threads: each thread gets its own `Api`."""

    def __init__(
        self,
        token: str,
        endpoint_url: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._token = token
        self._endpoint_url = endpoint_url
        self._timeout = timeout
        self._local = threading.local()

    @property
    def endpoint_url(self) -> str:
        return self._api().endpoint_url

    def _api(self) -> Api:
        api: Api | None = getattr(self._local, "api", None)
        if api is None:
            options: dict[str, Any] = {"timeout": self._timeout, "retry_strategy": False}
            if self._endpoint_url is not None:
                options["endpoint_url"] = self._endpoint_url
            api = Api(self._token, **options)
            api.session.hooks["response"].append(count_ams_response)  # requests / 429s per base
            self._local.api = api
        return api

    def create_base(
        self, workspace_id: str, name: str, tables: Sequence[Mapping[str, Any]]
    ) -> AirtableBase:
        with _airtable_errors():
            base = self._api().create_base(workspace_id, name, [dict(t) for t in tables])
        return AirtableBase(id=base.id, name=name)

    def list_bases(self) -> list[AirtableBase]:
        with _airtable_errors():
            bases = self._api().bases(force=True)
        return [AirtableBase(id=base.id, name=base.name or "") for base in bases]

    def base_schema(self, base_id: str) -> list[AirtableTable]:
        with _airtable_errors():
            schema = self._api().base(base_id).schema(force=True)
        return [
            AirtableTable(
                id=table.id,
                name=table.name,
                primary_field_id=table.primary_field_id,
                fields=[AirtableField(f.id, f.name, f.type) for f in table.fields],
            )
            for table in schema.tables
        ]

    def create_field(self, base_id: str, table_id: str, spec: Mapping[str, Any]) -> AirtableField:
        table = self._api().table(base_id, table_id)
        with _airtable_errors():
            field = table.create_field(
                spec["name"], spec["type"], spec.get("description"), spec.get("options")
            )
        return AirtableField(field.id, field.name, field.type)

    def batch_upsert(
        self,
        base_id: str,
        table: str,
        records: Sequence[Mapping[str, Any]],
        key_fields: Sequence[str],
        typecast: bool = False,
    ) -> UpsertResult:
        """`records` are field maps (or `{"id": …, "fields": …}`); matched on `key_fields`.
        With `typecast`, Airtable converts values and adds unknown select options."""
        payload = [dict(r) if "fields" in r else {"fields": dict(r)} for r in records]
        with _airtable_errors():
            result = (
                self._api()
                .table(base_id, table)
                .batch_upsert(payload, list(key_fields), typecast=typecast)
            )
        return UpsertResult(
            created=list(result["createdRecords"]),
            updated=list(result["updatedRecords"]),
            records=[_record(r) for r in result["records"]],
        )

    def list_records(
        self, base_id: str, table: str, formula: str | None = None
    ) -> list[AirtableRecord]:
        options: dict[str, Any] = {} if formula is None else {"formula": formula}
        with _airtable_errors():
            rows = self._api().table(base_id, table).all(**options)
        return [_record(r) for r in rows]

    def batch_delete(self, base_id: str, table: str, record_ids: Sequence[str]) -> list[str]:
        with _airtable_errors():
            deleted = self._api().table(base_id, table).batch_delete(list(record_ids))
        return [row["id"] for row in deleted if row["deleted"]]

    def list_page(
        self,
        base_id: str,
        table: str,
        fields: Sequence[str],
        offset: str | None = None,
        formula: str | None = None,
    ) -> RecordPage:
        """One request: up to 100 rows with only `fields`, so the caller can pace each page."""
        records = self._api().table(base_id, table).urls
        options: dict[str, Any] = {"page_size": 100, "fields": list(fields)}
        options |= {"offset": offset} if offset else {}
        options |= {"formula": formula} if formula else {}
        with _airtable_errors():
            page = self._api().request(
                "GET", records.records, ("POST", records.records_post), options=options
            )
        return RecordPage([_record(r) for r in page.get("records", [])], page.get("offset"))


class GuardedAirtableClient:
    """An `AirtableClient` whose calls to a base pass through the base's circuit: once it opens,
    they fail at once with `CircuitOpen` instead of adding to Airtable's trouble."""

    def __init__(self, inner: AirtableClient, breaker: CircuitBreaker, endpoint_url: str) -> None:
        self.inner = inner
        self.breaker = breaker
        self.endpoint_url = endpoint_url

    def create_base(
        self, workspace_id: str, name: str, tables: Sequence[Mapping[str, Any]]
    ) -> AirtableBase:
        return self.inner.create_base(workspace_id, name, tables)  # no base yet: no circuit

    def list_bases(self) -> list[AirtableBase]:
        return self.inner.list_bases()

    def base_schema(self, base_id: str) -> list[AirtableTable]:
        with self.breaker.guard(base_id):
            return self.inner.base_schema(base_id)

    def create_field(self, base_id: str, table_id: str, spec: Mapping[str, Any]) -> AirtableField:
        with self.breaker.guard(base_id):
            return self.inner.create_field(base_id, table_id, spec)

    def batch_upsert(
        self,
        base_id: str,
        table: str,
        records: Sequence[Mapping[str, Any]],
        key_fields: Sequence[str],
        typecast: bool = False,
    ) -> UpsertResult:
        with self.breaker.guard(base_id):
            return self.inner.batch_upsert(base_id, table, records, key_fields, typecast)

    def list_records(
        self, base_id: str, table: str, formula: str | None = None
    ) -> list[AirtableRecord]:
        with self.breaker.guard(base_id):
            return self.inner.list_records(base_id, table, formula)

    def batch_delete(self, base_id: str, table: str, record_ids: Sequence[str]) -> list[str]:
        with self.breaker.guard(base_id):
            return self.inner.batch_delete(base_id, table, record_ids)

    def list_page(
        self,
        base_id: str,
        table: str,
        fields: Sequence[str],
        offset: str | None = None,
        formula: str | None = None,
    ) -> RecordPage:
        with self.breaker.guard(base_id):
            return self.inner.list_page(base_id, table, fields, offset, formula)


def _record(row: Mapping[str, Any]) -> AirtableRecord:
    return AirtableRecord(id=row["id"], created_time=row["createdTime"], fields=dict(row["fields"]))


@contextmanager
def _airtable_errors() -> Iterator[None]:
    """Airtable's HTTP errors as `AmsRequestError`, keeping its status and error type."""
    try:
        yield
    except requests.HTTPError as error:
        raise _request_error(error) from error


def _request_error(error: requests.HTTPError) -> AmsRequestError:
    response = error.response
    if response is None:
        return AmsRequestError("Airtable", 0, "NO_RESPONSE", str(error))
    try:
        body: Any = response.json().get("error")
    except ValueError:
        body = None
    if isinstance(body, dict):
        kind, message = str(body.get("type", "")), str(body.get("message", ""))
    else:
        kind, message = str(body or response.reason or ""), ""
    return AmsRequestError("Airtable", response.status_code, kind, message or str(error))
