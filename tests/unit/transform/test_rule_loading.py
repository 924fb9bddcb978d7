"""Bad rule files fail at start-up with every problem named: file, rule index, what is wrong."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.transform.errors import RuleFileError
from app.transform.loader import load_mappings, read_rule_file
from tests.unit.transform.conftest import PRODUCT_ESSENTIALS

Writer = Callable[..., Path]


def _problems(file: Path) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        read_rule_file(file)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (
            {"target": "name", "source": "title", "transform": "uppercase"},
            "unknown transform 'uppercase' (known: copy, id,",
        ),
        ({"target": "title", "source": "title"}, "Product has no field 'title' (fields: "),
        ({"target": "price.value", "source": "p"}, "Money has no field 'value'"),
        (
            {"target": "name.first", "source": "n"},
            "'first' is inside a field that has no sub-fields",
        ),
        ({"target": "vendor[0]", "source": "v"}, "[0] used on a field that is not a list"),
        ({"target": "source_platform", "source": "p"}, "is set from the file name"),
        ({"target": "vendor", "source": "a..b"}, "malformed path 'a..b'"),
        ({"target": "vendor", "source": "a[*].b[*].c"}, "has more than one [*]"),
        ({"target": "variants[*].sku", "source": "sku"}, "has [*] but source 'sku' does not"),
        ({"target": "vendor", "transform": "text"}, "transform 'text' needs a source"),
        (
            {"target": "vendor", "source": "v", "transform": "constant", "args": {"value": "x"}},
            "transform 'constant' takes no source",
        ),
        ({"target": "vendor", "source": "v", "transform": "lookup"}, "bad args for lookup: map:"),
        (
            {"target": "vendor", "source": "v", "transform": "text", "args": {"upper": True}},
            "bad args for text: upper: Extra inputs are not permitted",
        ),
        (
            {
                "target": "source_created_at",
                "source": "d",
                "transform": "date",
                "args": {"timezone": "Mars/Olympus"},
            },
            "unknown IANA timezone 'Mars/Olympus'",
        ),
        (
            {"target": "price", "source": "p", "transform": "money", "args": {"currency": "EURO"}},
            "'EURO' is not an ISO 4217 currency code",
        ),
        (
            {
                "target": "variants[*].options",
                "source": "v[*]",
                "transform": "variant_options",
                "args": {"names": "options.name"},
            },
            "must contain [*]",
        ),
    ],
)
def test_a_bad_rule_is_named_by_file_and_index(
    write_rules: Writer, rule: dict[str, Any], problem: str
) -> None:
    problems = _problems(write_rules([*PRODUCT_ESSENTIALS, rule]))
    assert len(problems) == 1
    assert problems[0].startswith("custom.product.json rule 3: ")
    assert problem in problems[0]


def test_every_problem_is_reported_at_once(write_rules: Writer) -> None:
    rules = [
        {"target": "external_id", "source": "id", "transform": "nope"},
        {"target": "name", "source": "title", "transform": "text"},
        {"target": "name", "source": "name", "transform": "text"},
        {"target": "colour", "source": "colour"},
    ]
    problems = _problems(write_rules(rules))
    where = [problem.split(": ", 1)[0] for problem in problems]
    assert where == [
        "custom.product.json rule 0",
        "custom.product.json rule 3",
        "custom.product.json rule 2",
        "custom.product.json",
        "custom.product.json",
    ]
    assert "unknown transform 'nope'" in problems[0]
    assert "Product has no field 'colour'" in problems[1]
    assert problems[2].endswith("target 'name' twice")
    assert problems[3].endswith("required field 'external_id' is not mapped")
    assert problems[4].endswith("required field 'source_updated_at' is not mapped")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("shopify.product.json", "{not json", "not valid JSON"),
        ("shopify.product.json", '{"rules": []}', "description: Field required"),
        (
            "shopify.product.json",
            '{"description": "x", "rules": []}',
            "rules: List should have at least 1 item",
        ),
        (
            "shopify.product.json",
            '{"description": "x", "rules": [{"source": "id"}]}',
            "rules[0].target: Field required",
        ),
        (
            "shopify.product.json",
            '{"description": "x", "rules": [], "extra": 1}',
            "extra: Extra inputs are not permitted",
        ),
        ("magento.product.json", '{"description": "x", "rules": []}', "unknown platform or entity"),
        ("shopify.order.json", '{"description": "x", "rules": []}', "unknown platform or entity"),
        ("shopify-product.json", '{"description": "x", "rules": []}', "<platform>.<entity>.json"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: str, problem: str) -> None:
    file = tmp_path / name
    file.write_text(content)
    problems = _problems(file)
    assert problems[0].startswith(f"{name}: ")
    assert problem in problems[0]


def test_a_directory_reports_the_problems_of_every_file(
    tmp_path: Path, write_rules: Writer
) -> None:
    write_rules([*PRODUCT_ESSENTIALS, {"target": "colour", "source": "c"}], "custom.product.json")
    write_rules([{"target": "email", "source": "e", "transform": "email"}], "custom.audience.json")
    (tmp_path / "mapping-rules.schema.json").write_text("{}")  # the schema is not a rule file
    with pytest.raises(RuleFileError) as caught:
        load_mappings(tmp_path)
    files = {problem.file for problem in caught.value.problems}
    assert files == {"custom.product.json", "custom.audience.json"}
    assert "problem(s) in the mapping rules" in str(caught.value)


def test_a_good_directory_loads(tmp_path: Path, write_rules: Writer) -> None:
    write_rules(PRODUCT_ESSENTIALS, "woocommerce.product.json")
    loaded = load_mappings(tmp_path)
    assert [(key[0].value, key[1].value) for key in loaded] == [("woocommerce", "product")]
