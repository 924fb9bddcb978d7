"""Schemathesis fuzzes every REST operation of the published contract (`contracts/openapi.json`)
against a real server with a real test key: valid and invalid inputs alike must never get a 5xx,
every answer must be a documented status with a body matching its documented schema, and every
error is the one shape `{"error": {type, code, message, param, request_id}}`.

Bounded and deterministic (derandomized, no example database): a few hundred requests."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import CheckFunction
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from app.settings import ROOT_DIR
from tests.conftest import Tenant
from tests.contract.fuzzing import Fuzzed, fuzzed_gateway

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


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    with fuzzed_gateway(tmp_path_factory.mktemp("fuzz-rest")) as gateway:
        yield gateway


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
