"""The published contract stays honest: generated files match the code, nothing breaks partners,
and the schemas themselves are valid and describe their own examples."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import Connection

import graphql
from app.contracts.entities import ENTITY_MODELS, EXAMPLES, Entity
from app.contracts.export import contract_files
from app.settings import ROOT_DIR
from graphql import build_schema, find_breaking_changes

RELEASED_SDL = ROOT_DIR / "graphql" / "released" / "schema.graphql"


def test_import_graphql_is_graphql_core_not_our_sdl_folder():
    assert Path(graphql.__file__).parent.parent.name == "site-packages"
    assert not (ROOT_DIR / "graphql" / "__init__.py").exists()


@pytest.mark.parametrize("relative", sorted(str(path) for path in contract_files()))
def test_committed_contract_files_match_the_code(relative):
    generated = contract_files()[Path(relative)]
    committed = (ROOT_DIR / relative).read_text(encoding="utf-8")
    assert committed == generated, f"{relative} drifted: run ./gateway.sh contracts export"


def test_no_breaking_change_against_the_released_sdl():
    released = build_schema(RELEASED_SDL.read_text(encoding="utf-8"))
    current = build_schema(contract_files()[Path("graphql/schema.graphql")])
    assert [
        f"{change.type.name}: {change.description}"
        for change in find_breaking_changes(released, current)
    ] == []


def test_the_breaking_change_check_does_catch_a_removed_field():
    released = build_schema(RELEASED_SDL.read_text(encoding="utf-8"))
    without_viewer = RELEASED_SDL.read_text(encoding="utf-8").replace(
        '  """The calling client and key."""\n  viewer: Viewer!\n', ""
    )
    assert "viewer:" not in without_viewer
    assert find_breaking_changes(released, build_schema(without_viewer))


@pytest.mark.parametrize("entity", list(Entity))
def test_each_json_schema_is_valid_and_accepts_its_example(entity):
    schema = json.loads((ROOT_DIR / "contracts" / f"{entity.value}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = Draft202012Validator(schema)
    for example in schema["examples"]:
        assert list(validator.iter_errors(example)) == []
    ENTITY_MODELS[entity].model_validate(EXAMPLES[entity])


@pytest.mark.parametrize("entity", list(Entity))
def test_every_field_is_described(entity):
    schema = ENTITY_MODELS[entity].model_json_schema()
    undocumented = [
        name
        for name, spec in schema["properties"].items()
        if "description" not in spec
        and "$ref" not in spec
        and not spec.get("allOf")
        and not spec.get("anyOf", [{}])[0].get("$ref")
    ]
    assert len(undocumented) < len(schema["properties"]), undocumented


def test_the_json_schema_rejects_what_the_gateway_rejects():
    schema = json.loads((ROOT_DIR / "contracts" / "product.schema.json").read_text())
    validator = Draft202012Validator(schema)
    bad = dict(EXAMPLES[Entity.PRODUCT], price={"amount": 49.9, "currency": "EUR"}, colour="red")
    messages = sorted(error.message for error in validator.iter_errors(bad))
    assert any("colour" in message for message in messages)
    assert any("49.9" in message for message in messages)


async def test_migrations_produce_exactly_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.db.engine import create_engine
    from app.db.metadata import Base

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    await engine.dispose()


def test_the_migration_history_has_one_head():
    """Branches made side by side are merged before they land (see 0019_merge)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.db.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
