"""The built-in rule files: they load, and a broken one is reported with file, rule and reason."""

import json
import shutil
from pathlib import Path

import pytest

from app.contracts.entities import Entity
from app.rules.loader import RULES_DIR, RuleFilesError, load_default_rules


def test_every_entity_has_built_in_rules_that_load():
    loaded = load_default_rules()
    assert set(loaded) == set(Entity)
    assert "compare_at_price_not_below_price" in loaded[Entity.PRODUCT].ids
    assert "end_at_not_before_start_at" in loaded[Entity.CAMPAIGN].ids
    assert "email_or_phone" in loaded[Entity.AUDIENCE].ids
    assert [p.text for p in loaded[Entity.AUDIENCE].personal][:2] == ["email", "phone"]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def _rewrite(directory: Path, entity: str, change) -> None:
    file = directory / f"{entity}.json"
    document = json.loads(file.read_text())
    change(document)
    file.write_text(json.dumps(document))


def test_every_problem_in_every_file_is_reported(rules_dir: Path):
    _rewrite(
        rules_dir,
        "product",
        lambda d: d["rules"].append({"id": "bad", "kind": "required", "field": "colour"}),
    )
    _rewrite(
        rules_dir,
        "campaign",
        lambda d: d["rules"].append({"id": "worse", "kind": "range", "field": "budget"}),
    )
    (rules_dir / "asset.json").write_text("{not json")
    (rules_dir / "audience.json").unlink()
    with pytest.raises(RuleFilesError) as raised:
        load_default_rules(rules_dir)
    problems = raised.value.problems
    assert len(problems) == 4
    text = str(raised.value)
    assert "product.json rule 6 (bad): field 'colour'" in text
    assert "campaign.json: rules[5]: a range needs min, max or both" in text
    assert "asset.json: not valid JSON" in text
    assert "audience.json: missing" in text


def test_duplicate_ids_in_a_file_are_refused(rules_dir: Path):
    _rewrite(rules_dir, "asset", lambda d: d["rules"].append(dict(d["rules"][0])))
    with pytest.raises(RuleFilesError, match="used twice"):
        load_default_rules(rules_dir)


def test_the_rule_files_follow_the_published_schema():
    import jsonschema

    from app.rules.schema import SCHEMA_PATH  # kept in step by tests/contract's drift test

    schema = json.loads(SCHEMA_PATH.read_text())
    for entity in Entity:
        document = json.loads((RULES_DIR / f"{entity.value}.json").read_text())
        jsonschema.validate(document, schema)
