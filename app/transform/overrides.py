"""A client's own mapping rules for one platform and entity, laid over the platform's rule file.

An override is a rule in the rule-file format (`contracts/mappings/mapping-rules.schema.json`):
`{"target": "name", "source": "properties.deal_name"}`. It replaces every rule of the rule file
(and of its shape files) with the same target, or, with `"fallback": true`, runs only where the
file's rules left the target unset. A target the file does not map (`attributes.material`) is
added. Overrides run after the file's rules, in the order given.
"""

from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from app.contracts.entities import Entity
from app.errors import FieldError, GatewayError
from app.transform.loader import RuleFieldError, checked_rule
from app.transform.rules import MappingRules, Rule, RuleSpec

MAX_OVERRIDES = 200
ERROR_CODE = "invalid_mapping"


def _problem(message: str, *path: str | int) -> FieldError:
    return FieldError(ERROR_CODE, message, ("rules", *path))


def _parsed(index: int, given: Any, entity: Entity) -> tuple[RuleSpec | None, list[FieldError]]:
    try:
        spec = RuleSpec.model_validate(given)
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        return None, [_problem(d["msg"], index, *d["loc"][:1]) for d in details]
    try:
        checked_rule(index, spec, entity)
    except RuleFieldError as error:
        where = (error.field,) if error.field else ()
        return None, [_problem(error.message, index, *where)]
    return spec, []


def _targets_problems(specs: list[tuple[int, RuleSpec]], base: MappingRules) -> list[FieldError]:
    """Each target once (again only as a fallback); a fallback needs a rule to fall back from."""
    problems, seen = [], {rule.target.text for rule in base.rules}
    replaced: set[str] = set()
    for index, spec in specs:
        if spec.fallback and spec.target not in seen:
            message = f"fallback for {spec.target!r}, which nothing maps before it"
            problems.append(_problem(message, index, "fallback"))
        if not spec.fallback and spec.target in replaced:
            message = f"target {spec.target!r} twice (the second only as a fallback)"
            problems.append(_problem(message, index, "target"))
        seen.add(spec.target)
        if not spec.fallback:
            replaced.add(spec.target)
    return problems


def check_overrides(base: MappingRules, given: list[Any]) -> list[RuleSpec]:
    """The overrides parsed and checked, or GatewayError listing each problem with its path
    (`rules[2].target`)."""
    if len(given) > MAX_OVERRIDES:
        message = f"At most {MAX_OVERRIDES} rules per platform and entity."
        raise GatewayError(
            ERROR_CODE, message, errors=[FieldError(ERROR_CODE, message, ("rules",))]
        )
    specs, problems = [], []
    for index, item in enumerate(given):
        spec, found = _parsed(index, item, base.entity)
        problems += found
        if spec is not None:
            specs.append((index, spec))
    problems += _targets_problems(specs, base)
    if problems:
        raise GatewayError(ERROR_CODE, problems[0].message, errors=problems)
    return [spec for _, spec in specs]


def _laid_over(rules: tuple[Rule, ...], overrides: tuple[Rule, ...]) -> tuple[Rule, ...]:
    replaced = {rule.target.text for rule in overrides if not rule.fallback}
    return tuple(rule for rule in rules if rule.target.text not in replaced) + overrides


def with_overrides(base: MappingRules, specs: list[dict[str, Any]]) -> MappingRules:
    """The platform's rules with the client's stored overrides laid over them (compile once per
    version and keep the result: the mapper compiles its steps once per rule-set object)."""
    if not specs:
        return base
    first = len(base.rules)
    overrides = tuple(
        checked_rule(first + n, RuleSpec.model_validate(spec), base.entity)
        for n, spec in enumerate(specs)
    )
    shapes = tuple(
        replace(shape, rules=_laid_over(shape.rules, overrides)) for shape in base.shapes
    )
    return replace(base, rules=_laid_over(base.rules, overrides), shapes=shapes)
