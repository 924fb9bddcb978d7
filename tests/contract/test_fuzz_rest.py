"""Schemathesis fuzzes every REST operation of the published contract (`contracts/openapi.json`)
against a real server with a real test key: valid and invalid inputs alike must never get a 5xx,
every answer must be a documented status with a body matching its documented schema, and every
error is the one shape `{"error": {type, code, message, param, request_id}}`.

Bounded and deterministic (derandomized, no example database): a few hundred requests."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import CheckFunction
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from app.db.engine import create_engine
from app.db.migrate import upgrade_to_head
from app.services import Services
from app.settings import ROOT_DIR
from tests.conftest import Tenant, create_tenant, make_settings, run_in_thread
from tests.helpers import running_gateway

SCHEMA = schemathesis.openapi.from_path(ROOT_DIR / "contracts" / "openapi.json")
ERROR_FIELDS = {"type", "code", "message", "param", "request_id"}
EXAMPLES_PER_OPERATION = 20
# Values the schema allows but the API documents as refused: a cursor it never issued (400
# `invalid_cursor`), a platform with no mapping for that entity (400 `unsupported_mapping`).
NOT_CHECKED: list[CheckFunction] = [positive_data_acceptance]
# An NDJSON body is documented as a string: whatever the fuzzer "negates" it into still goes on
# the wire as bytes, i.e. a valid stream (lines that are not records become record errors).
NDJSON = "application/x-ndjson"


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """The bulk body is documented as a string (the lines); anything else goes as one line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode() + b"\n"


class Fuzzed:
    def __init__(self, url: str, tenant: Tenant) -> None:
        self.url = url
        self.tenant = tenant
        self.session = requests.Session()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """One gateway on embedded SQLite, with a test key whose bucket never runs dry (429 is
    documented and would hide what the handlers answer)."""
    folder: Path = tmp_path_factory.mktemp("fuzz-rest")
    url = f"sqlite+aiosqlite:///{folder / 'gateway.db'}"
    gateway_settings = make_settings(
        url, sandbox_blob_dir=folder / "blobs", rate_limit_burst=100_000, auth_failure_burst=100_000
    )

    async def prepare() -> Tenant:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        services = Services.create(gateway_settings)
        try:
            return await create_tenant(services, "Fuzz")
        finally:
            await services.engine.dispose()

    tenant = run_in_thread(prepare())
    with running_gateway(gateway_settings) as (base_url, _):
        fuzzed = Fuzzed(base_url, tenant)
        yield fuzzed
        fuzzed.session.close()


def error_shape(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> None:
    """Every 4xx carries the one error object, whatever the documented schema says."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) >= ERROR_FIELDS, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert [error["request_id"]] == response.headers.get("x-request-id"), error
    return None


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_rest_operation_answers_as_documented(
    case: schemathesis.Case[Any], fuzzed: Fuzzed
) -> None:
    excluded: list[CheckFunction] = [*NOT_CHECKED]
    if case.media_type == NDJSON:
        excluded.append(negative_data_rejection)
    case.call_and_validate(
        base_url=fuzzed.url,
        session=fuzzed.session,
        headers=_authorization(case, fuzzed.tenant),
        additional_checks=[error_shape],
        excluded_checks=excluded,
        timeout=30,
    )


def _authorization(case: schemathesis.Case[Any], tenant: Tenant) -> dict[str, str]:
    """The real key, unless the fuzzer left the header out on purpose (a negative case)."""
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    if negative and "Authorization" not in (case.headers or {}):
        return {}
    return {"Authorization": f"Bearer {tenant.secret}"}
