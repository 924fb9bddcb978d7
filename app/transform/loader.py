"""Loading mapping rule files: parse, check every rule against the transforms and the standard
schema models, and report every problem at once (file, rule index, what is wrong)."""

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import orjson
from pydantic import ValidationError

from app.contracts.entities import ENTITY_MODELS, Entity
from app.contracts.fields import SourcePlatform
from app.errors import render_path
from app.transform.errors import RuleFileError, RuleProblem
from app.transform.paths import FieldPath, parse_path
from app.transform.rules import (
    MAPPINGS_DIR,
    SCHEMA_FILE_NAME,
    MappingRules,
    Rule,
    RuleFileSpec,
    RuleSpec,
    Shape,
    ShapeSpec,
)
from app.transform.targets import required_fields, target_problem
from app.transform.transforms import TRANSFORMS, Args, Transform

MappingKey = tuple[SourcePlatform, Entity]


class _Invalid(Exception):
    """One problem with one rule (internal: becomes a RuleProblem or a RuleFieldError)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # the rule's key the problem is about (target, source, transform…)


class RuleFieldError(ValueError):
    """A rule that does not compile; `field` names the rule's key at fault."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _validation_message(error: ValidationError) -> str:
    details = error.errors(include_url=False, include_input=False)
    return "; ".join(f"{render_path(tuple(d['loc'])) or 'value'}: {d['msg']}" for d in details)


def _transform(spec: RuleSpec) -> tuple[Transform, Args]:
    transform = TRANSFORMS.get(spec.transform)
    if transform is None:
        known = ", ".join(TRANSFORMS)
        raise _Invalid(f"unknown transform {spec.transform!r} (known: {known})", "transform")
    try:
        return transform, transform.args.model_validate(spec.args)
    except ValidationError as error:
        message = f"bad args for {spec.transform}: {_validation_message(error)}"
        raise _Invalid(message, "args") from None


def _path(text: str, field: str | None = None) -> FieldPath:
    try:
        return parse_path(text)
    except ValueError as error:
        raise _Invalid(str(error), field) from None


def _sources(spec: RuleSpec) -> tuple[FieldPath, ...]:
    texts = [spec.source] if isinstance(spec.source, str) else spec.source or []
    return tuple(_path(text, "source") for text in texts)


def _check_shape(spec: RuleSpec, rule: Rule) -> None:
    fills = rule.transform.fills_absent or spec.default is not None
    if rule.transform.needs_source and not rule.sources and not fills:
        raise _Invalid(f"transform {spec.transform!r} needs a source (or a default)", "source")
    if not rule.transform.needs_source and rule.sources:
        raise _Invalid(f"transform {spec.transform!r} takes no source", "source")
    flat = [source.text for source in rule.sources if source.star is None]
    if rule.target.star is not None and flat:
        message = f"target {rule.target.text!r} has [*] but source {flat[0]!r} does not"
        raise _Invalid(message, "source")


def compile_rule(index: int, spec: RuleSpec, entity: Entity) -> Rule:
    transform, args = _transform(spec)
    target = _path(spec.target, "target")
    problem = target_problem(ENTITY_MODELS[entity], target)
    if problem:
        raise _Invalid(problem, "target")
    rule = Rule(
        index, target, _sources(spec), transform, args, spec.default, spec.required, spec.fallback
    )
    _check_shape(spec, rule)
    return rule


def checked_rule(index: int, spec: RuleSpec, entity: Entity) -> Rule:
    """compile_rule for callers outside rule files: RuleFieldError names the key at fault."""
    try:
        return compile_rule(index, spec, entity)
    except _Invalid as problem:
        raise RuleFieldError(str(problem), problem.field) from None


def _key(file: Path) -> tuple[SourcePlatform, Entity, str | None]:
    parts = file.name.removesuffix(".json").split(".")
    if len(parts) not in (2, 3):
        raise _Invalid(
            "file name must be <platform>.<entity>.json or <platform>.<entity>.<shape>.json"
        )
    try:
        return SourcePlatform(parts[0]), Entity(parts[1]), parts[2] if len(parts) == 3 else None
    except ValueError:
        platforms = ", ".join(p.value for p in SourcePlatform)
        entities = ", ".join(e.value for e in Entity)
        raise _Invalid(
            f"unknown platform or entity in the file name (platforms: {platforms}; "
            f"entities: {entities})"
        ) from None


