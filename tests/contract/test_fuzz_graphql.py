"""Schemathesis fuzzes every root field of the published SDL (`graphql/schema.graphql`) against a
real server with a real test key: generated queries and mutations (valid and invalid) must never
get a 5xx nor an `internal_error`, every error must carry one of our codes, and every `data` must
match the schema.

Schemathesis' own server-error check counts every resolver error as a server fault; ours are
documented answers (`invalid_page_size` for `first: 0`, `operator_only` for a client key on
an operator field…), so `not_a_server_error` is replaced by `server_fault` below.

Bounded and deterministic (derandomized, no example database): a few hundred requests."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.graphql import nodes

import graphql
from app.settings import ROOT_DIR
from tests.contract.fuzzing import Fuzzed, fuzzed_gateway

SCHEMA = schemathesis.graphql.from_path(ROOT_DIR / "graphql" / "schema.graphql")
NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True)
LEAVES = st.none() | st.booleans() | st.integers(-(2**31), 2**31 - 1) | st.text(max_size=20)


def _node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal (JSON scalars are written inline by the fuzzer)."""
    if isinstance(value, dict):
        fields = [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=_node(item))
            for key, item in value.items()
        ]
        return nodes.Object(fields)
    if isinstance(value, list):
        return nodes.List([_node(item) for item in value])
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if value is None:
        return nodes.Null
    return nodes.String(value)


def _records(entity: str | None) -> st.SearchStrategy[graphql.ValueNode]:
    """The contract's own example record, or an object of its field names (or any names) with
    arbitrary JSON values: mostly invalid records, which must be quarantined, never crash."""
    names = NAMES
    examples: list[Any] = [{}]
    if entity is not None:
        contract = json.loads((ROOT_DIR / "contracts" / f"{entity}.schema.json").read_text())
        names = st.sampled_from(sorted(contract["properties"])) | NAMES
        examples = contract["examples"]
    json_values = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
    arbitrary = st.dictionaries(names, json_values, max_size=6)
    return (st.sampled_from(examples) | arbitrary).map(_node)


for scalar_name, entity in (
    ("ProductRecord", "product"),
    ("AssetRecord", "asset"),
    ("CampaignRecord", "campaign"),
    ("AudienceRecord", "audience"),
    ("PlatformRecord", None),
    ("JSONObject", None),
):
    schemathesis.graphql.scalar(scalar_name, _records(entity))
EXAMPLES_PER_FIELD = 4
# 200 executed; 400 a request error; 401/403 the policy's refusals; 429 the key's bucket.
ANSWERS = {200, 400, 401, 403, 429}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    with fuzzed_gateway(tmp_path_factory.mktemp("fuzz-graphql")) as gateway:
        yield gateway


def server_fault(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> None:
    """No 5xx; every error has a code, and none is the `internal_error` an unexpected exception
    becomes; a non-null field never comes back null."""
    assert response.status_code in ANSWERS, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict), body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code != "internal_error", body
        assert "non-nullable" not in error["message"], body
        assert code or not error.get("path"), body  # execution errors always carry a code
    return None


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_FIELD,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_graphql_field_answers_without_a_server_error(
    case: schemathesis.Case[Any], fuzzed: Fuzzed
) -> None:
    case.call_and_validate(
        base_url=f"{fuzzed.url}/graphql",
        session=fuzzed.session,
        headers={"Authorization": f"Bearer {fuzzed.tenant.secret}"},
        additional_checks=[server_fault],
        excluded_checks=[not_a_server_error],
        timeout=30,
    )