def _spec(file: Path) -> RuleFileSpec:
    try:
        return RuleFileSpec.model_validate(orjson.loads(file.read_bytes()))
    except orjson.JSONDecodeError as error:
        raise _Invalid(f"not valid JSON: {error}") from None
    except ValidationError as error:
        raise _Invalid(_validation_message(error)) from None


def _rules(name: str, spec: RuleFileSpec, entity: Entity) -> tuple[list[Rule], list[RuleProblem]]:
    rules, problems = [], []
    for index, rule_spec in enumerate(spec.rules):
        try:
            rules.append(compile_rule(index, rule_spec, entity))
        except _Invalid as problem:
            problems.append(RuleProblem(name, index, str(problem)))
    return rules, problems


def _coverage(name: str, rules: list[Rule], entity: Entity) -> list[RuleProblem]:
    """Each target once (again only as a fallback); every required standard field mapped."""
    problems, seen = [], set()
    for rule in rules:
        if rule.fallback and rule.target.text not in seen:
            message = f"fallback for {rule.target.text!r} without an earlier rule for it"
            problems.append(RuleProblem(name, rule.index, message))
        if rule.target.text in seen and not rule.fallback:
            message = f"not a fallback, and target {rule.target.text!r} twice"
            problems.append(RuleProblem(name, rule.index, message))
        seen.add(rule.target.text)
    mapped = {rule.target.segments[0] for rule in rules}
    for field in required_fields(ENTITY_MODELS[entity]):
        if field not in mapped:
            problems.append(RuleProblem(name, None, f"required field {field!r} is not mapped"))
    return problems


def _shape(name: str | None, when: ShapeSpec | None) -> Shape | None:
    """A shape file's test; None for a plain file."""
    if name is None and when is not None:
        raise _Invalid("`when` is only for shape files (<platform>.<entity>.<shape>.json)")
    if name is None:
        return None
    if when is None:
        raise _Invalid("a shape file needs `when`: which records it maps")
    source = _path(when.source)
    if source.star is not None:
        raise _Invalid(f"when.source {when.source!r} must not contain [*]")
    try:
        return Shape(name, source, re.compile(when.matches))
    except re.error as error:
        raise _Invalid(f"when.matches is not a regular expression: {error}") from None


def read_rule_file(file: Path) -> MappingRules:
    """One file's rules, or RuleFileError listing every problem in it."""
    try:
        platform, entity, shape_name = _key(file)
        spec = _spec(file)
        shape = _shape(shape_name, spec.when)
    except _Invalid as problem:
        raise RuleFileError([RuleProblem(file.name, None, str(problem))]) from None
    rules, problems = _rules(file.name, spec, entity)
    problems += _coverage(file.name, rules, entity)
    if problems:
        raise RuleFileError(problems)
    return MappingRules(platform, entity, tuple(rules), shape)


def _orphan(rules: MappingRules) -> RuleProblem:
    base = f"{rules.platform.value}.{rules.entity.value}"
    shape = rules.shape.name if rules.shape else ""
    return RuleProblem(f"{base}.{shape}.json", None, f"a shape file needs {base}.json next to it")


def rule_files(directory: Path = MAPPINGS_DIR) -> list[Path]:
    return sorted(file for file in directory.glob("*.json") if file.name != SCHEMA_FILE_NAME)


def load_mappings(directory: Path = MAPPINGS_DIR) -> dict[MappingKey, MappingRules]:
    """Every rule file in the directory, or RuleFileError listing every problem in all of them."""
    loaded, problems = {}, []
    shapes: dict[MappingKey, list[MappingRules]] = defaultdict(list)
    for file in rule_files(directory):
        try:
            rules = read_rule_file(file)
        except RuleFileError as error:
            problems += error.problems
            continue
        key = (rules.platform, rules.entity)
        if rules.shape is None:
            loaded[key] = rules
        else:
            shapes[key].append(rules)
    for key, found in shapes.items():
        if key not in loaded:
            problems += [_orphan(shape) for shape in found]
            continue
        loaded[key] = replace(loaded[key], shapes=tuple(found))
    if problems:
        raise RuleFileError(problems)
    return loaded


@lru_cache(maxsize=1)
def mappings() -> Mapping[MappingKey, MappingRules]:
    """The rule files under contracts/mappings/, loaded and checked once per process."""
    return MappingProxyType(load_mappings())
